/* policy - what a route lookup's status means, as a row of the status table */
#ifndef MX_POLICY_H
#define MX_POLICY_H

#include <stdbool.h>

#include "route.h"
#include "status.h"

enum mx_status mx_route_outcome(enum route_status status, bool by_mx);

#endif
