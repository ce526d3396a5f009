/* test_config_doc - every key of the config table is documented in mxport.conf(5) */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "slurp.h"

#include "mxconfig.h"

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
