/*
 * Unit tests for resolver/store.c, driven through the scripted network of
 * scripted.h: what a response may put into the cache (bailiwick,
 * harden-glue): out-of-bailiwick referrals, forged records beside an alias,
 * glue from outside the delegating zone; checked in the cache and in what
 * the iterator then uses.
 */
#include "scripted.h"

/* The com. server answers with NS sets for zones that are not below com.
 * (example.org.) or do not contain the name (evil.com.): not followed, not
 * cached, and their glue is never asked. */
static void test_referral_out_of_bailiwick(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{GTLD, "*.example.com.", 0, 0, 0,
		 .ns = {"example.org. 172800 IN NS ns.evil.org.",
			"evil.com. 172800 IN NS ns.evil.com."},
		 .ar = {"ns.evil.org. 172800 IN A " EVIL, "ns.evil.com. 172800 IN A " EVIL}},
		{EVIL, NULL, 0, F_AA, 0, .an = {"www.example.com. 300 IN A " EVIL}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(sends_to(f, EVIL), 0);
	assert_int_equal(f->unscripted, 0);
	if (f->nsent > 8)
		dump_log(f);
	assert_true(f->nsent <= 8);
	assert_int_equal(cached(f, "example.org.", LDNS_RR_TYPE_NS, T0, NULL), CACHE_MISS);
	assert_int_equal(cached(f, "ns.evil.org.", LDNS_RR_TYPE_A, T0, NULL), CACHE_MISS);
	assert_int_equal(cached(f, "www.example.com.", LDNS_RR_TYPE_A, T0, NULL), CACHE_MISS);
}

/* Glue for a name outside the delegating zone (com. vouching for
 * ns.example.net.) is not used with harden_glue: the address is resolved. */
static void test_harden_glue(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{GTLD, "*.example.com.", 0, 0, 0,
		 .ns = {"example.com. 172800 IN NS ns.example.net."},
		 .ar = {"ns.example.net. 172800 IN A " EVIL}},
		{NS_NET, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.example.com. 300 IN A 192.0.2.82"}},
		{EVIL, NULL, 0, F_AA, 0, .an = {"www.example.com. 300 IN A " EVIL}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.82"));
	assert_int_equal(sends_to(f, EVIL), 0);
	assert_int_equal(f->unscripted, 0);
	struct cache_result res;
	assert_int_equal(cached(f, "ns.example.net.", LDNS_RR_TYPE_A, T0, &res), CACHE_FRESH);
	assert_int_equal(ldns_rr_list_rr_count(res.rrs), 1);
	assert_true(rdata_is(ldns_rr_list_rr(res.rrs, 0), NS_NET));
	cache_result_clear(&res);

	/* Without harden_glue the same glue is believed (and used). */
	cache_flush(f->cache);
	f->opts.harden_glue = false;
	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(sends_to(f, EVIL), 1);
}

/* Records for names outside the server's zone are neither cached nor used
 * as the answer: a CNAME into example.net. with a forged A for its target
 * in the same response from the example.com. server. */
static void test_answer_out_of_zone(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.example.com. 300 IN CNAME www.example.net.",
			"www.example.net. 300 IN A " EVIL},
		 .ns = {"example.net. 300 IN NS ns.evil.com."},
		 .ar = {"ns.evil.com. 300 IN A " EVIL}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(ldns_pkt_ancount(a), 2);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.net. 300 IN A 198.51.100.80"));
	assert_false(section_has(a, LDNS_SECTION_ANSWER, "www.example.net. 300 IN A " EVIL));
	assert_int_equal(sends_to(f, EVIL), 0);
	struct cache_result res;
	assert_int_equal(cached(f, "www.example.net.", LDNS_RR_TYPE_A, T0, &res), CACHE_FRESH);
	assert_true(rdata_is(ldns_rr_list_rr(res.rrs, 0), "198.51.100.80"));
	cache_result_clear(&res);
	assert_int_equal(cached(f, "example.net.", LDNS_RR_TYPE_NS, T0, &res), CACHE_FRESH);
	assert_true(rdata_is(ldns_rr_list_rr(res.rrs, 0), "ns1.example.net."));
	cache_result_clear(&res);
	assert_int_equal(cached(f, "ns.evil.com.", LDNS_RR_TYPE_A, T0, NULL), CACHE_MISS);
}

/*
 * Ghost domains (CVE-2012-1033): com. delegates example.com. for 3600 s; the
 * child answers every question with its NS set in the authority section
 * (TTL 86400), and once an NS question. That must not keep the delegation
 * alive: after the parent's 3600 s, com. is asked again, and its NXDOMAIN
 * (the delegation was removed) is the answer, not the child's data.
 */
static void test_ghost_domain_expires(void **state)
{
	struct fixture *f = *state;
	static const struct entry before[] = {
		{GTLD, "*.example.com.", 0, 0, 0,
		 .ns = {"example.com. 3600 IN NS ns1.example.com."},
		 .ar = {"ns1.example.com. 3600 IN A " NS1_COM}},
		{NS1_COM, "example.com.", LDNS_RR_TYPE_NS, F_AA, 0,
		 .an = {"example.com. 86400 IN NS ns1.example.com."}},
		{NS1_COM, "*.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.example.com. 300 IN A 192.0.2.80"},
		 .ns = {"example.com. 86400 IN NS ns1.example.com."}},
		END,
	};
	static const struct entry after[] = {
		{GTLD, "*.example.com.", 0, F_AA, LDNS_RCODE_NXDOMAIN,
		 .ns = {"com. 900 IN SOA a.gtld-servers.net. nstld.verisign-grs.com. 1 1800 900 "
			"604800 900"}},
		{NS1_COM, "*.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.example.com. 300 IN A " EVIL},
		 .ns = {"example.com. 86400 IN NS ns1.example.com."}},
		END,
	};

	use_script(f, before);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	/* The child re-sends its NS set, in answers and as an NS answer. */
	for (unsigned t = 600; t < 3600; t += 600) {
		a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + t);
		assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
		assert_int_equal(sends_to(f, GTLD), 0);
	}
	a = resolve(f, "example.com.", LDNS_RR_TYPE_NS, T0 + 3000);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	struct cache_result res;
	assert_int_equal(cached(f, "example.com.", LDNS_RR_TYPE_NS, T0 + 3000, &res), CACHE_FRESH);
	assert_true(res.ttl <= 600);
	cache_result_clear(&res);

	/* The parent's TTL is over and the parent removed the delegation (a
	 * new name: for www the empty-answer guard would hold the last good
	 * answer, which is its job). */
	use_script(f, after);
	a = resolve(f, "mail.example.com.", LDNS_RR_TYPE_A, T0 + 3700);
	assert_int_equal(sends_to(f, GTLD), 1);
	assert_int_equal(sends_to(f, NS1_COM), 0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(f->unscripted, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ghost_domain_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_referral_out_of_bailiwick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_harden_glue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_out_of_zone, setup, teardown),
	};

	return cmocka_run_group_tests(tests, scripted_group_setup, scripted_group_teardown);
}
