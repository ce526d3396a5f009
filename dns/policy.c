/*
 * policy - what the status of a route lookup means: for a forwarding route
 * (the routes file, SRV records), or for a domain delivered the ordinary
 * way by its MX records. The answer is a row of the one status table
 * (lib/status.c), which says what the milter, the socketmap, the transport
 * and mxport-route make of it; tests/unit/test_policy.c checks that they
 * agree.
 */
#include "config.h"

#include "policy.h"

/*
 * mx_route_outcome - what a route lookup's status means: for a forwarding
 * route (the routes file, SRV records), or, by_mx, for a domain that is
 * delivered the ordinary way by its MX records.
 */
enum mx_status mx_route_outcome(enum route_status status, bool by_mx)
{
	switch (status) {
	case ROUTE_OK: return MX_ST_FORWARDED;
	case ROUTE_NOTFOUND: return by_mx ? MX_ST_NO_DOMAIN : MX_ST_NOT_FORWARDED;
	case ROUTE_NOSERVICE: return by_mx ? MX_ST_NULL_MX : MX_ST_NULL_ROUTE;
	case ROUTE_RETRY: return MX_ST_LOOKUP_RETRY;
	case ROUTE_FAIL: return by_mx ? MX_ST_LOOKUP_RETRY : MX_ST_BAD_ROUTE;
	}
	return MX_ST_BAD_ROUTE;
}
