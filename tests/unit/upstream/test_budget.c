/*
 * Tests of upstream/budget.c: the retry budget's sliding window, driven by
 * a fake monotonic clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>

#include "upstream/upstream.h"
#include "upstream/impl.h"

#define WINDOW 10000u /* ms: ten buckets of one second */

static int setup(void **state)
{
	struct upstream_budget *b = calloc(1, sizeof(*b));
	upstream_budget_init(b);
	*state = b;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static bool allows(struct upstream_budget *b, uint64_t now, unsigned percent, unsigned floor)
{
	return upstream_budget_allows(b, now, WINDOW, percent, floor);
}

static void test_floor_alone(void **state)
{
	struct upstream_budget *b = *state;
	uint64_t now = 50000;

	/* No first attempts at all: the floor still lets a few retries out. */
	for (int i = 0; i < 3; i++) {
		assert_true(allows(b, now, 10, 3));
		upstream_budget_record(b, now, WINDOW, true);
	}
	assert_false(allows(b, now, 10, 3));
	/* Floor 0, percent 0: never. */
	struct upstream_budget empty;
	upstream_budget_init(&empty);
	assert_false(upstream_budget_allows(&empty, now, WINDOW, 0, 0));
}

static void test_percentage(void **state)
{
	struct upstream_budget *b = *state;
	uint64_t now = 123456;
	uint64_t firsts, retries;

	for (int i = 0; i < 200; i++)
		upstream_budget_record(b, now, WINDOW, false);
	/* 10 % of 200 = 20, plus the floor 5: 25 retries, not 26. */
	int allowed = 0;
	while (allows(b, now, 10, 5) && allowed < 1000) {
		upstream_budget_record(b, now, WINDOW, true);
		allowed++;
	}
	assert_int_equal(allowed, 25);
	upstream_budget_counts(b, now, WINDOW, &firsts, &retries);
	assert_int_equal(firsts, 200);
	assert_int_equal(retries, 25);
	/* More first attempts earn more retries (10 more -> 1 more). */
	for (int i = 0; i < 10; i++)
		upstream_budget_record(b, now, WINDOW, false);
	assert_true(allows(b, now, 10, 5));
}

static void test_window_slides(void **state)
{
	struct upstream_budget *b = *state;
	uint64_t t0 = 1000000; /* a bucket boundary */
	uint64_t firsts, retries;

	/* Spend the floor at t0. */
	for (int i = 0; i < 4; i++)
		upstream_budget_record(b, t0, WINDOW, true);
	assert_false(allows(b, t0, 10, 4));
	/* Still spent 9.999 s later (the same window)... */
	assert_false(allows(b, t0 + 9999, 10, 4));
	upstream_budget_counts(b, t0 + 9999, WINDOW, &firsts, &retries);
	assert_int_equal(retries, 4);
	/* ...and free again once t0's bucket left the window. */
	assert_true(allows(b, t0 + 10000, 10, 4));
	upstream_budget_counts(b, t0 + 10000, WINDOW, &firsts, &retries);
	assert_int_equal(retries, 0);

	/* Spread over the window: one retry per second, the oldest expire
	 * one by one. */
	uint64_t t1 = t0 + 100000;
	for (int s = 0; s < 10; s++)
		upstream_budget_record(b, t1 + (uint64_t)s * 1000, WINDOW, true);
	upstream_budget_counts(b, t1 + 9000, WINDOW, &firsts, &retries);
	assert_int_equal(retries, 10);
	upstream_budget_counts(b, t1 + 10000, WINDOW, &firsts, &retries);
	assert_int_equal(retries, 9);
	upstream_budget_counts(b, t1 + 15500, WINDOW, &firsts, &retries);
	assert_int_equal(retries, 4);
	/* A bucket reused a whole window later starts from zero. */
	upstream_budget_record(b, t1 + 20000, WINDOW, false);
	upstream_budget_counts(b, t1 + 20000, WINDOW, &firsts, &retries);
	assert_int_equal(firsts, 1);
	assert_int_equal(retries, 0);
	/* Long silence: nothing left. */
	upstream_budget_counts(b, t1 + 1000000, WINDOW, &firsts, &retries);
	assert_int_equal(firsts + retries, 0);
}

static void test_hedges_are_retries(void **state)
{
	struct upstream_budget *b = *state;
	uint64_t now = 777000;
	uint64_t firsts, retries;

	/* upstream.c records a hedge as a retry: it spends the same budget. */
	upstream_budget_record(b, now, WINDOW, false); /* the first query */
	upstream_budget_record(b, now, WINDOW, true);  /* its hedge */
	upstream_budget_counts(b, now, WINDOW, &firsts, &retries);
	assert_int_equal(firsts, 1);
	assert_int_equal(retries, 1);
	assert_false(allows(b, now, 10, 1)); /* floor 1 spent by the hedge */
}

static void test_tiny_window(void **state)
{
	struct upstream_budget *b = *state;
	/* A window shorter than the bucket count still works (1 ms buckets). */
	upstream_budget_record(b, 5, 3, true);
	assert_false(upstream_budget_allows(b, 5, 3, 0, 1));
	assert_true(upstream_budget_allows(b, 50, 3, 0, 1));
}

/* One retry of `key` if the budget allows it (recorded as upstream.c and
 * select.c do: for everybody and for the key). */
static enum upstream_budget_verdict retry(struct upstream_budget *b, uint64_t key, uint64_t now,
					  unsigned percent, unsigned floor, unsigned share)
{
	enum upstream_budget_verdict v =
		upstream_budget_check(b, key, now, WINDOW, percent, floor, share);
	if (v == UPSTREAM_BUDGET_ALLOW) {
		upstream_budget_record(b, now, WINDOW, true);
		upstream_budget_record_share(b, key, now, WINDOW);
	}
	return v;
}

/* Retries of `key` until refused (bounded); the refusal in *why. */
static unsigned retries_until_refused(struct upstream_budget *b, uint64_t key, uint64_t now,
				      unsigned percent, unsigned floor, unsigned share,
				      enum upstream_budget_verdict *why)
{
	unsigned n = 0;
	while (n < 1000 &&
	       (*why = retry(b, key, now, percent, floor, share)) == UPSTREAM_BUDGET_ALLOW)
		n++;
	return n;
}

/* Issue 12: one client key cannot spend the whole budget for everybody.
 * Alone it spends all but one share; the last share stays for the others. */
static void test_share_per_key(void **state)
{
	struct upstream_budget *b = *state;
	uint64_t now = 3000000;
	enum upstream_budget_verdict why;
	const uint64_t flooder = 1, other = 2; /* distinct slots (key % 256) */

	/* Floor 20, no first attempts: the allowance is 20, a share 5. */
	assert_int_equal(retries_until_refused(b, flooder, now, 10, 20, 25, &why), 15);
	assert_int_equal(why, UPSTREAM_BUDGET_SHARE);
	assert_int_equal(upstream_budget_share_retries(b, flooder, now, WINDOW), 15);
	/* A key sharing the flooder's slot shares its count: only stricter. */
	assert_int_equal(retry(b, flooder + UPSTREAM_BUDGET_SHARE_SLOTS, now, 10, 20, 25),
			 UPSTREAM_BUDGET_SHARE);
	/* The other key still retries, until the budget itself is spent. */
	assert_int_equal(retries_until_refused(b, other, now, 10, 20, 25, &why), 5);
	assert_int_equal(why, UPSTREAM_BUDGET_SPENT);
	assert_int_equal(retry(b, flooder, now, 10, 20, 25), UPSTREAM_BUDGET_SPENT);
	assert_false(allows(b, now, 10, 20));

	/* First attempts earn retries for everybody: 400 at 10 % + 20 = 60,
	 * a share 15; the flooder's 15 are still in the window. */
	for (int i = 0; i < 400; i++)
		upstream_budget_record(b, now, WINDOW, false);
	assert_int_equal(retries_until_refused(b, flooder, now, 10, 20, 25, &why), 25);
	assert_int_equal(why, UPSTREAM_BUDGET_SHARE);

	/* The window slides for the keys too. */
	uint64_t later = now + WINDOW;
	assert_int_equal(upstream_budget_share_retries(b, flooder, later, WINDOW), 0);
	assert_int_equal(retries_until_refused(b, flooder, later, 0, 20, 25, &why), 15);

	/* Shares off: one key spends it all. */
	uint64_t much_later = later + UINT64_C(10) * WINDOW;
	assert_int_equal(retries_until_refused(b, flooder, much_later, 0, 20, 0, &why), 20);
	assert_int_equal(why, UPSTREAM_BUDGET_SPENT);
	/* A tiny allowance: the share is at least UPSTREAM_SHARE_MIN_RETRIES
	 * (2): of 2 a key alone spends both, of 3 it leaves one. */
	uint64_t last = much_later + UINT64_C(10) * WINDOW;
	assert_int_equal(retries_until_refused(b, flooder, last, 0, 2, 25, &why), 2);
	assert_int_equal(why, UPSTREAM_BUDGET_SPENT);
	last += UINT64_C(10) * WINDOW;
	assert_int_equal(retries_until_refused(b, flooder, last, 0, 3, 25, &why), 2);
	assert_int_equal(why, UPSTREAM_BUDGET_SHARE);
	assert_int_equal(retries_until_refused(b, other, last, 0, 3, 25, &why), 1);
	assert_int_equal(why, UPSTREAM_BUDGET_SPENT);
}

/*
 * Workers share one budget (impl.h). Four threads record into the same ten
 * buckets at once, each bucket first met with a stale tag, so the resets
 * race too; a lost CAS update would show as a count short of the total.
 */
#define HAMMER_THREADS 4
#define HAMMER_ROUNDS 5000 /* per thread; far below the 18-bit retry count */

struct budget_hammer {
	struct upstream_budget *b;
	uint64_t t0;
	bool allowed_some;
};

static void *budget_hammer_run(void *arg)
{
	struct budget_hammer *h = arg;

	for (unsigned i = 0; i < HAMMER_ROUNDS; i++) {
		uint64_t now = h->t0 + (uint64_t)(i % UPSTREAM_BUDGET_BUCKETS) * 1000;

		upstream_budget_record(h->b, now, WINDOW, false);
		if (i % 2 == 0)
			upstream_budget_record(h->b, now, WINDOW, true);
		if (upstream_budget_allows(h->b, now, WINDOW, 100, 1))
			h->allowed_some = true;
	}
	return NULL;
}

static void test_concurrent_records(void **state)
{
	struct upstream_budget *b = *state;
	const uint64_t t0 = 7000000; /* a whole second: ten distinct buckets */
	struct budget_hammer h[HAMMER_THREADS];
	pthread_t t[HAMMER_THREADS];
	uint64_t firsts, retries;

	for (int i = 0; i < HAMMER_THREADS; i++) {
		h[i] = (struct budget_hammer){b, t0, false};
		assert_int_equal(pthread_create(&t[i], NULL, budget_hammer_run, &h[i]), 0);
	}
	for (int i = 0; i < HAMMER_THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_true(h[i].allowed_some);
	}
	upstream_budget_counts(b, t0 + 9000, WINDOW, &firsts, &retries);
	assert_int_equal(firsts, HAMMER_THREADS * HAMMER_ROUNDS);
	assert_int_equal(retries, HAMMER_THREADS * HAMMER_ROUNDS / 2);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_floor_alone),	    T(test_percentage),	 T(test_window_slides),
		T(test_hedges_are_retries), T(test_tiny_window), T(test_concurrent_records),
		T(test_share_per_key),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
