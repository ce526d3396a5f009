/* test_route_cache - expiry, size bound with least-recently-used eviction, threads */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_lru_bound),
		cmocka_unit_test(test_zero_size_keeps_nothing),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests_name("route_cache", tests, NULL, NULL);
}
