/* test_srv - SRV answers to routes: targets, '.', NXDOMAIN, NODATA, SERVFAIL, bad records */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "srv.h"

#define QNAME "_smtp._tcp.example.com"

/* answer - a response packet with the given rcode and answer records */
static ldns_pkt *answer(ldns_pkt_rcode rcode, bool ad, const char *const *rrs)
{
	ldns_pkt *pkt = ldns_pkt_new();

	ldns_pkt_set_qr(pkt, true);
	ldns_pkt_set_rcode(pkt, (uint8_t)rcode);
	ldns_pkt_set_ad(pkt, ad);
	for (; rrs && *rrs; rrs++) {
		ldns_rr *rr = NULL;
		assert_int_equal(ldns_rr_new_frm_str(&rr, *rrs, 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, rr);
	}
	return pkt;
}

static void test_two_targets(void **state)
{
	const char *const rrs[] = {
		QNAME ". 300 IN SRV 20 0 2526 mx2.example.com.",
		QNAME ". 600 IN SRV 10 5 2525 MX1.Example.com.",
		NULL,
	};
	ldns_pkt *pkt = answer(LDNS_RCODE_NOERROR, true, rrs);
	struct route r;

	(void)state;
	route_init(&r);
	srv_route_from_pkt(pkt, QNAME, &r);
	assert_int_equal(r.status, ROUTE_OK);
	assert_int_equal(r.source, ROUTE_SRC_DNS);
	assert_true(r.secure);
	assert_int_equal(r.ttl, 300);
	assert_int_equal(r.ntargets, 2);
	assert_string_equal(r.targets[1].host, "mx1.example.com");
	assert_int_equal(r.targets[1].pref, 10);
	assert_int_equal(r.targets[1].weight, 5);
	assert_int_equal(r.targets[1].port, 2525);
	route_clear(&r);
	ldns_pkt_free(pkt);
}

static void test_dot_target(void **state)
{
	const char *const rrs[] = {QNAME ". 300 IN SRV 0 0 0 .", NULL};
	ldns_pkt *pkt = answer(LDNS_RCODE_NOERROR, false, rrs);
	struct route r;

	(void)state;
	route_init(&r);
	srv_route_from_pkt(pkt, QNAME, &r);
	assert_int_equal(r.status, ROUTE_NOSERVICE);
	assert_false(r.secure);
	route_clear(&r);
	ldns_pkt_free(pkt);
}

static void test_negative_and_errors(void **state)
{
	static const struct {
		ldns_pkt_rcode rcode;
		enum route_status want;
		const char *reason;
	} cases[] = {
		{LDNS_RCODE_NXDOMAIN, ROUTE_NOTFOUND, "NXDOMAIN"},
		{LDNS_RCODE_NOERROR, ROUTE_NOTFOUND, "no SRV record"},
		{LDNS_RCODE_SERVFAIL, ROUTE_RETRY, "SERVFAIL"},
		{LDNS_RCODE_REFUSED, ROUTE_RETRY, "REFUSED"},
	};
	struct route r;

	(void)state;
	route_init(&r);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ldns_pkt *pkt = answer(cases[i].rcode, false, NULL);
		srv_route_from_pkt(pkt, QNAME, &r);
		assert_int_equal(r.status, cases[i].want);
		if (strstr(r.reason, cases[i].reason) == NULL)
			fail_msg("reason '%s' lacks '%s'", r.reason, cases[i].reason);
		route_clear(&r);
		ldns_pkt_free(pkt);
	}
}

/* A CNAME or other record in the answer is not an SRV: NODATA for SRV purposes. */
static void test_other_types_ignored(void **state)
{
	const char *const rrs[] = {QNAME ". 300 IN TXT \"hello\"", NULL};
	ldns_pkt *pkt = answer(LDNS_RCODE_NOERROR, false, rrs);
	struct route r;

	(void)state;
	route_init(&r);
	srv_route_from_pkt(pkt, QNAME, &r);
	assert_int_equal(r.status, ROUTE_NOTFOUND);
	route_clear(&r);
	ldns_pkt_free(pkt);
}

static void test_bad_records(void **state)
{
	const char *const only_bad[] = {QNAME ". 300 IN SRV 10 0 0 mx.example.com.",
					QNAME ". 300 IN SRV 10 0 2525 bad_name.example.com.", NULL};
	const char *const mixed[] = {QNAME ". 300 IN SRV 10 0 0 mx.example.com.",
				     QNAME ". 300 IN SRV 20 0 2525 good.example.com.", NULL};
	ldns_pkt *pkt = answer(LDNS_RCODE_NOERROR, false, only_bad);
	struct route r;

	(void)state;
	route_init(&r);
	srv_route_from_pkt(pkt, QNAME, &r);
	assert_int_equal(r.status, ROUTE_FAIL);
	assert_non_null(strstr(r.reason, "port 0"));
	route_clear(&r);
	ldns_pkt_free(pkt);

	pkt = answer(LDNS_RCODE_NOERROR, false, mixed);
	srv_route_from_pkt(pkt, QNAME, &r);
	assert_int_equal(r.status, ROUTE_OK);
	assert_int_equal(r.ntargets, 1);
	assert_string_equal(r.targets[0].host, "good.example.com");
	assert_non_null(strstr(r.reason, "left out"));
	route_clear(&r);
	ldns_pkt_free(pkt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_targets),
		cmocka_unit_test(test_dot_target),
		cmocka_unit_test(test_negative_and_errors),
		cmocka_unit_test(test_other_types_ignored),
		cmocka_unit_test(test_bad_records),
	};
	return cmocka_run_group_tests_name("srv", tests, NULL, NULL);
}
