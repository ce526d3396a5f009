/* test_socketmap - netstring framing and the socketmap answers (relay, transport, mailertable) */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "netstring.h"
#include "socketmap.h"
#include "util.h"

/* fake_lookup - example.com forwarded, dnsfail.example temporary, the rest not */
static enum route_status fake_lookup(const char *domain, char *reason, size_t len)
{
	if (strcmp(domain, "example.com") == 0)
		return ROUTE_OK;
	if (strcmp(domain, "dnsfail.example") == 0) {
		mx_strlcpy(reason, "_smtp._tcp.dnsfail.example/SRV: name server answered SERVFAIL",
			   len);
		return ROUTE_RETRY;
	}
	if (strcmp(domain, "null.example") == 0)
		return ROUTE_NOSERVICE;
	return ROUTE_NOTFOUND;
}

static const struct socketmap_values defaults = {"mxport", "mxport:", NULL};

/* ask - the answer to a request string */
static const char *ask(const char *req)
{
	static char reply[600];

	socketmap_answer(req, strlen(req), fake_lookup, &defaults, reply, sizeof(reply));
	return reply;
}

static void test_answers(void **state)
{
	(void)state;
	assert_string_equal(ask("relay example.com"), "OK forwarded");
	assert_string_equal(ask("transport example.com"), "OK mxport:");
	assert_string_equal(ask("mailertable example.com"), "OK mxport:example.com");
	{
		static const struct socketmap_values other = {
			"mxport_lmtp", "mxport-lmtp:unix:/run/mxport/lmtp.sock", NULL};
		char reply[100];
		socketmap_answer("mailertable example.com", 23, fake_lookup, &other, reply,
				 sizeof(reply));
		assert_string_equal(reply, "OK mxport_lmtp:example.com");
		socketmap_answer("transport example.com", 21, fake_lookup, &other, reply,
				 sizeof(reply));
		assert_string_equal(reply, "OK mxport-lmtp:unix:/run/mxport/lmtp.sock");
	}
	assert_string_equal(ask("access To:example.com"), "OK RELAY");
	assert_string_equal(ask("access to:example.com"), "OK RELAY");
	assert_string_equal(ask("access To:other.example"), "NOTFOUND ");
	assert_string_equal(ask("access Connect:127.0.0.1"), "NOTFOUND ");
	assert_string_equal(ask("access From:example.com"), "NOTFOUND ");
	assert_string_equal(ask("access To:bob@example.com"), "NOTFOUND ");
	assert_string_equal(ask("relay other.example"), "NOTFOUND ");
	assert_string_equal(ask("relay null.example"), "NOTFOUND ");
	assert_string_equal(ask("relay .example.com"), "NOTFOUND "); /* parent-domain probes */
	assert_string_equal(ask("relay bob@example.com"), "NOTFOUND ");
	assert_string_equal(ask("transport bob@example.com"), "OK mxport:"); /* Postfix asks so */
	assert_string_equal(ask("transport bob@other.example"), "NOTFOUND ");
	assert_string_equal(ask("transport bob@"), "NOTFOUND ");
	assert_string_equal(ask("relay dnsfail.example"),
			    "TEMP _smtp._tcp.dnsfail.example/SRV: name server answered SERVFAIL");
	assert_string_equal(ask("virtual example.com"), "PERM unknown map virtual");
	assert_string_equal(ask("relayexample.com"), "PERM malformed request");
	assert_string_equal(ask(" example.com"), "PERM malformed request");
	assert_string_equal(ask("relay "), "NOTFOUND ");
}

static void test_netstring_parse(void **state)
{
	const char *data;
	size_t len, used;

	(void)state;
	assert_int_equal(netstring_parse("5:hello,rest", 12, &data, &len, &used), 1);
	assert_int_equal(len, 5);
	assert_memory_equal(data, "hello", 5);
	assert_int_equal(used, 8);
	assert_int_equal(netstring_parse("0:,", 3, &data, &len, &used), 1);
	assert_int_equal(len, 0);
	assert_int_equal(netstring_parse("5:hel", 5, &data, &len, &used), 0);	  /* more to come */
	assert_int_equal(netstring_parse("12", 2, &data, &len, &used), 0);	  /* more to come */
	assert_int_equal(netstring_parse("5:hello;", 8, &data, &len, &used), -1); /* no comma */
	assert_int_equal(netstring_parse(":x,", 3, &data, &len, &used), -1);
	assert_int_equal(netstring_parse("05:hello,", 9, &data, &len, &used), -1);
	assert_int_equal(netstring_parse("999999999:", 10, &data, &len, &used), -1); /* too long */
	assert_int_equal(netstring_parse("x:", 2, &data, &len, &used), -1);
}

static void test_netstring_format(void **state)
{
	char out[32];

	(void)state;
	assert_int_equal(netstring_format(out, sizeof(out), "OK forwarded", 12), 16);
	assert_memory_equal(out, "12:OK forwarded,", 16);
	assert_int_equal(netstring_format(out, 4, "OK forwarded", 12), 16); /* does not fit */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_netstring_parse),
		cmocka_unit_test(test_netstring_format),
	};
	return cmocka_run_group_tests_name("socketmap", tests, NULL, NULL);
}
