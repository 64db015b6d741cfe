/*
 * Unit tests for resolver/response.c, driven through the scripted network of
 * scripted.h: resolver_consume(): negative answers and their caching, dead
 * and lame servers (timeout, REFUSED, SERVFAIL, upward referrals), TC=1 and
 * the retry over TCP, the referral cap.
 */
#include "scripted.h"

/* NXDOMAIN with the SOA, and its negative caching (RFC 2308). */
static void test_nxdomain(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "nx.example.com.", 0, F_AA, LDNS_RCODE_NXDOMAIN, .ns = {SOA_EXAMPLE_COM}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "nx.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_ancount(a), 0);
	assert_int_equal(ldns_pkt_nscount(a), 1);
	assert_true(section_has(a, LDNS_SECTION_AUTHORITY, SOA_EXAMPLE_COM));
	assert_int_equal(f->nsent, 4);
	assert_int_equal(f->unscripted, 0);

	a = resolve(f, "nx.example.com.", LDNS_RR_TYPE_A, T0 + 10);
	assert_int_equal(resolver_request_upstream_count(f->req), 0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_nscount(a), 1);
	assert_true(section_has(a, LDNS_SECTION_AUTHORITY, SOA_EXAMPLE_COM));
	/* RFC 2308 §5: TTL = min(SOA TTL, MINIMUM) = 300, counting down. */
	assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_authority(a), 0)), 290);

	/* NXDOMAIN covers every type of the name. */
	a = resolve(f, "nx.example.com.", LDNS_RR_TYPE_MX, T0 + 10);
	assert_int_equal(f->nsent, 0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);

	/* After the negative TTL the name is asked again. */
	a = resolve(f, "nx.example.com.", LDNS_RR_TYPE_A, T0 + 301);
	assert_int_equal(f->nsent, 1);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
}

/* NODATA: NOERROR, no answer, the SOA; cached for the type only. */
static void test_nodata(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "www.example.com.", LDNS_RR_TYPE_TXT, F_AA, 0, .ns = {SOA_EXAMPLE_COM}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_TXT, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 0);
	assert_int_equal(ldns_pkt_nscount(a), 1);
	assert_true(section_has(a, LDNS_SECTION_AUTHORITY, SOA_EXAMPLE_COM));
	assert_int_equal(f->nsent, 4);

	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_TXT, T0 + 5);
	assert_int_equal(resolver_request_upstream_count(f->req), 0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 0);
	assert_int_equal(ldns_pkt_nscount(a), 1);

	/* Other types of the name are still asked. */
	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 5);
	assert_int_equal(f->nsent, 1);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 1);
}

/* example.com. has two servers; the first one (ns1) misbehaves as `bad`
 * says. The query moves on to ns2 after one attempt at ns1. */
static void check_one_bad_server(struct fixture *f, const struct entry *bad)
{
	const struct entry script[] = {
		*bad,
		two_servers_referral,
		{NS2_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.example.com. 300 IN A 192.0.2.80"}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.80"));
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(f->nsent, 5);
	assert_sent(f, 3, NS1_COM, "www.example.com.", LDNS_RR_TYPE_A);
	assert_int_equal(f->log[3].nservers, 2);
	assert_sent(f, 4, NS2_COM, "www.example.com.", LDNS_RR_TYPE_A);
	assert_int_equal(f->log[4].nservers, 1); /* the bad one is no candidate any more */
	f->scripts[0] = NULL;
}

static void test_dead_server(void **state)
{
	const struct entry bad = {NS1_COM, NULL, 0, F_DEAD, 0, .an = {NULL}};

	check_one_bad_server(*state, &bad);
}

static void test_lame_refused(void **state)
{
	const struct entry bad = {NS1_COM, NULL, 0, F_AA, LDNS_RCODE_REFUSED, .an = {NULL}};

	check_one_bad_server(*state, &bad);
}

static void test_lame_servfail(void **state)
{
	const struct entry bad = {NS1_COM, NULL, 0, 0, LDNS_RCODE_SERVFAIL, .an = {NULL}};

	check_one_bad_server(*state, &bad);
}

/* A lame server's upward referral (AA, the root NS set, no SOA). */
static void test_lame_upward_referral(void **state)
{
	const struct entry bad = {NS1_COM, NULL, 0,
				  F_AA,	   0,	 .ns = {". 518400 IN NS k.root-servers.net."}};

	check_one_bad_server(*state, &bad);
}

/* TC=1 over UDP: the same question goes to the same server over TCP. */
static void test_truncated_retries_tcp(void **state)
{
	struct fixture *f = *state;
	const struct entry script[] = {
		two_servers_referral,
		{NS1_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA | F_TC | F_UDP, 0, .an = {NULL}},
		{NS1_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA | F_TCP, 0,
		 .an = {"www.example.com. 300 IN A 192.0.2.80"}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.80"));
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(f->nsent, 5);
	assert_sent(f, 3, NS1_COM, "www.example.com.", LDNS_RR_TYPE_A);
	assert_false(f->log[3].tcp);
	assert_sent(f, 4, NS1_COM, "www.example.com.", LDNS_RR_TYPE_A);
	assert_true(f->log[4].tcp);
	assert_int_equal(f->log[4].nservers, 1);
	assert_int_equal(sends_to(f, NS2_COM), 0);
}

/* TC=1 over TCP too: that server is given up, the other one is asked. */
static void test_truncated_over_tcp(void **state)
{
	struct fixture *f = *state;

	/* Fixed: a server truncating over TCP too is failed and left. */
	const struct entry script[] = {
		two_servers_referral,
		{NS1_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA | F_TC, 0, .an = {NULL}},
		{NS2_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.example.com. 300 IN A 192.0.2.80"}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->nsent, 6);
	assert_true(f->log[4].tcp);
	assert_sent(f, 5, NS2_COM, "www.example.com.", LDNS_RR_TYPE_A);
	assert_false(f->log[5].tcp);
}

/* A server for example.com. that hands out a delegation of com. (upward)
 * is lame for that question; the other server answers. */
static void test_upward_referral_not_followed(void **state)
{
	const struct entry bad = {NS1_COM,
				  NULL,
				  0,
				  0,
				  0,
				  .ns = {"com. 172800 IN NS ns.evil.com."},
				  .ar = {"ns.evil.com. 172800 IN A " EVIL}};
	struct fixture *f = *state;

	check_one_bad_server(f, &bad);
	assert_int_equal(sends_to(f, EVIL), 0);
	/* The real com. NS set is still the one cached. */
	struct cache_result res;
	assert_int_equal(cached(f, "com.", LDNS_RR_TYPE_NS, T0, &res), CACHE_FRESH);
	assert_int_equal(ldns_rr_list_rr_count(res.rrs), 1);
	assert_true(rdata_is(ldns_rr_list_rr(res.rrs, 0), "a.gtld-servers.net."));
	cache_result_clear(&res);
	assert_int_equal(cached(f, "ns.evil.com.", LDNS_RR_TYPE_A, T0, NULL), CACHE_MISS);
}

/* An endless chain of referrals one label deeper each time stops at the
 * referral or query cap. */
static void test_referral_limit(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "*.example.com.", 0, 0, 0,
		 .ns = {"x.example.com. 3600 IN NS ns1.example.com."},
		 .ar = {"ns1.example.com. 3600 IN A " NS1_COM}},
		END,
	};

	use_script(f, script);
	f->opts.limits.max_referrals = 4;
	const ldns_pkt *a = resolve(f, "a.b.c.d.e.f.g.h.x.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_true(f->nsent <= 10);
}

/*
 * RFC 8020 (harden-below-nxdomain): once example.com.'s server said
 * gone.example.com. does not exist, names below it are answered NXDOMAIN
 * from the cache without asking; with the option off they are asked.
 */
static void test_rfc8020_below_nxdomain(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "*.gone.example.com.", 0, F_AA, LDNS_RCODE_NXDOMAIN,
		 .ns = {SOA_EXAMPLE_COM}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "gone.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
	a = resolve(f, "www.deep.gone.example.com.", LDNS_RR_TYPE_AAAA, T0 + 10);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(f->nsent, 0);
	assert_true(
		section_has(a, LDNS_SECTION_AUTHORITY,
			    "example.com. 290 IN SOA ns1.example.com. hostmaster.example.com. 1 "
			    "7200 3600 1209600 300"));

	/* harden-below-nxdomain: no. The names below are asked. */
	struct cache_opts opts;
	cache_opts_init(&opts);
	opts.harden_below_nxdomain = false;
	cache_destroy(f->cache);
	f->cache = f->env.cache = cache_create(&opts);
	assert_non_null(f->cache);
	a = resolve(f, "gone.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
	a = resolve(f, "www.deep.gone.example.com.", LDNS_RR_TYPE_AAAA, T0 + 10);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(f->nsent, 1);
	assert_int_equal(f->unscripted, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rfc8020_below_nxdomain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nxdomain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nodata, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lame_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lame_servfail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lame_upward_referral, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_retries_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_over_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upward_referral_not_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_referral_limit, setup, teardown),
	};

	return cmocka_run_group_tests(tests, scripted_group_setup, scripted_group_teardown);
}
