/* route_cache - TTL-bound, size-bound cache of route and address lookups (and notes), for many
 * threads */
#include "config.h"

#include <ldns/ldns.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "route_cache.h"
#include "util.h"

/*
 * Entries live in an ldns red-black tree keyed by "R:domain" or "A:host"
 * (or a note's key of the caller's, such as milter/verify_cache.c's),
 * and on a doubly linked list in order of last use; when the cache is full
 * the least recently used entry goes. One mutex: lookups are short and the
 * DNS query itself is made outside the lock.
 *
 * Memory is bounded by the number of entries and by the size of each: an
 * entry keeps its strings at their length (struct route's fixed buffers
 * are 1.4 KB), a note only its value and text, and an answer of more than
 * ROUTE_CACHE_ITEMS_MAX targets or addresses is used but not kept. So an
 * entry takes about 150 bytes (a note) to 500 bytes (a route of a target
 * or an address), at most ROUTE_CACHE_ENTRY_MAX; mxport.conf(5) states
 * the bounds of route_cache_size and verify_cache_size from these.
 */
struct kept_route { /* struct route without its fixed-size buffers */
	enum route_status status;
	enum route_source source;
	bool secure;
	enum route_verify verify;
	char *reason, *origin, *notify, *name;
	size_t ntargets;
	struct route_target *targets;
};

struct kept_addrs { /* struct route_addrs likewise */
	enum route_status status;
	bool secure;
	char *reason;
	size_t count;
	struct route_addr *addrs;
};

struct cache_entry {
	ldns_rbnode_t node; /* first: the tree hands back this pointer */
	char *key;
	time_t expires;
	enum { ENTRY_ROUTE, ENTRY_ADDRS, ENTRY_NOTE } kind;
	union {
		struct kept_route route;
		struct kept_addrs addrs;
		struct {
			int value; /* a value and a text of the caller's */
			char *text;
		} note;
	} u;
	struct cache_entry *newer, *older;
};

struct route_cache {
	pthread_mutex_t lock;
	ldns_rbtree_t *tree;
	size_t max;
	struct cache_entry *newest, *oldest;
};

/* key_cmp - tree order */
static int key_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* route_cache_new - an empty cache of at most max_entries (0: a cache that keeps nothing) */
struct route_cache *route_cache_new(size_t max_entries)
{
	struct route_cache *c = mx_calloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	c->tree = ldns_rbtree_create(key_cmp);
	if (c->tree == NULL)
		abort();
	c->max = max_entries;
	return c;
}

/* unlink_entry - off the use list */
static void unlink_entry(struct route_cache *c, struct cache_entry *e)
{
	if (e->newer)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer = e->older = NULL;
}

/* push_newest - to the head of the use list */
static void push_newest(struct route_cache *c, struct cache_entry *e)
{
	e->older = c->newest;
	e->newer = NULL;
	if (c->newest)
		c->newest->newer = e;
	c->newest = e;
	if (c->oldest == NULL)
		c->oldest = e;
}

/* drop_entry - out of tree and list, and freed (lock held) */
static void drop_entry(struct route_cache *c, struct cache_entry *e)
{
	ldns_rbtree_delete(c->tree, e->key);
	unlink_entry(c, e);
	switch (e->kind) {
	case ENTRY_ROUTE:
		free(e->u.route.reason);
		free(e->u.route.origin);
		free(e->u.route.name);
		free(e->u.route.notify);
		free(e->u.route.targets);
		break;
	case ENTRY_ADDRS:
		free(e->u.addrs.reason);
		free(e->u.addrs.addrs);
		break;
	case ENTRY_NOTE: free(e->u.note.text); break;
	}
	free(e->key);
	free(e);
}

/* find_live - the unexpired entry for key, made newest; expired ones are dropped (lock held) */
static struct cache_entry *find_live(struct route_cache *c, const char *key, time_t now)
{
	struct cache_entry *e = (struct cache_entry *)ldns_rbtree_search(c->tree, key);

	if (e == NULL)
		return NULL;
	if (e->expires <= now) {
		drop_entry(c, e);
		return NULL;
	}
	unlink_entry(c, e);
	push_newest(c, e);
	return e;
}

/* store - replace or add an entry of kind, evicting the least recently used (lock held) */
static struct cache_entry *store(struct route_cache *c, const char *key, time_t expires, int kind)
{
	struct cache_entry *e = (struct cache_entry *)ldns_rbtree_search(c->tree, key);

	if (e)
		drop_entry(c, e);
	while ((size_t)c->tree->count >= c->max && c->oldest)
		drop_entry(c, c->oldest);
	e = mx_calloc(1, sizeof(*e));
	e->key = mx_strdup(key);
	e->node.key = e->key;
	e->node.data = e;
	e->expires = expires;
	e->kind = kind;
	ldns_rbtree_insert(c->tree, &e->node);
	push_newest(c, e);
	return e;
}

/* route_cache_get_route - a copy of a cached route; false when none or expired */
bool route_cache_get_route(struct route_cache *c, const char *key, time_t now, struct route *out)
{
	struct cache_entry *e;
	bool found = false;

	pthread_mutex_lock(&c->lock);
	e = find_live(c, key, now);
	if (e && e->kind == ENTRY_ROUTE) {
		const struct kept_route *k = &e->u.route;

		route_init(out);
		out->status = k->status;
		out->source = k->source;
		out->secure = k->secure;
		out->verify = k->verify;
		mx_strlcpy(out->reason, k->reason, sizeof(out->reason));
		mx_strlcpy(out->origin, k->origin, sizeof(out->origin));
		mx_strlcpy(out->name, k->name, sizeof(out->name));
		mx_strlcpy(out->notify, k->notify, sizeof(out->notify));
		for (size_t i = 0; i < k->ntargets; i++)
			route_add_target(out, &k->targets[i]);
		out->ttl = (uint32_t)(e->expires - now);
		found = true;
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}

/* route_cache_put_route - keep a copy of r until expires (not one of too many targets) */
void route_cache_put_route(struct route_cache *c, const char *key, time_t expires,
			   const struct route *r)
{
	struct cache_entry *e;
	struct kept_route *k;

	if (c->max == 0 || r->ntargets > ROUTE_CACHE_ITEMS_MAX)
		return;
	pthread_mutex_lock(&c->lock);
	e = store(c, key, expires, ENTRY_ROUTE);
	k = &e->u.route;
	k->status = r->status;
	k->source = r->source;
	k->secure = r->secure;
	k->verify = r->verify;
	k->reason = mx_strdup(r->reason);
	k->origin = mx_strdup(r->origin);
	k->name = mx_strdup(r->name);
	k->notify = mx_strdup(r->notify);
	k->ntargets = r->ntargets;
	if (r->ntargets) {
		k->targets = mx_malloc(r->ntargets * sizeof(*r->targets));
		memcpy(k->targets, r->targets, r->ntargets * sizeof(*r->targets));
	}
	pthread_mutex_unlock(&c->lock);
}

/* route_cache_get_addrs - a copy of cached addresses; false when none or expired */
bool route_cache_get_addrs(struct route_cache *c, const char *key, time_t now,
			   struct route_addrs *out)
{
	struct cache_entry *e;
	bool found = false;

	pthread_mutex_lock(&c->lock);
	e = find_live(c, key, now);
	if (e && e->kind == ENTRY_ADDRS) {
		const struct kept_addrs *k = &e->u.addrs;

		route_addrs_init(out);
		out->status = k->status;
		out->secure = k->secure;
		mx_strlcpy(out->reason, k->reason, sizeof(out->reason));
		out->count = k->count;
		if (k->count) {
			out->addrs = mx_malloc(k->count * sizeof(*k->addrs));
			memcpy(out->addrs, k->addrs, k->count * sizeof(*k->addrs));
		}
		out->ttl = (uint32_t)(e->expires - now);
		found = true;
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}

/* route_cache_put_addrs - keep a copy of a until expires (not one of too many addresses) */
void route_cache_put_addrs(struct route_cache *c, const char *key, time_t expires,
			   const struct route_addrs *a)
{
	struct cache_entry *e;
	struct kept_addrs *k;

	if (c->max == 0 || a->count > ROUTE_CACHE_ITEMS_MAX)
		return;
	pthread_mutex_lock(&c->lock);
	e = store(c, key, expires, ENTRY_ADDRS);
	k = &e->u.addrs;
	k->status = a->status;
	k->secure = a->secure;
	k->reason = mx_strdup(a->reason);
	k->count = a->count;
	if (a->count) {
		k->addrs = mx_malloc(a->count * sizeof(*a->addrs));
		memcpy(k->addrs, a->addrs, a->count * sizeof(*a->addrs));
	}
	pthread_mutex_unlock(&c->lock);
}

/* route_cache_get_note - a note's value and text (cut to textlen); false when none or expired */
bool route_cache_get_note(struct route_cache *c, const char *key, time_t now, int *value,
			  char *text, size_t textlen)
{
	struct cache_entry *e;
	bool found = false;

	pthread_mutex_lock(&c->lock);
	e = find_live(c, key, now);
	if (e && e->kind == ENTRY_NOTE) {
		*value = e->u.note.value;
		mx_strlcpy(text, e->u.note.text, textlen);
		found = true;
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}

/* route_cache_put_note - keep a value and a text (its first ROUTE_CACHE_NOTE_MAX bytes) until
 * expires */
void route_cache_put_note(struct route_cache *c, const char *key, time_t expires, int value,
			  const char *text)
{
	struct cache_entry *e;

	if (c->max == 0)
		return;
	pthread_mutex_lock(&c->lock);
	e = store(c, key, expires, ENTRY_NOTE);
	e->u.note.value = value;
	e->u.note.text = mx_strndup(text, ROUTE_CACHE_NOTE_MAX);
	pthread_mutex_unlock(&c->lock);
}

/* route_cache_count - entries held now (expired ones included until touched) */
size_t route_cache_count(struct route_cache *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->tree->count;
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* route_cache_free - release everything */
void route_cache_free(struct route_cache *c)
{
	if (c == NULL)
		return;
	while (c->oldest)
		drop_entry(c, c->oldest);
	ldns_rbtree_free(c->tree);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
