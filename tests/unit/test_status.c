/*
 * test_status - walk the one status table (lib/status.c): every row is
 * consistent in itself (code, fate, reply and exit status of one class),
 * and mxport-transport(8), section STATUS CODES, lists exactly its rows.
 */
#include "config.h"

#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <cmocka.h>

#include "slurp.h"

#include "status.h"

/* well_formed - class.subject.detail, RFC 3463: 1 digit, 1-3 digits, 1-3 digits */
static int well_formed(const char *dsn)
{
	size_t n = 0;

	if (!(dsn[0] == '2' || dsn[0] == '4' || dsn[0] == '5') || dsn[1] != '.')
		return 0;
	dsn += 2;
	for (int part = 0; part < 2; part++) {
		for (n = 0; isdigit((unsigned char)dsn[n]); n++)
			;
		if (n < 1 || n > 3)
			return 0;
		dsn += n;
		if (part == 0 && *dsn++ != '.')
			return 0;
	}
	return *dsn == '\0';
}

/* class_of - the code class a fate must carry */
static char class_of(enum mx_fate fate)
{
	switch (fate) {
	case MX_FATE_DELIVER: return '2';
	case MX_FATE_BOUNCE: return '5';
	case MX_FATE_DEFER:
	case MX_FATE_NEXT: return '4';
	}
	return '?';
}

static void test_rows_consistent(void **state)
{
	size_t n;
	const struct mx_status_row *t = mx_status_table(&n);

	(void)state;
	assert_int_equal(n, MX_ST_COUNT);
	for (size_t i = 0; i < n; i++) {
		const struct mx_status_row *r = &t[i];

		print_message("# %s %s\n", r->dsn ? r->dsn : "(null)",
			      r->name ? r->name : "(null)");
		assert_int_equal(r->status, i);
		assert_non_null(r->name);
		assert_true(r->name[0] != '\0');
		assert_non_null(r->dsn);
		assert_true(well_formed(r->dsn));
		assert_int_equal(r->dsn[0], class_of(r->fate));
		assert_int_equal(r->reply / 100, r->dsn[0] - '0');
		if (r->fate == MX_FATE_DELIVER)
			assert_int_equal(r->exit_status, EX_OK);
		else if (r->fate == MX_FATE_BOUNCE)
			assert_int_equal(r->exit_status, mx_bounce_exit_status(r->dsn));
		else
			assert_int_equal(r->exit_status, EX_TEMPFAIL); /* never a bounce */
		/* Route lookup outcomes speak to the socketmap and mxport-route; the rest do not.
		 */
		if (i <= MX_ST_CONFIG) {
			assert_non_null(r->socketmap);
			assert_int_not_equal(r->route_exit, -1);
			assert_string_equal(r->socketmap, r->fate == MX_FATE_DELIVER  ? "OK"
							  : r->fate == MX_FATE_BOUNCE ? "NOTFOUND"
										      : "TEMP");
		} else {
			assert_null(r->socketmap);
			assert_int_equal(r->route_exit, -1);
		}
	}
	/* an unknown status reads as a configuration error: the mail waits */
	assert_int_equal(mx_status((enum mx_status)MX_ST_COUNT)->fate, MX_FATE_DEFER);
	assert_string_equal(mx_status_dsn(MX_ST_TIME_LIMIT), MX_DSN_TIME_LIMIT);
}

static void test_bounce_exit_status(void **state)
{
	(void)state;
	assert_int_equal(mx_bounce_exit_status("5.1.1"), EX_NOUSER);
	assert_int_equal(mx_bounce_exit_status("5.1.10"), EX_UNAVAILABLE); /* null MX, not a user */
	assert_int_equal(mx_bounce_exit_status("5.1.2"), EX_NOHOST);
	assert_int_equal(mx_bounce_exit_status("5.7.1"), EX_NOPERM);
	assert_int_equal(mx_bounce_exit_status("5.6.7"), EX_DATAERR);
	assert_int_equal(mx_bounce_exit_status("5.4.6"), EX_UNAVAILABLE);
	assert_int_equal(mx_bounce_exit_status(""), EX_UNAVAILABLE);
}

static void test_man_page_lists_the_table(void **state)
{
	const char *srcdir = getenv("MXPORT_SRCDIR");
	char path[4096];
	size_t n, lines = 0;
	const struct mx_status_row *t = mx_status_table(&n);
	char *man, *sec, *tbl, *end;
	int missing = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/man/mxport-transport.8.in", srcdir ? srcdir : ".");
	man = slurp(path);
	sec = strstr(man, "\n.SH STATUS CODES\n");
	assert_non_null(sec);
	tbl = strstr(sec, "\ncode\tfate\treply\tmeaning\n");
	assert_non_null(tbl);
	tbl = strchr(tbl + 1, '\n') + 1;
	end = strstr(tbl, "\n.TE\n");
	assert_non_null(end);
	end[1] = '\0';
	for (size_t i = 0; i < n; i++) {
		char want[256];

		snprintf(want, sizeof(want), "%s\t%s\t%d\t%s\n", t[i].dsn, mx_fate_name(t[i].fate),
			 t[i].reply, t[i].name);
		if (strstr(tbl, want) == NULL) {
			fprintf(stderr, "# %s: STATUS CODES has no line '%.*s'\n", path,
				(int)strlen(want) - 1, want);
			missing++;
		}
	}
	for (const char *p = tbl; *p; p = strchr(p, '\n') + 1)
		lines++;
	if (lines != n) {
		fprintf(stderr, "# %s: STATUS CODES lists %zu rows, the table has %zu\n", path,
			lines, n);
		missing++;
	}
	free(man);
	assert_int_equal(missing, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_consistent),
		cmocka_unit_test(test_bounce_exit_status),
		cmocka_unit_test(test_man_page_lists_the_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
