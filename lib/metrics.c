/*
 * metrics - the numbers per route that every process of a relay adds to:
 * the LMTP daemon's connection processes, pipe-mode deliveries and the
 * milter's callouts. One file of fixed size (metrics_file), mapped shared
 * by each; counters are added with atomic operations, so no lock is held
 * while mail waits. A route takes a slot the first time it is counted; when
 * metrics_max_routes are taken, further routes count under "_other": the
 * series stay bounded whatever mail arrives. The labels are the caller's
 * (the route's domain as the routes file or the SRV owner says), never a
 * recipient's.
 *
 * Nothing here may delay or fail a delivery: a file that cannot be opened
 * or mapped leaves the caller with NULL, and every function takes NULL and
 * does nothing. mx_metrics_trouble logs such trouble once a minute.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"
#include "msg.h"
#include "util.h"

#define METRICS_MAGIC	"MXMETR01"
#define METRICS_CLAIMED 1    /* a slot being filled in */
#define METRICS_READY	2    /* a slot with its label */
#define METRICS_LOCK_MS 1000 /* the longest wait for the table's lock */

/* the buckets' upper bounds, in milliseconds and as Prometheus reads them */
static const long long bucket_ms[MX_METRICS_BUCKETS] = {500,   1000,  2500,  5000,
							10000, 30000, 60000, 300000};
static const char *const bucket_le[MX_METRICS_BUCKETS] = {"0.5", "1",  "2.5", "5",
							  "10",	 "30", "60",  "300"};
static const char *const result_names[MX_METRICS_RESULTS] = {"delivered", "deferred", "bounced"};
static const char *const callout_names[MX_METRICS_CALLOUTS] = {"accepted", "refused", "unverified"};
static const char *const daemon_names[MX_METRICS_DAEMONS] = {"transport", "milter"};

/* a daemon's configuration: in force since, and how the last load went */
struct metrics_health {
	uint64_t config_id; /* which configuration (the file's identity) is in force */
	int64_t loaded;	    /* when a process first loaded it */
	int64_t error_at;   /* the last load that failed; 0: none yet */
	uint32_t ok;	    /* the last load succeeded */
	uint32_t seen;	    /* the daemon has reported at all */
};

struct metrics_head {
	char magic[8];
	uint32_t nroutes; /* slots, "_other" (slot 0) included */
	uint32_t slot_size;
	int64_t created;
	struct metrics_health health[MX_METRICS_DAEMONS];
};

/* one route's numbers; 8-byte fields for the atomic builtins */
struct metrics_slot {
	uint32_t state; /* 0 free, METRICS_CLAIMED, METRICS_READY */
	uint32_t hash;
	char label[MX_METRICS_LABEL_MAX];
	uint64_t messages[MX_METRICS_RESULTS];
	uint64_t rcpts[MX_METRICS_RESULTS];
	uint64_t buckets[MX_METRICS_BUCKETS + 1]; /* per bucket, not cumulative; +Inf last */
	uint64_t duration_ms;
	int64_t last_success;
	int64_t last_failure;
	int64_t since; /* when up last changed */
	uint32_t up;   /* 0 not known, 1 up, 2 down */
	uint32_t spare;
	uint64_t callouts[MX_METRICS_CALLOUTS];
};

struct mx_metrics {
	void *map;
	size_t size;
	struct metrics_head *head;
	struct metrics_slot *slots;
};

/* mx_metrics_trouble - a metrics failure: logged once a minute per process, then ignored */
void mx_metrics_trouble(const char *fmt, ...)
{
	static time_t last;
	char text[600];
	time_t now = time(NULL);
	va_list ap;

	if (last && now - last < 60)
		return;
	last = now;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	msg_warn("metrics: %s (mail goes on; said once a minute)", text);
}

/* file_size - the size of a table of n slots */
static size_t file_size(unsigned n)
{
	return sizeof(struct metrics_head) + (size_t)n * sizeof(struct metrics_slot);
}

/* valid - a table made by this version, of the size its header says */
static bool valid(const struct metrics_head *h, size_t size, unsigned want)
{
	return memcmp(h->magic, METRICS_MAGIC, 8) == 0 &&
	       h->slot_size == sizeof(struct metrics_slot) && h->nroutes == want &&
	       size == file_size(h->nroutes);
}

/* make_file - a new, zeroed table at fd with its blocks reserved (a full disk fails here, not in
 * a SIGBUS later) */
static bool make_file(int fd, unsigned n, char *err, size_t errlen)
{
	struct metrics_head h;
	int rc;

	err[0] = '\0';
	if (ftruncate(fd, 0) < 0) {
		snprintf(err, errlen, "cannot truncate: %s", strerror(errno));
		return false;
	}
	if ((rc = posix_fallocate(fd, 0, (off_t)file_size(n))) != 0) {
		snprintf(err, errlen, "cannot reserve %zu bytes: %s", file_size(n), strerror(rc));
		return false;
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, METRICS_MAGIC, 8);
	h.nroutes = n;
	h.slot_size = sizeof(struct metrics_slot);
	h.created = (int64_t)time(NULL);
	if (pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		snprintf(err, errlen, "cannot write: %s", strerror(errno));
		return false;
	}
	return true;
}

/*
 * lock_briefly - the table's lock, waited for METRICS_LOCK_MS at most: a
 * process that holds it too long (stopped, say) costs the others their
 * metrics, never their mail
 */
static bool lock_briefly(int fd)
{
	for (int waited = 0;; waited += 5) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return true;
		if ((errno != EWOULDBLOCK && errno != EINTR) || waited >= METRICS_LOCK_MS)
			return false;
		usleep(5000);
	}
}

/* map_of - the mapping of a table of n slots at fd, or NULL */
static struct mx_metrics *map_of(int fd, unsigned n, const char *path, char *err, size_t errlen)
{
	struct mx_metrics *m;
	void *map = mmap(NULL, file_size(n), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (map == MAP_FAILED) {
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
		return NULL;
	}
	m = mx_calloc(1, sizeof(*m));
	m->map = map;
	m->size = file_size(n);
	m->head = map;
	m->slots = (struct metrics_slot *)((char *)map + sizeof(struct metrics_head));
	return m;
}

/* release - unlocked by name (a mapping holds the open file, and with it a lock close() leaves) */
static void release(int fd)
{
	flock(fd, LOCK_UN);
	close(fd);
}

/*
 * replace - a new table renamed over path, for one of another size or
 * version: never truncated in place, for a process that still maps the old
 * one would then meet SIGBUS past its new end. The old one's processes go
 * on counting in a file nobody reads until they open it again. Returns the
 * new file's descriptor, or -1.
 */
static int replace(const char *path, unsigned n, char *err, size_t errlen)
{
	char tmp[4096], why[300];
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.%ld.new", path, (long)getpid()) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: name too long", path);
		return -1;
	}
	unlink(tmp);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (!make_file(fd, n, why, sizeof(why)) || rename(tmp, path) < 0) {
		snprintf(err, errlen, "%s: %s", tmp, why[0] ? why : strerror(errno));
		unlink(tmp);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * mx_metrics_open - map the table at path (made when missing) with room for
 * max_routes routes besides "_other". The file must be a regular file of
 * this user's (O_NOFOLLOW: no link to somebody else's file); one of another
 * size or version (metrics_max_routes changed) is replaced by a new one,
 * whose counters start from zero, as Prometheus expects of a restart. NULL
 * with err on trouble.
 */
struct mx_metrics *mx_metrics_open(const char *path, unsigned max_routes, char *err, size_t errlen)
{
	struct mx_metrics *m;
	unsigned n = max_routes + 1;

	if (path == NULL || *path == '\0') {
		snprintf(err, errlen, "no metrics_file");
		return NULL;
	}
	for (int attempt = 0; attempt < 3; attempt++) {
		struct metrics_head h;
		struct stat st, now;
		int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);

		if (fd < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return NULL;
		}
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
			snprintf(err, errlen, "%s: not a regular file owned by uid %ld", path,
				 (long)geteuid());
			close(fd);
			return NULL;
		}
		/* The first process makes the table; the others wait for it under the lock. */
		if (!lock_briefly(fd)) {
			snprintf(err, errlen, "%s: lock: %s", path, strerror(errno));
			close(fd);
			return NULL;
		}
		/* Replaced while we waited: the new file is the table. */
		if (lstat(path, &now) < 0 || now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
			release(fd);
			snprintf(err, errlen, "%s: replaced while opened", path);
			continue;
		}
		if (fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(h) &&
		    pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
		    valid(&h, (size_t)st.st_size, n)) {
			m = map_of(fd, n, path, err, errlen);
		} else if (st.st_size == 0) {
			/* new: nobody maps an empty file, so it is made in place */
			char why[300];

			m = make_file(fd, n, why, sizeof(why)) ? map_of(fd, n, path, err, errlen)
							       : NULL;
			if (m == NULL && why[0])
				snprintf(err, errlen, "%s: %s", path, why);
		} else {
			int nfd = replace(path, n, err, errlen);

			m = nfd >= 0 ? map_of(nfd, n, path, err, errlen) : NULL;
			if (nfd >= 0)
				close(nfd);
		}
		release(fd);
		return m;
	}
	return NULL;
}

/*
 * mx_metrics_open_read - the table at path as it is, to read (mxport-route
 * --metrics, as any user that may read the file): nothing is made or changed.
 */
struct mx_metrics *mx_metrics_open_read(const char *path, char *err, size_t errlen)
{
	struct mx_metrics *m;
	struct metrics_head h;
	struct stat st;
	void *map;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size < sizeof(h) ||
	    pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    !valid(&h, (size_t)st.st_size, h.nroutes) || h.nroutes == 0) {
		snprintf(err, errlen, "%s: not a metrics table of this version", path);
		close(fd);
		return NULL;
	}
	map = mmap(NULL, file_size(h.nroutes), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
		return NULL;
	}
	m = mx_calloc(1, sizeof(*m));
	m->map = map;
	m->size = file_size(h.nroutes);
	m->head = map;
	m->slots = (struct metrics_slot *)((char *)map + sizeof(struct metrics_head));
	return m;
}

/* mx_metrics_close - unmap (the counters stay in the file) */
void mx_metrics_close(struct mx_metrics *m)
{
	if (m == NULL)
		return;
	munmap(m->map, m->size);
	free(m);
}

/* label_hash - FNV-1a */
static uint32_t label_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/*
 * mx_metrics_route - the slot of a label: its own, a free one it takes now,
 * or 0 ("_other") when the table is full. Open addressing from the label's
 * hash; a slot once taken keeps its label for the life of the file.
 */
unsigned mx_metrics_route(struct mx_metrics *m, const char *label)
{
	uint32_t h, n;

	if (m == NULL || label == NULL || *label == '\0' || strlen(label) >= MX_METRICS_LABEL_MAX ||
	    strcmp(label, MX_METRICS_OTHER) == 0)
		return 0;
	n = m->head->nroutes - 1; /* slots 1..n */
	if (n == 0)
		return 0;
	h = label_hash(label);
	for (uint32_t k = 0; k < n; k++) {
		struct metrics_slot *s = &m->slots[1 + (h + k) % n];
		uint32_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);

		if (st == 0) {
			uint32_t zero = 0;

			if (__atomic_compare_exchange_n(&s->state, &zero, METRICS_CLAIMED, false,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				mx_strlcpy(s->label, label, sizeof(s->label));
				s->hash = h;
				__atomic_store_n(&s->state, METRICS_READY, __ATOMIC_RELEASE);
				return 1 + (h + k) % n;
			}
			st = zero;
		}
		/* Another process is writing this slot's label: a moment, no more. */
		for (int spin = 0; st == METRICS_CLAIMED && spin < 100000; spin++)
			st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		if (st == METRICS_READY && s->hash == h && strcmp(s->label, label) == 0)
			return 1 + (h + k) % n;
	}
	return 0;
}

/* add - one atomic add to a shared counter */
static void add(uint64_t *counter, uint64_t v)
{
	__atomic_fetch_add(counter, v, __ATOMIC_RELAXED);
}

/* slot - the slot of a route index, or NULL */
static struct metrics_slot *slot(const struct mx_metrics *m, unsigned route)
{
	if (m == NULL || route >= m->head->nroutes)
		return NULL;
	return &m->slots[route];
}

/*
 * mx_metrics_delivery - one delivery attempt at a route: the message's
 * result, its recipients' results, how long it took (counted in the
 * histogram when delivered), and whether the server was reached (1: it
 * took the mail or refused it for good), not (0: deferred) or not tried
 * (-1: no target, a lookup failed): the route's up/down state and its
 * timestamps.
 */
void mx_metrics_delivery(struct mx_metrics *m, unsigned route, enum mx_metrics_result message,
			 const unsigned rcpts[MX_METRICS_RESULTS], long long duration_ms,
			 int reached, time_t now)
{
	struct metrics_slot *s = slot(m, route);
	uint32_t was, want = reached ? 1 : 2;
	size_t b = 0;

	if (s == NULL || message >= MX_METRICS_RESULTS)
		return;
	add(&s->messages[message], 1);
	for (int i = 0; i < MX_METRICS_RESULTS; i++)
		if (rcpts[i])
			add(&s->rcpts[i], rcpts[i]);
	if (message == MX_METRICS_DELIVERED) {
		if (duration_ms < 0)
			duration_ms = 0;
		while (b < MX_METRICS_BUCKETS && duration_ms > bucket_ms[b])
			b++;
		add(&s->buckets[b], 1);
		add(&s->duration_ms, (uint64_t)duration_ms);
	}
	if (reached < 0 || route == 0) /* _other mixes many servers: no up/down of its own */
		return;
	__atomic_store_n(reached ? &s->last_success : &s->last_failure, (int64_t)now,
			 __ATOMIC_RELAXED);
	was = __atomic_exchange_n(&s->up, want, __ATOMIC_ACQ_REL);
	if (was != want)
		__atomic_store_n(&s->since, (int64_t)now, __ATOMIC_RELAXED);
}

/* mx_metrics_callout - one callout's result at a route */
void mx_metrics_callout(struct mx_metrics *m, unsigned route, enum mx_metrics_callout result)
{
	struct metrics_slot *s = slot(m, route);

	if (s && result < MX_METRICS_CALLOUTS)
		add(&s->callouts[result], 1);
}

/*
 * mx_metrics_config - a daemon loaded its configuration (ok) or failed to.
 * config_id tells one configuration from another (the file's identity):
 * "in force since" is when a process first loaded it, not each process's
 * load (a pipe-mode delivery loads it for every message).
 */
void mx_metrics_config(struct mx_metrics *m, enum mx_metrics_daemon daemon, bool ok,
		       uint64_t config_id, time_t now)
{
	struct metrics_health *hl;

	if (m == NULL || daemon >= MX_METRICS_DAEMONS)
		return;
	hl = &m->head->health[daemon];
	__atomic_store_n(&hl->seen, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&hl->ok, ok ? 1 : 0, __ATOMIC_RELAXED);
	if (!ok) {
		__atomic_store_n(&hl->error_at, (int64_t)now, __ATOMIC_RELAXED);
		return;
	}
	if (__atomic_exchange_n(&hl->config_id, config_id, __ATOMIC_ACQ_REL) != config_id ||
	    __atomic_load_n(&hl->loaded, __ATOMIC_RELAXED) == 0)
		__atomic_store_n(&hl->loaded, (int64_t)now, __ATOMIC_RELAXED);
}

/* mx_metrics_routes_used - routes with a slot of their own */
unsigned mx_metrics_routes_used(const struct mx_metrics *m)
{
	unsigned used = 0;

	if (m == NULL)
		return 0;
	for (unsigned i = 1; i < m->head->nroutes; i++)
		used += __atomic_load_n(&m->slots[i].state, __ATOMIC_ACQUIRE) == METRICS_READY;
	return used;
}

/* load - a counter's value now */
static unsigned long long load(const uint64_t *p)
{
	return (unsigned long long)__atomic_load_n(p, __ATOMIC_RELAXED);
}

/* label_value - a label value as the exposition format quotes it (\\, \" and \n escaped) */
static void label_value(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *in && o + 3 < outlen; in++) {
		if (*in == '\\' || *in == '"') {
			out[o++] = '\\';
			out[o++] = *in;
		} else if (*in == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *in;
		}
	}
	out[o] = '\0';
}

/* each - the slots to write: "_other" always, the others once taken */
static bool shown(const struct mx_metrics *m, unsigned i)
{
	return i == 0 || __atomic_load_n(&m->slots[i].state, __ATOMIC_ACQUIRE) == METRICS_READY;
}

/* name_of - a slot's label, escaped */
static void name_of(const struct mx_metrics *m, unsigned i, char *out, size_t outlen)
{
	label_value(i == 0 ? MX_METRICS_OTHER : m->slots[i].label, out, outlen);
}

/* family - HELP and TYPE of one metric */
static void family(FILE *fp, const char *name, const char *type, const char *help)
{
	fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* per_result - a counter per route and result */
static void per_result(const struct mx_metrics *m, FILE *fp, const char *name, const char *help,
		       size_t field)
{
	char label[2 * MX_METRICS_LABEL_MAX];

	family(fp, name, "counter", help);
	for (unsigned i = 0; i < m->head->nroutes; i++) {
		const uint64_t *v = (const uint64_t *)((const char *)&m->slots[i] + field);

		if (!shown(m, i))
			continue;
		name_of(m, i, label, sizeof(label));
		for (int r = 0; r < MX_METRICS_RESULTS; r++)
			fprintf(fp, "%s{route=\"%s\",result=\"%s\"} %llu\n", name, label,
				result_names[r], load(&v[r]));
	}
}

/* gauge_time - a timestamp gauge per route, for routes where it is set */
static void gauge_time(const struct mx_metrics *m, FILE *fp, const char *name, const char *help,
		       size_t field)
{
	char label[2 * MX_METRICS_LABEL_MAX];

	family(fp, name, "gauge", help);
	for (unsigned i = 0; i < m->head->nroutes; i++) {
		const int64_t *v = (const int64_t *)((const char *)&m->slots[i] + field);
		long long t = (long long)__atomic_load_n(v, __ATOMIC_RELAXED);

		if (!shown(m, i) || t == 0)
			continue;
		name_of(m, i, label, sizeof(label));
		fprintf(fp, "%s{route=\"%s\"} %lld\n", name, label, t);
	}
}

/* write_routes - the per-route families */
static void write_routes(const struct mx_metrics *m, FILE *fp)
{
	char label[2 * MX_METRICS_LABEL_MAX];

	per_result(m, fp, "mxport_route_messages_total",
		   "Messages per route by what became of them (deferred if any recipient was).",
		   offsetof(struct metrics_slot, messages));
	per_result(m, fp, "mxport_route_recipients_total",
		   "Recipients per route by what became of them.",
		   offsetof(struct metrics_slot, rcpts));
	family(fp, "mxport_route_delivery_duration_seconds", "histogram",
	       "Time from the start of a delivery to the customer's server taking the message.");
	for (unsigned i = 0; i < m->head->nroutes; i++) {
		const struct metrics_slot *s = &m->slots[i];
		unsigned long long cum = 0;

		if (!shown(m, i))
			continue;
		name_of(m, i, label, sizeof(label));
		for (int b = 0; b < MX_METRICS_BUCKETS; b++) {
			cum += load(&s->buckets[b]);
			fprintf(fp,
				"mxport_route_delivery_duration_seconds_bucket{route=\"%s\",le=\"%"
				"s\"} %llu\n",
				label, bucket_le[b], cum);
		}
		cum += load(&s->buckets[MX_METRICS_BUCKETS]);
		fprintf(fp,
			"mxport_route_delivery_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
			"%llu\n",
			label, cum);
		fprintf(fp, "mxport_route_delivery_duration_seconds_sum{route=\"%s\"} %.3f\n",
			label, (double)load(&s->duration_ms) / 1000.0);
		fprintf(fp, "mxport_route_delivery_duration_seconds_count{route=\"%s\"} %llu\n",
			label, cum);
	}
	family(fp, "mxport_route_up", "gauge",
	       "1 when the last delivery to the route reached its server, 0 when it was deferred.");
	for (unsigned i = 0; i < m->head->nroutes; i++) {
		uint32_t up = __atomic_load_n(&m->slots[i].up, __ATOMIC_RELAXED);

		if (!shown(m, i) || up == 0)
			continue;
		name_of(m, i, label, sizeof(label));
		fprintf(fp, "mxport_route_up{route=\"%s\"} %d\n", label, up == 1);
	}
	gauge_time(m, fp, "mxport_route_up_changed_timestamp_seconds",
		   "When mxport_route_up last changed: up or down since then.",
		   offsetof(struct metrics_slot, since));
	gauge_time(m, fp, "mxport_route_last_success_timestamp_seconds",
		   "The last delivery that reached the route's server.",
		   offsetof(struct metrics_slot, last_success));
	gauge_time(m, fp, "mxport_route_last_failure_timestamp_seconds",
		   "The last delivery to the route that was deferred.",
		   offsetof(struct metrics_slot, last_failure));
	family(fp, "mxport_route_callouts_total", "counter",
	       "Recipient verifications (callouts) per route by their result.");
	for (unsigned i = 0; i < m->head->nroutes; i++) {
		if (!shown(m, i))
			continue;
		name_of(m, i, label, sizeof(label));
		for (int r = 0; r < MX_METRICS_CALLOUTS; r++)
			fprintf(fp,
				"mxport_route_callouts_total{route=\"%s\",result=\"%s\"} %llu\n",
				label, callout_names[r], load(&m->slots[i].callouts[r]));
	}
}

/* write_health - the table's own numbers and the daemons' configuration */
static void write_health(const struct mx_metrics *m, FILE *fp)
{
	const struct metrics_head *h = m->head;

	family(fp, "mxport_metrics_routes", "gauge",
	       "Routes with series of their own; more count under route=\"_other\".");
	fprintf(fp, "mxport_metrics_routes %u\n", mx_metrics_routes_used(m));
	family(fp, "mxport_metrics_routes_max", "gauge", "metrics_max_routes of the table.");
	fprintf(fp, "mxport_metrics_routes_max %u\n", h->nroutes - 1);
	family(fp, "mxport_metrics_created_timestamp_seconds", "gauge",
	       "When the table was made: the counters count from then.");
	fprintf(fp, "mxport_metrics_created_timestamp_seconds %lld\n", (long long)h->created);
	family(fp, "mxport_config_last_reload_successful", "gauge",
	       "1 when the daemon's last configuration load succeeded.");
	for (int d = 0; d < MX_METRICS_DAEMONS; d++)
		if (__atomic_load_n(&h->health[d].seen, __ATOMIC_RELAXED))
			fprintf(fp, "mxport_config_last_reload_successful{daemon=\"%s\"} %u\n",
				daemon_names[d],
				__atomic_load_n(&h->health[d].ok, __ATOMIC_RELAXED));
	family(fp, "mxport_config_loaded_timestamp_seconds", "gauge",
	       "When the configuration in force was first loaded.");
	for (int d = 0; d < MX_METRICS_DAEMONS; d++) {
		long long t = (long long)__atomic_load_n(&h->health[d].loaded, __ATOMIC_RELAXED);

		if (t)
			fprintf(fp, "mxport_config_loaded_timestamp_seconds{daemon=\"%s\"} %lld\n",
				daemon_names[d], t);
	}
	family(fp, "mxport_config_last_reload_error_timestamp_seconds", "gauge",
	       "The last configuration load that failed.");
	for (int d = 0; d < MX_METRICS_DAEMONS; d++) {
		long long t = (long long)__atomic_load_n(&h->health[d].error_at, __ATOMIC_RELAXED);

		if (t)
			fprintf(fp,
				"mxport_config_last_reload_error_timestamp_seconds{daemon=\"%s\"} "
				"%lld\n",
				daemon_names[d], t);
	}
}

/* mx_metrics_write - the whole table in Prometheus's text exposition format */
bool mx_metrics_write(const struct mx_metrics *m, FILE *fp)
{
	if (m == NULL)
		return false;
	write_routes(m, fp);
	write_health(m, fp);
	return !ferror(fp);
}

/*
 * mx_metrics_write_textfile - the table for node_exporter's textfile
 * collector: written to a new file beside path, then renamed over it, so
 * that the collector never reads half a file.
 */
bool mx_metrics_write_textfile(const struct mx_metrics *m, const char *path, char *err,
			       size_t errlen)
{
	char tmp[4096];
	FILE *fp;
	int fd;
	bool ok;

	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: name too long", path);
		return false;
	}
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || (fp = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	ok = mx_metrics_write(m, fp);
	ok = fflush(fp) == 0 && ok;
	if (fclose(fp) != 0)
		ok = false;
	if (!ok || rename(tmp, path) < 0) {
		snprintf(err, errlen, "%s: %s", ok ? path : tmp, strerror(errno ? errno : EIO));
		unlink(tmp);
		return false;
	}
	return true;
}
