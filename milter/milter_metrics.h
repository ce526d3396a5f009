/* milter_metrics - the milter's part of metrics_file: its callouts and its configuration loads */
#ifndef MX_MILTER_METRICS_H
#define MX_MILTER_METRICS_H

#include <stdbool.h>

#include "mxconfig.h"
#include "route.h"
#include "verify_cache.h"

void milter_metrics_loaded(const struct mx_config *cfg, const char *config_path, bool ok);
void milter_metrics_callout(const struct route *r, enum verify_status status);

#endif
