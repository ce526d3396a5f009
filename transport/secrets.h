/* secrets - SMTP AUTH credentials per route, from a file only its owner may read */
#ifndef MX_SECRETS_H
#define MX_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain.h"

struct secret {
	char *key;		  /* as written, for messages */
	char host[MX_DOMAIN_MAX]; /* normalized name, or an address in inet_ntop's form */
	bool literal;		  /* host is an address ([addr] or a bare IPv4 address) */
	uint16_t port;		  /* 0: any port */
	int auth_tls; /* auth_tls=: MX_TLS_ENCRYPT or MX_TLS_VERIFY; -1: auth_tls_mode */
	int line;
	char *user, *pass;
};

struct secrets {
	struct secret *items;
	size_t count;
};

int secrets_load(const char *path, struct secrets *out, char *err, size_t errlen);
bool secrets_parse_key(const char *key, struct secret *out, char *err, size_t errlen);
const struct secret *secrets_find(const struct secrets *s, const char *host, bool literal,
				  uint16_t port, const char *domain);
void secrets_free(struct secrets *s);

#endif
