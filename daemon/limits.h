/*
 * limits — the file descriptors the configuration needs, and RLIMIT_NOFILE
 * raised to fit them at start. When the hard limit is below the need and
 * cannot be raised, outgoing-range and incoming-num-tcp are scaled down so
 * the caps, not the kernel, say no later (Unbound does the same). The count
 * and the fit are pure functions; daemon_limits_apply() is the only part
 * that calls getrlimit/setrlimit.
 */
#pragma once
#include <stdint.h>

/* Descriptors outside the per-worker counts: stdin/out/err, the control
 * socket and its CONTROL_MAX_CLIENTS (8) clients, the main loop's signal
 * pipes, libraries (libpsl, ldns reading the root hints), and a margin. */
#define DAEMON_LIMITS_PROCESS_FIXED 48u
/* Per worker beyond its sockets: the loop's epoll and async descriptors,
 * libuv's reserve for its accept EMFILE trick, client_tcp's own reserve,
 * and one TCP connection accepted before the cap closes it. */
#define DAEMON_LIMITS_WORKER_FIXED 8u
/* The least a worker is scaled down to; below this holdfast does not start. */
#define DAEMON_LIMITS_MIN_OUTGOING 16u
#define DAEMON_LIMITS_MIN_INCOMING_TCP 4u

struct daemon_limits {
	unsigned threads;	 /* workers */
	unsigned listen;	 /* listen addresses: a UDP and a TCP socket each, per worker */
	unsigned incoming_tcp;	 /* incoming-num-tcp, per worker */
	unsigned outgoing_range; /* outgoing-range: upstream sockets, per worker */
};

/* Descriptors the whole process needs with `l`. */
uint64_t daemon_limits_need(const struct daemon_limits *l);
/*
 * Fits `l` into `max_fds` descriptors: 0 when it fits as it is; 1 when
 * outgoing_range and incoming_tcp were scaled down (in proportion, not
 * below the minimums above); -EMFILE when even the minimums do not fit
 * (then `l` is unchanged).
 */
int daemon_limits_fit(struct daemon_limits *l, uint64_t max_fds);
/*
 * Raises the soft RLIMIT_NOFILE to the need (as root, the hard limit too
 * when it is lower), logs what was set, and when the limit stays below the
 * need, warns with the numbers and scales `l` down (daemon_limits_fit).
 * 0, or -EMFILE when the configuration cannot run in the limit.
 */
int daemon_limits_apply(struct daemon_limits *l);
