/*
 * Unit tests for cache/key.c: keys fold ASCII case, keep slots apart, reject
 * what is not a name, and the match function compares whole keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cache/impl.h"

static const struct util_siphash_key seed = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

static void key_of(struct cache_key *key, const char *str, uint32_t slot)
{
	ldns_rdf *name = ldns_dname_new_frm_str(str);

	assert_non_null(name);
	assert_int_equal(cache_key_init(key, &seed, name, slot), 0);
	ldns_rdf_deep_free(name);
}

static void test_case_folding(void **state)
{
	struct cache_key a, b;

	key_of(&a, "WWW.Example.COM.", LDNS_RR_TYPE_A);
	key_of(&b, "www.example.com.", LDNS_RR_TYPE_A);
	assert_int_equal(a.name_len, 17);
	assert_int_equal(a.name_len, b.name_len);
	assert_memory_equal(a.name, b.name, a.name_len);
	assert_memory_equal(a.name, "\3www\7example\3com\0", 17);
	assert_true(a.hash == b.hash);
	assert_int_equal(a.slot, LDNS_RR_TYPE_A);
}

static void test_slots_differ(void **state)
{
	struct cache_key a, aaaa, nx, nx2;

	key_of(&a, "example.", LDNS_RR_TYPE_A);
	key_of(&aaaa, "example.", LDNS_RR_TYPE_AAAA);
	key_of(&nx, "example.", CACHE_SLOT_NXDOMAIN);
	key_of(&nx2, "example.", LDNS_RR_TYPE_A);
	nx2.slot = CACHE_SLOT_NXDOMAIN;
	cache_key_rehash(&nx2, &seed);
	assert_true(a.hash != aaaa.hash);
	assert_true(a.hash != nx.hash);
	assert_true(nx.hash == nx2.hash);
}

static void test_seed_matters(void **state)
{
	const struct util_siphash_key other = {1, 2};
	ldns_rdf *name = ldns_dname_new_frm_str("example.");
	struct cache_key a, b;

	assert_int_equal(cache_key_init(&a, &seed, name, 1), 0);
	assert_int_equal(cache_key_init(&b, &other, name, 1), 0);
	assert_true(a.hash != b.hash);
	ldns_rdf_deep_free(name);
}

static void test_rejects_non_names(void **state)
{
	ldns_rdf *addr = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, "192.0.2.1");
	struct cache_key key;

	assert_int_equal(cache_key_init(&key, &seed, NULL, 1), -EINVAL);
	assert_int_equal(cache_key_init(&key, &seed, addr, 1), -EINVAL);
	ldns_rdf_deep_free(addr);
}

static void test_match(void **state)
{
	struct cache_key key, other;
	ldns_rr_list *list = ldns_rr_list_new();
	struct cache_entry *e;
	int err = 0;

	key_of(&key, "Match.Example.", LDNS_RR_TYPE_TXT);
	e = cache_entry_new(&key, list, &err);
	assert_non_null(e);
	assert_true(cache_key_match(&e->node, &key));
	key_of(&other, "match.example.", LDNS_RR_TYPE_TXT);
	assert_true(cache_key_match(&e->node, &other));
	key_of(&other, "match.example.", LDNS_RR_TYPE_A);
	assert_false(cache_key_match(&e->node, &other));
	key_of(&other, "notmatch.example.", LDNS_RR_TYPE_TXT);
	assert_false(cache_key_match(&e->node, &other));
	cache_entry_free(e);
	ldns_rr_list_free(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_case_folding), cmocka_unit_test(test_slots_differ),
		cmocka_unit_test(test_seed_matters), cmocka_unit_test(test_rejects_non_names),
		cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
