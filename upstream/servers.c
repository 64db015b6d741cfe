/*
 * upstream/servers.c — the table of server estimates shared by all workers.
 *
 * A fixed array of UPSTREAM_SERVERS_SLOTS slots, open addressing over a
 * window of UPSTREAM_SERVERS_PROBE slots. A slot is three C11 atomics:
 *  - key: a keyed hash (util/siphash.h, random key chosen at creation)
 *    of family, address, port and scope; 0 = free. Claimed with a CAS.
 *  - stats: the packed struct upstream_rtt (rtt.c), updated with a CAS loop.
 *  - last_ms: monotonic time of the last sample or timeout (uv_now base).
 *  - inflight: queries in flight to the address from all workers (the
 *    per-server cap), taken and given back with upstream_inflight_take/put.
 *  - caps: whether the server preserves the case of query names (0x20),
 *    learned from case-only mismatches (upstream_caps_*()), CAS loops.
 * No lock anywhere. Slots are never freed; when a key's window is full the
 * least recently updated slot of the window is taken over.
 *
 * Accepted imprecision, since these are only estimates: two addresses whose
 * 64-bit keyed hashes collide share a slot (an outsider cannot aim for that:
 * the key is secret), and while a slot is being taken over a concurrent
 * update for the old server may land in the new one's fresh estimate.
 *
 * The same struct upstream_servers also carries the health table
 * (health.c), the retry budget (budget.c), the public suffix list
 * (provider.c) and the counters; this file creates and frees it all.
 *
 * Does no I/O; the clock is read only by upstream_servers_rtt() and
 * upstream_servers_health(), the public accessors.
 */
#include "upstream/upstream.h"
#include "upstream/impl.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/random.h"
#include "util/siphash.h"

_Static_assert((UPSTREAM_SERVERS_SLOTS & (UPSTREAM_SERVERS_SLOTS - 1)) == 0,
	       "the slot count must be a power of two");

uint64_t upstream_servers_hash(const struct upstream_servers *servers, const void *buf, size_t len)
{
	uint64_t key = util_siphash(&servers->hash_key, buf, len);
	return key != 0 ? key : 1;
}

/* The slot key of `addr`; 0 for an address family we do not keep. */
static uint64_t server_key(const struct upstream_servers *servers, const struct sockaddr *addr)
{
	uint8_t buf[1 + 2 + 16 + 4];
	size_t len = 0;

	if (addr == NULL)
		return 0;
	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
		buf[len++] = 4;
		memcpy(buf + len, &sin->sin_port, 2);
		len += 2;
		memcpy(buf + len, &sin->sin_addr, 4);
		len += 4;
	} else if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)addr;
		buf[len++] = 6;
		memcpy(buf + len, &sin6->sin6_port, 2);
		len += 2;
		memcpy(buf + len, &sin6->sin6_addr, 16);
		len += 16;
		/* fe80::1%eth0 and fe80::1%eth1 are different servers. */
		memcpy(buf + len, &sin6->sin6_scope_id, 4);
		len += 4;
	} else {
		return 0;
	}
	return upstream_servers_hash(servers, buf, len);
}

uint64_t upstream_servers_addr_key(const struct upstream_servers *servers,
				   const struct sockaddr *addr)
{
	return server_key(servers, addr);
}

static size_t slot_index(uint64_t key, size_t step)
{
	/* The upper half picks the window, so the low bits of a key (the part
	 * that could show up elsewhere) do not decide the placement. */
	return (size_t)((key >> 32) + step) & (UPSTREAM_SERVERS_SLOTS - 1);
}

/* The slot holding `key`, or NULL. */
static struct upstream_server_slot *slot_find(struct upstream_servers *servers, uint64_t key)
{
	for (size_t i = 0; i < UPSTREAM_SERVERS_PROBE; i++) {
		struct upstream_server_slot *s = &servers->slots[slot_index(key, i)];
		uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
		if (k == key)
			return s;
		/* Slots are filled in probe order and never emptied. */
		if (k == 0)
			return NULL;
	}
	return NULL;
}

/* The slot holding `key`, claiming a free one or taking over the least
 * recently updated one of the window. NULL only under heavy contention. */
static struct upstream_server_slot *slot_get(struct upstream_servers *servers, uint64_t key,
					     uint64_t now_ms)
{
	for (int attempt = 0; attempt < 4; attempt++) {
		struct upstream_server_slot *lru = NULL;
		uint64_t lru_key = 0, lru_ms = UINT64_MAX;

		for (size_t i = 0; i < UPSTREAM_SERVERS_PROBE; i++) {
			struct upstream_server_slot *s = &servers->slots[slot_index(key, i)];
			uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
			if (k == key)
				return s;
			if (k == 0) {
				if (atomic_compare_exchange_strong_explicit(&s->key, &k, key,
									    memory_order_acq_rel,
									    memory_order_acquire)) {
					atomic_store_explicit(&s->last_ms, now_ms,
							      memory_order_relaxed);
					return s;
				}
				if (k == key) /* another worker inserted the same server */
					return s;
				continue;
			}
			/* A slot with queries in flight keeps its server: their
			 * in-flight units must go back where they came from. */
			if (atomic_load_explicit(&s->inflight, memory_order_relaxed) > 0)
				continue;
			uint64_t ms = atomic_load_explicit(&s->last_ms, memory_order_relaxed);
			if (ms < lru_ms) {
				lru = s;
				lru_key = k;
				lru_ms = ms;
			}
		}
		if (lru != NULL && atomic_compare_exchange_strong_explicit(&lru->key, &lru_key, key,
									   memory_order_acq_rel,
									   memory_order_acquire)) {
			atomic_store_explicit(&lru->stats, 0, memory_order_relaxed);
			atomic_store_explicit(&lru->caps, 0, memory_order_relaxed);
			atomic_store_explicit(&lru->last_ms, now_ms, memory_order_relaxed);
			return lru;
		}
	}
	return NULL;
}

struct upstream_servers *upstream_servers_create(void)
{
	struct upstream_servers *servers = calloc(1, sizeof(*servers));
	if (servers == NULL)
		return NULL;
	util_siphash_key_init(&servers->hash_key);
	for (size_t i = 0; i < UPSTREAM_SERVERS_SLOTS; i++) {
		atomic_init(&servers->slots[i].key, 0);
		atomic_init(&servers->slots[i].stats, 0);
		atomic_init(&servers->slots[i].last_ms, 0);
		atomic_init(&servers->slots[i].inflight, 0);
		atomic_init(&servers->slots[i].caps, 0);
	}
	for (size_t i = 0; i < UPSTREAM_ZONE_SLOTS; i++)
		atomic_init(&servers->zone_inflight[i], 0);
	for (size_t i = 0; i < UPSTREAM_SHARE_SLOTS; i++)
		atomic_init(&servers->share_inflight[i], 0);
	for (size_t i = 0; i < UPSTREAM_HEALTH_SLOTS; i++) {
		struct upstream_health_slot *h = &servers->health[i];
		atomic_init(&h->key, 0);
		atomic_init(&h->state, 0);
		atomic_init(&h->last_ms, 0);
		atomic_init(&h->inflight, 0);
		atomic_init(&h->unwanted, 0);
		atomic_init(&h->tcp_until_ms, 0);
		atomic_init(&h->unwanted_total, 0);
		atomic_init(&h->has_provider, false);
		atomic_flag_clear(&h->lock);
	}
	upstream_budget_init(&servers->budget);
	/* The counters start at zero (calloc). */
	upstream_provider_init(servers);
	return servers;
}

void upstream_servers_destroy(struct upstream_servers *servers)
{
	if (servers == NULL)
		return;
	upstream_provider_deinit(servers);
	free(servers);
}

void upstream_servers_get(struct upstream_servers *servers, const struct sockaddr *addr,
			  uint64_t now_ms, struct upstream_rtt *out)
{
	*out = (struct upstream_rtt){0};
	uint64_t key = server_key(servers, addr);
	if (key == 0)
		return;
	struct upstream_server_slot *s = slot_find(servers, key);
	if (s == NULL)
		return;
	upstream_rtt_unpack(atomic_load_explicit(&s->stats, memory_order_relaxed), out);
	upstream_rtt_age(out, atomic_load_explicit(&s->last_ms, memory_order_relaxed), now_ms);
}

/* Applies `sample` (or a timeout when `timeout`) to the estimate of `addr`. */
static void servers_update(struct upstream_servers *servers, const struct sockaddr *addr,
			   bool timeout, unsigned rtt_ms, uint64_t now_ms)
{
	uint64_t key = server_key(servers, addr);
	if (key == 0)
		return;
	struct upstream_server_slot *s = slot_get(servers, key, now_ms);
	if (s == NULL)
		return;
	uint64_t old = atomic_load_explicit(&s->stats, memory_order_relaxed);
	for (;;) {
		struct upstream_rtt r;
		upstream_rtt_unpack(old, &r);
		/* Apply the forgetting first, so a timeout after a long silence
		 * counts from a clean slate rather than from stale backoff. */
		upstream_rtt_age(&r, atomic_load_explicit(&s->last_ms, memory_order_relaxed),
				 now_ms);
		if (timeout)
			upstream_rtt_timeout(&r);
		else
			upstream_rtt_sample(&r, rtt_ms);
		if (atomic_compare_exchange_weak_explicit(&s->stats, &old, upstream_rtt_pack(&r),
							  memory_order_relaxed,
							  memory_order_relaxed))
			break;
	}
	atomic_store_explicit(&s->last_ms, now_ms, memory_order_relaxed);
}

void upstream_servers_sample(struct upstream_servers *servers, const struct sockaddr *addr,
			     unsigned rtt_ms, uint64_t now_ms)
{
	servers_update(servers, addr, false, rtt_ms, now_ms);
}

void upstream_servers_timeout(struct upstream_servers *servers, const struct sockaddr *addr,
			      uint64_t now_ms)
{
	servers_update(servers, addr, true, 0, now_ms);
}

size_t upstream_servers_count(struct upstream_servers *servers)
{
	size_t n = 0;
	for (size_t i = 0; i < UPSTREAM_SERVERS_SLOTS; i++)
		if (atomic_load_explicit(&servers->slots[i].key, memory_order_relaxed) != 0)
			n++;
	return n;
}

unsigned upstream_servers_rtt(struct upstream_servers *servers, const struct sockaddr *addr)
{
	struct upstream_rtt r;
	/* uv_now() of every loop is uv_hrtime() in ms, so this is the same base. */
	upstream_servers_get(servers, addr, uv_hrtime() / 1000000, &r);
	return upstream_rtt_score(&r);
}

_Atomic uint32_t *upstream_servers_inflight(struct upstream_servers *servers,
					    const struct sockaddr *addr, uint64_t now_ms)
{
	uint64_t key = server_key(servers, addr);
	if (key == 0)
		return NULL;
	struct upstream_server_slot *s = slot_get(servers, key, now_ms);
	return s != NULL ? &s->inflight : NULL;
}

unsigned upstream_servers_inflight_count(struct upstream_servers *servers,
					 const struct sockaddr *addr)
{
	uint64_t key = server_key(servers, addr);
	if (key == 0)
		return 0;
	struct upstream_server_slot *s = slot_find(servers, key);
	return s != NULL ? atomic_load_explicit(&s->inflight, memory_order_relaxed) : 0;
}

/* ---- 0x20: does the server keep the case of the question? ------------------------- */

#define CAPS_COUNT_MASK UINT64_C(0xff)

static uint64_t caps_until(uint64_t word)
{
	return word >> 8;
}

bool upstream_caps_allowed(uint64_t word, uint64_t now_ms)
{
	return caps_until(word) <= now_ms;
}

uint64_t upstream_caps_mismatch(uint64_t word, uint64_t now_ms, bool *learned)
{
	*learned = false;
	if (!upstream_caps_allowed(word, now_ms))
		return word; /* a query sent with caps before we learned it */
	uint64_t count = (word & CAPS_COUNT_MASK) + 1;
	if (caps_until(word) != 0)
		count = 1; /* a no-caps period ended: learn afresh */
	if (count < UPSTREAM_CAPS_MISMATCHES)
		return count;
	*learned = true;
	return (now_ms + UPSTREAM_CAPS_OFF_MS) << 8;
}

uint64_t upstream_caps_preserved(uint64_t word)
{
	return word & ~CAPS_COUNT_MASK;
}

bool upstream_servers_caps(struct upstream_servers *servers, const struct sockaddr *addr,
			   uint64_t now_ms)
{
	uint64_t key = server_key(servers, addr);
	struct upstream_server_slot *s = key != 0 ? slot_find(servers, key) : NULL;
	return s == NULL ||
	       upstream_caps_allowed(atomic_load_explicit(&s->caps, memory_order_relaxed), now_ms);
}

bool upstream_servers_caps_mismatch(struct upstream_servers *servers, const struct sockaddr *addr,
				    uint64_t now_ms)
{
	uint64_t key = server_key(servers, addr);
	struct upstream_server_slot *s = key != 0 ? slot_get(servers, key, now_ms) : NULL;
	bool learned = false;
	if (s == NULL)
		return false;
	uint64_t old = atomic_load_explicit(&s->caps, memory_order_relaxed);
	for (;;) {
		uint64_t word = upstream_caps_mismatch(old, now_ms, &learned);
		if (word == old || atomic_compare_exchange_weak_explicit(&s->caps, &old, word,
									 memory_order_relaxed,
									 memory_order_relaxed))
			break;
	}
	return learned;
}

void upstream_servers_caps_preserved(struct upstream_servers *servers, const struct sockaddr *addr)
{
	uint64_t key = server_key(servers, addr);
	struct upstream_server_slot *s = key != 0 ? slot_find(servers, key) : NULL;
	if (s == NULL)
		return;
	uint64_t old = atomic_load_explicit(&s->caps, memory_order_relaxed);
	for (;;) {
		uint64_t word = upstream_caps_preserved(old);
		if (word == old || atomic_compare_exchange_weak_explicit(&s->caps, &old, word,
									 memory_order_relaxed,
									 memory_order_relaxed))
			break;
	}
}

bool upstream_inflight_take(_Atomic uint32_t *counter, unsigned cap)
{
	uint32_t old = atomic_load_explicit(counter, memory_order_relaxed);
	do {
		if (cap > 0 && old >= cap)
			return false;
		if (old == UINT32_MAX)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
		counter, &old, old + 1, memory_order_relaxed, memory_order_relaxed));
	return true;
}

void upstream_inflight_put(_Atomic uint32_t *counter)
{
	uint32_t old = atomic_load_explicit(counter, memory_order_relaxed);
	do {
		if (old == 0)
			return;
	} while (!atomic_compare_exchange_weak_explicit(
		counter, &old, old - 1, memory_order_relaxed, memory_order_relaxed));
}

void upstream_servers_counters(struct upstream_servers *servers, struct upstream_counters *out)
{
	const struct upstream_stats *st = &servers->stats;
#define LOAD(f) atomic_load_explicit(&st->f, memory_order_relaxed)
	*out = (struct upstream_counters){
		.queries = LOAD(queries),
		.retries = LOAD(retries),
		.hedges = LOAD(hedges),
		.timeouts = LOAD(timeouts),
		.breaker_opens = LOAD(breaker_opens),
		.breaker_closes = LOAD(breaker_closes),
		.refused_breaker = LOAD(refused_breaker),
		.refused_budget = LOAD(refused_budget),
		.refused_inflight = LOAD(refused_inflight),
		.caps_mismatches = LOAD(caps_mismatches),
		.caps_fallbacks = LOAD(caps_fallbacks),
		.unwanted = LOAD(unwanted),
		.unwanted_tcp_switches = LOAD(unwanted_tcp_switches),
		.unwanted_tcp_queries = LOAD(unwanted_tcp_queries),
		.refused_client_inflight = LOAD(refused_client_inflight),
		.refused_client_budget = LOAD(refused_client_budget),
		.outgoing_range_full = LOAD(outgoing_range_full),
		.fd_exhausted = LOAD(fd_exhausted),
	};
#undef LOAD
}
