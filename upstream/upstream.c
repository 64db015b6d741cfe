/*
 * upstream/upstream.c — one attempt to one authority, over UDP or TCP.
 *
 * For each attempt: pick a server (rtt.c over the shared table in
 * servers.c), build the query (wire.c), open a fresh socket, send, and wait
 * for a response that matches (RFC 5452 §9.1: same address and port, same
 * ID, QR=1, same question) or for the timer. Exactly one outcome goes to the
 * caller's callback, unless the attempt is cancelled first.
 *
 * Lifecycle: an attempt owns its socket handle and its timer (both inside
 * struct upstream_query). Reporting or cancelling closes both at once; the
 * struct is freed by the last close callback. The attempt stays on its
 * upstream's list until then, so upstream_destroy() can cancel what is in
 * flight and free the upstream only after every handle is closed.
 *
 * Re-entrancy: an attempt is marked finished and its handles closed *before*
 * the callback runs, so the callback may start new attempts, cancel any
 * attempt (its own included, harmlessly) or destroy the upstream.
 *
 * Retries, TCP fallback after TC=1 and the interpretation of the response
 * are the caller's; this file only measures, times out and matches.
 */
#include "upstream/upstream.h"
#include "upstream/impl.h"

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/random.h"

/* Candidates considered per attempt (after the address policy). A
 * delegation seldom has more than 13 servers with two addresses each. */
#define UPSTREAM_CANDIDATES_MAX 64

struct upstream {
	uv_loop_t *loop;
	const struct upstream_opts *opts;
	struct upstream_servers *servers;
	struct upstream_query *queries; /* every attempt not yet freed */
	bool destroying;
	/* One datagram at a time: libuv calls alloc and recv back to back, and
	 * a response is only valid during the callback, so attempts share it. */
	uint8_t recvbuf[65536];
};

struct upstream_query {
	struct upstream *up;
	struct upstream_query *prev, *next;
	upstream_cb cb;
	void *arg;

	bool running;	/* false once reported or cancelled */
	bool closed;	/* uv_close() issued on the handles */
	bool sock_open; /* `sock` was initialised and needs closing */
	bool tcp;
	bool deferred; /* the timer reports `deferred_status`, not a timeout */
	enum upstream_status deferred_status;
	unsigned closing; /* close callbacks still to come */

	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_udp_t udp;
		uv_tcp_t tcp;
	} sock;
	uv_timer_t timer;
	uv_udp_send_t send_req;
	uv_connect_t connect_req;
	uv_write_t write_req;

	struct sockaddr_storage server; /* AF_UNSPEC until one is picked */
	uint64_t start_ms;
	uint16_t id, qtype, qclass;
	ldns_rdf *qname;
	size_t qlen;
	/* The query, behind room for the TCP length prefix (RFC 1035 §4.2.2). */
	uint8_t query[2 + UPSTREAM_QUERY_MAX];

	/* TCP framing of the response being read. */
	uint8_t tcp_prefix[2];
	size_t tcp_have; /* octets of the current message read, prefix included */
	size_t tcp_len;	 /* its length, once the prefix is in */
	uint8_t *tcp_msg;
};

/* ---- helpers ---------------------------------------------------------------- */

static const char *addr_str(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
	}
	snprintf(buf, cap, ss->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
	return buf;
}

/* Same family, address and port (the scope of a link-local address is the
 * socket's, the kernel already enforced it). */
static bool addr_equal(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	if (a->sa_family != b->ss_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

/* The address to bind for `family`: the configured source, or the
 * wildcard. Port 0 either way, so the kernel picks a random ephemeral port
 * (RFC 5452 §9.2 relies on it). True when a source was configured. */
static bool source_addr(const struct upstream_opts *opts, int family, struct sockaddr_storage *out)
{
	const struct sockaddr_storage *src = family == AF_INET ? &opts->source4 : &opts->source6;

	memset(out, 0, sizeof(*out));
	if (src->ss_family == family) {
		*out = *src;
	} else {
		out->ss_family = (sa_family_t)family; /* INADDR_ANY / in6addr_any */
	}
	if (family == AF_INET)
		((struct sockaddr_in *)out)->sin_port = 0;
	else
		((struct sockaddr_in6 *)out)->sin6_port = 0;
	return src->ss_family == family;
}

/* ---- end of an attempt -------------------------------------------------------- */

static void query_free(struct upstream_query *q)
{
	struct upstream *up = q->up;

	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		up->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	free(q->tcp_msg);
	ldns_rdf_deep_free(q->qname);
	free(q);

	if (up->destroying && up->queries == NULL)
		free(up);
}

static void on_close(uv_handle_t *handle)
{
	struct upstream_query *q = handle->data;

	if (--q->closing == 0)
		query_free(q);
}

/* Closes the handles; pending send/connect/write requests are cancelled by
 * libuv (their callbacks see UV_ECANCELED) before the close callbacks. */
static void query_close(struct upstream_query *q)
{
	if (q->closed)
		return;
	q->closed = true;
	q->closing++;
	uv_close((uv_handle_t *)&q->timer, on_close);
	if (q->sock_open) {
		q->closing++;
		uv_close(&q->sock.handle, on_close);
	}
}

/* Reports the outcome: once, after the attempt's own state is settled. */
static void query_finish(struct upstream_query *q, enum upstream_status status, const uint8_t *wire,
			 size_t len)
{
	if (!q->running)
		return;
	q->running = false;

	struct upstream_result res = {
		.status = status,
		.server = q->server,
		.wire = wire,
		.len = len,
		.tcp = q->tcp,
	};
	uint64_t now = uv_now(q->up->loop);
	res.rtt_ms = now > q->start_ms ? (unsigned)(now - q->start_ms) : 0;

	query_close(q);
	q->cb(q->arg, &res);
	/* `q` stays allocated until the close callbacks, but is not ours to
	 * touch any more: the callback may have destroyed the upstream. */
}

static void on_timer(uv_timer_t *timer)
{
	struct upstream_query *q = timer->data;

	if (!q->running)
		return;
	if (q->deferred) {
		query_finish(q, q->deferred_status, NULL, 0);
		return;
	}
	char buf[64];
	log_debug(LOG_UPSTREAM, "[%04x] %s %s: timeout", q->id, q->tcp ? "tcp" : "udp",
		  addr_str(&q->server, buf, sizeof(buf)));
	/* RFC 6298 §5.5: back off. TCP outcomes do not feed the UDP estimate
	 * (a server may answer one and not the other). */
	if (!q->tcp)
		upstream_servers_timeout(q->up->servers, (struct sockaddr *)&q->server,
					 uv_now(q->up->loop));
	query_finish(q, UPSTREAM_TIMEOUT, NULL, 0);
}

/* Reports `status` from the timer on the next loop turn: the contract
 * forbids calling back from inside upstream_query_start(). */
static void query_defer(struct upstream_query *q, enum upstream_status status)
{
	q->deferred = true;
	q->deferred_status = status;
	uv_timer_stop(&q->timer);
	uv_timer_start(&q->timer, on_timer, 0, 0);
}

/* A failure after the query left: unreachable, refused, reset. */
static void query_neterr(struct upstream_query *q, int err, const char *what)
{
	char buf[64];
	log_debug(LOG_UPSTREAM, "[%04x] %s %s: %s: %s", q->id, q->tcp ? "tcp" : "udp",
		  addr_str(&q->server, buf, sizeof(buf)), what, uv_strerror(err));
	/* An ICMP error says the server is not there: count it as a loss. */
	if (!q->tcp)
		upstream_servers_timeout(q->up->servers, (struct sockaddr *)&q->server,
					 uv_now(q->up->loop));
	query_finish(q, UPSTREAM_NETERR, NULL, 0);
}

/* Whether `wire` is the answer; logs why not. */
static bool query_accepts(struct upstream_query *q, const uint8_t *wire, size_t len)
{
	enum upstream_match m =
		upstream_wire_match(wire, len, q->id, q->qname, q->qtype, q->qclass);
	if (m == UPSTREAM_MATCH_OK)
		return true;
	char buf[64];
	log_debug(LOG_UPSTREAM, "[%04x] %s %s: ignored a %zu-octet message: %s", q->id,
		  q->tcp ? "tcp" : "udp", addr_str(&q->server, buf, sizeof(buf)), len,
		  upstream_match_str(m));
	return false;
}

/* ---- UDP ---------------------------------------------------------------------- */

static void udp_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct upstream_query *q = handle->data;

	buf->base = (char *)q->up->recvbuf;
	buf->len = sizeof(q->up->recvbuf);
}

static void udp_recv(uv_udp_t *handle, ssize_t nread, const uv_buf_t *buf,
		     const struct sockaddr *addr, unsigned flags)
{
	struct upstream_query *q = handle->data;
	char str[64];

	if (!q->running)
		return;
	if (nread < 0) {
		/* On a connected socket the kernel turns ICMP unreachable into
		 * ECONNREFUSED and friends. */
		query_neterr(q, (int)nread, "receive");
		return;
	}
	if (nread == 0 && addr == NULL)
		return; /* nothing more to read */
	if (addr == NULL || !addr_equal(addr, &q->server)) {
		log_debug(LOG_UPSTREAM, "[%04x] udp %s: ignored a datagram from elsewhere", q->id,
			  addr_str(&q->server, str, sizeof(str)));
		return;
	}
	if (flags & UV_UDP_PARTIAL) {
		log_debug(LOG_UPSTREAM, "[%04x] udp %s: ignored a truncated datagram", q->id,
			  addr_str(&q->server, str, sizeof(str)));
		return;
	}
	const uint8_t *wire = (const uint8_t *)buf->base;
	if (!query_accepts(q, wire, (size_t)nread))
		return;

	uint64_t now = uv_now(q->up->loop);
	unsigned rtt = now > q->start_ms ? (unsigned)(now - q->start_ms) : 0;
	upstream_servers_sample(q->up->servers, (struct sockaddr *)&q->server, rtt, now);
	log_debug(LOG_UPSTREAM, "[%04x] udp %s: %zd octets in %u ms", q->id,
		  addr_str(&q->server, str, sizeof(str)), nread, rtt);
	query_finish(q, UPSTREAM_OK, wire, (size_t)nread);
}

static void udp_sent(uv_udp_send_t *req, int status)
{
	struct upstream_query *q = req->data;

	if (status < 0 && q->running)
		query_neterr(q, status, "send");
}

static void udp_start(struct upstream_query *q)
{
	struct upstream *up = q->up;
	const char *what = "socket";
	int family = q->server.ss_family;
	struct sockaddr_storage src;

	int ret = uv_udp_init_ex(up->loop, &q->sock.udp, (unsigned)family);
	if (ret < 0)
		goto out_defer;
	q->sock_open = true;
	q->sock.handle.data = q;

	what = "bind";
	source_addr(up->opts, family, &src);
	ret = uv_udp_bind(&q->sock.udp, (struct sockaddr *)&src, 0);
	if (ret < 0)
		goto out_defer;
	/* Connected: the kernel drops datagrams from other sources and reports
	 * ICMP errors to us. */
	what = "connect";
	ret = uv_udp_connect(&q->sock.udp, (struct sockaddr *)&q->server);
	if (ret < 0)
		goto out_defer;
	what = "receive";
	ret = uv_udp_recv_start(&q->sock.udp, udp_alloc, udp_recv);
	if (ret < 0)
		goto out_defer;
	what = "send";
	uv_buf_t buf = uv_buf_init((char *)q->query + 2, (unsigned)q->qlen);
	q->send_req.data = q;
	ret = uv_udp_send(&q->send_req, &q->sock.udp, &buf, 1, NULL, udp_sent);
	if (ret < 0)
		goto out_defer;

	struct upstream_rtt r;
	upstream_servers_get(up->servers, (struct sockaddr *)&q->server, q->start_ms, &r);
	unsigned timeout =
		upstream_rtt_timeout_ms(&r, up->opts->timeout_min_ms, up->opts->timeout_max_ms);
	uv_timer_start(&q->timer, on_timer, timeout, 0);
	return;

out_defer:;
	char str[64];
	log_debug(LOG_UPSTREAM, "[%04x] udp %s: %s: %s", q->id,
		  addr_str(&q->server, str, sizeof(str)), what, uv_strerror(ret));
	query_defer(q, UPSTREAM_NETERR);
}

/* ---- TCP ---------------------------------------------------------------------- */

static void tcp_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct upstream_query *q = handle->data;

	/* Exactly what the current frame still lacks, so a read never runs
	 * into the next message and a split length prefix needs no copying. */
	if (q->tcp_have < 2) {
		buf->base = (char *)q->tcp_prefix + q->tcp_have;
		buf->len = 2 - q->tcp_have;
	} else {
		buf->base = (char *)q->tcp_msg + (q->tcp_have - 2);
		buf->len = q->tcp_len - (q->tcp_have - 2);
	}
}

static void tcp_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct upstream_query *q = stream->data;

	if (!q->running)
		return;
	if (nread < 0) {
		query_neterr(q, (int)nread, nread == UV_EOF ? "closed early" : "read");
		return;
	}
	q->tcp_have += (size_t)nread;

	if (q->tcp_have == 2 && q->tcp_msg == NULL) {
		q->tcp_len = (size_t)q->tcp_prefix[0] << 8 | q->tcp_prefix[1];
		if (q->tcp_len == 0) {
			/* An empty frame carries nothing to match: skip it. */
			q->tcp_have = 0;
			return;
		}
		q->tcp_msg = malloc(q->tcp_len);
		if (q->tcp_msg == NULL) {
			query_neterr(q, UV_ENOMEM, "read");
			return;
		}
	}
	if (q->tcp_msg == NULL || q->tcp_have < 2 + q->tcp_len)
		return;

	if (query_accepts(q, q->tcp_msg, q->tcp_len)) {
		char str[64];
		log_debug(LOG_UPSTREAM, "[%04x] tcp %s: %zu octets", q->id,
			  addr_str(&q->server, str, sizeof(str)), q->tcp_len);
		/* tcp_msg is freed with the attempt, after the callback. */
		query_finish(q, UPSTREAM_OK, q->tcp_msg, q->tcp_len);
		return;
	}
	/* RFC 7766 §7: several responses may come on one connection; wait for
	 * ours. */
	free(q->tcp_msg);
	q->tcp_msg = NULL;
	q->tcp_have = 0;
}

static void tcp_written(uv_write_t *req, int status)
{
	struct upstream_query *q = req->data;

	if (status < 0 && q->running)
		query_neterr(q, status, "write");
}

static void tcp_connected(uv_connect_t *req, int status)
{
	struct upstream_query *q = req->data;

	if (!q->running)
		return;
	if (status < 0) {
		query_neterr(q, status, "connect");
		return;
	}
	uv_buf_t buf = uv_buf_init((char *)q->query, (unsigned)(2 + q->qlen));
	q->write_req.data = q;
	int ret = uv_write(&q->write_req, &q->sock.stream, &buf, 1, tcp_written);
	if (ret < 0) {
		query_neterr(q, ret, "write");
		return;
	}
	ret = uv_read_start(&q->sock.stream, tcp_alloc, tcp_read);
	if (ret < 0)
		query_neterr(q, ret, "read");
}

static void tcp_start(struct upstream_query *q)
{
	struct upstream *up = q->up;
	const char *what = "socket";
	int family = q->server.ss_family;
	struct sockaddr_storage src;

	int ret = uv_tcp_init_ex(up->loop, &q->sock.tcp, (unsigned)family);
	if (ret < 0)
		goto out_defer;
	q->sock_open = true;
	q->sock.handle.data = q;

	what = "bind";
	if (source_addr(up->opts, family, &src)) {
		ret = uv_tcp_bind(&q->sock.tcp, (struct sockaddr *)&src, 0);
		if (ret < 0)
			goto out_defer;
	}
	what = "connect";
	q->connect_req.data = q;
	ret = uv_tcp_connect(&q->connect_req, &q->sock.tcp, (struct sockaddr *)&q->server,
			     tcp_connected);
	if (ret < 0)
		goto out_defer;
	uv_timer_start(&q->timer, on_timer, up->opts->tcp_timeout_ms, 0);
	return;

out_defer:;
	char str[64];
	log_debug(LOG_UPSTREAM, "[%04x] tcp %s: %s: %s", q->id,
		  addr_str(&q->server, str, sizeof(str)), what, uv_strerror(ret));
	query_defer(q, UPSTREAM_NETERR);
}

/* ---- selection and the public API -------------------------------------------- */

/* Index of the chosen candidate, or -1 when none is allowed. */
static ssize_t query_pick(struct upstream *up, const struct upstream_request *req, uint64_t now)
{
	struct upstream_rtt_choice choice[UPSTREAM_CANDIDATES_MAX];
	size_t index[UPSTREAM_CANDIDATES_MAX];
	size_t n = 0;
	/* Servers the operator configured (root hints) may be local: the
	 * localhost rule guards against delegations, not against the config. */
	struct upstream_opts policy = *up->opts;
	if (req->configured)
		policy.do_not_query_localhost = false;

	for (size_t i = 0; i < req->ncandidates && n < UPSTREAM_CANDIDATES_MAX; i++) {
		const struct sockaddr *addr = (const struct sockaddr *)&req->candidates[i];
		if (!upstream_addr_allowed(&policy, addr))
			continue;
		struct upstream_rtt r;
		upstream_servers_get(up->servers, addr, now, &r);
		choice[n].score = upstream_rtt_score(&r);
		choice[n].unmeasured = !r.measured && r.timeouts == 0;
		index[n++] = i;
	}
	if (n == 0)
		return -1;
	return (ssize_t)index[upstream_rtt_select(choice, n, util_random_u32())];
}

struct upstream *upstream_create(uv_loop_t *loop, const struct upstream_opts *opts,
				 struct upstream_servers *servers)
{
	if (loop == NULL || opts == NULL || servers == NULL)
		return NULL;
	struct upstream *up = calloc(1, sizeof(*up));
	if (up == NULL)
		return NULL;
	up->loop = loop;
	up->opts = opts;
	up->servers = servers;
	return up;
}

void upstream_destroy(struct upstream *up)
{
	if (up == NULL)
		return;
	up->destroying = true;
	for (struct upstream_query *q = up->queries; q != NULL; q = q->next) {
		/* Closing only schedules the close callbacks: the list stays
		 * intact while we walk it. */
		q->running = false;
		query_close(q);
	}
	if (up->queries == NULL)
		free(up);
}

int upstream_query_start(struct upstream *up, const struct upstream_request *req, upstream_cb cb,
			 void *arg, struct upstream_query **out)
{
	if (up == NULL || req == NULL || cb == NULL || req->qname == NULL)
		return -EINVAL;
	if (req->ncandidates > 0 && req->candidates == NULL)
		return -EINVAL;
	if (up->destroying)
		return -ESHUTDOWN;

	struct upstream_query *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	q->up = up;
	q->cb = cb;
	q->arg = arg;
	q->tcp = req->tcp;
	q->qtype = req->qtype;
	q->qclass = req->qclass;
	/* RFC 5452 §9.2: an unpredictable ID (with the random port). */
	q->id = (uint16_t)util_random_u32();

	int ret =
		upstream_wire_query(q->query + 2, UPSTREAM_QUERY_MAX, q->id, req->qname, req->qtype,
				    req->qclass, up->opts->edns_buffer_size, req->dnssec_ok);
	if (ret < 0)
		goto out_free_query;
	q->qlen = (size_t)ret;
	q->query[0] = (uint8_t)(q->qlen >> 8);
	q->query[1] = (uint8_t)q->qlen;
	q->qname = ldns_rdf_clone(req->qname);
	if (q->qname == NULL) {
		ret = -ENOMEM;
		goto out_free_query;
	}
	ret = uv_timer_init(up->loop, &q->timer);
	if (ret < 0)
		goto out_free_name;
	q->timer.data = q;

	/* From here on the attempt is committed: failures are reported
	 * through the callback. */
	q->running = true;
	q->next = up->queries;
	if (up->queries != NULL)
		up->queries->prev = q;
	up->queries = q;

	/* The loop time may be a whole iteration old; the RTT sample must not
	 * include that. */
	uv_update_time(up->loop);
	q->start_ms = uv_now(up->loop);

	ssize_t pick = query_pick(up, req, q->start_ms);
	if (pick < 0) {
		log_debug(LOG_UPSTREAM, "[%04x] none of %zu candidates may be queried", q->id,
			  req->ncandidates);
		query_defer(q, UPSTREAM_REFUSED);
	} else {
		q->server = req->candidates[pick];
		if (q->tcp)
			tcp_start(q);
		else
			udp_start(q);
	}
	if (out != NULL)
		*out = q;
	return 0;

out_free_name:
	ldns_rdf_deep_free(q->qname);
out_free_query:
	free(q);
	return ret;
}

void upstream_query_cancel(struct upstream_query *q)
{
	if (q == NULL || !q->running)
		return;
	q->running = false;
	query_close(q);
}
