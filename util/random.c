/*
 * random — buffered getrandom(2). No seeding, no user-space PRNG state that
 * could leak across threads: the buffer is thread-local.
 */
#include "util/random.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static _Thread_local uint8_t pool[256];
static _Thread_local size_t pool_left;

static void fill(void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("getrandom");
			abort(); /* no safe fallback for query IDs */
		}
		p += n;
		len -= (size_t)n;
	}
}

void util_random_bytes(void *buf, size_t len)
{
	if (len > sizeof(pool) / 2) {
		fill(buf, len);
		return;
	}
	if (pool_left < len) {
		fill(pool, sizeof(pool));
		pool_left = sizeof(pool);
	}
	memcpy(buf, pool + sizeof(pool) - pool_left, len);
	memset(pool + sizeof(pool) - pool_left, 0, len);
	pool_left -= len;
}

uint32_t util_random_u32(void)
{
	uint32_t v;
	util_random_bytes(&v, sizeof(v));
	return v;
}

uint32_t util_random_uniform(uint32_t bound)
{
	if (bound <= 1)
		return 0;
	/* Rejection sampling: no modulo bias. */
	uint32_t min = -bound % bound;
	for (;;) {
		uint32_t r = util_random_u32();
		if (r >= min)
			return r % bound;
	}
}
