/* dns_client - ask the configured name servers through ldns, with a bounded time */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_client.h"
#include "util.h"

/*
 * dns_client_init - servers from dns_servers, or from /etc/resolv.conf when
 * that is empty. resolv.conf cannot name a port, hence our own setting.
 */
bool dns_client_init(struct dns_client *dc, const struct mx_config *cfg, char *err, size_t errlen)
{
	memset(dc, 0, sizeof(*dc));
	dc->timeout_ms = cfg->dns_timeout * 1000;
	dc->attempts = cfg->dns_attempts;
	if (*cfg->dns_servers)
		return mx_serverlist_parse(cfg->dns_servers, &dc->servers, err, errlen);

	ldns_resolver *res = NULL;
	ldns_status st = ldns_resolver_new_frm_file(&res, NULL);
	if (st != LDNS_STATUS_OK) {
		snprintf(err, errlen, "/etc/resolv.conf: %s (set dns_servers instead)",
			 ldns_get_errorstr_by_id(st));
		return false;
	}
	for (size_t i = 0; i < ldns_resolver_nameserver_count(res); i++) {
		char *text = ldns_rdf2str(ldns_resolver_nameservers(res)[i]);
		struct mx_server srv;

		if (text && mx_server_parse(text, &srv, err, errlen)) {
			dc->servers.servers = mx_realloc(dc->servers.servers,
							 (dc->servers.count + 1) * sizeof(srv));
			dc->servers.servers[dc->servers.count++] = srv;
		}
		free(text);
	}
	ldns_resolver_deep_free(res);
	if (dc->servers.count == 0) {
		snprintf(err, errlen,
			 "/etc/resolv.conf names no usable name server (set dns_servers)");
		return false;
	}
	return true;
}

/* dns_client_free - release */
void dns_client_free(struct dns_client *dc)
{
	mx_serverlist_free(&dc->servers);
}

/* make_resolver - one resolver for one server: ldns has one port per resolver */
static ldns_resolver *make_resolver(const struct dns_client *dc, const struct mx_server *srv,
				    char *reason, size_t reasonlen)
{
	ldns_resolver *res = ldns_resolver_new();
	ldns_rdf *addr = ldns_rdf_new_frm_str(
		strchr(srv->addr, ':') ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, srv->addr);
	unsigned per_try = dc->timeout_ms / (dc->attempts * (unsigned)dc->servers.count);
	struct timeval tv;
	ldns_status st;

	if (res == NULL || addr == NULL) {
		snprintf(reason, reasonlen, "cannot set up a resolver for %s", srv->addr);
		ldns_resolver_free(res);
		ldns_rdf_deep_free(addr);
		return NULL;
	}
	st = ldns_resolver_push_nameserver(res, addr);
	ldns_rdf_deep_free(addr);
	if (st != LDNS_STATUS_OK) {
		snprintf(reason, reasonlen, "name server %s: %s", srv->addr,
			 ldns_get_errorstr_by_id(st));
		ldns_resolver_deep_free(res);
		return NULL;
	}
	if (per_try < 100)
		per_try = 100;
	tv.tv_sec = per_try / 1000;
	tv.tv_usec = (per_try % 1000) * 1000;
	ldns_resolver_set_port(res, srv->port);
	ldns_resolver_set_timeout(res, tv);
	ldns_resolver_set_retry(res, (uint8_t)dc->attempts);
	ldns_resolver_set_retrans(res, 0);
	ldns_resolver_set_recursive(res, true);
	ldns_resolver_set_random(res, false);
	ldns_resolver_set_fallback(res, true); /* truncated over UDP: ask again over TCP */
	ldns_resolver_set_dnssec(res, true);   /* DO bit, so that a validator sets AD */
	ldns_resolver_set_edns_udp_size(res, 1232);
	return res;
}

/* dns_rrlist_min_ttl - smallest TTL of a list (0 for an empty list) */
uint32_t dns_rrlist_min_ttl(const ldns_rr_list *rrs)
{
	uint32_t ttl = 0;

	for (size_t i = 0; rrs && i < ldns_rr_list_rr_count(rrs); i++) {
		uint32_t t = ldns_rr_ttl(ldns_rr_list_rr(rrs, i));
		if (i == 0 || t < ttl)
			ttl = t;
	}
	return ttl;
}

/*
 * dns_pkt_classify - what an answer means for mail: ROUTE_OK (records of the
 * type are in the answer), ROUTE_NOTFOUND (NXDOMAIN or no such record), or
 * ROUTE_RETRY (SERVFAIL and every other error code, truncation).
 */
enum route_status dns_pkt_classify(const ldns_pkt *pkt, const char *name, ldns_rr_type type,
				   char *reason, size_t reasonlen)
{
	ldns_pkt_rcode rcode = ldns_pkt_get_rcode(pkt);
	char *typestr = ldns_rr_type2str(type);
	const char *tname = typestr ? typestr : "?";
	enum route_status st;
	size_t matching = 0;
	ldns_rr_list *ans = ldns_pkt_answer(pkt);

	for (size_t i = 0; ans && i < ldns_rr_list_rr_count(ans); i++)
		if (ldns_rr_get_type(ldns_rr_list_rr(ans, i)) == type)
			matching++;
	if (rcode == LDNS_RCODE_NXDOMAIN) {
		snprintf(reason, reasonlen, "%s: no such domain (NXDOMAIN)", name);
		st = ROUTE_NOTFOUND;
	} else if (rcode != LDNS_RCODE_NOERROR) {
		ldns_lookup_table *lt = ldns_lookup_by_id(ldns_rcodes, (int)rcode);
		snprintf(reason, reasonlen, "%s/%s: name server answered %s", name, tname,
			 lt ? lt->name : "an unknown error code");
		st = ROUTE_RETRY;
	} else if (ldns_pkt_tc(pkt) && matching == 0) {
		snprintf(reason, reasonlen, "%s/%s: truncated answer", name, tname);
		st = ROUTE_RETRY;
	} else if (matching == 0) {
		snprintf(reason, reasonlen, "%s: no %s record", name, tname);
		st = ROUTE_NOTFOUND;
	} else {
		snprintf(reason, reasonlen, "%s/%s: %zu record(s)", name, tname, matching);
		st = ROUTE_OK;
	}
	free(typestr);
	return st;
}

/*
 * dns_client_query - ask each server in turn until one answers. Returns
 * ROUTE_OK with *pkt set (whatever its rcode), or ROUTE_RETRY when no server
 * gave an answer in time: that is never a 'not found'.
 */
enum route_status dns_client_query(const struct dns_client *dc, const char *name, ldns_rr_type type,
				   ldns_pkt **pkt, char *reason, size_t reasonlen)
{
	char *absolute = mx_asprintf("%s.", name);
	ldns_rdf *qname = NULL;
	ldns_status st;

	*pkt = NULL;
	st = ldns_str2rdf_dname(&qname, absolute);
	free(absolute);
	if (st != LDNS_STATUS_OK) {
		snprintf(reason, reasonlen, "%s: cannot be asked for: %s", name,
			 ldns_get_errorstr_by_id(st));
		return ROUTE_FAIL;
	}
	snprintf(reason, reasonlen, "%s: no name server configured", name);
	for (size_t i = 0; i < dc->servers.count; i++) {
		const struct mx_server *srv = &dc->servers.servers[i];
		ldns_resolver *res = make_resolver(dc, srv, reason, reasonlen);

		if (res == NULL)
			continue;
		st = ldns_resolver_query_status(pkt, res, qname, type, LDNS_RR_CLASS_IN, LDNS_RD);
		ldns_resolver_deep_free(res);
		if (st == LDNS_STATUS_OK && *pkt) {
			ldns_rdf_deep_free(qname);
			return ROUTE_OK;
		}
		snprintf(reason, reasonlen, "%s: no answer from name server %s port %u: %s", name,
			 srv->addr, srv->port, ldns_get_errorstr_by_id(st));
		ldns_pkt_free(*pkt);
		*pkt = NULL;
	}
	ldns_rdf_deep_free(qname);
	return ROUTE_RETRY;
}
