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

/*
 * IPv6 forms that carry an IPv4 address: refused when the address they
 * carry is special-use, with a reason that names it; IPv4-compatible
 * ::/96 is refused whatever it carries.
 */
static void test_embedded(void **state)
{
	static const struct {
		const char *addr;
		const char *why; /* a part of the reason; NULL: let through */
	} cases[] = {
		/* IPv4-compatible (deprecated): refused outright */
		{"::127.0.0.1", "IPv4-compatible (deprecated) network ::/96"},
		{"::10.0.0.1", "IPv4-compatible (deprecated) network ::/96"},
		{"::8.8.8.8", "IPv4-compatible (deprecated) network ::/96"},
		{"::0.0.0.2", "IPv4-compatible (deprecated) network ::/96"},
		{"::", "unspecified network ::/128"},
		{"::1", "loopback network ::1/128"},
		/* IPv4-mapped */
		{"::ffff:127.0.0.1",
		 "carries IPv4 address 127.0.0.1 (IPv4-mapped ::ffff:0:0/96), which is in "
		 "loopback network 127.0.0.0/8"},
		{"::ffff:169.254.169.254", "carries IPv4 address 169.254.169.254"},
		{"::ffff:8.8.8.8", NULL},
		/* IPv4-translated (SIIT, RFC 2765) */
		{"::ffff:0:127.0.0.1",
		 "carries IPv4 address 127.0.0.1 (IPv4-translated ::ffff:0:0:0/96)"},
		{"::ffff:0:10.1.2.3", "in private network 10.0.0.0/8"},
		{"::ffff:0:8.8.8.8", NULL},
		/* NAT64, well-known prefix (RFC 6052) */
		{"64:ff9b::a9fe:a9fe",
		 "64:ff9b::a9fe:a9fe carries IPv4 address 169.254.169.254 (NAT64 64:ff9b::/96), "
		 "which is in link-local network 169.254.0.0/16 (not in allowed_networks)"},
		{"64:ff9b::127.0.0.1", "carries IPv4 address 127.0.0.1"},
		{"64:ff9b::192.168.0.1", "carries IPv4 address 192.168.0.1"},
		{"64:ff9b::100.64.0.1", "carries IPv4 address 100.64.0.1"},
		{"64:ff9b::8.8.8.8", NULL},
		{"64:ff9b::5db8:d822", NULL}, /* 93.184.216.34 */
		/* local-use NAT64 (RFC 8215): every RFC 6052 place of the address */
		{"64:ff9b:1::10.0.0.1", "carries IPv4 address 10.0.0.1 (local-use NAT64"},
		{"64:ff9b:1:7f00:0:100::", "carries IPv4 address 127.0.0.1"},	    /* /48 */
		{"64:ff9b:1:a9:fe:a9fe::", "carries IPv4 address 169.254.169.254"}, /* /56 */
		{"64:ff9b:1:0:c0:a801:100::", "carries IPv4 address 192.168.1.1"},  /* /64 */
		{"64:ff9b:1::8.8.8.8", NULL},
		{"64:ff9b:1:808:8:800::", NULL},	/* /48: 8.8.8.8 */
		{"64:ff9b:1:808:8:808:808:808", NULL},	/* only the /96 reading fits */
		{"64:ff9b:1:7f00:0:100:808:808", NULL}, /* idem: 8.8.8.8 */
		{"64:ff9b:1::", "carries IPv4 address 0.0.0.0"},
		/* 6to4 and Teredo: refused outright, a special-use address named */
		{"2002:7f00:1::1", "carries IPv4 address 127.0.0.1 (6to4 2002::/16)"},
		{"2002:808:808::1", "6to4 network 2002::/16"},
		{"2001:0:a00:1::1", "carries IPv4 address 10.0.0.1 (Teredo 2001::/32)"},
		{"2001:0:808:808::f5ff:fffe", "carries IPv4 address 10.0.0.1 (Teredo"},
		{"2001:0:808:808::f7f7:f7f7", "IETF protocol assignments network 2001::/23"},
	};
	char why[300];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		bool ok = check(cases[i].addr, NULL, why, sizeof(why));
		if (cases[i].why == NULL) {
			if (!ok)
				fail_msg("%s refused: %s", cases[i].addr, why);
		} else if (ok) {
			fail_msg("%s was let through", cases[i].addr);
		} else if (strstr(why, cases[i].why) == NULL) {
			fail_msg("%s: reason '%s' lacks '%s'", cases[i].addr, why, cases[i].why);
		}
	}
}

/* allowed_networks covers an embedded IPv4 address, and the IPv6 form itself */
static void test_embedded_allowed(void **state)
{
	struct mx_netlist nl;
	char err[128], why[300];

	(void)state;
	assert_true(mx_netlist_parse("10.0.0.0/8 64:ff9b:1:ab::/64", &nl, err, sizeof(err)));
	assert_true(check("64:ff9b::10.1.2.3", &nl, why, sizeof(why)));
	assert_true(check("::ffff:0:10.1.2.3", &nl, why, sizeof(why)));
	assert_false(check("64:ff9b::127.0.0.1", &nl, why, sizeof(why)));
	assert_true(check("64:ff9b:1:ab::127.0.0.1", &nl, why, sizeof(why)));
	assert_false(check("::10.1.2.3", &nl, why, sizeof(why))); /* ::/96 is not 10/8 */
	mx_netlist_free(&nl);
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
		cmocka_unit_test(test_refused),		 cmocka_unit_test(test_public_passes),
		cmocka_unit_test(test_allowed_networks), cmocka_unit_test(test_embedded),
		cmocka_unit_test(test_embedded_allowed),
	};
	return cmocka_run_group_tests_name("guard", tests, NULL, NULL);
}
