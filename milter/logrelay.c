/*
 * logrelay - pass other mxport programs' log lines on to Postfix's postlogd.
 *
 * Postfix's postlog socket is reachable by group postdrop only, and pipe(8)
 * runs no command with that group: the transport it runs sends its lines
 * here (postlog_relay_socket, in the mxport socket folder that only users
 * mxport and postfix can reach), and the milter, which may reach postlogd,
 * sends them on. Only lines in Postfix's format from an mxport program pass;
 * anything else is dropped, and unprintable bytes are replaced.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "logrelay.h"
#include "msg.h"

/* line_ok - "Mmm dd hh:mm:ss host mxport/name[pid]: text" */
static bool line_ok(const char *line)
{
	const char *p = line;

	/* the stamp: 15 characters and a space */
	if (strlen(p) < 17 || p[15] != ' ')
		return false;
	p += 16;
	p += strcspn(p, " "); /* host */
	if (*p++ != ' ' || strncmp(p, "mxport/", 7) != 0)
		return false;
	p += 7;
	while (islower((unsigned char)*p))
		p++;
	if (*p++ != '[' || !isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	return p[0] == ']' && p[1] == ':' && p[2] == ' ';
}

static void *relay_thread(void *arg)
{
	int fd = *(int *)arg;
	char buf[4400];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			msg_error("postlog relay: recv: %s", strerror(errno));
			return NULL;
		}
		buf[n] = '\0';
		for (ssize_t i = 0; i < n; i++)
			if (!isprint((unsigned char)buf[i]))
				buf[i] = '?';
		if (line_ok(buf))
			msg_postlog_forward(buf, (size_t)n);
	}
}

/* logrelay_open - the relay's datagram socket at path (any old one replaced) */
int logrelay_open(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un addr;
	int fd;
	mode_t old;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, errlen, "postlog_relay_socket %s: name too long", path);
		return -1;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "postlog_relay_socket: socket: %s", strerror(errno));
		return -1;
	}
	unlink(path);
	old = umask(0111); /* the transport runs as another user; the folder guards it */
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		snprintf(err, errlen, "postlog_relay_socket %s: bind: %s", path, strerror(errno));
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);
	return fd;
}

/* logrelay_start - the relay's thread */
int logrelay_start(int fd)
{
	static int relay_fd;
	pthread_t th;

	relay_fd = fd;
	if (pthread_create(&th, NULL, relay_thread, &relay_fd) != 0)
		return -1;
	pthread_detach(th);
	return 0;
}
