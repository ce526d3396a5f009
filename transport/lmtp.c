/* lmtp - the transport as an LMTP server: one process for many messages, a reply per recipient */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cidr.h"
#include "core.h"
#include "deliver.h"
#include "listen.h"
#include "lmtp.h"
#include "message.h"
#include "msg.h"
#include "path.h"
#include "policy.h"
#include "route_shared.h"
#include "smtp_conn.h"
#include "tls.h"
#include "util.h"
#include "xforward.h"

#define LMTP_LINE_MAX	     8192
#define LMTP_PROCESS_MAX_USE 100  /* connections a process serves, at most (Postfix's max_use) */
#define LMTP_IDLE_TAKE_MS    20	  /* how long a waiting process has to take a new connection */
#define LMTP_SHARED_SLOTS    8192 /* DNS answers shared by the connection processes, at most */

/* What one connection keeps across messages. */
struct lmtp_session {
	struct transport_core
		*core;		/* configuration, TLS context, route cache, kept SMTP session */
	struct smtp_conn conn;	/* commands and data come in here */
	struct smtp_conn reply; /* replies go out here (the same socket, or stdout) */
	char hostname[256];
};

/* messages - delivered by this process (a queue id's second part: unique per process) */
static unsigned long messages;

/* idle_ms - the client's silence we wait out (lmtp_idle_timeout) */
static unsigned idle_ms(const struct lmtp_session *ls)
{
	return (ls->core->cfg ? ls->core->cfg->lmtp_idle_timeout : 300) * 1000;
}

/*
 * nonblocking - the client's reads then wait in poll(), for
 * lmtp_idle_timeout at most (a blocking descriptor would wait forever).
 * Only the input: standard output may share its file with standard error.
 */
static void nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags >= 0)
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* say - one reply line */
static bool say(struct lmtp_session *ls, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static bool say(struct lmtp_session *ls, const char *fmt, ...)
{
	char line[4096], err[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return false;
	if (n > (int)sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	memcpy(line + n, "\r\n", 2);
	return conn_write(&ls->reply, line, (size_t)n + 2, idle_ms(ls), err, sizeof(err)) > 0;
}

/* path_arg - the address in the path after "MAIL FROM:" or "RCPT TO:" (path.c: quoted local parts)
 */
static char *path_arg(const char *arg)
{
	return mx_path_parse(arg, NULL);
}

/* read_command - one command line; 2 for one too long (read to its end and dropped) */
static int read_command(struct lmtp_session *ls, char *line, size_t *n)
{
	char err[256];
	bool eol;
	int rc = conn_read_piece(&ls->conn, line, LMTP_LINE_MAX, n, &eol, idle_ms(ls), err,
				 sizeof(err));

	if (rc <= 0 || eol)
		return rc;
	while (rc == 1 && !eol) {
		char rest[LMTP_LINE_MAX + 1];
		size_t m;

		rc = conn_read_piece(&ls->conn, rest, LMTP_LINE_MAX, &m, &eol, idle_ms(ls), err,
				     sizeof(err));
	}
	return rc == 1 ? 2 : rc;
}

/*
 * read_data - the message after DATA, dot-unstuffed, lines ending in CR LF.
 * A line may be of any length (it is read a piece at a time and folded
 * later, if line_length_limit says so): a client's long line is no reason
 * to drop the session without a reply.
 */
static int read_data(struct lmtp_session *ls, char **data, size_t *len)
{
	struct mx_buf buf = {0};
	char piece[LMTP_LINE_MAX + 1], err[256];
	size_t n;
	bool too_big = false, line_start = true, eol;

	for (;;) {
		int rc = conn_read_piece(&ls->conn, piece, LMTP_LINE_MAX, &n, &eol, idle_ms(ls),
					 err, sizeof(err));
		if (rc <= 0) {
			mx_buf_free(&buf);
			return -1;
		}
		const char *p = piece;
		if (line_start && eol && n == 1 && piece[0] == '.')
			break;
		if (line_start && n > 0 && piece[0] == '.') {
			p++;
			n--;
		}
		line_start = eol;
		if (too_big || buf.len + n + 2 > MESSAGE_MAX) {
			too_big = true;
			continue;
		}
		mx_buf_append(&buf, p, n);
		if (eol)
			mx_buf_append(&buf, "\r\n", 2);
	}
	if (too_big) {
		mx_buf_free(&buf);
		return 1;
	}
	*data = buf.data ? buf.data : mx_strdup("");
	*len = buf.len;
	return 0;
}

/* deliver_data - relay one message; one reply per recipient, in RCPT order */
static bool deliver_data(struct lmtp_session *ls, const char *sender, char **rcpts, size_t n,
			 const char *raw, size_t rawlen, const struct xforward *client)
{
	struct rcpt_outcome *out;
	char qid[64];
	bool ok = true;

	if (!core_refresh(ls->core, "lmtp")) {
		for (size_t i = 0; i < n && ok; i++)
			ok = say(ls, "%d %s <%s>: %s", mx_policy(MX_OUT_CONFIG)->smtp_code,
				 mx_policy(MX_OUT_CONFIG)->dsn, rcpts[i], ls->core->error);
		return ok;
	}
	out = mx_calloc(n, sizeof(*out));
	snprintf(qid, sizeof(qid), "L%ld.%lu", (long)getpid(), ++messages);
	for (size_t i = 0; i < n; i++)
		out[i].rcpt = rcpts[i];
	core_deliver(ls->core, qid, sender, raw, rawlen, true, xforward_any(client) ? client : NULL,
		     out, n);
	for (size_t i = 0; i < n && ok; i++) {
		const struct rcpt_outcome *o = &out[i];
		char dsn[16];

		mx_strlcpy(dsn, o->dsn, sizeof(dsn));
		if (o->state == RCPT_SENT)
			ok = say(ls, "250 %s <%s>: sent via %s (%s)", dsn[0] == '2' ? dsn : "2.0.0",
				 o->rcpt, o->relay, o->text);
		else if (o->state == RCPT_BOUNCE)
			ok = say(ls, "550 %s %s", dsn, o->text);
		else {
			mx_dsn_deferred(dsn);
			ok = say(ls, "451 %s %s", dsn, o->text);
		}
	}
	free(out);
	return ok;
}

/*
 * xforward_command - "XFORWARD attr=xtext ..." from lmtp(8)
 * (lmtp_send_xforward_command = yes): the original client, for the next
 * transaction. Malformed: 501, and nothing of it is kept. A value that
 * fails its check is logged and dropped; the mail goes on without it.
 */
static void xforward_command(struct lmtp_session *ls, const char *args, struct xforward *client)
{
	struct xforward x = *client;
	char value[300], why[128];
	int nattrs = 0;

	for (const char *p = args;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		size_t len = strcspn(p, " ");
		const char *eq = memchr(p, '=', len);
		char name[16];

		if (eq == NULL || eq == p || (size_t)(eq - p) >= sizeof(name) ||
		    !xtext_decode(eq + 1, len - (size_t)(eq + 1 - p), value, sizeof(value))) {
			say(ls, "501 5.5.4 Bad XFORWARD attribute syntax");
			return;
		}
		memcpy(name, p, (size_t)(eq - p));
		name[eq - p] = '\0';
		int rc = xforward_set(&x, name, value, why, sizeof(why));
		if (rc == -2) {
			say(ls, "501 5.5.4 Bad XFORWARD attribute name: %s", name);
			return;
		}
		if (rc == -1) {
			value[79] = '\0'; /* enough to show */
			mx_printable(value);
			msg_warn("lmtp: XFORWARD %s dropped, not sent on: %s: \"%s\"", name, why,
				 value);
		}
		nattrs++;
		p += len;
	}
	if (nattrs == 0) {
		say(ls, "501 5.5.4 Syntax: XFORWARD attribute=value...");
		return;
	}
	*client = x;
	say(ls, "250 2.0.0 Ok");
}

/*
 * serve - one LMTP conversation (RFC 2033) on in/out with a delivery core
 * that may have served earlier connections (its configuration, TLS context
 * and route cache stay; its kept SMTP session is closed at the end).
 */
static int serve(struct transport_core *core, int in, int out)
{
	struct lmtp_session ls;
	char line[LMTP_LINE_MAX + 1], *sender = NULL, **rcpts = NULL;
	struct xforward client = {.addr = ""}; /* for the next transaction only */
	size_t n, nrcpt = 0;
	int rc = 0;

	memset(&ls, 0, sizeof(ls));
	ls.core = core;
	ls.conn.fd = in;
	nonblocking(in);
	ls.conn.limit_ms = (long long)1 << 62;
	ls.reply.fd = out;
	ls.reply.limit_ms = ls.conn.limit_ms;
	if (gethostname(ls.hostname, sizeof(ls.hostname) - 1) != 0 || !*ls.hostname)
		mx_strlcpy(ls.hostname, "localhost", sizeof(ls.hostname));
	core_refresh(ls.core, "lmtp");
	if (!say(&ls, "220 %s LMTP mxport-transport ready", ls.hostname))
		return 1;
	for (;;) {
		/* A kept session waits connection_cache_time for the next message, no more. */
		if (ls.core->cache.open && !conn_has_buffered(&ls.conn) &&
		    conn_wait(&ls.conn, POLLIN,
			      mx_now_ms() +
				      (long long)ls.core->cfg->connection_cache_time * 1000) == 0)
			smtp_cache_close(&ls.core->cache);
		int got = read_command(&ls, line, &n);
		if (got <= 0)
			break;
		if (got == 2) {
			say(&ls, "500 5.5.2 Error: line too long");
			continue;
		}
		if (strncasecmp(line, "LHLO", 4) == 0) {
			say(&ls, "250-%s", ls.hostname);
			say(&ls, "250-PIPELINING");
			say(&ls, "250-ENHANCEDSTATUSCODES");
			say(&ls, "250-8BITMIME");
			say(&ls, "250-XFORWARD NAME ADDR PROTO HELO SOURCE");
			say(&ls, "250 SMTPUTF8");
		} else if (strncasecmp(line, "XFORWARD", 8) == 0 &&
			   (line[8] == ' ' || line[8] == '\0')) {
			if (sender)
				say(&ls, "503 5.5.1 Error: MAIL transaction in progress");
			else
				xforward_command(&ls, line + 8, &client);
		} else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
			free(sender);
			sender = path_arg(line + 10);
			say(&ls, sender ? "250 2.1.0 Ok" : "501 5.5.4 Syntax: MAIL FROM:<address>");
		} else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
			char *r = path_arg(line + 8);
			if (sender == NULL) {
				free(r);
				say(&ls, "503 5.5.1 MAIL first");
			} else if (r == NULL || *r == '\0') {
				free(r);
				say(&ls, "501 5.5.4 Syntax: RCPT TO:<address>");
			} else if (nrcpt >= ls.core->cfg->lmtp_recipient_limit) {
				/* lmtp(8) sends the rest in a later transaction. */
				free(r);
				say(&ls,
				    "452 4.5.3 Error: too many recipients (lmtp_recipient_limit)");
			} else {
				rcpts = mx_realloc(rcpts, (nrcpt + 1) * sizeof(*rcpts));
				rcpts[nrcpt++] = r;
				say(&ls, "250 2.1.5 Ok");
			}
		} else if (strcasecmp(line, "DATA") == 0) {
			char *data = NULL;
			size_t len = 0;
			int dr;

			if (nrcpt == 0) {
				say(&ls, "503 5.5.1 RCPT first");
				continue;
			}
			say(&ls, "354 End data with <CR><LF>.<CR><LF>");
			dr = read_data(&ls, &data, &len);
			if (dr < 0)
				break;
			if (dr > 0) {
				for (size_t i = 0; i < nrcpt; i++)
					say(&ls, "552 5.3.4 <%s>: message too big", rcpts[i]);
			} else {
				deliver_data(&ls, sender, rcpts, nrcpt, data, len, &client);
				free(data);
			}
			memset(&client, 0, sizeof(client));
			for (size_t i = 0; i < nrcpt; i++)
				free(rcpts[i]);
			nrcpt = 0;
			free(sender);
			sender = NULL;
		} else if (strcasecmp(line, "RSET") == 0) {
			memset(&client, 0, sizeof(client));
			for (size_t i = 0; i < nrcpt; i++)
				free(rcpts[i]);
			nrcpt = 0;
			free(sender);
			sender = NULL;
			say(&ls, "250 2.0.0 Ok");
		} else if (strcasecmp(line, "NOOP") == 0) {
			say(&ls, "250 2.0.0 Ok");
		} else if (strcasecmp(line, "QUIT") == 0) {
			say(&ls, "221 2.0.0 Bye");
			break;
		} else {
			say(&ls, "502 5.5.2 Command not recognized");
		}
	}
	for (size_t i = 0; i < nrcpt; i++)
		free(rcpts[i]);
	free(rcpts);
	free(sender);
	smtp_cache_close(&core->cache);
	return rc;
}

/*
 * lmtp_serve - one LMTP conversation on in/out: Postfix's lmtp(8) over a
 * socket, or a Sendmail mailer with flag z over stdin and stdout. Each
 * recipient gets its own final reply after the message.
 */
int lmtp_serve(int in, int out, const char *config_path)
{
	struct transport_core core;
	int rc;

	core_init(&core, config_path);
	rc = serve(&core, in, out);
	core_free(&core);
	return rc;
}

/* on_child - nothing: the signal only interrupts poll() (no SA_RESTART) */
static void on_child(int sig)
{
	(void)sig;
}

/*
 * The connection processes, one slot each in memory shared with the
 * listener: pid 0 is a free slot; idle is set by a process while it waits
 * for its next connection. The listener clears a slot when it reaps its
 * process, so a process that dies while idle is never counted as idle.
 */
struct lmtp_slot {
	pid_t pid;
	int idle; /* read and written with __atomic builtins */
};

static struct lmtp_slot *slots;
static unsigned nslots;

/*
 * reap - collect finished connection processes and free their slots; wait
 * for one when block. Returns how many were collected.
 */
static unsigned reap(bool block)
{
	unsigned n = 0;
	pid_t pid;

	while ((pid = waitpid(-1, NULL, block && n == 0 ? 0 : WNOHANG)) != 0) {
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: none left */
		}
		for (unsigned i = 0; i < nslots; i++) {
			if (slots[i].pid == pid) {
				__atomic_store_n(&slots[i].idle, 0, __ATOMIC_SEQ_CST);
				slots[i].pid = 0;
			}
		}
		n++;
	}
	return n;
}

/* idle_processes - connection processes waiting for a connection now */
static unsigned idle_processes(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nslots; i++)
		n += slots[i].pid != 0 && __atomic_load_n(&slots[i].idle, __ATOMIC_SEQ_CST);
	return n;
}

/*
 * wait_for_room - at most lmtp_max_clients processes: over it, wait for
 * one to end before the next accept(). The clients over the limit wait in
 * the listen queue (or are taken by an idle process), and those being
 * served are not disturbed.
 */
static void wait_for_room(unsigned *children, unsigned max)
{
	static time_t warned;
	unsigned done = reap(false);

	*children = done > *children ? 0 : *children - done;
	while (*children >= max) {
		if (time(NULL) - warned >= 60 &&
		    idle_processes() == 0) { /* once a minute at most */
			msg_warn("lmtp: %u connections (lmtp_max_clients): new ones wait",
				 *children);
			warned = time(NULL);
		}
		done = reap(true);
		if (done == 0) { /* no child left: the count was wrong */
			*children = 0;
			break;
		}
		*children = done > *children ? 0 : *children - done;
	}
}

/* The listening socket, in a connection process; -1 once the listener stopped. */
static volatile sig_atomic_t child_lfd = -1;

/*
 * on_listener_stop - in a connection process: the listener stopped, so stop
 * listening at once, and a new daemon can take the socket's path while the
 * connection being served goes on to its end (close() is safe in a handler)
 */
static void on_listener_stop(int sig)
{
	(void)sig;
	if (child_lfd >= 0)
		close(child_lfd);
	child_lfd = -1;
}

/* on_stop - in the listener: SIGTERM or SIGINT; the connection processes are told, then it ends */
static void on_stop(int sig)
{
	for (unsigned i = 0; i < nslots; i++)
		if (slots[i].pid > 0)
			kill(slots[i].pid, SIGUSR1);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* inet_clients - lmtp_inet_clients, for a -L inet: listener; none: a unix socket */
static struct mx_netlist inet_clients;
static bool inet_listener;

/*
 * admitted - c may be served: over the unix socket (the MTA's user only),
 * or over TCP from an address of lmtp_inet_clients; else it is closed
 */
static bool admitted(int c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char shown[INET6_ADDRSTRLEN] = "?";

	if (!inet_listener)
		return true;
	if (getpeername(c, (struct sockaddr *)&ss, &len) == 0 &&
	    mx_netlist_match(&inet_clients, (const struct sockaddr *)&ss))
		return true;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, shown, sizeof(shown));
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, shown, sizeof(shown));
	msg_warn("lmtp: connection from %s refused: not in lmtp_inet_clients", shown);
	close(c);
	return false;
}

/*
 * next_connection - a process that served a connection waits for another
 * on the listening socket, with its delivery core (configuration, TLS
 * context, route cache) kept: -1 after lmtp_process_idle_time without one,
 * or when the listener is gone (a stopped daemon takes no more mail).
 */
static int next_connection(pid_t listener, struct lmtp_slot *slot, unsigned idle_s)
{
	long long until = mx_now_ms() + (long long)idle_s * 1000;
	int c = -1;

	__atomic_store_n(&slot->idle, 1, __ATOMIC_SEQ_CST);
	while (c < 0 && getppid() == listener) {
		long long left = until - mx_now_ms();
		int lfd = child_lfd;
		struct pollfd pfd = {.fd = lfd, .events = POLLIN};

		if (left <= 0 || lfd < 0)
			break;
		if (poll(&pfd, 1, left > 1000 ? 1000 : (int)left) <= 0)
			continue;
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED &&
		    errno != EINTR)
			break; /* out of descriptors, say: the listener starts a fresh process */
		if (c >= 0 && !admitted(c))
			c = -1;
	}
	__atomic_store_n(&slot->idle, 0, __ATOMIC_SEQ_CST);
	return c;
}

/*
 * connection_process - serve c, then the next connections that come while
 * it waits (as Postfix's own daemon processes do, with max_idle and
 * max_use): its route cache serves them all, where a process per
 * connection asked DNS again for every connection.
 */
static void connection_process(int lfd, int c, pid_t listener, struct lmtp_slot *slot,
			       struct route_shared *shared, const char *config_path)
{
	struct transport_core core;
	unsigned uses = 0;

	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	child_lfd = lfd;
	core_init(&core, config_path);
	core.shared = shared;
	do {
		serve(&core, c, c);
		close(c);
		c = -1;
		if (++uses >= LMTP_PROCESS_MAX_USE || core.cfg == NULL ||
		    core.cfg->lmtp_process_idle_time == 0)
			break;
		c = next_connection(listener, slot, core.cfg->lmtp_process_idle_time);
	} while (c >= 0);
	core_free(&core);
	_exit(0);
}

/*
 * daemon_config - what the daemon itself needs of mxport.conf: the socket's
 * owner, group and mode, and lmtp_max_clients. Each connection reads the
 * whole file again for its messages (core_refresh), and while it is wrong
 * answers 451 to every recipient; so errors here are only logged, and the
 * keys that are set correctly are used (the others keep their defaults).
 */
static struct mx_config *daemon_config(const char *config_path)
{
	struct mx_config *cfg = mx_config_defaults();
	struct mx_errlist errs;

	mx_errlist_init(&errs);
	mx_config_read(cfg, config_path, &errs);
	for (size_t i = 0; i < errs.count; i++) {
		msg_error("lmtp: %s", errs.msgs[i]);
		fprintf(stderr, "mxport-transport: %s\n", errs.msgs[i]);
	}
	mx_errlist_free(&errs);
	return cfg;
}

/*
 * lmtp_listen_and_serve - the LMTP daemon: a process per connection, at
 * most lmtp_max_clients of them, each waiting for more connections when
 * its own ends (connection_process). Postfix's lmtp(8) keeps connections
 * open and caches them, so each process serves many messages; the
 * processes share their DNS answers. Runs until killed.
 */
int lmtp_listen_and_serve(const char *spec, const char *config_path)
{
	struct mx_config *cfg = daemon_config(config_path);
	struct route_shared *shared;
	struct mx_sockperm perm;
	char err[512] = "";
	unsigned children = 0, max;
	int fd;

	if (!mx_sockperm_resolve(cfg->socket_owner, cfg->socket_group, cfg->socket_mode, getuid(),
				 getgid(), &perm, err, sizeof(err))) {
		msg_error("lmtp: %s: %s", config_path, err);
		fprintf(stderr, "mxport-transport: %s: %s\n", config_path, err);
		mx_config_free(cfg);
		return 78;
	}
	/* TCP: only from the clients the admin names (see admitted), never from anyone. */
	inet_listener = strncmp(spec, "inet:", 5) == 0;
	if (inet_listener &&
	    (!mx_netlist_parse(cfg->lmtp_inet_clients, &inet_clients, err, sizeof(err)) ||
	     inet_clients.count == 0)) {
		if (!*err || inet_clients.count == 0)
			snprintf(
				err, sizeof(err),
				"-L %s: a TCP listener is reachable by anyone: name its clients in "
				"lmtp_inet_clients, or listen on unix:/path",
				spec);
		msg_error("lmtp: %s: %s", config_path, err);
		fprintf(stderr, "mxport-transport: %s: %s\n", config_path, err);
		mx_config_free(cfg);
		return 78;
	}
	max = cfg->lmtp_max_clients;
	/*
	 * The connection processes share their DNS answers: together they ask
	 * once per name per TTL. Two slots a domain (its route, its target's
	 * addresses); without the memory, each process still has its own cache.
	 */
	shared = route_shared_new(cfg->route_cache_size < LMTP_SHARED_SLOTS ? cfg->route_cache_size
									    : LMTP_SHARED_SLOTS);
	if (!msg_set_file(cfg->log_file, false, err, sizeof(err)))
		msg_error("lmtp: %s", err);
	mx_config_free(cfg);
	fd = mx_listen(spec, &perm, NULL, err, sizeof(err));
	if (fd < 0) {
		msg_error("lmtp: %s", err);
		fprintf(stderr, "mxport-transport: %s\n", err);
		return 71; /* EX_OSERR */
	}
	/* A child's end interrupts poll(), so that wait_for_room reaps it at once. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	/* Stopping tells the connection processes to let go of the socket (they inherit this). */
	sa.sa_handler = on_listener_stop;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_stop;
	sa.sa_flags = 0;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* Shared with the connection processes: which of them wait for a connection. */
	nslots = max;
	slots = mmap(NULL, nslots * sizeof(*slots), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slots == MAP_FAILED) {
		msg_error("lmtp: mmap: %s", strerror(errno));
		return 71;
	}
	memset(slots, 0, nslots * sizeof(*slots));
	/* Non-blocking: a connection that an idle process took leaves accept() with EAGAIN. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	msg_info("lmtp: listening on %s, at most %u connections", spec, max);
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};

		wait_for_room(&children, max);
		if (poll(&pfd, 1, -1) <= 0)
			continue; /* a child ended (EINTR): reap it first */
		if (idle_processes() > 0) {
			/*
			 * A process that waits keeps a warm route cache: let it
			 * take the connection; take it here only when none did.
			 */
			poll(NULL, 0, LMTP_IDLE_TAKE_MS);
			if (poll(&pfd, 1, 0) <= 0)
				continue;
		}
		/* Non-blocking: the reads then wait in poll(), for lmtp_idle_timeout at most. */
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		pid_t pid, listener = getpid();
		unsigned slot = 0;

		if (c < 0) {
			if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN &&
			    errno != EWOULDBLOCK) {
				msg_error("lmtp: accept: %s", strerror(errno));
				sleep(1);
			}
			continue;
		}
		if (!admitted(c))
			continue;
		while (slot < nslots && slots[slot].pid != 0)
			slot++;
		if (slot == nslots) { /* cannot be: wait_for_room left room */
			close(c);
			continue;
		}
		pid = fork();
		if (pid == 0) {
			slots[slot].pid = getpid();
			connection_process(fd, c, listener, &slots[slot], shared, config_path);
		}
		if (pid < 0) {
			msg_error("lmtp: fork: %s", strerror(errno));
		} else {
			slots[slot].pid = pid;
			children++;
		}
		close(c);
	}
}
