/* message - the message from standard input, made ready for DATA */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "message.h"
#include "util.h"

/* message_read - all of fd, at most max bytes; 0 or -1 with err */
int message_read(int fd, size_t max, char **raw, size_t *rawlen, char *err, size_t errlen)
{
	size_t cap = 65536, len = 0;
	char *buf = mx_malloc(cap);

	for (;;) {
		ssize_t n;

		if (len == cap) {
			if (cap > max) {
				snprintf(err, errlen, "message larger than %zu bytes", max);
				free(buf);
				return -1;
			}
			cap *= 2;
			buf = mx_realloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "reading the message: %s", strerror(errno));
			free(buf);
			return -1;
		}
		len += (size_t)n;
	}
	*raw = buf;
	*rawlen = len;
	return 0;
}

/* name_is - does this header line start with the name of nlen bytes, then ':' (white space before
 * it allowed)? */
static bool name_is(const char *line, size_t len, const char *name, size_t nlen)
{
	size_t i;

	if (len <= nlen || strncasecmp(line, name, nlen) != 0)
		return false;
	for (i = nlen; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	return i < len && line[i] == ':';
}

/* header_name_is - does this header line start with "name:" (white space before ':' allowed)? */
bool header_name_is(const char *line, size_t len, const char *name)
{
	return name_is(line, len, name, strlen(name));
}

/* any_8bit - is some byte >= 0x80? Eight bytes at a time, without a branch each */
static bool any_8bit(const char *p, size_t n)
{
	uint64_t acc = 0, w;
	size_t i = 0;

	for (; i + sizeof(w) <= n; i += sizeof(w)) {
		memcpy(&w, p + i, sizeof(w));
		acc |= w;
	}
	for (; i < n; i++)
		acc |= (unsigned char)p[i];
	return (acc & UINT64_C(0x8080808080808080)) != 0;
}

/* append - add bytes to the DATA buffer */
static void append(struct message *m, size_t *cap, const char *p, size_t n)
{
	if (m->datalen + n > *cap) {
		while (m->datalen + n > *cap)
			*cap *= 2;
		m->data = mx_realloc(m->data, *cap);
	}
	memcpy(m->data + m->datalen, p, n);
	m->datalen += n;
}

/*
 * append_line - one line, dot-stuffed, with CR LF. A line longer than
 * limit is folded as Postfix's smtp_line_length_limit does: pieces of at
 * most limit bytes on the wire (a stuffed dot counts), each after the first
 * starting with a space, so that no piece can read as the final dot.
 */
static void append_line(struct message *m, size_t *cap, const char *line, size_t len,
			unsigned limit)
{
	size_t start = m->datalen, piece, dot = len > 0 && line[0] == '.';

	if (limit == 1)
		limit = 2; /* a piece needs room for its space and one byte */
	if (dot)
		append(m, cap, ".", 1);
	piece = limit == 0 || len + dot <= limit ? len : limit - dot;
	append(m, cap, line, piece);
	for (size_t pos = piece; pos < len; pos += piece) {
		piece = len - pos < limit - 1 ? len - pos : limit - 1;
		append(m, cap, "\r\n ", 3);
		append(m, cap, line + pos, piece);
	}
	append(m, cap, "\r\n", 2);
	m->size += m->datalen - start - dot;
}

/*
 * append_body - the body, from raw + pos to its end. Most lines of a
 * message need no change (CR LF already, no leading dot, not too long):
 * runs of them are copied whole, the others line by line.
 */
static void append_body(struct message *m, size_t *cap, const char *raw, size_t pos, size_t rawlen,
			unsigned limit)
{
	size_t run = pos; /* the first byte not copied yet */

	while (pos < rawlen) {
		const char *line = raw + pos;
		const char *nl = memchr(line, '\n', rawlen - pos);
		size_t len = nl ? (size_t)(nl - line) : rawlen - pos;
		size_t content = len > 0 && line[len - 1] == '\r' ? len - 1 : len;

		if (nl && content < len && line[0] != '.' && (limit == 0 || content <= limit)) {
			pos += len + 1;
			continue;
		}
		append(m, cap, raw + run, pos - run);
		m->size += pos - run;
		append_line(m, cap, line, content, limit);
		pos += nl ? len + 1 : len;
		run = pos;
	}
	append(m, cap, raw + run, pos - run);
	m->size += pos - run;
}

/*
 * message_prepare - the bytes to send after DATA. Every line ends in CR LF
 * (a bare LF becomes CR LF), a line that starts with "." gets another one
 * (RFC 5321 4.5.2), the message ends with ".\r\n", and a line longer than
 * line_limit bytes is folded (0: never). Header fields named tag_header,
 * with their continuation lines, are left out: they only route the message
 * inside this relay. Nothing else changes. The header is read a line at a
 * time; the body is looked at once for 8-bit bytes and copied in runs.
 */
void message_prepare(const char *raw, size_t rawlen, const char *tag_header, unsigned line_limit,
		     struct message *m)
{
	message_prepare_checked(raw, rawlen, tag_header, line_limit, NULL, m);
}

/*
 * message_prepare_checked - message_prepare of a message whose lines the
 * reader checked (checked, or NULL: nothing known). When no body line needs
 * a change (CR LF, no leading dot, none longer than line_limit), the body
 * is copied whole without looking at its lines; the output is the same.
 */
void message_prepare_checked(const char *raw, size_t rawlen, const char *tag_header,
			     unsigned line_limit, const struct message_checked *checked,
			     struct message *m)
{
	size_t cap = rawlen + rawlen / 32 + 64, pos = 0, tag_len = strlen(tag_header);
	bool skipping = false, body = false;

	memset(m, 0, sizeof(*m));
	m->data = mx_malloc(cap);
	while (pos < rawlen) {
		const char *line = raw + pos;
		const char *nl = memchr(line, '\n', rawlen - pos);
		size_t len = nl ? (size_t)(nl - line) : rawlen - pos;
		size_t content = len;

		pos += nl ? len + 1 : len;
		if (content > 0 && line[content - 1] == '\r')
			content--;
		if (content == 0) {
			m->header_len = m->datalen;
			body = true;
			append_line(m, &cap, line, 0, line_limit);
			break;
		}
		if (line[0] == ' ' || line[0] == '\t') {
			if (skipping)
				continue;
		} else {
			skipping = tag_len && name_is(line, content, tag_header, tag_len);
			if (skipping) {
				m->tags_removed++;
				continue;
			}
		}
		if (any_8bit(line, content))
			m->eightbit = m->header_utf8 = true;
		append_line(m, &cap, line, content, line_limit);
	}
	if (!body)
		m->header_len = m->datalen;
	if (!m->eightbit)
		m->eightbit = any_8bit(raw + pos, rawlen - pos);
	if (checked && checked->crlf_nodot && (line_limit == 0 || checked->longest <= line_limit)) {
		append(m, &cap, raw + pos, rawlen - pos);
		m->size += rawlen - pos;
	} else {
		append_body(m, &cap, raw, pos, rawlen, line_limit);
	}
	append(m, &cap, ".\r\n", 3);
}

/* message_free - release */
void message_free(struct message *m)
{
	free(m->data);
	memset(m, 0, sizeof(*m));
}

/*
 * message_add_field - a copy of m with one more header field, a complete
 * line without CR LF, put last in the header (before the empty line), so
 * that the trace fields at the top stay as the MTA wrote them. The caller
 * frees out->data (only: the other fields are m's).
 */
void message_add_field(const struct message *m, const char *field, struct message *out)
{
	size_t at = m->header_len, flen = strlen(field);

	*out = *m;
	out->header_len = at + flen + 2;
	out->data = mx_malloc(m->datalen + flen + 2);
	memcpy(out->data, m->data, at);
	memcpy(out->data + at, field, flen);
	memcpy(out->data + at + flen, "\r\n", 2);
	memcpy(out->data + at + flen + 2, m->data + at, m->datalen - at);
	out->datalen = m->datalen + flen + 2;
	out->size = m->size + flen + 2;
}

/* fold_eq - a field body equals want, ignoring case and runs of white space (CR LF included) */
static bool fold_eq(const char *p, size_t len, const char *want)
{
	size_t i = 0;

	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	while (*want) {
		if (*want == ' ') {
			if (i >= len ||
			    (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n'))
				return false;
			while (i < len &&
			       (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
				i++;
			want++;
			continue;
		}
		if (i >= len || tolower((unsigned char)p[i]) != tolower((unsigned char)*want))
			return false;
		i++;
		want++;
	}
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i == len;
}

/*
 * message_has_field - does the header hold a field "name: value" (folded
 * or not, any case, any white space where value has one space)?
 */
bool message_has_field(const struct message *m, const char *name, const char *value)
{
	size_t end = m->header_len, pos = 0;

	while (pos < end) {
		const char *line = m->data + pos;
		const char *nl = memchr(line, '\n', end - pos);
		size_t len = nl ? (size_t)(nl - line) + 1 : end - pos, flen = len;

		/* the field runs on over its continuation lines */
		while (pos + flen < end && (line[flen] == ' ' || line[flen] == '\t')) {
			const char *more = memchr(line + flen, '\n', end - pos - flen);
			flen = more ? (size_t)(more - line) + 1 : end - pos;
		}
		if (header_name_is(line, flen, name)) {
			const char *colon = memchr(line, ':', flen);
			if (fold_eq(colon + 1, flen - (size_t)(colon + 1 - line), value))
				return true;
		}
		pos += flen;
	}
	return false;
}
