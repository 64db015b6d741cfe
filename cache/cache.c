/*
 * cache — the shared, sharded store behind cache.h: where entries live, when
 * they are fresh, stale or gone, who may replace whom, and how memory stays
 * bounded.
 *
 * Concurrency (see also cache.h):
 *  - RCU-protected: each shard's cds_lfht (liburcu QSBR) and the entries in
 *    it. Readers and writers run inside rcu_read_lock(); nobody takes a lock
 *    to read or store. An entry is immutable once published (the one
 *    exception is `referenced`, a relaxed eviction hint) and is replaced
 *    whole; whoever unlinks an entry (cds_lfht_replace/del returning 0) is the
 *    only one who accounts for it and hands it to call_rcu().
 *  - Atomic: per-shard byte and entry counts, statistics, the store sequence.
 *  - One lock: a per-shard eviction mutex, only ever try-locked, so that one
 *    thread at a time scans a shard to evict. No lock order exists because no
 *    thread holds two.
 *
 * It does not parse packets, decide serve-stale policy or read a clock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "cache/impl.h"
#include "util/log.h"
#include "util/random.h"

#ifdef CACHE_TSAN
char cache_tsan_grace_period; /* only its address is used (impl.h) */
#endif

#define CACHE_SHARD_BITS 4
#define CACHE_SHARDS (1u << CACHE_SHARD_BITS)
#define CACHE_CACHELINE 64

#define CACHE_DEFAULT_MAX_BYTES ((size_t)64 * 1024 * 1024)
#define CACHE_DEFAULT_MIN_TTL 0
#define CACHE_DEFAULT_MAX_TTL 86400
#define CACHE_DEFAULT_MAX_NEGATIVE_TTL 3600
#define CACHE_DEFAULT_MAX_STALE_TTL 86400

/* Initial buckets per shard; the tables grow and shrink on their own. */
#define CACHE_TABLE_INIT 256

struct cache_shard {
	struct cds_lfht *ht;
	size_t limit; /* this shard's share of max_bytes */
	pthread_mutex_t evict_lock;

	/* Written on every store: kept off the line readers need (ht, limit). */
	alignas(CACHE_CACHELINE) atomic_size_t bytes;
	atomic_uint_fast64_t entries;

	alignas(CACHE_CACHELINE) atomic_uint_fast64_t lookups;
	atomic_uint_fast64_t hits_fresh, hits_stale, misses;
	atomic_uint_fast64_t stores, evictions;
};

struct cache {
	struct cache_shard shards[CACHE_SHARDS];
	struct cache_opts opts;
	struct util_siphash_key seed;
	alignas(CACHE_CACHELINE) atomic_uint_fast64_t seq;
	alignas(CACHE_CACHELINE) atomic_uint recovery_epoch;
	cache_store_observer_fn observer; /* tests and fuzzers: see cache.h */
	void *observer_ctx;
};

enum entry_state {
	ENTRY_FRESH,
	ENTRY_STALE,
	ENTRY_DEAD,
};

static inline void counter_inc(atomic_uint_fast64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static struct cache_shard *shard_of(struct cache *cache, uint64_t hash)
{
	/* The table orders by the low bits (bit-reversed); shard by the high ones. */
	return &cache->shards[hash >> (64 - CACHE_SHARD_BITS)];
}

/*
 * The entry at `iter`, or NULL at the end. Spelled out rather than
 * cds_lfht_for_each_entry(), which clang-format cannot lay out as a loop.
 */
static struct cache_entry *iter_entry(struct cds_lfht_iter *iter)
{
	struct cds_lfht_node *node = cds_lfht_iter_get_node(iter);
	struct cache_entry *e;

	if (!node)
		return NULL;
	e = caa_container_of(node, struct cache_entry, node);
	cache_tsan_reach(e);
	return e;
}

static enum entry_state entry_state(const struct cache *cache, const struct cache_entry *e,
				    uint64_t now)
{
	if (now < e->expire_at)
		return ENTRY_FRESH;
	if (now - e->expire_at < cache->opts.max_stale_ttl)
		return ENTRY_STALE;
	return ENTRY_DEAD;
}

/*
 * Unlinks `e` from its shard. Call inside rcu_read_lock(). False when another
 * thread unlinked or replaced it first; that thread then owns its reclamation.
 */
static bool shard_remove(struct cache_shard *sh, struct cache_entry *e)
{
	if (cds_lfht_del(sh->ht, &e->node) != 0)
		return false;
	atomic_fetch_sub_explicit(&sh->bytes, e->bytes, memory_order_relaxed);
	atomic_fetch_sub_explicit(&sh->entries, 1, memory_order_relaxed);
	call_rcu(&e->rcu, cache_entry_free_rcu);
	return true;
}

/*
 * Brings a shard under its low-water mark (7/8 of its share). Expired entries
 * go first (stale data is the least valuable thing still held), then entries
 * no lookup touched since the last scan (second chance, as in CLOCK), then
 * anything. Bounded by three passes over the shard. A thread that finds
 * another already evicting here leaves it to that one.
 */
static void shard_evict(struct cache_shard *sh, uint64_t now)
{
	size_t low = sh->limit - sh->limit / 8;
	struct cds_lfht_iter iter;
	struct cache_entry *e;

	if (pthread_mutex_trylock(&sh->evict_lock) != 0)
		return;
	rcu_read_lock();
	for (int pass = 0; pass < 3; pass++) {
		if (atomic_load_explicit(&sh->bytes, memory_order_relaxed) <= low)
			break;
		for (cds_lfht_first(sh->ht, &iter); (e = iter_entry(&iter));
		     cds_lfht_next(sh->ht, &iter)) {
			if (atomic_load_explicit(&sh->bytes, memory_order_relaxed) <= low)
				break;
			if (pass == 0 && now < e->expire_at)
				continue;
			if (pass == 1 &&
			    atomic_load_explicit(&e->referenced, memory_order_relaxed)) {
				atomic_store_explicit(&e->referenced, false, memory_order_relaxed);
				continue;
			}
			if (shard_remove(sh, e))
				counter_inc(&sh->evictions);
		}
	}
	rcu_read_unlock();
	pthread_mutex_unlock(&sh->evict_lock);
}

bool cache_rank_may_replace(enum cache_rank held, enum cache_rank incoming)
{
	/* RFC 2181 §5.4.1: data replaces cached data of lower credibility, and
	 * an authoritative answer replaces cached non-answer data; the same
	 * referral or glue again is no reason to replace anything. */
	return incoming > held || incoming == CACHE_RANK_ANSWER_AUTH;
}

/* An NS RRset: a delegation, whose lifetime only its first source sets. */
static bool is_delegation(const struct cache_entry *e)
{
	return e->kind == CACHE_KIND_RRSET && e->slot == LDNS_RR_TYPE_NS;
}

/*
 * Publishes `e` (whose times, kind and rank are set) in its slot, unless the
 * slot holds a fresh entry that `e` may not replace (cache_rank_may_replace).
 * An NS RRset replacing a fresh one keeps the old expiry: the child (or
 * anyone) re-sending a delegation, at the same or a higher rank, never
 * extends it, so when the TTL the parent gave ends the parent is asked again
 * (ghost domains, CVE-2012-1033; Unbound does not refresh an equal NS set
 * either). Takes ownership of `e`. 0 stored, 1 kept the existing entry.
 *
 * Lock-free check-and-replace: cds_lfht_replace() fails if the entry we
 * judged was replaced or removed meanwhile, and add_unique() fails if
 * another store filled the empty slot first; either way we judge again
 * against what is there now, so a lower rank never slips past a higher one.
 */
static int cache_insert(struct cache *cache, struct cache_entry *e, uint64_t now)
{
	struct cache_shard *sh = shard_of(cache, e->hash);
	struct cache_key key;
	struct cds_lfht_iter iter;
	bool over;

	if (e->bytes > sh->limit) {
		cache_entry_free(e);
		return -ENOSPC;
	}
	/* The match function needs a key; the entry carries one. */
	memcpy(key.name, e->data, e->name_len);
	key.name_len = e->name_len;
	key.slot = e->slot;
	key.hash = e->hash;
	e->seq = atomic_fetch_add_explicit(&cache->seq, 1, memory_order_relaxed) + 1;

	/*
	 * Counted before it is published: once visible, another thread may
	 * replace or evict it and subtract its size, and the counter must never
	 * dip below zero (it would read as a full shard). Undone on a lost race.
	 */
	atomic_fetch_add_explicit(&sh->bytes, e->bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&sh->entries, 1, memory_order_relaxed);
	cache_tsan_publish(e);
	rcu_read_lock();
	for (;;) {
		struct cds_lfht_node *node;

		cds_lfht_lookup(sh->ht, (unsigned long)key.hash, cache_key_match, &key, &iter);
		node = cds_lfht_iter_get_node(&iter);
		if (node) {
			struct cache_entry *old = caa_container_of(node, struct cache_entry, node);

			if (now < old->expire_at &&
			    !cache_rank_may_replace((enum cache_rank)old->rank,
						    (enum cache_rank)e->rank)) {
				rcu_read_unlock();
				atomic_fetch_sub_explicit(&sh->bytes, e->bytes,
							  memory_order_relaxed);
				atomic_fetch_sub_explicit(&sh->entries, 1, memory_order_relaxed);
				cache_entry_free(e);
				return 1;
			}
			if (now < old->expire_at && is_delegation(old) && is_delegation(e) &&
			    e->expire_at > old->expire_at)
				e->expire_at = old->expire_at; /* no ghost domains */
			if (cds_lfht_replace(sh->ht, &iter, (unsigned long)key.hash,
					     cache_key_match, &key, &e->node) != 0)
				continue;
			atomic_fetch_sub_explicit(&sh->bytes, old->bytes, memory_order_relaxed);
			atomic_fetch_sub_explicit(&sh->entries, 1, memory_order_relaxed);
			call_rcu(&old->rcu, cache_entry_free_rcu);
		} else {
			node = cds_lfht_add_unique(sh->ht, (unsigned long)key.hash, cache_key_match,
						   &key, &e->node);
			if (node != &e->node)
				continue;
		}
		break;
	}
	counter_inc(&sh->stores);
	over = atomic_load_explicit(&sh->bytes, memory_order_relaxed) > sh->limit;
	rcu_read_unlock();
	if (over)
		shard_evict(sh, now);
	return 0;
}

static uint32_t clamp_ttl(const struct cache *cache, uint32_t ttl)
{
	if (ttl < cache->opts.min_ttl)
		ttl = cache->opts.min_ttl;
	if (ttl > cache->opts.max_ttl)
		ttl = cache->opts.max_ttl;
	return ttl;
}

static bool rank_is_valid(enum cache_rank rank)
{
	return (unsigned)rank <= CACHE_RANK_ANSWER_AUTH;
}

void cache_opts_init(struct cache_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->max_bytes = CACHE_DEFAULT_MAX_BYTES;
	opts->min_ttl = CACHE_DEFAULT_MIN_TTL;
	opts->max_ttl = CACHE_DEFAULT_MAX_TTL;
	opts->max_negative_ttl = CACHE_DEFAULT_MAX_NEGATIVE_TTL;
	opts->max_stale_ttl = CACHE_DEFAULT_MAX_STALE_TTL;
	opts->harden_below_nxdomain = true;
}

struct cache *cache_create(const struct cache_opts *opts)
{
	struct cache *cache;
	void *mem;
	size_t max_bytes;

	if (posix_memalign(&mem, CACHE_CACHELINE, sizeof(*cache)) != 0)
		return NULL;
	cache = memset(mem, 0, sizeof(*cache));
	if (opts)
		cache->opts = *opts;
	else
		cache_opts_init(&cache->opts);
	if (cache->opts.max_bytes == 0)
		cache->opts.max_bytes = CACHE_DEFAULT_MAX_BYTES;
	max_bytes = cache->opts.max_bytes;
	util_random_bytes(&cache->seed, sizeof(cache->seed));
	atomic_init(&cache->seq, 0);

	for (unsigned i = 0; i < CACHE_SHARDS; i++) {
		struct cache_shard *sh = &cache->shards[i];

		sh->limit = max_bytes / CACHE_SHARDS;
		atomic_init(&sh->bytes, 0);
		if (pthread_mutex_init(&sh->evict_lock, NULL) != 0)
			goto out_destroy;
		sh->ht = cds_lfht_new(CACHE_TABLE_INIT, CACHE_TABLE_INIT, 0,
				      CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
		if (!sh->ht) {
			pthread_mutex_destroy(&sh->evict_lock);
			goto out_destroy;
		}
	}
	return cache;

out_destroy:
	/* cache_destroy() stops at the first shard without a table. */
	cache_destroy(cache);
	return NULL;
}

void cache_destroy(struct cache *cache)
{
	bool was_online;

	if (!cache)
		return;
	/* QSBR: a registered, online thread counts as being in a read-side section. */
	was_online = rcu_read_ongoing();
	for (unsigned i = 0; i < CACHE_SHARDS; i++) {
		struct cache_shard *sh = &cache->shards[i];
		struct cache_entry *e, *dead = NULL;
		struct cds_lfht_iter iter;

		if (!sh->ht)
			break;
		/*
		 * No worker uses the cache any more (cache.h), but the table's own
		 * resize worker may still walk the list: unlink everything, let
		 * cds_lfht_destroy() wait for that worker, then free.
		 */
		rcu_read_lock();
		for (cds_lfht_first(sh->ht, &iter); (e = iter_entry(&iter));
		     cds_lfht_next(sh->ht, &iter)) {
			if (cds_lfht_del(sh->ht, &e->node) == 0) {
				e->destroy_next = dead;
				dead = e;
			}
		}
		rcu_read_unlock();
		/*
		 * The table's resize worker may be waiting for a grace period:
		 * an online QSBR thread would hold that back forever while
		 * cds_lfht_destroy() waits for the worker (a deadlock seen after
		 * heavy cache churn). Offline while we wait.
		 */
		if (was_online) {
			cache_tsan_quiescent();
			rcu_thread_offline();
		}
		if (cds_lfht_destroy(sh->ht, NULL) != 0)
			log_err(LOG_CACHE, "cache shard %u: hash table not destroyed", i);
		if (was_online)
			rcu_thread_online();
		while (dead) {
			e = dead;
			dead = e->destroy_next;
			cache_entry_free(e);
		}
		pthread_mutex_destroy(&sh->evict_lock);
	}
	/* Let the call_rcu() callbacks of earlier replacements and removals run. */
	if (was_online) {
		cache_tsan_quiescent();
		rcu_thread_offline();
	}
	rcu_barrier();
	if (was_online)
		rcu_thread_online();
	free(cache);
}

void cache_thread_register(void)
{
	rcu_register_thread();
}

void cache_thread_unregister(void)
{
	cache_tsan_quiescent();
	rcu_unregister_thread();
}

void cache_thread_quiescent(void)
{
	cache_tsan_quiescent();
	rcu_quiescent_state();
}

void cache_thread_offline(void)
{
	cache_tsan_quiescent();
	rcu_thread_offline();
}

void cache_thread_online(void)
{
	rcu_thread_online();
}

/*
 * Checks that `rrset` is one RRset (RFC 2181 §5: same owner, class and type)
 * and returns its minimum TTL through `min_ttl`. 0 or -EINVAL.
 */
static int rrset_check(const ldns_rr_list *rrset, uint32_t *min_ttl)
{
	size_t count = rrset ? ldns_rr_list_rr_count(rrset) : 0;
	const ldns_rr *first;

	if (count == 0)
		return -EINVAL;
	first = ldns_rr_list_rr(rrset, 0);
	if (!first || !ldns_rr_owner(first))
		return -EINVAL;
	*min_ttl = UINT32_MAX;
	for (size_t i = 0; i < count; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(rrset, i);

		if (!rr || !ldns_rr_owner(rr) || ldns_rr_get_type(rr) != ldns_rr_get_type(first) ||
		    ldns_rr_get_class(rr) != ldns_rr_get_class(first) ||
		    ldns_rdf_get_type(ldns_rr_owner(rr)) != LDNS_RDF_TYPE_DNAME ||
		    ldns_dname_compare(ldns_rr_owner(rr), ldns_rr_owner(first)) != 0)
			return -EINVAL;
		if (ldns_rr_ttl(rr) < *min_ttl)
			*min_ttl = ldns_rr_ttl(rr);
	}
	return 0;
}

int cache_put_rrset(struct cache *cache, const ldns_rr_list *rrset, enum cache_rank rank,
		    uint64_t now)
{
	const ldns_rr *first;
	struct cache_entry *e;
	struct cache_key key;
	uint32_t ttl;
	int err;

	if (!cache || !rank_is_valid(rank))
		return -EINVAL;
	err = rrset_check(rrset, &ttl);
	if (err)
		return err;
	first = ldns_rr_list_rr(rrset, 0);
	err = cache_key_init(&key, &cache->seed, ldns_rr_owner(first), ldns_rr_get_type(first));
	if (err)
		return err;
	e = cache_entry_new(&key, rrset, &err);
	if (!e)
		return err;
	ttl = clamp_ttl(cache, ttl);
	e->kind = CACHE_KIND_RRSET;
	e->rank = (uint8_t)rank;
	e->orig_ttl = ttl;
	e->expire_at = now + ttl;
	err = cache_insert(cache, e, now);
	if (err == 0 && cache->observer)
		cache->observer(cache->observer_ctx, ldns_rr_owner(first), ldns_rr_get_type(first),
				CACHE_KIND_RRSET, rank);
	return err;
}

void cache_set_store_observer(struct cache *cache, cache_store_observer_fn fn, void *ctx)
{
	cache->observer = fn;
	cache->observer_ctx = ctx;
}

int cache_put_negative(struct cache *cache, const ldns_rdf *name, uint16_t type,
		       enum cache_kind kind, const ldns_rr_list *soa, enum cache_rank rank,
		       uint64_t now)
{
	size_t count = soa ? ldns_rr_list_rr_count(soa) : 0;
	uint32_t ttl = UINT32_MAX;
	bool have_soa = false;
	struct cache_entry *e;
	struct cache_key key;
	int err;

	if (!cache || !rank_is_valid(rank) ||
	    (kind != CACHE_KIND_NODATA && kind != CACHE_KIND_NXDOMAIN))
		return -EINVAL;
	err = cache_key_init(&key, &cache->seed, name,
			     kind == CACHE_KIND_NXDOMAIN ? CACHE_SLOT_NXDOMAIN : type);
	if (err)
		return err;
	for (size_t i = 0; i < count; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(soa, i);
		const ldns_rdf *minimum;

		if (!rr || ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA)
			continue;
		minimum = ldns_rr_rdf(rr, 6);
		if (!minimum || ldns_rdf_size(minimum) != 4)
			return -EINVAL;
		/* RFC 2308 §5: negative TTL = min(SOA TTL, SOA MINIMUM). */
		if (ldns_rr_ttl(rr) < ttl)
			ttl = ldns_rr_ttl(rr);
		if (ldns_rdf2native_int32(minimum) < ttl)
			ttl = ldns_rdf2native_int32(minimum);
		have_soa = true;
	}
	/* RFC 2308 §5: without an SOA there is no TTL to cache the answer for. */
	/* Without an SOA there is no negative TTL (RFC 2308 §5): 0, which only
	 * cache-min-ttl can raise. min_ttl applies to negative answers too, as
	 * in Knot Resolver: an operator raising TTLs wants fewer queries for
	 * names that do not exist as well. */
	if (!have_soa)
		ttl = 0;
	if (ttl < cache->opts.min_ttl)
		ttl = cache->opts.min_ttl;
	if (ttl == 0)
		return 1;
	if (ttl > cache->opts.max_negative_ttl)
		ttl = cache->opts.max_negative_ttl;
	if (ttl > cache->opts.max_ttl)
		ttl = cache->opts.max_ttl;

	e = cache_entry_new(&key, soa, &err);
	if (!e)
		return err;
	e->kind = (uint8_t)kind;
	e->rank = (uint8_t)rank;
	e->orig_ttl = ttl;
	e->expire_at = now + ttl;
	err = cache_insert(cache, e, now);
	if (err == 0 && cache->observer)
		cache->observer(cache->observer_ctx, name, type, kind, rank);
	return err;
}

/*
 * The live entry under `key`, or NULL. An entry past its stale window is
 * removed on the way. Call inside rcu_read_lock().
 */
static struct cache_entry *shard_find(struct cache *cache, const struct cache_key *key,
				      uint64_t now)
{
	struct cache_shard *sh = shard_of(cache, key->hash);
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	struct cache_entry *e;

	cds_lfht_lookup(sh->ht, (unsigned long)key->hash, cache_key_match, key, &iter);
	node = cds_lfht_iter_get_node(&iter);
	if (!node)
		return NULL;
	e = caa_container_of(node, struct cache_entry, node);
	cache_tsan_reach(e);
	if (entry_state(cache, e, now) == ENTRY_DEAD) {
		shard_remove(sh, e);
		return NULL;
	}
	return e;
}

/*
 * Of a name's type entry `te` and NXDOMAIN entry `ne` (either may be NULL),
 * the one a lookup believes. The later store describes the name's current
 * state, but only if it could have replaced the earlier one: a fresh entry
 * keeps winning against later, less trustworthy data, as within one slot
 * (a non-authoritative NXDOMAIN does not hide an authoritative answer, nor
 * glue an authoritative NXDOMAIN). Once the earlier one expires, the later
 * one wins, as a store would have replaced it then.
 */
static struct cache_entry *pick_entry(const struct cache *cache, struct cache_entry *te,
				      struct cache_entry *ne, uint64_t now)
{
	struct cache_entry *later, *earlier;

	if (!te || !ne)
		return te ? te : ne;
	later = ne->seq > te->seq ? ne : te;
	earlier = later == ne ? te : ne;
	if (entry_state(cache, earlier, now) == ENTRY_FRESH &&
	    !cache_rank_may_replace((enum cache_rank)earlier->rank, (enum cache_rank)later->rank))
		return earlier;
	return later;
}

enum cache_status cache_lookup(struct cache *cache, const ldns_rdf *name, uint16_t type,
			       uint64_t now, struct cache_result *out)
{
	struct cache_key tkey, nkey;
	struct cache_entry *te, *ne, *e;
	struct cache_shard *sh;
	enum cache_status status;
	uint32_t ttl = 0, stale_for = 0;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!cache || cache_key_init(&tkey, &cache->seed, name, type) != 0)
		return CACHE_MISS;
	nkey = tkey;
	nkey.slot = CACHE_SLOT_NXDOMAIN;
	cache_key_rehash(&nkey, &cache->seed);
	sh = shard_of(cache, tkey.hash);
	counter_inc(&sh->lookups);

	rcu_read_lock();
	te = shard_find(cache, &tkey, now);
	ne = shard_find(cache, &nkey, now);
	e = pick_entry(cache, te, ne, now);
	if (!e)
		goto out_miss;

	if (entry_state(cache, e, now) == ENTRY_FRESH) {
		status = CACHE_FRESH;
		ttl = (uint32_t)(e->expire_at - now);
		/* A wall clock stepped backwards must not stretch a TTL. */
		if (ttl > e->orig_ttl)
			ttl = e->orig_ttl;
	} else {
		status = CACHE_STALE;
		stale_for = (uint32_t)(now - e->expire_at);
	}
	cache_entry_touch(e);
	if (out) {
		out->rrs = cache_entry_decode(e, ttl);
		if (!out->rrs)
			goto out_miss; /* ENOMEM: no answer is better than half a one */
		out->kind = (enum cache_kind)e->kind;
		out->rank = (enum cache_rank)e->rank;
		out->ttl = ttl;
		out->stale_for = stale_for;
		out->orig_ttl = e->orig_ttl;
	}
	rcu_read_unlock();
	counter_inc(status == CACHE_FRESH ? &sh->hits_fresh : &sh->hits_stale);
	return status;

out_miss:
	rcu_read_unlock();
	counter_inc(&sh->misses);
	return CACHE_MISS;
}

/*
 * RFC 8020 §2: the closest ancestor of `name` (the root excluded) with a
 * fresh authoritative NXDOMAIN entry, into `out` (may be NULL). The walk
 * moves one label per step over the wire name, so it takes at most as many
 * lookups as the name has labels (127).
 */
static bool nxdomain_above(struct cache *cache, const ldns_rdf *name, uint64_t now,
			   struct cache_result *out)
{
	const uint8_t *wire = ldns_rdf_data(name);
	size_t len = ldns_rdf_size(name), off = 0;
	bool found = false;

	if (ldns_rdf_get_type(name) != LDNS_RDF_TYPE_DNAME || len < 1 || len > CACHE_NAME_MAX)
		return false;
	rcu_read_lock();
	while (!found && off < len && wire[off] != 0) {
		struct cache_key key;
		struct cache_entry *e;
		uint32_t ttl;

		off += 1u + wire[off];
		if (off >= len || wire[off] == 0)
			break; /* at the root: a name that does not exist is not "." */
		if (cache_key_init_wire(&key, &cache->seed, wire + off, len - off,
					CACHE_SLOT_NXDOMAIN) != 0)
			break;
		e = shard_find(cache, &key, now);
		if (!e || entry_state(cache, e, now) != ENTRY_FRESH ||
		    e->rank < CACHE_RANK_AUTHORITY_AUTH)
			continue;
		ttl = (uint32_t)(e->expire_at - now);
		if (ttl > e->orig_ttl)
			ttl = e->orig_ttl;
		if (out) {
			memset(out, 0, sizeof(*out));
			out->rrs = cache_entry_decode(e, ttl);
			if (!out->rrs)
				break; /* ENOMEM: ask instead */
			out->kind = CACHE_KIND_NXDOMAIN;
			out->rank = (enum cache_rank)e->rank;
			out->ttl = ttl;
			out->orig_ttl = e->orig_ttl;
		}
		found = true;
	}
	rcu_read_unlock();
	return found;
}

enum cache_status cache_lookup_question(struct cache *cache, const ldns_rdf *name, uint16_t type,
					uint64_t now, struct cache_result *out)
{
	struct cache_result above;
	enum cache_status st = cache_lookup(cache, name, type, now, out);

	if (st == CACHE_FRESH || !cache || !cache->opts.harden_below_nxdomain || !name)
		return st;
	if (!nxdomain_above(cache, name, now, out ? &above : NULL))
		return st;
	if (out) {
		cache_result_clear(out);
		*out = above;
	}
	return CACHE_FRESH;
}

void cache_result_clear(struct cache_result *res)
{
	if (!res)
		return;
	if (res->rrs)
		ldns_rr_list_deep_free(res->rrs);
	res->rrs = NULL;
}

void cache_flush(struct cache *cache)
{
	if (!cache)
		return;
	rcu_read_lock();
	for (unsigned i = 0; i < CACHE_SHARDS; i++) {
		struct cache_shard *sh = &cache->shards[i];
		struct cds_lfht_iter iter;
		struct cache_entry *e;

		for (cds_lfht_first(sh->ht, &iter); (e = iter_entry(&iter));
		     cds_lfht_next(sh->ht, &iter)) {
			shard_remove(sh, e);
		}
	}
	rcu_read_unlock();
}

void cache_get_stats(struct cache *cache, struct cache_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!cache)
		return;
	for (unsigned i = 0; i < CACHE_SHARDS; i++) {
		struct cache_shard *sh = &cache->shards[i];

		out->entries += atomic_load_explicit(&sh->entries, memory_order_relaxed);
		out->bytes += atomic_load_explicit(&sh->bytes, memory_order_relaxed);
		out->lookups += atomic_load_explicit(&sh->lookups, memory_order_relaxed);
		out->hits_fresh += atomic_load_explicit(&sh->hits_fresh, memory_order_relaxed);
		out->hits_stale += atomic_load_explicit(&sh->hits_stale, memory_order_relaxed);
		out->misses += atomic_load_explicit(&sh->misses, memory_order_relaxed);
		out->stores += atomic_load_explicit(&sh->stores, memory_order_relaxed);
		out->evictions += atomic_load_explicit(&sh->evictions, memory_order_relaxed);
	}
}

/* Internal entry points for qstate.c (impl.h). */
int cache_insert_entry(struct cache *cache, struct cache_entry *e, uint64_t now)
{
	return cache_insert(cache, e, now);
}

struct cache_entry *cache_find_entry(struct cache *cache, const struct cache_key *key, uint64_t now)
{
	return shard_find(cache, key, now);
}

void cache_remove_entry(struct cache *cache, struct cache_entry *e)
{
	shard_remove(shard_of(cache, e->hash), e);
}

const struct util_siphash_key *cache_seed(const struct cache *cache)
{
	return &cache->seed;
}

void cache_note_recovery(struct cache *cache)
{
	if (cache)
		atomic_fetch_add_explicit(&cache->recovery_epoch, 1, memory_order_relaxed);
}

uint32_t cache_recovery_epoch(struct cache *cache)
{
	return cache ? atomic_load_explicit(&cache->recovery_epoch, memory_order_relaxed) : 0;
}

uint32_t cache_max_ttl(const struct cache *cache)
{
	return cache->opts.max_ttl;
}
