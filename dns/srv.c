/* srv - a route from the SRV answer at <dns_route_prefix>.<domain> */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_client.h"
#include "srv.h"
#include "util.h"

/* srv_target - one SRV record to a target; false with why when the record is unusable */
static bool srv_target(const ldns_rr *rr, struct route_target *t, bool *dot, char *why,
		       size_t whylen)
{
	const ldns_rdf *prio, *weight, *port, *target;
	char *name;
	size_t len;
	bool ok;

	*dot = false;
	if (ldns_rr_rd_count(rr) != 4) {
		snprintf(why, whylen, "SRV record with %zu fields instead of 4",
			 ldns_rr_rd_count(rr));
		return false;
	}
	prio = ldns_rr_rdf(rr, 0);
	weight = ldns_rr_rdf(rr, 1);
	port = ldns_rr_rdf(rr, 2);
	target = ldns_rr_rdf(rr, 3);
	if (ldns_rdf_get_type(prio) != LDNS_RDF_TYPE_INT16 ||
	    ldns_rdf_get_type(weight) != LDNS_RDF_TYPE_INT16 ||
	    ldns_rdf_get_type(port) != LDNS_RDF_TYPE_INT16 ||
	    ldns_rdf_get_type(target) != LDNS_RDF_TYPE_DNAME || ldns_rdf_size(prio) != 2 ||
	    ldns_rdf_size(weight) != 2 || ldns_rdf_size(port) != 2) {
		snprintf(why, whylen, "malformed SRV record");
		return false;
	}
	memset(t, 0, sizeof(*t));
	t->tls_mode = ROUTE_TLS_DEFAULT;
	t->pref = ldns_rdf2native_int16(prio);
	t->weight = ldns_rdf2native_int16(weight);
	t->port = ldns_rdf2native_int16(port);
	if (ldns_rdf_size(target) == 1) { /* the root name "." */
		*dot = true;
		return true;
	}
	name = ldns_rdf2str(target);
	if (name == NULL) {
		snprintf(why, whylen, "SRV target that cannot be printed");
		return false;
	}
	len = strlen(name);
	ok = mx_domain_normalize(name, t->host, sizeof(t->host), why, whylen);
	if (ok && t->port == 0) {
		snprintf(why, whylen, "SRV record for %s with port 0", t->host);
		ok = false;
	}
	(void)len;
	free(name);
	return ok;
}

/*
 * srv_route_from_pkt - interpret a DNS answer to the SRV question qname
 * (an answer dns_client_query has checked). Records of other owners are
 * ignored; CNAMEs from qname are followed. NXDOMAIN or no SRV record: NOTFOUND. One record with
 * target ".": NOSERVICE (RFC 2782). Error codes: RETRY. Records that cannot be used are left out;
 * when none is left the route is FAIL, naming the first fault.
 */
void srv_route_from_pkt(const ldns_pkt *pkt, const char *qname, struct route *out)
{
	ldns_rr_list *srvs;
	char why[600] = "";
	size_t dots = 0, bad = 0, total;
	enum route_status st;

	route_clear(out);
	out->source = ROUTE_SRC_DNS;
	mx_strlcpy(out->origin, qname, sizeof(out->origin));
	out->secure = ldns_pkt_ad(pkt);
	/* Only the records of qname (or of the end of its CNAME chain) count. */
	st = dns_answer_rrs(pkt, qname, LDNS_RR_TYPE_SRV, &srvs, &out->ttl, out->reason,
			    sizeof(out->reason));
	if (st != ROUTE_OK) {
		out->status = st;
		return;
	}
	total = srvs ? ldns_rr_list_rr_count(srvs) : 0;
	for (size_t i = 0; i < total; i++) {
		struct route_target t;
		char rwhy[512];
		bool dot;

		if (!srv_target(ldns_rr_list_rr(srvs, i), &t, &dot, rwhy, sizeof(rwhy))) {
			if (bad++ == 0)
				snprintf(why, sizeof(why), "%s", rwhy);
			continue;
		}
		if (dot) {
			dots++;
			continue;
		}
		route_add_target(out, &t);
	}
	ldns_rr_list_deep_free(srvs);
	if (out->ntargets > 0) {
		route_set(out, ROUTE_OK, "%s: %zu SRV target(s)%s", qname, out->ntargets,
			  bad ? " (some records left out)" : "");
		if (bad)
			snprintf(out->reason + strlen(out->reason),
				 sizeof(out->reason) - strlen(out->reason), ": %s", why);
	} else if (dots > 0 && bad == 0) {
		route_set(out, ROUTE_NOSERVICE, "%s: SRV target '.' (no service)", qname);
	} else {
		route_set(out, ROUTE_FAIL, "%s: no usable SRV record: %s", qname,
			  *why ? why : "only '.' targets mixed with bad records");
	}
}
