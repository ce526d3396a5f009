/* listen - listening sockets from "unix:/path" and "inet:port@address" */
#ifndef MX_LISTEN_H
#define MX_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

/* Who may connect to a unix socket: its owner, group and mode. */
struct mx_sockperm {
	uid_t uid;
	gid_t gid;
	mode_t mode;
};

/*
 * A unix socket bound under a private name and moved into place with its
 * final owner and mode (see listen.c). final is where it ends up, tmp where
 * it is bound first; dev and ino identify it afterwards, for removal.
 */
struct mx_sockfile {
	char final[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char tmp[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	bool placed;
};

bool mx_sockperm_resolve(const char *owner, const char *group, unsigned mode, uid_t run_uid,
			 gid_t run_gid, struct mx_sockperm *perm, char *err, size_t errlen);
const char *mx_unix_path(const char *spec);
bool mx_sockfile_begin(const char *path, struct mx_sockfile *sf, char *err, size_t errlen);
mode_t mx_sockfile_umask(const struct mx_sockperm *perm);
bool mx_sockfile_place(struct mx_sockfile *sf, const struct mx_sockperm *perm, char *err,
		       size_t errlen);
void mx_sockfile_abort(struct mx_sockfile *sf);
void mx_sockfile_remove(const struct mx_sockfile *sf);
int mx_listen(const char *spec, const struct mx_sockperm *perm, struct mx_sockfile *sf, char *err,
	      size_t errlen);

#endif
