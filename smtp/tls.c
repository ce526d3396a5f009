/* tls - the SMTP client's TLS through OpenSSL 3: context, handshake, what was negotiated */
#include "config.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "tls.h"
#include "tlsa.h"

/*
 * tls_ctx_new - one client context for the run. Certificates are always
 * checked and the result kept; whether a failed check matters is the TLS
 * mode's decision (see deliver.c), as in Postfix's smtp_tls_security_level.
 */
SSL_CTX *tls_ctx_new(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}

/*
 * tls_ctx_load_cas - the CAs that verify=... checks against. Loading the
 * system store costs real time, so a run only does it when a route asks.
 */
bool tls_ctx_load_cas(SSL_CTX *ctx, const char *ca_file, char *err, size_t errlen)
{
	if (ca_file && *ca_file) {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			snprintf(err, errlen, "tls_ca_file %s: %s", ca_file,
				 ERR_reason_error_string(ERR_get_error()));
			return false;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, errlen, "cannot load the system CA store: %s",
			 ERR_reason_error_string(ERR_get_error()));
		return false;
	}
	return true;
}

/* name_text - one-line X509 name */
static void name_text(const X509_NAME *name, char *out, size_t outlen)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int n;

	out[0] = '\0';
	if (bio == NULL)
		return;
	X509_NAME_print_ex(bio, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
	n = BIO_read(bio, out, (int)outlen - 1);
	out[n > 0 ? n : 0] = '\0';
	BIO_free(bio);
}

/* collect_info - protocol, cipher, certificate and the verification result */
static void collect_info(SSL *ssl, struct tls_info *info)
{
	X509 *cert = SSL_get1_peer_certificate(ssl);
	long vr = SSL_get_verify_result(ssl);

	snprintf(info->protocol, sizeof(info->protocol), "%s", SSL_get_version(ssl));
	snprintf(info->cipher, sizeof(info->cipher), "%s", SSL_get_cipher_name(ssl));
	info->have_cert = cert != NULL;
	if (cert) {
		BIO *bio = BIO_new(BIO_s_mem());

		name_text(X509_get_subject_name(cert), info->subject, sizeof(info->subject));
		name_text(X509_get_issuer_name(cert), info->issuer, sizeof(info->issuer));
		if (bio) {
			int n;
			ASN1_TIME_print(bio, X509_get0_notAfter(cert));
			n = BIO_read(bio, info->not_after, (int)sizeof(info->not_after) - 1);
			info->not_after[n > 0 ? n : 0] = '\0';
			BIO_free(bio);
		}
		X509_free(cert);
	}
	info->verified = cert != NULL && vr == X509_V_OK;
	if (cert == NULL)
		snprintf(info->verify_text, sizeof(info->verify_text), "no server certificate");
	else if (vr != X509_V_OK)
		snprintf(info->verify_text, sizeof(info->verify_text), "%s",
			 X509_verify_cert_error_string(vr));
	else
		snprintf(info->verify_text, sizeof(info->verify_text), "verified");
}

/*
 * tls_handshake - TLS on an open connection (after "220" to STARTTLS, or
 * at once for implicit TLS). host is sent as SNI and is the name the
 * certificate is checked against (the address, for a literal).
 */
int tls_handshake(struct smtp_conn *c, SSL_CTX *ctx, const char *host, bool literal,
		  const struct tlsa_set *dane, unsigned timeout_ms, struct tls_info *info,
		  char *err, size_t errlen)
{
	long long until = mx_now_ms() + timeout_ms;

	memset(info, 0, sizeof(*info));
	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		snprintf(err, errlen, "cannot set up TLS: %s",
			 ERR_reason_error_string(ERR_get_error()));
		return -1;
	}
	if (dane) {
		/* DANE (RFC 7672): the TLSA records, not the CAs, say which certificate is right.
		 */
		size_t usable = 0;
		if (SSL_CTX_dane_enable(ctx) <= 0 || SSL_dane_enable(c->ssl, host) <= 0) {
			snprintf(err, errlen, "cannot enable DANE: %s",
				 ERR_reason_error_string(ERR_get_error()));
			return -1;
		}
		/* RFC 7672 3.1.1: a DANE-EE(3) record pins the key; names are not checked. */
		SSL_dane_set_flags(c->ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
		for (size_t i = 0; i < dane->count; i++)
			if (SSL_dane_tlsa_add(c->ssl, dane->recs[i].usage, dane->recs[i].selector,
					      dane->recs[i].mtype, dane->recs[i].data,
					      dane->recs[i].len) > 0)
				usable++;
		ERR_clear_error();
		if (usable == 0) {
			snprintf(err, errlen, "no TLSA record of %s is usable", host);
			return -1;
		}
	} else if (literal) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host);
	} else {
		SSL_set_tlsext_host_name(c->ssl, host);
		SSL_set1_host(c->ssl, host);
	}
	for (;;) {
		int rc, e;
		short want;

		ERR_clear_error();
		rc = SSL_connect(c->ssl);
		if (rc == 1)
			break;
		e = SSL_get_error(c->ssl, rc);
		if (e == SSL_ERROR_WANT_READ)
			want = POLLIN;
		else if (e == SSL_ERROR_WANT_WRITE)
			want = POLLOUT;
		else {
			unsigned long q = ERR_get_error();
			snprintf(err, errlen, "TLS handshake failed: %s",
				 q ? ERR_reason_error_string(q)
				   : (e == SSL_ERROR_SYSCALL ? "connection closed by peer"
							     : "error"));
			ERR_clear_error();
			return -1;
		}
		rc = conn_wait(c, want, until);
		if (rc <= 0) {
			snprintf(err, errlen, "TLS handshake: %s",
				 c->hit_limit ? "delivery time limit reached" : "timeout");
			return -1;
		}
	}
	collect_info(c->ssl, info);
	if (dane) {
		info->dane = info->verified;
		if (info->verified)
			snprintf(info->verify_text, sizeof(info->verify_text), "verified by DANE");
	}
	return 0;
}
