/*
 * upstream/budget.c — the retry budget shared by all workers.
 *
 * Retries (any attempt beyond the first for a question, hedges included)
 * are allowed only while retries < floor + percent * firsts / 100 over a
 * sliding window, so an outage upstream cannot multiply our traffic: at
 * worst 1 + percent/100 queries per question, plus the floor.
 *
 * The window is UPSTREAM_BUDGET_BUCKETS buckets of window_ms / BUCKETS
 * each. A bucket is one 64-bit atomic word: an epoch tag (which slice of
 * time it counts), first attempts and retries; a worker that finds a stale
 * tag resets the bucket in the same CAS that counts. No lock. Time comes in
 * as `now_ms` (monotonic), so the tests drive it with a fake clock.
 *
 * Fair shares (issue 12): one client prefix flooding random names of a
 * dead zone would otherwise spend the whole budget, and every other
 * client's retries would be refused. So the retries are also counted per
 * client key, in UPSTREAM_BUDGET_SHARE_SLOTS windows of the same buckets
 * (a key's slot is key % SLOTS; the key is a keyed hash, so nobody can aim
 * at another's slot; keys sharing a slot share one count). A key at its
 * share of the window's allowance is refused only when no more than one
 * share of it is left (upstream_share_allows()): alone, a key may spend
 * nearly all of it; when the budget runs short, the others still retry.
 *
 * Does not decide what a retry is (the caller says so) and does no I/O.
 */
#include "upstream/impl.h"

/* Word layout: tag 22 bits | firsts 24 bits | retries 18 bits. The counts
 * saturate (a bucket is a tenth of the window: 16 M first attempts in it
 * is far beyond any resolver). The tag wraps after 4 M buckets; a bucket
 * untouched for exactly that long would be counted again (harmless). */
#define TAG_BITS 22
#define FIRSTS_BITS 24
#define RETRIES_BITS 18
#define TAG_MASK ((UINT64_C(1) << TAG_BITS) - 1)
#define FIRSTS_MASK ((UINT64_C(1) << FIRSTS_BITS) - 1)
#define RETRIES_MASK ((UINT64_C(1) << RETRIES_BITS) - 1)
#define FIRSTS_SHIFT TAG_BITS
#define RETRIES_SHIFT (TAG_BITS + FIRSTS_BITS)

_Static_assert(TAG_BITS + FIRSTS_BITS + RETRIES_BITS == 64, "the bucket word is 64 bits");

/* A share slot's word: the same tag | retries in the upper 42 bits. */
#define SHARE_RETRIES_SHIFT TAG_BITS
#define SHARE_RETRIES_MASK ((UINT64_C(1) << (64 - TAG_BITS)) - 1)

void upstream_budget_init(struct upstream_budget *b)
{
	for (size_t i = 0; i < UPSTREAM_BUDGET_BUCKETS; i++)
		atomic_init(&b->bucket[i], 0);
	for (size_t k = 0; k < UPSTREAM_BUDGET_SHARE_SLOTS; k++)
		for (size_t i = 0; i < UPSTREAM_BUDGET_BUCKETS; i++)
			atomic_init(&b->share[k][i], 0);
}

/* The width of one bucket in ms (at least 1). */
static uint64_t bucket_ms(unsigned window_ms)
{
	uint64_t w = window_ms / UPSTREAM_BUDGET_BUCKETS;
	return w > 0 ? w : 1;
}

void upstream_budget_record(struct upstream_budget *b, uint64_t now_ms, unsigned window_ms,
			    bool retry)
{
	uint64_t epoch = now_ms / bucket_ms(window_ms);
	_Atomic uint64_t *slot = &b->bucket[epoch % UPSTREAM_BUDGET_BUCKETS];
	uint64_t tag = epoch & TAG_MASK;
	uint64_t old = atomic_load_explicit(slot, memory_order_relaxed);

	for (;;) {
		uint64_t firsts = 0, retries = 0;
		if ((old & TAG_MASK) == tag) {
			firsts = (old >> FIRSTS_SHIFT) & FIRSTS_MASK;
			retries = (old >> RETRIES_SHIFT) & RETRIES_MASK;
		}
		if (retry && retries < RETRIES_MASK)
			retries++;
		if (!retry && firsts < FIRSTS_MASK)
			firsts++;
		uint64_t word = tag | firsts << FIRSTS_SHIFT | retries << RETRIES_SHIFT;
		if (atomic_compare_exchange_weak_explicit(slot, &old, word, memory_order_relaxed,
							  memory_order_relaxed))
			return;
	}
}

void upstream_budget_counts(struct upstream_budget *b, uint64_t now_ms, unsigned window_ms,
			    uint64_t *firsts, uint64_t *retries)
{
	uint64_t epoch = now_ms / bucket_ms(window_ms);

	*firsts = 0;
	*retries = 0;
	/* The window is the current bucket and the BUCKETS - 1 before it. */
	for (uint64_t k = 0; k < UPSTREAM_BUDGET_BUCKETS && k <= epoch; k++) {
		uint64_t e = epoch - k;
		uint64_t word = atomic_load_explicit(&b->bucket[e % UPSTREAM_BUDGET_BUCKETS],
						     memory_order_relaxed);
		if ((word & TAG_MASK) != (e & TAG_MASK))
			continue;
		*firsts += (word >> FIRSTS_SHIFT) & FIRSTS_MASK;
		*retries += (word >> RETRIES_SHIFT) & RETRIES_MASK;
	}
}

bool upstream_budget_allows(struct upstream_budget *b, uint64_t now_ms, unsigned window_ms,
			    unsigned percent, unsigned floor)
{
	uint64_t firsts, retries;

	upstream_budget_counts(b, now_ms, window_ms, &firsts, &retries);
	return retries < (uint64_t)floor + (uint64_t)percent * firsts / 100;
}

static _Atomic uint64_t *share_slot(struct upstream_budget *b, uint64_t client_key)
{
	return b->share[client_key % UPSTREAM_BUDGET_SHARE_SLOTS];
}

void upstream_budget_record_share(struct upstream_budget *b, uint64_t client_key, uint64_t now_ms,
				  unsigned window_ms)
{
	uint64_t epoch = now_ms / bucket_ms(window_ms);
	_Atomic uint64_t *slot = &share_slot(b, client_key)[epoch % UPSTREAM_BUDGET_BUCKETS];
	uint64_t tag = epoch & TAG_MASK;
	uint64_t old = atomic_load_explicit(slot, memory_order_relaxed);

	for (;;) {
		uint64_t retries = 0;
		if ((old & TAG_MASK) == tag)
			retries = (old >> SHARE_RETRIES_SHIFT) & SHARE_RETRIES_MASK;
		if (retries < SHARE_RETRIES_MASK)
			retries++;
		uint64_t word = tag | retries << SHARE_RETRIES_SHIFT;
		if (atomic_compare_exchange_weak_explicit(slot, &old, word, memory_order_relaxed,
							  memory_order_relaxed))
			return;
	}
}

uint64_t upstream_budget_share_retries(struct upstream_budget *b, uint64_t client_key,
				       uint64_t now_ms, unsigned window_ms)
{
	uint64_t epoch = now_ms / bucket_ms(window_ms);
	_Atomic uint64_t *slot = share_slot(b, client_key);
	uint64_t retries = 0;

	for (uint64_t k = 0; k < UPSTREAM_BUDGET_BUCKETS && k <= epoch; k++) {
		uint64_t e = epoch - k;
		uint64_t word = atomic_load_explicit(&slot[e % UPSTREAM_BUDGET_BUCKETS],
						     memory_order_relaxed);
		if ((word & TAG_MASK) == (e & TAG_MASK))
			retries += (word >> SHARE_RETRIES_SHIFT) & SHARE_RETRIES_MASK;
	}
	return retries;
}

enum upstream_budget_verdict upstream_budget_check(struct upstream_budget *b, uint64_t client_key,
						   uint64_t now_ms, unsigned window_ms,
						   unsigned percent, unsigned floor,
						   unsigned share_percent)
{
	uint64_t firsts, retries;

	upstream_budget_counts(b, now_ms, window_ms, &firsts, &retries);
	uint64_t allowance = (uint64_t)floor + (uint64_t)percent * firsts / 100;
	if (retries >= allowance)
		return UPSTREAM_BUDGET_SPENT;
	uint64_t share = upstream_share_of(allowance, share_percent, UPSTREAM_SHARE_MIN_RETRIES);
	/* Read the key's count only when the rule could say no. */
	if (share == 0 || retries + share < allowance)
		return UPSTREAM_BUDGET_ALLOW;
	uint64_t mine = upstream_budget_share_retries(b, client_key, now_ms, window_ms);
	return upstream_share_allows(allowance, retries, mine, share) ? UPSTREAM_BUDGET_ALLOW
								      : UPSTREAM_BUDGET_SHARE;
}
