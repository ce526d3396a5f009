/* shared_state - small values several relays share, in memcached */
#ifndef MX_SHARED_STATE_H
#define MX_SHARED_STATE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * What a call found. SS_OFF: no shared_state configured; SS_FAIL: the
 * servers did not answer in time (or were given up on for
 * shared_state_retry): the caller goes on with its own, local state.
 */
enum shared_state_result {
	SS_OK,	     /* done; for add: this caller stored it first */
	SS_NOTFOUND, /* get, touch, delete: no such key */
	SS_EXISTS,   /* add: the key was there already (another relay was first) */
	SS_OFF,
	SS_FAIL,
};

bool shared_state_check(const char *spec, char *err, size_t errlen);
void shared_state_setup(const char *spec, unsigned timeout_ms, unsigned retry_s,
			const char *down_file);
bool shared_state_on(void);
enum shared_state_result shared_state_add(const char *key, const char *value, unsigned ttl);
enum shared_state_result shared_state_set(const char *key, const char *value, unsigned ttl);
enum shared_state_result shared_state_get(const char *key, char *value, size_t len);
enum shared_state_result shared_state_touch(const char *key, unsigned ttl);
enum shared_state_result shared_state_delete(const char *key);
enum shared_state_result shared_state_count(const char *key, unsigned ttl,
					    unsigned long long *value);

#endif
