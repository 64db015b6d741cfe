/*
 * upstream — queries to authoritative servers over UDP and TCP (libuv).
 *
 * Every query the resolver sends to an authority passes through here. One
 * `struct upstream` per worker thread, on that worker's loop; the server
 * table (`struct upstream_servers`: smoothed RTT per server address) is
 * shared by all workers and updated with atomics (no lock on the query path).
 *
 * One call = one attempt: upstream picks ONE server from the candidates
 * (lowest expected RTT, with a little exploration so a recovered or unknown
 * server gets tried), sends one query from a fresh socket (random source
 * port from the kernel, random ID from getrandom), and reports exactly one
 * outcome. Retrying another server is the resolver's decision.
 *
 * A response is accepted only when it comes from the address and port the
 * query went to, carries the query's ID and echoes the question (name
 * compared case-insensitively); anything else is ignored and the attempt
 * keeps waiting until its timeout (spoofing resistance).
 *
 * Parses no client requests. Does not interpret responses beyond matching.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <ldns/ldns.h>
#include <uv.h>

struct upstream_servers; /* shared, thread-safe */
struct upstream;	 /* per worker */
struct upstream_query;	 /* one attempt in flight */

struct upstream_opts {
	uint16_t edns_buffer_size; /* advertised upstream (default 1232) */
	bool do_ip4, do_ip6;
	bool do_not_query_localhost; /* refuse 127.0.0.0/8 and ::1 targets */
	/* Source addresses for outgoing queries; family AF_UNSPEC = any. */
	struct sockaddr_storage source4, source6;
	unsigned timeout_min_ms; /* lower bound of an attempt's timeout (default 200) */
	unsigned timeout_max_ms; /* upper bound (default 3000) */
	unsigned tcp_timeout_ms; /* whole TCP exchange (default 5000) */
};

enum upstream_status {
	UPSTREAM_OK = 0,  /* a matching response; wire/len set */
	UPSTREAM_TIMEOUT, /* no matching response in time */
	UPSTREAM_NETERR,  /* send/connect failed, ICMP unreachable, TCP reset */
	UPSTREAM_REFUSED, /* no candidate allowed (family off, localhost, none given) */
};

struct upstream_result {
	enum upstream_status status;
	struct sockaddr_storage server; /* the server asked (when one was picked) */
	const uint8_t *wire;		/* the response, valid during the callback only */
	size_t len;
	unsigned rtt_ms;
	bool tcp;
};

/* Called exactly once per started attempt, unless cancelled first. */
typedef void (*upstream_cb)(void *arg, const struct upstream_result *res);

struct upstream_request {
	const ldns_rdf *qname;
	uint16_t qtype, qclass;
	bool tcp; /* send over TCP (after TC=1) */
	bool dnssec_ok;
	const struct sockaddr_storage *candidates; /* port included (normally 53) */
	size_t ncandidates;
	/* The candidates come from the operator's configuration (root hints):
	 * do_not_query_localhost does not apply to them. */
	bool configured;
};

/* The shared server table. NULL on allocation failure. */
struct upstream_servers *upstream_servers_create(void);
void upstream_servers_destroy(struct upstream_servers *servers);
/* Expected RTT for `addr` in ms (an unknown server gets a default). */
unsigned upstream_servers_rtt(struct upstream_servers *servers, const struct sockaddr *addr);

/* Per worker. `opts` and `servers` are borrowed for the upstream's lifetime. */
struct upstream *upstream_create(uv_loop_t *loop, const struct upstream_opts *opts,
				 struct upstream_servers *servers);
/* Cancels every attempt in flight (their callbacks are not called) and frees
 * once libuv has closed the handles; run the loop afterwards. */
void upstream_destroy(struct upstream *up);

/*
 * Starts one attempt. On success *out (optional) is a handle for
 * upstream_query_cancel() and `cb` will be called exactly once. On error
 * (negative errno) `cb` is never called. When no candidate is allowed, the
 * call succeeds and `cb` reports UPSTREAM_REFUSED (asynchronously, never
 * from inside this call).
 */
int upstream_query_start(struct upstream *up, const struct upstream_request *req, upstream_cb cb,
			 void *arg, struct upstream_query **out);
/* The callback will not be called. The handle is invalid afterwards. */
void upstream_query_cancel(struct upstream_query *q);

/* Default opts. */
void upstream_opts_init(struct upstream_opts *opts);
/* True when `addr` may be queried under `opts` (family allowed, localhost policy). */
bool upstream_addr_allowed(const struct upstream_opts *opts, const struct sockaddr *addr);
