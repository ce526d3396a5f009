/* export - the routes file as map sources for MTAs without a socket map */
#ifndef MX_EXPORT_H
#define MX_EXPORT_H

#include <stdio.h>

#include "mxconfig.h"

int export_routes(const struct mx_config *cfg, const char *format, FILE *out);

#endif
