/* test_config - the mxport.conf parser: values, errors with file and line */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mxconfig.h"

/* write_temp - a config file with the given text; returns its path */
static char *write_temp(const char *text)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/mxport-test-conf.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* read_text - parse text, return the error count and keep the list */
static int read_text(struct mx_config *cfg, const char *text, struct mx_errlist *errs)
{
	char *path = write_temp(text);
	int n;

	mx_errlist_init(errs);
	n = mx_config_read(cfg, path, errs);
	unlink(path);
	return n;
}

static void test_defaults(void **state)
{
	struct mx_config *cfg = mx_config_defaults();

	(void)state;
	assert_string_equal(cfg->dns_route_prefix, "_smtp._tcp");
	assert_false(cfg->dns_routes);
	assert_int_equal(cfg->tls_mode, MX_TLS_MAY);
	assert_int_equal(cfg->unknown_domains, MX_UNKNOWN_ACCEPT); /* the MTA decides */
	assert_int_equal(cfg->dns_timeout, 5);
	assert_true(cfg->delivery_time_limit < 1000); /* below Postfix's transport_time_limit */
	/* what a route may make one delivery do; credentials over verified TLS only */
	assert_int_equal(cfg->max_targets, 10);
	assert_int_equal(cfg->max_addresses, 5);
	assert_int_equal(cfg->max_sessions, 2);
	assert_int_equal(cfg->auth_tls_mode, MX_AUTH_TLS_VERIFY);
	mx_config_free(cfg);
}

static void test_limits_and_auth_tls(void **state)
{
	struct mx_config *cfg = mx_config_defaults();
	char err[256];

	(void)state;
	assert_int_equal(mx_config_set(cfg, "max_addresses", "0", err, sizeof(err)), 0);
	assert_int_equal(cfg->max_addresses, 0);
	assert_int_equal(mx_config_set(cfg, "max_targets", "1000", err, sizeof(err)), 0);
	assert_int_equal(mx_config_set(cfg, "max_targets", "1001", err, sizeof(err)), -1);
	assert_string_equal(err, "'1001' is not a number from 0 to 1000");
	assert_int_equal(mx_config_set(cfg, "max_sessions", "-1", err, sizeof(err)), -1);
	assert_int_equal(mx_config_set(cfg, "auth_tls_mode", "Encrypt", err, sizeof(err)), 0);
	assert_int_equal(cfg->auth_tls_mode, MX_AUTH_TLS_ENCRYPT);
	/* never weaker than encryption: the password must not go in plain text */
	assert_int_equal(mx_config_set(cfg, "auth_tls_mode", "may", err, sizeof(err)), -1);
	assert_string_equal(err, "'may' is not one of: encrypt verify");
	assert_int_equal(mx_config_set(cfg, "auth_tls_mode", "none", err, sizeof(err)), -1);
	mx_config_free(cfg);
}

/* The default EHLO name is fully qualified, as Postfix's myhostname: never a bare host name. */
static void test_helo_default(void **state)
{
	struct mx_config *cfg = mx_config_defaults();
	char name[256], err[128];

	(void)state;
	mx_helo_name(cfg, name, sizeof(name));
	assert_non_null(strchr(name, '.'));
	assert_int_equal(mx_config_set(cfg, "helo_name", "relay.example", err, sizeof(err)), 0);
	mx_helo_name(cfg, name, sizeof(name));
	assert_string_equal(name, "relay.example");
	mx_helo_name(cfg, name, 4); /* cut to fit, terminated */
	assert_string_equal(name, "rel");
	mx_config_free(cfg);
}

static void test_values(void **state)
{
	struct mx_config *cfg = mx_config_defaults();
	struct mx_errlist errs;

	(void)state;
	assert_int_equal(read_text(cfg,
				   "# comment\n"
				   "routes_file = /etc/mxport/routes   # trailing comment\n"
				   "dns_routes = yes\n"
				   "dns_servers = 127.0.0.1:5353, [::1]:5353\n"
				   "   192.0.2.53\n"
				   "dns_timeout = 2m\n"
				   "tls_mode = verify\n"
				   "unknown_domains = reject\n"
				   "allowed_networks = 127.0.0.0/8 ::1/128\n"
				   "\n"
				   "route_cache_size = 0\n",
				   &errs),
			 0);
	assert_string_equal(cfg->routes_file, "/etc/mxport/routes");
	assert_true(cfg->dns_routes);
	assert_string_equal(cfg->dns_servers, "127.0.0.1:5353, [::1]:5353 192.0.2.53");
	assert_int_equal(cfg->dns_timeout, 120);
	assert_int_equal(cfg->tls_mode, MX_TLS_VERIFY);
	assert_int_equal(cfg->unknown_domains, MX_UNKNOWN_REJECT);
	assert_int_equal(cfg->route_cache_size, 0);
	mx_errlist_free(&errs);
	mx_config_free(cfg);
}

/* Every bad line is reported, each with file, line and key. */
static void test_errors(void **state)
{
	struct mx_config *cfg = mx_config_defaults();
	struct mx_errlist errs;
	static const struct {
		int line;
		const char *needle;
	} want[] = {
		{1, "no_such_key: unknown key"},
		{2, "dns_routes: 'maybe' is not yes or no"},
		{3, "tls_mode: 'strict' is not one of: none may encrypt verify dane"},
		{4, "dns_timeout: '0' is not a time from 1s to 120s"},
		{5, "expected 'key = value'"},
		{6, "allowed_networks: '10.0.0.1/8' has host bits set"},
		{7, "dns_servers: 'dns.example' is not a numeric IPv4 or IPv6 address"},
		{8, "local_ports: '70000' is not a port number"},
		{9, "dns_attempts: set a second time (first on line 9)"},
	};

	(void)state;
	assert_int_equal(read_text(cfg,
				   "no_such_key = 1\n"
				   "dns_routes = maybe\n"
				   "tls_mode = strict\n"
				   "dns_timeout = 0\n"
				   "just some words\n"
				   "allowed_networks = 10.0.0.1/8\n"
				   "dns_servers = dns.example\n"
				   "local_ports = 25 70000\n"
				   "dns_attempts = 1\n"
				   "dns_attempts = 2\n",
				   &errs),
			 9);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char prefix[64];
		bool found = false;

		snprintf(prefix, sizeof(prefix), ":%d: ", want[i].line + (i == 8 ? 1 : 0));
		for (size_t j = 0; j < errs.count; j++)
			if (strstr(errs.msgs[j], want[i].needle) && strstr(errs.msgs[j], prefix) &&
			    strncmp(errs.msgs[j], "/tmp/mxport-test-conf.", 22) == 0)
				found = true;
		if (!found) {
			for (size_t j = 0; j < errs.count; j++)
				fprintf(stderr, "# got: %s\n", errs.msgs[j]);
			fail_msg("no error '%s' at line %d", want[i].needle, want[i].line);
		}
	}
	mx_errlist_free(&errs);
	mx_config_free(cfg);
}

static void test_missing_file(void **state)
{
	struct mx_config *cfg = mx_config_defaults();
	struct mx_errlist errs;

	(void)state;
	mx_errlist_init(&errs);
	assert_int_equal(mx_config_read(cfg, "/nonexistent/mxport.conf", &errs), 1);
	assert_non_null(strstr(errs.msgs[0], "/nonexistent/mxport.conf: cannot open"));
	mx_errlist_free(&errs);
	mx_config_free(cfg);
}

/* socket_mode is octal: 0660 and 660 are the same; 8, 9 and a setuid bit are not modes */
static void test_socket_mode(void **state)
{
	struct mx_config *cfg = mx_config_defaults();
	struct mx_errlist errs;
	char err[256];

	(void)state;
	assert_int_equal(cfg->socket_mode, 0660);
	assert_string_equal(cfg->socket_group, "postfix");
	assert_string_equal(cfg->milter_user, "mxport");
	assert_int_equal(mx_config_set(cfg, "socket_mode", "600", err, sizeof(err)), 0);
	assert_int_equal(cfg->socket_mode, 0600);
	assert_int_equal(mx_config_set(cfg, "socket_mode", "0777", err, sizeof(err)), 0);
	assert_int_equal(cfg->socket_mode, 0777);
	static const char *const bad[] = {"", "0668", "9", "04660", "rw-rw----", "-660", "000660"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (mx_config_set(cfg, "socket_mode", bad[i], err, sizeof(err)) == 0)
			fail_msg("socket_mode '%s' was taken", bad[i]);
		assert_non_null(strstr(err, "is not an octal mode from 0 to 777"));
	}
	assert_int_equal(read_text(cfg, "socket_mode = 0648\n", &errs), 1);
	assert_non_null(strstr(errs.msgs[0], ":1: socket_mode: '0648' is not an octal mode"));
	mx_errlist_free(&errs);
	mx_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),    cmocka_unit_test(test_helo_default),
		cmocka_unit_test(test_values),	    cmocka_unit_test(test_limits_and_auth_tls),
		cmocka_unit_test(test_errors),	    cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_socket_mode),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
