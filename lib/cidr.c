/* cidr - network lists (address/prefix) and matching of socket addresses */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "util.h"

#define LIST_SEPARATORS ", \t\r\n"

/* mx_cidr_parse - "192.0.2.0/24", "2001:db8::/32" or a single address */
bool mx_cidr_parse(const char *text, struct mx_cidr *out, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash;
	unsigned long prefix;
	unsigned maxprefix;

	if (strlen(text) >= sizeof(buf)) {
		snprintf(err, errlen, "'%.40s...' is not a network", text);
		return false;
	}
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		maxprefix = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		maxprefix = 128;
	} else {
		snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 network", text);
		return false;
	}
	if (slash == NULL) {
		prefix = maxprefix;
	} else if (!mx_parse_uint(slash, maxprefix, &prefix)) {
		snprintf(err, errlen, "'%s': prefix length must be 0 to %u", text, maxprefix);
		return false;
	}
	out->prefix = (unsigned)prefix;
	for (unsigned bit = out->prefix; bit < maxprefix; bit++) {
		if (out->addr[bit / 8] & (0x80 >> (bit % 8))) {
			snprintf(err, errlen, "'%s' has host bits set after the prefix", text);
			return false;
		}
	}
	return true;
}

/* mx_cidr_match - is addr (family, network bytes) inside net? */
bool mx_cidr_match(const struct mx_cidr *net, int family, const unsigned char *addr)
{
	unsigned full = net->prefix / 8, rest = net->prefix % 8;

	if (family != net->family)
		return false;
	if (memcmp(net->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((addr[full] ^ net->addr[full]) & (0xff << (8 - rest))) == 0;
}

/* mx_netlist_parse - a list separated by commas or white space */
bool mx_netlist_parse(const char *list, struct mx_netlist *out, char *err, size_t errlen)
{
	char *copy = mx_strdup(list), *save = NULL, *tok;
	bool ok = true;

	out->nets = NULL;
	out->count = 0;
	for (tok = strtok_r(copy, LIST_SEPARATORS, &save); tok;
	     tok = strtok_r(NULL, LIST_SEPARATORS, &save)) {
		struct mx_cidr net;

		if (!mx_cidr_parse(tok, &net, err, errlen)) {
			ok = false;
			break;
		}
		out->nets = mx_realloc(out->nets, (out->count + 1) * sizeof(*out->nets));
		out->nets[out->count++] = net;
	}
	free(copy);
	if (!ok)
		mx_netlist_free(out);
	return ok;
}

/* mx_cidr_list_check - validate a list without keeping it (config checks) */
bool mx_cidr_list_check(const char *list, char *err, size_t errlen)
{
	struct mx_netlist nl;

	if (!mx_netlist_parse(list, &nl, err, errlen))
		return false;
	mx_netlist_free(&nl);
	return true;
}

/*
 * mx_sockaddr_unmap - family and bytes of a socket address; an IPv4-mapped
 * IPv6 address (::ffff:a.b.c.d) is reported as the IPv4 address it carries,
 * so that one IPv4 network list covers both spellings.
 */
void mx_sockaddr_unmap(const struct sockaddr *sa, int *family, unsigned char addr[16])
{
	memset(addr, 0, 16);
	if (sa->sa_family == AF_INET) {
		*family = AF_INET;
		memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return;
	}
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a6)) {
		*family = AF_INET;
		memcpy(addr, a6->s6_addr + 12, 4);
	} else {
		*family = AF_INET6;
		memcpy(addr, a6->s6_addr, 16);
	}
}

/* mx_netlist_match - is the socket address inside any network of the list? */
bool mx_netlist_match(const struct mx_netlist *nl, const struct sockaddr *sa)
{
	unsigned char addr[16];
	int family;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return false;
	mx_sockaddr_unmap(sa, &family, addr);
	for (size_t i = 0; i < nl->count; i++)
		if (mx_cidr_match(&nl->nets[i], family, addr))
			return true;
	return false;
}

/* mx_netlist_free - release a list */
void mx_netlist_free(struct mx_netlist *nl)
{
	free(nl->nets);
	nl->nets = NULL;
	nl->count = 0;
}
