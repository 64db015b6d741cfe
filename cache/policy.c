/*
 * policy — the cache's decisions about data that is expired, missing or
 * suddenly empty: may the authorities be asked now (RFC 9520 failure
 * caching, RFC 8767 stale refresh back-off, the empty-answer guard's
 * re-check interval), and when does observed emptiness replace the last
 * good answer. Pure functions of the policy, a qstate and `now`: no clock,
 * no tables, so they are tested with a fake clock.
 */
#include <string.h>

#include "cache/cache.h"

void cache_policy_init(struct cache_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->serve_stale = true;
	p->stale_answer_ttl = 30;
	p->stale_refresh_time = 30;
	p->fail_min = 1;
	p->fail_max = 300;
	p->empty_guard = true;
	p->empty_hold = 600;
}

enum cache_refresh cache_policy_refresh(const struct cache_policy *p, const struct cache_qstate *st,
					bool have_stale, uint64_t now)
{
	/* Guarding: the authorities were asked recently and said "empty". */
	if (st->empty_since && now < st->empty_checked + p->stale_refresh_time)
		return CACHE_REFRESH_GUARD_HOLD;
	/* RFC 8767 §4: after a failed refresh, stale data is answered without
	 * trying again for stale-refresh-time. */
	if (have_stale && p->serve_stale && st->failed_at &&
	    now < st->failed_at + p->stale_refresh_time)
		return CACHE_REFRESH_STALE_HOLD;
	/* RFC 9520 §3.2: a cached failure is answered without new queries. */
	if (st->fail_until && now < st->fail_until)
		return CACHE_REFRESH_FAILED;
	return CACHE_REFRESH_ASK;
}

void cache_policy_note_failure(const struct cache_policy *p, struct cache_qstate *st, uint64_t now)
{
	if (st->failures < UINT32_MAX)
		st->failures++;
	/* 1 s, 2 s, 4 s, ... at most fail_max (RFC 9520 §3.2: at least 1 s,
	 * at most 5 minutes, exponential with repeated failure). */
	uint64_t backoff = p->fail_min ? p->fail_min : 1;
	for (uint32_t i = 1; i < st->failures && backoff < p->fail_max; i++)
		backoff *= 2;
	if (backoff > p->fail_max)
		backoff = p->fail_max;
	st->failed_at = now;
	st->fail_until = now + backoff;
}

bool cache_policy_note_success(struct cache_qstate *st)
{
	bool changed = st->failures || st->failed_at || st->fail_until || st->empty_since;
	st->failures = 0;
	st->failed_at = 0;
	st->fail_until = 0;
	st->empty_since = 0;
	st->empty_checked = 0;
	st->empty_rcode = 0;
	return changed;
}

enum cache_guard cache_policy_guard_empty(const struct cache_policy *p, struct cache_qstate *st,
					  uint8_t rcode, uint64_t now)
{
	if (!st->empty_since || st->empty_rcode != rcode) {
		st->empty_since = now; /* a new kind of emptiness starts a new window */
		st->empty_rcode = rcode;
	}
	st->empty_checked = now;
	/* Strictly more: `now` has whole seconds, and the window must have
	 * passed in full however early in its first second it started. */
	if (now - st->empty_since > p->empty_hold) {
		st->empty_since = 0;
		st->empty_checked = 0;
		st->empty_rcode = 0;
		return CACHE_GUARD_ACCEPT;
	}
	return CACHE_GUARD_HOLD;
}
