/*
 * notify - the customer hears when their server is down. A route with a
 * contact (notify= on its routes file line, or notify_map) has an outage
 * while its deliveries fail at the server: the first such deferral opens
 * it (state_directory/notify/KEY), each one adds its queue id; the first
 * deferral at least notify_after after the opening sends one notice to the
 * contact, the first delivery that succeeds closes the outage and, when a
 * notice went out, sends a second one. The notices are handed to the MTA's
 * sendmail(1), so they are queued and retried like any mail, never sent by
 * this transport; and they are handed over by a process of their own, so
 * that a slow sendmail(1) never holds a delivery.
 *
 * An outage is the route's, never the recipient domain's: KEY is the
 * route's name (the routes-file line's domain, "_" for the leading dot of
 * a wildcard, or the domain an SRV route was found for), and the notice
 * names the route as the admin wrote it. A sender chooses the subdomains
 * under a wildcard: keyed by them, every one he named would have had its
 * own outage, state files and notice with his words in the subject. And
 * only a failure of the server opens or extends one (no connection, a
 * timeout, TLS, a 4xx to the greeting, EHLO, MAIL or DATA, or to every
 * RCPT): a 4xx to RCPT with an address status (4.1.X, as Postfix answers
 * for a subdomain it cannot find) is the server's word on the recipient the
 * sender chose, never the server's failure.
 *
 * The state is one small file per route, replaced by rename under an
 * exclusive flock on KEY.lock, so that any number of transport processes
 * at once see one outage and send one notice; both go when the outage
 * closes, and at most NOTIFY_OUTAGES_MAX are open at once. A failure here
 * is logged and never changes what happens to the mail itself.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "msg.h"
#include "notify.h"
#include "shared_state.h"
#include "util.h"

#define NOTIFY_IDS_MAX	   10000 /* queue ids kept per outage; more are only counted */
#define NOTIFY_STATE_MAX   (2 * 1024 * 1024)
#define SENDMAIL_WAIT_MS   60000
#define NOTIFY_OUTAGES_MAX 1000	 /* outages open at once (state files); more are not tracked */
#define SHARED_SINCE_TTL   86400 /* an outage's start, shared: kept a day past a failure */
#define SHARED_NOTICE_TTL  (7 * 86400) /* who sent a notice of it: kept a week */

struct waiting {
	long long first; /* when this message was first seen deferred */
	char id[64];
};

/* outage - what the state file holds */
struct outage {
	long long since, last; /* first and latest deferral */
	bool notified;	       /* the notice went out */
	char text[1200];       /* the latest error, as logged */
	char origin[600];      /* the route that failed */
	size_t nids;
	struct waiting *ids;
	unsigned long more; /* deferred messages beyond NOTIFY_IDS_MAX */
};

/* clean_id - a queue id fit for a state file line */
static void clean_id(const char *in, char *out, size_t outlen)
{
	size_t i = 0;

	for (; in && in[i] && i + 1 < outlen; i++) {
		char c = in[i];
		out[i] = ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')
				 ? c
				 : '_';
	}
	out[i] = '\0';
	if (i == 0)
		mx_strlcpy(out, "NOQUEUE", outlen);
}

/* state_parse - the text of a state file; false when it is not one */
static bool state_parse(char *text, struct outage *o)
{
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		char *val = sp ? sp + 1 : line + strlen(line);

		if (sp)
			*sp = '\0';
		if (strcmp(line, "since") == 0)
			o->since = strtoll(val, NULL, 10);
		else if (strcmp(line, "last") == 0)
			o->last = strtoll(val, NULL, 10);
		else if (strcmp(line, "notified") == 0)
			o->notified = strcmp(val, "1") == 0;
		else if (strcmp(line, "text") == 0)
			mx_strlcpy(o->text, val, sizeof(o->text));
		else if (strcmp(line, "route") == 0)
			mx_strlcpy(o->origin, val, sizeof(o->origin));
		else if (strcmp(line, "more") == 0)
			o->more = strtoul(val, NULL, 10);
		else if (strcmp(line, "id") == 0 && o->nids < NOTIFY_IDS_MAX) {
			struct waiting w;
			char *end;

			w.first = strtoll(val, &end, 10);
			if (*end != ' ')
				return false;
			clean_id(end + 1, w.id, sizeof(w.id));
			o->ids = mx_realloc(o->ids, (o->nids + 1) * sizeof(w));
			o->ids[o->nids++] = w;
		}
	}
	return o->since > 0;
}

/* state_read - the outage in DOMAIN; 1 read, 0 none, -1 unreadable (err set) */
static int state_read(int dirfd, const char *domain, struct outage *o, char *err, size_t errlen)
{
	int fd = openat(dirfd, domain, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	char *text;
	ssize_t got;
	int rc = 1;

	memset(o, 0, sizeof(*o));
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", domain, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_size > NOTIFY_STATE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of this user of at most %d bytes",
			 domain, NOTIFY_STATE_MAX);
		close(fd);
		return -1;
	}
	text = mx_malloc((size_t)st.st_size + 1);
	got = read(fd, text, (size_t)st.st_size);
	close(fd);
	if (got < 0 || memchr(text, '\0', (size_t)got)) {
		snprintf(err, errlen, "%s: unreadable", domain);
		rc = -1;
	} else {
		text[got] = '\0';
		if (!state_parse(text, o)) {
			/* Garbage (not written by us): start the outage again. */
			free(o->ids);
			memset(o, 0, sizeof(*o));
			rc = 0;
		}
	}
	free(text);
	return rc;
}

/* state_write - DOMAIN replaced by a complete new file (DOMAIN.new renamed) */
static bool state_write(int dirfd, const char *domain, const struct outage *o, char *err,
			size_t errlen)
{
	char tmp[MX_DOMAIN_MAX + 8];
	struct mx_buf b = {0};
	bool ok;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.new", domain);
	mx_buf_printf(&b, "since %lld\nlast %lld\nnotified %d\nroute %s\ntext %s\nmore %lu\n",
		      o->since, o->last, o->notified ? 1 : 0, o->origin, o->text, o->more);
	for (size_t i = 0; i < o->nids; i++)
		mx_buf_printf(&b, "id %lld %s\n", o->ids[i].first, o->ids[i].id);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	ok = fd >= 0 && write(fd, b.data, b.len) == (ssize_t)b.len && fsync(fd) == 0;
	if (!ok)
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
	if (fd >= 0 && close(fd) != 0 && ok) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		ok = false;
	}
	if (ok && renameat(dirfd, tmp, dirfd, domain) != 0) {
		snprintf(err, errlen, "rename %s: %s", tmp, strerror(errno));
		ok = false;
	}
	mx_buf_free(&b);
	return ok;
}

/*
 * state_dir - state_directory/notify, made when missing; it must be a
 * directory (not a symbolic link) of this user that others cannot write.
 */
static int state_dir(const struct mx_config *cfg, char *err, size_t errlen)
{
	char path[4096];
	struct stat st;
	int fd;

	if (*cfg->state_directory != '/') {
		snprintf(err, errlen, "state_directory '%s' is not an absolute path",
			 cfg->state_directory);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/notify", cfg->state_directory);
	(void)mkdir(cfg->state_directory, 0755);
	(void)mkdir(path, 0700);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
		snprintf(err, errlen,
			 "%s: must belong to this user (uid %ld) and not be writable "
			 "by others",
			 path, (long)geteuid());
		close(fd);
		return -1;
	}
	return fd;
}

/* when - a date for the notice (RFC 5322 form) */
static void when(long long t, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;

	localtime_r(&tt, &tm);
	strftime(out, outlen, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* how_long - "3d 4h 5m 6s", leaving out what is zero in front */
static void how_long(long long secs, char *out, size_t outlen)
{
	long long d = secs / 86400, h = secs / 3600 % 24, m = secs / 60 % 60, s = secs % 60;

	if (d)
		snprintf(out, outlen, "%lldd %lldh %lldm", d, h, m);
	else if (h)
		snprintf(out, outlen, "%lldh %lldm", h, m);
	else if (m)
		snprintf(out, outlen, "%lldm %llds", m, s);
	else
		snprintf(out, outlen, "%llds", s);
}

/* first_line - what a program said on stderr, one printable line */
static void first_line(char *said)
{
	said[strcspn(said, "\r\n")] = '\0';
	mx_printable(said);
}

/* drain - what is there to read on fd (non-blocking), the start of it kept in said */
static void drain(int fd, char *said, size_t *saidlen, size_t cap)
{
	char buf[512];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		size_t take = (size_t)n < cap - 1 - *saidlen ? (size_t)n : cap - 1 - *saidlen;

		memcpy(said + *saidlen, buf, take);
		*saidlen += take;
		said[*saidlen] = '\0';
	}
}

/*
 * run_sendmail - hand msg to sendmail_path -i -f SENDER -- CONTACT. True when
 * it exited 0 (the MTA has queued it). Its standard output goes nowhere
 * (the transport's is its answer to pipe(8) or the LMTP client); the first
 * line of its standard error goes into err when it fails.
 */
static bool run_sendmail(const struct mx_config *cfg, const char *contact, const char *body,
			 size_t len, char *err, size_t errlen)
{
	struct sigaction dfl, old;
	int pfd[2], efd[2], status = 0;
	char said[400] = "";
	size_t saidlen = 0;
	long long deadline;
	bool ok = false;
	pid_t pid, w;

	if (*cfg->sendmail_path != '/') {
		snprintf(err, errlen, "sendmail_path '%s' is not an absolute path",
			 cfg->sendmail_path);
		return false;
	}
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return false;
	}
	if (pipe2(efd, O_CLOEXEC | O_NONBLOCK) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return false;
	}
	/* The LMTP daemon reaps children on SIGCHLD: this one is ours to wait for. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &dfl, &old);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		long maxfd = sysconf(_SC_OPEN_MAX);

		if (null < 0 || dup2(pfd[0], 0) < 0 || dup2(null, 1) < 0 || dup2(efd[1], 2) < 0)
			_exit(75);
		fcntl(2, F_SETFL, 0); /* blocking for the child */
		for (long fd = 3; fd < (maxfd > 0 && maxfd < 65536 ? maxfd : 65536); fd++)
			close((int)fd);
		signal(SIGPIPE, SIG_DFL);
		execl(cfg->sendmail_path, cfg->sendmail_path, "-i", "-f",
		      *cfg->notify_sender ? cfg->notify_sender : "<>", "--", contact, (char *)NULL);
		dprintf(2, "cannot run %s: %s\n", cfg->sendmail_path, strerror(errno));
		_exit(75);
	}
	close(pfd[0]);
	close(efd[1]);
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(pfd[1]);
		close(efd[0]);
		sigaction(SIGCHLD, &old, NULL);
		return false;
	}
	for (size_t off = 0; off < len;) {
		ssize_t n = write(pfd[1], body + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(pfd[1]);
	deadline = mx_now_ms() + SENDMAIL_WAIT_MS;
	for (;;) {
		drain(efd[0], said, &saidlen, sizeof(said));
		if ((w = waitpid(pid, &status, WNOHANG)) != 0 || mx_now_ms() >= deadline)
			break;
		usleep(10000);
	}
	drain(efd[0], said, &saidlen, sizeof(said));
	close(efd[0]);
	first_line(said);
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		snprintf(err, errlen, "%s: no answer within %d s: killed", cfg->sendmail_path,
			 SENDMAIL_WAIT_MS / 1000);
	} else if (w < 0) {
		snprintf(err, errlen, "%s: waitpid: %s", cfg->sendmail_path, strerror(errno));
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		ok = true;
	} else if (WIFEXITED(status)) {
		snprintf(err, errlen, "%s exited with status %d%s%s", cfg->sendmail_path,
			 WEXITSTATUS(status), *said ? ": " : "", said);
	} else {
		snprintf(err, errlen, "%s killed by signal %d", cfg->sendmail_path,
			 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	}
	sigaction(SIGCHLD, &old, NULL);
	return ok;
}

/* headers - the notice's header, up to the empty line */
static void headers(struct mx_buf *b, const struct transport *t, const char *contact,
		    const char *subject, long long now)
{
	char date[64];

	when(now, date, sizeof(date));
	if (*t->cfg->notify_sender)
		mx_buf_printf(b, "From: %s\n", t->cfg->notify_sender);
	else
		mx_buf_printf(b, "From: Mail relay %s <MAILER-DAEMON@%s>\n", t->helo_name,
			      t->helo_name);
	mx_buf_printf(
		b,
		"To: %s\nSubject: %s\nDate: %s\nMessage-ID: <mxport-notify.%lld.%ld@%s>\n"
		"Auto-Submitted: auto-generated\nMIME-Version: 1.0\n"
		"Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n",
		contact, subject, date, now, (long)getpid(), t->helo_name);
}

/* oldest - the waiting message first seen earliest */
static const struct waiting *oldest(const struct outage *o)
{
	const struct waiting *w = NULL;

	for (size_t i = 0; i < o->nids; i++)
		if (w == NULL || o->ids[i].first < w->first)
			w = &o->ids[i];
	return w;
}

/*
 * put_wrapped - "label text" with text folded at spaces into lines of at
 * most 78 characters, the rest indented under it: an error text of up to
 * 1200 characters must not make a line longer than RFC 5322's 998.
 */
static void put_wrapped(struct mx_buf *b, const char *label, const char *text)
{
	size_t indent = strlen(label), width = indent < 60 ? 78 - indent : 18;

	mx_buf_printf(b, "%s", label);
	while (*text) {
		size_t len = strlen(text), cut = len;

		if (len > width) {
			cut = width;
			while (cut > 0 && text[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = width; /* one long word: cut it */
		}
		mx_buf_append(b, text, cut);
		text += cut;
		while (*text == ' ')
			text++;
		if (*text)
			mx_buf_printf(b, "\n%*s", (int)indent, "");
	}
	mx_buf_printf(b, "\n");
}

/* put_para - formatted text, each of its lines folded as put_wrapped does */
static void put_para(struct mx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_para(struct mx_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *text, *line, *next;

	va_start(ap, fmt);
	text = mx_vasprintf(fmt, ap);
	va_end(ap);
	for (line = text; *line; line = next) {
		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = '\0';
		put_wrapped(b, "", line);
	}
	free(text);
}

/* flush_command - the command that delivers a domain's waiting mail at once, on this MTA */
static void flush_command(const struct mx_config *cfg, const char *domain, char *out, size_t outlen)
{
	switch (cfg->mta) {
	case MX_MTA_EXIM: snprintf(out, outlen, "exim -R %s", domain); break;
	case MX_MTA_SENDMAIL: snprintf(out, outlen, "sendmail -qR@%s", domain); break;
	default: snprintf(out, outlen, "postqueue -s %s", domain); break;
	}
}

/* send_down - the notice that deliveries have failed for notify_after */
static void send_down(const struct transport *t, const char *domain, const char *contact,
		      const struct outage *o, long long now, struct mx_buf *out)
{
	const struct waiting *w = oldest(o);
	char since[64], first[64], dur[64], subject[400], flush[MX_DOMAIN_MAX + 32];
	struct mx_buf b = {0};

	when(o->since, since, sizeof(since));
	how_long(now - o->since, dur, sizeof(dur));
	flush_command(t->cfg, domain + (domain[0] == '.'), flush, sizeof(flush));
	snprintf(subject, sizeof(subject),
		 "Mail for %s is waiting: your server has not taken it for %s", domain, dur);
	headers(&b, t, contact, subject, now);
	put_para(&b,
		 "This is the mail relay %s, which forwards mail for %s to your server.\n\n"
		 "Since %s (%s ago) your server has not accepted the mail for %s.\n"
		 "The relay keeps the mail in its queue and tries again; nothing is lost\n"
		 "until the relay's queue lifetime runs out.\n\n",
		 t->helo_name, domain, since, dur, domain);
	put_para(&b, "Messages waiting:  %zu%s (seen deferred by this relay since then)\n",
		 o->nids + o->more, o->more ? " or more" : "");
	if (w) {
		char line[200];

		when(w->first, first, sizeof(first));
		snprintf(line, sizeof(line), "queue id %s, first deferred %s", w->id, first);
		put_wrapped(&b, "Oldest:            ", line);
	}
	put_wrapped(&b, "Route:             ", o->origin);
	put_wrapped(&b, "Last error:        ", o->text);
	put_para(&b,
		 "\nWhen your server is back, the relay delivers at its next retry. To have the\n"
		 "mail delivered at once, send the relay the SMTP command\n"
		 "    ETRN %s\n"
		 "(where the relay permits ETRN), or ask its administrator to run\n"
		 "    %s\n\n"
		 "You will get one more message when deliveries succeed again.\n",
		 domain + (domain[0] == '.'), flush);
	*out = b;
}

/* send_up - the notice that deliveries succeed again */
static void send_up(const struct transport *t, const char *domain, const char *contact,
		    const struct outage *o, long long now, struct mx_buf *out)
{
	char since[64], back[64], dur[64], subject[400], flush[MX_DOMAIN_MAX + 32];
	struct mx_buf b = {0};

	when(o->since, since, sizeof(since));
	when(now, back, sizeof(back));
	how_long(now - o->since, dur, sizeof(dur));
	flush_command(t->cfg, domain + (domain[0] == '.'), flush, sizeof(flush));
	snprintf(subject, sizeof(subject), "Mail for %s is delivered again", domain);
	headers(&b, t, contact, subject, now);
	put_para(&b,
		 "This is the mail relay %s, which forwards mail for %s to your server.\n\n"
		 "Your server accepts mail for %s again since %s.\n"
		 "Deliveries had failed since %s (%s).\n"
		 "Messages that waited: %zu%s; the relay delivers them at their next retry\n"
		 "(ETRN %s, or %s on the relay, sends them at once).\n\n",
		 t->helo_name, domain, domain, back, since, dur, o->nids + o->more,
		 o->more ? " or more" : "", domain + (domain[0] == '.'), flush);
	put_wrapped(&b, "Last error before the recovery: ", o->text);
	*out = b;
}

/* lock_take - the exclusive lock of KEY.lock, on the file that is there (not one the outage's close
 * removed) */
static int lock_take(int dirfd, const char *key, char *err, size_t errlen)
{
	char lock[MX_DOMAIN_MAX + 8];

	snprintf(lock, sizeof(lock), "%s.lock", key);
	for (int tries = 0; tries < 20; tries++) {
		struct stat held, there;
		int fd = openat(dirfd, lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

		if (fd < 0 || flock(fd, LOCK_EX) != 0) {
			snprintf(err, errlen, "%s: %s", lock, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		if (fstat(fd, &held) == 0 &&
		    fstatat(dirfd, lock, &there, AT_SYMLINK_NOFOLLOW) == 0 &&
		    held.st_ino == there.st_ino && held.st_dev == there.st_dev)
			return fd;
		close(fd); /* removed while we waited for it: the next one is the lock */
	}
	snprintf(err, errlen, "%s: removed again and again while waited for", lock);
	return -1;
}

/* outages_open - how many outages (state files) are open now */
static size_t outages_open(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	size_t n = 0;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		const char *dot = strrchr(e->d_name, '.');

		if (e->d_name[0] != '.' &&
		    !(dot && (strcmp(dot, ".lock") == 0 || strcmp(dot, ".new") == 0)))
			n++;
	}
	closedir(d);
	return n;
}

/*
 * Shared state (shared_state in mxport.conf): several relays agree on
 * one outage through its start, mxport:outage:KEY:since, added by the
 * first relay that sees the route fail (and again by any relay that has
 * it open, should memcached have lost it), read by the others, which take
 * it as theirs. The notices are claimed by an add of
 * mxport:outage:KEY:down:SINCE or :up:SINCE: only the relay whose add
 * stored it sends. memcached not answering: each relay's own state
 * decides, as without it (at worst a notice from each relay).
 */

/* shared_key - the memcached key of KEY's outage: since, or a notice of the outage since */
static void shared_key(char *out, size_t outlen, const char *key, const char *what, long long since)
{
	if (since)
		snprintf(out, outlen, "mxport:outage:%s:%s:%lld", key, what, since);
	else
		snprintf(out, outlen, "mxport:outage:%s:%s", key, what);
}

/* shared_setup - shared_state as configured, failures remembered in state_directory */
static void shared_setup(const struct mx_config *cfg)
{
	char down[4096];

	snprintf(down, sizeof(down), "%s/shared_state.down", cfg->state_directory);
	shared_state_setup(cfg->shared_state, cfg->shared_state_timeout, cfg->shared_state_retry,
			   down);
}

/*
 * shared_open - the fleet's start of the outage, taken as this relay's.
 * An outage of this relay's that another relay saw close (its :closed:
 * mark) is over: this failure starts a new one, as it would have here.
 */
static void shared_open(const char *key, struct outage *o, long long now)
{
	char k[MX_DOMAIN_MAX + 64], v[32];
	long long since;

	if (o->since < now) {
		shared_key(k, sizeof(k), key, "closed", o->since);
		if (shared_state_get(k, v, sizeof(v)) == SS_OK) {
			free(o->ids);
			o->ids = NULL;
			o->nids = 0;
			o->more = 0;
			o->since = now;
			o->notified = false;
		}
	}
	shared_key(k, sizeof(k), key, "since", 0);
	snprintf(v, sizeof(v), "%lld", o->since);
	if (shared_state_add(k, v, SHARED_SINCE_TTL) != SS_EXISTS ||
	    shared_state_get(k, v, sizeof(v)) != SS_OK)
		return;
	(void)shared_state_touch(k, SHARED_SINCE_TTL);
	since = strtoll(v, NULL, 10);
	if (since <= 0 || since == o->since || since > (long long)time(NULL))
		return; /* not a start of ours (one to come would hold the notice back) */
	/* A later start: a new outage since ours (we missed a recovery); an earlier one: ours. */
	if (since > o->since)
		o->notified = false;
	o->since = since;
}

/* shared_claim - SS_EXISTS: another relay sent the notice of the outage since; else: send it */
static enum shared_state_result shared_claim(const struct transport *t, const char *key,
					     const char *what, long long since)
{
	char k[MX_DOMAIN_MAX + 64];

	shared_key(k, sizeof(k), key, what, since);
	return shared_state_add(k, t->helo_name, SHARED_NOTICE_TTL);
}

/* unnotify - the notice of the outage opened at since was not queued: the next deferral tries again
 */
static void unnotify(const struct mx_config *cfg, const char *key, long long since)
{
	char err[512];
	struct outage o;
	int dirfd = state_dir(cfg, err, sizeof(err)), lockfd;

	if (dirfd < 0)
		return;
	if ((lockfd = lock_take(dirfd, key, err, sizeof(err))) >= 0) {
		if (state_read(dirfd, key, &o, err, sizeof(err)) == 1 && o.since == since &&
		    o.notified) {
			char k[MX_DOMAIN_MAX + 64];

			o.notified = false;
			state_write(dirfd, key, &o, err, sizeof(err));
			shared_key(k, sizeof(k), key, "down", since);
			/* the next deferral, on any relay, tries again */
			(void)shared_state_delete(k);
		}
		free(o.ids);
		close(lockfd);
	}
	close(dirfd);
}

/*
 * dispatch - hand the notice to sendmail(1) from a process of its own
 * (detached: the delivery goes on at once; sendmail may take up to
 * SENDMAIL_WAIT_MS). It keeps only the log's descriptors of what it
 * inherited (never the LMTP client's socket or a customer's). When the
 * outage notice is not queued, its outage is marked not notified again.
 * False when no process could be made.
 */
static bool dispatch(const struct transport *t, const char *key, const char *shown,
		     const char *contact, const struct mx_buf *b, long long since, bool down)
{
	struct sigaction dfl, old;
	int status;
	pid_t pid;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &dfl, &old); /* the LMTP daemon reaps on SIGCHLD: this child is ours */
	pid = fork();
	if (pid == 0) {
		long maxfd = sysconf(_SC_OPEN_MAX);
		char err[512];

		if (fork() != 0)
			_exit(0); /* the grandchild goes on, init's child */
		setsid();
		closelog(); /* its socket is among those closed; syslog() opens a new one */
		for (long fd = 3; fd < (maxfd > 0 && maxfd < 65536 ? maxfd : 65536); fd++)
			if (!msg_uses_fd((int)fd))
				close((int)fd);
		if (!run_sendmail(t->cfg, contact, b->data, b->len, err, sizeof(err))) {
			msg_warn("%s: notify: %s: %snotice to <%s> not queued%s: %s", t->queue_id,
				 shown, down ? "" : "recovery ", contact,
				 down ? " (tried again at the next deferral)" : "", err);
			if (down)
				unnotify(t->cfg, key, since);
		}
		_exit(0);
	}
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	sigaction(SIGCHLD, &old, NULL);
	if (pid < 0)
		msg_warn("%s: notify: %s: fork: %s", t->queue_id, shown, strerror(errno));
	return pid > 0;
}

/* deferred - the route's server failed: open or extend the outage, notice once */
static void deferred(const struct transport *t, int dirfd, const char *key, const char *shown,
		     const struct route *route, const struct rcpt_outcome *why)
{
	long long now = (long long)time(NULL); /* wall clock: it is kept on disk */
	struct outage o;
	char id[64], err[512];
	bool have = false;
	int rc = state_read(dirfd, key, &o, err, sizeof(err));

	if (rc < 0) {
		msg_warn("%s: notify: %s: not tracking the outage", t->queue_id, err);
		return;
	}
	if (rc == 0 && outages_open(dirfd) >= NOTIFY_OUTAGES_MAX) {
		msg_warn("%s: notify: %s: %d outages open: this one is not tracked", t->queue_id,
			 shown, NOTIFY_OUTAGES_MAX);
		free(o.ids);
		return;
	}
	if (o.since == 0)
		o.since = now;
	shared_open(key, &o, now);
	o.last = now;
	mx_strlcpy(o.text, why->text, sizeof(o.text));
	mx_printable(o.text);
	mx_strlcpy(o.origin, route->origin[0] ? route->origin : "DNS", sizeof(o.origin));
	mx_printable(o.origin);
	clean_id(t->queue_id, id, sizeof(id));
	for (size_t i = 0; i < o.nids && !have; i++)
		have = strcmp(o.ids[i].id, id) == 0;
	if (!have && o.nids < NOTIFY_IDS_MAX) {
		o.ids = mx_realloc(o.ids, (o.nids + 1) * sizeof(*o.ids));
		o.ids[o.nids].first = now;
		mx_strlcpy(o.ids[o.nids++].id, id, sizeof(o.ids[0].id));
	} else if (!have) {
		o.more++;
	}
	if (!o.notified && now - o.since >= (long long)t->cfg->notify_after &&
	    shared_claim(t, key, "down", o.since) == SS_EXISTS) {
		/* Another relay sent it: this one knows there was one (for the recovery). */
		o.notified = true;
		msg_info("%s: notify: %s: deliveries failing since %lld s: notice sent by another "
			 "relay",
			 t->queue_id, shown, now - o.since);
	}
	if (!o.notified && now - o.since >= (long long)t->cfg->notify_after) {
		struct mx_buf b = {0};

		send_down(t, shown, route->notify, &o, now, &b);
		/* Marked first: the process that hands it over unmarks it if it fails. */
		o.notified = true;
		if (!state_write(dirfd, key, &o, err, sizeof(err)))
			msg_warn("%s: notify: %s", t->queue_id, err);
		else if (dispatch(t, key, shown, route->notify, &b, o.since, true))
			msg_info("%s: notify: %s: deliveries failing since %lld s: notice to <%s>, "
				 "%zu message(s) waiting",
				 t->queue_id, shown, now - o.since, route->notify, o.nids + o.more);
		else
			unnotify(t->cfg, key, o.since);
		mx_buf_free(&b);
		free(o.ids);
		return;
	}
	if (!state_write(dirfd, key, &o, err, sizeof(err)))
		msg_warn("%s: notify: %s", t->queue_id, err);
	free(o.ids);
}

/* delivered - the route's server takes mail again: close the outage, and say so if told of it */
static void delivered(const struct transport *t, int dirfd, const char *key, const char *shown,
		      const struct route *route)
{
	long long now = (long long)time(NULL); /* wall clock: it is kept on disk */
	struct outage o;
	char err[512], lock[MX_DOMAIN_MAX + 8];
	int rc = state_read(dirfd, key, &o, err, sizeof(err));

	if (rc < 0) {
		msg_warn("%s: notify: %s", t->queue_id, err);
		return;
	}
	if (rc == 0)
		return;
	if (!o.notified) { /* another relay may have sent the notice */
		char k[MX_DOMAIN_MAX + 64], v[8];

		shared_key(k, sizeof(k), key, "down", o.since);
		o.notified = shared_state_get(k, v, sizeof(v)) == SS_OK;
	}
	if (o.notified && shared_claim(t, key, "up", o.since) == SS_EXISTS) {
		msg_info("%s: notify: %s: deliveries succeed again after %lld s: notice sent by "
			 "another relay",
			 t->queue_id, shown, now - o.since);
	} else if (o.notified) {
		struct mx_buf b = {0};

		send_up(t, shown, route->notify, &o, now, &b);
		if (dispatch(t, key, shown, route->notify, &b, o.since, false))
			msg_info("%s: notify: %s: deliveries succeed again after %lld s: notice to "
				 "<%s>",
				 t->queue_id, shown, now - o.since, route->notify);
		mx_buf_free(&b);
	}
	if (unlinkat(dirfd, key, 0) != 0 && errno != ENOENT)
		msg_warn("%s: notify: %s: %s", t->queue_id, key, strerror(errno));
	{ /* the fleet's outage is over: the next failure starts a new one */
		char k[MX_DOMAIN_MAX + 64], v[32];

		shared_key(k, sizeof(k), key, "closed", o.since);
		(void)shared_state_set(k, "1", SHARED_NOTICE_TTL);
		shared_key(k, sizeof(k), key, "since", 0);
		if (shared_state_get(k, v, sizeof(v)) == SS_OK && strtoll(v, NULL, 10) == o.since)
			(void)shared_state_delete(k);
	}
	/* Held by us: who waits for it sees it gone and takes the next one (lock_take). */
	snprintf(lock, sizeof(lock), "%s.lock", key);
	(void)unlinkat(dirfd, lock, 0);
	free(o.ids);
}

/*
 * server_failed - a deferral that says something of the server, not of a
 * recipient: a failure before RCPT or after it; or 4xx replies to every
 * RCPT, none of them with an address status (4.1.X: "450 4.1.2 domain not
 * found" for a subdomain the sender made up). NULL when there is none.
 */
static const struct rcpt_outcome *server_failed(const struct rcpt_outcome *r, size_t n)
{
	const struct rcpt_outcome *first = NULL;
	bool every = true;

	for (size_t i = 0; i < n; i++) {
		if (r[i].state != RCPT_DEFER) {
			every = false;
			continue;
		}
		if (!r[i].rcpt_reply)
			return &r[i];
		if (first == NULL)
			first = &r[i];
		if (strncmp(r[i].dsn, "4.1.", 4) == 0)
			every = false;
	}
	return every ? first : NULL;
}

/*
 * notify_outcome - the one hook, after a domain's recipients are settled.
 * Any recipient sent: the route's server takes mail. None sent and the
 * server failed: its deliveries fail. Only bounces, or only deferrals of
 * recipients: the server answered, the outage (if any) stays as it is.
 * Routes without a contact, and domains delivered by MX (not forwarded),
 * are not tracked.
 */
void notify_outcome(const struct transport *t, const char *domain, const struct route *route,
		    bool by_mx, const struct rcpt_outcome *r, size_t n)
{
	const struct rcpt_outcome *why = NULL;
	const char *shown = route->name[0] ? route->name : domain;
	bool sent = false;
	char key[MX_DOMAIN_MAX + 2], err[512];
	struct stat st;
	int dirfd, lockfd;

	/*
	 * Only a route that was found and tried says something about the
	 * customer's server: a route lookup that failed for now (the relay's
	 * DNS) neither opens nor closes an outage.
	 */
	if (by_mx || route->notify[0] == '\0' || route->status != ROUTE_OK)
		return;
	/* The key names a file: "_" for a wildcard's dot, then a-z 0-9 . - only (checked all the
	 * same). */
	snprintf(key, sizeof(key), "%s%s", shown[0] == '.' ? "_" : "", shown + (shown[0] == '.'));
	if (key[0] == '.' || key[0] == '\0' ||
	    strspn(key + (key[0] == '_'), "abcdefghijklmnopqrstuvwxyz0123456789.-") !=
		    strlen(key + (key[0] == '_')))
		return;
	for (size_t i = 0; i < n; i++)
		if (r[i].state == RCPT_SENT)
			sent = true;
	if (!sent && (why = server_failed(r, n)) == NULL)
		return;
	if ((dirfd = state_dir(t->cfg, err, sizeof(err))) < 0) {
		msg_warn("%s: notify: %s", t->queue_id, err);
		return;
	}
	shared_setup(t->cfg);
	/* The common case, a delivery with no outage open, takes no lock. */
	if (sent && fstatat(dirfd, key, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) {
		close(dirfd);
		return;
	}
	lockfd = lock_take(dirfd, key, err, sizeof(err));
	if (lockfd < 0)
		msg_warn("%s: notify: %s", t->queue_id, err);
	else if (sent)
		delivered(t, dirfd, key, shown, route);
	else
		deferred(t, dirfd, key, shown, route, why);
	if (lockfd >= 0)
		close(lockfd); /* and the lock with it */
	close(dirfd);
}
