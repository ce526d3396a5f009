/* probe - mxport-route --probe: talk to each target the way the transport would, and report */
#ifndef MX_PROBE_H
#define MX_PROBE_H

#include <stdbool.h>
#include <stddef.h>

#include "mxconfig.h"
#include "route_lookup.h"

size_t probe_route(const struct mx_config *cfg, struct route_ctx *ctx, const struct route *r,
		   bool *loops);

#endif
