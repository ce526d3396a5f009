/* dns_client - ask the configured name servers through ldns, with a bounded time */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns_client.h"
#include "util.h"

/*
 * dns_client_init - servers from dns_servers, or from /etc/resolv.conf when
 * that is empty. resolv.conf cannot name a port, hence our own setting.
 */
bool dns_client_init(struct dns_client *dc, const struct mx_config *cfg, char *err, size_t errlen)
{
	memset(dc, 0, sizeof(*dc));
	dc->timeout_ms = cfg->dns_timeout * 1000;
	dc->attempts = cfg->dns_attempts;
	dc->trust_ad = cfg->dns_trust_ad;
	if (*cfg->dns_servers) {
		if (!mx_serverlist_parse(cfg->dns_servers, &dc->servers, err, errlen))
			return false;
		for (size_t i = 0; dc->trust_ad && i < dc->servers.count; i++)
			if (!dns_server_is_loopback(dc->servers.servers[i].addr)) {
				snprintf(err, errlen,
					 "dns_trust_ad = yes, but name server %s is not on "
					 "loopback: the AD bit of a remote resolver can be "
					 "forged on the way",
					 dc->servers.servers[i].addr);
				return false;
			}
		return true;
	}

	ldns_resolver *res = NULL;
	ldns_status st = ldns_resolver_new_frm_file(&res, NULL);
	if (st != LDNS_STATUS_OK) {
		snprintf(err, errlen, "/etc/resolv.conf: %s (set dns_servers instead)",
			 ldns_get_errorstr_by_id(st));
		return false;
	}
	for (size_t i = 0; i < ldns_resolver_nameserver_count(res); i++) {
		char *text = ldns_rdf2str(ldns_resolver_nameservers(res)[i]);
		struct mx_server srv;

		if (text && mx_server_parse(text, &srv, err, errlen)) {
			dc->servers.servers = mx_realloc(dc->servers.servers,
							 (dc->servers.count + 1) * sizeof(srv));
			dc->servers.servers[dc->servers.count++] = srv;
		}
		free(text);
	}
	ldns_resolver_deep_free(res);
	if (dc->servers.count == 0) {
		snprintf(err, errlen,
			 "/etc/resolv.conf names no usable name server (set dns_servers)");
		return false;
	}
	return true;
}

/* dns_client_free - release */
void dns_client_free(struct dns_client *dc)
{
	mx_serverlist_free(&dc->servers);
}

/* dns_rrlist_min_ttl - smallest TTL of a list (0 for an empty list) */
uint32_t dns_rrlist_min_ttl(const ldns_rr_list *rrs)
{
	uint32_t ttl = 0;

	for (size_t i = 0; rrs && i < ldns_rr_list_rr_count(rrs); i++) {
		uint32_t t = ldns_rr_ttl(ldns_rr_list_rr(rrs, i));
		if (i == 0 || t < ttl)
			ttl = t;
	}
	return ttl;
}

/* dns_server_is_loopback - 127.0.0.0/8 or ::1: a path nobody else can write into */
bool dns_server_is_loopback(const char *addr)
{
	unsigned char b[16];

	if (inet_pton(AF_INET, addr, b) == 1)
		return b[0] == 127;
	if (inet_pton(AF_INET6, addr, b) == 1)
		return memcmp(b, in6addr_loopback.s6_addr, 16) == 0;
	return false;
}

/* dns_same_sockaddr - same family, address and port (the scope is not compared) */
bool dns_same_sockaddr(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b,
		       socklen_t blen)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET && alen >= sizeof(struct sockaddr_in) &&
	    blen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6 && alen >= sizeof(struct sockaddr_in6) &&
	    blen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

/* type_name - the mnemonic of an RR type, in a caller's buffer */
static const char *type_name(ldns_rr_type type, char *buf, size_t len)
{
	char *s = ldns_rr_type2str(type);

	snprintf(buf, len, "%s", s ? s : "?");
	free(s);
	return buf;
}

/* dname_text - a domain name for a message, without its final dot */
static void dname_text(const ldns_rdf *rd, char *buf, size_t len)
{
	char *s = rd ? ldns_rdf2str(rd) : NULL;
	size_t n;

	snprintf(buf, len, "%s", s ? s : "?");
	free(s);
	n = strlen(buf);
	if (n > 1 && buf[n - 1] == '.')
		buf[n - 1] = '\0';
}

/* make_dname - the absolute name of a text name (with or without its final dot) */
static ldns_rdf *make_dname(const char *name)
{
	size_t n = strlen(name);
	char *absolute = mx_asprintf("%s%s", name, n && name[n - 1] == '.' ? "" : ".");
	ldns_rdf *rd = NULL;

	if (ldns_str2rdf_dname(&rd, absolute) != LDNS_STATUS_OK)
		rd = NULL;
	free(absolute);
	return rd;
}

/*
 * dns_reply_matches - is reply the answer to query? It must be a reply (QR)
 * to a standard query, carry the query's ID, and repeat its one question:
 * the same name (compared without regard to case, as DNS does), type and
 * class. Anything else is someone else's packet or a forgery.
 */
bool dns_reply_matches(const ldns_pkt *query, const ldns_pkt *reply, char *why, size_t whylen)
{
	const ldns_rr_list *qq = ldns_pkt_question(query), *rq = ldns_pkt_question(reply);
	const ldns_rr *a, *b;
	char t1[32], t2[32], n[MX_DOMAIN_MAX + 8];

	if (!ldns_pkt_qr(reply)) {
		snprintf(why, whylen, "not a reply (QR bit clear)");
		return false;
	}
	if (ldns_pkt_id(reply) != ldns_pkt_id(query)) {
		snprintf(why, whylen, "query ID %u instead of %u", ldns_pkt_id(reply),
			 ldns_pkt_id(query));
		return false;
	}
	if (ldns_pkt_get_opcode(reply) != LDNS_PACKET_QUERY) {
		snprintf(why, whylen, "opcode %d instead of QUERY",
			 (int)ldns_pkt_get_opcode(reply));
		return false;
	}
	if (qq == NULL || ldns_rr_list_rr_count(qq) != 1 || rq == NULL ||
	    ldns_rr_list_rr_count(rq) != 1 || ldns_pkt_qdcount(reply) != 1) {
		snprintf(why, whylen, "%zu question(s) instead of the one asked",
			 rq ? ldns_rr_list_rr_count(rq) : 0);
		return false;
	}
	a = ldns_rr_list_rr(qq, 0);
	b = ldns_rr_list_rr(rq, 0);
	if (ldns_rr_owner(b) == NULL ||
	    ldns_dname_compare(ldns_rr_owner(a), ldns_rr_owner(b)) != 0) {
		dname_text(ldns_rr_owner(b), n, sizeof(n));
		snprintf(why, whylen, "answers a question for %s", n);
		return false;
	}
	if (ldns_rr_get_type(a) != ldns_rr_get_type(b)) {
		snprintf(why, whylen, "answers a question of type %s instead of %s",
			 type_name(ldns_rr_get_type(b), t1, sizeof(t1)),
			 type_name(ldns_rr_get_type(a), t2, sizeof(t2)));
		return false;
	}
	if (ldns_rr_get_class(a) != ldns_rr_get_class(b)) {
		snprintf(why, whylen, "answers a question of class %d", (int)ldns_rr_get_class(b));
		return false;
	}
	return true;
}

/*
 * dns_answer_rrs - the records of one type that answer name: those whose
 * owner is name, or the end of the CNAME chain that starts at name (at most
 * DNS_CNAME_MAX links). Records of any other owner are not looked at.
 * ROUTE_OK with *rrs set (free with ldns_rr_list_deep_free) and *ttl the
 * smallest TTL on the chain; ROUTE_NOTFOUND for NXDOMAIN or no such record;
 * ROUTE_RETRY for SERVFAIL, other error codes, truncation, a CNAME loop,
 * a chain that is too long, a name with two CNAMEs or with a CNAME and
 * records of the type asked.
 */
enum route_status dns_answer_rrs(const ldns_pkt *pkt, const char *name, ldns_rr_type type,
				 ldns_rr_list **rrs, uint32_t *ttl, char *reason, size_t reasonlen)
{
	ldns_pkt_rcode rcode = ldns_pkt_get_rcode(pkt);
	ldns_rdf *chain[DNS_CNAME_MAX + 1];
	size_t links = 0;
	char tname[32], cur[MX_DOMAIN_MAX + 8];
	enum route_status st = ROUTE_RETRY;
	uint32_t low = UINT32_MAX;

	*rrs = NULL;
	if (ttl)
		*ttl = 0;
	type_name(type, tname, sizeof(tname));
	if (rcode == LDNS_RCODE_NXDOMAIN) {
		snprintf(reason, reasonlen, "%s: no such domain (NXDOMAIN)", name);
		return ROUTE_NOTFOUND;
	}
	if (rcode != LDNS_RCODE_NOERROR) {
		ldns_lookup_table *lt = ldns_lookup_by_id(ldns_rcodes, (int)rcode);
		snprintf(reason, reasonlen, "%s/%s: name server answered %s", name, tname,
			 lt ? lt->name : "an unknown error code");
		return ROUTE_RETRY;
	}
	if (ldns_pkt_tc(pkt)) {
		snprintf(reason, reasonlen, "%s/%s: truncated answer", name, tname);
		return ROUTE_RETRY;
	}
	chain[0] = make_dname(name);
	if (chain[0] == NULL) {
		snprintf(reason, reasonlen, "%s: not a domain name", name);
		return ROUTE_FAIL;
	}
	for (;;) {
		ldns_rdf *owner = chain[links];
		ldns_rr_list *got =
			ldns_pkt_rr_list_by_name_and_type(pkt, owner, type, LDNS_SECTION_ANSWER);
		ldns_rr_list *cn;
		const ldns_rdf *target;
		size_t ncn;

		dname_text(owner, cur, sizeof(cur));
		cn = ldns_pkt_rr_list_by_name_and_type(pkt, owner, LDNS_RR_TYPE_CNAME,
						       LDNS_SECTION_ANSWER);
		ncn = cn ? ldns_rr_list_rr_count(cn) : 0;
		if (got && ldns_rr_list_rr_count(got) > 0 && ncn > 0 &&
		    type != LDNS_RR_TYPE_CNAME) {
			/* RFC 1034 3.6.2: a CNAME has no other data; no resolver sends both. */
			snprintf(reason, reasonlen, "%s/%s: %s has a CNAME and %s records", name,
				 tname, cur, tname);
			ldns_rr_list_deep_free(got);
			ldns_rr_list_deep_free(cn);
			break;
		}
		if (got && ldns_rr_list_rr_count(got) > 0) {
			uint32_t t = dns_rrlist_min_ttl(got);
			if (t < low)
				low = t;
			*rrs = got;
			if (links == 0)
				snprintf(reason, reasonlen, "%s/%s: %zu record(s)", name, tname,
					 ldns_rr_list_rr_count(got));
			else
				snprintf(reason, reasonlen, "%s/%s: %zu record(s) at %s (CNAME)",
					 name, tname, ldns_rr_list_rr_count(got), cur);
			st = ROUTE_OK;
			ldns_rr_list_deep_free(cn);
			break;
		}
		ldns_rr_list_deep_free(got);
		if (ncn == 0) {
			if (links == 0)
				snprintf(reason, reasonlen, "%s: no %s record", name, tname);
			else
				snprintf(reason, reasonlen, "%s: no %s record (at %s, by CNAME)",
					 name, tname, cur);
			st = ROUTE_NOTFOUND;
			ldns_rr_list_deep_free(cn);
			break;
		}
		target = ldns_rr_rdf(ldns_rr_list_rr(cn, 0), 0);
		if (ncn > 1 || ldns_rr_rd_count(ldns_rr_list_rr(cn, 0)) != 1 || target == NULL ||
		    ldns_rdf_get_type(target) != LDNS_RDF_TYPE_DNAME) {
			snprintf(reason, reasonlen, "%s/%s: %s has %s", name, tname, cur,
				 ncn > 1 ? "more than one CNAME" : "a malformed CNAME");
			ldns_rr_list_deep_free(cn);
			break;
		}
		if (ldns_rr_ttl(ldns_rr_list_rr(cn, 0)) < low)
			low = ldns_rr_ttl(ldns_rr_list_rr(cn, 0));
		if (links == DNS_CNAME_MAX) {
			snprintf(reason, reasonlen, "%s/%s: CNAME chain longer than %d links", name,
				 tname, DNS_CNAME_MAX);
			ldns_rr_list_deep_free(cn);
			break;
		}
		bool loop = false;
		for (size_t i = 0; i <= links; i++)
			if (ldns_dname_compare(chain[i], target) == 0)
				loop = true;
		if (loop) {
			dname_text(target, cur, sizeof(cur));
			snprintf(reason, reasonlen, "%s/%s: CNAME loop (back to %s)", name, tname,
				 cur);
			ldns_rr_list_deep_free(cn);
			break;
		}
		chain[++links] = ldns_rdf_clone(target);
		ldns_rr_list_deep_free(cn);
	}
	for (size_t i = 0; i <= links; i++)
		ldns_rdf_deep_free(chain[i]);
	if (st == ROUTE_OK && ttl)
		*ttl = low;
	return st;
}

/* now_ms - monotonic milliseconds */
static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* wait_fd - poll one descriptor until until: 1 ready, 0 out of time, -1 error */
static int wait_fd(int fd, short events, int64_t until)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int64_t left = until - now_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* build_query - a new query for qname/type with a random ID, and its wire form */
static ldns_pkt *build_query(const ldns_rdf *qname, ldns_rr_type type, uint8_t **wire, size_t *wlen,
			     char *why, size_t whylen)
{
	uint16_t id;
	ldns_pkt *q;

	*wire = NULL;
	if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1) {
		snprintf(why, whylen, "no random query ID (OpenSSL RAND_bytes failed)");
		return NULL;
	}
	q = ldns_pkt_query_new(ldns_rdf_clone(qname), type, LDNS_RR_CLASS_IN, LDNS_RD);
	if (q == NULL) {
		snprintf(why, whylen, "cannot build a query");
		return NULL;
	}
	ldns_pkt_set_id(q, id);
	ldns_pkt_set_edns_udp_size(q, 1232);
	ldns_pkt_set_edns_do(q, true); /* DNSSEC OK, so that a validator sets AD */
	if (ldns_pkt2wire(wire, q, wlen) != LDNS_STATUS_OK) {
		snprintf(why, whylen, "cannot encode the query");
		ldns_pkt_free(q);
		return NULL;
	}
	return q;
}

enum xfer { XFER_OK, XFER_TIMEOUT, XFER_ERROR };

/*
 * ask_udp - one query over UDP from a fresh socket. connect() makes the
 * kernel pick a new random ephemeral port and drop datagrams from any other
 * address or port; the source is checked again here all the same. Replies
 * that do not match the query are counted in *ignored and the wait goes
 * on: a forgery must not hide the real answer, nor be believed.
 */
static enum xfer ask_udp(const struct sockaddr *sa, socklen_t salen, const ldns_pkt *q,
			 const uint8_t *wire, size_t wlen, int64_t until, ldns_pkt **reply,
			 unsigned *ignored, char *why, size_t whylen)
{
	enum { BUFSZ = 65535 };
	unsigned char *buf;
	int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	enum xfer res = XFER_TIMEOUT;

	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return XFER_ERROR;
	}
	if (connect(fd, sa, salen) != 0 || send(fd, wire, wlen, 0) != (ssize_t)wlen) {
		snprintf(why, whylen, "cannot send: %s", strerror(errno));
		close(fd);
		return XFER_ERROR;
	}
	buf = mx_malloc(BUFSZ);
	for (;;) {
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		ldns_pkt *r = NULL;
		ssize_t got;
		int w = wait_fd(fd, POLLIN, until);

		if (w == 0)
			break;
		if (w < 0) {
			snprintf(why, whylen, "poll: %s", strerror(errno));
			res = XFER_ERROR;
			break;
		}
		got = recvfrom(fd, buf, BUFSZ, 0, (struct sockaddr *)&from, &fromlen);
		if (got < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			snprintf(why, whylen, "%s", strerror(errno));
			res = XFER_ERROR;
			break;
		}
		/* Cheap tests first: a flood of forgeries costs no parsing. */
		if (!dns_same_sockaddr((struct sockaddr *)&from, fromlen, sa, salen)) {
			snprintf(why, whylen, "a reply from another address or port");
			(*ignored)++;
			continue;
		}
		if (got < 12 || ((unsigned)buf[0] << 8 | buf[1]) != ldns_pkt_id(q)) {
			snprintf(why, whylen, "a reply with another query ID");
			(*ignored)++;
			continue;
		}
		if (ldns_wire2pkt(&r, buf, (size_t)got) != LDNS_STATUS_OK) {
			snprintf(why, whylen, "a reply that cannot be parsed");
			(*ignored)++;
			continue;
		}
		if (!dns_reply_matches(q, r, why, whylen)) {
			ldns_pkt_free(r);
			(*ignored)++;
			continue;
		}
		*reply = r;
		res = XFER_OK;
		break;
	}
	free(buf);
	close(fd);
	return res;
}

/* io_full - write or read exactly len bytes before until: 1 done, 0 out of time, -1 error */
static int io_full(int fd, bool out, unsigned char *p, size_t len, int64_t until)
{
	while (len > 0) {
		ssize_t n = out ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		int w = wait_fd(fd, out ? POLLOUT : POLLIN, until);
		if (w <= 0)
			return w;
	}
	return 1;
}

/* ask_tcp - one query over TCP (after a truncated UDP answer); the reply is checked the same way */
static enum xfer ask_tcp(const struct sockaddr *sa, socklen_t salen, const ldns_pkt *q,
			 const uint8_t *wire, size_t wlen, int64_t until, ldns_pkt **reply,
			 char *why, size_t whylen)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	unsigned char *msg = NULL, len2[2];
	enum xfer res = XFER_ERROR;
	size_t rlen = 0;
	int r;

	if (fd < 0) {
		snprintf(why, whylen, "TCP socket: %s", strerror(errno));
		return XFER_ERROR;
	}
	if (connect(fd, sa, salen) != 0 && errno != EINPROGRESS) {
		snprintf(why, whylen, "TCP connect: %s", strerror(errno));
		goto out;
	}
	r = wait_fd(fd, POLLOUT, until);
	if (r == 1) {
		int err = 0;
		socklen_t elen = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0) {
			snprintf(why, whylen, "TCP connect: %s", strerror(err ? err : errno));
			goto out;
		}
	}
	if (r <= 0)
		goto timeout;
	msg = mx_malloc(wlen + 2);
	msg[0] = (unsigned char)(wlen >> 8);
	msg[1] = (unsigned char)wlen;
	memcpy(msg + 2, wire, wlen);
	r = io_full(fd, true, msg, wlen + 2, until);
	free(msg);
	msg = NULL;
	if (r == 1)
		r = io_full(fd, false, len2, 2, until);
	if (r == 1) {
		rlen = (size_t)len2[0] << 8 | len2[1];
		if (rlen < 12) {
			snprintf(why, whylen, "TCP reply of %zu bytes", rlen);
			goto out;
		}
		msg = mx_malloc(rlen);
		r = io_full(fd, false, msg, rlen, until);
	}
	if (r < 0) {
		snprintf(why, whylen, "TCP: %s", strerror(errno));
		goto out;
	}
	if (r == 0)
		goto timeout;
	if (ldns_wire2pkt(reply, msg, rlen) != LDNS_STATUS_OK) {
		snprintf(why, whylen, "TCP reply that cannot be parsed");
		*reply = NULL;
		goto out;
	}
	if (!dns_reply_matches(q, *reply, why, whylen)) {
		ldns_pkt_free(*reply);
		*reply = NULL;
		goto out;
	}
	res = XFER_OK;
	goto out;
timeout:
	snprintf(why, whylen, "no answer over TCP in time");
	res = XFER_TIMEOUT;
out:
	free(msg);
	close(fd);
	return res;
}

/* server_sockaddr - the socket address of a configured server */
static bool server_sockaddr(const struct mx_server *srv, struct sockaddr_storage *ss,
			    socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, srv->addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(srv->port);
		*len = sizeof(*s4);
		return true;
	}
	if (inet_pton(AF_INET6, srv->addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(srv->port);
		*len = sizeof(*s6);
		return true;
	}
	return false;
}

/*
 * ask_server - one attempt at one server: UDP, then TCP when the answer is
 * truncated. XFER_OK with *reply, the checked answer.
 */
static enum xfer ask_server(const struct sockaddr *sa, socklen_t salen, const ldns_rdf *qname,
			    ldns_rr_type type, int64_t until, int64_t per_try, int64_t end,
			    ldns_pkt **reply, unsigned *ignored, char *why, size_t whylen)
{
	uint8_t *wire = NULL;
	size_t wlen = 0;
	ldns_pkt *q = build_query(qname, type, &wire, &wlen, why, whylen);
	enum xfer res;

	if (q == NULL)
		return XFER_ERROR;
	res = ask_udp(sa, salen, q, wire, wlen, until, reply, ignored, why, whylen);
	free(wire);
	ldns_pkt_free(q);
	if (res != XFER_OK || !ldns_pkt_tc(*reply))
		return res;
	/* Truncated: ask again over TCP, with a new ID, and believe only that. */
	ldns_pkt_free(*reply);
	*reply = NULL;
	q = build_query(qname, type, &wire, &wlen, why, whylen);
	if (q == NULL)
		return XFER_ERROR;
	until = now_ms() + per_try;
	res = ask_tcp(sa, salen, q, wire, wlen, until > end ? end : until, reply, why, whylen);
	free(wire);
	ldns_pkt_free(q);
	if (res != XFER_OK)
		snprintf(why + strlen(why), whylen - strlen(why),
			 " (after a truncated UDP answer)");
	return res;
}

/*
 * dns_client_query - ask each server in turn until one answers, believing
 * only an answer that comes from the server's address and port, carries the
 * query's random ID and repeats the question. Returns ROUTE_OK with *pkt set
 * (whatever its rcode), or ROUTE_RETRY when no server gave such an answer in
 * time: that is never a 'not found'. The AD bit is cleared unless
 * dns_trust_ad is set and the server is on loopback.
 */
enum route_status dns_client_query(const struct dns_client *dc, const char *name, ldns_rr_type type,
				   ldns_pkt **pkt, char *reason, size_t reasonlen)
{
	unsigned tries = dc->attempts * (unsigned)(dc->servers.count ? dc->servers.count : 1);
	int64_t per_try = tries ? dc->timeout_ms / tries : dc->timeout_ms;
	int64_t end = now_ms() + dc->timeout_ms;
	ldns_rdf *qname = make_dname(name);
	char tname[32];

	*pkt = NULL;
	type_name(type, tname, sizeof(tname));
	if (qname == NULL) {
		snprintf(reason, reasonlen, "%s: cannot be asked for: not a domain name", name);
		return ROUTE_FAIL;
	}
	if (per_try < 100)
		per_try = 100;
	snprintf(reason, reasonlen, "%s: no name server configured", name);
	for (size_t i = 0; i < dc->servers.count; i++) {
		const struct mx_server *srv = &dc->servers.servers[i];
		struct sockaddr_storage ss;
		socklen_t sslen;
		unsigned ignored = 0;
		char why[400] = "";
		enum xfer res = XFER_TIMEOUT;

		if (!server_sockaddr(srv, &ss, &sslen)) {
			snprintf(reason, reasonlen,
				 "%s/%s: name server %s is not a numeric address", name, tname,
				 srv->addr);
			continue;
		}
		for (unsigned a = 0; a < dc->attempts && res == XFER_TIMEOUT; a++) {
			int64_t now = now_ms(), until = now + per_try;

			if (now >= end)
				break;
			if (until > end)
				until = end;
			res = ask_server((struct sockaddr *)&ss, sslen, qname, type, until, per_try,
					 end, pkt, &ignored, why, sizeof(why));
		}
		if (res == XFER_OK) {
			if (!(dc->trust_ad && dns_server_is_loopback(srv->addr)))
				ldns_pkt_set_ad(*pkt, false);
			ldns_rdf_deep_free(qname);
			return ROUTE_OK;
		}
		if (res == XFER_ERROR)
			snprintf(reason, reasonlen, "%s/%s: name server %s port %u: %s", name,
				 tname, srv->addr, srv->port, why);
		else if (ignored)
			snprintf(reason, reasonlen,
				 "%s/%s: no answer from name server %s port %u in time "
				 "(%u reply(ies) ignored: not from the server, not our ID or "
				 "question%s%s)",
				 name, tname, srv->addr, srv->port, ignored, *why ? "; last: " : "",
				 why);
		else
			snprintf(reason, reasonlen,
				 "%s/%s: no answer from name server %s port %u in time", name,
				 tname, srv->addr, srv->port);
		if (now_ms() >= end)
			break;
	}
	ldns_rdf_deep_free(qname);
	return ROUTE_RETRY;
}
