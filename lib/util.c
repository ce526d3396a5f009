/* util - memory and string helpers that abort on allocation failure */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

/*
 * Out of memory is not a condition mxport can act on: the MTA will see the
 * abnormal exit and, for the transport, retry (pipe(8) defers on signals is
 * not guaranteed, so the transport installs its own handling; see main.c).
 */
static void mx_oom(void)
{
	fputs("mxport: out of memory\n", stderr);
	abort();
}

/* mx_malloc - malloc or die */
void *mx_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		mx_oom();
	return p;
}

/* mx_calloc - calloc or die */
void *mx_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		mx_oom();
	return p;
}

/* mx_realloc - realloc or die */
void *mx_realloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (p == NULL)
		mx_oom();
	return p;
}

/* mx_strdup - strdup or die */
char *mx_strdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		mx_oom();
	return p;
}

/* mx_strndup - strndup or die */
char *mx_strndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		mx_oom();
	return p;
}

/* mx_vasprintf - format into a new string */
char *mx_vasprintf(const char *fmt, va_list ap)
{
	char *p;

	if (vasprintf(&p, fmt, ap) < 0)
		mx_oom();
	return p;
}

/* mx_asprintf - format into a new string */
char *mx_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = mx_vasprintf(fmt, ap);
	va_end(ap);
	return p;
}

/* mx_trim - strip leading and trailing white space in place */
char *mx_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* mx_lowercase - ASCII lowercase in place (DNS names compare this way) */
void mx_lowercase(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* mx_strlcpy - bounded copy that always terminates; returns strlen(src) */
size_t mx_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

/* mx_printable - replace control and non-ASCII bytes so that remote text is safe to log and echo */
void mx_printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

/* mx_parse_uint - parse a whole decimal number no larger than max */
bool mx_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

/* mx_buf_reserve - room for n more bytes and a NUL */
static void mx_buf_reserve(struct mx_buf *b, size_t n)
{
	if (b->cap - b->len > n)
		return;
	if (n > SIZE_MAX / 2 - b->len)
		mx_oom();
	size_t want = b->len + n + 1;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	b->data = mx_realloc(b->data, cap);
	b->cap = cap;
}

/* mx_buf_append - add bytes */
void mx_buf_append(struct mx_buf *b, const void *p, size_t n)
{
	mx_buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* mx_buf_vprintf - add formatted text, however long it is */
void mx_buf_vprintf(struct mx_buf *b, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	if (n < 0)
		mx_oom(); /* only an invalid format or EOVERFLOW: nothing to send */
	mx_buf_reserve(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

/* mx_buf_printf - add formatted text */
void mx_buf_printf(struct mx_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mx_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/* mx_buf_free - release, and leave an empty buffer */
void mx_buf_free(struct mx_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/*
 * mx_read_file - a whole regular file of at most max bytes, NUL-terminated
 * (the routes file, the notify map): false with err naming the file and
 * what is wrong. what names the file's role in the message.
 */
bool mx_read_file(const char *path, size_t max, const char *what, char **text, size_t *len,
		  char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	struct stat st;

	*text = NULL;
	if (fp == NULL) {
		snprintf(err, errlen, "%s: cannot open %s: %s", path, what, strerror(errno));
		return false;
	}
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		snprintf(err, errlen, "%s: %s: not a regular file of at most %zu bytes", path, what,
			 max);
		fclose(fp);
		return false;
	}
	*text = mx_malloc((size_t)st.st_size + 1);
	*len = fread(*text, 1, (size_t)st.st_size, fp);
	(*text)[*len] = '\0';
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
		fclose(fp);
		free(*text);
		*text = NULL;
		return false;
	}
	fclose(fp);
	return true;
}
