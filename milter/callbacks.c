/* callbacks - the libmilter callbacks: gate at RCPT, tag at end of message */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "callbacks.h"
#include "domain.h"
#include "msg.h"
#include "policy.h"
#include "state.h"
#include "util.h"
#include "verify.h"

/* Per SMTP connection. */
struct conn_ctx {
	unsigned long cc_noreply; /* SMFIP_NR_* the MTA agreed to: those callbacks answer NOREPLY */
	bool cc_rcpt_only;	  /* no connect or MAIL callback: RCPT's macros name the client */
	bool cc_have_client;	  /* cc_client (and cc_addr, if any) are set */
	struct sockaddr_storage cc_addr;
	bool cc_have_addr;
	char cc_client[300];
	struct msg_ctx *cc_msg;
};

/*
 * What a transaction carries so far. The tag routes a whole message (FILTER
 * in milter_header_checks), so forwarded recipients and the rest (the
 * relay's own domains, bare postmaster, domains a trusted client sends to)
 * never share one: the recipient that would mix them gets 452 4.5.3 and the
 * client sends it in a transaction of its own (RFC 5321 4.5.3.1.10).
 */
enum rcpt_kind {
	KIND_NONE,	/* no recipient accepted yet */
	KIND_FORWARDED, /* the message is tagged: everything goes to the transport */
	KIND_OWN,	/* not tagged: Postfix routes it as without mxport */
};

/* Per message; freed at end of message, abort and close. */
struct msg_ctx {
	struct milter_state *mc_state;
	bool mc_trusted;
	char mc_why_trusted[64];
	enum rcpt_kind mc_kind;
	char *mc_domains; /* forwarded domains, ", " separated */
	char *mc_rcpts;	  /* forwarded recipients, for the log */
	size_t mc_forwarded;
	size_t mc_own;	     /* recipients accepted untagged */
	size_t mc_separated; /* recipients sent back (452) to come in another transaction */
	char mc_qid[64];     /* the MTA's queue id, once it has one */
};

/* msg_free - release a message context (NULL is fine) */
static void msg_free(struct msg_ctx *mc)
{
	if (mc == NULL)
		return;
	state_release(mc->mc_state);
	free(mc->mc_domains);
	free(mc->mc_rcpts);
	free(mc);
}

/* conn_of - the connection context, never NULL after connect */
static struct conn_ctx *conn_of(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

/*
 * The macros the milter reads, asked for per milter (SMFIF_SETSYMLIST), so
 * that the admin's milter_*_macros (Postfix) or Milter.macros (Sendmail),
 * which other milters share, need no change. Everything is read at RCPT:
 * the client for trusted_networks and the log, the SASL login, the mailer
 * for unknown_domains = reject, the queue id; at end of message the queue
 * id again. The other stages get an empty list: Sendmail then sends no
 * macro packet for them; Postfix sends one per stage whatever the list
 * (an empty list there means its global list).
 */
static const struct {
	int where;
	const char *names;
} wanted_macros[] = {
	{SMFIM_CONNECT, ""},
	{SMFIM_HELO, ""},
	{SMFIM_ENVFROM, ""},
	{SMFIM_ENVRCPT, "{client_addr} {client_name} {auth_authen} {rcpt_mailer} i"},
	{SMFIM_DATA, ""},
	{SMFIM_EOH, ""},
	{SMFIM_EOM, "i"},
};

/* ask_macros - request wanted_macros; false when libmilter refuses one */
static bool ask_macros(SMFICTX *ctx)
{
	for (size_t i = 0; i < sizeof(wanted_macros) / sizeof(wanted_macros[0]); i++)
		if (smfi_setsymlist(ctx, wanted_macros[i].where, (char *)wanted_macros[i].names) !=
		    MI_SUCCESS)
			return false;
	return true;
}

/*
 * mx_negotiate - ask only for what the gate needs: RCPT (the gate, with
 * the client and SASL login in its macros) and end of message (the tag);
 * skip the replies that carry no decision. Each event and reply is a packet
 * and a wake-up of a libmilter thread, the milter's main cost. An MTA that
 * cannot send per-milter macro lists also sends connect (the client's
 * address) and MAIL (SASL login). No headers: a tag that came from outside
 * cannot route mail (milter_header_checks sees only what a milter added;
 * Sendmail routes by mailertable) and the transport strips every copy
 * before delivery, so reading them bought nothing but a packet per header
 * and, for a message full of forged tags, a header edit per copy (12,000 of
 * them made Postfix's cleanup panic). RCPT must be answered: the gate may
 * refuse (SMFIP_NR_RCPT would take that away).
 */
static sfsistat mx_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
			     unsigned long f3, unsigned long *pf0, unsigned long *pf1,
			     unsigned long *pf2, unsigned long *pf3)
{
	static const unsigned long rcpt_only = SMFIP_NOCONNECT | SMFIP_NOMAIL;
	static const unsigned long noreply = SMFIP_NR_CONN | SMFIP_NR_MAIL;
	unsigned long skip = SMFIP_NOHELO | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY |
			     SMFIP_NOUNKNOWN | SMFIP_NODATA;
	struct conn_ctx *cc = mx_calloc(1, sizeof(*cc));

	(void)f2;
	(void)f3;
	if ((f0 & SMFIF_ADDHDRS) == 0) {
		free(cc);
		msg_error("the MTA does not allow adding headers: cannot tag mail");
		return SMFIS_REJECT;
	}
	*pf0 = SMFIF_ADDHDRS;
	if ((f0 & SMFIF_SETSYMLIST) && (f1 & rcpt_only) == rcpt_only && ask_macros(ctx)) {
		cc->cc_rcpt_only = true;
		*pf0 |= SMFIF_SETSYMLIST;
		skip |= rcpt_only;
	}
	cc->cc_noreply = cc->cc_rcpt_only ? 0 : f1 & noreply;
	if (smfi_setpriv(ctx, cc) != MI_SUCCESS) {
		free(cc);
		return SMFIS_REJECT;
	}
	*pf1 = (f1 & skip) | cc->cc_noreply;
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

/* reply - SMFIS_CONTINUE, or NOREPLY where the MTA agreed to wait for none */
static sfsistat reply(const struct conn_ctx *cc, unsigned long flag)
{
	return (cc->cc_noreply & flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/*
 * set_client - remember the client for trusted_networks and the log:
 * host[address], as Postfix logs a client. Postfix names a client without a
 * name "[address]" (connect) or "unknown" ({client_name}): unknown, as in
 * its own lines.
 */
static void set_client(struct conn_ctx *cc, const char *hostname, const struct sockaddr *addr)
{
	snprintf(cc->cc_client, sizeof(cc->cc_client), "%s",
		 hostname && *hostname && *hostname != '[' ? hostname : "unknown");
	if (addr && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6)) {
		char text[INET6_ADDRSTRLEN] = "";
		size_t len = strlen(cc->cc_client);

		memcpy(&cc->cc_addr, addr,
		       addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
						  : sizeof(struct sockaddr_in6));
		cc->cc_have_addr = true;
		if (addr->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, text,
				  sizeof(text));
		else
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, text,
				  sizeof(text));
		snprintf(cc->cc_client + len, sizeof(cc->cc_client) - len, "[%s]", text);
	}
	mx_printable(cc->cc_client);
	cc->cc_have_client = true;
}

/*
 * client_from_macros - the client from {client_name} and {client_addr}
 * (Sendmail writes an IPv6 address "IPv6:..."); an address that does not
 * parse is no address: the client is then trusted by SASL only.
 */
static void client_from_macros(SMFICTX *ctx, struct conn_ctx *cc)
{
	const char *addr = smfi_getsymval(ctx, "{client_addr}");
	struct sockaddr_storage ss;
	bool have = false;

	memset(&ss, 0, sizeof(ss));
	if (addr && strncasecmp(addr, "IPv6:", 5) == 0)
		addr += 5;
	if (addr) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			have = true;
		} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
			have = true;
		}
	}
	set_client(cc, smfi_getsymval(ctx, "{client_name}"), have ? (struct sockaddr *)&ss : NULL);
}

/* mx_connect - remember the client (an MTA that sends connect: see mx_negotiate) */
static sfsistat mx_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *addr)
{
	struct conn_ctx *cc = conn_of(ctx);

	if (cc == NULL) { /* an MTA that did not negotiate */
		cc = mx_calloc(1, sizeof(*cc));
		if (smfi_setpriv(ctx, cc) != MI_SUCCESS) {
			free(cc);
			return SMFIS_TEMPFAIL;
		}
	}
	set_client(cc, hostname, addr);
	return reply(cc, SMFIP_NR_CONN);
}

/* begin_message - a new message: take the configuration in force and decide trust */
static struct msg_ctx *begin_message(SMFICTX *ctx, struct conn_ctx *cc)
{
	struct msg_ctx *mc;
	const char *auth;

	msg_free(cc->cc_msg);
	mc = cc->cc_msg = mx_calloc(1, sizeof(*mc));
	mc->mc_state = state_acquire();
	auth = smfi_getsymval(ctx, "{auth_authen}");
	if (auth && *auth) {
		mc->mc_trusted = true;
		snprintf(mc->mc_why_trusted, sizeof(mc->mc_why_trusted), "authenticated");
	} else if (cc->cc_have_addr &&
		   mx_netlist_match(&mc->mc_state->trusted, (struct sockaddr *)&cc->cc_addr)) {
		mc->mc_trusted = true;
		snprintf(mc->mc_why_trusted, sizeof(mc->mc_why_trusted), "trusted_networks");
	}
	return mc;
}

/* mx_envfrom - a new message (an MTA that sends MAIL: see mx_negotiate) */
static sfsistat mx_envfrom(SMFICTX *ctx, char **argv)
{
	struct conn_ctx *cc = conn_of(ctx);

	(void)argv;
	if (cc == NULL)
		return SMFIS_TEMPFAIL;
	begin_message(ctx, cc);
	return reply(cc, SMFIP_NR_MAIL);
}

/*
 * rcpt_message - the message a recipient belongs to. Without MAIL, a
 * message begins at its first recipient and ends at end of message or
 * abort. Sendmail sends no abort (RSET, a transaction the client gave up)
 * to a milter that skips MAIL, so a queue id other than the message's own
 * also begins a new one; Postfix has no queue id before the first accepted
 * recipient, and sends an abort.
 */
static struct msg_ctx *rcpt_message(SMFICTX *ctx, struct conn_ctx *cc)
{
	const char *qid = smfi_getsymval(ctx, "i");
	struct msg_ctx *mc = cc->cc_msg;

	if (!cc->cc_rcpt_only)
		return mc;
	if (!qid)
		qid = "";
	if (!cc->cc_have_client)
		client_from_macros(ctx, cc);
	if (mc == NULL || (*qid && mc->mc_qid[0] && strcmp(mc->mc_qid, qid) != 0))
		mc = begin_message(ctx, cc);
	if (!mc->mc_qid[0])
		mx_strlcpy(mc->mc_qid, qid, sizeof(mc->mc_qid));
	return mc;
}

/* append_list - "a, b" lists for the tag and the log (no duplicates) */
static void append_list(char **list, const char *item)
{
	char *joined;

	if (*list) {
		size_t len = strlen(item);
		for (const char *p = *list; (p = strstr(p, item)) != NULL; p += len)
			if ((p == *list || p[-1] == ' ') && (p[len] == ',' || p[len] == '\0'))
				return;
		joined = mx_asprintf("%s, %s", *list, item);
		free(*list);
		*list = joined;
	} else {
		*list = mx_strdup(item);
	}
}

/*
 * refuse - answer a recipient with code/dsn/text and log one line for it
 * (queue id or NOQUEUE, client, recipient, reason), as Postfix logs its own
 * refusals.
 */
static sfsistat refuse(SMFICTX *ctx, const struct conn_ctx *cc, const char *rcpt, const char *code,
		       const char *dsn, char *text)
{
	const char *qid = smfi_getsymval(ctx, "i");
	char shown[300];

	mx_printable(text);
	snprintf(shown, sizeof(shown), "%s", rcpt);
	mx_printable(shown);
	msg_info("%s: %s: client=%s, to=%s, %s %s %s", qid && *qid ? qid : "NOQUEUE",
		 *code == '5' ? "reject" : "defer", cc->cc_client, shown, code, dsn, text);
	smfi_setreply(ctx, (char *)code, (char *)dsn, text);
	return *code == '5' ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

/* refuse_by_policy - refuse with the reply and enhanced code of a status row */
static sfsistat refuse_by_policy(SMFICTX *ctx, const struct conn_ctx *cc, const char *rcpt,
				 enum mx_status outcome, char *text)
{
	const struct mx_status_row *p = mx_status(outcome);
	char code[8];

	snprintf(code, sizeof(code), "%d", p->reply);
	return refuse(ctx, cc, rcpt, code, p->dsn, text);
}

/*
 * unknown_domain_passes - the policy for a recipient whose domain is not
 * forwarded. unknown_domains = accept (the default): always; the MTA's own
 * relay check decides, as it did before mxport, so local mail, postmaster,
 * aliases and mail from mynetworks or SASL users work unchanged. reject:
 * only for trusted clients (SASL, trusted_networks) and for recipients the
 * MTA delivers itself ({rcpt_mailer} local or virtual, a postmaster).
 */
static bool unknown_domain_passes(SMFICTX *ctx, const struct msg_ctx *mc, const char *rcpt)
{
	const char *mailer;

	if (mc->mc_trusted || mc->mc_state->cfg->unknown_domains == MX_UNKNOWN_ACCEPT)
		return true;
	mailer = smfi_getsymval(ctx, "{rcpt_mailer}");
	if (mailer && (strcmp(mailer, "local") == 0 || strcmp(mailer, "virtual") == 0))
		return true;
	return strncasecmp(rcpt + (rcpt[0] == '<'), "postmaster@", 11) == 0;
}

/*
 * separate - 452 4.5.3 for a recipient of the other kind than those
 * accepted so far: the client sends it again in a new transaction, where
 * it is the first (RFC 5321 4.5.3.1.10: a client must be prepared for 452
 * to any RCPT and send the rest later). Nothing is lost: 4xx only.
 */
static sfsistat separate(SMFICTX *ctx, const struct conn_ctx *cc, struct msg_ctx *mc,
			 const char *rcpt)
{
	char text[] = "Forwarded and other recipients cannot share a message here: "
		      "send this recipient again in a new transaction";

	mc->mc_separated++;
	return refuse_by_policy(ctx, cc, rcpt, MX_ST_MIXED_MESSAGE, text);
}

/* admit - accept a recipient of this kind, unless it would mix the kinds */
static sfsistat admit(SMFICTX *ctx, const struct conn_ctx *cc, struct msg_ctx *mc, const char *rcpt,
		      enum rcpt_kind kind)
{
	if (mc->mc_kind != KIND_NONE && mc->mc_kind != kind)
		return separate(ctx, cc, mc, rcpt);
	mc->mc_kind = kind;
	if (kind == KIND_OWN)
		mc->mc_own++;
	return SMFIS_CONTINUE;
}

/*
 * verify_gate - ask the customer's server (verify.c) before a recipient of
 * a forwarded domain is accepted: its 5xx is refused here, with its words;
 * a recipient it said nothing of passes, or gets 451 with
 * verify_unreachable = tempfail.
 */
static sfsistat verify_gate(SMFICTX *ctx, const struct conn_ctx *cc, const struct msg_ctx *mc,
			    const struct route *r, const char *domain, const char *rcpt)
{
	struct milter_state *st = mc->mc_state;
	struct verify_answer va;
	size_t len = strlen(rcpt);
	char *bare = rcpt[0] == '<' && len >= 2 && rcpt[len - 1] == '>'
			     ? mx_strndup(rcpt + 1, len - 2)
			     : mx_strdup(rcpt);

	verify_recipient(st->verify, st->cfg, st->routes, r, domain, bare, &va);
	free(bare);
	if (!va.refuse)
		return SMFIS_CONTINUE;
	return refuse(ctx, cc, rcpt, va.code, va.dsn, va.text);
}

/*
 * mx_envrcpt - the gate. Forwarded: accept and remember the domain.
 * Not forwarded: unknown_domain_passes decides. Null route: 550. DNS
 * trouble: 451, so the sender tries again. Either kind after the other:
 * 452 (see enum rcpt_kind). The codes are the failure policy's (policy.c).
 */
static sfsistat mx_envrcpt(SMFICTX *ctx, char **argv)
{
	struct conn_ctx *cc = conn_of(ctx);
	struct msg_ctx *mc = cc ? rcpt_message(ctx, cc) : NULL;
	char domain[MX_DOMAIN_MAX * 2], text[700];
	struct route r;
	const char *rcpt = argv && argv[0] ? argv[0] : "";

	if (mc == NULL)
		return SMFIS_TEMPFAIL;
	/* No domain (RFC 5321 <postmaster>): the MTA's own rules decide; not ours to forward. */
	if (!mx_address_domain(rcpt, domain, sizeof(domain)))
		return admit(ctx, cc, mc, rcpt, KIND_OWN);
	route_lookup(mc->mc_state->routes, domain, &r);
	switch (r.status) {
	case ROUTE_OK: {
		char norm[MX_DOMAIN_MAX], err[128];
		if (mc->mc_kind == KIND_OWN) {
			route_clear(&r);
			return separate(ctx, cc, mc, rcpt);
		}
		if (!mx_domain_normalize(domain, norm, sizeof(norm), err, sizeof(err)))
			mx_strlcpy(norm, domain, sizeof(norm));
		if (route_verify_wanted(&r, mc->mc_state->cfg->verify_recipients)) {
			sfsistat v = verify_gate(ctx, cc, mc, &r, norm, rcpt);
			if (v != SMFIS_CONTINUE) {
				route_clear(&r);
				return v;
			}
		}
		route_clear(&r);
		append_list(&mc->mc_domains, norm);
		append_list(&mc->mc_rcpts, rcpt);
		mc->mc_forwarded++;
		mc->mc_kind = KIND_FORWARDED;
		return SMFIS_CONTINUE;
	}
	case ROUTE_NOTFOUND:
		route_clear(&r);
		if (unknown_domain_passes(ctx, mc, rcpt))
			return admit(ctx, cc, mc, rcpt, KIND_OWN);
		snprintf(text, sizeof(text), "Recipient domain %s is not forwarded by this relay",
			 domain);
		return refuse_by_policy(ctx, cc, rcpt, MX_ST_NOT_FORWARDED, text);
	case ROUTE_NOSERVICE:
		snprintf(text, sizeof(text), "Domain %s accepts no mail (null route)", domain);
		route_clear(&r);
		return refuse_by_policy(ctx, cc, rcpt, MX_ST_NULL_ROUTE, text);
	case ROUTE_RETRY:
	case ROUTE_FAIL:
	default:
		msg_warn("%s: route lookup for %s: %s", cc->cc_client, domain, r.reason);
		snprintf(text, sizeof(text), "Route lookup for %s failed, try again later", domain);
		enum mx_status o = mx_route_outcome(r.status, false);
		route_clear(&r);
		return refuse_by_policy(ctx, cc, rcpt, o, text);
	}
}

/*
 * mx_eom - tag the message when its recipients are forwarded. A tag the
 * sender put in is left alone: it routes nothing, and the transport strips
 * every copy from what it relays.
 */
static sfsistat mx_eom(SMFICTX *ctx)
{
	struct conn_ctx *cc = conn_of(ctx);
	struct msg_ctx *mc = cc ? cc->cc_msg : NULL;
	const char *qid = smfi_getsymval(ctx, "i");

	if (mc == NULL)
		return SMFIS_CONTINUE;
	if (mc->mc_forwarded > 0 &&
	    smfi_addheader(ctx, mc->mc_state->cfg->tag_header, mc->mc_domains) != MI_SUCCESS) {
		msg_error("%s: cannot add the %s header", qid ? qid : "NOQUEUE",
			  mc->mc_state->cfg->tag_header);
		return SMFIS_TEMPFAIL;
	}
	msg_info("%s: client=%s, forwarded=%zu%s%s%s, local=%zu, separated=%zu, decision=%s%s%s",
		 qid ? qid : "NOQUEUE", cc->cc_client, mc->mc_forwarded,
		 mc->mc_forwarded ? " (" : "", mc->mc_forwarded ? mc->mc_rcpts : "",
		 mc->mc_forwarded ? ")" : "", mc->mc_own, mc->mc_separated,
		 mc->mc_forwarded ? "tagged " : "untagged", mc->mc_forwarded ? mc->mc_domains : "",
		 mc->mc_trusted ? ", trusted client" : "");
	msg_free(mc);
	cc->cc_msg = NULL;
	return SMFIS_CONTINUE;
}

/* mx_abort - the message is gone; the connection may carry another */
static sfsistat mx_abort(SMFICTX *ctx)
{
	struct conn_ctx *cc = conn_of(ctx);

	if (cc) {
		msg_free(cc->cc_msg);
		cc->cc_msg = NULL;
	}
	return SMFIS_CONTINUE;
}

/* mx_close - end of connection; also called when connect never set anything */
static sfsistat mx_close(SMFICTX *ctx)
{
	struct conn_ctx *cc = conn_of(ctx);

	if (cc) {
		msg_free(cc->cc_msg);
		free(cc);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

struct smfiDesc mxport_milter_desc = {
	.xxfi_name = "mxport",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS,
	.xxfi_connect = mx_connect,
	.xxfi_envfrom = mx_envfrom,
	.xxfi_envrcpt = mx_envrcpt,
	.xxfi_eom = mx_eom,
	.xxfi_abort = mx_abort,
	.xxfi_close = mx_close,
	.xxfi_negotiate = mx_negotiate,
};
