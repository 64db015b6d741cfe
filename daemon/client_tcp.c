/*
 * tcp_conn — client TCP connections (RFC 7766): 2-byte length framing,
 * several queries per connection answered out of order as they finish
 * (pipelining), an idle timeout, a cap on connections per worker and on
 * queries in flight per connection (reading pauses at the cap: back
 * pressure instead of an unbounded queue).
 *
 * A connection is freed when both its handles are closed; tasks still
 * running for it are ended first (task_detach_conn), so no task ever writes
 * to a freed connection.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/context.h"
#include "util/log.h"

#define TCP_MAX_PIPELINE 64 /* queries in flight per connection */

struct tcp_conn {
	struct tcp_conn *prev, *next;
	struct worker *w;
	uv_tcp_t handle;
	uv_timer_t idle;
	struct sockaddr_storage peer;
	uint8_t *buf;
	size_t len, cap;
	unsigned pending;
	int handles_open;
	bool closing;
	bool reading;
};

struct tcp_write {
	uv_write_t req;
	uint8_t data[];
};

static void conn_close(struct tcp_conn *c);

static void on_conn_handle_closed(uv_handle_t *h)
{
	struct tcp_conn *c = h->data;
	if (--c->handles_open > 0)
		return;
	struct worker *w = c->w;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->nconns--;
	free(c->buf);
	free(c);
}

static void conn_close(struct tcp_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	task_detach_conn(c->w, c);
	uv_close((uv_handle_t *)&c->handle, on_conn_handle_closed);
	uv_close((uv_handle_t *)&c->idle, on_conn_handle_closed);
}

static void on_idle(uv_timer_t *timer)
{
	struct tcp_conn *c = timer->data;
	if (c->pending == 0)
		conn_close(c); /* RFC 7766 §6.2.3: idle connections are closed */
	else
		uv_timer_again(timer);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct tcp_conn *c = h->data;
	/* Room for the largest message plus its length prefix. */
	size_t want = c->len + 4096;
	if (want > 65537 + 4096)
		want = 65537 + 4096;
	if (c->cap < want) {
		uint8_t *nb = realloc(c->buf, want);
		if (!nb) {
			*buf = uv_buf_init(NULL, 0);
			return;
		}
		c->buf = nb;
		c->cap = want;
	}
	*buf = uv_buf_init((char *)c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tcp_conn *c = s->data;
	if (nread < 0) {
		conn_close(c);
		return;
	}
	if (nread == 0)
		return;
	c->len += (size_t)nread;
	uv_timer_again(&c->idle);
	size_t off = 0;
	while (!c->closing && c->len - off >= 2) {
		size_t mlen = ((size_t)c->buf[off] << 8) | c->buf[off + 1];
		if (mlen == 0) {
			conn_close(c);
			return;
		}
		if (c->len - off < 2 + mlen)
			break;
		struct task_origin origin = {.transport = TASK_TCP, .conn = c};
		task_handle_query(c->w, c->buf + off + 2, mlen, &origin,
				  (const struct sockaddr *)&c->peer);
		off += 2 + mlen;
	}
	if (off > 0 && !c->closing) {
		memmove(c->buf, c->buf + off, c->len - off);
		c->len -= off;
	}
	if (!c->closing && c->pending >= TCP_MAX_PIPELINE && c->reading) {
		uv_read_stop(s);
		c->reading = false;
	}
}

void tcp_conn_on_connection(uv_stream_t *server, int status)
{
	struct worker *w = server->data;
	if (status < 0)
		return;
	struct tcp_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->w = w;
	uv_tcp_init(&w->loop, &c->handle);
	uv_timer_init(&w->loop, &c->idle);
	c->handle.data = c;
	c->idle.data = c;
	c->handles_open = 2;
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->nconns++;
	if (uv_accept(server, (uv_stream_t *)&c->handle) != 0) {
		conn_close(c);
		return;
	}
	if (w->stopping || w->nconns > w->ctx->cfg.tcp_max_connections) {
		log_debug(LOG_DAEMON, "too many TCP connections, closing a new one");
		conn_close(c);
		return;
	}
	int plen = sizeof(c->peer);
	uv_tcp_getpeername(&c->handle, (struct sockaddr *)&c->peer, &plen);
	uv_tcp_nodelay(&c->handle, 1);
	uv_timer_start(&c->idle, on_idle, w->ctx->cfg.tcp_idle_timeout_ms,
		       w->ctx->cfg.tcp_idle_timeout_ms);
	if (uv_read_start((uv_stream_t *)&c->handle, on_alloc, on_read) != 0) {
		conn_close(c);
		return;
	}
	c->reading = true;
}

static void on_written(uv_write_t *req, int status)
{
	free(req->data);
}

void tcp_conn_send(struct tcp_conn *c, const uint8_t *msg, size_t len)
{
	if (!c || c->closing || len > 65535)
		return;
	struct tcp_write *wr = malloc(sizeof(*wr) + 2 + len);
	if (!wr)
		return;
	wr->data[0] = (uint8_t)(len >> 8);
	wr->data[1] = (uint8_t)len;
	memcpy(wr->data + 2, msg, len);
	wr->req.data = wr;
	uv_buf_t buf = uv_buf_init((char *)wr->data, (unsigned)(2 + len));
	if (uv_write(&wr->req, (uv_stream_t *)&c->handle, &buf, 1, on_written) != 0) {
		free(wr);
		conn_close(c);
	}
}

void tcp_conn_task_begin(struct tcp_conn *c)
{
	c->pending++;
}

void tcp_conn_task_done(struct tcp_conn *c)
{
	c->pending--;
	if (!c->closing && !c->reading && c->pending < TCP_MAX_PIPELINE) {
		if (uv_read_start((uv_stream_t *)&c->handle, on_alloc, on_read) == 0)
			c->reading = true;
	}
}

void tcp_conn_close_all(struct worker *w)
{
	for (struct tcp_conn *c = w->conns; c; c = c->next)
		conn_close(c);
}
