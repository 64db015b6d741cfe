/*
 * Unit tests of cache/answer.c: whole wire answers for the fast path,
 * served with TTLs counted down in place, by name case-insensitively.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>

#include "cache/cache.h"

#define T0 1700000000u

/* "www.Example." A 192.0.2.1 (TTL 300) answered; offsets of its TTL. */
static const uint8_t msg[] = {
	0x12, 0x34, 0x81, 0x80, 0, 1,	0,   1,	  0,	0,    0,   0,	   /* header */
	3,    'w',  'w',  'w',	7, 'E', 'x', 'a', 'm',	'p',  'l', 'e', 0, /* qname @12 */
	0,    1,    0,	  1,						   /* A IN */
	0xc0, 12,   0,	  1,	0, 1,	0,   0,	  0x01, 0x2c, 0,   4,	192,
	0,    2,    1, /* answer, TTL @35 */
};
static const uint16_t ttl_offsets[] = {35};
static const uint8_t qname_lower[] = {3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};

static uint32_t ttl_at(const uint8_t *m)
{
	return (uint32_t)m[35] << 24 | (uint32_t)m[36] << 16 | (uint32_t)m[37] << 8 | m[38];
}

static void test_put_get_countdown(void **state)
{
	struct cache *cache = cache_create(NULL);
	uint8_t out[512];
	assert_int_equal(cache_answer_put(cache, msg, sizeof(msg), ttl_offsets, 1, 300, T0), 0);
	int n = cache_answer_get(cache, qname_lower, sizeof(qname_lower), 1, T0 + 10, out,
				 sizeof(out));
	assert_int_equal(n, (int)sizeof(msg));
	assert_int_equal(ttl_at(out), 290);
	/* everything but the TTL is the stored message */
	assert_memory_equal(out, msg, 35);
	/* other types miss; expired entries miss */
	assert_int_equal(
		cache_answer_get(cache, qname_lower, sizeof(qname_lower), 28, T0, out, sizeof(out)),
		0);
	assert_int_equal(cache_answer_get(cache, qname_lower, sizeof(qname_lower), 1, T0 + 300, out,
					  sizeof(out)),
			 0);
	cache_destroy(cache);
}

static void test_bounds(void **state)
{
	struct cache *cache = cache_create(NULL);
	uint8_t out[512];
	/* a TTL offset outside the message, a truncated message */
	const uint16_t bad[] = {sizeof(msg) - 2};
	assert_int_equal(cache_answer_put(cache, msg, sizeof(msg), bad, 1, 300, T0), -EINVAL);
	assert_int_equal(cache_answer_put(cache, msg, 14, ttl_offsets, 1, 300, T0), -EINVAL);
	/* TTL 0 is not kept */
	assert_int_equal(cache_answer_put(cache, msg, sizeof(msg), ttl_offsets, 1, 0, T0), 0);
	assert_int_equal(
		cache_answer_get(cache, qname_lower, sizeof(qname_lower), 1, T0, out, sizeof(out)),
		0);
	/* a buffer too small */
	assert_int_equal(cache_answer_put(cache, msg, sizeof(msg), ttl_offsets, 1, 300, T0), 0);
	assert_int_equal(cache_answer_get(cache, qname_lower, sizeof(qname_lower), 1, T0, out, 20),
			 -ENOSPC);
	cache_destroy(cache);
}

/*
 * A flood of unique names must evict junk, not the answer everybody asks
 * for: a hit on the fast path counts as use for the second-chance scan.
 * (Before, cache_answer_get() never marked its entry, so under memory
 * pressure the hottest answers went first and their hits became misses.)
 */
static void test_fast_path_hits_survive_a_flood_of_unique_names(void **state)
{
	struct cache_opts opts;
	cache_opts_init(&opts);
	opts.max_bytes = (size_t)64 * 1024; /* 4 KiB a shard: the flood overflows it */
	struct cache *cache = cache_create(&opts);
	uint8_t out[512], junk[sizeof(msg)];
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	assert_int_equal(cache_answer_put(cache, msg, sizeof(msg), ttl_offsets, 1, 300, T0), 0);
	memcpy(junk, msg, sizeof(msg));
	for (unsigned i = 0; i < 6000; i++) {
		junk[13] = (uint8_t)digits[i % 36];
		junk[14] = (uint8_t)digits[(i / 36) % 36];
		junk[15] = (uint8_t)('A' + (i / 1296) % 26); /* never "www" */
		assert_int_equal(
			cache_answer_put(cache, junk, sizeof(junk), ttl_offsets, 1, 300, T0), 0);
		assert_int_equal(cache_answer_get(cache, qname_lower, sizeof(qname_lower), 1,
						  T0 + 1, out, sizeof(out)),
				 (int)sizeof(msg));
		cache_thread_quiescent();
	}
	struct cache_stats st;
	cache_get_stats(cache, &st);
	assert_true(st.evictions > 1000); /* the flood really was evicted */
	cache_destroy(cache);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_countdown),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_fast_path_hits_survive_a_flood_of_unique_names),
	};
	cache_thread_register();
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	cache_thread_unregister();
	return r;
}
