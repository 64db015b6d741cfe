/*
 * upstream/rtt.c — the arithmetic of server selection.
 *
 * One server's estimate follows RFC 6298 (smoothed RTT, RTT variance,
 * RTO = SRTT + 4 * RTTVAR, doubling on each consecutive timeout) and the
 * choice among candidates is "lowest expected RTT, with a little
 * exploration". Pure functions: time and random numbers are arguments, so
 * the tests drive them with a fake clock. Does no I/O, reads no clock and
 * touches no shared state (servers.c stores the packed estimates).
 */
#include "upstream/impl.h"

/* Field widths of the packed word: 28 + 28 + 7 + 1 bits. 2^28 us is about
 * 268 s, above UPSTREAM_RTT_SAMPLE_MAX_MS, so nothing is ever cut. */
#define RTT_BITS 28
#define RTT_MASK ((UINT64_C(1) << RTT_BITS) - 1)
#define TIMEOUTS_SHIFT (2 * RTT_BITS)
#define TIMEOUTS_MASK UINT64_C(0x7f)
#define MEASURED_BIT (UINT64_C(1) << 63)

_Static_assert((uint64_t)UPSTREAM_RTT_SAMPLE_MAX_MS * 1000 <= RTT_MASK,
	       "RTT samples must fit the packed fields");
_Static_assert(UPSTREAM_RTT_TIMEOUTS_MAX <= TIMEOUTS_MASK, "timeouts must fit the packed field");

uint64_t upstream_rtt_pack(const struct upstream_rtt *r)
{
	uint64_t w = ((uint64_t)r->srtt_us & RTT_MASK) |
		     (((uint64_t)r->rttvar_us & RTT_MASK) << RTT_BITS) |
		     (((uint64_t)r->timeouts & TIMEOUTS_MASK) << TIMEOUTS_SHIFT);
	if (r->measured)
		w |= MEASURED_BIT;
	return w;
}

void upstream_rtt_unpack(uint64_t word, struct upstream_rtt *r)
{
	r->srtt_us = (uint32_t)(word & RTT_MASK);
	r->rttvar_us = (uint32_t)((word >> RTT_BITS) & RTT_MASK);
	r->timeouts = (uint8_t)((word >> TIMEOUTS_SHIFT) & TIMEOUTS_MASK);
	r->measured = (word & MEASURED_BIT) != 0;
}

void upstream_rtt_sample(struct upstream_rtt *r, unsigned rtt_ms)
{
	if (rtt_ms > UPSTREAM_RTT_SAMPLE_MAX_MS)
		rtt_ms = UPSTREAM_RTT_SAMPLE_MAX_MS;
	uint64_t sample = (uint64_t)rtt_ms * 1000;

	if (!r->measured) {
		/* RFC 6298 §2.2: the first measurement R gives SRTT = R, RTTVAR = R/2. */
		r->srtt_us = (uint32_t)sample;
		r->rttvar_us = (uint32_t)(sample / 2);
	} else {
		/* RFC 6298 §2.3: RTTVAR first (it uses the old SRTT), beta = 1/4,
		 * alpha = 1/8. */
		uint64_t srtt = r->srtt_us;
		uint64_t diff = srtt > sample ? srtt - sample : sample - srtt;
		r->rttvar_us = (uint32_t)((3 * (uint64_t)r->rttvar_us + diff) / 4);
		r->srtt_us = (uint32_t)((7 * srtt + sample) / 8);
	}
	r->measured = true;
	/* RFC 6298 §5.7 keeps the backed-off RTO until a new sample; the sample
	 * is here, so the backoff ends. */
	r->timeouts = 0;
}

void upstream_rtt_timeout(struct upstream_rtt *r)
{
	if (r->timeouts < UPSTREAM_RTT_TIMEOUTS_MAX)
		r->timeouts++;
}

void upstream_rtt_age(struct upstream_rtt *r, uint64_t last_ms, uint64_t now_ms)
{
	if (!r->measured && r->timeouts == 0)
		return;
	/* Another worker's clock read may be a little ahead of ours. */
	uint64_t idle = now_ms > last_ms ? now_ms - last_ms : 0;
	if (idle >= UPSTREAM_RTT_FORGET_MS) {
		*r = (struct upstream_rtt){0};
		return;
	}
	uint64_t forgiven = idle / UPSTREAM_RTT_DECAY_MS;
	r->timeouts = forgiven >= r->timeouts ? 0 : (uint8_t)(r->timeouts - forgiven);
}

unsigned upstream_rtt_rto(const struct upstream_rtt *r)
{
	if (!r->measured)
		return UPSTREAM_RTT_UNKNOWN_MS;
	/* RFC 6298 §2.3 with a clock granularity G of 1 ms (uv_now). */
	uint64_t var = 4 * (uint64_t)r->rttvar_us;
	if (var < 1000)
		var = 1000;
	return (unsigned)(((uint64_t)r->srtt_us + var + 999) / 1000);
}

/* `base` doubled `times` times, without passing `cap`. */
static unsigned backoff(unsigned base, unsigned times, unsigned cap)
{
	uint64_t v = base;
	for (unsigned i = 0; i < times && v < cap; i++)
		v *= 2;
	return v > cap ? cap : (unsigned)v;
}

unsigned upstream_rtt_score(const struct upstream_rtt *r)
{
	unsigned rto = upstream_rtt_rto(r);
	if (rto > UPSTREAM_RTT_SCORE_MAX_MS)
		rto = UPSTREAM_RTT_SCORE_MAX_MS;
	return backoff(rto, r->timeouts, UPSTREAM_RTT_SCORE_MAX_MS);
}

unsigned upstream_rtt_timeout_ms(const struct upstream_rtt *r, unsigned min_ms, unsigned max_ms)
{
	if (max_ms < min_ms)
		max_ms = min_ms;
	unsigned rto = upstream_rtt_rto(r);
	if (rto < min_ms)
		rto = min_ms;
	if (rto > max_ms)
		rto = max_ms;
	return backoff(rto, r->timeouts, max_ms);
}

/* Whether candidate `c` is in the set a selection draws from. */
static bool in_draw(const struct upstream_rtt_choice *c, unsigned best, bool explore)
{
	if (explore)
		return c->unmeasured || c->score <= best + UPSTREAM_RTT_BAND_MS;
	return c->score == best;
}

size_t upstream_rtt_select(const struct upstream_rtt_choice *c, size_t n, uint32_t rnd)
{
	if (n <= 1)
		return 0;
	unsigned best = c[0].score;
	for (size_t i = 1; i < n; i++)
		if (c[i].score < best)
			best = c[i].score;

	bool explore = rnd % 100 < UPSTREAM_RTT_EXPLORE_PERCENT;
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		if (in_draw(&c[i], best, explore))
			count++;
	/* count >= 1: the best candidate is always in the draw. */
	size_t k = (rnd / 100) % count;
	for (size_t i = 0; i < n; i++) {
		if (!in_draw(&c[i], best, explore))
			continue;
		if (k == 0)
			return i;
		k--;
	}
	return 0; /* not reached */
}

unsigned upstream_rtt_jitter(unsigned t, unsigned floor_ms, uint32_t rnd)
{
	unsigned lo = t / 2;
	if (lo < floor_ms)
		lo = floor_ms;
	if (lo >= t)
		return t;
	return lo + (unsigned)(rnd % ((uint64_t)t - lo + 1));
}
