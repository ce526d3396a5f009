/* routes_index - the routes file as a constant database: built once, read by page on demand */
#ifndef MX_ROUTES_INDEX_H
#define MX_ROUTES_INDEX_H

#include <stdbool.h>
#include <stddef.h>

#include "cdb_table.h"
#include "errlist.h"
#include "route.h"

#define ROUTES_INDEX_SUFFIX MX_CDB_SUFFIX

enum routes_index_state {
	ROUTES_INDEX_FRESH = MX_CDB_FRESH, /* made from the routes file as it is now */
	ROUTES_INDEX_NONE = MX_CDB_NONE,   /* no index: the routes file is read itself */
	ROUTES_INDEX_STALE = MX_CDB_STALE, /* made from another version of the routes file */
	ROUTES_INDEX_BAD = MX_CDB_BAD, /* not an index this version made, truncated or garbage */
};

struct routes_index;

void routes_index_path(const char *routes_path, char *out, size_t outlen);
bool routes_index_build(const char *routes_path, struct mx_errlist *errs, size_t *count);
struct routes_index *routes_index_open(const char *routes_path, enum routes_index_state *state,
				       char *why, size_t whylen);
int routes_index_find(const struct routes_index *ri, const char *domain, struct route *out,
		      char *why, size_t whylen);
size_t routes_index_count(const struct routes_index *ri);
void routes_index_close(struct routes_index *ri);

#endif
