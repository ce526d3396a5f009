/* smtp_reply - parse SMTP replies, single and multiline, from untrusted peers */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "smtp_reply.h"
#include "util.h"

/* smtp_reply_init - ready for the first line */
void smtp_reply_init(struct smtp_reply *r)
{
	/* Not the whole text: it is read only up to its NUL (a reply is begun 4 times a message).
	 */
	r->code = 0;
	r->enh[0] = '\0';
	r->text[0] = '\0';
	r->lines = 0;
	r->done = false;
}

/* parse_enh - "x.y.z" with x matching the reply class, as RFC 3463 writes it */
static void parse_enh(struct smtp_reply *r, const char *text, size_t len)
{
	size_t i = 0, start;
	int parts = 0;

	if (len < 5 || text[0] != '0' + r->code / 100 || text[1] != '.')
		return;
	i = 2;
	while (parts < 2) {
		start = i;
		while (i < len && isdigit((unsigned char)text[i]) && i - start < 3)
			i++;
		if (i == start)
			return;
		parts++;
		if (parts == 1) {
			if (i >= len || text[i] != '.')
				return;
			i++;
		}
	}
	if (i < len && text[i] != ' ')
		return;
	if (i >= sizeof(r->enh))
		return;
	memcpy(r->enh, text, i);
	r->enh[i] = '\0';
}

/*
 * smtp_reply_add_line - one line without its CRLF. Returns 1 when the reply
 * is complete, 0 when more lines follow, -1 (err set) for a line that is
 * not a reply line: bad code, code that changes inside a reply, too long,
 * too many lines, or a NUL byte.
 */
int smtp_reply_add_line(struct smtp_reply *r, const char *line, size_t len, char *err,
			size_t errlen)
{
	char shown[80];
	int code;
	bool last;
	size_t used;

	snprintf(shown, sizeof(shown), "%.*s", (int)(len < 60 ? len : 60), line);
	mx_printable(shown);
	if (r->done) {
		snprintf(err, errlen, "reply line after the end of a reply: '%s'", shown);
		return -1;
	}
	if (len > SMTP_LINE_MAX) {
		snprintf(err, errlen, "reply line longer than %d bytes", SMTP_LINE_MAX);
		return -1;
	}
	if (memchr(line, '\0', len)) {
		snprintf(err, errlen, "NUL byte in reply line '%s'", shown);
		return -1;
	}
	if (len < 3 || !isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]) || line[0] < '2' || line[0] > '5' ||
	    (len > 3 && line[3] != ' ' && line[3] != '-')) {
		snprintf(err, errlen, "malformed reply line '%s'", shown);
		return -1;
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->lines > 0 && code != r->code) {
		snprintf(err, errlen, "reply code changed from %d to %d within a reply", r->code,
			 code);
		return -1;
	}
	if (++r->lines > SMTP_REPLY_LINES) {
		snprintf(err, errlen, "reply of more than %d lines", SMTP_REPLY_LINES);
		return -1;
	}
	last = len == 3 || line[3] == ' ';
	if (r->lines == 1) {
		r->code = code;
		if (len > 4)
			parse_enh(r, line + 4, len - 4);
	}
	used = strlen(r->text);
	if (used + 2 < sizeof(r->text)) {
		size_t room = sizeof(r->text) - used - 1;
		size_t n;

		if (used > 0) {
			r->text[used++] = '\n';
			room--;
		}
		n = len < room ? len : room;
		memcpy(r->text + used, line, n);
		r->text[used + n] = '\0';
		mx_printable(r->text + used);
	}
	r->done = last;
	return last ? 1 : 0;
}

/* smtp_reply_line - line n (0-based) of the kept text, without the newline */
const char *smtp_reply_line(const struct smtp_reply *r, size_t n, size_t *len)
{
	const char *p = r->text;

	while (n-- > 0) {
		p = strchr(p, '\n');
		if (p == NULL)
			return NULL;
		p++;
	}
	*len = strcspn(p, "\n");
	return p;
}

/*
 * smtp_reply_has_keyword - an EHLO reply offers keyword (any case); args
 * points at what follows it on that line.
 */
bool smtp_reply_has_keyword(const struct smtp_reply *r, const char *keyword, const char **args)
{
	size_t klen = strlen(keyword), len;
	const char *line;

	/* The first line is the greeting name, not an extension. */
	for (size_t i = 1; (line = smtp_reply_line(r, i, &len)) != NULL; i++) {
		if (len < 4 + klen)
			continue;
		if (strncasecmp(line + 4, keyword, klen) == 0 &&
		    (len == 4 + klen || line[4 + klen] == ' ' || line[4 + klen] == '=')) {
			/* a bare keyword ("250-SIZE": no fixed limit, RFC 1870)
			 * has no arguments: not the next line's code */
			if (args)
				*args = len == 4 + klen ? "" : line + 4 + klen;
			return true;
		}
	}
	return false;
}

/*
 * join_lines - the reply's lines joined by a space: with codes, Postfix
 * style (the code once, then the texts of all lines); without, only the
 * texts, each line's enhanced code dropped too
 */
static void join_lines(const struct smtp_reply *r, char *out, size_t outlen, bool codes)
{
	size_t o = 0, len;
	const char *line;

	if (outlen == 0)
		return;
	for (size_t i = 0; (line = smtp_reply_line(r, i, &len)) != NULL && o + 1 < outlen; i++) {
		bool keep = codes && i == 0; /* "550 text" with its space */
		const char *text = keep ? line : (len > 4 ? line + 4 : "");
		size_t tlen = keep ? len : (len > 4 ? len - 4 : 0);
		size_t enh = codes ? 0 : strspn(text, "0123456789.");

		if (enh >= 5 && enh < tlen && text[1] == '.' && text[enh] == ' ') {
			text += enh + 1;
			tlen -= enh + 1;
		}
		if (!keep && tlen == 0)
			continue;
		if ((codes ? i > 0 : o > 0) && o + 1 < outlen)
			out[o++] = ' ';
		while (tlen-- > 0 && o + 1 < outlen) {
			char c = *text++;
			/* "250-first line" of a multiline reply reads as "250 first line". */
			if (keep && o == 3 && c == '-')
				c = ' ';
			out[o++] = c;
		}
	}
	out[o] = '\0';
}

/* smtp_reply_oneline - the reply on one line, lines joined by a space, for DSNs */
void smtp_reply_oneline(const struct smtp_reply *r, char *out, size_t outlen)
{
	join_lines(r, out, outlen, true);
}

/* smtp_reply_text - the reply's words only: no code, no enhanced code, lines joined by a space */
void smtp_reply_text(const struct smtp_reply *r, char *out, size_t outlen)
{
	join_lines(r, out, outlen, false);
}
