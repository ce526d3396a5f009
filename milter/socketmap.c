/* socketmap - Postfix/Sendmail socketmap lookups of forwarded domains (relay, transport) */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "domain.h"
#include "msg.h"
#include "netstring.h"
#include "policy.h"
#include "socketmap.h"
#include "util.h"

/*
 * socketmap_answer - the reply to one request "mapname key" (both as
 * sent, without netstring framing). Maps:
 *   relay        OK for a forwarded domain (Postfix relay_domains)
 *   transport    "OK mxport:" (Postfix transport_maps; postfix_transport)
 *   mailertable  "OK <mailer>:domain" (Sendmail mailertable; mailertable_mailer)
 *   access       "OK RELAY" for "To:domain" (Sendmail access map)
 *   verify       for a whole recipient address, an access(5) answer: "OK
 *                550 5.1.1 <the customer's words>" for a recipient the
 *                customer's server refuses, else DUNNO (verify.c; Postfix
 *                check_recipient_access)
 * NOTFOUND for a domain that is not forwarded, TEMP on DNS trouble, so that
 * the MTA answers 4xx and tries again: never a false OK.
 */
size_t socketmap_answer(const char *request, size_t len, socketmap_lookup_fn lookup,
			const struct socketmap_values *values, char *reply, size_t replylen)
{
	const char *space = memchr(request, ' ', len);
	char name[32], key[MX_DOMAIN_MAX + 2], reason[512];
	size_t namelen, keylen;
	enum route_status st;

	if (space == NULL || space == request ||
	    (namelen = (size_t)(space - request)) >= sizeof(name)) {
		return (size_t)snprintf(reply, replylen, "PERM malformed request");
	}
	keylen = len - namelen - 1;
	memcpy(name, request, namelen);
	name[namelen] = '\0';
	const char *keytext = space + 1;
	if (strcmp(name, "verify") == 0 && values->verify)
		return values->verify(keytext, keylen, reply, replylen);
	if (strcmp(name, "relay") != 0 && strcmp(name, "transport") != 0 &&
	    strcmp(name, "mailertable") != 0 && strcmp(name, "access") != 0)
		return (size_t)snprintf(reply, replylen, "PERM unknown map %s", name);
	if (strcmp(name, "access") == 0) {
		/* Sendmail's access map: only "To:domain" is ours to answer (RELAY). */
		if (keylen < 3 || strncasecmp(keytext, "To:", 3) != 0)
			return (size_t)snprintf(reply, replylen, "NOTFOUND ");
		keytext += 3;
		keylen -= 3;
	}
	if (keylen == 0 || keylen >= sizeof(key) || memchr(keytext, '\0', keylen))
		return (size_t)snprintf(reply, replylen, "NOTFOUND ");
	memcpy(key, keytext, keylen);
	key[keylen] = '\0';
	/*
	 * Postfix asks transport_maps socketmaps with the whole address only (a
	 * socketmap is a pattern table to it): route by its domain. Elsewhere an
	 * address is not a key of ours, and ".example.com" is Postfix asking about
	 * parents, which the route lookup covered already.
	 */
	if (strcmp(name, "transport") == 0 && strchr(key, '@')) {
		char *at = strrchr(key, '@');
		memmove(key, at + 1, strlen(at + 1) + 1);
	}
	if (key[0] == '.' || key[0] == '\0' || strchr(key, '@'))
		return (size_t)snprintf(reply, replylen, "NOTFOUND ");
	st = lookup(key, reason, sizeof(reason));
	mx_printable(reason);
	switch (st) {
	case ROUTE_OK:
		if (strcmp(name, "relay") == 0)
			return (size_t)snprintf(reply, replylen, "OK forwarded");
		if (strcmp(name, "transport") == 0)
			return (size_t)snprintf(reply, replylen, "OK %s", values->transport);
		if (strcmp(name, "access") == 0)
			return (size_t)snprintf(reply, replylen, "OK RELAY");
		return (size_t)snprintf(reply, replylen, "OK %s:%s", values->mailer, key);
	default:
		/* NOTFOUND or TEMP, as the one failure policy says (dns/policy.c). */
		if (strcmp(mx_status(mx_route_outcome(st, false))->socketmap, "TEMP") == 0)
			return (size_t)snprintf(reply, replylen, "TEMP %.400s", reason);
		return (size_t)snprintf(reply, replylen, "NOTFOUND ");
	}
}

/*
 * The server: a thread per MTA connection (each smtpd keeps its own), at
 * most max_clients of them. Each connection has a slot that says when it
 * last finished a request and whether it is in one now. A connection that
 * sends no whole request for idle_ms is closed; when a new one comes while
 * every slot is taken, the connection idle the longest is closed to make
 * room (Postfix reconnects, and does so on its own every 100 s anyway), so
 * that clients that connect and send nothing cannot keep the MTA out. Only
 * when every connection is inside a lookup does the new one wait.
 */
struct slot {
	int fd;		      /* -1: free */
	long long idle_since; /* when the last request was answered, or the connection made */
	bool busy;	      /* inside a lookup */
};

static struct {
	struct slot *slots;
	unsigned max, used;
	unsigned idle_ms;
	socketmap_lookup_fn lookup;
	socketmap_values_fn values;
	long long warned; /* when the last "full" warning was logged */
	unsigned long evicted;
} srv;
static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t srv_freed = PTHREAD_COND_INITIALIZER;

/* now_ms - a monotonic clock */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* slot_mark - the connection starts (busy) or finishes (idle) a request */
static void slot_mark(unsigned i, bool busy)
{
	pthread_mutex_lock(&srv_lock);
	srv.slots[i].busy = busy;
	if (!busy) {
		srv.slots[i].idle_since = now_ms();
		pthread_cond_signal(&srv_freed); /* make_room may close it now */
	}
	pthread_mutex_unlock(&srv_lock);
}

/* slot_release - the connection is over: close it and free its slot */
static void slot_release(unsigned i)
{
	pthread_mutex_lock(&srv_lock);
	close(srv.slots[i].fd);
	srv.slots[i].fd = -1;
	srv.used--;
	pthread_cond_signal(&srv_freed);
	pthread_mutex_unlock(&srv_lock);
}

/*
 * wait_request - true when there is something to read before the
 * connection has been idle for idle_ms (since its last answer, so that a
 * request sent a byte at a time does not keep it open either)
 */
static bool wait_request(unsigned i)
{
	long long deadline;

	pthread_mutex_lock(&srv_lock);
	deadline = srv.slots[i].idle_since + srv.idle_ms;
	pthread_mutex_unlock(&srv_lock);
	for (;;) {
		struct pollfd p = {srv.slots[i].fd, POLLIN, 0};
		long long left = deadline - now_ms();
		int rc;

		if (left <= 0)
			return false;
		rc = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (rc > 0)
			return true;
		if (rc < 0 && errno != EINTR)
			return false;
	}
}

/* serve_client - requests on one connection until the MTA closes it, or it idles */
static void *serve_client(void *arg)
{
	unsigned i = (unsigned)(uintptr_t)arg;
	int fd = srv.slots[i].fd; /* stays open until slot_release */
	char *buf = mx_malloc(NETSTRING_MAX + 16);
	size_t have = 0;

	for (;;) {
		const char *data;
		size_t datalen, used;
		int rc = netstring_parse(buf, have, &data, &datalen, &used);

		if (rc < 0) {
			msg_warn("socketmap: malformed request; closing the connection");
			break;
		}
		if (rc == 0) {
			if (!wait_request(i))
				break;
			ssize_t n = read(fd, buf + have, NETSTRING_MAX + 16 - have);
			if (n <= 0)
				break;
			have += (size_t)n;
			continue;
		}
		char reply[600], framed[700];
		struct socketmap_values values;
		slot_mark(i, true);
		srv.values(&values);
		size_t rlen =
			socketmap_answer(data, datalen, srv.lookup, &values, reply, sizeof(reply));
		if (rlen >= sizeof(reply))
			rlen = sizeof(reply) - 1;
		size_t flen = netstring_format(framed, sizeof(framed), reply, rlen);
		bool ok = write(fd, framed, flen) == (ssize_t)flen;
		slot_mark(i, false);
		if (!ok)
			break;
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	free(buf);
	slot_release(i);
	return NULL;
}

/*
 * make_room - with the lock held: wait until a slot is free, closing the
 * connection idle the longest when all are taken. Its thread sees the
 * shutdown at once and frees the slot.
 */
static void make_room(void)
{
	while (srv.used >= srv.max) {
		long long now = now_ms();
		unsigned oldest = srv.max;

		for (unsigned i = 0; i < srv.max; i++) {
			const struct slot *s = &srv.slots[i];
			if (s->fd >= 0 && !s->busy &&
			    (oldest == srv.max || s->idle_since < srv.slots[oldest].idle_since))
				oldest = i;
		}
		if (oldest < srv.max) {
			shutdown(srv.slots[oldest].fd, SHUT_RDWR);
			srv.slots[oldest].busy = true; /* not chosen twice */
			srv.evicted++;
		}
		if (now - srv.warned >= 60000 || srv.warned == 0) {
			msg_warn("socketmap: %u connections (socketmap_max_clients): %s", srv.used,
				 oldest < srv.max ? "closing the longest idle ones to make room"
						  : "every one is in a lookup; new ones wait");
			srv.warned = now;
		}
		pthread_cond_wait(&srv_freed, &srv_lock);
	}
}

/* accept_loop - accept connections and give each a slot and a thread */
static void *accept_loop(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		pthread_t th;
		unsigned i;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			msg_error("socketmap: accept: %s", strerror(errno));
			sleep(1);
			continue;
		}
		pthread_mutex_lock(&srv_lock);
		make_room();
		for (i = 0; srv.slots[i].fd >= 0; i++)
			;
		srv.slots[i].fd = fd;
		srv.slots[i].busy = false;
		srv.slots[i].idle_since = now_ms();
		srv.used++;
		pthread_mutex_unlock(&srv_lock);
		if (pthread_create(&th, NULL, serve_client, (void *)(uintptr_t)i) != 0) {
			msg_error("socketmap: cannot start a thread: closing the connection");
			slot_release(i);
			continue;
		}
		pthread_detach(th);
	}
	return NULL;
}

/*
 * socketmap_start - serve the listening socket in a thread of its own: at
 * most max_clients connections, each closed after idle_timeout seconds
 * without a request
 */
int socketmap_start(int fd, socketmap_lookup_fn lookup, socketmap_values_fn values,
		    unsigned max_clients, unsigned idle_timeout)
{
	pthread_t th;

	srv.max = max_clients ? max_clients : 1;
	srv.idle_ms = idle_timeout * 1000;
	srv.lookup = lookup;
	srv.values = values;
	srv.slots = mx_calloc(srv.max, sizeof(*srv.slots));
	for (unsigned i = 0; i < srv.max; i++)
		srv.slots[i].fd = -1;
	if (pthread_create(&th, NULL, accept_loop, (void *)(intptr_t)fd) != 0)
		return -1;
	pthread_detach(th);
	return 0;
}
