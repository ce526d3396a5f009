/*
 * routes_index - the routes file as a constant database (tinycdb), as
 * Postfix's postmap builds cdb: tables: mxport-route --index reads the
 * routes file once, line by line, checks every line as routes_file_parse
 * does (the same errors, with file and line), and writes ROUTES.cdb beside
 * it through a temporary file renamed into place; a file with any error
 * writes nothing and the index in place stays. Readers map the index and
 * look a domain up in it (a few pages touched, whatever the number of
 * routes), then parse that one line with routes_parse_line: the routes
 * file stays the source of truth and its only syntax.
 *
 * Records: the key is the domain as the file names it ("example.com", or
 * ".example.org" for the names below it), the value "LINE<TAB>TEXT": the
 * line number and the line without its comment. One more record, under a
 * key that no domain can be (it starts with a NUL byte), says what the
 * index was made from: the routes file's device, inode, size and
 * modification time in nanoseconds, and the number of routes. A reader
 * whose routes file no longer matches calls the index stale and the caller
 * reads the text instead.
 *
 * The index is a file an admin may damage: tinycdb checks every offset
 * against the mapping; a record that does not parse back into the entry
 * of its key makes the lookup fail (-1), never guess.
 *
 * Compromise: a reader maps the file; an index rewritten in place (not
 * through rename, as --index does) while mapped may raise SIGBUS, as
 * Postfix's cdb: and lmdb: tables do. The page says so.
 */
#include "config.h"

#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "routes_file.h"
#include "msg.h"
#include "routes_index.h"
#include "util.h"

#define META_KEY     "\0mxport-routes-index"
#define META_KEYLEN  (sizeof(META_KEY) - 1)
#define META_VERSION "mxport-routes-index/1"
#define VALUE_MAX    (1024 * 1024) /* one line: more is not a line this file wrote */
#define ERRORS_MAX   1000	   /* listed; the rest are counted */

struct routes_index {
	char *path; /* the routes file: origins say "path:line" */
	int fd;
	struct cdb cdb; /* copied per lookup: cdb_find writes the found position into it */
	size_t count;
};

/* routes_index_path - where the index of a routes file is: beside it, ".cdb" added */
void routes_index_path(const char *routes_path, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s", routes_path, ROUTES_INDEX_SUFFIX);
}

/* source_id - the identity that the index records and readers compare */
static void source_id(const struct stat *st, char *out, size_t outlen)
{
	snprintf(out, outlen, "%" PRIuMAX " %" PRIuMAX " %" PRIdMAX " %" PRIdMAX ".%09ld",
		 (uintmax_t)st->st_dev, (uintmax_t)st->st_ino, (intmax_t)st->st_size,
		 (intmax_t)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec);
}

/*
 * A set of the keys seen so far, for "already routed on line N": 64-bit
 * hashes and the line of each, open addressing. 12 bytes a slot, half
 * full at most. Two keys with one 64-bit hash are told apart by tinycdb's
 * own cdb_make_exists (which compares the keys); a third key with that
 * hash would be reported against the first one's line (compromise: odds
 * about 1 in 10^7 for a million routes, and only the line number is
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
struct build {
	const char *path;
	struct mx_errlist *errs;
	size_t nerrs;
	struct cdb_make cm;
	struct keyset keys;
	size_t count;
	bool write_failed;
	bool finished;
};

/* build_error - one error; past ERRORS_MAX only counted */
static void build_error(struct build *b, int line, const char *text)
{
	if (b->nerrs++ < ERRORS_MAX)
		mx_errlist_add(b->errs, "%s:%d: %s", b->path, line, text);
}

/* build_line - check one line and add its record; errors go to b */
static void build_line(struct build *b, char *line, size_t len, int lineno)
{
	struct routes_entry e;
	char err[512], key[MX_DOMAIN_MAX + 2], *text, *value;
	size_t klen, vlen;
	uint32_t first;
	int rc;

	if (len && line[len - 1] == '\n')
		line[--len] = '\0';
	if (memchr(line, '\0', len)) {
		build_error(b, lineno, "NUL byte in line");
		return;
	}
	rc = routes_parse_line(line, &e, err, sizeof(err));
	if (rc < 0) {
		build_error(b, lineno, err);
		return;
	}
	if (rc == 0)
		return;
	free(e.targets);
	klen = (size_t)snprintf(key, sizeof(key), "%s%s", e.subdomains ? "." : "", e.domain);
	first = keyset_add(&b->keys, key_hash(key, klen), (uint32_t)lineno);
	if (first && cdb_make_exists(&b->cm, key, (unsigned)klen) != 0) {
		char msg[MX_DOMAIN_MAX + 64];

		snprintf(msg, sizeof(msg), "%s: already routed on line %u", key, (unsigned)first);
		build_error(b, lineno, msg);
		return;
	}
	/* What routes_parse_line reads: the text before any comment. */
	line[strcspn(line, "#")] = '\0';
	text = mx_trim(line);
	value = mx_asprintf("%d\t%s", lineno, text);
	vlen = strlen(value);
	if (cdb_make_add(&b->cm, key, (unsigned)klen, value, (unsigned)vlen) != 0)
		b->write_failed = true;
	free(value);
	b->count++;
}

/* same_source - the routes file did not change while it was read */
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
 * routes_index_build - check the whole routes file and write its index
 * (ROUTES.cdb) in one rename. False with the errors added (file:line, as
 * routes_file_parse says them) when any line is bad, the file changed
 * while it was read, or the index could not be written: then nothing
 * changes on disk. count: the routes indexed.
 */
bool routes_index_build(const char *routes_path, struct mx_errlist *errs, size_t *count)
{
	struct build b = {.path = routes_path, .errs = errs};
	struct stat before, after, now;
	char idx[4096], *tmp, *line = NULL, meta[200], id[160];
	size_t cap = 0;
	ssize_t n;
	int fd, lineno = 0;
	FILE *in;
	bool ok = false;

	*count = 0;
	in = fopen(routes_path, "re");
	if (in == NULL) {
		mx_errlist_add(errs, "%s: cannot open the routes file: %s", routes_path,
			       strerror(errno));
		return false;
	}
	if (fstat(fileno(in), &before) != 0 || !S_ISREG(before.st_mode)) {
		mx_errlist_add(errs, "%s: not a regular file", routes_path);
		fclose(in);
		return false;
	}
	routes_index_path(routes_path, idx, sizeof(idx));
	tmp = mx_asprintf("%s.XXXXXX", idx);
	fd = mkstemp(tmp);
	if (fd < 0) {
		mx_errlist_add(errs, "%s: cannot create %s: %s", routes_path, tmp, strerror(errno));
		free(tmp);
		fclose(in);
		return false;
	}
	/* Readable by whoever may read the routes file, and owned alike when we may. */
	if (fchmod(fd, before.st_mode & 0666) != 0 ||
	    (geteuid() == 0 && fchown(fd, before.st_uid, before.st_gid) != 0))
		msg_warn("%s: cannot give %s the routes file's owner and mode: %s", routes_path,
			 tmp, strerror(errno));
	cdb_make_start(&b.cm, fd);
	while ((n = getline(&line, &cap, in)) >= 0)
		build_line(&b, line, (size_t)n, ++lineno);
	if (ferror(in))
		mx_errlist_add(errs, "%s: read error: %s", routes_path, strerror(errno));
	else if (b.nerrs > ERRORS_MAX)
		mx_errlist_add(errs, "%s: %zu more error(s) not listed", routes_path,
			       b.nerrs - ERRORS_MAX);
	if (!ferror(in) && b.nerrs == 0) {
		if (fstat(fileno(in), &after) != 0 || stat(routes_path, &now) != 0 ||
		    !same_source(&before, &after) || !same_source(&before, &now)) {
			mx_errlist_add(errs,
				       "%s: changed while it was being indexed: run --index again",
				       routes_path);
		} else {
			int rc = -1;

			source_id(&before, id, sizeof(id));
			snprintf(meta, sizeof(meta), "%s %s %zu", META_VERSION, id, b.count);
			if (!b.write_failed)
				rc = cdb_make_add(&b.cm, META_KEY, META_KEYLEN, meta,
						  (unsigned)strlen(meta));
			b.finished = true;
			if (cdb_make_finish(&b.cm) != 0 || rc != 0 || fsync(fd) != 0)
				mx_errlist_add(errs, "%s: cannot write %s: %s", routes_path, tmp,
					       strerror(errno));
			else
				ok = true;
		}
	}
	/* tinycdb frees its record lists only when it finishes; the file goes anyway */
	if (!ok && !b.finished)
		(void)cdb_make_finish(&b.cm);
	if (close(fd) != 0 && ok) {
		mx_errlist_add(errs, "%s: cannot write %s: %s", routes_path, tmp, strerror(errno));
		ok = false;
	}
	if (ok && rename(tmp, idx) != 0) {
		mx_errlist_add(errs, "%s: cannot rename %s to %s: %s", routes_path, tmp, idx,
			       strerror(errno));
		ok = false;
	}
	if (ok) {
		sync_dir(idx);
		*count = b.count;
	} else {
		unlink(tmp);
	}
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
static bool check_toc(const struct routes_index *ri, unsigned long *slots)
{
	const unsigned char *toc = cdb_get(&ri->cdb, 2048, 0);
	unsigned fsize = ri->cdb.cdb_fsize, end = 2048;

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

/* check_meta - the index's own record: its version, and the routes file it was made from */
static enum routes_index_state check_meta(struct routes_index *ri, const struct stat *src,
					  char *why, size_t whylen)
{
	struct cdb c = ri->cdb;
	char meta[200], id[160], want[200];
	const char *v;
	unsigned vlen;
	size_t vlen_id;

	unsigned long slots;

	if (!check_toc(ri, &slots) || cdb_find(&c, META_KEY, META_KEYLEN) != 1 ||
	    (vlen = cdb_datalen(&c)) >= sizeof(meta) || (v = cdb_getdata(&c)) == NULL) {
		snprintf(why, whylen, "not an index of mxport-route --index, or damaged");
		return ROUTES_INDEX_BAD;
	}
	memcpy(meta, v, vlen);
	meta[vlen] = '\0';
	if (strncmp(meta, META_VERSION " ", sizeof(META_VERSION)) != 0) {
		snprintf(why, whylen, "made by another version (%.60s): run mxport-route --index",
			 meta);
		return ROUTES_INDEX_BAD;
	}
	source_id(src, id, sizeof(id));
	snprintf(want, sizeof(want), "%s %s ", META_VERSION, id);
	vlen_id = strlen(want);
	if (strncmp(meta, want, vlen_id) != 0) {
		snprintf(why, whylen,
			 "older than the routes file (or made from another one): "
			 "run mxport-route --index");
		return ROUTES_INDEX_STALE;
	}
	{
		unsigned long n;

		/* tinycdb makes each hash table twice as large as its records */
		if (!mx_parse_uint(meta + vlen_id, SIZE_MAX / 4, &n) || slots != 2 * (n + 1)) {
			snprintf(why, whylen, "damaged (route count)");
			return ROUTES_INDEX_BAD;
		}
		ri->count = n;
	}
	return ROUTES_INDEX_FRESH;
}

/*
 * routes_index_open - the index of the routes file, when it is there and
 * made from the file as it is now; else NULL, with state (NONE when there
 * is no index) and why (the index's name, then the reason).
 */
struct routes_index *routes_index_open(const char *routes_path, enum routes_index_state *state,
				       char *why, size_t whylen)
{
	struct routes_index *ri;
	struct stat src;
	char idx[4096], reason[300];

	routes_index_path(routes_path, idx, sizeof(idx));
	ri = mx_calloc(1, sizeof(*ri));
	ri->fd = open(idx, O_RDONLY | O_CLOEXEC);
	if (ri->fd < 0) {
		*state = errno == ENOENT ? ROUTES_INDEX_NONE : ROUTES_INDEX_BAD;
		snprintf(why, whylen, "%s: %s", idx, strerror(errno));
		free(ri);
		return NULL;
	}
	if (cdb_init(&ri->cdb, ri->fd) != 0) {
		*state = ROUTES_INDEX_BAD;
		snprintf(why, whylen, "%s: not an index (truncated or damaged)", idx);
		close(ri->fd);
		free(ri);
		return NULL;
	}
	ri->path = mx_strdup(routes_path);
	if (stat(routes_path, &src) != 0) {
		*state = ROUTES_INDEX_STALE;
		snprintf(reason, sizeof(reason), "the routes file: %s", strerror(errno));
	} else {
		*state = check_meta(ri, &src, reason, sizeof(reason));
	}
	if (*state != ROUTES_INDEX_FRESH) {
		snprintf(why, whylen, "%s: %s", idx, reason);
		routes_index_close(ri);
		return NULL;
	}
	return ri;
}

/* find_key - the entry under key: 1 found, 0 not there, -1 the record is damaged */
static int find_key(const struct routes_index *ri, const char *key, struct routes_entry *e,
		    char *why, size_t whylen)
{
	struct cdb c = ri->cdb;
	const char *v;
	char *value, *tab, err[512];
	unsigned vlen;
	unsigned long line;
	int rc = cdb_find(&c, key, (unsigned)strlen(key));

	if (rc == 0)
		return 0;
	if (rc < 0 || (vlen = cdb_datalen(&c)) > VALUE_MAX || (v = cdb_getdata(&c)) == NULL) {
		snprintf(why, whylen, "record of %s is damaged", key);
		return -1;
	}
	value = mx_strndup(v, vlen);
	tab = strchr(value, '\t');
	if (tab == NULL || strlen(value) != vlen) {
		snprintf(why, whylen, "record of %s is damaged", key);
		free(value);
		return -1;
	}
	*tab = '\0';
	rc = -1;
	if (!mx_parse_uint(value, 0x7fffffff, &line) || line == 0)
		snprintf(why, whylen, "record of %s is damaged (line number)", key);
	else if (routes_parse_line(tab + 1, e, err, sizeof(err)) != 1)
		snprintf(why, whylen, "record of %s is damaged (%s)", key, err);
	else if (strcmp(e->domain, key + (*key == '.')) != 0 || e->subdomains != (*key == '.')) {
		snprintf(why, whylen, "record of %s holds another domain's line", key);
		free(e->targets);
	} else {
		e->line = (int)line;
		rc = 1;
	}
	free(value);
	return rc;
}

/*
 * routes_index_find - as routes_file_find (the exact name, else the
 * nearest ".parent" entry): 1 with out filled, 0 when no entry applies, -1
 * with why when a record is damaged (the caller reads the text instead).
 */
int routes_index_find(const struct routes_index *ri, const char *domain, struct route *out,
		      char *why, size_t whylen)
{
	struct routes_entry e;
	char key[MX_DOMAIN_MAX + 2];
	const char *p = domain;
	int rc;

	if (strlen(domain) >= MX_DOMAIN_MAX)
		return 0;
	rc = find_key(ri, domain, &e, why, whylen);
	while (rc == 0 && (p = strchr(p, '.')) != NULL) {
		p++;
		snprintf(key, sizeof(key), ".%s", p);
		rc = find_key(ri, key, &e, why, whylen);
	}
	if (rc <= 0)
		return rc;
	routes_entry_route(ri->path, &e, out);
	free(e.targets);
	return 1;
}

/* routes_index_count - the number of routes the index holds */
size_t routes_index_count(const struct routes_index *ri)
{
	return ri->count;
}

/* routes_index_close - unmap and release */
void routes_index_close(struct routes_index *ri)
{
	if (ri == NULL)
		return;
	cdb_free(&ri->cdb);
	close(ri->fd);
	free(ri->path);
	free(ri);
}
