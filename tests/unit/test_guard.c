/* test_guard - the destination guard's special-use ranges and allowed_networks */
#include "config.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "guard.h"

/* check - guard verdict for a textual address */
static bool check(const char *text, const struct mx_netlist *allowed, char *why, size_t len)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
	} else {
		assert_int_equal(
			inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
		ss.ss_family = AF_INET6;
	}
	return guard_check((struct sockaddr *)&ss, allowed, why, len);
}

static void test_refused(void **state)
{
	static const char *const refused[] = {
		"127.0.0.1",
		"127.255.255.254",
		"10.1.2.3",
		"172.16.0.1",
		"172.31.255.255",
		"192.168.1.1",
		"169.254.169.254",
		"100.64.0.1",
		"0.0.0.0",
		"224.0.0.1",
		"239.255.255.250",
		"255.255.255.255",
		"192.0.2.10",
		"198.51.100.1",
		"203.0.113.5",
		"::1",
		"::",
		"fe80::1",
		"fc00::1",
		"fd12:3456::1",
		"ff02::1",
		"2001:db8::1",
		"::ffff:127.0.0.1",
		"::ffff:10.0.0.1",
		"fec0::1",
	};
	char why[160];

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		why[0] = '\0';
		if (check(refused[i], NULL, why, sizeof(why)))
			fail_msg("%s was let through", refused[i]);
		assert_non_null(strstr(why, "network"));
	}
	check("169.254.169.254", NULL, why, sizeof(why));
	assert_string_equal(why, "169.254.169.254 is in link-local network 169.254.0.0/16 (not in "
				 "allowed_networks)");
}

static void test_public_passes(void **state)
{
	static const char *const ok[] = {"8.8.8.8",	    "93.184.216.34",  "172.32.0.1",
					 "172.15.255.255",  "100.128.0.1",    "2a00:1450:4001::1",
					 "2606:4700::1111", "::ffff:8.8.8.8", "11.0.0.1"};
	char why[160];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!check(ok[i], NULL, why, sizeof(why)))
			fail_msg("%s refused: %s", ok[i], why);
}

static void test_allowed_networks(void **state)
{
	struct mx_netlist nl;
	char err[128], why[160];

	(void)state;
	assert_true(mx_netlist_parse("127.0.0.0/8, ::1 192.168.10.0/24", &nl, err, sizeof(err)));
	assert_true(check("127.0.0.1", &nl, why, sizeof(why)));
	assert_true(check("::1", &nl, why, sizeof(why)));
	assert_true(check("::ffff:127.0.0.2", &nl, why, sizeof(why)));
	assert_true(check("192.168.10.200", &nl, why, sizeof(why)));
	assert_false(check("192.168.11.1", &nl, why, sizeof(why)));
	assert_false(check("10.0.0.1", &nl, why, sizeof(why)));
	mx_netlist_free(&nl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_public_passes),
		cmocka_unit_test(test_allowed_networks),
	};
	return cmocka_run_group_tests_name("guard", tests, NULL, NULL);
}
