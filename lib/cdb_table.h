/* cdb_table - a text table of mxport as a constant database: built once, read by page on demand */
#ifndef MX_CDB_TABLE_H
#define MX_CDB_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "errlist.h"

#define MX_CDB_SUFFIX ".cdb"

enum mx_cdb_state {
	MX_CDB_FRESH, /* made from the text file as it is now */
	MX_CDB_NONE,  /* no index: the text file is read itself */
	MX_CDB_STALE, /* made from another version of the text file */
	MX_CDB_BAD,   /* not an index this version made, truncated, garbage, or open to others */
};

/* what a table is: its name in the index's own record, its name for people, its secrecy */
struct mx_cdb_kind {
	const char *name; /* "routes": records "mxport-routes-index/1" */
	const char *what; /* "routes file": in messages */
	const char
		*prefix; /* before "file:line: " in the errors of a line ("" or "secrets_file ") */
	bool private;	 /* a file of secrets: neither the text nor its index open to others */
};

struct mx_cdb_build;
struct mx_cdb_table;

/* check one line (its newline removed; it may hold NUL bytes) and add its record */
typedef void (*mx_cdb_line_fn)(struct mx_cdb_build *b, char *line, size_t len, int lineno,
			       void *arg);

void mx_cdb_path(const char *src, char *out, size_t outlen);
bool mx_cdb_build(const struct mx_cdb_kind *kind, const char *src, mx_cdb_line_fn fn, void *arg,
		  struct mx_errlist *errs, size_t *count);
void mx_cdb_build_error(struct mx_cdb_build *b, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int mx_cdb_build_add(struct mx_cdb_build *b, const char *key, size_t klen, int lineno,
		     const char *text);
struct mx_cdb_table *mx_cdb_open(const struct mx_cdb_kind *kind, const char *src,
				 enum mx_cdb_state *state, char *why, size_t whylen);
int mx_cdb_find(const struct mx_cdb_table *t, const char *key, size_t klen, int *line, char **text,
		char *why, size_t whylen);
size_t mx_cdb_count(const struct mx_cdb_table *t);
void mx_cdb_close(struct mx_cdb_table *t);

#endif
