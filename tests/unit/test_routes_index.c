/*
 * test_routes_index - the routes index (mxport-route --index): built from
 * the routes file, it answers as the text does (exact name, nearest
 * ".parent"); a stale index is refused and the text read; a broken routes
 * file leaves the old index; a damaged index never crashes a reader and is
 * refused (or, for a damaged record, the text is read instead).
 */
#include "config.h"

#include <cdb.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cdb_table.h"
#include "mxconfig.h"
#include "notify_map.h"
#include "route_lookup.h"
#include "routes_file.h"
#include "routes_index.h"
#include "util.h"

static const char *lookup_text =
	"example.com mail.example.com:2525\n"
	"# a comment line\n"
	".example.org 10 sub.example.org:2526 # trailing comment\n"
	"deep.example.org deep.example.org:2527 notify=o@other.test\n"
	".a.example.org a.example.org:2528, 20 b.example.org:2529 tls=verify\n"
	"xn--bcher-kva.example [192.0.2.1]:2525 verify=yes\n"
	"null.example .\n"
	".null.example [2001:db8::1]:2530 weight=5\n";

static const char *queries[] = {
	"example.com",
	"sub.example.com",
	"example.org",
	"x.example.org",
	"deep.example.org",
	"x.deep.example.org",
	"a.example.org",
	"x.y.a.example.org",
	"xn--bcher-kva.example",
	"null.example",
	"x.null.example",
	"nothing.test",
	"com",
	"org",
};

struct fixture {
	char dir[64];
	char routes[128];
	char index[160];
	char conf[128];
};

/* put_file - write text to path, replacing it */
static void put_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* read_all - the bytes of a file (the caller frees); len set */
static char *read_all(const char *path, size_t *len)
{
	char *text, err[300];

	assert_true(mx_read_file(path, 1 << 30, "test", &text, len, err, sizeof(err)));
	return text;
}

static int setup(void **state)
{
	struct fixture *fx = mx_calloc(1, sizeof(*fx));
	char text[300];

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/mxport-index.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->routes, sizeof(fx->routes), "%s/routes", fx->dir);
	routes_index_path(fx->routes, fx->index, sizeof(fx->index));
	snprintf(fx->conf, sizeof(fx->conf), "%s/mxport.conf", fx->dir);
	snprintf(text, sizeof(text), "routes_file = %s\n", fx->routes);
	put_file(fx->conf, text, strlen(text));
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

/* build_ok - index the routes file; it must succeed with count routes */
static void build_ok(struct fixture *fx, size_t want)
{
	struct mx_errlist errs;
	size_t count = 0;

	mx_errlist_init(&errs);
	if (!routes_index_build(fx->routes, &errs, &count))
		fail_msg("build failed: %s", errs.count ? errs.msgs[0] : "(no error)");
	assert_int_equal(count, want);
	mx_errlist_free(&errs);
}

/* open_fresh - the index, which must be fresh */
static struct routes_index *open_fresh(struct fixture *fx)
{
	enum routes_index_state st;
	char why[600];
	struct routes_index *ri = routes_index_open(fx->routes, &st, why, sizeof(why));

	if (ri == NULL)
		fail_msg("index refused: %s", why);
	assert_int_equal(st, ROUTES_INDEX_FRESH);
	return ri;
}

/* same_route - the index's answer is the text's, field by field */
static void same_route(const struct route *a, const struct route *b, const char *q)
{
	if (a->status != b->status || strcmp(a->origin, b->origin) != 0 ||
	    strcmp(a->reason, b->reason) != 0 || strcmp(a->notify, b->notify) != 0 ||
	    a->verify != b->verify || a->ntargets != b->ntargets || a->source != b->source)
		fail_msg("%s: index says %s '%s', text says %s '%s'", q, a->origin, a->reason,
			 b->origin, b->reason);
	for (size_t i = 0; i < a->ntargets; i++)
		assert_memory_equal(&a->targets[i], &b->targets[i], sizeof(a->targets[i]));
}

static void test_same_answers_as_text(void **state)
{
	struct fixture *fx = *state;
	struct mx_errlist errs;
	struct routes_file *rf;
	struct routes_index *ri;
	char why[600];

	put_file(fx->routes, lookup_text, strlen(lookup_text));
	build_ok(fx, 7);
	ri = open_fresh(fx);
	assert_int_equal(routes_index_count(ri), 7);
	mx_errlist_init(&errs);
	rf = routes_file_load(fx->routes, &errs);
	assert_non_null(rf);
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		struct route a, b;
		int ia, ib;

		route_init(&a);
		route_init(&b);
		ia = routes_index_find(ri, queries[i], &a, why, sizeof(why));
		ib = routes_file_find(rf, queries[i], &b);
		if (ia != ib)
			fail_msg("%s: index %d, text %d (%s)", queries[i], ia, ib, why);
		if (ia == 1)
			same_route(&a, &b, queries[i]);
		route_clear(&a);
		route_clear(&b);
	}
	routes_file_free(rf);
	mx_errlist_free(&errs);
	routes_index_close(ri);
}

static void test_precedence(void **state)
{
	struct fixture *fx = *state;
	struct routes_index *ri;
	struct route r;
	char why[600];

	put_file(fx->routes, lookup_text, strlen(lookup_text));
	build_ok(fx, 7);
	ri = open_fresh(fx);
	route_init(&r);
	assert_int_equal(routes_index_find(ri, "example.com", &r, why, sizeof(why)), 1);
	assert_int_equal(r.status, ROUTE_OK);
	assert_int_equal(r.source, ROUTE_SRC_FILE);
	assert_int_equal(r.targets[0].port, 2525);
	assert_non_null(strstr(r.origin, "/routes:1"));
	/* no ".example.com" entry; a leading dot is for the names below only */
	assert_int_equal(routes_index_find(ri, "sub.example.com", &r, why, sizeof(why)), 0);
	assert_int_equal(routes_index_find(ri, "example.org", &r, why, sizeof(why)), 0);
	assert_int_equal(routes_index_find(ri, "x.example.org", &r, why, sizeof(why)), 1);
	assert_int_equal(r.targets[0].port, 2526);
	assert_non_null(strstr(r.origin, "/routes:3"));
	/* the exact name before any parent; the nearest parent before a farther one */
	assert_int_equal(routes_index_find(ri, "deep.example.org", &r, why, sizeof(why)), 1);
	assert_int_equal(r.targets[0].port, 2527);
	assert_string_equal(r.notify, "o@other.test");
	assert_int_equal(routes_index_find(ri, "x.deep.example.org", &r, why, sizeof(why)), 1);
	assert_int_equal(r.targets[0].port, 2526);
	assert_int_equal(routes_index_find(ri, "x.y.a.example.org", &r, why, sizeof(why)), 1);
	assert_int_equal(r.ntargets, 2);
	assert_int_equal(r.targets[1].tls_mode, MX_TLS_VERIFY);
	assert_int_equal(routes_index_find(ri, "null.example", &r, why, sizeof(why)), 1);
	assert_int_equal(r.status, ROUTE_NOSERVICE);
	assert_int_equal(routes_index_find(ri, "x.null.example", &r, why, sizeof(why)), 1);
	assert_int_equal(r.status, ROUTE_OK);
	assert_int_equal(r.targets[0].weight, 5);
	assert_int_equal(routes_index_find(ri, "xn--bcher-kva.example", &r, why, sizeof(why)), 1);
	assert_int_equal(r.verify, ROUTE_VERIFY_YES);
	route_clear(&r);
	routes_index_close(ri);
}

/* ctx_lookup - route_lookup through a route_ctx made from the fixture's mxport.conf */
static void ctx_lookup(struct fixture *fx, const char *domain, struct route *r)
{
	struct mx_config *cfg = mx_config_defaults();
	struct mx_errlist errs;
	struct route_ctx *ctx;

	mx_errlist_init(&errs);
	assert_int_equal(mx_config_read(cfg, fx->conf, &errs), 0);
	ctx = route_ctx_new(cfg, &errs);
	if (ctx == NULL)
		fail_msg("route_ctx_new: %s", errs.msgs[0]);
	route_lookup(ctx, domain, r);
	route_ctx_free(ctx);
	mx_config_free(cfg);
	mx_errlist_free(&errs);
}

static void test_stale_index_reads_text(void **state)
{
	struct fixture *fx = *state;
	enum routes_index_state st;
	struct route r;
	char why[600], *text;

	put_file(fx->routes, lookup_text, strlen(lookup_text));
	build_ok(fx, 7);
	/* The admin adds a route and has not run --index yet. */
	text = mx_asprintf("%snew.example [192.0.2.9]:2600\n", lookup_text);
	put_file(fx->routes, text, strlen(text));
	free(text);
	assert_null(routes_index_open(fx->routes, &st, why, sizeof(why)));
	assert_int_equal(st, ROUTES_INDEX_STALE);
	assert_non_null(strstr(why, "older than the routes file"));
	ctx_lookup(fx, "new.example", &r);
	assert_int_equal(r.status, ROUTE_OK);
	assert_int_equal(r.targets[0].port, 2600);
	assert_non_null(strstr(r.origin, "/routes:9"));
	route_clear(&r);
	/* The same size but another time is stale too. */
	build_ok(fx, 8);
	{
		struct timespec ts[2] = {{0, UTIME_OMIT}, {12345, 678}};

		assert_int_equal(utimensat(AT_FDCWD, fx->routes, ts, 0), 0);
	}
	assert_null(routes_index_open(fx->routes, &st, why, sizeof(why)));
	assert_int_equal(st, ROUTES_INDEX_STALE);
	/* No index at all: the text, silently. */
	assert_int_equal(unlink(fx->index), 0);
	assert_null(routes_index_open(fx->routes, &st, why, sizeof(why)));
	assert_int_equal(st, ROUTES_INDEX_NONE);
	ctx_lookup(fx, "x.example.org", &r);
	assert_int_equal(r.targets[0].port, 2526);
	route_clear(&r);
}

/* dir_entries - the number of names in the fixture's directory (temporary files left?) */
static int dir_entries(struct fixture *fx)
{
	char cmd[200];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", fx->dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

static void test_broken_file_keeps_old_index(void **state)
{
	struct fixture *fx = *state;
	const char *broken = "a.example a.example:2525\n"
			     "b.example\n"
			     "a.example other.example:2525\n"
			     "c.example c.example:2525\n"
			     "d.example d.example\n";
	struct mx_errlist errs, text_errs;
	struct stat before, after;
	char *old, *now;
	size_t oldlen, nowlen, count = 99;

	put_file(fx->routes, lookup_text, strlen(lookup_text));
	build_ok(fx, 7);
	assert_int_equal(stat(fx->index, &before), 0);
	old = read_all(fx->index, &oldlen);
	put_file(fx->routes, broken, strlen(broken));
	mx_errlist_init(&errs);
	assert_false(routes_index_build(fx->routes, &errs, &count));
	assert_int_equal(count, 0);
	/* The errors the text parser gives, with file and line. */
	mx_errlist_init(&text_errs);
	assert_null(routes_file_load(fx->routes, &text_errs));
	assert_int_equal(errs.count, 3);
	assert_int_equal(text_errs.count, 3);
	for (size_t i = 0; i < errs.count; i++) {
		bool found = false;

		for (size_t j = 0; j < text_errs.count; j++)
			found = found || strcmp(errs.msgs[i], text_errs.msgs[j]) == 0;
		if (!found)
			fail_msg("index error '%s' is not one the text parser gives", errs.msgs[i]);
	}
	assert_non_null(strstr(errs.msgs[0], "/routes:2: b.example: no target"));
	assert_non_null(strstr(errs.msgs[1], "/routes:3: a.example: already routed on line 1"));
	assert_non_null(strstr(errs.msgs[2], "/routes:5: "));
	mx_errlist_free(&errs);
	mx_errlist_free(&text_errs);
	/* The old index is there, the same file, and no temporary file is left. */
	assert_int_equal(stat(fx->index, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	now = read_all(fx->index, &nowlen);
	assert_int_equal(oldlen, nowlen);
	assert_memory_equal(old, now, oldlen);
	assert_int_equal(dir_entries(fx), 3); /* mxport.conf, routes, routes.cdb */
	free(old);
	free(now);
	/* A routes file that cannot be read writes nothing either. */
	assert_int_equal(unlink(fx->routes), 0);
	mx_errlist_init(&errs);
	assert_false(routes_index_build(fx->routes, &errs, &count));
	assert_non_null(strstr(errs.msgs[0], "cannot open the routes file"));
	mx_errlist_free(&errs);
	assert_int_equal(dir_entries(fx), 2);
}

static void test_many_routes(void **state)
{
	struct fixture *fx = *state;
	const size_t n = 200000;
	struct routes_index *ri;
	struct mx_buf b = {0};
	struct route r;
	char why[600], name[64];

	for (size_t i = 0; i < n; i++)
		mx_buf_printf(&b, "cust%zu.example [192.0.2.%zu]:%zu\n", i, i % 254 + 1,
			      2000 + i % 1000);
	mx_buf_printf(&b, ".cust7.example [192.0.2.77]:2777\n");
	put_file(fx->routes, b.data, b.len);
	mx_buf_free(&b);
	build_ok(fx, n + 1);
	ri = open_fresh(fx);
	route_init(&r);
	for (size_t i = 0; i < n; i += 9973) {
		snprintf(name, sizeof(name), "cust%zu.example", i);
		assert_int_equal(routes_index_find(ri, name, &r, why, sizeof(why)), 1);
		assert_int_equal(r.targets[0].port, 2000 + i % 1000);
		snprintf(name, sizeof(name), "/routes:%zu", i + 1);
		assert_non_null(strstr(r.origin, name));
	}
	assert_int_equal(routes_index_find(ri, "cust199999.example", &r, why, sizeof(why)), 1);
	assert_int_equal(routes_index_find(ri, "mx.cust7.example", &r, why, sizeof(why)), 1);
	assert_int_equal(r.targets[0].port, 2777);
	assert_int_equal(routes_index_find(ri, "cust200000.example", &r, why, sizeof(why)), 0);
	assert_int_equal(routes_index_find(ri, "mx.cust8.example", &r, why, sizeof(why)), 0);
	route_clear(&r);
	routes_index_close(ri);
}

/* lcg - a fixed pseudo-random sequence, so that a failure repeats */
static uint32_t lcg(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

/* probe_all - open the index as it is on disk and ask every query: nothing may crash */
static int probe_all(struct fixture *fx)
{
	enum routes_index_state st;
	char why[600];
	struct routes_index *ri = routes_index_open(fx->routes, &st, why, sizeof(why));
	int damaged = 0;

	if (ri == NULL) {
		assert_true(st == ROUTES_INDEX_BAD || st == ROUTES_INDEX_STALE);
		return -1;
	}
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		struct route r;
		int rc;

		route_init(&r);
		rc = routes_index_find(ri, queries[i], &r, why, sizeof(why));
		assert_true(rc >= -1 && rc <= 1);
		if (rc == 1)
			assert_true(r.status == ROUTE_OK || r.status == ROUTE_NOSERVICE);
		damaged += rc < 0;
		route_clear(&r);
	}
	routes_index_close(ri);
	return damaged;
}

static void test_damaged_index(void **state)
{
	struct fixture *fx = *state;
	enum routes_index_state st;
	uint32_t seed = 21;
	char *good, *bad, why[600];
	size_t len;
	int refused = 0;

	put_file(fx->routes, lookup_text, strlen(lookup_text));
	build_ok(fx, 7);
	good = read_all(fx->index, &len);
	bad = mx_malloc(len + 1);
	/* Truncated at every length that matters, and garbage of any size: refused. */
	const size_t cuts[] = {0, 1, 100, 2047, 2048, 2049, len / 2, len - 9, len - 1};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		put_file(fx->index, good, cuts[i]);
		assert_null(routes_index_open(fx->routes, &st, why, sizeof(why)));
		assert_int_equal(st, ROUTES_INDEX_BAD);
	}
	for (size_t size = 0; size < 3 * len; size += 317) {
		char *junk = mx_malloc(size + 1);

		for (size_t i = 0; i < size; i++)
			junk[i] = (char)lcg(&seed);
		put_file(fx->index, junk, size);
		assert_null(routes_index_open(fx->routes, &st, why, sizeof(why)));
		assert_int_equal(st, ROUTES_INDEX_BAD);
		free(junk);
	}
	/* A few bytes changed anywhere: refused, or answers, or damaged records; never a crash. */
	for (int round = 0; round < 3000; round++) {
		int flips = 1 + (int)(lcg(&seed) % 8);

		memcpy(bad, good, len);
		for (int k = 0; k < flips; k++)
			bad[lcg(&seed) % len] = (char)lcg(&seed);
		put_file(fx->index, bad, len);
		refused += probe_all(fx) < 0;
	}
	assert_true(refused > 0);
	/* A directory, or a file that cannot be read, in the index's place: refused. */
	assert_int_equal(unlink(fx->index), 0);
	assert_int_equal(mkdir(fx->index, 0755), 0);
	assert_null(routes_index_open(fx->routes, &st, why, sizeof(why)));
	assert_int_equal(st, ROUTES_INDEX_BAD);
	assert_int_equal(rmdir(fx->index), 0);
	free(good);
	free(bad);
}

/* forge_index - an index of the routes file as it is, with one hand-made record */
static void forge_index(struct fixture *fx, const char *key, const char *value)
{
	struct cdb_make cm;
	struct stat st;
	char meta[300];
	int fd = open(fx->index, O_RDWR | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(stat(fx->routes, &st), 0);
	snprintf(meta, sizeof(meta), "mxport-routes-index/1 %ju %ju %jd %jd.%09ld 1",
		 (uintmax_t)st.st_dev, (uintmax_t)st.st_ino, (intmax_t)st.st_size,
		 (intmax_t)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
	assert_int_equal(cdb_make_start(&cm, fd), 0);
	assert_int_equal(cdb_make_add(&cm, key, strlen(key), value, strlen(value)), 0);
	assert_int_equal(cdb_make_add(&cm, "\0mxport-routes-index", 20, meta, strlen(meta)), 0);
	assert_int_equal(cdb_make_finish(&cm), 0);
	assert_int_equal(close(fd), 0);
}

static void test_damaged_record_reads_text(void **state)
{
	struct fixture *fx = *state;
	static const char *values[] = {
		"1\tnull.example [192.0.2.66]:2666", /* another domain's line */
		"1\texample.com",		     /* does not parse */
		"x\texample.com [192.0.2.66]:2666",  /* no line number */
		"1 example.com [192.0.2.66]:2666",   /* no tab */
		"0\texample.com [192.0.2.66]:2666",  /* line 0 */
	};
	struct routes_index *ri;
	struct route r;
	char why[600];

	put_file(fx->routes, lookup_text, strlen(lookup_text));
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		forge_index(fx, "example.com", values[i]);
		ri = open_fresh(fx);
		route_init(&r);
		assert_int_equal(routes_index_find(ri, "example.com", &r, why, sizeof(why)), -1);
		assert_non_null(strstr(why, "damaged") ? why : strstr(why, "another"));
		route_clear(&r);
		routes_index_close(ri);
		/* Through route_lookup: the text's answer, not the forged one. */
		ctx_lookup(fx, "example.com", &r);
		assert_int_equal(r.status, ROUTE_OK);
		assert_int_equal(r.targets[0].port, 2525);
		assert_non_null(strstr(r.origin, "/routes:1"));
		route_clear(&r);
	}
	/* A well-formed forged record is believed: the index is what it says. */
	forge_index(fx, "example.com", "1\texample.com [192.0.2.66]:2666");
	ctx_lookup(fx, "example.com", &r);
	assert_int_equal(r.targets[0].port, 2666);
	route_clear(&r);
	/* An index made by another version is refused. */
	{
		struct cdb_make cm;
		int fd = open(fx->index, O_RDWR | O_CREAT | O_TRUNC, 0644);

		assert_int_equal(cdb_make_start(&cm, fd), 0);
		assert_int_equal(cdb_make_add(&cm, "\0mxport-routes-index", 20,
					      "mxport-routes-index/9 x", 23),
				 0);
		assert_int_equal(cdb_make_finish(&cm), 0);
		close(fd);
		enum routes_index_state st;
		assert_null(routes_index_open(fx->routes, &st, why, sizeof(why)));
		assert_int_equal(st, ROUTES_INDEX_BAD);
		assert_non_null(strstr(why, "another version"));
	}
}

struct hammer_arg {
	struct route_ctx *ctx;
	int bad; /* lookups that did not get the text's answer */
};

/* hammer - many lookups on one context, as the milter's threads make them */
static void *hammer(void *p)
{
	struct hammer_arg *a = p;

	for (int i = 0; i < 2000; i++) {
		static const char *names[] = {"example.com", "x.example.org", "deep.example.org",
					      "nothing.test"};
		static const unsigned ports[] = {2525, 2526, 2527, 0};
		struct route r;
		int k = i % 4;

		route_lookup(a->ctx, names[k], &r);
		if (ports[k] ? r.status != ROUTE_OK || r.targets[0].port != ports[k]
			     : r.status != ROUTE_NOTFOUND)
			a->bad++;
		route_clear(&r);
	}
	return NULL;
}

/* threads share a context; the first to meet a damaged record reads the text, once */
static void test_threads(void **state)
{
	struct fixture *fx = *state;
	struct mx_config *cfg = mx_config_defaults();
	struct hammer_arg args[4];
	pthread_t th[4];
	struct mx_errlist errs;
	struct route_ctx *ctx;

	char *index, *rec;
	size_t len;

	put_file(fx->routes, lookup_text, strlen(lookup_text));
	build_ok(fx, 7);
	/* example.com's record damaged: its line now names another domain */
	index = read_all(fx->index, &len);
	rec = memmem(index, len, "\texample.com mail", 17);
	assert_non_null(rec);
	rec[3] = 'b';
	put_file(fx->index, index, len);
	free(index);
	mx_errlist_init(&errs);
	assert_int_equal(mx_config_read(cfg, fx->conf, &errs), 0);
	ctx = route_ctx_new(cfg, &errs);
	assert_non_null(ctx);
	for (int i = 0; i < 4; i++) {
		args[i].ctx = ctx;
		args[i].bad = 0;
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(args[i].bad, 0);
	route_ctx_free(ctx);
	mx_config_free(cfg);
	mx_errlist_free(&errs);
}

/*
 * the notify map's index (lib/cdb_table.c, as the routes index): the
 * text's answers; a broken edit writes nothing (file:line said as the text
 * says it); a stale index and a damaged record give the text's answers
 */
static void test_notify_index(void **state)
{
	static const char map[] = "example.net ops@elsewhere.test\n"
				  "# comment\n"
				  "Example.ORG  Noc@Other.Test # trailing\n";
	struct fixture *fx = *state;
	struct mx_errlist errs;
	struct notify_map *m;
	char path[200], idx[220], contact[MX_CONTACT_MAX], *good, *now, *hit;
	size_t count, len, len2;

	snprintf(path, sizeof(path), "%s/notify", fx->dir);
	mx_cdb_path(path, idx, sizeof(idx));
	put_file(path, map, strlen(map));
	mx_errlist_init(&errs);
	assert_true(notify_map_index_build(path, &errs, &count));
	assert_int_equal(count, 2);
	m = notify_map_load(path, &errs);
	assert_non_null(m);
	assert_int_equal(notify_map_indexed(m), 2);
	assert_true(notify_map_find(m, "example.net", contact, sizeof(contact)));
	assert_string_equal(contact, "ops@elsewhere.test");
	assert_true(notify_map_find(m, "example.org", contact, sizeof(contact)));
	assert_string_equal(contact, "Noc@other.test");
	assert_false(notify_map_find(m, "sub.example.org", contact, sizeof(contact)));
	assert_false(notify_map_find(m, "nothing.test", contact, sizeof(contact)));
	notify_map_free(m);
	good = read_all(idx, &len);

	/* a broken edit: the same errors as the text's, and the index stays */
	put_file(path,
		 "example.net ops@elsewhere.test\nexample.com a@example.com\n"
		 "example.net b@c.test\n",
		 78);
	assert_false(notify_map_index_build(path, &errs, &count));
	assert_int_equal(errs.count, 2);
	assert_non_null(
		strstr(errs.msgs[0], "/notify:2: notify=a@example.com: the contact is inside"));
	assert_non_null(strstr(errs.msgs[1], "/notify:3: example.net: already listed on line 1"));
	now = read_all(idx, &len2);
	assert_int_equal(len2, len);
	assert_memory_equal(now, good, len);
	free(now);
	mx_errlist_free(&errs);

	/* stale: the text is read */
	put_file(path, "example.net new@elsewhere.test\n", 31);
	mx_errlist_init(&errs);
	m = notify_map_load(path, &errs);
	assert_non_null(m);
	assert_int_equal(notify_map_indexed(m), 0);
	assert_true(notify_map_find(m, "example.net", contact, sizeof(contact)));
	assert_string_equal(contact, "new@elsewhere.test");
	notify_map_free(m);

	/* a damaged record (its line names another domain): the text's answer */
	put_file(path, map, strlen(map));
	assert_true(notify_map_index_build(path, &errs, &count));
	free(good);
	good = read_all(idx, &len);
	hit = memmem(good, len, "\texample.net", 12);
	assert_non_null(hit);
	hit[1] = 'E';
	hit[8] = 'x';
	put_file(idx, good, len);
	m = notify_map_load(path, &errs);
	assert_non_null(m);
	assert_int_equal(notify_map_indexed(m), 2);
	assert_true(notify_map_find(m, "example.net", contact, sizeof(contact)));
	assert_string_equal(contact, "ops@elsewhere.test");
	notify_map_free(m);
	assert_int_equal(errs.count, 0);
	mx_errlist_free(&errs);
	free(good);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_same_answers_as_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_index_reads_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_file_keeps_old_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_record_reads_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_index, setup, teardown),
	};
	return cmocka_run_group_tests_name("routes_index", tests, NULL, NULL);
}
