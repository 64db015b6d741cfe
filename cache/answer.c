/*
 * answer — the answer cache behind the fast path: whole wire answers,
 * stored in the cache's tables under their own slot, served with TTLs
 * counted down in place. Payload after the key name:
 *
 *	u16 nttl | u16 offsets[nttl] | u32 ttls[nttl] | message bytes
 *
 * (host byte order for the bookkeeping, wire order in the message). No
 * parsing here: the daemon found the TTL offsets when it wrote the answer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache/impl.h"

#define ANSWER_MAX_TTLS 512

static size_t question_name_len(const uint8_t *msg, size_t len)
{
	/* The question name starts at 12 and is uncompressed in our answers. */
	size_t i = 12;
	while (i < len && msg[i] != 0) {
		if (msg[i] & 0xc0)
			return 0;
		i += (size_t)msg[i] + 1;
	}
	return i < len ? i + 1 - 12 : 0;
}

int cache_answer_put(struct cache *cache, const uint8_t *msg, size_t len,
		     const uint16_t *ttl_offsets, size_t nttl, uint32_t ttl, uint64_t now)
{
	struct cache_key key;
	if (!cache || len < 17 || len > UINT16_MAX || nttl > ANSWER_MAX_TTLS)
		return -EINVAL;
	size_t qlen = question_name_len(msg, len);
	if (qlen == 0 || 12 + qlen + 4 > len)
		return -EINVAL;
	uint16_t qtype = (uint16_t)(msg[12 + qlen] << 8 | msg[12 + qlen + 1]);
	if (cache_key_init_wire(&key, cache_seed(cache), msg + 12, qlen, CACHE_SLOT_ANSWER + qtype))
		return -EINVAL;
	if (ttl > cache_max_ttl(cache))
		ttl = cache_max_ttl(cache);
	if (ttl == 0)
		return 0;

	size_t payload = 2 + nttl * 2 + nttl * 4 + len;
	struct cache_entry *e = cache_entry_alloc(&key, payload);
	if (!e)
		return -ENOMEM;
	uint8_t *p = e->data + key.name_len;
	uint16_t n16 = (uint16_t)nttl;
	memcpy(p, &n16, 2);
	p += 2;
	memcpy(p, ttl_offsets, nttl * 2);
	p += nttl * 2;
	for (size_t i = 0; i < nttl; i++) {
		if ((size_t)ttl_offsets[i] + 4 > len) {
			cache_entry_free(e);
			return -EINVAL;
		}
		const uint8_t *t = msg + ttl_offsets[i];
		uint32_t v =
			(uint32_t)t[0] << 24 | (uint32_t)t[1] << 16 | (uint32_t)t[2] << 8 | t[3];
		memcpy(p, &v, 4);
		p += 4;
	}
	memcpy(p, msg, len);
	e->kind = CACHE_KIND_ANSWER;
	e->rank = CACHE_RANK_ANSWER_AUTH; /* a newer answer always replaces */
	e->orig_ttl = ttl;
	e->expire_at = now + ttl;
	int r = cache_insert_entry(cache, e, now);
	return r < 0 ? r : 0;
}

int cache_answer_get(struct cache *cache, const uint8_t *qname, size_t qname_len, uint16_t qtype,
		     uint64_t now, uint8_t *out, size_t cap)
{
	struct cache_key key;
	int result = 0;
	if (!cache || cache_key_init_wire(&key, cache_seed(cache), qname, qname_len,
					  CACHE_SLOT_ANSWER + qtype))
		return 0;
	rcu_read_lock();
	struct cache_entry *e = cache_find_entry(cache, &key, now);
	if (!e || e->kind != CACHE_KIND_ANSWER || now >= e->expire_at)
		goto out;
	cache_entry_touch(e);
	const uint8_t *p = e->data + e->name_len;
	uint16_t nttl;
	memcpy(&nttl, p, 2);
	const uint8_t *offs = p + 2, *ttls = offs + (size_t)nttl * 2;
	const uint8_t *msg = ttls + (size_t)nttl * 4;
	size_t len = e->rr_len - (size_t)(msg - p);
	if (len > cap) {
		result = -ENOSPC;
		goto out;
	}
	memcpy(out, msg, len);
	uint64_t elapsed = now - (e->expire_at - e->orig_ttl);
	for (size_t i = 0; i < nttl; i++) {
		uint16_t off;
		uint32_t ttl;
		memcpy(&off, offs + i * 2, 2);
		memcpy(&ttl, ttls + i * 4, 4);
		ttl = ttl > elapsed ? (uint32_t)(ttl - elapsed) : 0;
		out[off] = (uint8_t)(ttl >> 24);
		out[off + 1] = (uint8_t)(ttl >> 16);
		out[off + 2] = (uint8_t)(ttl >> 8);
		out[off + 3] = (uint8_t)ttl;
	}
	result = (int)len;
out:
	rcu_read_unlock();
	return result;
}
