/*
 * fuzz_session - libFuzzer target for the SMTP client's state machine
 * against a server that says anything: the input after four setting bytes
 * is everything the server sends, on a real loopback TCP connection (the
 * greeting, EHLO extensions, replies to pipelined groups, 452s, garbage,
 * an early close). The settings pick the number of recipients (0-255), the
 * per-transaction recipient limit, an 8-bit message or not (and, with bit
 * 2, an original client for XFORWARD), and a sender of any length. Beyond not crashing: every
 * recipient ends pending or settled with a code of its state's class and a text, and recipients
 * left pending have a verdict that says what becomes of them.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "message.h"
#include "mxconfig.h"
#include "smtp_session.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int listener = -1;
static struct sockaddr_in server_addr;

/*
 * One server thread for the whole run (a thread a run would make every run
 * look like a leak to LeakSanitizer, and slow). While a run's script is
 * set, every connection gets it from the start (the client opens a second
 * connection when the first closes between transactions); the run then
 * waits until no connection is being served.
 */
struct script {
	const uint8_t *data;
	size_t size;
};
static struct script current;
static bool have_script, busy;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;

/*
 * serve - one connection: say the script while reading whatever comes (so
 * that neither side can block the other on a full buffer), then read until
 * the client closes
 */
static void serve(const struct script *sc)
{
	int fd = accept(listener, NULL, NULL);
	char sink[65536];
	size_t off = 0;
	bool shut = false;

	if (fd < 0)
		return;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN | (shut ? 0 : POLLOUT)};

		if (poll(&pfd, 1, 5000) <= 0)
			break;
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(fd, sink, sizeof(sink));
			if (n <= 0)
				break;
		}
		if (!shut && (pfd.revents & POLLOUT)) {
			ssize_t n = send(fd, sc->data + off, sc->size - off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				off += (size_t)n;
			if (n < 0 && errno != EAGAIN)
				break;
			if (off == sc->size) {
				shutdown(fd,
					 SHUT_WR); /* then the client reads EOF, not a timeout */
				shut = true;
			}
		}
	}
	close(fd);
}

/* server - serve each connection with the script of the run in progress */
static void *server(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd pfd = {.fd = listener, .events = POLLIN};
		struct script sc;

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		pthread_mutex_lock(&lock);
		sc = current;
		busy = have_script;
		pthread_mutex_unlock(&lock);
		if (sc.data == NULL || !busy) {
			int fd = accept(listener, NULL, NULL); /* a run's leftover: closed */
			if (fd >= 0)
				close(fd);
			continue;
		}
		serve(&sc);
		pthread_mutex_lock(&lock);
		busy = false;
		pthread_cond_broadcast(&changed);
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

/* setup - the loopback listener, once */
static void setup(void)
{
	socklen_t len = sizeof(server_addr);

	signal(SIGPIPE, SIG_IGN);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	memset(&server_addr, 0, sizeof(server_addr));
	server_addr.sin_family = AF_INET;
	server_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (listener < 0 ||
	    bind(listener, (struct sockaddr *)&server_addr, sizeof(server_addr)) < 0 ||
	    listen(listener, 16) < 0 ||
	    getsockname(listener, (struct sockaddr *)&server_addr, &len) < 0)
		abort();
	pthread_t th;
	if (pthread_create(&th, NULL, server, NULL) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char plain[] = "Subject: t\r\n\r\nhello\r\n";
	static const char eight[] = "Subject: t\r\n\r\nGr\xc3\xbc\xc3\x9f"
				    "e\r\n";
	struct smtp_request req;
	struct smtp_result res;
	struct message msg;
	struct smtp_rcpt *rcpts;
	char *sender;
	size_t n;

	if (size < 4)
		return 0;
	if (listener < 0)
		setup();
	n = data[0];
	sender = mx_malloc((size_t)data[3] * 8 + 16);
	memset(sender, 's', (size_t)data[3] * 8);
	strcpy(sender + (size_t)data[3] * 8, "@sender.test");
	message_prepare(data[2] & 1 ? eight : plain,
			data[2] & 1 ? sizeof(eight) - 1 : sizeof(plain) - 1, "X-Mxport", 998, &msg);
	rcpts = mx_calloc(n ? n : 1, sizeof(*rcpts));
	for (size_t i = 0; i < n; i++)
		rcpts[i].addr = mx_asprintf("r%zu@example.com", i);
	memset(&req, 0, sizeof(req));
	req.msg = &msg;
	req.sender = sender;
	req.rcpts = rcpts;
	req.nrcpts = n;
	req.rcpt_limit = data[1] % 17;
	req.helo_name = "relay.test";
	req.host = "127.0.0.1";
	req.literal = true;
	req.sa = (const struct sockaddr *)&server_addr;
	req.salen = sizeof(server_addr);
	req.tls_mode = MX_TLS_NONE;
	req.connect_timeout_ms = req.command_timeout_ms = req.data_done_timeout_ms = 2000;
	req.limit_ms = mx_now_ms() + 5000;
	static const struct xforward client = {
		.addr = "192.0.2.7", .name = "client.example", .helo = "he+lo=", .proto = "ESMTP"};
	req.xforward = data[2] & 2 ? &client : NULL;
	pthread_mutex_lock(&lock);
	current.data = data + 4;
	current.size = size - 4;
	have_script = true;
	pthread_mutex_unlock(&lock);
	smtp_deliver(&req, &res);
	pthread_mutex_lock(&lock);
	have_script = false;
	while (busy)
		pthread_cond_wait(&changed, &lock);
	pthread_mutex_unlock(&lock);

	size_t pending = 0;
	for (size_t i = 0; i < n; i++) {
		const struct smtp_rcpt *r = &rcpts[i];
		if (r->state == RCPT_PENDING) {
			pending++;
			continue;
		}
		if (r->text == NULL || r->state > RCPT_BOUNCE)
			abort(); /* settled without a word */
		char want = r->state == RCPT_SENT ? '2' : r->state == RCPT_DEFER ? '4' : '5';
		/* a 452 kept for later and then deferred keeps its 4.X.X; a refusal its class */
		if (r->dsn[0] != want && !(r->state == RCPT_DEFER && r->dsn[0] == '4'))
			abort();
	}
	if (pending > 0 && res.verdict == SMTP_SENT && res.stage == STAGE_DONE)
		abort(); /* "done" with recipients nobody settled */
	if (res.verdict > SMTP_PERM)
		abort();
	smtp_rcpts_free(rcpts, n);
	for (size_t i = 0; i < n; i++)
		free((char *)rcpts[i].addr);
	free(rcpts);
	free(sender);
	message_free(&msg);
	return 0;
}
