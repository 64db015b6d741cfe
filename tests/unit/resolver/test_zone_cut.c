/*
 * Unit tests for resolver/zone_cut.c, driven through the scripted network of
 * scripted.h: where a query is asked: DS at the parent side of the cut (RFC
 * 4035 §3.1.4.1), with and without the child's delegation cached.
 */
#include "scripted.h"

/* DS lives in the parent (RFC 4035 §3.1.4.1): asked of com., not of
 * example.com., even when the child's delegation is cached; never minimised. */
static void test_ds_asked_of_parent(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{GTLD, "example.com.", LDNS_RR_TYPE_DS, F_AA, 0,
		 .an = {"example.com. 86400 IN DS 370 13 2 "
			"be74359954660069d5c63d200c39f5603827d7dd02b56f120ee9f3a86764247c"}},
		END,
	};

	f->opts.qname_minimisation = true;
	use_script(f, script);
	const ldns_pkt *a = resolve(f, "example.com.", LDNS_RR_TYPE_DS, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 1);
	assert_int_equal(answer_type(a, 0), LDNS_RR_TYPE_DS);
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(f->nsent, 3);
	assert_sent(f, 1, ROOT, "example.com.", LDNS_RR_TYPE_DS);
	assert_sent(f, 2, GTLD, "example.com.", LDNS_RR_TYPE_DS);

	/* With example.com.'s delegation cached, DS still goes to com. */
	cache_flush(f->cache);
	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	a = resolve(f, "example.com.", LDNS_RR_TYPE_DS, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->nsent, 1);
	assert_sent(f, 0, GTLD, "example.com.", LDNS_RR_TYPE_DS);
}

#define STUB "10.53.0.1" /* corp.example.com.'s configured server */

/*
 * A stub zone wins over delegations learned from the internet below it: an
 * NS set for secret.corp.example.com. pointing at EVIL is in the cache at
 * referral rank (as com. could once teach it: scrub.c now drops such an
 * off-path NS set from a referral, so the test stores it directly), yet a
 * question below the configured zone corp.example.com. still goes to the
 * configured server, never to the learned one.
 */
static void test_stub_zone_wins_over_learned_delegation(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{STUB, "www.secret.corp.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.secret.corp.example.com. 300 IN A 10.53.0.80"}},
		{EVIL, NULL, 0, F_AA, 0, .an = {"www.secret.corp.example.com. 300 IN A " EVIL}},
		END,
	};
	struct resolver_stub stub = {.naddrs = 1};
	struct sockaddr_storage addr = {0};
	struct sockaddr_in *sin = (struct sockaddr_in *)&addr;
	ldns_rdf *provider = name_new("stub.corp.");

	sin->sin_family = AF_INET;
	sin->sin_port = htons(53);
	assert_int_equal(inet_pton(AF_INET, STUB, &sin->sin_addr), 1);
	stub.zone = name_new("corp.example.com.");
	stub.addrs = &addr;
	stub.provider_ns = &provider;
	f->opts.stubs = &stub;
	f->opts.nstubs = 1;
	use_script(f, script);

	static const char *const learned[] = {
		"secret.corp.example.com. 172800 IN NS ns.secret.corp.example.com.",
		"ns.secret.corp.example.com. 172800 IN A " EVIL,
	};
	for (size_t i = 0; i < 2; i++) {
		ldns_rr_list *set = ldns_rr_list_new();
		ldns_rr_list_push_rr(set, rr_new(learned[i]));
		assert_int_equal(
			cache_put_rrset(f->cache, set,
					i == 0 ? CACHE_RANK_AUTHORITY_NONAUTH : CACHE_RANK_GLUE,
					T0),
			0);
		ldns_rr_list_deep_free(set);
	}
	/* The learned delegation is in the cache... */
	assert_int_equal(cached(f, "secret.corp.example.com.", LDNS_RR_TYPE_NS, T0, NULL),
			 CACHE_FRESH);
	/* ...but the configured zone's server is the one asked. */
	const ldns_pkt *a = resolve(f, "www.secret.corp.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_true(section_has(a, LDNS_SECTION_ANSWER,
				"www.secret.corp.example.com. 300 IN A 10.53.0.80"));
	assert_int_equal(sends_to(f, EVIL), 0);
	assert_int_equal(f->nsent, 1);
	assert_sent(f, 0, STUB, "www.secret.corp.example.com.", LDNS_RR_TYPE_A);
	assert_int_equal(f->unscripted, 0);

	resolver_request_destroy(f->req);
	f->req = NULL;
	ldns_rdf_deep_free(stub.zone);
	ldns_rdf_deep_free(provider);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stub_zone_wins_over_learned_delegation, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ds_asked_of_parent, setup, teardown),
	};

	return cmocka_run_group_tests(tests, scripted_group_setup, scripted_group_teardown);
}
