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
const char *notify_map_find(const struct notify_map *map, const char *domain);
void notify_map_free(struct notify_map *map);

#endif
