/*
 * log — leveled logging to stderr, one group per module.
 * A disabled level costs one branch on a relaxed atomic load. Messages are
 * one line each; never split a user-visible message across source lines.
 * Thread-safe: each line is formatted into a local buffer and written with
 * one write(2).
 */
#pragma once
#include <stdatomic.h>
#include <stdint.h>

enum log_level {
	LOG_LEVEL_ERR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

enum log_group {
	LOG_DAEMON,
	LOG_CONF,
	LOG_RESOLVER,
	LOG_CACHE,
	LOG_UPSTREAM,
	LOG_DNS,
	LOG_GROUP_COUNT,
};

/* The highest level that is printed; default LOG_LEVEL_WARN. */
extern _Atomic int log_verbosity;

void log_set_verbosity(int level);
void log_printf(enum log_level level, enum log_group group, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_at(level, group, ...)                                                                  \
	do {                                                                                       \
		if ((int)(level) <= atomic_load_explicit(&log_verbosity, memory_order_relaxed))    \
			log_printf((level), (group), __VA_ARGS__);                                 \
	} while (0)

#define log_err(group, ...) log_at(LOG_LEVEL_ERR, group, __VA_ARGS__)
#define log_warn(group, ...) log_at(LOG_LEVEL_WARN, group, __VA_ARGS__)
#define log_info(group, ...) log_at(LOG_LEVEL_INFO, group, __VA_ARGS__)
#define log_debug(group, ...) log_at(LOG_LEVEL_DEBUG, group, __VA_ARGS__)

/* Query-scoped variants: prefix the request id so one query can be followed. */
#define log_qdebug(group, qid, fmt, ...)                                                           \
	log_debug(group, "[%08x] " fmt, (unsigned)(qid), ##__VA_ARGS__)
#define log_qinfo(group, qid, fmt, ...)                                                            \
	log_info(group, "[%08x] " fmt, (unsigned)(qid), ##__VA_ARGS__)
#define log_qwarn(group, qid, fmt, ...)                                                            \
	log_warn(group, "[%08x] " fmt, (unsigned)(qid), ##__VA_ARGS__)
