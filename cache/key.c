/*
 * key — cache keys: the owner name lower-cased in wire form plus a slot (RR
 * type, or the NXDOMAIN slot), and their hash.
 *
 * Names come from the network, so an attacker chooses them; the hash is
 * keyed (util/siphash.h: SipHash-1-3 with a per-cache random key) so nobody can aim many
 * names at one hash chain. This file does not decide which shard a key goes
 * to, nor compare anything but exact (already lower-cased) bytes.
 */
#include <errno.h>
#include <string.h>

#include "cache/impl.h"

void cache_key_rehash(struct cache_key *key, const struct util_siphash_key *seed)
{
	uint8_t buf[CACHE_NAME_MAX + 4];

	memcpy(buf, key->name, key->name_len);
	buf[key->name_len + 0] = (uint8_t)(key->slot >> 24);
	buf[key->name_len + 1] = (uint8_t)(key->slot >> 16);
	buf[key->name_len + 2] = (uint8_t)(key->slot >> 8);
	buf[key->name_len + 3] = (uint8_t)key->slot;
	key->hash = util_siphash(seed, buf, (size_t)key->name_len + 4);
}

int cache_key_init(struct cache_key *key, const struct util_siphash_key *seed, const ldns_rdf *name,
		   uint32_t slot)
{
	if (!name || ldns_rdf_get_type(name) != LDNS_RDF_TYPE_DNAME)
		return -EINVAL;
	return cache_key_init_wire(key, seed, ldns_rdf_data(name), ldns_rdf_size(name), slot);
}

int cache_key_init_wire(struct cache_key *key, const struct util_siphash_key *seed,
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

	cache_tsan_reach(e);
	return e->hash == k->hash && e->slot == k->slot && e->name_len == k->name_len &&
	       memcmp(e->data, k->name, k->name_len) == 0;
}
