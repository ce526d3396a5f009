/*
 * test_policy - walk the one failure policy table (dns/policy.c) and check
 * that it holds together and that its consumers agree with it: the
 * transport's exit codes, the socket map's answers, the deferral of codes.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include <cmocka.h>

#include "outcome.h"
#include "policy.h"
#include "socketmap.h"
#include "util.h"

/* every route lookup row: its own index, a name, codes of the fate's class */
static void test_rows(void **state)
{
	(void)state;
	for (int o = MX_ST_FORWARDED; o <= MX_ST_CONFIG; o++) {
		const struct mx_status_row *p = mx_status((enum mx_status)o);

		assert_int_equal(p->status, o);
		assert_non_null(p->name);
		if (o == MX_ST_FORWARDED) {
			assert_int_equal(p->fate, MX_FATE_DELIVER);
			assert_string_equal(p->socketmap, "OK");
			assert_int_equal(p->route_exit, 0);
			continue;
		}
		assert_non_null(p->dsn);
		assert_int_equal(p->dsn[0], p->fate == MX_FATE_BOUNCE ? '5' : '4');
		assert_int_equal(p->reply / 100, p->fate == MX_FATE_BOUNCE ? 5 : 4);
		if (p->fate == MX_FATE_BOUNCE) {
			/* the transport bounces it, with a sysexits code pipe(8) bounces on */
			assert_int_not_equal(outcome_exit_code(RCPT_BOUNCE, p->dsn), EX_TEMPFAIL);
			assert_int_not_equal(outcome_exit_code(RCPT_BOUNCE, p->dsn), EX_OK);
			assert_string_equal(p->socketmap, "NOTFOUND");
			assert_int_equal(p->route_exit, 1);
		} else {
			/* temporary: never a bounce anywhere */
			assert_string_equal(p->socketmap, "TEMP");
			assert_true(p->route_exit == EX_TEMPFAIL || p->route_exit == EX_CONFIG);
		}
	}
}

/* the design's codes: 5.4.4 for a route ".", 5.1.10 for a null MX, 5.4.6 for a loop */
static void test_design_codes(void **state)
{
	(void)state;
	assert_string_equal(mx_status(mx_route_outcome(ROUTE_NOSERVICE, false))->dsn, "5.4.4");
	assert_string_equal(mx_status(mx_route_outcome(ROUTE_NOSERVICE, true))->dsn, "5.1.10");
	assert_string_equal(mx_status(mx_route_outcome(ROUTE_NOTFOUND, true))->dsn, "5.1.2");
	assert_string_equal(mx_status(MX_ST_LOOP)->dsn, "5.4.6");
	/* a temporary DNS failure is never permanent, whichever way the domain goes */
	assert_false(mx_status(mx_route_outcome(ROUTE_RETRY, false))->fate == MX_FATE_BOUNCE);
	assert_false(mx_status(mx_route_outcome(ROUTE_RETRY, true))->fate == MX_FATE_BOUNCE);
	assert_false(mx_status(mx_route_outcome(ROUTE_FAIL, true))->fate == MX_FATE_BOUNCE);
	assert_false(mx_status(mx_route_outcome(ROUTE_FAIL, false))->fate == MX_FATE_BOUNCE);
}

/* deferral: any code becomes 4.X.X, the detail kept */
static void test_deferred(void **state)
{
	char dsn[16];

	(void)state;
	for (int o = 1; o < MX_ST_COUNT; o++) {
		mx_strlcpy(dsn, mx_status((enum mx_status)o)->dsn, sizeof(dsn));
		mx_dsn_deferred(dsn);
		assert_int_equal(dsn[0], '4');
		assert_string_equal(dsn + 1, mx_status((enum mx_status)o)->dsn + 1);
	}
	mx_strlcpy(dsn, "", sizeof(dsn));
	mx_dsn_deferred(dsn);
	assert_string_equal(dsn, "");
}

static enum route_status route_for_test;

/* lookup - whatever status the test set */
static enum route_status lookup(const char *domain, char *reason, size_t len)
{
	(void)domain;
	mx_strlcpy(reason, "why", len);
	return route_for_test;
}

/* the socket map answers the relay check as the table says, for every route status */
static void test_socketmap_agrees(void **state)
{
	static const struct socketmap_values values = {"mxport", "mxport:", NULL};
	const enum route_status all[] = {ROUTE_OK, ROUTE_NOTFOUND, ROUTE_NOSERVICE, ROUTE_RETRY,
					 ROUTE_FAIL};
	char reply[600];

	(void)state;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const char *want = mx_status(mx_route_outcome(all[i], false))->socketmap;

		route_for_test = all[i];
		socketmap_answer("relay example.com", 17, lookup, &values, reply, sizeof(reply));
		assert_int_equal(strncmp(reply, want, strlen(want)), 0);
		assert_int_equal(reply[strlen(want)], ' ');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_design_codes),
		cmocka_unit_test(test_deferred),
		cmocka_unit_test(test_socketmap_agrees),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
