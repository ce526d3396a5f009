/* xforward - the original client's attributes (Postfix XFORWARD): checked, encoded, decoded */
#ifndef MX_XFORWARD_H
#define MX_XFORWARD_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#define XFORWARD_LINE_MAX  512 /* one XFORWARD command, CR LF included (XFORWARD_README) */
#define XFORWARD_HELO_MAX  255
#define XFORWARD_PROTO_MAX 64

/*
 * xforward - what the relay knows of the client that sent it the message.
 * An empty field is unknown: it goes out as [UNAVAILABLE]. Every field
 * that is set has passed xforward_set(): nothing else ever reaches a server.
 */
struct xforward {
	char addr[64];	/* an IPv4 or IPv6 address, without [] or IPv6: */
	char name[256]; /* the client's host name (verified by the MTA) */
	char helo[XFORWARD_HELO_MAX + 1];
	char proto[XFORWARD_PROTO_MAX + 1];
	char source[8]; /* LOCAL or REMOTE */
};

int xforward_set(struct xforward *x, const char *attr, const char *value, char *why, size_t whylen);
bool xforward_any(const struct xforward *x);
size_t xforward_commands(const struct xforward *x, const char *offered, struct mx_buf *out);
bool xtext_decode(const char *in, size_t inlen, char *out, size_t outlen);

#endif
