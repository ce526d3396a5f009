/* domain - domain names in the one form routes are keyed by, and address helpers */
#ifndef MX_DOMAIN_H
#define MX_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>

#define MX_DOMAIN_MAX 254 /* 253 characters and the terminator */

bool mx_domain_normalize(const char *in, char *out, size_t outlen, char *err, size_t errlen);
bool mx_address_domain(const char *address, char *out, size_t outlen);

#endif
