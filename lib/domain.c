/* domain - domain names in the one form routes are keyed by, and address helpers */
#include "config.h"

#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "path.h"
#include "util.h"

/* check_ldh - every label 1..63 letters, digits or inner hyphens; 253 in all */
static bool check_ldh(const char *name, char *err, size_t errlen)
{
	size_t total = strlen(name), label = 0;
	const char *p, *start = name;

	if (total == 0 || total > 253) {
		snprintf(err, errlen, "'%s': a domain name has 1 to 253 characters", name);
		return false;
	}
	for (p = name;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0) {
				snprintf(err, errlen, "'%s': empty label", name);
				return false;
			}
			if (label > 63) {
				snprintf(err, errlen, "'%s': label longer than 63 characters",
					 name);
				return false;
			}
			if (start[0] == '-' || p[-1] == '-') {
				snprintf(err, errlen, "'%s': a label starts or ends with '-'",
					 name);
				return false;
			}
			if (*p == '\0')
				return true;
			label = 0;
			start = p + 1;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
			snprintf(err, errlen, "'%s': character '%c' is not allowed in a host name",
				 name, (*p >= 0x20 && *p < 0x7f) ? *p : '?');
			return false;
		}
		label++;
	}
}

/*
 * mx_domain_normalize - the A-label, lowercase form without trailing dot, so
 * that "Bücher.Example." and "xn--bcher-kva.example" are the same key. IDNA
 * 2008 non-transitional processing, as browsers and libidn2's lookup use.
 */
bool mx_domain_normalize(const char *in, char *out, size_t outlen, char *err, size_t errlen)
{
	char *work = NULL;
	size_t len = strlen(in);
	bool ascii = true;
	bool ok;

	for (size_t i = 0; i < len; i++)
		if ((unsigned char)in[i] >= 0x80)
			ascii = false;
	if (ascii) {
		work = mx_strdup(in);
	} else {
		int rc = idn2_lookup_u8((const uint8_t *)in, (uint8_t **)&work,
					IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
		if (rc != IDN2_OK) {
			snprintf(err, errlen, "'%s': not a valid internationalized domain name: %s",
				 in, idn2_strerror(rc));
			return false;
		}
	}
	len = strlen(work);
	if (len > 1 && work[len - 1] == '.')
		work[--len] = '\0';
	mx_lowercase(work);
	ok = check_ldh(work, err, errlen);
	if (ok && len + 1 > outlen) {
		snprintf(err, errlen, "'%s': name too long", in);
		ok = false;
	}
	if (ok)
		memcpy(out, work, len + 1);
	if (ascii)
		free(work);
	else
		idn2_free(work);
	return ok;
}

/* mx_address_domain - copy the domain part of user@domain, "quoted"@domain or <user@domain>; false
 * when none */
bool mx_address_domain(const char *address, char *out, size_t outlen)
{
	const char *p = address + (address[0] == '<');
	const char *at;
	size_t len;

	/* A quoted local part may hold '@' and '>' ("a@b>"@example.com): past it first. */
	if (*p == '"')
		p += mx_local_part_len(p);
	at = strrchr(p, '@');

	if (at == NULL)
		return false;
	at++;
	len = strcspn(at, ">");
	if (len == 0 || len >= outlen)
		return false;
	memcpy(out, at, len);
	out[len] = '\0';
	return true;
}
