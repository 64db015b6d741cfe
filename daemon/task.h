/*
 * task — one client question on its worker, from the bytes received to the
 * answer handed back to the client: what needs no resolution, the answer
 * cache fast path, coalescing, driving the resolver through upstream/, the
 * stale-answer client timer.
 *
 * `struct task_env` is the request layer of one worker: its loop, the
 * shared context, its upstream context, the tasks in flight and the
 * coalescing table. The worker owns it; everything here runs on the
 * worker's thread. A task holds its client (client.h) until it is freed,
 * so a TCP connection that closes meanwhile stays allocated and the task
 * simply finishes: its resolution still fills the cache, its answer goes
 * nowhere.
 *
 * Upstream seam: task.c calls only upstream_query_start() and
 * upstream_query_cancel(); a unit test links its own definitions of those
 * two and plays the network by calling their callbacks.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "daemon/coalesce.h"
#include "daemon/reply.h"

/* EXTRA-TEXT of the EDE 0 on answers shed at num-queries-per-thread. */
#define TASK_SHED_TEXT "overloaded: num-queries-per-thread reached"

struct client;
struct daemon_ctx;
struct task;
struct upstream;

struct task_env {
	uv_loop_t *loop;
	struct daemon_ctx *ctx;		/* borrowed, read-only */
	struct upstream *upstream;	/* borrowed: upstream_query_start() target */
	struct task *tasks;		/* in flight, doubly linked, newest first */
	struct task *oldest;		/* the list's tail */
	unsigned ntasks;		/* at most num-queries-per-thread */
	struct coalesce_table inflight; /* tasks waiting on the network, by question */
	bool stopping;			/* shutting down: no new resolutions */
	struct reply_buf buf;		/* answer scratch */
};

/* Prepares `env` (draws the coalescing hash key); allocates nothing. */
void task_env_init(struct task_env *env, uv_loop_t *loop, struct daemon_ctx *ctx,
		   struct upstream *upstream);
/* Ends every task without answering (shutdown), frees the coalescing table
 * and refuses new resolutions. Cancels their upstream queries: call it
 * before the upstream context is destroyed. */
void task_env_stop(struct task_env *env);

/* Handles one query message from `client` (borrowed; held if a task keeps
 * it): answers at once or starts a resolution. With num-queries-per-thread
 * resolutions in flight, the oldest is ended if it has waited more than
 * jostle-timeout (its clients get stale data, else SERVFAIL), else the new
 * query is shed: answered SERVFAIL at once. Shed answers carry EDE 0 with
 * TASK_SHED_TEXT; both are counted (requests.jostled, requests.shed). */
void task_handle_query(struct task_env *env, const uint8_t *msg, size_t len,
		       const struct client *client);
