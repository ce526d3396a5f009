/* route_walk - the one walk of a route's targets and addresses, for every use */
#ifndef MX_ROUTE_WALK_H
#define MX_ROUTE_WALK_H

#include <stdbool.h>
#include <stddef.h>

#include "route.h"
#include "route_lookup.h"
#include "smtp_session.h"
#include "status.h"
#include "tlsa.h"

/* walk_limits - what one walk may do; 0: no limit */
struct walk_limits {
	unsigned max_targets;	 /* targets looked up */
	unsigned max_addresses;	 /* addresses tried */
	unsigned max_sessions;	 /* sessions past EHLO and TLS that ended without the mail */
	long long deadline_ms;	 /* mx_now_ms() past which nothing more is tried */
	const char *local_ports; /* the loop guard's: this host's MTA listens there */
};

/* walk_address - one address the walk has cleared for an attempt */
struct walk_address {
	const struct route_target *target;
	const struct route_addr *addr;
	int tls_mode;		     /* the target's, with DANE settled */
	const struct tlsa_set *dane; /* the DNSSEC-secure TLSA records to match, or NULL */
	const char *relay;	     /* "host[address]:port" */
};

/* walk_verdict - what an attempt at one address came to */
enum walk_verdict {
	WALK_NEXT,	   /* failed before a session: the next address */
	WALK_NEXT_SESSION, /* a session was spent (counts toward max_sessions): the next address */
	WALK_DONE,	   /* settled: the walk ends */
};

/*
 * walk_ops - the caller's part. attempt tries one address; failed hears a
 * failure of the walk's own, a row of the status table with the reason:
 * MX_ST_HOST_NO_ADDRESS or MX_ST_HOST_RETRY (relay is the target's host),
 * MX_ST_GUARDED (the destination guard), MX_ST_TLS_FAILED (a TLSA lookup
 * that failed for now); note hears an informational line. Both may be NULL.
 */
struct walk_ops {
	enum walk_verdict (*attempt)(void *arg, const struct walk_address *wa);
	void (*failed)(void *arg, enum mx_status status, const char *relay, const char *text);
	void (*note)(void *arg, const char *relay, const char *text);
};

/* walk_end - how the walk ended */
enum walk_end {
	WALK_SETTLED,	/* an attempt said done */
	WALK_EXHAUSTED, /* every target and address was tried, or could not be */
	WALK_LOOP,	/* an address is this host's own MTA (walk_result.relay) */
	WALK_DEADLINE,	/* deadline_ms passed */
	WALK_LIMIT,	/* walk_result.limit names the key that stopped it */
};

struct walk_result {
	enum walk_end end;
	const char *limit; /* "max_targets", "max_addresses", "max_sessions" */
	unsigned limit_value;
	unsigned targets, addresses, sessions;
	size_t hosts_without_address; /* targets whose host has no address (NXDOMAIN, NODATA) */
	char relay[320];	      /* WALK_LOOP: the address that loops */
};

void route_walk(struct route_ctx *routes, const struct route *route, const struct walk_limits *lim,
		const struct walk_ops *ops, void *arg, struct walk_result *out);
bool smtp_attempt(struct smtp_request *req, struct smtp_result *res, char *first, size_t firstlen);

#endif
