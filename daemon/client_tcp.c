/*
 * client_tcp — client TCP connections (RFC 7766): 2-byte length framing,
 * several queries per connection answered out of order as they finish
 * (pipelining), an idle timeout, a cap on connections per worker and on
 * queries in flight per connection (reading pauses at the cap: back
 * pressure instead of an unbounded queue). Each framed query goes to
 * task.c with the connection as its client (client.h); the answer comes
 * back through client_send() and leaves length-framed.
 *
 * Lifetime: a connection counts the answers it is owed (holds, which are
 * also the queries in flight of the pipelining cap). It is freed when both
 * its handles are closed and the count is zero: a task whose connection
 * closed finishes its resolution and its send is a no-op. Does not parse
 * or write DNS messages.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/client_tcp.h"
#include "daemon/client.h"
#include "daemon/task.h"
#include "dns/dns.h"
#include "util/log.h"

#define TCP_MAX_PIPELINE 64 /* queries in flight per connection */

struct client_tcp {
	struct client_tcp *prev, *next; /* the server's list, until the handles close */
	struct client_tcp_server *srv;
	uv_tcp_t handle;
	uv_timer_t idle;
	struct sockaddr_storage peer;
	uint8_t *buf; /* bytes read, not yet a whole message */
	size_t len, cap;
	unsigned holds; /* answers owed: tasks and waiters holding this connection */
	int handles_open;
	bool closing;
	bool reading;
};

struct tcp_write {
	uv_write_t req;
	uint8_t data[];
};

static void conn_close(struct client_tcp *c);
static void conn_client(struct client_tcp *c, struct client *client);

static void on_conn_handle_closed(uv_handle_t *h)
{
	struct client_tcp *c = h->data;
	if (--c->handles_open > 0)
		return;
	struct client_tcp_server *srv = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	free(c->buf);
	c->buf = NULL;
	if (c->holds == 0)
		free(c);
	/* else the last client_release() frees it */
}

static void conn_close(struct client_tcp *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->handle, on_conn_handle_closed);
	uv_close((uv_handle_t *)&c->idle, on_conn_handle_closed);
}

static void on_idle(uv_timer_t *timer)
{
	struct client_tcp *c = timer->data;
	if (c->holds == 0)
		conn_close(c); /* RFC 7766 §6.2.3: idle connections are closed */
	else
		uv_timer_again(timer);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct client_tcp *c = h->data;
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
	struct client_tcp *c = s->data;
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
		struct client client;
		conn_client(c, &client);
		task_handle_query(c->srv->tasks, c->buf + off + 2, mlen, &client);
		off += 2 + mlen;
	}
	if (off > 0 && !c->closing) {
		memmove(c->buf, c->buf + off, c->len - off);
		c->len -= off;
	}
	if (!c->closing && c->holds >= TCP_MAX_PIPELINE && c->reading) {
		uv_read_stop(s);
		c->reading = false;
	}
}

void client_tcp_server_init(struct client_tcp_server *srv, uv_loop_t *loop, struct task_env *tasks,
			    unsigned max_conns, unsigned idle_timeout_ms)
{
	memset(srv, 0, sizeof(*srv));
	srv->loop = loop;
	srv->tasks = tasks;
	srv->max_conns = max_conns;
	srv->idle_timeout_ms = idle_timeout_ms;
}

void client_tcp_on_connection(uv_stream_t *listener, int status)
{
	struct client_tcp_server *srv = listener->data;
	if (status < 0)
		return;
	struct client_tcp *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->srv = srv;
	uv_tcp_init(srv->loop, &c->handle);
	uv_timer_init(srv->loop, &c->idle);
	c->handle.data = c;
	c->idle.data = c;
	c->handles_open = 2;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	if (uv_accept(listener, (uv_stream_t *)&c->handle) != 0) {
		conn_close(c);
		return;
	}
	if (srv->stopping || srv->nconns > srv->max_conns) {
		log_debug(LOG_DAEMON, "too many TCP connections, closing a new one");
		conn_close(c);
		return;
	}
	int plen = sizeof(c->peer);
	uv_tcp_getpeername(&c->handle, (struct sockaddr *)&c->peer, &plen);
	uv_tcp_nodelay(&c->handle, 1);
	uv_timer_start(&c->idle, on_idle, srv->idle_timeout_ms, srv->idle_timeout_ms);
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

/* Sends a framed answer; nothing once the connection is closing. */
static void tcp_send(const struct client *client, const uint8_t *msg, size_t len)
{
	struct client_tcp *c = client->handle;
	if (c->closing || len > DNS_MSG_MAX)
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

static uint16_t tcp_size_limit(const struct client *client, const struct dns_query_view *q)
{
	return DNS_MSG_MAX; /* RFC 7766 §8: the 2-byte length is the only limit */
}

static void tcp_hold(const struct client *client)
{
	struct client_tcp *c = client->handle;
	c->holds++;
}

static void tcp_release(const struct client *client)
{
	struct client_tcp *c = client->handle;
	c->holds--;
	if (c->closing) {
		if (c->holds == 0 && c->handles_open == 0)
			free(c);
		return;
	}
	/* Below the pipelining cap again: take more queries. */
	if (!c->reading && c->holds < TCP_MAX_PIPELINE) {
		if (uv_read_start((uv_stream_t *)&c->handle, on_alloc, on_read) == 0)
			c->reading = true;
	}
}

static const struct client_ops tcp_ops = {
	.send = tcp_send,
	.size_limit = tcp_size_limit,
	.hold = tcp_hold,
	.release = tcp_release,
};

static void conn_client(struct client_tcp *c, struct client *client)
{
	client->ops = &tcp_ops;
	client->handle = c;
	client->peer = c->peer;
	client->max_size = DNS_MSG_MAX;
}

void client_tcp_close_all(struct client_tcp_server *srv)
{
	srv->stopping = true;
	for (struct client_tcp *c = srv->conns; c; c = c->next)
		conn_close(c);
}
