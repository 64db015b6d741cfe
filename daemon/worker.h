/*
 * worker — one thread with its own libuv loop, listening sockets, upstream
 * context and request layer. A request never leaves the worker that
 * received it, so nothing in a worker is locked.
 *
 * Threads: main() starts, stops and joins workers; everything else in a
 * `struct worker` is touched only by the worker's own thread once it runs.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "daemon/client_tcp.h"
#include "daemon/listen.h"
#include "daemon/task.h"

struct daemon_ctx;
struct upstream;

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
	bool *tcp_down;		   /* closed for want of descriptors, to listen again */
	uv_timer_t relisten_timer; /* tries the closed TCP listeners again, every second */
	size_t nlisten;
	struct task_env tasks;		      /* the requests in flight */
	struct client_tcp_server tcp_clients; /* open client TCP connections */
	struct listen_udp udp_feed;	      /* what the UDP sockets feed */
};

/* Starts the worker's thread; 0 or a negative errno (nothing left running). */
int worker_start(struct worker *w, struct daemon_ctx *ctx, unsigned index);
/* Asks the thread to stop (async-signal-unsafe). */
void worker_stop(struct worker *w);
void worker_join(struct worker *w);
