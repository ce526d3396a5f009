/* test_verify - the verify cache (keys, lifetimes, bound, threads) and what a reply means */
#include "config.h"

#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mxconfig.h"
#include "smtp_reply.h"
#include "verify.h"
#include "verify_cache.h"

/* reply - a whole reply from its lines */
static void reply(struct smtp_reply *r, const char *const *lines, size_t n)
{
	char err[128];

	smtp_reply_init(r);
	for (size_t i = 0; i < n; i++)
		smtp_reply_add_line(r, lines[i], strlen(lines[i]), err, sizeof(err));
	assert_true(r->done);
}

/* rcpt_result - what smtp_deliver leaves after the server answered RCPT */
static void rcpt_result(struct smtp_result *res, const char *const *lines, size_t n)
{
	memset(res, 0, sizeof(*res));
	res->stage = STAGE_RCPT;
	res->have_reply = true;
	reply(&res->reply, lines, n);
}

static void test_keys(void **state)
{
	char key[VERIFY_KEY_MAX + 8], longer[VERIFY_KEY_MAX + 20];

	(void)state;
	assert_true(verify_cache_rcpt_key("Bob.Smith@Example.COM", key, sizeof(key)));
	assert_string_equal(key, "V:Bob.Smith@example.com"); /* the local part is the server's */
	assert_true(verify_cache_rcpt_key("\"a@b\"@X.test", key, sizeof(key)));
	assert_string_equal(key, "V:\"a@b\"@x.test");
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_false(verify_cache_rcpt_key(longer, key, sizeof(key)));
	assert_false(verify_cache_rcpt_key("a@b.test", key, 5));
}

static void test_cache_lifetimes(void **state)
{
	struct route_cache *c = route_cache_new(10);
	enum verify_status st;
	char text[64];

	(void)state;
	verify_cache_put(c, "V:a@x.test", 100, VERIFY_ACCEPTED, "");
	verify_cache_put(c, "V:b@x.test", 50, VERIFY_REJECTED, "5.1.1 no such user");
	verify_cache_put(c, "V:c@x.test", 100, VERIFY_UNVERIFIABLE, "down");
	assert_true(verify_cache_get(c, "V:a@x.test", 10, &st, text, sizeof(text)));
	assert_int_equal(st, VERIFY_ACCEPTED);
	assert_true(verify_cache_get(c, "V:b@x.test", 10, &st, text, sizeof(text)));
	assert_int_equal(st, VERIFY_REJECTED);
	assert_string_equal(text, "5.1.1 no such user");
	assert_false(verify_cache_get(c, "V:c@x.test", 10, &st, text, sizeof(text)));
	/* each its own lifetime */
	assert_false(verify_cache_get(c, "V:b@x.test", 50, &st, text, sizeof(text)));
	assert_true(verify_cache_get(c, "V:a@x.test", 50, &st, text, sizeof(text)));
	/* a server that is down, remembered by domain and briefly */
	assert_false(verify_cache_down(c, "x.test", 10, text, sizeof(text)));
	verify_cache_mark_down(c, "x.test", 70, "connect: refused");
	assert_true(verify_cache_down(c, "x.test", 69, text, sizeof(text)));
	assert_string_equal(text, "connect: refused");
	assert_false(verify_cache_down(c, "y.test", 69, text, sizeof(text)));
	assert_false(verify_cache_down(c, "x.test", 70, text, sizeof(text)));
	/* a note is not a route */
	struct route r;
	route_init(&r);
	assert_false(route_cache_get_route(c, "V:a@x.test", 10, &r));
	route_cache_free(c);
}

static void test_cache_bound(void **state)
{
	struct route_cache *c = route_cache_new(2), *none = route_cache_new(0);
	enum verify_status st;
	char text[16];

	(void)state;
	verify_cache_put(c, "V:1", 100, VERIFY_ACCEPTED, "");
	verify_cache_put(c, "V:2", 100, VERIFY_ACCEPTED, "");
	verify_cache_put(c, "V:3", 100, VERIFY_ACCEPTED, "");
	assert_int_equal(route_cache_count(c), 2);
	assert_false(verify_cache_get(c, "V:1", 1, &st, text, sizeof(text)));
	assert_true(verify_cache_get(c, "V:3", 1, &st, text, sizeof(text)));
	verify_cache_put(none, "V:1", 100, VERIFY_ACCEPTED, "");
	assert_int_equal(route_cache_count(none), 0);
	route_cache_free(c);
	route_cache_free(none);
}

static void *hammer(void *arg)
{
	struct route_cache *c = arg;
	enum verify_status st;
	char key[32], text[32];

	for (int i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "V:u%d@x.test", i % 300);
		if (i % 3 == 0)
			verify_cache_put(c, key, 1000, VERIFY_REJECTED, "5.1.1 gone");
		else
			verify_cache_get(c, key, 1, &st, text, sizeof(text));
	}
	return NULL;
}

static void test_cache_threads(void **state)
{
	struct route_cache *c = route_cache_new(100);
	pthread_t th[4];

	(void)state;
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, hammer, c);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_true(route_cache_count(c) <= 100);
	route_cache_free(c);
}

/* classify - what a reply to RCPT (lines) means, into *a */
static enum verify_status classify(const char *const *lines, size_t n, struct verify_answer *a)
{
	struct smtp_result res;

	memset(a, 0, sizeof(*a));
	rcpt_result(&res, lines, n);
	verify_classify(&res, a);
	return a->status;
}

static void test_classify(void **state)
{
	static const char *const ok[] = {"250 2.1.5 Ok"};
	static const char *const unknown[] = {"550-5.1.1 <bob@x.test>: no such user",
					      "550-5.1.1 see the help desk", "550 5.1.1 bye"};
	static const char *const plain5[] = {"553 sorry, no mailbox"};
	static const char *const full[] = {"552 5.2.2 mailbox 100% full"};
	static const char *const grey[] = {"450 4.2.0 greylisted"};
	static const char *const toomany[] = {"452 4.5.3 too many recipients"};
	struct smtp_result res;
	struct verify_answer a;

	(void)state;
	assert_int_equal(classify(ok, 1, &a), VERIFY_ACCEPTED);
	assert_int_equal(classify(unknown, 3, &a), VERIFY_REJECTED);
	assert_string_equal(a.dsn, "5.1.1");
	assert_string_equal(a.text, "<bob@x.test>: no such user see the help desk bye");
	assert_int_equal(classify(plain5, 1, &a), VERIFY_REJECTED);
	assert_string_equal(a.dsn, "5.1.1");
	assert_string_equal(a.text, "sorry, no mailbox");
	classify(full, 1, &a);
	assert_string_equal(a.dsn, "5.2.2");
	assert_string_equal(a.text, "mailbox 100? full"); /* no '%' reaches Sendmail */
	assert_int_equal(classify(grey, 1, &a), VERIFY_UNVERIFIABLE);
	assert_int_equal(classify(toomany, 1, &a), VERIFY_UNVERIFIABLE);

	/* a 5xx before RCPT (greeting, MAIL FROM:<>) says nothing of the recipient */
	memset(&a, 0, sizeof(a));
	rcpt_result(&res, plain5, 1);
	res.stage = STAGE_GREETING;
	verify_classify(&res, &a);
	assert_int_equal(a.status, VERIFY_UNVERIFIABLE);
	res.stage = STAGE_MAIL;
	verify_classify(&res, &a);
	assert_int_equal(a.status, VERIFY_UNVERIFIABLE);

	memset(&a, 0, sizeof(a));
	memset(&res, 0, sizeof(res));
	res.stage = STAGE_CONNECT;
	snprintf(res.why, sizeof(res.why), "connect to x: Connection refused");
	verify_classify(&res, &a);
	assert_int_equal(a.status, VERIFY_UNVERIFIABLE);
	assert_string_equal(a.text, "connect to x: Connection refused");
}

static void test_reply_text_bounded(void **state)
{
	static char line[SMTP_LINE_MAX];
	const char *lines[SMTP_REPLY_LINES];
	struct smtp_reply r;
	char out[VERIFY_TEXT_MAX];

	(void)state;
	memcpy(line, "550 5.1.1 ", 10);
	memset(line + 10, 'x', sizeof(line) - 11);
	line[sizeof(line) - 1] = '\0';
	lines[0] = line;
	reply(&r, lines, 1);
	verify_reply_text(&r, out, sizeof(out));
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_int_equal(out[0], 'x');

	for (size_t i = 0; i + 1 < SMTP_REPLY_LINES; i++)
		lines[i] = "550-5.1.1 \x1b[31mred\r";
	lines[SMTP_REPLY_LINES - 1] = "550 5.1.1 end";
	reply(&r, lines, SMTP_REPLY_LINES);
	verify_reply_text(&r, out, sizeof(out));
	assert_true(strlen(out) < sizeof(out));
	for (const char *p = out; *p; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
	verify_reply_text(&r, out, 1);
	assert_string_equal(out, "");
}

static void test_decide(void **state)
{
	struct mx_config *cfg = mx_config_defaults();
	struct verify_answer a;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.status = VERIFY_REJECTED;
	mx_strlcpy(a.text, "no such user", sizeof(a.text));
	verify_decide(cfg, &a);
	assert_true(a.refuse);
	assert_string_equal(a.code, "550");
	assert_string_equal(a.dsn, "5.1.1");
	assert_string_equal(a.text, "no such user");

	memset(&a, 0, sizeof(a));
	a.status = VERIFY_UNVERIFIABLE;
	verify_decide(cfg, &a); /* verify_unreachable = accept, the default */
	assert_false(a.refuse);
	cfg->verify_unreachable = MX_VERIFY_TEMPFAIL;
	verify_decide(cfg, &a);
	assert_true(a.refuse);
	assert_string_equal(a.code, "451");
	assert_string_equal(a.dsn, "4.4.1");

	memset(&a, 0, sizeof(a));
	a.status = VERIFY_ACCEPTED;
	verify_decide(cfg, &a);
	assert_false(a.refuse);

	struct route r;
	route_init(&r);
	assert_false(route_verify_wanted(
		&r, cfg->verify_recipients)); /* verify_recipients = no, the default */
	cfg->verify_recipients = true;
	assert_true(route_verify_wanted(&r, cfg->verify_recipients));
	r.verify = ROUTE_VERIFY_NO;
	assert_false(route_verify_wanted(&r, cfg->verify_recipients));
	cfg->verify_recipients = false;
	r.verify = ROUTE_VERIFY_YES;
	assert_true(route_verify_wanted(&r, cfg->verify_recipients));
	mx_config_free(cfg);
}

/*
 * far more distinct recipients and domains than verify_cache_size (a
 * dictionary attack of random names, each refused with a long reply): each
 * cache stays at the bound, the heap where the first full cache put it
 */
static void test_cache_many_recipients(void **state)
{
	struct route_cache *c = route_cache_new(1000);
	char key[VERIFY_KEY_MAX + 1], text[700], got[600];
	enum verify_status st;
	size_t warm = 0;

	(void)state;
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	for (int i = 0; i < 100000; i++) {
		char rcpt[80], dom[64];

		snprintf(rcpt, sizeof(rcpt), "user%d@cust%d.example", i, i);
		assert_true(verify_cache_rcpt_key(rcpt, key, sizeof(key)));
		verify_cache_put(c, key, 1000, VERIFY_REJECTED, text);
		snprintf(dom, sizeof(dom), "cust%d.example", i);
		verify_cache_mark_down(c, dom, 1000, text);
		if (i == 1999)
			warm = mallinfo2().uordblks;
	}
	assert_int_equal(route_cache_count(c), 1000);
	assert_true(verify_cache_get(c, key, 0, &st, got, sizeof(got)));
	assert_int_equal(st, VERIFY_REJECTED);
	assert_true(strlen(got) <= 512);
	if (mallinfo2().uordblks > warm + 256 * 1024)
		fail_msg("heap grew from %zu to %zu bytes over 100,000 recipients", warm,
			 (size_t)mallinfo2().uordblks);
	route_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_cache_lifetimes),
		cmocka_unit_test(test_cache_bound),
		cmocka_unit_test(test_cache_threads),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_reply_text_bounded),
		cmocka_unit_test(test_cache_many_recipients),
		cmocka_unit_test(test_decide),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
