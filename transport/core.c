/*
 * core - the delivery core. It owns what outlives a message: the
 * configuration, routes and secrets (reloaded when one of their files
 * changes), the TLS context with its CAs, and the SMTP session kept for the
 * next message. The pipe front makes one for its one message; the LMTP
 * front keeps one for the whole connection.
 */
#include "config.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "deliver.h"
#include "message.h"
#include "msg.h"
#include "smtp_conn.h"
#include "cdb_table.h"
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

/* candidate - a configuration read and checked whole, not yet in force */
struct candidate {
	struct mx_config *cfg;
	struct route_ctx *routes;
	struct secrets secrets;
	bool have_secrets;
	struct file_id files[CORE_FILES];
};

/* candidate_free - drop a candidate that was refused (or whose parts were taken) */
static void candidate_free(struct candidate *c)
{
	route_ctx_free(c->routes);
	mx_config_free(c->cfg);
	if (c->have_secrets)
		secrets_free(&c->secrets);
	memset(c, 0, sizeof(*c));
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

/*
 * paths_of - the files a configuration consists of (NULL: not set); the
 * names of the indexes (routes, secrets, notify map) are made in idx
 */
static void paths_of(const struct transport_core *core, const struct mx_config *cfg,
		     const char *out[CORE_FILES], char idx[CORE_INDEXES][4096])
{
	out[0] = core->config_path;
	out[1] = cfg ? cfg->routes_file : NULL;
	out[2] = cfg ? cfg->secrets_file : NULL;
	out[3] = cfg ? cfg->notify_map : NULL;
	/* An LMTP connection process lives for many connections: a CA bundle replaced
	 * meanwhile must reach it, as it reached a process per connection. */
	out[4] = cfg ? cfg->tls_ca_file : NULL;
	/* mxport-route --index renames a new index in: the next message uses it. */
	for (int i = 0; i < CORE_INDEXES; i++) {
		const char *text = out[1 + i];

		out[5 + i] = NULL;
		if (text && *text) {
			mx_cdb_path(text, idx[i], 4096);
			out[5 + i] = idx[i];
		}
	}
}

/* same_files - none of the files changed */
static bool same_files(const char *const paths[CORE_FILES], const struct file_id then[CORE_FILES])
{
	for (int i = 0; i < CORE_FILES; i++) {
		struct file_id now = file_id_of(paths[i]);
		if (!same_file(&now, &then[i]))
			return false;
	}
	return true;
}

/* files_sig - a signature of the files as read: the same in every process that reads them */
static unsigned files_sig(const struct file_id f[CORE_FILES])
{
	unsigned h = 2166136261u;

	for (int i = 0; i < CORE_FILES; i++) {
		long long v[8] = {f[i].exists,		(long long)f[i].dev, (long long)f[i].ino,
				  (long long)f[i].size, f[i].mtime.tv_sec,   f[i].mtime.tv_nsec,
				  f[i].ctime.tv_sec,	f[i].ctime.tv_nsec};
		const unsigned char *p = (const unsigned char *)v;
		for (size_t j = 0; j < sizeof(v); j++)
			h = (h ^ p[j]) * 16777619u;
	}
	return h ? h : 1;
}

/*
 * gate_due - whether this process is the one to log sig now: the first to
 * see it, or CORE_RELOG_SECONDS after it was last logged (lock-free: a
 * process killed at any point leaves the gate usable)
 */
static bool gate_due(unsigned long long *word, unsigned sig, bool relog)
{
	unsigned long long old = __atomic_load_n(word, __ATOMIC_SEQ_CST), want;
	unsigned now = (unsigned)time(NULL);

	for (;;) {
		if ((unsigned)(old >> 32) == sig &&
		    (!relog || now - (unsigned)old < CORE_RELOG_SECONDS))
			return false;
		want = (unsigned long long)sig << 32 | now;
		if (__atomic_compare_exchange_n(word, &old, want, false, __ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			return true;
	}
}

/* newest_change - the latest modification or change time of the files, in ms (0: none) */
static long long newest_change(const struct file_id f[CORE_FILES])
{
	long long newest = 0;

	for (int i = 0; i < CORE_FILES; i++) {
		long long m, c;

		if (!f[i].exists)
			continue;
		m = (long long)f[i].mtime.tv_sec * 1000 + f[i].mtime.tv_nsec / 1000000;
		c = (long long)f[i].ctime.tv_sec * 1000 + f[i].ctime.tv_nsec / 1000000;
		if (m > newest)
			newest = m;
		if (c > newest)
			newest = c;
	}
	return newest;
}

/*
 * settled - the files are as they were before they were read, and have been
 * still for CORE_SETTLE_MS. A file may be being written: an edit that
 * truncates the file and then writes it, read in between, is an empty
 * routes file, a good one, and every forwarded domain would go to its MX
 * hosts. So a change younger than CORE_SETTLE_MS is waited out (a writer
 * descheduled between its truncation and its write, on a loaded machine,
 * is seen), once per change and process.
 */
static bool settled(const struct transport_core *core, const struct candidate *c)
{
	const char *paths[CORE_FILES];
	char idx[CORE_INDEXES][4096];
	struct timespec ts;
	long long wait;

	clock_gettime(CLOCK_REALTIME, &ts);
	wait = newest_change(c->files) + CORE_SETTLE_MS -
	       ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	/*
	 * A routes file that became empty is what a truncation shows before its
	 * write: believed only after CORE_EMPTY_SETTLE_MS (a writer held up on a
	 * loaded machine), without waiting for it here.
	 */
	if (core->cfg && !core->error[0] && core->files[1].exists && core->files[1].size > 0 &&
	    c->files[1].exists && c->files[1].size == 0 &&
	    wait + CORE_EMPTY_SETTLE_MS - CORE_SETTLE_MS > 0)
		return false;
	if (wait > 0)
		poll(NULL, 0, (int)(wait < CORE_SETTLE_MS ? wait : CORE_SETTLE_MS));
	paths_of(core, c->cfg, paths, idx);
	return same_files(paths, c->files);
}

enum candidate_state { CAND_OK, CAND_BROKEN, CAND_STALE };

/*
 * candidate_load - read mxport.conf, the routes file, the notify map and
 * the secrets, whole or through their fresh indexes. CAND_STALE (only when settle): a file changed while it
 * was read; nothing can be said of the change yet.
 */
static enum candidate_state candidate_load(struct transport_core *core, struct candidate *c,
					   struct mx_errlist *errs, bool settle)
{
	const char *paths[CORE_FILES];
	char idx[CORE_INDEXES][4096];
	char err[512];

	memset(c, 0, sizeof(*c));
	/* Identities before reading: an edit while we read is seen (settled). */
	c->files[0] = file_id_of(core->config_path);
	c->cfg = mx_config_defaults();
	bool conf_ok = mx_config_read(c->cfg, core->config_path, errs) == 0;

	paths_of(core, c->cfg, paths, idx);
	for (int i = 1; i < CORE_FILES; i++)
		c->files[i] = file_id_of(paths[i]);
	/*
	 * Nothing in force yet (a pipe-mode delivery, a first load): the log
	 * destinations of a readable mxport.conf are opened now, so that the
	 * errors of the other files reach the admin's log_file. With a
	 * configuration in force, they are opened only when the change is taken.
	 */
	if (conf_ok && (core->cfg == NULL || core->error[0]))
		conf_ok = mx_config_logs(c->cfg, false, errs);
	/* Errors in the routes file are listed even when mxport.conf has some too. */
	if ((conf_ok && mx_config_logs(c->cfg, true, errs)) || *c->cfg->routes_file)
		c->routes = route_ctx_new(c->cfg, errs);
	if (errs->count == 0 && *c->cfg->secrets_file) {
		if (secrets_load(c->cfg->secrets_file, &c->secrets, err, sizeof(err)) < 0)
			mx_errlist_add(errs, "%s", err);
		else
			c->have_secrets = true;
	}
	if (settle && !settled(core, c))
		return CAND_STALE;
	if (errs->count == 0 && !mx_config_logs(c->cfg, false, errs))
		return CAND_BROKEN;
	return errs->count == 0 ? CAND_OK : CAND_BROKEN;
}

/* install - put a whole, checked candidate in force; the old configuration goes */
static void install(struct transport_core *core, struct candidate *c)
{
	release(core);
	smtp_cache_close(&core->cache); /* made with the old settings */
	if (core->tls_ctx && core->cas_loaded) {
		/* tls_ca_file may have changed: load the CAs again when a route wants them. */
		SSL_CTX_free(core->tls_ctx);
		core->tls_ctx = NULL;
		core->cas_loaded = false;
	}
	core->cfg = c->cfg;
	core->routes = c->routes;
	core->secrets = c->secrets;
	core->have_secrets = c->have_secrets;
	memcpy(core->files, c->files, sizeof(core->files));
	memset(c, 0, sizeof(*c));
	core->error[0] = '\0';
	core->loaded_at = time(NULL);
	if (core->routes && core->shared) {
		/* Answers are shared only among processes with this very mxport.conf. */
		char tag[64];

		snprintf(tag, sizeof(tag), "%lx:%lx:%llx:%lx", (unsigned long)core->files[0].dev,
			 (unsigned long)core->files[0].ino, (long long)core->files[0].mtime.tv_sec,
			 (unsigned long)core->files[0].mtime.tv_nsec);
		route_ctx_set_shared(core->routes, core->shared, tag);
	}
}

/* forget_refused - the refused change is history (fixed, or superseded) */
static void forget_refused(struct transport_core *core)
{
	for (int i = 0; i < CORE_FILES; i++) {
		free(core->refused_paths[i]);
		core->refused_paths[i] = NULL;
	}
	core->refused = false;
}

/* remember_refused - a broken change: its files as read, so it is read again only when edited */
static void remember_refused(struct transport_core *core, const struct candidate *c,
			     const struct mx_errlist *errs)
{
	const char *paths[CORE_FILES];
	char idx[CORE_INDEXES][4096];

	forget_refused(core);
	paths_of(core, c->cfg, paths, idx);
	for (int i = 0; i < CORE_FILES; i++)
		core->refused_paths[i] = paths[i] ? mx_strdup(paths[i]) : NULL;
	memcpy(core->refused_files, c->files, sizeof(core->refused_files));
	core->refused_sig = files_sig(c->files);
	mx_strlcpy(core->refused_first, errs->count ? errs->msgs[0] : "unknown error",
		   sizeof(core->refused_first));
	mx_printable(core->refused_first);
	core->refused = true;
}

/* loaded_when - the time the configuration in force was loaded, for the logs */
static void loaded_when(const struct transport_core *core, char *out, size_t outlen)
{
	struct tm tm;

	localtime_r(&core->loaded_at, &tm);
	strftime(out, outlen, "%Y-%m-%d %H:%M:%S", &tm);
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

/* metrics_refused - a change was refused: the daemon's health says so */
static void metrics_refused(struct transport_core *core)
{
	if (core->metrics)
		mx_metrics_config(core->metrics, MX_METRICS_TRANSPORT, false,
				  config_id(&core->files[0]), time(NULL));
}

/*
 * core_refresh - (re)load mxport.conf, the routes file, the notify map,
 * the secrets file and the CA file when one of them changed since the
 * last load (any change, an edit within the same second included), so
 * that a route edited while mail waits applies to the next message.
 *
 * A change is read and checked whole before it is used. A broken one is
 * refused and the configuration in force stays (the last good one): its
 * errors are logged once, with file and line (once for all the LMTP
 * daemon's processes: core->gate), and a reminder at most once a minute
 * while it stays broken; the files are read again only when edited.
 * False only when no configuration was ever loaded (the first load
 * failed): core->error says why, and every message defers with it.
 * who: the queue id, or "lmtp", for the log.
 */
bool core_refresh(struct transport_core *core, const char *who)
{
	struct candidate c;
	struct mx_errlist errs;
	const char *paths[CORE_FILES];
	char idx[CORE_INDEXES][4096];
	char when[32];
	struct core_log_gate *gate = core->gate ? core->gate : &core->own_gate;

	if (core->cfg && !core->error[0]) {
		paths_of(core, core->cfg, paths, idx);
		if (same_files(paths, core->files)) {
			/* A long-lived process tries a missing table again once a minute. */
			if (core->metrics == NULL && *core->cfg->metrics_file &&
			    time(NULL) - core->metrics_tried >= 60)
				open_metrics(core, true);
			return true;
		}
		if (core->refused &&
		    same_files((const char *const *)core->refused_paths, core->refused_files)) {
			if (gate_due(&gate->refused, core->refused_sig, true)) {
				loaded_when(core, when, sizeof(when));
				msg_error("%s: configuration still broken, the one loaded %s stays "
					  "in force: %s",
					  who, when, core->refused_first);
			}
			return true;
		}
	}
	enum candidate_state state;

	for (int tries = 1;; tries++) {
		mx_errlist_init(&errs);
		state = candidate_load(core, &c, &errs, tries < CORE_SETTLE_TRIES);
		if (state != CAND_STALE)
			break;
		candidate_free(&c);
		mx_errlist_free(&errs);
		if (core->cfg && !core->error[0])
			return true; /* the configuration in force, until the files are still */
	}
	if (state == CAND_OK) {
		bool was_refused = core->refused, had = core->cfg && !core->error[0];

		forget_refused(core);
		install(core, &c);
		open_metrics(core, true);
		if (had && gate_due(&gate->installed, files_sig(core->files), false))
			msg_info("%s: configuration %s reloaded%s", who, core->config_path,
				 was_refused ? " (the broken change is fixed)" : "");
		mx_errlist_free(&errs);
		return true;
	}
	if (core->cfg && !core->error[0]) {
		/* The last good configuration stays in force. */
		remember_refused(core, &c, &errs);
		metrics_refused(core);
		if (gate_due(&gate->refused, core->refused_sig, false)) {
			for (size_t i = 0; i < errs.count; i++)
				msg_error("%s: %s", who, errs.msgs[i]);
			loaded_when(core, when, sizeof(when));
			msg_error(
				"%s: %zu configuration error(s): change refused; the configuration "
				"loaded %s stays in force until the files are fixed",
				who, errs.count, when);
		}
		candidate_free(&c);
		mx_errlist_free(&errs);
		return true;
	}
	/* Nothing in force: defer with the reason (logged once per change of the files). */
	remember_refused(core, &c, &errs);
	release(core);
	core->cfg = c.cfg; /* the defaults, at worst: the fronts read limits from it */
	c.cfg = NULL;
	candidate_free(&c);
	for (int i = 0; i < CORE_FILES; i++)
		core->files[i] = core->refused_files[i];
	if (gate_due(&gate->refused, core->refused_sig, true))
		for (size_t i = 0; i < errs.count; i++)
			msg_error("%s: %s", who, errs.msgs[i]);
	snprintf(core->error, sizeof(core->error), "mxport configuration error: %s",
		 core->refused_first);
	mx_printable(core->error);
	mx_errlist_free(&errs);
	return false;
}

/*
 * core_deliver - one message (raw, as the MTA handed it) to its recipients
 * (out[i].rcpt set): every recipient gets its outcome and its log line.
 * checked: what the reader knows of raw's lines (message.h), or NULL.
 * keep_session: leave the SMTP session open for the next message. client:
 * the original client (checked), for servers that offer XFORWARD, or NULL.
 */
void core_deliver(struct transport_core *core, const char *queue_id, const char *sender,
		  const char *raw, size_t rawlen, const struct message_checked *checked,
		  bool keep_session, const struct xforward *client, struct rcpt_outcome *out,
		  size_t n)
{
	struct message msg;
	struct transport t;

	message_prepare_checked(raw, rawlen, core->cfg->tag_header, core->cfg->line_length_limit,
				checked, &msg);
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
	forget_refused(core);
}

/* core_running_as_root - the transport never runs as root (pipe(8) and OpenSMTPD's rule too) */
bool core_running_as_root(void)
{
	return getuid() == 0 || geteuid() == 0;
}
