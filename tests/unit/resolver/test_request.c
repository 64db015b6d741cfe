/*
 * Unit tests for resolver/request.c: the defaults (resolver_opts_init), a
 * request's lifecycle and its public accessors. Uses the fixture of
 * scripted.h (a real cache, the root hints).
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

/* A new request has no answer, no early answer, no EDE and has sent
 * nothing; it is counted. Destroying it in the middle of a resolution (the
 * priming sub-query on its stack) frees everything (ASan run). */
static void test_request_lifecycle(void **state)
{
	struct fixture *f = *state;
	static struct resolver_stats stats;
	struct resolver_send out;
	int ede = 0;

	f->env.stats = &stats;
	ldns_rdf *name = name_new("www.example.com.");
	struct resolver_request *req =
		resolver_request_create(&f->env, name, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, T0);
	ldns_rdf_deep_free(name);
	assert_non_null(req);
	assert_int_equal(atomic_load(&stats.requests), 1);
	assert_null(resolver_answer(req));
	assert_null(resolver_early_answer(req, &ede));
	assert_int_equal(ede, -1);
	assert_int_equal(resolver_answer_ede(req), -1);
	assert_int_equal(resolver_request_upstream_count(req), 0);

	memset(&out, 0, sizeof(out));
	assert_int_equal(resolver_produce(req, T0, &out), RESOLVER_SEND);
	assert_int_equal(resolver_request_upstream_count(req), 1);
	assert_int_equal(out.qtype, LDNS_RR_TYPE_NS); /* priming the root first */
	assert_true(out.configured);
	assert_null(resolver_answer(req));
	resolver_request_destroy(req);
	resolver_request_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test_setup_teardown(test_request_lifecycle, setup, teardown),
	};

	return cmocka_run_group_tests(tests, scripted_group_setup, scripted_group_teardown);
}
