/* test_xforward - XFORWARD attributes: checks of outside values, xtext both ways, line limits */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "xforward.h"

/* set - one attribute; returns xforward_set's result */
static int set(struct xforward *x, const char *attr, const char *value)
{
	char why[128];

	return xforward_set(x, attr, value, why, sizeof(why));
}

/* commands - the command lines for x and an offer, as one string */
static char *commands(const struct xforward *x, const char *offered, size_t *n)
{
	static char out[4096];
	struct mx_buf b = {0};

	*n = xforward_commands(x, offered, &b);
	assert_true(b.len < sizeof(out));
	memcpy(out, b.data ? b.data : "", b.len);
	out[b.len] = '\0';
	mx_buf_free(&b);
	return out;
}

static void test_addresses(void **state)
{
	struct xforward x = {.addr = ""};

	(void)state;
	assert_int_equal(set(&x, "ADDR", "192.0.2.7"), 0);
	assert_string_equal(x.addr, "192.0.2.7");
	assert_int_equal(set(&x, "addr", "IPv6:2001:DB8::0:1"), 0);
	assert_string_equal(x.addr, "2001:db8::1");
	assert_int_equal(set(&x, "ADDR", "[UNAVAILABLE]"), 0);
	assert_string_equal(x.addr, "");
	/* Sendmail's way of saying "no name": a bracketed address is "unknown". */
	strcpy(x.name, "keep");
	assert_int_equal(set(&x, "NAME", "[192.0.2.7]"), 0);
	assert_string_equal(x.name, "");
	const char *bad[] = {"192.0.2.256", "192.0.2",	 "[192.0.2.7]x",
			     "192.0.2.7 x", "host.test", "192.0.2.7\r\nRCPT TO:<x@y>",
			     "::g",	    "1.2.3.4.5", NULL};
	for (size_t i = 0; bad[i]; i++) {
		strcpy(x.addr, "keep");
		assert_int_equal(set(&x, "ADDR", bad[i]), -1);
		assert_string_equal(x.addr, ""); /* dropped, never kept */
	}
}

static void test_names_helo_proto(void **state)
{
	struct xforward x = {.addr = ""};
	char long_label[80], long_name[300], long_helo[300];

	(void)state;
	assert_int_equal(set(&x, "NAME", "mail.client.example"), 0);
	assert_string_equal(x.name, "mail.client.example");
	assert_int_equal(set(&x, "NAME", "unknown"), 0);
	assert_string_equal(x.name, "");
	memset(long_label, 'a', 64);
	long_label[64] = '\0';
	memset(long_name, 'a', 256);
	long_name[256] = '\0';
	for (size_t i = 10; i < 256; i += 10)
		long_name[i] = '.';
	const char *bad_names[] = {"a..b", ".a",       "a b",	  "a/b",
				   "a\nb", long_label, long_name, "ex\xc3\xa4mple.test",
				   NULL};
	for (size_t i = 0; bad_names[i]; i++)
		assert_int_equal(set(&x, "NAME", bad_names[i]), -1);

	assert_int_equal(set(&x, "HELO", "[192.0.2.7]"), 0); /* an address literal HELO is kept */
	assert_string_equal(x.helo, "[192.0.2.7]");
	assert_int_equal(set(&x, "HELO", "a+b=c"), 0);
	memset(long_helo, 'h', 255);
	long_helo[255] = '\0';
	assert_int_equal(set(&x, "HELO", long_helo), 0);
	long_helo[255] = 'h';
	long_helo[256] = '\0';
	assert_int_equal(set(&x, "HELO", long_helo), -1);
	assert_int_equal(set(&x, "HELO", "two words"), -1);
	assert_int_equal(set(&x, "HELO", "tab\there"), -1);
	assert_int_equal(set(&x, "HELO", "\x7f"), -1);
	assert_string_equal(x.helo, "");

	assert_int_equal(set(&x, "PROTO", "ESMTPSA"), 0);
	assert_int_equal(set(&x, "PROTO", "E=SMTP"), -1);
	assert_int_equal(set(&x, "SOURCE", "remote"), 0);
	assert_string_equal(x.source, "REMOTE");
	assert_int_equal(set(&x, "SOURCE", "elsewhere"), -1);
	assert_int_equal(set(&x, "PORT", "25"), -2);
}

static void test_commands(void **state)
{
	struct xforward x = {.addr = ""};
	size_t n;

	(void)state;
	assert_false(xforward_any(&x));
	set(&x, "ADDR", "192.0.2.7");
	set(&x, "HELO", "he+lo=x");
	assert_true(xforward_any(&x));
	assert_string_equal(commands(&x, " NAME ADDR PROTO HELO SOURCE", &n),
			    "XFORWARD NAME=[UNAVAILABLE] ADDR=192.0.2.7 PROTO=[UNAVAILABLE] "
			    "HELO=he+2Blo+3Dx SOURCE=REMOTE\r\n");
	assert_int_equal(n, 1);
	/* Only what the server lists, whatever the case; the line ends at the reply's \n. */
	assert_string_equal(commands(&x, " addr\n250-HELO NAME", &n),
			    "XFORWARD ADDR=192.0.2.7\r\n");
	assert_string_equal(commands(&x, " ADDRESS HELOX", &n), "");
	assert_int_equal(n, 0);
	assert_string_equal(commands(&x, "", &n), "");
}

static void test_line_limit(void **state)
{
	struct xforward x = {.addr = ""};
	char helo[256], name[256];
	size_t n;

	(void)state;
	/* A HELO of '+' signs is 765 bytes as xtext: longer than a line, sent unavailable. */
	memset(helo, '+', 255);
	helo[255] = '\0';
	assert_int_equal(set(&x, "HELO", helo), 0);
	assert_string_equal(commands(&x, " HELO", &n), "XFORWARD HELO=[UNAVAILABLE]\r\n");
	/* A long name and a long HELO: two lines, each within 512 bytes. */
	memset(name, 'n', 255);
	for (size_t i = 60; i < 255; i += 60)
		name[i] = '.';
	name[255] = '\0';
	memset(helo, 'h', 255);
	assert_int_equal(set(&x, "NAME", name), 0);
	assert_int_equal(set(&x, "HELO", helo), 0);
	assert_int_equal(set(&x, "ADDR", "2001:db8::1"), 0);
	char *out = commands(&x, " NAME ADDR PROTO HELO SOURCE", &n);
	assert_int_equal(n, 2);
	for (char *line = out, *end; (end = strstr(line, "\r\n")) != NULL; line = end + 2) {
		assert_true(end - line + 2 <= XFORWARD_LINE_MAX);
		assert_memory_equal(line, "XFORWARD ", 9);
	}
	assert_non_null(strstr(out, "HELO=hhhh"));
	assert_non_null(strstr(out, "NAME=nnnn"));
	assert_non_null(strstr(out, "SOURCE=REMOTE"));
}

static void test_xtext_decode(void **state)
{
	char out[16];

	(void)state;
	assert_true(xtext_decode("a+2Bb+3dc", 9, out, sizeof(out)));
	assert_string_equal(out, "a+b=c");
	assert_true(xtext_decode("", 0, out, sizeof(out)));
	assert_string_equal(out, "");
	assert_false(xtext_decode("a+2", 3, out, sizeof(out)));		      /* cut short */
	assert_false(xtext_decode("a+", 2, out, sizeof(out)));		      /* cut short */
	assert_false(xtext_decode("a+zz", 4, out, sizeof(out)));	      /* not hex */
	assert_false(xtext_decode("a+00", 4, out, sizeof(out)));	      /* NUL */
	assert_false(xtext_decode("a=b", 3, out, sizeof(out)));		      /* bare '=' */
	assert_false(xtext_decode("a b", 3, out, sizeof(out)));		      /* space */
	assert_false(xtext_decode("0123456789abcdef", 16, out, sizeof(out))); /* too long */
	assert_true(xtext_decode("0123456789abcde", 15, out, sizeof(out)));
	/* Decoded control bytes reach xforward_set, which drops them. */
	assert_true(xtext_decode("a+0Db", 5, out, sizeof(out)));
	struct xforward x = {.addr = ""};
	assert_int_equal(set(&x, "HELO", out), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses),    cmocka_unit_test(test_names_helo_proto),
		cmocka_unit_test(test_commands),     cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_xtext_decode),
	};
	return cmocka_run_group_tests_name("xforward", tests, NULL, NULL);
}
