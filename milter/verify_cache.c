/*
 * verify_cache - what the customers' servers said of recipients: accepted
 * or refused, each kept for its own lifetime, so that a recipient is asked
 * once a day, not at every message; and the domains whose server gave no
 * answer a moment ago, so that a hundred RCPTs for a server that is down
 * cost one connect timeout, not a hundred (each holding an smtpd). The
 * entries live in a route cache of their own (dns/route_cache.c: size
 * bound, least recently used out, one mutex for the milter's threads).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "verify_cache.h"

/*
 * verify_cache_rcpt_key - "V:local@domain" with the domain in lower case
 * and the local part as given (RFC 5321: only the server knows whether
 * Bob and bob are one mailbox); false for a recipient too long to keep.
 */
bool verify_cache_rcpt_key(const char *rcpt, char *key, size_t keylen)
{
	const char *at = strrchr(rcpt, '@');
	size_t len = strlen(rcpt);

	if (len > VERIFY_KEY_MAX || len + 3 > keylen)
		return false;
	snprintf(key, keylen, "V:%s", rcpt);
	for (char *p = key + 2 + (at ? (size_t)(at - rcpt) : len); *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return true;
}

/* verify_cache_get - a recipient's remembered status (and the refusal's text) */
bool verify_cache_get(struct route_cache *c, const char *key, time_t now,
		      enum verify_status *status, char *text, size_t textlen)
{
	int v;

	if (!route_cache_get_note(c, key, now, &v, text, textlen))
		return false;
	*status = (enum verify_status)v;
	return true;
}

/* verify_cache_put - remember a recipient's status until expires (never an unverifiable one) */
void verify_cache_put(struct route_cache *c, const char *key, time_t expires,
		      enum verify_status status, const char *text)
{
	if (status != VERIFY_UNVERIFIABLE)
		route_cache_put_note(c, key, expires, (int)status, text);
}

/* verify_cache_down - the domain's server gave no answer a moment ago: why */
bool verify_cache_down(struct route_cache *c, const char *domain, time_t now, char *why,
		       size_t whylen)
{
	char key[MX_DOMAIN_MAX + 4];
	int v;

	snprintf(key, sizeof(key), "U:%s", domain);
	return route_cache_get_note(c, key, now, &v, why, whylen);
}

/* verify_cache_mark_down - remember until when the domain's server is not asked */
void verify_cache_mark_down(struct route_cache *c, const char *domain, time_t until,
			    const char *why)
{
	char key[MX_DOMAIN_MAX + 4];

	snprintf(key, sizeof(key), "U:%s", domain);
	route_cache_put_note(c, key, until, 0, why);
}
