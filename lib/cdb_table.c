/*
 * cdb_table - a text table of mxport (the routes file, the secrets file,
 * the notify map) as a constant database (tinycdb), as Postfix's postmap
 * builds cdb: tables. mxport-route --index reads the text once, line by
 * line; the table's own parser checks every line (the same errors, with
 * file and line, as when the text is loaded) and adds a record for each
 * entry; the index FILE.cdb is written beside the text through a temporary
 * file renamed into place. A text with any error writes nothing, and the
 * index in place stays. Readers map the index and look one key up in it (a
 * few pages touched, whatever the number of entries), then parse that one
 * line with the table's parser: the text stays the source of truth and its
 * only syntax.
 *
 * Records: a key the table chooses (a domain, a target), the value
 * "LINE<TAB>TEXT": the line number and the line without its newline (the
 * table may strip more, as the routes file strips its comments). One more
 * record, under a key that no entry can have (it starts with a NUL byte),
 * says what the index was made from: the text's device, inode, size and
 * modification time in nanoseconds, and the number of records. A reader
 * whose text no longer matches calls the index stale and the caller reads
 * the text instead.
 *
 * A private table (the secrets file): the text must not be open to others
 * (the build refuses it as the transport does), its index gets the text's
 * mode and owner, with the group's bits dropped when it could not get the
 * text's group, and a reader refuses an index that others may read.
 *
 * The index is a file an admin may damage: tinycdb checks every offset
 * against the mapping, the table of contents is checked against the file's
 * size, and a record that does not parse makes the lookup fail (-1), never
 * guess.
 *
 * Compromise: a reader maps the file; an index rewritten in place (not
 * through rename, as --index does) while mapped may raise SIGBUS, as
 * Postfix's cdb: and lmdb: tables do. The pages say so.
 */
#include "config.h"

#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cdb_table.h"
#include "msg.h"
#include "util.h"

#define VALUE_MAX  (1024 * 1024) /* one line: more is not a line this file wrote */
#define ERRORS_MAX 1000		 /* listed; the rest are counted */
#define META_MAX   200

struct mx_cdb_table {
	int fd;
	struct cdb cdb; /* copied per lookup: cdb_find writes the found position into it */
	size_t count;
};

/* mx_cdb_path - where the index of a text file is: beside it, ".cdb" added */
void mx_cdb_path(const char *src, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s", src, MX_CDB_SUFFIX);
}

/* meta_key - the key of the index's own record: a NUL byte, then "mxport-NAME-index" */
static size_t meta_key(const struct mx_cdb_kind *k, char *out, size_t outlen)
{
	int n = snprintf(out + 1, outlen - 1, "mxport-%s-index", k->name);

	out[0] = '\0';
	return (size_t)n + 1;
}

/* source_id - the identity that the index records and readers compare */
static void source_id(const struct stat *st, char *out, size_t outlen)
{
	snprintf(out, outlen, "%" PRIuMAX " %" PRIuMAX " %" PRIdMAX " %" PRIdMAX ".%09ld",
		 (uintmax_t)st->st_dev, (uintmax_t)st->st_ino, (intmax_t)st->st_size,
		 (intmax_t)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec);
}

/*
 * A set of the keys seen so far, for "already listed on line N": 64-bit
 * hashes and the line of each, open addressing. 12 bytes a slot, half
 * full at most. Two keys with one 64-bit hash are told apart by tinycdb's
 * own cdb_make_exists (which compares the keys); a third key with that
 * hash would be reported against the first one's line (compromise: odds
 * about 1 in 10^7 for a million entries, and only the line number is
 * wrong).
 */
struct keyset {
	uint64_t *hash; /* 0: free */
	uint32_t *line;
	size_t cap, count;
};

/* key_hash - FNV-1a, never 0 */
static uint64_t key_hash(const char *key, size_t len)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ULL;
	}
	return h ? h : 1;
}

/* keyset_slot - the slot of h: its own, or the free one where it goes */
static size_t keyset_slot(const struct keyset *ks, uint64_t h)
{
	size_t i = (size_t)h & (ks->cap - 1);

	while (ks->hash[i] && ks->hash[i] != h)
		i = (i + 1) & (ks->cap - 1);
	return i;
}

/* keyset_grow - twice the slots, every hash placed again */
static void keyset_grow(struct keyset *ks)
{
	struct keyset bigger = {.cap = ks->cap ? ks->cap * 2 : 1024, .count = ks->count};

	bigger.hash = mx_calloc(bigger.cap, sizeof(*bigger.hash));
	bigger.line = mx_calloc(bigger.cap, sizeof(*bigger.line));
	for (size_t i = 0; i < ks->cap; i++) {
		if (ks->hash[i]) {
			size_t j = keyset_slot(&bigger, ks->hash[i]);

			bigger.hash[j] = ks->hash[i];
			bigger.line[j] = ks->line[i];
		}
	}
	free(ks->hash);
	free(ks->line);
	*ks = bigger;
}

/* keyset_add - remember h at line; the line of an earlier key with h, or 0 */
static uint32_t keyset_add(struct keyset *ks, uint64_t h, uint32_t line)
{
	size_t i;

	if ((ks->count + 1) * 2 > ks->cap)
		keyset_grow(ks);
	i = keyset_slot(ks, h);
	if (ks->hash[i])
		return ks->line[i];
	ks->hash[i] = h;
	ks->line[i] = line;
	ks->count++;
	return 0;
}

/* build state: the errors listed and counted, the writer, what was seen */
struct mx_cdb_build {
	const struct mx_cdb_kind *kind;
	const char *path;
	struct mx_errlist *errs;
	size_t nerrs;
	struct cdb_make cm;
	struct keyset keys;
	size_t count;
	bool write_failed;
	bool finished;
};

/* mx_cdb_build_error - one error of a line ("PREFIXfile:line: text"); past ERRORS_MAX only counted
 */
void mx_cdb_build_error(struct mx_cdb_build *b, int line, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	if (b->nerrs++ >= ERRORS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	mx_errlist_add(b->errs, "%s%s:%d: %s", b->kind->prefix, b->path, line, text);
}

/*
 * mx_cdb_build_add - the record of one entry: key, and the line's number
 * and text. 0 when added; the line of an earlier entry with the same key
 * (nothing added: the caller says the error in its own words).
 */
int mx_cdb_build_add(struct mx_cdb_build *b, const char *key, size_t klen, int lineno,
		     const char *text)
{
	uint32_t first = keyset_add(&b->keys, key_hash(key, klen), (uint32_t)lineno);
	char *value;
	size_t vlen;

	if (first && cdb_make_exists(&b->cm, key, (unsigned)klen) != 0)
		return (int)first;
	value = mx_asprintf("%d\t%s", lineno, text);
	vlen = strlen(value);
	if (cdb_make_add(&b->cm, key, (unsigned)klen, value, (unsigned)vlen) != 0)
		b->write_failed = true;
	if (b->kind->private)
		OPENSSL_cleanse(value, vlen);
	free(value);
	b->count++;
	return 0;
}

/* same_source - the text did not change while it was read */
static bool same_source(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* sync_dir - the rename reaches the disk too */
static void sync_dir(const char *file)
{
	char *copy = mx_strdup(file);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(copy);
}

/*
 * give_owner - the index readable by whoever may read the text, and owned
 * alike when we may. A private table's index is never open to others, and
 * not to a group that may not read the text: when the index could not get
 * the text's group, the group's bits go too.
 */
static void give_owner(const struct mx_cdb_build *b, int fd, const char *tmp,
		       const struct stat *src)
{
	mode_t mode = src->st_mode & (b->kind->private ? 0660 : 0666);
	struct stat st;

	if (geteuid() == 0 && fchown(fd, src->st_uid, src->st_gid) != 0)
		msg_warn("%s: cannot give %s the %s's owner: %s", b->path, tmp, b->kind->what,
			 strerror(errno));
	if (b->kind->private && (fstat(fd, &st) != 0 || st.st_gid != src->st_gid))
		mode &= 0600;
	if (fchmod(fd, mode) != 0)
		msg_warn("%s: cannot give %s the %s's mode: %s", b->path, tmp, b->kind->what,
			 strerror(errno));
}

/* open_source - the text, a regular file (a private one not open to others); NULL with the error */
static FILE *open_source(const struct mx_cdb_build *b, struct stat *st)
{
	const char *what = b->kind->what, *pre = b->kind->prefix;
	FILE *in = fopen(b->path, "re");

	if (in == NULL) {
		mx_errlist_add(b->errs, "%s%s: cannot open the %s: %s", pre, b->path, what,
			       strerror(errno));
		return NULL;
	}
	if (fstat(fileno(in), st) != 0 || !S_ISREG(st->st_mode)) {
		mx_errlist_add(b->errs, "%s%s: not a regular file", pre, b->path);
	} else if (b->kind->private && (st->st_mode & S_IRWXO)) {
		mx_errlist_add(b->errs,
			       "%s%s: others have access (mode %04o); refusing to use it "
			       "(chmod o= %s)",
			       pre, b->path, (unsigned)(st->st_mode & 07777), b->path);
	} else {
		return in;
	}
	fclose(in);
	return NULL;
}

/* finish - the index's own record and the end of the file: true when all of it is on disk */
static bool finish(struct mx_cdb_build *b, int fd, const char *tmp, const struct stat *src)
{
	char key[META_MAX], meta[META_MAX], id[160];
	size_t klen = meta_key(b->kind, key, sizeof(key));
	int rc = -1;

	source_id(src, id, sizeof(id));
	snprintf(meta, sizeof(meta), "mxport-%s-index/1 %s %zu", b->kind->name, id, b->count);
	if (!b->write_failed)
		rc = cdb_make_add(&b->cm, key, (unsigned)klen, meta, (unsigned)strlen(meta));
	b->finished = true;
	if (cdb_make_finish(&b->cm) != 0 || rc != 0 || fsync(fd) != 0) {
		mx_errlist_add(b->errs, "%s: cannot write %s: %s", b->path, tmp, strerror(errno));
		return false;
	}
	return true;
}

/*
 * mx_cdb_build - check the whole text src, fn adding a record for each
 * entry, and write its index (SRC.cdb) in one rename. False with the errors
 * added (file:line, as the table's loader says them) when any line is bad,
 * the file changed while it was read, or the index could not be written:
 * then nothing changes on disk. count: the records written.
 */
bool mx_cdb_build(const struct mx_cdb_kind *kind, const char *src, mx_cdb_line_fn fn, void *arg,
		  struct mx_errlist *errs, size_t *count)
{
	struct mx_cdb_build b = {.kind = kind, .path = src, .errs = errs};
	struct stat before, after, now;
	char idx[4096], *tmp, *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int fd, lineno = 0;
	FILE *in;
	bool ok = false;

	*count = 0;
	if ((in = open_source(&b, &before)) == NULL)
		return false;
	mx_cdb_path(src, idx, sizeof(idx));
	tmp = mx_asprintf("%s.XXXXXX", idx);
	fd = mkstemp(tmp); /* mode 0600 until give_owner */
	if (fd < 0) {
		mx_errlist_add(errs, "%s: cannot create %s: %s", src, tmp, strerror(errno));
		free(tmp);
		fclose(in);
		return false;
	}
	give_owner(&b, fd, tmp, &before);
	cdb_make_start(&b.cm, fd);
	while ((n = getline(&line, &cap, in)) >= 0) {
		size_t len = (size_t)n;

		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		fn(&b, line, len, ++lineno, arg);
	}
	if (ferror(in))
		mx_errlist_add(errs, "%s: read error: %s", src, strerror(errno));
	else if (b.nerrs > ERRORS_MAX)
		mx_errlist_add(errs, "%s: %zu more error(s) not listed", src, b.nerrs - ERRORS_MAX);
	if (!ferror(in) && b.nerrs == 0) {
		if (fstat(fileno(in), &after) != 0 || stat(src, &now) != 0 ||
		    !same_source(&before, &after) || !same_source(&before, &now))
			mx_errlist_add(errs,
				       "%s: changed while it was being indexed: run --index again",
				       src);
		else
			ok = finish(&b, fd, tmp, &before);
	}
	/* tinycdb frees its record lists only when it finishes; the file goes anyway */
	if (!b.finished)
		(void)cdb_make_finish(&b.cm);
	if (close(fd) != 0 && ok) {
		mx_errlist_add(errs, "%s: cannot write %s: %s", src, tmp, strerror(errno));
		ok = false;
	}
	if (ok && rename(tmp, idx) != 0) {
		mx_errlist_add(errs, "%s: cannot rename %s to %s: %s", src, tmp, idx,
			       strerror(errno));
		ok = false;
	}
	if (ok) {
		sync_dir(idx);
		*count = b.count;
	} else {
		unlink(tmp);
	}
	if (line && kind->private)
		OPENSSL_cleanse(line, cap);
	free(line);
	free(tmp);
	free(b.keys.hash);
	free(b.keys.line);
	fclose(in);
	return ok;
}

/*
 * check_toc - the table of contents (256 hash tables: position, slots)
 * points inside the file, and the tables end where the file ends: an index
 * cut short, or grown, is refused before any lookup. slots: their sum.
 */
static bool check_toc(const struct mx_cdb_table *t, unsigned long *slots)
{
	const unsigned char *toc = cdb_get(&t->cdb, 2048, 0);
	unsigned fsize = t->cdb.cdb_fsize, end = 2048;

	*slots = 0;
	if (toc == NULL)
		return false;
	for (int i = 0; i < 256; i++) {
		unsigned pos = cdb_unpack(toc + 8 * i), n = cdb_unpack(toc + 8 * i + 4);

		if (pos < 2048 || pos > fsize || n > (fsize - pos) / 8)
			return false;
		if (pos + 8 * n > end)
			end = pos + 8 * n;
		*slots += n;
	}
	return end == fsize;
}

/* check_meta - the index's own record: its version, and the text it was made from */
static enum mx_cdb_state check_meta(const struct mx_cdb_kind *k, struct mx_cdb_table *t,
				    const struct stat *src, char *why, size_t whylen)
{
	struct cdb c = t->cdb;
	char key[META_MAX], meta[META_MAX], id[160], want[META_MAX], version[META_MAX];
	size_t klen = meta_key(k, key, sizeof(key)), wlen;
	const char *v;
	unsigned vlen;
	unsigned long slots, n;

	if (!check_toc(t, &slots) || cdb_find(&c, key, (unsigned)klen) != 1 ||
	    (vlen = cdb_datalen(&c)) >= sizeof(meta) || (v = cdb_getdata(&c)) == NULL) {
		snprintf(why, whylen, "not an index of mxport-route --index, or damaged");
		return MX_CDB_BAD;
	}
	memcpy(meta, v, vlen);
	meta[vlen] = '\0';
	snprintf(version, sizeof(version), "mxport-%s-index/1 ", k->name);
	if (strncmp(meta, version, strlen(version)) != 0) {
		snprintf(why, whylen, "made by another version (%.60s): run mxport-route --index",
			 meta);
		return MX_CDB_BAD;
	}
	source_id(src, id, sizeof(id));
	snprintf(want, sizeof(want), "%s%s ", version, id);
	wlen = strlen(want);
	if (strncmp(meta, want, wlen) != 0) {
		snprintf(why, whylen,
			 "older than the %s (or made from another one): run mxport-route --index",
			 k->what);
		return MX_CDB_STALE;
	}
	/* tinycdb makes each hash table twice as large as its records */
	if (!mx_parse_uint(meta + wlen, SIZE_MAX / 4, &n) || slots != 2 * (n + 1)) {
		snprintf(why, whylen, "damaged (record count)");
		return MX_CDB_BAD;
	}
	t->count = n;
	return MX_CDB_FRESH;
}

/* open_index - the index file mapped and, for a private table, closed to others; NULL with state */
static struct mx_cdb_table *open_index(const struct mx_cdb_kind *k, const char *idx,
				       enum mx_cdb_state *state, char *why, size_t whylen)
{
	struct mx_cdb_table *t = mx_calloc(1, sizeof(*t));
	struct stat st;

	t->fd = open(idx, O_RDONLY | O_CLOEXEC);
	if (t->fd < 0) {
		*state = errno == ENOENT ? MX_CDB_NONE : MX_CDB_BAD;
		snprintf(why, whylen, "%s: %s", idx, strerror(errno));
		free(t);
		return NULL;
	}
	if (k->private && (fstat(t->fd, &st) != 0 || (st.st_mode & S_IRWXO))) {
		*state = MX_CDB_BAD;
		snprintf(why, whylen,
			 "%s: others have access (mode %04o); refusing to use it (chmod o= %s)",
			 idx, (unsigned)(st.st_mode & 07777), idx);
	} else if (cdb_init(&t->cdb, t->fd) != 0) {
		*state = MX_CDB_BAD;
		snprintf(why, whylen, "%s: not an index (truncated or damaged)", idx);
	} else {
		return t;
	}
	close(t->fd);
	free(t);
	return NULL;
}

/*
 * mx_cdb_open - the index of the text src, when it is there and made from
 * the text as it is now; else NULL, with state (NONE when there is no
 * index) and why (the index's name, then the reason).
 */
struct mx_cdb_table *mx_cdb_open(const struct mx_cdb_kind *kind, const char *src,
				 enum mx_cdb_state *state, char *why, size_t whylen)
{
	struct mx_cdb_table *t;
	struct stat st;
	char idx[4096], reason[300];

	mx_cdb_path(src, idx, sizeof(idx));
	if ((t = open_index(kind, idx, state, why, whylen)) == NULL)
		return NULL;
	if (stat(src, &st) != 0) {
		*state = MX_CDB_STALE;
		snprintf(reason, sizeof(reason), "the %s: %s", kind->what, strerror(errno));
	} else {
		*state = check_meta(kind, t, &st, reason, sizeof(reason));
	}
	if (*state != MX_CDB_FRESH) {
		snprintf(why, whylen, "%s: %s", idx, reason);
		mx_cdb_close(t);
		return NULL;
	}
	return t;
}

/*
 * mx_cdb_find - the record under key: 1 with its line number and text (the
 * caller frees it), 0 when there is none, -1 with why when it is damaged.
 */
int mx_cdb_find(const struct mx_cdb_table *t, const char *key, size_t klen, int *line, char **text,
		char *why, size_t whylen)
{
	struct cdb c = t->cdb;
	const char *v;
	char *value, *tab;
	unsigned vlen;
	unsigned long n;
	int rc = cdb_find(&c, key, (unsigned)klen);

	if (rc == 0)
		return 0;
	if (rc < 0 || (vlen = cdb_datalen(&c)) > VALUE_MAX || (v = cdb_getdata(&c)) == NULL) {
		snprintf(why, whylen, "record of %.*s is damaged", (int)klen, key);
		return -1;
	}
	value = mx_malloc((size_t)vlen + 1);
	memcpy(value, v, vlen);
	value[vlen] = '\0';
	tab = strchr(value, '\t');
	if (tab == NULL || strlen(value) != vlen) {
		snprintf(why, whylen, "record of %.*s is damaged", (int)klen, key);
		OPENSSL_cleanse(value, vlen);
		free(value);
		return -1;
	}
	*tab = '\0';
	if (!mx_parse_uint(value, 0x7fffffff, &n) || n == 0) {
		snprintf(why, whylen, "record of %.*s is damaged (line number)", (int)klen, key);
		OPENSSL_cleanse(value, vlen);
		free(value);
		return -1;
	}
	*line = (int)n;
	*text = mx_strdup(tab + 1);
	OPENSSL_cleanse(value, vlen);
	free(value);
	return 1;
}

/* mx_cdb_count - the number of records the index holds */
size_t mx_cdb_count(const struct mx_cdb_table *t)
{
	return t->count;
}

/* mx_cdb_close - unmap and release */
void mx_cdb_close(struct mx_cdb_table *t)
{
	if (t == NULL)
		return;
	cdb_free(&t->cdb);
	close(t->fd);
	free(t);
}
