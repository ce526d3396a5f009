/*
 * mime7bit - 8-bit message content made 7-bit for a server that does not
 * offer 8BITMIME (RFC 6152 forbids sending it 8-bit data), as Postfix does:
 * MIME-aware, each leaf part with 8-bit bytes in its body is encoded as
 * quoted-printable (RFC 2045) and its Content-Transfer-Encoding header says
 * so; multipart and message/rfc822 parts are walked into; nothing else of
 * a header changes. Where that cannot be done (8-bit bytes in a header,
 * "binary" content, 8-bit bytes in a part that claims to be encoded
 * already, MIME nested deeper than any real mail) it fails with a reason,
 * and the caller bounces with 5.6.3.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "message.h"
#include "mime7bit.h"

#define MIME_DEPTH_MAX 32

struct mline {
	const char *p; /* unstuffed, without CR LF */
	size_t len;
};

struct conv {
	struct mx_buf *out;
	char *err;
	size_t errlen;
	bool failed;
};

/* has8 - a byte >= 0x80 */
static bool has8(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] >= 0x80)
			return true;
	return false;
}

/* emit - one output line, dot-stuffed, with CR LF */
static void emit(struct conv *c, const char *p, size_t len)
{
	if (len > 0 && p[0] == '.')
		mx_buf_append(c->out, ".", 1);
	mx_buf_append(c->out, p, len);
	mx_buf_append(c->out, "\r\n", 2);
}

/* failf - the first reason it cannot be done */
static void failf(struct conv *c, const char *why)
{
	if (!c->failed)
		snprintf(c->err, c->errlen, "%s", why);
	c->failed = true;
}

/*
 * header_value - the value of field name in header lines [a, b), unfolded
 * into out (at most outlen-1 bytes); false when the header has no such field.
 */
static bool header_value(const struct mline *l, size_t a, size_t b, const char *name, char *out,
			 size_t outlen)
{
	for (size_t i = a; i < b; i++) {
		if (!header_name_is(l[i].p, l[i].len, name))
			continue;
		size_t o = 0;
		const char *colon = memchr(l[i].p, ':', l[i].len);
		size_t off = (size_t)(colon - l[i].p) + 1;

		for (size_t j = i; j < b && (j == i || l[j].p[0] == ' ' || l[j].p[0] == '\t');
		     j++) {
			for (size_t k = j == i ? off : 0; k < l[j].len && o + 1 < outlen; k++)
				out[o++] = l[j].p[k];
		}
		out[o] = '\0';
		return true;
	}
	return false;
}

/* param - a Content-Type parameter (boundary=...), unquoted; false when absent */
static bool param(const char *ctype, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);

	for (const char *p = strchr(ctype, ';'); p; p = strchr(p + 1, ';')) {
		const char *q = p + 1;

		while (*q == ' ' || *q == '\t')
			q++;
		if (strncasecmp(q, name, nlen) != 0 || q[nlen] != '=')
			continue;
		q += nlen + 1;
		size_t o = 0;
		if (*q == '"') {
			for (q++; *q && *q != '"' && o + 1 < outlen; q++)
				out[o++] = *q;
		} else {
			for (; *q && *q != ';' && *q != ' ' && *q != '\t' && o + 1 < outlen; q++)
				out[o++] = *q;
		}
		out[o] = '\0';
		return o > 0;
	}
	return false;
}

/* type_is - does the Content-Type value start with this type/subtype prefix */
static bool type_is(const char *ctype, const char *prefix)
{
	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	return strncasecmp(ctype, prefix, strlen(prefix)) == 0;
}

/* qp_line - one body line as quoted-printable lines of at most 76 characters */
static void qp_line(struct conv *c, const char *p, size_t len)
{
	char line[80];
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)p[i];
		char enc[4];
		size_t n;
		bool last = i + 1 == len;

		if ((ch >= 33 && ch <= 126 && ch != '=' && !(o == 0 && ch == '.')) ||
		    ((ch == ' ' || ch == '\t') && !last)) {
			enc[0] = (char)ch;
			n = 1;
		} else {
			snprintf(enc, sizeof(enc), "=%02X", ch);
			n = 3;
		}
		if (o + n > 75) {
			line[o++] = '='; /* soft line break */
			emit(c, line, o);
			o = 0;
		}
		memcpy(line + o, enc, n);
		o += n;
	}
	emit(c, line, o);
}

static void entity(struct conv *c, const struct mline *l, size_t a, size_t b, int depth);

/* is_delimiter - "--boundary" or, closing, "--boundary--", then only white space (RFC 2046) */
static bool is_delimiter(const struct mline *l, const char *boundary, size_t blen, bool *close)
{
	size_t i = blen + 2;

	if (l->len < i || l->p[0] != '-' || l->p[1] != '-' || memcmp(l->p + 2, boundary, blen) != 0)
		return false;
	*close = l->len >= i + 2 && l->p[i] == '-' && l->p[i + 1] == '-';
	for (i += *close ? 2 : 0; i < l->len; i++)
		if (l->p[i] != ' ' && l->p[i] != '\t')
			return false;
	return true;
}

/* multipart - the parts between the boundaries, each an entity of its own */
static void multipart(struct conv *c, const struct mline *l, size_t a, size_t b,
		      const char *boundary, int depth)
{
	size_t blen = strlen(boundary), part = 0;
	bool in_part = false;

	for (size_t i = a; i < b; i++) {
		bool close = false, delim = is_delimiter(&l[i], boundary, blen, &close);

		if (!delim) {
			if (!in_part && has8(l[i].p, l[i].len))
				failf(c,
				      "8-bit text outside the MIME parts (preamble or epilogue)");
			if (!in_part)
				emit(c, l[i].p, l[i].len);
			continue;
		}
		if (in_part)
			entity(c, l, part, i, depth + 1);
		emit(c, l[i].p, l[i].len);
		in_part = !close;
		part = i + 1;
		if (close) {
			for (i++; i < b; i++) {
				if (has8(l[i].p, l[i].len))
					failf(c, "8-bit text after the last MIME part");
				emit(c, l[i].p, l[i].len);
			}
			return;
		}
	}
	if (in_part)
		entity(c, l, part, b, depth + 1); /* no closing delimiter: the rest is the part */
}

/* entity - header, then body: walked into, encoded, or copied */
static void entity(struct conv *c, const struct mline *l, size_t a, size_t b, int depth)
{
	char ctype[1024] = "text/plain", cte[64] = "", boundary[256];
	size_t body = a;

	while (body < b && l[body].len > 0)
		body++;
	for (size_t i = a; i < body; i++)
		if (has8(l[i].p, l[i].len))
			failf(c, "8-bit bytes in a header (that needs SMTPUTF8)");
	if (depth > MIME_DEPTH_MAX)
		failf(c, "MIME parts nested too deep");
	header_value(l, a, body, "Content-Type", ctype, sizeof(ctype));
	header_value(l, a, body, "Content-Transfer-Encoding", cte, sizeof(cte));
	char *t = cte;
	while (*t == ' ' || *t == '\t')
		t++;
	memmove(cte, t, strlen(t) + 1);
	for (t = cte + strlen(cte); t > cte && (t[-1] == ' ' || t[-1] == '\t');)
		*--t = '\0';

	bool eight = false;
	for (size_t i = body; i < b && !eight; i++)
		eight = has8(l[i].p, l[i].len);
	bool plain = !*cte || strcasecmp(cte, "7bit") == 0 || strcasecmp(cte, "8bit") == 0;
	bool multi = type_is(ctype, "multipart/") &&
		     param(ctype, "boundary", boundary, sizeof(boundary));
	bool rfc822 = type_is(ctype, "message/rfc822") && plain;
	size_t content = body < b ? body + 1 : b; /* after the empty line */

	if (!eight) {
		for (size_t i = a; i < b; i++)
			emit(c, l[i].p, l[i].len);
		return;
	}
	if (c->failed)
		return; /* nothing of it will be sent */
	if (multi || rfc822) {
		for (size_t i = a; i < content; i++)
			emit(c, l[i].p, l[i].len);
		if (multi)
			multipart(c, l, content, b, boundary, depth);
		else
			entity(c, l, content, b, depth + 1);
		return;
	}
	if (!plain) {
		failf(c, strcasecmp(cte, "binary") == 0
				 ? "binary content"
				 : "8-bit bytes in a part that claims to be encoded already");
		return;
	}
	/* A leaf with 8-bit text: the header as it was but for its encoding, then QP. */
	char version[16];
	for (size_t i = a; i < body; i++) {
		if (header_name_is(l[i].p, l[i].len, "Content-Transfer-Encoding")) {
			while (i + 1 < body && (l[i + 1].p[0] == ' ' || l[i + 1].p[0] == '\t'))
				i++;
			continue;
		}
		emit(c, l[i].p, l[i].len);
	}
	if (depth == 0 && !header_value(l, a, body, "MIME-Version", version, sizeof(version)))
		emit(c, "MIME-Version: 1.0", 17); /* else the encoding means nothing (RFC 2045) */
	emit(c, "Content-Transfer-Encoding: quoted-printable", 43);
	emit(c, "", 0);
	for (size_t i = content; i < b; i++)
		qp_line(c, l[i].p, l[i].len);
}

/*
 * message_downgrade - the DATA bytes of m (prepared: CR LF, dot-stuffed,
 * final dot) made 7-bit into out, with *size the size for SIZE=. 0, or -1
 * with err saying why it cannot be done.
 */
int message_downgrade(const struct message *m, struct mx_buf *out, size_t *size, char *err,
		      size_t errlen)
{
	const char *p = m->data, *end = m->data + m->datalen - 3; /* without ".\r\n" */
	size_t n = 0, cap = 64;
	struct mline *l = mx_malloc(cap * sizeof(*l));
	struct conv c = {.out = out, .err = err, .errlen = errlen};

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (n == cap) {
			cap *= 2;
			l = mx_realloc(l, cap * sizeof(*l));
		}
		l[n].p = p;
		l[n].len = len > 0 && p[len - 1] == '\r' ? len - 1 : len;
		if (l[n].len > 0 && l[n].p[0] == '.') {
			l[n].p++;
			l[n].len--;
		}
		n++;
		p = nl ? nl + 1 : end;
	}
	entity(&c, l, 0, n, 0);
	free(l);
	if (c.failed) {
		mx_buf_free(out);
		return -1;
	}
	*size = 0;
	for (const char *q = out->data; q && q < out->data + out->len;) {
		const char *nl = memchr(q, '\n', (size_t)(out->data + out->len - q));
		size_t len = (size_t)(nl - q) + 1;

		*size += len - (q[0] == '.' && len > 3); /* a stuffed dot is not the message's */
		q = nl + 1;
	}
	mx_buf_append(out, ".\r\n", 3);
	return 0;
}
