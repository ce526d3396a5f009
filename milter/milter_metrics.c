/*
 * milter_metrics - the milter's numbers in metrics_file (lib/metrics.c):
 * each callout's result under its route's name, and how the last
 * configuration load went. The table is opened once the milter runs as
 * its user (the file must be that user's), and again only when
 * metrics_file or metrics_max_routes change. A table replaced so is never
 * unmapped: a callout thread may still hold it, and it costs a few
 * kilobytes per change. Trouble is logged once a minute; callouts go on.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "metrics.h"
#include "milter_metrics.h"
#include "util.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct mx_metrics *table; /* read with __atomic_load_n by the callout threads */
static char *table_path;
static unsigned table_max;

/* config_id - which mxport.conf this is (its identity), for "in force since" */
static uint64_t config_id(const char *config_path)
{
	struct stat st;

	if (stat(config_path, &st) != 0)
		return 0;
	return ((uint64_t)st.st_ino * 1000003u) ^ ((uint64_t)st.st_dev << 40) ^
	       ((uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec);
}

/*
 * milter_metrics_loaded - a configuration was loaded (ok, cfg the new one)
 * or a reload failed (cfg NULL: the one in force stays, and so does its
 * table)
 */
void milter_metrics_loaded(const struct mx_config *cfg, const char *config_path, bool ok)
{
	struct mx_metrics *m;
	char err[600];

	pthread_mutex_lock(&lock);
	if (cfg && (table_path == NULL || strcmp(table_path, cfg->metrics_file) != 0 ||
		    table_max != cfg->metrics_max_routes)) {
		m = NULL;
		if (*cfg->metrics_file) {
			m = mx_metrics_open(cfg->metrics_file, cfg->metrics_max_routes, err,
					    sizeof(err));
			if (m == NULL)
				mx_metrics_trouble("%s", err);
		}
		__atomic_store_n(&table, m, __ATOMIC_RELEASE); /* the old one stays mapped */
		free(table_path);
		table_path = mx_strdup(cfg->metrics_file);
		table_max = cfg->metrics_max_routes;
	}
	mx_metrics_config(table, MX_METRICS_MILTER, ok, config_id(config_path), time(NULL));
	pthread_mutex_unlock(&lock);
}

/* milter_metrics_callout - one callout's result, under the route's name */
void milter_metrics_callout(const struct route *r, enum verify_status status)
{
	struct mx_metrics *m = __atomic_load_n(&table, __ATOMIC_ACQUIRE);
	enum mx_metrics_callout result = status == VERIFY_ACCEPTED ? MX_METRICS_CALLOUT_ACCEPTED
					 : status == VERIFY_REJECTED
						 ? MX_METRICS_CALLOUT_REFUSED
						 : MX_METRICS_CALLOUT_UNVERIFIED;

	if (m == NULL)
		return;
	mx_metrics_callout(m, mx_metrics_route(m, r && *r->name ? r->name : "_unrouted"), result);
}
