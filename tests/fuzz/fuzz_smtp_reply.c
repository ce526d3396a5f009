/* fuzz_smtp_reply - libFuzzer target for the SMTP reply parser: bytes as a peer would send them */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply r;
	char err[256], out[SMTP_REPLY_TEXT];
	const char *p = (const char *)data, *end = p + size, *args;

	smtp_reply_init(&r);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int rc;

		if (len > 0 && p[len - 1] == '\r')
			len--;
		rc = smtp_reply_add_line(&r, p, len, err, sizeof(err));
		if (rc != 0) {
			smtp_reply_oneline(&r, out, sizeof(out));
			smtp_reply_has_keyword(&r, "SIZE", &args);
			smtp_reply_has_keyword(&r, "PIPELINING", NULL);
			smtp_reply_init(&r);
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}
