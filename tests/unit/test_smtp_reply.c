/* test_smtp_reply - the SMTP reply parser: codes, multiline, enhanced codes, hostile input */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smtp_reply.h"

/* feed - lines into a reply; returns the last add_line result */
static int feed(struct smtp_reply *r, const char *const *lines, char *err, size_t errlen)
{
	int rc = 0;

	smtp_reply_init(r);
	for (; *lines; lines++) {
		rc = smtp_reply_add_line(r, *lines, strlen(*lines), err, errlen);
		if (rc != 0)
			break;
	}
	return rc;
}

static void test_single(void **state)
{
	const char *const l[] = {"250 2.1.0 Ok", NULL};
	struct smtp_reply r;
	char err[256];

	(void)state;
	assert_int_equal(feed(&r, l, err, sizeof(err)), 1);
	assert_int_equal(r.code, 250);
	assert_string_equal(r.enh, "2.1.0");
	assert_string_equal(r.text, "250 2.1.0 Ok");
}

static void test_multiline_and_keywords(void **state)
{
	const char *const l[] = {"250-mail.example Hello", "250-PIPELINING", "250-SIZE 1000",
				 "250-auth PLAIN LOGIN",   "250 STARTTLS",   NULL};
	struct smtp_reply r;
	char err[256];
	const char *args;

	(void)state;
	assert_int_equal(feed(&r, l, err, sizeof(err)), 1);
	assert_int_equal(r.lines, 5);
	assert_true(smtp_reply_has_keyword(&r, "PIPELINING", NULL));
	assert_true(smtp_reply_has_keyword(&r, "SIZE", &args));
	assert_memory_equal(args, " 1000\n", 6);
	assert_true(smtp_reply_has_keyword(&r, "AUTH", &args));
	assert_true(smtp_reply_has_keyword(&r, "starttls", NULL));
	assert_false(smtp_reply_has_keyword(&r, "8BITMIME", NULL));
	assert_false(smtp_reply_has_keyword(&r, "mail.example", NULL)); /* greeting line */
	assert_false(smtp_reply_has_keyword(&r, "SIZ", NULL));
}

/* "250-SIZE" without a number (Postfix with message_size_limit = 0): no
 * arguments, not the next line's reply code read as the limit */
static void test_bare_keyword_has_no_args(void **state)
{
	const char *const l[] = {"250-mail.example", "250-SIZE", "250 8BITMIME", NULL};
	struct smtp_reply r;
	char err[256];
	const char *args;

	(void)state;
	assert_int_equal(feed(&r, l, err, sizeof(err)), 1);
	assert_true(smtp_reply_has_keyword(&r, "SIZE", &args));
	assert_string_equal(args, "");
	assert_true(smtp_reply_has_keyword(&r, "8BITMIME", &args));
	assert_string_equal(args, "");
}

static void test_oneline(void **state)
{
	const char *const l[] = {"550-5.1.1 No such user", "550-", "550 5.1.1 Go away", NULL};
	struct smtp_reply r;
	char err[256], out[256];

	(void)state;
	assert_int_equal(feed(&r, l, err, sizeof(err)), 1);
	smtp_reply_oneline(&r, out, sizeof(out));
	assert_string_equal(out, "550 5.1.1 No such user 5.1.1 Go away");
	assert_string_equal(r.enh, "5.1.1");
}

static void test_bare_code(void **state)
{
	const char *const l[] = {"354", NULL};
	struct smtp_reply r;
	char err[256];

	(void)state;
	assert_int_equal(feed(&r, l, err, sizeof(err)), 1);
	assert_int_equal(r.code, 354);
	assert_string_equal(r.enh, "");
}

/* An enhanced code of the wrong class, or malformed, is not taken. */
static void test_enhanced_code_checks(void **state)
{
	static const struct {
		const char *line, *enh;
	} cases[] = {
		{"550 4.1.1 wrong class", ""}, {"550 5.1 short", ""},  {"550 5.1.1234 long", ""},
		{"451 4.7.1 ok", "4.7.1"},     {"550 5.7.1x bad", ""}, {"250 2.0.0", "2.0.0"},
	};
	struct smtp_reply r;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		smtp_reply_init(&r);
		assert_int_equal(smtp_reply_add_line(&r, cases[i].line, strlen(cases[i].line), err,
						     sizeof(err)),
				 1);
		if (strcmp(r.enh, cases[i].enh) != 0)
			fail_msg("'%s': enh '%s', want '%s'", cases[i].line, r.enh, cases[i].enh);
	}
}

static void test_bad_lines(void **state)
{
	static const char *const bad[] = {
		"", "25", "hello", "250x", "650 six hundred", "150 one hundred", "2a0 x", "-250 x"};
	struct smtp_reply r;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		smtp_reply_init(&r);
		if (smtp_reply_add_line(&r, bad[i], strlen(bad[i]), err, sizeof(err)) != -1)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(strstr(err, "malformed reply line"));
	}
}

static void test_code_change_and_limits(void **state)
{
	const char *const change[] = {"250-first", "251 second", NULL};
	struct smtp_reply r;
	char err[256], longline[SMTP_LINE_MAX + 10];

	(void)state;
	assert_int_equal(feed(&r, change, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "changed from 250 to 251"));

	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "250 ", 4);
	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_add_line(&r, longline, sizeof(longline), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than"));

	smtp_reply_init(&r);
	for (int i = 0; i < SMTP_REPLY_LINES; i++)
		assert_int_equal(smtp_reply_add_line(&r, "250-x", 5, err, sizeof(err)), 0);
	assert_int_equal(smtp_reply_add_line(&r, "250-x", 5, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than"));

	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_add_line(&r, "250 a\0b", 7, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "NUL byte"));
}

/* Remote text is made printable before it reaches a log or a DSN. */
static void test_nonprintable(void **state)
{
	const char *const l[] = {"550 bad\tstuff \x1b[31mred\xff", NULL};
	struct smtp_reply r;
	char err[256];

	(void)state;
	assert_int_equal(feed(&r, l, err, sizeof(err)), 1);
	assert_string_equal(r.text, "550 bad?stuff ?[31mred?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_multiline_and_keywords),
		cmocka_unit_test(test_bare_keyword_has_no_args),
		cmocka_unit_test(test_oneline),
		cmocka_unit_test(test_bare_code),
		cmocka_unit_test(test_enhanced_code_checks),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_code_change_and_limits),
		cmocka_unit_test(test_nonprintable),
	};
	return cmocka_run_group_tests_name("smtp_reply", tests, NULL, NULL);
}
