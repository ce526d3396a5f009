/*
 * smtp_txn - the SMTP client's transactions on a connection that greet()
 * made ready: MAIL, the RCPTs and DATA (pipelined in groups when offered),
 * the message, the dot; each recipient settled by its own reply, "too many
 * recipients" answered by a new transaction, 8-bit mail made 7-bit for a
 * server without 8BITMIME.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime7bit.h"
#include "status.h"
#include "smtp_cmd.h"
#include "smtp_conn.h"
#include "smtp_session.h"
#include "smtp_session_int.h"
#include "util.h"

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
		if (s->req->rcpts[i].state == RCPT_PENDING)
			for (const char *p = s->req->rcpts[i].addr; *p; p++)
				utf8_needed |= (unsigned char)*p >= 0x80;
	if (!s->esmtp) {
		if (utf8_needed) {
			session_fail(s, MX_ST_UTF8_REFUSED,
				     "SMTPUTF8 is required, but was not offered by host");
			return false;
		}
		return true;
	}
	if (smtp_reply_has_keyword(s->ehlo, "SIZE", &args)) {
		unsigned long max = strtoul(args, NULL, 10);
		if (max > 0 && m->size > max) {
			session_fail(s, MX_ST_TOO_BIG,
				     "message size %zu exceeds size limit %lu of server", m->size,
				     max);
			return false;
		}
		mx_buf_printf(out, " SIZE=%zu", m->size);
	}
	if (m->eightbit && smtp_reply_has_keyword(s->ehlo, "8BITMIME", NULL))
		mx_buf_printf(out, " BODY=8BITMIME");
	if (utf8_needed) {
		if (!smtp_reply_has_keyword(s->ehlo, "SMTPUTF8", NULL)) {
			session_fail(s, MX_ST_UTF8_REFUSED,
				     "SMTPUTF8 is required, but was not offered by host");
			return false;
		}
		mx_buf_printf(out, " SMTPUTF8");
	}
	return true;
}

/* rcpt_set - settle one recipient at this address */
static void rcpt_set(struct session *s, struct smtp_rcpt *rc, enum rcpt_state state,
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
	if (state == RCPT_DEFER && (stage == STAGE_DATA || stage == STAGE_DOT))
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
	enum rcpt_state state = done && r->code / 100 == 2 ? RCPT_SENT
				: r->code / 100 == 5	   ? RCPT_BOUNCE
							   : RCPT_DEFER;

	smtp_reply_dsn(r, dsn, sizeof(dsn));
	if (state == RCPT_DEFER)
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
		smtp_reply_dsn(r, rc->dsn, sizeof(rc->dsn));
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

	session_enter(s, STAGE_MAIL);
	if (!pipelining) {
		if (!session_command(s, STAGE_MAIL, 2, &r, "MAIL FROM:<%s>%s", q->sender, params)) {
			if (r.done)
				session_refused(s, &r, SMTP_TEMP, SMTP_PERM);
			return false;
		}
		for (size_t k = 0; k < t->n; k++) {
			session_command(s, STAGE_RCPT, 2, &r, "RCPT TO:<%s>",
					q->rcpts[t->idx[k]].addr);
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
		session_enter(s, first == 0 ? STAGE_MAIL : STAGE_RCPT);
		bool sent = session_send(s, &group);
		mx_buf_free(&group);
		if (!sent)
			return false;
		for (size_t c = first; c < next; c++) {
			struct smtp_reply *rr = c == ncmd - 1 ? data_reply : &r;

			session_enter(s, c == 0 ? STAGE_MAIL : c <= t->n ? STAGE_RCPT : STAGE_DATA);
			if (!session_read_reply(s, rr, q->command_timeout_ms))
				return false;
			if (c == 0 && rr->code / 100 != 2) {
				/* The RCPTs and DATA already sent get 503s: nothing more is sent.
				 */
				session_refused(s, rr, SMTP_TEMP, SMTP_PERM);
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

	if (session_command(s, STAGE_RSET, 2, &r, "RSET"))
		return true;
	if (r.done)
		session_fail(s, MX_ST_LOST, "RSET refused: %.200s", r.text);
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
	bool pipelining = s->esmtp && smtp_reply_has_keyword(s->ehlo, "PIPELINING", NULL);
	struct smtp_reply r, data_reply;
	char err[256];

	smtp_reply_init(&data_reply);
	if (!session_xforward(s) || !send_envelope(s, t, params, pipelining, &data_reply))
		return false;
	if (t->naccepted == 0) {
		/* The server takes no recipient now: a new transaction would fare no better. */
		for (size_t k = 0; k < t->n; k++) {
			if (t->again[k]) {
				q->rcpts[t->idx[k]].state = RCPT_DEFER;
				s->settled++;
			}
		}
		if (pipelining && data_reply.code == 354) {
			/* DATA accepted with no recipient: closing without a dot aborts it. */
			conn_close(s->conn);
			session_fail(s, MX_ST_PROTOCOL,
				     "host accepted DATA without a valid recipient");
			return false;
		}
		return reset(s);
	}
	session_enter(s, STAGE_DATA);
	if (!pipelining && !session_command(s, STAGE_DATA, 3, &data_reply, "DATA") &&
	    !data_reply.done)
		return false;
	if (data_reply.code != 354) {
		for (size_t k = 0; k < t->n; k++)
			if (t->accepted[k])
				rcpt_set_reply(s, &q->rcpts[t->idx[k]], STAGE_DATA, &data_reply,
					       false);
		return data_reply.code != 421 && reset(s);
	}
	session_enter(s, STAGE_DOT);
	int wrc = conn_write(s->conn, s->msg->data, s->msg->datalen, q->data_done_timeout_ms, err,
			     sizeof(err));
	bool got = wrc > 0 && session_read_reply(s, &r, q->data_done_timeout_ms);
	if (wrc <= 0) {
		/* The dot was not sent: the server cannot have taken the message. */
		session_fail(s, s->conn->hit_limit ? MX_ST_TIME_LIMIT : MX_ST_LOST,
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
			rcpt_set(s, rc, RCPT_DEFER, STAGE_DOT, false, s->res->dsn, s->res->why);
	}
	return got && r.code != 421;
}

/* unsendable - settle what no server can be sent: an address with a control character */
static bool unsendable(struct session *s)
{
	const struct smtp_request *q = s->req;

	if (!smtp_addr_sendable(q->sender)) {
		session_fail(s, MX_ST_BAD_SENDER, "bad sender address syntax: control character");
		return true;
	}
	for (size_t i = 0; i < q->nrcpts; i++)
		if (q->rcpts[i].state == RCPT_PENDING && !smtp_addr_sendable(q->rcpts[i].addr))
			rcpt_set(s, &q->rcpts[i], RCPT_BOUNCE, STAGE_RCPT, false,
				 mx_status_dsn(MX_ST_BAD_RECIPIENT),
				 "bad recipient address syntax: control character");
	return false;
}

/*
 * session_transactions - as many transactions as the pending recipients need: at
 * most rcpt_limit recipients in one, and "too many recipients" answered
 * by a new one on the same connection. Every transaction settles at least
 * one recipient, so this ends.
 */
void session_transactions(struct session *s)
{
	const struct smtp_request *q = s->req;
	size_t cap = q->rcpt_limit && q->rcpt_limit < q->nrcpts ? q->rcpt_limit : q->nrcpts;
	struct txn t = {.idx = mx_calloc(cap ? cap : 1, sizeof(size_t)),
			.accepted = mx_calloc(cap ? cap : 1, sizeof(bool)),
			.again = mx_calloc(cap ? cap : 1, sizeof(bool))};
	struct mx_buf params = {0}, seven_data = {0};
	struct message seven;

	s->msg = q->msg;
	if (q->msg->eightbit && !(s->esmtp && smtp_reply_has_keyword(s->ehlo, "8BITMIME", NULL))) {
		/* RFC 6152: no 8-bit data to a server that did not offer 8BITMIME. */
		char why[256];

		seven = *q->msg;
		if (message_downgrade(q->msg, &seven_data, &seven.size, why, sizeof(why)) < 0) {
			session_fail(s, MX_ST_NOT_7BIT,
				     "host does not offer 8BITMIME, and the 8-bit message cannot "
				     "be made "
				     "7-bit: %s",
				     why);
			goto out;
		}
		seven.data = seven_data.data;
		seven.datalen = seven_data.len; /* header_len is the 8-bit form's: only sent */
		seven.eightbit = false;
		s->msg = &seven;
	}
	if (unsendable(s) || !mail_params(s, &params))
		goto out;
	for (;;) {
		t.n = t.naccepted = t.nagain = 0;
		for (size_t i = 0; i < q->nrcpts && t.n < cap; i++)
			if (q->rcpts[i].state == RCPT_PENDING)
				t.idx[t.n++] = i;
		if (t.n == 0)
			break;
		memset(t.accepted, 0, t.n * sizeof(bool));
		memset(t.again, 0, t.n * sizeof(bool));
		if (!transaction(s, &t, params.data))
			goto out;
	}
	session_enter(s, STAGE_DONE);
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
