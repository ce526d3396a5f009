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
#include "status.h"
#include "tls.h"
#include "tlsa.h"
#include "xforward.h"

enum smtp_stage {
	STAGE_CONNECT,
	STAGE_GREETING,
	STAGE_EHLO,
	STAGE_HELO,
	STAGE_STARTTLS,
	STAGE_TLS,
	STAGE_AUTH,
	STAGE_XFORWARD,
	STAGE_MAIL,
	STAGE_RCPT,
	STAGE_DATA,
	STAGE_DOT,
	STAGE_RSET,
	STAGE_DONE,
};

/* What became of the recipients that are still pending when an attempt ends. */
enum smtp_verdict {
	SMTP_SENT, /* none is pending: each has its own result (struct smtp_rcpt) */
	SMTP_NEXT, /* this address failed for them before their message was sent: try the next */
	SMTP_TEMP, /* final for this delivery: defer them */
	SMTP_PERM, /* final for this delivery: bounce them */
};

/*
 * smtp_rcpt - one recipient of a delivery and what became of it. A session
 * works only on the recipients that are pending when it starts, so the same
 * array goes to the next address after a failure, and every recipient keeps
 * the result of the transaction that settled it (RFC 5321: a refused
 * recipient never holds back an accepted one).
 */
struct smtp_rcpt {
	const char *addr;
	enum rcpt_state state;
	enum smtp_stage stage; /* the command whose reply (or failure) settled it */
	bool is_reply;	       /* text is the server's reply, not a failure of ours */
	char dsn[16];
	char *text; /* heap: the reply on one line, or why; NULL while pending */
};

/*
 * smtp_cache - a session kept open after a delivery, for the next message
 * to the same address with the same settings. The LMTP front keeps one per
 * connection (a pipe run ends with its only message): with Postfix feeding
 * it a message after another, the customer sees one SMTP session, not one
 * a message. Never used with DANE: TLSA records are looked up per message.
 */
#define SMTP_REUSE_TIME_MS (300 * 1000) /* a kept connection is used no longer (Postfix: 300s) */

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
	char key[1100];	   /* host, TLS mode, HELO name, AUTH user */
	unsigned uses;	   /* transactions on this connection so far */
	long long born_ms; /* when the connection was made */
};

/*
 * smtp_trace - a watcher of the conversation (mxport-route --probe): what
 * is ">>>" sent, "<<<" received, "---" a change of state, or "***" an
 * event; text is one printable
 * line (credentials are never shown).
 */
typedef void smtp_trace_fn(void *arg, const char *what, const char *text);

struct smtp_request {
	const struct message *msg;
	const char *sender;	 /* "" for the null sender */
	struct smtp_rcpt *rcpts; /* in and out: the pending ones are tried */
	size_t nrcpts;
	unsigned rcpt_limit;	    /* most RCPTs in one transaction; 0: no limit */
	unsigned line_length_limit; /* longer message lines are folded; 0: never */
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
	long long limit_ms;	  /* the run's deadline */
	struct smtp_cache *cache; /* NULL: connect, deliver, QUIT */
	bool probe_only;	  /* connect, greeting, EHLO, STARTTLS, AUTH, QUIT: no mail */
	bool verify_only;	  /* MAIL FROM:<>, RCPT TO:<rcpts[0]>, QUIT: smtp_verify.c */
	smtp_trace_fn *trace;	  /* NULL: nobody watches */
	void *trace_arg;
	const struct xforward *xforward; /* the original client, for a server offering XFORWARD */
};

struct smtp_result {
	enum smtp_verdict verdict;
	enum smtp_stage stage; /* where it ended */
	bool have_reply;
	bool own_failure;	/* it ended in a failure of the client's own (session_fail) */
	enum mx_status failure; /* which: its row of the status table (own_failure) */
	char dsn[16];		/* enhanced status code for the outcome */
	bool tls_used;
	bool tls_failed; /* handshake failed: a tls=may retry in plain text makes sense */
	struct tls_info tls;
	bool time_limit;	/* the run's own time limit ran out */
	unsigned conn_use;	/* 1 on a new connection, 2 and up on a kept one */
	unsigned xforward_sent; /* XFORWARD commands the server took */
	/*
	 * The text buffers come last: a delivery clears the fields before
	 * them and empties these (5 KB cleared for every message was a tenth
	 * of a kept session's cost).
	 */
	struct smtp_reply reply;
	char why[512];		    /* text for failures that are not a reply */
	char xforward_refused[300]; /* its refusal of one (the mail went on without), or "" */
};

void smtp_request_init(struct smtp_request *req, const struct route_target *t,
		       const struct route_addr *a);
void smtp_deliver(const struct smtp_request *req, struct smtp_result *res);
void smtp_rcpts_free(struct smtp_rcpt *rcpts, size_t n);
const char *smtp_stage_command(enum smtp_stage stage);
const char *smtp_stage_name(enum smtp_stage stage);
enum smtp_verdict smtp_fate_verdict(enum mx_fate fate);
void smtp_cache_close(struct smtp_cache *cache);

#endif
