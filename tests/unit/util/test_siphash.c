/* Unit tests for util/siphash.c: the paper's SipHash-2-4 vectors check the
 * shared rounds; the 1-3 form used by the tables is keyed and length-aware. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/siphash.h"

/* Key 00 01 .. 0f, as in the SipHash paper (Appendix A). */
static const struct util_siphash_key paper_key = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

static void test_siphash24_reference_vectors(void **state)
{
	uint8_t msg[15];

	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	assert_true(util_siphash_cd(&paper_key, msg, 0, 2, 4) == 0x726fdb47dd0e0e31ULL);
	assert_true(util_siphash_cd(&paper_key, msg, 15, 2, 4) == 0xa129ca6149be45e5ULL);
}

static void test_siphash13_depends_on_key_length_and_bytes(void **state)
{
	const struct util_siphash_key other = {1, 2};
	const uint8_t a[9] = "example1", b[9] = "example2";

	uint64_t h = util_siphash(&paper_key, a, sizeof(a));
	assert_true(h == util_siphash(&paper_key, a, sizeof(a)));
	assert_true(h == util_siphash_cd(&paper_key, a, sizeof(a), 1, 3));
	assert_true(h != util_siphash(&other, a, sizeof(a)));
	assert_true(h != util_siphash(&paper_key, b, sizeof(b)));
	assert_true(h != util_siphash(&paper_key, a, sizeof(a) - 1));
	/* Trailing zero bytes are not padding: the length is hashed. */
	const uint8_t z[8] = {0};
	assert_true(util_siphash(&paper_key, z, 7) != util_siphash(&paper_key, z, 8));
}

static void test_siphash_key_init_is_random(void **state)
{
	struct util_siphash_key a, b;

	util_siphash_key_init(&a);
	util_siphash_key_init(&b);
	assert_true(a.k0 != b.k0 || a.k1 != b.k1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash24_reference_vectors),
		cmocka_unit_test(test_siphash13_depends_on_key_length_and_bytes),
		cmocka_unit_test(test_siphash_key_init_is_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
