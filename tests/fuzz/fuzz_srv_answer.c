/* fuzz_srv_answer - libFuzzer target for DNS answer handling: wire bytes to a route */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "dns_client.h"
#include "srv.h"

#define QNAME "_smtp._tcp.example.com"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* answer_rrs - the owner and CNAME-chain logic for one more type */
static void answer_rrs(const ldns_pkt *pkt, const char *name, ldns_rr_type type)
{
	ldns_rr_list *rrs = NULL;
	uint32_t ttl;
	char why[512];

	if (dns_answer_rrs(pkt, name, type, &rrs, &ttl, why, sizeof(why)) == ROUTE_OK &&
	    (rrs == NULL || ldns_rr_list_rr_count(rrs) == 0))
		__builtin_trap(); /* OK always comes with records */
	ldns_rr_list_deep_free(rrs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ldns_pkt *query;
	ldns_pkt *pkt = NULL;
	struct route r;
	char why[256];

	if (query == NULL) {
		ldns_rdf *qn = NULL;
		if (ldns_str2rdf_dname(&qn, QNAME ".") != LDNS_STATUS_OK)
			return 0;
		query = ldns_pkt_query_new(qn, LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN, LDNS_RD);
		ldns_pkt_set_id(query, 0x1234);
	}
	if (ldns_wire2pkt(&pkt, data, size) != LDNS_STATUS_OK)
		return 0;
	(void)dns_reply_matches(query, pkt, why, sizeof(why));
	route_init(&r);
	srv_route_from_pkt(pkt, QNAME, &r);
	route_order_targets(r.targets, r.ntargets, NULL, NULL);
	route_clear(&r);
	answer_rrs(pkt, "mx.example.com", LDNS_RR_TYPE_A);
	answer_rrs(pkt, "example.com", LDNS_RR_TYPE_MX);
	answer_rrs(pkt, "_25._tcp.mx.example.com", LDNS_RR_TYPE_TLSA);
	ldns_pkt_free(pkt);
	return 0;
}
