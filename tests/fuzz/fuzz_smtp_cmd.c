/*
 * fuzz_smtp_cmd - libFuzzer target for the MAIL/RCPT command builder: a
 * sender and any number of recipients of any length and bytes (split at
 * NUL bytes of the input; the first byte picks how many recipients repeat
 * the last one, to reach thousands). Beyond not crashing: the output is
 * whole command lines only, each ending in CR LF with no CR or LF inside,
 * one line for each sendable address, the address inside <> intact, and
 * nothing at all for an address with a control character.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_cmd.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_line - one command line: prefix, the address intact, '>', params, CR LF */
static const char *check_line(const char *p, const char *end, const char *prefix,
			      const char *addr, const char *params)
{
	size_t plen = strlen(prefix), alen = strlen(addr), qlen = strlen(params);

	if ((size_t)(end - p) < plen + alen + 1 + qlen + 2 || memcmp(p, prefix, plen) != 0 ||
	    memcmp(p + plen, addr, alen) != 0 || p[plen + alen] != '>' ||
	    memcmp(p + plen + alen + 1, params, qlen) != 0 ||
	    memcmp(p + plen + alen + 1 + qlen, "\r\n", 2) != 0)
		abort();
	for (const char *q = p; q < p + plen + alen + 1 + qlen; q++)
		if (*q == '\r' || *q == '\n')
			abort(); /* a line break inside a command */
	return p + plen + alen + 1 + qlen + 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mx_buf b = {0};
	char *copy, *addrs[64];
	size_t n = 0, repeat = size > 0 ? (size_t)data[0] * 16 : 0;
	const char *p, *end;
	bool sent_mail;

	if (size == 0)
		return 0;
	copy = mx_malloc(size);
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	for (char *s = copy; s < copy + size && n < 64; s += strlen(s) + 1)
		addrs[n++] = s;
	sent_mail = smtp_cmd_mail(&b, addrs[0], " SIZE=1");
	if (sent_mail != smtp_addr_sendable(addrs[0]))
		abort();
	for (size_t i = 1; i < n + repeat; i++) {
		const char *a = addrs[i < n ? i : n - 1];
		if (smtp_cmd_rcpt(&b, a) != smtp_addr_sendable(a))
			abort();
	}
	p = b.data ? b.data : "";
	end = p + b.len;
	if (sent_mail)
		p = check_line(p, end, "MAIL FROM:<", addrs[0], " SIZE=1");
	for (size_t i = 1; i < n + repeat; i++) {
		const char *a = addrs[i < n ? i : n - 1];
		if (smtp_addr_sendable(a))
			p = check_line(p, end, "RCPT TO:<", a, "");
	}
	if (p != end)
		abort(); /* bytes that belong to no command */
	mx_buf_free(&b);
	free(copy);
	return 0;
}
