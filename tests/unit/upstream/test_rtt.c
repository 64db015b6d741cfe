/*
 * Tests of upstream/rtt.c: the RFC 6298 estimate, the timeout bounds and
 * backoff, ageing with a fake clock, and the choice among candidates with
 * chosen random numbers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "upstream/impl.h"

static void assert_rtt_equal(const struct upstream_rtt *a, const struct upstream_rtt *b)
{
	assert_int_equal(a->srtt_us, b->srtt_us);
	assert_int_equal(a->rttvar_us, b->rttvar_us);
	assert_int_equal(a->timeouts, b->timeouts);
	assert_int_equal(a->measured, b->measured);
}

static void test_unknown(void **state)
{
	struct upstream_rtt r = {0};

	assert_int_equal(upstream_rtt_rto(&r), UPSTREAM_RTT_UNKNOWN_MS);
	assert_int_equal(upstream_rtt_score(&r), UPSTREAM_RTT_UNKNOWN_MS);
	assert_int_equal(upstream_rtt_timeout_ms(&r, 200, 3000), UPSTREAM_RTT_UNKNOWN_MS);
	assert_int_equal(upstream_rtt_pack(&r), 0);
}

static void test_first_and_second_sample(void **state)
{
	struct upstream_rtt r = {0};

	/* RFC 6298 §2.2: SRTT = R, RTTVAR = R/2, RTO = R + 4 * R/2. */
	upstream_rtt_sample(&r, 100);
	assert_true(r.measured);
	assert_int_equal(r.srtt_us, 100000);
	assert_int_equal(r.rttvar_us, 50000);
	assert_int_equal(upstream_rtt_rto(&r), 300);

	/* §2.3: RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5,
	 * SRTT = 7/8 * 100 + 1/8 * 200 = 112.5. */
	upstream_rtt_sample(&r, 200);
	assert_int_equal(r.rttvar_us, 62500);
	assert_int_equal(r.srtt_us, 112500);
	assert_int_equal(upstream_rtt_rto(&r), 363); /* 112.5 + 250, rounded up */
}

static void test_convergence(void **state)
{
	struct upstream_rtt r = {0};

	upstream_rtt_sample(&r, 400);
	for (int i = 0; i < 200; i++)
		upstream_rtt_sample(&r, 50);
	assert_in_range(r.srtt_us, 49000, 51000);
	assert_in_range(r.rttvar_us, 0, 1000);
	/* Once the variance is gone the RTO is the RTT plus the granularity. */
	assert_in_range(upstream_rtt_rto(&r), 50, 53);
	assert_in_range(upstream_rtt_score(&r), 50, 53);

	/* A jittery server keeps a wider RTO than a steady one. */
	struct upstream_rtt j = {0};
	for (int i = 0; i < 200; i++)
		upstream_rtt_sample(&j, i % 2 ? 20 : 80);
	assert_in_range(j.srtt_us, 45000, 55000);
	assert_true(upstream_rtt_rto(&j) > upstream_rtt_rto(&r) + 50);
}

static void test_sample_clamped(void **state)
{
	struct upstream_rtt r = {0};

	upstream_rtt_sample(&r, 4000000);
	assert_int_equal(r.srtt_us, UPSTREAM_RTT_SAMPLE_MAX_MS * 1000);
	struct upstream_rtt back;
	upstream_rtt_unpack(upstream_rtt_pack(&r), &back);
	assert_rtt_equal(&back, &r);
	assert_int_equal(upstream_rtt_score(&r), UPSTREAM_RTT_SCORE_MAX_MS);
}

static void test_timeout_bounds(void **state)
{
	struct upstream_rtt fast = {0}, slow = {0};

	upstream_rtt_sample(&fast, 5);
	for (int i = 0; i < 50; i++)
		upstream_rtt_sample(&fast, 5);
	assert_int_equal(upstream_rtt_timeout_ms(&fast, 200, 3000), 200);

	upstream_rtt_sample(&slow, 5000);
	assert_int_equal(upstream_rtt_timeout_ms(&slow, 200, 3000), 3000);

	/* In between, the RTO itself. */
	struct upstream_rtt mid = {0};
	upstream_rtt_sample(&mid, 100);
	assert_int_equal(upstream_rtt_timeout_ms(&mid, 200, 3000), 300);

	/* Nonsense bounds (max < min) still give min. */
	assert_int_equal(upstream_rtt_timeout_ms(&mid, 500, 100), 500);
}

static void test_backoff_doubles_and_caps(void **state)
{
	struct upstream_rtt r = {0};
	const unsigned timeout[] = {400, 800, 1600, 3000, 3000};
	const unsigned score[] = {400, 800, 1600, 3200, 6400};

	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(upstream_rtt_timeout_ms(&r, 200, 3000), timeout[i]);
		assert_int_equal(upstream_rtt_score(&r), score[i]);
		upstream_rtt_timeout(&r);
	}
	/* The counter saturates; the score stays capped. */
	for (int i = 0; i < 100; i++)
		upstream_rtt_timeout(&r);
	assert_int_equal(r.timeouts, UPSTREAM_RTT_TIMEOUTS_MAX);
	assert_true(upstream_rtt_score(&r) <= UPSTREAM_RTT_SCORE_MAX_MS);
	assert_int_equal(upstream_rtt_timeout_ms(&r, 200, 3000), 3000);

	/* Backoff applies to a measured server too, from its bounded RTO. */
	struct upstream_rtt m = {0};
	upstream_rtt_sample(&m, 10); /* RTO 30, bounded to 200 */
	upstream_rtt_timeout(&m);
	upstream_rtt_timeout(&m);
	assert_int_equal(upstream_rtt_timeout_ms(&m, 200, 3000), 800);
	assert_int_equal(upstream_rtt_score(&m), 120);
}

static void test_success_resets_backoff(void **state)
{
	struct upstream_rtt r = {0};

	upstream_rtt_sample(&r, 100);
	upstream_rtt_timeout(&r);
	upstream_rtt_timeout(&r);
	assert_int_equal(r.timeouts, 2);
	upstream_rtt_sample(&r, 100);
	assert_int_equal(r.timeouts, 0);
	assert_int_equal(upstream_rtt_timeout_ms(&r, 200, 3000), upstream_rtt_rto(&r));
}

static void test_pack_roundtrip(void **state)
{
	struct upstream_rtt r = {
		.srtt_us = 123456, .rttvar_us = 7890, .timeouts = 5, .measured = true};
	struct upstream_rtt back;

	upstream_rtt_unpack(upstream_rtt_pack(&r), &back);
	assert_rtt_equal(&back, &r);
	upstream_rtt_unpack(0, &back);
	assert_false(back.measured);
	assert_int_equal(back.timeouts, 0);
}

static void test_age(void **state)
{
	const uint64_t t0 = 1000000;
	struct upstream_rtt r = {0};

	upstream_rtt_sample(&r, 80);
	for (int i = 0; i < 5; i++)
		upstream_rtt_timeout(&r);

	struct upstream_rtt a = r;
	upstream_rtt_age(&a, t0, t0);
	assert_int_equal(a.timeouts, 5);

	/* One backoff step forgiven per quiet decay period. */
	a = r;
	upstream_rtt_age(&a, t0, t0 + 2 * UPSTREAM_RTT_DECAY_MS + 1);
	assert_int_equal(a.timeouts, 3);
	assert_true(a.measured);
	a = r;
	upstream_rtt_age(&a, t0, t0 + 60 * UPSTREAM_RTT_DECAY_MS);
	assert_int_equal(a.timeouts, 0);
	assert_int_equal(a.srtt_us, 80000);

	/* Forgotten entirely after the forget period. */
	a = r;
	upstream_rtt_age(&a, t0, t0 + UPSTREAM_RTT_FORGET_MS);
	assert_false(a.measured);
	assert_int_equal(upstream_rtt_score(&a), UPSTREAM_RTT_UNKNOWN_MS);

	/* A clock slightly behind the writer's does not underflow. */
	a = r;
	upstream_rtt_age(&a, t0 + 5, t0);
	assert_int_equal(a.timeouts, 5);
}

/* A random number that makes the selection exploit (rnd % 100 >= 5) and
 * draw element `k` of its draw. */
static uint32_t exploit(uint32_t k)
{
	return k * 100 + 50;
}

static uint32_t explore(uint32_t k)
{
	return k * 100;
}

static void test_select_best(void **state)
{
	struct upstream_rtt_choice c[] = {{300, false}, {40, false}, {3200, false}, {90, false}};

	for (uint32_t k = 0; k < 10; k++)
		assert_int_equal(upstream_rtt_select(c, 4, exploit(k)), 1);
	assert_int_equal(upstream_rtt_select(c, 1, 12345), 0);
}

static void test_select_ties_spread(void **state)
{
	struct upstream_rtt_choice c[] = {{400, true}, {400, true}, {400, true}};
	int seen[3] = {0};

	for (uint32_t k = 0; k < 30; k++)
		seen[upstream_rtt_select(c, 3, exploit(k))]++;
	assert_int_equal(seen[0], 10);
	assert_int_equal(seen[1], 10);
	assert_int_equal(seen[2], 10);
}

static void test_select_explore(void **state)
{
	/* Best 40; 300 is within the band, 3200 (backed off) is not; the
	 * unmeasured one is always in the draw. */
	struct upstream_rtt_choice c[] = {
		{40, false}, {300, false}, {3200, false}, {UPSTREAM_RTT_UNKNOWN_MS, true}};
	int seen[4] = {0};

	for (uint32_t k = 0; k < 30; k++)
		seen[upstream_rtt_select(c, 4, explore(k))]++;
	assert_int_equal(seen[0], 10);
	assert_int_equal(seen[1], 10);
	assert_int_equal(seen[2], 0);
	assert_int_equal(seen[3], 10);

	/* An unmeasured server far above the band still gets explored. */
	struct upstream_rtt_choice d[] = {{5, false}, {UPSTREAM_RTT_UNKNOWN_MS, true}};
	assert_int_equal(upstream_rtt_select(d, 2, explore(1)), 1);
	assert_int_equal(upstream_rtt_select(d, 2, exploit(1)), 0);
}

static void test_select_explore_rate(void **state)
{
	struct upstream_rtt_choice c[] = {{40, false}, {UPSTREAM_RTT_UNKNOWN_MS, true}};
	unsigned other = 0;

	/* Over every residue mod 100, exactly the exploring 5 % can leave the
	 * best, and half of those do. */
	for (uint32_t rnd = 0; rnd < 200; rnd++)
		other += upstream_rtt_select(c, 2, rnd) == 1;
	assert_int_equal(other, 5);
}

static void test_jitter_bounds(void **state)
{
	/* Full jitter of a backed-off timeout: [t/2, t], never below the floor. */
	assert_int_equal(upstream_rtt_jitter(800, 200, 0), 400);
	assert_int_equal(upstream_rtt_jitter(800, 200, 400), 800);
	for (uint32_t r = 0; r < 2000000; r = r * 3 + 1)
		assert_in_range(upstream_rtt_jitter(800, 200, r), 400, 800);
	assert_in_range(upstream_rtt_jitter(300, 200, 12345), 200, 300);
	assert_int_equal(upstream_rtt_jitter(200, 200, 999), 200);
	assert_int_equal(upstream_rtt_jitter(0, 0, 999), 0);
	assert_int_equal(upstream_rtt_jitter(1, 0, 1), 1);
	/* A backed-off timeout from the estimate, then jittered. */
	struct upstream_rtt r = {0};
	upstream_rtt_sample(&r, 100);
	upstream_rtt_timeout(&r);
	unsigned t = upstream_rtt_timeout_ms(&r, 50, 3000);
	assert_int_equal(t, 2 * upstream_rtt_rto(&(struct upstream_rtt){.srtt_us = r.srtt_us,
									.rttvar_us = r.rttvar_us,
									.measured = true}));
	assert_in_range(upstream_rtt_jitter(t, 50, UINT32_MAX), t / 2, t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_first_and_second_sample),
		cmocka_unit_test(test_convergence),
		cmocka_unit_test(test_sample_clamped),
		cmocka_unit_test(test_timeout_bounds),
		cmocka_unit_test(test_backoff_doubles_and_caps),
		cmocka_unit_test(test_success_resets_backoff),
		cmocka_unit_test(test_pack_roundtrip),
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_select_best),
		cmocka_unit_test(test_select_ties_spread),
		cmocka_unit_test(test_select_explore),
		cmocka_unit_test(test_select_explore_rate),
		cmocka_unit_test(test_jitter_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
