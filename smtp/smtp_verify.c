/*
 * smtp_verify - the SMTP client's recipient check, for mxport-milter's
 * verify: on a connection that greet() made ready, MAIL FROM:<> and one
 * RCPT TO, no DATA; the QUIT that follows ends the transaction. The reply
 * to RCPT is the answer, in res: have_reply with stage STAGE_RCPT, the
 * verdict SENT for 2xx, PERM for 5xx, TEMP for anything else. Any other
 * end (no connection, a refused MAIL FROM:<>, a lost connection) leaves
 * stage before STAGE_RCPT, or no reply: nothing was learned of the
 * recipient.
 */
#include "config.h"

#include "smtp_cmd.h"
#include "smtp_session.h"
#include "smtp_session_int.h"

/* session_verify - MAIL FROM:<> and RCPT TO:<req->rcpts[0]> */
void session_verify(struct session *s)
{
	const char *rcpt = s->req->nrcpts ? s->req->rcpts[0].addr : "";
	bool utf8 = false;
	struct smtp_reply r;

	for (const unsigned char *p = (const unsigned char *)rcpt; *p; p++)
		utf8 |= *p >= 0x80;
	session_enter(s, STAGE_MAIL);
	if (!smtp_addr_sendable(rcpt)) {
		session_fail(s, MX_ST_NOT_ASKED, "recipient has a control character: not asked");
		return;
	}
	if (utf8 && !(s->esmtp && smtp_reply_has_keyword(s->ehlo, "SMTPUTF8", NULL))) {
		session_fail(s, MX_ST_UTF8_NOT_ASKED, "SMTPUTF8 is required, but was not offered");
		return;
	}
	if (!session_command(s, STAGE_MAIL, 2, &r, "MAIL FROM:<>%s", utf8 ? " SMTPUTF8" : "")) {
		/* A server that refuses the null sender says nothing of the recipient. */
		if (r.done)
			session_refused(s, &r, SMTP_NEXT, SMTP_NEXT);
		return;
	}
	session_command(s, STAGE_RCPT, 2, &r, "RCPT TO:<%s>", rcpt);
	if (!r.done)
		return; /* lost connection or garbage: session_fail() said so */
	if (r.code / 100 == 2) {
		s->res->have_reply = true;
		s->res->own_failure = false;
		s->res->reply = r;
		smtp_reply_dsn(&r, s->res->dsn, sizeof(s->res->dsn));
		return;
	}
	session_refused(s, &r, SMTP_TEMP, SMTP_PERM);
}
