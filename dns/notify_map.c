/*
 * notify_map - who hears when a forwarded domain's server is down. The
 * routes file names the contact on the domain's line (notify=); for domains
 * routed by SRV records the DNS host keeps a map, notify_map, with lines
 * "domain address". A contact is checked here, for both: an address the
 * transport can hand to sendmail(1) as an argument, and never one inside
 * the domain whose server is down (that notice could never arrive).
 *
 * With a million customers the map is indexed as the routes file is
 * (mxport-route --index, lib/cdb_table.c): key the domain, value its line;
 * a lookup reads one record and checks its line as the text's loader
 * does. The text stays the source of truth; a stale index is not read.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cdb_table.h"
#include "msg.h"
#include "notify_map.h"
#include "util.h"

#define NOTIFY_MAP_MAX (64 * 1024 * 1024)

struct notify_entry {
	char domain[MX_DOMAIN_MAX];
	char contact[MX_CONTACT_MAX];
	int line;
};

struct notify_map {
	size_t count;
	struct notify_entry *entries; /* sorted by domain: the text, when it is read whole */
	char *path;
	struct mx_cdb_table *index;    /* the index, made from the map as it is */
	pthread_mutex_t fallback_lock; /* a damaged record: the text read once, then kept */
	bool fallback_tried;
	struct notify_map *fallback;
};

static const struct mx_cdb_kind kind = {
	.name = "notify", .what = "notify map", .prefix = "", .private = false};

/*
 * local_ok - a plain local part: letters, digits and . + _ = -, no leading
 * '-' (it becomes a word of sendmail's command line) and no '|' or '/' that
 * an MTA could take for a program or a file.
 */
static bool local_ok(const char *s, size_t len)
{
	static const char atext[] = "+-_=.";

	if (len == 0 || len > 64 || s[0] == '-' || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c != '\0' && strchr(atext, c))))
			return false;
		if (c == '.' && s[i + 1] == '.')
			return false;
	}
	return true;
}

/*
 * notify_contact_check - contact as local@domain, its domain normalized into
 * out; false with err when it is no such address or lies inside domain (or,
 * for a ".domain" entry, inside any name below it).
 */
bool notify_contact_check(const char *contact, const char *domain, bool subdomains, char *out,
			  size_t outlen, char *err, size_t errlen)
{
	const char *at = strrchr(contact, '@');
	char cdom[MX_DOMAIN_MAX], why[256];
	size_t llen, clen, dlen = strlen(domain);

	if (at == NULL || !local_ok(contact, (size_t)(at - contact))) {
		snprintf(err, errlen,
			 "notify=%.80s: not an address local@domain (letters, digits and . + _ = - "
			 "before the @, not starting with '-' or '.')",
			 contact);
		return false;
	}
	llen = (size_t)(at - contact);
	if (!mx_domain_normalize(at + 1, cdom, sizeof(cdom), why, sizeof(why))) {
		snprintf(err, errlen, "notify=%.80s: %s", contact, why);
		return false;
	}
	clen = strlen(cdom);
	if (strcmp(cdom, domain) == 0 || (clen > dlen && cdom[clen - dlen - 1] == '.' &&
					  strcmp(cdom + clen - dlen, domain) == 0)) {
		snprintf(err, errlen,
			 "notify=%.80s: the contact is inside %s%s, whose server the notice is "
			 "about: it could never arrive (name an address elsewhere)",
			 contact, subdomains ? "." : "", domain);
		return false;
	}
	if (llen + 1 + clen + 1 > outlen) {
		snprintf(err, errlen, "notify=%.80s: address too long", contact);
		return false;
	}
	snprintf(out, outlen, "%.*s@%s", (int)llen, contact, cdom);
	return true;
}

/* entry_cmp - sort and search order */
static int entry_cmp(const void *a, const void *b)
{
	const struct notify_entry *x = a, *y = b;
	int c = strcmp(x->domain, y->domain);

	return c ? c : x->line - y->line;
}

/* parse_line - "domain address"; 1 with an entry, 0 for blank or comment, -1 with err */
static int parse_line(char *line, struct notify_entry *e, char *err, size_t errlen)
{
	char *text, *domain, *contact, *rest;

	line[strcspn(line, "#")] = '\0';
	text = mx_trim(line);
	if (*text == '\0')
		return 0;
	domain = text;
	contact = domain + strcspn(domain, " \t");
	if (*contact)
		*contact++ = '\0';
	contact = mx_trim(contact);
	rest = contact + strcspn(contact, " \t");
	if (*rest) {
		*rest++ = '\0';
		if (*mx_trim(rest)) {
			snprintf(err, errlen, "one domain and one address a line");
			return -1;
		}
	}
	if (*contact == '\0') {
		snprintf(err, errlen, "%.80s: no contact address", domain);
		return -1;
	}
	if (!mx_domain_normalize(domain, e->domain, sizeof(e->domain), err, errlen))
		return -1;
	if (!notify_contact_check(contact, e->domain, false, e->contact, sizeof(e->contact), err,
				  errlen))
		return -1;
	return 1;
}

/* notify_map_parse - the whole text; NULL (and errors added, each path:line) when a line is bad */
struct notify_map *notify_map_parse(const char *path, const char *text, size_t len,
				    struct mx_errlist *errs)
{
	struct notify_map *map = mx_calloc(1, sizeof(*map));
	size_t before = errs->count, pos = 0;
	int lineno = 0;

	while (pos < len) {
		size_t end = pos;
		struct notify_entry e;
		char *line, err[512];
		int rc;

		while (end < len && text[end] != '\n')
			end++;
		lineno++;
		if (memchr(text + pos, '\0', end - pos)) {
			mx_errlist_add(errs, "%s:%d: NUL byte in line", path, lineno);
			pos = end + 1;
			continue;
		}
		line = mx_strndup(text + pos, end - pos);
		pos = end + 1;
		memset(&e, 0, sizeof(e));
		rc = parse_line(line, &e, err, sizeof(err));
		free(line);
		if (rc < 0)
			mx_errlist_add(errs, "%s:%d: %s", path, lineno, err);
		if (rc <= 0)
			continue;
		e.line = lineno;
		map->entries = mx_realloc(map->entries, (map->count + 1) * sizeof(e));
		map->entries[map->count++] = e;
	}
	if (map->count > 1)
		qsort(map->entries, map->count, sizeof(*map->entries), entry_cmp);
	for (size_t i = 1; i < map->count; i++)
		if (strcmp(map->entries[i - 1].domain, map->entries[i].domain) == 0)
			mx_errlist_add(errs, "%s:%d: %s: already listed on line %d", path,
				       map->entries[i].line, map->entries[i].domain,
				       map->entries[i - 1].line);
	if (errs->count != before) {
		notify_map_free(map);
		return NULL;
	}
	return map;
}

/*
 * notify_map_load - the map: through its index when one was made from the
 * file as it is now, else the whole text read and parsed; NULL (and errors
 * added) on any error
 */
struct notify_map *notify_map_load(const char *path, struct mx_errlist *errs)
{
	struct notify_map *map;
	struct mx_cdb_table *index;
	enum mx_cdb_state st;
	char *text, err[4400];
	size_t len;

	index = mx_cdb_open(&kind, path, &st, err, sizeof(err));
	if (index) {
		map = mx_calloc(1, sizeof(*map));
		map->index = index;
		map->count = mx_cdb_count(index);
		map->path = mx_strdup(path);
		pthread_mutex_init(&map->fallback_lock, NULL);
		return map;
	}
	if (st != MX_CDB_NONE)
		msg_warn("notify map index %s; reading %s itself", err, path);
	if (!mx_read_file(path, NOTIFY_MAP_MAX, "notify_map", &text, &len, err, sizeof(err))) {
		mx_errlist_add(errs, "%s", err);
		return NULL;
	}
	map = notify_map_parse(path, text, len, errs);
	free(text);
	return map;
}

/* build_line - check one line as notify_map_parse does and add its record; errors go to b */
static void build_line(struct mx_cdb_build *b, char *line, size_t len, int lineno, void *arg)
{
	struct notify_entry e;
	char err[512], *text;
	int rc, first;

	(void)arg;
	if (memchr(line, '\0', len)) {
		mx_cdb_build_error(b, lineno, "NUL byte in line");
		return;
	}
	text = mx_strdup(line);
	memset(&e, 0, sizeof(e));
	rc = parse_line(line, &e, err, sizeof(err));
	if (rc < 0)
		mx_cdb_build_error(b, lineno, "%s", err);
	if (rc > 0) {
		text[strcspn(text, "#")] = '\0';
		first = mx_cdb_build_add(b, e.domain, strlen(e.domain), lineno, mx_trim(text));
		if (first)
			mx_cdb_build_error(b, lineno, "%s: already listed on line %d", e.domain,
					   first);
	}
	free(text);
}

/*
 * notify_map_index_build - check the whole map and write its index
 * (MAP.cdb) in one rename; false with the errors added (file:line, as
 * notify_map_parse says them), and nothing written, when a line is bad.
 * count: the contacts indexed.
 */
bool notify_map_index_build(const char *path, struct mx_errlist *errs, size_t *count)
{
	return mx_cdb_build(&kind, path, build_line, NULL, errs, count);
}

/* notify_map_indexed - the contacts of an index in use, or 0 when the text was read */
size_t notify_map_indexed(const struct notify_map *map)
{
	return map && map->index ? map->count : 0;
}

/* index_find - the contact of domain in the index: 1, 0 none, -1 with why when damaged */
static int index_find(const struct notify_map *map, const char *domain, char *out, size_t outlen,
		      char *why, size_t whylen)
{
	struct notify_entry e;
	char *text, err[512];
	int line, rc = mx_cdb_find(map->index, domain, strlen(domain), &line, &text, why, whylen);

	if (rc <= 0)
		return rc;
	memset(&e, 0, sizeof(e));
	rc = parse_line(text, &e, err, sizeof(err));
	free(text);
	if (rc <= 0 || strcmp(e.domain, domain) != 0) {
		snprintf(why, whylen, "record of %s is damaged", domain);
		return -1;
	}
	mx_strlcpy(out, e.contact, outlen);
	return 1;
}

/* text_fallback - the map's text, read once when a record of the index is damaged */
static const struct notify_map *text_fallback(struct notify_map *map, const char *why)
{
	const struct notify_map *text;

	pthread_mutex_lock(&map->fallback_lock);
	if (!map->fallback_tried) {
		struct mx_errlist errs;
		char *buf, err[600];
		size_t len;

		map->fallback_tried = true;
		msg_warn("notify map index %s%s: %s; reading %s itself", map->path, MX_CDB_SUFFIX,
			 why, map->path);
		mx_errlist_init(&errs);
		if (mx_read_file(map->path, NOTIFY_MAP_MAX, "notify_map", &buf, &len, err,
				 sizeof(err))) {
			map->fallback = notify_map_parse(map->path, buf, len, &errs);
			free(buf);
		} else {
			mx_errlist_add(&errs, "%s", err);
		}
		for (size_t i = 0; i < errs.count; i++)
			msg_error("%s", errs.msgs[i]);
		mx_errlist_free(&errs);
	}
	text = map->fallback;
	pthread_mutex_unlock(&map->fallback_lock);
	return text;
}

/* text_find - the contact for a normalized domain in the text, or NULL */
static const char *text_find(const struct notify_map *map, const char *domain)
{
	size_t lo = 0, hi = map ? map->count : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(domain, map->entries[mid].domain);

		if (c == 0)
			return map->entries[mid].contact;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* notify_map_find - the contact for a normalized domain into out; false when none (or no map) */
bool notify_map_find(struct notify_map *map, const char *domain, char *out, size_t outlen)
{
	const char *found;
	char why[600];

	if (map == NULL)
		return false;
	if (map->index) {
		int rc = index_find(map, domain, out, outlen, why, sizeof(why));

		if (rc >= 0)
			return rc == 1;
		map = (struct notify_map *)text_fallback(map, why);
	}
	if ((found = text_find(map, domain)) == NULL)
		return false;
	mx_strlcpy(out, found, outlen);
	return true;
}

/* notify_map_free - release */
void notify_map_free(struct notify_map *map)
{
	if (map == NULL)
		return;
	if (map->index) {
		mx_cdb_close(map->index);
		pthread_mutex_destroy(&map->fallback_lock);
		notify_map_free(map->fallback);
	}
	free(map->path);
	free(map->entries);
	free(map);
}
