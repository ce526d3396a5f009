/*
 * fuzz_path - libFuzzer target for the RFC 5321 path reader (lib/path.c),
 * which reads the MAIL and RCPT lines the LMTP front takes from the MTA
 * (and so from anyone who sends mail). Beyond not crashing: what it reads
 * is a substring of the line between '<' and '>', never holds a space or
 * a '<' outside quotes, and reading "<" + it + ">" again gives it back.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[2048], again[2100], domain[600];
	const char *rest;
	char *got, *got2;
	size_t n;

	if (size >= sizeof(line))
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	got = mx_path_parse(line, &rest);
	if (got == NULL)
		return 0;
	n = strlen(got);
	if (strstr(line, got) == NULL || rest < line || rest > line + strlen(line) ||
	    (*rest && *rest != ' ') || rest[-1] != '>')
		abort();
	if (n + 3 > sizeof(again))
		abort();
	again[0] = '<';
	memcpy(again + 1, got, n);
	again[n + 1] = '>';
	again[n + 2] = '\0';
	got2 = mx_path_parse(again, &rest);
	if (got2 == NULL || strcmp(got, got2) != 0 || *rest)
		abort();
	(void)mx_address_domain(got, domain, sizeof(domain));
	free(got);
	free(got2);
	return 0;
}
