/*
 * clientfield - what an MTA without XFORWARD passes on in a header field.
 *
 * Exim's lmtp transport sends no XFORWARD command; its headers_add can add a
 * field to the copy it delivers instead, at the end of the header
 * (contrib/exim: "X-Mxport-Client: QUEUE=<id> ADDR=<address> NAME=<name>
 * HELO=<helo> PROTO=<ESMTP|SMTP> SOURCE=<REMOTE|LOCAL>"). The sender can
 * put fields of that name into the message too: so only the last copy
 * counts (the one the MTA added after all of the sender's), and every copy
 * is taken out of the message, forged or not, so that none reaches the
 * customer. Each value passes xforward_set's checks (a bad one is dropped,
 * the others stay); QUEUE is 1..64 letters, digits, '-' or '_'.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "clientfield.h"
#include "message.h"
#include "msg.h"
#include "util.h"

/* queue_id_ok - a queue id that may go into a log line as it is */
static int queue_id_ok(const char *v, size_t n)
{
	if (n == 0 || n > CLIENTFIELD_QUEUE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/* parse - the attributes of one field's value (after "name:", unfolded) */
static void parse(const char *v, size_t n, struct xforward *client, char *queue_id,
		  size_t queue_idlen)
{
	size_t i = 0;

	while (i < n) {
		char attr[16], value[300], why[128];
		size_t start, eq, alen, vlen;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n'))
			i++;
		start = i;
		while (i < n && v[i] != ' ' && v[i] != '\t' && v[i] != '\r' && v[i] != '\n')
			i++;
		if (i == start)
			break;
		const char *e = memchr(v + start, '=', i - start);
		if (e == NULL)
			continue;
		eq = (size_t)(e - v);
		alen = eq - start;
		vlen = i - eq - 1;
		if (alen == 0 || alen >= sizeof(attr) || vlen >= sizeof(value))
			continue;
		memcpy(attr, v + start, alen);
		attr[alen] = '\0';
		memcpy(value, e + 1, vlen);
		value[vlen] = '\0';
		if (strcasecmp(attr, "QUEUE") == 0) {
			if (queue_id_ok(value, vlen) && vlen < queue_idlen)
				memcpy(queue_id, value, vlen + 1);
			continue;
		}
		if (xforward_set(client, attr, value, why, sizeof(why)) == -1) {
			value[79] = '\0'; /* enough to show */
			mx_printable(value);
			msg_warn("lmtp: client field: %s dropped, not sent on: %s: \"%s\"", attr, why,
				 value);
		}
	}
}

/*
 * clientfield_take - remove every header field called name from raw (in
 * place; returns the new length) and read the last one into client and
 * queue_id (both left as they are when there is none; a field's bad
 * values are left out, and a field longer than 2 KB is read in part)
 */
size_t clientfield_take(char *raw, size_t rawlen, const char *name, struct xforward *client,
			char *queue_id, size_t queue_idlen)
{
	size_t in = 0, out = 0, clen = 0, nlen = strlen(name);
	char copy[2048];
	int skipping = 0, found = 0;

	while (in < rawlen) {
		char *line = raw + in;
		char *nl = memchr(line, '\n', rawlen - in);
		size_t len = nl ? (size_t)(nl - line) + 1 : rawlen - in;
		size_t content = len;

		while (content > 0 && (line[content - 1] == '\n' || line[content - 1] == '\r'))
			content--;
		if (content == 0)
			break; /* the empty line: the body starts, nothing more to look at */
		if (line[0] == ' ' || line[0] == '\t') {
			if (skipping) {
				size_t n = len < sizeof(copy) - 1 - clen ? len : sizeof(copy) - 1 - clen;
				memcpy(copy + clen, line, n);
				clen += n;
				in += len;
				continue;
			}
		} else {
			skipping = nlen && header_name_is(line, content, name);
			if (skipping) {
				/* a later copy replaces an earlier one: the last counts */
				found = 1;
				clen = len < sizeof(copy) - 1 ? len : sizeof(copy) - 1;
				memcpy(copy, line, clen);
				in += len;
				continue;
			}
		}
		memmove(raw + out, line, len);
		out += len;
		in += len;
	}
	if (found) {
		const char *colon;

		copy[clen] = '\0';
		colon = memchr(copy, ':', clen);
		if (colon)
			parse(colon + 1, clen - (size_t)(colon + 1 - copy), client, queue_id, queue_idlen);
	}
	memmove(raw + out, raw + in, rawlen - in);
	return out + (rawlen - in);
}
