/* util - memory and string helpers that abort on allocation failure */
#ifndef MX_UTIL_H
#define MX_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

void *mx_malloc(size_t size);
void *mx_calloc(size_t n, size_t size);
void *mx_realloc(void *ptr, size_t size);
char *mx_strdup(const char *s);
char *mx_strndup(const char *s, size_t n);
char *mx_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *mx_vasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
char *mx_trim(char *s);
void mx_lowercase(char *s);
size_t mx_strlcpy(char *dst, const char *src, size_t size);
void mx_printable(char *s);
bool mx_parse_uint(const char *s, unsigned long max, unsigned long *out);
bool mx_read_file(const char *path, size_t max, const char *what, char **text, size_t *len,
		  char *err, size_t errlen);

/* mx_buf - a byte buffer that grows: what a command or a line needs, never a fixed size */
struct mx_buf {
	char *data; /* NUL-terminated after every append */
	size_t len, cap;
};

void mx_buf_append(struct mx_buf *b, const void *p, size_t n);
void mx_buf_printf(struct mx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mx_buf_vprintf(struct mx_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
void mx_buf_free(struct mx_buf *b);

#endif
