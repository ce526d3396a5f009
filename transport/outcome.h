/* outcome - a recipient's result, and what it comes to for the MTA */
#ifndef MX_OUTCOME_H
#define MX_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

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
void outcome_status(struct rcpt_outcome *o, enum mx_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
enum rcpt_state outcome_state_of(enum mx_fate fate);
int outcome_exit_code(enum rcpt_state state, const char *dsn);
int outcome_combine(const struct rcpt_outcome *o, size_t n, const struct rcpt_outcome **which);
size_t outcome_count(const struct rcpt_outcome *o, size_t n, enum rcpt_state state);
const char *outcome_state_name(enum rcpt_state state);

#endif
