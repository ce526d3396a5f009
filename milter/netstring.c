/* netstring - "len:data," framing, as the socketmap protocol uses it */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "netstring.h"

/*
 * netstring_parse - one netstring at the start of buf. Returns 1 with data,
 * datalen and used (bytes taken) set; 0 when more bytes are needed; -1 for
 * input that is not a netstring (no digits, a leading zero, too long, no
 * comma at the end).
 */
int netstring_parse(const char *buf, size_t len, const char **data, size_t *datalen, size_t *used)
{
	size_t n = 0, i = 0;

	while (i < len && buf[i] >= '0' && buf[i] <= '9') {
		if (i > 0 && n == 0)
			return -1; /* leading zero */
		n = n * 10 + (size_t)(buf[i] - '0');
		if (n > NETSTRING_MAX)
			return -1;
		i++;
	}
	if (i == len)
		return i > 6 ? -1 : 0;
	if (i == 0 || buf[i] != ':')
		return -1;
	i++;
	if (len - i < n + 1)
		return 0;
	if (buf[i + n] != ',')
		return -1;
	*data = buf + i;
	*datalen = n;
	*used = i + n + 1;
	return 1;
}

/* netstring_format - data as a netstring; the length needed (out holds it when it fits) */
size_t netstring_format(char *out, size_t outlen, const char *data, size_t datalen)
{
	int head = snprintf(out, outlen, "%zu:", datalen);
	size_t need = (size_t)head + datalen + 1;

	if (need <= outlen) {
		memcpy(out + head, data, datalen);
		out[head + datalen] = ',';
	}
	return need;
}
