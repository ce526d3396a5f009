/* errlist - a list of error messages, collected so that a check reports all of them */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "errlist.h"
#include "util.h"

/* mx_errlist_init - start an empty list */
void mx_errlist_init(struct mx_errlist *el)
{
	el->msgs = NULL;
	el->count = 0;
	el->cap = 0;
}

/* mx_errlist_add - append one formatted message */
void mx_errlist_add(struct mx_errlist *el, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = mx_vasprintf(fmt, ap);
	va_end(ap);
	if (el->count == el->cap) {
		el->cap = el->cap ? el->cap * 2 : 8;
		el->msgs = mx_realloc(el->msgs, el->cap * sizeof(*el->msgs));
	}
	el->msgs[el->count++] = msg;
}

/* mx_errlist_free - release all messages */
void mx_errlist_free(struct mx_errlist *el)
{
	for (size_t i = 0; i < el->count; i++)
		free(el->msgs[i]);
	free(el->msgs);
	mx_errlist_init(el);
}
