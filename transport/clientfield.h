/* clientfield - the MTA's queue id and original client from a header field (Exim's lmtp) */
#ifndef MX_CLIENTFIELD_H
#define MX_CLIENTFIELD_H

#include <stddef.h>

#include "xforward.h"

#define CLIENTFIELD_QUEUE_MAX 64

size_t clientfield_take(char *raw, size_t rawlen, const char *name, struct xforward *client,
			char *queue_id, size_t queue_idlen);

#endif
