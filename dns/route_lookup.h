/* route_lookup - domain to route: routes file first, then SRV records; and target addresses */
#ifndef MX_ROUTE_LOOKUP_H
#define MX_ROUTE_LOOKUP_H

#include "errlist.h"
#include "mxconfig.h"
#include "route.h"

struct route_ctx;
struct dns_client;

struct route_ctx *route_ctx_new(const struct mx_config *cfg, struct mx_errlist *errs);
struct route_ctx *route_ctx_new_partial(const struct mx_config *cfg, struct mx_errlist *errs,
					size_t *file_errors);
void route_ctx_free(struct route_ctx *ctx);
struct routes_file;
const struct routes_file *route_ctx_routes(const struct route_ctx *ctx);
struct routes_index;
const struct routes_index *route_ctx_index(const struct route_ctx *ctx);
struct notify_map;
const struct notify_map *route_ctx_notify(const struct route_ctx *ctx);
const struct dns_client *route_ctx_dns(const struct route_ctx *ctx);
void route_ctx_set_rand(struct route_ctx *ctx, route_rand_fn rnd, void *arg);
struct route_shared;
void route_ctx_set_shared(struct route_ctx *ctx, struct route_shared *sh, const char *tag);
void route_lookup(struct route_ctx *ctx, const char *domain, struct route *out);
void route_lookup_mx(struct route_ctx *ctx, const char *domain, struct route *out);
void route_resolve(struct route_ctx *ctx, const struct route_target *t, struct route_addrs *out);
int route_effective_tls(const struct route_ctx *ctx, const struct route_target *t);

#endif
