/* socketmap - Postfix/Sendmail socketmap lookups of forwarded domains (relay, transport) */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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
	if (strcmp(name, "relay") != 0 && strcmp(name, "transport") != 0 &&
	    strcmp(name, "mailertable") != 0 && strcmp(name, "access") != 0)
		return (size_t)snprintf(reply, replylen, "PERM unknown map %s", name);
	const char *keytext = space + 1;
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
		/* NOTFOUND or TEMP, as the one failure policy says (lib/policy.c). */
		if (strcmp(mx_policy(mx_route_outcome(st, false))->socketmap, "TEMP") == 0)
			return (size_t)snprintf(reply, replylen, "TEMP %.400s", reason);
		return (size_t)snprintf(reply, replylen, "NOTFOUND ");
	}
}

struct client {
	int fd;
	socketmap_lookup_fn lookup;
	socketmap_values_fn values;
};

/* serve_client - requests on one connection until the MTA closes it */
static void *serve_client(void *arg)
{
	struct client *c = arg;
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
			ssize_t n = read(c->fd, buf + have, NETSTRING_MAX + 16 - have);
			if (n <= 0)
				break;
			have += (size_t)n;
			continue;
		}
		char reply[600], framed[700];
		struct socketmap_values values;
		c->values(&values);
		size_t rlen =
			socketmap_answer(data, datalen, c->lookup, &values, reply, sizeof(reply));
		if (rlen >= sizeof(reply))
			rlen = sizeof(reply) - 1;
		size_t flen = netstring_format(framed, sizeof(framed), reply, rlen);
		if (write(c->fd, framed, flen) != (ssize_t)flen)
			break;
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	close(c->fd);
	free(buf);
	free(c);
	return NULL;
}

/* accept_loop - one thread per MTA connection (each smtpd keeps its own) */
static void *accept_loop(void *arg)
{
	struct client proto = *(struct client *)arg;

	free(arg);
	for (;;) {
		int fd = accept4(proto.fd, NULL, NULL, SOCK_CLOEXEC);
		pthread_t th;
		struct client *c;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			msg_error("socketmap: accept: %s", strerror(errno));
			sleep(1);
			continue;
		}
		c = mx_malloc(sizeof(*c));
		c->fd = fd;
		c->lookup = proto.lookup;
		c->values = proto.values;
		if (pthread_create(&th, NULL, serve_client, c) != 0) {
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(th);
	}
	return NULL;
}

/* socketmap_start - serve the listening socket in a thread of its own */
int socketmap_start(int fd, socketmap_lookup_fn lookup, socketmap_values_fn values)
{
	struct client *proto = mx_malloc(sizeof(*proto));
	pthread_t th;

	proto->fd = fd;
	proto->lookup = lookup;
	proto->values = values;
	if (pthread_create(&th, NULL, accept_loop, proto) != 0) {
		free(proto);
		return -1;
	}
	pthread_detach(th);
	return 0;
}
