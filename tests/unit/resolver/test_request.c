/*
 * Unit tests for resolver/request.c, driven through the scripted network of
 * scripted.h: the request's lifecycle and defaults: resolver_opts_init(),
 * creating a request, the public accessors.
 */
#include "scripted.h"

static void test_defaults(void **state)
{
	(void)state;
	struct resolver_opts opts;

	memset(&opts, 0xff, sizeof(opts));
	resolver_opts_init(&opts);
	assert_true(opts.qname_minimisation);
	assert_true(opts.harden_glue);
	assert_true(opts.do_ip4);
	assert_true(opts.do_ip6);
	assert_int_equal(opts.upstream_port, 53);
	assert_int_equal(opts.limits.max_upstream_queries, 64);
	assert_int_equal(opts.limits.max_referrals, 32);
	assert_int_equal(opts.limits.max_cname_chain, 12);
	assert_int_equal(opts.limits.max_ns_fetches, 4);
	assert_int_equal(opts.limits.max_depth, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
	};

	return cmocka_run_group_tests(tests, scripted_group_setup, scripted_group_teardown);
}
