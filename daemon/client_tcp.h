/*
 * client_tcp — clients that ask over TCP (RFC 7766): the connections of one
 * worker, each a `struct client` (client.h) for the queries it carries.
 *
 * A connection is reference-counted by the answers it is owed: every task
 * and coalesced waiter that keeps one of its queries holds it
 * (client_hold) until it is freed. The connection is freed when that count
 * is zero and both its handles are closed, so closing a connection never
 * has to find the tasks working for it; their sends after the close do
 * nothing.
 *
 * Threads: a `struct client_tcp_server` and its connections belong to one
 * worker's loop. The table of connections per address
 * (`struct client_tcp_addrs`) is shared by every worker: atomics only.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

struct client_tcp;
struct config;
struct resolver_stats;
struct task_env;

/*
 * What one client TCP connection may spend (security review, issue 12).
 * A connection stops being read while either is reached and is read again
 * when both are below: the bytes stay in the kernel's socket buffer, not in
 * our memory.
 */
/* Queries in flight per connection: those a task or waiter still holds plus
 * those answered whose write has not completed, so fast-path answers and
 * errors count as well as resolutions (RFC 7766 §6.2.1.1 allows a cap). */
#define CLIENT_TCP_MAX_PIPELINE 64
/* Answer bytes libuv still queues for one connection (not yet taken by the
 * kernel): over this, a client that does not read is not read from either.
 * A connection whose queued answers make no progress (none leaves) for
 * tcp-idle-timeout is closed, at the cap or below it. */
#define CLIENT_TCP_MAX_WRITE_QUEUE ((size_t)32 * 1024)

/*
 * Client TCP connections per source address, for the whole process (every
 * worker's connections together): a fixed array of counters indexed by a
 * keyed SipHash of the address (no port), so memory is bounded and nobody
 * can aim addresses at one counter without the key. Addresses that share a
 * counter share the cap: a collision only makes it stricter.
 */
#define CLIENT_TCP_ADDR_SLOTS 16384u
struct client_tcp_addrs;
/* NULL on allocation failure. Draws its key from getrandom. */
struct client_tcp_addrs *client_tcp_addrs_create(void);
void client_tcp_addrs_destroy(struct client_tcp_addrs *t); /* NULL-safe */
/* Takes one unit of `addr`'s counter unless it is at `cap` (lock-free, the
 * cap holds across threads): true with *slot set for the put. */
bool client_tcp_addrs_take(struct client_tcp_addrs *t, const struct sockaddr_storage *addr,
			   unsigned cap, unsigned *slot);
void client_tcp_addrs_put(struct client_tcp_addrs *t, unsigned slot);
/* The count of `addr`'s counter (tests, a racy snapshot). */
unsigned client_tcp_addrs_count(struct client_tcp_addrs *t, const struct sockaddr_storage *addr);

/* A listener that keeps failing to accept for want of a descriptor (when
 * neither libuv's reserve descriptor nor ours can free one, libuv would
 * retry accept() in a busy loop): handed to the owner, which closes it and
 * listens again later (worker.c). */
typedef void (*client_tcp_listener_lost_cb)(void *arg, uv_stream_t *listener);

struct client_tcp_opts {
	unsigned max_conns;		/* incoming-num-tcp, per worker (as in Unbound) */
	unsigned max_conns_per_addr;	/* tcp-connections-per-address, process-wide; 0 = no cap */
	struct client_tcp_addrs *addrs; /* the process-wide counts (borrowed; NULL: no cap) */
	client_tcp_listener_lost_cb listener_lost; /* NULL: the listener is left as it is */
	void *listener_lost_arg;
	unsigned idle_timeout_ms;     /* tcp-idle-timeout */
	const struct config *acl;     /* access-control at accept (NULL: none), borrowed */
	struct resolver_stats *stats; /* counters (may be NULL), borrowed */
};

/* The TCP clients of one worker. */
struct client_tcp_server {
	uv_loop_t *loop;
	struct task_env *tasks;	  /* where framed queries go (borrowed) */
	struct client_tcp *conns; /* open connections, doubly linked */
	unsigned nconns;
	struct client_tcp_opts opts;
	int reserve_fd;	       /* a descriptor kept to free at EMFILE (-1: none now) */
	bool shed_next;	       /* the next accepted connection is closed at once */
	uint64_t fd_warned_ms; /* uv_now of the last "out of descriptors" warning */
	bool stopping;
};

void client_tcp_server_init(struct client_tcp_server *srv, uv_loop_t *loop, struct task_env *tasks,
			    const struct client_tcp_opts *opts);
/* Gives back the reserve descriptor (after client_tcp_close_all). */
void client_tcp_server_deinit(struct client_tcp_server *srv);
/* The uv_listen() callback: `listener->data` is its struct client_tcp_server. */
void client_tcp_on_connection(uv_stream_t *listener, int status);
/* Closes every connection and accepts no more (shutdown). A connection is
 * freed once its handles are closed and the tasks holding it are gone. */
void client_tcp_close_all(struct client_tcp_server *srv);
