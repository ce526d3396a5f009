/* smtp_session_int - the SMTP client's session, for its own modules (smtp_session, smtp_reuse) */
#ifndef MX_SMTP_SESSION_INT_H
#define MX_SMTP_SESSION_INT_H

#include "smtp_session.h"
#include "status.h"
#include "util.h"

/*
 * session - one connection to one server address, for one request. The
 * connection (its 16 KB read buffer) and the EHLO reply live where they
 * stay: in the request's smtp_cache when it has one (a kept session is
 * taken and put back by pointer, never copied), else in smtp_deliver's
 * frame.
 */
struct session {
	const struct smtp_request *req;
	struct smtp_result *res;
	struct smtp_conn *conn;
	struct smtp_reply *ehlo; /* the EHLO reply: the server's extensions */
	bool esmtp;
	size_t settled;		   /* recipients settled on this connection */
	bool troubled;		   /* a message was deferred at DATA or the dot: not kept */
	const struct message *msg; /* what DATA sends: req->msg, or its 7-bit form */
};

/* smtp_session.c: the conversation's steps, for smtp_txn.c */
void session_enter(struct session *s, enum smtp_stage stage);
void session_fail(struct session *s, enum mx_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void session_refused(struct session *s, const struct smtp_reply *r, enum smtp_verdict v_if_temp,
		     enum smtp_verdict v_if_perm);
bool session_read_reply(struct session *s, struct smtp_reply *r, unsigned timeout_ms);
bool session_send(struct session *s, const struct mx_buf *b);
bool session_command(struct session *s, enum smtp_stage stage, int want_class, struct smtp_reply *r,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
bool session_xforward(struct session *s);
void smtp_reply_dsn(const struct smtp_reply *r, char *dsn, size_t len);
void session_quit(struct session *s);
void session_result_reset(struct smtp_result *res);

/* smtp_verify.c */
void session_verify(struct session *s);

/* smtp_txn.c */
void session_transactions(struct session *s);
bool smtp_reuse_take(struct session *s);
bool smtp_reuse_put(struct session *s);

#endif
