/* test_config_doc - every key of the config table is documented in mxport.conf(5) */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mxconfig.h"

/* slurp - whole file as a string */
static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long len;

	if (fp == NULL)
		fail_msg("cannot open %s", path);
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)len + 1);
	assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
	buf[len] = '\0';
	fclose(fp);
	return buf;
}

static void test_every_key_documented(void **state)
{
	const char *srcdir = getenv("MXPORT_SRCDIR");
	char path[4096];
	size_t n;
	const struct mx_config_key *keys = mx_config_table(&n);
	char *man;
	int missing = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/man/mxport.conf.5.in", srcdir ? srcdir : ".");
	man = slurp(path);
	for (size_t i = 0; i < n; i++) {
		/* Each key has its own entry: a ".TP" paragraph whose tag line is ".B key". */
		char want[128], *entry, *end;
		snprintf(want, sizeof(want), "\n.B %s\n", keys[i].name);
		entry = strstr(man, want);
		if (entry == NULL) {
			fprintf(stderr, "# %s: key %s is not documented\n", path, keys[i].name);
			missing++;
			continue;
		}
		/* ... and that entry states the default the table has. */
		entry += strlen(want);
		end = strstr(entry, "\n.TP");
		if (end == NULL)
			end = entry + strlen(entry);
		snprintf(want, sizeof(want), "Default: %s.",
			 *keys[i].defval ? keys[i].defval : "empty");
		char *hit = strstr(entry, want);
		if (hit == NULL || hit > end) {
			fprintf(stderr, "# %s: key %s: no line '%s'\n", path, keys[i].name, want);
			missing++;
		}
	}
	free(man);
	assert_int_equal(missing, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_key_documented),
	};
	return cmocka_run_group_tests_name("config_doc", tests, NULL, NULL);
}
