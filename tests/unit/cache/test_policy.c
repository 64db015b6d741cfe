/*
 * Unit tests of cache/policy.c (the serve-stale, failure-caching and
 * empty-answer-guard decisions) and cache/qstate.c, with a fake clock: every
 * `now` is a number the test chooses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "cache/cache.h"

#define T0 1700000000u

static void test_defaults(void **state)
{
	struct cache_policy p;
	cache_policy_init(&p);
	assert_true(p.serve_stale);
	assert_int_equal(p.stale_answer_ttl, 30);
	assert_int_equal(p.stale_refresh_time, 30);
	assert_int_equal(p.fail_min, 1);
	assert_int_equal(p.fail_max, 300);
	assert_true(p.empty_guard);
	assert_int_equal(p.empty_hold, 600);
}

static void test_no_state_asks(void **state)
{
	struct cache_policy p;
	struct cache_qstate st;
	cache_policy_init(&p);
	memset(&st, 0, sizeof(st));
	assert_int_equal(cache_policy_refresh(&p, &st, false, T0), CACHE_REFRESH_ASK);
	assert_int_equal(cache_policy_refresh(&p, &st, true, T0), CACHE_REFRESH_ASK);
}

/* RFC 9520 §3.2: at least 1 s, doubling, at most 300 s. */
static void test_failure_backoff(void **state)
{
	struct cache_policy p;
	struct cache_qstate st;
	cache_policy_init(&p);
	memset(&st, 0, sizeof(st));
	uint64_t expect[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300};
	uint64_t now = T0;
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		cache_policy_note_failure(&p, &st, now);
		assert_int_equal(st.failures, i + 1);
		assert_int_equal(st.fail_until - now, expect[i]);
		/* No stale data: the failure is answered from the cache ... */
		assert_int_equal(cache_policy_refresh(&p, &st, false, now), CACHE_REFRESH_FAILED);
		assert_int_equal(cache_policy_refresh(&p, &st, false, st.fail_until - 1),
				 CACHE_REFRESH_FAILED);
		/* ... until it runs out. */
		assert_int_equal(cache_policy_refresh(&p, &st, false, st.fail_until),
				 CACHE_REFRESH_ASK);
		now = st.fail_until;
	}
	assert_true(cache_policy_note_success(&st));
	assert_int_equal(st.failures, 0);
	assert_int_equal(cache_policy_refresh(&p, &st, false, now), CACHE_REFRESH_ASK);
	assert_false(cache_policy_note_success(&st)); /* nothing left to change */
}

/* RFC 8767 §4: with stale data, stale-refresh-time governs the retry. */
static void test_stale_refresh_hold(void **state)
{
	struct cache_policy p;
	struct cache_qstate st;
	cache_policy_init(&p);
	memset(&st, 0, sizeof(st));
	cache_policy_note_failure(&p, &st, T0);
	assert_int_equal(cache_policy_refresh(&p, &st, true, T0), CACHE_REFRESH_STALE_HOLD);
	assert_int_equal(cache_policy_refresh(&p, &st, true, T0 + 29), CACHE_REFRESH_STALE_HOLD);
	assert_int_equal(cache_policy_refresh(&p, &st, true, T0 + 30), CACHE_REFRESH_ASK);
	/* serve-stale off: only the RFC 9520 window (1 s) applies */
	p.serve_stale = false;
	assert_int_equal(cache_policy_refresh(&p, &st, true, T0), CACHE_REFRESH_FAILED);
	assert_int_equal(cache_policy_refresh(&p, &st, true, T0 + 1), CACHE_REFRESH_ASK);
}

static void test_guard_window(void **state)
{
	struct cache_policy p;
	struct cache_qstate st;
	cache_policy_init(&p);
	p.empty_hold = 60;
	p.stale_refresh_time = 10;
	memset(&st, 0, sizeof(st));

	assert_int_equal(cache_policy_guard_empty(&p, &st, 0, T0), CACHE_GUARD_HOLD);
	assert_int_equal(st.empty_since, T0);
	/* Re-checks are spaced by stale-refresh-time; in between, hold. */
	assert_int_equal(cache_policy_refresh(&p, &st, true, T0 + 5), CACHE_REFRESH_GUARD_HOLD);
	assert_int_equal(cache_policy_refresh(&p, &st, true, T0 + 10), CACHE_REFRESH_ASK);
	assert_int_equal(cache_policy_guard_empty(&p, &st, 0, T0 + 10), CACHE_GUARD_HOLD);
	assert_int_equal(st.empty_since, T0); /* the window does not restart */
	assert_int_equal(st.empty_checked, T0 + 10);
	assert_int_equal(cache_policy_guard_empty(&p, &st, 0, T0 + 59), CACHE_GUARD_HOLD);
	/* Whole seconds: 60 may be only 59.x real seconds after the start. */
	assert_int_equal(cache_policy_guard_empty(&p, &st, 0, T0 + 60), CACHE_GUARD_HOLD);
	/* Held empty for the whole window: accepted, guard state cleared. */
	assert_int_equal(cache_policy_guard_empty(&p, &st, 0, T0 + 61), CACHE_GUARD_ACCEPT);
	assert_int_equal(st.empty_since, 0);
	assert_int_equal(cache_policy_refresh(&p, &st, true, T0 + 62), CACHE_REFRESH_ASK);
}

static void test_guard_new_kind_restarts(void **state)
{
	struct cache_policy p;
	struct cache_qstate st;
	cache_policy_init(&p);
	p.empty_hold = 60;
	memset(&st, 0, sizeof(st));
	assert_int_equal(cache_policy_guard_empty(&p, &st, 0, T0), CACHE_GUARD_HOLD);
	/* NXDOMAIN after NODATA is a different claim: a new window. */
	assert_int_equal(cache_policy_guard_empty(&p, &st, 3, T0 + 50), CACHE_GUARD_HOLD);
	assert_int_equal(st.empty_since, T0 + 50);
	assert_int_equal(cache_policy_guard_empty(&p, &st, 3, T0 + 110), CACHE_GUARD_HOLD);
	assert_int_equal(cache_policy_guard_empty(&p, &st, 3, T0 + 111), CACHE_GUARD_ACCEPT);
}

static void test_guard_cleared_by_success(void **state)
{
	struct cache_policy p;
	struct cache_qstate st;
	cache_policy_init(&p);
	memset(&st, 0, sizeof(st));
	cache_policy_guard_empty(&p, &st, 0, T0);
	assert_true(cache_policy_note_success(&st));
	assert_int_equal(st.empty_since, 0);
	assert_int_equal(cache_policy_refresh(&p, &st, true, T0 + 1), CACHE_REFRESH_ASK);
}

static void test_qstate_store(void **state)
{
	struct cache *cache = cache_create(NULL);
	struct cache_qstate st, got;
	ldns_rdf *name = ldns_dname_new_frm_str("Api.Example.");
	ldns_rdf *lower = ldns_dname_new_frm_str("api.example.");
	assert_non_null(cache);

	assert_false(cache_qstate_get(cache, name, LDNS_RR_TYPE_A, T0, &got));
	memset(&st, 0, sizeof(st));
	st.failures = 3;
	st.failed_at = T0;
	st.fail_until = T0 + 4;
	assert_int_equal(cache_qstate_put(cache, name, LDNS_RR_TYPE_A, &st, T0), 0);
	assert_true(cache_qstate_get(cache, lower, LDNS_RR_TYPE_A, T0 + 1, &got));
	assert_memory_equal(&st, &got, sizeof(st));
	/* per type, and not visible to data lookups */
	assert_false(cache_qstate_get(cache, name, LDNS_RR_TYPE_AAAA, T0, &got));
	assert_int_equal(cache_lookup(cache, name, LDNS_RR_TYPE_A, T0, NULL), CACHE_MISS);
	/* replaced whole */
	st.failures = 4;
	assert_int_equal(cache_qstate_put(cache, name, LDNS_RR_TYPE_A, &st, T0 + 2), 0);
	assert_true(cache_qstate_get(cache, name, LDNS_RR_TYPE_A, T0 + 2, &got));
	assert_int_equal(got.failures, 4);
	/* an all-zero state removes it */
	memset(&st, 0, sizeof(st));
	assert_int_equal(cache_qstate_put(cache, name, LDNS_RR_TYPE_A, &st, T0 + 3), 0);
	assert_false(cache_qstate_get(cache, name, LDNS_RR_TYPE_A, T0 + 3, &got));

	ldns_rdf_deep_free(name);
	ldns_rdf_deep_free(lower);
	cache_destroy(cache);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_no_state_asks),
		cmocka_unit_test(test_failure_backoff),
		cmocka_unit_test(test_stale_refresh_hold),
		cmocka_unit_test(test_guard_window),
		cmocka_unit_test(test_guard_new_kind_restarts),
		cmocka_unit_test(test_guard_cleared_by_success),
		cmocka_unit_test(test_qstate_store),
	};
	cache_thread_register();
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	cache_thread_unregister();
	return r;
}
