/*
 * route_walk - the one walk of a route, as Postfix's smtp_connect.c is the
 * one MX walk of smtp(8): targets in order, each target's addresses in
 * order; the loop guard (an address of this host's own MTA ends the walk),
 * the destination guard (a refused address is skipped), the limits
 * (max_targets, max_addresses, max_sessions, a deadline), the TLSA lookup
 * for tls=dane once a target, when its first address is tried. Delivery
 * (transport/deliver.c), verification (milter/verify.c) and mxport-route
 * --probe walk through here, so that a limit, a guard or a TLS rule added
 * once holds for all three. What an attempt at an address does is the
 * caller's.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "loopguard.h"
#include "route_walk.h"
#include "util.h"

/* limit_hit - true (naming the key in out) when a limit says stop before the next step */
static bool limit_hit(const struct walk_limits *lim, struct walk_result *out, bool new_target)
{
	if (new_target && lim->max_targets && out->targets >= lim->max_targets) {
		out->limit = "max_targets";
		out->limit_value = lim->max_targets;
	} else if (lim->max_addresses && out->addresses >= lim->max_addresses) {
		out->limit = "max_addresses";
		out->limit_value = lim->max_addresses;
	} else if (lim->max_sessions && out->sessions >= lim->max_sessions) {
		out->limit = "max_sessions";
		out->limit_value = lim->max_sessions;
	} else {
		return false;
	}
	out->end = WALK_LIMIT;
	return true;
}

static void failed(const struct walk_ops *ops, void *arg, enum mx_status status, const char *relay,
		   const char *text)
{
	if (ops->failed)
		ops->failed(arg, status, relay, text);
}

/*
 * dane_settled - tls=dane (RFC 7672) for one target: DNSSEC-secure TLSA
 * records at _port._tcp.host make TLS and a matching certificate mandatory
 * (*mode stays MX_TLS_DANE, *dane holds them); no records, or records that
 * are not secure, leave opportunistic TLS, as Postfix's "dane" does. False
 * when the lookup failed for now: the target cannot be tried.
 */
static bool dane_settled(struct route_ctx *routes, const struct route_target *t, const char *relay,
			 const struct walk_ops *ops, void *arg, int *mode, struct tlsa_set *dane)
{
	*mode = MX_TLS_MAY;
	if (t->literal)
		return true;
	tlsa_lookup(routes, t->host, t->port, dane);
	if (dane->status == ROUTE_RETRY) {
		failed(ops, arg, MX_ST_TLS_FAILED, relay, dane->reason);
		return false;
	}
	if (dane->status == ROUTE_OK && dane->secure) {
		*mode = MX_TLS_DANE;
		return true;
	}
	if (dane->status == ROUTE_OK && ops->note)
		ops->note(arg, relay, "TLSA records are not DNSSEC-secure; DANE not used");
	tlsa_set_clear(dane);
	return true;
}

/*
 * walk_target - one target's addresses; false when the walk ends here
 * (out->end says why), true to go on with the next target
 */
static bool walk_target(struct route_ctx *routes, const struct route_target *t,
			const struct walk_limits *lim, const struct walk_ops *ops, void *arg,
			struct walk_result *out)
{
	int mode = route_effective_tls(routes, t);
	bool dane_checked = mode != MX_TLS_DANE;
	struct tlsa_set dane = {.status = ROUTE_NOTFOUND};
	struct route_addrs addrs;
	bool go_on = true;

	route_resolve(routes, t, &addrs);
	if (addrs.status != ROUTE_OK) {
		if (addrs.status == ROUTE_NOTFOUND)
			out->hosts_without_address++;
		failed(ops, arg,
		       addrs.status == ROUTE_NOTFOUND ? MX_ST_HOST_NO_ADDRESS : MX_ST_HOST_RETRY,
		       t->host, addrs.reason);
		route_addrs_clear(&addrs);
		return true;
	}
	for (size_t ai = 0; ai < addrs.count && go_on; ai++) {
		const struct route_addr *a = &addrs.addrs[ai];
		char relay[320];

		snprintf(relay, sizeof(relay), "%s[%s]:%u", t->host, a->text, t->port);
		if (loopguard_is_self((const struct sockaddr *)&a->sa, lim->local_ports)) {
			mx_strlcpy(out->relay, relay, sizeof(out->relay));
			out->end = WALK_LOOP;
			go_on = false;
			break;
		}
		if (a->refused) {
			failed(ops, arg, MX_ST_GUARDED, relay, a->why);
			continue;
		}
		if (mx_now_ms() >= lim->deadline_ms) {
			out->end = WALK_DEADLINE;
			go_on = false;
			break;
		}
		if (limit_hit(lim, out, false)) {
			go_on = false;
			break;
		}
		/* TLSA records belong to host:port: asked once, when an address is tried. */
		if (!dane_checked) {
			dane_checked = true;
			if (!dane_settled(routes, t, relay, ops, arg, &mode, &dane))
				break;
		}
		out->addresses++;
		struct walk_address wa = {.target = t,
					  .addr = a,
					  .tls_mode = mode,
					  .dane = dane.count ? &dane : NULL,
					  .relay = relay};
		switch (ops->attempt(arg, &wa)) {
		case WALK_NEXT: break;
		case WALK_NEXT_SESSION: out->sessions++; break;
		case WALK_DONE:
			out->end = WALK_SETTLED;
			go_on = false;
			break;
		}
	}
	tlsa_set_clear(&dane);
	route_addrs_clear(&addrs);
	return go_on;
}

/* route_walk - walk the route for an attempt at each address until one settles it */
void route_walk(struct route_ctx *routes, const struct route *route, const struct walk_limits *lim,
		const struct walk_ops *ops, void *arg, struct walk_result *out)
{
	memset(out, 0, sizeof(*out));
	out->end = WALK_EXHAUSTED;
	for (size_t ti = 0; ti < route->ntargets; ti++) {
		if (mx_now_ms() >= lim->deadline_ms) {
			out->end = WALK_DEADLINE;
			return;
		}
		if (limit_hit(lim, out, true))
			return;
		out->targets++;
		if (!walk_target(routes, &route->targets[ti], lim, ops, arg, out))
			return;
	}
	/* the deadline may have passed during the last attempt */
	if (mx_now_ms() >= lim->deadline_ms)
		out->end = WALK_DEADLINE;
}

/*
 * smtp_attempt - one attempt at an address, and a plain-text one when the
 * TLS handshake failed under tls=may (a server whose TLS is broken still
 * gets its mail, as Postfix's smtp_tls_security_level = may does). first
 * gets what the TLS attempt said when there was a second. True when the
 * verdict is final for this address.
 */
bool smtp_attempt(struct smtp_request *req, struct smtp_result *res, char *first, size_t firstlen)
{
	if (firstlen)
		first[0] = '\0';
	smtp_deliver(req, res);
	if (res->verdict == SMTP_NEXT && res->tls_failed && req->tls_mode == MX_TLS_MAY &&
	    !req->implicit_tls) {
		if (firstlen)
			mx_strlcpy(first, res->have_reply ? res->reply.text : res->why, firstlen);
		req->plain_fallback = true;
		smtp_deliver(req, res);
	}
	return res->verdict != SMTP_NEXT;
}
