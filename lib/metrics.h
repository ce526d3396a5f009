/* metrics - per-route counters in a fixed-size shared file, written out in Prometheus's format */
#ifndef MX_METRICS_H
#define MX_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define MX_METRICS_LABEL_MAX 256      /* a route label: a domain, ".parent" or "_other" */
#define MX_METRICS_OTHER     "_other" /* the series of every route past metrics_max_routes */
#define MX_METRICS_BUCKETS   8	      /* delivery duration buckets (the +Inf one besides) */

/* what became of a message or a recipient at one route */
enum mx_metrics_result {
	MX_METRICS_DELIVERED,
	MX_METRICS_DEFERRED,
	MX_METRICS_BOUNCED,
	MX_METRICS_RESULTS
};

/* what a callout (milter/verify.c) came to */
enum mx_metrics_callout {
	MX_METRICS_CALLOUT_ACCEPTED,   /* the server took the recipient */
	MX_METRICS_CALLOUT_REFUSED,    /* 5xx: no such user */
	MX_METRICS_CALLOUT_UNVERIFIED, /* no answer, 4xx, or not asked */
	MX_METRICS_CALLOUTS
};

/* the daemons whose health the file keeps */
enum mx_metrics_daemon { MX_METRICS_TRANSPORT, MX_METRICS_MILTER, MX_METRICS_DAEMONS };

struct mx_metrics;

struct mx_metrics *mx_metrics_open(const char *path, unsigned max_routes, char *err, size_t errlen);
struct mx_metrics *mx_metrics_open_read(const char *path, char *err, size_t errlen);
void mx_metrics_close(struct mx_metrics *m);
unsigned mx_metrics_route(struct mx_metrics *m, const char *label);
void mx_metrics_delivery(struct mx_metrics *m, unsigned route, enum mx_metrics_result message,
			 const unsigned rcpts[MX_METRICS_RESULTS], long long duration_ms,
			 int reached, time_t now);
void mx_metrics_callout(struct mx_metrics *m, unsigned route, enum mx_metrics_callout result);
void mx_metrics_config(struct mx_metrics *m, enum mx_metrics_daemon daemon, bool ok,
		       uint64_t config_id, time_t now);
unsigned mx_metrics_routes_used(const struct mx_metrics *m);
bool mx_metrics_write(const struct mx_metrics *m, FILE *fp);
bool mx_metrics_write_textfile(const struct mx_metrics *m, const char *path, char *err,
			       size_t errlen);
void mx_metrics_trouble(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
