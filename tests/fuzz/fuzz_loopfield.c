/*
 * fuzz_loopfield - libFuzzer target for the loop guard's trace field: any
 * message from the Internet, prepared for DATA, then the field added. The
 * stamped copy must still be what DATA needs (ends in ".\r\n", one line
 * more, the same body), must be found to carry the field, and looking for
 * the field in the original must not crash whatever its header holds.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"

#define FIELD "X-Loop-Mxport"
#define VALUE "a.example by relay.test"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct message m, s;
	size_t add = strlen(FIELD ": " VALUE "\r\n");

	message_prepare((const char *)data, size, "X-Mxport", 998, &m);
	(void)message_has_field(&m, FIELD, VALUE);
	(void)message_has_field(&m, FIELD, "");
	message_add_field(&m, FIELD ": " VALUE, &s);
	if (s.datalen != m.datalen + add || s.size != m.size + add)
		abort();
	if (memcmp(s.data + s.datalen - 3, ".\r\n", 3) != 0)
		abort();
	if (!message_has_field(&s, FIELD, VALUE))
		abort(); /* a copy that came back would not be recognised */
	/* s is m with the field's line put in at the start of a line, nothing else */
	bool found = false;
	for (size_t p = 0; !found && p + add <= s.datalen; p++) {
		const char *hit = memmem(s.data + p, s.datalen - p, FIELD ": " VALUE "\r\n", add);

		if (hit == NULL)
			break;
		p = (size_t)(hit - s.data);
		found = (p == 0 || s.data[p - 1] == '\n') && memcmp(s.data, m.data, p) == 0 &&
			memcmp(s.data + p + add, m.data + p, m.datalen - p) == 0;
	}
	if (!found)
		abort();
	free(s.data);
	message_free(&m);
	return 0;
}
