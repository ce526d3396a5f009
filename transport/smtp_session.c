/* smtp_session - one SMTP transaction with one server address: the client state machine */
#include "config.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mxconfig.h"
#include "smtp_conn.h"
#include "smtp_session.h"
#include "util.h"

struct session {
	const struct smtp_request *req;
	struct smtp_result *res;
	struct smtp_conn conn;
	struct smtp_reply ehlo; /* the EHLO reply: the server's extensions */
	bool esmtp;
};

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
	case STAGE_MAIL: return "MAIL FROM command";
	case STAGE_RCPT: return "RCPT TO command";
	case STAGE_DATA: return "DATA command";
	case STAGE_DOT: return "end of DATA";
	case STAGE_DONE: return "QUIT command";
	}
	return "?";
}

/* fail - a failure that is not a server reply */
static void fail(struct session *s, enum smtp_verdict v, const char *dsn, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void fail(struct session *s, enum smtp_verdict v, const char *dsn, const char *fmt, ...)
{
	va_list ap;

	s->res->verdict = v;
	s->res->have_reply = false;
	mx_strlcpy(s->res->dsn, dsn, sizeof(s->res->dsn));
	va_start(ap, fmt);
	vsnprintf(s->res->why, sizeof(s->res->why), fmt, ap);
	va_end(ap);
	mx_printable(s->res->why);
	if (s->conn.hit_limit)
		s->res->time_limit = true;
}

/*
 * refused - a reply that ends the attempt: 4xx defers, 5xx bounces; the
 * server's enhanced code is used when it has one of the right class.
 */
static void refused(struct session *s, const struct smtp_reply *r, enum smtp_verdict v_if_temp,
		    enum smtp_verdict v_if_perm)
{
	s->res->have_reply = true;
	s->res->reply = *r;
	s->res->verdict = r->code >= 500 ? v_if_perm : v_if_temp;
	if (r->enh[0])
		mx_strlcpy(s->res->dsn, r->enh, sizeof(s->res->dsn));
	else
		snprintf(s->res->dsn, sizeof(s->res->dsn), "%d.0.0", r->code / 100);
}

/*
 * read_reply - a whole reply. On a lost connection, timeout or garbage the
 * attempt ends: before the transaction the next address is tried; after
 * the final dot the message may have arrived, and the MTA must retry.
 */
static bool read_reply(struct session *s, struct smtp_reply *r, unsigned timeout_ms)
{
	char line[SMTP_LINE_MAX + 1], err[256];
	size_t len;
	int rc;

	smtp_reply_init(r);
	do {
		rc = conn_read_line(&s->conn, line, SMTP_LINE_MAX, &len, timeout_ms, err,
				    sizeof(err));
		if (rc <= 0)
			break;
		rc = smtp_reply_add_line(r, line, len, err, sizeof(err));
		if (rc < 0) {
			fail(s, SMTP_NEXT, "4.5.0", "protocol error: %s (in reply to %s)", err,
			     smtp_stage_command(s->res->stage));
			return false;
		}
	} while (rc == 0);
	if (rc == 1)
		return true;
	fail(s, SMTP_NEXT, s->conn.hit_limit ? "4.4.7" : "4.4.2", "%s %s %s", err,
	     rc == 0 ? "waiting for reply to" : "in reply to", smtp_stage_command(s->res->stage));
	return false;
}

/* send_cmd - one command line (CR LF added) */
static bool send_cmd(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool send_cmd(struct session *s, const char *fmt, ...)
{
	char buf[2048], err[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(buf) - 2) {
		fail(s, SMTP_TEMP, "4.3.0", "command too long");
		return false;
	}
	memcpy(buf + n, "\r\n", 2);
	if (conn_write(&s->conn, buf, (size_t)n + 2, s->req->command_timeout_ms, err,
		       sizeof(err)) <= 0) {
		fail(s, SMTP_NEXT, s->conn.hit_limit ? "4.4.7" : "4.4.2", "%s (sending %s)", err,
		     smtp_stage_command(s->res->stage));
		return false;
	}
	return true;
}

/* command - send, read the reply, and accept only the wanted class (2 or 3) */
static bool command(struct session *s, enum smtp_stage stage, int want_class, struct smtp_reply *r,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static bool command(struct session *s, enum smtp_stage stage, int want_class, struct smtp_reply *r,
		    const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	s->res->stage = stage;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!send_cmd(s, "%s", buf) || !read_reply(s, r, s->req->command_timeout_ms))
		return false;
	return r->code / 100 == want_class;
}

/* hello - EHLO, or HELO when EHLO is refused; false when the attempt is over */
static bool hello(struct session *s)
{
	struct smtp_reply r;

	if (command(s, STAGE_EHLO, 2, &s->ehlo, "EHLO %s", s->req->helo_name)) {
		s->esmtp = true;
		return true;
	}
	if (s->res->verdict != SMTP_SENT || !s->ehlo.done)
		return false; /* lost connection or garbage, not a refusal */
	if (command(s, STAGE_HELO, 2, &r, "HELO %s", s->req->helo_name)) {
		s->esmtp = false;
		smtp_reply_init(&s->ehlo);
		return true;
	}
	if (r.done)
		refused(s, &r, SMTP_NEXT, SMTP_NEXT);
	return false;
}

/* starttls - STARTTLS and the handshake, when the TLS mode and the server call for it */
static bool starttls(struct session *s)
{
	const struct smtp_request *q = s->req;
	bool offered = s->esmtp && smtp_reply_has_keyword(&s->ehlo, "STARTTLS", NULL);
	struct smtp_reply r;
	char err[256];

	if (q->implicit_tls || q->plain_fallback || q->tls_mode == MX_TLS_NONE)
		return true;
	if (!offered) {
		if (q->tls_mode == MX_TLS_MAY)
			return true;
		fail(s, SMTP_NEXT, "4.7.4", "TLS is required (tls=%s), but was not offered by host",
		     mx_tls_mode_names[q->tls_mode]);
		return false;
	}
	if (!command(s, STAGE_STARTTLS, 2, &r, "STARTTLS")) {
		s->res->tls_failed = true; /* refused or lost: tls=may tries again in plain text */
		if (r.done) {
			/* Refused STARTTLS is a TLS failure: never a bounce. */
			refused(s, &r, SMTP_NEXT, SMTP_NEXT);
			mx_strlcpy(s->res->dsn, "4.7.5", sizeof(s->res->dsn));
			s->res->tls_failed = true;
		}
		return false;
	}
	s->res->stage = STAGE_TLS;
	if (conn_has_buffered(&s->conn)) {
		/* Bytes after "220" would be read as if they came over TLS: a known injection. */
		fail(s, SMTP_NEXT, "4.7.0", "host sent data after its STARTTLS reply");
		return false;
	}
	if (tls_handshake(&s->conn, q->tls_ctx, q->host, q->literal, q->dane, q->command_timeout_ms,
			  &s->res->tls, err, sizeof(err)) < 0) {
		s->res->tls_failed = true;
		fail(s, SMTP_NEXT, "4.7.5", "%s", err);
		return false;
	}
	s->res->tls_used = true;
	if (q->tls_mode >= MX_TLS_VERIFY && !s->res->tls.verified) {
		fail(s, SMTP_NEXT, "4.7.5", "server certificate not verified: %s",
		     s->res->tls.verify_text);
		return false;
	}
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
		fail(s, SMTP_NEXT, "4.7.0",
		     "credentials are configured for this route, but TLS is not in use: AUTH not "
		     "sent");
		return false;
	}
	if (!s->esmtp || !smtp_reply_has_keyword(&s->ehlo, "AUTH", &mechs)) {
		return true; /* the server may not need it; MAIL will tell */
	}
	s->res->stage = STAGE_AUTH;
	size_t ulen = strlen(q->auth_user), plen = strlen(q->auth_pass);
	if (strcasestr(mechs, "PLAIN")) {
		char *blob = mx_malloc(ulen + plen + 2);
		blob[0] = '\0';
		memcpy(blob + 1, q->auth_user, ulen);
		blob[1 + ulen] = '\0';
		memcpy(blob + 2 + ulen, q->auth_pass, plen);
		char *enc = b64(blob, ulen + plen + 2);
		ok = command(s, STAGE_AUTH, 2, &r, "AUTH PLAIN %s", enc);
		OPENSSL_cleanse(blob, ulen + plen + 2);
		OPENSSL_cleanse(enc, strlen(enc));
		free(blob);
		free(enc);
	} else if (strcasestr(mechs, "LOGIN")) {
		char *u = b64(q->auth_user, ulen), *p = b64(q->auth_pass, plen);
		ok = command(s, STAGE_AUTH, 3, &r, "AUTH LOGIN") &&
		     command(s, STAGE_AUTH, 3, &r, "%s", u) &&
		     command(s, STAGE_AUTH, 2, &r, "%s", p);
		OPENSSL_cleanse(p, strlen(p));
		free(u);
		free(p);
	} else {
		fail(s, SMTP_NEXT, "4.7.0",
		     "host offers no AUTH mechanism we speak (PLAIN, LOGIN)");
		return false;
	}
	if (!ok && r.done) {
		/* Wrong credentials are the admin's to fix: defer, as Postfix does by default. */
		refused(s, &r, SMTP_NEXT, SMTP_NEXT);
		mx_strlcpy(s->res->dsn, "4.7.0", sizeof(s->res->dsn));
	}
	return ok;
}

/* quit - a polite end; whatever happens to it leaves the result as it was */
static void quit(struct session *s)
{
	struct smtp_result saved = *s->res;
	struct smtp_reply r;

	if (s->conn.fd >= 0 && send_cmd(s, "QUIT"))
		read_reply(s, &r, 2000);
	*s->res = saved;
}

/* mail_params - SIZE, BODY and SMTPUTF8 as the server offers and the message needs */
static bool mail_params(struct session *s, char *out, size_t outlen)
{
	const struct message *m = s->req->msg;
	const char *args = NULL;
	size_t o = 0;
	bool utf8_needed = false;

	out[0] = '\0';
	for (const char *p = s->req->sender; *p; p++)
		utf8_needed |= (unsigned char)*p >= 0x80;
	for (size_t i = 0; i < s->req->nrcpts; i++)
		for (const char *p = s->req->rcpts[i]; *p; p++)
			utf8_needed |= (unsigned char)*p >= 0x80;
	if (!s->esmtp) {
		if (utf8_needed) {
			fail(s, SMTP_PERM, "5.6.7",
			     "SMTPUTF8 is required, but was not offered by host");
			return false;
		}
		return true;
	}
	if (smtp_reply_has_keyword(&s->ehlo, "SIZE", &args)) {
		unsigned long max = strtoul(args, NULL, 10);
		if (max > 0 && m->size > max) {
			fail(s, SMTP_PERM, "5.3.4",
			     "message size %zu exceeds size limit %lu of server", m->size, max);
			return false;
		}
		o += (size_t)snprintf(out + o, outlen - o, " SIZE=%zu", m->size);
	}
	if (m->eightbit && smtp_reply_has_keyword(&s->ehlo, "8BITMIME", NULL))
		o += (size_t)snprintf(out + o, outlen - o, " BODY=8BITMIME");
	if (utf8_needed) {
		if (!smtp_reply_has_keyword(&s->ehlo, "SMTPUTF8", NULL)) {
			fail(s, SMTP_PERM, "5.6.7",
			     "SMTPUTF8 is required, but was not offered by host");
			return false;
		}
		snprintf(out + o, outlen - o, " SMTPUTF8");
	}
	return true;
}

/*
 * transaction - MAIL, RCPT..., DATA, message, dot. Pipelined when offered.
 * All or nothing: when a recipient is refused, no message is sent at all,
 * so that one exit status can speak for every recipient (see the man page).
 */
static void transaction(struct session *s)
{
	const struct smtp_request *q = s->req;
	bool pipelining = s->esmtp && smtp_reply_has_keyword(&s->ehlo, "PIPELINING", NULL);
	struct smtp_reply r;
	char params[128], err[256];
	size_t i;
	bool all_ok = true;

	if (!mail_params(s, params, sizeof(params)))
		return;
	s->res->stage = STAGE_MAIL;
	if (pipelining) {
		/* One write for MAIL, every RCPT and DATA (RFC 2920); replies come back in order.
		 */
		size_t cap = 256 + q->nrcpts * 300, len = 0;
		char *batch = mx_malloc(cap);

		len += (size_t)snprintf(batch + len, cap - len, "MAIL FROM:<%s>%s\r\n", q->sender,
					params);
		for (i = 0; i < q->nrcpts; i++)
			len += (size_t)snprintf(batch + len, cap - len, "RCPT TO:<%s>\r\n",
						q->rcpts[i]);
		len += (size_t)snprintf(batch + len, cap - len, "DATA\r\n");
		int rc = conn_write(&s->conn, batch, len, q->command_timeout_ms, err, sizeof(err));
		free(batch);
		if (rc <= 0) {
			fail(s, SMTP_NEXT, s->conn.hit_limit ? "4.4.7" : "4.4.2", "%s (sending %s)",
			     err, smtp_stage_command(s->res->stage));
			return;
		}
		if (!read_reply(s, &r, q->command_timeout_ms))
			return;
		if (r.code / 100 != 2) {
			refused(s, &r, SMTP_TEMP, SMTP_PERM);
			return;
		}
	} else if (!command(s, STAGE_MAIL, 2, &r, "MAIL FROM:<%s>%s", q->sender, params)) {
		if (r.done)
			refused(s, &r, SMTP_TEMP, SMTP_PERM);
		return;
	}
	s->res->stage = STAGE_RCPT;
	for (i = 0; i < q->nrcpts; i++) {
		bool ok = pipelining ? read_reply(s, &r, q->command_timeout_ms) && r.code / 100 == 2
				     : command(s, STAGE_RCPT, 2, &r, "RCPT TO:<%s>", q->rcpts[i]);
		if (r.done && q->rcpt_replies)
			q->rcpt_replies[i] = r;
		if (!ok) {
			if (!r.done)
				return;
			if (all_ok) {
				refused(s, &r, SMTP_TEMP, SMTP_PERM);
				s->res->bad_rcpt = i;
			} else if (r.code < 500 && s->res->verdict == SMTP_PERM) {
				/* A temporary refusal wins: a retry may still deliver. */
				refused(s, &r, SMTP_TEMP, SMTP_PERM);
				s->res->bad_rcpt = i;
			}
			all_ok = false;
		}
	}
	if (pipelining) {
		if (all_ok)
			s->res->stage = STAGE_DATA;
		if (!read_reply(s, &r, q->command_timeout_ms))
			return;
		if (!all_ok) {
			/* DATA may have been accepted; closing without a dot aborts the
			 * transaction. */
			if (r.code == 354)
				conn_close(&s->conn);
			return;
		}
		if (r.code != 354) {
			refused(s, &r, SMTP_TEMP, SMTP_PERM);
			return;
		}
	} else {
		if (!all_ok)
			return;
		s->res->stage = STAGE_DATA;
		if (!command(s, STAGE_DATA, 3, &r, "DATA")) {
			if (r.done)
				refused(s, &r, SMTP_TEMP, SMTP_PERM);
			return;
		}
	}
	s->res->stage = STAGE_DOT;
	if (conn_write(&s->conn, q->msg->data, q->msg->datalen, q->data_done_timeout_ms, err,
		       sizeof(err)) <= 0) {
		/* The dot was not sent: the server cannot have taken the message. */
		fail(s, SMTP_TEMP, s->conn.hit_limit ? "4.4.7" : "4.4.2",
		     "%s (sending message body)", err);
		return;
	}
	if (!read_reply(s, &r, q->data_done_timeout_ms)) {
		/* After the dot a lost reply may hide a delivery: retry later, never elsewhere now.
		 */
		s->res->verdict = SMTP_TEMP;
		return;
	}
	if (r.code / 100 != 2) {
		refused(s, &r, SMTP_TEMP, SMTP_PERM);
		return;
	}
	s->res->have_reply = true;
	s->res->reply = r;
	s->res->verdict = SMTP_SENT;
	mx_strlcpy(s->res->dsn, r.enh[0] == '2' ? r.enh : "2.0.0", sizeof(s->res->dsn));
	s->res->stage = STAGE_DONE;
}

/* cache_key - what must be equal for a kept session to serve a request */
static bool cache_key(const struct smtp_request *req, char *key, size_t keylen)
{
	if (req->cache == NULL || req->dane != NULL || req->salen > sizeof(struct sockaddr_storage))
		return false;
	snprintf(key, keylen, "%s|%d|%d|%d|%s|%s", req->host, req->tls_mode, req->implicit_tls,
		 req->plain_fallback, req->helo_name, req->auth_user ? req->auth_user : "");
	return true;
}

/*
 * cache_take - the kept session, when it serves this request and the server
 * has not spoken since (a 421 or a close while idle): then it is the
 * session's. Otherwise a kept session that cannot serve is closed.
 */
static bool cache_take(struct session *s)
{
	const struct smtp_request *req = s->req;
	struct smtp_cache *c = req->cache;
	char key[sizeof(c->key)];
	struct pollfd pfd;

	if (c == NULL || !c->open)
		return false;
	if (!cache_key(req, key, sizeof(key)) || strcmp(key, c->key) != 0 ||
	    c->tls_ctx != req->tls_ctx || c->salen != req->salen ||
	    memcmp(&c->sa, req->sa, req->salen) != 0) {
		smtp_cache_close(c);
		return false;
	}
	pfd.fd = c->conn.fd;
	pfd.events = POLLIN;
	if (conn_has_buffered(&c->conn) || poll(&pfd, 1, 0) != 0) {
		c->open = false; /* it spoke or hung up: no QUIT, just close */
		conn_close(&c->conn);
		return false;
	}
	s->conn = c->conn;
	s->conn.limit_ms = req->limit_ms;
	s->conn.hit_limit = false;
	s->ehlo = c->ehlo;
	s->esmtp = c->esmtp;
	s->res->tls_used = c->tls_used;
	s->res->tls = c->tls;
	s->res->conn_use = ++c->uses;
	c->open = false;
	return true;
}

/* cache_put - keep the session of a delivery that went well; false when it cannot be */
static bool cache_put(struct session *s)
{
	const struct smtp_request *req = s->req;
	struct smtp_cache *c = req->cache;

	if (c == NULL || s->conn.fd < 0 || !cache_key(req, c->key, sizeof(c->key)))
		return false;
	if (c->open)
		smtp_cache_close(c);
	c->conn = s->conn;
	c->ehlo = s->ehlo;
	c->esmtp = s->esmtp;
	c->tls_used = s->res->tls_used;
	c->tls = s->res->tls;
	memcpy(&c->sa, req->sa, req->salen);
	c->salen = req->salen;
	c->tls_ctx = req->tls_ctx;
	c->uses = s->res->conn_use;
	c->open = true;
	s->conn.fd = -1; /* the cache's now */
	s->conn.ssl = NULL;
	return true;
}

/* smtp_cache_close - QUIT the kept session, if there is one, and close it */
void smtp_cache_close(struct smtp_cache *cache)
{
	/* quit() needs a session: one with no request of its own, two seconds to live. */
	struct smtp_request req = {.command_timeout_ms = 1000};
	struct smtp_result res;
	struct session s = {.req = &req, .res = &res};

	if (cache == NULL || !cache->open)
		return;
	cache->open = false;
	memset(&res, 0, sizeof(res));
	s.conn = cache->conn;
	s.conn.limit_ms = mx_now_ms() + 2000;
	quit(&s);
	conn_close(&s.conn);
}

/* greet - connect, greeting, EHLO, STARTTLS, AUTH: false when the attempt is over */
static bool greet(struct session *s)
{
	const struct smtp_request *req = s->req;
	struct smtp_result *res = s->res;
	struct smtp_reply greeting;
	char err[256];

	res->stage = STAGE_CONNECT;
	res->conn_use = 1;
	if (conn_connect(&s->conn, req->sa, req->salen, req->connect_timeout_ms, req->limit_ms, err,
			 sizeof(err)) < 0) {
		fail(s, SMTP_NEXT, s->conn.hit_limit ? "4.4.7" : "4.4.1", "%s", err);
		return false;
	}
	if (req->implicit_tls) {
		res->stage = STAGE_TLS;
		if (tls_handshake(&s->conn, req->tls_ctx, req->host, req->literal, req->dane,
				  req->command_timeout_ms, &res->tls, err, sizeof(err)) < 0) {
			fail(s, SMTP_NEXT, "4.7.5", "%s", err);
			return false;
		}
		res->tls_used = true;
		if (req->tls_mode >= MX_TLS_VERIFY && !res->tls.verified) {
			fail(s, SMTP_NEXT, "4.7.5", "server certificate not verified: %s",
			     res->tls.verify_text);
			return false;
		}
	}
	res->stage = STAGE_GREETING;
	if (!read_reply(s, &greeting, req->command_timeout_ms))
		return false;
	if (greeting.code / 100 != 2) {
		refused(s, &greeting, SMTP_NEXT, SMTP_NEXT);
		return false;
	}
	return hello(s) && starttls(s) && auth(s);
}

/*
 * smtp_deliver - try the whole transaction at one address, on the kept
 * session when there is one that fits, else on a new connection.
 * res->verdict says whether it was sent, final (temp or perm), or whether
 * the next address should be tried.
 */
void smtp_deliver(const struct smtp_request *req, struct smtp_result *res)
{
	struct session s = {.req = req, .res = res, .conn = {.fd = -1}};

	memset(res, 0, sizeof(*res));
	res->verdict = SMTP_SENT; /* until something fails */
	if (cache_take(&s)) {
		transaction(&s);
		/*
		 * The server may have closed the kept connection just as MAIL went
		 * out, or answer it with 421 (closing: an idle limit, a restart).
		 * Nothing was taken before a reply to MAIL, so a new connection
		 * tries again as if nothing had been kept.
		 */
		bool closing = res->verdict != SMTP_SENT && res->verdict != SMTP_PERM &&
			       res->stage <= STAGE_MAIL && !res->time_limit &&
			       (!res->have_reply || res->reply.code == 421);
		if (!closing)
			goto done;
		conn_close(&s.conn);
		memset(res, 0, sizeof(*res));
		res->verdict = SMTP_SENT;
	}
	if (greet(&s))
		transaction(&s);
done:
	if (res->verdict == SMTP_SENT) {
		if (cache_put(&s))
			return;
		quit(&s);
	} else if (!res->time_limit && res->stage < STAGE_DOT && res->have_reply) {
		quit(&s);
	}
	conn_close(&s.conn);
}
