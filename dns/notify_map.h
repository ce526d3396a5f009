/* notify_map - who hears when a forwarded domain's server is down: the contact checks and the map
 */
#ifndef MX_NOTIFY_MAP_H
#define MX_NOTIFY_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include "domain.h"
#include "errlist.h"

#define MX_CONTACT_MAX 320 /* local part (64), '@', domain (253), terminator */

struct notify_map;

bool notify_contact_check(const char *contact, const char *domain, bool subdomains, char *out,
			  size_t outlen, char *err, size_t errlen);
struct notify_map *notify_map_parse(const char *path, const char *text, size_t len,
				    struct mx_errlist *errs);
struct notify_map *notify_map_load(const char *path, struct mx_errlist *errs);
bool notify_map_find(struct notify_map *map, const char *domain, char *out, size_t outlen);
bool notify_map_index_build(const char *path, struct mx_errlist *errs, size_t *count);
size_t notify_map_indexed(const struct notify_map *map);
void notify_map_free(struct notify_map *map);

#endif
