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
 * worker's loop.
 */
#pragma once
#include <stdbool.h>
#include <uv.h>

struct client_tcp;
struct task_env;

/* The TCP clients of one worker. */
struct client_tcp_server {
	uv_loop_t *loop;
	struct task_env *tasks;	  /* where framed queries go (borrowed) */
	struct client_tcp *conns; /* open connections, doubly linked */
	unsigned nconns;
	unsigned max_conns;	  /* tcp-max-connections: more are closed at once */
	unsigned idle_timeout_ms; /* RFC 7766 §6.2.3: idle connections are closed */
	bool stopping;
};

void client_tcp_server_init(struct client_tcp_server *srv, uv_loop_t *loop, struct task_env *tasks,
			    unsigned max_conns, unsigned idle_timeout_ms);
/* The uv_listen() callback: `listener->data` is its struct client_tcp_server. */
void client_tcp_on_connection(uv_stream_t *listener, int status);
/* Closes every connection and accepts no more (shutdown). A connection is
 * freed once its handles are closed and the tasks holding it are gone. */
void client_tcp_close_all(struct client_tcp_server *srv);
