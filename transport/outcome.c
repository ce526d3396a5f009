/*
 * outcome - a recipient's result, and what it comes to for the MTA: an
 * exit status for pipe(8) and Sendmail, one status for several recipients.
 * The codes mxport makes itself are rows of lib/status.c.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "outcome.h"
#include "status.h"
#include "util.h"

/* outcome_set - state, enhanced status code and text for one recipient */
void outcome_set(struct rcpt_outcome *o, enum rcpt_state state, const char *dsn, const char *fmt,
		 ...)
{
	va_list ap;

	o->state = state;
	o->rcpt_reply = false;
	mx_strlcpy(o->dsn, dsn, sizeof(o->dsn));
	va_start(ap, fmt);
	vsnprintf(o->text, sizeof(o->text), fmt, ap);
	va_end(ap);
	mx_printable(o->text);
}

/*
 * outcome_exit_code - sysexits code for a state. Postfix pipe(8) defers
 * only on EX_TEMPFAIL and EX_OSERR and bounces on every other non-zero
 * code; Sendmail also queues on EX_IOERR. So: 75 for every temporary
 * failure, and for a bounce the closest code (the DSN text on the output
 * line is what sets the status the sender sees).
 */
int outcome_exit_code(enum rcpt_state state, const char *dsn)
{
	switch (state) {
	case RCPT_SENT: return EX_OK;
	case RCPT_PENDING:
	case RCPT_DEFER: return EX_TEMPFAIL;
	case RCPT_BOUNCE: break;
	}
	return mx_bounce_exit_status(dsn);
}

/* outcome_state_of - what a status row's fate makes of a recipient: a failed address ends deferred
 */
enum rcpt_state outcome_state_of(enum mx_fate fate)
{
	switch (fate) {
	case MX_FATE_DELIVER: return RCPT_SENT;
	case MX_FATE_BOUNCE: return RCPT_BOUNCE;
	case MX_FATE_DEFER:
	case MX_FATE_NEXT: return RCPT_DEFER;
	}
	return RCPT_DEFER;
}

/* outcome_status - a recipient's result from a row of the status table, with its text */
void outcome_status(struct rcpt_outcome *o, enum mx_status status, const char *fmt, ...)
{
	const struct mx_status_row *row = mx_status(status);
	va_list ap;

	o->state = outcome_state_of(row->fate);
	mx_strlcpy(o->dsn, row->dsn, sizeof(o->dsn));
	va_start(ap, fmt);
	vsnprintf(o->text, sizeof(o->text), fmt, ap);
	va_end(ap);
	mx_printable(o->text);
}

/*
 * outcome_combine - one exit status for an invocation that carried several
 * recipients. pipe(8) takes one status for the whole request, so no rule is
 * exact (a recipient limit of 1, as contrib sets, makes it so); this one
 * never loses a recipient and never repeats a delivery without end
 * (documented in mxport-transport(8)):
 *   every recipient sent: 0;
 *   some deferred: 75, with the first deferred one's text. The MTA retries
 *     them all; one already sent may get a second copy, and the deferral
 *     ends (a retry sends it, or the queue lifetime bounces it);
 *   else (bounced, and maybe sent): the bounce of the first bounced one.
 *     The MTA bounces them all, the sent ones too, and the text says they
 *     were sent; a 75 here would send them again at every retry, for days.
 * *which is the recipient whose text is reported.
 */
int outcome_combine(const struct rcpt_outcome *o, size_t n, const struct rcpt_outcome **which)
{
	size_t sent = 0;
	const struct rcpt_outcome *first_defer = NULL, *first_bounce = NULL;

	*which = NULL;
	for (size_t i = 0; i < n; i++) {
		if (o[i].state == RCPT_SENT)
			sent++;
		else if (o[i].state == RCPT_BOUNCE && !first_bounce)
			first_bounce = &o[i];
		else if (o[i].state != RCPT_BOUNCE && !first_defer)
			first_defer = &o[i];
	}
	if (sent == n)
		return EX_OK;
	if (first_defer) {
		*which = first_defer;
		return EX_TEMPFAIL;
	}
	*which = first_bounce;
	return outcome_exit_code(RCPT_BOUNCE, first_bounce->dsn);
}

/* outcome_count - recipients in a state */
size_t outcome_count(const struct rcpt_outcome *o, size_t n, enum rcpt_state state)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += o[i].state == state;
	return k;
}

/* outcome_state_name - for status= in the log */
const char *outcome_state_name(enum rcpt_state state)
{
	switch (state) {
	case RCPT_SENT: return "sent";
	case RCPT_DEFER: return "deferred";
	case RCPT_BOUNCE: return "bounced";
	case RCPT_PENDING: return "deferred";
	}
	return "?";
}
