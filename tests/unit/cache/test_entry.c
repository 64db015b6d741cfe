/*
 * Unit tests for cache/entry.c: records survive the trip to the compact
 * owned form and back unchanged (case included), with the TTL asked for.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cache/impl.h"

static const struct util_siphash_key seed = {1, 2};

static ldns_rr *rr_new(const char *str)
{
	ldns_rr *rr = NULL;

	assert_int_equal(ldns_rr_new_frm_str(&rr, str, 0, NULL, NULL), LDNS_STATUS_OK);
	return rr;
}

static void test_roundtrip(void **state)
{
	static const char *const strs[] = {
		"Mail.Example. 300 IN MX 10 MX1.Example.",
		"Mail.Example. 200 IN MX 20 mx2.example.",
		"Mail.Example. 100 IN MX 30 a.very.long.name.under.Example.",
	};
	ldns_rr_list *list = ldns_rr_list_new();
	ldns_rr_list *back;
	struct cache_key key;
	struct cache_entry *e;
	int err = 0;

	for (size_t i = 0; i < 3; i++)
		assert_true(ldns_rr_list_push_rr(list, rr_new(strs[i])));
	assert_int_equal(cache_key_init(&key, &seed, ldns_rr_owner(ldns_rr_list_rr(list, 0)),
					LDNS_RR_TYPE_MX),
			 0);
	e = cache_entry_new(&key, list, &err);
	assert_non_null(e);
	assert_int_equal(e->rr_count, 3);
	assert_int_equal(e->name_len, key.name_len);
	assert_int_equal(e->bytes, sizeof(*e) + e->name_len + e->rr_len);
	assert_memory_equal(e->data, key.name, key.name_len);

	back = cache_entry_decode(e, 42);
	assert_non_null(back);
	assert_int_equal(ldns_rr_list_rr_count(back), 3);
	for (size_t i = 0; i < 3; i++) {
		ldns_rr *want = ldns_rr_list_rr(list, i);
		ldns_rr *got = ldns_rr_list_rr(back, i);
		char *owner = ldns_rdf2str(ldns_rr_owner(got));
		char *rdata = ldns_rdf2str(ldns_rr_rdf(got, 1));
		char *want_rdata = ldns_rdf2str(ldns_rr_rdf(want, 1));

		assert_int_equal(ldns_rr_ttl(got), 42);
		assert_string_equal(owner, "Mail.Example.");
		assert_string_equal(rdata, want_rdata);
		ldns_rr_set_ttl(want, 42);
		assert_int_equal(ldns_rr_compare(want, got), 0);
		free(owner);
		free(rdata);
		free(want_rdata);
	}
	ldns_rr_list_deep_free(back);
	cache_entry_free(e);
	ldns_rr_list_deep_free(list);
}

static void test_empty(void **state)
{
	ldns_rdf *name = ldns_dname_new_frm_str("empty.example.");
	ldns_rr_list *back;
	struct cache_key key;
	struct cache_entry *e;
	int err = 0;

	assert_int_equal(cache_key_init(&key, &seed, name, CACHE_SLOT_NXDOMAIN), 0);
	e = cache_entry_new(&key, NULL, &err);
	assert_non_null(e);
	assert_int_equal(e->rr_count, 0);
	assert_int_equal(e->rr_len, 0);
	back = cache_entry_decode(e, 0);
	assert_non_null(back);
	assert_int_equal(ldns_rr_list_rr_count(back), 0);
	ldns_rr_list_free(back);
	cache_entry_free(e);
	ldns_rdf_deep_free(name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
