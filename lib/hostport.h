/* hostport - "address[:port]" name server lists and port lists */
#ifndef MX_HOSTPORT_H
#define MX_HOSTPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_server {
	char addr[64]; /* numeric IPv4 or IPv6 address */
	uint16_t port;
};

struct mx_serverlist {
	struct mx_server *servers;
	size_t count;
};

bool mx_server_parse(const char *text, struct mx_server *out, char *err, size_t errlen);
bool mx_serverlist_parse(const char *list, struct mx_serverlist *out, char *err, size_t errlen);
void mx_serverlist_free(struct mx_serverlist *sl);
bool mx_server_list_check(const char *list, char *err, size_t errlen);
bool mx_port_list_check(const char *list, char *err, size_t errlen);
bool mx_port_list_contains(const char *list, uint16_t port);

#endif
