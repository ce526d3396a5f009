/* hostport - "address[:port]" name server lists and port lists */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostport.h"
#include "util.h"

#define LIST_SEPARATORS ", \t\r\n"

/* parse_port - 1..65535 */
static bool parse_port(const char *s, uint16_t *port)
{
	unsigned long v;

	if (!mx_parse_uint(s, 65535, &v) || v == 0)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* mx_server_parse - "192.0.2.1", "192.0.2.1:5353", "[2001:db8::1]:5353" or "2001:db8::1" */
bool mx_server_parse(const char *text, struct mx_server *out, char *err, size_t errlen)
{
	char buf[sizeof(out->addr)];
	const char *port = NULL;
	unsigned char bytes[16];
	size_t len;

	out->port = 53;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
			snprintf(err, errlen, "'%s': expected [address] or [address]:port", text);
			return false;
		}
		len = (size_t)(close - text - 1);
		if (close[1] == ':')
			port = close + 2;
		text++;
	} else {
		const char *colon = strchr(text, ':');
		if (colon && strchr(colon + 1, ':') == NULL) {
			len = (size_t)(colon - text);
			port = colon + 1;
		} else {
			len = strlen(text); /* bare IPv6 address, or IPv4 without port */
		}
	}
	if (len >= sizeof(buf)) {
		snprintf(err, errlen, "'%.40s...' is not an address", text);
		return false;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, bytes) != 1 && inet_pton(AF_INET6, buf, bytes) != 1) {
		snprintf(err, errlen, "'%s' is not a numeric IPv4 or IPv6 address", buf);
		return false;
	}
	if (port && !parse_port(port, &out->port)) {
		snprintf(err, errlen, "'%s' is not a port number (1 to 65535)", port);
		return false;
	}
	mx_strlcpy(out->addr, buf, sizeof(out->addr));
	return true;
}

/* mx_serverlist_parse - a list of servers separated by commas or white space */
bool mx_serverlist_parse(const char *list, struct mx_serverlist *out, char *err, size_t errlen)
{
	char *copy = mx_strdup(list), *save = NULL, *tok;
	bool ok = true;

	out->servers = NULL;
	out->count = 0;
	for (tok = strtok_r(copy, LIST_SEPARATORS, &save); tok;
	     tok = strtok_r(NULL, LIST_SEPARATORS, &save)) {
		struct mx_server srv;

		if (!mx_server_parse(tok, &srv, err, errlen)) {
			ok = false;
			break;
		}
		out->servers = mx_realloc(out->servers, (out->count + 1) * sizeof(srv));
		out->servers[out->count++] = srv;
	}
	free(copy);
	if (!ok)
		mx_serverlist_free(out);
	return ok;
}

/* mx_serverlist_free - release a list */
void mx_serverlist_free(struct mx_serverlist *sl)
{
	free(sl->servers);
	sl->servers = NULL;
	sl->count = 0;
}

/* mx_server_list_check - validate without keeping */
bool mx_server_list_check(const char *list, char *err, size_t errlen)
{
	struct mx_serverlist sl;

	if (!mx_serverlist_parse(list, &sl, err, errlen))
		return false;
	mx_serverlist_free(&sl);
	return true;
}

/* mx_port_list_check - every token a port number */
bool mx_port_list_check(const char *list, char *err, size_t errlen)
{
	char *copy = mx_strdup(list), *save = NULL, *tok;
	bool ok = true;
	uint16_t port;

	for (tok = strtok_r(copy, LIST_SEPARATORS, &save); tok;
	     tok = strtok_r(NULL, LIST_SEPARATORS, &save)) {
		if (!parse_port(tok, &port)) {
			snprintf(err, errlen, "'%s' is not a port number (1 to 65535)", tok);
			ok = false;
			break;
		}
	}
	free(copy);
	return ok;
}

/* mx_port_list_contains - is port in the (already checked) list? */
bool mx_port_list_contains(const char *list, uint16_t port)
{
	char *copy = mx_strdup(list), *save = NULL, *tok;
	bool found = false;
	uint16_t p;

	for (tok = strtok_r(copy, LIST_SEPARATORS, &save); tok && !found;
	     tok = strtok_r(NULL, LIST_SEPARATORS, &save))
		found = parse_port(tok, &p) && p == port;
	free(copy);
	return found;
}
