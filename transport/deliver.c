/* deliver - route a domain's recipients at delivery time and try its targets in order */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "deliver.h"
#include "loopguard.h"
#include "msg.h"
#include "notify.h"
#include "policy.h"
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
	unsigned targets;   /* looked up so far (max_targets) */
	unsigned addresses; /* tried so far (max_addresses) */
	unsigned sessions;  /* past EHLO and TLS, ended without delivery (max_sessions) */
};

/* remember - keep the latest failure (a later one describes the end of the road) */
static void remember(struct attempt_state *as, enum rcpt_state state, const char *dsn,
		     const char *relay, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void remember(struct attempt_state *as, enum rcpt_state state, const char *dsn,
		     const char *relay, const char *fmt, ...)
{
	va_list ap;

	as->have = true;
	as->state = state;
	mx_strlcpy(as->dsn, dsn, sizeof(as->dsn));
	mx_strlcpy(as->relay, relay, sizeof(as->relay));
	as->tls[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(as->text, sizeof(as->text), fmt, ap);
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

/* set_policy - every pending recipient gets the outcome's code and fate (policy.c) */
static void set_policy(struct rcpt_outcome *r, size_t n, enum mx_outcome outcome, const char *relay,
		       const char *text)
{
	const struct mx_policy *p = mx_policy(outcome);

	set_all(r, n, p->permanent ? RCPT_BOUNCE : RCPT_DEFER, p->dsn, relay, "", text);
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
		enum rcpt_state state;

		if (r[i].state != RCPT_PENDING || sr[i].state == SMTP_RCPT_PENDING)
			continue;
		mx_strlcpy(dsn, sr[i].dsn, sizeof(dsn));
		switch (sr[i].state) {
		case SMTP_RCPT_SENT: state = RCPT_SENT; break;
		case SMTP_RCPT_PERM: state = RCPT_BOUNCE; break;
		default:
			state = RCPT_DEFER;
			mx_dsn_deferred(dsn);
			break;
		}
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
 * failed handshake) for the recipients still pending. Returns true when
 * none is left pending (each sent or final).
 */
static bool try_address(struct transport *t, const struct route_target *target, int tls_mode,
			const struct tlsa_set *dane, const struct route_addr *addr,
			const char *domain, struct rcpt_outcome *r, struct smtp_rcpt *sr, size_t n,
			struct attempt_state *as)
{
	const struct secret *cred = NULL;
	struct smtp_request req;
	struct smtp_result res;
	char relay[320], text[1200], err[256];
	int auth_tls = MX_TLS_NONE;

	snprintf(relay, sizeof(relay), "%s[%s]:%u", target->host, addr->text, target->port);
	if (t->secrets)
		cred = secrets_find(t->secrets, target->host, target->literal, target->port,
				    domain);
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
	smtp_request_init(&req, target, addr);
	req.msg = t->msg;
	req.sender = t->sender;
	req.rcpts = sr;
	req.nrcpts = n;
	req.rcpt_limit = t->cfg->transaction_recipient_limit;
	req.helo_name = t->helo_name;
	req.dane = dane;
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
			remember(as, RCPT_DEFER, "4.7.5", relay, "TLS set-up failed: %s", err);
			return false;
		}
	}
	req.cache = t->cache;
	req.xforward = t->xforward;
	smtp_deliver(&req, &res);
	if (res.verdict == SMTP_NEXT && res.tls_failed && tls_mode == MX_TLS_MAY &&
	    !target->implicit_tls) {
		msg_info("%s: %s: TLS failed (%s); trying again without TLS", t->queue_id, relay,
			 res.have_reply ? res.reply.text : res.why);
		req.plain_fallback = true;
		smtp_deliver(&req, &res);
	}

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
		return true;
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
	if (res.verdict == SMTP_NEXT && res.stage >= STAGE_AUTH)
		as->sessions++;

	switch (res.verdict) {
	case SMTP_TEMP:
	case SMTP_PERM: {
		enum rcpt_state st = res.verdict == SMTP_PERM ? RCPT_BOUNCE : RCPT_DEFER;
		char dsn[16];

		mx_strlcpy(dsn, res.dsn, sizeof(dsn));
		if (st == RCPT_DEFER)
			mx_dsn_deferred(dsn);
		set_all(r, n, st, dsn, relay, tls, text);
		return true;
	}
	case SMTP_SENT: /* nothing failed, yet some are pending: cannot be; try elsewhere */
	case SMTP_NEXT:
		msg_info("%s: %s", t->queue_id, text);
		remember(as, res.dsn[0] == '5' ? RCPT_BOUNCE : RCPT_DEFER, res.dsn, relay, "%s",
			 text);
		mx_strlcpy(as->tls, tls, sizeof(as->tls));
		return false;
	}
	return false;
}

/*
 * dane_policy - tls=dane (RFC 7672) for one target: DNSSEC-secure TLSA
 * records at _port._tcp.host make TLS and a matching certificate mandatory
 * (*tls_mode stays MX_TLS_DANE, *dane holds them); no records, or records
 * that are not secure, leave opportunistic TLS, as Postfix's "dane" does.
 * False when the lookup failed for now: the target cannot be tried.
 */
static bool dane_policy(struct transport *t, const struct route_target *target, const char *relay,
			int *tls_mode, struct tlsa_set *dane, struct attempt_state *as)
{
	*tls_mode = MX_TLS_MAY;
	if (target->literal)
		return true;
	tlsa_lookup(t->routes, target->host, target->port, dane);
	if (dane->status == ROUTE_RETRY) {
		msg_info("%s: %s: TLSA lookup: %s", t->queue_id, relay, dane->reason);
		remember(as, RCPT_DEFER, "4.7.5", relay, "TLSA lookup for DANE: %s", dane->reason);
		return false;
	}
	if (dane->status == ROUTE_OK && dane->secure) {
		*tls_mode = MX_TLS_DANE;
	} else {
		if (dane->status == ROUTE_OK)
			msg_info("%s: %s: TLSA records are not DNSSEC-secure; DANE not used",
				 t->queue_id, relay);
		tlsa_set_clear(dane);
	}
	return true;
}

/*
 * limit_reached - before one more target is looked up or one more address
 * tried: true (with *which naming the key) when a limit says stop. The
 * limits keep a route from DNS, however hostile, from turning one message
 * into hundreds of lookups and connections, on every retry.
 */
static bool limit_reached(const struct transport *t, const struct attempt_state *as,
			  bool new_target, const char **which, unsigned *value)
{
	const struct mx_config *c = t->cfg;

	if (new_target && c->max_targets && as->targets >= c->max_targets) {
		*which = "max_targets";
		*value = c->max_targets;
	} else if (!new_target && c->max_addresses && as->addresses >= c->max_addresses) {
		*which = "max_addresses";
		*value = c->max_addresses;
	} else if (!new_target && c->max_sessions && as->sessions >= c->max_sessions) {
		*which = "max_sessions";
		*value = c->max_sessions;
	} else {
		return false;
	}
	return true;
}

/*
 * try_route - targets in order, each target's addresses in order, within
 * max_targets, max_addresses and max_sessions. mx says the route is the
 * domain's ordinary MX route (not a forwarding route).
 */
static void try_route(struct transport *t, const struct route *route, bool mx, const char *domain,
		      struct rcpt_outcome *r, size_t n)
{
	struct attempt_state as = {.have = false};
	size_t hosts_without_address = 0;
	const char *limit = NULL;
	unsigned limit_value = 0;
	struct smtp_rcpt *sr = mx_calloc(n ? n : 1, sizeof(*sr));

	for (size_t i = 0; i < n; i++)
		sr[i].addr = r[i].rcpt;

	for (size_t ti = 0; ti < route->ntargets && limit == NULL; ti++) {
		const struct route_target *target = &route->targets[ti];
		int tls_mode = route_effective_tls(t->routes, target);
		bool dane_checked = tls_mode != MX_TLS_DANE;
		struct tlsa_set dane = {.status = ROUTE_NOTFOUND};
		struct route_addrs addrs;

		if (mx_now_ms() >= t->limit_ms)
			break;
		if (limit_reached(t, &as, true, &limit, &limit_value) ||
		    limit_reached(t, &as, false, &limit, &limit_value))
			break;
		as.targets++;
		route_resolve(t->routes, target, &addrs);
		if (addrs.status != ROUTE_OK) {
			if (addrs.status == ROUTE_NOTFOUND)
				hosts_without_address++;
			remember(&as, RCPT_DEFER,
				 addrs.status == ROUTE_NOTFOUND ? "4.4.4" : "4.4.3", "none", "%s",
				 addrs.reason);
			msg_info("%s: %s: %s", t->queue_id, target->host, addrs.reason);
			route_addrs_clear(&addrs);
			continue;
		}
		for (size_t ai = 0; ai < addrs.count; ai++) {
			const struct route_addr *a = &addrs.addrs[ai];
			char relay[320];

			snprintf(relay, sizeof(relay), "%s[%s]:%u", target->host, a->text,
				 target->port);
			if (loopguard_is_self((const struct sockaddr *)&a->sa,
					      t->cfg->local_ports)) {
				char text[600];
				snprintf(text, sizeof(text),
					 "mail for %s loops back to myself (%s is this host's MTA)",
					 domain, relay);
				set_policy(r, n, MX_OUT_LOOP, relay, text);
				tlsa_set_clear(&dane);
				route_addrs_clear(&addrs);
				goto out;
			}
			if (a->refused) {
				msg_warn("%s: %s: destination guard: %s", t->queue_id, relay,
					 a->why);
				remember(&as, RCPT_DEFER, "4.4.4", relay, "route refused: %s",
					 a->why);
				continue;
			}
			if (mx_now_ms() >= t->limit_ms)
				break;
			if (limit_reached(t, &as, false, &limit, &limit_value))
				break;
			/* TLSA records belong to host:port: asked once, when an address is tried.
			 */
			if (!dane_checked) {
				dane_checked = true;
				if (!dane_policy(t, target, relay, &tls_mode, &dane, &as))
					break;
			}
			as.addresses++;
			if (try_address(t, target, tls_mode, dane.count ? &dane : NULL, a, domain,
					r, sr, n, &as)) {
				tlsa_set_clear(&dane);
				route_addrs_clear(&addrs);
				goto out;
			}
		}
		tlsa_set_clear(&dane);
		route_addrs_clear(&addrs);
	}
	if (mx_now_ms() >= t->limit_ms) {
		set_all(r, n, RCPT_DEFER, "4.4.7", as.have ? as.relay : "none", "",
			"delivery time limit reached (delivery_time_limit); will try again later");
	} else if (limit) {
		/*
		 * More of the route was left: whatever the last server said, the
		 * others may take the mail. Defer, naming the limit.
		 */
		char text[sizeof(as.text) + 200], dsn[16];

		if (!as.have)
			remember(&as, RCPT_DEFER, "4.4.1", "none", "no target could be tried");
		mx_strlcpy(dsn, as.dsn, sizeof(dsn));
		mx_dsn_deferred(dsn);
		snprintf(text, sizeof(text),
			 "%s (%s = %u reached: the rest of the route was not tried)", as.text,
			 limit, limit_value);
		msg_warn("%s: route of %s: %s = %u reached after %u targets, %u addresses; the "
			 "rest of the route was not tried",
			 t->queue_id, domain, limit, limit_value, as.targets, as.addresses);
		set_all(r, n, RCPT_DEFER, dsn, as.relay, as.tls, text);
	} else if (mx && hosts_without_address == route->ntargets) {
		/* RFC 5321: no MX host with an address means the domain cannot take mail. */
		set_policy(r, n, route->ntargets == 1 ? MX_OUT_NO_DOMAIN : MX_OUT_NO_HOSTS, "none",
			   as.text);
	} else {
		if (!as.have)
			remember(&as, RCPT_DEFER, "4.4.1", "none",
				 "no target of the route could be tried");
		set_all(r, n, as.state, as.dsn, as.relay, as.tls, as.text);
	}
out:
	smtp_rcpts_free(sr, n);
	free(sr);
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
		set_policy(r, n, MX_OUT_LOOP, "none", text);
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
	char(*domains)[MX_DOMAIN_MAX] = mx_calloc(n ? n : 1, sizeof(*domains));
	struct rcpt_outcome *group = mx_calloc(n ? n : 1, sizeof(*group));
	size_t *index = mx_calloc(n ? n : 1, sizeof(*index));
	char err[256];

	for (size_t i = 0; i < n; i++) {
		char raw_domain[MX_DOMAIN_MAX * 2];
		if (!mx_address_domain(out[i].rcpt, raw_domain, sizeof(raw_domain)) ||
		    !mx_domain_normalize(raw_domain, domains[i], sizeof(domains[i]), err,
					 sizeof(err))) {
			outcome_set(&out[i], RCPT_BOUNCE, "5.1.3",
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
