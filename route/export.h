/* export - the routes file as map sources for MTAs without a socket map */
#ifndef MX_EXPORT_H
#define MX_EXPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "mxconfig.h"

int export_routes(const struct mx_config *cfg, const char *format, bool partial, FILE *out);

#endif
