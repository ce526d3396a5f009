/* test_loopfield - the loop guard's trace field: added last in the header, found however folded */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "message.h"

/* prep - a message from text */
static void prep(const char *text, struct message *m)
{
	message_prepare(text, strlen(text), "X-Mxport", 998, m);
}

static void test_add(void **state)
{
	struct message m, s;

	(void)state;
	prep("Received: x\r\nSubject: s\r\n\r\nbody\r\n.dot\r\n", &m);
	message_add_field(&m, "X-Loop-Mxport: a.example by r.test", &s);
	assert_int_equal(s.datalen, m.datalen + strlen("X-Loop-Mxport: a.example by r.test\r\n"));
	assert_int_equal(s.size, m.size + strlen("X-Loop-Mxport: a.example by r.test\r\n"));
	assert_memory_equal(
		s.data,
		"Received: x\r\nSubject: s\r\nX-Loop-Mxport: a.example by r.test\r\n\r\n"
		"body\r\n..dot\r\n.\r\n",
		s.datalen);
	free(s.data);
	message_free(&m);

	/* no body: the field is the header's last line, before the final dot */
	prep("Subject: s\r\n", &m);
	message_add_field(&m, "F: v", &s);
	assert_memory_equal(s.data, "Subject: s\r\nF: v\r\n.\r\n", s.datalen);
	free(s.data);
	message_free(&m);

	/* no header at all: the field makes one */
	prep("\r\nbody\r\n", &m);
	message_add_field(&m, "F: v", &s);
	assert_memory_equal(s.data, "F: v\r\n\r\nbody\r\n.\r\n", s.datalen);
	free(s.data);
	message_free(&m);

	/* empty message */
	prep("", &m);
	message_add_field(&m, "F: v", &s);
	assert_memory_equal(s.data, "F: v\r\n.\r\n", s.datalen);
	free(s.data);
	message_free(&m);
}

static void test_has(void **state)
{
	struct message m;

	(void)state;
	prep("Received: x\r\nx-loop-MXPORT :\tA.Example\r\n  by   r.test \r\nSubject: s\r\n\r\n"
	     "X-Loop-Mxport: b.example by r.test\r\n",
	     &m);
	assert_true(message_has_field(&m, "X-Loop-Mxport", "a.example by r.test"));
	/* in the body: not a header field */
	assert_false(message_has_field(&m, "X-Loop-Mxport", "b.example by r.test"));
	assert_false(message_has_field(&m, "X-Loop-Mxport", "a.example by other.test"));
	assert_false(message_has_field(&m, "X-Loop-Mxport", "a.example by r.tes"));
	assert_false(message_has_field(&m, "X-Loop-Mxport", "a.example.by r.test"));
	assert_false(message_has_field(&m, "X-Loop", "a.example by r.test"));
	message_free(&m);

	prep("X-Loop-Mxport: a.example by r.test", &m);
	assert_true(message_has_field(&m, "X-Loop-Mxport", "a.example by r.test"));
	message_free(&m);
	prep("X-Loop-Mxport:", &m);
	assert_false(message_has_field(&m, "X-Loop-Mxport", "a.example by r.test"));
	message_free(&m);
	prep("", &m);
	assert_false(message_has_field(&m, "X-Loop-Mxport", "a"));
	message_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_has),
	};
	return cmocka_run_group_tests_name("loopfield", tests, NULL, NULL);
}
