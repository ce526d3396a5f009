/* route_cache - TTL-bound, size-bound cache of route and address lookups, for many threads */
#ifndef MX_ROUTE_CACHE_H
#define MX_ROUTE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "route.h"

/* what an entry may hold; a larger answer is used but not kept (route_cache.c) */
#define ROUTE_CACHE_ITEMS_MAX 16  /* targets of a route, addresses of a host */
#define ROUTE_CACHE_NOTE_MAX  512 /* bytes of a note's text */

struct route_cache;

struct route_cache *route_cache_new(size_t max_entries);
void route_cache_free(struct route_cache *c);
bool route_cache_get_route(struct route_cache *c, const char *key, time_t now, struct route *out);
void route_cache_put_route(struct route_cache *c, const char *key, time_t expires,
			   const struct route *r);
bool route_cache_get_addrs(struct route_cache *c, const char *key, time_t now,
			   struct route_addrs *out);
void route_cache_put_addrs(struct route_cache *c, const char *key, time_t expires,
			   const struct route_addrs *a);
bool route_cache_get_note(struct route_cache *c, const char *key, time_t now, int *value,
			  char *text, size_t textlen);
void route_cache_put_note(struct route_cache *c, const char *key, time_t expires, int value,
			  const char *text);
size_t route_cache_count(struct route_cache *c);

#endif
