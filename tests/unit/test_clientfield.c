/* test_clientfield - the MTA's queue id and client from a header field: last copy, every copy removed */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clientfield.h"

/* take - run clientfield_take on a copy of msg; the result in out */
static const char *take(const char *msg, struct xforward *x, char *qid, size_t qidlen)
{
	static char out[4096];
	size_t n = strlen(msg);

	assert_true(n < sizeof(out));
	memcpy(out, msg, n);
	n = clientfield_take(out, n, "X-Mxport-Client", x, qid, qidlen);
	out[n] = '\0';
	return out;
}

static void test_none(void **state)
{
	struct xforward x = {.addr = ""};
	char qid[65] = "";
	const char *m = "From: a\r\nSubject: s\r\n\r\nX-Mxport-Client: QUEUE=body ADDR=192.0.2.9\r\n";

	(void)state;
	assert_string_equal(take(m, &x, qid, sizeof(qid)), m);
	assert_string_equal(qid, "");
	assert_false(xforward_any(&x));
}

static void test_exim_field(void **state)
{
	struct xforward x = {.addr = ""};
	char qid[65] = "";

	(void)state;
	assert_string_equal(
		take("From: a\r\nX-Mxport-Client: QUEUE=1xaj61-0003V2-0m ADDR=203.0.113.9\r\n"
		     "  SOURCE=REMOTE PROTO=ESMTP HELO=client.example NAME=mail.client.example\r\n"
		     "\r\nbody\r\n",
		     &x, qid, sizeof(qid)),
		"From: a\r\n\r\nbody\r\n");
	assert_string_equal(qid, "1xaj61-0003V2-0m");
	assert_string_equal(x.addr, "203.0.113.9");
	assert_string_equal(x.helo, "client.example");
	assert_string_equal(x.name, "mail.client.example");
	assert_string_equal(x.proto, "ESMTP");
	assert_string_equal(x.source, "REMOTE");
}

static void test_last_copy_counts(void **state)
{
	struct xforward x = {.addr = ""};
	char qid[65] = "";

	(void)state;
	/* the sender's forged copies come first; the MTA's is added last */
	assert_string_equal(take("x-mxport-client: QUEUE=forged ADDR=192.0.2.66\r\n"
				 "Subject: s\r\n"
				 "X-Mxport-Client : QUEUE=forged2\r\n\tADDR=192.0.2.67\r\n"
				 "To: b\r\n"
				 "X-Mxport-Client: QUEUE=real ADDR=198.51.100.1\r\n\r\n",
				 &x, qid, sizeof(qid)),
			    "Subject: s\r\nTo: b\r\n\r\n");
	assert_string_equal(qid, "real");
	assert_string_equal(x.addr, "198.51.100.1");
}

static void test_bad_values(void **state)
{
	struct xforward x = {.addr = ""};
	char qid[65] = "";

	(void)state;
	take("X-Mxport-Client: QUEUE=a/../b ADDR=not-an-address HELO=ok.example FOO=bar junk\r\n\r\n",
	     &x, qid, sizeof(qid));
	assert_string_equal(qid, "");
	assert_string_equal(x.addr, "");
	assert_string_equal(x.helo, "ok.example");
	take("X-Mxport-Client: QUEUE=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
	     &x, qid, sizeof(qid));
	assert_string_equal(qid, ""); /* 65 bytes: too long */
}

static void test_no_body_bare_lf(void **state)
{
	struct xforward x = {.addr = ""};
	char qid[65] = "";

	(void)state;
	assert_string_equal(take("A: 1\nX-Mxport-Client: QUEUE=q1\n", &x, qid, sizeof(qid)), "A: 1\n");
	assert_string_equal(qid, "q1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_exim_field),
		cmocka_unit_test(test_last_copy_counts),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_no_body_bare_lf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
