/* msg - logging in the MTA's own way: syslog facility mail, plus stderr or a file */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"

static const char *msg_ident = "mxport";
static int msg_where = MSG_TO_SYSLOG;
static int msg_fd = -1;

/* msg_init - where log lines go; syslog is opened with facility mail */
void msg_init(const char *ident, int where)
{
	msg_ident = ident;
	msg_where = where;
	if (where & MSG_TO_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

/*
 * msg_set_file - also append to a file (log_file). Each line is one write()
 * on an O_APPEND descriptor, so lines of concurrent processes and threads
 * do not mix.
 */
void msg_set_file(const char *path)
{
	if (msg_fd >= 0)
		close(msg_fd);
	msg_fd = -1;
	if (path && *path) {
		msg_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (msg_fd < 0)
			syslog(LOG_MAIL | LOG_WARNING, "warning: cannot open log_file %s: %s", path,
			       strerror(errno));
	}
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
	char text[4096], line[4300];
	int n;

	vsnprintf(text, sizeof(text), fmt, ap);
	msg_sanitize(text);
	if (msg_where & MSG_TO_SYSLOG)
		syslog(LOG_MAIL | prio, "%s%s", prefix, text);
	if (msg_fd >= 0 || (msg_where & MSG_TO_STDERR)) {
		char stamp[32];
		time_t now = time(NULL);
		struct tm tm;

		localtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
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
