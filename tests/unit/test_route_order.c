/* test_route_order - preference order and RFC 2782 weighted selection, with a seeded generator */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "route.h"

/* xorshift - a seeded, repeatable generator */
static uint32_t xorshift(void *arg, uint32_t upper)
{
	uint64_t *s = arg;

	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s % ((uint64_t)upper + 1));
}

static struct route_target make(unsigned pref, unsigned weight, const char *host)
{
	struct route_target t;

	memset(&t, 0, sizeof(t));
	t.pref = pref;
	t.weight = weight;
	strcpy(t.host, host);
	t.port = 2525;
	return t;
}

static void test_preference_first(void **state)
{
	struct route_target t[4] = {make(30, 0, "c"), make(10, 0, "a"), make(20, 0, "b"),
				    make(5, 0, "z")};
	uint64_t seed = 42;

	(void)state;
	route_order_targets(t, 4, xorshift, &seed);
	assert_string_equal(t[0].host, "z");
	assert_string_equal(t[1].host, "a");
	assert_string_equal(t[2].host, "b");
	assert_string_equal(t[3].host, "c");
}

/* With weights 1 and 3 at one preference, "heavy" comes first about 3/4 of the time. */
static void test_weights(void **state)
{
	uint64_t seed = 12345;
	int heavy_first = 0, runs = 20000;

	(void)state;
	for (int i = 0; i < runs; i++) {
		struct route_target t[3] = {make(10, 1, "light"), make(10, 3, "heavy"),
					    make(20, 100, "backup")};
		route_order_targets(t, 3, xorshift, &seed);
		assert_string_equal(t[2].host, "backup");
		if (strcmp(t[0].host, "heavy") == 0)
			heavy_first++;
	}
	/*
	 * RFC 2782 picks r in [0, 4] over a list in random order: heavy first in
	 * the list wins for r <= 3 (4 of 5), second for r >= 2 (3 of 5): 70%.
	 */
	assert_in_range(heavy_first, runs * 67 / 100, runs * 73 / 100);
}

/* Zero weights: only chosen when r is 0, so weighted targets almost always go first. */
static void test_zero_weight(void **state)
{
	uint64_t seed = 7;
	int zero_first = 0, runs = 10000;

	(void)state;
	for (int i = 0; i < runs; i++) {
		struct route_target t[2] = {make(10, 0, "zero"), make(10, 50, "fifty")};
		route_order_targets(t, 2, xorshift, &seed);
		if (strcmp(t[0].host, "zero") == 0)
			zero_first++;
	}
	assert_in_range(zero_first, 1, runs / 20);
}

/* All weights zero: each order comes up. */
static void test_all_zero_uniform(void **state)
{
	uint64_t seed = 99;
	int a_first = 0, runs = 10000;

	(void)state;
	for (int i = 0; i < runs; i++) {
		struct route_target t[2] = {make(10, 0, "a"), make(10, 0, "b")};
		route_order_targets(t, 2, xorshift, &seed);
		if (strcmp(t[0].host, "a") == 0)
			a_first++;
	}
	assert_in_range(a_first, runs * 40 / 100, runs * 60 / 100);
}

/* The same seed gives the same order. */
static void test_repeatable(void **state)
{
	struct route_target a[5], b[5];
	uint64_t s1 = 5, s2 = 5;

	(void)state;
	for (int i = 0; i < 5; i++) {
		char name[8];
		snprintf(name, sizeof(name), "h%d", i);
		a[i] = b[i] = make(10, (unsigned)(i + 1) * 10, name);
	}
	route_order_targets(a, 5, xorshift, &s1);
	route_order_targets(b, 5, xorshift, &s2);
	for (int i = 0; i < 5; i++)
		assert_string_equal(a[i].host, b[i].host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_preference_first), cmocka_unit_test(test_weights),
		cmocka_unit_test(test_zero_weight),	 cmocka_unit_test(test_all_zero_uniform),
		cmocka_unit_test(test_repeatable),
	};
	return cmocka_run_group_tests_name("route_order", tests, NULL, NULL);
}
