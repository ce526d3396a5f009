/* errlist - a list of error messages, collected so that a check reports all of them */
#ifndef MX_ERRLIST_H
#define MX_ERRLIST_H

#include <stddef.h>

struct mx_errlist {
	char **msgs;
	size_t count;
	size_t cap;
};

void mx_errlist_init(struct mx_errlist *el);
void mx_errlist_add(struct mx_errlist *el, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void mx_errlist_free(struct mx_errlist *el);

#endif
