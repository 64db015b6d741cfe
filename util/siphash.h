/*
 * siphash — the keyed hash for every table whose keys an outsider chooses
 * (cache keys, the upstream server table, the coalescing table): SipHash-1-3
 * (Aumasson & Bernstein) with a per-table random key, so nobody can aim many
 * keys at one chain without knowing the key. One implementation; the round
 * counts are parameters only so the reference vectors of SipHash-2-4 can
 * check it.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct util_siphash_key {
	uint64_t k0, k1;
};

/* Draws a fresh random key (util_random_bytes). */
void util_siphash_key_init(struct util_siphash_key *key);
/* SipHash-1-3 of `len` bytes at `in`. */
uint64_t util_siphash(const struct util_siphash_key *key, const void *in, size_t len);
/* SipHash-c-d: the general form (tests check it against the paper's vectors). */
uint64_t util_siphash_cd(const struct util_siphash_key *key, const void *in, size_t len,
			 unsigned c_rounds, unsigned d_rounds);
