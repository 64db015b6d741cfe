/*
 * upstream/health.c — health per (server address, zone): circuit breakers.
 *
 * A provider that stops answering for one zone while it serves thousands of
 * others is not dead for the others, so health is kept per (address, zone)
 * while the RTT estimate (servers.c) stays per address.
 *
 * The breaker: consecutive network failures (timeouts, network errors) are
 * counted and any response resets them. At `threshold` the breaker OPENs
 * and selection skips the server for the zone. When the cool-down ends
 * (cooldown_ms, doubled per consecutive open up to cooldown_max_ms, with
 * full jitter in [cool/2, cool]) the breaker admits exactly ONE probe, a
 * real query (HALF_OPEN); its success CLOSEs the breaker, its failure
 * re-opens it with the doubled cool-down. The first half of this file is
 * that state machine as pure functions (time and randomness are arguments).
 *
 * Sharing across workers, no lock on the query path:
 *  - an entry's whole breaker state is one 64-bit atomic word, changed by
 *    CAS loops; so "take the probe" is won by exactly one worker;
 *  - in-flight counts (per entry; per zone and per (zone, client key) in
 *    two tables of bare counters indexed by keyed hash, which cannot fill)
 *    are atomics taken with a CAS loop that respects the cap;
 *  - the table is open addressing like servers.c: a slot is claimed with a
 *    CAS on its key (a keyed hash of address and lower-cased zone name);
 *    only idle slots (nothing in flight, breaker closed) are taken over
 *    when a window is full, the least recently used first;
 *  - the names kept for the health dump (address, zone, provider) are
 *    guarded by a spin flag per slot, held for one copy of < 1 KiB, taken
 *    when a slot is claimed, when a provider is recorded and by the dump.
 *  - unwanted replies: a window count packed in one word (CAS loop), and
 *    the end of a TCP-only period that the threshold-th one sets.
 * An entry's key is re-checked before an outcome is applied, so an entry
 * taken over meanwhile is left alone. Two (server, zone) pairs whose 64-bit
 * keyed hashes collide would share an entry (accepted, as in servers.c).
 *
 * Logs nothing: the caller (upstream.c) logs the transitions it is told of,
 * with its own names for the server and the zone.
 */
#include "upstream/upstream.h"
#include "upstream/impl.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "dns/dns.h"
#include "util/sockaddr.h"

/* ---- the breaker as arithmetic ----------------------------------------------- */

/* Word layout: failures 8 | state 2 | opens 6 | probing 1 | until_ms 47
 * (47 bits of milliseconds since boot last 4000 years). */
#define ST_STATE_SHIFT 8
#define ST_OPENS_SHIFT 10
#define ST_PROBING_BIT (UINT64_C(1) << 16)
#define ST_UNTIL_SHIFT 17
#define ST_UNTIL_MASK ((UINT64_C(1) << 47) - 1)
#define ST_OPENS_MAX 63u

uint64_t upstream_breaker_pack(const struct upstream_breaker_state *s)
{
	uint64_t w = (uint64_t)s->failures | ((uint64_t)(s->state & 3) << ST_STATE_SHIFT) |
		     ((uint64_t)(s->opens & ST_OPENS_MAX) << ST_OPENS_SHIFT) |
		     ((s->until_ms & ST_UNTIL_MASK) << ST_UNTIL_SHIFT);
	if (s->probing)
		w |= ST_PROBING_BIT;
	return w;
}

void upstream_breaker_unpack(uint64_t word, struct upstream_breaker_state *s)
{
	s->failures = (uint8_t)(word & 0xff);
	s->state = (uint8_t)((word >> ST_STATE_SHIFT) & 3);
	s->opens = (uint8_t)((word >> ST_OPENS_SHIFT) & ST_OPENS_MAX);
	s->probing = (word & ST_PROBING_BIT) != 0;
	s->until_ms = (word >> ST_UNTIL_SHIFT) & ST_UNTIL_MASK;
}

enum upstream_health_verdict upstream_breaker_check(const struct upstream_breaker_state *s,
						    uint64_t now_ms)
{
	switch (s->state) {
	case UPSTREAM_BREAKER_OPEN:
		return now_ms >= s->until_ms ? UPSTREAM_HEALTH_PROBE : UPSTREAM_HEALTH_SKIP;
	case UPSTREAM_BREAKER_HALF_OPEN:
		/* A probe whose lease ran out is presumed lost (its worker
		 * went away): another query may probe. */
		return s->probing && now_ms < s->until_ms ? UPSTREAM_HEALTH_SKIP
							  : UPSTREAM_HEALTH_PROBE;
	default:
		return UPSTREAM_HEALTH_ALLOW;
	}
}

enum upstream_breaker upstream_breaker_seen(const struct upstream_breaker_state *s, uint64_t now_ms)
{
	if (s->state == UPSTREAM_BREAKER_OPEN && now_ms >= s->until_ms)
		return UPSTREAM_BREAKER_HALF_OPEN;
	return (enum upstream_breaker)s->state;
}

bool upstream_breaker_claim(struct upstream_breaker_state *s, uint64_t now_ms, unsigned lease_ms)
{
	if (upstream_breaker_check(s, now_ms) != UPSTREAM_HEALTH_PROBE)
		return false;
	s->state = UPSTREAM_BREAKER_HALF_OPEN;
	s->probing = true;
	s->until_ms = now_ms + lease_ms;
	return true;
}

bool upstream_breaker_success(struct upstream_breaker_state *s)
{
	bool was_open = s->state != UPSTREAM_BREAKER_CLOSED;
	*s = (struct upstream_breaker_state){0};
	return was_open;
}

unsigned upstream_breaker_cooldown(const struct upstream_breaker_params *p, unsigned opens,
				   uint32_t rnd)
{
	uint64_t cap = p->cooldown_max_ms > p->cooldown_ms ? p->cooldown_max_ms : p->cooldown_ms;
	uint64_t cool = p->cooldown_ms;
	for (unsigned i = 1; i < opens && cool < cap; i++)
		cool *= 2;
	if (cool > cap)
		cool = cap;
	/* Full jitter, so breakers opened by one outage do not probe in step. */
	uint64_t lo = cool / 2;
	return (unsigned)(lo + rnd % (cool - lo + 1));
}

/* Opens (again): the `opens`-th consecutive cool-down starts now. */
static void breaker_open(struct upstream_breaker_state *s, uint64_t now_ms,
			 const struct upstream_breaker_params *p, uint32_t rnd)
{
	if (s->opens < ST_OPENS_MAX)
		s->opens++;
	s->state = UPSTREAM_BREAKER_OPEN;
	s->probing = false;
	s->until_ms = now_ms + upstream_breaker_cooldown(p, s->opens, rnd);
}

bool upstream_breaker_failure(struct upstream_breaker_state *s, uint64_t now_ms,
			      const struct upstream_breaker_params *p, bool probe, uint32_t rnd)
{
	if (s->failures < UINT8_MAX)
		s->failures++;
	switch (s->state) {
	case UPSTREAM_BREAKER_CLOSED:
		if (p->threshold == 0 || s->failures < p->threshold)
			return false;
		s->opens = 0;
		breaker_open(s, now_ms, p, rnd);
		return true;
	case UPSTREAM_BREAKER_HALF_OPEN:
		/* Only the probe's failure re-opens; a query sent before the
		 * breaker opened may fail late without changing anything. */
		if (!probe || !s->probing)
			return false;
		breaker_open(s, now_ms, p, rnd);
		return true;
	default:
		return false;
	}
}

void upstream_breaker_release(struct upstream_breaker_state *s, bool probe)
{
	if (!probe || s->state != UPSTREAM_BREAKER_HALF_OPEN || !s->probing)
		return;
	s->probing = false;
	s->until_ms = 0;
}

/* ---- the shared table -------------------------------------------------------------- */

static void lock_names(struct upstream_health_slot *h)
{
	while (atomic_flag_test_and_set_explicit(&h->lock, memory_order_acquire))
		;
}

static void unlock_names(struct upstream_health_slot *h)
{
	atomic_flag_clear_explicit(&h->lock, memory_order_release);
}

uint64_t upstream_zone_key(const struct upstream_servers *servers, const uint8_t *zone, size_t len)
{
	uint8_t buf[1 + 255];
	size_t n = 0;

	buf[n++] = 'z'; /* the root hashes to something too */
	for (size_t i = 0; i < len && n < sizeof(buf); i++) {
		uint8_t c = zone[i];
		buf[n++] = (c >= 'A' && c <= 'Z') ? (uint8_t)(c - 'A' + 'a') : c;
	}
	return upstream_servers_hash(servers, buf, n);
}

uint64_t upstream_health_key(const struct upstream_servers *servers, const struct sockaddr *addr,
			     uint64_t zone_key)
{
	uint64_t in[2] = {upstream_servers_addr_key(servers, addr), zone_key};
	return upstream_servers_hash(servers, in, sizeof(in));
}

static size_t index_of(uint64_t key, size_t step, size_t slots)
{
	return (size_t)((key >> 32) + step) & (slots - 1);
}

static struct upstream_health_slot *health_find(struct upstream_servers *servers, uint64_t key)
{
	for (size_t i = 0; i < UPSTREAM_HEALTH_PROBE; i++) {
		struct upstream_health_slot *h =
			&servers->health[index_of(key, i, UPSTREAM_HEALTH_SLOTS)];
		uint64_t k = atomic_load_explicit(&h->key, memory_order_acquire);
		if (k == key)
			return h;
		if (k == 0)
			return NULL;
	}
	return NULL;
}

/* Whether slot `h` may be taken over: nothing in flight, breaker closed. */
static bool health_idle(struct upstream_health_slot *h)
{
	struct upstream_breaker_state st;
	if (atomic_load_explicit(&h->inflight, memory_order_relaxed) > 0)
		return false;
	upstream_breaker_unpack(atomic_load_explicit(&h->state, memory_order_relaxed), &st);
	return st.state == UPSTREAM_BREAKER_CLOSED;
}

/* A freshly claimed slot: a clean breaker and the names. */
static void health_init_slot(struct upstream_health_slot *h, const struct sockaddr *addr,
			     const uint8_t *zone, size_t zone_len, uint64_t now_ms)
{
	atomic_store_explicit(&h->state, 0, memory_order_relaxed);
	atomic_store_explicit(&h->unwanted, 0, memory_order_relaxed);
	atomic_store_explicit(&h->tcp_until_ms, 0, memory_order_relaxed);
	atomic_store_explicit(&h->unwanted_total, 0, memory_order_relaxed);
	atomic_store_explicit(&h->last_ms, now_ms, memory_order_relaxed);
	lock_names(h);
	memset(&h->addr, 0, sizeof(h->addr));
	memcpy(&h->addr, addr, util_sockaddr_len(addr));
	if (zone_len > sizeof(h->zone))
		zone_len = sizeof(h->zone);
	if (zone_len == 0) {
		h->zone[0] = 0;
		zone_len = 1;
	} else {
		for (size_t i = 0; i < zone_len; i++) {
			uint8_t c = zone[i];
			h->zone[i] = (c >= 'A' && c <= 'Z') ? (uint8_t)(c - 'A' + 'a') : c;
		}
	}
	h->zone_len = (uint8_t)zone_len;
	h->provider[0] = '\0';
	atomic_store_explicit(&h->has_provider, false, memory_order_relaxed);
	unlock_names(h);
}

/* The slot of `key`, claiming a free one or taking over the least recently
 * used idle one of the window. NULL when none can be had. */
static struct upstream_health_slot *health_get(struct upstream_servers *servers, uint64_t key,
					       const struct sockaddr *addr, const uint8_t *zone,
					       size_t zone_len, uint64_t now_ms)
{
	for (int attempt = 0; attempt < 4; attempt++) {
		struct upstream_health_slot *lru = NULL;
		uint64_t lru_key = 0, lru_ms = UINT64_MAX;

		for (size_t i = 0; i < UPSTREAM_HEALTH_PROBE; i++) {
			struct upstream_health_slot *h =
				&servers->health[index_of(key, i, UPSTREAM_HEALTH_SLOTS)];
			uint64_t k = atomic_load_explicit(&h->key, memory_order_acquire);
			if (k == key)
				return h;
			if (k == 0) {
				if (atomic_compare_exchange_strong_explicit(&h->key, &k, key,
									    memory_order_acq_rel,
									    memory_order_acquire)) {
					health_init_slot(h, addr, zone, zone_len, now_ms);
					return h;
				}
				if (k == key)
					return h;
				continue;
			}
			if (!health_idle(h))
				continue;
			uint64_t ms = atomic_load_explicit(&h->last_ms, memory_order_relaxed);
			if (ms < lru_ms) {
				lru = h;
				lru_key = k;
				lru_ms = ms;
			}
		}
		if (lru != NULL && atomic_compare_exchange_strong_explicit(&lru->key, &lru_key, key,
									   memory_order_acq_rel,
									   memory_order_acquire)) {
			health_init_slot(lru, addr, zone, zone_len, now_ms);
			return lru;
		}
	}
	return NULL;
}

enum upstream_health_verdict upstream_health_check(struct upstream_servers *servers, uint64_t hkey,
						   uint64_t now_ms)
{
	struct upstream_health_slot *h = health_find(servers, hkey);
	if (h == NULL)
		return UPSTREAM_HEALTH_ALLOW;
	struct upstream_breaker_state st;
	upstream_breaker_unpack(atomic_load_explicit(&h->state, memory_order_acquire), &st);
	return upstream_breaker_check(&st, now_ms);
}

/* The zone's counter: the table has no keys, so it cannot fill and every
 * zone is counted (issue 12: the cap is never skipped). */
static _Atomic uint32_t *zone_counter(struct upstream_servers *servers, uint64_t zone_key)
{
	return &servers->zone_inflight[(size_t)(zone_key >> 32) & (UPSTREAM_ZONE_SLOTS - 1)];
}

/* The counter of (zone, client key): a keyed hash of both, so nobody can
 * aim a collision at another client's counter. */
static _Atomic uint32_t *share_counter(struct upstream_servers *servers, uint64_t zone_key,
				       uint64_t client_key)
{
	uint64_t in[2] = {zone_key, client_key};
	uint64_t h = upstream_servers_hash(servers, in, sizeof(in));
	return &servers->share_inflight[(size_t)(h >> 32) & (UPSTREAM_SHARE_SLOTS - 1)];
}

unsigned upstream_health_zone_inflight(struct upstream_servers *servers, uint64_t zone_key)
{
	return atomic_load_explicit(zone_counter(servers, zone_key), memory_order_relaxed);
}

enum upstream_zone_verdict upstream_health_zone_take(struct upstream_servers *servers,
						     uint64_t zone_key, uint64_t client_key,
						     unsigned cap, unsigned share_percent,
						     struct upstream_claim *c)
{
	_Atomic uint32_t *zone = zone_counter(servers, zone_key);
	_Atomic uint32_t *mine = share_counter(servers, zone_key, client_key);
	uint64_t share =
		cap > 0 ? upstream_share_of(cap, share_percent, UPSTREAM_SHARE_MIN_INFLIGHT) : 0;

	c->zone_inflight = NULL;
	c->share_inflight = NULL;
	/* The share first, judged on the zone's count now; then the zone's
	 * unit under its cap (a CAS: the cap is exact), the share's unit
	 * given back when the zone is full. */
	uint32_t used = atomic_load_explicit(zone, memory_order_relaxed);
	if (cap > 0 && used >= cap)
		return UPSTREAM_ZONE_FULL;
	uint32_t held = atomic_load_explicit(mine, memory_order_relaxed);
	do {
		if (cap > 0 && !upstream_share_allows(cap, used, held, share))
			return UPSTREAM_ZONE_SHARE;
	} while (!atomic_compare_exchange_weak_explicit(mine, &held, held + 1, memory_order_relaxed,
							memory_order_relaxed));
	if (!upstream_inflight_take(zone, cap)) {
		upstream_inflight_put(mine);
		return UPSTREAM_ZONE_FULL;
	}
	c->zone_inflight = zone;
	c->share_inflight = mine;
	return UPSTREAM_ZONE_TAKEN;
}

bool upstream_health_take(struct upstream_servers *servers, uint64_t hkey,
			  const struct sockaddr *addr, const uint8_t *zone, size_t zone_len,
			  const char *provider, uint64_t now_ms, bool probe, unsigned lease_ms,
			  struct upstream_claim *c)
{
	c->health = NULL;
	c->health_key = hkey;
	c->probe = false;
	c->recorded = false;

	struct upstream_health_slot *h = health_get(servers, hkey, addr, zone, zone_len, now_ms);
	if (h == NULL)
		return !probe;
	if (probe) {
		uint64_t old = atomic_load_explicit(&h->state, memory_order_acquire);
		for (;;) {
			struct upstream_breaker_state st;
			upstream_breaker_unpack(old, &st);
			if (!upstream_breaker_claim(&st, now_ms, lease_ms))
				return false; /* another query is the probe */
			if (atomic_compare_exchange_weak_explicit(
				    &h->state, &old, upstream_breaker_pack(&st),
				    memory_order_acq_rel, memory_order_acquire))
				break;
		}
		c->probe = true;
	}
	atomic_fetch_add_explicit(&h->inflight, 1, memory_order_relaxed);
	atomic_store_explicit(&h->last_ms, now_ms, memory_order_relaxed);
	if (provider != NULL && provider[0] != '\0' &&
	    !atomic_load_explicit(&h->has_provider, memory_order_relaxed)) {
		lock_names(h);
		snprintf(h->provider, sizeof(h->provider), "%s", provider);
		atomic_store_explicit(&h->has_provider, true, memory_order_relaxed);
		unlock_names(h);
	}
	c->health = h;
	return true;
}

void upstream_health_record(struct upstream_servers *servers, struct upstream_claim *c, bool ok,
			    uint64_t now_ms, const struct upstream_breaker_params *p, uint32_t rnd,
			    struct upstream_health_event *ev)
{
	struct upstream_health_slot *h = c->health;

	*ev = (struct upstream_health_event){0};
	if (h == NULL || c->recorded)
		return;
	c->recorded = true;
	/* Taken over meanwhile (cannot happen while we hold an in-flight
	 * unit, but the take-over check and its CAS are not one step). */
	if (atomic_load_explicit(&h->key, memory_order_acquire) != c->health_key)
		return;
	uint64_t old = atomic_load_explicit(&h->state, memory_order_acquire);
	struct upstream_breaker_state st;
	for (;;) {
		upstream_breaker_unpack(old, &st);
		if (ok)
			ev->closed = upstream_breaker_success(&st);
		else
			ev->opened = upstream_breaker_failure(&st, now_ms, p, c->probe, rnd);
		uint64_t word = upstream_breaker_pack(&st);
		if (word == old || atomic_compare_exchange_weak_explicit(&h->state, &old, word,
									 memory_order_acq_rel,
									 memory_order_acquire))
			break;
	}
	atomic_store_explicit(&h->last_ms, now_ms, memory_order_relaxed);
	ev->failures = st.failures;
	ev->opens = st.opens;
	ev->cooldown_ms = ev->opened && st.until_ms > now_ms ? (unsigned)(st.until_ms - now_ms) : 0;
	if (ev->opened)
		UPSTREAM_COUNT(servers, breaker_opens);
	if (ev->closed)
		UPSTREAM_COUNT(servers, breaker_closes);
}

void upstream_health_release(struct upstream_servers *servers, struct upstream_claim *c)
{
	if (c->server_inflight != NULL)
		upstream_inflight_put(c->server_inflight);
	if (c->zone_inflight != NULL)
		upstream_inflight_put(c->zone_inflight);
	if (c->share_inflight != NULL)
		upstream_inflight_put(c->share_inflight);
	struct upstream_health_slot *h = c->health;
	if (h != NULL) {
		if (c->probe && !c->recorded &&
		    atomic_load_explicit(&h->key, memory_order_acquire) == c->health_key) {
			uint64_t old = atomic_load_explicit(&h->state, memory_order_acquire);
			for (;;) {
				struct upstream_breaker_state st;
				upstream_breaker_unpack(old, &st);
				upstream_breaker_release(&st, true);
				uint64_t word = upstream_breaker_pack(&st);
				if (word == old ||
				    atomic_compare_exchange_weak_explicit(&h->state, &old, word,
									  memory_order_acq_rel,
									  memory_order_acquire))
					break;
			}
		}
		upstream_inflight_put(&h->inflight);
	}
	*c = (struct upstream_claim){0};
}

/* ---- unwanted replies per (server, zone) ------------------------------------------ */

#define UNWANTED_COUNT_MASK UINT64_C(0xffff)

uint64_t upstream_unwanted_step(uint64_t word, uint64_t now_ms, unsigned threshold, bool *tripped)
{
	uint64_t start = word >> 16, count = word & UNWANTED_COUNT_MASK;

	if (count == 0 || now_ms < start || now_ms - start >= UPSTREAM_UNWANTED_WINDOW_MS) {
		start = now_ms; /* a new window */
		count = 0;
	}
	if (count < UNWANTED_COUNT_MASK)
		count++;
	*tripped = threshold > 0 && count == threshold;
	return start << 16 | count;
}

bool upstream_health_unwanted(struct upstream_servers *servers, const struct upstream_claim *c,
			      uint64_t now_ms, unsigned threshold)
{
	struct upstream_health_slot *h = c->health;
	bool tripped = false;

	UPSTREAM_COUNT(servers, unwanted);
	if (h == NULL || atomic_load_explicit(&h->key, memory_order_acquire) != c->health_key)
		return false;
	atomic_fetch_add_explicit(&h->unwanted_total, 1, memory_order_relaxed);
	uint64_t old = atomic_load_explicit(&h->unwanted, memory_order_relaxed);
	for (;;) {
		uint64_t word = upstream_unwanted_step(old, now_ms, threshold, &tripped);
		if (atomic_compare_exchange_weak_explicit(
			    &h->unwanted, &old, word, memory_order_relaxed, memory_order_relaxed))
			break;
	}
	if (!tripped)
		return false;
	/* Exactly one message per window trips (the CAS orders them), so the
	 * switch is decided once; a switch that only extends the TCP period
	 * is not news. */
	uint64_t was = atomic_exchange_explicit(&h->tcp_until_ms, now_ms + UPSTREAM_UNWANTED_TCP_MS,
						memory_order_relaxed);
	if (was > now_ms)
		return false;
	UPSTREAM_COUNT(servers, unwanted_tcp_switches);
	return true;
}

bool upstream_health_tcp(const struct upstream_claim *c, uint64_t now_ms)
{
	struct upstream_health_slot *h = c->health;
	return h != NULL && atomic_load_explicit(&h->key, memory_order_acquire) == c->health_key &&
	       atomic_load_explicit(&h->tcp_until_ms, memory_order_relaxed) > now_ms;
}

void upstream_servers_health(struct upstream_servers *servers, upstream_health_cb cb, void *arg)
{
	/* The same base as uv_now() on every loop. */
	uint64_t now_ms = uv_hrtime() / 1000000;

	if (servers == NULL || cb == NULL)
		return;
	for (size_t i = 0; i < UPSTREAM_HEALTH_SLOTS; i++) {
		struct upstream_health_slot *h = &servers->health[i];
		uint64_t key = atomic_load_explicit(&h->key, memory_order_acquire);
		if (key == 0)
			continue;
		struct upstream_health_info info;
		uint8_t zone[255];
		size_t zone_len;

		memset(&info, 0, sizeof(info));
		lock_names(h);
		info.addr = h->addr;
		zone_len = h->zone_len;
		memcpy(zone, h->zone, zone_len);
		snprintf(info.provider, sizeof(info.provider), "%s", h->provider);
		unlock_names(h);
		if (zone_len == 0)
			continue; /* being claimed right now */

		struct upstream_breaker_state st;
		upstream_breaker_unpack(atomic_load_explicit(&h->state, memory_order_acquire), &st);
		dns_name_wire_str(zone, zone_len, info.zone, sizeof(info.zone));
		info.failures = st.failures;
		info.breaker = upstream_breaker_seen(&st, now_ms);
		if (info.breaker == UPSTREAM_BREAKER_OPEN && st.until_ms > now_ms)
			info.cooldown_left_ms = (unsigned)(st.until_ms - now_ms);
		info.inflight = atomic_load_explicit(&h->inflight, memory_order_relaxed);
		info.unwanted = atomic_load_explicit(&h->unwanted_total, memory_order_relaxed);
		uint64_t tcp_until = atomic_load_explicit(&h->tcp_until_ms, memory_order_relaxed);
		if (tcp_until > now_ms)
			info.tcp_left_ms = (unsigned)(tcp_until - now_ms);
		info.no_caps = !upstream_servers_caps(servers, (const struct sockaddr *)&info.addr,
						      now_ms);

		struct upstream_rtt r;
		upstream_servers_get(servers, (const struct sockaddr *)&info.addr, now_ms, &r);
		info.srtt_ms = r.measured ? (r.srtt_us + 500) / 1000 : 0;
		info.rto_ms = upstream_rtt_score(&r);
		cb(arg, &info);
	}
}
