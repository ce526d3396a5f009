/* netstring - "len:data," framing, as the socketmap protocol uses it */
#ifndef MX_NETSTRING_H
#define MX_NETSTRING_H

#include <stddef.h>

#define NETSTRING_MAX 100000 /* Postfix's socketmap limit */

int netstring_parse(const char *buf, size_t len, const char **data, size_t *datalen, size_t *used);
size_t netstring_format(char *out, size_t outlen, const char *data, size_t datalen);

#endif
