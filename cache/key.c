/*
 * key — cache keys: the owner name lower-cased in wire form plus a slot (RR
 * type, or the NXDOMAIN slot), and their hash.
 *
 * Names come from the network, so an attacker chooses them; the hash is
 * keyed (SipHash-1-3 with a per-cache random key) so nobody can aim many
 * names at one hash chain. This file does not decide which shard a key goes
 * to, nor compare anything but exact (already lower-cased) bytes.
 */
#include <errno.h>
#include <string.h>

#include "cache/impl.h"

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

#define SIPROUND()                                                                                 \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = rotl64(v1, 13);                                                               \
		v1 ^= v0;                                                                          \
		v0 = rotl64(v0, 32);                                                               \
		v2 += v3;                                                                          \
		v3 = rotl64(v3, 16);                                                               \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = rotl64(v3, 21);                                                               \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = rotl64(v1, 17);                                                               \
		v1 ^= v2;                                                                          \
		v2 = rotl64(v2, 32);                                                               \
	} while (0)

/* SipHash-1-3 (Aumasson & Bernstein): one compression round, three finalisation rounds. */
static uint64_t siphash13(const struct cache_hash_seed *seed, const uint8_t *in, size_t len)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ seed->k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ seed->k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ seed->k0;
	uint64_t v3 = 0x7465646279746573ULL ^ seed->k1;
	size_t full = len & ~(size_t)7;
	uint64_t b = (uint64_t)len << 56;

	for (size_t i = 0; i < full; i += 8) {
		uint64_t m = load_le64(in + i);

		v3 ^= m;
		SIPROUND();
		v0 ^= m;
	}
	for (size_t i = 0; i < (len & 7); i++)
		b |= (uint64_t)in[full + i] << (8 * i);
	v3 ^= b;
	SIPROUND();
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND();
	SIPROUND();
	SIPROUND();
	return v0 ^ v1 ^ v2 ^ v3;
}

void cache_key_rehash(struct cache_key *key, const struct cache_hash_seed *seed)
{
	uint8_t buf[CACHE_NAME_MAX + 4];

	memcpy(buf, key->name, key->name_len);
	buf[key->name_len + 0] = (uint8_t)(key->slot >> 24);
	buf[key->name_len + 1] = (uint8_t)(key->slot >> 16);
	buf[key->name_len + 2] = (uint8_t)(key->slot >> 8);
	buf[key->name_len + 3] = (uint8_t)key->slot;
	key->hash = siphash13(seed, buf, (size_t)key->name_len + 4);
}

int cache_key_init(struct cache_key *key, const struct cache_hash_seed *seed, const ldns_rdf *name,
		   uint32_t slot)
{
	if (!name || ldns_rdf_get_type(name) != LDNS_RDF_TYPE_DNAME)
		return -EINVAL;
	return cache_key_init_wire(key, seed, ldns_rdf_data(name), ldns_rdf_size(name), slot);
}

int cache_key_init_wire(struct cache_key *key, const struct cache_hash_seed *seed,
			const uint8_t *src, size_t len, uint32_t slot)
{
	if (!src || len < 1 || len > CACHE_NAME_MAX)
		return -EINVAL;
	/*
	 * RFC 4343 §3: ASCII case does not matter in names. Folding every byte
	 * is safe because length octets are <= 63 and never fall in 'A'..'Z'.
	 */
	for (size_t i = 0; i < len; i++) {
		uint8_t c = src[i];

		key->name[i] = (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
	}
	key->name_len = (uint8_t)len;
	key->slot = slot;
	cache_key_rehash(key, seed);
	return 0;
}

int cache_key_match(struct cds_lfht_node *node, const void *key)
{
	const struct cache_entry *e = caa_container_of(node, struct cache_entry, node);
	const struct cache_key *k = key;

	return e->hash == k->hash && e->slot == k->slot && e->name_len == k->name_len &&
	       memcmp(e->data, k->name, k->name_len) == 0;
}
