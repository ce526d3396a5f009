/* fuzz_srv_answer - libFuzzer target for SRV answer handling: wire bytes to a route */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "srv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ldns_pkt *pkt = NULL;
	struct route r;

	if (ldns_wire2pkt(&pkt, data, size) != LDNS_STATUS_OK)
		return 0;
	route_init(&r);
	srv_route_from_pkt(pkt, "_smtp._tcp.example.com", &r);
	route_order_targets(r.targets, r.ntargets, NULL, NULL);
	route_clear(&r);
	ldns_pkt_free(pkt);
	return 0;
}
