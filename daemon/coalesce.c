/*
 * coalesce — the per-worker table of questions in flight and their waiters
 * (see coalesce.h for what makes two questions the same and why the hash is
 * keyed). A plain chained hash of COALESCE_BUCKETS buckets, allocated the
 * first time a question has to wait on the network. Does not answer
 * anyone: the owner of an entry (task.c) does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/coalesce.h"

void coalesce_table_init(struct coalesce_table *table)
{
	table->buckets = NULL;
	util_siphash_key_init(&table->hash_key);
}

void coalesce_table_deinit(struct coalesce_table *table)
{
	free(table->buckets);
	table->buckets = NULL;
}

void coalesce_key_build(const struct coalesce_table *table, const struct dns_query_view *q,
			struct coalesce_key *key)
{
	memcpy(key->b, q->qname, q->qname_len);
	dns_name_lower(key->b, q->qname_len);
	size_t n = q->qname_len;
	key->b[n++] = (uint8_t)(q->qtype >> 8);
	key->b[n++] = (uint8_t)q->qtype;
	key->b[n++] = (uint8_t)(q->qclass >> 8);
	key->b[n++] = (uint8_t)q->qclass;
	key->b[n++] = (uint8_t)((q->edns_do ? 1 : 0) | (q->cd ? 2 : 0));
	key->len = (uint16_t)n;
	key->hash = util_siphash(&table->hash_key, key->b, n);
}

static struct coalesce_entry **bucket(const struct coalesce_table *table,
				      const struct coalesce_key *key)
{
	return &table->buckets[key->hash % COALESCE_BUCKETS];
}

struct coalesce_entry *coalesce_find(const struct coalesce_table *table,
				     const struct coalesce_key *key)
{
	if (!table->buckets)
		return NULL;
	for (struct coalesce_entry *e = *bucket(table, key); e; e = e->hnext)
		if (e->key.hash == key->hash && e->key.len == key->len &&
		    memcmp(e->key.b, key->b, key->len) == 0)
			return e;
	return NULL;
}

int coalesce_add(struct coalesce_table *table, struct coalesce_entry *entry)
{
	if (!table->buckets)
		table->buckets = calloc(COALESCE_BUCKETS, sizeof(struct coalesce_entry *));
	if (!table->buckets)
		return -ENOMEM;
	struct coalesce_entry **head = bucket(table, &entry->key);
	entry->hnext = *head;
	*head = entry;
	entry->registered = true;
	return 0;
}

void coalesce_remove(struct coalesce_table *table, struct coalesce_entry *entry)
{
	if (!entry->registered)
		return;
	for (struct coalesce_entry **p = bucket(table, &entry->key); *p; p = &(*p)->hnext)
		if (*p == entry) {
			*p = entry->hnext;
			break;
		}
	entry->registered = false;
}

int coalesce_join(struct coalesce_entry *entry, const struct client *client,
		  const struct dns_query_view *q)
{
	if (entry->nwaiters >= COALESCE_MAX_WAITERS)
		return -ENOSPC;
	struct coalesce_waiter *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->client = *client;
	w->q = *q;
	client_hold(&w->client);
	w->next = entry->waiters;
	entry->waiters = w;
	entry->nwaiters++;
	return 0;
}

struct coalesce_waiter *coalesce_take_waiters(struct coalesce_entry *entry)
{
	struct coalesce_waiter *list = entry->waiters;
	entry->waiters = NULL;
	entry->nwaiters = 0;
	return list;
}

void coalesce_waiter_free(struct coalesce_waiter *waiter)
{
	if (!waiter)
		return;
	client_release(&waiter->client);
	free(waiter);
}
