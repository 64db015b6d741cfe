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
 * What a client may spend is bounded (control.h): one line of at most
 * CONTROL_LINE_MAX bytes, CONTROL_CLIENT_TIMEOUT_MS from connect to close,
 * CONTROL_CLIENTS_MAX clients at once; each limit hit is counted (`stats`,
 * control.*) and logged at debug. The line reader is a pure function
 * (control_parse_line(), fuzzed by fuzz/fuzz_control_line.c).
 *
 * Reads only thread-safe state (atomics, the shared tables); holds no lock
 * a worker could wait on. The one cache walk (flush) runs with the main
 * thread online for RCU (control.h).
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

#include "daemon/client_udp.h"
#include "daemon/context.h"
#include "daemon/control.h"
#include "cache/cache.h"
#include "util/log.h"
#include "util/sockaddr.h"

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
	uint64_t udp_reads, udp_datagrams;
	client_udp_read_counts(&udp_reads, &udp_datagrams);
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
		{"replies_oversized", RS(replies_oversized)},
		{"ns_fetches_capped", RS(ns_fetches_capped)},
		{"requests.refused_nonrecursive", RS(refused_nonrecursive)},
		{"tcp.refused_max_connections", RS(tcp_refused_max_conns)},
		{"tcp.refused_per_address", RS(tcp_refused_per_addr)},
		{"tcp.denied", RS(tcp_denied)},
		{"tcp.pipeline_pauses", RS(tcp_pipeline_pauses)},
		{"tcp.write_pauses", RS(tcp_write_pauses)},
		{"tcp.write_stall_closes", RS(tcp_write_stall_closes)},
		{"tcp.partial_timeouts", RS(tcp_partial_timeouts)},
		{"tcp.fd_exhausted", RS(tcp_fd_exhausted)},
		{"udp.send_drops", client_udp_send_drops()},
		{"udp.reads", udp_reads},
		{"udp.datagrams", udp_datagrams},
		{"requests.jostled", RS(tasks_jostled)},
		{"requests.shed", RS(tasks_dropped)},
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
		{"upstream.caps_mismatches", uc.caps_mismatches},
		{"upstream.caps_fallbacks", uc.caps_fallbacks},
		{"upstream.unwanted", uc.unwanted},
		{"upstream.unwanted_tcp_switches", uc.unwanted_tcp_switches},
		{"upstream.unwanted_tcp_queries", uc.unwanted_tcp_queries},
		{"upstream.refused_client_inflight", uc.refused_client_inflight},
		{"upstream.refused_client_budget", uc.refused_client_budget},
		{"upstream.outgoing_range_full", uc.outgoing_range_full},
		{"upstream.fd_exhausted", uc.fd_exhausted},
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
	text_add(out, " inflight=%u unwanted=%u", h->inflight, h->unwanted);
	if (h->tcp_left_ms > 0)
		text_add(out, " tcp_for=%ums", h->tcp_left_ms);
	text_add(out, " caps=%s\n", h->no_caps ? "off" : "on");
}

int control_parse_line(const char *buf, size_t len, struct control_line *out)
{
	static const struct {
		const char *name;
		enum control_cmd cmd;
	} cmds[] = {
		{"stats", CONTROL_CMD_STATS},
		{"upstream", CONTROL_CMD_UPSTREAM},
		{"flush", CONTROL_CMD_FLUSH},
		{"help", CONTROL_CMD_HELP},
	};
	size_t scan = len < CONTROL_LINE_MAX ? len : CONTROL_LINE_MAX;
	const char *nl = memchr(buf, '\n', scan);

	if (!nl)
		return len >= CONTROL_LINE_MAX ? -EMSGSIZE : 0;
	size_t l = (size_t)(nl - buf);
	while (l > 0 && (buf[l - 1] == '\r' || buf[l - 1] == ' '))
		l--;
	/* l < CONTROL_LINE_MAX: the newline is within the first CONTROL_LINE_MAX bytes */
	for (size_t i = 0; i < l; i++) {
		unsigned char ch = (unsigned char)buf[i];

		out->word[i] = '?';
		if (ch >= 0x20 && ch < 0x7f)
			out->word[i] = buf[i];
	}
	out->word[l] = '\0';
	out->consumed = (size_t)(nl - buf) + 1;
	out->cmd = CONTROL_CMD_UNKNOWN;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		/* memcmp on the raw bytes: a NUL inside the line is no match */
		if (strlen(cmds[i].name) == l && memcmp(buf, cmds[i].name, l) == 0)
			out->cmd = cmds[i].cmd;
	}
	return 1;
}

/*
 * Empties the cache from the main thread. main.c keeps this thread
 * registered but offline while its loop waits, and the workers' grace
 * periods do not wait for an offline QSBR thread: a walk of the tables
 * from it could read entries a worker has replaced and call_rcu() has
 * freed (a use-after-free under load). Online for the walk, then offline
 * again, which is also its quiescent state.
 */
static void cmd_flush(struct daemon_ctx *ctx)
{
	cache_thread_online();
	cache_flush(ctx->cache);
	cache_thread_offline();
}

char *control_respond(struct control *ctl, const struct control_line *line, size_t *len)
{
	struct daemon_ctx *ctx = ctl->ctx;
	struct text out = {0};

	switch (line->cmd) {
	case CONTROL_CMD_STATS:
		cmd_stats(ctx, &out);
		text_add(&out,
			 "control.refused: %llu\ncontrol.timeouts: %llu\n"
			 "control.too_long: %llu\n",
			 (unsigned long long)ctl->refused, (unsigned long long)ctl->timeouts,
			 (unsigned long long)ctl->too_long);
		break;
	case CONTROL_CMD_UPSTREAM:
		upstream_servers_health(ctx->servers, health_line, &out);
		break;
	case CONTROL_CMD_FLUSH:
		cmd_flush(ctx);
		text_add(&out, "ok\n");
		break;
	case CONTROL_CMD_HELP:
		text_add(&out, "commands: stats, upstream, flush, help\n");
		break;
	case CONTROL_CMD_UNKNOWN:
	default:
		text_add(&out, "error: unknown command '%s' (try: help)\n", line->word);
		break;
	}
	if (!out.buf)
		text_add(&out, "%s", ""); /* e.g. no servers yet: an empty answer */
	*len = out.len;
	return out.buf;
}

struct control_client {
	uv_pipe_t pipe;
	uv_timer_t timer;
	uv_write_t wr;
	struct control *ctl;
	struct control_client *next, **prevp; /* in ctl->clients */
	char *out;			      /* the answer being written */
	char buf[CONTROL_LINE_MAX];
	size_t len;
	unsigned open_handles; /* freed when both pipe and timer are closed */
	bool closing, answered;
};

static void on_client_handle_closed(uv_handle_t *h)
{
	struct control_client *c = h->data;

	if (--c->open_handles > 0)
		return;
	free(c->out);
	free(c);
}

/* Idempotent; the client leaves the list and its slot frees at once. */
static void client_close(struct control_client *c)
{
	struct control *ctl = c->ctl;

	if (c->closing)
		return;
	c->closing = true;
	*c->prevp = c->next;
	if (c->next)
		c->next->prevp = c->prevp;
	ctl->nclients--;
	ctl->refusing = false;
	uv_close((uv_handle_t *)&c->pipe, on_client_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_client_handle_closed);
}

static void on_timeout(uv_timer_t *t)
{
	struct control_client *c = t->data;

	c->ctl->timeouts++;
	log_debug(LOG_DAEMON, "control client closed after %u ms without a whole exchange",
		  (unsigned)CONTROL_CLIENT_TIMEOUT_MS);
	client_close(c);
}

static void on_written(uv_write_t *req, int status)
{
	client_close(req->data);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct control_client *c = h->data;

	*buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

static void client_answer(struct control_client *c, char *text, size_t len)
{
	c->answered = true;
	uv_read_stop((uv_stream_t *)&c->pipe);
	c->out = text;
	c->wr.data = c;
	uv_buf_t b = uv_buf_init(text, (unsigned)len);
	if (!text || uv_write(&c->wr, (uv_stream_t *)&c->pipe, &b, 1, on_written) != 0)
		client_close(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct control_client *c = s->data;
	struct control_line line;

	if (c->closing || c->answered)
		return;
	if (nread < 0) {
		client_close(c);
		return;
	}
	c->len += (size_t)nread;
	int r = control_parse_line(c->buf, c->len, &line);
	if (r == 0)
		return;
	if (r < 0) {
		c->ctl->too_long++;
		log_debug(LOG_DAEMON, "control client sent a line over %u bytes",
			  (unsigned)CONTROL_LINE_MAX);
		struct text t = {0};
		text_add(&t, "error: command line longer than %u bytes\n",
			 (unsigned)CONTROL_LINE_MAX - 1);
		client_answer(c, t.buf, t.len);
		return;
	}
	size_t len;
	char *text = control_respond(c->ctl, &line, &len);
	client_answer(c, text, len);
}

static void on_refused_closed(uv_handle_t *h)
{
	free(h);
}

/* Accepts and closes at once: a pending connection left unaccepted would
 * stall the listening socket. */
static void refuse(uv_stream_t *server, struct control *ctl)
{
	uv_pipe_t *p = malloc(sizeof(*p));

	ctl->refused++;
	if (!ctl->refusing) {
		ctl->refusing = true;
		log_debug(LOG_DAEMON, "control socket: %u clients already, closing new connections",
			  (unsigned)CONTROL_CLIENTS_MAX);
	}
	if (!p)
		return;
	uv_pipe_init(server->loop, p, 0);
	uv_accept(server, (uv_stream_t *)p);
	uv_close((uv_handle_t *)p, on_refused_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct control *ctl = server->data;

	if (status < 0)
		return;
	if (ctl->nclients >= CONTROL_CLIENTS_MAX) {
		refuse(server, ctl);
		return;
	}
	struct control_client *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->ctl = ctl;
	uv_pipe_init(server->loop, &c->pipe, 0);
	uv_timer_init(server->loop, &c->timer);
	c->pipe.data = c->timer.data = c;
	c->open_handles = 2;
	c->next = ctl->clients;
	if (c->next)
		c->next->prevp = &c->next;
	c->prevp = &ctl->clients;
	ctl->clients = c;
	ctl->nclients++;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0 ||
	    uv_timer_start(&c->timer, on_timeout, CONTROL_CLIENT_TIMEOUT_MS, 0) != 0 ||
	    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) != 0)
		client_close(c);
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
	ctl->ctx = ctx;
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
	ctl->server.data = ctl;
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
	while (ctl->clients)
		client_close(ctl->clients);
	if (ctl->open && !uv_is_closing((uv_handle_t *)&ctl->server))
		uv_close((uv_handle_t *)&ctl->server, NULL);
	if (ctl->bound)
		unlink(ctl->path);
	ctl->open = ctl->bound = false;
}
