/* smtp_session - the SMTP client with one server address: connection, greeting, EHLO, TLS, AUTH;
 * the states */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mxconfig.h"
#include "mime7bit.h"
#include "status.h"
#include "smtp_cmd.h"
#include "smtp_conn.h"
#include "smtp_session.h"
#include "smtp_session_int.h"
#include "util.h"

/* trace - tell the watcher, if there is one: one printable line */
static void trace(const struct session *s, const char *what, const char *text, size_t len)
{
	if (s->req->trace == NULL)
		return;
	char *line = mx_strndup(text, len);
	mx_printable(line);
	s->req->trace(s->req->trace_arg, what, line);
	free(line);
}

/* smtp_stage_name - a state's name, for the trace */
const char *smtp_stage_name(enum smtp_stage stage)
{
	static const char *const names[] = {
		[STAGE_CONNECT] = "connect", [STAGE_GREETING] = "greeting", [STAGE_EHLO] = "ehlo",
		[STAGE_HELO] = "helo",	     [STAGE_STARTTLS] = "starttls", [STAGE_TLS] = "tls",
		[STAGE_AUTH] = "auth",	     [STAGE_XFORWARD] = "xforward", [STAGE_MAIL] = "mail",
		[STAGE_RCPT] = "rcpt",	     [STAGE_DATA] = "data",	    [STAGE_DOT] = "dot",
		[STAGE_RSET] = "rset",	     [STAGE_DONE] = "done",
	};
	return stage <= STAGE_DONE ? names[stage] : "?";
}

/*
 * session_enter - the one transition: every change of state goes through here, so
 * that a watcher (mxport-route --probe) sees each, as OpenSMTPD's
 * mta_enter_state. The state names the command whose reply comes next.
 */
void session_enter(struct session *s, enum smtp_stage stage)
{
	if (s->req->trace && (s->res->stage != stage || stage == STAGE_CONNECT)) {
		char text[64];

		snprintf(text, sizeof(text), "state %s", smtp_stage_name(stage));
		trace(s, "---", text, strlen(text));
	}
	s->res->stage = stage;
}

/* smtp_stage_command - the command a stage's reply answers, for "(in reply to ...)" */
const char *smtp_stage_command(enum smtp_stage stage)
{
	switch (stage) {
	case STAGE_CONNECT: return "connect";
	case STAGE_GREETING: return "initial greeting";
	case STAGE_EHLO: return "EHLO command";
	case STAGE_HELO: return "HELO command";
	case STAGE_STARTTLS: return "STARTTLS command";
	case STAGE_TLS: return "TLS handshake";
	case STAGE_AUTH: return "AUTH command";
	case STAGE_XFORWARD: return "XFORWARD command";
	case STAGE_MAIL: return "MAIL FROM command";
	case STAGE_RCPT: return "RCPT TO command";
	case STAGE_DATA: return "DATA command";
	case STAGE_DOT: return "end of DATA command";
	case STAGE_RSET: return "RSET command";
	case STAGE_DONE: return "QUIT command";
	}
	return "?";
}

/*
 * session_fail - a failure that is not a server reply: a row of the status
 * table, whose fate says what follows (the next address, or the end of
 * this delivery, deferred or bounced)
 */
void session_fail(struct session *s, enum mx_status status, const char *fmt, ...)
{
	const struct mx_status_row *row = mx_status(status);
	va_list ap;

	s->res->verdict = smtp_fate_verdict(row->fate);
	s->res->have_reply = false;
	s->res->own_failure = true;
	s->res->failure = status;
	mx_strlcpy(s->res->dsn, row->dsn, sizeof(s->res->dsn));
	va_start(ap, fmt);
	vsnprintf(s->res->why, sizeof(s->res->why), fmt, ap);
	va_end(ap);
	mx_printable(s->res->why);
	if (s->conn->hit_limit)
		s->res->time_limit = true;
}

/* smtp_fate_verdict - what a status row's fate means for the attempt at one address */
enum smtp_verdict smtp_fate_verdict(enum mx_fate fate)
{
	switch (fate) {
	case MX_FATE_DELIVER: return SMTP_SENT;
	case MX_FATE_BOUNCE: return SMTP_PERM;
	case MX_FATE_DEFER: return SMTP_TEMP;
	case MX_FATE_NEXT: return SMTP_NEXT;
	}
	return SMTP_TEMP;
}

/* smtp_reply_dsn - the reply's enhanced code when it has one of the reply's own class, else X.0.0
 */
void smtp_reply_dsn(const struct smtp_reply *r, char *dsn, size_t len)
{
	if (r->enh[0] && r->enh[0] - '0' == r->code / 100)
		mx_strlcpy(dsn, r->enh, len);
	else
		snprintf(dsn, len, "%d.0.0", r->code / 100);
}

/*
 * session_refused - a reply that ends the attempt: 4xx defers, 5xx bounces; the
 * server's enhanced code is used when it has one of the right class.
 */
void session_refused(struct session *s, const struct smtp_reply *r, enum smtp_verdict v_if_temp,
		     enum smtp_verdict v_if_perm)
{
	s->res->have_reply = true;
	s->res->own_failure = false;
	s->res->reply = *r;
	s->res->verdict = r->code / 100 == 5 ? v_if_perm : v_if_temp;
	smtp_reply_dsn(r, s->res->dsn, sizeof(s->res->dsn));
	if (r->code / 100 != 5)
		mx_dsn_deferred(s->res->dsn); /* 4xx, or a 2xx/3xx where it makes no sense */
}

/*
 * session_read_reply - a whole reply. On a lost connection, timeout or garbage the
 * attempt ends: before the transaction the next address is tried; after
 * the final dot the message may have arrived, and the MTA must retry.
 */
bool session_read_reply(struct session *s, struct smtp_reply *r, unsigned timeout_ms)
{
	char line[SMTP_LINE_MAX + 1], skip_buf[SMTP_LINE_MAX + 1], err[256];
	size_t len;
	int rc;

	smtp_reply_init(r);
	do {
		bool eol;

		rc = conn_read_piece(s->conn, line, SMTP_LINE_MAX, &len, &eol, timeout_ms, err,
				     sizeof(err));
		/* A longer line is cut, as Postfix does: the rest is read and dropped. */
		for (size_t skip; rc == 1 && !eol;)
			rc = conn_read_piece(s->conn, skip_buf, SMTP_LINE_MAX, &skip, &eol,
					     timeout_ms, err, sizeof(err));
		if (rc <= 0)
			break;
		trace(s, "<<<", line, len);
		rc = smtp_reply_add_line(r, line, len, err, sizeof(err));
		if (rc < 0) {
			session_fail(s, MX_ST_PROTOCOL, "protocol error: %s (in reply to %s)", err,
				     smtp_stage_command(s->res->stage));
			return false;
		}
	} while (rc == 0);
	if (rc == 1)
		return true;
	session_fail(s, s->conn->hit_limit ? MX_ST_TIME_LIMIT : MX_ST_LOST, "%s %s %s", err,
		     rc == 0 ? "waiting for reply to" : "in reply to",
		     smtp_stage_command(s->res->stage));
	return false;
}

/* session_send - bytes that are whole command lines */
bool session_send(struct session *s, const struct mx_buf *b)
{
	char err[256];

	for (const char *p = b->data; s->req->trace && p && p < b->data + b->len;) {
		const char *nl = memchr(p, '\n', (size_t)(b->data + b->len - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(b->data + b->len - p);

		if (s->res->stage == STAGE_AUTH)
			trace(s, ">>>", "(AUTH, credentials not shown)", 29);
		else
			trace(s, ">>>", p, len > 0 && p[len - 1] == '\r' ? len - 1 : len);
		p += len + 1;
	}

	if (conn_write(s->conn, b->data, b->len, s->req->command_timeout_ms, err, sizeof(err)) <=
	    0) {
		session_fail(s, s->conn->hit_limit ? MX_ST_TIME_LIMIT : MX_ST_LOST,
			     "%s (sending %s)", err, smtp_stage_command(s->res->stage));
		return false;
	}
	return true;
}

/* send_vcmd - one command line of any length (CR LF added); the buffer is wiped: AUTH */
static bool send_vcmd(struct session *s, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static bool send_vcmd(struct session *s, const char *fmt, va_list ap)
{
	struct mx_buf b = {0};
	bool ok;

	mx_buf_vprintf(&b, fmt, ap);
	mx_buf_append(&b, "\r\n", 2);
	ok = session_send(s, &b);
	OPENSSL_cleanse(b.data, b.len);
	mx_buf_free(&b);
	return ok;
}

/* send_cmd - one command line (CR LF added) */
static bool send_cmd(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool send_cmd(struct session *s, const char *fmt, ...)
{
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = send_vcmd(s, fmt, ap);
	va_end(ap);
	return ok;
}

/* session_command - send, read the reply, and accept only the wanted class (2 or 3) */
bool session_command(struct session *s, enum smtp_stage stage, int want_class, struct smtp_reply *r,
		     const char *fmt, ...)
{
	va_list ap;
	bool sent;

	session_enter(s, stage);
	smtp_reply_init(r); /* r->done stays false when nothing came back */
	va_start(ap, fmt);
	sent = send_vcmd(s, fmt, ap);
	va_end(ap);
	if (!sent || !session_read_reply(s, r, s->req->command_timeout_ms))
		return false;
	return r->code / 100 == want_class;
}

/* hello - EHLO, or HELO when EHLO is refused; false when the attempt is over */
static bool hello(struct session *s)
{
	struct smtp_reply r;

	if (session_command(s, STAGE_EHLO, 2, s->ehlo, "EHLO %s", s->req->helo_name)) {
		s->esmtp = true;
		return true;
	}
	if (s->res->verdict != SMTP_SENT || !s->ehlo->done)
		return false; /* lost connection or garbage, not a refusal */
	if (session_command(s, STAGE_HELO, 2, &r, "HELO %s", s->req->helo_name)) {
		s->esmtp = false;
		smtp_reply_init(s->ehlo);
		return true;
	}
	if (r.done)
		session_refused(s, &r, SMTP_NEXT, SMTP_NEXT);
	return false;
}

/*
 * handshake - TLS on the connection (after STARTTLS, or at once for
 * implicit TLS), and the certificate check that the TLS mode demands
 */
static bool handshake(struct session *s)
{
	const struct smtp_request *q = s->req;
	struct tls_info *ti = &s->res->tls;
	char err[256];

	session_enter(s, STAGE_TLS);
	if (tls_handshake(s->conn, q->tls_ctx, q->host, q->literal, q->dane, q->command_timeout_ms,
			  ti, err, sizeof(err)) < 0) {
		s->res->tls_failed = true;
		session_fail(s, MX_ST_TLS_FAILED, "%s", err);
		return false;
	}
	s->res->tls_used = true;
	if (s->req->trace) {
		char *text =
			mx_asprintf("TLS %s, cipher %s, certificate %s", ti->protocol, ti->cipher,
				    ti->dane ? "matched by DANE"
					     : (ti->verified ? "verified" : ti->verify_text));
		trace(s, "***", text, strlen(text));
		free(text);
	}
	if (q->tls_mode >= MX_TLS_VERIFY && !ti->verified) {
		session_fail(s, MX_ST_TLS_FAILED, "server certificate not verified: %s",
			     ti->verify_text);
		return false;
	}
	return true;
}

/* starttls - STARTTLS and the handshake, when the TLS mode and the server call for it */
static bool starttls(struct session *s)
{
	const struct smtp_request *q = s->req;
	bool offered = s->esmtp && smtp_reply_has_keyword(s->ehlo, "STARTTLS", NULL);
	struct smtp_reply r;

	if (q->implicit_tls || q->plain_fallback || q->tls_mode == MX_TLS_NONE)
		return true;
	if (!offered) {
		if (q->tls_mode == MX_TLS_MAY)
			return true;
		session_fail(s, MX_ST_TLS_NOT_OFFERED,
			     "TLS is required (tls=%s), but was not offered by host",
			     mx_tls_mode_names[q->tls_mode]);
		return false;
	}
	if (!session_command(s, STAGE_STARTTLS, 2, &r, "STARTTLS")) {
		s->res->tls_failed = true; /* refused or lost: tls=may tries again in plain text */
		if (r.done) {
			/* Refused STARTTLS is a TLS failure: never a bounce. */
			session_refused(s, &r, SMTP_NEXT, SMTP_NEXT);
			mx_strlcpy(s->res->dsn, mx_status_dsn(MX_ST_TLS_FAILED),
				   sizeof(s->res->dsn));
			s->res->tls_failed = true;
		}
		return false;
	}
	session_enter(s, STAGE_TLS);
	if (conn_has_buffered(s->conn)) {
		/* Bytes after "220" would be read as if they came over TLS: a known injection. */
		session_fail(s, MX_ST_SECURITY, "host sent data after its STARTTLS reply");
		return false;
	}
	if (!handshake(s))
		return false;
	/* RFC 3207: forget what was learned before TLS and say EHLO again. */
	return hello(s);
}

/* b64 - base64 of a buffer, with OpenSSL */
static char *b64(const char *in, size_t len)
{
	char *out = mx_malloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)len);
	return out;
}

/* auth - AUTH PLAIN (or LOGIN) with the route's credentials, never in plain text */
static bool auth(struct session *s)
{
	const struct smtp_request *q = s->req;
	const char *mechs = NULL;
	struct smtp_reply r;
	bool ok;

	if (q->auth_user == NULL)
		return true;
	if (!s->res->tls_used) {
		session_fail(s, MX_ST_SECURITY,
			     "credentials are configured for this route, but TLS is not in use: "
			     "AUTH not "
			     "sent");
		return false;
	}
	if (!s->esmtp || !smtp_reply_has_keyword(s->ehlo, "AUTH", &mechs)) {
		return true; /* the server may not need it; MAIL will tell */
	}
	session_enter(s, STAGE_AUTH);
	size_t ulen = strlen(q->auth_user), plen = strlen(q->auth_pass);
	if (strcasestr(mechs, "PLAIN")) {
		char *blob = mx_malloc(ulen + plen + 2);
		blob[0] = '\0';
		memcpy(blob + 1, q->auth_user, ulen);
		blob[1 + ulen] = '\0';
		memcpy(blob + 2 + ulen, q->auth_pass, plen);
		char *enc = b64(blob, ulen + plen + 2);
		ok = session_command(s, STAGE_AUTH, 2, &r, "AUTH PLAIN %s", enc);
		OPENSSL_cleanse(blob, ulen + plen + 2);
		OPENSSL_cleanse(enc, strlen(enc));
		free(blob);
		free(enc);
	} else if (strcasestr(mechs, "LOGIN")) {
		char *u = b64(q->auth_user, ulen), *p = b64(q->auth_pass, plen);
		ok = session_command(s, STAGE_AUTH, 3, &r, "AUTH LOGIN") &&
		     session_command(s, STAGE_AUTH, 3, &r, "%s", u) &&
		     session_command(s, STAGE_AUTH, 2, &r, "%s", p);
		OPENSSL_cleanse(p, strlen(p));
		free(u);
		free(p);
	} else {
		session_fail(s, MX_ST_SECURITY,
			     "host offers no AUTH mechanism we speak (PLAIN, LOGIN)");
		return false;
	}
	if (!ok && r.done) {
		/* Wrong credentials are the admin's to fix: defer, as Postfix does by default. */
		session_refused(s, &r, SMTP_NEXT, SMTP_NEXT);
		mx_strlcpy(s->res->dsn, mx_status_dsn(MX_ST_SECURITY), sizeof(s->res->dsn));
	}
	return ok;
}

/*
 * session_xforward - the original client's attributes, before each transaction's
 * MAIL (the server forgets them when a transaction ends: XFORWARD_README),
 * and only to a server that offers XFORWARD, only the attributes it lists.
 * A refusal other than 421 leaves the mail to go on without them: they
 * only inform the server's checks and logs.
 */
bool session_xforward(struct session *s)
{
	const struct xforward *x = s->req->xforward;
	const char *offered = NULL;
	struct mx_buf cmds = {0};
	struct smtp_reply r;
	bool ok = true;

	if (x == NULL || !xforward_any(x) || !s->esmtp ||
	    !smtp_reply_has_keyword(s->ehlo, "XFORWARD", &offered))
		return true;
	xforward_commands(x, offered, &cmds);
	for (size_t pos = 0; ok && pos < cmds.len;) {
		size_t len = (size_t)((const char *)memchr(cmds.data + pos, '\r', cmds.len - pos) -
				      (cmds.data + pos));

		if (session_command(s, STAGE_XFORWARD, 2, &r, "%.*s", (int)len, cmds.data + pos)) {
			s->res->xforward_sent++;
		} else if (!r.done) {
			ok = false; /* lost connection or garbage: session_fail() said so */
		} else if (r.code == 421) {
			session_refused(s, &r, SMTP_NEXT, SMTP_NEXT);
			ok = false;
		} else {
			char line[SMTP_REPLY_TEXT];

			smtp_reply_oneline(&r, line, sizeof(line));
			snprintf(s->res->xforward_refused, sizeof(s->res->xforward_refused), "%s",
				 line);
			break;
		}
		pos += len + 2;
	}
	mx_buf_free(&cmds);
	return ok;
}

/* session_quit - a polite end; whatever happens to it leaves the result as it was */
void session_quit(struct session *s)
{
	struct smtp_result saved = *s->res;
	struct smtp_reply r;

	if (s->conn->fd >= 0 && send_cmd(s, "QUIT"))
		session_read_reply(s, &r, 2000);
	*s->res = saved;
}

/* greet - connect, greeting, EHLO, STARTTLS, AUTH: false when the attempt is over */
static bool greet(struct session *s)
{
	const struct smtp_request *req = s->req;
	struct smtp_result *res = s->res;
	struct smtp_reply greeting;
	char err[256];

	session_enter(s, STAGE_CONNECT);
	res->conn_use = 1;
	if (conn_connect(s->conn, req->sa, req->salen, req->connect_timeout_ms, req->limit_ms, err,
			 sizeof(err)) < 0) {
		session_fail(s, s->conn->hit_limit ? MX_ST_TIME_LIMIT : MX_ST_NO_ANSWER, "%s", err);
		return false;
	}
	trace(s, "***", "connected", 9);
	if (req->implicit_tls && !handshake(s))
		return false;
	session_enter(s, STAGE_GREETING);
	if (!session_read_reply(s, &greeting, req->command_timeout_ms))
		return false;
	if (greeting.code / 100 != 2) {
		/*
		 * A 5xx greeting says "not now, not from you", not "no such
		 * mailbox": the next server is tried and the mail waits, as with
		 * Postfix's smtp_skip_5xx_greeting = yes (its default).
		 */
		session_refused(s, &greeting, SMTP_NEXT, SMTP_NEXT);
		s->res->dsn[0] = '4';
		return false;
	}
	return hello(s) && starttls(s) && auth(s);
}

/*
 * closing - the server closed the connection, or said 421, when a new
 * transaction began: a kept session that timed out, a restart, a server
 * that takes one transaction a connection. Nothing of that transaction was
 * taken, so a new connection may carry on where this one stopped.
 */
static bool closing(const struct smtp_result *res)
{
	return (res->verdict == SMTP_NEXT || res->verdict == SMTP_TEMP) &&
	       res->stage <= STAGE_MAIL && !res->time_limit &&
	       (!res->have_reply || res->reply.code == 421);
}

/* smtp_request_init - an empty request for one address of one route target */
void smtp_request_init(struct smtp_request *req, const struct route_target *t,
		       const struct route_addr *a)
{
	memset(req, 0, sizeof(*req));
	req->host = t->host;
	req->literal = t->literal;
	req->sa = (const struct sockaddr *)&a->sa;
	req->salen = a->salen;
	req->implicit_tls = t->implicit_tls;
}

/* session_result_reset - a result for a new attempt: every field cleared, the text buffers emptied
 */
void session_result_reset(struct smtp_result *res)
{
	memset(res, 0, offsetof(struct smtp_result, reply));
	res->verdict = SMTP_SENT; /* until something fails */
	smtp_reply_init(&res->reply);
	res->why[0] = '\0';
	res->xforward_refused[0] = '\0';
}

/*
 * smtp_deliver - deliver the pending recipients at one address, on the
 * kept session when there is one that fits, else on a new connection; a
 * connection that closes between transactions after it carried some of
 * them is replaced (each replacement follows progress, so this ends).
 * Recipients settled here have their result; res->verdict says what
 * becomes of those still pending.
 */
void smtp_deliver(const struct smtp_request *req, struct smtp_result *res)
{
	struct smtp_conn own_conn; /* without a cache: this attempt's alone */
	struct smtp_reply own_ehlo;
	struct session s = {.req = req, .res = res};
	bool kept;

	session_result_reset(res);
	kept = smtp_reuse_take(&s);
	if (!kept) {
		/* A new connection goes where it would be kept: the cache, now empty. */
		s.conn = req->cache ? &req->cache->conn : &own_conn;
		s.ehlo = req->cache ? &req->cache->ehlo : &own_ehlo;
		conn_init(s.conn);
		smtp_reply_init(s.ehlo);
	}
	for (;;) {
		s.settled = 0;
		if ((kept || greet(&s)) && !req->probe_only) {
			if (req->verify_only)
				session_verify(&s);
			else
				session_transactions(&s);
		}
		if (!closing(res) || (!kept && s.settled == 0))
			break;
		conn_close(s.conn);
		session_result_reset(res);
		kept = false;
	}
	if (res->verdict == SMTP_SENT) {
		if (smtp_reuse_put(&s))
			return;
		session_quit(&s);
	} else if (!res->time_limit && res->stage < STAGE_DOT && res->have_reply) {
		session_quit(&s);
	}
	conn_close(s.conn);
}
