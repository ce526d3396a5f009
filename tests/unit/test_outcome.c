/* test_outcome - exit codes and the rule for several recipients with one status */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sysexits.h>

#include <cmocka.h>

#include "outcome.h"

static void test_exit_codes(void **state)
{
	(void)state;
	assert_int_equal(outcome_exit_code(RCPT_SENT, "2.0.0"), EX_OK);
	assert_int_equal(outcome_exit_code(RCPT_DEFER, "4.4.1"), EX_TEMPFAIL);
	assert_int_equal(outcome_exit_code(RCPT_BOUNCE, "5.1.1"), EX_NOUSER);
	assert_int_equal(outcome_exit_code(RCPT_BOUNCE, "5.1.2"), EX_NOHOST);
	assert_int_equal(outcome_exit_code(RCPT_BOUNCE, "5.7.1"), EX_NOPERM);
	assert_int_equal(outcome_exit_code(RCPT_BOUNCE, "5.4.6"), EX_UNAVAILABLE);
}

static void test_combine(void **state)
{
	struct rcpt_outcome o[3];
	const struct rcpt_outcome *which;

	(void)state;
	memset(o, 0, sizeof(o));
	o[0].state = o[1].state = o[2].state = RCPT_SENT;
	assert_int_equal(outcome_combine(o, 3, &which), EX_OK);

	/* all bounced: the first bounce */
	outcome_set(&o[0], RCPT_BOUNCE, "5.1.1", "a");
	outcome_set(&o[1], RCPT_BOUNCE, "5.2.2", "b");
	outcome_set(&o[2], RCPT_BOUNCE, "5.2.2", "c");
	assert_int_equal(outcome_combine(o, 3, &which), EX_NOUSER);
	assert_ptr_equal(which, &o[0]);

	/* any deferral: defer, naming it */
	outcome_set(&o[1], RCPT_DEFER, "4.2.2", "b");
	assert_int_equal(outcome_combine(o, 3, &which), EX_TEMPFAIL);
	assert_ptr_equal(which, &o[1]);

	/* sent and bounced mixed: the bounce (a deferral would send the sent one again and again)
	 */
	o[1].state = RCPT_SENT;
	assert_int_equal(outcome_combine(o, 3, &which), EX_NOUSER);
	assert_ptr_equal(which, &o[0]);

	/* sent, deferred and bounced mixed: defer, naming the deferred one */
	outcome_set(&o[0], RCPT_SENT, "2.0.0", "ok");
	outcome_set(&o[1], RCPT_BOUNCE, "5.1.1", "refused");
	outcome_set(&o[2], RCPT_DEFER, "4.5.3", "later");
	assert_int_equal(outcome_combine(o, 3, &which), EX_TEMPFAIL);
	assert_ptr_equal(which, &o[2]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_combine),
	};
	return cmocka_run_group_tests_name("outcome", tests, NULL, NULL);
}
