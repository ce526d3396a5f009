/* core - what delivery keeps beyond one message; the one core the pipe and LMTP fronts share */
#ifndef MX_CORE_H
#define MX_CORE_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "metrics.h"
#include "mxconfig.h"
#include "outcome.h"
#include "route_lookup.h"
#include "secrets.h"
#include "smtp_session.h"
#include "xforward.h"

#define MESSAGE_MAX ((size_t)1 << 30) /* the largest message either front takes */

/* file_id - what tells a file apart from its earlier self: an edit within the second too */
struct file_id {
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

/*
 * core_log_gate - what the LMTP daemon's processes share so that a refused
 * change is logged once by one of them (and again at most once a minute),
 * not once per process or message: each word packs a configuration's
 * signature (high 32 bits) with the second it was last logged (low 32 bits).
 */
struct core_log_gate {
	unsigned long long refused;   /* a broken change, logged */
	unsigned long long installed; /* a change put in force, logged */
};

#define CORE_RELOG_SECONDS   60	   /* a change that stays broken is logged again after this */
#define CORE_SETTLE_MS	     1000  /* a change is believed once the files were still this long */
#define CORE_EMPTY_SETTLE_MS 10000 /* a routes file that became empty: this long */
#define CORE_SETTLE_TRIES    10	   /* a first load takes the files as they are after this */

/* the files a configuration consists of (paths_of in core.c): five, and three indexes */
#define CORE_INDEXES 3 /* of the routes file, the secrets file and the notify map */
#define CORE_FILES   8

struct transport_core {
	const char *config_path;
	struct mx_config *cfg; /* never NULL once refreshed: the defaults at worst */
	struct route_ctx *routes;
	struct secrets secrets;
	bool have_secrets;
	SSL_CTX *tls_ctx; /* made once; CAs loaded once a route wants verification */
	bool cas_loaded;
	/* mxport.conf, routes, secrets, notify_map, tls_ca_file and the three indexes, as loaded */
	struct file_id files[CORE_FILES];
	char error[600]; /* no configuration in force (the first load failed): messages defer */
	/* The last change refused (the configuration in force stayed): its files, as read. */
	bool refused;
	char *refused_paths[CORE_FILES];
	struct file_id refused_files[CORE_FILES];
	unsigned refused_sig;
	char refused_first[600];       /* its first error, for the reminder */
	time_t loaded_at;	       /* when the configuration in force was loaded */
	struct core_log_gate *gate;    /* shared by the LMTP daemon's processes, or NULL */
	struct core_log_gate own_gate; /* the gate of a core on its own */
	struct smtp_cache cache;       /* the last delivery's session, for the next message */
	struct route_shared *shared;   /* DNS answers of the LMTP daemon's processes, or NULL */
	struct mx_metrics *metrics; /* the counters of metrics_file, or NULL (none, or trouble) */
	time_t metrics_tried;	    /* when metrics_file was last opened, or tried */
};

void core_init(struct transport_core *core, const char *config_path);
bool core_refresh(struct transport_core *core, const char *who);
struct message_checked;
void core_deliver(struct transport_core *core, const char *queue_id, const char *sender,
		  const char *raw, size_t rawlen, const struct message_checked *checked,
		  bool keep_session, const struct xforward *client, struct rcpt_outcome *out,
		  size_t n);
void core_free(struct transport_core *core);
bool core_running_as_root(void);

#endif
