/* verify - ask the customer's server at RCPT whether it takes a recipient (callout) */
#ifndef MX_VERIFY_H
#define MX_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "mxconfig.h"
#include "route.h"
#include "route_lookup.h"
#include "smtp_session.h"
#include "verify_cache.h"

#define VERIFY_TEXT_MAX 320 /* the server's words that reach the sending client */

/* what the relay answers the sending client, and why */
struct verify_answer {
	enum verify_status status;
	bool refuse;		    /* refuse the recipient: code, dsn and text say how */
	char code[4];		    /* "550" or "451" */
	char dsn[16];		    /* 5.1.1 or the server's own 5.X.X; 4.4.X */
	char text[VERIFY_TEXT_MAX]; /* the server's text (rejected) or why (unverifiable) */
	bool cached;		    /* answered from the cache: nobody was asked */
};

struct verify_ctx;

struct verify_ctx *verify_ctx_new(const struct mx_config *cfg);
void verify_ctx_free(struct verify_ctx *vc);
void verify_recipient(struct verify_ctx *vc, const struct mx_config *cfg, struct route_ctx *routes,
		      const struct route *r, const char *domain, const char *rcpt,
		      struct verify_answer *out);
size_t verify_socketmap(struct verify_ctx *vc, const struct mx_config *cfg,
			struct route_ctx *routes, const char *addr, size_t len, char *reply,
			size_t replylen);
void verify_classify(const struct smtp_result *res, struct verify_answer *out);
void verify_decide(const struct mx_config *cfg, struct verify_answer *out);
void verify_reply_text(const struct smtp_reply *r, char *out, size_t outlen);

#endif
