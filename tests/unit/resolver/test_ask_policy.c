/*
 * Unit tests for resolver/ask_policy.c, driven through the scripted network
 * of scripted.h: where the iterator consults cache/policy.c and carries out
 * its verdicts. A cached failure answers SERVFAIL + EDE 22 at once and
 * leaves only a probe of the zone (RFC 9520); a recovery voids a silent
 * failure; a success clears the failure state; a failed refresh answers
 * stale data (RFC 8767) and then holds it; the empty-answer guard
 * cross-checks another server, holds the last good answer, accepts the
 * emptiness after the window, and skips excluded zones. The decisions
 * themselves are tested in tests/unit/cache/test_policy.c.
 */
#include "scripted.h"

#include "dns/dns.h"

static struct resolver_stats stats;

static void count_stats(struct fixture *f)
{
	memset(&stats, 0, sizeof(stats));
	f->env.stats = &stats;
}

static uint64_t counter_of(atomic_uint_fast64_t *counter)
{
	return atomic_load(counter);
}

/* The qstate the request left for (name, type); false if none. */
static bool qstate(const struct fixture *f, const char *name, uint16_t type, uint64_t now,
		   struct cache_qstate *st)
{
	ldns_rdf *n = name_new(name);
	bool found = cache_qstate_get(f->cache, n, type, now, st);

	ldns_rdf_deep_free(n);
	return found;
}

/* example.com.'s only server, ns1, does not answer. */
static const struct entry ns1_dead[] = {
	{NS1_COM, NULL, 0, F_DEAD, 0, .an = {NULL}},
	END,
};

/* A failure with every server silent is cached: the next request within
 * the back-off answers SERVFAIL + EDE 22 before any query, and only probes
 * the zone's SOA behind it (upstream/ sends it when a breaker is due). */
static void test_cached_failure_answers_at_once(void **state)
{
	struct fixture *f = *state;
	int ede = 0;

	count_stats(f);
	use_script(f, ns1_dead);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(resolver_answer_ede(f->req), DNS_EDE_NO_REACHABLE_AUTHORITY);
	assert_null(resolver_early_answer(f->req, &ede));
	assert_int_equal(counter_of(&stats.failures), 1);
	struct cache_qstate st;
	assert_true(qstate(f, "www.example.com.", LDNS_RR_TYPE_A, T0, &st));
	assert_int_equal(st.failures, 1);
	assert_true(st.fail_silent);
	assert_int_equal(st.fail_until, T0 + 1); /* RFC 9520 §3.2: at least 1 s */

	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	const ldns_pkt *early = resolver_early_answer(f->req, &ede);
	assert_non_null(early);
	assert_int_equal(ldns_pkt_get_rcode(early), LDNS_RCODE_SERVFAIL);
	assert_int_equal(ede, DNS_EDE_NO_REACHABLE_AUTHORITY);
	assert_int_equal(counter_of(&stats.failures_cached), 1);
	/* Behind it, one probe: the zone's SOA, not the client's name. */
	assert_int_equal(f->nsent, 1);
	assert_sent(f, 0, NS1_COM, "example.com.", LDNS_RR_TYPE_SOA);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	/* A probe teaches nothing about the name: the failure count stays. */
	assert_int_equal(counter_of(&stats.failures), 1);
	assert_true(qstate(f, "www.example.com.", LDNS_RR_TYPE_A, T0, &st));
	assert_int_equal(st.failures, 1);
}

/* A failure of silent servers is void once an authority has recovered
 * (the cache's recovery epoch moved): the name is asked again at once. */
static void test_silent_failure_void_after_recovery(void **state)
{
	struct fixture *f = *state;
	int ede = 0;

	use_script(f, ns1_dead);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);

	cache_note_recovery(f->cache);
	f->scripts[0] = NULL; /* ns1 answers again */
	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_null(resolver_early_answer(f->req, &ede));
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.80"));
	assert_int_equal(f->nsent, 1);
	assert_sent(f, 0, NS1_COM, "www.example.com.", LDNS_RR_TYPE_A);
	assert_int_equal(f->unscripted, 0);
}

/* After the back-off the name is asked again; a success clears the state. */
static void test_success_clears_failure(void **state)
{
	struct fixture *f = *state;
	int ede = 0;
	struct cache_qstate st;

	use_script(f, ns1_dead);
	resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_true(qstate(f, "www.example.com.", LDNS_RR_TYPE_A, T0, &st));
	assert_int_equal(st.failures, 1);

	f->scripts[0] = NULL;
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 2);
	assert_null(resolver_early_answer(f->req, &ede));
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->nsent, 1);
	if (qstate(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 2, &st)) {
		assert_int_equal(st.failures, 0);
		assert_int_equal(st.fail_until, 0);
		assert_int_equal(st.failed_at, 0);
	}
}

/* RFC 8767: the refresh of an expired answer fails, the client gets the
 * stale data (TTL 30, EDE 3); for stale-refresh-time after that the stale
 * data is the early answer and the name is not asked again. */
static void test_stale_answer_after_failed_refresh(void **state)
{
	struct fixture *f = *state;
	int ede = 0;

	count_stats(f);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);

	use_script(f, ns1_dead);
	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 301);
	assert_int_equal(f->nsent, 1);
	assert_sent(f, 0, NS1_COM, "www.example.com.", LDNS_RR_TYPE_A);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 1);
	assert_int_equal(answer_type(a, 0), LDNS_RR_TYPE_A);
	assert_int_equal(answer_ttl(a, 0), 30);
	assert_int_equal(resolver_answer_ede(f->req), DNS_EDE_STALE_ANSWER);
	assert_int_equal(counter_of(&stats.stale_answers), 1);

	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 310);
	const ldns_pkt *early = resolver_early_answer(f->req, &ede);
	assert_non_null(early);
	assert_int_equal(ede, DNS_EDE_STALE_ANSWER);
	assert_int_equal(ldns_pkt_get_rcode(early), LDNS_RCODE_NOERROR);
	assert_true(section_has(early, LDNS_SECTION_ANSWER, "www.example.com. 30 IN A 192.0.2.80"));
	/* Only the zone probe goes out, not the client's question. */
	assert_int_equal(f->nsent, 1);
	assert_sent(f, 0, NS1_COM, "example.com.", LDNS_RR_TYPE_SOA);
}

/* example.com. with ns1 and ns2; at T0 ns1 gives www.example.com. A. */
static void cache_two_server_answer(struct fixture *f)
{
	const struct entry script[] = {
		two_servers_referral,
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->nsent, 4);
	assert_sent(f, 3, NS1_COM, "www.example.com.", LDNS_RR_TYPE_A);
}

static const struct entry ns1_nodata_ns2_data[] = {
	{NS1_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0, .ns = {SOA_EXAMPLE_COM}},
	{NS2_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
	 .an = {"www.example.com. 300 IN A 192.0.2.80"}},
	END,
};

static const struct entry both_nodata[] = {
	{NS1_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0, .ns = {SOA_EXAMPLE_COM}},
	{NS2_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0, .ns = {SOA_EXAMPLE_COM}},
	END,
};

/* The guard doubts a NODATA where the cache has data and asks the other
 * server, which has the data: that answer is given, nothing negative kept. */
static void test_guard_cross_check_rescues(void **state)
{
	struct fixture *f = *state;

	count_stats(f);
	cache_two_server_answer(f);
	use_script(f, ns1_nodata_ns2_data);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 301);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.80"));
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(f->nsent, 2);
	assert_sent(f, 0, NS1_COM, "www.example.com.", LDNS_RR_TYPE_A);
	assert_sent(f, 1, NS2_COM, "www.example.com.", LDNS_RR_TYPE_A);
	assert_int_equal(counter_of(&stats.guard_cross_checks), 1);
	assert_int_equal(counter_of(&stats.guard_rescued), 1);
	assert_int_equal(counter_of(&stats.guard_holds), 0);
	assert_int_equal(resolver_answer_ede(f->req), -1);
}

/* Every server agrees on NODATA: the last good answer is held (EDE 3),
 * then answered without asking until the re-check is due, and the
 * emptiness is believed (and cached) only once it held for empty_hold. */
static void test_guard_holds_then_accepts(void **state)
{
	struct fixture *f = *state;
	struct cache_result res;

	count_stats(f);
	cache_two_server_answer(f);
	use_script(f, both_nodata);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 301);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.com. 30 IN A 192.0.2.80"));
	assert_int_equal(resolver_answer_ede(f->req), DNS_EDE_STALE_ANSWER);
	assert_int_equal(f->nsent, 2);
	assert_int_equal(counter_of(&stats.guard_cross_checks), 1);
	assert_int_equal(counter_of(&stats.guard_holds), 1);
	assert_int_not_equal(cached(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 301, NULL),
			     CACHE_FRESH);

	/* Within stale-refresh-time of the last check: held, nobody asked. */
	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 310);
	assert_int_equal(f->nsent, 0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 1);
	assert_int_equal(resolver_answer_ede(f->req), DNS_EDE_STALE_ANSWER);
	assert_int_equal(counter_of(&stats.guard_holds), 2);

	/* The hold window (600 s) has passed and they still say NODATA. */
	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 301 + 601);
	assert_int_equal(f->nsent, 2);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 0);
	assert_true(section_has(a, LDNS_SECTION_AUTHORITY, SOA_EXAMPLE_COM));
	assert_int_equal(resolver_answer_ede(f->req), -1);
	assert_int_equal(counter_of(&stats.guard_accepts), 1);
	assert_int_equal(cached(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 301 + 601, &res),
			 CACHE_FRESH);
	assert_int_equal(res.kind, CACHE_KIND_NODATA);
	cache_result_clear(&res);
}

/* A zone on the guard's exclude list: the first NODATA is believed. */
static void test_guard_skips_excluded_zone(void **state)
{
	struct fixture *f = *state;
	ldns_rdf *zone = name_new("example.com.");

	count_stats(f);
	f->opts.guard_exclude.names = &zone;
	f->opts.guard_exclude.count = 1;
	cache_two_server_answer(f);
	use_script(f, both_nodata);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 301);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 0);
	assert_int_equal(f->nsent, 1);
	assert_int_equal(counter_of(&stats.guard_cross_checks), 0);
	assert_int_equal(counter_of(&stats.guard_holds), 0);
	ldns_rdf_deep_free(zone);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cached_failure_answers_at_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_silent_failure_void_after_recovery, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_success_clears_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_answer_after_failed_refresh, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_guard_cross_check_rescues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guard_holds_then_accepts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guard_skips_excluded_zone, setup, teardown),
	};

	return cmocka_run_group_tests(tests, scripted_group_setup, scripted_group_teardown);
}
