/* smtp_conn - one TCP (or TLS) connection with deadlines, read by lines */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtp_conn.h"

/* mx_now_ms - monotonic milliseconds */
long long mx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * conn_wait - poll for events until the earlier of timeout and the run's own
 * limit. Returns 1 ready, 0 timed out (hit_limit says which), -1 error.
 */
int conn_wait(struct smtp_conn *c, short events, long long until)
{
	for (;;) {
		long long now = mx_now_ms(), end = until < c->limit_ms ? until : c->limit_ms;
		struct pollfd pfd = {.fd = c->fd, .events = events};
		int rc;

		if (now >= end) {
			c->hit_limit = end == c->limit_ms;
			return 0;
		}
		rc = poll(&pfd, 1, (int)(end - now));
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* conn_init - no connection yet; the buffer is left as it is (it is read only up to len) */
void conn_init(struct smtp_conn *c)
{
	c->fd = -1;
	c->ssl = NULL;
	c->pos = c->len = 0;
	c->limit_ms = 0;
	c->hit_limit = false;
}

/* conn_connect - non-blocking connect with a timeout; 0 or -1 with err */
int conn_connect(struct smtp_conn *c, const struct sockaddr *sa, socklen_t salen,
		 unsigned timeout_ms, long long limit_ms, char *err, size_t errlen)
{
	int soerr = 0, one = 1;
	socklen_t len = sizeof(soerr);

	conn_init(c);
	c->limit_ms = limit_ms;
	c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* Commands are small and answered one by one: Nagle only adds delay. */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, sa, salen) < 0) {
		if (errno != EINPROGRESS) {
			snprintf(err, errlen, "%s", strerror(errno));
			conn_close(c);
			return -1;
		}
		switch (conn_wait(c, POLLOUT, mx_now_ms() + timeout_ms)) {
		case 0:
			snprintf(err, errlen, "%s",
				 c->hit_limit ? "delivery time limit reached"
					      : "Connection timed out");
			conn_close(c);
			return -1;
		case -1:
			snprintf(err, errlen, "poll: %s", strerror(errno));
			conn_close(c);
			return -1;
		}
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0) {
			snprintf(err, errlen, "%s", strerror(soerr ? soerr : errno));
			conn_close(c);
			return -1;
		}
	}
	return 0;
}

/* ssl_error_text - the most useful text for a failed TLS I/O call */
static void ssl_error_text(struct smtp_conn *c, int rc, const char *what, char *err, size_t errlen)
{
	int e = SSL_get_error(c->ssl, rc);
	unsigned long q = ERR_get_error();

	if (e == SSL_ERROR_ZERO_RETURN)
		snprintf(err, errlen, "lost connection (TLS closed by peer) %s", what);
	else if (e == SSL_ERROR_SYSCALL && q == 0)
		snprintf(err, errlen, "lost connection %s%s%s", what, errno ? ": " : "",
			 errno ? strerror(errno) : "");
	else
		snprintf(err, errlen, "TLS error %s: %s", what,
			 q ? ERR_reason_error_string(q) : "unknown");
	ERR_clear_error();
}

/* fill - read more bytes into the buffer; 1, 0 timeout/limit, -1 error or EOF */
static int fill(struct smtp_conn *c, long long until, char *err, size_t errlen)
{
	if (c->pos > 0 && c->pos == c->len)
		c->pos = c->len = 0;
	if (c->pos > 0) {
		memmove(c->buf, c->buf + c->pos, c->len - c->pos);
		c->len -= c->pos;
		c->pos = 0;
	}
	for (;;) {
		ssize_t n;
		short want = POLLIN;

		if (c->ssl) {
			int rc;
			ERR_clear_error();
			rc = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len));
			if (rc > 0) {
				c->len += (size_t)rc;
				return 1;
			}
			int e = SSL_get_error(c->ssl, rc);
			if (e == SSL_ERROR_WANT_WRITE)
				want = POLLOUT;
			else if (e != SSL_ERROR_WANT_READ) {
				ssl_error_text(c, rc, "while reading", err, errlen);
				return -1;
			}
		} else {
			n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
			if (n > 0) {
				c->len += (size_t)n;
				return 1;
			}
			if (n == 0) {
				snprintf(err, errlen, "lost connection");
				return -1;
			}
			if (errno != EAGAIN && errno != EINTR) {
				snprintf(err, errlen, "lost connection: %s", strerror(errno));
				return -1;
			}
		}
		switch (conn_wait(c, want, until)) {
		case 0:
			snprintf(err, errlen, "%s",
				 c->hit_limit ? "delivery time limit reached" : "timeout");
			return 0;
		case -1: snprintf(err, errlen, "poll: %s", strerror(errno)); return -1;
		}
	}
}

/*
 * conn_read_piece - up to max bytes of a line (max below the buffer's size),
 * without its CR LF (a bare LF also ends a line); *eol says whether the line
 * ended with this piece. So lines of any length can be read, a piece at a
 * time. Returns 1 with a piece, 0 on timeout (err says which), -1 on a lost
 * connection.
 */
int conn_read_piece(struct smtp_conn *c, char *out, size_t max, size_t *len, bool *eol,
		    unsigned timeout_ms, char *err, size_t errlen)
{
	long long until = mx_now_ms() + timeout_ms;

	for (;;) {
		size_t avail = c->len - c->pos;
		char *nl = memchr(c->buf + c->pos, '\n', avail);
		size_t keep = 0;

		if (nl) {
			keep = (size_t)(nl - (c->buf + c->pos));
			if (keep > 0 && c->buf[c->pos + keep - 1] == '\r')
				keep--;
		}
		if (nl && keep <= max) {
			memcpy(out, c->buf + c->pos, keep);
			out[keep] = '\0';
			*len = keep;
			*eol = true;
			c->pos += (size_t)(nl - (c->buf + c->pos)) + 1;
			return 1;
		}
		if (nl || avail > max) {
			memcpy(out, c->buf + c->pos, max);
			out[max] = '\0';
			*len = max;
			*eol = false;
			c->pos += max;
			return 1;
		}
		int rc = fill(c, until, err, errlen);
		if (rc <= 0)
			return rc;
	}
}

/*
 * conn_read_line - one line without CR LF (a bare LF also ends a line).
 * Returns 1 with a line, 0 on timeout (err says which), -1 on a lost
 * connection or a line longer than max.
 */
int conn_read_line(struct smtp_conn *c, char *line, size_t max, size_t *len, unsigned timeout_ms,
		   char *err, size_t errlen)
{
	bool eol;
	int rc = conn_read_piece(c, line, max, len, &eol, timeout_ms, err, errlen);

	if (rc == 1 && !eol) {
		snprintf(err, errlen, "line longer than %zu bytes", max);
		return -1;
	}
	return rc;
}

/* conn_has_buffered - unread input is waiting (used to catch a peer that talks out of turn) */
bool conn_has_buffered(const struct smtp_conn *c)
{
	return c->len > c->pos || (c->ssl && SSL_pending(c->ssl) > 0);
}

/*
 * conn_peek, conn_take, conn_more - the buffer itself, for a reader that
 * scans many lines at once (the LMTP daemon's DATA): peek at what was
 * read and not taken yet, take n bytes of it, and read more (what was not
 * taken stays, moved to the front). conn_more needs room: the caller
 * takes something before the buffer is full. 1, 0 timeout, -1 lost.
 */
const char *conn_peek(const struct smtp_conn *c, size_t *avail)
{
	*avail = c->len - c->pos;
	return c->buf + c->pos;
}

void conn_take(struct smtp_conn *c, size_t n)
{
	c->pos += n;
}

int conn_more(struct smtp_conn *c, unsigned timeout_ms, char *err, size_t errlen)
{
	if (c->pos == 0 && c->len == sizeof(c->buf)) {
		snprintf(err, errlen, "read buffer full");
		return -1;
	}
	return fill(c, mx_now_ms() + timeout_ms, err, errlen);
}

/*
 * conn_write - all of data; 1, 0 timeout, -1 error. The timeout is for a
 * stall (no progress), not for the whole buffer: a large message on a slow
 * link is fine as long as it moves, as with Postfix's smtp_data_xfer_timeout.
 */
int conn_write(struct smtp_conn *c, const void *data, size_t len, unsigned timeout_ms, char *err,
	       size_t errlen)
{
	const char *p = data;
	long long until = mx_now_ms() + timeout_ms;

	while (len > 0) {
		short want = POLLOUT;
		ssize_t n;

		if (c->ssl) {
			int chunk = len > 65536 ? 65536 : (int)len;
			ERR_clear_error();
			int rc = SSL_write(c->ssl, p, chunk);
			if (rc > 0) {
				p += rc;
				len -= (size_t)rc;
				until = mx_now_ms() + timeout_ms;
				continue;
			}
			int e = SSL_get_error(c->ssl, rc);
			if (e == SSL_ERROR_WANT_READ)
				want = POLLIN;
			else if (e != SSL_ERROR_WANT_WRITE) {
				ssl_error_text(c, rc, "while sending", err, errlen);
				return -1;
			}
		} else {
			/* write(), not send(): the LMTP front also talks over pipes. SIGPIPE is
			 * ignored. */
			n = write(c->fd, p, len);
			if (n > 0) {
				p += n;
				len -= (size_t)n;
				until = mx_now_ms() + timeout_ms;
				continue;
			}
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				snprintf(err, errlen, "lost connection while sending: %s",
					 strerror(errno));
				return -1;
			}
		}
		switch (conn_wait(c, want, until)) {
		case 0:
			snprintf(err, errlen, "%s",
				 c->hit_limit ? "delivery time limit reached"
					      : "timeout while sending");
			return 0;
		case -1: snprintf(err, errlen, "poll: %s", strerror(errno)); return -1;
		}
	}
	return 1;
}

/* conn_close - shut TLS down politely (no waiting) and close */
void conn_close(struct smtp_conn *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
