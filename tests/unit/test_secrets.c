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

static const char lookup_text[] = "# comment\n"
				  "[127.0.0.1]:2525 u1 pass one\n"
				  "[127.0.0.1] u2 p2\n"
				  "Mail.Example.COM:587 auth_tls=encrypt u3 p3\n"
				  "example.org u4 p4\n";

/* check_lookups - the answers for lookup_text, from its text or its index */
static void check_lookups(struct secrets *s)
{
	const struct secret *f;

	assert_int_equal(secrets_count(s), 4);
	f = secrets_find(s, "127.0.0.1", true, 2525, "example.org");
	assert_non_null(f);
	assert_string_equal(f->user, "u1");
	assert_string_equal(f->pass, "pass one");
	assert_int_equal(f->auth_tls, -1);
	assert_int_equal(f->line, 2);
	f = secrets_find(s, "127.0.0.1", true, 26, "example.org");
	assert_string_equal(f->user, "u2");
	f = secrets_find(s, "mail.example.com", false, 587, "example.net");
	assert_string_equal(f->user, "u3");
	assert_string_equal(f->key, "Mail.Example.COM:587");
	assert_int_equal(f->auth_tls, MX_TLS_ENCRYPT);
	assert_int_equal(f->line, 4);
	f = secrets_find(s, "MAIL.example.com", false, 587, "example.net");
	assert_string_equal(f->user, "u3");
	f = secrets_find(s, "mail.example.com", false, 25, "example.org");
	assert_string_equal(f->user, "u4");
	assert_null(secrets_find(s, "mail.example.com", false, 25, "example.net"));
	assert_null(secrets_find(s, "127.0.0.2", true, 2525, "example.net"));
}

static void test_lookup(void **state)
{
	struct secrets s;
	char err[512];

	(void)state;
	assert_int_equal(load(lookup_text, &s, err, sizeof(err)), 0);
	assert_null(s.index);
	check_lookups(&s);
	secrets_free(&s);
}

/* put - path holds text, with mode */
static void put(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* slurp - the whole file (len: its size) */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = malloc(1 << 20);

	assert_non_null(f);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

/*
 * the index (mxport-route --index): the text's answers and mode; a stale
 * index, one others may read, and a damaged record all give the text's
 * answers; a broken edit or a text others may read writes no index
 */
static void test_index(void **state)
{
	char dir[] = "/tmp/test_secrets.XXXXXX", path[300], idx[320], err[512];
	struct mx_errlist errs;
	struct secrets s;
	struct stat st;
	size_t count, len, len2;
	char *good, *now, *hit;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/secrets", dir);
	mx_cdb_path(path, idx, sizeof(idx));
	put(path, lookup_text, 0640);
	mx_errlist_init(&errs);
	assert_true(secrets_index_build(path, &errs, &count));
	assert_int_equal(count, 4);
	assert_int_equal(stat(idx, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640); /* the text's mode, never more */
	assert_int_equal(secrets_load(path, &s, err, sizeof(err)), 0);
	assert_non_null(s.index);
	check_lookups(&s);
	secrets_free(&s);
	good = slurp(idx, &len);

	/* others may read the index: refused, the text read */
	assert_int_equal(chmod(idx, 0644), 0);
	assert_int_equal(secrets_load(path, &s, err, sizeof(err)), 0);
	assert_null(s.index);
	check_lookups(&s);
	secrets_free(&s);
	assert_int_equal(chmod(idx, 0640), 0);

	/* a damaged record (another target's line): the text read, the right answer */
	hit = memmem(good, len, "2525 u1", 7);
	assert_non_null(hit);
	hit[3] = '6';
	put(idx, "", 0640);
	{
		FILE *f = fopen(idx, "w");

		assert_int_equal(fwrite(good, 1, len, f), len);
		fclose(f);
	}
	hit[3] = '5';
	assert_int_equal(secrets_load(path, &s, err, sizeof(err)), 0);
	assert_non_null(s.index);
	check_lookups(&s);
	assert_null(s.index); /* the text, kept */
	assert_false(s.broken);
	secrets_free(&s);
	/* the same, and the text broken meanwhile: broken, and no lines of it used */
	assert_int_equal(secrets_load(path, &s, err, sizeof(err)), 0);
	assert_non_null(s.index);
	put(path, "[127.0.0.1]:2525 u1 p1\nbroken.example useronly\n", 0640);
	assert_null(secrets_find(&s, "127.0.0.1", true, 2525, "example.org"));
	assert_true(s.broken);
	assert_int_equal(s.count, 0);
	assert_null(secrets_find(&s, "127.0.0.1", true, 2525, "example.org"));
	secrets_free(&s);
	put(path, lookup_text, 0640);
	assert_true(secrets_index_build(path, &errs, &count));
	free(good);
	good = slurp(idx, &len);

	/* a broken edit: the index stays, byte for byte, and is stale: the text is refused */
	put(path, "[127.0.0.1]:2525 u1 p1\nbroken.example useronly\n", 0640);
	assert_false(secrets_index_build(path, &errs, &count));
	assert_int_equal(errs.count, 1);
	assert_non_null(strstr(errs.msgs[0], "secrets_file "));
	assert_non_null(strstr(errs.msgs[0], "/secrets:2: expected 'key"));
	now = slurp(idx, &len2);
	assert_int_equal(len2, len);
	assert_memory_equal(now, good, len);
	free(now);
	assert_int_equal(secrets_load(path, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/secrets:2: expected 'key"));

	/* a stale index: the text's answer (a line added) */
	put(path, "[127.0.0.1]:2525 u9 p9\n", 0600);
	assert_int_equal(secrets_load(path, &s, err, sizeof(err)), 0);
	assert_null(s.index);
	assert_string_equal(secrets_find(&s, "127.0.0.1", true, 2525, "x")->user, "u9");
	secrets_free(&s);

	/* a text others may read is not indexed */
	assert_int_equal(chmod(path, 0604), 0);
	mx_errlist_free(&errs);
	mx_errlist_init(&errs);
	assert_false(secrets_index_build(path, &errs, &count));
	assert_non_null(strstr(errs.msgs[0], "others have access (mode 0604)"));
	mx_errlist_free(&errs);
	free(good);
	unlink(idx);
	unlink(path);
	rmdir(dir);
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
		cmocka_unit_test(test_index),
	};
	return cmocka_run_group_tests_name("secrets", tests, NULL, NULL);
}
