/*
 * daemon internals: the process-wide context, worker threads, client
 * listeners and the per-request task. Shared only inside daemon/.
 *
 * Threads: main() builds one `struct daemon_ctx`, read-only afterwards
 * (except the thread-safe cache and server table it points to), and starts
 * N workers. Each worker owns a libuv loop, its listening sockets
 * (SO_REUSEPORT), its upstream context and every task it accepted: a request
 * never leaves the worker that received it, so nothing in a worker is locked.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include <ldns/ldns.h>

#include "daemon/config.h"
#include "dns/dns.h"
#include "resolver/resolver.h"
#include "upstream/upstream.h"

struct cache;

struct daemon_ctx {
	struct config cfg;
	struct cache *cache;
	struct upstream_servers *servers;
	struct upstream_opts upstream_opts;
	struct resolver_opts resolver_opts;
	struct resolver_env env;
	ldns_rr_list *root_hints;
	unsigned resolution_timeout_ms;	  /* give up on a client request after this */
	unsigned stale_client_timeout_ms; /* stale-answer-client-timeout */
	struct resolver_stats stats;
	uint16_t max_udp_size; /* largest UDP answer we send (1232) */
};

struct task;
struct tcp_conn;

struct worker {
	unsigned index;
	struct daemon_ctx *ctx;
	uv_loop_t loop;
	uv_thread_t thread;
	uv_async_t stop_async;
	uv_prepare_t rcu_prepare;
	uv_timer_t rcu_timer;
	struct upstream *upstream;
	uv_udp_t *udp; /* one per listen address */
	uv_tcp_t *tcp;
	size_t nlisten;
	struct task *tasks;	/* in flight, doubly linked */
	struct task **inflight; /* coalescing: tasks waiting on the network, by question */
	unsigned ntasks;
	struct tcp_conn *conns; /* open client TCP connections */
	unsigned nconns;
	bool stopping;
	int start_error;	 /* set by the thread if listeners failed */
	uint8_t udp_rbuf[65536]; /* one datagram at a time */
	uint8_t wbuf[65536 + 2]; /* answer scratch (2 bytes room for TCP length) */
};

/* Wall-clock seconds for cache decisions (DESIGN.md "Time"). */
uint64_t daemon_wallclock(void);

/* worker.c */
int worker_start(struct worker *w, struct daemon_ctx *ctx, unsigned index);
void worker_stop(struct worker *w); /* asks the thread to stop (async-signal-unsafe) */
void worker_join(struct worker *w);

/* listen.c */
int listen_udp_open(struct worker *w, const struct sockaddr_storage *addr, uv_udp_t *handle);
int listen_tcp_open(struct worker *w, const struct sockaddr_storage *addr, uv_tcp_t *handle);

/* client_tcp.c */
void tcp_conn_on_connection(uv_stream_t *server, int status);
void tcp_conn_close_all(struct worker *w);
/* Sends a framed answer; NULL-safe for a closed connection. */
void tcp_conn_send(struct tcp_conn *conn, const uint8_t *msg, size_t len);
void tcp_conn_task_begin(struct tcp_conn *conn);
void tcp_conn_task_done(struct tcp_conn *conn);

/* task.c: one client query, from parsed bytes to the answer written */
enum task_transport { TASK_UDP, TASK_TCP };
struct task_origin {
	enum task_transport transport;
	uv_udp_t *udp;			/* UDP: the socket it came in on */
	struct sockaddr_storage client; /* UDP: where to answer */
	struct tcp_conn *conn;		/* TCP: the connection */
};
/* reply.c: answers to clients (`w->wbuf` is the scratch buffer) */
void reply_raw(struct worker *w, const struct task_origin *origin, const uint8_t *msg, size_t len);
void reply_error(struct worker *w, const struct task_origin *origin, const struct dns_query_view *q,
		 int rcode);
/* `answer` (rcode + sections) shaped for this client; EDE when ede >= 0. */
void reply_answer(struct worker *w, const struct task_origin *origin,
		  const struct dns_query_view *q, const ldns_pkt *answer, int ede);
/* The largest answer this client takes (UDP: its EDNS size within ours). */
uint16_t reply_size_limit(const struct worker *w, const struct task_origin *origin,
			  const struct dns_query_view *q);
/* RFC 8482 minimal answer to QTYPE=ANY. */
void reply_any(struct worker *w, const struct task_origin *origin, const struct dns_query_view *q);

/* Handles one query message: answers at once or starts a resolution. */
void task_handle_query(struct worker *w, const uint8_t *msg, size_t len,
		       const struct task_origin *origin, const struct sockaddr *peer);
/* Ends every task without answering (shutdown). */
void task_cancel_all(struct worker *w);
/* Ends the tasks of a closing TCP connection (their answers have nowhere to go). */
void task_detach_conn(struct worker *w, struct tcp_conn *conn);
