/* outcome - the one table that turns what happened into an MTA result */
#ifndef MX_OUTCOME_H
#define MX_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>

enum rcpt_state {
	RCPT_PENDING,
	RCPT_SENT,
	RCPT_DEFER,
	RCPT_BOUNCE,
};

struct rcpt_outcome {
	const char *rcpt;
	enum rcpt_state state;
	char dsn[16];
	char text[1200];   /* diagnostic text for the DSN and the log */
	char relay[320];   /* "host[addr]:port" or "none" */
	char tls[48];	   /* protocol and cipher, or "" */
	unsigned conn_use; /* 2 and up: sent on a connection kept from earlier messages */
	bool rcpt_reply;   /* settled by the server's reply to its RCPT (of the recipient, not
			      of the server: notify.c) */
};

void outcome_set(struct rcpt_outcome *o, enum rcpt_state state, const char *dsn, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));
int outcome_exit_code(enum rcpt_state state, const char *dsn);
int outcome_combine(const struct rcpt_outcome *o, size_t n, const struct rcpt_outcome **which);
size_t outcome_count(const struct rcpt_outcome *o, size_t n, enum rcpt_state state);
const char *outcome_state_name(enum rcpt_state state);

#endif
