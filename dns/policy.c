/*
 * policy - the one failure policy, as Postfix keeps its in smtp_trouble.c
 * and sys_exits.c: one table says, for each outcome of a route lookup or of
 * the road to a server, which enhanced status code it carries, whether the
 * mail bounces or waits, what the milter answers at RCPT, what the socket
 * map tells the MTA's relay check, and what mxport-route exits with. The
 * transport, the milter, the socket map and mxport-route read it here;
 * tests/unit/test_policy.c walks it and checks that they agree.
 */
#include "config.h"

#include <sysexits.h>

#include "policy.h"

static const struct mx_policy table[MX_OUT_COUNT] = {
	[MX_OUT_FORWARDED] = {MX_OUT_FORWARDED, "forwarded", false, NULL, 0, "OK", 0},
	/* The milter refuses it only where configured; the transport delivers it by MX. */
	[MX_OUT_NOT_FORWARDED] = {MX_OUT_NOT_FORWARDED, "not forwarded", true, "5.7.1", 550,
				  "NOTFOUND", 1},
	/* The design's codes: 5.4.4 for a route ".", 5.1.10 for a null MX (RFC 7505). */
	[MX_OUT_NULL_ROUTE] = {MX_OUT_NULL_ROUTE, "null route", true, "5.4.4", 550, "NOTFOUND", 1},
	[MX_OUT_NULL_MX] = {MX_OUT_NULL_MX, "null MX", true, "5.1.10", 550, "NOTFOUND", 1},
	[MX_OUT_NO_DOMAIN] = {MX_OUT_NO_DOMAIN, "no such domain", true, "5.1.2", 550, "NOTFOUND",
			      1},
	[MX_OUT_NO_HOSTS] = {MX_OUT_NO_HOSTS, "no MX host has an address", true, "5.4.4", 550,
			     "NOTFOUND", 1},
	[MX_OUT_LOOP] = {MX_OUT_LOOP, "mail loop", true, "5.4.6", 550, "NOTFOUND", 1},
	/* A temporary DNS failure never bounces mail. */
	[MX_OUT_LOOKUP_RETRY] = {MX_OUT_LOOKUP_RETRY, "lookup failed for now", false, "4.4.3", 451,
				 "TEMP", EX_TEMPFAIL},
	[MX_OUT_BAD_ROUTE] = {MX_OUT_BAD_ROUTE, "bad route", false, "4.4.3", 451, "TEMP",
			      EX_CONFIG},
	[MX_OUT_CONFIG] = {MX_OUT_CONFIG, "configuration error", false, "4.3.5", 451, "TEMP",
			   EX_CONFIG},
};

/* mx_policy - the row of an outcome */
const struct mx_policy *mx_policy(enum mx_outcome outcome)
{
	return &table[outcome < MX_OUT_COUNT ? outcome : MX_OUT_CONFIG];
}

/*
 * mx_dsn_deferred - the one place a code is made fit for a deferral: a
 * mail that waits never carries a 5.X.X code, whatever a server said, or
 * pipe(8) would report a permanent code on a temporary failure.
 */
void mx_dsn_deferred(char *dsn)
{
	if (dsn[0] != '\0' && dsn[0] != '4')
		dsn[0] = '4';
}

/*
 * mx_route_outcome - what a route lookup's status means: for a forwarding
 * route (the routes file, SRV records), or, by_mx, for a domain that is
 * delivered the ordinary way by its MX records.
 */
enum mx_outcome mx_route_outcome(enum route_status status, bool by_mx)
{
	switch (status) {
	case ROUTE_OK: return MX_OUT_FORWARDED;
	case ROUTE_NOTFOUND: return by_mx ? MX_OUT_NO_DOMAIN : MX_OUT_NOT_FORWARDED;
	case ROUTE_NOSERVICE: return by_mx ? MX_OUT_NULL_MX : MX_OUT_NULL_ROUTE;
	case ROUTE_RETRY: return MX_OUT_LOOKUP_RETRY;
	case ROUTE_FAIL: return by_mx ? MX_OUT_LOOKUP_RETRY : MX_OUT_BAD_ROUTE;
	}
	return MX_OUT_BAD_ROUTE;
}
