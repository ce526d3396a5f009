/* socketmap - Postfix/Sendmail socketmap lookups of forwarded domains (relay, transport) */
#ifndef MX_SOCKETMAP_H
#define MX_SOCKETMAP_H

#include <stddef.h>

#include "route.h"

typedef enum route_status (*socketmap_lookup_fn)(const char *domain, char *reason,
						 size_t reasonlen);

size_t socketmap_answer(const char *request, size_t len, socketmap_lookup_fn lookup,
			const char *mailer, char *reply, size_t replylen);
int socketmap_start(int fd, socketmap_lookup_fn lookup, const char *(*mailer)(void));

#endif
