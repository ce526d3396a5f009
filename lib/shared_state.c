/*
 * shared_state - small values several relays share, in memcached
 * (shared_state in mxport.conf), through Debian's libmemcached, as
 * Postfix's memcache_table(5) shares its verify cache between MTAs.
 *
 * The callers (transport/notify.c: outages; milter/verify.c: the verify
 * cache and its rate limits) know what the keys mean; this module only
 * stores them, and decides when memcached is not to be asked: every call
 * takes at most a few times shared_state_timeout; a failure makes every
 * call answer SS_FAIL at once for shared_state_retry seconds, and is logged
 * at most once a minute. The callers then use their own local state: the
 * worst is a duplicate notice or an extra callout, never a delayed mail.
 *
 * A process forked after a connection was made does not use the parent's
 * (the owner's pid is kept): it connects anew. Threads share one
 * connection under a mutex. With a down_file (the transport, one process
 * per delivery in pipe mode), the failure, its retry time and the time of
 * its last log line are kept there, so that they hold across processes.
 *
 * Keys are escaped (bytes outside '!'..'~' and '%' as %XX) and, when longer
 * than memcached allows, replaced by the SHA-256 of the whole key.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libmemcached/memcached.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"
#include "shared_state.h"
#include "util.h"

#define SS_KEY_MAX     240 /* memcached's limit is 250 */
#define SS_LOG_EVERY   60  /* seconds between two log lines of a failure */
#define SS_SPEC_MAX    1024
#define SS_SERVERS_MAX 16

static pthread_mutex_t ss_lock = PTHREAD_MUTEX_INITIALIZER;
static char ss_spec[SS_SPEC_MAX];
static char ss_down_file[4096];
static unsigned ss_timeout_ms = 150, ss_retry_s = 30;
static memcached_st *ss_memc;
static pid_t ss_owner;
static time_t ss_down_until, ss_logged, ss_failed; /* in memory, whatever down_file says */

/* server_parse - one "memcache:HOST:PORT" or "unix:/path"; false with err set */
static bool server_parse(const char *item, char *host, size_t hostlen, unsigned *port, char *err,
			 size_t errlen)
{
	const char *colon;
	unsigned long p;

	*port = 0;
	if (strncmp(item, "unix:", 5) == 0) {
		if (item[5] != '/' || strlen(item + 5) >= hostlen) {
			snprintf(err, errlen, "'%s': unix: needs an absolute path", item);
			return false;
		}
		mx_strlcpy(host, item + 5, hostlen);
		return true;
	}
	if (strncmp(item, "memcache:", 9) != 0) {
		snprintf(err, errlen, "'%s': not memcache:HOST:PORT or unix:/path", item);
		return false;
	}
	item += 9;
	colon = strrchr(item, ':');
	if (colon == NULL || colon == item || (size_t)(colon - item) >= hostlen ||
	    !mx_parse_uint(colon + 1, 65535, &p) || p == 0) {
		snprintf(err, errlen, "'memcache:%s': not HOST:PORT", item);
		return false;
	}
	if (item[0] == '[' && colon[-1] == ']') /* [::1]:11211 */
		snprintf(host, hostlen, "%.*s", (int)(colon - item - 2), item + 1);
	else
		snprintf(host, hostlen, "%.*s", (int)(colon - item), item);
	if (*host == '\0' || strpbrk(host, " \t,")) {
		snprintf(err, errlen, "'memcache:%s': bad host", item);
		return false;
	}
	*port = (unsigned)p;
	return true;
}

/* servers_each - parse spec, adding each server to memc (NULL: only check) */
static bool servers_each(const char *spec, memcached_st *memc, char *err, size_t errlen)
{
	char copy[SS_SPEC_MAX], *save = NULL, host[1024];
	unsigned port, n = 0;

	if (strlen(spec) >= sizeof(copy)) {
		snprintf(err, errlen, "longer than %d characters", SS_SPEC_MAX - 1);
		return false;
	}
	mx_strlcpy(copy, spec, sizeof(copy));
	for (char *it = strtok_r(copy, ", \t", &save); it; it = strtok_r(NULL, ", \t", &save)) {
		memcached_return_t rc;

		if (!server_parse(it, host, sizeof(host), &port, err, errlen))
			return false;
		if (++n > SS_SERVERS_MAX) {
			snprintf(err, errlen, "more than %d servers", SS_SERVERS_MAX);
			return false;
		}
		if (memc == NULL)
			continue;
		rc = port ? memcached_server_add(memc, host, (in_port_t)port)
			  : memcached_server_add_unix_socket(memc, host);
		if (rc != MEMCACHED_SUCCESS) {
			snprintf(err, errlen, "%s: %s", it, memcached_strerror(memc, rc));
			return false;
		}
	}
	return true;
}

/* shared_state_check - whether spec is a valid shared_state value (empty: off) */
bool shared_state_check(const char *spec, char *err, size_t errlen)
{
	return servers_each(spec, NULL, err, errlen);
}

/* drop - forget the connection; a child's inherited one is only forgotten, never closed */
static void drop(void)
{
	if (ss_memc && ss_owner == getpid())
		memcached_free(ss_memc);
	ss_memc = NULL;
}

/* shared_state_setup - what to use from now on; a changed spec drops the connection */
void shared_state_setup(const char *spec, unsigned timeout_ms, unsigned retry_s,
			const char *down_file)
{
	pthread_mutex_lock(&ss_lock);
	if (strcmp(spec ? spec : "", ss_spec) != 0) {
		drop();
		ss_down_until = 0;
	}
	mx_strlcpy(ss_spec, spec ? spec : "", sizeof(ss_spec));
	mx_strlcpy(ss_down_file, down_file ? down_file : "", sizeof(ss_down_file));
	ss_timeout_ms = timeout_ms ? timeout_ms : 150;
	ss_retry_s = retry_s ? retry_s : 30;
	pthread_mutex_unlock(&ss_lock);
}

/* shared_state_on - whether shared_state is configured (reachable or not) */
bool shared_state_on(void)
{
	bool on;

	pthread_mutex_lock(&ss_lock);
	on = ss_spec[0] != '\0';
	pthread_mutex_unlock(&ss_lock);
	return on;
}

/* down_read - the failure time and last log time in down_file; false when there is none */
static bool down_read(time_t *failed, time_t *logged)
{
	char buf[64];
	long long f = 0, l = 0;
	ssize_t n;
	int fd;

	if (!ss_down_file[0] || (fd = open(ss_down_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (sscanf(buf, "failed %lld logged %lld", &f, &l) != 2)
		return false;
	*failed = (time_t)f;
	*logged = (time_t)l;
	return true;
}

/* down_write - down_file replaced (by rename: readers see a whole one) */
static void down_write(time_t failed, time_t logged)
{
	char tmp[4200], buf[64];
	int fd, len;

	if (!ss_down_file[0])
		return;
	snprintf(tmp, sizeof(tmp), "%s.%ld", ss_down_file, (long)getpid());
	len = snprintf(buf, sizeof(buf), "failed %lld logged %lld\n", (long long)failed,
		       (long long)logged);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, buf, (size_t)len) != len || close(fd) != 0 || rename(tmp, ss_down_file) != 0)
		(void)unlink(tmp);
}

/* given_up - true while a recent failure holds (this process's or, in down_file, another's) */
static bool given_up(time_t now)
{
	time_t failed, logged;

	if (now < ss_down_until)
		return true;
	if (down_read(&failed, &logged) && now < failed + (time_t)ss_retry_s && now >= failed) {
		ss_down_until = failed + (time_t)ss_retry_s;
		ss_failed = failed;
		ss_logged = logged > ss_logged ? logged : ss_logged;
		return true;
	}
	return false;
}

/* failed - memcached did not answer: give up on it for a while, say so once a minute */
static void failed(const char *what, const char *why)
{
	time_t now = time(NULL), f, logged = ss_logged;

	drop();
	if (down_read(&f, &logged) && logged > ss_logged)
		ss_logged = logged;
	if (now >= ss_logged + SS_LOG_EVERY || now < ss_logged) {
		msg_warn("shared state %s: %s: %s: using this relay's own state, "
			 "trying again in %u s",
			 ss_spec, what, why, ss_retry_s);
		ss_logged = now;
	}
	ss_failed = now;
	ss_down_until = now + (time_t)ss_retry_s;
	down_write(now, ss_logged);
}

/* answered - memcached answered: when it had failed, say it is back (once for all processes) */
static void answered(void)
{
	if (ss_failed == 0 && !(ss_down_file[0] && access(ss_down_file, F_OK) == 0))
		return;
	if (!ss_down_file[0] || unlink(ss_down_file) == 0)
		msg_info("shared state %s: answering again: shared from now on", ss_spec);
	ss_failed = 0;
}

/* connect_memc - the connection of this process, made when missing; NULL: use local state */
static memcached_st *connect_memc(void)
{
	char err[512];
	memcached_st *m;
	time_t now = time(NULL);

	if (ss_memc && ss_owner != getpid())
		ss_memc = NULL; /* the parent's: never touched here */
	if (ss_memc)
		return ss_memc;
	if (given_up(now))
		return NULL;
	if ((m = memcached_create(NULL)) == NULL) {
		failed("memcached_create", "out of memory");
		return NULL;
	}
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_NO_BLOCK, 1);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, ss_timeout_ms);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, ss_timeout_ms);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_SND_TIMEOUT, ss_timeout_ms * 1000ULL);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, ss_timeout_ms * 1000ULL);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, ss_retry_s);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_DISTRIBUTION,
			       MEMCACHED_DISTRIBUTION_CONSISTENT);
	if (!servers_each(ss_spec, m, err, sizeof(err))) {
		memcached_free(m);
		failed("configuration", err);
		return NULL;
	}
	ss_memc = m;
	ss_owner = getpid();
	return m;
}

/*
 * make_key - the key as memcached takes it: printable, no spaces, short.
 * False only when out is too small for even the hashed form.
 */
static bool make_key(const char *key, char *out, size_t outlen)
{
	size_t o = 0, need = 0;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		need += (*p > ' ' && *p < 0x7f && *p != '%') ? 1 : 3;
	if (need <= SS_KEY_MAX && need < outlen) {
		for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
			if (*p > ' ' && *p < 0x7f && *p != '%')
				out[o++] = (char)*p;
			else
				o += (size_t)snprintf(out + o, outlen - o, "%%%02X", *p);
		}
		out[o] = '\0';
		return true;
	}
	{
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;

		if (outlen < 2 * 32 + 16 ||
		    !EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL))
			return false;
		o = (size_t)snprintf(out, outlen, "mxport:sha256:");
		for (unsigned i = 0; i < mdlen; i++)
			o += (size_t)snprintf(out + o, outlen - o, "%02x", md[i]);
	}
	return true;
}

enum op { OP_ADD, OP_SET, OP_GET, OP_TOUCH, OP_DELETE, OP_COUNT };
static const char *const op_names[] = {"add", "set", "get", "touch", "delete", "incr"};

/* run - one operation, under the lock, with the failure policy */
static enum shared_state_result run(enum op op, const char *key, const char *value, char *out,
				    size_t outlen, unsigned ttl, unsigned long long *count)
{
	enum shared_state_result res = SS_FAIL;
	memcached_return_t rc = MEMCACHED_SUCCESS;
	char k[SS_KEY_MAX + 16];
	memcached_st *m;
	size_t klen;

	pthread_mutex_lock(&ss_lock);
	if (ss_spec[0] == '\0') {
		pthread_mutex_unlock(&ss_lock);
		return SS_OFF;
	}
	if (!make_key(key, k, sizeof(k)) || (m = connect_memc()) == NULL) {
		pthread_mutex_unlock(&ss_lock);
		return SS_FAIL;
	}
	klen = strlen(k);
	switch (op) {
	case OP_ADD:
	case OP_SET:
		rc = (op == OP_ADD ? memcached_add : memcached_set)(m, k, klen, value,
								    strlen(value), (time_t)ttl, 0);
		res = rc == MEMCACHED_SUCCESS					 ? SS_OK
		      : rc == MEMCACHED_NOTSTORED || rc == MEMCACHED_DATA_EXISTS ? SS_EXISTS
										 : SS_FAIL;
		break;
	case OP_GET: {
		size_t vlen = 0;
		uint32_t flags = 0;
		char *v = memcached_get(m, k, klen, &vlen, &flags, &rc);

		if (rc == MEMCACHED_SUCCESS) {
			snprintf(out, outlen, "%.*s", v ? (int)vlen : 0, v ? v : "");
			res = SS_OK;
		} else if (rc == MEMCACHED_NOTFOUND) {
			res = SS_NOTFOUND;
		}
		free(v);
		break;
	}
	case OP_TOUCH:
		rc = memcached_touch(m, k, klen, (time_t)ttl);
		res = rc == MEMCACHED_SUCCESS	 ? SS_OK
		      : rc == MEMCACHED_NOTFOUND ? SS_NOTFOUND
						 : SS_FAIL;
		break;
	case OP_DELETE:
		rc = memcached_delete(m, k, klen, 0);
		res = rc == MEMCACHED_SUCCESS	 ? SS_OK
		      : rc == MEMCACHED_NOTFOUND ? SS_NOTFOUND
						 : SS_FAIL;
		break;
	case OP_COUNT: {
		uint64_t v = 0;

		/* incr, or add "1" when missing; a relay that adds at once in between: incr again
		 */
		for (int tries = 0; tries < 3 && res == SS_FAIL; tries++) {
			rc = memcached_increment(m, k, klen, 1, &v);
			if (rc == MEMCACHED_SUCCESS) {
				res = SS_OK;
			} else if (rc == MEMCACHED_NOTFOUND) {
				rc = memcached_add(m, k, klen, "1", 1, (time_t)ttl, 0);
				if (rc == MEMCACHED_SUCCESS) {
					v = 1;
					res = SS_OK;
				} else if (rc != MEMCACHED_NOTSTORED &&
					   rc != MEMCACHED_DATA_EXISTS) {
					break;
				}
			} else {
				break;
			}
		}
		if (res == SS_OK)
			*count = v;
		break;
	}
	}
	if (res == SS_FAIL)
		failed(op_names[op], memcached_strerror(m, rc));
	else
		answered();
	pthread_mutex_unlock(&ss_lock);
	return res;
}

/* shared_state_add - store key only when no one has: SS_OK (first), SS_EXISTS, SS_FAIL, SS_OFF */
enum shared_state_result shared_state_add(const char *key, const char *value, unsigned ttl)
{
	return run(OP_ADD, key, value, NULL, 0, ttl, NULL);
}

/* shared_state_set - store key, whatever was there */
enum shared_state_result shared_state_set(const char *key, const char *value, unsigned ttl)
{
	return run(OP_SET, key, value, NULL, 0, ttl, NULL);
}

/* shared_state_get - the value of key, truncated to len: SS_OK, SS_NOTFOUND, SS_FAIL, SS_OFF */
enum shared_state_result shared_state_get(const char *key, char *value, size_t len)
{
	if (len)
		*value = '\0';
	return run(OP_GET, key, NULL, value, len, 0, NULL);
}

/* shared_state_touch - key lives ttl seconds from now */
enum shared_state_result shared_state_touch(const char *key, unsigned ttl)
{
	return run(OP_TOUCH, key, NULL, NULL, 0, ttl, NULL);
}

/* shared_state_delete - key gone */
enum shared_state_result shared_state_delete(const char *key)
{
	return run(OP_DELETE, key, NULL, NULL, 0, 0, NULL);
}

/* shared_state_count - key's counter plus one (made at 1 with ttl when missing), in value */
enum shared_state_result shared_state_count(const char *key, unsigned ttl,
					    unsigned long long *value)
{
	return run(OP_COUNT, key, NULL, NULL, 0, ttl, value);
}
