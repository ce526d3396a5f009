/* tls - the SMTP client's TLS through OpenSSL 3: context, handshake, what was negotiated */
#ifndef MX_TLS_H
#define MX_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>

#include "smtp_conn.h"

struct tls_info {
	char protocol[32];
	char cipher[64];
	char subject[256];
	char issuer[256];
	char not_after[64];
	bool have_cert;
	bool verified;	       /* chain and name checked */
	bool dane;	       /* the certificate matched a DNSSEC-secure TLSA record */
	char verify_text[160]; /* why not, when not */
};

SSL_CTX *tls_ctx_new(void);
bool tls_ctx_load_cas(SSL_CTX *ctx, const char *ca_file, char *err, size_t errlen);
struct tlsa_set;
int tls_handshake(struct smtp_conn *c, SSL_CTX *ctx, const char *host, bool literal,
		  const struct tlsa_set *dane, unsigned timeout_ms, struct tls_info *info,
		  char *err, size_t errlen);

#endif
