/*
 * siphash — SipHash-c-d over a byte string (see siphash.h). Little-endian
 * loads by hand so the result is the same on every host; no allocation, no
 * state beyond the key.
 */
#include "util/siphash.h"
#include "util/random.h"

static inline uint64_t rotl64(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

struct sip_state {
	uint64_t v0, v1, v2, v3;
};

static inline void sip_round(struct sip_state *s)
{
	s->v0 += s->v1;
	s->v1 = rotl64(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl64(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl64(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl64(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl64(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl64(s->v2, 32);
}

static inline void sip_compress(struct sip_state *s, uint64_t m, unsigned rounds)
{
	s->v3 ^= m;
	for (unsigned r = 0; r < rounds; r++)
		sip_round(s);
	s->v0 ^= m;
}

uint64_t util_siphash_cd(const struct util_siphash_key *key, const void *in, size_t len,
			 unsigned c_rounds, unsigned d_rounds)
{
	const uint8_t *p = in;
	struct sip_state s = {
		.v0 = key->k0 ^ UINT64_C(0x736f6d6570736575),
		.v1 = key->k1 ^ UINT64_C(0x646f72616e646f6d),
		.v2 = key->k0 ^ UINT64_C(0x6c7967656e657261),
		.v3 = key->k1 ^ UINT64_C(0x7465646279746573),
	};
	size_t full = len & ~(size_t)7;
	uint64_t last = (uint64_t)len << 56;

	for (size_t i = 0; i < full; i += 8)
		sip_compress(&s, load_le64(p + i), c_rounds);
	for (size_t i = 0; i < (len & 7); i++)
		last |= (uint64_t)p[full + i] << (8 * i);
	sip_compress(&s, last, c_rounds);
	s.v2 ^= 0xff;
	for (unsigned r = 0; r < d_rounds; r++)
		sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

uint64_t util_siphash(const struct util_siphash_key *key, const void *in, size_t len)
{
	return util_siphash_cd(key, in, len, 1, 3);
}

void util_siphash_key_init(struct util_siphash_key *key)
{
	util_random_bytes(key, sizeof(*key));
}
