/* test_core - what reaches a delivery core that lives for many connections (LMTP processes) */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "core.h"
#include "route_lookup.h"
#include "routes_index.h"
#include "secrets.h"

/* put - write text to path */
static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* a CA bundle replaced in place (same path, mxport.conf untouched) is loaded again */
static void test_ca_file_change(void **state)
{
	char dir[] = "/tmp/mxport-core.XXXXXX", conf[300], routes[300], ca[300], text[1000];
	struct transport_core core;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/mxport.conf", dir);
	snprintf(routes, sizeof(routes), "%s/routes", dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	put(routes, "example.com [127.0.0.1]:2525\n");
	put(ca, "# the old bundle\n");
	snprintf(text, sizeof(text), "routes_file = %s\ntls_ca_file = %s\n", routes, ca);
	put(conf, text);
	core_init(&core, conf);
	assert_true(core_refresh(&core, "test"));
	/* a delivery that verified a certificate loaded the CAs */
	core.tls_ctx = SSL_CTX_new(TLS_client_method());
	core.cas_loaded = true;
	assert_true(core_refresh(&core, "test"));
	assert_true(core.cas_loaded); /* nothing changed: nothing reloaded */
	put(ca, "# the new bundle, with another CA in it\n");
	assert_true(core_refresh(&core, "test"));
	assert_false(core.cas_loaded); /* loaded again when a route wants them */
	core_free(&core);
	unlink(conf);
	unlink(routes);
	unlink(ca);
	rmdir(dir);
}

/* port_of - the first target's port of domain's route in the core's configuration; 0: none */
static unsigned port_of(struct transport_core *core, const char *domain)
{
	struct route r;
	unsigned port = 0;

	route_lookup(core->routes, domain, &r);
	if (r.status == ROUTE_OK && r.ntargets > 0)
		port = r.targets[0].port;
	route_clear(&r);
	return port;
}

/*
 * a broken change of the routes file or mxport.conf is refused and the
 * configuration in force stays; the files are not read again until they
 * change; the fix is taken
 */
static void test_broken_change_keeps_last_good(void **state)
{
	char dir[] = "/tmp/mxport-core.XXXXXX", conf[300], routes[300], text[1000];
	struct transport_core core;
	unsigned long long refused;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/mxport.conf", dir);
	snprintf(routes, sizeof(routes), "%s/routes", dir);
	put(routes, "example.com [127.0.0.1]:2525\nother.example [127.0.0.1]:2600\n");
	snprintf(text, sizeof(text), "routes_file = %s\ndns_servers = 127.0.0.1:9\n", routes);
	put(conf, text);
	core_init(&core, conf);
	assert_true(core_refresh(&core, "test"));
	assert_int_equal(port_of(&core, "example.com"), 2525);

	put(routes, "example.com [127.0.0.1]:2527\nother.example [127.0.0.1]:25x27\n");
	assert_true(core_refresh(&core, "test")); /* mail goes on */
	assert_string_equal(core.error, "");
	assert_true(core.refused);
	assert_int_equal(port_of(&core, "example.com"), 2525); /* the last good routes */
	refused = core.own_gate.refused;
	assert_true(refused != 0); /* logged */
	assert_true(core_refresh(&core, "test"));
	assert_true(core.own_gate.refused == refused); /* not again within the minute */
	assert_int_equal(port_of(&core, "example.com"), 2525);

	put(routes, "example.com [127.0.0.1]:2528\nother.example [127.0.0.1]:2600\n");
	assert_true(core_refresh(&core, "test"));
	assert_false(core.refused);
	assert_int_equal(port_of(&core, "example.com"), 2528); /* the fix, without a restart */

	/* emptied (an editor's truncation before its write): not believed at once */
	put(routes, "");
	assert_true(core_refresh(&core, "test"));
	assert_false(core.refused);
	assert_int_equal(port_of(&core, "example.com"), 2528);
	put(routes, "example.com [127.0.0.1]:2528\nother.example [127.0.0.1]:2600\n");

	snprintf(text, sizeof(text), "routes_file = %s\ndns_servers = 127.0.0.1:9\nno_such = 1\n",
		 routes);
	put(conf, text);
	put(routes, "example.com [127.0.0.1]:2529\n");
	assert_true(core_refresh(&core, "test"));
	assert_true(core.refused);
	assert_int_equal(port_of(&core, "example.com"), 2528); /* mxport.conf broken: all stays */
	core_free(&core);
	unlink(conf);
	unlink(routes);
	rmdir(dir);
}

/* with nothing in force (a first load), a broken file defers, naming file and line */
static void test_first_load_broken(void **state)
{
	char dir[] = "/tmp/mxport-core.XXXXXX", conf[300], routes[300], text[1000];
	struct transport_core core;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/mxport.conf", dir);
	snprintf(routes, sizeof(routes), "%s/routes", dir);
	put(routes, "example.com [127.0.0.1]:2525\nbad.example [127.0.0.1]:25x27\n");
	snprintf(text, sizeof(text), "routes_file = %s\ndns_servers = 127.0.0.1:9\n", routes);
	put(conf, text);
	core_init(&core, conf);
	assert_false(core_refresh(&core, "test"));
	assert_non_null(strstr(core.error, "routes:2: '[127.0.0.1]:25x27'"));
	assert_non_null(core.cfg); /* the defaults: the fronts read their limits from it */
	put(routes, "example.com [127.0.0.1]:2525\n");
	assert_true(core_refresh(&core, "test"));
	assert_string_equal(core.error, "");
	assert_int_equal(port_of(&core, "example.com"), 2525);
	core_free(&core);
	unlink(conf);
	unlink(routes);
	rmdir(dir);
}

/* a routes index made (mxport-route --index) with the routes file untouched is taken up */
static void test_routes_index_change(void **state)
{
	char dir[] = "/tmp/mxport-core.XXXXXX", conf[300], routes[300], idx[320], text[1000];
	struct transport_core core;
	struct mx_errlist errs;
	struct route r;
	struct stat st;
	size_t count;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/mxport.conf", dir);
	snprintf(routes, sizeof(routes), "%s/routes", dir);
	routes_index_path(routes, idx, sizeof(idx));
	put(routes, "example.com [127.0.0.1]:2525\n");
	snprintf(text, sizeof(text), "routes_file = %s\n", routes);
	put(conf, text);
	core_init(&core, conf);
	assert_true(core_refresh(&core, "test"));
	assert_false(core.files[5].exists); /* no index: the text */
	mx_errlist_init(&errs);
	assert_true(routes_index_build(routes, &errs, &count));
	mx_errlist_free(&errs);
	assert_true(core_refresh(&core, "test"));
	assert_int_equal(stat(idx, &st), 0);
	assert_true(core.files[5].exists); /* reloaded, with the index */
	assert_int_equal(core.files[5].ino, st.st_ino);
	route_lookup(core.routes, "example.com", &r);
	assert_int_equal(r.status, ROUTE_OK);
	assert_int_equal(r.targets[0].port, 2525);
	route_clear(&r);
	core_free(&core);
	unlink(conf);
	unlink(idx);
	unlink(routes);
	rmdir(dir);
}

/* user_of - the user of the credentials for [127.0.0.1]:2525, or "" */
static const char *user_of(struct transport_core *core)
{
	const struct secret *s = secrets_find(&core->secrets, "127.0.0.1", true, 2525, "x.example");

	return s ? s->user : "";
}

/*
 * the secrets file's index is taken up like the routes index; a broken edit
 * of the text (the index then stale) keeps the last good credentials, read
 * from the index still mapped; the fix, indexed again, is taken
 */
static void test_secrets_index_last_good(void **state)
{
	char dir[] = "/tmp/mxport-core.XXXXXX", conf[300], routes[300], secrets[300], idx[320],
	     text[1000];
	struct transport_core core;
	struct mx_errlist errs;
	struct stat st;
	size_t count;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/mxport.conf", dir);
	snprintf(routes, sizeof(routes), "%s/routes", dir);
	snprintf(secrets, sizeof(secrets), "%s/secrets", dir);
	snprintf(idx, sizeof(idx), "%s.cdb", secrets);
	put(routes, "example.com [127.0.0.1]:2525\n");
	put(secrets, "[127.0.0.1]:2525 first pass\n");
	assert_int_equal(chmod(secrets, 0600), 0);
	snprintf(text, sizeof(text), "routes_file = %s\nsecrets_file = %s\n", routes, secrets);
	put(conf, text);
	core_init(&core, conf);
	assert_true(core_refresh(&core, "test"));
	assert_null(core.secrets.index);
	assert_string_equal(user_of(&core), "first");

	mx_errlist_init(&errs);
	assert_true(secrets_index_build(secrets, &errs, &count));
	assert_int_equal(count, 1);
	assert_int_equal(stat(idx, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true(core_refresh(&core, "test"));
	assert_true(core.files[6].exists); /* reloaded, with the index */
	assert_int_equal(core.files[6].ino, st.st_ino);
	assert_non_null(core.secrets.index);
	assert_string_equal(user_of(&core), "first");

	/* a broken edit: the index is stale, the text refused, the last good stays */
	put(secrets, "[127.0.0.1]:2525 second pass\nbad.example useronly\n");
	assert_false(secrets_index_build(secrets, &errs, &count));
	assert_true(core_refresh(&core, "test"));
	assert_true(core.refused);
	assert_non_null(core.secrets.index);
	assert_string_equal(user_of(&core), "first");

	put(secrets, "[127.0.0.1]:2525 third pass\n");
	assert_true(secrets_index_build(secrets, &errs, &count));
	mx_errlist_free(&errs);
	assert_true(core_refresh(&core, "test"));
	assert_false(core.refused);
	assert_non_null(core.secrets.index);
	assert_string_equal(user_of(&core), "third");
	core_free(&core);
	unlink(conf);
	unlink(idx);
	unlink(secrets);
	unlink(routes);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca_file_change),
		cmocka_unit_test(test_routes_index_change),
		cmocka_unit_test(test_secrets_index_last_good),
		cmocka_unit_test(test_broken_change_keeps_last_good),
		cmocka_unit_test(test_first_load_broken),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
