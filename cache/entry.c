/*
 * entry — the owned, compact form of what the cache stores: one allocation
 * per entry holding the key name and the records in uncompressed wire form,
 * and the way back to an ldns_rr_list on lookup.
 *
 * Copying on store means the cache never points into a caller's packet or
 * request arena. This file knows nothing about tables, times or ranks; it
 * does not validate that records form an RRset (cache.c does).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache/impl.h"

struct cache_entry *cache_entry_alloc(const struct cache_key *key, size_t payload)
{
	struct cache_entry *e = calloc(1, sizeof(*e) + key->name_len + payload);
	if (!e)
		return NULL;
	e->hash = key->hash;
	e->slot = key->slot;
	e->name_len = key->name_len;
	e->rr_len = (uint32_t)payload;
	e->bytes = sizeof(*e) + key->name_len + payload;
	atomic_init(&e->referenced, false);
	memcpy(e->data, key->name, key->name_len);
	cds_lfht_node_init(&e->node);
	return e;
}

struct cache_entry *cache_entry_new(const struct cache_key *key, const ldns_rr_list *rrs, int *err)
{
	struct cache_entry *e = NULL;
	size_t count = rrs ? ldns_rr_list_rr_count(rrs) : 0;
	size_t rr_len;
	ldns_buffer *buf;

	if (count > UINT16_MAX) {
		*err = -EINVAL;
		return NULL;
	}
	buf = ldns_buffer_new(256);
	if (!buf) {
		*err = -ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < count; i++) {
		/* No compression table: names are written whole, case as given. */
		if (ldns_rr2buffer_wire(buf, ldns_rr_list_rr(rrs, i), LDNS_SECTION_ANSWER) !=
		    LDNS_STATUS_OK) {
			*err = ldns_buffer_status(buf) == LDNS_STATUS_MEM_ERR ? -ENOMEM : -EINVAL;
			goto out_free_buf;
		}
	}
	if (!ldns_buffer_status_ok(buf)) {
		*err = -ENOMEM;
		goto out_free_buf;
	}
	rr_len = ldns_buffer_position(buf);
	if (rr_len > UINT32_MAX) {
		*err = -EINVAL;
		goto out_free_buf;
	}
	e = cache_entry_alloc(key, rr_len);
	if (!e) {
		*err = -ENOMEM;
		goto out_free_buf;
	}
	e->rr_count = (uint16_t)count;
	if (rr_len)
		memcpy(e->data + key->name_len, ldns_buffer_begin(buf), rr_len);
out_free_buf:
	ldns_buffer_free(buf);
	return e;
}

void cache_entry_free(struct cache_entry *entry)
{
	free(entry);
}

void cache_entry_free_rcu(struct rcu_head *head)
{
	cache_tsan_reclaim();
	free(caa_container_of(head, struct cache_entry, rcu));
}

ldns_rr_list *cache_entry_decode(const struct cache_entry *entry, uint32_t ttl)
{
	const uint8_t *wire = entry->data + entry->name_len;
	ldns_rr_list *list = ldns_rr_list_new();
	size_t pos = 0;

	if (!list)
		return NULL;
	for (uint16_t i = 0; i < entry->rr_count; i++) {
		ldns_rr *rr = NULL;

		/* We wrote these bytes ourselves; a failure here is ENOMEM. */
		if (ldns_wire2rr(&rr, wire, entry->rr_len, &pos, LDNS_SECTION_ANSWER) !=
		    LDNS_STATUS_OK)
			goto out_free_list;
		ldns_rr_set_ttl(rr, ttl);
		if (!ldns_rr_list_push_rr(list, rr)) {
			ldns_rr_free(rr);
			goto out_free_list;
		}
	}
	return list;

out_free_list:
	ldns_rr_list_deep_free(list);
	return NULL;
}
