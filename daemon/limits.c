/*
 * limits — RLIMIT_NOFILE for what the configuration needs (see limits.h).
 *
 * Per worker: a UDP and a TCP socket per listen address, incoming-num-tcp
 * client connections, outgoing-range upstream sockets, and the loop's own
 * descriptors; for the process, DAEMON_LIMITS_PROCESS_FIXED more. With the
 * caps sized to the limit, running out of descriptors is an edge case
 * (another process, ENFILE) that client_tcp.c and upstream.c shed and
 * count, not the normal way of saying no.
 */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "daemon/limits.h"
#include "util/log.h"

static uint64_t worker_need(const struct daemon_limits *l)
{
	return (uint64_t)2 * l->listen + l->incoming_tcp + l->outgoing_range +
	       DAEMON_LIMITS_WORKER_FIXED;
}

uint64_t daemon_limits_need(const struct daemon_limits *l)
{
	return DAEMON_LIMITS_PROCESS_FIXED + (uint64_t)l->threads * worker_need(l);
}

int daemon_limits_fit(struct daemon_limits *l, uint64_t max_fds)
{
	if (daemon_limits_need(l) <= max_fds)
		return 0;
	struct daemon_limits min = *l;
	if (min.outgoing_range > DAEMON_LIMITS_MIN_OUTGOING)
		min.outgoing_range = DAEMON_LIMITS_MIN_OUTGOING;
	if (min.incoming_tcp > DAEMON_LIMITS_MIN_INCOMING_TCP)
		min.incoming_tcp = DAEMON_LIMITS_MIN_INCOMING_TCP;
	if (l->threads == 0 || daemon_limits_need(&min) > max_fds)
		return -EMFILE;
	/* What each worker has for the two scalable counts, split in the
	 * configured proportion; the floors hold since the minimums fit. */
	uint64_t per_worker = (max_fds - DAEMON_LIMITS_PROCESS_FIXED) / l->threads;
	uint64_t room = per_worker - ((uint64_t)2 * l->listen + DAEMON_LIMITS_WORKER_FIXED);
	uint64_t total = (uint64_t)l->outgoing_range + l->incoming_tcp;
	uint64_t out = room * l->outgoing_range / total;
	if (out < min.outgoing_range)
		out = min.outgoing_range;
	if (out > l->outgoing_range)
		out = l->outgoing_range;
	uint64_t in = room - out;
	if (in > l->incoming_tcp)
		in = l->incoming_tcp;
	if (in < min.incoming_tcp) {
		in = min.incoming_tcp;
		out = room - in;
	}
	l->outgoing_range = (unsigned)out;
	l->incoming_tcp = (unsigned)in;
	return 1;
}

int daemon_limits_apply(struct daemon_limits *l)
{
	uint64_t need = daemon_limits_need(l);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_warn(LOG_DAEMON, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return 0; /* the caps still bound what we open */
	}
	rlim_t want = (rlim_t)need;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		/* As root (CAP_SYS_RESOURCE) the hard limit may go up too;
		 * anyone else keeps the hard limit it was given. */
		struct rlimit up = {.rlim_cur = want, .rlim_max = want};
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rlim_t cur =
			rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
		struct rlimit set = {.rlim_cur = cur, .rlim_max = rl.rlim_max};
		if (cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &set) == 0)
			rl.rlim_cur = cur;
		else if (cur > rl.rlim_cur)
			log_warn(LOG_DAEMON, "setrlimit(RLIMIT_NOFILE, %llu): %s",
				 (unsigned long long)cur, strerror(errno));
	}
	uint64_t have = rl.rlim_cur == RLIM_INFINITY ? need : (uint64_t)rl.rlim_cur;
	log_info(LOG_DAEMON, "RLIMIT_NOFILE %llu (hard %llu), the configuration needs %llu",
		 (unsigned long long)have,
		 rl.rlim_max == RLIM_INFINITY ? 0ull : (unsigned long long)rl.rlim_max,
		 (unsigned long long)need);
	struct daemon_limits was = *l;
	int r = daemon_limits_fit(l, have);
	if (r < 0) {
		log_err(LOG_DAEMON, "RLIMIT_NOFILE %llu is too low for %u threads",
			(unsigned long long)have, l->threads);
		return r;
	}
	if (r > 0) {
		log_warn(LOG_DAEMON, "RLIMIT_NOFILE %llu is below the %llu descriptors needed",
			 (unsigned long long)have, (unsigned long long)need);
		log_warn(LOG_DAEMON,
			 "per thread: outgoing-range %u -> %u, incoming-num-tcp %u -> %u",
			 was.outgoing_range, l->outgoing_range, was.incoming_tcp, l->incoming_tcp);
	}
	return 0;
}
