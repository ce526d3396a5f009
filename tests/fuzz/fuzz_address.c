/*
 * fuzz_address - libFuzzer target for the recipient address and domain
 * helpers: an address as a sender gave it at RCPT (the milter, the socket
 * map and the transport all key routes by its domain). Beyond not
 * crashing: a domain that normalizes comes out in the one form routes are
 * keyed by (lower-case ASCII, no trailing dot, at most 253 characters),
 * and normalizing that form again gives it back unchanged.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char address[1024], domain[MX_DOMAIN_MAX * 2], norm[MX_DOMAIN_MAX], again[MX_DOMAIN_MAX];
	char err[256];
	size_t n;

	if (size >= sizeof(address))
		return 0;
	memcpy(address, data, size);
	address[size] = '\0';
	if (!mx_address_domain(address, domain, sizeof(domain)))
		return 0;
	if (!mx_domain_normalize(domain, norm, sizeof(norm), err, sizeof(err)))
		return 0;
	n = strlen(norm);
	if (n == 0 || n > 253 || norm[n - 1] == '.')
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)norm[i];
		if (c >= 0x80 || (c >= 'A' && c <= 'Z') || c <= ' ')
			abort();
	}
	if (!mx_domain_normalize(norm, again, sizeof(again), err, sizeof(err)) ||
	    strcmp(norm, again) != 0)
		abort();
	return 0;
}
