/* socketmap - Postfix/Sendmail socketmap lookups of forwarded domains (relay, transport) */
#ifndef MX_SOCKETMAP_H
#define MX_SOCKETMAP_H

#include <stddef.h>

#include "route.h"

typedef enum route_status (*socketmap_lookup_fn)(const char *domain, char *reason,
						 size_t reasonlen);

/* verify: the whole answer for a recipient address (len bytes, not terminated) */
typedef size_t (*socketmap_verify_fn)(const char *addr, size_t len, char *reply, size_t replylen);

/* What the configuration says to answer for a forwarded domain. */
struct socketmap_values {
	char mailer[64];	    /* mailertable: "<mailer>:domain" */
	char transport[300];	    /* transport: "transport:nexthop" */
	socketmap_verify_fn verify; /* verify: NULL when not served */
};
typedef void (*socketmap_values_fn)(struct socketmap_values *values);

size_t socketmap_answer(const char *request, size_t len, socketmap_lookup_fn lookup,
			const struct socketmap_values *values, char *reply, size_t replylen);
int socketmap_start(int fd, socketmap_lookup_fn lookup, socketmap_values_fn values,
		    unsigned max_clients, unsigned idle_timeout);

#endif
