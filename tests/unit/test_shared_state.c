/*
 * test_shared_state - lib/shared_state.c without a memcached: the
 * shared_state values mxport.conf takes and refuses; nothing configured
 * answers SS_OFF; servers that refuse the connection answer SS_FAIL at
 * once, and then, for shared_state_retry, without being asked (down_file
 * says so to the next process). tests/transport/test_shared_state.sh runs
 * it against a real memcached.
 */
#include "config.h"

#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "msg.h"
#include "shared_state.h"

/* now_ms - the monotonic clock */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* test_check - the values of shared_state */
static void test_check(void **state)
{
	static const char *const good[] = {
		"",
		"memcache:127.0.0.1:11211",
		"unix:/run/memcached/memcached.sock",
		"memcache:[::1]:11211",
		"memcache:a.example:1, memcache:b.example:2,unix:/x",
	};
	static const char *const bad[] = {
		"127.0.0.1:11211",	"memcache:127.0.0.1",
		"memcache:127.0.0.1:0", "memcache:127.0.0.1:65536",
		"memcache::11211",	"unix:relative",
		"inet:1@host",
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(shared_state_check(good[i], err, sizeof(err)));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_false(shared_state_check(bad[i], err, sizeof(err)));
		assert_true(err[0] != '\0');
	}
}

/* test_off - nothing configured: SS_OFF, and shared_state_on says so */
static void test_off(void **state)
{
	char v[16];

	(void)state;
	shared_state_setup("", 150, 30, NULL);
	assert_false(shared_state_on());
	assert_int_equal(shared_state_add("k", "v", 10), SS_OFF);
	assert_int_equal(shared_state_get("k", v, sizeof(v)), SS_OFF);
}

/* closed_port - a loopback port nothing listens on (bound, then closed) */
static unsigned closed_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* test_unreachable - SS_FAIL at once; then not asked again for the retry time */
static void test_unreachable(void **state)
{
	char spec[64], dir[] = "/tmp/mxport-ss-unit.XXXXXX", down[128], v[16];
	unsigned long long n = 0;
	long long t0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(down, sizeof(down), "%s/down", dir);
	snprintf(spec, sizeof(spec), "memcache:127.0.0.1:%u", closed_port());
	shared_state_setup(spec, 150, 30, down);
	assert_true(shared_state_on());
	t0 = now_ms();
	assert_int_equal(shared_state_add("mxport:test key\n", "v", 10), SS_FAIL);
	assert_true(now_ms() - t0 < 2000);
	assert_int_equal(access(down, F_OK), 0); /* the next process knows */
	t0 = now_ms();
	for (int i = 0; i < 100; i++) {
		assert_int_equal(shared_state_get("k", v, sizeof(v)), SS_FAIL);
		assert_int_equal(shared_state_count("c", 10, &n), SS_FAIL);
	}
	assert_true(now_ms() - t0 < 500); /* given up on: not one connection tried */
	shared_state_setup("", 150, 30, NULL);
	unlink(down);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_off),
		cmocka_unit_test(test_unreachable),
	};

	msg_init("test_shared_state", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
