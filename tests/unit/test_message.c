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

/*
 * same_checked - message_prepare_checked with what a reader found (every
 * line CR LF, no leading dot, the longest line) gives what message_prepare
 * gives, for line limits around the longest line
 */
static void same_checked(const char *in)
{
	struct message_checked ck = {.crlf_nodot = true, .longest = 0};
	const char *p = in;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = (size_t)(nl - p) - 1;

		assert_non_null(nl);
		assert_true(nl > p && nl[-1] == '\r' && *p != '.');
		if (len > ck.longest)
			ck.longest = len;
		p = nl + 1;
	}
	for (unsigned limit = 0; limit < ck.longest + 3;
	     limit += limit < 2 ? 1 : ck.longest / 4 + 1) {
		struct message a, b;

		message_prepare(in, strlen(in), "X-Mxport", limit, &a);
		message_prepare_checked(in, strlen(in), "X-Mxport", limit, &ck, &b);
		assert_int_equal(a.datalen, b.datalen);
		assert_memory_equal(a.data, b.data, a.datalen);
		assert_int_equal(a.size, b.size);
		assert_int_equal(a.header_len, b.header_len);
		assert_int_equal(a.eightbit, b.eightbit);
		assert_int_equal(a.tags_removed, b.tags_removed);
		message_free(&a);
		message_free(&b);
	}
}

static void test_checked_same(void **state)
{
	(void)state;
	same_checked("");
	same_checked("A: b\r\n\r\nbody\r\n");
	same_checked("A: b\r\nX-Mxport: t\r\n x\r\n\r\nline one\r\nline two is longer\r\n\r\n");
	same_checked("A: b\r\nno body\r\n");
	same_checked("A: b\r\n\r\n\xc3\xa9t\xc3\xa9\r\nx.y\r\n");
	same_checked("A: \xc3\xa9\r\n\r\n a line that starts with a space\r\n\tand a tab\r\n");
}

/* a body with a dot, a bare LF or a line over the limit is not copied whole */
static void test_checked_not_clean(void **state)
{
	struct message_checked dirty = {.crlf_nodot = false, .longest = 0};
	struct message_checked toolong = {.crlf_nodot = true, .longest = 20};
	struct message m;

	(void)state;
	message_prepare_checked("A: b\r\n\r\n.x\r\n", 12, "X-Mxport", 998, &dirty, &m);
	assert_int_equal(m.datalen, strlen("A: b\r\n\r\n..x\r\n.\r\n"));
	assert_memory_equal(m.data, "A: b\r\n\r\n..x\r\n.\r\n", m.datalen);
	message_free(&m);
	message_prepare_checked("A: b\r\n\r\n0123456789abcdefghij\r\n", 30, "X-Mxport", 10,
				&toolong, &m);
	assert_int_equal(m.datalen, strlen("A: b\r\n\r\n0123456789\r\n abcdefghi\r\n j\r\n.\r\n"));
	assert_memory_equal(m.data, "A: b\r\n\r\n0123456789\r\n abcdefghi\r\n j\r\n.\r\n",
			    m.datalen);
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
		cmocka_unit_test(test_crlf_and_dots),	  cmocka_unit_test(test_empty),
		cmocka_unit_test(test_tag_removed),	  cmocka_unit_test(test_eightbit),
		cmocka_unit_test(test_header_name),	  cmocka_unit_test(test_checked_same),
		cmocka_unit_test(test_checked_not_clean),
	};
	return cmocka_run_group_tests_name("message", tests, NULL, NULL);
}
