/* tlsa - TLSA records for DANE (RFC 6698, RFC 7672), with their DNSSEC state */
#ifndef MX_TLSA_H
#define MX_TLSA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "route.h"
#include "route_lookup.h"

struct tlsa_rec {
	uint8_t usage, selector, mtype;
	unsigned char *data;
	size_t len;
};

struct tlsa_set {
	enum route_status status; /* OK (records), NOTFOUND, RETRY, FAIL */
	bool secure;		  /* the answer carried the AD bit */
	char reason[512];
	size_t count;
	struct tlsa_rec *recs;
};

void tlsa_lookup(struct route_ctx *ctx, const char *host, uint16_t port, struct tlsa_set *out);
void tlsa_set_clear(struct tlsa_set *set);

#endif
