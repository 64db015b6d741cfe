/*
 * qstate — storage of the per-question resolution state (struct
 * cache_qstate) in the cache's own tables, under a slot of its own next to
 * the data of (name, type). Same lifecycle as data entries: immutable,
 * replaced whole, reclaimed through RCU, bounded by the memory limit.
 * No policy here (policy.c decides).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache/impl.h"

/* How long a state entry lives without updates: past every window it holds. */
#define QSTATE_KEEP 86400

static bool qstate_is_empty(const struct cache_qstate *st)
{
	return st->failed_at == 0 && st->fail_until == 0 && st->failures == 0 &&
	       st->empty_since == 0;
}

bool cache_qstate_get(struct cache *cache, const ldns_rdf *name, uint16_t type, uint64_t now,
		      struct cache_qstate *out)
{
	struct cache_key key;
	bool found = false;

	memset(out, 0, sizeof(*out));
	if (!cache || cache_key_init(&key, cache_seed(cache), name, CACHE_SLOT_QSTATE + type) != 0)
		return false;
	rcu_read_lock();
	struct cache_entry *e = cache_find_entry(cache, &key, now);
	if (e && e->kind == CACHE_KIND_QSTATE && e->rr_len == sizeof(*out)) {
		memcpy(out, e->data + e->name_len, sizeof(*out));
		found = true;
	}
	rcu_read_unlock();
	return found;
}

int cache_qstate_put(struct cache *cache, const ldns_rdf *name, uint16_t type,
		     const struct cache_qstate *st, uint64_t now)
{
	struct cache_key key;

	if (!cache || cache_key_init(&key, cache_seed(cache), name, CACHE_SLOT_QSTATE + type) != 0)
		return -EINVAL;
	if (qstate_is_empty(st)) {
		rcu_read_lock();
		struct cache_entry *e = cache_find_entry(cache, &key, now);
		if (e)
			cache_remove_entry(cache, e);
		rcu_read_unlock();
		return 0;
	}
	struct cache_entry *e = cache_entry_alloc(&key, sizeof(*st));
	if (!e)
		return -ENOMEM;
	e->kind = CACHE_KIND_QSTATE;
	e->rank = CACHE_RANK_ANSWER_AUTH; /* a newer state always replaces */
	e->orig_ttl = QSTATE_KEEP;
	e->expire_at = now + QSTATE_KEEP;
	memcpy(e->data + key.name_len, st, sizeof(*st));
	int r = cache_insert_entry(cache, e, now);
	return r < 0 ? r : 0;
}
