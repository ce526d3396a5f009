/* fuzz_socketmap - libFuzzer target for socketmap requests as an MTA (or anyone local) sends them
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "netstring.h"
#include "socketmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* lookup - answers depend on the input, so every branch is reachable */
static enum route_status lookup(const char *domain, char *reason, size_t len)
{
	size_t n = strlen(domain);

	if (len > 0)
		reason[0] = '\0';
	return (enum route_status)(n % 5);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *req;
	size_t have = size, reqlen, used;
	char reply[600], framed[700];
	static const struct socketmap_values values = {"mxport", "mxport:", NULL};

	while (have > 0 && netstring_parse(buf, have, &req, &reqlen, &used) == 1) {
		size_t rlen = socketmap_answer(req, reqlen, lookup, &values, reply, sizeof(reply));
		if (rlen >= sizeof(reply))
			rlen = sizeof(reply) - 1;
		netstring_format(framed, sizeof(framed), reply, rlen);
		buf += used;
		have -= used;
	}
	return 0;
}
