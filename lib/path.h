/* path - the RFC 5321 path of MAIL FROM and RCPT TO, quoted local parts and all */
#ifndef MX_PATH_H
#define MX_PATH_H

#include <stdbool.h>
#include <stddef.h>

char *mx_path_parse(const char *arg, const char **rest);
size_t mx_local_part_len(const char *addr);

#endif
