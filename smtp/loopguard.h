/* loopguard - is a target this host's own MTA? */
#ifndef MX_LOOPGUARD_H
#define MX_LOOPGUARD_H

#include <stdbool.h>
#include <sys/socket.h>

bool loopguard_is_self(const struct sockaddr *sa, const char *local_ports);

#endif
