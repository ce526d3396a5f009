/* route - the route model: what a domain's mail is forwarded to, and why not */
#include "config.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "util.h"

/* route_init - an empty NOTFOUND route */
void route_init(struct route *r)
{
	memset(r, 0, sizeof(*r));
	r->status = ROUTE_NOTFOUND;
}

/* route_clear - release targets and reset */
void route_clear(struct route *r)
{
	free(r->targets);
	route_init(r);
}

/* route_copy - deep copy (dst must not hold targets) */
void route_copy(struct route *dst, const struct route *src)
{
	*dst = *src;
	dst->targets = NULL;
	if (src->ntargets) {
		dst->targets = mx_malloc(src->ntargets * sizeof(*src->targets));
		memcpy(dst->targets, src->targets, src->ntargets * sizeof(*src->targets));
	}
}

/* route_set - status and reason */
void route_set(struct route *r, enum route_status status, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

/* route_add_target - append a copy of t */
void route_add_target(struct route *r, const struct route_target *t)
{
	r->targets = mx_realloc(r->targets, (r->ntargets + 1) * sizeof(*t));
	r->targets[r->ntargets++] = *t;
}

/* route_status_name - for logs and mxport-route */
const char *route_status_name(enum route_status status)
{
	switch (status) {
	case ROUTE_OK: return "forwarded";
	case ROUTE_NOTFOUND: return "not forwarded";
	case ROUTE_NOSERVICE: return "no service";
	case ROUTE_RETRY: return "temporary failure";
	case ROUTE_FAIL: return "bad route";
	}
	return "?";
}

/* route_verify_wanted - the route's verify=, else verify_recipients (SRV routes always) */
bool route_verify_wanted(const struct route *r, bool verify_recipients)
{
	if (r->verify == ROUTE_VERIFY_DEFAULT)
		return verify_recipients;
	return r->verify == ROUTE_VERIFY_YES;
}

/* route_addrs_init - empty list */
void route_addrs_init(struct route_addrs *a)
{
	memset(a, 0, sizeof(*a));
	a->status = ROUTE_NOTFOUND;
}

/* route_addrs_clear - release and reset */
void route_addrs_clear(struct route_addrs *a)
{
	free(a->addrs);
	route_addrs_init(a);
}

/* route_addrs_copy - deep copy */
void route_addrs_copy(struct route_addrs *dst, const struct route_addrs *src)
{
	*dst = *src;
	dst->addrs = NULL;
	if (src->count) {
		dst->addrs = mx_malloc(src->count * sizeof(*src->addrs));
		memcpy(dst->addrs, src->addrs, src->count * sizeof(*src->addrs));
	}
}

/* route_addrs_add - append an address (network bytes) with port; false for an unknown family */
bool route_addrs_add(struct route_addrs *a, int family, const void *bytes, uint16_t port)
{
	struct route_addr *ra;

	if (family != AF_INET && family != AF_INET6)
		return false;
	a->addrs = mx_realloc(a->addrs, (a->count + 1) * sizeof(*a->addrs));
	ra = &a->addrs[a->count++];
	memset(ra, 0, sizeof(*ra));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ra->sa;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, bytes, 4);
		ra->salen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ra->sa;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, bytes, 16);
		ra->salen = sizeof(*sin6);
	}
	inet_ntop(family, bytes, ra->text, sizeof(ra->text));
	return true;
}
