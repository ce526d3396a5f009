/* tlsa - TLSA records for DANE (RFC 6698, RFC 7672), with their DNSSEC state */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_client.h"
#include "tlsa.h"
#include "util.h"

/*
 * tlsa_lookup - the TLSA records at _port._tcp.host. Records that cannot
 * be used (wrong field count or size), and records of any other owner than
 * that name or its CNAME chain, are left out. Only a secure answer
 * may authenticate a server: the caller checks out->secure.
 */
void tlsa_lookup(struct route_ctx *ctx, const char *host, uint16_t port, struct tlsa_set *out)
{
	char qname[MX_DOMAIN_MAX + 16];
	ldns_pkt *pkt = NULL;
	ldns_rr_list *rrs;

	memset(out, 0, sizeof(*out));
	snprintf(qname, sizeof(qname), "_%u._tcp.%s", port, host);
	out->status = dns_client_query(route_ctx_dns(ctx), qname, LDNS_RR_TYPE_TLSA, &pkt,
				       out->reason, sizeof(out->reason));
	if (out->status != ROUTE_OK)
		return;
	out->secure = ldns_pkt_ad(pkt);
	out->status = dns_answer_rrs(pkt, qname, LDNS_RR_TYPE_TLSA, &rrs, NULL, out->reason,
				     sizeof(out->reason));
	if (out->status != ROUTE_OK) {
		ldns_pkt_free(pkt);
		return;
	}
	for (size_t i = 0; rrs && i < ldns_rr_list_rr_count(rrs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		const ldns_rdf *u, *s, *m, *d;

		if (ldns_rr_rd_count(rr) != 4)
			continue;
		u = ldns_rr_rdf(rr, 0);
		s = ldns_rr_rdf(rr, 1);
		m = ldns_rr_rdf(rr, 2);
		d = ldns_rr_rdf(rr, 3);
		if (ldns_rdf_size(u) != 1 || ldns_rdf_size(s) != 1 || ldns_rdf_size(m) != 1 ||
		    ldns_rdf_size(d) == 0)
			continue;
		out->recs = mx_realloc(out->recs, (out->count + 1) * sizeof(*out->recs));
		struct tlsa_rec *t = &out->recs[out->count++];
		t->usage = ldns_rdf_data(u)[0];
		t->selector = ldns_rdf_data(s)[0];
		t->mtype = ldns_rdf_data(m)[0];
		t->len = ldns_rdf_size(d);
		t->data = mx_malloc(t->len);
		memcpy(t->data, ldns_rdf_data(d), t->len);
	}
	ldns_rr_list_deep_free(rrs);
	ldns_pkt_free(pkt);
	if (out->count == 0) {
		out->status = ROUTE_FAIL;
		snprintf(out->reason, sizeof(out->reason), "%s: no usable TLSA record", qname);
	}
}

/* tlsa_set_clear - release */
void tlsa_set_clear(struct tlsa_set *set)
{
	for (size_t i = 0; i < set->count; i++)
		free(set->recs[i].data);
	free(set->recs);
	memset(set, 0, sizeof(*set));
}
