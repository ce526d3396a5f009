/* routes_file - the static routes file: "domain [pref] host:port, ..." */
#ifndef MX_ROUTES_FILE_H
#define MX_ROUTES_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "errlist.h"
#include "notify_map.h"
#include "route.h"

struct routes_entry {
	char domain[MX_DOMAIN_MAX]; /* normalized, without the leading dot */
	bool subdomains;	    /* ".example.org": any name below it, not itself */
	int line;
	bool noservice;		     /* target "." */
	char notify[MX_CONTACT_MAX]; /* notify=: who hears when the server is down; "" none */
	enum route_verify verify;    /* verify=yes|no, or the global verify_recipients */
	size_t ntargets;
	struct route_target *targets;
};

struct routes_file {
	char *path;
	size_t count;
	struct routes_entry *entries; /* sorted by (domain, subdomains) */
};

int routes_parse_line(const char *line, struct routes_entry *out, char *err, size_t errlen);
struct routes_file *routes_file_parse(const char *path, const char *text, size_t len,
				      struct mx_errlist *errs);
struct routes_file *routes_file_load(const char *path, struct mx_errlist *errs);
struct routes_file *routes_file_load_partial(const char *path, struct mx_errlist *errs);
bool routes_file_find(const struct routes_file *rf, const char *domain, struct route *out);
void routes_entry_route(const char *path, const struct routes_entry *e, struct route *out);
void routes_file_free(struct routes_file *rf);

#endif
