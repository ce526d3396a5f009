/*
 * route_shared - DNS answers (SRV routes and host addresses) shared by the
 * processes of one daemon. The LMTP daemon makes it before it forks its
 * connection processes; each looks here after its own route cache and
 * before DNS, and puts what DNS answered, so that the processes together
 * ask once per name per TTL instead of once each.
 *
 * Fixed slots in one shared mapping, found by a hash of the key and a few
 * probes. Each slot has a sequence number that is odd while it is written
 * (a seqlock): a reader that sees it change, or odd, takes nothing, so no
 * half-written answer is ever used, and no process waits for another. A
 * process that dies while writing leaves its slot odd: that slot is lost,
 * nothing else. An answer too large for a slot is not shared (each process
 * still caches it itself). A miss here only means a DNS query.
 */
#include "config.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "route_shared.h"
#include "util.h"

#define SHARED_KEY    400  /* "R:" or "A:", a name, "|" and the configuration's tag */
#define SHARED_DATA   6400 /* a route of 17 targets, or 16 addresses */
#define SHARED_PROBES 4

struct shared_slot {
	uint32_t seq; /* 0: never written; odd: being written */
	uint32_t len;
	int64_t expires;
	char key[SHARED_KEY];
	alignas(max_align_t) unsigned char data[SHARED_DATA];
};

struct route_shared {
	size_t nslots;
	struct shared_slot *slots; /* MAP_SHARED: the same pages in every process */
};

/* route_shared_new - slots in anonymous shared memory, before fork(); NULL when there is none */
struct route_shared *route_shared_new(size_t nslots)
{
	struct route_shared *sh;
	void *p;

	if (nslots == 0)
		return NULL;
	p = mmap(NULL, nslots * sizeof(struct shared_slot), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	sh = mx_calloc(1, sizeof(*sh));
	sh->nslots = nslots;
	sh->slots = p;
	return sh;
}

/* route_shared_free - this process's view of it (the others keep theirs) */
void route_shared_free(struct route_shared *sh)
{
	if (sh == NULL)
		return;
	munmap(sh->slots, sh->nslots * sizeof(struct shared_slot));
	free(sh);
}

/* home - the first slot a key may be in (FNV-1a) */
static size_t home(const struct route_shared *sh, const char *key)
{
	uint64_t h = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)(h % sh->nslots);
}

/*
 * get - the bytes of the live answer for key, into buf (SHARED_DATA);
 * false when there is none, or when a writer got in the way
 */
static bool get(struct route_shared *sh, const char *key, time_t now, unsigned char *buf,
		size_t *len, int64_t *expires)
{
	if (sh == NULL || strlen(key) >= SHARED_KEY)
		return false;
	for (size_t i = 0, k = home(sh, key); i < SHARED_PROBES; i++, k = (k + 1) % sh->nslots) {
		struct shared_slot *s = &sh->slots[k];
		uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);

		if (seq == 0 || (seq & 1) || strncmp(s->key, key, SHARED_KEY) != 0)
			continue;
		*len = s->len;
		*expires = s->expires;
		if (*len > SHARED_DATA || *expires <= now)
			return false;
		memcpy(buf, s->data, *len);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		/* Unchanged while we read: what we copied is one writer's whole answer. */
		return __atomic_load_n(&s->seq, __ATOMIC_RELAXED) == seq &&
		       strncmp(s->key, key, SHARED_KEY) == 0;
	}
	return false;
}

/* put - keep an answer of two parts (a header and its array) in a slot of key's, if one is free */
static void put(struct route_shared *sh, const char *key, time_t expires, const void *a,
		size_t alen, const void *b, size_t blen)
{
	struct shared_slot *s = NULL;
	time_t now = time(NULL);
	size_t k = 0;

	if (sh == NULL || strlen(key) >= SHARED_KEY || alen + blen > SHARED_DATA)
		return;
	/* The key's own slot, else an empty or expired one, else the first. */
	for (size_t i = 0, j = home(sh, key); i < SHARED_PROBES; i++, j = (j + 1) % sh->nslots) {
		struct shared_slot *t = &sh->slots[j];

		if (strncmp(t->key, key, SHARED_KEY) == 0) {
			s = t;
			break;
		}
		if (s == NULL && (t->seq == 0 || t->expires <= now))
			s = t;
		if (i == 0)
			k = j;
	}
	if (s == NULL)
		s = &sh->slots[k];
	uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
	if ((seq & 1) || !__atomic_compare_exchange_n(&s->seq, &seq, seq + 1, false,
						      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return; /* another process writes it now */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	mx_strlcpy(s->key, key, sizeof(s->key));
	s->expires = expires;
	s->len = (uint32_t)(alen + blen);
	memcpy(s->data, a, alen);
	if (blen)
		memcpy(s->data + alen, b, blen);
	__atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
}

/* terminate - a string field read from shared memory ends within its array */
#define terminate(field) ((field)[sizeof(field) - 1] = '\0')

/* route_shared_get_route - a copy of a shared route (out holds no targets); false when none */
bool route_shared_get_route(struct route_shared *sh, const char *key, time_t now, struct route *out)
{
	alignas(max_align_t) unsigned char buf[SHARED_DATA];
	struct route r;
	int64_t expires;
	size_t len;

	if (!get(sh, key, now, buf, &len, &expires) || len < sizeof(r))
		return false;
	memcpy(&r, buf, sizeof(r));
	if (r.ntargets > (len - sizeof(r)) / sizeof(*r.targets) ||
	    len != sizeof(r) + r.ntargets * sizeof(*r.targets))
		return false;
	r.targets = r.ntargets ? (struct route_target *)(buf + sizeof(r)) : NULL;
	terminate(r.reason);
	terminate(r.origin);
	terminate(r.name);
	terminate(r.notify);
	for (size_t i = 0; i < r.ntargets; i++)
		terminate(r.targets[i].host);
	route_copy(out, &r);
	out->ttl = (uint32_t)(expires - now);
	return true;
}

/* route_shared_put_route - share a copy of r until expires */
void route_shared_put_route(struct route_shared *sh, const char *key, time_t expires,
			    const struct route *r)
{
	struct route head = *r;

	head.targets = NULL;
	put(sh, key, expires, &head, sizeof(head), r->targets, r->ntargets * sizeof(*r->targets));
}

/* route_shared_get_addrs - a copy of shared addresses (out holds none); false when none */
bool route_shared_get_addrs(struct route_shared *sh, const char *key, time_t now,
			    struct route_addrs *out)
{
	alignas(max_align_t) unsigned char buf[SHARED_DATA];
	struct route_addrs a;
	int64_t expires;
	size_t len;

	if (!get(sh, key, now, buf, &len, &expires) || len < sizeof(a))
		return false;
	memcpy(&a, buf, sizeof(a));
	if (a.count > (len - sizeof(a)) / sizeof(*a.addrs) ||
	    len != sizeof(a) + a.count * sizeof(*a.addrs))
		return false;
	a.addrs = a.count ? (struct route_addr *)(buf + sizeof(a)) : NULL;
	terminate(a.reason);
	for (size_t i = 0; i < a.count; i++) {
		terminate(a.addrs[i].text);
		terminate(a.addrs[i].why);
		if (a.addrs[i].salen > sizeof(a.addrs[i].sa))
			return false;
	}
	route_addrs_copy(out, &a);
	out->ttl = (uint32_t)(expires - now);
	return true;
}

/* route_shared_put_addrs - share a copy of a until expires */
void route_shared_put_addrs(struct route_shared *sh, const char *key, time_t expires,
			    const struct route_addrs *a)
{
	struct route_addrs head = *a;

	head.addrs = NULL;
	put(sh, key, expires, &head, sizeof(head), a->addrs, a->count * sizeof(*a->addrs));
}
