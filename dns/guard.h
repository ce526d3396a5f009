/* guard - the destination guard: routes may not point into special-use networks */
#ifndef MX_GUARD_H
#define MX_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "cidr.h"

bool guard_check(const struct sockaddr *sa, const struct mx_netlist *allowed, char *why,
		 size_t whylen);

#endif
