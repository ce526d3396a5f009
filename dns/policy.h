/* policy - the one failure policy: what each outcome of a route means to every party */
#ifndef MX_POLICY_H
#define MX_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "route.h"

/*
 * What a lookup or a delivery attempt came to, apart from a server's own
 * reply (which speaks for itself). Each has one row in policy.c's table.
 */
enum mx_outcome {
	MX_OUT_FORWARDED,     /* a forwarding route */
	MX_OUT_NOT_FORWARDED, /* no route: the MTA's own business, or refused at RCPT */
	MX_OUT_NULL_ROUTE,    /* route or SRV target "." */
	MX_OUT_NULL_MX,	      /* RFC 7505 null MX, for a domain delivered by MX */
	MX_OUT_NO_DOMAIN,     /* by MX: no MX and no address */
	MX_OUT_NO_HOSTS,      /* by MX: several MX hosts, none with an address */
	MX_OUT_LOOP,	      /* the route leads back to this relay */
	MX_OUT_LOOKUP_RETRY,  /* DNS trouble: SERVFAIL, timeout, unreachable */
	MX_OUT_BAD_ROUTE,     /* a malformed route record */
	MX_OUT_CONFIG,	      /* mxport's own configuration is in error */
	MX_OUT_COUNT
};

/* mx_policy - one row: the words each party gets for an outcome */
struct mx_policy {
	enum mx_outcome outcome;
	const char *name;      /* for logs and tests */
	bool permanent;	       /* bounce (true) or defer; FORWARDED: neither */
	const char *dsn;       /* enhanced status code (NULL for FORWARDED) */
	int smtp_code;	       /* the milter's and the LMTP front's reply code (0: none) */
	const char *socketmap; /* the socketmap relay answer: "OK", "NOTFOUND" or "TEMP" */
	int route_exit;	       /* mxport-route's exit status */
};

const struct mx_policy *mx_policy(enum mx_outcome outcome);
enum mx_outcome mx_route_outcome(enum route_status status, bool by_mx);
void mx_dsn_deferred(char *dsn);

#endif
