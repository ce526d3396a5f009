/* deliver - route a domain's recipients at delivery time and try its targets in order */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "deliver.h"
#include "metrics.h"
#include "msg.h"
#include "notify.h"
#include "policy.h"
#include "route_walk.h"
#include "smtp_session.h"
#include "tls.h"
#include "tlsa.h"
#include "util.h"

/* the trace field of every copy this relay sends: "domain by helo_name" (see deliver_domain) */
#define LOOP_FIELD "X-Loop-Mxport"

/* what a domain's attempts came to so far */
struct attempt_state {
	bool have;	       /* some attempt or lookup failed */
	enum rcpt_state state; /* what the last failure means if nothing better comes */
	char dsn[16];
	char text[1200];
	char relay[320];
	char tls[48];
};

/* domain_walk - one domain's recipients on their way through the route walk */
struct domain_walk {
	struct transport *t;
	const char *domain;
	struct rcpt_outcome *r;
	struct smtp_rcpt *sr;
	size_t n;
	struct attempt_state as; /* the latest failure */
};

/* vremember - keep the latest failure (a later one describes the end of the road) */
static void vremember(struct attempt_state *as, enum rcpt_state state, const char *dsn,
		      const char *relay, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));
static void vremember(struct attempt_state *as, enum rcpt_state state, const char *dsn,
		      const char *relay, const char *fmt, va_list ap)
{
	as->have = true;
	as->state = state;
	mx_strlcpy(as->dsn, dsn, sizeof(as->dsn));
	mx_strlcpy(as->relay, relay, sizeof(as->relay));
	as->tls[0] = '\0';
	vsnprintf(as->text, sizeof(as->text), fmt, ap);
}

/* remember - keep a server's refusal as the latest failure */
static void remember(struct attempt_state *as, enum rcpt_state state, const char *dsn,
		     const char *relay, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void remember(struct attempt_state *as, enum rcpt_state state, const char *dsn,
		     const char *relay, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vremember(as, state, dsn, relay, fmt, ap);
	va_end(ap);
}

/* remember_status - keep a failure of mxport's own (a row of the status table) as the latest */
static void remember_status(struct attempt_state *as, enum mx_status status, const char *relay,
			    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void remember_status(struct attempt_state *as, enum mx_status status, const char *relay,
			    const char *fmt, ...)
{
	const struct mx_status_row *row = mx_status(status);
	va_list ap;

	va_start(ap, fmt);
	vremember(as, outcome_state_of(row->fate), row->dsn, relay, fmt, ap);
	va_end(ap);
}

/* set_all - every recipient of the domain not settled yet gets the same outcome */
static void set_all(struct rcpt_outcome *r, size_t n, enum rcpt_state state, const char *dsn,
		    const char *relay, const char *tls, const char *text)
{
	for (size_t i = 0; i < n; i++) {
		if (r[i].state != RCPT_PENDING)
			continue;
		outcome_set(&r[i], state, dsn, "%s", text);
		mx_strlcpy(r[i].relay, relay, sizeof(r[i].relay));
		mx_strlcpy(r[i].tls, tls, sizeof(r[i].tls));
	}
}

/* set_policy - every pending recipient gets a status row's code and fate */
static void set_policy(struct rcpt_outcome *r, size_t n, enum mx_status status, const char *relay,
		       const char *text)
{
	const struct mx_status_row *row = mx_status(status);
	enum rcpt_state state = outcome_state_of(row->fate);

	char dsn[16];

	/* Nothing was delivered here: a row that says "deliver" must not read as sent. */
	mx_strlcpy(dsn, row->dsn, sizeof(dsn));
	if (state == RCPT_SENT) {
		state = RCPT_DEFER;
		mx_dsn_deferred(dsn);
	}
	set_all(r, n, state, dsn, relay, "", text);
}

/* tls_ctx_for - the run's TLS context, with CAs loaded once a route wants verification */
static SSL_CTX *tls_ctx_for(struct transport *t, int mode, char *err, size_t errlen)
{
	struct transport_core *core = t->core;

	if (core->tls_ctx == NULL && (core->tls_ctx = tls_ctx_new()) == NULL) {
		snprintf(err, errlen, "cannot create a TLS context");
		return NULL;
	}
	if (mode >= MX_TLS_VERIFY && !core->cas_loaded) {
		if (!tls_ctx_load_cas(core->tls_ctx, t->cfg->tls_ca_file, err, errlen))
			return NULL;
		core->cas_loaded = true;
	}
	return core->tls_ctx;
}

/* reply_text - Postfix's words for a server's refusal (rcpt: for a reply to RCPT TO) */
static void reply_text(const char *reply, enum smtp_stage stage, const char *relay,
		       const char *rcpt, char *out, size_t outlen)
{
	if (rcpt)
		snprintf(out, outlen, "<%s>: host %s said: %s (in reply to %s)", rcpt, relay, reply,
			 smtp_stage_command(stage));
	else
		snprintf(out, outlen, "host %s said: %s (in reply to %s)", relay, reply,
			 smtp_stage_command(stage));
}

/* failure_text - a failure that is not a reply */
static void failure_text(const char *why, enum smtp_stage stage, const char *dsn, const char *relay,
			 char *out, size_t outlen)
{
	if (stage == STAGE_CONNECT)
		snprintf(out, outlen, "connect to %s: %s", relay, why);
	else if (stage == STAGE_DOT && dsn[0] == '4' && strstr(why, "sending") == NULL)
		snprintf(out, outlen, "%s: %s -- message may be sent more than once", relay, why);
	else
		snprintf(out, outlen, "%s: %s", relay, why);
}

/* result_text - the text of an attempt that ended for the recipients still pending */
static void result_text(const struct smtp_result *res, const char *relay, char *out, size_t outlen)
{
	char line[SMTP_REPLY_TEXT];

	if (res->have_reply) {
		smtp_reply_oneline(&res->reply, line, sizeof(line));
		reply_text(line, res->stage, relay, NULL, out, outlen);
	} else {
		failure_text(res->why, res->stage, res->dsn, relay, out, outlen);
	}
}

/*
 * settle_outcomes - the recipients that this attempt settled, each by its
 * own reply (RFC 5321: one refused recipient never holds back the others).
 */
static void settle_outcomes(const struct smtp_rcpt *sr, const char *relay, const char *tls,
			    unsigned conn_use, struct rcpt_outcome *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char text[1200], dsn[16];
		enum rcpt_state state = sr[i].state;

		if (r[i].state != RCPT_PENDING || state == RCPT_PENDING)
			continue;
		mx_strlcpy(dsn, sr[i].dsn, sizeof(dsn));
		if (state == RCPT_DEFER)
			mx_dsn_deferred(dsn);
		if (state == RCPT_SENT)
			mx_strlcpy(text, sr[i].text, sizeof(text));
		else if (sr[i].is_reply)
			reply_text(sr[i].text, sr[i].stage, relay,
				   sr[i].stage == STAGE_RCPT ? r[i].rcpt : NULL, text,
				   sizeof(text));
		else
			failure_text(sr[i].text, sr[i].stage, dsn, relay, text, sizeof(text));
		outcome_set(&r[i], state, dsn, "%s", text);
		r[i].rcpt_reply = sr[i].is_reply && sr[i].stage == STAGE_RCPT;
		mx_strlcpy(r[i].relay, relay, sizeof(r[i].relay));
		mx_strlcpy(r[i].tls, tls, sizeof(r[i].tls));
		r[i].conn_use = conn_use;
	}
}

/*
 * try_address - one attempt (and a plain-text retry for tls=may after a
 * failed handshake) for the recipients still pending: the route walk's
 * attempt. Done when none is left pending (each sent or final).
 */
static enum walk_verdict try_address(void *arg, const struct walk_address *wa)
{
	struct domain_walk *dw = arg;
	struct transport *t = dw->t;
	const struct route_target *target = wa->target;
	const char *domain = dw->domain, *relay = wa->relay;
	struct rcpt_outcome *r = dw->r;
	struct smtp_rcpt *sr = dw->sr;
	size_t n = dw->n;
	struct attempt_state *as = &dw->as;
	int tls_mode = wa->tls_mode;
	const struct secret *cred = NULL;
	struct smtp_request req;
	struct smtp_result res;
	char text[1200], err[256], first[SMTP_REPLY_TEXT];
	int auth_tls = MX_TLS_NONE;

	if (t->secrets)
		cred = secrets_find(t->secrets, target->host, target->literal, target->port,
				    domain);
	if (t->secrets && t->secrets->broken) {
		/* Without the route's credentials its server could refuse the mail for good. */
		remember_status(as, MX_ST_CONFIG, relay,
				"%s: the secrets file cannot be read (its index is damaged and the "
				"file has errors; logged)",
				t->cfg->secrets_file);
		return WALK_NEXT;
	}
	if (cred && tls_mode != MX_TLS_NONE) {
		/*
		 * The password leaves only over TLS that is at least auth_tls
		 * (verify by default: a checked certificate, or DANE). tls=none
		 * stays none, and auth() then refuses to send AUTH at all.
		 */
		auth_tls = cred->auth_tls >= 0				  ? cred->auth_tls
			   : t->cfg->auth_tls_mode == MX_AUTH_TLS_ENCRYPT ? MX_TLS_ENCRYPT
									  : MX_TLS_VERIFY;
		if (tls_mode < auth_tls)
			tls_mode = auth_tls;
		else
			auth_tls = MX_TLS_NONE; /* the route's own mode is enough */
	}
	smtp_request_init(&req, target, wa->addr);
	req.msg = t->msg;
	req.sender = t->sender;
	req.rcpts = sr;
	req.nrcpts = n;
	req.rcpt_limit = t->cfg->transaction_recipient_limit;
	req.helo_name = t->helo_name;
	req.dane = wa->dane;
	req.tls_mode = tls_mode;
	req.auth_user = cred ? cred->user : NULL;
	req.auth_pass = cred ? cred->pass : NULL;
	req.connect_timeout_ms = t->cfg->connect_timeout * 1000;
	req.command_timeout_ms = t->cfg->command_timeout * 1000;
	req.data_done_timeout_ms = t->cfg->data_done_timeout * 1000;
	req.limit_ms = t->limit_ms;
	if (tls_mode != MX_TLS_NONE || target->implicit_tls) {
		req.tls_ctx = tls_ctx_for(t, tls_mode, err, sizeof(err));
		if (req.tls_ctx == NULL) {
			msg_error("%s: %s", t->queue_id, err);
			remember_status(as, MX_ST_TLS_FAILED, relay, "TLS set-up failed: %s", err);
			return WALK_NEXT;
		}
	}
	req.cache = t->cache;
	req.xforward = t->xforward;
	smtp_attempt(&req, &res, first, sizeof(first));
	if (req.plain_fallback)
		msg_info("%s: %s: TLS failed (%s); trying again without TLS", t->queue_id, relay,
			 first);

	if (res.xforward_refused[0])
		msg_warn("%s: %s refused XFORWARD (sent without the original client): %s",
			 t->queue_id, relay, res.xforward_refused);
	if (res.tls_used)
		msg_info("%s: %s TLS connection established to %s: %s with cipher %s", t->queue_id,
			 res.tls.dane ? "DANE-verified"
				      : (res.tls.verified ? "Verified" : "Untrusted"),
			 relay, res.tls.protocol, res.tls.cipher);
	char tls[48] = "";
	if (res.tls_used)
		snprintf(tls, sizeof(tls), "%s%s", res.tls.protocol,
			 res.tls.dane ? "/DANE" : (res.tls.verified ? "/verified" : ""));
	settle_outcomes(sr, relay, tls, res.conn_use, r, n);
	if (outcome_count(r, n, RCPT_PENDING) == 0)
		return WALK_DONE;
	result_text(&res, relay, text, sizeof(text));
	if (auth_tls != MX_TLS_NONE && res.verdict == SMTP_NEXT && res.stage <= STAGE_TLS &&
	    strncmp(res.dsn, "4.7.", 4) == 0) {
		/* TLS fell short of what the credentials need: say so, not only why. */
		char why[SMTP_REPLY_TEXT];

		if (res.have_reply)
			smtp_reply_oneline(&res.reply, why, sizeof(why));
		else
			mx_strlcpy(why, res.why, sizeof(why));
		snprintf(text, sizeof(text),
			 "%s: AUTH not sent: the credentials for this route (%s line %d) are sent "
			 "only over TLS with %s (auth_tls_mode, or auth_tls= in the secrets "
			 "file): %s",
			 relay, t->cfg->secrets_file, cred->line,
			 auth_tls == MX_TLS_ENCRYPT ? "encryption" : "a verified certificate", why);
	}

	switch (res.verdict) {
	case SMTP_TEMP:
	case SMTP_PERM: {
		enum rcpt_state st = res.verdict == SMTP_PERM ? RCPT_BOUNCE : RCPT_DEFER;
		char dsn[16];

		mx_strlcpy(dsn, res.dsn, sizeof(dsn));
		if (st == RCPT_DEFER)
			mx_dsn_deferred(dsn);
		set_all(r, n, st, dsn, relay, tls, text);
		return WALK_DONE;
	}
	case SMTP_SENT: /* nothing failed, yet some are pending: cannot be; try elsewhere */
	case SMTP_NEXT:
		msg_info("%s: %s", t->queue_id, text);
		remember(as, res.dsn[0] == '5' ? RCPT_BOUNCE : RCPT_DEFER, res.dsn, relay, "%s",
			 text);
		mx_strlcpy(as->tls, tls, sizeof(as->tls));
		return res.verdict == SMTP_NEXT && res.stage >= STAGE_AUTH ? WALK_NEXT_SESSION
									   : WALK_NEXT;
	}
	return WALK_NEXT;
}

/* walk_failed - a failure of the walk's own, kept as the latest and logged */
static void walk_failed(void *arg, enum mx_status status, const char *relay, const char *why)
{
	struct domain_walk *dw = arg;
	const char *qid = dw->t->queue_id;

	switch (status) {
	case MX_ST_GUARDED:
		msg_warn("%s: %s: destination guard: %s", qid, relay, why);
		remember_status(&dw->as, status, relay, "route refused: %s", why);
		break;
	case MX_ST_TLS_FAILED:
		msg_info("%s: %s: TLSA lookup: %s", qid, relay, why);
		remember_status(&dw->as, status, relay, "TLSA lookup for DANE: %s", why);
		break;
	default: /* a target host without an address: relay is the host */
		msg_info("%s: %s: %s", qid, relay, why);
		remember_status(&dw->as, status, "none", "%s", why);
		break;
	}
}

/* walk_note - an informational line of the walk's */
static void walk_note(void *arg, const char *relay, const char *text)
{
	struct domain_walk *dw = arg;

	msg_info("%s: %s: %s", dw->t->queue_id, relay, text);
}

/*
 * try_route - the route walk (smtp/route_walk.c) over the route's targets
 * and addresses within max_targets, max_addresses, max_sessions and the
 * delivery time limit, then what the end of the road means. mx says the
 * route is the domain's ordinary MX route (not a forwarding route).
 */
static void try_route(struct transport *t, const struct route *route, bool mx, const char *domain,
		      struct rcpt_outcome *r, size_t n)
{
	static const struct walk_ops ops = {try_address, walk_failed, walk_note};
	struct domain_walk dw = {.t = t, .domain = domain, .r = r, .n = n, .as = {.have = false}};
	struct walk_limits lim = {.max_targets = t->cfg->max_targets,
				  .max_addresses = t->cfg->max_addresses,
				  .max_sessions = t->cfg->max_sessions,
				  .deadline_ms = t->limit_ms,
				  .local_ports = t->cfg->local_ports};
	struct walk_result w;
	struct attempt_state *as = &dw.as;

	dw.sr = mx_calloc(n ? n : 1, sizeof(*dw.sr));
	for (size_t i = 0; i < n; i++)
		dw.sr[i].addr = r[i].rcpt;
	route_walk(t->routes, route, &lim, &ops, &dw, &w);

	if (w.end == WALK_SETTLED) {
		/* each recipient has its result */
	} else if (w.end == WALK_LOOP) {
		char text[600];

		snprintf(text, sizeof(text),
			 "mail for %s loops back to myself (%s is this host's MTA)", domain,
			 w.relay);
		set_policy(r, n, MX_ST_LOOP, w.relay, text);
	} else if (w.end == WALK_DEADLINE) {
		set_policy(
			r, n, MX_ST_TIME_LIMIT, as->have ? as->relay : "none",
			"delivery time limit reached (delivery_time_limit); will try again later");
	} else if (w.end == WALK_LIMIT) {
		/*
		 * More of the route was left: whatever the last server said, the
		 * others may take the mail. Defer, naming the limit.
		 */
		char text[sizeof(as->text) + 200], dsn[16];

		if (!as->have)
			remember_status(as, MX_ST_NO_TARGET, "none", "no target could be tried");
		mx_strlcpy(dsn, as->dsn, sizeof(dsn));
		mx_dsn_deferred(dsn);
		snprintf(text, sizeof(text),
			 "%s (%s = %u reached: the rest of the route was not tried)", as->text,
			 w.limit, w.limit_value);
		msg_warn("%s: route of %s: %s = %u reached after %u targets, %u addresses; the "
			 "rest of the route was not tried",
			 t->queue_id, domain, w.limit, w.limit_value, w.targets, w.addresses);
		set_all(r, n, RCPT_DEFER, dsn, as->relay, as->tls, text);
	} else if (mx && w.hosts_without_address == route->ntargets) {
		/* RFC 5321: no MX host with an address means the domain cannot take mail. */
		set_policy(r, n, route->ntargets == 1 ? MX_ST_NO_DOMAIN : MX_ST_NO_HOSTS, "none",
			   as->text);
	} else {
		if (!as->have)
			remember_status(as, MX_ST_NO_TARGET, "none",
					"no target of the route could be tried");
		set_all(r, n, as->state, as->dsn, as->relay, as->tls, as->text);
	}
	smtp_rcpts_free(dw.sr, n);
	free(dw.sr);
}

/*
 * count_delivery - the route's numbers (lib/metrics.c): labelled by the
 * route's own name (the routes file's domain, ".parent" for a wildcard
 * entry; the SRV domain), never by a recipient's domain the route did not
 * name; "_mx" for mail delivered by MX, "_unrouted" when no route was found.
 * The message counts as deferred when any recipient was, else delivered
 * when any was, else bounced. Only a route whose targets were tried says
 * whether its server is reached.
 */
static void count_delivery(struct transport *t, const struct route *route, bool by_mx,
			   const struct rcpt_outcome *r, size_t n, long long start_ms)
{
	struct mx_metrics *m = t->core ? t->core->metrics : NULL;
	unsigned rcpts[MX_METRICS_RESULTS] = {0, 0, 0};
	enum mx_metrics_result result;
	const char *label;
	int reached = -1;

	if (m == NULL || n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (r[i].state == RCPT_SENT)
			rcpts[MX_METRICS_DELIVERED]++;
		else if (r[i].state == RCPT_BOUNCE)
			rcpts[MX_METRICS_BOUNCED]++;
		else
			rcpts[MX_METRICS_DEFERRED]++;
	}
	result = rcpts[MX_METRICS_DEFERRED]    ? MX_METRICS_DEFERRED
		 : rcpts[MX_METRICS_DELIVERED] ? MX_METRICS_DELIVERED
					       : MX_METRICS_BOUNCED;
	if (by_mx)
		label = "_mx";
	else if ((route->status == ROUTE_OK || route->status == ROUTE_NOSERVICE) && *route->name)
		label = route->name;
	else
		label = "_unrouted";
	if (route->status == ROUTE_OK)
		reached = result != MX_METRICS_DEFERRED;
	mx_metrics_delivery(m, mx_metrics_route(m, label), result, rcpts, mx_now_ms() - start_ms,
			    reached, time(NULL));
}

/*
 * route_domain - the recipients of one domain. The route is looked up
 * now, not when the mail arrived: DNS or the routes file may have changed
 * while the message waited in the queue.
 */
static void route_domain(struct transport *t, const char *domain, struct rcpt_outcome *r, size_t n)
{
	struct route route;
	bool by_mx = false;
	long long start_ms = mx_now_ms();

	route_lookup(t->routes, domain, &route);
	if (route.status == ROUTE_FAIL)
		msg_warn("%s: bad route for %s: %s", t->queue_id, domain, route.reason);
	if (route.status == ROUTE_NOTFOUND) {
		/* Not (or no longer) forwarded: deliver it the ordinary way, by MX. */
		route_clear(&route);
		route_lookup_mx(t->routes, domain, &route);
		by_mx = true;
	}
	if (route.status == ROUTE_OK)
		try_route(t, &route, by_mx, domain, r, n);
	else
		set_policy(r, n, mx_route_outcome(route.status, by_mx), "none", route.reason);
	notify_outcome(t, domain, &route, by_mx, r, n);
	count_delivery(t, &route, by_mx, r, n, start_ms);
	route_clear(&route);
}

/* loop_value - "domain by relay": what LOOP_FIELD says for this domain and this relay */
static void loop_value(const struct transport *t, const char *domain, char *out, size_t outlen)
{
	char id[sizeof(t->helo_name)];
	size_t i;

	/* helo_name is the admin's, but a header line must stay one printable line */
	for (i = 0; t->helo_name[i] && i + 1 < sizeof(id); i++)
		id[i] = (t->helo_name[i] > ' ' && t->helo_name[i] < 0x7f) ? t->helo_name[i] : '?';
	id[i] = '\0';
	snprintf(out, outlen, "%s by %s", domain, *id ? id : "localhost");
}

/*
 * deliver_domain - the recipients of one domain, unless the message has
 * been here for this domain before. Each copy this relay sends carries
 * LOOP_FIELD "domain by helo_name"; when that copy comes back (a route to
 * another port of this host's MTA, or a customer's server that sends the
 * domain's mail back here), it still carries the field and bounces with
 * 5.4.6 on its first return, before any route is tried. Other domains'
 * fields do not count: mail that one customer forwards to another
 * customer of this relay is no loop.
 */
void deliver_domain(struct transport *t, const char *domain, struct rcpt_outcome *r, size_t n)
{
	const struct message *orig = t->msg;
	struct message stamped;
	char value[MX_DOMAIN_MAX + sizeof(t->helo_name) + 8], field[sizeof(value) + 32];

	loop_value(t, domain, value, sizeof(value));
	if (message_has_field(orig, LOOP_FIELD, value)) {
		char text[sizeof(value) + 200];

		snprintf(text, sizeof(text),
			 "mail for %s loops back to myself (it carries %s: %s: this relay has "
			 "forwarded it for this domain before)",
			 domain, LOOP_FIELD, value);
		set_policy(r, n, MX_ST_LOOP, "none", text);
		return;
	}
	snprintf(field, sizeof(field), "%s: %s", LOOP_FIELD, value);
	message_add_field(orig, field, &stamped);
	t->msg = &stamped;
	route_domain(t, domain, r, n);
	t->msg = orig;
	free(stamped.data);
}

/* deliver_log - the one line per recipient, in Postfix's shape */
void deliver_log(const struct transport *t, const struct rcpt_outcome *o)
{
	double delay = (double)(mx_now_ms() - t->start_ms) / 1000.0;

	char conn_use[32] = "";

	if (o->conn_use > 1)
		snprintf(conn_use, sizeof(conn_use), ", conn_use=%u", o->conn_use);
	msg_info("%s: to=<%s>, relay=%s%s, delay=%.1f, tls=%s, dsn=%s, status=%s (%s)", t->queue_id,
		 o->rcpt, o->relay, conn_use, delay, o->tls[0] ? o->tls : "none", o->dsn,
		 outcome_state_name(o->state), o->text);
}

/*
 * deliver_message - every recipient of one message (out[i].rcpt set, state
 * PENDING), grouped by domain in the order given: one SMTP transaction per
 * domain. Each recipient gets its outcome and its log line.
 */
void deliver_message(struct transport *t, struct rcpt_outcome *out, size_t n)
{
	/* not cleared: each entry is written before it is read (1.6 KB a recipient) */
	char(*domains)[MX_DOMAIN_MAX] = mx_malloc((n ? n : 1) * sizeof(*domains));
	struct rcpt_outcome *group = mx_malloc((n ? n : 1) * sizeof(*group));
	size_t *index = mx_malloc((n ? n : 1) * sizeof(*index));
	char err[256];

	for (size_t i = 0; i < n; i++) {
		char raw_domain[MX_DOMAIN_MAX * 2];
		if (!mx_address_domain(out[i].rcpt, raw_domain, sizeof(raw_domain)) ||
		    !mx_domain_normalize(raw_domain, domains[i], sizeof(domains[i]), err,
					 sizeof(err))) {
			outcome_status(&out[i], MX_ST_BAD_RECIPIENT,
				       "<%s>: bad recipient address syntax", out[i].rcpt);
			mx_strlcpy(out[i].relay, "none", sizeof(out[i].relay));
		}
	}
	for (size_t i = 0; i < n; i++) {
		size_t g = 0;

		if (out[i].state != RCPT_PENDING)
			continue;
		for (size_t j = i; j < n; j++) {
			if (out[j].state == RCPT_PENDING && strcmp(domains[j], domains[i]) == 0) {
				group[g] = out[j];
				index[g++] = j;
			}
		}
		deliver_domain(t, domains[i], group, g);
		for (size_t k = 0; k < g; k++)
			out[index[k]] = group[k];
	}
	for (size_t i = 0; i < n; i++)
		deliver_log(t, &out[i]);
	free(domains);
	free(group);
	free(index);
}
