/* cidr - network lists (address/prefix) and matching of socket addresses */
#ifndef MX_CIDR_H
#define MX_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct mx_cidr {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16]; /* network bytes, host bits cleared */
	unsigned prefix;
};

struct mx_netlist {
	struct mx_cidr *nets;
	size_t count;
};

bool mx_cidr_parse(const char *text, struct mx_cidr *out, char *err, size_t errlen);
bool mx_cidr_match(const struct mx_cidr *net, int family, const unsigned char *addr);
bool mx_cidr_list_check(const char *list, char *err, size_t errlen);
bool mx_netlist_parse(const char *list, struct mx_netlist *out, char *err, size_t errlen);
bool mx_netlist_match(const struct mx_netlist *nl, const struct sockaddr *sa);
void mx_netlist_free(struct mx_netlist *nl);
void mx_sockaddr_unmap(const struct sockaddr *sa, int *family, unsigned char addr[16]);

#endif
