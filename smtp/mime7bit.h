/* mime7bit - 8-bit message content made 7-bit for a server without 8BITMIME */
#ifndef MX_MIME7BIT_H
#define MX_MIME7BIT_H

#include <stddef.h>

#include "message.h"
#include "util.h"

int message_downgrade(const struct message *m, struct mx_buf *out, size_t *size, char *err,
		      size_t errlen);

#endif
