/* secrets - SMTP AUTH credentials per route, from a file only its owner may read */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/crypto.h>

#include "hostport.h"
#include "msg.h"
#include "mxconfig.h"

#include "secrets.h"
#include "util.h"

/* canonical_addr - an IPv4 or IPv6 address in inet_ntop's form; false if it is none */
static bool canonical_addr(const char *text, char *out, size_t outlen)
{
	unsigned char bytes[16];

	if (inet_pton(AF_INET, text, bytes) == 1)
		return inet_ntop(AF_INET, bytes, out, (socklen_t)outlen) != NULL;
	if (inet_pton(AF_INET6, text, bytes) == 1)
		return inet_ntop(AF_INET6, bytes, out, (socklen_t)outlen) != NULL;
	return false;
}

/*
 * secrets_parse_key - a key in the routes file's host syntax: host,
 * host:port, [address], [address]:port, optionally after smtp:// or
 * smtps:// (smtps:// without a port is port 465, as in the routes file). A
 * bare IPv4 address is an address too. False with err for anything else, so
 * that a key that could never match is refused instead of ignored.
 */
bool secrets_parse_key(const char *key, struct secret *out, char *err, size_t errlen)
{
	const char *text = key, *port = NULL;
	char host[MX_DOMAIN_MAX + 2];
	bool smtps = false;
	size_t len;

	out->literal = false;
	out->port = 0;
	if (strncasecmp(text, "smtps://", 8) == 0) {
		smtps = true;
		text += 8;
	} else if (strncasecmp(text, "smtp://", 7) == 0) {
		text += 7;
	} else if (strstr(text, "://")) {
		snprintf(err, errlen, "key '%s': unknown scheme (smtp:// or smtps://)", key);
		return false;
	}
	if (text[0] == '[') {
		struct mx_server srv;
		const char *close = strchr(text, ']');

		if (!mx_server_parse(text, &srv, err, errlen))
			return false;
		out->literal = true;
		if (!canonical_addr(srv.addr, out->host, sizeof(out->host))) {
			snprintf(err, errlen, "key '%s': '%s' is not an address", key, srv.addr);
			return false;
		}
		if (close && close[1] == ':')
			out->port = srv.port;
	} else {
		const char *colon = strchr(text, ':');

		if (colon && strchr(colon + 1, ':')) {
			snprintf(err, errlen,
				 "key '%s': write an IPv6 address as [address] or [address]:port",
				 key);
			return false;
		}
		len = colon ? (size_t)(colon - text) : strlen(text);
		if (len == 0 || len >= sizeof(host)) {
			snprintf(err, errlen,
				 "key '%.80s': expected host, host:port or [address]:port", key);
			return false;
		}
		memcpy(host, text, len);
		host[len] = '\0';
		if (colon)
			port = colon + 1;
		if (canonical_addr(host, out->host, sizeof(out->host))) {
			out->literal = true;
		} else {
			char why[256];

			if (!mx_domain_normalize(host, out->host, sizeof(out->host), why,
						 sizeof(why))) {
				snprintf(err, errlen, "key '%.80s': %s", key, why);
				return false;
			}
		}
	}
	if (port) {
		unsigned long v;

		if (!mx_parse_uint(port, 65535, &v) || v == 0) {
			snprintf(err, errlen, "key '%.80s': '%s' is not a port number (1 to 65535)",
				 key, port);
			return false;
		}
		out->port = (uint16_t)v;
	} else if (smtps && out->port == 0) {
		out->port = 465;
	}
	return true;
}

/* parse_option - "auth_tls=encrypt" or "auth_tls=verify" */
static bool parse_option(const char *word, struct secret *out, char *err, size_t errlen)
{
	const char *v = word + strlen("auth_tls=");

	if (strcasecmp(v, "encrypt") == 0)
		out->auth_tls = MX_TLS_ENCRYPT;
	else if (strcasecmp(v, "verify") == 0)
		out->auth_tls = MX_TLS_VERIFY;
	else {
		snprintf(err, errlen, "'%s': auth_tls must be encrypt or verify", word);
		return false;
	}
	return true;
}

/* same_target - two keys that name the same thing */
static bool same_target(const struct secret *a, const struct secret *b)
{
	return a->literal == b->literal && a->port == b->port && strcmp(a->host, b->host) == 0;
}

/*
 * parse_line - "key [auth_tls=MODE] user password" (the password is the
 * rest of the line): 1 with item filled (its strings allocated), 0 for a
 * blank line or a comment, -1 with why. line is cut up.
 */
static int parse_line(char *line, struct secret *item, char *why, size_t whylen)
{
	char *key, *user, *pass, *save = NULL;

	memset(item, 0, sizeof(*item));
	item->auth_tls = -1;
	line[strcspn(line, "\r\n")] = '\0';
	key = strtok_r(line, " \t", &save);
	if (key == NULL || *key == '#')
		return 0;
	if (!secrets_parse_key(key, item, why, whylen))
		return -1;
	user = strtok_r(NULL, " \t", &save);
	while (user && strncasecmp(user, "auth_tls=", 9) == 0) {
		if (!parse_option(user, item, why, whylen))
			return -1;
		user = strtok_r(NULL, " \t", &save);
	}
	pass = save ? mx_trim(save) : NULL;
	if (user == NULL || pass == NULL || *pass == '\0') {
		snprintf(why, whylen, "expected 'key [auth_tls=encrypt|verify] user password'");
		return -1;
	}
	item->key = mx_strdup(key);
	item->user = mx_strdup(user);
	item->pass = mx_strdup(pass);
	return 1;
}

/* item_free - one entry's strings, the password wiped */
static void item_free(struct secret *item)
{
	if (item->pass)
		OPENSSL_cleanse(item->pass, strlen(item->pass));
	free(item->key);
	free(item->user);
	free(item->pass);
	item->key = item->user = item->pass = NULL;
}

/*
 * target_key - the index's key of a target: "[address]:port" or
 * "name:port", port 0 for a key without one (names in lower case)
 */
static size_t target_key(const char *host, bool literal, uint16_t port, char *out, size_t outlen)
{
	size_t n;

	snprintf(out, outlen, "%s%s%s:%u", literal ? "[" : "", host, literal ? "]" : "",
		 (unsigned)port);
	n = strlen(out);
	for (size_t i = 0; i < n; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
	return n;
}

/* private_file - the secrets file exists and others have no access to it; else -1 with err */
static int private_file(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || (st.st_mode & S_IRWXO)) {
		snprintf(err, errlen,
			 "secrets_file %s: others have access (mode %04o); refusing to use it "
			 "(chmod o= %s)",
			 path, (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	return 0;
}

/* target_cmp - sort order of entries: by target, then by line */
static int target_cmp(const void *a, const void *b)
{
	const struct secret *x = *(const struct secret *const *)a;
	const struct secret *y = *(const struct secret *const *)b;
	int c = x->literal - y->literal;

	if (c == 0)
		c = x->port - y->port;
	if (c == 0)
		c = strcmp(x->host, y->host);
	return c ? c : x->line - y->line;
}

/*
 * check_twice - no two entries name the same target: -1 with err for the
 * first line that repeats one. Sorted, not compared pairwise: a million
 * entries cost a second, not hours.
 */
static int check_twice(const char *path, const struct secrets *s, char *err, size_t errlen)
{
	const struct secret **v, *first = NULL, *again = NULL;

	if (s->count < 2)
		return 0;
	v = mx_calloc(s->count, sizeof(*v));
	for (size_t i = 0; i < s->count; i++)
		v[i] = &s->items[i];
	qsort(v, s->count, sizeof(*v), target_cmp);
	for (size_t i = 1; i < s->count; i++)
		if (same_target(v[i - 1], v[i]) && (again == NULL || v[i]->line < again->line)) {
			size_t j = i - 1;

			while (j > 0 && same_target(v[j - 1], v[i]))
				j--;
			first = v[j];
			again = v[i];
		}
	free(v);
	if (again == NULL)
		return 0;
	snprintf(err, errlen, "secrets_file %s:%d: key %s names the same target as line %d (%s)",
		 path, again->line, again->key, first->line, first->key);
	return -1;
}

/* load_text - the whole text into s->items; 0, or -1 with err naming file and line */
static int load_text(const char *path, struct secrets *out, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, rc = 0;

	if (fd < 0) {
		snprintf(err, errlen, "secrets_file %s: %s", path, strerror(errno));
		return -1;
	}
	if (private_file(fd, path, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	fp = fdopen(fd, "r");
	while (fp && getline(&line, &cap, fp) != -1) {
		struct secret item;
		char why[400];
		int got;

		lineno++;
		got = parse_line(line, &item, why, sizeof(why));
		if (got < 0) {
			snprintf(err, errlen, "secrets_file %s:%d: %s", path, lineno, why);
			rc = -1;
			break;
		}
		if (got == 0)
			continue;
		item.line = lineno;
		out->items = mx_realloc(out->items, (out->count + 1) * sizeof(*out->items));
		out->items[out->count++] = item;
	}
	if (line) {
		OPENSSL_cleanse(line, cap);
		free(line);
	}
	if (fp)
		fclose(fp);
	else
		close(fd);
	if (rc == 0)
		rc = check_twice(path, out, err, errlen);
	return rc;
}

static const struct mx_cdb_kind kind = {
	.name = "secrets", .what = "secrets file", .prefix = "secrets_file ", .private = true};

/*
 * secrets_load - the secrets file: through its index (mxport-route --index)
 * when one was made from the file as it is now, else the whole text; 0, or
 * -1 with err naming file and line. Others may read neither.
 */
int secrets_load(const char *path, struct secrets *out, char *err, size_t errlen)
{
	enum mx_cdb_state st;
	char why[4400];
	int fd;

	memset(out, 0, sizeof(*out));
	/* chmod changes no modification time: the text's mode is checked whatever the index. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "secrets_file %s: %s", path, strerror(errno));
		return -1;
	}
	if (private_file(fd, path, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	out->path = mx_strdup(path);
	out->index = mx_cdb_open(&kind, path, &st, why, sizeof(why));
	if (out->index)
		return 0;
	if (st != MX_CDB_NONE)
		msg_warn("secrets index %s; reading %s itself", why, path);
	if (load_text(path, out, err, errlen) < 0) {
		secrets_free(out);
		return -1;
	}
	return 0;
}

/* build_line - check one line as load_text does and add its record; errors go to b */
static void build_line(struct mx_cdb_build *b, char *line, size_t len, int lineno, void *arg)
{
	struct secret item;
	char *text, why[400], key[MX_DOMAIN_MAX + 16];
	size_t klen;
	int got, first;

	(void)arg;
	(void)len;
	text = mx_strdup(line);
	got = parse_line(line, &item, why, sizeof(why));
	if (got < 0)
		mx_cdb_build_error(b, lineno, "%s", why);
	if (got > 0) {
		klen = target_key(item.host, item.literal, item.port, key, sizeof(key));
		text[strcspn(text, "\r")] = '\0';
		first = mx_cdb_build_add(b, key, klen, lineno, text);
		if (first)
			mx_cdb_build_error(b, lineno, "key %s names the same target as line %d",
					   item.key, first);
		item_free(&item);
	}
	OPENSSL_cleanse(text, strlen(text));
	free(text);
}

/*
 * secrets_index_build - check the whole secrets file and write its index
 * (FILE.cdb, with the file's mode and owner) in one rename; false with the
 * errors added (as secrets_load says them), and nothing written, when a
 * line is bad. count: the credentials indexed.
 */
bool secrets_index_build(const char *path, struct mx_errlist *errs, size_t *count)
{
	return mx_cdb_build(&kind, path, build_line, NULL, errs, count);
}

/* secrets_index_state - whether path is read through its index (why: when not) */
enum mx_cdb_state secrets_index_state(const char *path, size_t *count, char *why, size_t whylen)
{
	enum mx_cdb_state st;
	struct mx_cdb_table *t = mx_cdb_open(&kind, path, &st, why, whylen);

	*count = t ? mx_cdb_count(t) : 0;
	mx_cdb_close(t);
	return st;
}

/* find - the entry for host (an address when literal) on port (0: the one without a port) */
static const struct secret *find(struct secrets *s, const char *host, bool literal, uint16_t port)
{
	char key[MX_DOMAIN_MAX + 16], *text, why[600], err[600];
	struct secret item;
	size_t klen;
	int line, rc;

	if (s->index == NULL) {
		for (size_t i = 0; i < s->count; i++)
			if (s->items[i].literal == literal && s->items[i].port == port &&
			    strcasecmp(s->items[i].host, host) == 0)
				return &s->items[i];
		return NULL;
	}
	klen = target_key(host, literal, port, key, sizeof(key));
	rc = mx_cdb_find(s->index, key, klen, &line, &text, why, sizeof(why));
	if (rc == 0)
		return NULL;
	if (rc > 0) {
		char check[MX_DOMAIN_MAX + 16];

		rc = parse_line(text, &item, err, sizeof(err));
		OPENSSL_cleanse(text, strlen(text));
		free(text);
		if (rc > 0 &&
		    target_key(item.host, item.literal, item.port, check, sizeof(check)) == klen &&
		    memcmp(check, key, klen) == 0) {
			item_free(&s->found);
			item.line = line;
			s->found = item;
			return &s->found;
		}
		if (rc > 0)
			item_free(&item);
		snprintf(why, sizeof(why), "record of %s is damaged", key);
	}
	/*
	 * A damaged record: the text, the source of truth, read once and kept;
	 * a text that does not load leaves the entries broken (the delivery
	 * defers: without the credentials a server may refuse the mail for good).
	 */
	msg_warn("secrets index %s%s: %s; reading %s itself", s->path, MX_CDB_SUFFIX, why, s->path);
	mx_cdb_close(s->index);
	s->index = NULL;
	if (load_text(s->path, s, err, sizeof(err)) < 0) {
		/* none of a file that does not load: not the lines before its error */
		for (size_t i = 0; i < s->count; i++)
			item_free(&s->items[i]);
		free(s->items);
		s->items = NULL;
		s->count = 0;
		s->broken = true;
		msg_error("%s", err);
		return NULL;
	}
	return find(s, host, literal, port);
}

/*
 * secrets_find - credentials for the target host:port, else the target
 * host on any port, else the recipient domain. host is the route target's
 * (normalized name, or the address of a literal). Read through the index,
 * the entry stays valid until the next secrets_find.
 */
const struct secret *secrets_find(struct secrets *s, const char *host, bool literal, uint16_t port,
				  const char *domain)
{
	char addr[INET6_ADDRSTRLEN];
	const struct secret *found;

	if (canonical_addr(host, addr, sizeof(addr))) {
		literal = true; /* "[192.0.2.1]" and a host written 192.0.2.1 are one target */
		host = addr;
	} else if (literal) {
		return NULL;
	}
	if ((found = find(s, host, literal, port)) || (found = find(s, host, literal, 0)))
		return found;
	return find(s, domain, false, 0);
}

/* secrets_count - the credentials loaded, or indexed */
size_t secrets_count(const struct secrets *s)
{
	return s->index ? mx_cdb_count(s->index) : s->count;
}

/* secrets_free - release, wiping the passwords */
void secrets_free(struct secrets *s)
{
	for (size_t i = 0; i < s->count; i++)
		item_free(&s->items[i]);
	item_free(&s->found);
	mx_cdb_close(s->index);
	free(s->items);
	free(s->path);
	memset(s, 0, sizeof(*s));
}
