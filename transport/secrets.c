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
 * secrets_load - "key [auth_tls=MODE] user password" lines; 0, or -1 with
 * err naming file and line. The password is the rest of the line.
 */
int secrets_load(const char *path, struct secrets *out, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, rc = 0;

	memset(out, 0, sizeof(*out));
	if (fd < 0) {
		snprintf(err, errlen, "secrets_file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || (st.st_mode & S_IRWXO)) {
		snprintf(err, errlen,
			 "secrets_file %s: others have access (mode %04o); refusing to use it "
			 "(chmod o= %s)",
			 path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return -1;
	}
	fp = fdopen(fd, "r");
	while (fp && getline(&line, &cap, fp) != -1) {
		char *key, *user, *pass, *save = NULL, why[400];
		struct secret item = {.auth_tls = -1};

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		key = strtok_r(line, " \t", &save);
		if (key == NULL || *key == '#')
			continue;
		if (!secrets_parse_key(key, &item, why, sizeof(why))) {
			snprintf(err, errlen, "secrets_file %s:%d: %s", path, lineno, why);
			rc = -1;
			break;
		}
		user = strtok_r(NULL, " \t", &save);
		while (user && strncasecmp(user, "auth_tls=", 9) == 0) {
			if (!parse_option(user, &item, why, sizeof(why))) {
				snprintf(err, errlen, "secrets_file %s:%d: %s", path, lineno, why);
				rc = -1;
				break;
			}
			user = strtok_r(NULL, " \t", &save);
		}
		if (rc < 0)
			break;
		pass = save ? mx_trim(save) : NULL;
		if (user == NULL || pass == NULL || *pass == '\0') {
			snprintf(err, errlen,
				 "secrets_file %s:%d: expected 'key [auth_tls=encrypt|verify] user "
				 "password'",
				 path, lineno);
			rc = -1;
			break;
		}
		for (size_t i = 0; i < out->count; i++) {
			if (same_target(&out->items[i], &item)) {
				snprintf(err, errlen,
					 "secrets_file %s:%d: key %s names the same target as "
					 "line %d (%s)",
					 path, lineno, key, out->items[i].line, out->items[i].key);
				rc = -1;
				break;
			}
		}
		if (rc < 0)
			break;
		item.line = lineno;
		item.key = mx_strdup(key);
		item.user = mx_strdup(user);
		item.pass = mx_strdup(pass);
		out->items = mx_realloc(out->items, (out->count + 1) * sizeof(*out->items));
		out->items[out->count++] = item;
	}
	if (line) {
		OPENSSL_cleanse(line, cap);
		free(line);
	}
	if (fp)
		fclose(fp);
	if (rc < 0)
		secrets_free(out);
	return rc;
}

/* find - the entry for host (an address when literal) on port (0: the one without a port) */
static const struct secret *find(const struct secrets *s, const char *host, bool literal,
				 uint16_t port)
{
	for (size_t i = 0; i < s->count; i++)
		if (s->items[i].literal == literal && s->items[i].port == port &&
		    strcasecmp(s->items[i].host, host) == 0)
			return &s->items[i];
	return NULL;
}

/*
 * secrets_find - credentials for the target host:port, else the target
 * host on any port, else the recipient domain. host is the route target's
 * (normalized name, or the address of a literal).
 */
const struct secret *secrets_find(const struct secrets *s, const char *host, bool literal,
				  uint16_t port, const char *domain)
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

/* secrets_free - release, wiping the passwords */
void secrets_free(struct secrets *s)
{
	for (size_t i = 0; i < s->count; i++) {
		OPENSSL_cleanse(s->items[i].pass, strlen(s->items[i].pass));
		free(s->items[i].key);
		free(s->items[i].user);
		free(s->items[i].pass);
	}
	free(s->items);
	memset(s, 0, sizeof(*s));
}
