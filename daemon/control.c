/*
 * control — the control socket: a unix stream socket on the main thread's
 * loop with a line protocol. A client sends one command line and gets text
 * back, then the connection closes. `holdfast-ctl` is the client.
 *
 *	stats     counters: requests, serve-stale, failures, the empty-answer
 *	          guard, the cache, upstream (retries, hedges, breakers, limits)
 *	upstream  per (server, zone): provider, RTT, breaker state, in flight
 *	flush     empties the cache
 *	help      the command list
 *
 * Reads only thread-safe state (atomics, the shared tables); holds no lock
 * a worker could wait on.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/context.h"
#include "daemon/control.h"
#include "cache/cache.h"
#include "util/log.h"
#include "util/sockaddr.h"

#define CONTROL_LINE_MAX 256

struct control_client {
	uv_pipe_t pipe;
	struct daemon_ctx *ctx;
	char line[CONTROL_LINE_MAX];
	size_t len;
	bool done;
};

/* A growing text buffer for one response. */
struct text {
	char *buf;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void text_add(struct text *t, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = t->cap - t->len;
		int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (t->buf && (size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = (t->cap ? t->cap * 2 : 4096) + (size_t)n;
		char *nb = realloc(t->buf, cap);
		if (!nb)
			return;
		t->buf = nb;
		t->cap = cap;
	}
}

struct counter {
	const char *name;
	uint64_t value;
};

static void add_counters(struct text *out, const struct counter *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		text_add(out, "%s: %llu\n", c[i].name, (unsigned long long)c[i].value);
}

static void cmd_stats(struct daemon_ctx *ctx, struct text *out)
{
	const struct resolver_stats *s = &ctx->stats;
	struct cache_stats cs;
	struct upstream_counters uc;
	cache_get_stats(ctx->cache, &cs);
	upstream_servers_counters(ctx->servers, &uc);
#define RS(field) atomic_load_explicit(&s->field, memory_order_relaxed)
	const struct counter counters[] = {
		{"requests", RS(requests)},
		{"stale.answers", RS(stale_answers)},
		{"failures", RS(failures)},
		{"failures.cached", RS(failures_cached)},
		{"guard.cross_checks", RS(guard_cross_checks)},
		{"guard.rescued", RS(guard_rescued)},
		{"guard.holds", RS(guard_holds)},
		{"guard.accepts", RS(guard_accepts)},
		{"scrubbed", RS(scrubbed)},
		{"cache.entries", cs.entries},
		{"cache.bytes", cs.bytes},
		{"cache.lookups", cs.lookups},
		{"cache.hits_fresh", cs.hits_fresh},
		{"cache.hits_stale", cs.hits_stale},
		{"cache.misses", cs.misses},
		{"cache.stores", cs.stores},
		{"cache.evictions", cs.evictions},
		{"upstream.queries", uc.queries},
		{"upstream.retries", uc.retries},
		{"upstream.hedges", uc.hedges},
		{"upstream.timeouts", uc.timeouts},
		{"upstream.breaker_opens", uc.breaker_opens},
		{"upstream.breaker_closes", uc.breaker_closes},
		{"upstream.refused_breaker", uc.refused_breaker},
		{"upstream.refused_budget", uc.refused_budget},
		{"upstream.refused_inflight", uc.refused_inflight},
	};
#undef RS
	add_counters(out, counters, sizeof(counters) / sizeof(counters[0]));
}

static void health_line(void *arg, const struct upstream_health_info *h)
{
	struct text *out = arg;
	static const char *const state[] = {
		[UPSTREAM_BREAKER_CLOSED] = "closed",
		[UPSTREAM_BREAKER_OPEN] = "open",
		[UPSTREAM_BREAKER_HALF_OPEN] = "half-open",
	};
	char addr[UTIL_SOCKADDR_STRLEN];
	text_add(out, "%s zone=%s provider=%s srtt=%ums rto=%ums failures=%u breaker=%s",
		 util_sockaddr_str((const struct sockaddr *)&h->addr, addr, sizeof(addr)), h->zone,
		 h->provider[0] ? h->provider : "-", h->srtt_ms, h->rto_ms, h->failures,
		 state[h->breaker]);
	if (h->breaker == UPSTREAM_BREAKER_OPEN)
		text_add(out, " probe_in=%ums", h->cooldown_left_ms);
	text_add(out, " inflight=%u\n", h->inflight);
}

static void run_command(struct daemon_ctx *ctx, const char *cmd, struct text *out)
{
	if (strcmp(cmd, "stats") == 0) {
		cmd_stats(ctx, out);
	} else if (strcmp(cmd, "upstream") == 0) {
		upstream_servers_health(ctx->servers, health_line, out);
	} else if (strcmp(cmd, "flush") == 0) {
		cache_flush(ctx->cache);
		text_add(out, "ok\n");
	} else if (strcmp(cmd, "help") == 0) {
		text_add(out, "commands: stats, upstream, flush, help\n");
	} else {
		text_add(out, "error: unknown command '%s' (try: help)\n", cmd);
	}
}

static void on_client_closed(uv_handle_t *h)
{
	free(h->data);
}

static void on_written(uv_write_t *req, int status)
{
	struct control_client *c = req->handle->data;
	free(req->data);
	free(req);
	uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct control_client *c = h->data;
	*buf = uv_buf_init(c->line + c->len, (unsigned)(sizeof(c->line) - 1 - c->len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct control_client *c = s->data;
	if (c->done)
		return;
	if (nread < 0 || (nread == 0 && c->len >= sizeof(c->line) - 1)) {
		c->done = true;
		uv_close((uv_handle_t *)&c->pipe, on_client_closed);
		return;
	}
	c->len += (size_t)nread;
	c->line[c->len] = '\0';
	char *nl = strchr(c->line, '\n');
	if (!nl && c->len < sizeof(c->line) - 1)
		return;
	if (nl)
		*nl = '\0';
	size_t l = strlen(c->line);
	while (l > 0 && (c->line[l - 1] == '\r' || c->line[l - 1] == ' '))
		c->line[--l] = '\0';
	c->done = true;
	uv_read_stop(s);

	struct text out = {0};
	run_command(c->ctx, c->line, &out);
	uv_write_t *wr = malloc(sizeof(*wr));
	if (!wr || !out.buf) {
		free(wr);
		free(out.buf);
		uv_close((uv_handle_t *)&c->pipe, on_client_closed);
		return;
	}
	wr->data = out.buf;
	uv_buf_t b = uv_buf_init(out.buf, (unsigned)out.len);
	if (uv_write(wr, s, &b, 1, on_written) != 0) {
		free(out.buf);
		free(wr);
		uv_close((uv_handle_t *)&c->pipe, on_client_closed);
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	struct daemon_ctx *ctx = server->data;
	if (status < 0)
		return;
	struct control_client *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->ctx = ctx;
	uv_pipe_init(server->loop, &c->pipe, 0);
	c->pipe.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0 ||
	    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) != 0)
		uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static bool socket_is_live(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path))
		return false;
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool live = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return live;
}

int control_start(struct control *ctl, uv_loop_t *loop, struct daemon_ctx *ctx, const char *path)
{
	memset(ctl, 0, sizeof(*ctl));
	if (!path || !path[0])
		return 0;
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	/* A socket left behind by a previous run that nobody listens on is
	 * removed; one a live holdfast answers on is left alone. */
	struct stat st;
	if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		if (socket_is_live(path)) {
			log_warn(LOG_DAEMON,
				 "control socket %s is in use by another process; running without "
				 "one",
				 path);
			return -EADDRINUSE;
		}
		unlink(path);
	}
	int r = uv_pipe_init(loop, &ctl->server, 0);
	if (r != 0)
		return r;
	ctl->server.data = ctx;
	ctl->open = true;
	mode_t old = umask(0077); /* the socket can flush the cache: owner only */
	r = uv_pipe_bind(&ctl->server, path);
	umask(old);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&ctl->server, 16, on_connection);
	if (r != 0) {
		log_warn(LOG_DAEMON, "control socket %s: %s (holdfast-ctl will not work)", path,
			 uv_strerror(r));
		return r;
	}
	ctl->bound = true;
	log_info(LOG_DAEMON, "control socket on %s", path);
	return 0;
}

void control_stop(struct control *ctl)
{
	if (ctl->open && !uv_is_closing((uv_handle_t *)&ctl->server))
		uv_close((uv_handle_t *)&ctl->server, NULL);
	if (ctl->bound)
		unlink(ctl->path);
	ctl->open = ctl->bound = false;
}
