/*
 * context — the process-wide context of the daemon: the configuration and
 * the shared objects (cache, upstream server table, counters) every worker
 * reads. Data only; who builds it is main.c, who reads it the workers and
 * the control socket.
 *
 * Threads: main() fills one `struct daemon_ctx` before it starts the
 * workers; read-only afterwards, except the thread-safe cache, server table
 * and counters it points to.
 */
#pragma once
#include <stdint.h>
#include <time.h>
#include <ldns/ldns.h>

#include "daemon/config.h"
#include "resolver/resolver.h"
#include "upstream/upstream.h"

struct cache;
struct client_tcp_addrs;

struct daemon_ctx {
	struct config cfg;
	struct cache *cache;
	struct upstream_servers *servers;
	struct client_tcp_addrs *tcp_addrs; /* client TCP connections per address, all workers */
	struct upstream_opts upstream_opts;
	struct resolver_opts resolver_opts;
	struct resolver_env env;
	ldns_rr_list *root_hints;
	unsigned resolution_timeout_ms;	  /* give up on a client request after this */
	unsigned stale_client_timeout_ms; /* stale-answer-client-timeout */
	struct resolver_stats stats;
	uint16_t max_udp_size; /* largest UDP answer we send (1232) */
};

/* Wall-clock seconds for cache decisions (DESIGN.md "Time"). */
static inline uint64_t daemon_wallclock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (uint64_t)ts.tv_sec;
}
