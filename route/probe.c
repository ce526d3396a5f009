/* probe - mxport-route --probe: talk to each target the way the transport would, and report */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "probe.h"
#include "smtp_conn.h"
#include "smtp_reply.h"
#include "tls.h"
#include "util.h"

/* exchange - send a command (unless NULL) and print the reply; false on failure */
static bool exchange(struct smtp_conn *c, const char *cmd, unsigned timeout_ms,
		     struct smtp_reply *r, long long t0)
{
	char line[SMTP_LINE_MAX + 1], err[256];
	size_t len;
	int rc;

	if (cmd) {
		struct mx_buf buf = {0};
		int wrc;

		mx_buf_printf(&buf, "%s\r\n", cmd);
		printf("       >>> %s\n", cmd);
		wrc = conn_write(c, buf.data, buf.len, timeout_ms, err, sizeof(err));
		mx_buf_free(&buf);
		if (wrc <= 0) {
			printf("       !!! %s\n", err);
			return false;
		}
	}
	smtp_reply_init(r);
	do {
		rc = conn_read_line(c, line, SMTP_LINE_MAX, &len, timeout_ms, err, sizeof(err));
		if (rc <= 0) {
			printf("       !!! %s\n", err);
			return false;
		}
		rc = smtp_reply_add_line(r, line, len, err, sizeof(err));
		if (rc < 0) {
			printf("       !!! protocol error: %s\n", err);
			return false;
		}
	} while (rc == 0);
	for (const char *p = r->text; *p;) {
		size_t n = strcspn(p, "\n");
		printf("       <<< %.*s\n", (int)n, p);
		p += n + (p[n] ? 1 : 0);
	}
	printf("       (%lld ms)\n", mx_now_ms() - t0);
	return true;
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
}

/*
 * probe_target - connect, greeting, EHLO, STARTTLS when offered (or
 * implicit TLS), EHLO again, QUIT. No mail is sent. True when the server
 * answered with a 2xx greeting.
 */
bool probe_target(const struct mx_config *cfg, struct route_ctx *ctx, const struct route_target *t,
		  const struct route_addr *a)
{
	struct smtp_conn c;
	struct smtp_reply r;
	struct tls_info ti;
	char err[256], helo[256], ehlo[300];
	long long t0 = mx_now_ms();
	unsigned cmd_ms = cfg->command_timeout * 1000;
	SSL_CTX *tls = NULL;
	bool answered = false;

	(void)ctx;
	mx_helo_name(cfg, helo, sizeof(helo));
	printf("     probe %s port %u:\n", a->text, t->port);
	if (conn_connect(&c, (const struct sockaddr *)&a->sa, a->salen, cfg->connect_timeout * 1000,
			 t0 + (long long)cfg->delivery_time_limit * 1000, err, sizeof(err)) < 0) {
		printf("       connect failed: %s (%lld ms)\n", err, mx_now_ms() - t0);
		return false;
	}
	printf("       connected (%lld ms)\n", mx_now_ms() - t0);
	tls = tls_ctx_new();
	if (tls == NULL || !tls_ctx_load_cas(tls, cfg->tls_ca_file, err, sizeof(err))) {
		printf("       TLS set-up failed: %s\n", tls ? err : "no context");
		goto done;
	}
	if (t->implicit_tls) {
		if (tls_handshake(&c, tls, t->host, t->literal, NULL, cmd_ms, &ti, err,
				  sizeof(err)) < 0) {
			printf("       implicit TLS failed: %s\n", err);
			goto done;
		}
		print_tls(&ti, t);
	}
	if (!exchange(&c, NULL, cmd_ms, &r, t0))
		goto done;
	answered = r.code / 100 == 2;
	snprintf(ehlo, sizeof(ehlo), "EHLO %s", helo);
	if (!answered || !exchange(&c, ehlo, cmd_ms, &r, t0))
		goto done;
	if (r.code / 100 == 2 && !t->implicit_tls) {
		if (!smtp_reply_has_keyword(&r, "STARTTLS", NULL)) {
			printf("       STARTTLS not offered\n");
		} else if (exchange(&c, "STARTTLS", cmd_ms, &r, t0)) {
			if (r.code != 220) {
				printf("       STARTTLS refused\n");
			} else if (tls_handshake(&c, tls, t->host, t->literal, NULL, cmd_ms, &ti,
						 err, sizeof(err)) < 0) {
				printf("       TLS handshake failed: %s (%lld ms)\n", err,
				       mx_now_ms() - t0);
				goto done;
			} else {
				printf("       TLS handshake done (%lld ms)\n", mx_now_ms() - t0);
				print_tls(&ti, t);
				if (!exchange(&c, ehlo, cmd_ms, &r, t0))
					goto done;
			}
		} else {
			goto done;
		}
	}
	exchange(&c, "QUIT", cmd_ms, &r, t0);
done:
	conn_close(&c);
	SSL_CTX_free(tls);
	return answered;
}
