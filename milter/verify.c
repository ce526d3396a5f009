/*
 * verify - before a recipient of a forwarded domain is accepted, ask the
 * domain's server (the route's targets in order, at their ports, with the
 * route's TLS rules and the destination guard, as the transport would
 * deliver) whether it would take it: MAIL FROM:<>, RCPT TO, QUIT. 2xx:
 * accepted; 5xx: refused here with the server's words, so the relay never
 * takes mail it would have to bounce (no backscatter); anything else says
 * nothing of the recipient (the relay's job is to queue while the server
 * is down): accepted, or 451 with verify_unreachable = tempfail. Answers
 * are kept (verify_cache.c). Called by the milter's RCPT callback and by
 * the socketmap's verify table, from many threads at once.
 *
 * Thread safety of the SMTP client (libmxsmtp): a session keeps all its
 * state in its own structures (struct session, smtp_conn, smtp_result, on
 * the caller's stack); the route context is read-only apart from its
 * cache, which has its own lock; OpenSSL 3 keeps its error queue per
 * thread. What is shared and was not safe is the SSL_CTX: loading CAs and
 * SSL_CTX_dane_enable() write to it (tls_handshake() calls the latter for
 * every DANE session), so one context is made here, once, under a lock,
 * with CAs loaded and DANE enabled before any thread uses it; afterwards
 * SSL_CTX_dane_enable() finds it enabled and writes nothing.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain.h"
#include "loopguard.h"
#include "msg.h"
#include "smtp_conn.h"
#include "tls.h"
#include "tlsa.h"
#include "util.h"
#include "milter_metrics.h"
#include "verify.h"

/*
 * Callouts in progress, per domain: a server that takes the connection and
 * never answers holds each callout for up to twice verify_timeout, and with
 * it an smtpd (milter) or a socketmap connection (which cannot be closed
 * to make room while it is in a lookup). Without a bound an outside sender
 * that opens many sessions with a RCPT each to that domain holds all of
 * Postfix's smtpd processes. Beyond the bound a recipient is not asked: it
 * is unverifiable, as if the server were down (accepted, or 451).
 */
#define VERIFY_DOMAIN_CALLOUTS 4  /* at once for one domain */
#define VERIFY_CALLOUT_DOMAINS 64 /* domains with callouts at once: the total is bounded too */

struct inflight {
	char domain[MX_DOMAIN_MAX];
	unsigned count; /* 0: a free entry */
};

struct verify_ctx {
	pthread_mutex_t lock; /* for the TLS context's making and the callouts in progress */
	SSL_CTX *tls;
	bool tls_made;
	char helo[256];
	struct route_cache *cache;
	struct inflight inflight[VERIFY_CALLOUT_DOMAINS];
};

/* one callout: the last address tried and what came of it */
struct callout {
	char relay[320];
	char why[600]; /* why nothing was learned of the recipient */
	bool answered; /* the server replied to RCPT: res holds it */
	bool asked;    /* a callout was made (not over the bound of those in progress) */
	bool of_rcpt;  /* what failed came of the recipient (its words, a RCPT without
			  an answer), not of the server: the domain is not marked down */
	struct smtp_result res;
};

/* verify_ctx_new - the cache and the HELO name; the TLS context is made when first needed */
struct verify_ctx *verify_ctx_new(const struct mx_config *cfg)
{
	struct verify_ctx *vc = mx_calloc(1, sizeof(*vc));

	pthread_mutex_init(&vc->lock, NULL);
	mx_helo_name(cfg, vc->helo, sizeof(vc->helo));
	vc->cache = route_cache_new(cfg->verify_cache_size);
	return vc;
}

/* verify_ctx_free - release (nobody uses it any more) */
void verify_ctx_free(struct verify_ctx *vc)
{
	if (vc == NULL)
		return;
	SSL_CTX_free(vc->tls);
	route_cache_free(vc->cache);
	pthread_mutex_destroy(&vc->lock);
	free(vc);
}

/* tls_for - the one TLS context, made whole before it is shared (see the top) */
static SSL_CTX *tls_for(struct verify_ctx *vc, const struct mx_config *cfg)
{
	SSL_CTX *ctx;

	pthread_mutex_lock(&vc->lock);
	if (!vc->tls_made) {
		char err[256];

		vc->tls_made = true;
		vc->tls = tls_ctx_new();
		if (vc->tls && !tls_ctx_load_cas(vc->tls, cfg->tls_ca_file, err, sizeof(err)))
			msg_warn("verify: %s: routes with tls=verify cannot be verified", err);
		if (vc->tls && SSL_CTX_dane_enable(vc->tls) <= 0)
			msg_warn("verify: cannot enable DANE in the TLS context");
	}
	ctx = vc->tls;
	pthread_mutex_unlock(&vc->lock);
	return ctx;
}

/*
 * verify_reply_text - the server's words for the sending client, on one
 * line without codes (smtp_reply_text), cut to outlen at most; '%' (a
 * format character to Sendmail) becomes '?'
 */
void verify_reply_text(const struct smtp_reply *r, char *out, size_t outlen)
{
	smtp_reply_text(r, out, outlen);
	for (char *p = out; outlen && *p; p++)
		if (*p == '%')
			*p = '?';
}

/*
 * verify_classify - what a server's answer says of the recipient: only a
 * reply to RCPT says anything; 2xx accepted, 5xx rejected (the server's
 * text and enhanced code), 4xx (a 452, greylisting) unverifiable
 */
void verify_classify(const struct smtp_result *res, struct verify_answer *out)
{
	char line[SMTP_REPLY_TEXT];

	out->status = VERIFY_UNVERIFIABLE;
	if (!res->have_reply || res->stage != STAGE_RCPT) {
		snprintf(out->text, sizeof(out->text), "%s",
			 res->have_reply ? res->reply.text : res->why);
		mx_printable(out->text);
		return;
	}
	switch (res->reply.code / 100) {
	case 2:
		out->status = VERIFY_ACCEPTED;
		verify_reply_text(&res->reply, out->text, sizeof(out->text));
		break;
	case 5:
		out->status = VERIFY_REJECTED;
		if (res->reply.enh[0] == '5')
			mx_strlcpy(out->dsn, res->reply.enh, sizeof(out->dsn));
		else
			mx_strlcpy(out->dsn, "5.1.1", sizeof(out->dsn));
		verify_reply_text(&res->reply, out->text, sizeof(out->text));
		if (out->text[0] == '\0')
			mx_strlcpy(out->text, "recipient refused by its domain's server",
				   sizeof(out->text));
		break;
	default:
		smtp_reply_oneline(&res->reply, line, sizeof(line));
		snprintf(out->text, sizeof(out->text), "%s (in reply to RCPT TO command)", line);
		break;
	}
}

/* verify_decide - the answer to the sending client: 550, 451 (tempfail) or accept */
void verify_decide(const struct mx_config *cfg, struct verify_answer *out)
{
	out->refuse = false;
	if (out->status == VERIFY_REJECTED) {
		out->refuse = true;
		mx_strlcpy(out->code, "550", sizeof(out->code));
		if (out->dsn[0] != '5')
			mx_strlcpy(out->dsn, "5.1.1", sizeof(out->dsn));
	} else if (out->status == VERIFY_UNVERIFIABLE &&
		   cfg->verify_unreachable == MX_VERIFY_TEMPFAIL) {
		out->refuse = true;
		mx_strlcpy(out->code, "451", sizeof(out->code));
		mx_strlcpy(out->dsn, "4.4.1", sizeof(out->dsn));
		mx_strlcpy(out->text,
			   "Recipient cannot be verified with its domain's server now; try again "
			   "later",
			   sizeof(out->text));
	}
}

/* ask - one address: a session that asks, and a plain-text one after TLS failed (tls=may) */
static void ask(struct verify_ctx *vc, const struct mx_config *cfg, const struct route_target *t,
		int mode, const struct tlsa_set *dane, const struct route_addr *a, const char *rcpt,
		long long limit, struct callout *co)
{
	struct smtp_rcpt sr = {.addr = rcpt};
	struct smtp_request req;

	smtp_request_init(&req, t, a);
	req.sender = "";
	req.rcpts = &sr;
	req.nrcpts = 1;
	req.helo_name = vc->helo;
	req.tls_mode = mode;
	req.dane = dane;
	req.connect_timeout_ms = req.command_timeout_ms = req.data_done_timeout_ms =
		cfg->verify_timeout * 1000;
	req.limit_ms = limit;
	req.verify_only = true;
	if (mode != MX_TLS_NONE || t->implicit_tls) {
		req.tls_ctx = tls_for(vc, cfg);
		if (req.tls_ctx == NULL) {
			snprintf(co->why, sizeof(co->why), "%s: no TLS context", co->relay);
			return;
		}
	}
	smtp_deliver(&req, &co->res);
	if (co->res.verdict == SMTP_NEXT && co->res.tls_failed && mode == MX_TLS_MAY &&
	    !t->implicit_tls) {
		req.plain_fallback = true;
		smtp_deliver(&req, &co->res);
	}
	smtp_rcpts_free(&sr, 1);
	co->answered = co->res.have_reply && co->res.stage == STAGE_RCPT;
	/*
	 * The sender chooses the recipient: one whose bytes this client will not
	 * send (4.6.7 without SMTPUTF8), or that makes the server drop or stall
	 * after RCPT, must not make every recipient of the domain unverifiable.
	 */
	co->of_rcpt = !co->answered &&
		      (co->res.stage >= STAGE_RCPT ||
		       (!co->res.have_reply &&
			(strcmp(co->res.dsn, "4.1.3") == 0 || strcmp(co->res.dsn, "4.6.7") == 0)));
	if (!co->answered) {
		if (co->res.have_reply) {
			char line[SMTP_REPLY_TEXT];

			smtp_reply_oneline(&co->res.reply, line, sizeof(line));
			snprintf(co->why, sizeof(co->why), "host %s said: %s (in reply to %s)",
				 co->relay, line, smtp_stage_command(co->res.stage));
		} else {
			snprintf(co->why, sizeof(co->why), "%s: %s", co->relay, co->res.why);
		}
	}
}

/*
 * dane_mode - tls=dane for one target, as the transport does: secure TLSA
 * records make a match mandatory (*dane holds them); none, or insecure
 * ones, leave opportunistic TLS. False when the lookup failed for now.
 */
static bool dane_mode(struct route_ctx *routes, const struct route_target *t, int *mode,
		      struct tlsa_set *dane, struct callout *co)
{
	*mode = MX_TLS_MAY;
	if (t->literal)
		return true;
	tlsa_lookup(routes, t->host, t->port, dane);
	if (dane->status == ROUTE_RETRY) {
		snprintf(co->why, sizeof(co->why), "%s: TLSA lookup for DANE: %s", t->host,
			 dane->reason);
		return false;
	}
	if (dane->status == ROUTE_OK && dane->secure)
		*mode = MX_TLS_DANE;
	else
		tlsa_set_clear(dane);
	return true;
}

/*
 * callout - the route's targets in order, each one's addresses, within
 * max_targets, max_addresses and twice verify_timeout in all, until a
 * server answers RCPT. A route to this host's own MTA is not asked (its
 * smtpd would ask this milter again).
 */
static void callout(struct verify_ctx *vc, const struct mx_config *cfg, struct route_ctx *routes,
		    const struct route *r, const char *rcpt, struct callout *co)
{
	long long limit = mx_now_ms() + 2LL * cfg->verify_timeout * 1000;
	unsigned tried = 0;

	mx_strlcpy(co->relay, "none", sizeof(co->relay));
	mx_strlcpy(co->why, "no target of the route could be tried", sizeof(co->why));
	for (size_t ti = 0; ti < r->ntargets && !co->answered; ti++) {
		const struct route_target *t = &r->targets[ti];
		int mode = route_effective_tls(routes, t);
		bool dane_checked = mode != MX_TLS_DANE;
		struct tlsa_set dane = {.status = ROUTE_NOTFOUND};
		struct route_addrs addrs;

		if ((cfg->max_targets && ti >= cfg->max_targets) || mx_now_ms() >= limit)
			break;
		route_resolve(routes, t, &addrs);
		if (addrs.status != ROUTE_OK)
			snprintf(co->why, sizeof(co->why), "%s: %s", t->host, addrs.reason);
		for (size_t ai = 0; addrs.status == ROUTE_OK && ai < addrs.count; ai++) {
			const struct route_addr *a = &addrs.addrs[ai];

			snprintf(co->relay, sizeof(co->relay), "%s[%s]:%u", t->host, a->text,
				 t->port);
			if (loopguard_is_self((const struct sockaddr *)&a->sa, cfg->local_ports)) {
				snprintf(co->why, sizeof(co->why),
					 "%s is this host's MTA: not asked", co->relay);
				ti = r->ntargets;
				break;
			}
			if (a->refused) {
				snprintf(co->why, sizeof(co->why), "%s: destination guard: %s",
					 co->relay, a->why);
				continue;
			}
			if ((cfg->max_addresses && tried >= cfg->max_addresses) ||
			    mx_now_ms() >= limit) {
				ti = r->ntargets;
				break;
			}
			if (!dane_checked) {
				dane_checked = true;
				if (!dane_mode(routes, t, &mode, &dane, co))
					break;
			}
			tried++;
			ask(vc, cfg, t, mode, dane.count ? &dane : NULL, a, rcpt, limit, co);
			if (co->answered)
				break;
		}
		tlsa_set_clear(&dane);
		route_addrs_clear(&addrs);
	}
}

/* inflight_enter - one more callout to the domain's server, unless too many are under way */
static bool inflight_enter(struct verify_ctx *vc, const char *domain)
{
	struct inflight *mine = NULL, *free_one = NULL;
	bool ok = false;

	pthread_mutex_lock(&vc->lock);
	for (size_t i = 0; i < VERIFY_CALLOUT_DOMAINS && mine == NULL; i++) {
		struct inflight *f = &vc->inflight[i];

		if (f->count && strcmp(f->domain, domain) == 0)
			mine = f;
		else if (!f->count && free_one == NULL)
			free_one = f;
	}
	if (mine == NULL && free_one != NULL) {
		mine = free_one;
		mx_strlcpy(mine->domain, domain, sizeof(mine->domain));
	}
	if (mine != NULL && mine->count < VERIFY_DOMAIN_CALLOUTS) {
		mine->count++;
		ok = true;
	}
	pthread_mutex_unlock(&vc->lock);
	return ok;
}

/* inflight_leave - that callout is over */
static void inflight_leave(struct verify_ctx *vc, const char *domain)
{
	pthread_mutex_lock(&vc->lock);
	for (size_t i = 0; i < VERIFY_CALLOUT_DOMAINS; i++) {
		struct inflight *f = &vc->inflight[i];

		if (f->count && strcmp(f->domain, domain) == 0) {
			f->count--;
			break;
		}
	}
	pthread_mutex_unlock(&vc->lock);
}

/* remember - keep what the server said; a server that said nothing: its domain, briefly */
static void remember(struct verify_ctx *vc, const struct mx_config *cfg, const char *key,
		     const char *domain, const struct verify_answer *out, bool server_down)
{
	time_t now = time(NULL);
	char text[VERIFY_TEXT_MAX + 20];

	if (out->status == VERIFY_ACCEPTED && key && cfg->verify_positive_lifetime)
		verify_cache_put(vc->cache, key, now + cfg->verify_positive_lifetime,
				 VERIFY_ACCEPTED, "");
	/*
	 * Only an address status (5.1.X, or no enhanced code) is kept: a 5.7.1
	 * "your IP is blocked" or a rate limit speaks of the relay, and a sender
	 * who made the server say it (a dictionary attack) would otherwise have
	 * real users refused for verify_negative_lifetime.
	 */
	if (out->status == VERIFY_REJECTED && key && cfg->verify_negative_lifetime &&
	    strncmp(out->dsn, "5.1.", 4) == 0) {
		snprintf(text, sizeof(text), "%s %s", out->dsn, out->text);
		verify_cache_put(vc->cache, key, now + cfg->verify_negative_lifetime,
				 VERIFY_REJECTED, text);
	}
	if (out->status == VERIFY_UNVERIFIABLE && server_down && cfg->verify_unreachable_lifetime)
		verify_cache_mark_down(vc->cache, domain, now + cfg->verify_unreachable_lifetime,
				       out->text);
}

/* from_cache - a remembered answer: the recipient's, or its domain's server being down */
static bool from_cache(struct verify_ctx *vc, const char *key, const char *domain,
		       struct verify_answer *out)
{
	time_t now = time(NULL);
	char text[VERIFY_TEXT_MAX + 20];

	if (key && verify_cache_get(vc->cache, key, now, &out->status, text, sizeof(text))) {
		const char *sp = strchr(text, ' ');

		if (out->status == VERIFY_REJECTED && sp) {
			snprintf(out->dsn, sizeof(out->dsn), "%.*s", (int)(sp - text), text);
			mx_strlcpy(out->text, sp + 1, sizeof(out->text));
		}
		return true;
	}
	if (verify_cache_down(vc->cache, domain, now, text, sizeof(text))) {
		out->status = VERIFY_UNVERIFIABLE;
		snprintf(out->text, sizeof(out->text), "%s (remembered)", text);
		return true;
	}
	return false;
}

/*
 * verify_recipient - what to answer for rcpt, a recipient of a forwarded
 * domain (normalized) whose route is r: from the cache, else by asking its
 * server (one log line per callout, in Postfix's shape)
 */
void verify_recipient(struct verify_ctx *vc, const struct mx_config *cfg, struct route_ctx *routes,
		      const struct route *r, const char *domain, const char *rcpt,
		      struct verify_answer *out)
{
	char keybuf[VERIFY_KEY_MAX + 8], shown[300];
	const char *key = verify_cache_rcpt_key(rcpt, keybuf, sizeof(keybuf)) ? keybuf : NULL;
	long long t0 = mx_now_ms();
	struct callout *co;

	memset(out, 0, sizeof(*out));
	if (from_cache(vc, key, domain, out)) {
		out->cached = true;
		verify_decide(cfg, out);
		return;
	}
	co = mx_calloc(1, sizeof(*co));
	if (inflight_enter(vc, domain)) {
		co->asked = true;
		callout(vc, cfg, routes, r, rcpt, co);
		inflight_leave(vc, domain);
	} else {
		mx_strlcpy(co->relay, "none", sizeof(co->relay));
		snprintf(co->why, sizeof(co->why),
			 "%d callouts to the domain's server are in progress, or callouts to %d "
			 "domains: not asked",
			 VERIFY_DOMAIN_CALLOUTS, VERIFY_CALLOUT_DOMAINS);
	}
	if (co->answered) {
		verify_classify(&co->res, out);
	} else {
		out->status = VERIFY_UNVERIFIABLE;
		mx_strlcpy(out->text, co->why, sizeof(out->text));
	}
	snprintf(shown, sizeof(shown), "%s", rcpt);
	mx_printable(shown);
	msg_info("verify <%s>: relay=%s, delay=%.2f, status=%s (%s%s%s)", shown, co->relay,
		 (double)(mx_now_ms() - t0) / 1000.0,
		 out->status == VERIFY_ACCEPTED	  ? "accepted"
		 : out->status == VERIFY_REJECTED ? "rejected"
						  : "unverifiable",
		 out->status == VERIFY_REJECTED ? out->dsn : "",
		 out->status == VERIFY_REJECTED ? " " : "", out->text);
	remember(vc, cfg, key, domain, out, co->asked && !co->answered && !co->of_rcpt);
	if (co->asked)
		milter_metrics_callout(r, out->status);
	free(co);
	verify_decide(cfg, out);
}

/*
 * verify_socketmap - the socketmap's verify table (Postfix's
 * check_recipient_access): for a recipient of a forwarded domain whose
 * route wants it verified, "OK 550 5.1.1 <the server's words>" or, with
 * verify_unreachable = tempfail, "OK 451 4.4.1 ..."; "OK DUNNO" when it
 * may pass; NOTFOUND for anything else, which the other restrictions
 * decide (relay_domains, the relay check).
 */
size_t verify_socketmap(struct verify_ctx *vc, const struct mx_config *cfg,
			struct route_ctx *routes, const char *addr, size_t len, char *reply,
			size_t replylen)
{
	char *rcpt = mx_strndup(addr, len), domain[MX_DOMAIN_MAX * 2], norm[MX_DOMAIN_MAX],
	     err[128];
	struct verify_answer va = {.refuse = false};
	struct route r;
	size_t n;

	if (strlen(rcpt) != len || rcpt[0] == '@' ||
	    !mx_address_domain(rcpt, domain, sizeof(domain)) ||
	    !mx_domain_normalize(domain, norm, sizeof(norm), err, sizeof(err))) {
		free(rcpt);
		return (size_t)snprintf(reply, replylen, "NOTFOUND ");
	}
	route_lookup(routes, norm, &r);
	if (r.status != ROUTE_OK || !route_verify_wanted(&r, cfg->verify_recipients)) {
		route_clear(&r);
		free(rcpt);
		return (size_t)snprintf(reply, replylen, "NOTFOUND ");
	}
	verify_recipient(vc, cfg, routes, &r, norm, rcpt, &va);
	route_clear(&r);
	free(rcpt);
	if (!va.refuse)
		return (size_t)snprintf(reply, replylen, "OK DUNNO");
	n = (size_t)snprintf(reply, replylen, "OK %s %s %s", va.code, va.dsn, va.text);
	return n < replylen ? n : replylen - 1;
}
