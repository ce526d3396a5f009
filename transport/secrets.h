/* secrets - SMTP AUTH credentials per route, from a file only its owner may read */
#ifndef MX_SECRETS_H
#define MX_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct secret {
	char *key, *user, *pass;
};

struct secrets {
	struct secret *items;
	size_t count;
};

int secrets_load(const char *path, struct secrets *out, char *err, size_t errlen);
const struct secret *secrets_find(const struct secrets *s, const char *host, uint16_t port,
				  const char *domain);
void secrets_free(struct secrets *s);

#endif
