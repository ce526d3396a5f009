/* test_secrets - secrets-file keys in the routes file's host syntax, and the lookup order */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mxconfig.h"
#include "secrets.h"

/* key_ok - the key parses to host, literal, port */
static void key_ok(const char *key, const char *host, bool literal, unsigned port)
{
	struct secret s;
	char err[256];

	if (!secrets_parse_key(key, &s, err, sizeof(err)))
		fail_msg("key %s: %s", key, err);
	assert_string_equal(s.host, host);
	assert_int_equal(s.literal, literal);
	assert_int_equal(s.port, port);
}

/* key_bad - the key is refused with err containing why */
static void key_bad(const char *key, const char *why)
{
	struct secret s;
	char err[256] = "";

	if (secrets_parse_key(key, &s, err, sizeof(err)))
		fail_msg("key %s accepted", key);
	if (strstr(err, why) == NULL)
		fail_msg("key %s: error '%s' lacks '%s'", key, err, why);
}

static void test_keys(void **state)
{
	(void)state;
	key_ok("[127.0.0.1]:2525", "127.0.0.1", true, 2525);
	key_ok("[127.0.0.1]", "127.0.0.1", true, 0);
	key_ok("127.0.0.1:2525", "127.0.0.1", true, 2525);
	key_ok("[2001:DB8::0:1]:587", "2001:db8::1", true, 587);
	key_ok("[::1]", "::1", true, 0);
	key_ok("Mail.Example.COM.:587", "mail.example.com", false, 587);
	key_ok("mail.example.com", "mail.example.com", false, 0);
	key_ok("smtps://mail.example.com", "mail.example.com", false, 465);
	key_ok("smtp://[192.0.2.1]:26", "192.0.2.1", true, 26);
	key_bad("[127.0.0.1:2525", "[address]");
	key_bad("[127.0.0.1]2525", "[address]");
	key_bad("[mail.example.com]:25", "numeric");
	key_bad("[127.0.0.1]:0", "port");
	key_bad("[127.0.0.1]:65536", "port");
	key_bad("mail.example.com:x", "port");
	key_bad("mail.example.com:", "port");
	key_bad("2001:db8::1:2525", "[address]");
	key_bad("lmtp://mail.example.com:24", "scheme");
	key_bad(":25", "expected host");
	key_bad("bad..name:25", "bad..name");
}

/* load - write text to a private file and load it; returns secrets_load's result */
static int load(const char *text, struct secrets *s, char *err, size_t errlen)
{
	char path[] = "/tmp/test_secrets.XXXXXX";
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	fchmod(fd, 0600);
	close(fd);
	rc = secrets_load(path, s, err, errlen);
	unlink(path);
	return rc;
}

static void test_lookup(void **state)
{
	struct secrets s;
	const struct secret *f;
	char err[512];

	(void)state;
	assert_int_equal(load("# comment\n"
			      "[127.0.0.1]:2525 u1 pass one\n"
			      "[127.0.0.1] u2 p2\n"
			      "Mail.Example.COM:587 auth_tls=encrypt u3 p3\n"
			      "example.org u4 p4\n",
			      &s, err, sizeof(err)),
			 0);
	assert_int_equal(s.count, 4);
	f = secrets_find(&s, "127.0.0.1", true, 2525, "example.org");
	assert_non_null(f);
	assert_string_equal(f->user, "u1");
	assert_string_equal(f->pass, "pass one");
	assert_int_equal(f->auth_tls, -1);
	f = secrets_find(&s, "127.0.0.1", true, 26, "example.org");
	assert_string_equal(f->user, "u2");
	f = secrets_find(&s, "mail.example.com", false, 587, "example.net");
	assert_string_equal(f->user, "u3");
	assert_int_equal(f->auth_tls, MX_TLS_ENCRYPT);
	assert_int_equal(f->line, 4);
	f = secrets_find(&s, "mail.example.com", false, 25, "example.org");
	assert_string_equal(f->user, "u4");
	assert_null(secrets_find(&s, "mail.example.com", false, 25, "example.net"));
	assert_null(secrets_find(&s, "127.0.0.2", true, 2525, "example.net"));
	secrets_free(&s);
}

static void test_bad_lines(void **state)
{
	struct secrets s;
	char err[512];

	(void)state;
	assert_int_equal(load("ok.example 1 2\n[127.0.0.1:2525 u p\n", &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: "));
	assert_int_equal(load("[127.0.0.1]:25 u p\n127.0.0.1:25 v q\n", &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: key 127.0.0.1:25 names the same target as line 1"));
	assert_int_equal(load("a.example auth_tls=may u p\n", &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":1: 'auth_tls=may': auth_tls must be encrypt or verify"));
	assert_int_equal(load("a.example auth_tls=verify u\n", &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":1: expected 'key"));
	assert_int_equal(load("a.example auth_tls=verify\n", &s, err, sizeof(err)), -1);
	assert_int_equal(load("a.example\n", &s, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_bad_lines),
	};
	return cmocka_run_group_tests_name("secrets", tests, NULL, NULL);
}
