/* dns_client - ask the configured name servers through ldns, with a bounded time */
#ifndef MX_DNS_CLIENT_H
#define MX_DNS_CLIENT_H

#include <ldns/ldns.h>
#include <stdbool.h>

#include "hostport.h"
#include "mxconfig.h"
#include "route.h"

struct dns_client {
	struct mx_serverlist servers;
	unsigned timeout_ms; /* the whole lookup, every server and attempt */
	unsigned attempts;
};

bool dns_client_init(struct dns_client *dc, const struct mx_config *cfg, char *err, size_t errlen);
void dns_client_free(struct dns_client *dc);
enum route_status dns_client_query(const struct dns_client *dc, const char *name, ldns_rr_type type,
				   ldns_pkt **pkt, char *reason, size_t reasonlen);
enum route_status dns_pkt_classify(const ldns_pkt *pkt, const char *name, ldns_rr_type type,
				   char *reason, size_t reasonlen);
uint32_t dns_rrlist_min_ttl(const ldns_rr_list *rrs);

#endif
