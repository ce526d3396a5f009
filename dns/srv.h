/* srv - a route from the SRV answer at <dns_route_prefix>.<domain> */
#ifndef MX_SRV_H
#define MX_SRV_H

#include <ldns/ldns.h>

#include "route.h"

void srv_route_from_pkt(const ldns_pkt *pkt, const char *qname, struct route *out);

#endif
