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
#include "route_walk.h"
#include "msg.h"
#include "shared_state.h"
#include "smtp_conn.h"
#include "tls.h"
#include "tlsa.h"
#include "status.h"
#include "util.h"
#include "milter_metrics.h"
#include "verify.h"

/*
 * Bounds of the callouts in progress. A server that takes the connection
 * and never answers holds each callout for up to twice verify_timeout, and
 * with it an smtpd (milter) or a socketmap connection; so what is in
 * progress is bounded, per next hop as Postfix's queue manager bounds its
 * deliveries: per server address (the route's target, at its port) and per
 * route (the routes-file line, ".parent" and all its subdomains being one;
 * the domain asked in DNS for an SRV route), never per recipient domain,
 * which a sender chooses. Routes found in DNS (dns_routes = yes: any
 * outsider can publish SRV records, to a tarpit or to a customer's server)
 * have a share of their own, counted apart: half a server's callouts and
 * VERIFY_DNS_CALLOUTS in all, so that no set of domains an outsider
 * controls takes what the routes file's customers have. A recipient
 * beyond a bound is not asked: unverifiable (accepted, or 451), logged
 * relay=none, and the bound's warning is logged once a minute at most.
 */
#define VERIFY_HOP_CALLOUTS	4   /* at once to one server address (routes file) */
#define VERIFY_HOP_DNS_CALLOUTS 2   /* at once to one server address, for routes from DNS */
#define VERIFY_ROUTE_CALLOUTS	4   /* at once for one route */
#define VERIFY_DNS_CALLOUTS	32  /* at once for all routes from DNS */
#define VERIFY_CALLOUTS		128 /* at once in all: sockets and threads held */
#define VERIFY_SLOTS		(2 * VERIFY_CALLOUTS) /* a callout holds a route's and a server's */
#define VERIFY_RATES		4096 /* rate counters (routes and servers asked this minute) */
#define VERIFY_KEY		(MX_DOMAIN_MAX + 80)
#define STR_(x)			#x
#define MX_STR(x)		STR_(x)

/* the bounds whose reaching is logged, once a minute */
enum verify_bound {
	BOUND_ROUTE,
	BOUND_SERVER,
	BOUND_DNS,
	BOUND_TOTAL,
	BOUND_ROUTE_RATE,
	BOUND_SERVER_RATE,
	BOUND_RATES_FULL,
	BOUND_COUNT,
};

static const char *const bound_names[BOUND_COUNT] = {
	"callouts in progress for one route (" MX_STR(VERIFY_ROUTE_CALLOUTS) ")",
	"callouts in progress to one server (" MX_STR(VERIFY_HOP_CALLOUTS) ", " MX_STR(
		VERIFY_HOP_DNS_CALLOUTS) " for routes from DNS)",
	"callouts in progress for routes from DNS (" MX_STR(VERIFY_DNS_CALLOUTS) ")",
	"callouts in progress (" MX_STR(VERIFY_CALLOUTS) ")",
	"verify_route_rate",
	"verify_server_rate",
	"rate counters (" MX_STR(VERIFY_RATES) "): a new route or server is not rate limited",
};

/* what is in progress for one route ("r:NAME") or server ("s:CLASS:ADDR:PORT") */
struct slot {
	char key[VERIFY_KEY];
	unsigned count; /* 0: a free entry */
};

/* callouts to one route or server in the current minute */
struct rate {
	char key[VERIFY_KEY];
	long minute; /* time / 60 of the count; another: a free entry */
	unsigned count;
};

struct verify_ctx {
	pthread_mutex_t lock; /* for the TLS context's making, the bounds and the counters */
	SSL_CTX *tls;
	bool tls_made;
	char helo[256];
	struct route_cache *cache;    /* refused recipients, servers down */
	struct route_cache *accepted; /* accepted recipients: what unknown ones cannot evict */
	struct slot slots[VERIFY_SLOTS];
	unsigned in_progress, in_progress_dns;
	struct rate *rates; /* VERIFY_RATES */
	time_t logged[BOUND_COUNT];
	unsigned unlogged[BOUND_COUNT]; /* hits since the last line */
};

/* one callout: the last address tried and what came of it */
struct callout {
	char relay[320];
	char why[600];	 /* why nothing was learned of the recipient */
	bool answered;	 /* the server replied to RCPT: res holds it */
	bool asked;	 /* a callout was made (not over the bound of those in progress) */
	bool remembered; /* a server was passed over: remembered down (from the cache) */
	bool of_rcpt;	 /* what failed came of the recipient (its words, a RCPT without
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
	vc->accepted = route_cache_new(cfg->verify_cache_size);
	vc->rates = mx_calloc(VERIFY_RATES, sizeof(*vc->rates));
	return vc;
}

/* verify_ctx_free - release (nobody uses it any more) */
void verify_ctx_free(struct verify_ctx *vc)
{
	if (vc == NULL)
		return;
	SSL_CTX_free(vc->tls);
	route_cache_free(vc->cache);
	route_cache_free(vc->accepted);
	free(vc->rates);
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
			mx_strlcpy(out->dsn, mx_status_dsn(MX_ST_UNKNOWN_USER), sizeof(out->dsn));
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
		snprintf(out->code, sizeof(out->code), "%d", mx_status(MX_ST_UNKNOWN_USER)->reply);
		if (out->dsn[0] != '5')
			mx_strlcpy(out->dsn, mx_status_dsn(MX_ST_UNKNOWN_USER), sizeof(out->dsn));
	} else if (out->status == VERIFY_UNVERIFIABLE &&
		   cfg->verify_unreachable == MX_VERIFY_TEMPFAIL) {
		out->refuse = true;
		snprintf(out->code, sizeof(out->code), "%d", mx_status(MX_ST_UNVERIFIABLE)->reply);
		mx_strlcpy(out->dsn, mx_status_dsn(MX_ST_UNVERIFIABLE), sizeof(out->dsn));
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
	smtp_attempt(&req, &co->res, NULL, 0);
	smtp_rcpts_free(&sr, 1);
	co->answered = co->res.have_reply && co->res.stage == STAGE_RCPT;
	/*
	 * The sender chooses the recipient: one whose bytes this client will not
	 * send (4.6.7 without SMTPUTF8), or that makes the server drop or stall
	 * after RCPT, must not make every recipient of the domain unverifiable.
	 */
	co->of_rcpt = !co->answered &&
		      (co->res.stage >= STAGE_RCPT ||
		       (co->res.own_failure && (co->res.failure == MX_ST_NOT_ASKED ||
						co->res.failure == MX_ST_UTF8_NOT_ASKED)));
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
 * bound_hit - a bound was reached: a warning, once a minute at most, with
 * the count of hits since the last one (the caller holds the lock; the
 * line is written after it is released: *line)
 */
static void bound_hit(struct verify_ctx *vc, enum verify_bound which, const char *key, char *line,
		      size_t linelen)
{
	time_t now = time(NULL);

	vc->unlogged[which]++;
	if (line[0] != '\0' || now - vc->logged[which] < 60)
		return;
	snprintf(line, linelen,
		 "verify: bound reached: %s (%s; %u time%s in the last minute): "
		 "recipients beyond it are not asked",
		 bound_names[which], key, vc->unlogged[which], vc->unlogged[which] == 1 ? "" : "s");
	mx_printable(line);
	vc->logged[which] = now;
	vc->unlogged[which] = 0;
}

/* slot_find - the entry in progress for key, or a free one (NULL: none; cannot be, see
 * VERIFY_SLOTS) */
static struct slot *slot_find(struct verify_ctx *vc, const char *key)
{
	struct slot *free_one = NULL;

	for (size_t i = 0; i < VERIFY_SLOTS; i++) {
		struct slot *f = &vc->slots[i];

		if (f->count && strcmp(f->key, key) == 0)
			return f;
		if (!f->count && free_one == NULL)
			free_one = f;
	}
	if (free_one)
		mx_strlcpy(free_one->key, key, sizeof(free_one->key));
	return free_one;
}

/* slot_leave - one callout less for key */
static void slot_leave(struct verify_ctx *vc, const char *key)
{
	for (size_t i = 0; i < VERIFY_SLOTS; i++) {
		struct slot *f = &vc->slots[i];

		if (f->count && strcmp(f->key, key) == 0) {
			f->count--;
			return;
		}
	}
}

/*
 * rate_take - one callout more for key this minute, unless limit were
 * passed (0: no limit). Counters of an earlier minute are reused; with all
 * VERIFY_RATES in use this minute a new key is not limited (the bounds of
 * what is in progress still hold): logged.
 */
static bool rate_take(struct verify_ctx *vc, const char *key, unsigned limit, char *line,
		      size_t linelen)
{
	long minute = (long)(time(NULL) / 60);
	struct rate *free_one = NULL;

	if (limit == 0)
		return true;
	if (shared_state_on()) { /* the fleet's count; memcached failing: this relay's own */
		char skey[sizeof(vc->rates[0].key) + 40];
		unsigned long long n;

		snprintf(skey, sizeof(skey), "mxport:rate:%s:%ld", key, minute);
		if (shared_state_count(skey, 120, &n) == SS_OK)
			return n <= limit;
	}
	for (size_t i = 0; i < VERIFY_RATES; i++) {
		struct rate *r = &vc->rates[i];

		if (r->minute == minute && strcmp(r->key, key) == 0) {
			if (r->count >= limit)
				return false;
			r->count++;
			return true;
		}
		if (r->minute != minute && free_one == NULL)
			free_one = r;
	}
	if (free_one == NULL) {
		bound_hit(vc, BOUND_RATES_FULL, key, line, linelen);
		return true;
	}
	mx_strlcpy(free_one->key, key, sizeof(free_one->key));
	free_one->minute = minute;
	free_one->count = 1;
	return true;
}

/* route_key - the key of what is kept per route: its name, else its origin */
static void route_key(const struct route *r, char *key, size_t keylen)
{
	snprintf(key, keylen, "r:%s", r->name[0] ? r->name : r->origin);
}

/* from_dns - the route came from DNS: its share is the outsiders' (see the top) */
static bool from_dns(const struct route *r)
{
	return r->source != ROUTE_SRC_FILE;
}

/*
 * route_enter - one more callout for route r, within its bound, the DNS
 * routes' share, the total and verify_route_rate; false (why set) if not
 */
static bool route_enter(struct verify_ctx *vc, const struct mx_config *cfg, const struct route *r,
			char *why, size_t whylen)
{
	char key[VERIFY_KEY], line[600] = "";
	bool dns = from_dns(r), ok = false;
	struct slot *f;

	route_key(r, key, sizeof(key));
	pthread_mutex_lock(&vc->lock);
	f = slot_find(vc, key);
	if (vc->in_progress >= VERIFY_CALLOUTS || f == NULL) {
		bound_hit(vc, BOUND_TOTAL, key + 2, line, sizeof(line));
		snprintf(why, whylen, "%d callouts in progress: not asked", VERIFY_CALLOUTS);
	} else if (dns && vc->in_progress_dns >= VERIFY_DNS_CALLOUTS) {
		bound_hit(vc, BOUND_DNS, key + 2, line, sizeof(line));
		snprintf(why, whylen, "%d callouts for routes from DNS in progress: not asked",
			 VERIFY_DNS_CALLOUTS);
	} else if (f->count >= VERIFY_ROUTE_CALLOUTS) {
		bound_hit(vc, BOUND_ROUTE, key + 2, line, sizeof(line));
		snprintf(why, whylen, "%d callouts for the route in progress: not asked",
			 VERIFY_ROUTE_CALLOUTS);
	} else if (!rate_take(vc, key, cfg->verify_route_rate, line, sizeof(line))) {
		bound_hit(vc, BOUND_ROUTE_RATE, key + 2, line, sizeof(line));
		snprintf(why, whylen,
			 "%u callouts for the route in this minute (verify_route_rate): "
			 "not asked",
			 cfg->verify_route_rate);
	} else {
		f->count++;
		vc->in_progress++;
		vc->in_progress_dns += dns;
		ok = true;
	}
	pthread_mutex_unlock(&vc->lock);
	if (line[0])
		msg_warn("%s", line);
	return ok;
}

/* route_leave - that callout for route r is over */
static void route_leave(struct verify_ctx *vc, const struct route *r)
{
	char key[VERIFY_KEY];

	route_key(r, key, sizeof(key));
	pthread_mutex_lock(&vc->lock);
	slot_leave(vc, key);
	vc->in_progress--;
	vc->in_progress_dns -= from_dns(r);
	pthread_mutex_unlock(&vc->lock);
}

/* server_key - "s:f:ADDR:PORT" (routes file) or "s:d:ADDR:PORT" (routes from DNS) */
static void server_key(const struct route *r, const struct route_addr *a, unsigned port, char *key,
		       size_t keylen)
{
	snprintf(key, keylen, "s:%c:[%s]:%u", from_dns(r) ? 'd' : 'f', a->text, port);
}

/*
 * server_enter - one more callout to the server at a (port), within its
 * bound and verify_server_rate (both halved, and counted apart, for routes
 * from DNS); false (co->why set) if not
 */
static bool server_enter(struct verify_ctx *vc, const struct mx_config *cfg, const struct route *r,
			 const char *key, struct callout *co)
{
	bool dns = from_dns(r), ok = false;
	unsigned bound = dns ? VERIFY_HOP_DNS_CALLOUTS : VERIFY_HOP_CALLOUTS;
	unsigned rate = cfg->verify_server_rate;
	char line[600] = "";
	struct slot *f;

	if (dns && rate)
		rate = rate / 2 ? rate / 2 : 1;
	pthread_mutex_lock(&vc->lock);
	f = slot_find(vc, key);
	if (f == NULL || f->count >= bound) {
		bound_hit(vc, BOUND_SERVER, key + 4, line, sizeof(line));
		snprintf(co->why, sizeof(co->why),
			 "%s: %u callouts to the server in progress: not asked", co->relay, bound);
	} else if (!rate_take(vc, key, rate, line, sizeof(line))) {
		bound_hit(vc, BOUND_SERVER_RATE, key + 4, line, sizeof(line));
		snprintf(co->why, sizeof(co->why),
			 "%s: %u callouts to the server in this minute (verify_server_rate%s): not "
			 "asked",
			 co->relay, rate, dns ? ", halved for routes from DNS" : "");
	} else {
		f->count++;
		ok = true;
	}
	pthread_mutex_unlock(&vc->lock);
	if (line[0])
		msg_warn("%s", line);
	return ok;
}

/* server_leave - that callout to the server is over */
static void server_leave(struct verify_ctx *vc, const char *key)
{
	pthread_mutex_lock(&vc->lock);
	slot_leave(vc, key);
	pthread_mutex_unlock(&vc->lock);
}

/* verify_walk - one callout's way through the route walk */
struct verify_walk {
	struct verify_ctx *vc;
	const struct mx_config *cfg;
	const struct route *r;
	const char *rcpt;
	long long limit;
	struct callout *co;
};

/*
 * callout_attempt - ask at one address the walk cleared: unless its server
 * is remembered down or at its bounds; a server that fails (not over
 * something of the recipient's) is remembered down
 */
static enum walk_verdict callout_attempt(void *arg, const struct walk_address *wa)
{
	struct verify_walk *vw = arg;
	struct callout *co = vw->co;
	char skey[VERIFY_KEY], down[VERIFY_TEXT_MAX + 20];

	mx_strlcpy(co->relay, wa->relay, sizeof(co->relay));
	server_key(vw->r, wa->addr, wa->target->port, skey, sizeof(skey));
	if (verify_cache_down(vw->vc->cache, skey + 4, time(NULL), down, sizeof(down))) {
		snprintf(co->why, sizeof(co->why), "%s (remembered)", down);
		co->remembered = true;
		return WALK_NEXT;
	}
	if (!server_enter(vw->vc, vw->cfg, vw->r, skey, co))
		return WALK_NEXT;
	co->asked = true;
	ask(vw->vc, vw->cfg, wa->target, wa->tls_mode, wa->dane, wa->addr, vw->rcpt, vw->limit, co);
	server_leave(vw->vc, skey);
	if (co->answered)
		return WALK_DONE;
	if (!co->of_rcpt && vw->cfg->verify_unreachable_lifetime)
		verify_cache_mark_down(vw->vc->cache, skey + 4,
				       time(NULL) + vw->cfg->verify_unreachable_lifetime, co->why);
	return co->res.verdict == SMTP_NEXT && co->res.stage >= STAGE_AUTH ? WALK_NEXT_SESSION
									   : WALK_NEXT;
}

/* callout_failed - a failure of the walk's own, as the callout's reason */
static void callout_failed(void *arg, enum mx_status status, const char *relay, const char *why)
{
	struct verify_walk *vw = arg;
	struct callout *co = vw->co;

	if (status == MX_ST_GUARDED)
		snprintf(co->why, sizeof(co->why), "%s: destination guard: %s", relay, why);
	else if (status == MX_ST_TLS_FAILED)
		snprintf(co->why, sizeof(co->why), "%s: TLSA lookup for DANE: %s", relay, why);
	else
		snprintf(co->why, sizeof(co->why), "%s: %s", relay, why);
}

/*
 * callout - the route walk (smtp/route_walk.c, as the transport walks it:
 * its order, its guards, max_targets, max_addresses and max_sessions),
 * within twice verify_timeout in all, until a server answers RCPT. A route
 * to this host's own MTA is not asked (its smtpd would ask this milter
 * again). A server that is remembered down, or at its bounds, is passed
 * over; one that fails is remembered down for verify_unreachable_lifetime:
 * per server address, whatever domain it was asked for.
 */
static void callout(struct verify_ctx *vc, const struct mx_config *cfg, struct route_ctx *routes,
		    const struct route *r, const char *rcpt, struct callout *co)
{
	static const struct walk_ops ops = {callout_attempt, callout_failed, NULL};
	struct verify_walk vw = {.vc = vc,
				 .cfg = cfg,
				 .r = r,
				 .rcpt = rcpt,
				 .limit = mx_now_ms() + 2LL * cfg->verify_timeout * 1000,
				 .co = co};
	struct walk_limits lim = {.max_targets = cfg->max_targets,
				  .max_addresses = cfg->max_addresses,
				  .max_sessions = cfg->max_sessions,
				  .deadline_ms = vw.limit,
				  .local_ports = cfg->local_ports};
	struct walk_result w;

	mx_strlcpy(co->relay, "none", sizeof(co->relay));
	mx_strlcpy(co->why, "no target of the route could be tried", sizeof(co->why));
	route_walk(routes, r, &lim, &ops, &vw, &w);
	if (w.end == WALK_LOOP) {
		mx_strlcpy(co->relay, w.relay, sizeof(co->relay));
		snprintf(co->why, sizeof(co->why), "%s is this host's MTA: not asked", co->relay);
	}
}

/*
 * With shared_state, a recipient's answer is kept in memcached too, under
 * mxport:verify:KEY for its lifetime: "A" (accepted) or "DSN TEXT"
 * (refused), so that one callout serves every relay. Looked up after this
 * relay's own cache; memcached failing: not kept, not found (a callout).
 */

/* shared_put - the answer kept for the fleet */
static void shared_put(const char *key, const char *value, unsigned lifetime)
{
	char skey[VERIFY_KEY_MAX + 32];

	snprintf(skey, sizeof(skey), "mxport:verify:%s", key);
	(void)shared_state_set(skey, value, lifetime);
}

/* shared_get - the fleet's answer, if a relay has one */
static bool shared_get(const char *key, struct verify_answer *out)
{
	char skey[VERIFY_KEY_MAX + 32], v[VERIFY_TEXT_MAX + 20];
	const char *sp;

	snprintf(skey, sizeof(skey), "mxport:verify:%s", key);
	if (shared_state_get(skey, v, sizeof(v)) != SS_OK)
		return false;
	if (strcmp(v, "A") == 0) {
		out->status = VERIFY_ACCEPTED;
		return true;
	}
	/* Only what remember() stores: "5.1.N TEXT"; the text goes into a reply, so printable. */
	if ((sp = strchr(v, ' ')) == NULL || strncmp(v, "5.1.", 4) != 0 || sp - v > 7 ||
	    strspn(v + 4, "0123456789") != (size_t)(sp - v - 4) || sp - v == 4)
		return false;
	out->status = VERIFY_REJECTED;
	snprintf(out->dsn, sizeof(out->dsn), "%.*s", (int)(sp - v), v);
	mx_strlcpy(out->text, sp + 1, sizeof(out->text));
	mx_printable(out->text);
	return true;
}

/* remember - keep what the server said of the recipient */
static void remember(struct verify_ctx *vc, const struct mx_config *cfg, const char *key,
		     const struct verify_answer *out)
{
	time_t now = time(NULL);
	char text[VERIFY_TEXT_MAX + 20];

	/* Accepted ones are kept apart: a dictionary attack's refusals never push them out. */
	if (out->status == VERIFY_ACCEPTED && key && cfg->verify_positive_lifetime) {
		verify_cache_put(vc->accepted, key, now + cfg->verify_positive_lifetime,
				 VERIFY_ACCEPTED, "");
		shared_put(key, "A", cfg->verify_positive_lifetime);
	}
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
		shared_put(key, text, cfg->verify_negative_lifetime);
	}
}

/* from_cache - a remembered answer of the recipient's */
static bool from_cache(struct verify_ctx *vc, const char *key, struct verify_answer *out)
{
	time_t now = time(NULL);
	char text[VERIFY_TEXT_MAX + 20];

	if (key == NULL)
		return false;
	if (verify_cache_get(vc->accepted, key, now, &out->status, text, sizeof(text)))
		return true;
	if (verify_cache_get(vc->cache, key, now, &out->status, text, sizeof(text))) {
		const char *sp = strchr(text, ' ');

		if (out->status == VERIFY_REJECTED && sp) {
			snprintf(out->dsn, sizeof(out->dsn), "%.*s", (int)(sp - text), text);
			mx_strlcpy(out->text, sp + 1, sizeof(out->text));
		}
		return true;
	}
	return shared_get(key, out);
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

	(void)domain; /* the route, not the recipient's domain, is what is bounded */
	memset(out, 0, sizeof(*out));
	shared_state_setup(cfg->shared_state, cfg->shared_state_timeout, cfg->shared_state_retry,
			   NULL);
	if (from_cache(vc, key, out)) {
		out->cached = true;
		verify_decide(cfg, out);
		return;
	}
	co = mx_calloc(1, sizeof(*co));
	mx_strlcpy(co->relay, "none", sizeof(co->relay));
	if (route_enter(vc, cfg, r, co->why, sizeof(co->why))) {
		callout(vc, cfg, routes, r, rcpt, co);
		route_leave(vc, r);
	}
	if (!co->asked)
		mx_strlcpy(co->relay, "none", sizeof(co->relay));
	if (co->answered) {
		verify_classify(&co->res, out);
	} else {
		out->status = VERIFY_UNVERIFIABLE;
		mx_strlcpy(out->text, co->why, sizeof(out->text));
	}
	/* Answers from the cache are not logged; a server remembered down is of the cache. */
	if (co->asked || !co->remembered) {
		snprintf(shown, sizeof(shown), "%s", rcpt);
		mx_printable(shown);
		msg_info("verify <%s>: relay=%s, delay=%.2f, status=%s (%s%s%s)", shown, co->relay,
			 (double)(mx_now_ms() - t0) / 1000.0,
			 out->status == VERIFY_ACCEPTED	  ? "accepted"
			 : out->status == VERIFY_REJECTED ? "rejected"
							  : "unverifiable",
			 out->status == VERIFY_REJECTED ? out->dsn : "",
			 out->status == VERIFY_REJECTED ? " " : "", out->text);
	} else {
		out->cached = true;
	}
	remember(vc, cfg, key, out);
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
