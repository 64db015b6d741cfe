/*
 * random — unpredictable numbers from the kernel CSPRNG (getrandom(2)).
 * Used for upstream query IDs, source-port choice and jitter: anything an
 * off-path attacker must not guess. Thread-safe; each thread keeps a small
 * buffer so a query costs no system call most of the time.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Fills `buf` with `len` random bytes. Aborts if the kernel cannot supply them. */
void util_random_bytes(void *buf, size_t len);
uint32_t util_random_u32(void);
/* Uniform in [0, bound); bound > 0. */
uint32_t util_random_uniform(uint32_t bound);
