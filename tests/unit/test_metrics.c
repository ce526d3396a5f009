/* test_metrics - the shared metrics table: slots, _other when full, counts across fork(), output */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics.h"

static char dir[64];

/* path_of - a file in the test's directory */
static const char *path_of(const char *name)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

/* text_of - the table in Prometheus's format, in a buffer the caller frees */
static char *text_of(const struct mx_metrics *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	assert_true(mx_metrics_write(m, fp));
	fclose(fp);
	return buf;
}

/* has - the text holds this line */
static bool has(const char *text, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	return strstr(text, want) != NULL;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_metrics.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* a label keeps its slot; a full table gives _other (slot 0); bad labels too */
static void test_slots_and_other(void **state)
{
	char err[256], longer[MX_METRICS_LABEL_MAX + 10];
	struct mx_metrics *m = mx_metrics_open(path_of("slots"), 3, err, sizeof(err));
	unsigned a, b, c;

	(void)state;
	assert_non_null(m);
	a = mx_metrics_route(m, "a.test");
	b = mx_metrics_route(m, ".parent.test");
	c = mx_metrics_route(m, "c.test");
	assert_true(a > 0 && b > 0 && c > 0);
	assert_true(a != b && b != c && a != c);
	assert_int_equal(mx_metrics_route(m, "a.test"), a);
	assert_int_equal(mx_metrics_route(m, ".parent.test"), b);
	assert_int_equal(mx_metrics_routes_used(m), 3);
	/* full: every new label counts under _other, and the table stays as it is */
	for (int i = 0; i < 100; i++) {
		char label[32];

		snprintf(label, sizeof(label), "d%d.test", i);
		assert_int_equal(mx_metrics_route(m, label), 0);
	}
	assert_int_equal(mx_metrics_routes_used(m), 3);
	assert_int_equal(mx_metrics_route(m, "c.test"), c);
	assert_int_equal(mx_metrics_route(m, MX_METRICS_OTHER), 0);
	assert_int_equal(mx_metrics_route(m, ""), 0);
	assert_int_equal(mx_metrics_route(m, NULL), 0);
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(mx_metrics_route(m, longer), 0);
	mx_metrics_close(m);

	/* opened again: the labels kept their slots */
	m = mx_metrics_open(path_of("slots"), 3, err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(mx_metrics_route(m, "a.test"), a);
	assert_int_equal(mx_metrics_routes_used(m), 3);
	mx_metrics_close(m);
}

/* the counters, the histogram and the up/down state as the text shows them */
static void test_counts_and_text(void **state)
{
	char err[256];
	struct mx_metrics *m = mx_metrics_open(path_of("counts"), 10, err, sizeof(err));
	unsigned r, q;
	unsigned sent2[MX_METRICS_RESULTS] = {2, 0, 0}, mixed[MX_METRICS_RESULTS] = {1, 1, 1};
	unsigned deferred[MX_METRICS_RESULTS] = {0, 1, 0};
	char *text;

	(void)state;
	assert_non_null(m);
	r = mx_metrics_route(m, "ok.test");
	q = mx_metrics_route(m, "a\"b\\c");
	mx_metrics_delivery(m, r, MX_METRICS_DELIVERED, sent2, 300, 1, 1000);
	mx_metrics_delivery(m, r, MX_METRICS_DELIVERED, sent2, 4000, 1, 1001);
	mx_metrics_delivery(m, r, MX_METRICS_DELIVERED, sent2, 1000000, 1, 1002);
	mx_metrics_delivery(m, r, MX_METRICS_DEFERRED, mixed, 100, 0, 1003);
	mx_metrics_delivery(m, q, MX_METRICS_DEFERRED, deferred, 100, -1, 1004);
	mx_metrics_delivery(m, 0, MX_METRICS_DELIVERED, sent2, 100, 1, 1005); /* _other */
	mx_metrics_callout(m, r, MX_METRICS_CALLOUT_REFUSED);
	mx_metrics_config(m, MX_METRICS_TRANSPORT, true, 7, 900);
	mx_metrics_config(m, MX_METRICS_TRANSPORT, true, 7, 950); /* same configuration */
	mx_metrics_config(m, MX_METRICS_MILTER, false, 0, 960);
	text = text_of(m);
	assert_true(
		has(text, "mxport_route_messages_total{route=\"ok.test\",result=\"delivered\"} 3"));
	assert_true(
		has(text, "mxport_route_messages_total{route=\"ok.test\",result=\"deferred\"} 1"));
	assert_true(has(text,
			"mxport_route_recipients_total{route=\"ok.test\",result=\"delivered\"} 7"));
	assert_true(
		has(text, "mxport_route_recipients_total{route=\"ok.test\",result=\"bounced\"} 1"));
	/* 0.3s, 4s and 1000s: cumulative buckets, the last beyond 300s */
	assert_true(has(text, "mxport_route_delivery_duration_seconds_bucket{route=\"ok.test\","
			      "le=\"0.5\"} 1"));
	assert_true(has(text, "mxport_route_delivery_duration_seconds_bucket{route=\"ok.test\","
			      "le=\"5\"} 2"));
	assert_true(has(text, "mxport_route_delivery_duration_seconds_bucket{route=\"ok.test\","
			      "le=\"300\"} 2"));
	assert_true(has(text, "mxport_route_delivery_duration_seconds_bucket{route=\"ok.test\","
			      "le=\"+Inf\"} 3"));
	assert_true(has(text, "mxport_route_delivery_duration_seconds_count{route=\"ok.test\"} 3"));
	assert_true(has(text,
			"mxport_route_delivery_duration_seconds_sum{route=\"ok.test\"} 1004.300"));
	/* up at 1000, down at 1003: down since 1003 */
	assert_true(has(text, "mxport_route_up{route=\"ok.test\"} 0"));
	assert_true(has(text, "mxport_route_up_changed_timestamp_seconds{route=\"ok.test\"} 1003"));
	assert_true(
		has(text, "mxport_route_last_success_timestamp_seconds{route=\"ok.test\"} 1002"));
	assert_true(
		has(text, "mxport_route_last_failure_timestamp_seconds{route=\"ok.test\"} 1003"));
	assert_true(
		has(text, "mxport_route_callouts_total{route=\"ok.test\",result=\"refused\"} 1"));
	/* a route not tried (-1) has no up/down state; its label is escaped */
	assert_null(strstr(text, "mxport_route_up{route=\"a\\\"b\\\\c\"}"));
	assert_true(has(
		text, "mxport_route_messages_total{route=\"a\\\"b\\\\c\",result=\"deferred\"} 1"));
	/* _other counts, but says nothing of up or down: it mixes many servers */
	assert_true(
		has(text, "mxport_route_messages_total{route=\"_other\",result=\"delivered\"} 1"));
	assert_null(strstr(text, "mxport_route_up{route=\"_other\"}"));
	assert_null(strstr(text, "timestamp_seconds{route=\"_other\"}"));
	assert_true(has(text, "mxport_config_last_reload_successful{daemon=\"transport\"} 1"));
	assert_true(has(text, "mxport_config_loaded_timestamp_seconds{daemon=\"transport\"} 900"));
	assert_true(has(text, "mxport_config_last_reload_successful{daemon=\"milter\"} 0"));
	assert_true(has(text,
			"mxport_config_last_reload_error_timestamp_seconds{daemon=\"milter\"} "
			"960"));
	assert_true(has(text, "mxport_metrics_routes 2"));
	assert_true(has(text, "mxport_metrics_routes_max 10"));
	free(text);
	mx_metrics_close(m);
}

/* processes that add at once lose nothing, and take each label's slot once */
static void test_fork_adds(void **state)
{
	char err[256];
	struct mx_metrics *m = mx_metrics_open(path_of("fork"), 50, err, sizeof(err));
	unsigned one[MX_METRICS_RESULTS] = {1, 0, 0};
	char *text, line[200];
	pid_t pids[4];

	(void)state;
	assert_non_null(m);
	for (int p = 0; p < 4; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			struct mx_metrics *c =
				mx_metrics_open(path_of("fork"), 50, err, sizeof(err));

			if (c == NULL)
				_exit(1);
			for (int i = 0; i < 2000; i++) {
				char label[32];

				snprintf(label, sizeof(label), "r%d.test", i % 40);
				mx_metrics_delivery(c, mx_metrics_route(c, label),
						    MX_METRICS_DELIVERED, one, 1, 1, 5);
			}
			mx_metrics_close(c);
			_exit(0);
		}
	}
	for (int p = 0; p < 4; p++) {
		int st;

		assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_int_equal(mx_metrics_routes_used(m), 40);
	text = text_of(m);
	for (int i = 0; i < 40; i++) {
		snprintf(line, sizeof(line),
			 "mxport_route_messages_total{route=\"r%d.test\",result=\"delivered\"} 200",
			 i);
		assert_true(has(text, line));
	}
	free(text);
	mx_metrics_close(m);
}

/* another metrics_max_routes: the table is made anew; a link is never followed */
static void test_remade_and_refused(void **state)
{
	char err[256];
	unsigned one[MX_METRICS_RESULTS] = {1, 0, 0};
	struct mx_metrics *m = mx_metrics_open(path_of("remade"), 4, err, sizeof(err));
	struct stat st;
	char *text;
	FILE *fp;

	(void)state;
	assert_non_null(m);
	mx_metrics_delivery(m, mx_metrics_route(m, "x.test"), MX_METRICS_DELIVERED, one, 1, 1, 5);
	mx_metrics_close(m);
	m = mx_metrics_open(path_of("remade"), 6, err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(mx_metrics_routes_used(m), 0);
	/* a smaller table replaces it by rename: the one still mapped here is not cut short */
	{
		struct mx_metrics *small = mx_metrics_open(path_of("remade"), 1, err, sizeof(err));

		assert_non_null(small);
		for (int i = 0; i < 6; i++) {
			char label[32];

			snprintf(label, sizeof(label), "late%d.test", i);
			mx_metrics_delivery(m, mx_metrics_route(m, label), MX_METRICS_DELIVERED,
					    one, 1, 1, 5);
		}
		assert_int_equal(mx_metrics_routes_used(m), 6);
		assert_int_equal(mx_metrics_routes_used(small), 0);
		mx_metrics_close(small);
	}
	mx_metrics_close(m);
	m = mx_metrics_open(path_of("remade"), 6, err, sizeof(err));
	assert_non_null(m);
	mx_metrics_close(m);

	/* garbage where the table should be: made anew too */
	fp = fopen(path_of("garbage"), "w");
	assert_non_null(fp);
	fputs("not a table", fp);
	fclose(fp);
	assert_null(mx_metrics_open_read(path_of("garbage"), err, sizeof(err)));
	m = mx_metrics_open(path_of("garbage"), 2, err, sizeof(err));
	assert_non_null(m);
	mx_metrics_close(m);

	char *target = strdup(path_of("elsewhere"));

	assert_int_equal(symlink(target, path_of("link")), 0);
	free(target);
	assert_null(mx_metrics_open(path_of("link"), 4, err, sizeof(err)));
	assert_int_not_equal(lstat(path_of("elsewhere"), &st), 0);
	assert_null(mx_metrics_open_read(path_of("link"), err, sizeof(err)));
	assert_null(mx_metrics_open(path_of("no/such/dir"), 4, err, sizeof(err)));
	assert_non_null(strstr(err, "no/such/dir"));

	/* NULL everywhere is no metrics, not a crash */
	mx_metrics_delivery(NULL, 0, MX_METRICS_DELIVERED, one, 1, 1, 5);
	mx_metrics_callout(NULL, 0, MX_METRICS_CALLOUT_ACCEPTED);
	mx_metrics_config(NULL, MX_METRICS_MILTER, true, 1, 5);
	assert_int_equal(mx_metrics_route(NULL, "x.test"), 0);
	mx_metrics_close(NULL);

	/* read only, as mxport-route --metrics reads it; the textfile renamed into place */
	m = mx_metrics_open_read(path_of("remade"), err, sizeof(err));
	assert_non_null(m);
	text = text_of(m);
	assert_true(has(text, "mxport_metrics_routes_max 6"));
	free(text);
	assert_true(mx_metrics_write_textfile(m, path_of("out.prom"), err, sizeof(err)));
	assert_int_equal(stat(path_of("out.prom"), &st), 0);
	assert_true(st.st_size > 100);
	assert_false(mx_metrics_write_textfile(m, path_of("no/such/out.prom"), err, sizeof(err)));
	mx_metrics_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots_and_other),
		cmocka_unit_test(test_counts_and_text),
		cmocka_unit_test(test_fork_adds),
		cmocka_unit_test(test_remade_and_refused),
	};

	return cmocka_run_group_tests_name("metrics", tests, setup, teardown);
}
