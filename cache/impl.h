/*
 * cache internals shared by cache.c, key.c and entry.c; not for other
 * modules.
 *
 * An entry is one immutable allocation: the header below, then the key name
 * (lower-cased wire form), then the records in uncompressed wire form (owner,
 * type, class, TTL, RDLENGTH, RDATA), original case kept. It is published
 * into one shard's cds_lfht and never written again, except `referenced`,
 * a relaxed eviction hint that readers set.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>
#include <ldns/ldns.h>

#include "cache/cache.h"
#include "util/siphash.h"

#define CACHE_NAME_MAX 255

/*
 * Slot of an entry under its name: an RR type (0..65535) for RRSET and NODATA
 * entries, or CACHE_SLOT_NXDOMAIN, outside the type space so that no RR type
 * (not even the reserved 0) can collide with it.
 */
#define CACHE_SLOT_NXDOMAIN 0x10000u
/* Slot of the per-question resolution state of (name, type): base + type. */
#define CACHE_SLOT_QSTATE 0x20000u
/* Slot of a whole wire answer for the fast path: base + qtype. */
#define CACHE_SLOT_ANSWER 0x30000u
/* Entry kind of an answer entry (see answer.c for its payload). */
#define CACHE_KIND_ANSWER 0x41u
/* Entry kind of a qstate entry: its payload is a struct cache_qstate. */
#define CACHE_KIND_QSTATE 0x40u

struct cache_key {
	uint8_t name[CACHE_NAME_MAX]; /* lower-cased wire form */
	uint8_t name_len;
	uint32_t slot;
	uint64_t hash;
};

struct cache_entry {
	struct cds_lfht_node node; /* in its shard's table */
	union {
		struct rcu_head rcu;		  /* reclaimed with call_rcu() */
		struct cache_entry *destroy_next; /* cache_destroy()'s free list */
	};
	uint64_t hash;
	uint64_t expire_at; /* wall-clock second at which it stops being fresh */
	uint64_t seq;	    /* store order across slots: the later store wins */
	size_t bytes;	    /* what its shard accounts for it */
	uint32_t orig_ttl;
	uint32_t slot;
	uint32_t rr_len; /* bytes of record wire after the name */
	uint16_t rr_count;
	uint8_t kind; /* enum cache_kind */
	uint8_t rank; /* enum cache_rank */
	uint8_t name_len;
	atomic_bool referenced; /* set by lookups; second chance on eviction */
	uint8_t data[];		/* name_len bytes of key name, then rr_len bytes of records */
};

/*
 * A lookup used `e`: it gets a second chance when the shard evicts. Every
 * path that serves an entry calls this, the wire fast path included, or a
 * flood of unique names would evict the popular entries first. Relaxed and
 * written only when clear, so hot entries do not bounce a cache line.
 */
static inline void cache_entry_touch(struct cache_entry *e)
{
	if (!atomic_load_explicit(&e->referenced, memory_order_relaxed))
		atomic_store_explicit(&e->referenced, true, memory_order_relaxed);
}

/*
 * ThreadSanitizer and liburcu. The library is not instrumented, so TSan
 * sees neither the ordering of an entry's publication nor the grace period
 * before its reclamation, and would report both as races. Under TSan these
 * tell it what RCU guarantees (elsewhere they compile to nothing):
 *  - publish: cache_insert() releases an entry before linking it, and every
 *    path that reaches an entry through a table acquires it
 *    (cache_key_match(), iter_entry(), shard_find());
 *  - reclaim: a thread releases the grace-period token whenever it reports
 *    a quiescent state or goes offline (cache_thread_*(), cache_destroy()),
 *    and the call_rcu() callback acquires it before freeing, so every read
 *    made before that quiescent state happens before the free.
 * liburcu's own internal hand-offs are in tests/tsan.supp.
 */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CACHE_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(CACHE_TSAN)
#define CACHE_TSAN 1
#endif
#ifdef CACHE_TSAN
#include <sanitizer/tsan_interface.h>
extern char cache_tsan_grace_period;
#define cache_tsan_publish(e) __tsan_release((void *)(e))
#define cache_tsan_reach(e) __tsan_acquire((void *)(e))
#define cache_tsan_quiescent() __tsan_release(&cache_tsan_grace_period)
#define cache_tsan_reclaim() __tsan_acquire(&cache_tsan_grace_period)
#else
#define cache_tsan_publish(e) ((void)0)
#define cache_tsan_reach(e) ((void)0)
#define cache_tsan_quiescent() ((void)0)
#define cache_tsan_reclaim() ((void)0)
#endif

/* cache.c: publishes `e` (times, kind, rank set); takes ownership. */
int cache_insert_entry(struct cache *cache, struct cache_entry *e, uint64_t now);
/* cache.c: the live entry under `key` or NULL; call inside rcu_read_lock(). */
struct cache_entry *cache_find_entry(struct cache *cache, const struct cache_key *key,
				     uint64_t now);
/* cache.c: unlinks `e`; call inside rcu_read_lock(). */
void cache_remove_entry(struct cache *cache, struct cache_entry *e);
const struct util_siphash_key *cache_seed(const struct cache *cache);
uint32_t cache_max_ttl(const struct cache *cache);

/* ---- key.c -------------------------------------------------------------- */

/*
 * Fills `key` from `name` (an LDNS_RDF_TYPE_DNAME of 1..255 bytes) and `slot`.
 * 0 or -EINVAL.
 */
int cache_key_init(struct cache_key *key, const struct util_siphash_key *seed, const ldns_rdf *name,
		   uint32_t slot);

/* The same from an uncompressed wire name (the hot path has no rdf). */
int cache_key_init_wire(struct cache_key *key, const struct util_siphash_key *seed,
			const uint8_t *name, size_t len, uint32_t slot);

/* Recomputes key->hash after key->slot changed; the name stays. */
void cache_key_rehash(struct cache_key *key, const struct util_siphash_key *seed);

/* cds_lfht match function: `key` is a struct cache_key. Nonzero on match. */
int cache_key_match(struct cds_lfht_node *node, const void *key);

/* ---- entry.c ------------------------------------------------------------ */

/* An unpublished entry for `key` with `payload` bytes after the key name
 * (zeroed); times, kind and rank are the caller's. NULL on ENOMEM. */
struct cache_entry *cache_entry_alloc(const struct cache_key *key, size_t payload);

/*
 * Allocates an entry for `key` holding the records of `rrs` (copied, case
 * kept). Times and rank are left for the caller to fill in. NULL with *err
 * set to -ENOMEM or -EINVAL (a record that cannot be written in wire form).
 */
struct cache_entry *cache_entry_new(const struct cache_key *key, const ldns_rr_list *rrs, int *err);

/* Frees an entry that was never published, or one that is out of every table. */
void cache_entry_free(struct cache_entry *entry);

/* call_rcu() callback: frees the entry that owns `head`. */
void cache_entry_free_rcu(struct rcu_head *head);

/* A fresh ldns_rr_list of the entry's records with every TTL set to `ttl`; NULL on ENOMEM. */
ldns_rr_list *cache_entry_decode(const struct cache_entry *entry, uint32_t ttl);
