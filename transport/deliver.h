/* deliver - route a domain's recipients at delivery time and try its targets in order */
#ifndef MX_DELIVER_H
#define MX_DELIVER_H

#include <openssl/ssl.h>

#include "message.h"
#include "mxconfig.h"
#include "outcome.h"
#include "route_lookup.h"
#include "errlist.h"
#include "secrets.h"
#include "smtp_session.h"

struct transport_core;

/* transport - one message's delivery, on a core that holds what outlives it */
struct transport {
	struct transport_core *core; /* the TLS context is the core's */
	const struct mx_config *cfg;
	struct route_ctx *routes;
	struct secrets *secrets;
	const char *queue_id;
	const char *sender;
	const struct message *msg;
	char helo_name[256];
	long long start_ms;
	long long limit_ms;
	struct smtp_cache *cache;	 /* a session kept from the last message, or NULL */
	const struct xforward *xforward; /* the original client (checked), or NULL */
};

void deliver_domain(struct transport *t, const char *domain, struct rcpt_outcome *rcpts, size_t n);
void deliver_message(struct transport *t, struct rcpt_outcome *out, size_t n);
void deliver_log(const struct transport *t, const struct rcpt_outcome *o);

#endif
