/* probe - mxport-route --probe: talk to each target the way the transport would, and report */
#ifndef MX_PROBE_H
#define MX_PROBE_H

#include <stdbool.h>

#include "mxconfig.h"
#include "route_lookup.h"

bool probe_target(const struct mx_config *cfg, struct route_ctx *ctx, const struct route_target *t,
		  const struct route_addr *a);

#endif
