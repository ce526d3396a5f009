/* listen - listening sockets from "unix:/path" and "inet:port@address" */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"
#include "util.h"

/* mx_listen - a listening socket: "unix:/path" (mode 0666, for the MTA's user) or "inet:port@host"
 */
int mx_listen(const char *spec, char *err, size_t errlen)
{
	int fd = -1, one = 1;

	if (strncmp(spec, "unix:", 5) == 0) {
		struct sockaddr_un sun;
		const char *path = spec + 5;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(path) >= sizeof(sun.sun_path)) {
			snprintf(err, errlen, "%s: path too long", spec);
			return -1;
		}
		strcpy(sun.sun_path, path);
		unlink(path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
		    chmod(path, 0666) < 0 || listen(fd, 64) < 0) {
			snprintf(err, errlen, "%s: %s", spec, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		return fd;
	}
	if (strncmp(spec, "inet:", 5) == 0) {
		struct sockaddr_in sin;
		unsigned long port;
		const char *at = strchr(spec, '@');
		char portbuf[16];

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		snprintf(portbuf, sizeof(portbuf), "%.*s",
			 (int)((at ? at : spec + strlen(spec)) - spec - 5), spec + 5);
		if (!mx_parse_uint(portbuf, 65535, &port) ||
		    inet_pton(AF_INET, at ? at + 1 : "127.0.0.1", &sin.sin_addr) != 1) {
			snprintf(err, errlen, "%s: expected inet:port@address", spec);
			return -1;
		}
		sin.sin_port = htons((uint16_t)port);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0)
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
		    listen(fd, 64) < 0) {
			snprintf(err, errlen, "%s: %s", spec, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		return fd;
	}
	snprintf(err, errlen, "%s: expected unix:/path or inet:port@address", spec);
	return -1;
}
