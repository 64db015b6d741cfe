/*
 * fuzz_check — the one assertion of the fuzz harnesses: an invariant that
 * fails prints itself and aborts, so libFuzzer (and the replay driver)
 * record the input as a crash. Always on, unlike assert().
 */
#pragma once
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__,         \
				__LINE__);                                                         \
			abort();                                                                   \
		}                                                                                  \
	} while (0)
