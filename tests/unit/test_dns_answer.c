/* test_dns_answer - which replies are believed (ID, QR, question) and which records count (owner,
 * CNAME chain) */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dns_client.h"
#include "srv.h"

#define QNAME "_smtp._tcp.example.com"

/* query - what dns_client_query sends: one question, an ID */
static ldns_pkt *query(const char *name, ldns_rr_type type, uint16_t id)
{
	ldns_rdf *qn = NULL;
	ldns_pkt *q;

	assert_int_equal(ldns_str2rdf_dname(&qn, name), LDNS_STATUS_OK);
	q = ldns_pkt_query_new(qn, type, LDNS_RR_CLASS_IN, LDNS_RD);
	assert_non_null(q);
	ldns_pkt_set_id(q, id);
	return q;
}

/* reply - a reply to the question qname/type/class with answer records (wire round trip) */
static ldns_pkt *reply(uint16_t id, bool qr, const char *qname, ldns_rr_type type,
		       ldns_rr_class cls, ldns_pkt_rcode rcode, const char *const *rrs)
{
	ldns_pkt *p = ldns_pkt_new(), *back = NULL;
	ldns_rr *q = ldns_rr_new();
	ldns_rdf *qn = NULL;
	uint8_t *wire = NULL;
	size_t len = 0;

	assert_int_equal(ldns_str2rdf_dname(&qn, qname), LDNS_STATUS_OK);
	ldns_rr_set_owner(q, qn);
	ldns_rr_set_type(q, type);
	ldns_rr_set_class(q, cls);
	ldns_rr_set_question(q, true);
	ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
	ldns_pkt_set_id(p, id);
	ldns_pkt_set_qr(p, qr);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	for (; rrs && *rrs; rrs++) {
		ldns_rr *rr = NULL;
		assert_int_equal(ldns_rr_new_frm_str(&rr, *rrs, 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	}
	assert_int_equal(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
	assert_int_equal(ldns_wire2pkt(&back, wire, len), LDNS_STATUS_OK);
	free(wire);
	ldns_pkt_free(p);
	return back;
}

static void test_reply_matches(void **state)
{
	static const struct {
		uint16_t id;
		bool qr;
		const char *qname;
		ldns_rr_type type;
		ldns_rr_class cls;
		bool want;
		const char *why;
	} cases[] = {
		{4242, true, QNAME ".", LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN, true, ""},
		{4242, true, "_SMTP._TCP.Example.COM.", LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN, true,
		 ""},
		{4243, true, QNAME ".", LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN, false, "query ID 4243"},
		{4242, false, QNAME ".", LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN, false, "QR"},
		{4242, true, "_smtp._tcp.zzz.example.", LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN, false,
		 "question for _smtp._tcp.zzz.example"},
		{4242, true, "_smtp._tcp.example.com.evil.", LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN,
		 false, "question for"},
		{4242, true, "_tcp.example.com.", LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN, false,
		 "question for"},
		{4242, true, QNAME ".", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, false, "type A"},
		{4242, true, QNAME ".", LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_CH, false, "class"},
	};
	ldns_pkt *q = query(QNAME ".", LDNS_RR_TYPE_SRV, 4242);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ldns_pkt *r = reply(cases[i].id, cases[i].qr, cases[i].qname, cases[i].type,
				    cases[i].cls, LDNS_RCODE_NOERROR, NULL);
		char why[256] = "";
		bool got = dns_reply_matches(q, r, why, sizeof(why));

		if (got != cases[i].want)
			fail_msg("case %zu: got %d (%s)", i, got, why);
		if (!got && strstr(why, cases[i].why) == NULL)
			fail_msg("case %zu: reason '%s' lacks '%s'", i, why, cases[i].why);
		ldns_pkt_free(r);
	}
	ldns_pkt_free(q);
}

/* A reply without a question, or with two, is not the answer. */
static void test_reply_question_count(void **state)
{
	ldns_pkt *q = query(QNAME ".", LDNS_RR_TYPE_SRV, 7);
	ldns_pkt *r = reply(7, true, QNAME ".", LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN,
			    LDNS_RCODE_NOERROR, NULL);
	ldns_pkt *none = ldns_pkt_new(), *two = ldns_pkt_clone(r);
	ldns_rr *extra = ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(r), 0));
	char why[256];

	(void)state;
	ldns_pkt_set_id(none, 7);
	ldns_pkt_set_qr(none, true);
	assert_false(dns_reply_matches(q, none, why, sizeof(why)));
	assert_non_null(strstr(why, "0 question"));
	ldns_pkt_push_rr(two, LDNS_SECTION_QUESTION, extra);
	assert_false(dns_reply_matches(q, two, why, sizeof(why)));
	ldns_pkt_free(none);
	ldns_pkt_free(two);
	ldns_pkt_free(r);
	ldns_pkt_free(q);
}

/* rrs_of - dns_answer_rrs on a reply to QNAME/SRV with these answer records */
static enum route_status rrs_of(const char *const *rrs, size_t *count, uint32_t *ttl, char *why,
				size_t whylen)
{
	ldns_pkt *r = reply(1, true, QNAME ".", LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN,
			    LDNS_RCODE_NOERROR, rrs);
	ldns_rr_list *got = NULL;
	enum route_status st = dns_answer_rrs(r, QNAME, LDNS_RR_TYPE_SRV, &got, ttl, why, whylen);

	*count = got ? ldns_rr_list_rr_count(got) : 0;
	if (st != ROUTE_OK)
		assert_null(got);
	ldns_rr_list_deep_free(got);
	ldns_pkt_free(r);
	return st;
}

static void test_owner_only(void **state)
{
	const char *const other[] = {
		"_smtp._tcp.evil.example. 300 IN SRV 10 0 25 evil.example.",
		"example.com. 300 IN SRV 10 0 25 evil.example.",
		NULL,
	};
	const char *const mixed[] = {
		"_smtp._tcp.evil.example. 300 IN SRV 10 0 25 evil.example.",
		"_SMTP._tcp.EXAMPLE.com. 600 IN SRV 10 0 2525 mx.example.com.",
		NULL,
	};
	char why[256];
	size_t n;
	uint32_t ttl;

	(void)state;
	assert_int_equal(rrs_of(other, &n, &ttl, why, sizeof(why)), ROUTE_NOTFOUND);
	assert_non_null(strstr(why, "no SRV record"));
	assert_int_equal(rrs_of(mixed, &n, &ttl, why, sizeof(why)), ROUTE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ttl, 600);
}

static void test_cname_chain(void **state)
{
	const char *const chain[] = {
		"a.example. 300 IN SRV 10 0 25 evil.example.",
		QNAME ". 100 IN CNAME a.example.",
		"a.example. 300 IN CNAME b.example.",
		"b.example. 400 IN SRV 10 0 2525 mx.example.com.",
		"b.example. 400 IN SRV 20 0 2525 mx2.example.com.",
		"c.example. 400 IN SRV 20 0 2525 evil.example.",
		NULL,
	};
	const char *const dead_end[] = {
		QNAME ". 100 IN CNAME a.example.",
		"c.example. 400 IN SRV 20 0 2525 evil.example.",
		NULL,
	};
	const char *const loop[] = {
		QNAME ". 100 IN CNAME a.example.",
		"a.example. 100 IN CNAME " QNAME ".",
		NULL,
	};
	const char *const self[] = {QNAME ". 100 IN CNAME " QNAME ".", NULL};
	const char *const twice[] = {
		QNAME ". 100 IN CNAME a.example.",
		QNAME ". 100 IN CNAME b.example.",
		"a.example. 400 IN SRV 10 0 2525 mx.example.com.",
		NULL,
	};
	const char *const both[] = {
		QNAME ". 100 IN CNAME a.example.",
		QNAME ". 100 IN SRV 10 0 2525 mx.example.com.",
		NULL,
	};
	char why[256];
	size_t n;
	uint32_t ttl;

	(void)state;
	assert_int_equal(rrs_of(chain, &n, &ttl, why, sizeof(why)), ROUTE_RETRY);
	/* a.example has a CNAME and SRV records: refused. Without the bad record: */
	assert_non_null(strstr(why, "a.example has a CNAME and SRV records"));
	assert_int_equal(rrs_of(chain + 1, &n, &ttl, why, sizeof(why)), ROUTE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ttl, 100); /* the smallest TTL on the chain */
	assert_non_null(strstr(why, "at b.example (CNAME)"));
	assert_int_equal(rrs_of(dead_end, &n, &ttl, why, sizeof(why)), ROUTE_NOTFOUND);
	assert_non_null(strstr(why, "no SRV record (at a.example"));
	assert_int_equal(rrs_of(loop, &n, &ttl, why, sizeof(why)), ROUTE_RETRY);
	assert_non_null(strstr(why, "CNAME loop"));
	assert_int_equal(rrs_of(self, &n, &ttl, why, sizeof(why)), ROUTE_RETRY);
	assert_non_null(strstr(why, "CNAME loop"));
	assert_int_equal(rrs_of(twice, &n, &ttl, why, sizeof(why)), ROUTE_RETRY);
	assert_non_null(strstr(why, "more than one CNAME"));
	assert_int_equal(rrs_of(both, &n, &ttl, why, sizeof(why)), ROUTE_RETRY);
}

/* DNS_CNAME_MAX links are followed; one more is a temporary failure. */
static void test_cname_length(void **state)
{
	char text[DNS_CNAME_MAX + 3][128];
	const char *rrs[DNS_CNAME_MAX + 4];
	char why[256];
	size_t n;
	uint32_t ttl;

	(void)state;
	for (int links = DNS_CNAME_MAX; links <= DNS_CNAME_MAX + 1; links++) {
		int k = 0;
		for (int i = 0; i < links; i++) {
			if (i == 0)
				snprintf(text[k], sizeof(text[k]),
					 QNAME ". 300 IN CNAME l1.example.");
			else
				snprintf(text[k], sizeof(text[k]),
					 "l%d.example. 300 IN CNAME l%d.example.", i, i + 1);
			rrs[k] = text[k];
			k++;
		}
		snprintf(text[k], sizeof(text[k]), "l%d.example. 300 IN SRV 1 0 25 mx.example.",
			 links);
		rrs[k] = text[k];
		rrs[++k] = NULL;
		enum route_status st = rrs_of(rrs, &n, &ttl, why, sizeof(why));
		if (links == DNS_CNAME_MAX) {
			if (st != ROUTE_OK)
				fail_msg("%d links: %s", links, why);
		} else {
			assert_int_equal(st, ROUTE_RETRY);
			assert_non_null(strstr(why, "CNAME chain longer"));
		}
	}
}

static void test_rcodes(void **state)
{
	static const struct {
		ldns_pkt_rcode rcode;
		enum route_status want;
	} cases[] = {
		{LDNS_RCODE_NXDOMAIN, ROUTE_NOTFOUND},
		{LDNS_RCODE_SERVFAIL, ROUTE_RETRY},
		{LDNS_RCODE_REFUSED, ROUTE_RETRY},
		{LDNS_RCODE_FORMERR, ROUTE_RETRY},
	};
	const char *const rrs[] = {QNAME ". 300 IN SRV 10 0 25 mx.example.", NULL};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ldns_pkt *r = reply(1, true, QNAME ".", LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN,
				    cases[i].rcode, rrs);
		ldns_rr_list *got = NULL;
		char why[256];

		assert_int_equal(
			dns_answer_rrs(r, QNAME, LDNS_RR_TYPE_SRV, &got, NULL, why, sizeof(why)),
			cases[i].want);
		assert_null(got);
		ldns_pkt_free(r);
	}
	/* A truncated answer is never used, whatever it carries. */
	ldns_pkt *r = reply(1, true, QNAME ".", LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN,
			    LDNS_RCODE_NOERROR, rrs);
	ldns_rr_list *got = NULL;
	char why[256];
	ldns_pkt_set_tc(r, true);
	assert_int_equal(dns_answer_rrs(r, QNAME, LDNS_RR_TYPE_SRV, &got, NULL, why, sizeof(why)),
			 ROUTE_RETRY);
	ldns_pkt_free(r);
}

/* The SRV route takes only the name's records, following CNAMEs. */
static void test_srv_route_owner(void **state)
{
	const char *const rrs[] = {
		"_smtp._tcp.evil.example. 300 IN SRV 10 0 25 evil.example.",
		QNAME ". 300 IN CNAME srv.example.net.",
		"srv.example.net. 300 IN SRV 10 0 2525 mx.example.net.",
		NULL,
	};
	ldns_pkt *r = reply(1, true, QNAME ".", LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN,
			    LDNS_RCODE_NOERROR, rrs);
	struct route rt;

	(void)state;
	route_init(&rt);
	srv_route_from_pkt(r, QNAME, &rt);
	assert_int_equal(rt.status, ROUTE_OK);
	assert_int_equal(rt.ntargets, 1);
	assert_string_equal(rt.targets[0].host, "mx.example.net");
	route_clear(&rt);
	ldns_pkt_free(r);
}

/* The same rule for A, MX and TLSA: records of other owners never count. */
static void test_other_types(void **state)
{
	static const struct {
		const char *qname;
		ldns_rr_type type;
		const char *rr;
		enum route_status want;
	} cases[] = {
		{"mx.example.com", LDNS_RR_TYPE_A, "evil.example. 300 IN A 192.0.2.66",
		 ROUTE_NOTFOUND},
		{"mx.example.com", LDNS_RR_TYPE_A, "MX.example.COM. 300 IN A 192.0.2.1", ROUTE_OK},
		{"example.com", LDNS_RR_TYPE_MX, "other.example. 300 IN MX 5 evil.example.",
		 ROUTE_NOTFOUND},
		{"example.com", LDNS_RR_TYPE_MX, "example.com. 300 IN MX 5 mx.example.com.",
		 ROUTE_OK},
		{"_25._tcp.mx.example.com", LDNS_RR_TYPE_TLSA,
		 "_25._tcp.evil.example. 300 IN TLSA 3 1 1 "
		 "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
		 ROUTE_NOTFOUND},
		{"_25._tcp.mx.example.com", LDNS_RR_TYPE_TLSA,
		 "_25._tcp.mx.example.com. 300 IN TLSA 3 1 1 "
		 "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
		 ROUTE_OK},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char qn[300], why[256];
		const char *const rrs[] = {cases[i].rr, NULL};
		ldns_rr_list *got = NULL;

		snprintf(qn, sizeof(qn), "%s.", cases[i].qname);
		ldns_pkt *r = reply(9, true, qn, cases[i].type, LDNS_RR_CLASS_IN,
				    LDNS_RCODE_NOERROR, rrs);
		enum route_status st = dns_answer_rrs(r, cases[i].qname, cases[i].type, &got, NULL,
						      why, sizeof(why));
		if (st != cases[i].want)
			fail_msg("case %zu: %d (%s)", i, st, why);
		ldns_rr_list_deep_free(got);
		ldns_pkt_free(r);
	}
}

static void test_sockaddr_and_loopback(void **state)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53)}, b = a;
	struct sockaddr_in6 c = {.sin6_family = AF_INET6, .sin6_port = htons(53)}, d = c;

	(void)state;
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	b = a;
	assert_true(dns_same_sockaddr((void *)&a, sizeof(a), (void *)&b, sizeof(b)));
	inet_pton(AF_INET, "127.0.0.2", &b.sin_addr);
	assert_false(dns_same_sockaddr((void *)&a, sizeof(a), (void *)&b, sizeof(b)));
	b = a;
	b.sin_port = htons(54);
	assert_false(dns_same_sockaddr((void *)&a, sizeof(a), (void *)&b, sizeof(b)));
	assert_false(dns_same_sockaddr((void *)&a, sizeof(a), (void *)&c, sizeof(c)));
	assert_false(dns_same_sockaddr((void *)&a, 4, (void *)&a, 4));
	inet_pton(AF_INET6, "::1", &c.sin6_addr);
	d = c;
	assert_true(dns_same_sockaddr((void *)&c, sizeof(c), (void *)&d, sizeof(d)));
	inet_pton(AF_INET6, "::2", &d.sin6_addr);
	assert_false(dns_same_sockaddr((void *)&c, sizeof(c), (void *)&d, sizeof(d)));

	assert_true(dns_server_is_loopback("127.0.0.1"));
	assert_true(dns_server_is_loopback("127.1.2.3"));
	assert_true(dns_server_is_loopback("::1"));
	assert_false(dns_server_is_loopback("128.0.0.1"));
	assert_false(dns_server_is_loopback("192.0.2.53"));
	assert_false(dns_server_is_loopback("::ffff:127.0.0.1"));
	assert_false(dns_server_is_loopback("2001:db8::1"));
	assert_false(dns_server_is_loopback("localhost"));
	assert_false(dns_server_is_loopback(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_matches),
		cmocka_unit_test(test_reply_question_count),
		cmocka_unit_test(test_owner_only),
		cmocka_unit_test(test_cname_chain),
		cmocka_unit_test(test_cname_length),
		cmocka_unit_test(test_rcodes),
		cmocka_unit_test(test_srv_route_owner),
		cmocka_unit_test(test_other_types),
		cmocka_unit_test(test_sockaddr_and_loopback),
	};
	return cmocka_run_group_tests_name("dns_answer", tests, NULL, NULL);
}
