/* route_order - try order of targets: preference, then RFC 2782 weighted random */
#include "config.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "util.h"

/* route_rand_default - uniform in [0, upper] from OpenSSL's generator */
uint32_t route_rand_default(void *arg, uint32_t upper)
{
	uint64_t v = 0;

	(void)arg;
	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		v = (uint64_t)random() << 31 ^ (uint64_t)random();
	return (uint32_t)(v % ((uint64_t)upper + 1));
}

/* by_pref - qsort: lower preference first */
static int by_pref(const void *a, const void *b)
{
	const struct route_target *x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return 0;
}

/*
 * weighted_shuffle - RFC 2782 selection within one preference: pick a random
 * number from 0 to the sum of the remaining weights, take the first target
 * whose running sum reaches it, repeat with the rest.
 */
static void weighted_shuffle(struct route_target *t, size_t n, route_rand_fn rnd, void *arg)
{
	/*
	 * RFC 2782 starts from the records "in any order" with the zero weights
	 * first: shuffle, then move zero weights to the front keeping that order,
	 * so that all-zero groups come out uniformly random too.
	 */
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rnd(arg, (uint32_t)i);
		struct route_target tmp = t[i];
		t[i] = t[j];
		t[j] = tmp;
	}
	for (size_t i = 0, zeros = 0; i < n; i++) {
		if (t[i].weight == 0) {
			struct route_target tmp = t[i];
			memmove(&t[zeros + 1], &t[zeros], (i - zeros) * sizeof(*t));
			t[zeros++] = tmp;
		}
	}
	for (size_t done = 0; done + 1 < n; done++) {
		uint64_t total = 0, running = 0;
		size_t pick = done;
		uint32_t r;

		for (size_t i = done; i < n; i++)
			total += t[i].weight;
		r = rnd(arg, (uint32_t)(total > UINT32_MAX ? UINT32_MAX : total));
		for (size_t i = done; i < n; i++) {
			running += t[i].weight;
			if (running >= r) {
				pick = i;
				break;
			}
		}
		if (pick != done) {
			struct route_target tmp = t[pick];
			memmove(&t[done + 1], &t[done], (pick - done) * sizeof(*t));
			t[done] = tmp;
		}
	}
}

/* route_order_targets - put targets in the order they are to be tried */
void route_order_targets(struct route_target *targets, size_t count, route_rand_fn rnd, void *arg)
{
	size_t start = 0;

	if (count < 2)
		return;
	/* qsort is not stable; the shuffle below makes order within a group random anyway. */
	qsort(targets, count, sizeof(*targets), by_pref);
	while (start < count) {
		size_t end = start + 1;
		while (end < count && targets[end].pref == targets[start].pref)
			end++;
		weighted_shuffle(targets + start, end - start, rnd ? rnd : route_rand_default, arg);
		start = end;
	}
}
