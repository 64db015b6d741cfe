/*
 * Unit tests for resolver/rrset.c: duplicate removal in rrset_extract() and
 * rrset_split() (canonical comparison: names in RDATA compare
 * case-insensitively, the TTL does not count; the first of equal records is
 * kept, the input order is kept), the grouping of a section into RRsets,
 * and rrset_check_reply_size() at and past RESOLVER_MAX_REPLY_RRS and
 * RESOLVER_MAX_RRSET_RRS (the caps on what one reply may make us sort),
 * and what resolver_consume() does with a reply over them (a real cache,
 * the network played by the test).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "resolver/impl.h"

static ldns_rr *rr_new(const char *str)
{
	ldns_rr *rr = NULL;

	assert_int_equal(ldns_rr_new_frm_str(&rr, str, 0, NULL, NULL), LDNS_STATUS_OK);
	return rr;
}

static ldns_rr_list *list_of(const char *const *rrs)
{
	ldns_rr_list *l = ldns_rr_list_new();

	assert_non_null(l);
	for (size_t i = 0; rrs[i]; i++)
		assert_true(ldns_rr_list_push_rr(l, rr_new(rrs[i])));
	return l;
}

static void assert_rr_is(const ldns_rr *rr, const char *str)
{
	ldns_rr *want = rr_new(str);

	assert_int_equal(ldns_rr_compare(rr, want), 0);
	assert_int_equal(ldns_rr_ttl(rr), ldns_rr_ttl(want));
	ldns_rr_free(want);
}

static void test_extract_removes_duplicates_keeps_order(void **state)
{
	(void)state;
	const char *const rrs[] = {
		"www.example. 300 IN A 192.0.2.2",
		"www.example. 300 IN A 192.0.2.1",
		"WWW.example. 60 IN A 192.0.2.2", /* same record: owner case and TTL differ */
		"www.example. 300 IN AAAA 2001:db8::1",
		"other.example. 300 IN A 192.0.2.1",
		"www.example. 300 IN A 192.0.2.3",
		"www.example. 300 IN A 192.0.2.1",
		NULL,
	};
	ldns_rr_list *l = list_of(rrs);
	ldns_rdf *owner = ldns_dname_new_frm_str("www.example.");
	ldns_rr_list *out = rrset_extract(l, owner, LDNS_RR_TYPE_A);

	assert_int_equal(ldns_rr_list_rr_count(out), 3);
	assert_rr_is(ldns_rr_list_rr(out, 0), "www.example. 300 IN A 192.0.2.2");
	assert_rr_is(ldns_rr_list_rr(out, 1), "www.example. 300 IN A 192.0.2.1");
	assert_rr_is(ldns_rr_list_rr(out, 2), "www.example. 300 IN A 192.0.2.3");
	ldns_rr_list_deep_free(out);
	ldns_rdf_deep_free(owner);
	ldns_rr_list_deep_free(l);
}

/* RFC 4034 §6.2: the names inside NS RDATA are compared in lower case. */
static void test_extract_canonical_rdata(void **state)
{
	(void)state;
	const char *const rrs[] = {
		"example. 300 IN NS ns1.example.",
		"example. 300 IN NS NS1.Example.",
		"example. 300 IN NS ns2.example.",
		NULL,
	};
	ldns_rr_list *l = list_of(rrs);
	ldns_rdf *owner = ldns_dname_new_frm_str("example.");
	ldns_rr_list *out = rrset_extract(l, owner, LDNS_RR_TYPE_NS);

	assert_int_equal(ldns_rr_list_rr_count(out), 2);
	assert_rr_is(ldns_rr_list_rr(out, 1), "example. 300 IN NS ns2.example.");
	ldns_rr_list_deep_free(out);
	ldns_rdf_deep_free(owner);
	ldns_rr_list_deep_free(l);
}

static void test_split_groups_in_first_seen_order(void **state)
{
	(void)state;
	const char *const rrs[] = {
		"b.example. 300 IN A 192.0.2.1",
		"a.example. 300 IN A 192.0.2.1",
		"B.example. 300 IN A 192.0.2.2",
		"b.example. 300 IN AAAA 2001:db8::1",
		"b.example. 300 IN A 192.0.2.1",
		"a.example. 300 IN A 192.0.2.9",
		NULL,
	};
	ldns_rr_list *l = list_of(rrs);
	size_t n = 0;
	struct rrset_item *sets = rrset_split(l, &n);

	assert_non_null(sets);
	assert_int_equal(n, 3);
	assert_int_equal(ldns_rr_list_rr_count(sets[0].rrs), 2); /* b A, duplicate gone */
	assert_rr_is(ldns_rr_list_rr(sets[0].rrs, 0), "b.example. 300 IN A 192.0.2.1");
	assert_rr_is(ldns_rr_list_rr(sets[0].rrs, 1), "b.example. 300 IN A 192.0.2.2");
	assert_int_equal(ldns_rr_list_rr_count(sets[1].rrs), 2); /* a A */
	assert_rr_is(ldns_rr_list_rr(sets[1].rrs, 1), "a.example. 300 IN A 192.0.2.9");
	assert_int_equal(ldns_rr_list_rr_count(sets[2].rrs), 1); /* b AAAA */
	rrset_split_free(sets, n);

	ldns_rr_list *empty = ldns_rr_list_new();
	sets = rrset_split(empty, &n);
	assert_non_null(sets);
	assert_int_equal(n, 0);
	rrset_split_free(sets, n);
	ldns_rr_list_free(empty);
	ldns_rr_list_deep_free(l);
}

/* A reply of `n` A records of one owner (distinct addresses) or of n owners. */
static ldns_pkt *reply_of(size_t n, bool distinct_owners)
{
	ldns_pkt *pkt = ldns_pkt_new();
	char buf[96];

	assert_non_null(pkt);
	for (size_t i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "%s%zu.example. 300 IN A 10.%zu.%zu.%zu",
			 distinct_owners ? "h" : "", distinct_owners ? i : 0, (i >> 16) & 255,
			 (i >> 8) & 255, i & 255);
		if (!distinct_owners)
			snprintf(buf, sizeof(buf), "big.example. 300 IN A 10.%zu.%zu.%zu",
				 (i >> 16) & 255, (i >> 8) & 255, i & 255);
		assert_true(ldns_pkt_push_rr(
			pkt, i % 2 ? LDNS_SECTION_ADDITIONAL : LDNS_SECTION_ANSWER, rr_new(buf)));
	}
	return pkt;
}

/* An attacker's reply of thousands of records of one RRset: refused, so
 * that one reply cannot make us sort and cache without bound. */
static void test_reply_size_caps_rrset(void **state)
{
	(void)state;
	size_t count, largest;
	_Static_assert(2 * RESOLVER_MAX_RRSET_RRS <= RESOLVER_MAX_REPLY_RRS, "test layout");
	/* Split over two sections: each section's RRset counts alone. */
	ldns_pkt *pkt = reply_of(2 * RESOLVER_MAX_RRSET_RRS - 2, false);
	assert_int_equal(rrset_check_reply_size(pkt, &count, &largest), 0);
	assert_int_equal(largest, RESOLVER_MAX_RRSET_RRS - 1);
	/* At the cap (the owner's case does not make another RRset)... */
	assert_true(ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER,
				     rr_new("BIG.example. 300 IN A 10.255.255.255")));
	assert_int_equal(rrset_check_reply_size(pkt, &count, &largest), 0);
	assert_int_equal(largest, RESOLVER_MAX_RRSET_RRS);
	/* ... and one past it, a duplicate (duplicates cost too). */
	assert_true(ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER,
				     rr_new("big.example. 300 IN A 10.255.255.255")));
	assert_int_equal(rrset_check_reply_size(pkt, &count, &largest), -EMSGSIZE);
	assert_int_equal(count, 2 * RESOLVER_MAX_RRSET_RRS);
	assert_int_equal(largest, RESOLVER_MAX_RRSET_RRS + 1);
	ldns_pkt_free(pkt);
}

static void test_reply_size_caps_message(void **state)
{
	(void)state;
	size_t count, largest;
	ldns_pkt *pkt = reply_of(RESOLVER_MAX_REPLY_RRS, true);
	assert_int_equal(rrset_check_reply_size(pkt, &count, &largest), 0);
	assert_int_equal(largest, 1);
	assert_true(ldns_pkt_push_rr(pkt, LDNS_SECTION_AUTHORITY,
				     rr_new("example. 300 IN NS ns.example.")));
	assert_int_equal(rrset_check_reply_size(pkt, &count, &largest), -E2BIG);
	assert_int_equal(count, RESOLVER_MAX_REPLY_RRS + 1);
	ldns_pkt_free(pkt);
}

/* Through resolver_consume(): a reply over the cap from the only server is
 * that server's failure (SERVFAIL, nothing cached) and is counted. */
static void test_oversized_reply_fails_the_server(void **state)
{
	(void)state;
	struct cache *cache = cache_create(NULL);
	ldns_rr_list *hints = ldns_rr_list_new();
	struct resolver_opts opts;
	struct resolver_stats stats;
	struct resolver_env env = {0};
	struct resolver_send out;
	ldns_rdf *qname = ldns_dname_new_frm_str("big.example.");

	memset(&stats, 0, sizeof(stats));
	assert_true(ldns_rr_list_push_rr(hints, rr_new(". 3600000 IN NS k.root-servers.net.")));
	assert_true(ldns_rr_list_push_rr(hints,
					 rr_new("k.root-servers.net. 3600000 IN A 193.0.14.129")));
	resolver_opts_init(&opts);
	opts.qname_minimisation = false;
	opts.do_ip6 = false;
	env.cache = cache;
	env.opts = &opts;
	env.root_hints = hints;
	env.stats = &stats;
	ldns_rr_list *root = ldns_rr_list_new();
	assert_true(ldns_rr_list_push_rr(root, rr_new(". 518400 IN NS k.root-servers.net.")));
	assert_int_equal(cache_put_rrset(cache, root, CACHE_RANK_ANSWER_AUTH, 1700000000u), 0);
	ldns_rr_list_deep_free(root);

	ldns_pkt *big = reply_of(2 * RESOLVER_MAX_RRSET_RRS + 2, false); /* over both caps */
	ldns_pkt_set_qr(big, true);
	ldns_pkt_set_aa(big, true);
	ldns_rr *q = ldns_rr_new();
	ldns_rr_set_owner(q, ldns_rdf_clone(qname));
	ldns_rr_set_type(q, LDNS_RR_TYPE_A);
	ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
	ldns_rr_set_question(q, true);
	assert_true(ldns_pkt_push_rr(big, LDNS_SECTION_QUESTION, q));
	uint8_t *wire = NULL;
	size_t len = 0;
	assert_int_equal(ldns_pkt2wire(&wire, big, &len), LDNS_STATUS_OK);

	struct resolver_request *req =
		resolver_request_create(&env, qname, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 1700000000u);
	assert_non_null(req);
	unsigned sends = 0;
	for (int guard = 0; guard < 16; guard++) {
		memset(&out, 0, sizeof(out));
		if (resolver_produce(req, 1700000000u, &out) == RESOLVER_DONE)
			break;
		struct sockaddr_storage server = out.servers[0];
		struct resolver_outcome outcome = {.status = RESOLVER_OUTCOME_RESPONSE,
						   .server = &server,
						   .wire = wire,
						   .len = len};
		bool asked = out.qtype == LDNS_RR_TYPE_A && rrset_name_equal(out.qname, qname);
		if (!asked)
			outcome.status = RESOLVER_OUTCOME_TIMEOUT; /* priming: not this test's */
		sends += asked;
		resolver_consume(req, 1700000000u, &outcome);
	}
	const ldns_pkt *answer = resolver_answer(req);
	assert_non_null(answer);
	assert_int_equal(ldns_pkt_get_rcode(answer), LDNS_RCODE_SERVFAIL);
	assert_int_equal(sends, 1); /* the server was failed, not asked again */
	assert_int_equal(atomic_load(&stats.replies_oversized), 1);
	struct cache_result res;
	assert_int_equal(cache_lookup(cache, qname, LDNS_RR_TYPE_A, 1700000000u, &res), CACHE_MISS);

	resolver_request_destroy(req);
	LDNS_FREE(wire);
	ldns_pkt_free(big);
	ldns_rdf_deep_free(qname);
	ldns_rr_list_deep_free(hints);
	cache_destroy(cache);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extract_removes_duplicates_keeps_order),
		cmocka_unit_test(test_extract_canonical_rdata),
		cmocka_unit_test(test_split_groups_in_first_seen_order),
		cmocka_unit_test(test_reply_size_caps_rrset),
		cmocka_unit_test(test_reply_size_caps_message),
		cmocka_unit_test(test_oversized_reply_fails_the_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
