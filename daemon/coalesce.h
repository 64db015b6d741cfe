/*
 * coalesce — the table that lets identical client questions share one
 * resolution (per worker): a question waiting on the network is findable
 * by its key, and a client asking the same meanwhile joins it as a waiter
 * instead of starting a second resolution.
 *
 * Two questions are the same when they agree on the name (ignoring ASCII
 * case, RFC 4343), QTYPE, QCLASS, and the DO and CD bits (they change what
 * the answer holds). The key is hashed with keyed SipHash (a random key per
 * table): the names are chosen by clients, who must not be able to aim
 * many of them at one bucket.
 *
 * Knows nothing of resolution or answers: an entry is embedded in whatever
 * owns the resolution (task.c), which answers the waiters and frees them.
 *
 * Threads: one table per worker, used on that worker's thread only.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "daemon/client.h"
#include "dns/dns.h"
#include "util/siphash.h"

#define COALESCE_BUCKETS 1024	 /* coalescing table size per worker */
#define COALESCE_MAX_WAITERS 256 /* beyond this, a question gets its own resolution */

/* A client that asked the same question as a resolution in flight. */
struct coalesce_waiter {
	struct coalesce_waiter *next;
	struct client client; /* held while it waits */
	struct dns_query_view q;
};

/* Lower-cased qname, qtype, qclass, DO and CD. */
struct coalesce_key {
	uint8_t b[DNS_NAME_MAX + 5];
	uint16_t len;
	uint64_t hash;
};

/* One question in flight; lives inside its owner. */
struct coalesce_entry {
	struct coalesce_entry *hnext; /* bucket chain, while registered */
	bool registered;
	struct coalesce_key key;
	struct coalesce_waiter *waiters;
	unsigned nwaiters;
};

struct coalesce_table {
	struct coalesce_entry **buckets; /* allocated on first use */
	struct util_siphash_key hash_key;
};

/* Draws the table's hash key; no allocation. */
void coalesce_table_init(struct coalesce_table *table);
/* Frees the buckets; every entry must have been removed. */
void coalesce_table_deinit(struct coalesce_table *table);

/* The key of question `q` under this table's hash key. */
void coalesce_key_build(const struct coalesce_table *table, const struct dns_query_view *q,
			struct coalesce_key *key);
/* The registered entry with this key, or NULL. */
struct coalesce_entry *coalesce_find(const struct coalesce_table *table,
				     const struct coalesce_key *key);
/* Registers `entry` (its key already built). 0 or -ENOMEM (then the
 * question is just not joinable). */
int coalesce_add(struct coalesce_table *table, struct coalesce_entry *entry);
/* Unregisters `entry` if it is registered; its waiters stay. */
void coalesce_remove(struct coalesce_table *table, struct coalesce_entry *entry);

/* Adds a waiter for `client` asking `q`, and holds the client. 0, -ENOSPC
 * at COALESCE_MAX_WAITERS, or -ENOMEM. */
int coalesce_join(struct coalesce_entry *entry, const struct client *client,
		  const struct dns_query_view *q);
/* Detaches and returns the waiter list; the caller answers each one and
 * frees it with coalesce_waiter_free(). */
struct coalesce_waiter *coalesce_take_waiters(struct coalesce_entry *entry);
/* Releases the waiter's client and frees it. NULL-safe. */
void coalesce_waiter_free(struct coalesce_waiter *waiter);
