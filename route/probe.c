/*
 * probe - mxport-route --probe: talk to each target as the transport would
 * (its own SMTP client, with the route's TLS mode, DANE and the STARTTLS
 * checks), send no mail, and show the conversation.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "probe.h"
#include "route_walk.h"
#include "smtp_conn.h"
#include "smtp_session.h"
#include "tls.h"
#include "tlsa.h"
#include "util.h"

/* probe - one probe's settings and what it found */
struct probe {
	const struct mx_config *cfg;
	size_t answering; /* addresses that would take mail */
};

/* show - the trace callback: each line with the time since the probe began */
static void show(void *arg, const char *what, const char *text)
{
	const long long *t0 = arg;

	printf("       %s %s (%lld ms)\n", what, text, mx_now_ms() - *t0);
}

/* print_tls - what the handshake brought */
static void print_tls(const struct tls_info *ti, const struct route_target *t)
{
	printf("       TLS: %s, cipher %s\n", ti->protocol, ti->cipher);
	if (ti->have_cert) {
		printf("       certificate subject: %s\n", ti->subject);
		printf("       certificate issuer:  %s\n", ti->issuer);
		printf("       certificate expires: %s\n", ti->not_after);
	}
	printf("       verification against the CAs and name %s: %s\n", t->host, ti->verify_text);
	if (ti->dane)
		printf("       certificate matched a DNSSEC-secure TLSA record (DANE)\n");
}

/*
 * probe_address - connect, greeting, EHLO, STARTTLS as the route's TLS mode
 * says (or implicit TLS), EHLO again, QUIT, at one address the route walk
 * cleared (its TLS mode and DANE records settled as the transport's are).
 * No mail is sent.
 */
static enum walk_verdict probe_address(void *arg, const struct walk_address *wa)
{
	struct probe *pr = arg;
	const struct mx_config *cfg = pr->cfg;
	const struct route_target *t = wa->target;
	struct smtp_request req;
	struct smtp_result res;
	char helo[256], err[256];
	long long t0 = mx_now_ms();
	SSL_CTX *tls = NULL;

	printf("     probe %s port %u (tls %s):\n", wa->addr->text, t->port,
	       mx_tls_mode_names[wa->tls_mode]);
	if (wa->dane)
		printf("       DANE: %zu DNSSEC-secure TLSA records at _%u._tcp.%s\n",
		       wa->dane->count, t->port, t->host);
	mx_helo_name(cfg, helo, sizeof(helo));
	/* CAs always: the probe shows whether the certificate would verify. */
	tls = tls_ctx_new();
	if (tls == NULL || !tls_ctx_load_cas(tls, cfg->tls_ca_file, err, sizeof(err))) {
		printf("       TLS set-up failed: %s\n", tls ? err : "no context");
		SSL_CTX_free(tls);
		return WALK_NEXT;
	}
	smtp_request_init(&req, t, wa->addr);
	req.helo_name = helo;
	req.dane = wa->dane;
	req.tls_mode = wa->tls_mode;
	req.tls_ctx = tls;
	req.connect_timeout_ms = cfg->connect_timeout * 1000;
	req.command_timeout_ms = cfg->command_timeout * 1000;
	req.data_done_timeout_ms = cfg->data_done_timeout * 1000;
	req.limit_ms = t0 + (long long)cfg->delivery_time_limit * 1000;
	req.probe_only = true;
	req.trace = show;
	req.trace_arg = &t0;
	smtp_deliver(&req, &res);
	if (res.tls_used)
		print_tls(&res.tls, t);
	if (res.verdict == SMTP_SENT)
		printf("       the server would take mail (%lld ms)\n", mx_now_ms() - t0);
	else if (res.stage == STAGE_CONNECT)
		printf("       connect failed: %s (%lld ms)\n", res.why, mx_now_ms() - t0);
	else if (res.have_reply) {
		char line[SMTP_REPLY_TEXT];

		smtp_reply_oneline(&res.reply, line, sizeof(line));
		printf("       refused: %s (in reply to %s)\n", line,
		       smtp_stage_command(res.stage));
	} else
		printf("       failed: %s\n", res.why);
	if (res.verdict != SMTP_SENT)
		printf("       the transport would %s\n",
		       res.dsn[0] == '5' ? "bounce the mail" : "try the next address, or defer");
	SSL_CTX_free(tls);
	if (res.verdict == SMTP_SENT) {
		pr->answering++;
		return WALK_NEXT; /* the probe shows every address the transport might use */
	}
	return res.stage >= STAGE_AUTH ? WALK_NEXT_SESSION : WALK_NEXT;
}

/* probe_failed - a failure of the walk's own, as the transport would meet it */
static void probe_failed(void *arg, enum mx_status status, const char *relay, const char *why)
{
	(void)arg;
	if (status == MX_ST_TLS_FAILED)
		printf("     %s: TLSA lookup for DANE failed: %s; the transport would try the next "
		       "target\n",
		       relay, why);
	else if (status == MX_ST_GUARDED)
		printf("     %s: refused by the destination guard: %s\n", relay, why);
	else
		printf("     %s: no address: %s\n", relay, why);
}

/* probe_note - an informational line of the walk's */
static void probe_note(void *arg, const char *relay, const char *text)
{
	(void)arg;
	printf("     %s: %s; opportunistic TLS, as the transport would\n", relay, text);
}

/*
 * probe_route - walk the route as the transport would (smtp/route_walk.c:
 * the same order, loop guard, destination guard, limits and DANE rule) and
 * probe each address it would try. Returns the number of addresses that
 * would take mail; *loops when the route leads back to this host's MTA.
 */
size_t probe_route(const struct mx_config *cfg, struct route_ctx *ctx, const struct route *r,
		   bool *loops)
{
	static const struct walk_ops ops = {probe_address, probe_failed, probe_note};
	struct probe pr = {.cfg = cfg, .answering = 0};
	struct walk_limits lim = {.max_targets = cfg->max_targets,
				  .max_addresses = cfg->max_addresses,
				  .max_sessions = cfg->max_sessions,
				  .deadline_ms =
					  mx_now_ms() + (long long)cfg->delivery_time_limit * 1000,
				  .local_ports = cfg->local_ports};
	struct walk_result w;

	route_walk(ctx, r, &lim, &ops, &pr, &w);
	/*
	 * The probe goes on past an address that would take the mail, where the
	 * transport stops: what it meets after one is reached only when the
	 * addresses before it fail.
	 */
	*loops = w.end == WALK_LOOP && pr.answering == 0;
	if (w.end == WALK_LOOP && pr.answering == 0)
		printf("  %s is this host's own MTA: the transport would bounce the mail as a loop "
		       "(%s)\n",
		       w.relay, mx_status_dsn(MX_ST_LOOP));
	else if (w.end == WALK_LOOP)
		printf("  %s is this host's own MTA: should the addresses before it fail, the "
		       "transport would bounce the mail as a loop (%s)\n",
		       w.relay, mx_status_dsn(MX_ST_LOOP));
	else if (w.end == WALK_LIMIT)
		printf("  %s = %u reached: the transport would not try the rest of the route%s\n",
		       w.limit, w.limit_value,
		       pr.answering ? " (reached only if the addresses before fail)" : "");
	else if (w.end == WALK_DEADLINE)
		printf("  delivery_time_limit reached: the transport would defer\n");
	return pr.answering;
}
