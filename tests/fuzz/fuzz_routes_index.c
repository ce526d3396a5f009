/*
 * fuzz_routes_index - libFuzzer target for the routes index reader: the
 * index is a file an admin can damage, so no bytes in it may crash a
 * reader. The first byte chooses what the rest is:
 *   even  the whole index file, as it is on disk (its table of contents,
 *         tinycdb's offsets, the index's own record);
 *   odd   records, one a line, "KEY VALUE", written by tinycdb with a
 *         valid record of the index's own, so that every lookup reaches
 *         the record parser (line number, line text, its domain).
 */
#include "config.h"

#include <cdb.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "routes_index.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char routes[64], idx[80];

/* setup - a routes file (its identity is all the index checks) and the index's name */
static void setup(void)
{
	char dir[] = "/tmp/fuzz-routes-index.XXXXXX";
	FILE *f;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(routes, sizeof(routes), "%s/routes", dir);
	routes_index_path(routes, idx, sizeof(idx));
	f = fopen(routes, "w");
	if (f == NULL)
		abort();
	fputs("example.com [192.0.2.1]:2525\n", f);
	fclose(f);
}

/* write_raw - the bytes as the index */
static void write_raw(const uint8_t *data, size_t size)
{
	int fd = open(idx, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
}

/* write_records - "KEY VALUE" lines as records, with a valid record of the index's own */
static void write_records(const char *text, size_t len)
{
	struct cdb_make cm;
	struct stat st;
	char meta[300];
	size_t n = 0, pos = 0;
	int fd = open(idx, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || stat(routes, &st) != 0 || cdb_make_start(&cm, fd) != 0)
		abort();
	while (pos < len) {
		const char *line = text + pos, *end = memchr(line, '\n', len - pos);
		size_t l = end ? (size_t)(end - line) : len - pos;
		const char *sp = memchr(line, ' ', l);
		size_t kl = sp ? (size_t)(sp - line) : l;

		cdb_make_add(&cm, line, (unsigned)kl, sp ? sp + 1 : "",
			     sp ? (unsigned)(l - kl - 1) : 0);
		n++;
		pos += l + 1;
	}
	snprintf(meta, sizeof(meta), "mxport-routes-index/1 %ju %ju %jd %jd.%09ld %zu",
		 (uintmax_t)st.st_dev, (uintmax_t)st.st_ino, (intmax_t)st.st_size,
		 (intmax_t)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec, n);
	cdb_make_add(&cm, "\0mxport-routes-index", 20, meta, (unsigned)strlen(meta));
	cdb_make_finish(&cm);
	close(fd);
}

/* look - open the index and ask for each key (and a name below it) */
static void look(const char *text, size_t len)
{
	enum routes_index_state st;
	char why[600], name[MX_DOMAIN_MAX + 8];
	struct routes_index *ri = routes_index_open(routes, &st, why, sizeof(why));
	size_t pos = 0;
	struct route r;

	if (ri == NULL)
		return;
	route_init(&r);
	routes_index_find(ri, "example.com", &r, why, sizeof(why));
	while (pos < len) {
		const char *line = text + pos, *end = memchr(line, '\n', len - pos);
		size_t l = end ? (size_t)(end - line) : len - pos;
		const char *sp = memchr(line, ' ', l);
		size_t kl = sp ? (size_t)(sp - line) : l;

		if (kl && kl < MX_DOMAIN_MAX && !memchr(line, '\0', kl)) {
			snprintf(name, sizeof(name), "%.*s", (int)kl,
				 line[0] == '.' ? line + 1 : line);
			routes_index_find(ri, name, &r, why, sizeof(why));
			snprintf(name, sizeof(name), "x.%.*s", (int)kl,
				 line[0] == '.' ? line + 1 : line);
			routes_index_find(ri, name, &r, why, sizeof(why));
		}
		pos += l + 1;
	}
	route_clear(&r);
	routes_index_close(ri);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (routes[0] == '\0')
		setup();
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0) {
		write_raw(data + 1, size - 1);
		look("", 0);
	} else {
		write_records((const char *)data + 1, size - 1);
		look((const char *)data + 1, size - 1);
	}
	return 0;
}
