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
 */
struct cache_entry {
	ldns_rbnode_t node; /* first: the tree hands back this pointer */
	char *key;
	time_t expires;
	enum { ENTRY_ROUTE, ENTRY_ADDRS, ENTRY_NOTE } kind;
	struct route route;
	int note; /* ENTRY_NOTE: a value and a text of the caller's */
	char *note_text;
	struct route_addrs addrs;
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
	route_clear(&e->route);
	route_addrs_clear(&e->addrs);
	free(e->note_text);
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

/* store - replace or add an entry, evicting the least recently used (lock held) */
static struct cache_entry *store(struct route_cache *c, const char *key, time_t expires)
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
	route_init(&e->route);
	route_addrs_init(&e->addrs);
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
		route_copy(out, &e->route);
		out->ttl = (uint32_t)(e->expires - now);
		found = true;
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}

/* route_cache_put_route - keep a copy of r until expires */
void route_cache_put_route(struct route_cache *c, const char *key, time_t expires,
			   const struct route *r)
{
	if (c->max == 0)
		return;
	pthread_mutex_lock(&c->lock);
	struct cache_entry *e = store(c, key, expires);
	e->kind = ENTRY_ROUTE;
	route_copy(&e->route, r);
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
		route_addrs_copy(out, &e->addrs);
		out->ttl = (uint32_t)(e->expires - now);
		found = true;
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}

/* route_cache_put_addrs - keep a copy of a until expires */
void route_cache_put_addrs(struct route_cache *c, const char *key, time_t expires,
			   const struct route_addrs *a)
{
	if (c->max == 0)
		return;
	pthread_mutex_lock(&c->lock);
	struct cache_entry *e = store(c, key, expires);
	e->kind = ENTRY_ADDRS;
	route_addrs_copy(&e->addrs, a);
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
		*value = e->note;
		mx_strlcpy(text, e->note_text, textlen);
		found = true;
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}

/* route_cache_put_note - keep a value and a text until expires */
void route_cache_put_note(struct route_cache *c, const char *key, time_t expires, int value,
			  const char *text)
{
	if (c->max == 0)
		return;
	pthread_mutex_lock(&c->lock);
	struct cache_entry *e = store(c, key, expires);
	e->kind = ENTRY_NOTE;
	e->note = value;
	e->note_text = mx_strdup(text);
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
