/* smtp_session_int - the SMTP client's session, for its own modules (smtp_session, smtp_reuse) */
#ifndef MX_SMTP_SESSION_INT_H
#define MX_SMTP_SESSION_INT_H

#include "smtp_session.h"

/* session - one connection to one server address, for one request */
struct session {
	const struct smtp_request *req;
	struct smtp_result *res;
	struct smtp_conn conn;
	struct smtp_reply ehlo; /* the EHLO reply: the server's extensions */
	bool esmtp;
	size_t settled;		   /* recipients settled on this connection */
	bool troubled;		   /* a message was deferred at DATA or the dot: not kept */
	const struct message *msg; /* what DATA sends: req->msg, or its 7-bit form */
};

void session_quit(struct session *s);
bool smtp_reuse_take(struct session *s);
bool smtp_reuse_put(struct session *s);

#endif
