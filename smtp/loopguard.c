/* loopguard - is a target this host's own MTA? */
#include "config.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>

#include "cidr.h"
#include "hostport.h"
#include "loopguard.h"

/* same_addr - equal IP addresses, IPv4-mapped forms included */
static bool same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	unsigned char x[16], y[16];
	int fx, fy;

	mx_sockaddr_unmap(a, &fx, x);
	mx_sockaddr_unmap(b, &fy, y);
	return fx == fy && memcmp(x, y, fx == AF_INET ? 4 : 16) == 0;
}

/*
 * loopguard_is_self - the address is one of this host's (loopback, or an
 * interface address) and the port one of local_ports: delivering there
 * would hand the mail back to the MTA that gave it to us.
 */
bool loopguard_is_self(const struct sockaddr *sa, const char *local_ports)
{
	struct ifaddrs *ifs = NULL, *i;
	unsigned char bytes[16];
	uint16_t port;
	int family;
	bool self = false;

	if (sa->sa_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
	else if (sa->sa_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	else
		return false;
	if (!mx_port_list_contains(local_ports, port))
		return false;
	mx_sockaddr_unmap(sa, &family, bytes);
	if ((family == AF_INET && bytes[0] == 127) ||
	    (family == AF_INET6 && memcmp(bytes, in6addr_loopback.s6_addr, 16) == 0) ||
	    (family == AF_INET && memcmp(bytes, "\0\0\0\0", 4) == 0))
		return true;
	if (getifaddrs(&ifs) != 0)
		return false;
	for (i = ifs; i && !self; i = i->ifa_next)
		if (i->ifa_addr &&
		    (i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6))
			self = same_addr(i->ifa_addr, sa);
	freeifaddrs(ifs);
	return self;
}
