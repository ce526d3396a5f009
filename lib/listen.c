/* listen - listening sockets from "unix:/path" and "inet:port@address" */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"
#include "util.h"

/*
 * The listen queue. Clients over a daemon's own limit (lmtp_max_clients,
 * socketmap_max_clients) wait here; the kernel caps it at somaxconn.
 */
#define LISTEN_BACKLOG 512

/* lookup_id - a user or group by name or number */
static bool lookup_id(const char *name, bool group, unsigned long *id)
{
	if (mx_parse_uint(name, 0x7fffffffUL, id))
		return true;
	if (group) {
		struct group *gr = getgrnam(name);
		if (gr)
			*id = gr->gr_gid;
		return gr != NULL;
	}
	struct passwd *pw = getpwnam(name);
	if (pw)
		*id = pw->pw_uid;
	return pw != NULL;
}

/* in_group - the process may give a file to this group (it is one of its groups) */
static bool in_group(gid_t gid)
{
	gid_t groups[256];
	int n = getgroups(256, groups);

	if (gid == getegid())
		return true;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/*
 * mx_sockperm_resolve - owner, group and mode of the unix sockets from
 * socket_owner, socket_group and socket_mode; an empty owner or group is
 * the user or group the program runs as (run_uid, run_gid). A process that
 * is not root can give its sockets only to itself and to its own groups:
 * that is checked here, so that the error names the key.
 */
bool mx_sockperm_resolve(const char *owner, const char *group, unsigned mode, uid_t run_uid,
			 gid_t run_gid, struct mx_sockperm *perm, char *err, size_t errlen)
{
	unsigned long id;

	perm->uid = run_uid;
	perm->gid = run_gid;
	perm->mode = (mode_t)(mode & 0777);
	if (*owner) {
		if (!lookup_id(owner, false, &id)) {
			snprintf(err, errlen, "socket_owner = %s: no such user", owner);
			return false;
		}
		perm->uid = (uid_t)id;
	}
	if (*group) {
		if (!lookup_id(group, true, &id)) {
			snprintf(err, errlen,
				 "socket_group = %s: no such group (set socket_group to a group "
				 "of the MTA's user)",
				 group);
			return false;
		}
		perm->gid = (gid_t)id;
	}
	if (geteuid() != 0 && perm->uid != geteuid()) {
		snprintf(err, errlen,
			 "socket_owner = %s: only root can give a socket to another user (this "
			 "process runs as uid %u)",
			 owner, (unsigned)geteuid());
		return false;
	}
	if (geteuid() != 0 && !in_group(perm->gid)) {
		snprintf(err, errlen,
			 "socket_group = %s: this process (uid %u) is not in that group and "
			 "cannot give its sockets to it: make the group one of its "
			 "supplementary groups (systemd: SupplementaryGroups=%s), or set "
			 "socket_group",
			 group, (unsigned)geteuid(), group);
		return false;
	}
	return true;
}

/* mx_unix_path - the path of "unix:/path" or "local:/path"; NULL for another kind */
const char *mx_unix_path(const char *spec)
{
	if (strncmp(spec, "unix:", 5) == 0)
		return spec + 5;
	if (strncmp(spec, "local:", 6) == 0)
		return spec + 6;
	return NULL;
}

/*
 * stale - nothing listens on the socket at path (connect is refused);
 * otherwise false with why: a process listens there, or that cannot be told
 */
static bool stale(const char *path, char *why, size_t whylen)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int rc, saved;

	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return false;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	mx_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	saved = errno;
	close(fd);
	if (rc == 0 || saved == EAGAIN) {
		snprintf(why, whylen, "another process listens there");
		return false;
	}
	if (saved == ECONNREFUSED)
		return true;
	snprintf(why, whylen, "cannot tell whether another process listens there: %s",
		 strerror(saved));
	return false;
}

/*
 * mx_sockfile_begin - prepare to bind a unix socket at path without a
 * window: the socket is bound in a directory of its own, made 0700 next to
 * path, given its owner there, and renamed onto path (mx_sockfile_place).
 * Nobody can connect to it, or swap it for something else, before it has
 * its final owner and mode; and a path that holds something other than a
 * stale socket is left alone.
 */
bool mx_sockfile_begin(const char *path, struct mx_sockfile *sf, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	struct stat st;

	memset(sf, 0, sizeof(*sf));
	if (*path == '\0' || strlen(path) >= sizeof(sf->final)) {
		snprintf(err, errlen,
			 "%s: not a usable unix socket path (empty, or longer than %zu)", path,
			 sizeof(sf->final) - 1);
		return false;
	}
	mx_strlcpy(sf->final, path, sizeof(sf->final));
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s: exists and is not a socket; not replaced", path);
			return false;
		}
		char why[200];
		if (!stale(path, why, sizeof(why))) {
			snprintf(err, errlen, "%s: %s", path, why);
			return false;
		}
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	if ((size_t)snprintf(sf->dir, sizeof(sf->dir), "%.*s.mxport-XXXXXX",
			     slash ? (int)(slash - path + 1) : 0, path) >= sizeof(sf->dir) ||
	    strlen(sf->dir) + 3 >= sizeof(sf->tmp)) {
		snprintf(err, errlen, "%s: path too long to bind it safely", path);
		return false;
	}
	if (mkdtemp(sf->dir) == NULL) {
		snprintf(err, errlen, "%s: cannot make a directory beside it: %s", path,
			 strerror(errno));
		sf->dir[0] = '\0';
		return false;
	}
	snprintf(sf->tmp, sizeof(sf->tmp), "%s/s", sf->dir);
	return true;
}

/* mx_sockfile_umask - the umask to hold around bind(): the socket is born with its mode */
mode_t mx_sockfile_umask(const struct mx_sockperm *perm)
{
	return (mode_t)(~perm->mode & 0777);
}

/* mx_sockfile_place - owner and group on the bound socket, then move it onto its path */
bool mx_sockfile_place(struct mx_sockfile *sf, const struct mx_sockperm *perm, char *err,
		       size_t errlen)
{
	struct stat st;

	/* By name, but in a directory that only this process's user can enter. */
	if (lchown(sf->tmp, perm->uid, perm->gid) != 0) {
		snprintf(err, errlen, "%s: cannot give it to uid %u, gid %u: %s", sf->final,
			 (unsigned)perm->uid, (unsigned)perm->gid, strerror(errno));
		goto fail;
	}
	if (lstat(sf->tmp, &st) != 0 || !S_ISSOCK(st.st_mode) ||
	    (st.st_mode & 07777) != perm->mode) {
		snprintf(err, errlen, "%s: the socket did not get mode %04o", sf->final,
			 (unsigned)perm->mode);
		goto fail;
	}
	if (rename(sf->tmp, sf->final) != 0) {
		snprintf(err, errlen, "%s: %s", sf->final, strerror(errno));
		goto fail;
	}
	rmdir(sf->dir);
	sf->dev = st.st_dev;
	sf->ino = st.st_ino;
	sf->placed = true;
	return true;
fail:
	mx_sockfile_abort(sf);
	return false;
}

/* mx_sockfile_abort - remove the private directory and what was bound in it */
void mx_sockfile_abort(struct mx_sockfile *sf)
{
	if (sf->tmp[0])
		unlink(sf->tmp);
	if (sf->dir[0])
		rmdir(sf->dir);
	sf->tmp[0] = sf->dir[0] = '\0';
}

/* mx_sockfile_remove - at exit: remove the socket, if it is still the one placed */
void mx_sockfile_remove(const struct mx_sockfile *sf)
{
	struct stat st;

	if (sf->placed && lstat(sf->final, &st) == 0 && st.st_dev == sf->dev &&
	    st.st_ino == sf->ino)
		unlink(sf->final);
}

/* listen_unix - a unix socket at path, with perm's owner, group and mode */
static int listen_unix(const char *spec, const char *path, const struct mx_sockperm *perm,
		       struct mx_sockfile *sf, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	char why[400];
	int fd, rc;
	mode_t old;

	if (!mx_sockfile_begin(path, sf, why, sizeof(why))) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	mx_strlcpy(sun.sun_path, sf->tmp, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "%s: socket: %s", spec, strerror(errno));
		mx_sockfile_abort(sf);
		return -1;
	}
	old = umask(mx_sockfile_umask(perm));
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		snprintf(err, errlen, "%s: %s", spec, strerror(errno));
		close(fd);
		mx_sockfile_abort(sf);
		return -1;
	}
	if (!mx_sockfile_place(sf, perm, why, sizeof(why))) {
		snprintf(err, errlen, "%s", why);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * mx_listen - a listening socket: "unix:/path" with perm's owner, group and
 * mode (sf, when not NULL, names it for mx_sockfile_remove), or
 * "inet:port@host".
 */
int mx_listen(const char *spec, const struct mx_sockperm *perm, struct mx_sockfile *sf, char *err,
	      size_t errlen)
{
	int fd = -1, one = 1;
	const char *path = mx_unix_path(spec);

	if (path) {
		struct mx_sockfile local;
		struct mx_sockperm own = {getuid(), getgid(), 0600};

		return listen_unix(spec, path, perm ? perm : &own, sf ? sf : &local, err, errlen);
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
		    listen(fd, LISTEN_BACKLOG) < 0) {
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
