/*
 * assert — two strengths, as in Knot Resolver.
 * util_assert_abort(): always aborts; memory would be corrupted otherwise.
 * util_assume(): logs and lets the caller recover in production, aborts in
 * debug, sanitizer and fuzz builds (HOLDFAST_STRICT_ASSERT). Input from the
 * network is never asserted on: it is a checked error.
 */
#pragma once
#include <stdbool.h>
#include <stdlib.h>
#include "util/log.h"

#define util_assert_abort(cond)                                                                    \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			log_printf(LOG_LEVEL_ERR, LOG_DAEMON, "assertion failed: %s (%s:%d)",      \
				   #cond, __FILE__, __LINE__);                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#ifdef HOLDFAST_STRICT_ASSERT
#define UTIL_ASSUME_STRICT 1
#else
#define UTIL_ASSUME_STRICT 0
#endif

/* Evaluates to `cond`; use as `if (!util_assume(x)) return -EINVAL;`. */
#define util_assume(cond)                                                                          \
	((cond) ? true                                                                             \
		: (log_printf(LOG_LEVEL_ERR, LOG_DAEMON, "assumption failed: %s (%s:%d)", #cond,   \
			      __FILE__, __LINE__),                                                 \
		   UTIL_ASSUME_STRICT ? (abort(), false) : false))
