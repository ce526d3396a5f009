/* test_path - the RFC 5321 path of MAIL and RCPT: quoted local parts byte for byte, bad paths
 * refused */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain.h"
#include "path.h"

/* parsed - the address mx_path_parse reads from arg, or NULL; *rest after the path */
static void expect(const char *arg, const char *want, const char *want_rest)
{
	const char *rest = NULL;
	char *got = mx_path_parse(arg, &rest);

	if (want == NULL) {
		if (got != NULL)
			fail_msg("'%s': read as '%s', expected a refusal", arg, got);
		return;
	}
	if (got == NULL)
		fail_msg("'%s': refused, expected '%s'", arg, want);
	assert_string_equal(got, want);
	assert_string_equal(rest, want_rest);
	free(got);
}

static void test_plain(void **state)
{
	(void)state;
	expect("<user@example.com>", "user@example.com", "");
	expect(" <user@example.com>", "user@example.com", "");
	expect("<>", "", "");
	expect("<postmaster>", "postmaster", "");
	expect("<a.b+c@[192.0.2.1]>", "a.b+c@[192.0.2.1]", "");
	expect("<s@src.example> SIZE=100 BODY=8BITMIME", "s@src.example",
	       " SIZE=100 BODY=8BITMIME");
	expect("<j\xc3\xbcrgen@example.com> SMTPUTF8", "j\xc3\xbcrgen@example.com", " SMTPUTF8");
}

static void test_quoted(void **state)
{
	(void)state;
	/* a '>' inside quotes does not end the path (finding 4) */
	expect("<\"v>x\"@fwd.example>", "\"v>x\"@fwd.example", "");
	expect("<\"s>x\"@src.example> SIZE=10", "\"s>x\"@src.example", " SIZE=10");
	expect("<\"a b\"@example.com>", "\"a b\"@example.com", "");
	expect("<\"\\\"\"@example.com>", "\"\\\"\"@example.com", "");
	expect("<\"a@b\"@example.com>", "\"a@b\"@example.com", "");
	expect("<\"\\\\\"@example.com>", "\"\\\\\"@example.com", "");
	expect("<\"<>\"@example.com>", "\"<>\"@example.com", "");
	expect("<\"\"@example.com>", "\"\"@example.com", "");
}

static void test_source_route(void **state)
{
	(void)state;
	expect("<@a.example,@b.example:u@c.example>", "u@c.example", "");
	expect("<@a.example:>", NULL, NULL);
}

static void test_refused(void **state)
{
	(void)state;
	expect("user@example.com", NULL, NULL);
	expect("<user@example.com", NULL, NULL);
	expect("<\"v>x@fwd.example>", NULL, NULL); /* unterminated quote */
	expect("<\"v\\", NULL, NULL);
	expect("<a b@example.com>", NULL, NULL);
	expect("<a<b@example.com>", NULL, NULL);
	expect("<u@>", NULL, NULL);
	expect("<@example.com>", NULL, NULL);
	expect("<u@ex ample.com>", NULL, NULL);
	expect("<u@example.com>x", NULL, NULL);
	expect("<u@example.com>>", NULL, NULL);
	expect("<u@[192.0.2.1>", NULL, NULL);
	expect("<\"a\"b@example.com>", NULL, NULL);
	expect("", NULL, NULL);
}

static void test_domain(void **state)
{
	char d[300];

	(void)state;
	assert_true(mx_address_domain("\"v>x\"@fwd.example", d, sizeof(d)));
	assert_string_equal(d, "fwd.example");
	assert_true(mx_address_domain("<\"a@b>\"@fwd.example>", d, sizeof(d)));
	assert_string_equal(d, "fwd.example");
	assert_false(mx_address_domain("\"a@b\"", d, sizeof(d)));
	assert_true(mx_address_domain("u@example.com", d, sizeof(d)));
	assert_string_equal(d, "example.com");
	assert_int_equal(mx_local_part_len("\"a\\\"@\"@x"), 6);
	assert_int_equal(mx_local_part_len("abc@x"), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),	     cmocka_unit_test(test_quoted),
		cmocka_unit_test(test_source_route), cmocka_unit_test(test_refused),
		cmocka_unit_test(test_domain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
