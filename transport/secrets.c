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

#include <openssl/crypto.h>

#include "secrets.h"
#include "util.h"

/* secrets_load - "key user password" lines; 0, or -1 with err naming file and line */
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
		char *key, *user, *pass, *save = NULL;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		key = strtok_r(line, " \t", &save);
		if (key == NULL || *key == '#')
			continue;
		user = strtok_r(NULL, " \t", &save);
		pass = save ? mx_trim(save) : NULL;
		if (user == NULL || pass == NULL || *pass == '\0') {
			snprintf(err, errlen, "secrets_file %s:%d: expected 'key user password'",
				 path, lineno);
			rc = -1;
			break;
		}
		out->items = mx_realloc(out->items, (out->count + 1) * sizeof(*out->items));
		out->items[out->count].key = mx_strdup(key);
		out->items[out->count].user = mx_strdup(user);
		out->items[out->count].pass = mx_strdup(pass);
		out->count++;
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

/* find_key - exact, case-insensitive key */
static const struct secret *find_key(const struct secrets *s, const char *key)
{
	for (size_t i = 0; i < s->count; i++)
		if (strcasecmp(s->items[i].key, key) == 0)
			return &s->items[i];
	return NULL;
}

/* secrets_find - credentials for host:port, else host, else the recipient domain */
const struct secret *secrets_find(const struct secrets *s, const char *host, uint16_t port,
				  const char *domain)
{
	char hp[300];
	const struct secret *found;

	snprintf(hp, sizeof(hp), "%s:%u", host, port);
	if ((found = find_key(s, hp)) || (found = find_key(s, host)))
		return found;
	return find_key(s, domain);
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
