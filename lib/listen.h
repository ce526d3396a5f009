/* listen - listening sockets from "unix:/path" and "inet:port@address" */
#ifndef MX_LISTEN_H
#define MX_LISTEN_H

#include <stddef.h>

int mx_listen(const char *spec, char *err, size_t errlen);

#endif
