/*
 * path - the one reader of an RFC 5321 path ("<local@domain>") for every
 * place that reads one from a command line: the LMTP front's MAIL and
 * RCPT. A local part may be a quoted string in which '>', '@', spaces and
 * backslash-quoted quotes are ordinary bytes ("a>b"@x, "a b"@x, "\""@x),
 * so the path ends at the first '>' outside quotes, not at the first '>'.
 * The address comes out byte for byte as the client sent it (quotes and
 * backslashes kept): it is relayed so to the customer's server, which
 * alone knows what its local parts mean. A source route (<@a,@b:u@d>,
 * RFC 5321 C.) is dropped, as RFC 5321 says a receiver may.
 *
 * What is not read: a path with an unterminated quoted string, a '<' or
 * '"' in an unquoted local part or a domain, a space outside quotes, an
 * empty domain after '@', bytes other than a space after the closing '>'.
 * Control characters are read (the delivery refuses them per recipient,
 * with its own words), NUL ends the line.
 */
#include "config.h"

#include <string.h>

#include "path.h"
#include "util.h"

/* mx_local_part_len - the length of addr's local part: a quoted string (to its closing quote) or up
 * to '@' */
size_t mx_local_part_len(const char *addr)
{
	const char *p = addr;

	if (*p != '"')
		return strcspn(p, "@");
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\' && p[1])
			p++;
	if (*p != '"')
		return strlen(addr); /* unterminated: all of it */
	return (size_t)(p + 1 - addr);
}

/* quoted - the end of the quoted string at p (just past its closing quote), or NULL */
static const char *quoted(const char *p)
{
	for (p++; *p; p++) {
		if (*p == '"')
			return p + 1;
		if (*p == '\\') {
			if (p[1] == '\0')
				return NULL;
			p++;
		}
	}
	return NULL;
}

/* source_route - past "@a,@b:" when one starts at p */
static const char *source_route(const char *p)
{
	const char *colon;

	if (*p != '@')
		return p;
	colon = p + strcspn(p, ":>\" ");
	return *colon == ':' ? colon + 1 : p;
}

/* dot_string - past an unquoted local part or a domain: no space, '<', '>', '"', '@' */
static const char *dot_string(const char *p)
{
	return p + strcspn(p, " <>\"@");
}

/* domain - past a domain or an address literal ([...]), or NULL when empty or bad */
static const char *domain(const char *p)
{
	const char *e;

	if (*p == '[') {
		e = p + strcspn(p, "]<>\" ");
		return *e == ']' ? e + 1 : NULL;
	}
	e = dot_string(p);
	return e == p ? NULL : e;
}

/*
 * mx_path_parse - the address in the path at arg (the text after "MAIL
 * FROM:" or "RCPT TO:", spaces before '<' allowed): a new string, "" for
 * the null path <>; NULL when arg holds no path. *rest (when not NULL)
 * points after the '>': the ESMTP parameters, "" or beginning with a space.
 */
char *mx_path_parse(const char *arg, const char **rest)
{
	const char *p = arg, *start, *end;

	while (*p == ' ')
		p++;
	if (*p++ != '<')
		return NULL;
	start = p = source_route(p);
	if (*p == '"')
		p = quoted(p);
	else
		p = dot_string(p);
	if (p == NULL)
		return NULL;
	if (*p == '@') {
		if (p == start || (p = domain(p + 1)) == NULL)
			return NULL;
	}
	if (*p != '>')
		return NULL;
	end = p++;
	if (*p != '\0' && *p != ' ')
		return NULL;
	if (rest)
		*rest = p;
	if (start != arg + strspn(arg, " ") + 1 && start == end)
		return NULL; /* a source route and nothing after it */
	return mx_strndup(start, (size_t)(end - start));
}
