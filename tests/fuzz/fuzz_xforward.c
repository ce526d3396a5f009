/*
 * fuzz_xforward - libFuzzer target for the XFORWARD code: the input, split
 * at NUL bytes, is an xtext value as the LMTP front receives it (decoded,
 * then set as each attribute), raw values for ADDR, NAME, HELO and PROTO as
 * the pipe front gets them, and a server's EHLO XFORWARD keyword arguments.
 * Beyond not crashing: every value kept passes its own check again (the
 * check is stable), and the commands built are whole "XFORWARD ..." lines
 * of at most 512 bytes, each ending in CR LF, printable ASCII inside.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "xforward.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const attrs[] = {"ADDR", "NAME", "HELO", "PROTO", "SOURCE"};

/* recheck - what a field holds passes its check again, unchanged */
static void recheck(const struct xforward *x)
{
	const char *fields[] = {x->addr, x->name, x->helo, x->proto, x->source};
	struct xforward y;
	char why[128];

	memset(&y, 0, sizeof(y));
	for (size_t i = 0; i < 5; i++)
		if (fields[i][0] && xforward_set(&y, attrs[i], fields[i], why, sizeof(why)) != 0)
			abort();
	if (strcmp(x->addr, y.addr) || strcmp(x->name, y.name) || strcmp(x->helo, y.helo) ||
	    strcmp(x->proto, y.proto) || strcmp(x->source, y.source))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = mx_malloc(size + 1), decoded[300], why[128];
	const char *part[6] = {"", "", "", "", "", ""};
	struct xforward x;
	struct mx_buf b = {0};
	size_t n = 0;

	memcpy(in, data, size);
	in[size] = '\0';
	for (char *p = in; n < 6 && p <= in + size; p += strlen(p) + 1)
		part[n++] = p;
	memset(&x, 0, sizeof(x));
	if (xtext_decode(part[0], strlen(part[0]), decoded, sizeof(decoded))) {
		if (strlen(decoded) >= sizeof(decoded))
			abort();
		for (size_t i = 0; i < 5; i++)
			xforward_set(&x, attrs[i], decoded, why, sizeof(why));
	}
	recheck(&x);
	for (size_t i = 0; i < 4; i++)
		xforward_set(&x, attrs[i], part[1 + i], why, sizeof(why));
	recheck(&x);
	xforward_commands(&x, part[5], &b);
	for (size_t pos = 0; pos < b.len;) {
		const char *line = b.data + pos, *crlf = memchr(line, '\r', b.len - pos);

		if (crlf == NULL || (size_t)(crlf - line) + 2 > XFORWARD_LINE_MAX ||
		    crlf + 1 >= b.data + b.len || crlf[1] != '\n' ||
		    strncmp(line, "XFORWARD ", 9) != 0)
			abort();
		for (const char *q = line; q < crlf; q++)
			if (*q < 0x20 || *q > 0x7e)
				abort();
		pos = (size_t)(crlf - b.data) + 2;
	}
	mx_buf_free(&b);
	free(in);
	return 0;
}
