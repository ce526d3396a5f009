/* dns_client - ask the configured name servers through ldns, with a bounded time */
#ifndef MX_DNS_CLIENT_H
#define MX_DNS_CLIENT_H

#include <ldns/ldns.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "hostport.h"
#include "mxconfig.h"
#include "route.h"

/* The longest CNAME chain followed from the name asked; longer is a temporary failure. */
#define DNS_CNAME_MAX 8

struct dns_client {
	struct mx_serverlist servers;
	unsigned timeout_ms; /* the whole lookup, every server and attempt */
	unsigned attempts;
	bool trust_ad; /* dns_trust_ad: believe the AD bit of loopback servers */
};

bool dns_client_init(struct dns_client *dc, const struct mx_config *cfg, char *err, size_t errlen);
void dns_client_free(struct dns_client *dc);
enum route_status dns_client_query(const struct dns_client *dc, const char *name, ldns_rr_type type,
				   ldns_pkt **pkt, char *reason, size_t reasonlen);
enum route_status dns_answer_rrs(const ldns_pkt *pkt, const char *name, ldns_rr_type type,
				 ldns_rr_list **rrs, uint32_t *ttl, char *reason, size_t reasonlen);
bool dns_reply_matches(const ldns_pkt *query, const ldns_pkt *reply, char *why, size_t whylen);
bool dns_same_sockaddr(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b,
		       socklen_t blen);
bool dns_server_is_loopback(const char *addr);
uint32_t dns_rrlist_min_ttl(const ldns_rr_list *rrs);

#endif
