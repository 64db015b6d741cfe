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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ds_asked_of_parent, setup, teardown),
	};

	return cmocka_run_group_tests(tests, scripted_group_setup, scripted_group_teardown);
}
