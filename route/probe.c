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
#include "smtp_conn.h"
#include "smtp_session.h"
#include "tls.h"
#include "tlsa.h"
#include "util.h"

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
 * dane_records - for tls=dane, the TLSA records that the transport would
 * demand a match with (secure ones only); *mode falls back to may without.
 */
static bool dane_records(struct route_ctx *ctx, const struct route_target *t, int *mode,
			 struct tlsa_set *dane)
{
	if (*mode != MX_TLS_DANE)
		return false;
	*mode = MX_TLS_MAY;
	if (t->literal)
		return false;
	tlsa_lookup(ctx, t->host, t->port, dane);
	if (dane->status == ROUTE_OK && dane->secure) {
		printf("       DANE: %zu DNSSEC-secure TLSA records at _%u._tcp.%s\n", dane->count,
		       t->port, t->host);
		*mode = MX_TLS_DANE;
		return true;
	}
	printf("       DANE: %s; opportunistic TLS, as the transport would\n",
	       dane->status == ROUTE_OK ? "TLSA records are not DNSSEC-secure" : dane->reason);
	return false;
}

/*
 * probe_target - connect, greeting, EHLO, STARTTLS as the route's TLS mode
 * says (or implicit TLS), EHLO again, QUIT. No mail is sent. True when the
 * server took the conversation as far as a transaction could begin.
 */
bool probe_target(const struct mx_config *cfg, struct route_ctx *ctx, const struct route_target *t,
		  const struct route_addr *a)
{
	struct smtp_request req;
	struct smtp_result res;
	struct tlsa_set dane = {.status = ROUTE_NOTFOUND};
	char helo[256], err[256];
	long long t0 = mx_now_ms();
	int mode = route_effective_tls(ctx, t);
	SSL_CTX *tls = NULL;

	printf("     probe %s port %u (tls %s):\n", a->text, t->port, mx_tls_mode_names[mode]);
	mx_helo_name(cfg, helo, sizeof(helo));
	/* CAs always: the probe shows whether the certificate would verify. */
	tls = tls_ctx_new();
	if (tls == NULL || !tls_ctx_load_cas(tls, cfg->tls_ca_file, err, sizeof(err))) {
		printf("       TLS set-up failed: %s\n", tls ? err : "no context");
		SSL_CTX_free(tls);
		return false;
	}
	smtp_request_init(&req, t, a);
	req.helo_name = helo;
	req.dane = dane_records(ctx, t, &mode, &dane) ? &dane : NULL;
	req.tls_mode = mode;
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
	tlsa_set_clear(&dane);
	SSL_CTX_free(tls);
	return res.verdict == SMTP_SENT;
}
