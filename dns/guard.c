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
	{"64:ff9b:1::/48", "local-use NAT64"},
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

static struct mx_cidr nets[NSPECIAL];
static pthread_once_t nets_once = PTHREAD_ONCE_INIT;

/* parse_special - the table in binary form, once per process */
static void parse_special(void)
{
	char err[128];

	for (size_t i = 0; i < NSPECIAL; i++) {
		if (!mx_cidr_parse(special[i].net, &nets[i], err, sizeof(err))) {
			fprintf(stderr, "mxport: panic: guard table: %s\n", err);
			abort();
		}
	}
}

/*
 * guard_check - true when the address may be connected to; otherwise false
 * with why naming the address and its range. An IPv4-mapped IPv6 address is
 * judged as the IPv4 address it carries.
 */
bool guard_check(const struct sockaddr *sa, const struct mx_netlist *allowed, char *why,
		 size_t whylen)
{
	unsigned char addr[16];
	char text[64] = "?";
	int family;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) {
		snprintf(why, whylen, "address family %d is not IPv4 or IPv6", sa->sa_family);
		return false;
	}
	pthread_once(&nets_once, parse_special);
	if (allowed && mx_netlist_match(allowed, sa))
		return true;
	mx_sockaddr_unmap(sa, &family, addr);
	inet_ntop(family, addr, text, sizeof(text));
	for (size_t i = 0; i < NSPECIAL; i++) {
		if (mx_cidr_match(&nets[i], family, addr)) {
			snprintf(why, whylen, "%s is in %s network %s (not in allowed_networks)",
				 text, special[i].name, special[i].net);
			return false;
		}
	}
	return true;
}
