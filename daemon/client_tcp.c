/*
 * client_tcp — client TCP connections (RFC 7766): 2-byte length framing,
 * several queries per connection answered out of order as they finish
 * (pipelining), and what one connection may spend: an idle timeout counted
 * from the last whole message (partial bytes do not extend it), a deadline
 * for a message left incomplete (slowloris), caps on connections per worker
 * (incoming-num-tcp) and per source address for the whole process (a shared
 * table of counters, keyed SipHash), the ACL applied at accept (deny closes
 * at once),
 * a cap on queries in flight and one on answer bytes queued (reading pauses
 * at either: back pressure instead of an unbounded queue; a queue that stays
 * full past the idle timeout closes the connection). Each framed query goes
 * to task.c with the connection as its client (client.h); the answer comes
 * back through client_send() and leaves length-framed.
 *
 * Out of descriptors at accept (EMFILE, ENFILE): libuv first frees its own
 * reserve descriptor and sheds the waiting connections silently; when that
 * does not help, the listen callback sees the error, and this file frees
 * its own reserve, sheds the next connection (counted, a warning at most
 * once a second) and takes the reserve back; when even that fails, the
 * listener is handed to its owner to close and reopen later (libuv would
 * otherwise retry accept() without end and the worker's UDP would starve).
 *
 * Lifetime: a connection counts the answers it is owed (holds). It is freed
 * when both its handles are closed and the count is zero: a task whose
 * connection closed finishes its resolution and its send is a no-op. Does
 * not parse or write DNS messages (an ACL refuse is answered REFUSED by
 * task.c, query by query).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/client_tcp.h"
#include "daemon/client.h"
#include "daemon/config.h"
#include "daemon/task.h"
#include "daemon/tcp_framing.h"
#include "dns/dns.h"
#include "resolver/resolver.h"
#include "util/assert.h"
#include "util/log.h"
#include "util/siphash.h"
#include "util/sockaddr.h"

struct client_tcp {
	struct client_tcp *prev, *next; /* the server's list, until the handles close */
	struct client_tcp_server *srv;
	uv_tcp_t handle;
	uv_timer_t idle; /* ticks every tcp-idle-timeout; restarted by each whole message */
	struct sockaddr_storage peer;
	unsigned addr_slot; /* its unit in the per-address table, when addr_counted */
	bool addr_counted;
	uint8_t *buf; /* bytes read, not yet handed on (a partial message, or whole
			 ones waiting while reading is paused) */
	size_t len, cap;
	unsigned holds;		 /* answers owed: tasks and waiters holding this connection */
	unsigned writes;	 /* answers handed to uv_write, not yet completed */
	uint64_t partial_since;	 /* uv_now when the incomplete message at buf began */
	uint64_t write_progress; /* uv_now when an answer last left, or the queue began */
	int handles_open;
	bool closing;
	bool reading;
	bool partial; /* buf starts with an incomplete message we wait for */
	bool queued;  /* libuv holds answer bytes the kernel has not taken */
	bool stalled; /* write queue over CLIENT_TCP_MAX_WRITE_QUEUE */
	bool framing; /* inside conn_frame(): a release must not re-enter it */
};

struct tcp_write {
	uv_write_t req;
	uint8_t data[];
};

#define STAT_ADD(srv, field)                                                                       \
	do {                                                                                       \
		if ((srv)->opts.stats)                                                             \
			atomic_fetch_add_explicit(&(srv)->opts.stats->field, 1,                    \
						  memory_order_relaxed);                           \
	} while (0)

static void conn_close(struct client_tcp *c);
static void conn_client(struct client_tcp *c, struct client *client);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

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
	if (c->addr_counted) {
		/* uv_close() closes the descriptor now: the slot is free now. */
		client_tcp_addrs_put(c->srv->opts.addrs, c->addr_slot);
		c->addr_counted = false;
	}
	uv_close((uv_handle_t *)&c->handle, on_conn_handle_closed);
	uv_close((uv_handle_t *)&c->idle, on_conn_handle_closed);
}

static size_t conn_write_queue(const struct client_tcp *c)
{
	return uv_stream_get_write_queue_size((const uv_stream_t *)&c->handle);
}

/* Notes whether answers wait in libuv's queue (since when, or since the
 * last one left: `progress`) and when the queue goes over its cap. */
static void conn_note_write_queue(struct client_tcp *c, bool progress)
{
	size_t queued = conn_write_queue(c);
	if (progress || (queued > 0 && !c->queued))
		c->write_progress = uv_now(c->srv->loop);
	c->queued = queued > 0;
	bool over = queued > CLIENT_TCP_MAX_WRITE_QUEUE;
	if (over && !c->stalled) {
		/* No more queries are read until it drains (conn_pause_reason). */
		STAT_ADD(c->srv, tcp_write_pauses);
		log_debug(LOG_DAEMON, "TCP client's answers queue up, reading paused");
	}
	c->stalled = over;
}

/* Why this connection must not take another query now, or NULL. */
static const char *conn_pause_reason(const struct client_tcp *c)
{
	if (conn_write_queue(c) > CLIENT_TCP_MAX_WRITE_QUEUE)
		return "write queue";
	if (c->holds + c->writes >= CLIENT_TCP_MAX_PIPELINE)
		return "pipeline";
	return NULL;
}

/* Reads while below both caps, pauses at either (the bytes wait in the
 * kernel's socket buffer). */
static void conn_update_reading(struct client_tcp *c)
{
	if (c->closing)
		return;
	const char *why = conn_pause_reason(c);
	if (why && c->reading) {
		uv_read_stop((uv_stream_t *)&c->handle);
		c->reading = false;
		/* The write queue counts and logs in conn_note_write_queue(). */
		if (why[0] != 'w') {
			STAT_ADD(c->srv, tcp_pipeline_pauses);
			log_debug(LOG_DAEMON, "TCP client at its pipelining cap, reading paused");
		}
	} else if (!why && !c->reading) {
		if (uv_read_start((uv_stream_t *)&c->handle, on_alloc, on_read) != 0) {
			conn_close(c);
			return;
		}
		c->reading = true;
		/* The wait for the rest of a message starts again now: while
		 * paused the client could not send it. */
		if (c->partial)
			c->partial_since = uv_now(c->srv->loop);
	}
}

/* Hands on every whole message in buf, one at a time while below the caps. */
static void conn_frame(struct client_tcp *c)
{
	size_t off = 0;
	c->framing = true;
	while (!c->closing && !conn_pause_reason(c)) {
		size_t mlen;
		int whole = tcp_framing_next(c->buf + off, c->len - off, &mlen);
		if (whole < 0) {
			conn_close(c); /* a zero length: not DNS */
			break;
		}
		if (whole == 0)
			break;
		/* A whole message: the connection is not idle. */
		uv_timer_again(&c->idle);
		c->partial = false;
		struct client client;
		conn_client(c, &client);
		task_handle_query(c->srv->tasks, c->buf + off + TCP_FRAMING_PREFIX, mlen, &client);
		off += TCP_FRAMING_PREFIX + mlen;
	}
	c->framing = false;
	if (c->closing)
		return;
	if (off > 0) {
		memmove(c->buf, c->buf + off, c->len - off);
		c->len -= off;
	}
	/* What is left is an incomplete message unless it is whole ones held
	 * back by a cap. */
	size_t next_len;
	bool incomplete = tcp_framing_next(c->buf, c->len, &next_len) == 0;
	if (c->len > 0 && incomplete) {
		if (!c->partial) {
			c->partial = true;
			c->partial_since = uv_now(c->srv->loop);
		}
	} else {
		c->partial = false;
	}
	conn_update_reading(c);
}

static void on_idle(uv_timer_t *timer)
{
	struct client_tcp *c = timer->data;
	struct client_tcp_server *srv = c->srv;
	uint64_t now = uv_now(srv->loop);
	unsigned limit = srv->opts.idle_timeout_ms;
	if (c->partial && c->reading && now - c->partial_since >= limit) {
		/* A message begun and not finished within the idle timeout:
		 * one byte a second must not hold a connection forever. */
		STAT_ADD(srv, tcp_partial_timeouts);
		log_debug(LOG_DAEMON, "TCP client left a message incomplete, closing");
		conn_close(c);
	} else if (c->queued && now - c->write_progress >= limit) {
		/* Answers wait and none has left for the idle timeout: the
		 * client does not read (whether or not the queue is at its cap). */
		STAT_ADD(srv, tcp_write_stall_closes);
		log_debug(LOG_DAEMON, "TCP client does not read its answers, closing");
		conn_close(c);
	} else if (c->holds == 0 && c->writes == 0) {
		conn_close(c); /* RFC 7766 §6.2.3: idle connections are closed */
	}
	/* else answers are owed or leaving: the timer ticks again */
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
	conn_frame(c);
}

/* ---- connections per address, for the whole process ----------------- */

struct client_tcp_addrs {
	struct util_siphash_key key;
	_Atomic unsigned count[CLIENT_TCP_ADDR_SLOTS];
};

struct client_tcp_addrs *client_tcp_addrs_create(void)
{
	struct client_tcp_addrs *t = calloc(1, sizeof(*t));
	if (t)
		util_siphash_key_init(&t->key);
	return t;
}

void client_tcp_addrs_destroy(struct client_tcp_addrs *t)
{
	free(t);
}

/* The slot of `addr`: the hash of its family and address, not its port. */
static unsigned addrs_slot(const struct client_tcp_addrs *t, const struct sockaddr_storage *addr)
{
	uint8_t key[1 + 16 + 4] = {(uint8_t)addr->ss_family};
	size_t len = 1;
	if (addr->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
		memcpy(key + 1, &in->sin_addr, 4);
		len += 4;
	} else if (addr->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
		memcpy(key + 1, &in6->sin6_addr, 16);
		memcpy(key + 17, &in6->sin6_scope_id, 4);
		len += 20;
	}
	return (unsigned)(util_siphash(&t->key, key, len) % CLIENT_TCP_ADDR_SLOTS);
}

bool client_tcp_addrs_take(struct client_tcp_addrs *t, const struct sockaddr_storage *addr,
			   unsigned cap, unsigned *slot)
{
	unsigned s = addrs_slot(t, addr);
	unsigned n = atomic_load_explicit(&t->count[s], memory_order_relaxed);
	do {
		if (n >= cap)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
		&t->count[s], &n, n + 1, memory_order_relaxed, memory_order_relaxed));
	*slot = s;
	return true;
}

void client_tcp_addrs_put(struct client_tcp_addrs *t, unsigned slot)
{
	unsigned n = atomic_fetch_sub_explicit(&t->count[slot], 1, memory_order_relaxed);
	if (!util_assume(n > 0)) /* a put without its take: undo the wrap */
		atomic_fetch_add_explicit(&t->count[slot], 1, memory_order_relaxed);
}

unsigned client_tcp_addrs_count(struct client_tcp_addrs *t, const struct sockaddr_storage *addr)
{
	return atomic_load_explicit(&t->count[addrs_slot(t, addr)], memory_order_relaxed);
}

/* Whether a new connection from `c->peer` may be served; counts and logs
 * the limit that says no. */
static bool conn_admit(struct client_tcp_server *srv, struct client_tcp *c)
{
	if (srv->stopping)
		return false;
	if (srv->nconns > srv->opts.max_conns) {
		STAT_ADD(srv, tcp_refused_max_conns);
		log_debug(LOG_DAEMON, "too many TCP connections, closing a new one");
		return false;
	}
	/* access-control deny: nothing is read from it, not even one query. A
	 * refused address is served: task.c answers each query REFUSED. */
	if (srv->opts.acl &&
	    config_acl_check(srv->opts.acl, (const struct sockaddr *)&c->peer) == CONFIG_ACL_DENY) {
		STAT_ADD(srv, tcp_denied);
		log_debug(LOG_DAEMON, "TCP connection from a denied address, closing");
		return false;
	}
	/* Counted for the whole process: every worker's connections. */
	if (srv->opts.max_conns_per_addr && srv->opts.addrs &&
	    !client_tcp_addrs_take(srv->opts.addrs, &c->peer, srv->opts.max_conns_per_addr,
				   &c->addr_slot)) {
		STAT_ADD(srv, tcp_refused_per_addr);
		log_debug(LOG_DAEMON,
			  "too many TCP connections from one address, closing a new one");
		return false;
	}
	c->addr_counted = srv->opts.max_conns_per_addr && srv->opts.addrs;
	return true;
}

/* A descriptor held only to be closed when accept() runs out of them. */
static int reserve_open(void)
{
	return open("/", O_RDONLY | O_CLOEXEC);
}

void client_tcp_server_init(struct client_tcp_server *srv, uv_loop_t *loop, struct task_env *tasks,
			    const struct client_tcp_opts *opts)
{
	memset(srv, 0, sizeof(*srv));
	srv->loop = loop;
	srv->tasks = tasks;
	srv->opts = *opts;
	srv->reserve_fd = reserve_open();
}

void client_tcp_server_deinit(struct client_tcp_server *srv)
{
	if (srv->reserve_fd >= 0)
		close(srv->reserve_fd);
	srv->reserve_fd = -1;
}

/* accept() said EMFILE or ENFILE and libuv's own reserve did not help. */
static void on_fd_exhausted(struct client_tcp_server *srv, uv_stream_t *listener, int status)
{
	uint64_t now = uv_now(srv->loop);
	STAT_ADD(srv, tcp_fd_exhausted);
	if (srv->fd_warned_ms == 0 || now - srv->fd_warned_ms >= 1000) {
		srv->fd_warned_ms = now;
		log_warn(LOG_DAEMON, "out of file descriptors for TCP clients: %s",
			 uv_strerror(status));
	}
	if (srv->reserve_fd >= 0) {
		/* libuv calls accept() again at once: it gets this slot, and
		 * that connection is closed (shed) and the reserve taken back. */
		close(srv->reserve_fd);
		srv->reserve_fd = -1;
		srv->shed_next = true;
		return;
	}
	/* Nothing to free: stop libuv's accept loop by giving the listener
	 * up to its owner. */
	srv->shed_next = false;
	if (srv->opts.listener_lost)
		srv->opts.listener_lost(srv->opts.listener_lost_arg, listener);
}

void client_tcp_on_connection(uv_stream_t *listener, int status)
{
	struct client_tcp_server *srv = listener->data;
	if (status == UV_EMFILE || status == UV_ENFILE) {
		on_fd_exhausted(srv, listener, status);
		return;
	}
	if (status < 0)
		return;
	bool shed = srv->shed_next;
	srv->shed_next = false;
	struct client_tcp *c = calloc(1, sizeof(*c));
	if (!c)
		return; /* libuv stops accepting until the connection is taken */
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
	if (shed) {
		/* It has the reserve's slot: closed now, the reserve back. */
		log_debug(LOG_DAEMON, "out of descriptors, closing a new TCP connection");
		conn_close(c);
		srv->reserve_fd = reserve_open();
		return;
	}
	if (srv->reserve_fd < 0)
		srv->reserve_fd = reserve_open(); /* could not be taken back before */
	int plen = sizeof(c->peer);
	if (uv_tcp_getpeername(&c->handle, (struct sockaddr *)&c->peer, &plen) != 0 ||
	    !conn_admit(srv, c)) {
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->handle, 1);
	uv_timer_start(&c->idle, on_idle, srv->opts.idle_timeout_ms, srv->opts.idle_timeout_ms);
	if (uv_read_start((uv_stream_t *)&c->handle, on_alloc, on_read) != 0) {
		conn_close(c);
		return;
	}
	c->reading = true;
}

static void on_written(uv_write_t *req, int status)
{
	struct client_tcp *c = req->handle->data;
	free(req->data);
	c->writes--;
	if (c->closing)
		return;
	conn_note_write_queue(c, true);
	/* Below the caps again: whole messages waiting in buf go first. */
	if (!c->framing && !conn_pause_reason(c))
		conn_frame(c);
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
		return;
	}
	c->writes++;
	conn_note_write_queue(c, false);
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
	/* Below the pipelining cap again: take more queries (the framing loop
	 * looks again itself when the release happens inside it). */
	if (!c->framing && !conn_pause_reason(c))
		conn_frame(c);
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
