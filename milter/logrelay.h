/* logrelay - pass other mxport programs' log lines on to Postfix's postlogd */
#ifndef MX_LOGRELAY_H
#define MX_LOGRELAY_H

#include <stddef.h>

int logrelay_open(const char *path, char *err, size_t errlen);
int logrelay_start(int fd);

#endif
