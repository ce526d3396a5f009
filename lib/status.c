/*
 * status - the one table of the status codes mxport makes itself, as
 * Postfix keeps its in smtp_trouble.c and sys_exits.c: for each status,
 * its enhanced code, what becomes of the mail, the reply the milter and
 * the LMTP front give, the socketmap's answer, and the exit status of
 * mxport-transport and of mxport-route. Call sites name a row; no other
 * file writes a code. tests/unit/test_status.c walks the table and checks
 * it against mxport-transport(8), section STATUS CODES.
 */
#include "config.h"

#include <string.h>
#include <sysexits.h>

#include "status.h"

#define ROW(st, nm, code, f, rep, smap, ex, rex) [st] = {st, nm, code, f, rep, smap, ex, rex}
#define DELIVER					 MX_FATE_DELIVER
#define DEFER					 MX_FATE_DEFER
#define BOUNCE					 MX_FATE_BOUNCE
#define NEXT					 MX_FATE_NEXT
#define TEMP					 EX_TEMPFAIL

static const struct mx_status_row table[MX_ST_COUNT] = {
	/* Route lookups. The milter refuses NOT_FORWARDED only where configured;
	 * the transport delivers such a domain by MX. The design's codes: 5.4.4
	 * for a route ".", 5.1.10 for a null MX (RFC 7505). A temporary DNS
	 * failure never bounces mail. */
	ROW(MX_ST_FORWARDED, "forwarded", "2.0.0", DELIVER, 250, "OK", EX_OK, 0),
	ROW(MX_ST_NOT_FORWARDED, "not forwarded", "5.7.1", BOUNCE, 550, "NOTFOUND", EX_NOPERM, 1),
	ROW(MX_ST_NULL_ROUTE, "null route", "5.4.4", BOUNCE, 550, "NOTFOUND", EX_UNAVAILABLE, 1),
	ROW(MX_ST_NULL_MX, "null MX", "5.1.10", BOUNCE, 550, "NOTFOUND", EX_UNAVAILABLE, 1),
	ROW(MX_ST_NO_DOMAIN, "no such domain", "5.1.2", BOUNCE, 550, "NOTFOUND", EX_NOHOST, 1),
	ROW(MX_ST_NO_HOSTS, "no MX host has an address", "5.4.4", BOUNCE, 550, "NOTFOUND",
	    EX_UNAVAILABLE, 1),
	ROW(MX_ST_LOOP, "mail loop", "5.4.6", BOUNCE, 550, "NOTFOUND", EX_UNAVAILABLE, 1),
	ROW(MX_ST_LOOKUP_RETRY, "lookup failed for now", "4.4.3", DEFER, 451, "TEMP", TEMP, TEMP),
	ROW(MX_ST_BAD_ROUTE, "bad route", "4.4.3", DEFER, 451, "TEMP", TEMP, EX_CONFIG),
	ROW(MX_ST_CONFIG, "configuration error", "4.3.5", DEFER, 451, "TEMP", TEMP, EX_CONFIG),

	/* The road to a server: a failure at one address tries the next; a
	 * security failure is never a bounce (the admin's or the customer's to
	 * fix); what the message or an address cannot become bounces. */
	ROW(MX_ST_NO_ANSWER, "no answer", "4.4.1", NEXT, 451, NULL, TEMP, -1),
	ROW(MX_ST_NO_TARGET, "no target could be tried", "4.4.1", DEFER, 451, NULL, TEMP, -1),
	ROW(MX_ST_HOST_NO_ADDRESS, "target host has no address", "4.4.4", NEXT, 451, NULL, TEMP,
	    -1),
	ROW(MX_ST_HOST_RETRY, "target address lookup failed for now", "4.4.3", NEXT, 451, NULL,
	    TEMP, -1),
	ROW(MX_ST_GUARDED, "refused by the destination guard", "4.4.4", NEXT, 451, NULL, TEMP, -1),
	ROW(MX_ST_LOST, "connection lost", "4.4.2", NEXT, 451, NULL, TEMP, -1),
	ROW(MX_ST_TIME_LIMIT, "time limit reached", MX_DSN_TIME_LIMIT, NEXT, 451, NULL, TEMP, -1),
	ROW(MX_ST_PROTOCOL, "protocol error", "4.5.0", NEXT, 451, NULL, TEMP, -1),
	ROW(MX_ST_TLS_FAILED, "TLS failed", "4.7.5", NEXT, 451, NULL, TEMP, -1),
	ROW(MX_ST_TLS_NOT_OFFERED, "TLS required, not offered", "4.7.4", NEXT, 451, NULL, TEMP, -1),
	ROW(MX_ST_SECURITY, "AUTH or TLS state refused", "4.7.0", NEXT, 451, NULL, TEMP, -1),
	ROW(MX_ST_NOT_ASKED, "recipient not asked", "4.1.3", NEXT, 451, NULL, TEMP, -1),
	ROW(MX_ST_UTF8_NOT_ASKED, "SMTPUTF8 not offered: not asked", "4.6.7", NEXT, 451, NULL, TEMP,
	    -1),
	ROW(MX_ST_UTF8_REFUSED, "SMTPUTF8 required, not offered", "5.6.7", BOUNCE, 554, NULL,
	    EX_DATAERR, -1),
	ROW(MX_ST_TOO_BIG, "message too big for the server", "5.3.4", BOUNCE, 552, NULL,
	    EX_UNAVAILABLE, -1),
	ROW(MX_ST_NOT_7BIT, "8-bit message cannot be made 7-bit", "5.6.3", BOUNCE, 554, NULL,
	    EX_DATAERR, -1),
	ROW(MX_ST_BAD_SENDER, "bad sender address syntax", "5.1.7", BOUNCE, 553, NULL,
	    EX_UNAVAILABLE, -1),
	ROW(MX_ST_BAD_RECIPIENT, "bad recipient address syntax", "5.1.3", BOUNCE, 553, NULL,
	    EX_UNAVAILABLE, -1),
	ROW(MX_ST_UNKNOWN_USER, "user unknown", "5.1.1", BOUNCE, 550, NULL, EX_NOUSER, -1),
	ROW(MX_ST_UNVERIFIABLE, "recipient cannot be verified now", "4.4.1", DEFER, 451, NULL, TEMP,
	    -1),
	ROW(MX_ST_SYSTEM, "system error", "4.3.0", DEFER, 451, NULL, TEMP, -1),
	ROW(MX_ST_MIXED_MESSAGE, "one message, one kind of recipient", "4.5.3", DEFER, 452, NULL,
	    TEMP, -1),

	/* The LMTP front's own replies (RFC 2033, RFC 5321 section 4.2). */
	ROW(MX_ST_SENT, "sent", "2.0.0", DELIVER, 250, NULL, EX_OK, -1),
	ROW(MX_ST_LMTP_OK, "ok", "2.0.0", DELIVER, 250, NULL, EX_OK, -1),
	ROW(MX_ST_LMTP_SENDER_OK, "sender ok", "2.1.0", DELIVER, 250, NULL, EX_OK, -1),
	ROW(MX_ST_LMTP_RCPT_OK, "recipient ok", "2.1.5", DELIVER, 250, NULL, EX_OK, -1),
	ROW(MX_ST_LMTP_BYE, "bye", "2.0.0", DELIVER, 221, NULL, EX_OK, -1),
	ROW(MX_ST_LMTP_TOO_MANY, "too many recipients", "4.5.3", DEFER, 452, NULL, TEMP, -1),
	ROW(MX_ST_LMTP_TOO_LONG, "line too long", "5.5.2", BOUNCE, 500, NULL, EX_UNAVAILABLE, -1),
	ROW(MX_ST_LMTP_UNKNOWN, "command not recognized", "5.5.2", BOUNCE, 502, NULL,
	    EX_UNAVAILABLE, -1),
	ROW(MX_ST_LMTP_SEQUENCE, "bad sequence of commands", "5.5.1", BOUNCE, 503, NULL,
	    EX_UNAVAILABLE, -1),
	ROW(MX_ST_LMTP_SYNTAX, "syntax error", "5.5.4", BOUNCE, 501, NULL, EX_UNAVAILABLE, -1),
	ROW(MX_ST_LMTP_TOO_BIG, "message too big", "5.3.4", BOUNCE, 552, NULL, EX_UNAVAILABLE, -1),
};

/* mx_status - the row of a status (an unknown one reads as a configuration error: mail waits) */
const struct mx_status_row *mx_status(enum mx_status status)
{
	return &table[(unsigned)status < MX_ST_COUNT ? status : MX_ST_CONFIG];
}

/* mx_status_dsn - a row's enhanced code */
const char *mx_status_dsn(enum mx_status status)
{
	return mx_status(status)->dsn;
}

/* mx_status_table - the whole table, for tests and the man page check */
const struct mx_status_row *mx_status_table(size_t *count)
{
	*count = MX_ST_COUNT;
	return table;
}

/* mx_fate_name - a fate in the man page's words */
const char *mx_fate_name(enum mx_fate fate)
{
	switch (fate) {
	case MX_FATE_DELIVER: return "deliver";
	case MX_FATE_DEFER: return "defer";
	case MX_FATE_BOUNCE: return "bounce";
	case MX_FATE_NEXT: return "next";
	}
	return "defer";
}

/*
 * mx_bounce_exit_status - the sysexits status for a bounce with this code,
 * whoever made it (a server's reply or a row): Postfix's pipe(8) bounces on
 * every status but 75 and 71, and the closest one names the reason; the
 * DSN text on the output line sets the status the sender sees.
 */
int mx_bounce_exit_status(const char *dsn)
{
	static const struct {
		const char *prefix;
		int status;
	} classes[] = {
		{"5.1.1", EX_NOUSER},
		{"5.1.2", EX_NOHOST},
		{"5.7.", EX_NOPERM},
		{"5.6.", EX_DATAERR},
	};

	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		size_t n = strlen(classes[i].prefix);
		/* "5.1.1" must not take "5.1.10" */
		if (strncmp(dsn, classes[i].prefix, n) == 0 &&
		    (classes[i].prefix[n - 1] == '.' || dsn[n] == '\0'))
			return classes[i].status;
	}
	return EX_UNAVAILABLE;
}

/*
 * mx_dsn_deferred - the one place a code is made fit for a deferral: a
 * mail that waits never carries a 5.X.X code, whatever a server said, or
 * pipe(8) would report a permanent code on a temporary failure.
 */
void mx_dsn_deferred(char *dsn)
{
	if (dsn[0] != '\0' && dsn[0] != '4')
		dsn[0] = '4';
}
