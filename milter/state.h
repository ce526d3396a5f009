/* state - the configuration in force, swapped whole on reload and shared by reference */
#ifndef MX_MILTER_STATE_H
#define MX_MILTER_STATE_H

#include "cidr.h"
#include "errlist.h"
#include "mxconfig.h"
#include "route_lookup.h"
#include "verify.h"

struct milter_state {
	struct mx_config *cfg;
	struct route_ctx *routes;
	struct mx_netlist trusted;
	struct verify_ctx *verify; /* recipient checks and what they learned (verify.c) */
	int refs;		   /* under the state lock */
};

struct milter_state *state_build(const char *path, struct mx_errlist *errs);
void state_install(struct milter_state *st);
struct milter_state *state_acquire(void);
void state_release(struct milter_state *st);

#endif
