/*
 * cache — the shared cache of RRsets and negative answers.
 *
 * No I/O, no clock: time comes in as `now` (wall-clock seconds, see
 * DESIGN.md "Time"). Shared by every worker thread. Lookups are lock-free:
 * the shards are liburcu QSBR hash tables (cds_lfht); entries are immutable
 * once published and replaced whole; old entries are freed with call_rcu()
 * after every registered thread has passed a quiescent state.
 *
 * Threads: every thread that calls cache_lookup()/cache_put_*() must call
 * cache_thread_register() first, and either report quiescent states
 * regularly (cache_thread_quiescent(), once per event-loop iteration) or go
 * offline while blocked (cache_thread_offline()/online()). A thread that
 * never does holds back reclamation.
 *
 * Expired entries are kept (for serve-stale) until max_stale_ttl seconds
 * past expiry, then dropped lazily (on lookup or when a shard is over its
 * memory share).
 *
 * Credibility (RFC 2181 §5.4.1): a fresh entry is only replaced by strictly
 * more trustworthy data, or by an authoritative answer for the same name and
 * type (cache_rank_may_replace(), the one place this is decided); an expired
 * one by anything. The same rule settles which of a name's NXDOMAIN entry
 * and its type's entry a lookup believes. A delegation (an NS RRset) that
 * replaces a fresh one keeps the old expiry: whoever re-sends it cannot
 * stretch its life past what the first source gave (ghost domains,
 * CVE-2012-1033).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ldns/ldns.h>

struct cache;

struct cache_opts {
	size_t max_bytes;	   /* memory bound for entries; 0 = default 64 MiB */
	uint32_t min_ttl;	   /* cache-min-ttl (default 0) */
	uint32_t max_ttl;	   /* cache-max-ttl (default 86400) */
	uint32_t max_negative_ttl; /* cache-max-negative-ttl (default 3600) */
	uint32_t max_stale_ttl;	   /* keep expired data this long (default 86400) */
	/* harden-below-nxdomain (RFC 8020, default on): see cache_lookup_question(). */
	bool harden_below_nxdomain;
};

/* RFC 2181 §5.4.1 trust ranking, lowest first. */
enum cache_rank {
	CACHE_RANK_HINT = 0,		  /* root hints */
	CACHE_RANK_GLUE = 1,		  /* additional section, glue */
	CACHE_RANK_AUTHORITY_NONAUTH = 2, /* referral NS, non-AA authority */
	CACHE_RANK_ANSWER_NONAUTH = 3,	  /* non-AA answer */
	CACHE_RANK_AUTHORITY_AUTH = 4,	  /* AA authority section (SOA of negatives) */
	CACHE_RANK_ANSWER_AUTH = 5,	  /* AA answer section */
};

/*
 * May data of rank `incoming` replace a FRESH entry of rank `held` (for the
 * same name and slot, or shadow the other of a name's NXDOMAIN and type
 * entries)? Only strictly more trustworthy data may, or an authoritative
 * answer (CACHE_RANK_ANSWER_AUTH: the zone's own servers answering for that
 * name and type) over another. So nothing from an authority or additional
 * section, nor any non-authoritative answer, displaces an authoritative
 * answer, and the same referral or glue re-sent does not refresh itself.
 * The only trust comparison of the cache; expired entries are replaced by
 * anything (the caller checks freshness).
 */
bool cache_rank_may_replace(enum cache_rank held, enum cache_rank incoming);

enum cache_kind {
	CACHE_KIND_RRSET = 1, /* a positive RRset */
	CACHE_KIND_NODATA,    /* the name exists, no data of this type */
	CACHE_KIND_NXDOMAIN,  /* the name does not exist */
};

enum cache_status {
	CACHE_MISS = 0,
	CACHE_FRESH,
	CACHE_STALE, /* expired, still within max_stale_ttl */
};

/* What a lookup returns; the caller owns `rrs` (free with cache_result_clear). */
struct cache_result {
	enum cache_kind kind;
	enum cache_rank rank;
	uint32_t ttl;	    /* remaining seconds (0 when stale) */
	uint32_t stale_for; /* seconds past expiry (0 when fresh) */
	uint32_t orig_ttl;  /* the TTL stored, after clamping */
	/*
	 * RRSET: the RRset, TTLs set to `ttl`.
	 * NODATA / NXDOMAIN: the SOA record(s) to put in the authority section,
	 * TTLs set to `ttl`. May be empty (no SOA was given).
	 */
	ldns_rr_list *rrs;
};

/* NULL on allocation failure. `opts` may be NULL for defaults. */
/* The defaults: the single place they are written (the daemon's config starts from them). */
void cache_opts_init(struct cache_opts *opts);
struct cache *cache_create(const struct cache_opts *opts);
/* NULL-safe. Call after every worker has stopped using the cache. */
void cache_destroy(struct cache *cache);

void cache_thread_register(void);
void cache_thread_unregister(void);
void cache_thread_quiescent(void);
void cache_thread_offline(void);
void cache_thread_online(void);

/*
 * Stores a positive RRset: every RR in `rrset` has the same owner, type and
 * class (checked: -EINVAL otherwise). TTL = the minimum TTL of the RRs,
 * clamped to [min_ttl, max_ttl]. Copies; the caller keeps `rrset`.
 * 0 stored, 1 kept the existing entry (higher rank and fresh), or -errno.
 */
int cache_put_rrset(struct cache *cache, const ldns_rr_list *rrset, enum cache_rank rank,
		    uint64_t now);

/*
 * Stores a negative answer for `name`: NODATA for `type`, or NXDOMAIN (kind
 * CACHE_KIND_NXDOMAIN, `type` ignored: it covers every type of the name).
 * `soa` (may be NULL) is the SOA RRset of the authority section; RFC 2308 §5:
 * the negative TTL is min(SOA TTL, SOA MINIMUM) (0 without an SOA), raised to
 * min_ttl and capped at max_negative_ttl; a TTL of 0 is not cached (returns 1).
 * 0 stored, 1 not stored, or -errno.
 */
int cache_put_negative(struct cache *cache, const ldns_rdf *name, uint16_t type,
		       enum cache_kind kind, const ldns_rr_list *soa, enum cache_rank rank,
		       uint64_t now);

/*
 * Looks up (name, type): a positive RRset or a NODATA entry for the type, or
 * an NXDOMAIN entry for the name. When both a type entry and an NXDOMAIN
 * entry exist, the one stored later wins unless the earlier one is still
 * fresh and the later one could not have replaced it
 * (cache_rank_may_replace()). `out` may be NULL (existence check); otherwise
 * on FRESH/STALE the caller owns out->rrs.
 */
enum cache_status cache_lookup(struct cache *cache, const ldns_rdf *name, uint16_t type,
			       uint64_t now, struct cache_result *out);

/*
 * cache_lookup() for a question the resolver is about to answer. With
 * harden_below_nxdomain, when (name, type) has no fresh entry, a fresh
 * authoritative (rank >= CACHE_RANK_AUTHORITY_AUTH) NXDOMAIN of an ancestor
 * answers for it (RFC 8020 §2: nothing exists below a name that does not
 * exist): FRESH, kind NXDOMAIN, the ancestor's SOA. The walk goes up one
 * label at a time and stops below the root: at most 127 lookups.
 */
enum cache_status cache_lookup_question(struct cache *cache, const ldns_rdf *name, uint16_t type,
					uint64_t now, struct cache_result *out);

/* Frees out->rrs; NULL-safe. */
void cache_result_clear(struct cache_result *res);

/* Removes every entry. */
void cache_flush(struct cache *cache);

/*
 * Tests and fuzzers only: `fn` is called in the storing thread after every
 * entry cache_put_rrset() or cache_put_negative() stored (returned 0), with
 * the owner, the type (for NXDOMAIN: the type asked), the kind and the
 * rank; the name is borrowed for the call. NULL stops it. Not synchronised:
 * set it before any other thread uses the cache.
 */
typedef void (*cache_store_observer_fn)(void *ctx, const ldns_rdf *name, uint16_t type,
					enum cache_kind kind, enum cache_rank rank);
void cache_set_store_observer(struct cache *cache, cache_store_observer_fn fn, void *ctx);

struct cache_stats {
	uint64_t entries;
	uint64_t bytes;
	uint64_t lookups, hits_fresh, hits_stale, misses;
	uint64_t stores, evictions;
};
void cache_get_stats(struct cache *cache, struct cache_stats *out);

/* ---- per-question resolution state ------------------------------------- */

/*
 * What the resolver remembers about resolving (name, type), beside the data:
 * failures (RFC 9520 failure caching, serve-stale's refresh back-off) and the
 * empty-answer guard's window. Stored as an immutable snapshot in the same
 * tables (its own slot), replaced whole; two workers updating it at once may
 * lose one update, which only shifts a timer: the state is advisory.
 */
struct cache_qstate {
	uint64_t failed_at;	/* last failed resolution (wall s); 0 = none */
	uint64_t fail_until;	/* RFC 9520: the failure is cached until then */
	uint32_t failures;	/* consecutive failures */
	uint64_t empty_since;	/* guard: authorities first answered empty; 0 = not guarding */
	uint64_t empty_checked; /* guard: last time the authorities were asked */
	uint8_t empty_rcode;	/* guard: what they answered (NOERROR = NODATA, or NXDOMAIN) */
	uint32_t epoch;		/* cache_recovery_epoch() when the failure was recorded */
	bool fail_silent;	/* no server answered (timeouts, breakers): a recovery voids it */
};

/*
 * An authority came back (a circuit breaker closed): failures cached before
 * now are void, so recovery is not left to the failure cache's growing
 * timer. Bumps a counter that qstates remember; thread-safe.
 */
void cache_note_recovery(struct cache *cache);
uint32_t cache_recovery_epoch(struct cache *cache);

/* True and *out filled when a state is stored; false (and *out zeroed) if not. */
bool cache_qstate_get(struct cache *cache, const ldns_rdf *name, uint16_t type, uint64_t now,
		      struct cache_qstate *out);
/* Stores `st` (copied); an all-zero state removes it. 0 or -errno. */
int cache_qstate_put(struct cache *cache, const ldns_rdf *name, uint16_t type,
		     const struct cache_qstate *st, uint64_t now);

/* ---- the decisions: serve stale, cache failures, guard emptiness -------- */

/*
 * The policy knobs (configuration). Pure functions below decide from a
 * qstate and `now`; they are what unit tests drive with a fake clock.
 */
struct cache_policy {
	bool serve_stale;	     /* RFC 8767 */
	uint32_t stale_answer_ttl;   /* TTL in stale answers (30) */
	uint32_t stale_refresh_time; /* after a failed refresh, stale only for this long (30) */
	uint32_t fail_min, fail_max; /* RFC 9520 §3.2: failure cached 1 s .. 300 s, doubling */
	bool empty_guard;	     /* guard positive data against sudden emptiness */
	uint32_t empty_hold;	     /* keep the last good answer this long (600) */
};

void cache_policy_init(struct cache_policy *p);

enum cache_refresh {
	CACHE_REFRESH_ASK,	  /* ask the authorities */
	CACHE_REFRESH_FAILED,	  /* failure cached: answer stale data or SERVFAIL, no query */
	CACHE_REFRESH_STALE_HOLD, /* a refresh failed recently: answer stale, no query */
	CACHE_REFRESH_GUARD_HOLD, /* guarding emptiness, re-check not due: answer last good */
};

/*
 * May the authorities be asked for (name, type) now? `have_stale`: the cache
 * holds expired data for it (serve-stale is possible).
 */
enum cache_refresh cache_policy_refresh(const struct cache_policy *p, const struct cache_qstate *st,
					bool have_stale, uint64_t now);
/* Records a failed resolution: RFC 9520 back-off, doubling per failure. */
void cache_policy_note_failure(const struct cache_policy *p, struct cache_qstate *st, uint64_t now);
/* Records a successful resolution. True when `st` changed (store it). */
bool cache_policy_note_success(struct cache_qstate *st);

enum cache_guard {
	CACHE_GUARD_HOLD,   /* keep answering the last good data */
	CACHE_GUARD_ACCEPT, /* the emptiness held for the whole window: believe it */
};
/*
 * The authorities agree on emptiness (rcode NOERROR = NODATA or NXDOMAIN)
 * where the cache holds positive data. Opens or continues the hold window
 * in `st`; ACCEPT once it has lasted empty_hold seconds (then `st`'s guard
 * fields are cleared).
 */
enum cache_guard cache_policy_guard_empty(const struct cache_policy *p, struct cache_qstate *st,
					  uint8_t rcode, uint64_t now);

/* ---- the answer cache: whole wire answers for the fast path ------------- */

/*
 * DESIGN.md "One query", step 2: a fresh answer for (qname, qtype) (class IN)
 * kept as the wire message the daemon sent, with the offsets of its TTL
 * fields, so a hit is a copy and a patch: no parsing, no allocation, no
 * lock. Only fresh hits are served from here; stale data and the guard go
 * through the resolver.
 *
 * `msg` is a complete answer without OPT record (header, question, sections);
 * `ttl_offsets` the offsets of every record's TTL field in it. Kept for
 * `ttl` seconds (clamped by max_ttl); 0 or -errno.
 */
int cache_answer_put(struct cache *cache, const uint8_t *msg, size_t len,
		     const uint16_t *ttl_offsets, size_t nttl, uint32_t ttl, uint64_t now);
/*
 * Copies the fresh answer for (qname, qtype) into `out` with every TTL
 * counted down to now. `qname` is the uncompressed wire name as the client
 * sent it (any case). The length, 0 on a miss, or -ENOSPC if `cap` is too
 * small. The caller patches ID, flags and the question's letter case.
 */
int cache_answer_get(struct cache *cache, const uint8_t *qname, size_t qname_len, uint16_t qtype,
		     uint64_t now, uint8_t *out, size_t cap);
