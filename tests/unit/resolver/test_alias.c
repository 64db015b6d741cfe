/*
 * Unit tests for resolver/alias.c, driven through the scripted network of
 * scripted.h: CNAME and DNAME chains: inside one response, across zones, to
 * a negative answer, loops and the chain cap (from responses and from the
 * cache), DNAME synthesis (RFC 6672).
 */
#include "scripted.h"

/* A CNAME and its target in one authoritative response. */
static void test_cname_in_zone(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.example.com. 300 IN CNAME web.example.com.",
			"web.example.com. 300 IN A 192.0.2.81"}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 2);
	assert_int_equal(answer_type(a, 0), LDNS_RR_TYPE_CNAME);
	assert_int_equal(answer_type(a, 1), LDNS_RR_TYPE_A);
	assert_true(section_has(a, LDNS_SECTION_ANSWER,
				"www.example.com. 300 IN CNAME web.example.com."));
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "web.example.com. 300 IN A 192.0.2.81"));
	assert_int_equal(f->nsent, 4);
	assert_int_equal(f->unscripted, 0);

	/* Both links come back from the cache. */
	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 1);
	assert_int_equal(f->nsent, 0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 2);
	assert_int_equal(answer_type(a, 0), LDNS_RR_TYPE_CNAME);
	assert_int_equal(answer_type(a, 1), LDNS_RR_TYPE_A);
}

/* A CNAME into another zone: resolution restarts from the target's cut. */
static void test_cname_across_zones(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.example.com. 300 IN CNAME www.example.net."}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 2);
	assert_int_equal(answer_type(a, 0), LDNS_RR_TYPE_CNAME);
	assert_true(section_has(a, LDNS_SECTION_ANSWER,
				"www.example.com. 300 IN CNAME www.example.net."));
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.net. 300 IN A 198.51.100.80"));
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(f->nsent, 7);
	assert_sent(f, 4, ROOT, "www.example.net.", LDNS_RR_TYPE_A);
	assert_sent(f, 5, GTLD, "www.example.net.", LDNS_RR_TYPE_A);
	assert_sent(f, 6, NS1_NET, "www.example.net.", LDNS_RR_TYPE_A);

	/* The target's zone is now known: a CNAME into it costs one query there. */
	static const struct entry script2[] = {
		{NS1_COM, "ftp.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"ftp.example.com. 300 IN CNAME www.example.net."}},
		END,
	};
	use_script(f, script2);
	a = resolve(f, "ftp.example.com.", LDNS_RR_TYPE_A, T0 + 1);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 2);
	assert_int_equal(f->nsent, 1);
	assert_sent(f, 0, NS1_COM, "ftp.example.com.", LDNS_RR_TYPE_A);
}

/* A CNAME to a name the zone says does not exist: NXDOMAIN with the chain. */
static void test_cname_to_nxdomain(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA, LDNS_RCODE_NXDOMAIN,
		 .an = {"www.example.com. 300 IN CNAME gone.example.com."},
		 .ns = {SOA_EXAMPLE_COM}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_ancount(a), 1);
	assert_int_equal(answer_type(a, 0), LDNS_RR_TYPE_CNAME);
	assert_true(section_has(a, LDNS_SECTION_AUTHORITY, SOA_EXAMPLE_COM));
	assert_int_equal(f->nsent, 4);

	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 1);
	assert_int_equal(f->nsent, 0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_ancount(a), 1);
	assert_int_equal(ldns_pkt_nscount(a), 1);
}

/* CNAME loops end in SERVFAIL quickly: inside one response, across zones,
 * and again from the cache. */
static void test_cname_loop(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "a.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"a.example.com. 300 IN CNAME b.example.com.",
			"b.example.com. 300 IN CNAME a.example.com."}},
		{NS1_COM, "x.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"x.example.com. 300 IN CNAME x.example.net."}},
		{NS1_NET, "x.example.net.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"x.example.net. 300 IN CNAME x.example.com."}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "a.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(ldns_pkt_ancount(a), 0);
	assert_int_equal(f->nsent, 4);
	assert_int_equal(f->unscripted, 0);

	a = resolve(f, "x.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_true(f->nsent <= 5);
	assert_int_equal(f->unscripted, 0);

	/* Both links cached now: the loop is seen without asking anyone. */
	a = resolve(f, "x.example.com.", LDNS_RR_TYPE_A, T0 + 1);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(f->nsent, 0);
	a = resolve(f, "x.example.net.", LDNS_RR_TYPE_A, T0 + 1);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(f->nsent, 0);
}

/* max_cname_chain links are followed; one more is SERVFAIL. */
static void test_cname_chain_limit(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "c0.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"c0.example.com. 300 IN CNAME c1.example.com.",
			"c1.example.com. 300 IN CNAME c2.example.com.",
			"c2.example.com. 300 IN CNAME c3.example.com.",
			"c3.example.com. 300 IN CNAME c4.example.com.",
			"c4.example.com. 300 IN CNAME c5.example.com.",
			"c5.example.com. 300 IN CNAME c6.example.com.",
			"c6.example.com. 300 IN CNAME c7.example.com.",
			"c7.example.com. 300 IN CNAME c8.example.com.",
			"c8.example.com. 300 IN CNAME c9.example.com.",
			"c9.example.com. 300 IN CNAME c10.example.com.",
			"c10.example.com. 300 IN CNAME c11.example.com.",
			"c11.example.com. 300 IN CNAME c12.example.com.",
			"c12.example.com. 300 IN CNAME c13.example.com.",
			"c13.example.com. 300 IN A 192.0.2.13"}},
		END,
	};

	use_script(f, script);
	/* c0 -> ... -> c13: 13 links, one more than the default limit of 12. */
	const ldns_pkt *a = resolve(f, "c0.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(ldns_pkt_ancount(a), 0);
	assert_true(f->nsent <= 4);

	/* c1 -> ... -> c13: 12 links, within the limit (mostly from the cache). */
	a = resolve(f, "c1.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 13);
	assert_int_equal(answer_type(a, 12), LDNS_RR_TYPE_A);

	/* A lower limit applies to chains from the cache too. */
	f->opts.limits.max_cname_chain = 3;
	a = resolve(f, "c10.example.com.", LDNS_RR_TYPE_A, T0); /* 3 links */
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 4);
	assert_int_equal(f->nsent, 0);
	a = resolve(f, "c9.example.com.", LDNS_RR_TYPE_A, T0); /* 4 links */
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(f->nsent, 0);
}

/* DNAME (RFC 6672): the CNAME is synthesized and the target resolved. */
static void test_dname(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "www.sub.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"sub.example.com. 300 IN DNAME sub.example.net."}},
		{NS1_NET, "www.sub.example.net.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.sub.example.net. 300 IN A 198.51.100.81"}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.sub.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(ldns_pkt_ancount(a), 3);
	assert_int_equal(answer_type(a, 0), LDNS_RR_TYPE_DNAME);
	assert_int_equal(answer_type(a, 1), LDNS_RR_TYPE_CNAME);
	assert_int_equal(answer_type(a, 2), LDNS_RR_TYPE_A);
	assert_true(section_has(a, LDNS_SECTION_ANSWER,
				"sub.example.com. 300 IN DNAME sub.example.net."));
	assert_true(section_has(a, LDNS_SECTION_ANSWER,
				"www.sub.example.com. 300 IN CNAME www.sub.example.net."));
	assert_true(
		section_has(a, LDNS_SECTION_ANSWER, "www.sub.example.net. 300 IN A 198.51.100.81"));
	assert_int_equal(f->nsent, 7);
	assert_sent(f, 6, NS1_NET, "www.sub.example.net.", LDNS_RR_TYPE_A);
}

/* DNAME with the server's own synthesized CNAME beside it (RFC 6672 §3.1). */
static void test_dname_with_cname(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "www.sub.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"sub.example.com. 300 IN DNAME sub.example.com.example.net.",
			"www.sub.example.com. 300 IN CNAME www.sub.example.com.example.net."}},
		{NS1_NET, "www.sub.example.com.example.net.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.sub.example.com.example.net. 300 IN A 198.51.100.82"}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.sub.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->unscripted, 0);
	assert_true(
		section_has(a, LDNS_SECTION_ANSWER,
			    "www.sub.example.com. 300 IN CNAME www.sub.example.com.example.net."));
	assert_true(section_has(a, LDNS_SECTION_ANSWER,
				"www.sub.example.com.example.net. 300 IN A 198.51.100.82"));
}

/* RFC 6672 §2.2: a substitution longer than 255 octets is YXDOMAIN, with the
 * DNAME in the answer (the name asked is 209 octets, the result would be 269),
 * whether the server answered NOERROR or, as §2.2 has it, YXDOMAIN itself. */
#define LONG_PREFIX                                                                                \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."                         \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."                         \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
static void test_dname_substitution_too_long(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "*.sub.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"sub.example.com. 300 IN DNAME "
			"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.example."
			"net."}},
		{NS1_COM, "*.yx.example.com.", LDNS_RR_TYPE_A, F_AA, LDNS_RCODE_YXDOMAIN,
		 .an = {"yx.example.com. 300 IN DNAME "
			"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.example."
			"net."}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, LONG_PREFIX "sub.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_YXDOMAIN);
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(ldns_pkt_ancount(a), 1);
	assert_true(section_has(
		a, LDNS_SECTION_ANSWER,
		"sub.example.com. 300 IN DNAME "
		"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.example.net."));

	a = resolve(f, LONG_PREFIX "yx.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_YXDOMAIN);
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(ldns_pkt_ancount(a), 1);
	assert_true(section_has(
		a, LDNS_SECTION_ANSWER,
		"yx.example.com. 300 IN DNAME "
		"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.example.net."));
	assert_int_equal(sends_to(f, NS1_COM), 1); /* no other server asked */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cname_in_zone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cname_across_zones, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cname_to_nxdomain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cname_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cname_chain_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dname, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dname_with_cname, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dname_substitution_too_long, setup, teardown),
	};

	return cmocka_run_group_tests(tests, scripted_group_setup, scripted_group_teardown);
}
