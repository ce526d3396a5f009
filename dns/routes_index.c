/*
 * routes_index - the routes file as a constant database (lib/cdb_table.c),
 * as Postfix's postmap builds cdb: tables: mxport-route --index reads the
 * routes file once, line by line, checks every line as routes_file_parse
 * does (the same errors, with file and line), and writes ROUTES.cdb beside
 * it through a temporary file renamed into place; a file with any error
 * writes nothing and the index in place stays. Readers map the index and
 * look a domain up in it (a few pages touched, whatever the number of
 * routes), then parse that one line with routes_parse_line: the routes
 * file stays the source of truth and its only syntax.
 *
 * Records: the key is the domain as the file names it ("example.com", or
 * ".example.org" for the names below it), the value the line number and
 * the line without its comment; the index's own record says which version
 * of the routes file it was made from (cdb_table.c).
 *
 * A record that does not parse back into the entry of its key makes the
 * lookup fail (-1), never guess.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdb_table.h"
#include "routes_file.h"
#include "routes_index.h"
#include "util.h"

static const struct mx_cdb_kind kind = {
	.name = "routes", .what = "routes file", .prefix = "", .private = false};

struct routes_index {
	char *path; /* the routes file: origins say "path:line" */
	struct mx_cdb_table *t;
};

/* routes_index_path - where the index of a routes file is: beside it, ".cdb" added */
void routes_index_path(const char *routes_path, char *out, size_t outlen)
{
	mx_cdb_path(routes_path, out, outlen);
}

/* build_line - check one line and add its record; errors go to b */
static void build_line(struct mx_cdb_build *b, char *line, size_t len, int lineno, void *arg)
{
	struct routes_entry e;
	char err[512], key[MX_DOMAIN_MAX + 2];
	size_t klen;
	int rc, first;

	(void)arg;
	if (memchr(line, '\0', len)) {
		mx_cdb_build_error(b, lineno, "NUL byte in line");
		return;
	}
	rc = routes_parse_line(line, &e, err, sizeof(err));
	if (rc < 0) {
		mx_cdb_build_error(b, lineno, "%s", err);
		return;
	}
	if (rc == 0)
		return;
	free(e.targets);
	klen = (size_t)snprintf(key, sizeof(key), "%s%s", e.subdomains ? "." : "", e.domain);
	/* What routes_parse_line reads: the text before any comment. */
	line[strcspn(line, "#")] = '\0';
	first = mx_cdb_build_add(b, key, klen, lineno, mx_trim(line));
	if (first)
		mx_cdb_build_error(b, lineno, "%s: already routed on line %d", key, first);
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
	return mx_cdb_build(&kind, routes_path, build_line, NULL, errs, count);
}

/*
 * routes_index_open - the index of the routes file, when it is there and
 * made from the file as it is now; else NULL, with state (NONE when there
 * is no index) and why (the index's name, then the reason).
 */
struct routes_index *routes_index_open(const char *routes_path, enum routes_index_state *state,
				       char *why, size_t whylen)
{
	enum mx_cdb_state st;
	struct mx_cdb_table *t = mx_cdb_open(&kind, routes_path, &st, why, whylen);
	struct routes_index *ri;

	*state = (enum routes_index_state)st;
	if (t == NULL)
		return NULL;
	ri = mx_calloc(1, sizeof(*ri));
	ri->path = mx_strdup(routes_path);
	ri->t = t;
	return ri;
}

/* find_key - the entry under key: 1 found, 0 not there, -1 the record is damaged */
static int find_key(const struct routes_index *ri, const char *key, struct routes_entry *e,
		    char *why, size_t whylen)
{
	char *text, err[512];
	int line, rc = mx_cdb_find(ri->t, key, strlen(key), &line, &text, why, whylen);

	if (rc <= 0)
		return rc;
	rc = -1;
	if (routes_parse_line(text, e, err, sizeof(err)) != 1)
		snprintf(why, whylen, "record of %s is damaged (%s)", key, err);
	else if (strcmp(e->domain, key + (*key == '.')) != 0 || e->subdomains != (*key == '.')) {
		snprintf(why, whylen, "record of %s holds another domain's line", key);
		free(e->targets);
	} else {
		e->line = line;
		rc = 1;
	}
	free(text);
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
	return mx_cdb_count(ri->t);
}

/* routes_index_close - unmap and release */
void routes_index_close(struct routes_index *ri)
{
	if (ri == NULL)
		return;
	mx_cdb_close(ri->t);
	free(ri->path);
	free(ri);
}
