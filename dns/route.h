/* route - the route model: what a domain's mail is forwarded to, and why not */
#ifndef MX_ROUTE_H
#define MX_ROUTE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "domain.h"

enum route_status {
	ROUTE_OK,	 /* forwarded: targets follow */
	ROUTE_NOTFOUND,	 /* not forwarded */
	ROUTE_NOSERVICE, /* explicit null target "." */
	ROUTE_RETRY,	 /* temporary trouble: try again later */
	ROUTE_FAIL,	 /* malformed answer or configuration */
};

enum route_source {
	ROUTE_SRC_NONE,
	ROUTE_SRC_FILE,
	ROUTE_SRC_DNS,
};

#define ROUTE_TLS_DEFAULT (-1) /* the configured tls_mode */

/* a route's verify= option; without one, verify_recipients decides (SRV routes too) */
enum route_verify {
	ROUTE_VERIFY_DEFAULT,
	ROUTE_VERIFY_NO,
	ROUTE_VERIFY_YES,
};

struct route_target {
	unsigned pref;
	unsigned weight;
	char host[MX_DOMAIN_MAX]; /* A-label host name, or the address of a [literal] */
	uint16_t port;
	int tls_mode; /* MX_TLS_* or ROUTE_TLS_DEFAULT */
	bool implicit_tls;
	bool literal;
};

struct route {
	enum route_status status;
	char reason[512];
	enum route_source source;
	char origin[600]; /* "file:line" or the DNS name that was asked */
	bool secure;	  /* DNS answer carried the AD bit from a configured server */
	uint32_t ttl;
	size_t ntargets;
	struct route_target *targets;
	char notify[320]; /* the contact told when deliveries fail (transport/notify.c); "" none */
	char name[MX_DOMAIN_MAX + 1]; /* the route's own domain, as its source names it: the
					 routes-file line's (".parent" for a wildcard) or
					 the domain asked in DNS; the key of everything kept
					 per route (callout bounds, outages), never a
					 subdomain a sender chose under a wildcard */
	enum route_verify verify;     /* verify=: ask the server at RCPT (milter/verify.c) */
};

struct route_addr {
	struct sockaddr_storage sa;
	socklen_t salen;
	char text[INET6_ADDRSTRLEN];
	bool refused;  /* by the destination guard */
	char why[160]; /* why it was refused */
};

struct route_addrs {
	enum route_status status;
	char reason[512];
	bool secure;
	uint32_t ttl;
	size_t count;
	struct route_addr *addrs;
};

typedef uint32_t (*route_rand_fn)(void *arg, uint32_t upper); /* uniform in [0, upper] */

void route_init(struct route *r);
void route_clear(struct route *r);
void route_copy(struct route *dst, const struct route *src);
void route_set(struct route *r, enum route_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void route_add_target(struct route *r, const struct route_target *t);
const char *route_status_name(enum route_status status);
bool route_verify_wanted(const struct route *r, bool verify_recipients);

void route_addrs_init(struct route_addrs *a);
void route_addrs_clear(struct route_addrs *a);
void route_addrs_copy(struct route_addrs *dst, const struct route_addrs *src);
bool route_addrs_add(struct route_addrs *a, int family, const void *bytes, uint16_t port);

void route_order_targets(struct route_target *targets, size_t count, route_rand_fn rnd, void *arg);
uint32_t route_rand_default(void *arg, uint32_t upper);

#endif
