/*++
 * NAME
 *	mxport-transport 8
 * SUMMARY
 *	relay a message to the customer's alternate port (Postfix pipe(8), Sendmail mailer)
 * SYNOPSIS
 *	mxport-transport [-c FILE] [-q QUEUE_ID] [-s SIZE] -f SENDER -- RECIPIENT...
 *	mxport-transport [-c FILE] -L unix:/path | -L -
 * DESCRIPTION
 *	Reads one message on standard input, looks up the route of each
 *	recipient's domain at delivery time, relays the message by SMTP to the
 *	route's targets in order, and exits with a status that tells the MTA to
 *	forget the message (0), retry it (75) or bounce it (69, 67, 68, ...).
 *	In pipe mode the only output is one line that starts with the enhanced
 *	status code, which pipe(8) puts in the delivery status notification.
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
#include "smtp_conn.h"
#include "util.h"

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

/* on_alarm - backstop for the time limit: defer before the MTA's own limit bounces */
static void on_alarm(int sig)
{
	static const char text[] = "4.4.7 mxport-transport: delivery time limit reached\n";

	(void)sig;
	if (write(STDOUT_FILENO, text, sizeof(text) - 1) < 0) {
		/* nothing else to do */
	}
	_exit(EX_TEMPFAIL);
}

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	answer(EX_TEMPFAIL, "4.3.5",
	       "usage: mxport-transport [-c FILE] [-q QUEUE_ID] [-s SIZE] -f SENDER -- "
	       "RECIPIENT...");
}

int main(int argc, char **argv)
{
	/*
	 * Static: answer() exits from anywhere, and what the run holds must stay
	 * reachable until then (LeakSanitizer would otherwise change the exit code).
	 */
	static struct transport_core core;
	static struct rcpt_outcome *out;
	static char *raw;
	const char *config_path = MX_CONFIG_FILE, *queue_id = "NOQUEUE", *sender = NULL;
	const char *lmtp = NULL;
	const struct rcpt_outcome *which;
	char err[1400];
	size_t rawlen, nrcpt;
	int ch, code;

	signal(SIGPIPE, SIG_IGN);
	msg_init("mxport/transport", MSG_TO_SYSLOG);
	while ((ch = getopt(argc, argv, "c:f:L:q:s:")) != -1) {
		switch (ch) {
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
			return lmtp_serve(STDIN_FILENO, STDOUT_FILENO, config_path);
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
		answer(EX_TEMPFAIL, "4.3.0", "mxport-transport refuses to run as root");
	}

	core_init(&core, config_path);
	if (!core_refresh(&core, queue_id))
		answer(EX_TEMPFAIL, mx_policy(MX_OUT_CONFIG)->dsn,
		       core.error); /* waits for a fix */
	alarm(core.cfg->delivery_time_limit + 10);
	signal(SIGALRM, on_alarm);

	if (message_read(STDIN_FILENO, MESSAGE_MAX, &raw, &rawlen, err, sizeof(err)) < 0) {
		msg_error("%s: %s", queue_id, err);
		answer(EX_TEMPFAIL, "4.3.0", err);
	}
	out = mx_calloc(nrcpt, sizeof(*out));
	for (size_t i = 0; i < nrcpt; i++)
		out[i].rcpt = argv[optind + (int)i];
	core_deliver(&core, queue_id, sender, raw, rawlen, false, out, nrcpt);
	code = outcome_combine(out, nrcpt, &which);
	if (code == EX_OK)
		answer(EX_OK, "2.0.0", "");
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
