/*
 * Unit tests for resolver/iterate.c, driven through the scripted network of
 * scripted.h: resolver_produce(): priming, the referral walk, the cache in
 * START, QNAME minimisation, sub-queries for glueless NS names and their
 * loops, running out of servers, the upstream query cap.
 */
#include "scripted.h"

/* Priming, then root -> com. -> example.com. with glue -> the A record. */
static void test_referral_chain(void **state)
{
	struct fixture *f = *state;
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);

	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 1);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.80"));
	assert_int_equal(ldns_pkt_nscount(a), 0); /* minimal responses */
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(f->nsent, 4);
	/* RFC 8109: the root NS set first, to the hinted servers. */
	assert_sent(f, 0, ROOT, ".", LDNS_RR_TYPE_NS);
	assert_true(f->log[0].configured);
	assert_false(f->log[0].tcp);
	assert_sent(f, 1, ROOT, "www.example.com.", LDNS_RR_TYPE_A);
	assert_sent(f, 2, GTLD, "www.example.com.", LDNS_RR_TYPE_A);
	assert_false(f->log[2].configured);
	assert_sent(f, 3, NS1_COM, "www.example.com.", LDNS_RR_TYPE_A);
	/* The delegations were cached on the way. */
	struct cache_result res;
	assert_int_equal(cached(f, "example.com.", LDNS_RR_TYPE_NS, T0, &res), CACHE_FRESH);
	cache_result_clear(&res);
	assert_int_equal(cached(f, "com.", LDNS_RR_TYPE_NS, T0, &res), CACHE_FRESH);
	cache_result_clear(&res);
}

/* The same with QNAME minimisation: only the next label goes to each zone. */
static void test_qname_minimisation(void **state)
{
	struct fixture *f = *state;

	f->opts.qname_minimisation = true;
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.80"));
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(f->nsent, 4);
	assert_sent(f, 0, ROOT, ".", LDNS_RR_TYPE_NS);
	assert_sent(f, 1, ROOT, "com.", LDNS_RR_TYPE_NS);
	assert_sent(f, 2, GTLD, "example.com.", LDNS_RR_TYPE_NS);
	assert_sent(f, 3, NS1_COM, "www.example.com.", LDNS_RR_TYPE_A);
}

/* Minimisation through names without cuts: NODATA moves one label down. */
static void test_qname_minimisation_no_cuts(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "c.example.com.", LDNS_RR_TYPE_NS, F_AA, 0, .ns = {SOA_EXAMPLE_COM}},
		{NS1_COM, "b.c.example.com.", LDNS_RR_TYPE_NS, F_AA, 0, .ns = {SOA_EXAMPLE_COM}},
		{NS1_COM, "a.b.c.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"a.b.c.example.com. 300 IN A 192.0.2.90"}},
		END,
	};

	f->opts.qname_minimisation = true;
	use_script(f, script);
	const ldns_pkt *a = resolve(f, "a.b.c.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "a.b.c.example.com. 300 IN A 192.0.2.90"));
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(f->nsent, 6);
	assert_sent(f, 3, NS1_COM, "c.example.com.", LDNS_RR_TYPE_NS);
	assert_sent(f, 4, NS1_COM, "b.c.example.com.", LDNS_RR_TYPE_NS);
	assert_sent(f, 5, NS1_COM, "a.b.c.example.com.", LDNS_RR_TYPE_A);
	/* The minimised NODATA steps are not client answers: nothing negative
	 * is cached for the full name. */
	assert_int_equal(cached(f, "a.b.c.example.com.", LDNS_RR_TYPE_NS, T0, NULL), CACHE_MISS);
}

/* Relaxed minimisation: an NXDOMAIN for an empty non-terminal is re-checked
 * with the full name (RFC 9156 §3). */
static void test_qname_minimisation_broken_ent(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "c.example.com.", LDNS_RR_TYPE_NS, F_AA, LDNS_RCODE_NXDOMAIN,
		 .ns = {SOA_EXAMPLE_COM}},
		{NS1_COM, "a.b.c.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"a.b.c.example.com. 300 IN A 192.0.2.90"}},
		END,
	};

	f->opts.qname_minimisation = true;
	use_script(f, script);
	const ldns_pkt *a = resolve(f, "a.b.c.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "a.b.c.example.com. 300 IN A 192.0.2.90"));
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(f->nsent, 5);
	assert_sent(f, 4, NS1_COM, "a.b.c.example.com.", LDNS_RR_TYPE_A);
}

/* A second request is answered from the cache, TTLs counting down; once the
 * answer expires, the cached delegation takes the query straight to the zone. */
static void test_cache_hit(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "ns1.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"ns1.example.com. 3600 IN A " NS1_COM}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(answer_ttl(a, 0), 300);

	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 100);
	assert_int_equal(resolver_request_upstream_count(f->req), 0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 1);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.80"));
	assert_int_equal(answer_ttl(a, 0), 200);

	/* Expired answer, fresh delegation: one query, to the zone's server. */
	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 301);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->nsent, 1);
	assert_sent(f, 0, NS1_COM, "www.example.com.", LDNS_RR_TYPE_A);
	assert_int_equal(answer_ttl(a, 0), 300);

	/* Glue is good enough to reach a server, not to answer a client with
	 * (RFC 2181 §5.4.1): the address of ns1.example.com is asked of its zone. */
	a = resolve(f, "ns1.example.com.", LDNS_RR_TYPE_A, T0 + 302);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->nsent, 1);
	assert_sent(f, 0, NS1_COM, "ns1.example.com.", LDNS_RR_TYPE_A);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "ns1.example.com. 3600 IN A " NS1_COM));
	assert_int_equal(f->unscripted, 0);
}

/* example.com. is served by ns.example.net. without glue: a sub-query
 * resolves the server's address first. */
static void test_glueless(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{GTLD, "*.example.com.", 0, 0, 0,
		 .ns = {"example.com. 172800 IN NS ns.example.net."}},
		{NS_NET, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.example.com. 300 IN A 192.0.2.82"}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 1);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.82"));
	/* The sub-query's records stay out of the client's answer. */
	assert_false(section_has(a, LDNS_SECTION_ANSWER, "ns.example.net. 3600 IN A " NS_NET));
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(f->nsent, 7);
	assert_sent(f, 3, ROOT, "ns.example.net.", LDNS_RR_TYPE_A);
	assert_sent(f, 4, GTLD, "ns.example.net.", LDNS_RR_TYPE_A);
	assert_sent(f, 5, NS1_NET, "ns.example.net.", LDNS_RR_TYPE_A);
	assert_sent(f, 6, NS_NET, "www.example.com.", LDNS_RR_TYPE_A);

	/* Next time the server's address comes from the cache. */
	static const struct entry script2[] = {
		{NS_NET, "ftp.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"ftp.example.com. 300 IN A 192.0.2.83"}},
		END,
	};
	use_script(f, script2);
	a = resolve(f, "ftp.example.com.", LDNS_RR_TYPE_A, T0 + 1);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->nsent, 1);
	assert_sent(f, 0, NS_NET, "ftp.example.com.", LDNS_RR_TYPE_A);
}

static const struct entry mutual_glueless_script[] = {
	{GTLD, "*.example.com.", 0, 0, 0, .ns = {"example.com. 172800 IN NS ns.example.net."}},
	{GTLD, "*.example.net.", 0, 0, 0, .ns = {"example.net. 172800 IN NS ns.example.com."}},
	END,
};

/* example.com. served by ns.example.net., example.net. by ns.example.com.,
 * neither with glue: no address can ever be found. SERVFAIL, by the
 * resolver's own loop detection, not by the upstream query cap. */
static void test_mutual_glueless_loop(void **state)
{
	struct fixture *f = *state;

	use_script(f, mutual_glueless_script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(f->unscripted, 0);
	assert_true(f->nsent < f->opts.limits.max_upstream_queries);

	f->opts.qname_minimisation = true;
	cache_flush(f->cache);
	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(f->unscripted, 0);
	assert_true(f->nsent < f->opts.limits.max_upstream_queries);
}

/* The same loop should cost about what it takes to see it: priming, the
 * two referral chains and the repeated referral for example.com. */
static void test_mutual_glueless_loop_cost(void **state)
{
	struct fixture *f = *state;

	/* Fixed: the parent fallback applies only to delegations taken from the
	 * cache, so the loop is seen after a handful of queries. */
	use_script(f, mutual_glueless_script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	if (f->nsent > 10)
		dump_log(f);
	assert_true(f->nsent <= 10);
}

/* Every server of example.com. times out: SERVFAIL, each asked few times. */
static void test_all_servers_dead(void **state)
{
	struct fixture *f = *state;
	const struct entry script[] = {
		two_servers_referral,
		{NS1_COM, NULL, 0, F_DEAD, 0, .an = {NULL}},
		{NS2_COM, NULL, 0, F_DEAD, 0, .an = {NULL}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(f->unscripted, 0);
	/* Today: 11 sends, each dead server asked 3 times (once per cut, the
	 * cut being re-entered by the two parent fallbacks). */
	assert_true(f->nsent <= 12);
	assert_true(sends_to(f, NS1_COM) <= 3);
	assert_true(sends_to(f, NS2_COM) <= 3);
}

/* The upstream query cap ends the request in SERVFAIL. */
static void test_upstream_limit(void **state)
{
	struct fixture *f = *state;

	f->opts.limits.max_upstream_queries = 3; /* the chain needs 4 */
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(ldns_pkt_ancount(a), 0);
	assert_int_equal(f->nsent, 3);

	cache_flush(f->cache);
	f->opts.limits.max_upstream_queries = 4;
	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->nsent, 4);
}

/*
 * NXNS cap (resolver_limits.max_ns_fetches) against dead servers: example.com.
 * is delegated to six glueless names. The first two (s1, s2) resolve to
 * addresses that time out, the lookups of the next two fail (SERVFAIL), the fifth
 * works. Dead servers are not the NXNS attack (names that do not exist):
 * holdfast must go on to the other names within the request's query cap,
 * as Unbound does (its cap, MAX_TARGET_NX, counts NXDOMAIN targets).
 */
#define DEAD1 "203.0.113.1"
#define DEAD2 "203.0.113.2"
static void test_glueless_first_servers_dead(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{GTLD, "*.example.com.", 0, 0, 0,
		 .ns = {"example.com. 172800 IN NS s1.example.net.",
			"example.com. 172800 IN NS s2.example.net.",
			"example.com. 172800 IN NS s3.example.net.",
			"example.com. 172800 IN NS s4.example.net.",
			"example.com. 172800 IN NS ns.example.net.",
			"example.com. 172800 IN NS s6.example.net."}},
		{NS1_NET, "s1.example.net.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"s1.example.net. 3600 IN A " DEAD1}},
		{NS1_NET, "s2.example.net.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"s2.example.net. 3600 IN A " DEAD2}},
		{NS1_NET, "s3.example.net.", LDNS_RR_TYPE_A, 0, LDNS_RCODE_SERVFAIL, .an = {NULL}},
		{NS1_NET, "s4.example.net.", LDNS_RR_TYPE_A, 0, LDNS_RCODE_SERVFAIL, .an = {NULL}},
		{DEAD1, NULL, 0, F_DEAD, 0, .an = {NULL}},
		{DEAD2, NULL, 0, F_DEAD, 0, .an = {NULL}},
		{NS_NET, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.example.com. 300 IN A 192.0.2.82"}},
		END,
	};

	use_script(f, script);
	/* s1.example.net. itself is the example.net. server with glue. */
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	if (ldns_pkt_get_rcode(a) != LDNS_RCODE_NOERROR)
		dump_log(f);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.82"));
	assert_true(f->nsent <= f->opts.limits.max_upstream_queries);
}

/* The NXNS attack itself: a delegation to names that do not exist. After
 * max_ns_fetches lookups that say so, no further name is looked up. */
static void test_glueless_nxns_cap(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{GTLD, "*.example.com.", 0, 0, 0,
		 .ns = {"example.com. 172800 IN NS a.example.net.",
			"example.com. 172800 IN NS b.example.net.",
			"example.com. 172800 IN NS c.example.net.",
			"example.com. 172800 IN NS d.example.net.",
			"example.com. 172800 IN NS e.example.net.",
			"example.com. 172800 IN NS f.example.net.",
			"example.com. 172800 IN NS g.example.net.",
			"example.com. 172800 IN NS h.example.net."}},
		{NS1_NET, "*.example.net.", LDNS_RR_TYPE_A, F_AA, LDNS_RCODE_NXDOMAIN,
		 .ns = {"example.net. 3600 IN SOA ns1.example.net. h.example.net. 1 7200 3600 "
			"1209600 300"}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(sends_to(f, NS1_NET), f->opts.limits.max_ns_fetches);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_referral_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qname_minimisation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qname_minimisation_no_cuts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qname_minimisation_broken_ent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cache_hit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_glueless, setup, teardown),
		cmocka_unit_test_setup_teardown(test_glueless_first_servers_dead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_glueless_nxns_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mutual_glueless_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mutual_glueless_loop_cost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_servers_dead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upstream_limit, setup, teardown),
	};

	return cmocka_run_group_tests(tests, scripted_group_setup, scripted_group_teardown);
}
