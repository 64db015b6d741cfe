/*
 * Unit tests for cache/cache.c: storing and finding RRsets and negative
 * answers, TTL countdown and clamping, the stale window, credibility ranks,
 * case-insensitive keys, eviction under a memory bound, and a multithreaded
 * smoke test of the RCU paths. Time is a plain number passed as `now`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cache/cache.h"

#define T0 1000000u

static ldns_rr *rr_new(const char *str)
{
	ldns_rr *rr = NULL;

	assert_int_equal(ldns_rr_new_frm_str(&rr, str, 0, NULL, NULL), LDNS_STATUS_OK);
	return rr;
}

/* A list of the records given as strings, NULL-terminated. */
static ldns_rr_list *list_new(const char *first, ...)
{
	ldns_rr_list *list = ldns_rr_list_new();
	va_list ap;

	assert_non_null(list);
	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *))
		assert_true(ldns_rr_list_push_rr(list, rr_new(s)));
	va_end(ap);
	return list;
}

static ldns_rdf *name_new(const char *str)
{
	ldns_rdf *name = ldns_dname_new_frm_str(str);

	assert_non_null(name);
	return name;
}

static struct cache *cache_new(uint32_t min_ttl, uint32_t max_ttl, uint32_t max_neg,
			       uint32_t max_stale, size_t max_bytes)
{
	struct cache_opts opts = {
		.max_bytes = max_bytes,
		.min_ttl = min_ttl,
		.max_ttl = max_ttl,
		.max_negative_ttl = max_neg,
		.max_stale_ttl = max_stale,
	};
	struct cache *cache = cache_create(&opts);

	assert_non_null(cache);
	return cache;
}

static struct cache *cache_default(void)
{
	return cache_new(0, 86400, 3600, 86400, 0);
}

static int put_strs(struct cache *cache, enum cache_rank rank, uint64_t now, const char *first, ...)
{
	ldns_rr_list *list = ldns_rr_list_new();
	va_list ap;
	int ret;

	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *))
		assert_true(ldns_rr_list_push_rr(list, rr_new(s)));
	va_end(ap);
	ret = cache_put_rrset(cache, list, rank, now);
	ldns_rr_list_deep_free(list);
	return ret;
}

static int put_neg(struct cache *cache, const char *name, uint16_t type, enum cache_kind kind,
		   const char *soa, enum cache_rank rank, uint64_t now)
{
	ldns_rdf *dname = name_new(name);
	ldns_rr_list *list = soa ? list_new(soa, NULL) : NULL;
	int ret = cache_put_negative(cache, dname, type, kind, list, rank, now);

	ldns_rr_list_deep_free(list);
	ldns_rdf_deep_free(dname);
	return ret;
}

static enum cache_status lookup(struct cache *cache, const char *name, uint16_t type, uint64_t now,
				struct cache_result *out)
{
	ldns_rdf *dname = name_new(name);
	enum cache_status st = cache_lookup(cache, dname, type, now, out);

	ldns_rdf_deep_free(dname);
	return st;
}

/* The text of the first record's last rdata field, for comparing answers. */
static void assert_first_rdata(const struct cache_result *res, const char *want)
{
	const ldns_rr *rr = ldns_rr_list_rr(res->rrs, 0);
	char *got = ldns_rdf2str(ldns_rr_rdf(rr, ldns_rr_rd_count(rr) - 1));

	assert_string_equal(got, want);
	free(got);
}

static void assert_all_ttls(const struct cache_result *res, uint32_t ttl)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(res->rrs); i++)
		assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(res->rrs, i)), ttl);
}

#define SOA(name, ttl, minimum)                                                                    \
	name " " #ttl " IN SOA ns1.example. host.example. 2024010101 7200 3600 1209600 " #minimum

static void test_store_lookup_fresh(void **state)
{
	struct cache *cache = cache_default();
	struct cache_result res;

	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0,
				  "www.example.com. 600 IN A 192.0.2.1",
				  "www.example.com. 300 IN A 192.0.2.2", NULL),
			 0);
	assert_int_equal(lookup(cache, "www.example.com.", LDNS_RR_TYPE_A, T0, &res), CACHE_FRESH);
	assert_int_equal(res.kind, CACHE_KIND_RRSET);
	assert_int_equal(res.rank, CACHE_RANK_ANSWER_AUTH);
	assert_int_equal(res.ttl, 300);
	assert_int_equal(res.orig_ttl, 300);
	assert_int_equal(res.stale_for, 0);
	assert_int_equal(ldns_rr_list_rr_count(res.rrs), 2);
	assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(res.rrs, 0)), LDNS_RR_TYPE_A);
	assert_first_rdata(&res, "192.0.2.1");
	assert_all_ttls(&res, 300);
	cache_result_clear(&res);
	assert_null(res.rrs);

	/* Another type, another name: misses. NULL `out` is an existence check. */
	assert_int_equal(lookup(cache, "www.example.com.", LDNS_RR_TYPE_AAAA, T0, &res),
			 CACHE_MISS);
	assert_null(res.rrs);
	assert_int_equal(lookup(cache, "example.com.", LDNS_RR_TYPE_A, T0, NULL), CACHE_MISS);
	assert_int_equal(lookup(cache, "www.example.com.", LDNS_RR_TYPE_A, T0, NULL), CACHE_FRESH);
	cache_destroy(cache);
}

static void test_ttl_countdown(void **state)
{
	struct cache *cache = cache_new(0, 86400, 3600, 0, 0);
	struct cache_result res;

	assert_int_equal(
		put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0, "a.example. 300 IN A 192.0.2.1", NULL),
		0);
	assert_int_equal(lookup(cache, "a.example.", LDNS_RR_TYPE_A, T0 + 100, &res), CACHE_FRESH);
	assert_int_equal(res.ttl, 200);
	assert_int_equal(res.orig_ttl, 300);
	assert_all_ttls(&res, 200);
	cache_result_clear(&res);
	assert_int_equal(lookup(cache, "a.example.", LDNS_RR_TYPE_A, T0 + 299, &res), CACHE_FRESH);
	assert_int_equal(res.ttl, 1);
	cache_result_clear(&res);
	/* Without a stale window, expiry is a miss. */
	assert_int_equal(lookup(cache, "a.example.", LDNS_RR_TYPE_A, T0 + 300, &res), CACHE_MISS);
	/* A clock stepped backwards never yields more than the stored TTL. */
	assert_int_equal(
		put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0, "b.example. 300 IN A 192.0.2.1", NULL),
		0);
	assert_int_equal(lookup(cache, "b.example.", LDNS_RR_TYPE_A, T0 - 1000, &res), CACHE_FRESH);
	assert_int_equal(res.ttl, 300);
	cache_result_clear(&res);
	cache_destroy(cache);
}

static void test_ttl_clamp(void **state)
{
	struct cache *cache = cache_new(60, 3600, 3600, 0, 0);
	struct cache_result res;

	assert_int_equal(
		put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0, "low.example. 5 IN A 192.0.2.1", NULL),
		0);
	assert_int_equal(lookup(cache, "low.example.", LDNS_RR_TYPE_A, T0, &res), CACHE_FRESH);
	assert_int_equal(res.orig_ttl, 60);
	assert_int_equal(res.ttl, 60);
	assert_all_ttls(&res, 60);
	cache_result_clear(&res);

	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0,
				  "high.example. 604800 IN A 192.0.2.1", NULL),
			 0);
	assert_int_equal(lookup(cache, "high.example.", LDNS_RR_TYPE_A, T0 + 1, &res), CACHE_FRESH);
	assert_int_equal(res.orig_ttl, 3600);
	assert_int_equal(res.ttl, 3599);
	cache_result_clear(&res);
	cache_destroy(cache);
}

static void test_stale_window(void **state)
{
	struct cache *cache = cache_new(0, 86400, 3600, 100, 0);
	struct cache_result res;
	struct cache_stats st;

	assert_int_equal(
		put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0, "s.example. 300 IN A 192.0.2.1", NULL),
		0);
	assert_int_equal(lookup(cache, "s.example.", LDNS_RR_TYPE_A, T0 + 300, &res), CACHE_STALE);
	assert_int_equal(res.ttl, 0);
	assert_int_equal(res.stale_for, 0);
	assert_int_equal(res.orig_ttl, 300);
	assert_int_equal(ldns_rr_list_rr_count(res.rrs), 1);
	assert_all_ttls(&res, 0);
	cache_result_clear(&res);
	assert_int_equal(lookup(cache, "s.example.", LDNS_RR_TYPE_A, T0 + 399, &res), CACHE_STALE);
	assert_int_equal(res.stale_for, 99);
	cache_result_clear(&res);

	cache_get_stats(cache, &st);
	assert_int_equal(st.entries, 1);
	/* Past the stale window: a miss, and the entry is dropped on the way. */
	assert_int_equal(lookup(cache, "s.example.", LDNS_RR_TYPE_A, T0 + 400, &res), CACHE_MISS);
	cache_get_stats(cache, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	cache_destroy(cache);
}

static void test_negative_ttl(void **state)
{
	struct cache *cache = cache_new(60, 86400, 3600, 0, 0);
	struct cache_result res;

	/* RFC 2308 §5: min(SOA TTL, MINIMUM), above min_ttl (60) here. */
	assert_int_equal(put_neg(cache, "a.example.", LDNS_RR_TYPE_A, CACHE_KIND_NODATA,
				 SOA("example.", 3600, 300), CACHE_RANK_AUTHORITY_AUTH, T0),
			 0);
	assert_int_equal(lookup(cache, "a.example.", LDNS_RR_TYPE_A, T0 + 10, &res), CACHE_FRESH);
	assert_int_equal(res.kind, CACHE_KIND_NODATA);
	assert_int_equal(res.rank, CACHE_RANK_AUTHORITY_AUTH);
	assert_int_equal(res.orig_ttl, 300);
	assert_int_equal(res.ttl, 290);
	assert_int_equal(ldns_rr_list_rr_count(res.rrs), 1);
	assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(res.rrs, 0)), LDNS_RR_TYPE_SOA);
	assert_all_ttls(&res, 290);
	cache_result_clear(&res);
	/* NODATA is per type. */
	assert_int_equal(lookup(cache, "a.example.", LDNS_RR_TYPE_AAAA, T0, NULL), CACHE_MISS);

	/* The SOA's own TTL, when lower. */
	assert_int_equal(put_neg(cache, "b.example.", LDNS_RR_TYPE_A, CACHE_KIND_NODATA,
				 SOA("example.", 100, 300), CACHE_RANK_AUTHORITY_AUTH, T0),
			 0);
	assert_int_equal(lookup(cache, "b.example.", LDNS_RR_TYPE_A, T0, &res), CACHE_FRESH);
	assert_int_equal(res.orig_ttl, 100);
	cache_result_clear(&res);
	cache_destroy(cache);

	/* Capped at max_negative_ttl. */
	cache = cache_new(0, 86400, 60, 0, 0);
	assert_int_equal(put_neg(cache, "c.example.", 0, CACHE_KIND_NXDOMAIN,
				 SOA("example.", 86400, 86400), CACHE_RANK_AUTHORITY_AUTH, T0),
			 0);
	assert_int_equal(lookup(cache, "c.example.", LDNS_RR_TYPE_A, T0, &res), CACHE_FRESH);
	assert_int_equal(res.kind, CACHE_KIND_NXDOMAIN);
	assert_int_equal(res.orig_ttl, 60);
	cache_result_clear(&res);
	assert_int_equal(lookup(cache, "c.example.", LDNS_RR_TYPE_A, T0 + 60, NULL), CACHE_MISS);
	cache_destroy(cache);
}

static void test_negative_without_soa(void **state)
{
	struct cache *cache = cache_default();

	assert_int_equal(put_neg(cache, "a.example.", LDNS_RR_TYPE_A, CACHE_KIND_NODATA, NULL,
				 CACHE_RANK_AUTHORITY_AUTH, T0),
			 1);
	assert_int_equal(put_neg(cache, "a.example.", LDNS_RR_TYPE_A, CACHE_KIND_NXDOMAIN,
				 "example. 300 IN NS ns1.example.", CACHE_RANK_AUTHORITY_AUTH, T0),
			 1);
	assert_int_equal(lookup(cache, "a.example.", LDNS_RR_TYPE_A, T0, NULL), CACHE_MISS);
	cache_destroy(cache);

	/* cache-min-ttl raises the missing negative TTL (and low ones). */
	cache = cache_new(5, 86400, 3600, 0, 0);
	struct cache_result res;
	assert_int_equal(put_neg(cache, "a.example.", LDNS_RR_TYPE_A, CACHE_KIND_NODATA, NULL,
				 CACHE_RANK_AUTHORITY_AUTH, T0),
			 0);
	assert_int_equal(lookup(cache, "a.example.", LDNS_RR_TYPE_A, T0 + 4, &res), CACHE_FRESH);
	assert_int_equal(res.kind, CACHE_KIND_NODATA);
	assert_int_equal(res.orig_ttl, 5);
	cache_result_clear(&res);
	assert_int_equal(put_neg(cache, "b.example.", LDNS_RR_TYPE_A, CACHE_KIND_NODATA,
				 SOA("example.", 3600, 2), CACHE_RANK_AUTHORITY_AUTH, T0),
			 0);
	assert_int_equal(lookup(cache, "b.example.", LDNS_RR_TYPE_A, T0, &res), CACHE_FRESH);
	assert_int_equal(res.orig_ttl, 5);
	cache_result_clear(&res);
	cache_destroy(cache);
}

static void test_nxdomain_covers_all_types(void **state)
{
	struct cache *cache = cache_default();
	struct cache_result res;
	const uint16_t types[] = {
		LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_MX, LDNS_RR_TYPE_TXT, 0, 65535};

	assert_int_equal(put_neg(cache, "gone.example.", LDNS_RR_TYPE_A, CACHE_KIND_NXDOMAIN,
				 SOA("example.", 300, 300), CACHE_RANK_AUTHORITY_AUTH, T0),
			 0);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		assert_int_equal(lookup(cache, "gone.example.", types[i], T0, &res), CACHE_FRESH);
		assert_int_equal(res.kind, CACHE_KIND_NXDOMAIN);
		cache_result_clear(&res);
	}
	assert_int_equal(lookup(cache, "other.example.", LDNS_RR_TYPE_A, T0, NULL), CACHE_MISS);
	assert_int_equal(lookup(cache, "example.", LDNS_RR_TYPE_A, T0, NULL), CACHE_MISS);
	cache_destroy(cache);
}

static void test_later_store_wins(void **state)
{
	struct cache *cache = cache_default();
	struct cache_result res;

	assert_int_equal(
		put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0, "x.example. 3600 IN A 192.0.2.1", NULL),
		0);
	assert_int_equal(put_neg(cache, "x.example.", 0, CACHE_KIND_NXDOMAIN,
				 SOA("example.", 300, 300), CACHE_RANK_AUTHORITY_AUTH, T0 + 10),
			 0);
	/* The fresh authoritative answer (rank 5) is not hidden by the
	 * NXDOMAIN's lower rank (4, from the authority section): the ranks
	 * decide between a name's two entries (test_nxdomain_obeys_ranks);
	 * until this rule, the later store won. Other types see the NXDOMAIN. */
	assert_int_equal(lookup(cache, "x.example.", LDNS_RR_TYPE_A, T0 + 20, &res), CACHE_FRESH);
	assert_int_equal(res.kind, CACHE_KIND_RRSET);
	cache_result_clear(&res);
	assert_int_equal(lookup(cache, "x.example.", LDNS_RR_TYPE_MX, T0 + 20, &res), CACHE_FRESH);
	assert_int_equal(res.kind, CACHE_KIND_NXDOMAIN);
	cache_result_clear(&res);

	/* The name came back: the A record stored after the NXDOMAIN wins for A. */
	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0 + 30,
				  "x.example. 60 IN A 192.0.2.9", NULL),
			 0);
	assert_int_equal(lookup(cache, "x.example.", LDNS_RR_TYPE_A, T0 + 40, &res), CACHE_FRESH);
	assert_int_equal(res.kind, CACHE_KIND_RRSET);
	assert_first_rdata(&res, "192.0.2.9");
	cache_result_clear(&res);
	/* Other types still see the NXDOMAIN. */
	assert_int_equal(lookup(cache, "x.example.", LDNS_RR_TYPE_AAAA, T0 + 40, &res),
			 CACHE_FRESH);
	assert_int_equal(res.kind, CACHE_KIND_NXDOMAIN);
	cache_result_clear(&res);
	cache_destroy(cache);
}

static void test_nodata_shares_slot(void **state)
{
	struct cache *cache = cache_default();
	struct cache_result res;
	struct cache_stats st;

	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_NONAUTH, T0,
				  "n.example. 300 IN AAAA 2001:db8::1", NULL),
			 0);
	assert_int_equal(put_neg(cache, "n.example.", LDNS_RR_TYPE_AAAA, CACHE_KIND_NODATA,
				 SOA("example.", 300, 300), CACHE_RANK_AUTHORITY_AUTH, T0 + 1),
			 0);
	assert_int_equal(lookup(cache, "n.example.", LDNS_RR_TYPE_AAAA, T0 + 2, &res), CACHE_FRESH);
	assert_int_equal(res.kind, CACHE_KIND_NODATA);
	cache_result_clear(&res);

	/* One slot per (name, type): the NODATA entry was replaced, not shadowed. */
	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0 + 3,
				  "n.example. 300 IN AAAA 2001:db8::2", NULL),
			 0);
	assert_int_equal(lookup(cache, "n.example.", LDNS_RR_TYPE_AAAA, T0 + 4, &res), CACHE_FRESH);
	assert_int_equal(res.kind, CACHE_KIND_RRSET);
	cache_result_clear(&res);

	cache_get_stats(cache, &st);
	assert_int_equal(st.entries, 1);
	cache_destroy(cache);
}

static void test_rank_rules(void **state)
{
	struct cache *cache = cache_new(0, 86400, 3600, 86400, 0);
	struct cache_result res;

	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0,
				  "ns1.example. 300 IN A 192.0.2.53", NULL),
			 0);
	/* Glue never overwrites a fresh authoritative answer. */
	assert_int_equal(put_strs(cache, CACHE_RANK_GLUE, T0 + 1,
				  "ns1.example. 300 IN A 198.51.100.1", NULL),
			 1);
	assert_int_equal(put_neg(cache, "ns1.example.", LDNS_RR_TYPE_A, CACHE_KIND_NODATA,
				 SOA("example.", 300, 300), CACHE_RANK_AUTHORITY_NONAUTH, T0 + 1),
			 1);
	assert_int_equal(lookup(cache, "ns1.example.", LDNS_RR_TYPE_A, T0 + 2, &res), CACHE_FRESH);
	assert_int_equal(res.rank, CACHE_RANK_ANSWER_AUTH);
	assert_first_rdata(&res, "192.0.2.53");
	cache_result_clear(&res);

	/* The same rank replaces. */
	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0 + 3,
				  "ns1.example. 300 IN A 192.0.2.54", NULL),
			 0);
	assert_int_equal(lookup(cache, "ns1.example.", LDNS_RR_TYPE_A, T0 + 4, &res), CACHE_FRESH);
	assert_first_rdata(&res, "192.0.2.54");
	cache_result_clear(&res);

	/* A higher rank replaces a lower one. */
	assert_int_equal(
		put_strs(cache, CACHE_RANK_GLUE, T0, "ns2.example. 300 IN A 198.51.100.2", NULL),
		0);
	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_NONAUTH, T0 + 1,
				  "ns2.example. 300 IN A 192.0.2.2", NULL),
			 0);
	assert_int_equal(lookup(cache, "ns2.example.", LDNS_RR_TYPE_A, T0 + 2, &res), CACHE_FRESH);
	assert_int_equal(res.rank, CACHE_RANK_ANSWER_NONAUTH);
	cache_result_clear(&res);

	/* Anything replaces an expired entry, even one still servable as stale. */
	assert_int_equal(put_strs(cache, CACHE_RANK_HINT, T0 + 303,
				  "ns1.example. 300 IN A 203.0.113.1", NULL),
			 0);
	assert_int_equal(lookup(cache, "ns1.example.", LDNS_RR_TYPE_A, T0 + 304, &res),
			 CACHE_FRESH);
	assert_int_equal(res.rank, CACHE_RANK_HINT);
	assert_first_rdata(&res, "203.0.113.1");
	cache_result_clear(&res);
	cache_destroy(cache);
}

/*
 * RFC 2181 §5.4.1: nothing from an authority or additional section, and no
 * non-authoritative answer, displaces a fresh authoritative answer: not as
 * an RRset or NODATA in its slot, not as an NXDOMAIN for its name. And
 * equal, non-answer ranks do not replace each other either: glue for a
 * server re-sent by another referral (sibling glue) is not believed over
 * the glue held.
 */
static void test_nonauth_does_not_replace_auth(void **state)
{
	static const enum cache_rank lower[] = {
		CACHE_RANK_HINT,	   CACHE_RANK_GLUE,	      CACHE_RANK_AUTHORITY_NONAUTH,
		CACHE_RANK_ANSWER_NONAUTH, CACHE_RANK_AUTHORITY_AUTH,
	};
	struct cache *cache = cache_default();
	struct cache_result res;

	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0,
				  "www.example. 300 IN A 192.0.2.80", NULL),
			 0);
	for (size_t i = 0; i < sizeof(lower) / sizeof(lower[0]); i++) {
		assert_int_equal(put_strs(cache, lower[i], T0 + 1,
					  "www.example. 300 IN A 203.0.113.66", NULL),
				 1);
		assert_int_equal(put_neg(cache, "www.example.", LDNS_RR_TYPE_A, CACHE_KIND_NODATA,
					 SOA("example.", 300, 300), lower[i], T0 + 1),
				 1);
		/* Stored in its own slot, but a lookup still believes the answer. */
		assert_int_equal(put_neg(cache, "www.example.", 0, CACHE_KIND_NXDOMAIN,
					 SOA("example.", 300, 300), lower[i], T0 + 1),
				 0);
		assert_int_equal(lookup(cache, "www.example.", LDNS_RR_TYPE_A, T0 + 2, &res),
				 CACHE_FRESH);
		assert_int_equal(res.kind, CACHE_KIND_RRSET);
		assert_int_equal(res.rank, CACHE_RANK_ANSWER_AUTH);
		assert_first_rdata(&res, "192.0.2.80");
		cache_result_clear(&res);
	}

	/* Sibling glue: the same rank again is no reason to replace. */
	assert_int_equal(
		put_strs(cache, CACHE_RANK_GLUE, T0, "ns1.example. 300 IN A 192.0.2.53", NULL), 0);
	assert_int_equal(put_strs(cache, CACHE_RANK_GLUE, T0 + 1,
				  "ns1.example. 300 IN A 203.0.113.66", NULL),
			 1);
	assert_int_equal(lookup(cache, "ns1.example.", LDNS_RR_TYPE_A, T0 + 2, &res), CACHE_FRESH);
	assert_first_rdata(&res, "192.0.2.53");
	cache_result_clear(&res);
	/* The zone's own authoritative answer does replace it. */
	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0 + 3,
				  "ns1.example. 300 IN A 192.0.2.54", NULL),
			 0);
	assert_int_equal(lookup(cache, "ns1.example.", LDNS_RR_TYPE_A, T0 + 4, &res), CACHE_FRESH);
	assert_first_rdata(&res, "192.0.2.54");
	cache_result_clear(&res);
	cache_destroy(cache);
}

/*
 * Ghost domains (CVE-2012-1033): the child re-sending its NS RRset, in the
 * authority section of every answer or as an NS answer, must not keep a
 * delegation alive past the TTL the parent gave; once that ends, the
 * parent is asked again (it may have removed the delegation).
 */
static void test_ghost_domain_expires(void **state)
{
	struct cache *cache = cache_default();
	struct cache_result res;

	/* The parent's referral: 3600 s. */
	assert_int_equal(put_strs(cache, CACHE_RANK_AUTHORITY_NONAUTH, T0,
				  "ghost.example. 3600 IN NS ns.ghost.example.", NULL),
			 0);
	/* The child's authority section: more trusted, stored, but no longer. */
	assert_int_equal(put_strs(cache, CACHE_RANK_AUTHORITY_AUTH, T0 + 100,
				  "ghost.example. 86400 IN NS ns.ghost.example.", NULL),
			 0);
	assert_int_equal(lookup(cache, "ghost.example.", LDNS_RR_TYPE_NS, T0 + 100, &res),
			 CACHE_FRESH);
	assert_int_equal(res.rank, CACHE_RANK_AUTHORITY_AUTH);
	assert_int_equal(res.ttl, 3500);
	cache_result_clear(&res);
	/* Re-sent at the same rank: not stored. */
	assert_int_equal(put_strs(cache, CACHE_RANK_AUTHORITY_AUTH, T0 + 2000,
				  "ghost.example. 86400 IN NS ns.ghost.example.", NULL),
			 1);
	/* The child's NS answer replaces it, with the old expiry. */
	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0 + 3000,
				  "ghost.example. 86400 IN NS ns.ghost.example.", NULL),
			 0);
	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0 + 3500,
				  "ghost.example. 86400 IN NS ns.ghost.example.", NULL),
			 0);
	assert_int_equal(lookup(cache, "ghost.example.", LDNS_RR_TYPE_NS, T0 + 3599, &res),
			 CACHE_FRESH);
	assert_int_equal(res.ttl, 1);
	cache_result_clear(&res);
	/* When the parent's TTL ends, the delegation is no longer fresh. */
	assert_int_equal(lookup(cache, "ghost.example.", LDNS_RR_TYPE_NS, T0 + 3600, NULL),
			 CACHE_STALE);
	/* Expired: anything may store it again, with its own TTL. */
	assert_int_equal(put_strs(cache, CACHE_RANK_AUTHORITY_NONAUTH, T0 + 3700,
				  "ghost.example. 600 IN NS ns.ghost.example.", NULL),
			 0);
	assert_int_equal(lookup(cache, "ghost.example.", LDNS_RR_TYPE_NS, T0 + 3700, &res),
			 CACHE_FRESH);
	assert_int_equal(res.ttl, 600);
	cache_result_clear(&res);

	/* Other types keep the usual rule: an authoritative answer refreshes. */
	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0,
				  "www.ghost.example. 60 IN A 192.0.2.1", NULL),
			 0);
	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0 + 30,
				  "www.ghost.example. 60 IN A 192.0.2.1", NULL),
			 0);
	assert_int_equal(lookup(cache, "www.ghost.example.", LDNS_RR_TYPE_A, T0 + 30, &res),
			 CACHE_FRESH);
	assert_int_equal(res.ttl, 60);
	cache_result_clear(&res);
	cache_destroy(cache);
}

/*
 * A name's NXDOMAIN entry and its types' entries obey the same ranks as one
 * slot: whichever was stored last no longer simply wins.
 */
static void test_nxdomain_obeys_ranks(void **state)
{
	struct cache *cache = cache_default();
	struct cache_result res;

	/* An authoritative NXDOMAIN is not undone by glue or a non-AA answer. */
	assert_int_equal(put_neg(cache, "gone.example.", 0, CACHE_KIND_NXDOMAIN,
				 SOA("example.", 300, 300), CACHE_RANK_AUTHORITY_AUTH, T0),
			 0);
	assert_int_equal(put_strs(cache, CACHE_RANK_GLUE, T0 + 1,
				  "gone.example. 3600 IN A 203.0.113.66", NULL),
			 0);
	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_NONAUTH, T0 + 2,
				  "gone.example. 3600 IN AAAA 2001:db8::66", NULL),
			 0);
	assert_int_equal(lookup(cache, "gone.example.", LDNS_RR_TYPE_A, T0 + 3, &res), CACHE_FRESH);
	assert_int_equal(res.kind, CACHE_KIND_NXDOMAIN);
	cache_result_clear(&res);
	assert_int_equal(lookup(cache, "gone.example.", LDNS_RR_TYPE_AAAA, T0 + 3, &res),
			 CACHE_FRESH);
	assert_int_equal(res.kind, CACHE_KIND_NXDOMAIN);
	cache_result_clear(&res);
	/* Once the NXDOMAIN expires, the later data stands (as a store then would). */
	assert_int_equal(lookup(cache, "gone.example.", LDNS_RR_TYPE_A, T0 + 300, &res),
			 CACHE_FRESH);
	assert_int_equal(res.kind, CACHE_KIND_RRSET);
	cache_result_clear(&res);

	/* A non-authoritative NXDOMAIN does not hide an authoritative answer... */
	assert_int_equal(
		put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0, "x.example. 600 IN A 192.0.2.1", NULL),
		0);
	assert_int_equal(put_neg(cache, "x.example.", 0, CACHE_KIND_NXDOMAIN,
				 SOA("example.", 300, 300), CACHE_RANK_AUTHORITY_NONAUTH, T0 + 1),
			 0);
	assert_int_equal(lookup(cache, "x.example.", LDNS_RR_TYPE_A, T0 + 2, &res), CACHE_FRESH);
	assert_int_equal(res.kind, CACHE_KIND_RRSET);
	cache_result_clear(&res);
	/* ...nor does a non-authoritative NODATA replace an authoritative NXDOMAIN. */
	assert_int_equal(put_neg(cache, "y.example.", 0, CACHE_KIND_NXDOMAIN,
				 SOA("example.", 300, 300), CACHE_RANK_AUTHORITY_AUTH, T0),
			 0);
	assert_int_equal(put_neg(cache, "y.example.", LDNS_RR_TYPE_A, CACHE_KIND_NODATA,
				 SOA("example.", 300, 300), CACHE_RANK_AUTHORITY_NONAUTH, T0 + 1),
			 0);
	assert_int_equal(lookup(cache, "y.example.", LDNS_RR_TYPE_A, T0 + 2, &res), CACHE_FRESH);
	assert_int_equal(res.kind, CACHE_KIND_NXDOMAIN);
	cache_result_clear(&res);
	/* An authoritative answer stored later does win: the name came back. */
	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0 + 3,
				  "y.example. 60 IN A 192.0.2.2", NULL),
			 0);
	assert_int_equal(lookup(cache, "y.example.", LDNS_RR_TYPE_A, T0 + 4, &res), CACHE_FRESH);
	assert_int_equal(res.kind, CACHE_KIND_RRSET);
	cache_result_clear(&res);
	cache_destroy(cache);
}

/*
 * RFC 8020: with harden_below_nxdomain, a fresh authoritative NXDOMAIN
 * answers for every name below it (cache_lookup_question); not a
 * non-authoritative or an expired one, and not when the option is off.
 */
static void test_rfc8020_below_nxdomain(void **state)
{
	struct cache_opts opts;
	struct cache *cache;
	struct cache_result res;
	ldns_rdf *deep = name_new("a.b.c.gone.example.");

	cache_opts_init(&opts);
	assert_true(opts.harden_below_nxdomain); /* the default */
	cache = cache_create(&opts);
	assert_non_null(cache);
	assert_int_equal(put_neg(cache, "gone.example.", 0, CACHE_KIND_NXDOMAIN,
				 SOA("example.", 300, 300), CACHE_RANK_AUTHORITY_AUTH, T0),
			 0);
	assert_int_equal(cache_lookup_question(cache, deep, LDNS_RR_TYPE_A, T0 + 10, &res),
			 CACHE_FRESH);
	assert_int_equal(res.kind, CACHE_KIND_NXDOMAIN);
	assert_int_equal(res.ttl, 290);
	assert_int_equal(ldns_rr_list_rr_count(res.rrs), 1);
	assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(res.rrs, 0)), LDNS_RR_TYPE_SOA);
	cache_result_clear(&res);
	/* The plain lookup does not walk. */
	assert_int_equal(cache_lookup(cache, deep, LDNS_RR_TYPE_A, T0 + 10, NULL), CACHE_MISS);
	/* A fresh entry of the name itself comes first. */
	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0,
				  "a.b.c.gone.example. 60 IN TXT \"here\"", NULL),
			 0);
	assert_int_equal(cache_lookup_question(cache, deep, LDNS_RR_TYPE_TXT, T0 + 10, &res),
			 CACHE_FRESH);
	assert_int_equal(res.kind, CACHE_KIND_RRSET);
	cache_result_clear(&res);
	/* Expired: no longer proof. */
	assert_int_equal(cache_lookup_question(cache, deep, LDNS_RR_TYPE_A, T0 + 300, NULL),
			 CACHE_MISS);
	/* Not authoritative: not proof either. */
	assert_int_equal(put_neg(cache, "fwd.example.", 0, CACHE_KIND_NXDOMAIN,
				 SOA("example.", 300, 300), CACHE_RANK_AUTHORITY_NONAUTH, T0),
			 0);
	ldns_rdf *below_fwd = name_new("www.fwd.example.");
	assert_int_equal(cache_lookup_question(cache, below_fwd, LDNS_RR_TYPE_A, T0, NULL),
			 CACHE_MISS);
	ldns_rdf_deep_free(below_fwd);
	cache_destroy(cache);

	/* harden-below-nxdomain: no. */
	opts.harden_below_nxdomain = false;
	cache = cache_create(&opts);
	assert_non_null(cache);
	assert_int_equal(put_neg(cache, "gone.example.", 0, CACHE_KIND_NXDOMAIN,
				 SOA("example.", 300, 300), CACHE_RANK_AUTHORITY_AUTH, T0),
			 0);
	assert_int_equal(cache_lookup_question(cache, deep, LDNS_RR_TYPE_A, T0, NULL), CACHE_MISS);
	cache_destroy(cache);
	ldns_rdf_deep_free(deep);
}

static void test_case_insensitive(void **state)
{
	struct cache *cache = cache_default();
	struct cache_result res;
	char *owner;

	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0,
				  "WwW.ExAmple.COM. 300 IN CNAME Target.Example.COM.", NULL),
			 0);
	assert_int_equal(lookup(cache, "www.example.com.", LDNS_RR_TYPE_CNAME, T0, &res),
			 CACHE_FRESH);
	/* The records come back as stored, case and all (RFC 4343 §4.1). */
	owner = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(res.rrs, 0)));
	assert_string_equal(owner, "WwW.ExAmple.COM.");
	free(owner);
	assert_first_rdata(&res, "Target.Example.COM.");
	cache_result_clear(&res);
	assert_int_equal(lookup(cache, "WWW.EXAMPLE.COM.", LDNS_RR_TYPE_CNAME, T0, NULL),
			 CACHE_FRESH);

	/* Different case in one RRset is still one owner. */
	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0,
				  "mixed.example. 300 IN A 192.0.2.1",
				  "MIXED.example. 300 IN A 192.0.2.2", NULL),
			 0);
	assert_int_equal(lookup(cache, "Mixed.Example.", LDNS_RR_TYPE_A, T0, &res), CACHE_FRESH);
	assert_int_equal(ldns_rr_list_rr_count(res.rrs), 2);
	cache_result_clear(&res);
	cache_destroy(cache);
}

static void test_invalid_input(void **state)
{
	struct cache *cache = cache_default();
	ldns_rr_list *empty = ldns_rr_list_new();
	ldns_rr_list *one = list_new("a.example. 300 IN A 192.0.2.1", NULL);
	ldns_rdf *name = name_new("a.example.");
	ldns_rdf *not_a_name = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, "192.0.2.1");
	struct cache_result res;

	assert_int_equal(cache_put_rrset(cache, NULL, CACHE_RANK_ANSWER_AUTH, T0), -EINVAL);
	assert_int_equal(cache_put_rrset(cache, empty, CACHE_RANK_ANSWER_AUTH, T0), -EINVAL);
	assert_int_equal(cache_put_rrset(NULL, one, CACHE_RANK_ANSWER_AUTH, T0), -EINVAL);
	assert_int_equal(cache_put_rrset(cache, one, (enum cache_rank)42, T0), -EINVAL);
	/* Mixed type, owner, class. */
	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0,
				  "a.example. 300 IN A 192.0.2.1",
				  "a.example. 300 IN AAAA 2001:db8::1", NULL),
			 -EINVAL);
	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0,
				  "a.example. 300 IN A 192.0.2.1", "b.example. 300 IN A 192.0.2.2",
				  NULL),
			 -EINVAL);
	assert_int_equal(put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0,
				  "a.example. 300 IN A 192.0.2.1", "a.example. 300 CH A 192.0.2.2",
				  NULL),
			 -EINVAL);
	/* A negative entry must be NODATA or NXDOMAIN, for a name. */
	assert_int_equal(cache_put_negative(cache, name, LDNS_RR_TYPE_A, CACHE_KIND_RRSET, one,
					    CACHE_RANK_AUTHORITY_AUTH, T0),
			 -EINVAL);
	assert_int_equal(cache_put_negative(cache, NULL, LDNS_RR_TYPE_A, CACHE_KIND_NODATA, one,
					    CACHE_RANK_AUTHORITY_AUTH, T0),
			 -EINVAL);
	assert_int_equal(cache_put_negative(cache, not_a_name, LDNS_RR_TYPE_A, CACHE_KIND_NODATA,
					    one, CACHE_RANK_AUTHORITY_AUTH, T0),
			 -EINVAL);
	/* Nothing was stored; bad lookups are misses. */
	assert_int_equal(lookup(cache, "a.example.", LDNS_RR_TYPE_A, T0, NULL), CACHE_MISS);
	assert_int_equal(cache_lookup(cache, NULL, LDNS_RR_TYPE_A, T0, &res), CACHE_MISS);
	assert_null(res.rrs);
	assert_int_equal(cache_lookup(cache, not_a_name, LDNS_RR_TYPE_A, T0, NULL), CACHE_MISS);
	assert_int_equal(cache_lookup(NULL, name, LDNS_RR_TYPE_A, T0, NULL), CACHE_MISS);

	/* NULL-safe cleanups. */
	cache_result_clear(NULL);
	cache_destroy(NULL);

	ldns_rdf_deep_free(not_a_name);
	ldns_rdf_deep_free(name);
	ldns_rr_list_deep_free(one);
	ldns_rr_list_free(empty);
	cache_destroy(cache);
}

static void test_stats_and_flush(void **state)
{
	struct cache *cache = cache_default();
	struct cache_stats st;

	assert_int_equal(
		put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0, "a.example. 300 IN A 192.0.2.1", NULL),
		0);
	assert_int_equal(
		put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0, "b.example. 300 IN A 192.0.2.1", NULL),
		0);
	assert_int_equal(lookup(cache, "a.example.", LDNS_RR_TYPE_A, T0, NULL), CACHE_FRESH);
	assert_int_equal(lookup(cache, "a.example.", LDNS_RR_TYPE_A, T0 + 300, NULL), CACHE_STALE);
	assert_int_equal(lookup(cache, "c.example.", LDNS_RR_TYPE_A, T0, NULL), CACHE_MISS);
	cache_get_stats(cache, &st);
	assert_int_equal(st.entries, 2);
	assert_true(st.bytes > 0);
	assert_int_equal(st.stores, 2);
	assert_int_equal(st.lookups, 3);
	assert_int_equal(st.hits_fresh, 1);
	assert_int_equal(st.hits_stale, 1);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.evictions, 0);

	cache_flush(cache);
	cache_get_stats(cache, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(lookup(cache, "a.example.", LDNS_RR_TYPE_A, T0, NULL), CACHE_MISS);
	/* Usable after a flush. */
	assert_int_equal(
		put_strs(cache, CACHE_RANK_ANSWER_AUTH, T0, "a.example. 300 IN A 192.0.2.1", NULL),
		0);
	assert_int_equal(lookup(cache, "a.example.", LDNS_RR_TYPE_A, T0, NULL), CACHE_FRESH);
	cache_destroy(cache);
}

static int put_numbered(struct cache *cache, unsigned i, uint32_t ttl, uint64_t now)
{
	char buf[128];
	ldns_rr_list *list;
	int ret;

	snprintf(buf, sizeof(buf), "host%u.example. %u IN A 192.0.2.%u", i, ttl, i % 250);
	list = list_new(buf, NULL);
	ret = cache_put_rrset(cache, list, CACHE_RANK_ANSWER_AUTH, now);
	ldns_rr_list_deep_free(list);
	return ret;
}

static void test_eviction_bounded(void **state)
{
	const size_t max_bytes = (size_t)32 * 1024;
	struct cache *cache = cache_new(0, 86400, 3600, 86400, max_bytes);
	struct cache_stats st;
	unsigned n = 5000, expired_left = 0;

	/* Half short-lived (expired by the time the rest goes in), half long. */
	for (unsigned i = 0; i < n / 2; i++) {
		assert_int_equal(put_numbered(cache, i, 10, T0), 0);
		cache_get_stats(cache, &st);
		assert_true(st.bytes <= max_bytes);
	}
	for (unsigned i = n / 2; i < n; i++) {
		assert_int_equal(put_numbered(cache, i, 3600, T0 + 100), 0);
		cache_get_stats(cache, &st);
		assert_true(st.bytes <= max_bytes);
	}
	cache_get_stats(cache, &st);
	assert_true(st.evictions > 0);
	assert_true(st.entries < n);
	assert_true(st.entries > 0);
	assert_int_equal(st.stores, n);
	/* Expired entries were evicted before live ones. */
	for (unsigned i = 0; i < n / 2; i++) {
		char name[64];

		snprintf(name, sizeof(name), "host%u.example.", i);
		if (lookup(cache, name, LDNS_RR_TYPE_A, T0 + 100, NULL) != CACHE_MISS)
			expired_left++;
	}
	assert_int_equal(expired_left, 0);

	/* An entry larger than a shard's share is refused, not stored. */
	{
		ldns_rr_list *big = ldns_rr_list_new();
		char buf[128];

		for (unsigned i = 0; i < 250; i++) {
			snprintf(buf, sizeof(buf), "big.example. 300 IN AAAA 2001:db8::%x", i);
			assert_true(ldns_rr_list_push_rr(big, rr_new(buf)));
		}
		assert_int_equal(cache_put_rrset(cache, big, CACHE_RANK_ANSWER_AUTH, T0), -ENOSPC);
		ldns_rr_list_deep_free(big);
	}
	cache_destroy(cache);
}

/* ---- threads ------------------------------------------------------------ */

#define MT_THREADS 4
#define MT_ITERATIONS 20000
#define MT_NAMES 97

struct mt_arg {
	struct cache *cache;
	unsigned id;
	unsigned hits;
};

static void *mt_worker(void *p)
{
	struct mt_arg *arg = p;
	ldns_rdf *names[MT_NAMES];
	ldns_rr_list *sets[MT_NAMES];
	ldns_rr_list *soa = list_new(SOA("example.", 300, 60), NULL);
	uint32_t rnd = 2463534242u * (arg->id + 1);

	cache_thread_register();
	for (unsigned i = 0; i < MT_NAMES; i++) {
		char buf[128];

		snprintf(buf, sizeof(buf), "mt%u.example.", i);
		names[i] = name_new(buf);
		snprintf(buf, sizeof(buf), "MT%u.example. %u IN A 192.0.2.%u", i, 60 + i, i);
		sets[i] = list_new(buf, NULL);
	}
	for (unsigned it = 0; it < MT_ITERATIONS; it++) {
		struct cache_result res;
		unsigned n;
		uint64_t now = T0 + it / 50;

		rnd ^= rnd << 13;
		rnd ^= rnd >> 17;
		rnd ^= rnd << 5;
		n = rnd % MT_NAMES;
		switch (rnd >> 28) {
		case 0:
			assert_true(cache_put_negative(arg->cache, names[n], 0, CACHE_KIND_NXDOMAIN,
						       soa, CACHE_RANK_AUTHORITY_AUTH, now) >= 0);
			break;
		case 1:
		case 2:
		case 3:
			assert_true(cache_put_rrset(arg->cache, sets[n], (enum cache_rank)(rnd % 6),
						    now) >= 0);
			break;
		default:
			if (cache_lookup(arg->cache, names[n], LDNS_RR_TYPE_A, now, &res) !=
			    CACHE_MISS) {
				const ldns_rr *rr = ldns_rr_list_rr(res.rrs, 0);

				arg->hits++;
				assert_non_null(rr);
				if (res.kind == CACHE_KIND_RRSET)
					assert_int_equal(
						ldns_dname_compare(ldns_rr_owner(rr), names[n]), 0);
				else
					assert_int_equal(ldns_rr_get_type(rr), LDNS_RR_TYPE_SOA);
				cache_result_clear(&res);
			}
			break;
		}
		if (it % 16 == 0)
			cache_thread_quiescent();
		if (it % 1024 == 0 && arg->id == 0)
			cache_flush(arg->cache);
	}
	for (unsigned i = 0; i < MT_NAMES; i++) {
		ldns_rdf_deep_free(names[i]);
		ldns_rr_list_deep_free(sets[i]);
	}
	ldns_rr_list_deep_free(soa);
	cache_thread_unregister();
	return NULL;
}

static void test_threads(void **state)
{
	/* Small enough that the threads also race eviction. */
	struct cache *cache = cache_new(0, 86400, 3600, 86400, (size_t)16 * 1024);
	pthread_t tids[MT_THREADS];
	struct mt_arg args[MT_THREADS];
	struct cache_stats st;
	unsigned hits = 0;

	/* This thread blocks in join: offline, so it holds back no grace period. */
	cache_thread_offline();
	for (unsigned i = 0; i < MT_THREADS; i++) {
		args[i] = (struct mt_arg){.cache = cache, .id = i};
		assert_int_equal(pthread_create(&tids[i], NULL, mt_worker, &args[i]), 0);
	}
	for (unsigned i = 0; i < MT_THREADS; i++) {
		assert_int_equal(pthread_join(tids[i], NULL), 0);
		hits += args[i].hits;
	}
	cache_thread_online();
	assert_true(hits > 0);
	cache_get_stats(cache, &st);
	assert_true(st.stores > 0);
	assert_true(st.lookups > 0);
	assert_int_equal(st.hits_fresh + st.hits_stale, hits);
	/* Every racing replace, removal and eviction was accounted exactly once. */
	cache_flush(cache);
	cache_get_stats(cache, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	cache_destroy(cache);
}

static int group_setup(void **state)
{
	cache_thread_register();
	return 0;
}

static int group_teardown(void **state)
{
	cache_thread_unregister();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_lookup_fresh),
		cmocka_unit_test(test_ttl_countdown),
		cmocka_unit_test(test_ttl_clamp),
		cmocka_unit_test(test_stale_window),
		cmocka_unit_test(test_negative_ttl),
		cmocka_unit_test(test_negative_without_soa),
		cmocka_unit_test(test_nxdomain_covers_all_types),
		cmocka_unit_test(test_later_store_wins),
		cmocka_unit_test(test_nodata_shares_slot),
		cmocka_unit_test(test_rank_rules),
		cmocka_unit_test(test_nonauth_does_not_replace_auth),
		cmocka_unit_test(test_ghost_domain_expires),
		cmocka_unit_test(test_nxdomain_obeys_ranks),
		cmocka_unit_test(test_rfc8020_below_nxdomain),
		cmocka_unit_test(test_case_insensitive),
		cmocka_unit_test(test_invalid_input),
		cmocka_unit_test(test_stats_and_flush),
		cmocka_unit_test(test_eviction_bounded),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
