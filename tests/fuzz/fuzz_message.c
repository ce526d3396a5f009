/*
 * fuzz_message - libFuzzer target for message_prepare: a message as a
 * sender on the Internet wrote it, made ready for DATA. Beyond not crashing,
 * the output must be what DATA needs whatever came in: every line ends in
 * CR LF, no line is a lone "." before the end, the data ends in ".\r\n",
 * no header of the tag's name is left in the header, and no line is
 * longer than the line length limit. Its 7-bit form (for a server without
 * 8BITMIME), when one can be made, is as ready for DATA and has no 8-bit byte.
 * When every line of the input ends in CR LF and none starts with a dot
 * (what the LMTP daemon's reader reports), message_prepare_checked with
 * that report gives the same bytes.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "mime7bit.h"

#define TAG "X-Mxport"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * check - the invariants of a prepared message (prepared: made by
 * message_prepare, which also says where the header ends); abort() makes
 * libFuzzer report
 */
static void check(const struct message *m, unsigned limit, bool prepared)
{
	const char *p = m->data, *end = m->data + m->datalen;
	bool in_header = true;

	if (m->datalen < 3 || memcmp(end - 3, ".\r\n", 3) != 0)
		abort();
	if (m->datalen > 3 && (m->datalen < 5 || memcmp(end - 5, "\r\n", 2) != 0))
		abort(); /* the final dot starts a line */
	if (prepared &&
	    (m->header_len > m->datalen - 3 ||
	     (m->header_len < m->datalen - 3 && memcmp(m->data + m->header_len, "\r\n", 2) != 0) ||
	     (m->header_len > 0 && m->data[m->header_len - 1] != '\n')))
		abort(); /* header_len is where the empty line (or the final dot) begins */
	while (p < end - 3) {
		const char *lf = memchr(p, '\n', (size_t)(end - 3 - p));
		size_t len;

		if (lf == NULL || lf == p || lf[-1] != '\r')
			abort(); /* a line without CR LF */
		len = (size_t)(lf - p) - 1;
		if (len == 1 && p[0] == '.')
			abort(); /* an unstuffed dot would end DATA early */
		if (limit > 0 && len > limit)
			abort(); /* a line longer than line_length_limit */
		if (len == 0 && in_header) {
			in_header = false;
			if (prepared && (size_t)(p - m->data) != m->header_len)
				abort(); /* the first empty line is not where header_len says */
		}
		if (in_header && header_name_is(p, len, TAG))
			abort(); /* a tag header survived */
		p = lf + 1;
	}
	if (prepared && in_header && m->header_len != m->datalen - 3)
		abort(); /* no empty line: the header runs to the final dot */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct message m;
	unsigned limit = 0;

	/* The first byte picks line_length_limit: 0 (never fold), or 2 to 256. */
	if (size > 0) {
		limit = data[0] ? 1u + data[0] : 0;
		data++;
		size--;
	}
	message_prepare((const char *)data, size, TAG, limit, &m);
	check(&m, limit, true);
	{
		struct message_checked ck = {.crlf_nodot = true, .longest = 0};
		size_t pos = 0;

		while (pos < size && ck.crlf_nodot) {
			const uint8_t *nl = memchr(data + pos, '\n', size - pos);
			size_t len = nl ? (size_t)(nl - (data + pos)) : 0;

			if (!nl || len == 0 || data[pos + len - 1] != '\r' || data[pos] == '.')
				ck.crlf_nodot = false;
			else if (len - 1 > ck.longest)
				ck.longest = len - 1;
			pos += len + 1;
		}
		if (ck.crlf_nodot) {
			struct message c;

			message_prepare_checked((const char *)data, size, TAG, limit, &ck, &c);
			if (c.datalen != m.datalen || memcmp(c.data, m.data, m.datalen) != 0 ||
			    c.size != m.size || c.header_len != m.header_len ||
			    c.eightbit != m.eightbit)
				abort(); /* the checked copy differs */
			message_free(&c);
		}
	}
	if (m.eightbit) {
		/* The 7-bit form for a server without 8BITMIME: DATA-ready, and 7-bit. */
		struct mx_buf seven = {0};
		struct message m7 = m;
		char err[256];

		if (message_downgrade(&m, &seven, &m7.size, err, sizeof(err)) == 0) {
			m7.data = seven.data;
			m7.datalen = seven.len;
			check(&m7, 0, false);
			for (size_t i = 0; i < seven.len; i++)
				if ((unsigned char)seven.data[i] >= 0x80)
					abort(); /* an 8-bit byte left */
			mx_buf_free(&seven);
		} else if (seven.data != NULL || !*err) {
			abort(); /* a failure leaves nothing, and says why */
		}
	}
	message_free(&m);
	return 0;
}
