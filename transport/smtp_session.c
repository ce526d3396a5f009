/* smtp_session - SMTP transactions with one server address: the client state machine */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mxconfig.h"
#include "mime7bit.h"
#include "policy.h"
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
 * enter - the one transition: every change of state goes through here, so
 * that a watcher (mxport-route --probe) sees each, as OpenSMTPD's
 * mta_enter_state. The state names the command whose reply comes next.
 */
static void enter(struct session *s, enum smtp_stage stage)
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

/* reply_dsn - the reply's enhanced code when it has one of the reply's own class, else X.0.0 */
static void reply_dsn(const struct smtp_reply *r, char *dsn, size_t len)
{
	if (r->enh[0] && r->enh[0] - '0' == r->code / 100)
		mx_strlcpy(dsn, r->enh, len);
	else
		snprintf(dsn, len, "%d.0.0", r->code / 100);
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
	s->res->verdict = r->code / 100 == 5 ? v_if_perm : v_if_temp;
	reply_dsn(r, s->res->dsn, sizeof(s->res->dsn));
	if (r->code / 100 != 5)
		mx_dsn_deferred(s->res->dsn); /* 4xx, or a 2xx/3xx where it makes no sense */
}

/*
 * read_reply - a whole reply. On a lost connection, timeout or garbage the
 * attempt ends: before the transaction the next address is tried; after
 * the final dot the message may have arrived, and the MTA must retry.
 */
static bool read_reply(struct session *s, struct smtp_reply *r, unsigned timeout_ms)
{
	char line[SMTP_LINE_MAX + 1], skip_buf[SMTP_LINE_MAX + 1], err[256];
	size_t len;
	int rc;

	smtp_reply_init(r);
	do {
		bool eol;

		rc = conn_read_piece(&s->conn, line, SMTP_LINE_MAX, &len, &eol, timeout_ms, err,
				     sizeof(err));
		/* A longer line is cut, as Postfix does: the rest is read and dropped. */
		for (size_t skip; rc == 1 && !eol;)
			rc = conn_read_piece(&s->conn, skip_buf, SMTP_LINE_MAX, &skip, &eol,
					     timeout_ms, err, sizeof(err));
		if (rc <= 0)
			break;
		trace(s, "<<<", line, len);
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

/* send_buf - bytes that are whole command lines */
static bool send_buf(struct session *s, const struct mx_buf *b)
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

	if (conn_write(&s->conn, b->data, b->len, s->req->command_timeout_ms, err, sizeof(err)) <=
	    0) {
		fail(s, SMTP_NEXT, s->conn.hit_limit ? "4.4.7" : "4.4.2", "%s (sending %s)", err,
		     smtp_stage_command(s->res->stage));
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
	ok = send_buf(s, &b);
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

/* command - send, read the reply, and accept only the wanted class (2 or 3) */
static bool command(struct session *s, enum smtp_stage stage, int want_class, struct smtp_reply *r,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static bool command(struct session *s, enum smtp_stage stage, int want_class, struct smtp_reply *r,
		    const char *fmt, ...)
{
	va_list ap;
	bool sent;

	enter(s, stage);
	smtp_reply_init(r); /* r->done stays false when nothing came back */
	va_start(ap, fmt);
	sent = send_vcmd(s, fmt, ap);
	va_end(ap);
	if (!sent || !read_reply(s, r, s->req->command_timeout_ms))
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

/*
 * handshake - TLS on the connection (after STARTTLS, or at once for
 * implicit TLS), and the certificate check that the TLS mode demands
 */
static bool handshake(struct session *s)
{
	const struct smtp_request *q = s->req;
	struct tls_info *ti = &s->res->tls;
	char err[256];

	enter(s, STAGE_TLS);
	if (tls_handshake(&s->conn, q->tls_ctx, q->host, q->literal, q->dane, q->command_timeout_ms,
			  ti, err, sizeof(err)) < 0) {
		s->res->tls_failed = true;
		fail(s, SMTP_NEXT, "4.7.5", "%s", err);
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
		fail(s, SMTP_NEXT, "4.7.5", "server certificate not verified: %s", ti->verify_text);
		return false;
	}
	return true;
}

/* starttls - STARTTLS and the handshake, when the TLS mode and the server call for it */
static bool starttls(struct session *s)
{
	const struct smtp_request *q = s->req;
	bool offered = s->esmtp && smtp_reply_has_keyword(&s->ehlo, "STARTTLS", NULL);
	struct smtp_reply r;

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
	enter(s, STAGE_TLS);
	if (conn_has_buffered(&s->conn)) {
		/* Bytes after "220" would be read as if they came over TLS: a known injection. */
		fail(s, SMTP_NEXT, "4.7.0", "host sent data after its STARTTLS reply");
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
		fail(s, SMTP_NEXT, "4.7.0",
		     "credentials are configured for this route, but TLS is not in use: AUTH not "
		     "sent");
		return false;
	}
	if (!s->esmtp || !smtp_reply_has_keyword(&s->ehlo, "AUTH", &mechs)) {
		return true; /* the server may not need it; MAIL will tell */
	}
	enter(s, STAGE_AUTH);
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

/*
 * xforward - the original client's attributes, before each transaction's
 * MAIL (the server forgets them when a transaction ends: XFORWARD_README),
 * and only to a server that offers XFORWARD, only the attributes it lists.
 * A refusal other than 421 leaves the mail to go on without them: they
 * only inform the server's checks and logs.
 */
static bool xforward(struct session *s)
{
	const struct xforward *x = s->req->xforward;
	const char *offered = NULL;
	struct mx_buf cmds = {0};
	struct smtp_reply r;
	bool ok = true;

	if (x == NULL || !xforward_any(x) || !s->esmtp ||
	    !smtp_reply_has_keyword(&s->ehlo, "XFORWARD", &offered))
		return true;
	xforward_commands(x, offered, &cmds);
	for (size_t pos = 0; ok && pos < cmds.len;) {
		size_t len = (size_t)((const char *)memchr(cmds.data + pos, '\r', cmds.len - pos) -
				      (cmds.data + pos));

		if (command(s, STAGE_XFORWARD, 2, &r, "%.*s", (int)len, cmds.data + pos)) {
			s->res->xforward_sent++;
		} else if (!r.done) {
			ok = false; /* lost connection or garbage: fail() said so */
		} else if (r.code == 421) {
			refused(s, &r, SMTP_NEXT, SMTP_NEXT);
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

	if (s->conn.fd >= 0 && send_cmd(s, "QUIT"))
		read_reply(s, &r, 2000);
	*s->res = saved;
}

/* mail_params - SIZE, BODY and SMTPUTF8 as the server offers and the message needs */
static bool mail_params(struct session *s, struct mx_buf *out)
{
	const struct message *m = s->msg;
	const char *args = NULL;
	bool utf8_needed = false;

	mx_buf_append(out, "", 0);
	for (const char *p = s->req->sender; *p; p++)
		utf8_needed |= (unsigned char)*p >= 0x80;
	for (size_t i = 0; i < s->req->nrcpts; i++)
		if (s->req->rcpts[i].state == SMTP_RCPT_PENDING)
			for (const char *p = s->req->rcpts[i].addr; *p; p++)
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
		mx_buf_printf(out, " SIZE=%zu", m->size);
	}
	if (m->eightbit && smtp_reply_has_keyword(&s->ehlo, "8BITMIME", NULL))
		mx_buf_printf(out, " BODY=8BITMIME");
	if (utf8_needed) {
		if (!smtp_reply_has_keyword(&s->ehlo, "SMTPUTF8", NULL)) {
			fail(s, SMTP_PERM, "5.6.7",
			     "SMTPUTF8 is required, but was not offered by host");
			return false;
		}
		mx_buf_printf(out, " SMTPUTF8");
	}
	return true;
}

/* rcpt_set - settle one recipient at this address */
static void rcpt_set(struct session *s, struct smtp_rcpt *rc, enum smtp_rcpt_state state,
		     enum smtp_stage stage, bool is_reply, const char *dsn, const char *text)
{
	rc->state = state;
	rc->stage = stage;
	rc->is_reply = is_reply;
	mx_strlcpy(rc->dsn, dsn, sizeof(rc->dsn));
	free(rc->text);
	rc->text = mx_strdup(text);
	s->settled++;
	/*
	 * A server that defers a message at DATA or the dot (452 insufficient
	 * storage, 451 local error) is in trouble: its session is not kept, or
	 * every later message would be handed to it again, and again deferred.
	 */
	if (state == SMTP_RCPT_TEMP && (stage == STAGE_DATA || stage == STAGE_DOT))
		s->troubled = true;
}

/*
 * rcpt_set_reply - settle one recipient by a reply. Only the reply to the
 * dot (done true) can make it sent; any other reply is a refusal: 5xx
 * bounces, anything else (4xx, and a 2xx or 3xx where it makes no sense,
 * such as 250 to DATA) defers, for a server that says "done" before it has
 * the message has not got it.
 */
static void rcpt_set_reply(struct session *s, struct smtp_rcpt *rc, enum smtp_stage stage,
			   const struct smtp_reply *r, bool done)
{
	char dsn[16], *line = mx_malloc(SMTP_REPLY_TEXT);
	enum smtp_rcpt_state state = done && r->code / 100 == 2 ? SMTP_RCPT_SENT
				     : r->code / 100 == 5	? SMTP_RCPT_PERM
								: SMTP_RCPT_TEMP;

	reply_dsn(r, dsn, sizeof(dsn));
	if (state == SMTP_RCPT_TEMP)
		mx_dsn_deferred(dsn);
	smtp_reply_oneline(r, line, SMTP_REPLY_TEXT);
	rcpt_set(s, rc, state, stage, true, dsn, line);
	free(line);
}

/*
 * too_many - "too many recipients" (RFC 5321 4.5.3.1.10): 452, or the 552
 * of older servers that the RFC says to treat as temporary, or any 4xx/552
 * with the enhanced code X.5.3. The recipient goes into a new transaction.
 */
static bool too_many(const struct smtp_reply *r)
{
	size_t n = strlen(r->enh);
	bool x53 = n >= 4 && strcmp(r->enh + n - 4, ".5.3") == 0;

	return r->code == 452 || ((r->code / 100 == 4 || r->code == 552) && x53);
}

/*
 * The commands of one pipelined transaction are written a group at a time
 * and the group's replies read before the next group goes out: with
 * thousands of recipients (or addresses of 2,000 bytes) one write of
 * everything could fill both directions' socket buffers and leave both
 * sides blocked. A group is at least one command.
 */
#define PIPELINE_GROUP_BYTES 16384

/* struct txn - one transaction's recipients (indexes into req->rcpts) and their RCPT results */
struct txn {
	size_t *idx;
	bool *accepted, *again;
	size_t n, naccepted, nagain;
};

/* rcpt_reply - what one RCPT reply does to its recipient */
static void rcpt_reply(struct session *s, struct txn *t, size_t k, const struct smtp_reply *r)
{
	if (r->code / 100 == 2) {
		t->accepted[k] = true;
		t->naccepted++;
	} else if (too_many(r)) {
		/* Stays pending for the next transaction; the reply is kept in case there is none.
		 */
		struct smtp_rcpt *rc = &s->req->rcpts[t->idx[k]];
		char *line = mx_malloc(SMTP_REPLY_TEXT);

		smtp_reply_oneline(r, line, SMTP_REPLY_TEXT);
		free(rc->text);
		rc->text = line;
		reply_dsn(r, rc->dsn, sizeof(rc->dsn));
		rc->dsn[0] = '4';
		rc->stage = STAGE_RCPT;
		rc->is_reply = true;
		t->again[k] = true;
		t->nagain++;
	} else {
		rcpt_set_reply(s, &s->req->rcpts[t->idx[k]], STAGE_RCPT, r, false);
	}
}

/*
 * send_envelope - MAIL, the RCPTs and (pipelined) DATA, with their replies.
 * False when the attempt is over; *mail_ok false when MAIL was refused
 * (then res holds the refusal, for every pending recipient).
 */
static bool send_envelope(struct session *s, struct txn *t, const char *params, bool pipelining,
			  struct smtp_reply *data_reply)
{
	const struct smtp_request *q = s->req;
	struct smtp_reply r;

	enter(s, STAGE_MAIL);
	if (!pipelining) {
		if (!command(s, STAGE_MAIL, 2, &r, "MAIL FROM:<%s>%s", q->sender, params)) {
			if (r.done)
				refused(s, &r, SMTP_TEMP, SMTP_PERM);
			return false;
		}
		for (size_t k = 0; k < t->n; k++) {
			command(s, STAGE_RCPT, 2, &r, "RCPT TO:<%s>", q->rcpts[t->idx[k]].addr);
			if (!r.done)
				return false;
			rcpt_reply(s, t, k, &r);
		}
		return true;
	}

	/* Commands 0 .. n+1: MAIL, n RCPTs, DATA; each group's replies are read in order. */
	size_t ncmd = t->n + 2, next = 0;
	while (next < ncmd) {
		struct mx_buf group = {0};
		size_t first = next;

		while (next < ncmd && (next == first || group.len < PIPELINE_GROUP_BYTES)) {
			if (next == 0)
				smtp_cmd_mail(&group, q->sender, params);
			else if (next <= t->n)
				smtp_cmd_rcpt(&group, q->rcpts[t->idx[next - 1]].addr);
			else
				mx_buf_append(&group, "DATA\r\n", 6);
			next++;
		}
		enter(s, first == 0 ? STAGE_MAIL : STAGE_RCPT);
		bool sent = send_buf(s, &group);
		mx_buf_free(&group);
		if (!sent)
			return false;
		for (size_t c = first; c < next; c++) {
			struct smtp_reply *rr = c == ncmd - 1 ? data_reply : &r;

			enter(s, c == 0 ? STAGE_MAIL : c <= t->n ? STAGE_RCPT : STAGE_DATA);
			if (!read_reply(s, rr, q->command_timeout_ms))
				return false;
			if (c == 0 && rr->code / 100 != 2) {
				/* The RCPTs and DATA already sent get 503s: nothing more is sent.
				 */
				refused(s, rr, SMTP_TEMP, SMTP_PERM);
				return false;
			}
			if (c > 0 && c <= t->n)
				rcpt_reply(s, t, c - 1, rr);
		}
	}
	return true;
}

/* reset - RSET after a transaction that ended before the dot, so that the next can begin */
static bool reset(struct session *s)
{
	struct smtp_reply r;

	if (command(s, STAGE_RSET, 2, &r, "RSET"))
		return true;
	if (r.done)
		fail(s, SMTP_NEXT, "4.4.2", "RSET refused: %.200s", r.text);
	return false;
}

/*
 * transaction - one transaction for the recipients in t. Each recipient is
 * settled by its own RCPT reply, or by the reply to DATA or to the dot;
 * one answered "too many recipients" stays pending for the next
 * transaction, unless nobody was accepted in this one (then a new one
 * would end the same way, and it is deferred). Returns false when the
 * connection cannot carry another transaction (res says why, for the
 * recipients still pending).
 */
static bool transaction(struct session *s, struct txn *t, const char *params)
{
	const struct smtp_request *q = s->req;
	bool pipelining = s->esmtp && smtp_reply_has_keyword(&s->ehlo, "PIPELINING", NULL);
	struct smtp_reply r, data_reply;
	char err[256];

	smtp_reply_init(&data_reply);
	if (!xforward(s) || !send_envelope(s, t, params, pipelining, &data_reply))
		return false;
	if (t->naccepted == 0) {
		/* The server takes no recipient now: a new transaction would fare no better. */
		for (size_t k = 0; k < t->n; k++) {
			if (t->again[k]) {
				q->rcpts[t->idx[k]].state = SMTP_RCPT_TEMP;
				s->settled++;
			}
		}
		if (pipelining && data_reply.code == 354) {
			/* DATA accepted with no recipient: closing without a dot aborts it. */
			conn_close(&s->conn);
			fail(s, SMTP_NEXT, "4.5.0", "host accepted DATA without a valid recipient");
			return false;
		}
		return reset(s);
	}
	enter(s, STAGE_DATA);
	if (!pipelining && !command(s, STAGE_DATA, 3, &data_reply, "DATA") && !data_reply.done)
		return false;
	if (data_reply.code != 354) {
		for (size_t k = 0; k < t->n; k++)
			if (t->accepted[k])
				rcpt_set_reply(s, &q->rcpts[t->idx[k]], STAGE_DATA, &data_reply,
					       false);
		return data_reply.code != 421 && reset(s);
	}
	enter(s, STAGE_DOT);
	int wrc = conn_write(&s->conn, s->msg->data, s->msg->datalen, q->data_done_timeout_ms, err,
			     sizeof(err));
	bool got = wrc > 0 && read_reply(s, &r, q->data_done_timeout_ms);
	if (wrc <= 0) {
		/* The dot was not sent: the server cannot have taken the message. */
		fail(s, SMTP_NEXT, s->conn.hit_limit ? "4.4.7" : "4.4.2",
		     "%s (sending message body)", err);
	}
	for (size_t k = 0; k < t->n; k++) {
		struct smtp_rcpt *rc = &q->rcpts[t->idx[k]];

		if (!t->accepted[k])
			continue;
		if (got)
			rcpt_set_reply(s, rc, STAGE_DOT, &r, true);
		else /* after the dot a lost reply may hide a delivery: retry later, never elsewhere
		      */
			rcpt_set(s, rc, SMTP_RCPT_TEMP, STAGE_DOT, false, s->res->dsn, s->res->why);
	}
	return got && r.code != 421;
}

/* unsendable - settle what no server can be sent: an address with a control character */
static bool unsendable(struct session *s)
{
	const struct smtp_request *q = s->req;

	if (!smtp_addr_sendable(q->sender)) {
		fail(s, SMTP_PERM, "5.1.7", "bad sender address syntax: control character");
		return true;
	}
	for (size_t i = 0; i < q->nrcpts; i++)
		if (q->rcpts[i].state == SMTP_RCPT_PENDING && !smtp_addr_sendable(q->rcpts[i].addr))
			rcpt_set(s, &q->rcpts[i], SMTP_RCPT_PERM, STAGE_RCPT, false, "5.1.3",
				 "bad recipient address syntax: control character");
	return false;
}

/*
 * transactions - as many transactions as the pending recipients need: at
 * most rcpt_limit recipients in one, and "too many recipients" answered
 * by a new one on the same connection. Every transaction settles at least
 * one recipient, so this ends.
 */
static void transactions(struct session *s)
{
	const struct smtp_request *q = s->req;
	size_t cap = q->rcpt_limit && q->rcpt_limit < q->nrcpts ? q->rcpt_limit : q->nrcpts;
	struct txn t = {.idx = mx_calloc(cap ? cap : 1, sizeof(size_t)),
			.accepted = mx_calloc(cap ? cap : 1, sizeof(bool)),
			.again = mx_calloc(cap ? cap : 1, sizeof(bool))};
	struct mx_buf params = {0}, seven_data = {0};
	struct message seven;

	s->msg = q->msg;
	if (q->msg->eightbit && !(s->esmtp && smtp_reply_has_keyword(&s->ehlo, "8BITMIME", NULL))) {
		/* RFC 6152: no 8-bit data to a server that did not offer 8BITMIME. */
		char why[256];

		seven = *q->msg;
		if (message_downgrade(q->msg, &seven_data, &seven.size, why, sizeof(why)) < 0) {
			fail(s, SMTP_PERM, "5.6.3",
			     "host does not offer 8BITMIME, and the 8-bit message cannot be made "
			     "7-bit: %s",
			     why);
			goto out;
		}
		seven.data = seven_data.data;
		seven.datalen = seven_data.len;
		seven.eightbit = false;
		s->msg = &seven;
	}
	if (unsendable(s) || !mail_params(s, &params))
		goto out;
	for (;;) {
		t.n = t.naccepted = t.nagain = 0;
		for (size_t i = 0; i < q->nrcpts && t.n < cap; i++)
			if (q->rcpts[i].state == SMTP_RCPT_PENDING)
				t.idx[t.n++] = i;
		if (t.n == 0)
			break;
		memset(t.accepted, 0, t.n * sizeof(bool));
		memset(t.again, 0, t.n * sizeof(bool));
		if (!transaction(s, &t, params.data))
			goto out;
	}
	enter(s, STAGE_DONE);
out:
	s->msg = q->msg;
	mx_buf_free(&seven_data);
	mx_buf_free(&params);
	free(t.idx);
	free(t.accepted);
	free(t.again);
}

/* smtp_rcpts_free - release what sessions wrote into a recipient array */
void smtp_rcpts_free(struct smtp_rcpt *rcpts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rcpts[i].text);
		rcpts[i].text = NULL;
	}
}

/* greet - connect, greeting, EHLO, STARTTLS, AUTH: false when the attempt is over */
static bool greet(struct session *s)
{
	const struct smtp_request *req = s->req;
	struct smtp_result *res = s->res;
	struct smtp_reply greeting;
	char err[256];

	enter(s, STAGE_CONNECT);
	res->conn_use = 1;
	if (conn_connect(&s->conn, req->sa, req->salen, req->connect_timeout_ms, req->limit_ms, err,
			 sizeof(err)) < 0) {
		fail(s, SMTP_NEXT, s->conn.hit_limit ? "4.4.7" : "4.4.1", "%s", err);
		return false;
	}
	trace(s, "***", "connected", 9);
	if (req->implicit_tls && !handshake(s))
		return false;
	enter(s, STAGE_GREETING);
	if (!read_reply(s, &greeting, req->command_timeout_ms))
		return false;
	if (greeting.code / 100 != 2) {
		/*
		 * A 5xx greeting says "not now, not from you", not "no such
		 * mailbox": the next server is tried and the mail waits, as with
		 * Postfix's smtp_skip_5xx_greeting = yes (its default).
		 */
		refused(s, &greeting, SMTP_NEXT, SMTP_NEXT);
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
	struct session s = {.req = req, .res = res, .conn = {.fd = -1}};
	bool kept;

	memset(res, 0, sizeof(*res));
	res->verdict = SMTP_SENT; /* until something fails */
	kept = smtp_reuse_take(&s);
	for (;;) {
		s.settled = 0;
		if ((kept || greet(&s)) && !req->probe_only)
			transactions(&s);
		if (!closing(res) || (!kept && s.settled == 0))
			break;
		conn_close(&s.conn);
		memset(res, 0, sizeof(*res));
		res->verdict = SMTP_SENT;
		kept = false;
	}
	if (res->verdict == SMTP_SENT) {
		if (smtp_reuse_put(&s))
			return;
		session_quit(&s);
	} else if (!res->time_limit && res->stage < STAGE_DOT && res->have_reply) {
		session_quit(&s);
	}
	conn_close(&s.conn);
}
