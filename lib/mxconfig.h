/* mxconfig - the mxport.conf table, its defaults and its parser */
#ifndef MX_CONFIG_H
#define MX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "errlist.h"

#ifndef MX_CONFIG_FILE
#define MX_CONFIG_FILE "/etc/mxport/mxport.conf"
#endif

enum mx_tls_mode {
	MX_TLS_NONE,
	MX_TLS_MAY,
	MX_TLS_ENCRYPT,
	MX_TLS_VERIFY,
	MX_TLS_DANE,
};

enum mx_unknown_action {
	MX_UNKNOWN_REJECT,
	MX_UNKNOWN_ACCEPT,
};

/* verify_unreachable: a recipient whose server gave no answer either way */
enum mx_verify_unreachable {
	MX_VERIFY_ACCEPT,
	MX_VERIFY_TEMPFAIL,
};

/* One field for each key of the table in config.c; names are the key names. */
struct mx_config {
	char *path;
	char *routes_file;
	bool dns_routes;
	char *dns_servers;
	char *dns_route_prefix;
	unsigned dns_timeout;
	unsigned dns_attempts;
	bool dns_trust_ad;
	char *allowed_networks;
	int tls_mode;
	char *tls_ca_file;
	char *helo_name;
	unsigned connect_timeout;
	unsigned command_timeout;
	unsigned data_done_timeout;
	unsigned connection_cache_time;
	unsigned transaction_recipient_limit;
	unsigned lmtp_recipient_limit;
	char *lmtp_client_field;
	unsigned line_length_limit;
	unsigned delivery_time_limit;
	char *local_ports;
	unsigned mx_port;
	char *secrets_file;
	int auth_tls_mode; /* index in mx_auth_tls_names: 0 encrypt, 1 verify */
	unsigned max_targets;
	unsigned max_addresses;
	unsigned max_sessions;
	char *milter_socket;
	char *socketmap_socket;
	char *socket_owner;
	char *socket_group;
	unsigned socket_mode;
	char *milter_user;
	unsigned socketmap_max_clients;
	unsigned socketmap_idle_timeout;
	unsigned lmtp_max_clients;
	char *lmtp_inet_clients; /* who may connect to -L inet:...; empty: no inet listener */
	unsigned lmtp_idle_timeout;
	unsigned lmtp_process_idle_time;
	char *mailertable_mailer;
	char *postfix_transport;
	int unknown_domains;
	char *trusted_networks;
	char *tag_header;
	unsigned route_cache_size;
	unsigned route_cache_max_ttl;
	unsigned route_cache_negative_ttl;
	char *log_file;
	char *postlog_socket;
	char *postlog_relay_socket;
	unsigned notify_after;
	char *notify_map;
	char *notify_sender;
	char *sendmail_path;
	int mta; /* enum mx_mta: whose commands the notices name */
	char *state_directory;
	bool verify_recipients;
	unsigned verify_positive_lifetime;
	unsigned verify_negative_lifetime;
	unsigned verify_unreachable_lifetime;
	int verify_unreachable;
	unsigned verify_timeout;
	unsigned verify_cache_size;
	char *metrics_file;
	unsigned metrics_max_routes;
	char *metrics_textfile;
	unsigned metrics_interval;
	unsigned verify_route_rate;  /* callouts a minute for one route */
	unsigned verify_server_rate; /* callouts a minute to one server address */
	char *shared_state;	     /* memcached servers; empty: nothing shared */
	unsigned shared_state_timeout; /* milliseconds */
	unsigned shared_state_retry;
};

enum mx_config_type {
	MX_CFG_STRING,
	MX_CFG_BOOL,
	MX_CFG_UINT,
	MX_CFG_TIME,
	MX_CFG_ENUM,
	MX_CFG_NETWORKS,
	MX_CFG_SERVERS,
	MX_CFG_PORTS,
	MX_CFG_MODE, /* octal permission bits, stored as unsigned; max is the largest */
};

struct mx_config_key {
	const char *name;
	enum mx_config_type type;
	size_t offset;
	const char *defval;
	const char *const *choices; /* MX_CFG_ENUM: NULL-terminated names, index = value */
	unsigned long min, max;	    /* MX_CFG_UINT, MX_CFG_TIME and MX_CFG_MODE */
	const char *meaning;
};

enum mx_auth_tls {
	MX_AUTH_TLS_ENCRYPT,
	MX_AUTH_TLS_VERIFY,
};

extern const char *const mx_tls_mode_names[];
extern const char *const mx_auth_tls_names[];

/* The MTA in front of mxport (mta in mxport.conf), by its index in mx_mta_names. */
enum mx_mta {
	MX_MTA_POSTFIX,
	MX_MTA_EXIM,
	MX_MTA_SENDMAIL,
};
extern const char *const mx_mta_names[];

struct mx_config *mx_config_defaults(void);
int mx_config_read(struct mx_config *cfg, const char *path, struct mx_errlist *errs);
int mx_config_set(struct mx_config *cfg, const char *name, const char *value, char *err,
		  size_t errlen);
void mx_config_free(struct mx_config *cfg);
const struct mx_config_key *mx_config_table(size_t *count);
bool mx_tls_mode_parse(const char *s, int *mode);
void mx_helo_name(const struct mx_config *cfg, char *out, size_t outlen);
struct mx_errlist;
bool mx_config_logs(const struct mx_config *cfg, bool check_only, struct mx_errlist *errs);

#endif
