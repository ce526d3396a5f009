/* routes_file - the static routes file: "domain [pref] host:port, ..." */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mxconfig.h"
#include "routes_file.h"
#include "util.h"

#define ROUTES_FILE_MAX (64 * 1024 * 1024)

/* parse_endpoint - "host:port", "[addr]:port", "smtps://host[:port]" */
static bool parse_endpoint(char *text, struct route_target *t, char *err, size_t errlen)
{
	char *host = text, *port = NULL;
	unsigned long portnum;

	if (strncasecmp(host, "smtps://", 8) == 0) {
		t->implicit_tls = true;
		host += 8;
	} else if (strncasecmp(host, "smtp://", 7) == 0) {
		host += 7;
	} else if (strstr(host, "://")) {
		snprintf(err, errlen, "'%s': unknown scheme (smtp:// or smtps://)", text);
		return false;
	}
	if (*host == '[') {
		char *close = strchr(host, ']');
		unsigned char bytes[16];

		if (close == NULL) {
			snprintf(err, errlen, "'%s': '[' without ']'", text);
			return false;
		}
		*close = '\0';
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0') {
			snprintf(err, errlen, "'%s': expected ':port' after ']'", text);
			return false;
		}
		host++;
		if (inet_pton(AF_INET, host, bytes) != 1 && inet_pton(AF_INET6, host, bytes) != 1) {
			snprintf(err, errlen, "'[%s]' is not an IPv4 or IPv6 address", host);
			return false;
		}
		t->literal = true;
		mx_strlcpy(t->host, host, sizeof(t->host));
	} else {
		char *colon = strrchr(host, ':');
		if (colon) {
			*colon = '\0';
			port = colon + 1;
		}
		if (strchr(host, ':')) {
			snprintf(err, errlen, "'%s': write an IPv6 address as [address]:port",
				 text);
			return false;
		}
		if (!mx_domain_normalize(host, t->host, sizeof(t->host), err, errlen))
			return false;
	}
	if (port == NULL) {
		if (!t->implicit_tls) {
			snprintf(err, errlen, "'%s': no port (write host:port, e.g. %s:2525)", text,
				 t->host);
			return false;
		}
		t->port = 465;
	} else if (!mx_parse_uint(port, 65535, &portnum) || portnum == 0) {
		snprintf(err, errlen, "'%s': '%s' is not a port number (1 to 65535)", text, port);
		return false;
	} else {
		t->port = (uint16_t)portnum;
	}
	return true;
}

/* parse_verify - "verify=yes" or "verify=no", once on a domain's line */
static bool parse_verify(const char *word, struct routes_entry *e, char *err, size_t errlen)
{
	const char *v = word + 7;

	if (e->verify != ROUTE_VERIFY_DEFAULT) {
		snprintf(err, errlen, "'%s': a second verify= (one for the domain's line)", word);
		return false;
	}
	if (strcasecmp(v, "yes") == 0)
		e->verify = ROUTE_VERIFY_YES;
	else if (strcasecmp(v, "no") == 0)
		e->verify = ROUTE_VERIFY_NO;
	else {
		snprintf(err, errlen, "'%s': verify= must be yes or no", word);
		return false;
	}
	return true;
}

/*
 * parse_target - "[pref] endpoint [tls=mode] [weight=N] [notify=address]
 * [verify=yes|no]". notify= and verify= belong to the domain's line (e):
 * each written once, after any target.
 */
static bool parse_target(char *text, struct route_target *t, struct routes_entry *e, char *err,
			 size_t errlen)
{
	char *words[8], *save = NULL, *w;
	size_t nw = 0, i = 0;
	unsigned long num;

	memset(t, 0, sizeof(*t));
	t->tls_mode = ROUTE_TLS_DEFAULT;
	for (w = strtok_r(text, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (nw == sizeof(words) / sizeof(words[0])) {
			snprintf(err, errlen, "too many words in one target (a ',' missing?)");
			return false;
		}
		words[nw++] = w;
	}
	if (nw == 0) {
		snprintf(err, errlen, "empty target (two ',' in a row?)");
		return false;
	}
	if (isdigit((unsigned char)words[0][0]) && strpbrk(words[0], ":.[") == NULL) {
		if (!mx_parse_uint(words[0], 65535, &num)) {
			snprintf(err, errlen, "'%s' is not a preference (0 to 65535)", words[0]);
			return false;
		}
		t->pref = (unsigned)num;
		i = 1;
	}
	if (i >= nw) {
		snprintf(err, errlen, "preference %s without host:port", words[0]);
		return false;
	}
	if (!parse_endpoint(words[i++], t, err, errlen))
		return false;
	for (; i < nw; i++) {
		if (strncasecmp(words[i], "tls=", 4) == 0) {
			if (!mx_tls_mode_parse(words[i] + 4, &t->tls_mode)) {
				snprintf(
					err, errlen,
					"'%s': TLS mode must be none, may, encrypt, verify or dane",
					words[i]);
				return false;
			}
			if (t->implicit_tls && t->tls_mode == MX_TLS_NONE) {
				snprintf(err, errlen, "smtps:// target with tls=none");
				return false;
			}
		} else if (strncasecmp(words[i], "weight=", 7) == 0) {
			if (!mx_parse_uint(words[i] + 7, 65535, &num)) {
				snprintf(err, errlen, "'%s': weight must be 0 to 65535", words[i]);
				return false;
			}
			t->weight = (unsigned)num;
		} else if (strncasecmp(words[i], "notify=", 7) == 0) {
			if (e->notify[0]) {
				snprintf(err, errlen,
					 "'%s': a second notify= (one contact for the domain's "
					 "line)",
					 words[i]);
				return false;
			}
			if (!notify_contact_check(words[i] + 7, e->domain, e->subdomains, e->notify,
						  sizeof(e->notify), err, errlen))
				return false;
		} else if (strncasecmp(words[i], "verify=", 7) == 0) {
			if (!parse_verify(words[i], e, err, errlen))
				return false;
		} else {
			snprintf(err, errlen,
				 "'%s': unexpected word (options are tls=, weight=, notify= and "
				 "verify=)",
				 words[i]);
			return false;
		}
	}
	return true;
}

/* check_commas - strtok_r skips empty items: report them instead of ignoring them */
static bool check_commas(const char *list, char *err, size_t errlen)
{
	bool empty = true;

	for (const char *p = list;; p++) {
		if (*p == ',' || *p == '\0') {
			if (empty) {
				snprintf(err, errlen, "empty target (a ',' with no target %s it)",
					 *p ? "before" : "after");
				return false;
			}
			if (*p == '\0')
				return true;
			empty = true;
		} else if (!isspace((unsigned char)*p)) {
			empty = false;
		}
	}
}

/*
 * routes_parse_line - one line of the routes file. Returns 1 with an entry,
 * 0 for a blank or comment line, -1 with err set. The caller frees
 * out->targets.
 */
int routes_parse_line(const char *line, struct routes_entry *out, char *err, size_t errlen)
{
	char *copy = mx_strdup(line), *text, *domain, *rest, *save = NULL, *item;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	text = copy;
	text[strcspn(text, "#")] = '\0';
	text = mx_trim(text);
	if (*text == '\0') {
		rc = 0;
		goto done;
	}
	domain = text;
	rest = domain + strcspn(domain, " \t");
	if (*rest)
		*rest++ = '\0';
	rest = mx_trim(rest);
	if (domain[0] == '.') {
		out->subdomains = true;
		domain++;
	}
	if (!mx_domain_normalize(domain, out->domain, sizeof(out->domain), err, errlen))
		goto done;
	if (*rest == '\0') {
		snprintf(err, errlen, "%s: no target (write host:port, or '.' for no service)",
			 domain);
		goto done;
	}
	if (strcmp(rest, ".") == 0) {
		out->noservice = true;
		rc = 1;
		goto done;
	}
	if (!check_commas(rest, err, errlen))
		goto done;
	for (item = strtok_r(rest, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		struct route_target t;
		char *trimmed = mx_trim(item);

		if (strcmp(trimmed, ".") == 0) {
			snprintf(err, errlen, "'.' (no service) must be the only target");
			goto done;
		}
		if (!parse_target(trimmed, &t, out, err, errlen))
			goto done;
		out->targets = mx_realloc(out->targets, (out->ntargets + 1) * sizeof(t));
		out->targets[out->ntargets++] = t;
	}
	if (out->ntargets == 0) {
		snprintf(err, errlen, "no target");
		goto done;
	}
	rc = 1;
done:
	if (rc != 1) {
		free(out->targets);
		out->targets = NULL;
		out->ntargets = 0;
	}
	free(copy);
	return rc;
}

/* entry_cmp - sort and search order */
static int entry_cmp(const void *a, const void *b)
{
	const struct routes_entry *x = a, *y = b;
	int c = strcmp(x->domain, y->domain);

	if (c)
		return c;
	return (int)x->subdomains - (int)y->subdomains;
}

/* entry_sort_cmp - as entry_cmp, then by line, so that duplicates are reported in file order */
static int entry_sort_cmp(const void *a, const void *b)
{
	const struct routes_entry *x = a, *y = b;
	int c = entry_cmp(a, b);

	return c ? c : x->line - y->line;
}

/* routes_file_parse - the whole text; NULL (and errors added) when any line is bad */
struct routes_file *routes_file_parse(const char *path, const char *text, size_t len,
				      struct mx_errlist *errs)
{
	struct routes_file *rf = mx_calloc(1, sizeof(*rf));
	size_t before = errs->count, pos = 0;
	int lineno = 0;

	rf->path = mx_strdup(path);
	while (pos < len) {
		size_t end = pos;
		char *line, err[512];
		struct routes_entry e;
		int rc;

		while (end < len && text[end] != '\n')
			end++;
		lineno++;
		if (memchr(text + pos, '\0', end - pos)) {
			mx_errlist_add(errs, "%s:%d: NUL byte in line", path, lineno);
			pos = end + 1;
			continue;
		}
		line = mx_strndup(text + pos, end - pos);
		pos = end + 1;
		rc = routes_parse_line(line, &e, err, sizeof(err));
		free(line);
		if (rc < 0) {
			mx_errlist_add(errs, "%s:%d: %s", path, lineno, err);
			continue;
		}
		if (rc == 0)
			continue;
		e.line = lineno;
		rf->entries = mx_realloc(rf->entries, (rf->count + 1) * sizeof(e));
		rf->entries[rf->count++] = e;
	}
	if (rf->count > 1) /* qsort(NULL, 0, ...) is undefined */
		qsort(rf->entries, rf->count, sizeof(*rf->entries), entry_sort_cmp);
	for (size_t i = 1; i < rf->count; i++) {
		if (entry_cmp(&rf->entries[i - 1], &rf->entries[i]) == 0)
			mx_errlist_add(errs, "%s:%d: %s%s: already routed on line %d", path,
				       rf->entries[i].line, rf->entries[i].subdomains ? "." : "",
				       rf->entries[i].domain, rf->entries[i - 1].line);
	}
	if (errs->count != before) {
		routes_file_free(rf);
		return NULL;
	}
	return rf;
}

/* routes_file_load - read and parse a file; NULL (and errors added) on any error */
struct routes_file *routes_file_load(const char *path, struct mx_errlist *errs)
{
	struct routes_file *rf;
	char *text, err[600];
	size_t len;

	if (!mx_read_file(path, ROUTES_FILE_MAX, "routes file", &text, &len, err, sizeof(err))) {
		mx_errlist_add(errs, "%s", err);
		return NULL;
	}
	rf = routes_file_parse(path, text, len, errs);
	free(text);
	return rf;
}

/* find_exact - binary search for one key */
static const struct routes_entry *find_exact(const struct routes_file *rf, const char *domain,
					     bool subdomains)
{
	struct routes_entry key;

	if (rf->count == 0) /* bsearch(..., NULL, 0, ...) is undefined: an empty routes file */
		return NULL;
	mx_strlcpy(key.domain, domain, sizeof(key.domain));
	key.subdomains = subdomains;
	return bsearch(&key, rf->entries, rf->count, sizeof(*rf->entries), entry_cmp);
}

/*
 * routes_file_find - the entry for a normalized domain: the exact name, else
 * the nearest ".parent" entry. Fills out and returns true when one applies.
 */
bool routes_file_find(const struct routes_file *rf, const char *domain, struct route *out)
{
	const struct routes_entry *e = find_exact(rf, domain, false);
	const char *p = domain;

	while (e == NULL && (p = strchr(p, '.')) != NULL) {
		p++;
		e = find_exact(rf, p, true);
	}
	if (e == NULL)
		return false;
	route_clear(out);
	out->source = ROUTE_SRC_FILE;
	snprintf(out->origin, sizeof(out->origin), "%s:%d", rf->path, e->line);
	mx_strlcpy(out->notify, e->notify, sizeof(out->notify));
	snprintf(out->name, sizeof(out->name), "%s%s", e->subdomains ? "." : "", e->domain);
	out->verify = e->verify;
	if (e->noservice) {
		route_set(out, ROUTE_NOSERVICE, "%s routes %s%s to '.' (no service)", out->origin,
			  e->subdomains ? "." : "", e->domain);
		return true;
	}
	for (size_t i = 0; i < e->ntargets; i++)
		route_add_target(out, &e->targets[i]);
	route_set(out, ROUTE_OK, "%s", out->origin);
	return true;
}

/* routes_file_free - release everything */
void routes_file_free(struct routes_file *rf)
{
	if (rf == NULL)
		return;
	for (size_t i = 0; i < rf->count; i++)
		free(rf->entries[i].targets);
	free(rf->entries);
	free(rf->path);
	free(rf);
}
