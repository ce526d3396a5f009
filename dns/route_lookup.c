/* route_lookup - domain to route: routes file first, then SRV records; and target addresses */
#include "config.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cidr.h"
#include "dns_client.h"
#include "guard.h"
#include "msg.h"
#include "notify_map.h"
#include "route_cache.h"
#include "route_lookup.h"
#include "route_shared.h"
#include "routes_file.h"
#include "routes_index.h"
#include "srv.h"
#include "util.h"

struct route_ctx {
	const struct mx_config *cfg;
	struct routes_file *routes;    /* the text, when there is no fresh index */
	struct routes_index *index;    /* the index, made from the routes file as it is */
	pthread_mutex_t fallback_lock; /* a damaged record: the text read once, then kept */
	bool fallback_tried;
	struct notify_map *notify; /* notify_map: contacts of domains without notify= */
	struct dns_client dns;
	struct mx_netlist allowed;
	struct route_cache *cache;
	struct route_shared *shared; /* the answers of the daemon's other processes, or NULL */
	char shared_tag[64];	     /* what the configuration that asked is: a key's last part */
	route_rand_fn rnd;
	void *rnd_arg;
};

/*
 * build - everything a lookup needs, checked as a whole; NULL with errors
 * added when a setting is bad, or the routes file and not partial.
 * partial: a routes file with bad lines gives its good ones (their errors
 * counted in *file_errors).
 */
static struct route_ctx *build(const struct mx_config *cfg, struct mx_errlist *errs, bool partial,
			       size_t *file_errors)
{
	struct route_ctx *ctx = mx_calloc(1, sizeof(*ctx));
	size_t before = errs->count;
	char err[512];

	ctx->cfg = cfg;
	pthread_mutex_init(&ctx->fallback_lock, NULL);
	if (*cfg->routes_file) {
		enum routes_index_state st;
		char why[4400];

		/* The index when it is fresh; the text (the source of truth) otherwise. */
		ctx->index = routes_index_open(cfg->routes_file, &st, why, sizeof(why));
		if (ctx->index == NULL && st != ROUTES_INDEX_NONE)
			msg_warn("routes index %s; reading %s itself", why, cfg->routes_file);
		if (ctx->index == NULL && partial) {
			/* The admin's tools on a broken file: the good lines of the text. */
			ctx->routes = routes_file_load_partial(cfg->routes_file, errs);
			*file_errors = errs->count - before;
			before = errs->count;
		} else if (ctx->index == NULL) {
			ctx->routes = routes_file_load(cfg->routes_file, errs);
		}
	}
	if (*cfg->notify_map)
		ctx->notify = notify_map_load(cfg->notify_map, errs);
	if (!mx_netlist_parse(cfg->allowed_networks, &ctx->allowed, err, sizeof(err)))
		mx_errlist_add(errs, "%s: allowed_networks: %s", cfg->path, err);
	if (!dns_client_init(&ctx->dns, cfg, err, sizeof(err)))
		mx_errlist_add(errs, "%s: dns_servers: %s", cfg->path, err);
	if (*cfg->dns_route_prefix) {
		/* The prefix has underscores, so check it by the shape of a name, not as a host. */
		for (const char *p = cfg->dns_route_prefix; *p; p++)
			if (!(((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z') ||
			      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.')) {
				mx_errlist_add(errs, "%s: dns_route_prefix: '%s' is not a DNS name",
					       cfg->path, cfg->dns_route_prefix);
				break;
			}
	}
	ctx->cache = route_cache_new(cfg->route_cache_size);
	if (errs->count != before) {
		route_ctx_free(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * route_ctx_new - everything a lookup needs, checked as a whole; NULL with
 * errors added when the routes file or a setting is bad.
 */
struct route_ctx *route_ctx_new(const struct mx_config *cfg, struct mx_errlist *errs)
{
	return build(cfg, errs, false, NULL);
}

/*
 * route_ctx_new_partial - as route_ctx_new, but a routes file with bad
 * lines gives its good ones (its errors added and counted in
 * *file_errors): for the tools that show a broken file, never for the
 * daemons. NULL when anything else is wrong.
 */
struct route_ctx *route_ctx_new_partial(const struct mx_config *cfg, struct mx_errlist *errs,
					size_t *file_errors)
{
	*file_errors = 0;
	return build(cfg, errs, true, file_errors);
}

/* route_ctx_index - the routes index in use (NULL: none, or the text is read), for reports */
const struct routes_index *route_ctx_index(const struct route_ctx *ctx)
{
	return ctx->index;
}

/* route_ctx_notify - the notify map as loaded (NULL: none), for reports */
const struct notify_map *route_ctx_notify(const struct route_ctx *ctx)
{
	return ctx->notify;
}

/* route_ctx_routes - the routes file as loaded (NULL: none), for reports */
const struct routes_file *route_ctx_routes(const struct route_ctx *ctx)
{
	return ctx->routes;
}

/* route_ctx_free - release */
void route_ctx_free(struct route_ctx *ctx)
{
	if (ctx == NULL)
		return;
	routes_file_free(ctx->routes);
	routes_index_close(ctx->index);
	pthread_mutex_destroy(&ctx->fallback_lock);
	notify_map_free(ctx->notify);
	dns_client_free(&ctx->dns);
	mx_netlist_free(&ctx->allowed);
	route_cache_free(ctx->cache);
	free(ctx);
}

/* route_ctx_dns - the DNS client, for lookups of other types (TLSA) */
const struct dns_client *route_ctx_dns(const struct route_ctx *ctx)
{
	return &ctx->dns;
}

/* route_ctx_set_rand - the random source for weighted order (tests seed their own) */
void route_ctx_set_rand(struct route_ctx *ctx, route_rand_fn rnd, void *arg)
{
	ctx->rnd = rnd;
	ctx->rnd_arg = arg;
}

/*
 * route_ctx_set_shared - look in (and add to) the answers shared by the
 * daemon's processes after this context's own cache. tag names the
 * configuration (DNS servers, TTL limits): only answers got under the same
 * one are taken.
 */
void route_ctx_set_shared(struct route_ctx *ctx, struct route_shared *sh, const char *tag)
{
	ctx->shared = sh;
	mx_strlcpy(ctx->shared_tag, tag, sizeof(ctx->shared_tag));
}

/* shared_key - the cache key with the configuration's tag, for the shared answers */
static void shared_key(const struct route_ctx *ctx, const char *key, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s|%s", key, ctx->shared_tag);
}

/* route_effective_tls - the target's own TLS mode, else the configured one */
int route_effective_tls(const struct route_ctx *ctx, const struct route_target *t)
{
	return t->tls_mode == ROUTE_TLS_DEFAULT ? ctx->cfg->tls_mode : t->tls_mode;
}

/* cache_expiry - when an answer of this status and TTL leaves the cache */
static time_t cache_expiry(const struct route_ctx *ctx, enum route_status st, uint32_t ttl,
			   time_t now)
{
	uint32_t keep = ttl;

	if (st == ROUTE_NOTFOUND)
		keep = ctx->cfg->route_cache_negative_ttl;
	if (keep > ctx->cfg->route_cache_max_ttl)
		keep = ctx->cfg->route_cache_max_ttl;
	return now + (time_t)keep;
}

/* dns_route - the SRV route of a normalized domain, through the cache */
static void dns_route(struct route_ctx *ctx, const char *domain, struct route *out)
{
	char key[MX_DOMAIN_MAX + 4], skey[MX_DOMAIN_MAX + 80], qname[MX_DOMAIN_MAX + 300];
	time_t now = time(NULL);
	ldns_pkt *pkt = NULL;
	enum route_status st;

	snprintf(key, sizeof(key), "R:%s", domain);
	if (route_cache_get_route(ctx->cache, key, now, out))
		return;
	shared_key(ctx, key, skey, sizeof(skey));
	if (route_shared_get_route(ctx->shared, skey, now, out)) {
		route_cache_put_route(ctx->cache, key, now + (time_t)out->ttl, out);
		return;
	}
	if (*ctx->cfg->dns_route_prefix)
		snprintf(qname, sizeof(qname), "%s.%s", ctx->cfg->dns_route_prefix, domain);
	else
		snprintf(qname, sizeof(qname), "%s", domain);
	route_clear(out);
	out->source = ROUTE_SRC_DNS;
	mx_strlcpy(out->origin, qname, sizeof(out->origin));
	st = dns_client_query(&ctx->dns, qname, LDNS_RR_TYPE_SRV, &pkt, out->reason,
			      sizeof(out->reason));
	mx_strlcpy(out->name, domain, sizeof(out->name));
	if (st != ROUTE_OK) {
		out->status = st;
		return;
	}
	srv_route_from_pkt(pkt, qname, out);
	ldns_pkt_free(pkt);
	mx_strlcpy(out->name, domain, sizeof(out->name));
	if (out->status == ROUTE_OK || out->status == ROUTE_NOTFOUND ||
	    out->status == ROUTE_NOSERVICE) {
		time_t expires = cache_expiry(ctx, out->status, out->ttl, now);

		route_cache_put_route(ctx->cache, key, expires, out);
		route_shared_put_route(ctx->shared, skey, expires, out);
	}
}

/*
 * text_fallback - the routes file's text, read once when a record of the
 * index turned out damaged (lookups keep running meanwhile: the lock is
 * held by the first to find out); NULL when the text has errors too.
 */
static const struct routes_file *text_fallback(struct route_ctx *ctx, const char *why)
{
	const struct routes_file *rf;

	pthread_mutex_lock(&ctx->fallback_lock);
	if (!ctx->fallback_tried) {
		struct mx_errlist errs;

		ctx->fallback_tried = true;
		msg_warn("routes index of %s: %s; reading the routes file itself: run "
			 "mxport-route --index",
			 ctx->cfg->routes_file, why);
		mx_errlist_init(&errs);
		ctx->routes = routes_file_load(ctx->cfg->routes_file, &errs);
		for (size_t i = 0; i < errs.count; i++)
			msg_error("%s", errs.msgs[i]);
		mx_errlist_free(&errs);
	}
	rf = ctx->routes;
	pthread_mutex_unlock(&ctx->fallback_lock);
	return rf;
}

/*
 * file_route - the routes file's entry for a normalized domain, from the
 * index or the text: 1 found (out filled), 0 none, -1 out set to FAIL.
 */
static int file_route(struct route_ctx *ctx, const char *norm, struct route *out)
{
	const struct routes_file *rf;
	char why[600];

	if (ctx->index == NULL) { /* then ctx->routes is set once, in route_ctx_new */
		rf = ctx->routes;
	} else {
		int rc = routes_index_find(ctx->index, norm, out, why, sizeof(why));

		if (rc >= 0)
			return rc;
		rf = text_fallback(ctx, why);
		if (rf == NULL) {
			route_set(out, ROUTE_FAIL,
				  "routes index of %s: %s, and the file has errors",
				  ctx->cfg->routes_file, why);
			return -1;
		}
	}
	return rf && routes_file_find(rf, norm, out) ? 1 : 0;
}

/*
 * route_lookup - where mail for domain goes. The routes file wins (exact
 * name, then nearest ".parent"); then SRV records when dns_routes = yes.
 * Targets come back in try order.
 */
void route_lookup(struct route_ctx *ctx, const char *domain, struct route *out)
{
	char norm[MX_DOMAIN_MAX], err[256];

	route_init(out);
	if (!mx_domain_normalize(domain, norm, sizeof(norm), err, sizeof(err))) {
		route_set(out, ROUTE_NOTFOUND, "not a domain name: %s", err);
		return;
	}
	if (file_route(ctx, norm, out) != 0) {
		/* found in the file, or the file could not be read */
	} else if (ctx->cfg->dns_routes) {
		dns_route(ctx, norm, out);
	} else {
		route_set(out, ROUTE_NOTFOUND, "%s: not in the routes file%s", norm,
			  *ctx->cfg->routes_file ? "" : " (none configured)");
	}
	if (out->status == ROUTE_OK)
		route_order_targets(out->targets, out->ntargets, ctx->rnd, ctx->rnd_arg);
	if (out->notify[0] == '\0')
		(void)notify_map_find(ctx->notify, norm, out->notify, sizeof(out->notify));
}

/* add_answer_addrs - the A or AAAA records of the host (dns_answer_rrs) */
static void add_answer_addrs(ldns_rr_list *rrs, uint32_t ttl, ldns_rr_type type, uint16_t port,
			     struct route_addrs *out)
{
	for (size_t i = 0; rrs && i < ldns_rr_list_rr_count(rrs); i++) {
		const ldns_rdf *rd = ldns_rr_rdf(ldns_rr_list_rr(rrs, i), 0);
		size_t want = type == LDNS_RR_TYPE_A ? 4 : 16;

		if (rd && ldns_rdf_size(rd) == want)
			route_addrs_add(out, type == LDNS_RR_TYPE_A ? AF_INET : AF_INET6,
					ldns_rdf_data(rd), port);
	}
	if (rrs && (out->ttl == 0 || ttl < out->ttl))
		out->ttl = ttl;
}

/* lookup_host - AAAA and A of a host name (uncached, unguarded) */
static void lookup_host(struct route_ctx *ctx, const char *host, uint16_t port,
			struct route_addrs *out)
{
	static const ldns_rr_type types[] = {LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_A};
	enum route_status worst = ROUTE_NOTFOUND;
	char reason[512] = "";
	bool secure = true;

	for (size_t i = 0; i < 2; i++) {
		ldns_pkt *pkt = NULL;
		char why[512];
		enum route_status st =
			dns_client_query(&ctx->dns, host, types[i], &pkt, why, sizeof(why));

		if (st == ROUTE_OK) {
			ldns_rr_list *rrs = NULL;
			uint32_t ttl = 0;

			st = dns_answer_rrs(pkt, host, types[i], &rrs, &ttl, why, sizeof(why));
			secure = secure && ldns_pkt_ad(pkt);
			if (st == ROUTE_OK)
				add_answer_addrs(rrs, ttl, types[i], port, out);
			ldns_rr_list_deep_free(rrs);
			ldns_pkt_free(pkt);
		} else {
			secure = false;
		}
		if (st == ROUTE_RETRY || st == ROUTE_FAIL) {
			worst = st;
			snprintf(reason, sizeof(reason), "%s", why);
		} else if (*reason == '\0' || st == ROUTE_NOTFOUND) {
			if (worst == ROUTE_NOTFOUND)
				snprintf(reason, sizeof(reason), "%s", why);
		}
	}
	out->secure = secure;
	/* One family answering is enough; a failure of the other is said in the log by the caller.
	 */
	if (out->count > 0) {
		out->status = ROUTE_OK;
		snprintf(out->reason, sizeof(out->reason), "%s: %zu address(es)", host, out->count);
	} else {
		out->status = worst;
		snprintf(out->reason, sizeof(out->reason), "%s%s", reason,
			 worst == ROUTE_NOTFOUND ? " (host has no address)" : "");
	}
}

/*
 * route_resolve - the addresses of one target, IPv6 first, each checked by
 * the destination guard. ROUTE_OK when any address is found (refused ones
 * are marked); NOTFOUND when the host has none; RETRY on DNS trouble.
 */
void route_resolve(struct route_ctx *ctx, const struct route_target *t, struct route_addrs *out)
{
	char key[MX_DOMAIN_MAX + 4], skey[MX_DOMAIN_MAX + 80];
	time_t now = time(NULL);

	route_addrs_init(out);
	if (t->literal) {
		unsigned char bytes[16];
		int family = strchr(t->host, ':') ? AF_INET6 : AF_INET;

		if (inet_pton(family, t->host, bytes) == 1)
			route_addrs_add(out, family, bytes, t->port);
		out->status = out->count ? ROUTE_OK : ROUTE_FAIL;
		snprintf(out->reason, sizeof(out->reason), "address literal [%s]", t->host);
	} else {
		snprintf(key, sizeof(key), "A:%s", t->host);
		shared_key(ctx, key, skey, sizeof(skey));
		if (route_cache_get_addrs(ctx->cache, key, now, out)) {
			/* this process asked already */
		} else if (route_shared_get_addrs(ctx->shared, skey, now, out)) {
			route_cache_put_addrs(ctx->cache, key, now + (time_t)out->ttl, out);
		} else {
			lookup_host(ctx, t->host, 0, out);
			if (out->status == ROUTE_OK || out->status == ROUTE_NOTFOUND) {
				time_t expires = cache_expiry(ctx, out->status, out->ttl, now);

				route_cache_put_addrs(ctx->cache, key, expires, out);
				route_shared_put_addrs(ctx->shared, skey, expires, out);
			}
		}
		for (size_t i = 0; i < out->count; i++) {
			struct route_addr *a = &out->addrs[i];
			if (a->sa.ss_family == AF_INET)
				((struct sockaddr_in *)&a->sa)->sin_port = htons(t->port);
			else
				((struct sockaddr_in6 *)&a->sa)->sin6_port = htons(t->port);
		}
	}
	for (size_t i = 0; i < out->count; i++) {
		struct route_addr *a = &out->addrs[i];
		a->refused = !guard_check((struct sockaddr *)&a->sa, &ctx->allowed, a->why,
					  sizeof(a->why));
	}
}

/* mx_from_rrs - MX records of the domain to targets on mx_port; a lone "." exchange is a null MX */
static void mx_from_rrs(struct route_ctx *ctx, const ldns_rr_list *mxs, const char *domain,
			struct route *out)
{
	size_t n = mxs ? ldns_rr_list_rr_count(mxs) : 0;
	bool null_mx = false;
	char why[512] = "";

	for (size_t i = 0; i < n; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(mxs, i);
		const ldns_rdf *pref = ldns_rr_rdf(rr, 0), *exch = ldns_rr_rdf(rr, 1);
		struct route_target t;
		char *name;

		if (ldns_rr_rd_count(rr) != 2 || ldns_rdf_size(pref) != 2 ||
		    ldns_rdf_get_type(exch) != LDNS_RDF_TYPE_DNAME) {
			snprintf(why, sizeof(why), "malformed MX record");
			continue;
		}
		if (ldns_rdf_size(exch) == 1) {
			null_mx = true;
			continue;
		}
		memset(&t, 0, sizeof(t));
		t.tls_mode = ROUTE_TLS_DEFAULT;
		t.pref = ldns_rdf2native_int16(pref);
		t.port = (uint16_t)ctx->cfg->mx_port;
		name = ldns_rdf2str(exch);
		if (name && mx_domain_normalize(name, t.host, sizeof(t.host), why, sizeof(why)))
			route_add_target(out, &t);
		free(name);
	}
	if (null_mx && out->ntargets == 0)
		route_set(out, ROUTE_NOSERVICE, "%s: null MX (domain accepts no mail)", domain);
	else if (out->ntargets > 0)
		route_set(out, ROUTE_OK, "%s: %zu MX host(s)", domain, out->ntargets);
	else
		route_set(out, ROUTE_FAIL, "%s: no usable MX record: %s", domain, why);
}

/*
 * route_lookup_mx - the ordinary route of a domain that is not forwarded:
 * its MX hosts on mx_port, or (no MX record) the domain itself, as RFC 5321
 * 5.1 says. NXDOMAIN is NOTFOUND; a null MX (RFC 7505) is NOSERVICE.
 */
void route_lookup_mx(struct route_ctx *ctx, const char *domain, struct route *out)
{
	char norm[MX_DOMAIN_MAX], err[256];
	ldns_rr_list *mxs = NULL;
	ldns_pkt *pkt = NULL;
	enum route_status st;

	route_init(out);
	if (!mx_domain_normalize(domain, norm, sizeof(norm), err, sizeof(err))) {
		route_set(out, ROUTE_NOTFOUND, "not a domain name: %s", err);
		return;
	}
	out->source = ROUTE_SRC_DNS;
	snprintf(out->origin, sizeof(out->origin), "%s/MX", norm);
	mx_strlcpy(out->name, norm, sizeof(out->name));
	st = dns_client_query(&ctx->dns, norm, LDNS_RR_TYPE_MX, &pkt, out->reason,
			      sizeof(out->reason));
	if (st != ROUTE_OK) {
		out->status = st;
		return;
	}
	out->secure = ldns_pkt_ad(pkt);
	st = dns_answer_rrs(pkt, norm, LDNS_RR_TYPE_MX, &mxs, &out->ttl, out->reason,
			    sizeof(out->reason));
	if (st == ROUTE_OK) {
		mx_from_rrs(ctx, mxs, norm, out);
	} else if (st == ROUTE_NOTFOUND && ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NOERROR) {
		struct route_target t;

		memset(&t, 0, sizeof(t));
		t.tls_mode = ROUTE_TLS_DEFAULT;
		t.port = (uint16_t)ctx->cfg->mx_port;
		mx_strlcpy(t.host, norm, sizeof(t.host));
		route_add_target(out, &t);
		route_set(out, ROUTE_OK, "%s: no MX record, using the domain's own address", norm);
	} else {
		out->status = st;
	}
	ldns_rr_list_deep_free(mxs);
	ldns_pkt_free(pkt);
	if (out->status == ROUTE_OK)
		route_order_targets(out->targets, out->ntargets, ctx->rnd, ctx->rnd_arg);
}
