/*
 * worker — one thread, one libuv loop, its own listening sockets, upstream
 * context and request layer: wires them together at start and takes them
 * down in order at stop. Reports RCU quiescent states to the cache once per loop
 * iteration (and at least every RCU_TICK_MS while idle) so replaced cache
 * entries can be reclaimed. Stopped from main() through a uv_async. Handles
 * no queries itself.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/worker.h"
#include "daemon/context.h"
#include "cache/cache.h"
#include "util/log.h"
#include "util/sockaddr.h"

#define RCU_TICK_MS 100
/* A TCP listener closed for want of descriptors is opened again after this. */
#define RELISTEN_MS 1000

static void on_rcu_prepare(uv_prepare_t *h)
{
	cache_thread_quiescent();
}

static void on_rcu_tick(uv_timer_t *t)
{
	/* Nothing to do: waking the loop runs on_rcu_prepare. */
}

static void close_walk(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Closes a listener's handle if it was ever initialised and is not
 * closing yet. The arrays are calloc()ed: a handle whose socket could not
 * even be opened (bind failed: address not available, port in use, no
 * permission) is still all zero, UV_UNKNOWN_HANDLE, and uv_close() on it
 * would abort. */
static void close_listener(uv_handle_t *h)
{
	if (uv_handle_get_type(h) != UV_UNKNOWN_HANDLE && !uv_is_closing(h))
		uv_close(h, NULL);
}

static void on_stop(uv_async_t *a)
{
	struct worker *w = a->data;
	/* Tasks first: they cancel their upstream queries, which must happen
	 * before the upstream context goes. */
	task_env_stop(&w->tasks);
	client_tcp_close_all(&w->tcp_clients);
	client_tcp_server_deinit(&w->tcp_clients);
	upstream_destroy(w->upstream);
	w->upstream = NULL;
	for (size_t i = 0; i < w->nlisten; i++) {
		close_listener((uv_handle_t *)&w->udp[i]);
		close_listener((uv_handle_t *)&w->tcp[i]);
	}
	uv_close((uv_handle_t *)&w->stop_async, NULL);
	uv_close((uv_handle_t *)&w->rcu_prepare, NULL);
	uv_close((uv_handle_t *)&w->rcu_timer, NULL);
	if (!uv_is_closing((uv_handle_t *)&w->relisten_timer))
		uv_close((uv_handle_t *)&w->relisten_timer, NULL);
}

/* Opens the TCP listeners closed by on_listener_lost() again; the timer
 * stops once every one is back. */
static void on_relisten(uv_timer_t *t)
{
	struct worker *w = t->data;
	bool down = false;
	for (size_t i = 0; i < w->nlisten; i++) {
		if (!w->tcp_down[i])
			continue;
		const struct sockaddr_storage *addr = &w->ctx->cfg.listen[i].addr;
		int r = listen_tcp_open(&w->loop, addr, &w->tcp[i], &w->tcp_clients);
		if (r != 0) {
			/* Initialised but not listening: closed, tried again. */
			close_listener((uv_handle_t *)&w->tcp[i]);
			down = true;
			continue;
		}
		w->tcp_down[i] = false;
		char str[UTIL_SOCKADDR_STRLEN];
		log_warn(LOG_DAEMON, "listening on TCP %s again",
			 util_sockaddr_str((const struct sockaddr *)addr, str, sizeof(str)));
	}
	if (!down)
		uv_timer_stop(t);
}

/* client_tcp.c could not free a descriptor for accept(): libuv would retry
 * without end, so the listener is closed (its waiting connections are
 * reset; the other workers' listeners on the address go on) and opened
 * again in RELISTEN_MS. */
static void on_listener_lost(void *arg, uv_stream_t *listener)
{
	struct worker *w = arg;
	for (size_t i = 0; i < w->nlisten; i++) {
		if ((uv_stream_t *)&w->tcp[i] != listener || w->tcp_down[i])
			continue;
		char str[UTIL_SOCKADDR_STRLEN];
		log_warn(LOG_DAEMON, "out of descriptors: TCP listener %s closed for %u ms",
			 util_sockaddr_str((const struct sockaddr *)&w->ctx->cfg.listen[i].addr,
					   str, sizeof(str)),
			 RELISTEN_MS);
		uv_close((uv_handle_t *)listener, NULL);
		w->tcp_down[i] = true;
		if (!uv_is_active((uv_handle_t *)&w->relisten_timer))
			uv_timer_start(&w->relisten_timer, on_relisten, RELISTEN_MS, RELISTEN_MS);
	}
}

static int open_listeners(struct worker *w)
{
	const struct config *cfg = &w->ctx->cfg;
	w->nlisten = cfg->nlisten;
	w->udp = calloc(w->nlisten, sizeof(*w->udp));
	w->tcp = calloc(w->nlisten, sizeof(*w->tcp));
	w->tcp_down = calloc(w->nlisten, sizeof(*w->tcp_down));
	if (!w->udp || !w->tcp || !w->tcp_down)
		return UV_ENOMEM;
	for (size_t i = 0; i < w->nlisten; i++) {
		const struct sockaddr_storage *addr = &cfg->listen[i].addr;
		int r = listen_udp_open(&w->loop, addr, &w->udp[i], &w->udp_feed);
		if (r == 0)
			r = listen_tcp_open(&w->loop, addr, &w->tcp[i], &w->tcp_clients);
		if (r != 0) {
			char str[UTIL_SOCKADDR_STRLEN];
			log_err(LOG_DAEMON, "cannot listen on %s: %s",
				util_sockaddr_str((const struct sockaddr *)addr, str, sizeof(str)),
				uv_strerror(r));
			w->nlisten = i + 1; /* on_stop() closes those initialised */
			return r;
		}
	}
	return 0;
}

static void worker_main(void *arg)
{
	struct worker *w = arg;
	cache_thread_register();
	uv_run(&w->loop, UV_RUN_DEFAULT);
	/* Close whatever a failed start left open, then drain the closes. */
	uv_walk(&w->loop, close_walk, NULL);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	cache_thread_unregister();
}

int worker_start(struct worker *w, struct daemon_ctx *ctx, unsigned index)
{
	w->index = index;
	w->ctx = ctx;
	int r = uv_loop_init(&w->loop);
	if (r != 0)
		return r;
	uv_async_init(&w->loop, &w->stop_async, on_stop);
	w->stop_async.data = w;
	uv_prepare_init(&w->loop, &w->rcu_prepare);
	uv_prepare_start(&w->rcu_prepare, on_rcu_prepare);
	uv_timer_init(&w->loop, &w->rcu_timer);
	uv_timer_start(&w->rcu_timer, on_rcu_tick, RCU_TICK_MS, RCU_TICK_MS);
	uv_unref((uv_handle_t *)&w->rcu_timer);
	uv_timer_init(&w->loop, &w->relisten_timer);
	w->relisten_timer.data = w;
	w->upstream = upstream_create(&w->loop, &ctx->upstream_opts, ctx->servers);
	if (!w->upstream)
		r = UV_ENOMEM;
	task_env_init(&w->tasks, &w->loop, ctx, w->upstream);
	struct client_tcp_opts tcp_opts = {
		.max_conns = ctx->cfg.tcp_max_connections,
		.max_conns_per_addr = ctx->cfg.tcp_per_address,
		.addrs = ctx->tcp_addrs,
		.listener_lost = on_listener_lost,
		.listener_lost_arg = w,
		.idle_timeout_ms = ctx->cfg.tcp_idle_timeout_ms,
		.acl = &ctx->cfg,
		.stats = &ctx->stats,
	};
	client_tcp_server_init(&w->tcp_clients, &w->loop, &w->tasks, &tcp_opts);
	w->udp_feed.tasks = &w->tasks;
	w->udp_feed.max_udp_size = ctx->max_udp_size;
	w->udp_feed.so_rcvbuf = ctx->cfg.so_rcvbuf;
	w->udp_feed.so_sndbuf = ctx->cfg.so_sndbuf;
	if (r == 0)
		r = open_listeners(w);
	if (r != 0) {
		/* Not started: tear down on this thread, synchronously. */
		on_stop(&w->stop_async);
		uv_walk(&w->loop, close_walk, NULL);
		uv_run(&w->loop, UV_RUN_DEFAULT);
		uv_loop_close(&w->loop);
		free(w->udp);
		free(w->tcp);
		free(w->tcp_down);
		return r;
	}
	r = uv_thread_create(&w->thread, worker_main, w);
	if (r != 0) {
		on_stop(&w->stop_async);
		uv_run(&w->loop, UV_RUN_DEFAULT);
		uv_loop_close(&w->loop);
		free(w->udp);
		free(w->tcp);
		free(w->tcp_down);
	}
	return r;
}

void worker_stop(struct worker *w)
{
	uv_async_send(&w->stop_async);
}

void worker_join(struct worker *w)
{
	uv_thread_join(&w->thread);
	uv_loop_close(&w->loop);
	free(w->udp);
	free(w->tcp);
	free(w->tcp_down);
}
