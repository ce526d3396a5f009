/* xforward - the original client's attributes (Postfix XFORWARD): checked, encoded, decoded */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "xforward.h"

/* unavailable - a value that says "not known": the field is left empty */
static bool unavailable(const char *v)
{
	return *v == '\0' || strcasecmp(v, "unknown") == 0 || strcasecmp(v, "[UNAVAILABLE]") == 0 ||
	       strcasecmp(v, "[TEMPUNAVAIL]") == 0;
}

/* bracketed - "[...]": Sendmail's ${client_name} for a client without a name */
static bool bracketed(const char *v)
{
	size_t n = strlen(v);

	return n >= 2 && v[0] == '[' && v[n - 1] == ']';
}

/* check_addr - an IPv4 or IPv6 address literal; out is its canonical text */
static bool check_addr(const char *v, char *out, size_t outlen, char *why, size_t whylen)
{
	unsigned char bin[16];

	if (strncasecmp(v, "IPv6:", 5) == 0)
		v += 5;
	if (inet_pton(AF_INET, v, bin) == 1)
		return inet_ntop(AF_INET, bin, out, (socklen_t)outlen) != NULL;
	if (inet_pton(AF_INET6, v, bin) == 1)
		return inet_ntop(AF_INET6, bin, out, (socklen_t)outlen) != NULL;
	snprintf(why, whylen, "not an IP address");
	return false;
}

/* check_name - a host name: labels of letters, digits, '-' and '_', 63 bytes each, 255 in all */
static bool check_name(const char *v, char *why, size_t whylen)
{
	size_t label = 0, len = strlen(v);

	if (len > 255) {
		snprintf(why, whylen, "host name longer than 255 bytes");
		return false;
	}
	for (const char *p = v; *p; p++) {
		char c = *p;

		if (c == '.') {
			if (label == 0 && p[1] != '\0') {
				snprintf(why, whylen, "empty label in host name");
				return false;
			}
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > 63) {
				snprintf(why, whylen, "host name label longer than 63 bytes");
				return false;
			}
		} else {
			snprintf(why, whylen, "character 0x%02x in host name", (unsigned char)c);
			return false;
		}
	}
	if (*v == '.') {
		snprintf(why, whylen, "empty label in host name");
		return false;
	}
	return true;
}

/* check_token - 1..max bytes, each printable ASCII (no space); word: letters, digits, '-', '_' */
static bool check_token(const char *v, size_t max, bool word, const char *what, char *why,
			size_t whylen)
{
	size_t len = strlen(v);

	if (len > max) {
		snprintf(why, whylen, "%s longer than %zu bytes", what, max);
		return false;
	}
	for (const char *p = v; *p; p++) {
		unsigned char c = (unsigned char)*p;
		bool ok = word ? (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
					  (c >= '0' && c <= '9') || c == '-' || c == '_'
			       : c > 0x20 && c < 0x7f;
		if (!ok) {
			snprintf(why, whylen, "character 0x%02x in %s", c, what);
			return false;
		}
	}
	return true;
}

/*
 * xforward_set - one attribute (NAME, ADDR, PROTO, HELO or SOURCE, any
 * case) from an outside source: 0 when it is set (or cleared: an empty
 * value, "unknown", [UNAVAILABLE]); -1 when the value is not acceptable
 * (why says so, the field is left empty); -2 for another attribute.
 */
int xforward_set(struct xforward *x, const char *attr, const char *value, char *why, size_t whylen)
{
	char *field;
	size_t size;
	bool ok;

	if (strcasecmp(attr, "ADDR") == 0) {
		field = x->addr;
		size = sizeof(x->addr);
	} else if (strcasecmp(attr, "NAME") == 0) {
		field = x->name;
		size = sizeof(x->name);
	} else if (strcasecmp(attr, "HELO") == 0) {
		field = x->helo;
		size = sizeof(x->helo);
	} else if (strcasecmp(attr, "PROTO") == 0) {
		field = x->proto;
		size = sizeof(x->proto);
	} else if (strcasecmp(attr, "SOURCE") == 0) {
		field = x->source;
		size = sizeof(x->source);
	} else {
		snprintf(why, whylen, "unknown attribute");
		return -2;
	}
	field[0] = '\0';
	if (unavailable(value) || (field == x->name && bracketed(value)))
		return 0;
	if (field == x->addr)
		return check_addr(value, x->addr, size, why, whylen) ? 0 : -1;
	if (field == x->source) {
		if (strcasecmp(value, "LOCAL") != 0 && strcasecmp(value, "REMOTE") != 0) {
			snprintf(why, whylen, "neither LOCAL nor REMOTE");
			return -1;
		}
		snprintf(field, size, "%s",
			 value[0] == 'L' || value[0] == 'l' ? "LOCAL" : "REMOTE");
		return 0;
	}
	if (field == x->name)
		ok = check_name(value, why, whylen);
	else if (field == x->helo)
		ok = check_token(value, XFORWARD_HELO_MAX, false, "HELO name", why, whylen);
	else
		ok = check_token(value, XFORWARD_PROTO_MAX, true, "protocol name", why, whylen);
	if (ok)
		mx_strlcpy(field, value, size);
	return ok ? 0 : -1;
}

/* xforward_any - some attribute is known: worth an XFORWARD command */
bool xforward_any(const struct xforward *x)
{
	return x->addr[0] || x->name[0] || x->helo[0] || x->proto[0];
}

/* offers - the server's XFORWARD keyword line lists attribute name (any case) */
static bool offers(const char *offered, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = offered; *p && *p != '\n';) {
		size_t len = strcspn(p, " \n");

		if (len == n && strncasecmp(p, name, n) == 0)
			return true;
		p += len;
		while (*p == ' ')
			p++;
	}
	return false;
}

/* xtext_append - RFC 3461 xtext: '+', '=' and bytes outside 33..126 as +XX */
static void xtext_append(struct mx_buf *b, const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p < 33 || *p > 126 || *p == '+' || *p == '=')
			mx_buf_printf(b, "+%02X", *p);
		else
			mx_buf_append(b, p, 1);
	}
}

/*
 * xforward_commands - the XFORWARD command lines (CR LF each) for the
 * attributes the server offers (its EHLO keyword's arguments, up to the
 * end of the line), each line at most XFORWARD_LINE_MAX bytes; returns
 * how many. An attribute that is unknown, or too long for a line of its
 * own once encoded, goes as [UNAVAILABLE].
 */
size_t xforward_commands(const struct xforward *x, const char *offered, struct mx_buf *out)
{
	const char *source = x->source[0] ? x->source : x->addr[0] ? "REMOTE" : "";
	const struct {
		const char *name, *value;
	} attrs[] = {{"NAME", x->name},
		     {"ADDR", x->addr},
		     {"PROTO", x->proto},
		     {"HELO", x->helo},
		     {"SOURCE", source}};
	static const char cmd[] = "XFORWARD";
	struct mx_buf line = {0};
	size_t lines = 0;

	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		struct mx_buf piece = {0};

		if (!offers(offered, attrs[i].name))
			continue;
		mx_buf_printf(&piece, " %s=", attrs[i].name);
		if (attrs[i].value[0])
			xtext_append(&piece, attrs[i].value);
		if (!attrs[i].value[0] || sizeof(cmd) - 1 + piece.len + 2 > XFORWARD_LINE_MAX) {
			piece.len = 0;
			mx_buf_printf(&piece, " %s=[UNAVAILABLE]", attrs[i].name);
		}
		if (line.len && line.len + piece.len + 2 > XFORWARD_LINE_MAX) {
			mx_buf_append(out, line.data, line.len);
			mx_buf_append(out, "\r\n", 2);
			lines++;
			line.len = 0;
		}
		if (line.len == 0)
			mx_buf_append(&line, cmd, sizeof(cmd) - 1);
		mx_buf_append(&line, piece.data, piece.len);
		mx_buf_free(&piece);
	}
	if (line.len) {
		mx_buf_append(out, line.data, line.len);
		mx_buf_append(out, "\r\n", 2);
		lines++;
	}
	mx_buf_free(&line);
	return lines;
}

/* hexval - one hex digit's value, or -1 */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* xtext_decode - RFC 3461 xtext into out (NUL-terminated); false when malformed or too long */
bool xtext_decode(const char *in, size_t inlen, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return false;
	for (size_t i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '+') {
			int hi = i + 2 < inlen ? hexval(in[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(in[i + 2]) : -1;

			if (lo < 0)
				return false;
			c = (unsigned char)(hi * 16 + lo);
			if (c == 0)
				return false; /* a NUL would cut the value short */
			i += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			return false;
		}
		if (o + 1 >= outlen)
			return false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return true;
}
