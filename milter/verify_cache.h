/* verify_cache - what the customers' servers said of recipients, and which servers are down */
#ifndef MX_VERIFY_CACHE_H
#define MX_VERIFY_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "route_cache.h"

#define VERIFY_KEY_MAX 1000 /* a longer recipient is asked every time, never kept */

/* what is remembered of a recipient */
enum verify_status {
	VERIFY_ACCEPTED,     /* 2xx to RCPT */
	VERIFY_REJECTED,     /* 5xx to RCPT: text is the server's */
	VERIFY_UNVERIFIABLE, /* anything else: never kept per recipient */
};

bool verify_cache_rcpt_key(const char *rcpt, char *key, size_t keylen);
bool verify_cache_get(struct route_cache *c, const char *key, time_t now,
		      enum verify_status *status, char *text, size_t textlen);
void verify_cache_put(struct route_cache *c, const char *key, time_t expires,
		      enum verify_status status, const char *text);
bool verify_cache_down(struct route_cache *c, const char *domain, time_t now, char *why,
		       size_t whylen);
void verify_cache_mark_down(struct route_cache *c, const char *domain, time_t until,
			    const char *why);

#endif
