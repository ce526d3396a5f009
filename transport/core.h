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

struct transport_core {
	const char *config_path;
	struct mx_config *cfg; /* never NULL once refreshed: the defaults at worst */
	struct route_ctx *routes;
	struct secrets secrets;
	bool have_secrets;
	SSL_CTX *tls_ctx; /* made once; CAs loaded once a route wants verification */
	bool cas_loaded;
	/* mxport.conf, routes, secrets, notify_map, tls_ca_file and the routes index, as loaded */
	struct file_id files[6];
	char error[600];	     /* a configuration error: every message defers with it */
	struct smtp_cache cache;     /* the last delivery's session, for the next message */
	struct route_shared *shared; /* DNS answers of the LMTP daemon's processes, or NULL */
	struct mx_metrics *metrics;  /* the counters of metrics_file, or NULL (none, or trouble) */
	time_t metrics_tried;	     /* when metrics_file was last opened, or tried */
};

void core_init(struct transport_core *core, const char *config_path);
bool core_refresh(struct transport_core *core, const char *who);
void core_deliver(struct transport_core *core, const char *queue_id, const char *sender,
		  const char *raw, size_t rawlen, bool keep_session, const struct xforward *client,
		  struct rcpt_outcome *out, size_t n);
void core_free(struct transport_core *core);
bool core_running_as_root(void);

#endif
