/* smtp_session - one SMTP transaction with one server address: the client state machine */
#ifndef MX_SMTP_SESSION_H
#define MX_SMTP_SESSION_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "message.h"
#include "smtp_conn.h"
#include "smtp_reply.h"
#include "tls.h"
#include "tlsa.h"

enum smtp_stage {
	STAGE_CONNECT,
	STAGE_GREETING,
	STAGE_EHLO,
	STAGE_HELO,
	STAGE_STARTTLS,
	STAGE_TLS,
	STAGE_AUTH,
	STAGE_MAIL,
	STAGE_RCPT,
	STAGE_DATA,
	STAGE_DOT,
	STAGE_DONE,
};

enum smtp_verdict {
	SMTP_SENT, /* every recipient accepted after the final dot */
	SMTP_NEXT, /* this address failed before the transaction: try the next one */
	SMTP_TEMP, /* final for this delivery: defer */
	SMTP_PERM, /* final for this delivery: bounce */
};

/*
 * smtp_cache - a session kept open after a delivery, for the next message
 * to the same address with the same settings. The LMTP front keeps one per
 * connection (a pipe run ends with its only message): with Postfix feeding
 * it a message after another, the customer sees one SMTP session, not one
 * a message. Never used with DANE: TLSA records are looked up per message.
 */
struct smtp_cache {
	bool open;
	struct smtp_conn conn;
	struct smtp_reply ehlo;
	bool esmtp;
	bool tls_used;
	struct tls_info tls;
	struct sockaddr_storage sa;
	socklen_t salen;
	const SSL_CTX *tls_ctx;
	char key[1100]; /* host, TLS mode, HELO name, AUTH user */
	unsigned uses;	/* transactions on this connection so far */
};

struct smtp_request {
	const struct message *msg;
	const char *sender; /* "" for the null sender */
	const char *const *rcpts;
	size_t nrcpts;
	const char *helo_name;
	const char *host; /* the target's name (SNI, certificate name), or the literal address */
	bool literal;
	const struct sockaddr *sa;
	socklen_t salen;
	int tls_mode; /* MX_TLS_* */
	bool implicit_tls;
	bool plain_fallback; /* tls=may after a failed handshake: this attempt is in plain text */
	SSL_CTX *tls_ctx;
	const struct tlsa_set *dane;	   /* secure TLSA records: the certificate must match one */
	const char *auth_user, *auth_pass; /* NULL: no AUTH */
	unsigned connect_timeout_ms, command_timeout_ms, data_done_timeout_ms;
	long long limit_ms;		 /* the run's deadline */
	struct smtp_reply *rcpt_replies; /* nrcpts entries: each recipient's RCPT reply */
	struct smtp_cache *cache;	 /* NULL: connect, deliver, QUIT */
};

struct smtp_result {
	enum smtp_verdict verdict;
	enum smtp_stage stage; /* where it ended */
	bool have_reply;
	struct smtp_reply reply;
	char why[512];	 /* text for failures that are not a reply */
	char dsn[16];	 /* enhanced status code for the outcome */
	size_t bad_rcpt; /* STAGE_RCPT: index of the recipient refused */
	bool tls_used;
	bool tls_failed; /* handshake failed: a tls=may retry in plain text makes sense */
	struct tls_info tls;
	bool time_limit;   /* the run's own time limit ran out */
	unsigned conn_use; /* 1 on a new connection, 2 and up on a kept one */
};

void smtp_deliver(const struct smtp_request *req, struct smtp_result *res);
const char *smtp_stage_command(enum smtp_stage stage);
void smtp_cache_close(struct smtp_cache *cache);

#endif
