/* test_route_shared - DNS answers shared across fork(): round trips, expiry, wrong keys, full slots
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "route_shared.h"

/* route_of - a route with n targets, the first on port */
static void route_of(struct route *r, size_t n, unsigned port)
{
	route_init(r);
	r->status = ROUTE_OK;
	r->secure = true;
	snprintf(r->origin, sizeof(r->origin), "_smtp._tcp.example.com");
	for (size_t i = 0; i < n; i++) {
		struct route_target t;

		memset(&t, 0, sizeof(t));
		snprintf(t.host, sizeof(t.host), "mx%zu.example.com", i);
		t.port = (uint16_t)(port + i);
		t.pref = (unsigned)i;
		route_add_target(r, &t);
	}
}

static void test_route_round_trip(void **state)
{
	struct route_shared *sh = route_shared_new(16);
	struct route r, got;

	(void)state;
	assert_non_null(sh);
	route_of(&r, 2, 2525);
	route_shared_put_route(sh, "R:example.com|tag", 100, &r);
	route_init(&got);
	assert_true(route_shared_get_route(sh, "R:example.com|tag", 40, &got));
	assert_int_equal(got.ttl, 60);
	assert_int_equal(got.ntargets, 2);
	assert_string_equal(got.targets[1].host, "mx1.example.com");
	assert_int_equal(got.targets[1].port, 2526);
	assert_true(got.secure);
	assert_string_equal(got.origin, "_smtp._tcp.example.com");
	route_clear(&got);
	route_init(&got);
	assert_false(route_shared_get_route(sh, "R:example.com|tag", 100, &got)); /* expired */
	assert_false(
		route_shared_get_route(sh, "R:example.com|other", 40, &got)); /* other config */
	assert_false(route_shared_get_route(sh, "R:example.net|tag", 40, &got));
	route_clear(&r);
	route_shared_free(sh);
	assert_null(route_shared_new(0));
	route_shared_get_route(NULL, "R:x", 1, &got); /* no shared memory: a miss, no crash */
}

static void test_addrs_across_fork(void **state)
{
	struct route_shared *sh = route_shared_new(16);
	struct route_addrs a, got;
	unsigned char v4[4] = {192, 0, 2, 7};
	time_t far = time(NULL) + 600;
	pid_t pid;
	int status;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) { /* another process of the daemon asks DNS and shares the answer */
		route_addrs_init(&a);
		a.status = ROUTE_OK;
		route_addrs_add(&a, AF_INET, v4, 25);
		route_addrs_add(&a, AF_INET, v4, 26);
		route_shared_put_addrs(sh, "A:mail.example.com|tag", far, &a);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	route_addrs_init(&got);
	assert_true(route_shared_get_addrs(sh, "A:mail.example.com|tag", time(NULL), &got));
	assert_int_equal(got.count, 2);
	assert_string_equal(got.addrs[0].text, "192.0.2.7");
	route_addrs_clear(&got);
	route_shared_free(sh);
}

static void test_too_large_not_shared(void **state)
{
	struct route_shared *sh = route_shared_new(16);
	struct route r, got;

	(void)state;
	route_of(&r, 40, 2525);
	route_shared_put_route(sh, "R:big.example|tag", 100, &r);
	route_init(&got);
	assert_false(route_shared_get_route(sh, "R:big.example|tag", 1, &got));
	route_clear(&r);
	route_shared_free(sh);
}

static void test_full_never_wrong(void **state)
{
	struct route_shared *sh = route_shared_new(8);
	char key[64];
	size_t hits = 0;

	(void)state;
	for (unsigned i = 0; i < 100; i++) {
		struct route r;

		route_of(&r, 1, 1000 + i);
		snprintf(key, sizeof(key), "R:d%u.example|tag", i);
		route_shared_put_route(sh, key, 100, &r);
		route_clear(&r);
	}
	for (unsigned i = 0; i < 100; i++) {
		struct route got;

		route_init(&got);
		snprintf(key, sizeof(key), "R:d%u.example|tag", i);
		if (route_shared_get_route(sh, key, 1, &got)) {
			assert_int_equal(got.targets[0].port,
					 1000 + i); /* a hit is the key's own */
			hits++;
		}
		route_clear(&got);
	}
	assert_true(hits > 0 && hits <= 8);
	route_shared_free(sh);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_round_trip),
		cmocka_unit_test(test_addrs_across_fork),
		cmocka_unit_test(test_too_large_not_shared),
		cmocka_unit_test(test_full_never_wrong),
	};
	return cmocka_run_group_tests_name("route_shared", tests, NULL, NULL);
}
