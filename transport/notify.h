/* notify - the customer hears when their server is down, and again when it is back */
#ifndef MX_NOTIFY_H
#define MX_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "outcome.h"
#include "route.h"

struct transport;

void notify_outcome(const struct transport *t, const char *domain, const struct route *route,
		    bool by_mx, const struct rcpt_outcome *r, size_t n);

#endif
