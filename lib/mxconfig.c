/* mxconfig - the mxport.conf table, its defaults and its parser */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cidr.h"
#include "errlist.h"
#include "hostport.h"
#include "msg.h"
#include "mxconfig.h"
#include "shared_state.h"
#include "util.h"

const char *const mx_tls_mode_names[] = {"none", "may", "encrypt", "verify", "dane", NULL};
const char *const mx_auth_tls_names[] = {"encrypt", "verify", NULL};
const char *const mx_mta_names[] = {"postfix", "exim", "sendmail", NULL};
static const char *const unknown_names[] = {"reject", "accept", NULL};
static const char *const verify_unreachable_names[] = {"accept", "tempfail", NULL};

#define F(field) offsetof(struct mx_config, field)

/*
 * The one table of configuration keys. mxport.conf(5) documents each of them;
 * tests/unit/test_config_doc.c fails when one is missing there.
 */
static const struct mx_config_key keys[] = {
	{"routes_file", MX_CFG_STRING, F(routes_file), "", NULL, 0, 0,
	 "static routes file, one domain a line; empty: none"},
	{"dns_routes", MX_CFG_BOOL, F(dns_routes), "no", NULL, 0, 0,
	 "look routes up as SRV records when the routes file has none"},
	{"dns_servers", MX_CFG_SERVERS, F(dns_servers), "", NULL, 0, 0,
	 "name servers as address[:port]; empty: /etc/resolv.conf"},
	{"dns_route_prefix", MX_CFG_STRING, F(dns_route_prefix), "_smtp._tcp", NULL, 0, 0,
	 "labels put before the domain to form the SRV name"},
	{"dns_timeout", MX_CFG_TIME, F(dns_timeout), "5s", NULL, 1, 120,
	 "time for one DNS lookup, all servers and attempts included"},
	{"dns_attempts", MX_CFG_UINT, F(dns_attempts), "2", NULL, 1, 10,
	 "how often each name server is asked before giving up"},
	{"dns_trust_ad", MX_CFG_BOOL, F(dns_trust_ad), "no", NULL, 0, 0,
	 "believe the AD (DNSSEC) bit of the name servers, which must be on loopback"},
	{"allowed_networks", MX_CFG_NETWORKS, F(allowed_networks), "", NULL, 0, 0,
	 "special-use networks that routes may point at all the same"},
	{"tls_mode", MX_CFG_ENUM, F(tls_mode), "may", mx_tls_mode_names, 0, 0,
	 "TLS for routes that do not set their own"},
	{"tls_ca_file", MX_CFG_STRING, F(tls_ca_file), "", NULL, 0, 0,
	 "CA certificates for tls=verify; empty: the system store"},
	{"helo_name", MX_CFG_STRING, F(helo_name), "", NULL, 0, 0,
	 "name sent in EHLO; empty: this host's fully qualified name, as Postfix's myhostname"},
	{"connect_timeout", MX_CFG_TIME, F(connect_timeout), "30s", NULL, 1, 600,
	 "time for a TCP connection to be set up"},
	{"command_timeout", MX_CFG_TIME, F(command_timeout), "120s", NULL, 1, 3600,
	 "time for the greeting and for each reply to a command"},
	{"data_done_timeout", MX_CFG_TIME, F(data_done_timeout), "300s", NULL, 1, 3600,
	 "time for the reply to the final dot of a message"},
	{"connection_cache_time", MX_CFG_TIME, F(connection_cache_time), "2s", NULL, 0, 300,
	 "LMTP mode: how long an idle SMTP session is kept for the next message; 0: never"},
	{"transaction_recipient_limit", MX_CFG_UINT, F(transaction_recipient_limit), "100", NULL, 1,
	 100000, "most recipients in one SMTP transaction; more go into further transactions"},
	{"lmtp_recipient_limit", MX_CFG_UINT, F(lmtp_recipient_limit), "1000", NULL, 1, 100000,
	 "LMTP mode: most recipients one message may have; more are sent again later (452)"},
	{"lmtp_client_field", MX_CFG_STRING, F(lmtp_client_field), "", NULL, 0, 0,
	 "LMTP mode: header field in which the MTA passes its queue id and the original client "
	 "(Exim); the last copy counts, every copy is removed; empty: none"},
	{"line_length_limit", MX_CFG_UINT, F(line_length_limit), "998", NULL, 0, 1000000,
	 "longer message lines are folded (CR LF SPACE), as Postfix's smtp_line_length_limit; 0: "
	 "never"},
	{"delivery_time_limit", MX_CFG_TIME, F(delivery_time_limit), "600s", NULL, 10, 86400,
	 "time for a whole transport run; then it defers"},
	{"local_ports", MX_CFG_PORTS, F(local_ports), "25", NULL, 0, 0,
	 "ports of this host's MTA: a route to them loops"},
	{"mx_port", MX_CFG_UINT, F(mx_port), "25", NULL, 1, 65535,
	 "port for domains that are not forwarded and go to their MX hosts"},
	{"secrets_file", MX_CFG_STRING, F(secrets_file), "", NULL, 0, 0,
	 "SMTP AUTH credentials per route; must not be readable by others"},
	{"auth_tls_mode", MX_CFG_ENUM, F(auth_tls_mode), "verify", mx_auth_tls_names, 0, 0,
	 "TLS that must be in place before credentials are sent: encrypt or verify"},
	{"max_targets", MX_CFG_UINT, F(max_targets), "10", NULL, 0, 1000,
	 "most targets (host names) of one route looked up per delivery; 0: no limit"},
	{"max_addresses", MX_CFG_UINT, F(max_addresses), "5", NULL, 0, 1000,
	 "most server addresses tried per delivery; 0: no limit"},
	{"max_sessions", MX_CFG_UINT, F(max_sessions), "2", NULL, 0, 1000,
	 "most SMTP sessions (EHLO and TLS done) that fail before delivery ends; 0: no limit"},
	{"milter_socket", MX_CFG_STRING, F(milter_socket), "unix:/run/mxport/milter.sock", NULL, 0,
	 0, "where mxport-milter listens (unix:/path or inet:port@host)"},
	{"socketmap_socket", MX_CFG_STRING, F(socketmap_socket), "unix:/run/mxport/socketmap.sock",
	 NULL, 0, 0, "where mxport-milter answers socketmap lookups; empty: not at all"},
	{"socket_owner", MX_CFG_STRING, F(socket_owner), "", NULL, 0, 0,
	 "owner of the unix sockets; empty: the user the program runs as"},
	{"socket_group", MX_CFG_STRING, F(socket_group), "postfix", NULL, 0, 0,
	 "group of the unix sockets (the MTA's user is in it); empty: the program's group"},
	{"socket_mode", MX_CFG_MODE, F(socket_mode), "0660", NULL, 0, 0777,
	 "permissions of the unix sockets, in octal"},
	{"milter_user", MX_CFG_STRING, F(milter_user), "mxport", NULL, 0, 0,
	 "user mxport-milter runs as when started as root (-u overrides); never root"},
	{"socketmap_max_clients", MX_CFG_UINT, F(socketmap_max_clients), "200", NULL, 1, 100000,
	 "most socketmap connections served at once; then the longest idle one is closed"},
	{"socketmap_idle_timeout", MX_CFG_TIME, F(socketmap_idle_timeout), "60s", NULL, 1, 3600,
	 "a socketmap connection with no request for this long is closed"},
	{"lmtp_inet_clients", MX_CFG_NETWORKS, F(lmtp_inet_clients), "", NULL, 0, 0,
	 "the only clients of an inet LMTP listener (-L inet:port@host); required for one"},
	{"lmtp_max_clients", MX_CFG_UINT, F(lmtp_max_clients), "100", NULL, 1, 100000,
	 "LMTP daemon: most connections (processes) at once; more wait in the listen queue"},
	{"lmtp_idle_timeout", MX_CFG_TIME, F(lmtp_idle_timeout), "300s", NULL, 1, 3600,
	 "LMTP: time the client may stay silent before the connection is closed"},
	{"lmtp_process_idle_time", MX_CFG_TIME, F(lmtp_process_idle_time), "100s", NULL, 0, 3600,
	 "LMTP daemon: a connection process waits this long for another connection; 0: one each"},
	{"mailertable_mailer", MX_CFG_STRING, F(mailertable_mailer), "mxport", NULL, 0, 0,
	 "Sendmail mailer named in socketmap mailertable answers"},
	{"postfix_transport", MX_CFG_STRING, F(postfix_transport), "mxport:", NULL, 0, 0,
	 "transport:nexthop that socketmap transport answers give Postfix"},
	{"unknown_domains", MX_CFG_ENUM, F(unknown_domains), "accept", unknown_names, 0, 0,
	 "what the milter does with recipients of domains that are not forwarded; accept: the MTA "
	 "decides"},
	{"trusted_networks", MX_CFG_NETWORKS, F(trusted_networks), "", NULL, 0, 0,
	 "clients that pass the milter's gate"},
	{"tag_header", MX_CFG_STRING, F(tag_header), "X-Mxport", NULL, 0, 0,
	 "header that marks a message for the transport"},
	{"route_cache_size", MX_CFG_UINT, F(route_cache_size), "10000", NULL, 0, 10000000,
	 "most route lookups kept in memory; 0: no cache"},
	{"route_cache_max_ttl", MX_CFG_TIME, F(route_cache_max_ttl), "3600s", NULL, 0, 604800,
	 "longest time a DNS answer is kept, whatever its TTL"},
	{"route_cache_negative_ttl", MX_CFG_TIME, F(route_cache_negative_ttl), "60s", NULL, 0,
	 86400, "time a 'not forwarded' answer is kept"},
	{"log_file", MX_CFG_STRING, F(log_file), "", NULL, 0, 0,
	 "also log to this file; empty: syslog only"},
	{"postlog_socket", MX_CFG_STRING, F(postlog_socket), "", NULL, 0, 0,
	 "log through Postfix's postlogd socket instead of syslog (Postfix's maillog_file)"},
	{"postlog_relay_socket", MX_CFG_STRING, F(postlog_relay_socket), "", NULL, 0, 0,
	 "where mxport-milter passes log lines on to postlog_socket for programs that may not "
	 "reach it"},
	{"notify_after", MX_CFG_TIME, F(notify_after), "4h", NULL, 0, 2592000,
	 "a forwarded domain's deliveries failing this long: its contact gets one notice"},
	{"notify_map", MX_CFG_STRING, F(notify_map), "", NULL, 0, 0,
	 "file of 'domain address' lines: contacts for domains without notify= (SRV routes)"},
	{"notify_sender", MX_CFG_STRING, F(notify_sender), "", NULL, 0, 0,
	 "envelope sender and From: of the notices; empty: the null sender <>"},
	{"sendmail_path", MX_CFG_STRING, F(sendmail_path), "/usr/sbin/sendmail", NULL, 0, 0,
	 "the MTA's sendmail(1), which queues the notices"},
	{"mta", MX_CFG_ENUM, F(mta), "postfix", mx_mta_names, 0, 0,
	 "the MTA in front of mxport (postfix, exim, sendmail): the notices name its commands"},
	{"state_directory", MX_CFG_STRING, F(state_directory), "/var/lib/mxport", NULL, 0, 0,
	 "where the transport keeps what outlives a run (notify/DOMAIN: an outage)"},
	{"verify_recipients", MX_CFG_BOOL, F(verify_recipients), "no", NULL, 0, 0,
	 "ask the customer's server at RCPT whether it takes a recipient (routes without verify=)"},
	{"verify_positive_lifetime", MX_CFG_TIME, F(verify_positive_lifetime), "1d", NULL, 0,
	 2592000, "time a recipient the customer's server accepted is remembered; 0: not at all"},
	{"verify_negative_lifetime", MX_CFG_TIME, F(verify_negative_lifetime), "1h", NULL, 0,
	 2592000, "time a recipient the customer's server refused (5xx) is remembered"},
	{"verify_unreachable_lifetime", MX_CFG_TIME, F(verify_unreachable_lifetime), "60s", NULL, 0,
	 3600, "time a domain whose server gave no answer is not asked again"},
	{"verify_unreachable", MX_CFG_ENUM, F(verify_unreachable), "accept",
	 verify_unreachable_names, 0, 0,
	 "a recipient that cannot be verified (server down, 4xx): accept it, or tempfail (451)"},
	{"verify_timeout", MX_CFG_TIME, F(verify_timeout), "10s", NULL, 1, 30,
	 "time for each step of a verification; the whole of one takes at most twice this"},
	{"verify_route_rate", MX_CFG_UINT, F(verify_route_rate), "120", NULL, 0, 1000000,
	 "callouts a minute for one route (a routes-file line, an SRV domain); 0: no limit"},
	{"verify_server_rate", MX_CFG_UINT, F(verify_server_rate), "240", NULL, 0, 1000000,
	 "callouts a minute to one server address (half, apart, for routes from DNS); 0: no limit"},
	{"shared_state", MX_CFG_STRING, F(shared_state), "", NULL, 0, 0,
	 "memcached servers several relays share outages and verify results in "
	 "(memcache:HOST:PORT or unix:/path, comma-separated); empty: none"},
	{"shared_state_timeout", MX_CFG_UINT, F(shared_state_timeout), "150", NULL, 10, 5000,
	 "milliseconds memcached has to connect and to answer; then this relay's own state counts"},
	{"shared_state_retry", MX_CFG_TIME, F(shared_state_retry), "30s", NULL, 1, 3600,
	 "memcached failed: how long it is not asked (this relay's own state counts)"},
	{"verify_cache_size", MX_CFG_UINT, F(verify_cache_size), "100000", NULL, 0, 10000000,
	 "most verification results kept; then the least recently used goes; 0: none kept"},
	{"metrics_file", MX_CFG_STRING, F(metrics_file), "", NULL, 0, 0,
	 "the per-route counters every process adds to (a file of fixed size); empty: none kept"},
	{"metrics_max_routes", MX_CFG_UINT, F(metrics_max_routes), "1000", NULL, 1, 100000,
	 "routes with series of their own in metrics_file; the others count as route=\"_other\""},
	{"metrics_textfile", MX_CFG_STRING, F(metrics_textfile), "", NULL, 0, 0,
	 "LMTP daemon: the metrics written here for node_exporter's textfile collector; empty: "
	 "not"},
	{"metrics_interval", MX_CFG_TIME, F(metrics_interval), "15s", NULL, 1, 3600,
	 "LMTP daemon: how often metrics_textfile is written anew"},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* mx_config_table - the key table, for documentation checks and -n */
const struct mx_config_key *mx_config_table(size_t *count)
{
	*count = NKEYS;
	return keys;
}

/* parse_time - seconds, with an optional s, m, h or d suffix as in Postfix */
static bool parse_time(const char *s, unsigned long *out)
{
	char buf[32];
	size_t len = strlen(s);
	unsigned long mult = 1, v;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len + 1);
	switch (buf[len - 1]) {
	case 's':
		mult = 1;
		buf[len - 1] = '\0';
		break;
	case 'm':
		mult = 60;
		buf[len - 1] = '\0';
		break;
	case 'h':
		mult = 3600;
		buf[len - 1] = '\0';
		break;
	case 'd':
		mult = 86400;
		buf[len - 1] = '\0';
		break;
	default: break;
	}
	if (!mx_parse_uint(buf, ULONG_MAX / mult, &v))
		return false;
	*out = v * mult;
	return true;
}

/* parse_mode - permission bits in octal ("0660", "660"), no larger than max */
static bool parse_mode(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (*s == '\0' || strlen(s) > 5)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '7')
			return false;
		v = v * 8 + (unsigned long)(*s - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* mx_tls_mode_parse - name to MX_TLS_* */
bool mx_tls_mode_parse(const char *s, int *mode)
{
	for (int i = 0; mx_tls_mode_names[i]; i++) {
		if (strcasecmp(s, mx_tls_mode_names[i]) == 0) {
			*mode = i;
			return true;
		}
	}
	return false;
}

/* set_value - check one value against its key and store it */
static bool set_value(struct mx_config *cfg, const struct mx_config_key *k, const char *value,
		      char *err, size_t errlen)
{
	void *field = (char *)cfg + k->offset;
	unsigned long num;

	switch (k->type) {
	case MX_CFG_STRING:
		if (strcmp(k->name, "shared_state") == 0 && !shared_state_check(value, err, errlen))
			return false;
		break;
	case MX_CFG_BOOL:
		if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0 ||
		    strcmp(value, "1") == 0) {
			*(bool *)field = true;
		} else if (strcasecmp(value, "no") == 0 || strcasecmp(value, "false") == 0 ||
			   strcmp(value, "0") == 0) {
			*(bool *)field = false;
		} else {
			snprintf(err, errlen, "'%s' is not yes or no", value);
			return false;
		}
		return true;
	case MX_CFG_UINT:
		if (!mx_parse_uint(value, k->max, &num) || num < k->min) {
			snprintf(err, errlen, "'%s' is not a number from %lu to %lu", value, k->min,
				 k->max);
			return false;
		}
		*(unsigned *)field = (unsigned)num;
		return true;
	case MX_CFG_TIME:
		if (!parse_time(value, &num) || num < k->min || num > k->max) {
			snprintf(
				err, errlen,
				"'%s' is not a time from %lus to %lus (a number with s, m, h or d)",
				value, k->min, k->max);
			return false;
		}
		*(unsigned *)field = (unsigned)num;
		return true;
	case MX_CFG_MODE:
		if (!parse_mode(value, k->max, &num)) {
			snprintf(err, errlen, "'%s' is not an octal mode from 0 to %lo", value,
				 k->max);
			return false;
		}
		*(unsigned *)field = (unsigned)num;
		return true;
	case MX_CFG_ENUM:
		for (int i = 0; k->choices[i]; i++) {
			if (strcasecmp(value, k->choices[i]) == 0) {
				*(int *)field = i;
				return true;
			}
		}
		{
			size_t off = (size_t)snprintf(err, errlen, "'%s' is not one of:", value);
			for (int i = 0; k->choices[i] && off < errlen; i++)
				off += (size_t)snprintf(err + off, errlen - off, " %s",
							k->choices[i]);
		}
		return false;
	case MX_CFG_NETWORKS:
		if (!mx_cidr_list_check(value, err, errlen))
			return false;
		break;
	case MX_CFG_SERVERS:
		if (!mx_server_list_check(value, err, errlen))
			return false;
		break;
	case MX_CFG_PORTS:
		if (!mx_port_list_check(value, err, errlen))
			return false;
		break;
	}
	free(*(char **)field);
	*(char **)field = mx_strdup(value);
	return true;
}

/* mx_config_set - set one key by name (used by the file parser and by tests) */
int mx_config_set(struct mx_config *cfg, const char *name, const char *value, char *err,
		  size_t errlen)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].name, name) == 0)
			return set_value(cfg, &keys[i], value, err, errlen) ? 0 : -1;
	}
	snprintf(err, errlen, "unknown key");
	return -1;
}

/* mx_config_defaults - a configuration with every key at its default */
struct mx_config *mx_config_defaults(void)
{
	struct mx_config *cfg = mx_calloc(1, sizeof(*cfg));
	char err[256];

	for (size_t i = 0; i < NKEYS; i++) {
		if (!set_value(cfg, &keys[i], keys[i].defval, err, sizeof(err))) {
			fprintf(stderr, "mxport: panic: default of %s: %s\n", keys[i].name, err);
			abort();
		}
	}
	cfg->path = mx_strdup("(defaults)");
	return cfg;
}

/* handle_line - one logical line "key = value" */
static void handle_line(struct mx_config *cfg, const char *path, int lineno, char *line,
			struct mx_errlist *errs, int *seen)
{
	char *eq = strchr(line, '=');
	char *name, *value;
	char err[512];

	if (eq == NULL) {
		mx_errlist_add(errs, "%s:%d: expected 'key = value', found '%s'", path, lineno,
			       line);
		return;
	}
	*eq = '\0';
	name = mx_trim(line);
	value = mx_trim(eq + 1);
	if (*name == '\0') {
		mx_errlist_add(errs, "%s:%d: no key before '='", path, lineno);
		return;
	}
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].name, name) != 0)
			continue;
		if (seen[i])
			mx_errlist_add(errs, "%s:%d: %s: set a second time (first on line %d)",
				       path, lineno, name, seen[i]);
		seen[i] = lineno;
		if (!set_value(cfg, &keys[i], value, err, sizeof(err)))
			mx_errlist_add(errs, "%s:%d: %s: %s", path, lineno, name, err);
		return;
	}
	mx_errlist_add(errs, "%s:%d: %s: unknown key", path, lineno, name);
}

/*
 * mx_config_read - read a file into cfg; returns the number of errors added.
 * As in main.cf, a line that starts with white space continues the one before.
 */
int mx_config_read(struct mx_config *cfg, const char *path, struct mx_errlist *errs)
{
	FILE *fp = fopen(path, "r");
	size_t before = errs->count;
	int seen[NKEYS] = {0};
	char *line = NULL, *logical = NULL;
	size_t cap = 0;
	int lineno = 0, start = 0;

	if (fp == NULL) {
		mx_errlist_add(errs, "%s: cannot open: %s", path, strerror(errno));
		return 1;
	}
	free(cfg->path);
	cfg->path = mx_strdup(path);
	while (getline(&line, &cap, fp) != -1) {
		char *hash, *text;

		lineno++;
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		if (isspace((unsigned char)line[0]) && *mx_trim(line) != '\0') {
			text = mx_trim(line);
			if (logical == NULL) {
				mx_errlist_add(errs,
					       "%s:%d: continuation line with nothing to continue",
					       path, lineno);
				continue;
			}
			char *joined = mx_asprintf("%s %s", logical, text);
			free(logical);
			logical = joined;
			continue;
		}
		text = mx_trim(line);
		if (*text == '\0')
			continue;
		if (logical)
			handle_line(cfg, path, start, logical, errs, seen);
		free(logical);
		logical = mx_strdup(text);
		start = lineno;
	}
	if (ferror(fp))
		mx_errlist_add(errs, "%s: read error: %s", path, strerror(errno));
	if (logical)
		handle_line(cfg, path, start, logical, errs, seen);
	free(logical);
	free(line);
	fclose(fp);
	return (int)(errs->count - before);
}

/*
 * mx_helo_name - the name for EHLO/HELO: helo_name, else this host's fully
 * qualified name as Postfix's myhostname has it by default: the host name,
 * its canonical name when that has no dot, else NAME.localdomain.
 */
void mx_helo_name(const struct mx_config *cfg, char *out, size_t outlen)
{
	struct addrinfo hints, *res = NULL;

	if (*cfg->helo_name) {
		mx_strlcpy(out, cfg->helo_name, outlen);
		return;
	}
	if (gethostname(out, outlen - 1) != 0 || *out == '\0') {
		mx_strlcpy(out, "localhost", outlen);
		return;
	}
	out[outlen - 1] = '\0';
	if (strchr(out, '.'))
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_CANONNAME;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(out, NULL, &hints, &res) == 0 && res && res->ai_canonname &&
	    strchr(res->ai_canonname, '.') && strlen(res->ai_canonname) < outlen) {
		mx_strlcpy(out, res->ai_canonname, outlen);
	} else if (strlen(out) + sizeof(".localdomain") <= outlen) {
		strcat(out, ".localdomain");
	}
	if (res)
		freeaddrinfo(res);
}

/*
 * mx_config_logs - open the log destinations that cfg names (log_file,
 * postlog_socket): one that cannot be opened is an error, never silence.
 * check_only: see whether they could be, changing nothing.
 */
bool mx_config_logs(const struct mx_config *cfg, bool check_only, struct mx_errlist *errs)
{
	char err[600], host[256];
	bool ok = true;

	if (!msg_set_file(cfg->log_file, check_only, err, sizeof(err))) {
		mx_errlist_add(errs, "%s: log_file: %s", cfg->path, err);
		ok = false;
	}
	mx_helo_name(cfg, host, sizeof(host));
	if (!msg_set_postlog(cfg->postlog_socket, cfg->postlog_relay_socket, host, check_only, err,
			     sizeof(err))) {
		mx_errlist_add(errs, "%s: postlog_socket: %s", cfg->path, err);
		ok = false;
	}
	return ok;
}

/* mx_config_free - release a configuration */
void mx_config_free(struct mx_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		switch (keys[i].type) {
		case MX_CFG_STRING:
		case MX_CFG_NETWORKS:
		case MX_CFG_SERVERS:
		case MX_CFG_PORTS: free(*(char **)((char *)cfg + keys[i].offset)); break;
		default: break;
		}
	}
	free(cfg->path);
	free(cfg);
}
