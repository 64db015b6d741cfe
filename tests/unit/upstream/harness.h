/*
 * tests/unit/upstream/harness.h — what test_upstream.c and test_transport.c
 * share: fake authorities on 127.0.0.1 in the test's own libuv loop (a UDP
 * one that answers, spoofs, stays silent or truncates; a TCP one that
 * answers in pieces after an unrelated frame, or hangs up) and a cmocka
 * fixture that records every outcome upstream reports. Not a test itself.
 */
#pragma once
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "upstream/upstream.h"
#include "upstream/impl.h"

enum fake_mode {
	FAKE_ANSWER,	/* answer A 192.0.2.1 */
	FAKE_SPOOF,	/* junk first, then (later) the real answer */
	FAKE_SILENT,	/* never answer */
	FAKE_TRUNCATED, /* answer with TC=1 */
	FAKE_HANGUP,	/* TCP: close after reading the query */
	FAKE_LOWER,	/* UDP: answer with the name lower-cased (loses 0x20 case) */
};

struct fake {
	uv_loop_t *loop;
	enum fake_mode mode;
	uv_udp_t udp;	/* the authority */
	uv_udp_t other; /* another port on the same host, for "from elsewhere" */
	uv_tcp_t listener;
	uv_timer_t delay; /* sends the real answer after the junk */
	struct sockaddr_storage udp_addr, tcp_addr, peer;
	struct sockaddr_storage other_addr; /* a UDP port that never answers */
	uint8_t *pending;
	size_t pending_len;
	int queries;
	int tcp_queries;
	char seen[256]; /* the last query name, as it came (case included) */
	bool running;
	uint8_t buf[65536];
};

#define MAX_RESULTS 32

struct recorded {
	enum upstream_status status;
	struct sockaddr_storage server;
	unsigned rtt_ms;
	bool tcp;
	bool has_wire;
	bool tc;
	char rdata[64];	 /* first answer's rdata */
	char qname[256]; /* the question name as handed over, case included */
	char owner[256]; /* first answer's owner name */
	struct sockaddr_storage hedged;
	bool recovered;
	uint64_t at_ms; /* uv_now() when reported */
};

struct env {
	uv_loop_t loop;
	struct upstream_opts opts;
	struct upstream_servers *servers;
	struct upstream *up;
	struct fake fake;
	struct fake fake2; /* a second authority (another provider), when started */
	uv_timer_t watchdog, stopper;
	bool waited;
	ldns_rdf *qname;
	struct recorded results[MAX_RESULTS];
	int nresults;
	bool in_start;	/* set while upstream_query_start() runs */
	int stop_after; /* stop the fake after this many results */
	/* Re-entrancy tests: what the callback does. */
	struct upstream_query *to_cancel;
	bool start_in_cb, destroy_in_cb;
	struct upstream_query *self;
};

struct health_find {
	const struct sockaddr_storage *addr;
	const char *zone;
	bool found;
	struct upstream_health_info info;
};

/* Starts the fake authorities of `f` on kernel-chosen loopback ports. */
void fake_start(struct fake *f, uv_loop_t *loop, enum fake_mode mode);
/* Closes them (idempotent). */
void fake_stop(struct fake *f);
/* cmocka fixture: a loop, opts with short timeouts, a server table, an upstream. */
int setup(void **state);
/* Destroys it all and checks that every handle was closed. */
int teardown(void **state);
/* The callback of every attempt: records the outcome, then does what the
 * re-entrancy fields of `struct env` ask. */
void on_result(void *arg, const struct upstream_result *res);
/* A request for www.example.com A IN to `cands`. */
struct upstream_request request(struct env *e, const struct sockaddr_storage *cands, size_t n,
				bool tcp);
/* Starts request() and checks that no callback came from inside the call. */
struct upstream_query *start(struct env *e, const struct sockaddr_storage *cands, size_t n,
			     bool tcp);
/* A timer callback stopping e->fake. */
void stop_fake(uv_timer_t *t);
struct sockaddr_storage ip4(const char *ip, uint16_t port);
uint16_t port_of(const struct sockaddr_storage *ss);
/* Same family and port (every fake is on 127.0.0.1). */
bool same(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* A loopback port nobody listens on (bound, read, released). */
struct sockaddr_storage closed_port(uv_loop_t *loop, bool tcp);
/* Runs the loop until `n` results are in. */
void run_until(struct env *e, int n);
/* Runs the loop for `ms` milliseconds. */
void run_for(struct env *e, unsigned ms);
/* As start(), for a request built by the caller. */
void start_req(struct env *e, const struct upstream_request *req);
/* request() for a zone, with NS names (NULL: none). */
struct upstream_request zone_request(struct env *e, const struct sockaddr_storage *cands, size_t n,
				     const ldns_rdf *zone, const ldns_rdf *const *ns);
/* Feeds five RTT samples of `ms` for `a`. */
void sample_n(struct env *e, const struct sockaddr_storage *a, unsigned ms);
/* The health entry of (a, zone) as the dump shows it; .found false if none. */
struct health_find health_of(struct env *e, const struct sockaddr_storage *a, const char *zone);
