/*
 * core - the delivery core. It owns what outlives a message: the
 * configuration, routes and secrets (reloaded when one of their files
 * changes), the TLS context with its CAs, and the SMTP session kept for the
 * next message. The pipe front makes one for its one message; the LMTP
 * front keeps one for the whole connection.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "deliver.h"
#include "message.h"
#include "msg.h"
#include "routes_index.h"
#include "smtp_conn.h"
#include "util.h"

/* file_id_of - the file's identity now (exists false when absent or unnamed) */
static struct file_id file_id_of(const char *path)
{
	struct file_id id = {.exists = false};
	struct stat st;

	if (path && *path && stat(path, &st) == 0) {
		id.exists = true;
		id.dev = st.st_dev;
		id.ino = st.st_ino;
		id.size = st.st_size;
		id.mtime = st.st_mtim;
		id.ctime = st.st_ctim;
	}
	return id;
}

/* index_id_of - the identity of the routes index (--index renames a new one in) */
static struct file_id index_id_of(const char *routes_file)
{
	char idx[4096];

	routes_index_path(routes_file, idx, sizeof(idx));
	return file_id_of(*routes_file ? idx : NULL);
}

/* same_file - nothing changed: not the inode (a file moved into place), the size or a time */
static bool same_file(const struct file_id *a, const struct file_id *b)
{
	if (a->exists != b->exists)
		return false;
	return !a->exists ||
	       (a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
		a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
		a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec);
}

/* core_init - an empty core; core_refresh loads it */
void core_init(struct transport_core *core, const char *config_path)
{
	memset(core, 0, sizeof(*core));
	core->config_path = config_path;
	core->cache.conn.fd = -1;
}

/* release - drop the configuration (the TLS context stays: it depends on no file but CAs) */
static void release(struct transport_core *core)
{
	mx_metrics_close(core->metrics);
	core->metrics = NULL;
	route_ctx_free(core->routes);
	mx_config_free(core->cfg);
	if (core->have_secrets)
		secrets_free(&core->secrets);
	core->routes = NULL;
	core->cfg = NULL;
	core->have_secrets = false;
}

/* config_id - which mxport.conf this is (its identity), for "in force since" */
static uint64_t config_id(const struct file_id *f)
{
	return ((uint64_t)f->ino * 1000003u) ^ ((uint64_t)f->dev << 40) ^
	       ((uint64_t)f->mtime.tv_sec * 1000000000u + (uint64_t)f->mtime.tv_nsec);
}

/*
 * open_metrics - the counters of metrics_file, with how this load went;
 * trouble is logged once a minute and the core goes on without them.
 */
static void open_metrics(struct transport_core *core, bool loaded)
{
	char err[600];

	if (core->cfg == NULL || core->cfg->metrics_file == NULL || !*core->cfg->metrics_file)
		return;
	core->metrics_tried = time(NULL);
	core->metrics = mx_metrics_open(core->cfg->metrics_file, core->cfg->metrics_max_routes, err,
					sizeof(err));
	if (core->metrics == NULL) {
		mx_metrics_trouble("%s", err);
		return;
	}
	mx_metrics_config(core->metrics, MX_METRICS_TRANSPORT, loaded, config_id(&core->files[0]),
			  time(NULL));
}

/*
 * core_refresh - (re)load mxport.conf, the routes file and the secrets
 * file when one of them changed since the last load (any change, an edit
 * within the same second included), so that a route edited while mail
 * waits applies to the next message. False while the configuration is in
 * error (core->error says what; the errors are logged once per load, after
 * who: the queue id, or "lmtp").
 */
bool core_refresh(struct transport_core *core, const char *who)
{
	struct file_id now[6];
	struct mx_errlist errs;
	char err[512];

	if (core->cfg && !core->error[0]) { /* in error: try again, the admin may have fixed it */
		now[0] = file_id_of(core->config_path);
		now[1] = file_id_of(core->cfg->routes_file);
		now[2] = file_id_of(core->cfg->secrets_file);
		now[3] = file_id_of(core->cfg->notify_map);
		now[4] = file_id_of(core->cfg->tls_ca_file);
		now[5] = index_id_of(core->cfg->routes_file);
		if (same_file(&now[0], &core->files[0]) && same_file(&now[1], &core->files[1]) &&
		    same_file(&now[2], &core->files[2]) && same_file(&now[3], &core->files[3]) &&
		    same_file(&now[4], &core->files[4]) && same_file(&now[5], &core->files[5])) {
			/* A long-lived process tries a missing table again once a minute. */
			if (core->metrics == NULL && *core->cfg->metrics_file &&
			    time(NULL) - core->metrics_tried >= 60)
				open_metrics(core, true);
			return true;
		}
	}
	release(core);
	smtp_cache_close(&core->cache); /* made with the old settings */
	core->error[0] = '\0';
	if (core->tls_ctx && core->cas_loaded) {
		/* tls_ca_file may have changed: load the CAs again when a route wants them. */
		SSL_CTX_free(core->tls_ctx);
		core->tls_ctx = NULL;
		core->cas_loaded = false;
	}
	/* Identities before reading: an edit while we read is seen next time. */
	core->files[0] = file_id_of(core->config_path);
	mx_errlist_init(&errs);
	core->cfg = mx_config_defaults();
	if (mx_config_read(core->cfg, core->config_path, &errs) == 0 &&
	    mx_config_logs(core->cfg, false, &errs)) {
		core->files[1] = file_id_of(core->cfg->routes_file);
		core->files[2] = file_id_of(core->cfg->secrets_file);
		core->files[3] = file_id_of(core->cfg->notify_map);
		/* An LMTP connection process lives for many connections: a CA bundle
		 * replaced meanwhile must reach it, as it reached a process per connection. */
		core->files[4] = file_id_of(core->cfg->tls_ca_file);
		core->files[5] = index_id_of(core->cfg->routes_file);
		core->routes = route_ctx_new(core->cfg, &errs);
	}
	if (core->routes && core->shared) {
		/* Answers are shared only among processes with this very mxport.conf. */
		char tag[64];

		snprintf(tag, sizeof(tag), "%lx:%lx:%llx:%lx", (unsigned long)core->files[0].dev,
			 (unsigned long)core->files[0].ino, (long long)core->files[0].mtime.tv_sec,
			 (unsigned long)core->files[0].mtime.tv_nsec);
		route_ctx_set_shared(core->routes, core->shared, tag);
	}
	if (errs.count == 0 && *core->cfg->secrets_file) {
		if (secrets_load(core->cfg->secrets_file, &core->secrets, err, sizeof(err)) < 0)
			mx_errlist_add(&errs, "%s", err);
		else
			core->have_secrets = true;
	}
	if (errs.count) {
		for (size_t i = 0; i < errs.count; i++)
			msg_error("%s: %s", who, errs.msgs[i]);
		snprintf(core->error, sizeof(core->error), "mxport configuration error: %s",
			 errs.msgs[0]);
		mx_printable(core->error);
	}
	open_metrics(core, errs.count == 0);
	mx_errlist_free(&errs);
	return core->error[0] == '\0';
}

/*
 * core_deliver - one message (raw, as the MTA handed it) to its recipients
 * (out[i].rcpt set): every recipient gets its outcome and its log line.
 * keep_session: leave the SMTP session open for the next message. client:
 * the original client (checked), for servers that offer XFORWARD, or NULL.
 */
void core_deliver(struct transport_core *core, const char *queue_id, const char *sender,
		  const char *raw, size_t rawlen, bool keep_session, const struct xforward *client,
		  struct rcpt_outcome *out, size_t n)
{
	struct message msg;
	struct transport t;

	message_prepare(raw, rawlen, core->cfg->tag_header, core->cfg->line_length_limit, &msg);
	memset(&t, 0, sizeof(t));
	t.core = core;
	t.cfg = core->cfg;
	t.routes = core->routes;
	t.secrets = core->have_secrets ? &core->secrets : NULL;
	t.queue_id = queue_id;
	t.sender = sender;
	t.msg = &msg;
	mx_helo_name(core->cfg, t.helo_name, sizeof(t.helo_name));
	t.start_ms = mx_now_ms();
	t.limit_ms = t.start_ms + (long long)core->cfg->delivery_time_limit * 1000;
	t.cache = keep_session && core->cfg->connection_cache_time ? &core->cache : NULL;
	t.xforward = client;
	deliver_message(&t, out, n);
	message_free(&msg);
}

/* core_free - release everything, the kept session with a QUIT */
void core_free(struct transport_core *core)
{
	smtp_cache_close(&core->cache);
	SSL_CTX_free(core->tls_ctx);
	core->tls_ctx = NULL;
	release(core);
}

/* core_running_as_root - the transport never runs as root (pipe(8) and OpenSMTPD's rule too) */
bool core_running_as_root(void)
{
	return getuid() == 0 || geteuid() == 0;
}
