/* route_shared - DNS answers shared by the processes of one daemon, in memory they all map */
#ifndef MX_ROUTE_SHARED_H
#define MX_ROUTE_SHARED_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "route.h"

struct route_shared;

struct route_shared *route_shared_new(size_t slots);
void route_shared_free(struct route_shared *sh);
bool route_shared_get_route(struct route_shared *sh, const char *key, time_t now,
			    struct route *out);
void route_shared_put_route(struct route_shared *sh, const char *key, time_t expires,
			    const struct route *r);
bool route_shared_get_addrs(struct route_shared *sh, const char *key, time_t now,
			    struct route_addrs *out);
void route_shared_put_addrs(struct route_shared *sh, const char *key, time_t expires,
			    const struct route_addrs *a);

#endif
