/* msg - logging in the MTA's own way: syslog facility mail or Postfix's postlogd, plus stderr or a
 * file */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"

static const char *msg_ident = "mxport";
static int msg_where = MSG_TO_SYSLOG;
static int msg_fd = -1;
static int postlog_fd = -1;
static struct sockaddr_un postlog_addr;
static char postlog_host[256] = "localhost";

/* msg_init - where log lines go; syslog is opened with facility mail */
void msg_init(const char *ident, int where)
{
	msg_ident = ident;
	msg_where = where;
	if (where & MSG_TO_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

/* writable - what opening PATH for appending would find, without creating it */
static bool writable(const char *path, char *err, size_t errlen)
{
	char dir[4096];

	if (access(path, W_OK) == 0)
		return true;
	if (errno != ENOENT) {
		snprintf(err, errlen, "cannot open log_file %s: %s", path, strerror(errno));
		return false;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if (access(dirname(dir), W_OK | X_OK) != 0) {
		snprintf(err, errlen, "cannot create log_file %s: %s", path, strerror(errno));
		return false;
	}
	return true;
}

/*
 * msg_set_file - also append to a file (log_file). Each line is one write()
 * on an O_APPEND descriptor, so lines of concurrent processes and threads
 * do not mix. A file that cannot be opened is an error (never silence);
 * check_only: only see whether it could be, and create nothing.
 */
bool msg_set_file(const char *path, bool check_only, char *err, size_t errlen)
{
	int fd = -1;

	if (path && *path) {
		if (check_only)
			return writable(path, err, errlen);
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
		if (fd < 0) {
			snprintf(err, errlen, "cannot open log_file %s: %s", path, strerror(errno));
			return false;
		}
	}
	if (check_only)
		return true;
	if (msg_fd >= 0)
		close(msg_fd);
	msg_fd = fd;
	return true;
}

/* postlog_connect - a datagram socket connected to postlogd */
static int postlog_connect(char *err, size_t errlen)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(err, errlen, "postlog_socket: socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&postlog_addr, sizeof(postlog_addr)) != 0) {
		int saved = errno;

		snprintf(err, errlen, "cannot connect to %s: %s", postlog_addr.sun_path,
			 strerror(errno));
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* set_addr - a socket address for path; false when the name is too long */
static bool set_addr(struct sockaddr_un *addr, const char *path)
{
	if (strlen(path) >= sizeof(addr->sun_path))
		return false;
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	memcpy(addr->sun_path, path, strlen(path) + 1);
	return true;
}

/* dir_exists - the folder a socket path names is there (postlogd may just not run yet) */
static bool dir_exists(const char *path)
{
	char dir[sizeof(postlog_addr.sun_path)];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (slash == NULL)
		return stat(".", &st) == 0;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	return stat(*dir ? dir : "/", &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * msg_set_postlog - send lines to Postfix's postlogd (when Postfix logs to
 * maillog_file) instead of syslog, in Postfix's own format; host is the
 * name Postfix logs (the first label of myhostname). Postfix's socket is
 * reachable by group postdrop only, which pipe(8) never gives a command:
 * when it refuses us and relay is set, the lines go to mxport-milter's relay
 * socket, which passes them on. Not reachable either way: an error, with
 * check_only too.
 */
bool msg_set_postlog(const char *path, const char *relay, const char *host, bool check_only,
		     char *err, size_t errlen)
{
	struct sockaddr_un old = postlog_addr;
	int fd = -1;

	if (path && *path) {
		if (!set_addr(&postlog_addr, path)) {
			snprintf(err, errlen, "postlog_socket %s: name too long", path);
			return false;
		}
		fd = postlog_connect(err, errlen);
		if (fd < 0 && errno == EACCES && relay && *relay) {
			if (!set_addr(&postlog_addr, relay)) {
				snprintf(err, errlen, "postlog_relay_socket %s: name too long",
					 relay);
			} else {
				char err2[300];
				fd = postlog_connect(err2, sizeof(err2));
				if (fd < 0)
					snprintf(err + strlen(err), errlen - strlen(err), "; %s",
						 err2);
			}
		}
		if (fd < 0 && (errno == ECONNREFUSED || (errno == ENOENT && dir_exists(path)))) {
			/*
			 * postlogd is not there yet (Postfix starts after mxport at boot,
			 * or is stopped): not a configuration error. Lines go to syslog
			 * until it answers; each line tries it again (send_postlog).
			 */
			char line[600];
			int n = snprintf(line, sizeof(line),
					 "%s: warning: postlog_socket %s: %s; lines go to syslog "
					 "until Postfix's postlogd answers\n",
					 msg_ident, postlog_addr.sun_path, strerror(errno));
			if (n > 0 && write(STDERR_FILENO, line, strlen(line)) < 0) {
				/* nowhere better to say it */
			}
			if (!check_only)
				fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			else
				fd = -2; /* checked: fine */
		}
		if (fd == -2 || fd < 0 || check_only) {
			if (fd >= 0)
				close(fd);
			postlog_addr = old;
			return fd >= 0 || fd == -2;
		}
		if (host && *host)
			snprintf(postlog_host, sizeof(postlog_host), "%.*s",
				 (int)strcspn(host, "."), host);
	}
	if (check_only)
		return true;
	if (postlog_fd >= 0)
		close(postlog_fd);
	postlog_fd = fd;
	return true;
}

/* send_postlog - one whole line to postlogd; reconnect once (Postfix restarted) */
static bool send_postlog(const char *line, int n)
{
	char err[300];

	for (int attempt = 0; attempt < 2; attempt++) {
		if (send(postlog_fd, line, (size_t)n, MSG_NOSIGNAL) == n)
			return true;
		int fd = postlog_connect(err, sizeof(err));
		if (fd < 0)
			return false;
		close(postlog_fd);
		postlog_fd = fd;
	}
	return false;
}

/* to_postlog - one line in Postfix's format to postlogd */
static bool to_postlog(const char *stamp, const char *prefix, const char *text)
{
	char line[4400];
	int n = snprintf(line, sizeof(line), "%s %s %s[%ld]: %s%s", stamp, postlog_host, msg_ident,
			 (long)getpid(), prefix, text);

	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	return send_postlog(line, n);
}

/* msg_postlog_forward - a line another mxport program made, to postlogd as it is */
bool msg_postlog_forward(const char *line, size_t n)
{
	return postlog_fd >= 0 && send_postlog(line, (int)n);
}

/* msg_uses_fd - fd is the log's (log_file, postlog): a process that closes what it inherited keeps
 * it */
bool msg_uses_fd(int fd)
{
	return fd >= 0 && (fd == msg_fd || fd == postlog_fd);
}

/*
 * msg_sanitize - what reaches a log line is one line of printable text:
 * remote replies, client addresses and DNS names carry whatever bytes a
 * stranger chose. A line break (a multi-line reply) becomes a space, any
 * other control character '?', as Postfix writes them; so no text can
 * forge a log line of its own or a terminal escape.
 */
void msg_sanitize(char *text)
{
	for (unsigned char *p = (unsigned char *)text; *p; p++) {
		if (*p == '\n' || *p == '\r')
			*p = ' ';
		else if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
}

/* vlog - one line to every destination */
static void vlog(int prio, const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void vlog(int prio, const char *prefix, const char *fmt, va_list ap)
{
	/* made once a second (a message's lines, one a recipient, share it), per thread */
	static __thread time_t stamp_at = (time_t)-1;
	static __thread char stamp[32];
	char text[4096], line[4300];
	time_t now = time(NULL);
	int n;

	vsnprintf(text, sizeof(text), fmt, ap);
	msg_sanitize(text);
	if (now != stamp_at) {
		struct tm tm;

		localtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%b %d %H:%M:%S", &tm);
		stamp_at = now;
	}
	if (postlog_fd >= 0) {
		/* postlogd down: syslog rather than nowhere */
		if (!to_postlog(stamp, prefix, text))
			syslog(LOG_MAIL | prio, "%s%s", prefix, text);
	} else if (msg_where & MSG_TO_SYSLOG) {
		syslog(LOG_MAIL | prio, "%s%s", prefix, text);
	}
	if (msg_fd >= 0 || (msg_where & MSG_TO_STDERR)) {
		n = snprintf(line, sizeof(line), "%s %s[%ld]: %s%s\n", stamp, msg_ident,
			     (long)getpid(), prefix, text);
		if (n > (int)sizeof(line) - 1)
			n = (int)sizeof(line) - 1;
		if (msg_fd >= 0 && write(msg_fd, line, (size_t)n) < 0) {
			/* nowhere better to say it */
		}
		if ((msg_where & MSG_TO_STDERR) && write(STDERR_FILENO, line, (size_t)n) < 0) {
			/* likewise */
		}
	}
}

/* msg_info - an ordinary event, such as a delivery attempt */
void msg_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, "", fmt, ap);
	va_end(ap);
}

/* msg_warn - something the admin should look at */
void msg_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, "warning: ", fmt, ap);
	va_end(ap);
}

/* msg_error - a failure of this run (configuration, environment) */
void msg_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, "error: ", fmt, ap);
	va_end(ap);
}

#if !defined(__SANITIZE_ADDRESS__)
/* put_num - a number in decimal, without stdio (a signal handler may use it) */
static size_t put_num(char *out, unsigned long v)
{
	char tmp[24];
	size_t n = 0, len = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < sizeof(tmp));
	while (n)
		out[len++] = tmp[--n];
	return len;
}

/*
 * on_fatal_signal - a crash says so before the process goes: one line on
 * standard error (the journal, under systemd) and in log_file, written with
 * write(2) alone (syslog is not safe here); then the signal's own action
 * (a core dump)
 */
static void on_fatal_signal(int sig)
{
	static const char *const names[] = {[SIGSEGV] = "SIGSEGV",
					    [SIGBUS] = "SIGBUS",
					    [SIGFPE] = "SIGFPE",
					    [SIGILL] = "SIGILL",
					    [SIGABRT] = "SIGABRT"};
	char line[256];
	size_t n = 0, k;
	const char *name =
		sig < (int)(sizeof(names) / sizeof(names[0])) && names[sig] ? names[sig] : "signal";

	for (k = 0; msg_ident[k] && n < 100; k++)
		line[n++] = msg_ident[k];
	line[n++] = '[';
	n += put_num(line + n, (unsigned long)getpid());
	memcpy(line + n, "]: fatal: killed by signal ", 27);
	n += 27;
	n += put_num(line + n, (unsigned long)sig);
	line[n++] = ' ';
	line[n++] = '(';
	for (k = 0; name[k] && n < sizeof(line) - 3; k++)
		line[n++] = name[k];
	line[n++] = ')';
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere else to say it */
	}
	if (msg_fd >= 0 && write(msg_fd, line, n) < 0) {
		/* the same */
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

#endif

/*
 * msg_catch_crashes - a daemon that dies of a crash logs why (SIGSEGV,
 * SIGBUS, SIGFPE, SIGILL, SIGABRT). Not under AddressSanitizer, whose own
 * report says more.
 */
void msg_catch_crashes(void)
{
#if !defined(__SANITIZE_ADDRESS__)
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
#endif
}
