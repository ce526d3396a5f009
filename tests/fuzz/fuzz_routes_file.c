/* fuzz_routes_file - libFuzzer target for the routes file parser */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "routes_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mx_errlist errs;
	struct routes_file *rf;
	struct route r;

	mx_errlist_init(&errs);
	rf = routes_file_parse("fuzz", (const char *)data, size, &errs);
	if (rf) {
		/* Look each parsed domain and a child of it up again. */
		route_init(&r);
		for (size_t i = 0; i < rf->count; i++) {
			char child[MX_DOMAIN_MAX + 8];
			routes_file_find(rf, rf->entries[i].domain, &r);
			snprintf(child, sizeof(child), "x.%s", rf->entries[i].domain);
			routes_file_find(rf, child, &r);
		}
		route_clear(&r);
		routes_file_free(rf);
	}
	mx_errlist_free(&errs);
	return 0;
}
