/*++
 * NAME
 *	mxport-milter 8
 * SUMMARY
 *	gate and tag mail for forwarded domains (libmilter daemon)
 * SYNOPSIS
 *	mxport-milter [-c FILE] [-n] [-f] [-p SOCKET] [-u USER] [-P PIDFILE]
 * DESCRIPTION
 *	At RCPT, accept recipients of forwarded domains, leave the others to
 *	the MTA (or reject them: unknown_domains = reject), 451 on DNS
 *	trouble, 452 to a recipient that would mix forwarded and other
 *	recipients in one message. At end of message add a tag header that
 *	names the forwarded domains, so that the MTA routes the message to
 *	mxport-transport. Also
 *	answers socketmap lookups (relay, transport, mailertable) so that the
 *	MTA's relay check accepts exactly the forwarded domains.
 * SECURITY
 *	Never runs as root: started as root, it opens its sockets and the pid
 *	file, then drops to -u USER or milter_user (supplementary groups,
 *	group, user, in that order, and checks that root cannot be regained).
 *	Unix sockets are bound in a private directory with their final mode
 *	(umask), given socket_owner and socket_group there, and renamed into
 *	place: no window in which another local user can connect. The pid file
 *	is made anew (O_EXCL, O_NOFOLLOW): a link planted in its directory is
 *	removed, never followed. Both are removed at exit.
 * SEE ALSO
 *	mxport-milter(8), mxport.conf(5)
 *--*/
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "callbacks.h"
#include "listen.h"
#include "logrelay.h"
#include "milter_metrics.h"
#include "msg.h"
#include "socketmap.h"
#include "state.h"
#include "util.h"

static const char *config_path = MX_CONFIG_FILE;
static volatile sig_atomic_t reload_requested;
static int reload_pipe[2] = {-1, -1};

/* usage - synopsis, exit 64 */
static void usage(void)
{
	fprintf(stderr, "usage: mxport-milter [-c FILE] [-n] [-f] [-p SOCKET] [-u USER] "
			"[-P PIDFILE]\n");
	exit(EX_USAGE);
}

/* fatal - a start-up failure: to syslog and stderr, then exit with a sysexits code */
static void fatal(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fatal(int code, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	msg_error("%s", text);
	fprintf(stderr, "mxport-milter: %s\n", text);
	exit(code);
}

/* lookup_current - socketmap answers from the configuration in force */
static enum route_status lookup_current(const char *domain, char *reason, size_t reasonlen)
{
	struct milter_state *st = state_acquire();
	struct route r;
	enum route_status status;

	route_lookup(st->routes, domain, &r);
	status = r.status;
	mx_strlcpy(reason, r.reason, reasonlen);
	route_clear(&r);
	state_release(st);
	return status;
}

/* verify_current - the socketmap's verify table, with the configuration in force */
static size_t verify_current(const char *addr, size_t len, char *reply, size_t replylen)
{
	struct milter_state *st = state_acquire();
	size_t n = verify_socketmap(st->verify, st->cfg, st->routes, addr, len, reply, replylen);

	state_release(st);
	return n;
}

/* current_values - socketmap answers from the configuration in force */
static void current_values(struct socketmap_values *values)
{
	struct milter_state *st = state_acquire();

	values->verify = verify_current;

	mx_strlcpy(values->mailer, st->cfg->mailertable_mailer, sizeof(values->mailer));
	mx_strlcpy(values->transport, st->cfg->postfix_transport, sizeof(values->transport));
	state_release(st);
}

/* on_hup - only note the request; the main thread does the work */
static void on_hup(int sig)
{
	char c = 'h';

	(void)sig;
	reload_requested = 1;
	if (write(reload_pipe[1], &c, 1) < 0) {
		/* the flag is set; the pipe only wakes the main thread */
	}
}

/* The files a configuration is read from: mxport.conf, the routes file, the notify map. */
struct file_ids {
	struct stat st[3];
	bool exists[3];
};

/* file_ids_now - the files' identities now; paths from what mxport.conf says now */
static void file_ids_now(struct file_ids *ids)
{
	struct mx_config *cfg = mx_config_defaults();
	struct mx_errlist errs;
	const char *paths[3];

	mx_errlist_init(&errs);
	mx_config_read(cfg, config_path, &errs);
	paths[0] = config_path;
	paths[1] = cfg->routes_file;
	paths[2] = cfg->notify_map;
	for (int i = 0; i < 3; i++)
		ids->exists[i] = *paths[i] && stat(paths[i], &ids->st[i]) == 0;
	mx_errlist_free(&errs);
	mx_config_free(cfg);
}

/* file_ids_same - nothing changed between a and b (an edit within the second too) */
static bool file_ids_same(const struct file_ids *a, const struct file_ids *b)
{
	for (int i = 0; i < 3; i++) {
		const struct stat *x = &a->st[i], *y = &b->st[i];

		if (a->exists[i] != b->exists[i])
			return false;
		if (a->exists[i] &&
		    (x->st_dev != y->st_dev || x->st_ino != y->st_ino || x->st_size != y->st_size ||
		     x->st_mtim.tv_sec != y->st_mtim.tv_sec ||
		     x->st_mtim.tv_nsec != y->st_mtim.tv_nsec ||
		     x->st_ctim.tv_sec != y->st_ctim.tv_sec ||
		     x->st_ctim.tv_nsec != y->st_ctim.tv_nsec))
			return false;
	}
	return true;
}

#define RELOAD_SETTLE_MS    1000 /* a change is believed once the files were still this long */
#define RELOAD_SETTLE_TRIES 10

/* file_ids_wait - until the newest change of the files is RELOAD_SETTLE_MS old */
static void file_ids_wait(const struct file_ids *ids)
{
	struct timespec ts;
	long long newest = 0, wait;

	for (int i = 0; i < 3; i++) {
		const struct stat *st = &ids->st[i];
		long long m = (long long)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
		long long c = (long long)st->st_ctim.tv_sec * 1000 + st->st_ctim.tv_nsec / 1000000;

		if (!ids->exists[i])
			continue;
		newest = m > newest ? m : newest;
		newest = c > newest ? c : newest;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	wait = newest + RELOAD_SETTLE_MS - ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	if (wait > 0)
		poll(NULL, 0, (int)(wait < RELOAD_SETTLE_MS ? wait : RELOAD_SETTLE_MS));
}

/*
 * build_settled - state_build from files that did not change while they
 * were read. A routes file read between an editor's truncation and its
 * write is an empty routes file, a good one: put in force, every forwarded
 * domain would be refused. So a change is believed once the files were
 * still for RELOAD_SETTLE_MS, and a change seen meanwhile is read again.
 */
static struct milter_state *build_settled(struct mx_errlist *errs)
{
	struct milter_state *st = NULL;
	struct file_ids before, after;

	for (int tries = 1; tries <= RELOAD_SETTLE_TRIES; tries++) {
		file_ids_now(&before);
		st = state_build(config_path, errs);
		file_ids_wait(&before);
		file_ids_now(&after);
		if (file_ids_same(&before, &after))
			break;
		if (tries == RELOAD_SETTLE_TRIES)
			break; /* still changing: take what was read */
		if (st)
			state_release(st);
		st = NULL;
		mx_errlist_free(errs);
		mx_errlist_init(errs);
	}
	return st;
}

/*
 * reload - build and check a whole new configuration; swap it in only when
 * it is good. The sockets stay as they are (a new milter_socket needs a
 * restart, and is said so).
 */
static void reload(const char *socket_spec)
{
	struct mx_errlist errs;
	struct milter_state *st;

	mx_errlist_init(&errs);
	st = build_settled(&errs);
	if (st && !mx_config_logs(st->cfg, false, &errs)) {
		state_release(st);
		st = NULL;
	}
	if (st == NULL) {
		for (size_t i = 0; i < errs.count; i++)
			msg_error("reload: %s", errs.msgs[i]);
		msg_error("reload: %zu error(s); keeping the configuration in force", errs.count);
		milter_metrics_loaded(NULL, config_path, false);
	} else {
		if (strcmp(st->cfg->milter_socket, socket_spec) != 0)
			msg_warn("reload: milter_socket changed; it takes effect at restart");
		state_install(st);
		msg_info("reload: configuration %s is in force", config_path);
		milter_metrics_loaded(st->cfg, config_path, true);
	}
	mx_errlist_free(&errs);
}

/* milter_thread - libmilter's main loop, off the main thread (see main) */
static void *milter_thread(void *arg)
{
	int *rc = arg;

	*rc = smfi_main();
	/* Wake the main thread: the milter has stopped (SIGTERM, or an error). */
	char c = 'x';
	if (write(reload_pipe[1], &c, 1) < 0) {
		/* main will notice when it next wakes */
	}
	return NULL;
}

/* The user the milter runs as. */
struct run_user {
	char name[256];
	uid_t uid;
	gid_t gid;
	bool drop; /* started as root: become this user */
};

/*
 * run_user - -u USER, else milter_user, when started as root; never root.
 * Started as another user, the milter stays that user (-u may only name it).
 */
static void run_user(const char *opt, const struct mx_config *cfg, struct run_user *ru)
{
	const char *name = opt ? opt : cfg->milter_user;
	const char *what = opt ? "-u" : "milter_user =";
	struct passwd *pw;

	memset(ru, 0, sizeof(*ru));
	ru->uid = getuid();
	ru->gid = getgid();
	if (getuid() != 0 && geteuid() != 0 && opt == NULL)
		return;
	if (*name == '\0')
		fatal(EX_CONFIG, "milter_user is empty: mxport-milter does not run as root");
	pw = getpwnam(name);
	if (pw == NULL)
		fatal(EX_NOUSER, "%s %s: no such user (create it, or name another)", what, name);
	if (pw->pw_uid == 0)
		fatal(EX_CONFIG, "%s %s: mxport-milter does not run as root", what, name);
	if (getuid() != 0 && geteuid() != 0) {
		if (pw->pw_uid != getuid())
			fatal(EX_USAGE,
			      "-u %s: only root can change to another user (running as uid %u)",
			      name, (unsigned)getuid());
		return;
	}
	mx_strlcpy(ru->name, pw->pw_name, sizeof(ru->name));
	ru->uid = pw->pw_uid;
	ru->gid = pw->pw_gid;
	ru->drop = true;
}

/* drop_privileges - supplementary groups, group, user; then make sure root is gone */
static void drop_privileges(const struct run_user *ru)
{
	if (initgroups(ru->name, ru->gid) != 0)
		fatal(EX_OSERR, "initgroups %s: %s", ru->name, strerror(errno));
	if (setgid(ru->gid) != 0)
		fatal(EX_OSERR, "setgid %u: %s", (unsigned)ru->gid, strerror(errno));
	if (setuid(ru->uid) != 0)
		fatal(EX_OSERR, "setuid %s: %s", ru->name, strerror(errno));
	if (setuid(0) == 0 || seteuid(0) == 0)
		fatal(EX_SOFTWARE, "could regain root after dropping to %s", ru->name);
}

/*
 * write_pidfile - the daemon's pid, for init scripts and tests. Whatever
 * is at the path (a stale pid file, or a link or file that someone who can
 * write the directory put there) is removed, and the file made anew with
 * O_EXCL and O_NOFOLLOW, so that root never writes through a planted link.
 * id identifies the file for remove_pidfile.
 */
static void write_pidfile(const char *path, struct stat *id)
{
	struct stat st;
	char text[32];
	int fd, n;

	if (lstat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1)
			msg_warn("pid file %s: removing what was there (%s, owner uid %u, %u "
				 "link(s)); not followed",
				 path,
				 S_ISLNK(st.st_mode)   ? "a symbolic link"
				 : S_ISREG(st.st_mode) ? "a file"
						       : "not a regular file",
				 (unsigned)st.st_uid, (unsigned)st.st_nlink);
		if (unlink(path) != 0)
			fatal(EX_CANTCREAT, "pid file %s: cannot remove what is there: %s", path,
			      strerror(errno));
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		fatal(EX_CANTCREAT, "pid file %s: %s", path, strerror(errno));
	n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (fstat(fd, id) != 0 || write(fd, text, (size_t)n) != n || close(fd) != 0)
		fatal(EX_CANTCREAT, "pid file %s: %s", path, strerror(errno));
}

/* remove_pidfile - at exit, if it is still the file written (the directory must let us) */
static void remove_pidfile(const char *path, const struct stat *id)
{
	struct stat st;

	if (lstat(path, &st) != 0 || st.st_dev != id->st_dev || st.st_ino != id->st_ino)
		return;
	/* A root-owned run directory (systemd's, without User=) goes at stop anyway. */
	if (unlink(path) != 0)
		msg_info("pid file %s: not removed: %s (its directory is not writable by the user "
			 "the milter runs as)",
			 path, strerror(errno));
}

/*
 * open_milter_socket - libmilter's listening socket. libmilter binds a
 * unix socket itself with the process's umask and no owner of ours: it
 * binds in the private directory of mx_sockfile_begin, with the umask that
 * gives socket_mode, and the socket is then given its owner and moved
 * into place.
 */
static void open_milter_socket(const char *spec, const struct mx_sockperm *perm,
			       struct mx_sockfile *sf)
{
	const char *path = mx_unix_path(spec);
	char err[512], *conn;
	mode_t old;
	int rc;

	if (path == NULL && spec[0] == '/')
		path = spec; /* libmilter takes a bare path as a unix socket */
	if (path == NULL) {
		if (smfi_setconn((char *)spec) != MI_SUCCESS)
			fatal(EX_CONFIG, "milter_socket %s: not a socket libmilter understands",
			      spec);
		if (smfi_opensocket(true) != MI_SUCCESS)
			fatal(EX_UNAVAILABLE, "cannot open milter socket %s", spec);
		return;
	}
	if (!mx_sockfile_begin(path, sf, err, sizeof(err)))
		fatal(EX_UNAVAILABLE, "milter_socket: %s", err);
	conn = mx_asprintf("unix:%s", sf->tmp);
	rc = smfi_setconn(conn);
	free(conn);
	if (rc != MI_SUCCESS) {
		mx_sockfile_abort(sf);
		fatal(EX_CONFIG, "milter_socket %s: not a socket libmilter understands", spec);
	}
	old = umask(mx_sockfile_umask(perm));
	rc = smfi_opensocket(false);
	umask(old);
	if (rc != MI_SUCCESS) {
		mx_sockfile_abort(sf);
		fatal(EX_UNAVAILABLE, "cannot open milter socket %s", spec);
	}
	if (!mx_sockfile_place(sf, perm, err, sizeof(err)))
		fatal(EX_UNAVAILABLE, "milter_socket: %s", err);
}

int main(int argc, char **argv)
{
	const char *socket_opt = NULL, *user = NULL, *pidfile = NULL;
	bool check_only = false, foreground = false;
	struct mx_errlist errs;
	struct milter_state *st;
	char *socket_spec, err[512];
	int ch, map_fd = -1, relay_fd = -1, milter_rc = MI_FAILURE;
	pthread_t th;
	sigset_t block;
	struct run_user ru;
	struct mx_sockperm perm;
	static struct mx_sockfile milter_file, map_file;
	struct stat pid_id;

	while ((ch = getopt(argc, argv, "c:nfp:u:P:")) != -1) {
		switch (ch) {
		case 'c': config_path = optarg; break;
		case 'n': check_only = true; break;
		case 'f': foreground = true; break;
		case 'p': socket_opt = optarg; break;
		case 'u': user = optarg; break;
		case 'P': pidfile = optarg; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	/*
	 * Signals. libmilter's own signal thread sigwait()s for SIGHUP, SIGTERM
	 * and SIGINT, and stops the milter on any of them. We want SIGHUP to
	 * reload instead, so libmilter runs in a thread of its own, and the main
	 * thread keeps SIGHUP unblocked with a handler. Linux may still hand a
	 * SIGHUP to libmilter's sigwait()ing thread: sigwait.c keeps SIGHUP out
	 * of what that thread waits for.
	 * SIGTERM and SIGINT stay libmilter's (a clean stop). The handler is in
	 * place before anything else: a reload sent while the milter starts
	 * (as soon as its socket appears, say) must not kill it with SIGHUP's
	 * default action.
	 */
	if (pipe2(reload_pipe, O_CLOEXEC) != 0)
		fatal(EX_OSERR, "pipe: %s", strerror(errno));
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hup;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	msg_init("mxport/milter", MSG_TO_SYSLOG | (foreground || check_only ? MSG_TO_STDERR : 0));
	msg_catch_crashes(); /* a crash says so (stderr, log_file) */

	mx_errlist_init(&errs);
	st = state_build(config_path, &errs);
	if (st == NULL) {
		for (size_t i = 0; i < errs.count; i++)
			msg_error("%s", errs.msgs[i]);
		fatal(EX_CONFIG, "%zu configuration error(s) in %s", errs.count, config_path);
	}
	state_install(st); /* reachable from here on, whatever exit comes */
	/* A log destination that cannot be opened is an error, in -n too. */
	if (!mx_config_logs(st->cfg, check_only, &errs)) {
		for (size_t i = 0; i < errs.count; i++)
			msg_error("%s", errs.msgs[i]);
		fatal(EX_CANTCREAT, "cannot log where %s says", config_path);
	}
	mx_errlist_free(&errs);
	if (check_only) {
		/* As root (systemd's ExecStartPre): also the users and groups a start needs. */
		if (getuid() == 0) {
			run_user(user, st->cfg, &ru);
			if (!mx_sockperm_resolve(st->cfg->socket_owner, st->cfg->socket_group,
						 st->cfg->socket_mode, ru.uid, ru.gid, &perm, err,
						 sizeof(err)))
				fatal(EX_CONFIG, "%s: %s", config_path, err);
		}
		printf("%s: configuration OK\n", config_path);
		return EX_OK;
	}
	socket_spec = mx_strdup(socket_opt ? socket_opt : st->cfg->milter_socket);

	/*
	 * Sockets first, as root if started so: /run/mxport may not be writable
	 * later. They belong to the MTA's group (socket_group) and, unless
	 * socket_owner says otherwise, to the user the milter runs as.
	 */
	run_user(user, st->cfg, &ru);
	if (!mx_sockperm_resolve(st->cfg->socket_owner, st->cfg->socket_group, st->cfg->socket_mode,
				 ru.uid, ru.gid, &perm, err, sizeof(err)))
		fatal(EX_CONFIG, "%s: %s", config_path, err);
	if (smfi_register(mxport_milter_desc) != MI_SUCCESS)
		fatal(EX_SOFTWARE, "smfi_register failed");
	open_milter_socket(socket_spec, &perm, &milter_file);
	if (*st->cfg->socketmap_socket) {
		map_fd = mx_listen(st->cfg->socketmap_socket, &perm, &map_file, err, sizeof(err));
		if (map_fd < 0)
			fatal(EX_UNAVAILABLE, "socketmap_socket: %s", err);
	}
	if (*st->cfg->postlog_socket && *st->cfg->postlog_relay_socket) {
		relay_fd = logrelay_open(st->cfg->postlog_relay_socket, err, sizeof(err));
		if (relay_fd < 0)
			fatal(EX_UNAVAILABLE, "%s", err);
	}
	if (!foreground && daemon(0, 0) != 0)
		fatal(EX_OSERR, "daemon: %s", strerror(errno));
	if (pidfile)
		write_pidfile(pidfile, &pid_id);
	if (ru.drop)
		drop_privileges(&ru);
	milter_metrics_loaded(st->cfg, config_path, true); /* as the milter's user: its file */

	/*
	 * SIGTERM and SIGINT wait, blocked, for libmilter's signal thread.
	 * SIGHUP is never blocked here: a SIGHUP pending while every thread
	 * blocked it would go to libmilter's sigwait() once that starts, and
	 * stop the milter. The threads made here may run on_hup: it only writes
	 * to a pipe. libmilter blocks SIGHUP in its own threads itself.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	if (map_fd >= 0 &&
	    socketmap_start(map_fd, lookup_current, current_values, st->cfg->socketmap_max_clients,
			    st->cfg->socketmap_idle_timeout) != 0)
		fatal(EX_OSERR, "cannot start the socketmap thread");
	if (relay_fd >= 0 && logrelay_start(relay_fd) != 0)
		fatal(EX_OSERR, "cannot start the postlog relay thread");
	if (pthread_create(&th, NULL, milter_thread, &milter_rc) != 0)
		fatal(EX_OSERR, "cannot start the milter thread");
	msg_info("started: milter %s%s%s, configuration %s", socket_spec,
		 map_fd >= 0 ? ", socketmap " : "", map_fd >= 0 ? st->cfg->socketmap_socket : "",
		 config_path);

	for (;;) {
		char c;
		ssize_t n = read(reload_pipe[0], &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 1 && c == 'h') {
			reload_requested = 0;
			reload(socket_spec);
			continue;
		}
		break; /* the milter thread ended */
	}
	pthread_join(th, NULL);
	msg_info("stopped");
	mx_sockfile_remove(&milter_file);
	mx_sockfile_remove(&map_file);
	if (pidfile)
		remove_pidfile(pidfile, &pid_id);
	free(socket_spec);
	return milter_rc == MI_SUCCESS ? EX_OK : EX_SOFTWARE;
}
