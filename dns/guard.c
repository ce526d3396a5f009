/* guard - the destination guard: routes may not point into special-use networks */
#include "config.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "util.h"

/*
 * Special-use ranges (IANA IPv4 and IPv6 special-purpose registries) that a
 * route from a customer's DNS zone must not reach: the relay's own host, its
 * private networks, and addresses that are not unicast on the internet.
 * Without this a hostile zone could use the relay as a proxy into them.
 */
static const struct {
	const char *net;
	const char *name;
} special[] = {
	{"0.0.0.0/8", "'this network'"},
	{"10.0.0.0/8", "private"},
	{"100.64.0.0/10", "shared address space (CGN)"},
	{"127.0.0.0/8", "loopback"},
	{"169.254.0.0/16", "link-local"},
	{"172.16.0.0/12", "private"},
	{"192.0.0.0/24", "IETF protocol assignments"},
	{"192.0.2.0/24", "documentation (TEST-NET-1)"},
	{"192.88.99.0/24", "6to4 relay anycast"},
	{"192.168.0.0/16", "private"},
	{"198.18.0.0/15", "benchmarking"},
	{"198.51.100.0/24", "documentation (TEST-NET-2)"},
	{"203.0.113.0/24", "documentation (TEST-NET-3)"},
	{"224.0.0.0/4", "multicast"},
	{"240.0.0.0/4", "reserved"},
	{"::/128", "unspecified"},
	{"::1/128", "loopback"},
	{"::/96", "IPv4-compatible (deprecated)"},
	{"100::/64", "discard-only"},
	{"2001::/23", "IETF protocol assignments"},
	{"2001:db8::/32", "documentation"},
	{"2002::/16", "6to4"},
	{"fc00::/7", "unique local (private)"},
	{"fe80::/10", "link-local"},
	{"fec0::/10", "site-local"},
	{"ff00::/8", "multicast"},
};

#define NSPECIAL (sizeof(special) / sizeof(special[0]))

/*
 * IPv6 forms that carry an IPv4 address. The address they carry is judged
 * as IPv4 too: a NAT64 gateway or a 6to4/Teredo relay would connect to it,
 * so 64:ff9b::a9fe:a9fe is 169.254.169.254 on an IPv6-only host.
 * The local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215) may be used with a
 * /48, /56, /64 or /96 prefix, and RFC 6052 section 2.2 puts the IPv4
 * address in a different place for each: the last 32 bits (the /96 form,
 * as with the well-known prefix) are always judged, and each shorter form
 * whose layout fits the address (bits 64-71 and the suffix zero) is judged
 * too; one special-use reading refuses. (A /48-/56 form has 0.0.0.0 in its
 * last 32 bits, which no translator sends to: that reading is skipped
 * then.) So a special-use address is refused whichever prefix length the
 * site's NAT64 gateway uses, at the price of refusing a rare public one
 * whose other reading happens to be special-use.
 * IPv4-compatible ::/96 is refused outright (the table above): RFC 4291
 * deprecated it, and automatic tunnels (Linux's sit0) send it to the IPv4
 * address it carries. 6to4 (2002::/16) and Teredo (2001::/32) stay refused
 * outright by the table as well (RFC 7526 deprecated 6to4 relays); a
 * special-use address they carry is named in the reason.
 */
struct embedded {
	const char *net;     /* the IPv6 form */
	const char *name;    /* what it is called */
	unsigned char at[4]; /* byte offsets of the IPv4 address (RFC 6052 layout) */
	int count;	     /* how many offsets */
	bool teredo;	     /* also the client's address, inverted, in bytes 12-15 */
};

static const struct embedded forms[] = {
	{"::ffff:0:0/96", "IPv4-mapped", {12}, 1, false},
	{"::ffff:0:0:0/96", "IPv4-translated", {12}, 1, false},
	{"64:ff9b::/96", "NAT64", {12}, 1, false},
	{"64:ff9b:1::/48", "local-use NAT64", {6, 7, 8, 12}, 4, false},
	{"2002::/16", "6to4", {2}, 1, false},
	{"2001::/32", "Teredo", {4}, 1, true},
};

#define NFORMS (sizeof(forms) / sizeof(forms[0]))

static struct mx_cidr nets[NSPECIAL];
static struct mx_cidr form_nets[NFORMS];
static pthread_once_t nets_once = PTHREAD_ONCE_INIT;

/* parse_one - a network of the built-in tables; a bad one is a bug */
static void parse_one(const char *text, struct mx_cidr *out)
{
	char err[128];

	if (!mx_cidr_parse(text, out, err, sizeof(err))) {
		fprintf(stderr, "mxport: panic: guard table: %s\n", err);
		abort();
	}
}

/* parse_special - the tables in binary form, once per process */
static void parse_special(void)
{
	for (size_t i = 0; i < NSPECIAL; i++)
		parse_one(special[i].net, &nets[i]);
	for (size_t i = 0; i < NFORMS; i++)
		parse_one(forms[i].net, &form_nets[i]);
}

/*
 * embedded_at - the IPv4 address that an RFC 6052 address carries from byte
 * offset at: four bytes, skipping byte 8 (bits 64-71, "u", always zero).
 */
static void embedded_at(const unsigned char a6[16], int at, unsigned char v4[4])
{
	for (int i = 0, j = at; i < 4; i++, j++) {
		if (j == 8)
			j++;
		v4[i] = a6[j];
	}
}

/* special_index - the index of the special-use range an IPv4 address is in, or -1 */
static int special_index(int family, const unsigned char *addr)
{
	for (size_t i = 0; i < NSPECIAL; i++)
		if (mx_cidr_match(&nets[i], family, addr))
			return (int)i;
	return -1;
}

/* v4_allowed - the admin's allowed_networks cover this IPv4 address */
static bool v4_allowed(const struct mx_netlist *allowed, const unsigned char v4[4])
{
	struct sockaddr_in sin;

	if (allowed == NULL)
		return false;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	memcpy(&sin.sin_addr, v4, 4);
	return mx_netlist_match(allowed, (struct sockaddr *)&sin);
}

/* well_formed - the RFC 6052 layout from byte at fits: bits 64-71 and the suffix zero */
static bool well_formed(const unsigned char a6[16], int at)
{
	if (at >= 12)
		return true;
	if (a6[8] != 0)
		return false;
	for (int j = at + 5; j < 16; j++) /* four bytes and the skipped byte 8 */
		if (a6[j] != 0)
			return false;
	return true;
}

/*
 * readings - the IPv4 addresses that a form's address may carry, as
 * judged (see forms above); returns how many.
 */
static int readings(const struct embedded *form, const unsigned char a6[16], unsigned char v4[][4])
{
	bool shorter = false;
	int n = 0;

	for (int k = 0; k < form->count; k++) {
		if (form->count > 1 && !well_formed(a6, form->at[k]))
			continue;
		embedded_at(a6, form->at[k], v4[n]);
		if (form->at[k] < 12)
			shorter = true;
		else if (shorter && memcmp(v4[n], "\0\0\0\0", 4) == 0)
			continue;
		n++;
	}
	if (form->teredo) {
		for (int b = 0; b < 4; b++) /* the client's address, inverted */
			v4[n][b] = (unsigned char)~a6[12 + b];
		n++;
	}
	return n;
}

/*
 * check_embedded - false, with why, when an IPv6 address carries a
 * special-use IPv4 address that allowed_networks does not cover.
 */
static bool check_embedded(const unsigned char a6[16], const struct mx_netlist *allowed, char *why,
			   size_t whylen)
{
	char text6[INET6_ADDRSTRLEN], text4[INET_ADDRSTRLEN];
	unsigned char v4[5][4];

	for (size_t f = 0; f < NFORMS; f++) {
		if (!mx_cidr_match(&form_nets[f], AF_INET6, a6))
			continue;
		int n = readings(&forms[f], a6, v4);
		for (int k = 0; k < n; k++) {
			int i;

			if (v4_allowed(allowed, v4[k]) || (i = special_index(AF_INET, v4[k])) < 0)
				continue;
			inet_ntop(AF_INET6, a6, text6, sizeof(text6));
			inet_ntop(AF_INET, v4[k], text4, sizeof(text4));
			snprintf(why, whylen,
				 "%s carries IPv4 address %s (%s %s), which is in %s network %s "
				 "(not in allowed_networks)",
				 text6, text4, forms[f].name, forms[f].net, special[i].name,
				 special[i].net);
			return false;
		}
		break;
	}
	return true;
}

/*
 * guard_check - true when the address may be connected to; otherwise false
 * with why naming the address and its range. An IPv6 address that carries
 * an IPv4 address (see forms above) is judged as that address too.
 */
bool guard_check(const struct sockaddr *sa, const struct mx_netlist *allowed, char *why,
		 size_t whylen)
{
	unsigned char addr[16];
	char text[64] = "?";
	int family, i;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) {
		snprintf(why, whylen, "address family %d is not IPv4 or IPv6", sa->sa_family);
		return false;
	}
	pthread_once(&nets_once, parse_special);
	if (allowed && mx_netlist_match(allowed, sa))
		return true;
	if (sa->sa_family == AF_INET6 &&
	    !check_embedded(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr, allowed, why,
			    whylen))
		return false;
	mx_sockaddr_unmap(sa, &family, addr);
	inet_ntop(family, addr, text, sizeof(text));
	if ((i = special_index(family, addr)) >= 0) {
		snprintf(why, whylen, "%s is in %s network %s (not in allowed_networks)", text,
			 special[i].name, special[i].net);
		return false;
	}
	return true;
}
