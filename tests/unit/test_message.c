/* test_message - DATA preparation: CRLF, dot-stuffing, tag header removal, 8-bit detection */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "message.h"

/* prep - message_prepare on a string; returns the DATA text (caller frees the message) */
static const char *prep(const char *in, struct message *m)
{
	message_prepare(in, strlen(in), "X-Mxport", 998, m);
	m->data = realloc(m->data, m->datalen + 1);
	m->data[m->datalen] = '\0';
	return m->data;
}

static void test_crlf_and_dots(void **state)
{
	struct message m;

	(void)state;
	assert_string_equal(prep("A: b\n\n.x\n..y\r\n.\nz", &m),
			    "A: b\r\n\r\n..x\r\n...y\r\n..\r\nz\r\n.\r\n");
	assert_int_equal(m.size, strlen("A: b\r\n\r\n.x\r\n..y\r\n.\r\nz\r\n"));
	assert_false(m.eightbit);
	message_free(&m);
}

static void test_empty(void **state)
{
	struct message m;

	(void)state;
	assert_string_equal(prep("", &m), ".\r\n");
	message_free(&m);
}

static void test_tag_removed(void **state)
{
	struct message m;

	(void)state;
	assert_string_equal(
		prep("X-Mxport: a\n\tfolded\nx-mxport :b\nX-Mxport-Other: keep\n"
		     "Subject: s\nX-MXPORT: c\n\nX-Mxport: body line stays\n",
		     &m),
		"X-Mxport-Other: keep\r\nSubject: s\r\n\r\nX-Mxport: body line stays\r\n.\r\n");
	assert_int_equal(m.tags_removed, 3);
	message_free(&m);
}

static void test_eightbit(void **state)
{
	struct message m;

	(void)state;
	prep("Subject: ok\n\nGr\xc3\xbc\xc3\x9f\x65\n", &m);
	assert_true(m.eightbit);
	assert_false(m.header_utf8);
	message_free(&m);
	prep("Subject: Gr\xc3\xbc\xc3\x9f\x65\n\nbody\n", &m);
	assert_true(m.header_utf8);
	message_free(&m);
}

static void test_header_name(void **state)
{
	(void)state;
	assert_true(header_name_is("X-Mxport: a", 11, "X-Mxport"));
	assert_true(header_name_is("x-mxport \t: a", 13, "X-Mxport"));
	assert_false(header_name_is("X-Mxport-Foo: a", 15, "X-Mxport"));
	assert_false(header_name_is("X-Mxport", 8, "X-Mxport"));
	assert_false(header_name_is("X-Mxpor: a", 10, "X-Mxport"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crlf_and_dots), cmocka_unit_test(test_empty),
		cmocka_unit_test(test_tag_removed),   cmocka_unit_test(test_eightbit),
		cmocka_unit_test(test_header_name),
	};
	return cmocka_run_group_tests_name("message", tests, NULL, NULL);
}
