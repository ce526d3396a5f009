/*
 * fuzz_lmtp - libFuzzer target for the LMTP front (transport/lmtp.c): the
 * input is everything a client sends on one LMTP connection (LHLO,
 * XFORWARD, MAIL, RCPT, DATA with bodies of any shape, pipelined groups,
 * garbage, a close anywhere), read by the real lmtp_serve from a memory
 * file (all of it there before the greeting: pipelining abused at its
 * worst), its replies written to another. The deliveries go by the real
 * SMTP client to a customer's server played by a thread of this process
 * on 127.0.0.1 (recipients bad* refused with 550, full* deferred with 450,
 * the rest taken), with lmtp_recipient_limit 5 and transaction_recipient_limit 2.
 *
 * Beyond not crashing, a model of the conversation (serve, read_command,
 * read_data as RFC 2033 and 5321 say they must be) walks the input and the
 * replies together: one reply per command, in order; after a DATA that got
 * 354, one reply per recipient accepted; the session ends only at QUIT or
 * where the input ends. And what the customer got must be exactly what
 * was accepted: for each message, as many recipients as got 250 after the
 * dot, each SMTP transaction carrying the body unstuffed (RFC 5321 4.5.2,
 * a bare LF made CR LF) as message_prepare makes it without the reader's
 * report (so a wrong report, or a whole copy that differs, shows), without
 * mxport's loop field; nothing for a DATA that the input cut off before
 * its dot, nothing twice. An input that starts with '!' runs with
 * line_length_limit 78 (lines folded), the others with 0.
 *
 * Why lmtp_serve and not the static read_data: it is the front's own entry
 * (Sendmail's mailer with flag z runs it on stdin and stdout), so nothing
 * in lmtp.c had to be exported for the fuzzer.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lmtp.h"
#include "message.h"
#include "msg.h"
#include "util.h"

#define LINE_MAX_LMTP 8192 /* lmtp.c's LMTP_LINE_MAX */
#define MAX_INPUT     (1 << 20)
#define FOLD_LIMIT    78 /* line_length_limit of the runs whose input starts with '!' */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* what the customer's server got: one entry per SMTP transaction */
struct got {
	char *body; /* unstuffed, without the final dot */
	size_t len;
	unsigned rcpts; /* the recipients it took */
};
static struct got *gots;
static size_t ngot;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int listener = -1;
static char conf_path[256], conf_fold_path[256];
static unsigned line_limit; /* the run's line_length_limit */

/* sink_line - one line of the connection (CR LF taken off); false at its end */
static bool sink_line(FILE *f, char **line, size_t *cap, size_t *len)
{
	ssize_t n = getline(line, cap, f);

	if (n <= 0)
		return false;
	*len = (size_t)n;
	return true;
}

/* sink - one SMTP session as a customer's server that takes every message */
static void *sink(void *arg)
{
	int fd = (int)(intptr_t)arg, wfd = dup(fd);
	/* A stream each way: one "r+" stream would need a seek between reading and writing. */
	FILE *r = fdopen(fd, "r"), *f = wfd >= 0 ? fdopen(wfd, "w") : NULL;
	char *line = NULL;
	size_t cap = 0, len;
	unsigned rcpts = 0;

	if (r == NULL || f == NULL)
		abort();
	setvbuf(f, NULL, _IOFBF, 65536);
	fputs("220 sink.test ESMTP\r\n", f);
	fflush(f);
	while (sink_line(r, &line, &cap, &len)) {
		if (strncasecmp(line, "EHLO", 4) == 0) {
			fputs("250-sink.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 PIPELINING\r\n",
			      f);
		} else if (strncasecmp(line, "MAIL", 4) == 0) {
			rcpts = 0;
			fputs("250 2.1.0 ok\r\n", f);
		} else if (strncasecmp(line, "RCPT TO:<bad", 12) == 0) {
			fputs("550 5.1.1 no such user\r\n", f);
		} else if (strncasecmp(line, "RCPT TO:<full", 13) == 0) {
			fputs("450 4.2.1 try again later\r\n", f);
		} else if (strncasecmp(line, "RCPT", 4) == 0) {
			rcpts++;
			fputs("250 2.1.5 ok\r\n", f);
		} else if (strncasecmp(line, "DATA", 4) == 0) {
			struct mx_buf b = {0};
			bool end = false;

			fputs("354 go on\r\n", f);
			fflush(f);
			while (sink_line(r, &line, &cap, &len)) {
				if (len == 3 && memcmp(line, ".\r\n", 3) == 0) {
					end = true;
					break;
				}
				if (len < 2 || line[len - 2] != '\r' || line[len - 1] != '\n')
					abort(); /* the SMTP client sent a line without CR LF */
				if (line[0] == '.')
					mx_buf_append(&b, line + 1, len - 1);
				else
					mx_buf_append(&b, line, len);
			}
			if (!end) {
				mx_buf_free(&b);
				break;
			}
			pthread_mutex_lock(&lock);
			gots = mx_realloc(gots, (ngot + 1) * sizeof(*gots));
			gots[ngot].body = b.data ? b.data : mx_strdup("");
			gots[ngot].len = b.len;
			gots[ngot].rcpts = rcpts;
			ngot++;
			pthread_mutex_unlock(&lock);
			fputs("250 2.0.0 queued\r\n", f);
		} else if (strncasecmp(line, "QUIT", 4) == 0) {
			fputs("221 bye\r\n", f);
			break;
		} else {
			fputs("250 ok\r\n", f);
		}
		fflush(f);
	}
	free(line);
	fclose(f);
	fclose(r);
	return NULL;
}

/* acceptor - a thread per SMTP session (the client may open one while another closes) */
static void *acceptor(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(listener, NULL, NULL), one = 1;
		pthread_t t;

		if (c < 0)
			continue;
		/* Replies to a pipelined group go one write each: Nagle would hold them. */
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pthread_create(&t, NULL, sink, (void *)(intptr_t)c) != 0)
			close(c);
		else
			pthread_detach(t);
	}
	return NULL;
}

static char tmp_dir[64], routes_path[256];

/* cleanup - the run's files, at exit */
static void cleanup(void)
{
	unlink(conf_path);
	unlink(conf_fold_path);
	unlink(routes_path);
	rmdir(tmp_dir);
}

/* setup - the customer's server, and a configuration routing dom.test to it */
static void setup(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t salen = sizeof(sa);
	char *dir = tmp_dir, *path = routes_path;
	pthread_t t;
	FILE *f;

	signal(SIGPIPE, SIG_IGN);
	msg_init("fuzz_lmtp", 0);
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/mxport-fuzz-lmtp.XXXXXX");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(listener, 64) != 0 ||
	    getsockname(listener, (struct sockaddr *)&sa, &salen) != 0 || !mkdtemp(dir)) {
		perror("fuzz_lmtp: setup");
		exit(1);
	}
	atexit(cleanup);
	snprintf(path, sizeof(routes_path), "%s/routes", dir);
	f = fopen(path, "w");
	if (f == NULL)
		exit(1);
	fprintf(f, "dom.test [127.0.0.1]:%u tls=none\n", ntohs(sa.sin_port));
	fclose(f);
	for (int i = 0; i < 2; i++) {
		char *cp = i ? conf_fold_path : conf_path;

		snprintf(cp, sizeof(conf_path), "%s/mxport%d.conf", dir, i);
		f = fopen(cp, "w");
		if (f == NULL)
			exit(1);
		fprintf(f,
			"routes_file = %s\nallowed_networks = 127.0.0.0/8\nline_length_limit = %u\n"
			"lmtp_recipient_limit = 5\ntransaction_recipient_limit = 2\n"
			"command_timeout = 10s\nlmtp_idle_timeout = 10s\ntls_mode = none\n",
			path, i ? FOLD_LIMIT : 0);
		fclose(f);
	}
	/* core.c waits for files younger than CORE_SETTLE_MS: once, here, not in a run. */
	poll(NULL, 0, 1100);
	if (pthread_create(&t, NULL, acceptor, NULL) != 0)
		exit(1);
	pthread_detach(t);
}

/* the replies, as the client reads them: the code of each final line, and where its text is */
struct replies {
	const char *p, *end;
};

/* next_reply - the next whole reply's code (its last line's); 0 when there is none */
static int next_reply(struct replies *r)
{
	while (r->p < r->end) {
		const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
		const char *line = r->p;

		if (nl == NULL || nl - line < 5 || nl[-1] != '\r')
			abort(); /* a reply line without CR LF, or too short */
		r->p = nl + 1;
		if (line[3] == ' ')
			return atoi(line);
		if (line[3] != '-')
			abort(); /* neither the last line nor a continuation */
	}
	return 0;
}

/*
 * expected_body - the message as read_data must make it of in[pos..]: a
 * line ends at LF, one CR before it is not part of it, a leading dot is
 * taken off, the lines end in CR LF. Returns where the end marker's line
 * ends, or 0 when the input ends before it.
 */
static size_t expected_body(const uint8_t *in, size_t size, size_t pos, struct mx_buf *out)
{
	while (pos < size) {
		const uint8_t *nl = memchr(in + pos, '\n', size - pos);
		size_t len, content;

		if (nl == NULL)
			return 0;
		len = (size_t)(nl - (in + pos));
		content = len > 0 && in[pos + len - 1] == '\r' ? len - 1 : len;
		if (content == 1 && in[pos] == '.')
			return pos + len + 1;
		if (content > 0 && in[pos] == '.')
			mx_buf_append(out, (const char *)in + pos + 1, content - 1);
		else
			mx_buf_append(out, (const char *)in + pos, content);
		mx_buf_append(out, "\r\n", 2);
		pos += len + 1;
	}
	return 0;
}

/* header_has - the header of b (up to its first empty line) names field, in any case */
static bool header_has(const char *b, size_t len, const char *field)
{
	size_t n = strlen(field);

	for (size_t i = 0; i + n <= len; i++) {
		if (i + 1 < len && b[i] == '\r' && b[i + 1] == '\n' &&
		    (i == 0 || (i >= 2 && b[i - 1] == '\n')))
			return false;
		if (strncasecmp(b + i, field, n) == 0)
			return true;
	}
	return false;
}

/* without_loop_field - got's body without the header lines mxport adds (X-Loop-Mxport:) */
static void without_loop_field(const struct got *g, struct mx_buf *out)
{
	size_t pos = 0;
	bool header = true;

	while (pos < g->len) {
		const char *nl = memchr(g->body + pos, '\n', g->len - pos);
		size_t len = nl ? (size_t)(nl - (g->body + pos)) + 1 : g->len - pos;

		if (len == 2 && g->body[pos] == '\r')
			header = false;
		if (!(header && len >= 14 && memcmp(g->body + pos, "X-Loop-Mxport:", 14) == 0))
			mx_buf_append(out, g->body + pos, len);
		pos += len;
	}
}

/*
 * as_sent - what the customer must get for the message exp: exp as
 * message_prepare makes it (the tag header taken out, lines folded at the
 * run's line_length_limit), unstuffed, without the final dot; the reader's
 * report (message_checked) and its whole copy must give the same bytes
 */
static void as_sent(const struct mx_buf *exp, struct mx_buf *out)
{
	struct message m;
	size_t pos = 0;

	message_prepare(exp->data ? exp->data : "", exp->len, "X-Mxport", line_limit, &m);
	while (pos + 3 < m.datalen) {
		const char *nl = memchr(m.data + pos, '\n', m.datalen - 3 - pos);
		size_t len = nl ? (size_t)(nl - (m.data + pos)) + 1 : m.datalen - 3 - pos;
		size_t dot = m.data[pos] == '.';

		mx_buf_append(out, m.data + pos + dot, len - dot);
		pos += len;
	}
	message_free(&m);
}

/*
 * check_delivered - the customer's transactions from *next on carry the
 * message exp to accepted recipients in all
 */
static void check_delivered(size_t *next, const struct mx_buf *exp, unsigned accepted)
{
	struct mx_buf want = {0};
	bool compare = !header_has(exp->data ? exp->data : "", exp->len, "x-loop-mxport");

	as_sent(exp, &want);
	while (accepted > 0) {
		struct mx_buf b = {0};

		if (*next >= ngot)
			abort(); /* a recipient said sent that the customer never got */
		if (gots[*next].rcpts == 0 || gots[*next].rcpts > accepted)
			abort(); /* more recipients than said sent */
		accepted -= gots[*next].rcpts;
		without_loop_field(&gots[*next], &b);
		if (compare && (b.len != want.len || (b.len && memcmp(b.data, want.data, b.len))))
			abort(); /* the customer got other bytes than the client sent */
		mx_buf_free(&b);
		(*next)++;
	}
	mx_buf_free(&want);
}

/*
 * walk - the model: the input's commands and the replies side by side.
 * Every reply is accounted for, and every message the customer got.
 */
static void walk(const uint8_t *in, size_t size, struct replies *r)
{
	size_t pos = 0, next = 0;
	unsigned nrcpt = 0; /* RCPTs answered 250 since the last reset */

	if (next_reply(r) != 220)
		abort();
	while (pos < size) {
		const uint8_t *nl = memchr(in + pos, '\n', size - pos);
		size_t len, content;
		char cmd[16] = "";
		int code;

		if (nl == NULL)
			break; /* the client closed in the middle of a command */
		len = (size_t)(nl - (in + pos));
		content = len > 0 && in[pos + len - 1] == '\r' ? len - 1 : len;
		memcpy(cmd, in + pos, content < sizeof(cmd) - 1 ? content : sizeof(cmd) - 1);
		pos += len + 1;
		code = next_reply(r);
		if (code == 0)
			abort(); /* a command without a reply */
		if (content > LINE_MAX_LMTP) {
			if (code != 500)
				abort(); /* a line too long */
			continue;
		}
		if (strncasecmp(cmd, "RCPT TO:", 8) == 0 && code == 250) {
			if (++nrcpt > 5)
				abort(); /* over lmtp_recipient_limit */
		} else if (strncasecmp(cmd, "RSET", 4) == 0 && cmd[4] == '\0') {
			nrcpt = 0;
		} else if (strncasecmp(cmd, "QUIT", 4) == 0 && cmd[4] == '\0') {
			if (code != 221)
				abort();
			break;
		} else if (strncasecmp(cmd, "DATA", 4) == 0 && cmd[4] == '\0') {
			struct mx_buf exp = {0};
			unsigned sent = 0;

			if (code != 354) {
				if (nrcpt != 0 || code != 503)
					abort(); /* DATA refused with recipients, or not 503 */
				continue;
			}
			if (nrcpt == 0)
				abort(); /* DATA taken without a recipient */
			pos = expected_body(in, size, pos, &exp);
			if (pos == 0) { /* cut off before the dot: nothing delivered */
				mx_buf_free(&exp);
				break;
			}
			for (unsigned i = 0; i < nrcpt; i++) {
				const char *text = r->p;

				code = next_reply(r);
				if (code == 451 &&
				    memmem(text, (size_t)(r->p - text), "lost connection", 15))
					abort(); /* the customer's server never drops the session */
				if (code == 250)
					sent++;
				else if (code != 451 && code != 550)
					abort(); /* a recipient without its own final reply */
			}
			check_delivered(&next, &exp, sent);
			mx_buf_free(&exp);
			nrcpt = 0;
		}
	}
	if (next_reply(r) != 0)
		abort(); /* a reply to nothing */
	if (next != ngot)
		abort(); /* the customer got a message that was not accepted, or twice */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	int in, out;
	off_t n;
	char *replies;

	if (!ready) {
		setup();
		ready = true;
	}
	if (size > MAX_INPUT)
		return 0;
	/* '!' first: line_length_limit 78, so that long lines are folded */
	line_limit = size > 0 && data[0] == '!' ? FOLD_LIMIT : 0;
	if (line_limit) {
		data++;
		size--;
	}
	in = memfd_create("lmtp-in", MFD_CLOEXEC);
	out = memfd_create("lmtp-out", MFD_CLOEXEC);
	if (in < 0 || out < 0 || (size && write(in, data, size) != (ssize_t)size) ||
	    lseek(in, 0, SEEK_SET) != 0)
		abort();
	lmtp_serve(in, out, line_limit ? conf_fold_path : conf_path, NULL);
	n = lseek(out, 0, SEEK_END);
	replies = n > 0 ? mmap(NULL, (size_t)n, PROT_READ, MAP_PRIVATE, out, 0) : NULL;
	{
		struct replies r = {replies, replies ? replies + n : NULL};

		walk(data, size, &r);
	}
	if (replies)
		munmap(replies, (size_t)n);
	close(in);
	close(out);
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < ngot; i++)
		free(gots[i].body);
	free(gots);
	gots = NULL;
	ngot = 0;
	pthread_mutex_unlock(&lock);
	return 0;
}
