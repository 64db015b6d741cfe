/*
 * log — formatting and writing of log lines. Knows nothing about DNS.
 */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

_Atomic int log_verbosity = LOG_LEVEL_WARN;

static const char *const group_names[LOG_GROUP_COUNT] = {
	[LOG_DAEMON] = "daemon", [LOG_CONF] = "conf",	      [LOG_RESOLVER] = "resolver",
	[LOG_CACHE] = "cache",	 [LOG_UPSTREAM] = "upstream", [LOG_DNS] = "dns",
};

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void log_set_verbosity(int level)
{
	if (level < LOG_LEVEL_ERR)
		level = LOG_LEVEL_ERR;
	if (level > LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_DEBUG;
	atomic_store(&log_verbosity, level);
}

void log_printf(enum log_level level, enum log_group group, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s %s: ", tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, level_names[level],
			 (unsigned)group < LOG_GROUP_COUNT ? group_names[group] : "?");
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}
