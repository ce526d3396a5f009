/*++
 * NAME
 *	mxport-transport 8
 * SUMMARY
 *	relay a message to the customer's alternate port (Postfix pipe(8), Sendmail mailer)
 * SYNOPSIS
 *	mxport-transport [-c FILE] [-q QUEUE_ID] [-s SIZE] [-a ADDR] [-n NAME] [-h HELO]
 *		[-p PROTO] -f SENDER -- RECIPIENT...
 *	mxport-transport [-c FILE] -L unix:/path | [-q QUEUE_ID] -L -
 * DESCRIPTION
 *	Reads one message on standard input, looks up the route of each
 *	recipient's domain at delivery time, relays the message by SMTP to the
 *	route's targets in order, and exits with a status that tells the MTA to
 *	forget the message (0), retry it (75) or bounce it (69, 67, 68, ...).
 *	In pipe mode the only output is one line that starts with the enhanced
 *	status code, which pipe(8) puts in the delivery status notification.
 *	-a, -n, -h and -p give the original client's address, host name, HELO
 *	name and protocol (pipe(8)'s ${client_address} ${client_hostname}
 *	${client_helo} ${client_protocol}); they are checked, and sent with
 *	XFORWARD to a server that offers it. A bad value is logged and dropped.
 * DIAGNOSTICS
 *	One syslog line (facility mail) per recipient and attempt, in
 *	Postfix's shape: QUEUE_ID: to=<r>, relay=h[a]:p, delay=, tls=, dsn=,
 *	status=sent|deferred|bounced (text).
 * SECURITY
 *	Refuses to run as root. Credentials are read only from a file that
 *	others cannot read, and AUTH is sent only over TLS.
 * SEE ALSO
 *	mxport-transport(8), mxport.conf(5), pipe(8)
 *--*/
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "core.h"
#include "deliver.h"
#include "message.h"
#include "domain.h"
#include "lmtp.h"
#include "msg.h"
#include "policy.h"
#include "status.h"
#include "smtp_conn.h"
#include "util.h"
#include "xforward.h"

/* answer - the one output line, and the exit */
static void answer(int code, const char *dsn, const char *text) __attribute__((noreturn));
static void answer(int code, const char *dsn, const char *text)
{
	char d[16];

	mx_strlcpy(d, dsn, sizeof(d));
	if (code == EX_TEMPFAIL)
		mx_dsn_deferred(d);
	/*
	 * One line. Sendmail appends its own words to the transcript right after
	 * it; Postfix's pipe(8) shows the newline as a trailing space.
	 */
	if (code != EX_OK)
		printf("%s %s\n", d, text);
	fflush(stdout);
	exit(code);
}

/* answer_status - the output line and exit of a row of the status table */
static void answer_status(enum mx_status status, const char *text) __attribute__((noreturn));
static void answer_status(enum mx_status status, const char *text)
{
	const struct mx_status_row *row = mx_status(status);

	answer(row->exit_status, row->dsn, text);
}

/* on_alarm - backstop for the time limit: defer before the MTA's own limit bounces */
static void on_alarm(int sig)
{
	static const char text[] =
		MX_DSN_TIME_LIMIT " mxport-transport: delivery time limit reached\n";

	(void)sig;
	if (write(STDOUT_FILENO, text, sizeof(text) - 1) < 0) {
		/* nothing else to do */
	}
	_exit(EX_TEMPFAIL);
}

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	answer_status(
		MX_ST_CONFIG,
		"usage: mxport-transport [-c FILE] [-q QUEUE_ID] [-s SIZE] [-a ADDR] [-n NAME] "
		"[-h HELO] [-p PROTO] -f SENDER -- RECIPIENT...");
}

/*
 * sendmail_host - the address in Sendmail's $_ ("name [addr]", perhaps with
 * " (may be forged)"), which the queue file keeps when ${client_addr} is
 * gone (a delivery from the queue); other values as they are.
 */
static const char *sendmail_host(const char *v, char *buf, size_t len)
{
	const char *lb = strrchr(v, '['), *rb = lb ? strchr(lb, ']') : NULL;

	if (lb == NULL || rb == NULL ||
	    (rb[1] != '\0' && strcmp(rb + 1, " (may be forged)") != 0) || (size_t)(rb - lb) > len)
		return v;
	memcpy(buf, lb + 1, (size_t)(rb - lb - 1));
	buf[rb - lb - 1] = '\0';
	return buf;
}

/* client_attrs - the original client from the command line: checked, bad values dropped */
static bool client_attrs(struct xforward *x, const char *queue_id, const char *const given[4])
{
	static const char *const names[4] = {"ADDR", "NAME", "HELO", "PROTO"};
	static const char *const opts[4] = {"-a", "-n", "-h", "-p"};
	char why[128], shown[80], host[64];

	for (int i = 0; i < 4; i++) {
		const char *v =
			given[i] && i == 0 ? sendmail_host(given[i], host, sizeof(host)) : given[i];
		if (v == NULL || xforward_set(x, names[i], v, why, sizeof(why)) == 0)
			continue;
		mx_strlcpy(shown, given[i], sizeof(shown));
		mx_printable(shown);
		msg_warn("%s: client attribute %s (%s) dropped, not sent with XFORWARD: %s: "
			 "\"%s%s\"",
			 queue_id, names[i], opts[i], why, shown,
			 strlen(given[i]) >= sizeof(shown) ? "..." : "");
	}
	return xforward_any(x);
}

int main(int argc, char **argv)
{
	/*
	 * Static: answer() exits from anywhere, and what the run holds must stay
	 * reachable until then (LeakSanitizer would otherwise change the exit code).
	 */
	static struct transport_core core;
	static struct rcpt_outcome *out;
	static struct xforward client;
	static char *raw;
	const char *client_given[4] = {NULL, NULL, NULL, NULL};
	const char *config_path = MX_CONFIG_FILE, *queue_id = "NOQUEUE", *sender = NULL;
	const char *lmtp = NULL;
	const struct rcpt_outcome *which;
	char err[1400];
	size_t rawlen, nrcpt;
	int ch, code;

	signal(SIGPIPE, SIG_IGN);
	msg_init("mxport/transport", MSG_TO_SYSLOG);
	while ((ch = getopt(argc, argv, "a:c:f:h:L:n:p:q:s:")) != -1) {
		switch (ch) {
		case 'a': client_given[0] = optarg; break;
		case 'n': client_given[1] = optarg; break;
		case 'h': client_given[2] = optarg; break;
		case 'p': client_given[3] = optarg; break;
		case 'c': config_path = optarg; break;
		case 'L': lmtp = optarg; break;
		case 'f': sender = optarg; break;
		case 'q': queue_id = optarg; break;
		case 's': break; /* the size is measured from the message itself */
		default: usage();
		}
	}
	if (lmtp) {
		/* LMTP: "-" is a Sendmail mailer (flag z) on stdin/stdout, else a daemon. */
		if (core_running_as_root()) {
			fprintf(stderr, "mxport-transport: refusing to run as root\n");
			return EX_TEMPFAIL;
		}
		if (strcmp(lmtp, "-") == 0)
			return lmtp_serve(STDIN_FILENO, STDOUT_FILENO, config_path,
					  strcmp(queue_id, "NOQUEUE") ? queue_id : NULL);
		msg_init("mxport/transport", MSG_TO_SYSLOG | MSG_TO_STDERR);
		return lmtp_listen_and_serve(lmtp, config_path);
	}
	if (sender == NULL || optind >= argc)
		usage();
	/* Postfix passes "" for the null sender (null_sender=); Sendmail may pass <>. */
	if (strcmp(sender, "<>") == 0)
		sender = "";
	nrcpt = (size_t)(argc - optind);

	if (core_running_as_root()) {
		msg_error("%s: refusing to run as root; set user= in master.cf or U= in the mailer",
			  queue_id);
		answer_status(MX_ST_SYSTEM, "mxport-transport refuses to run as root");
	}

	core_init(&core, config_path);
	if (!core_refresh(&core, queue_id))
		answer_status(MX_ST_CONFIG, core.error); /* waits for a fix */
	alarm(core.cfg->delivery_time_limit + 10);
	signal(SIGALRM, on_alarm);

	if (message_read(STDIN_FILENO, MESSAGE_MAX, &raw, &rawlen, err, sizeof(err)) < 0) {
		msg_error("%s: %s", queue_id, err);
		answer_status(MX_ST_SYSTEM, err);
	}
	bool have_client = client_attrs(&client, queue_id, client_given);
	out = mx_calloc(nrcpt, sizeof(*out));
	for (size_t i = 0; i < nrcpt; i++)
		out[i].rcpt = argv[optind + (int)i];
	core_deliver(&core, queue_id, sender, raw, rawlen, NULL, false,
		     have_client ? &client : NULL, out, nrcpt);
	code = outcome_combine(out, nrcpt, &which);
	if (code == EX_OK)
		answer_status(MX_ST_SENT, "");
	size_t nsent = outcome_count(out, nrcpt, RCPT_SENT);
	if (nsent > 0) {
		/* One status covers all (see outcome_combine): say what it hides. */
		msg_warn("%s: %zu of %zu recipients were sent, the others not; pipe(8) takes one "
			 "status, so the sent ones are %s too (set the transport's "
			 "destination_recipient_limit to 1)",
			 queue_id, nsent, nrcpt,
			 code == EX_TEMPFAIL ? "deferred and may get a second copy" : "bounced");
		snprintf(err, sizeof(err), "%s (%zu other recipients of this delivery were sent)",
			 which->text, nsent);
		answer(code, which->dsn, err);
	}
	answer(code, which->dsn, which->text);
}
