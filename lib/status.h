/* status - the one table of the status codes mxport makes itself */
#ifndef MX_STATUS_H
#define MX_STATUS_H

#include <stddef.h>

/*
 * What becomes of the mail a row applies to. A server's own reply speaks
 * for itself; these are for what mxport decides.
 */
enum mx_fate {
	MX_FATE_DELIVER, /* the mail goes on (forwarded, accepted) */
	MX_FATE_DEFER,	 /* the MTA keeps it and tries again later */
	MX_FATE_BOUNCE,	 /* refused for good: the sender gets a DSN with this code */
	MX_FATE_NEXT, /* this server address failed: try the route's next one; at the end, defer */
};

/*
 * What became of one recipient: the one vocabulary from the LMTP front
 * through the SMTP transaction and back (struct smtp_rcpt, struct
 * rcpt_outcome).
 */
enum rcpt_state {
	RCPT_PENDING, /* not settled yet (the next address, or the next transaction) */
	RCPT_SENT,    /* the customer's server took it */
	RCPT_DEFER,   /* the MTA keeps it and tries again */
	RCPT_BOUNCE,  /* refused for good */
};

/*
 * Every code mxport makes itself, a row each in status.c. The first rows
 * are the outcomes of a route lookup (dns/policy.c maps a lookup's status
 * to them); then the road to a server, as the SMTP client meets it; then
 * the LMTP front's replies.
 */
enum mx_status {
	/* route lookup */
	MX_ST_FORWARDED,     /* a forwarding route */
	MX_ST_NOT_FORWARDED, /* no route: the MTA's own business, or refused at RCPT */
	MX_ST_NULL_ROUTE,    /* route or SRV target "." */
	MX_ST_NULL_MX,	     /* RFC 7505 null MX, for a domain delivered by MX */
	MX_ST_NO_DOMAIN,     /* by MX: no MX and no address */
	MX_ST_NO_HOSTS,	     /* by MX: several MX hosts, none with an address */
	MX_ST_LOOP,	     /* the route leads back to this relay */
	MX_ST_LOOKUP_RETRY,  /* DNS trouble: SERVFAIL, timeout, unreachable */
	MX_ST_BAD_ROUTE,     /* a malformed route record */
	MX_ST_CONFIG,	     /* mxport's own configuration is in error */
	/* the road to a server */
	MX_ST_NO_ANSWER,       /* connection refused or timed out, no greeting */
	MX_ST_NO_TARGET,       /* no target of the route could be tried */
	MX_ST_HOST_NO_ADDRESS, /* a target host has no address (NXDOMAIN, NODATA) */
	MX_ST_HOST_RETRY,      /* a target host's address lookup failed for now */
	MX_ST_GUARDED,	       /* the destination guard refused a target's address */
	MX_ST_LOST,	       /* the connection broke, or the server gave up mid-session */
	MX_ST_TIME_LIMIT,      /* a deadline of mxport's own was reached */
	MX_ST_PROTOCOL,	       /* the server's reply was not SMTP */
	MX_ST_TLS_FAILED,      /* STARTTLS refused, handshake or verification failed, TLSA lookup */
	MX_ST_TLS_NOT_OFFERED, /* the route requires TLS; the server does not offer it */
	MX_ST_SECURITY,	       /* AUTH not possible, or data after the STARTTLS reply */
	MX_ST_NOT_ASKED,       /* verify: a recipient with a control character is not sent */
	MX_ST_UTF8_NOT_ASKED,  /* verify: SMTPUTF8 needed, not offered: not asked */
	MX_ST_UTF8_REFUSED,    /* SMTPUTF8 needed for the message, not offered */
	MX_ST_TOO_BIG,	       /* larger than the server's SIZE */
	MX_ST_NOT_7BIT,	       /* 8-bit message for a server without 8BITMIME, cannot convert */
	MX_ST_BAD_SENDER,      /* sender with a control character */
	MX_ST_BAD_RECIPIENT,   /* recipient with a control character, or no domain */
	MX_ST_UNKNOWN_USER,    /* verify: the customer's server said this user does not exist */
	MX_ST_UNVERIFIABLE,  /* verify: no server could be asked now (verify_unreachable = tempfail)
			      */
	MX_ST_SYSTEM,	     /* mxport cannot run as asked (as root, out of resources) */
	MX_ST_MIXED_MESSAGE, /* milter: a forwarded and a local recipient in one message */
	/* the LMTP front */
	MX_ST_SENT,	      /* the customer's server took it */
	MX_ST_LMTP_OK,	      /* a command accepted */
	MX_ST_LMTP_SENDER_OK, /* MAIL accepted */
	MX_ST_LMTP_RCPT_OK,   /* RCPT accepted */
	MX_ST_LMTP_BYE,	      /* QUIT */
	MX_ST_LMTP_TOO_MANY,  /* more recipients than lmtp_recipient_limit */
	MX_ST_LMTP_TOO_LONG,  /* a command line too long */
	MX_ST_LMTP_UNKNOWN,   /* a command it does not know */
	MX_ST_LMTP_SEQUENCE,  /* a command out of order */
	MX_ST_LMTP_SYNTAX,    /* a command's arguments are wrong */
	MX_ST_LMTP_TOO_BIG,   /* a message larger than message_size_limit */
	MX_ST_COUNT
};

/* MX_ST_TIME_LIMIT's code, for the signal handler that cannot call mx_status() */
#define MX_DSN_TIME_LIMIT "4.4.7"

/* mx_status_row - one row: what each party hears for one status */
struct mx_status_row {
	enum mx_status status;
	const char *name;  /* for logs, tests and the man page */
	const char *dsn;   /* enhanced status code */
	enum mx_fate fate; /* what becomes of the mail */
	int reply;	   /* SMTP/LMTP reply code: the milter's, the LMTP front's */
	const char
		*socketmap; /* the socketmap relay answer ("OK", "NOTFOUND", "TEMP"); NULL: none */
	int exit_status;    /* mxport-transport's pipe/mailer exit status (sysexits) */
	int route_exit;	    /* mxport-route's exit status; -1: not a lookup outcome */
};

const struct mx_status_row *mx_status(enum mx_status status);
const struct mx_status_row *mx_status_table(size_t *count);
const char *mx_status_dsn(enum mx_status status);
const char *mx_fate_name(enum mx_fate fate);
int mx_bounce_exit_status(const char *dsn);
void mx_dsn_deferred(char *dsn);

#endif
