/* test_route_cache - expiry, size bound with least-recently-used eviction, threads */
#include "config.h"

#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sys/socket.h>

#include "route_cache.h"

static void put(struct route_cache *c, const char *key, time_t expires, unsigned port)
{
	struct route r;
	struct route_target t;

	route_init(&r);
	memset(&t, 0, sizeof(t));
	strcpy(t.host, "mail.example");
	t.port = (uint16_t)port;
	route_add_target(&r, &t);
	r.status = ROUTE_OK;
	route_cache_put_route(c, key, expires, &r);
	route_clear(&r);
}

static void test_expiry(void **state)
{
	struct route_cache *c = route_cache_new(10);
	struct route r;

	(void)state;
	route_init(&r);
	put(c, "R:a", 100, 2525);
	assert_true(route_cache_get_route(c, "R:a", 50, &r));
	assert_int_equal(r.targets[0].port, 2525);
	assert_int_equal(r.ttl, 50);
	route_clear(&r);
	assert_false(route_cache_get_route(c, "R:a", 100, &r));
	assert_int_equal(route_cache_count(c), 0);
	route_cache_free(c);
}

static void test_lru_bound(void **state)
{
	struct route_cache *c = route_cache_new(3);
	struct route r;

	(void)state;
	route_init(&r);
	put(c, "R:a", 1000, 1);
	put(c, "R:b", 1000, 2);
	put(c, "R:c", 1000, 3);
	assert_true(route_cache_get_route(c, "R:a", 0, &r)); /* a is now the newest */
	route_clear(&r);
	put(c, "R:d", 1000, 4); /* evicts b, the least recently used */
	assert_int_equal(route_cache_count(c), 3);
	assert_false(route_cache_get_route(c, "R:b", 0, &r));
	assert_true(route_cache_get_route(c, "R:a", 0, &r));
	route_clear(&r);
	assert_true(route_cache_get_route(c, "R:d", 0, &r));
	assert_int_equal(r.targets[0].port, 4);
	route_clear(&r);
	put(c, "R:d", 1000, 5); /* replace in place */
	assert_true(route_cache_get_route(c, "R:d", 0, &r));
	assert_int_equal(r.targets[0].port, 5);
	route_clear(&r);
	assert_int_equal(route_cache_count(c), 3);
	route_cache_free(c);
}

static void test_zero_size_keeps_nothing(void **state)
{
	struct route_cache *c = route_cache_new(0);
	struct route r;

	(void)state;
	route_init(&r);
	put(c, "R:a", 1000, 1);
	assert_false(route_cache_get_route(c, "R:a", 0, &r));
	route_cache_free(c);
}

static void *hammer(void *arg)
{
	struct route_cache *c = arg;
	char key[32];
	struct route r;

	route_init(&r);
	for (int i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "R:%d", i % 300);
		if (route_cache_get_route(c, key, 0, &r))
			route_clear(&r);
		else
			put(c, key, 1000, (unsigned)(i % 300) + 1);
	}
	return NULL;
}

static void test_threads(void **state)
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

/* every field of a route and of addresses comes back as it went in */
static void test_fields_kept(void **state)
{
	struct route_cache *c = route_cache_new(10);
	struct route r, got;
	struct route_addrs a, agot;
	struct route_target t;
	unsigned char v4[4] = {198, 51, 100, 7};
	char text[100];
	int value;

	(void)state;
	route_init(&r);
	memset(&t, 0, sizeof(t));
	strcpy(t.host, "mx.example");
	t.port = 2525;
	t.pref = 10;
	t.weight = 3;
	t.tls_mode = 2;
	route_add_target(&r, &t);
	route_set(&r, ROUTE_OK, "2 SRV records");
	r.source = ROUTE_SRC_DNS;
	strcpy(r.origin, "_smtp._tcp.example.com");
	strcpy(r.notify, "owner@other.test");
	strcpy(r.name, "example.com");
	r.secure = true;
	r.verify = ROUTE_VERIFY_YES;
	route_cache_put_route(c, "R:example.com", 100, &r);
	route_init(&got);
	assert_true(route_cache_get_route(c, "R:example.com", 40, &got));
	assert_int_equal(got.status, ROUTE_OK);
	assert_int_equal(got.source, ROUTE_SRC_DNS);
	assert_string_equal(got.reason, "2 SRV records");
	assert_string_equal(got.origin, "_smtp._tcp.example.com");
	assert_string_equal(got.notify, "owner@other.test");
	assert_string_equal(got.name, "example.com");
	assert_true(got.secure);
	assert_int_equal(got.verify, ROUTE_VERIFY_YES);
	assert_int_equal(got.ttl, 60);
	assert_int_equal(got.ntargets, 1);
	assert_memory_equal(&got.targets[0], &t, sizeof(t));
	route_clear(&got);
	route_clear(&r);

	route_addrs_init(&a);
	assert_true(route_addrs_add(&a, AF_INET, v4, 25));
	a.status = ROUTE_OK;
	a.secure = true;
	strcpy(a.reason, "mx.example: 1 address(es)");
	route_cache_put_addrs(c, "A:mx.example", 100, &a);
	route_addrs_init(&agot);
	assert_true(route_cache_get_addrs(c, "A:mx.example", 90, &agot));
	assert_int_equal(agot.status, ROUTE_OK);
	assert_true(agot.secure);
	assert_string_equal(agot.reason, "mx.example: 1 address(es)");
	assert_int_equal(agot.ttl, 10);
	assert_int_equal(agot.count, 1);
	assert_memory_equal(&agot.addrs[0], &a.addrs[0], sizeof(a.addrs[0]));
	route_addrs_clear(&agot);
	route_addrs_clear(&a);

	route_cache_put_note(c, "V:bob@example.com", 100, 7, "250 2.1.5 Ok");
	assert_true(route_cache_get_note(c, "V:bob@example.com", 1, &value, text, sizeof(text)));
	assert_int_equal(value, 7);
	assert_string_equal(text, "250 2.1.5 Ok");
	route_cache_free(c);
}

/* an entry's size is bounded: a larger answer is used, not kept; a note's text is cut */
static void test_entry_bound(void **state)
{
	struct route_cache *c = route_cache_new(10);
	struct route r;
	struct route_addrs a;
	struct route_target t;
	unsigned char v4[4] = {198, 51, 100, 7};
	char big[2000], text[2000];
	int value;

	(void)state;
	route_init(&r);
	memset(&t, 0, sizeof(t));
	strcpy(t.host, "mx.example");
	for (int i = 0; i < ROUTE_CACHE_ITEMS_MAX; i++)
		route_add_target(&r, &t);
	route_cache_put_route(c, "R:full.example", 100, &r);
	route_add_target(&r, &t);
	route_cache_put_route(c, "R:over.example", 100, &r);
	route_clear(&r);
	assert_true(route_cache_get_route(c, "R:full.example", 1, &r));
	assert_int_equal(r.ntargets, ROUTE_CACHE_ITEMS_MAX);
	route_clear(&r);
	assert_false(route_cache_get_route(c, "R:over.example", 1, &r));

	route_addrs_init(&a);
	for (int i = 0; i <= ROUTE_CACHE_ITEMS_MAX; i++)
		route_addrs_add(&a, AF_INET, v4, 25);
	route_cache_put_addrs(c, "A:many.example", 100, &a);
	route_addrs_clear(&a);
	assert_false(route_cache_get_addrs(c, "A:many.example", 1, &a));

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	route_cache_put_note(c, "V:long@example.com", 100, 1, big);
	assert_true(route_cache_get_note(c, "V:long@example.com", 1, &value, text, sizeof(text)));
	assert_int_equal(strlen(text), ROUTE_CACHE_NOTE_MAX);
	assert_int_equal(route_cache_count(c), 2);
	route_cache_free(c);
}

/* heap_in_use - the bytes malloc has handed out (0 where the allocator is not glibc's) */
static size_t heap_in_use(void)
{
	return mallinfo2().uordblks;
}

/*
 * far more distinct domains than the bound (a DNS host's million
 * customers, each asked once): the entries stay at the bound and the heap
 * where the first full cache put it (mxport.conf(5), route_cache_size)
 */
static void test_many_domains(void **state)
{
	struct route_cache *c = route_cache_new(1000);
	struct route_addrs a;
	const unsigned char ip[4] = {192, 0, 2, 1};
	char key[64];
	size_t warm = 0;

	(void)state;
	route_addrs_init(&a);
	assert_true(route_addrs_add(&a, AF_INET, ip, 2525));
	a.status = ROUTE_OK;
	for (int i = 0; i < 200000; i++) {
		snprintf(key, sizeof(key), "R:cust%d.example", i);
		put(c, key, 1000, 2525);
		snprintf(key, sizeof(key), "A:mail.cust%d.example", i);
		route_cache_put_addrs(c, key, 1000, &a);
		if (i == 1999)
			warm = heap_in_use();
	}
	route_addrs_clear(&a);
	assert_int_equal(route_cache_count(c), 1000);
	if (heap_in_use() > warm + 256 * 1024)
		fail_msg("heap grew from %zu to %zu bytes over 200,000 domains", warm,
			 heap_in_use());
	route_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expiry),	     cmocka_unit_test(test_lru_bound),
		cmocka_unit_test(test_many_domains), cmocka_unit_test(test_zero_size_keeps_nothing),
		cmocka_unit_test(test_threads),	     cmocka_unit_test(test_fields_kept),
		cmocka_unit_test(test_entry_bound),
	};
	return cmocka_run_group_tests_name("route_cache", tests, NULL, NULL);
}
