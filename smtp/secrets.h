/* secrets - SMTP AUTH credentials per route, from a file only its owner may read */
#ifndef MX_SECRETS_H
#define MX_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdb_table.h"
#include "domain.h"
#include "errlist.h"

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
	struct secret *items; /* the text, when it is read whole */
	size_t count;
	char *path;
	struct mx_cdb_table *index; /* the index, made from the file as it is: looked up by key */
	struct secret found;	    /* the last entry read from the index */
	bool broken; /* a damaged record, and the text does not load: lookups cannot be answered */
};

int secrets_load(const char *path, struct secrets *out, char *err, size_t errlen);
bool secrets_parse_key(const char *key, struct secret *out, char *err, size_t errlen);
const struct secret *secrets_find(struct secrets *s, const char *host, bool literal, uint16_t port,
				  const char *domain);
size_t secrets_count(const struct secrets *s);
bool secrets_index_build(const char *path, struct mx_errlist *errs, size_t *count);
enum mx_cdb_state secrets_index_state(const char *path, size_t *count, char *why, size_t whylen);
void secrets_free(struct secrets *s);

#endif
