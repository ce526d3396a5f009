/*
 * fuzz_routes_index - libFuzzer target for the readers of the indexes
 * (lib/cdb_table.c and its tables: the routes file, the secrets file, the
 * notify map): an index is a file an admin can damage, so no bytes in it
 * may crash a reader. The first byte chooses what the rest is:
 *   even  the whole routes index file, as it is on disk (its table of
 *         contents, tinycdb's offsets, the index's own record);
 *   odd   records, one a line, "KEY VALUE", written by tinycdb with a
 *         valid record of the index's own into each of the three indexes,
 *         so that every lookup reaches each table's record parser (line
 *         number, line text, its key).
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

#include "errlist.h"
#include "notify_map.h"
#include "routes_index.h"
#include "secrets.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* a table: its text, its index, the name in the index's own record */
struct table {
	const char *name, *text;
	mode_t mode;
	char path[64], idx[80];
};

static struct table tables[3] = {
	{"routes", "example.com [192.0.2.1]:2525\n", 0644, "", ""},
	{"secrets", "[192.0.2.1]:2525 user pass\n", 0600, "", ""},
	{"notify", "example.com ops@other.test\n", 0644, "", ""},
};

/* setup - the texts (their identity is all an index checks) and the indexes' names */
static void setup(void)
{
	char dir[] = "/tmp/fuzz-routes-index.XXXXXX";

	if (mkdtemp(dir) == NULL)
		abort();
	for (int i = 0; i < 3; i++) {
		struct table *t = &tables[i];
		FILE *f;

		snprintf(t->path, sizeof(t->path), "%s/%s", dir, t->name);
		snprintf(t->idx, sizeof(t->idx), "%s.cdb", t->path);
		f = fopen(t->path, "w");
		if (f == NULL)
			abort();
		fputs(t->text, f);
		fclose(f);
		chmod(t->path, t->mode);
	}
}

/* write_raw - the bytes as the routes index */
static void write_raw(const uint8_t *data, size_t size)
{
	int fd = open(tables[0].idx, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
}

/* write_records - "KEY VALUE" lines as the records of t's index, with a valid record of its own */
static void write_records(const struct table *t, const char *text, size_t len)
{
	struct cdb_make cm;
	struct stat st;
	char meta[300], key[64];
	size_t n = 0, pos = 0;
	int fd = open(t->idx, O_RDWR | O_CREAT | O_TRUNC, t->mode), klen;

	if (fd < 0 || stat(t->path, &st) != 0 || cdb_make_start(&cm, fd) != 0)
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
	snprintf(meta, sizeof(meta), "mxport-%s-index/1 %ju %ju %jd %jd.%09ld %zu", t->name,
		 (uintmax_t)st.st_dev, (uintmax_t)st.st_ino, (intmax_t)st.st_size,
		 (intmax_t)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec, n);
	key[0] = '\0';
	klen = snprintf(key + 1, sizeof(key) - 1, "mxport-%s-index", t->name) + 1;
	cdb_make_add(&cm, key, (unsigned)klen, meta, (unsigned)strlen(meta));
	cdb_make_finish(&cm);
	fchmod(fd, t->mode);
	close(fd);
}

/* each_key - fn for every key of the records text that can be a name */
static void each_key(const char *text, size_t len, void (*fn)(const char *key, void *arg),
		     void *arg)
{
	char name[MX_DOMAIN_MAX + 8];
	size_t pos = 0;

	while (pos < len) {
		const char *line = text + pos, *end = memchr(line, '\n', len - pos);
		size_t l = end ? (size_t)(end - line) : len - pos;
		const char *sp = memchr(line, ' ', l);
		size_t kl = sp ? (size_t)(sp - line) : l;

		if (kl && kl < MX_DOMAIN_MAX && !memchr(line, '\0', kl)) {
			snprintf(name, sizeof(name), "%.*s", (int)kl, line);
			fn(name, arg);
		}
		pos += l + 1;
	}
}

/* route_key - the routes index asked for key (and a name below it) */
static void route_key(const char *key, void *arg)
{
	struct routes_index *ri = arg;
	char name[MX_DOMAIN_MAX + 8], why[600];
	const char *domain = key[0] == '.' ? key + 1 : key;
	struct route r;

	route_init(&r);
	routes_index_find(ri, domain, &r, why, sizeof(why));
	snprintf(name, sizeof(name), "x.%s", domain);
	routes_index_find(ri, name, &r, why, sizeof(why));
	route_clear(&r);
}

/* secret_key - the secrets index asked for key as a target "[addr]:port" or "name:port" */
static void secret_key(const char *key, void *arg)
{
	char host[MX_DOMAIN_MAX + 8];
	const char *colon = strrchr(key, ':');
	bool literal = key[0] == '[';
	unsigned long port = 0;

	snprintf(host, sizeof(host), "%s", key + literal);
	if (colon && mx_parse_uint(colon + 1, 65535, &port))
		host[colon - key - literal] = '\0';
	if (literal && strchr(host, ']'))
		*strchr(host, ']') = '\0';
	secrets_find(arg, host, literal, (uint16_t)port, host);
}

/* notify_key - the notify map's index asked for key */
static void notify_key(const char *key, void *arg)
{
	char contact[MX_CONTACT_MAX];

	notify_map_find(arg, key, contact, sizeof(contact));
}

/* look - open each index and ask for each key */
static void look(const char *text, size_t len)
{
	enum routes_index_state st;
	struct mx_errlist errs;
	struct secrets s;
	struct notify_map *m;
	char why[600];
	struct routes_index *ri = routes_index_open(tables[0].path, &st, why, sizeof(why));

	if (ri) {
		route_key("example.com", ri);
		each_key(text, len, route_key, ri);
		routes_index_close(ri);
	}
	if (len == 0)
		return;
	if (secrets_load(tables[1].path, &s, why, sizeof(why)) == 0) {
		secret_key("[192.0.2.1]:2525", &s);
		each_key(text, len, secret_key, &s);
		secrets_free(&s);
	}
	mx_errlist_init(&errs);
	if ((m = notify_map_load(tables[2].path, &errs)) != NULL) {
		notify_key("example.com", m);
		each_key(text, len, notify_key, m);
		notify_map_free(m);
	}
	mx_errlist_free(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (tables[0].path[0] == '\0')
		setup();
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0) {
		write_raw(data + 1, size - 1);
		look("", 0);
	} else {
		for (int i = 0; i < 3; i++)
			write_records(&tables[i], (const char *)data + 1, size - 1);
		look((const char *)data + 1, size - 1);
	}
	return 0;
}
