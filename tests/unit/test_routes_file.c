/* test_routes_file - the routes file parser: valid lines, invalid lines with their error, lookups
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mxconfig.h"
#include "notify_map.h"
#include "routes_file.h"

static void test_valid_lines(void **state)
{
	struct routes_entry e;
	char err[512];

	(void)state;
	assert_int_equal(
		routes_parse_line("example.com     mail.example.com:2525", &e, err, sizeof(err)),
		1);
	assert_string_equal(e.domain, "example.com");
	assert_false(e.subdomains);
	assert_int_equal(e.ntargets, 1);
	assert_string_equal(e.targets[0].host, "mail.example.com");
	assert_int_equal(e.targets[0].port, 2525);
	assert_int_equal(e.targets[0].pref, 0);
	assert_int_equal(e.targets[0].tls_mode, ROUTE_TLS_DEFAULT);
	free(e.targets);

	assert_int_equal(routes_parse_line("Example.NET. 10 mx1.example.net:2525, 20 "
					   "MX2.example.net:2526 tls=verify # c",
					   &e, err, sizeof(err)),
			 1);
	assert_string_equal(e.domain, "example.net");
	assert_int_equal(e.ntargets, 2);
	assert_int_equal(e.targets[0].pref, 10);
	assert_int_equal(e.targets[1].pref, 20);
	assert_string_equal(e.targets[1].host, "mx2.example.net");
	assert_int_equal(e.targets[1].port, 2526);
	assert_int_equal(e.targets[1].tls_mode, MX_TLS_VERIFY);
	free(e.targets);

	assert_int_equal(routes_parse_line(".example.org [192.0.2.10]:2525", &e, err, sizeof(err)),
			 1);
	assert_true(e.subdomains);
	assert_true(e.targets[0].literal);
	assert_string_equal(e.targets[0].host, "192.0.2.10");
	free(e.targets);

	assert_int_equal(
		routes_parse_line("v6.example [2001:db8::1]:2525 weight=5", &e, err, sizeof(err)),
		1);
	assert_string_equal(e.targets[0].host, "2001:db8::1");
	assert_int_equal(e.targets[0].weight, 5);
	free(e.targets);

	assert_int_equal(
		routes_parse_line("example.io smtps://mail.example.io:465", &e, err, sizeof(err)),
		1);
	assert_true(e.targets[0].implicit_tls);
	assert_int_equal(e.targets[0].port, 465);
	free(e.targets);

	assert_int_equal(
		routes_parse_line("example.io smtps://mail.example.io", &e, err, sizeof(err)), 1);
	assert_int_equal(e.targets[0].port, 465);
	free(e.targets);

	/* Unicode names are keyed by their A-label. */
	assert_int_equal(
		routes_parse_line("bücher.example mail.bücher.example:2525", &e, err, sizeof(err)),
		1);
	assert_string_equal(e.domain, "xn--bcher-kva.example");
	assert_string_equal(e.targets[0].host, "mail.xn--bcher-kva.example");
	free(e.targets);

	assert_int_equal(routes_parse_line("null.example .", &e, err, sizeof(err)), 1);
	assert_true(e.noservice);
	assert_int_equal(e.ntargets, 0);

	assert_int_equal(routes_parse_line("   # only a comment", &e, err, sizeof(err)), 0);
	assert_int_equal(routes_parse_line("", &e, err, sizeof(err)), 0);
}

static void test_invalid_lines(void **state)
{
	static const struct {
		const char *line;
		const char *error;
	} cases[] = {
		{"example.com", "no target"},
		{"example.com mail.example.com", "no port"},
		{"example.com mail.example.com:0", "is not a port number"},
		{"example.com mail.example.com:65536", "is not a port number"},
		{"example.com mail.example.com:smtp", "is not a port number"},
		{"example.com 10", "preference 10 without host:port"},
		{"example.com 99999 mail.example.com:2525", "is not a preference"},
		{"example.com mail.example.com:2525,", "empty target"},
		{"example.com mail.example.com:2525,, b.example:25", "empty target"},
		{"example.com mail.example.com:2525 tls=sometimes", "TLS mode must be"},
		{"example.com mail.example.com:2525 foo", "unexpected word"},
		{"example.com [192.0.2.300]:2525", "is not an IPv4 or IPv6 address"},
		{"example.com [192.0.2.1:2525", "'[' without ']'"},
		{"example.com 2001:db8::1:2525", "write an IPv6 address as [address]:port"},
		{"example.com http://mail.example.com:80", "unknown scheme"},
		{"example.com smtps://mail.example.com tls=none", "smtps:// target with tls=none"},
		{"exa_mple.com mail.example.com:2525", "not allowed in a host name"},
		{"-bad.example mail.example.com:2525", "starts or ends with '-'"},
		{"example..com mail.example.com:2525", "empty label"},
		{"example.com mail.example.com:2525, .",
		 "'.' (no service) must be the only target"},
	};
	struct routes_entry e;
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (routes_parse_line(cases[i].line, &e, err, sizeof(err)) != -1)
			fail_msg("accepted: %s", cases[i].line);
		if (strstr(err, cases[i].error) == NULL)
			fail_msg("'%s': error '%s', expected '%s'", cases[i].line, err,
				 cases[i].error);
		assert_null(e.targets);
	}
}

static void test_file_errors_name_lines(void **state)
{
	const char *text = "a.example a.example:2525\n"
			   "b.example\n"
			   "a.example other.example:2525\n"
			   "c.example c.example:2525\n"
			   "d.example d.example\n";
	struct mx_errlist errs;
	struct routes_file *rf;

	(void)state;
	mx_errlist_init(&errs);
	rf = routes_file_parse("routes", text, strlen(text), &errs);
	assert_null(rf);
	assert_int_equal(errs.count, 3);
	assert_non_null(strstr(errs.msgs[0], "routes:2: b.example: no target"));
	assert_non_null(strstr(errs.msgs[1], "routes:5: "));
	assert_non_null(strstr(errs.msgs[2], "routes:3: a.example: already routed on line 1"));
	mx_errlist_free(&errs);
}

static void test_lookup(void **state)
{
	const char *text = "example.com mail.example.com:2525\n"
			   ".example.org 10 sub.example.org:2526\n"
			   "deep.example.org deep.example.org:2527\n"
			   ".a.example.org a.example.org:2528\n"
			   "xn--bcher-kva.example [192.0.2.1]:2525\n"
			   "null.example .\n";
	struct mx_errlist errs;
	struct routes_file *rf;
	struct route r;

	(void)state;
	mx_errlist_init(&errs);
	rf = routes_file_parse("routes", text, strlen(text), &errs);
	assert_non_null(rf);
	route_init(&r);

	assert_true(routes_file_find(rf, "example.com", &r));
	assert_int_equal(r.status, ROUTE_OK);
	assert_string_equal(r.origin, "routes:1");
	assert_int_equal(r.targets[0].port, 2525);
	assert_string_equal(r.name, "example.com"); /* the metrics' route label */

	assert_false(routes_file_find(rf, "sub.example.com", &r)); /* no .example.com entry */
	assert_false(routes_file_find(rf, "example.org", &r));	   /* leading dot: below only */

	assert_true(routes_file_find(rf, "x.example.org", &r));
	assert_int_equal(r.targets[0].port, 2526);
	assert_true(routes_file_find(rf, "deep.example.org", &r));
	assert_int_equal(r.targets[0].port, 2527);
	assert_true(routes_file_find(rf, "x.y.a.example.org", &r)); /* nearest parent wins */
	assert_int_equal(r.targets[0].port, 2528);
	assert_string_equal(r.name, ".a.example.org"); /* the line's name, not the recipient's */

	assert_true(routes_file_find(rf, "xn--bcher-kva.example", &r));
	assert_true(routes_file_find(rf, "null.example", &r));
	assert_int_equal(r.status, ROUTE_NOSERVICE);

	route_clear(&r);
	routes_file_free(rf);
	mx_errlist_free(&errs);
}

static void test_nul_byte(void **state)
{
	const char text[] = "a.example a.example:2525\nb.exa\0mple b:25\n";
	struct mx_errlist errs;

	(void)state;
	mx_errlist_init(&errs);
	assert_null(routes_file_parse("routes", text, sizeof(text) - 1, &errs));
	assert_non_null(strstr(errs.msgs[0], "routes:2: NUL byte"));
	mx_errlist_free(&errs);
}

/* notify=: the domain's contact, on the line once; never inside the domain; and notify_map */
static void test_notify(void **state)
{
	static const char *const bad[] = {
		"example.com a.test:25 notify=owner@example.com",
		"example.com a.test:25 notify=owner@MAIL.Example.com.",
		".example.com a.test:25 notify=owner@deep.x.example.com",
		"example.com a.test:25 notify=-f@elsewhere.test",
		"example.com a.test:25 notify=.a@elsewhere.test",
		"example.com a.test:25 notify=a..b@elsewhere.test",
		"example.com a.test:25 notify=a|b@elsewhere.test",
		"example.com a.test:25 notify=a/b@elsewhere.test",
		"example.com a.test:25 notify=owner",
		"example.com a.test:25 notify=@elsewhere.test",
		"example.com a.test:25 notify=owner@",
		"example.com a.test:25 notify=owner@bad_host.test",
		"example.com a.test:25 notify=a@x.test, b.test:25 notify=b@x.test",
	};
	const char map[] = "# contacts\nexample.net ops@elsewhere.test\n\nexample.org "
			   "a@example.org\nexample.net b@x.test\n";
	struct mx_errlist errs;
	struct notify_map *m;
	char contact[MX_CONTACT_MAX];
	struct routes_entry e;
	struct routes_file *rf;
	struct route r;
	char err[512];

	(void)state;
	assert_int_equal(routes_parse_line("example.com a.test:25 notify=Owner@Elsewhere.TEST, "
					   "b.test:26",
					   &e, err, sizeof(err)),
			 1);
	assert_string_equal(e.notify, "Owner@elsewhere.test");
	assert_int_equal(e.ntargets, 2);
	free(e.targets);
	/* notaexample.com is not inside example.com */
	assert_int_equal(routes_parse_line("example.com a.test:25 notify=x@notaexample.com", &e,
					   err, sizeof(err)),
			 1);
	free(e.targets);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (routes_parse_line(bad[i], &e, err, sizeof(err)) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(strstr(err, "notify="));
	}

	mx_errlist_init(&errs);
	rf = routes_file_parse("r", "example.com a.test:25 notify=o@x.test\n", 38, &errs);
	assert_non_null(rf);
	route_init(&r);
	assert_true(routes_file_find(rf, "example.com", &r));
	assert_string_equal(r.notify, "o@x.test");
	route_clear(&r);
	routes_file_free(rf);

	assert_null(notify_map_parse("m", map, sizeof(map) - 1, &errs));
	assert_int_equal(errs.count, 2);
	assert_non_null(strstr(errs.msgs[0], "m:4: notify=a@example.org: the contact is inside"));
	assert_non_null(strstr(errs.msgs[1], "m:5: example.net: already listed on line 2"));
	mx_errlist_free(&errs);
	mx_errlist_init(&errs);
	m = notify_map_parse("m", map, 42, &errs);
	assert_non_null(m);
	assert_true(notify_map_find(m, "example.net", contact, sizeof(contact)));
	assert_string_equal(contact, "ops@elsewhere.test");
	assert_false(notify_map_find(m, "example.org", contact, sizeof(contact)));
	notify_map_free(m);
	mx_errlist_free(&errs);
}

/* verify=: yes or no, once on the domain's line, carried to the route */
static void test_verify_option(void **state)
{
	static const char *const bad[] = {
		"example.com a.test:25 verify=maybe",
		"example.com a.test:25 verify=",
		"example.com a.test:25 verify=yes verify=no",
		"example.com a.test:25 verify=yes, b.test:25 verify=yes",
	};
	struct mx_errlist errs;
	struct routes_entry e;
	struct routes_file *rf;
	struct route r;
	char err[512];
	const char text[] = "example.com a.test:25 verify=YES, b.test:26\n"
			    "example.net a.test:25 verify=no\nexample.org a.test:25\n";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (routes_parse_line(bad[i], &e, err, sizeof(err)) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(strstr(err, "verify="));
	}
	mx_errlist_init(&errs);
	rf = routes_file_parse("r", text, sizeof(text) - 1, &errs);
	assert_non_null(rf);
	route_init(&r);
	assert_true(routes_file_find(rf, "example.com", &r));
	assert_int_equal(r.verify, ROUTE_VERIFY_YES);
	assert_int_equal(r.ntargets, 2);
	route_clear(&r);
	assert_true(routes_file_find(rf, "example.net", &r));
	assert_int_equal(r.verify, ROUTE_VERIFY_NO);
	route_clear(&r);
	assert_true(routes_file_find(rf, "example.org", &r));
	assert_int_equal(r.verify, ROUTE_VERIFY_DEFAULT);
	route_clear(&r);
	routes_file_free(rf);
	mx_errlist_free(&errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_lines),
		cmocka_unit_test(test_invalid_lines),
		cmocka_unit_test(test_file_errors_name_lines),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_verify_option),
	};
	return cmocka_run_group_tests_name("routes_file", tests, NULL, NULL);
}
