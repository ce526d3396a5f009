/* lmtp - the transport as an LMTP server: one process for many messages, a reply per recipient */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cidr.h"
#include "clientfield.h"
#include "core.h"
#include "deliver.h"
#include "listen.h"
#include "lmtp.h"
#include "message.h"
#include "metrics.h"
#include "msg.h"
#include "path.h"
#include "policy.h"
#include "route_shared.h"
#include "smtp_conn.h"
#include "tls.h"
#include "status.h"
#include "util.h"
#include "xforward.h"

#define LMTP_LINE_MAX	       8192
#define LMTP_PROCESS_MAX_USE   100  /* connections a process serves, at most (Postfix's max_use) */
#define LMTP_IDLE_TAKE_MS      20   /* how long a waiting process has to take a new connection */
#define LMTP_SHARED_SLOTS      8192 /* DNS answers shared by the connection processes, at most */
#define LMTP_IDENT_MAX	       64   /* XFORWARD IDENT (the MTA's queue id), NUL included */
#define LMTP_LISTENER_CHECK_MS 5000 /* the listener looks at the files at least this often */

/* What one connection keeps across messages. */
struct lmtp_session {
	struct transport_core
		*core;		/* configuration, TLS context, route cache, kept SMTP session */
	struct smtp_conn conn;	/* commands and data come in here */
	struct smtp_conn reply; /* replies go out here (the same socket, or stdout) */
	struct mx_buf out;	/* replies not written yet (say) */
	bool hold;		/* say keeps them until flush (the replies after the dot) */
	char hostname[256];
};

/* messages - delivered by this process (a queue id's second part: unique per process) */
static unsigned long messages;

/* idle_ms - the client's silence we wait out (lmtp_idle_timeout) */
static unsigned idle_ms(const struct lmtp_session *ls)
{
	return (ls->core->cfg ? ls->core->cfg->lmtp_idle_timeout : 300) * 1000;
}

/*
 * nonblocking - the client's reads then wait in poll(), for
 * lmtp_idle_timeout at most (a blocking descriptor would wait forever).
 * Only the input: standard output may share its file with standard error.
 */
static void nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags >= 0)
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* flush - write the replies said and not written yet */
static bool flush(struct lmtp_session *ls)
{
	char err[256];
	bool ok = true;

	if (ls->out.len > 0)
		ok = conn_write(&ls->reply, ls->out.data, ls->out.len, idle_ms(ls), err,
				sizeof(err)) > 0;
	ls->out.len = 0;
	return ok;
}

/* command_waiting - a whole command line has been read and not taken yet */
static bool command_waiting(const struct lmtp_session *ls)
{
	size_t avail;
	const char *p = conn_peek(&ls->conn, &avail);

	return avail > 0 && memchr(p, '\n', avail) != NULL;
}

/*
 * say - one reply line. As Postfix's smtpd does, replies to pipelined
 * commands go out together: a reply waits while the next command is here
 * already (it is answered at once), and goes with the last one's; never
 * while this process waits for the client. The replies after the dot are
 * held (ls->hold) and written at once by flush.
 */
static bool say(struct lmtp_session *ls, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static bool say(struct lmtp_session *ls, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return false;
	if (n > (int)sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	memcpy(line + n, "\r\n", 2);
	mx_buf_append(&ls->out, line, (size_t)n + 2);
	return ls->hold || command_waiting(ls) || flush(ls);
}

/* reply - a reply of the status table's: its code, its enhanced code, then the text */
static bool reply(struct lmtp_session *ls, enum mx_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool reply(struct lmtp_session *ls, enum mx_status status, const char *fmt, ...)
{
	const struct mx_status_row *row = mx_status(status);
	char text[3000];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return say(ls, "%d %s %s", row->reply, row->dsn, text);
}

/* path_arg - the address in the path after "MAIL FROM:" or "RCPT TO:" (path.c: quoted local parts)
 */
static char *path_arg(const char *arg)
{
	return mx_path_parse(arg, NULL);
}

/* read_command - one command line; 2 for one too long (read to its end and dropped) */
static int read_command(struct lmtp_session *ls, char *line, size_t *n)
{
	char err[256];
	bool eol;
	int rc = conn_read_piece(&ls->conn, line, LMTP_LINE_MAX, n, &eol, idle_ms(ls), err,
				 sizeof(err));

	if (rc <= 0 || eol)
		return rc;
	while (rc == 1 && !eol) {
		char rest[LMTP_LINE_MAX + 1];
		size_t m;

		rc = conn_read_piece(&ls->conn, rest, LMTP_LINE_MAX, &m, &eol, idle_ms(ls), err,
				     sizeof(err));
	}
	return rc == 1 ? 2 : rc;
}

/* data_add - bytes of the message, unless it has grown too big already */
static void data_add(struct mx_buf *buf, bool *too_big, const char *p, size_t n)
{
	if (*too_big || n == 0)
		return;
	if (buf->len + n + 2 > MESSAGE_MAX) {
		*too_big = true;
		return;
	}
	mx_buf_append(buf, p, n);
}

/*
 * read_data - the message after DATA, dot-unstuffed, lines ending in CR LF
 * (a bare LF becomes CR LF). A line may be of any length: a client's long
 * line is no reason to drop the session without a reply (it is folded
 * later, if line_length_limit says so). The lines are scanned where they
 * were read, and each run of lines that need no change (CR LF, no leading
 * dot) is appended at once, not line by line.
 */
static int read_data(struct lmtp_session *ls, char **data, size_t *len,
		     struct message_checked *checked)
{
	struct mx_buf buf = {0};
	char err[256];
	bool too_big = false, line_start = true, done = false;
	size_t line_len = 0; /* of the line being read, before this buffer's part */

	checked->crlf_nodot = true;
	checked->longest = 0;
	while (!done) {
		size_t avail, pos = 0, run = 0;
		const char *p = conn_peek(&ls->conn, &avail);
		const char *nl;

		while (pos < avail && (nl = memchr(p + pos, '\n', avail - pos)) != NULL) {
			size_t end = (size_t)(nl - p), content = end;

			if (content > pos && p[content - 1] == '\r')
				content--;
			if (line_start && p[pos] == '.') {
				data_add(&buf, &too_big, p + run, pos - run);
				if (content == pos + 1) {
					pos = run = end + 1;
					done = true;
					break;
				}
				run = pos + 1; /* the stuffed dot */
				checked->crlf_nodot = false;
			}
			if (content == end) { /* a bare LF */
				data_add(&buf, &too_big, p + run, end - run);
				data_add(&buf, &too_big, "\r\n", 2);
				run = end + 1;
				checked->crlf_nodot = false;
			}
			line_len += content - pos;
			if (line_len > checked->longest)
				checked->longest = line_len;
			line_len = 0;
			line_start = true;
			pos = end + 1;
		}
		if (!done && avail - pos > LMTP_LINE_MAX) {
			/*
			 * A line longer than this: what there is of it goes now, but a
			 * CR at its end waits for the LF that may follow it.
			 */
			size_t keep = p[avail - 1] == '\r' ? 1 : 0;

			if (line_start && p[pos] == '.') {
				data_add(&buf, &too_big, p + run, pos - run);
				run = pos + 1;
				checked->crlf_nodot = false;
			}
			line_start = false;
			line_len += avail - keep - pos;
			pos = avail - keep;
		}
		data_add(&buf, &too_big, p + run, pos - run);
		conn_take(&ls->conn, pos);
		if (!done && conn_more(&ls->conn, idle_ms(ls), err, sizeof(err)) <= 0) {
			mx_buf_free(&buf);
			return -1;
		}
	}
	if (too_big) {
		mx_buf_free(&buf);
		return 1;
	}
	*data = buf.data ? buf.data : mx_strdup("");
	*len = buf.len;
	return 0;
}

/*
 * deliver_data - relay one message; one reply per recipient, in RCPT order.
 * With lmtp_client_field set, the MTA's queue id and original client come
 * from that header field (Exim sends no XFORWARD), which is taken out of
 * raw, every copy of it (clientfield.c); XFORWARD, when sent, still wins.
 */
static bool deliver_data(struct lmtp_session *ls, const char *sender, char **rcpts, size_t n,
			 char *raw, size_t rawlen, const struct message_checked *checked,
			 const struct xforward *client, const char *ident)
{
	struct rcpt_outcome *out;
	struct xforward fielded = {.addr = ""};
	char qid[64], mta_qid[CLIENTFIELD_QUEUE_MAX + 1] = "";
	bool ok = true;

	if (!core_refresh(ls->core, "lmtp")) {
		for (size_t i = 0; i < n && ok; i++)
			ok = say(ls, "%d %s <%s>: %s", mx_status(MX_ST_CONFIG)->reply,
				 mx_status(MX_ST_CONFIG)->dsn, rcpts[i], ls->core->error);
		return ok;
	}
	if (ls->core->cfg->lmtp_client_field && *ls->core->cfg->lmtp_client_field) {
		rawlen = clientfield_take(raw, rawlen, ls->core->cfg->lmtp_client_field, &fielded,
					  mta_qid, sizeof(mta_qid));
		if (!xforward_any(client))
			client = &fielded;
	}
	out = mx_calloc(n, sizeof(*out));
	/*
	 * The MTA's queue id (XFORWARD IDENT, or Exim's in lmtp_client_field)
	 * when it gave one: its logs and ours then join. XFORWARD wins.
	 */
	++messages;
	if (*ident)
		mx_strlcpy(qid, ident, sizeof(qid));
	else if (*mta_qid)
		mx_strlcpy(qid, mta_qid, sizeof(qid));
	else
		snprintf(qid, sizeof(qid), "L%ld.%lu", (long)getpid(), messages);
	for (size_t i = 0; i < n; i++)
		out[i].rcpt = rcpts[i];
	core_deliver(ls->core, qid, sender, raw, rawlen, checked, true,
		     xforward_any(client) ? client : NULL, out, n);
	ls->hold = true;
	for (size_t i = 0; i < n && ok; i++) {
		const struct rcpt_outcome *o = &out[i];
		char dsn[16];

		mx_strlcpy(dsn, o->dsn, sizeof(dsn));
		if (o->state == RCPT_SENT)
			ok = say(ls, "250 %s <%s>: sent via %s (%s)",
				 dsn[0] == '2' ? dsn : mx_status_dsn(MX_ST_SENT), o->rcpt, o->relay,
				 o->text);
		else if (o->state == RCPT_BOUNCE)
			ok = say(ls, "550 %s %s", dsn, o->text);
		else {
			mx_dsn_deferred(dsn);
			ok = say(ls, "451 %s %s", dsn, o->text);
		}
	}
	ls->hold = false;
	free(out);
	return flush(ls) && ok;
}

/*
 * xforward_command - "XFORWARD attr=xtext ..." from lmtp(8)
 * (lmtp_send_xforward_command = yes): the original client, for the next
 * transaction. Malformed: 501, and nothing of it is kept. A value that
 * fails its check is logged and dropped; the mail goes on without it.
 */
/* ident_ok - a queue id as Postfix makes them (letters and digits), short enough to log */
static bool ident_ok(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n >= LMTP_IDENT_MAX)
		return false;
	for (; *v; v++)
		if (!((*v >= '0' && *v <= '9') || ((*v | 0x20) >= 'a' && (*v | 0x20) <= 'z')))
			return false;
	return true;
}

static void xforward_command(struct lmtp_session *ls, const char *args, struct xforward *client,
			     char *ident)
{
	struct xforward x = *client;
	char value[300], why[128], id[LMTP_IDENT_MAX];
	int nattrs = 0;
	bool have_id = false;

	for (const char *p = args;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		size_t len = strcspn(p, " ");
		const char *eq = memchr(p, '=', len);
		char name[16];

		if (eq == NULL || eq == p || (size_t)(eq - p) >= sizeof(name) ||
		    !xtext_decode(eq + 1, len - (size_t)(eq + 1 - p), value, sizeof(value))) {
			reply(ls, MX_ST_LMTP_SYNTAX, "Bad XFORWARD attribute syntax");
			return;
		}
		memcpy(name, p, (size_t)(eq - p));
		name[eq - p] = '\0';
		p += len;
		nattrs++;
		if (strcasecmp(name, "IDENT") == 0) {
			/* The MTA's queue id: for our log lines, never sent on. */
			if (strcmp(value, "[UNAVAILABLE]") == 0) {
				id[0] = '\0';
			} else if (ident_ok(value)) {
				mx_strlcpy(id, value, sizeof(id));
			} else {
				value[79] = '\0';
				mx_printable(value);
				msg_warn("lmtp: XFORWARD IDENT dropped: not a queue id: \"%s\"",
					 value);
				id[0] = '\0';
			}
			have_id = true;
			continue;
		}
		int rc = xforward_set(&x, name, value, why, sizeof(why));
		if (rc == -2) {
			reply(ls, MX_ST_LMTP_SYNTAX, "Bad XFORWARD attribute name: %s", name);
			return;
		}
		if (rc == -1) {
			value[79] = '\0'; /* enough to show */
			mx_printable(value);
			msg_warn("lmtp: XFORWARD %s dropped, not sent on: %s: \"%s\"", name, why,
				 value);
		}
	}
	if (nattrs == 0) {
		reply(ls, MX_ST_LMTP_SYNTAX, "Syntax: XFORWARD attribute=value...");
		return;
	}
	*client = x;
	if (have_id)
		mx_strlcpy(ident, id, LMTP_IDENT_MAX);
	reply(ls, MX_ST_LMTP_OK, "Ok");
}

/* lmtp_txn - one LMTP transaction's state: what MAIL, RCPT and XFORWARD gave */
struct lmtp_txn {
	char *sender;
	char **rcpts;
	size_t nrcpt;
	struct xforward client;	    /* XFORWARD: the original client, for this transaction */
	char ident[LMTP_IDENT_MAX]; /* XFORWARD IDENT: the MTA's queue id, the same */
	const char *given;	    /* -q: the MTA's queue id for every message (Sendmail's $i) */
};

/* txn_reset - the transaction is over (delivered, or RSET): back to the start */
static void txn_reset(struct lmtp_txn *tx)
{
	memset(&tx->client, 0, sizeof(tx->client));
	mx_strlcpy(tx->ident, tx->given, sizeof(tx->ident));
	for (size_t i = 0; i < tx->nrcpt; i++)
		free(tx->rcpts[i]);
	tx->nrcpt = 0;
	free(tx->sender);
	tx->sender = NULL;
}

/* what a command leaves the conversation */
enum lmtp_next {
	LMTP_GO_ON,
	LMTP_QUIT, /* the client said QUIT */
	LMTP_LOST, /* the connection is gone */
};

static enum lmtp_next cmd_lhlo(struct lmtp_session *ls, struct lmtp_txn *tx, const char *args)
{
	(void)tx;
	(void)args;
	say(ls, "250-%s", ls->hostname);
	say(ls, "250-PIPELINING");
	say(ls, "250-ENHANCEDSTATUSCODES");
	say(ls, "250-8BITMIME");
	say(ls, "250-XFORWARD NAME ADDR PROTO HELO SOURCE IDENT");
	say(ls, "250 SMTPUTF8");
	return LMTP_GO_ON;
}

static enum lmtp_next cmd_xforward(struct lmtp_session *ls, struct lmtp_txn *tx, const char *args)
{
	if (tx->sender)
		reply(ls, MX_ST_LMTP_SEQUENCE, "Error: MAIL transaction in progress");
	else
		xforward_command(ls, args, &tx->client, tx->ident);
	return LMTP_GO_ON;
}

/*
 * cmd_mail - a second MAIL in a transaction is refused (503, as Postfix's
 * smtpd says "nested MAIL command"): one with a bad path would otherwise
 * leave the recipients already given without a sender, and DATA would
 * deliver them with none.
 */
static enum lmtp_next cmd_mail(struct lmtp_session *ls, struct lmtp_txn *tx, const char *args)
{
	if (tx->sender) {
		reply(ls, MX_ST_LMTP_SEQUENCE, "Error: nested MAIL command");
		return LMTP_GO_ON;
	}
	tx->sender = path_arg(args);
	if (tx->sender)
		reply(ls, MX_ST_LMTP_SENDER_OK, "Ok");
	else
		reply(ls, MX_ST_LMTP_SYNTAX, "Syntax: MAIL FROM:<address>");
	return LMTP_GO_ON;
}

static enum lmtp_next cmd_rcpt(struct lmtp_session *ls, struct lmtp_txn *tx, const char *args)
{
	char *r = path_arg(args);

	if (tx->sender == NULL) {
		free(r);
		reply(ls, MX_ST_LMTP_SEQUENCE, "MAIL first");
	} else if (r == NULL || *r == '\0') {
		free(r);
		reply(ls, MX_ST_LMTP_SYNTAX, "Syntax: RCPT TO:<address>");
	} else if (tx->nrcpt >= ls->core->cfg->lmtp_recipient_limit) {
		/* lmtp(8) sends the rest in a later transaction. */
		free(r);
		reply(ls, MX_ST_LMTP_TOO_MANY, "Error: too many recipients (lmtp_recipient_limit)");
	} else {
		tx->rcpts = mx_realloc(tx->rcpts, (tx->nrcpt + 1) * sizeof(*tx->rcpts));
		tx->rcpts[tx->nrcpt++] = r;
		reply(ls, MX_ST_LMTP_RCPT_OK, "Ok");
	}
	return LMTP_GO_ON;
}

static enum lmtp_next cmd_data(struct lmtp_session *ls, struct lmtp_txn *tx, const char *args)
{
	char *data = NULL;
	size_t len = 0;
	struct message_checked checked;
	int dr;

	(void)args;
	if (tx->nrcpt == 0 || tx->sender == NULL) {
		reply(ls, MX_ST_LMTP_SEQUENCE, "RCPT first");
		return LMTP_GO_ON;
	}
	say(ls, "354 End data with <CR><LF>.<CR><LF>");
	flush(ls);
	dr = read_data(ls, &data, &len, &checked);
	if (dr < 0)
		return LMTP_LOST;
	if (dr > 0) {
		for (size_t i = 0; i < tx->nrcpt; i++)
			reply(ls, MX_ST_LMTP_TOO_BIG, "<%s>: message too big", tx->rcpts[i]);
	} else {
		deliver_data(ls, tx->sender, tx->rcpts, tx->nrcpt, data, len, &checked, &tx->client,
			     tx->ident);
		free(data);
	}
	txn_reset(tx);
	return LMTP_GO_ON;
}

static enum lmtp_next cmd_rset(struct lmtp_session *ls, struct lmtp_txn *tx, const char *args)
{
	(void)args;
	txn_reset(tx);
	reply(ls, MX_ST_LMTP_OK, "Ok");
	return LMTP_GO_ON;
}

static enum lmtp_next cmd_noop(struct lmtp_session *ls, struct lmtp_txn *tx, const char *args)
{
	(void)tx;
	(void)args;
	reply(ls, MX_ST_LMTP_OK, "Ok");
	return LMTP_GO_ON;
}

static enum lmtp_next cmd_quit(struct lmtp_session *ls, struct lmtp_txn *tx, const char *args)
{
	(void)tx;
	(void)args;
	reply(ls, MX_ST_LMTP_BYE, "Bye");
	return LMTP_QUIT;
}

/*
 * The commands, as Postfix's smtpd_cmd_table[] and OpenSMTPD's commands[]:
 * a name, whether arguments follow it (then the name must be followed by a
 * space or the end, or end in ':' itself), and what it does.
 */
static const struct lmtp_command {
	const char *name;
	bool args;
	enum lmtp_next (*run)(struct lmtp_session *ls, struct lmtp_txn *tx, const char *args);
} commands[] = {
	{"LHLO", true, cmd_lhlo},	{"XFORWARD", true, cmd_xforward},
	{"MAIL FROM:", true, cmd_mail}, {"RCPT TO:", true, cmd_rcpt},
	{"DATA", false, cmd_data},	{"RSET", false, cmd_rset},
	{"NOOP", false, cmd_noop},	{"QUIT", false, cmd_quit},
};

/* command_of - the table's entry for a command line, and where its arguments start */
static const struct lmtp_command *command_of(const char *line, const char **args)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct lmtp_command *c = &commands[i];
		size_t n = strlen(c->name);

		if (strncasecmp(line, c->name, n) != 0)
			continue;
		if (c->args ? (c->name[n - 1] == ':' || line[n] == ' ' || line[n] == '\0')
			    : line[n] == '\0') {
			*args = line + n;
			return c;
		}
	}
	return NULL;
}

/*
 * serve - one LMTP conversation (RFC 2033) on in/out with a delivery core
 * that may have served earlier connections (its configuration, TLS context
 * and route cache stay; its kept SMTP session is closed at the end).
 */
static int serve(struct transport_core *core, int in, int out, const char *queue_id)
{
	struct lmtp_session ls;
	struct lmtp_txn tx = {.sender = NULL};
	char line[LMTP_LINE_MAX + 1];
	size_t n;
	enum lmtp_next next = LMTP_GO_ON;

	tx.given = queue_id && ident_ok(queue_id) ? queue_id : "";
	mx_strlcpy(tx.ident, tx.given, sizeof(tx.ident));
	memset(&ls, 0, sizeof(ls));
	ls.core = core;
	ls.conn.fd = in;
	nonblocking(in);
	ls.conn.limit_ms = (long long)1 << 62;
	ls.reply.fd = out;
	ls.reply.limit_ms = ls.conn.limit_ms;
	if (gethostname(ls.hostname, sizeof(ls.hostname) - 1) != 0 || !*ls.hostname)
		mx_strlcpy(ls.hostname, "localhost", sizeof(ls.hostname));
	core_refresh(ls.core, "lmtp");
	if (!say(&ls, "220 %s LMTP mxport-transport ready", ls.hostname)) {
		mx_buf_free(&ls.out);
		return 1;
	}
	while (next == LMTP_GO_ON) {
		const struct lmtp_command *cmd;
		const char *args;

		/* A kept session waits connection_cache_time for the next message, no more. */
		if (ls.core->cache.open && !conn_has_buffered(&ls.conn) &&
		    conn_wait(&ls.conn, POLLIN,
			      mx_now_ms() +
				      (long long)ls.core->cfg->connection_cache_time * 1000) == 0)
			smtp_cache_close(&ls.core->cache);
		int got = read_command(&ls, line, &n);
		if (got <= 0)
			break;
		if (got == 2)
			reply(&ls, MX_ST_LMTP_TOO_LONG, "Error: line too long");
		else if ((cmd = command_of(line, &args)) == NULL)
			reply(&ls, MX_ST_LMTP_UNKNOWN, "Command not recognized");
		else
			next = cmd->run(&ls, &tx, args);
	}
	flush(&ls);
	mx_buf_free(&ls.out);
	txn_reset(&tx);
	free(tx.rcpts);
	smtp_cache_close(&core->cache);
	return 0;
}

/*
 * lmtp_serve - one LMTP conversation on in/out: Postfix's lmtp(8) over a
 * socket, or a Sendmail mailer with flag z over stdin and stdout. Each
 * recipient gets its own final reply after the message.
 */
int lmtp_serve(int in, int out, const char *config_path, const char *queue_id)
{
	struct transport_core core;
	int rc;

	core_init(&core, config_path);
	rc = serve(&core, in, out, queue_id);
	core_free(&core);
	return rc;
}

/* on_child - nothing: the signal only interrupts poll() (no SA_RESTART) */
static void on_child(int sig)
{
	(void)sig;
}

/*
 * The connection processes, one slot each in memory shared with the
 * listener: pid 0 is a free slot; idle is set by a process while it waits
 * for its next connection. The listener clears a slot when it reaps its
 * process, so a process that dies while idle is never counted as idle.
 */
struct lmtp_slot {
	pid_t pid;
	int idle; /* read and written with __atomic builtins */
};

static struct lmtp_slot *slots;
static unsigned nslots;

/*
 * reap - collect finished connection processes and free their slots; wait
 * for one when block. Returns how many were collected.
 */
static unsigned reap(bool block)
{
	unsigned n = 0;
	pid_t pid;

	int status;

	while ((pid = waitpid(-1, &status, block && n == 0 ? 0 : WNOHANG)) != 0) {
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: none left */
		}
		/* A connection process that died says nothing itself: say it here. */
		if (WIFSIGNALED(status))
			msg_error("lmtp: connection process %ld killed by signal %d (%s); its "
				  "client (lmtp(8)) defers what was not answered",
				  (long)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
		else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			msg_error("lmtp: connection process %ld exited with status %d", (long)pid,
				  WEXITSTATUS(status));
		for (unsigned i = 0; i < nslots; i++) {
			if (slots[i].pid == pid) {
				__atomic_store_n(&slots[i].idle, 0, __ATOMIC_SEQ_CST);
				slots[i].pid = 0;
			}
		}
		n++;
	}
	return n;
}

/* idle_processes - connection processes waiting for a connection now */
static unsigned idle_processes(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nslots; i++)
		n += slots[i].pid != 0 && __atomic_load_n(&slots[i].idle, __ATOMIC_SEQ_CST);
	return n;
}

/*
 * wait_for_room - at most lmtp_max_clients processes: over it, wait for
 * one to end before the next accept(). The clients over the limit wait in
 * the listen queue (or are taken by an idle process), and those being
 * served are not disturbed.
 */
static void wait_for_room(unsigned *children, unsigned max)
{
	static time_t warned;
	unsigned done = reap(false);

	*children = done > *children ? 0 : *children - done;
	while (*children >= max) {
		if (time(NULL) - warned >= 60 &&
		    idle_processes() == 0) { /* once a minute at most */
			msg_warn("lmtp: %u connections (lmtp_max_clients): new ones wait",
				 *children);
			warned = time(NULL);
		}
		done = reap(true);
		if (done == 0) { /* no child left: the count was wrong */
			*children = 0;
			break;
		}
		*children = done > *children ? 0 : *children - done;
	}
}

/* The listening socket, in a connection process; -1 once the listener stopped. */
static volatile sig_atomic_t child_lfd = -1;

/*
 * on_listener_stop - in a connection process: the listener stopped, so stop
 * listening at once, and a new daemon can take the socket's path while the
 * connection being served goes on to its end (close() is safe in a handler)
 */
static void on_listener_stop(int sig)
{
	(void)sig;
	if (child_lfd >= 0)
		close(child_lfd);
	child_lfd = -1;
}

/* on_stop - in the listener: SIGTERM or SIGINT; the connection processes are told, then it ends */
static void on_stop(int sig)
{
	for (unsigned i = 0; i < nslots; i++)
		if (slots[i].pid > 0)
			kill(slots[i].pid, SIGUSR1);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* inet_clients - lmtp_inet_clients, for a -L inet: listener; none: a unix socket */
static struct mx_netlist inet_clients;
static bool inet_listener;

/*
 * admitted - c may be served: over the unix socket (the MTA's user only),
 * or over TCP from an address of lmtp_inet_clients; else it is closed
 */
static bool admitted(int c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char shown[INET6_ADDRSTRLEN] = "?";

	if (!inet_listener)
		return true;
	if (getpeername(c, (struct sockaddr *)&ss, &len) == 0 &&
	    mx_netlist_match(&inet_clients, (const struct sockaddr *)&ss))
		return true;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, shown, sizeof(shown));
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, shown, sizeof(shown));
	msg_warn("lmtp: connection from %s refused: not in lmtp_inet_clients", shown);
	close(c);
	return false;
}

/*
 * next_connection - a process that served a connection waits for another
 * on the listening socket, with its delivery core (configuration, TLS
 * context, route cache) kept: -1 after lmtp_process_idle_time without one,
 * or when the listener is gone (a stopped daemon takes no more mail).
 */
static int next_connection(pid_t listener, struct lmtp_slot *slot, unsigned idle_s)
{
	long long until = mx_now_ms() + (long long)idle_s * 1000;
	int c = -1;

	__atomic_store_n(&slot->idle, 1, __ATOMIC_SEQ_CST);
	while (c < 0 && getppid() == listener) {
		long long left = until - mx_now_ms();
		int lfd = child_lfd;
		struct pollfd pfd = {.fd = lfd, .events = POLLIN};

		if (left <= 0 || lfd < 0)
			break;
		if (poll(&pfd, 1, left > 1000 ? 1000 : (int)left) <= 0)
			continue;
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED &&
		    errno != EINTR)
			break; /* out of descriptors, say: the listener starts a fresh process */
		if (c >= 0 && !admitted(c))
			c = -1;
	}
	__atomic_store_n(&slot->idle, 0, __ATOMIC_SEQ_CST);
	return c;
}

/*
 * connection_process - serve c, then the next connections that come while
 * it waits (as Postfix's own daemon processes do, with max_idle and
 * max_use): its route cache serves them all, where a process per
 * connection asked DNS again for every connection. core: the listener's,
 * as this process inherited it: the configuration in force (the last good
 * one) from the start, whatever the files say now.
 */
static void connection_process(int lfd, int c, pid_t listener, struct lmtp_slot *slot,
			       struct transport_core *core)
{
	unsigned uses = 0;

	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	child_lfd = lfd;
#ifdef __linux__
	/*
	 * A listener killed (kill -9, a crash) cannot tell its processes to let
	 * go of the socket: the kernel does (SIGUSR1, on_listener_stop), or the
	 * restarted daemon would find the socket still answering and refuse to
	 * take it while they finish their connections.
	 */
	prctl(PR_SET_PDEATHSIG, SIGUSR1);
#endif
	if (getppid() != listener)
		on_listener_stop(SIGUSR1); /* it died before that */
	do {
		serve(core, c, c, NULL);
		close(c);
		c = -1;
		if (++uses >= LMTP_PROCESS_MAX_USE || core->cfg == NULL ||
		    core->cfg->lmtp_process_idle_time == 0)
			break;
		c = next_connection(listener, slot, core->cfg->lmtp_process_idle_time);
	} while (c >= 0);
	core_free(core);
	_exit(0);
}

/* what the listener writes for node_exporter, and when */
struct textfile {
	char *metrics_file; /* the shared counters; NULL: no metrics */
	char *path;	    /* metrics_textfile; NULL: none written */
	unsigned max_routes;
	long long interval_ms;
	long long next_ms;
};

/*
 * write_textfile - metrics_textfile anew from the shared counters, when its
 * time has come: the table is opened for each write, and read as it is (a
 * connection process may have made it anew with another
 * metrics_max_routes, which the listener, reading mxport.conf once, would
 * otherwise undo); made only when there is none. Trouble is logged once a
 * minute; the listener goes on.
 */
static void write_textfile(struct textfile *tf)
{
	struct mx_metrics *m;
	char err[600];

	if (tf->path == NULL || mx_now_ms() < tf->next_ms)
		return;
	tf->next_ms = mx_now_ms() + tf->interval_ms;
	m = mx_metrics_open_read(tf->metrics_file, err, sizeof(err));
	if (m == NULL)
		m = mx_metrics_open(tf->metrics_file, tf->max_routes, err, sizeof(err));
	if (m == NULL || !mx_metrics_write_textfile(m, tf->path, err, sizeof(err)))
		mx_metrics_trouble("%s", err);
	mx_metrics_close(m);
}

/* textfile_wait_ms - poll()'s timeout until the next write (-1: none due) */
static int textfile_wait_ms(const struct textfile *tf)
{
	long long left;

	if (tf->path == NULL)
		return -1;
	left = tf->next_ms - mx_now_ms();
	return left < 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

/*
 * listener_config - the whole configuration, checked, before anything
 * else: a daemon that starts with a broken file refuses to start (naming
 * file and line: core_refresh logs each error, to stderr too). Fills perm
 * with the socket's owner, group and mode. Returns 0, or the exit status.
 */
static int listener_config(struct transport_core *core, const char *spec, const char *config_path,
			   struct mx_sockperm *perm)
{
	struct mx_config *cfg;
	char err[512] = "";

	core_init(core, config_path);
	core->gate = mmap(NULL, sizeof(*core->gate), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (core->gate == MAP_FAILED) {
		msg_error("lmtp: mmap: %s", strerror(errno));
		return 71;
	}
	memset(core->gate, 0, sizeof(*core->gate));
	if (!core_refresh(core, "lmtp")) {
		msg_error("lmtp: %s: configuration error: not started", config_path);
		return 78; /* EX_CONFIG */
	}
	cfg = core->cfg;
	if (!mx_sockperm_resolve(cfg->socket_owner, cfg->socket_group, cfg->socket_mode, getuid(),
				 getgid(), perm, err, sizeof(err))) {
		msg_error("lmtp: %s: %s: not started", config_path, err);
		return 78;
	}
	/* TCP: only from the clients the admin names (see admitted), never from anyone. */
	inet_listener = strncmp(spec, "inet:", 5) == 0;
	if (inet_listener &&
	    (!mx_netlist_parse(cfg->lmtp_inet_clients, &inet_clients, err, sizeof(err)) ||
	     inet_clients.count == 0)) {
		if (!*err || inet_clients.count == 0)
			snprintf(
				err, sizeof(err),
				"-L %s: a TCP listener is reachable by anyone: name its clients in "
				"lmtp_inet_clients, or listen on unix:/path",
				spec);
		msg_error("lmtp: %s: %s", config_path, err);
		fprintf(stderr, "mxport-transport: %s: %s\n", config_path, err);
		return 78;
	}
	return 0;
}

/*
 * listener_share - the connection processes share their DNS answers:
 * together they ask once per name per TTL. Two slots a domain (its route,
 * its target's addresses); without the memory, each process still has its
 * own cache.
 */
static void listener_share(struct transport_core *core)
{
	const struct mx_config *cfg = core->cfg;
	struct route_shared *shared;

	shared = route_shared_new(cfg->route_cache_size < LMTP_SHARED_SLOTS ? cfg->route_cache_size
									    : LMTP_SHARED_SLOTS);
	core->shared = shared;
	if (core->routes && shared) {
		/* As core_refresh does for each configuration it puts in force. */
		char tag[64];

		snprintf(tag, sizeof(tag), "%lx:%lx:%llx:%lx", (unsigned long)core->files[0].dev,
			 (unsigned long)core->files[0].ino, (long long)core->files[0].mtime.tv_sec,
			 (unsigned long)core->files[0].mtime.tv_nsec);
		route_ctx_set_shared(core->routes, shared, tag);
	}
}

/* textfile_init - what the listener writes for node_exporter, from cfg */
static void textfile_init(struct textfile *tf, const struct mx_config *cfg)
{
	if (*cfg->metrics_file && *cfg->metrics_textfile) {
		tf->metrics_file = mx_strdup(cfg->metrics_file);
		tf->path = mx_strdup(cfg->metrics_textfile);
		tf->max_routes = cfg->metrics_max_routes;
		tf->interval_ms = (long long)cfg->metrics_interval * 1000;
	} else if (*cfg->metrics_textfile) {
		msg_warn("lmtp: metrics_textfile without metrics_file: not written");
	}
}

/* listener_signals - a child's end, the listener's stop, and the connection processes' */
static void listener_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	/* A child's end interrupts poll(), so that wait_for_room reaps it at once. */
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	/* Stopping tells the connection processes to let go of the socket (they inherit this). */
	sa.sa_handler = on_listener_stop;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_stop;
	sa.sa_flags = 0;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

/* slots_make - max slots, shared with the connection processes: which of them wait */
static bool slots_make(unsigned max)
{
	nslots = max;
	slots = mmap(NULL, nslots * sizeof(*slots), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slots == MAP_FAILED) {
		msg_error("lmtp: mmap: %s", strerror(errno));
		return false;
	}
	memset(slots, 0, nslots * sizeof(*slots));
	return true;
}

/*
 * accept_one - the connection waiting on fd, given to a new connection
 * process (the listener forks with the configuration in force); nothing
 * when an idle process took it first, or when it is not admitted
 */
static void accept_one(int fd, unsigned *children, struct transport_core *core)
{
	/* Non-blocking: the reads then wait in poll(), for lmtp_idle_timeout at most. */
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	pid_t pid, listener = getpid();
	unsigned slot = 0;

	if (c < 0) {
		if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN &&
		    errno != EWOULDBLOCK) {
			msg_error("lmtp: accept: %s", strerror(errno));
			sleep(1);
		}
		return;
	}
	if (!admitted(c))
		return;
	while (slot < nslots && slots[slot].pid != 0)
		slot++;
	if (slot == nslots) { /* cannot be: wait_for_room left room */
		close(c);
		return;
	}
	pid = fork();
	if (pid == 0) {
		slots[slot].pid = getpid();
		connection_process(fd, c, listener, &slots[slot], core);
	}
	if (pid < 0) {
		msg_error("lmtp: fork: %s", strerror(errno));
	} else {
		slots[slot].pid = pid;
		(*children)++;
	}
	close(c);
}

/*
 * lmtp_listen_and_serve - the LMTP daemon: a process per connection, at
 * most lmtp_max_clients of them, each waiting for more connections when
 * its own ends (connection_process). Postfix's lmtp(8) keeps connections
 * open and caches them, so each process serves many messages; the
 * processes share their DNS answers. Runs until killed.
 */
int lmtp_listen_and_serve(const char *spec, const char *config_path)
{
	static struct transport_core core; /* the configuration in force, for every child */
	struct textfile tf = {NULL, NULL, 0, 0, 0};
	struct mx_sockperm perm;
	char err[512] = "";
	unsigned children = 0, max;
	int fd, rc;

	msg_catch_crashes(); /* the listener and its connection processes alike */
	rc = listener_config(&core, spec, config_path, &perm);
	if (rc != 0)
		return rc;
	max = core.cfg->lmtp_max_clients;
	listener_share(&core);
	textfile_init(&tf, core.cfg);
	fd = mx_listen(spec, &perm, NULL, err, sizeof(err));
	if (fd < 0) {
		msg_error("lmtp: %s", err);
		fprintf(stderr, "mxport-transport: %s\n", err);
		return 71; /* EX_OSERR */
	}
	listener_signals();
	if (!slots_make(max))
		return 71;
	/* Non-blocking: a connection that an idle process took leaves accept() with EAGAIN. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	msg_info("lmtp: listening on %s, at most %u connections", spec, max);
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};

		wait_for_room(&children, max);
		/*
		 * The configuration the next child inherits: a change is checked
		 * here (and logged, once for all processes) even while no mail
		 * comes; a broken one leaves the last good one in force.
		 */
		core_refresh(&core, "lmtp");
		write_textfile(&tf);
		int wait_ms = textfile_wait_ms(&tf);
		if (wait_ms < 0 || wait_ms > LMTP_LISTENER_CHECK_MS)
			wait_ms = LMTP_LISTENER_CHECK_MS;
		int ready = poll(&pfd, 1, wait_ms);
		if (ready <= 0)
			continue; /* a child ended (EINTR): reap it first; time to look; or the
				     textfile */
		if (idle_processes() > 0) {
			/*
			 * A process that waits keeps a warm route cache: let it
			 * take the connection; take it here only when none did.
			 */
			poll(NULL, 0, LMTP_IDLE_TAKE_MS);
			if (poll(&pfd, 1, 0) <= 0)
				continue;
		}
		accept_one(fd, &children, &core);
	}
}
