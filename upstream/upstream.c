/*
 * upstream/upstream.c — one attempt to the authorities of a zone, over UDP
 * or TCP, calmly.
 *
 * For each attempt: check the limits (retry budget, in-flight caps), pick a
 * server (rtt.c over the shared tables, skipping servers whose breaker is
 * open for the zone, preferring another provider than the one that just
 * failed, probing a half-open breaker once its cool-down is over), build the
 * query (wire.c), open a fresh socket, send, and wait for a response that
 * matches (RFC 5452 §9.1: same address and port, same ID, QR=1, same
 * question) or for the timer. When the zone's servers span two providers
 * (UDP only), a hedge goes to the best server of the other provider if the
 * first has not answered within its expected RTT (at least hedge_min_ms),
 * paid from the retry budget; the first matching response wins. Exactly one
 * outcome goes to the caller's callback, unless the attempt is cancelled.
 *
 * Legs: each query sent (the primary, the hedge) is a leg with its own
 * socket, timer, ID and claims (in-flight units per server, zone and
 * (server, zone), and the breaker's probe). A leg ends on its response,
 * its timeout, a network error, a cancel or the upstream's destruction;
 * only the first two feed the RTT and health tables, and every end gives
 * the claims back. When one leg wins, the other one is not cut short: it
 * lingers until its own response or timeout (the query is out anyway), so
 * the tables learn that a server is dead even while hedges hide it, and its
 * in-flight units stay counted while it is really in flight.
 *
 * Lifecycle: the attempt owns the libuv handles of its legs and its own
 * timer (deferred results, the hedge). `handles` counts the open ones; the
 * struct is freed by the last close callback. It stays on its upstream's
 * list until then, so upstream_destroy() can close everything in flight
 * (lingering legs included) and free the upstream after the last handle.
 *
 * Re-entrancy: an attempt is marked finished and its winning leg closed
 * *before* the callback runs, so the callback may start new attempts,
 * cancel any attempt (its own included, harmlessly) or destroy the upstream.
 *
 * Shared state: only through servers.c, health.c and budget.c (atomics,
 * no lock on this path). Retries, TCP fallback after TC=1 and the
 * interpretation of the response are the caller's.
 */
#include "upstream/upstream.h"
#include "upstream/impl.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/random.h"
#include "util/sockaddr.h"

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

enum leg_state {
	LEG_IDLE,   /* not sent (a hedge not yet due, or none) */
	LEG_ACTIVE, /* sent, waiting */
	LEG_DONE,   /* ended; handles closed or closing */
};

struct upstream_leg {
	struct upstream_query *q;
	enum leg_state state;
	bool tcp;
	bool sock_open, timer_open; /* initialised, to be closed */
	struct upstream_claim claim;

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
	uint64_t hkey;			/* health key of (server, zone) */
	uint64_t start_ms;
	unsigned timeout_ms;
	uint16_t id;
	char provider[UPSTREAM_PROVIDER_MAX];
	/* The query, behind room for the TCP length prefix (RFC 1035 §4.2.2). */
	uint8_t query[2 + UPSTREAM_QUERY_MAX];

	/* TCP framing of the response being read. */
	uint8_t tcp_prefix[2];
	size_t tcp_have; /* octets of the current message read, prefix included */
	size_t tcp_len;	 /* its length, once the prefix is in */
	uint8_t *tcp_msg;
};

enum { LEG_PRIMARY, LEG_HEDGE, LEG_COUNT };

struct upstream_query {
	struct upstream *up;
	struct upstream_query *prev, *next;
	upstream_cb cb;
	void *arg;

	bool running; /* false once reported or cancelled */
	bool tcp;
	bool deferred; /* the timer reports `deferred_status` */
	enum upstream_status deferred_status;
	bool timer_open;
	bool hedge_pending; /* the timer starts the hedge */
	bool hedge_sent;
	bool timed_out;	  /* a leg timed out (else the failures were network errors) */
	unsigned handles; /* open libuv handles; freed at 0 */
	uv_timer_t timer;

	uint64_t start_ms;
	uint16_t qtype, qclass;
	ldns_rdf *qname;
	size_t qlen;
	uint64_t zone_key;
	size_t zone_len;
	uint8_t zone[255]; /* wire form; "\0" for the root */

	struct upstream_leg leg[LEG_COUNT];
};

/* ---- helpers ---------------------------------------------------------------- */

/* The address to bind for `family`: the configured source, or the
 * wildcard, port 0 (the UDP path then draws a random port itself). True
 * when a source was configured. */
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

static struct upstream_breaker_params breaker_params(const struct upstream_opts *o)
{
	unsigned longest =
		o->timeout_max_ms > o->tcp_timeout_ms ? o->timeout_max_ms : o->tcp_timeout_ms;
	return (struct upstream_breaker_params){
		.threshold = o->breaker_threshold,
		.cooldown_ms = o->breaker_cooldown_ms,
		.cooldown_max_ms = o->breaker_cooldown_max_ms,
		/* Longer than any probe can be in flight. */
		.probe_lease_ms = longest + 1000,
	};
}

static const char *leg_proto(const struct upstream_leg *leg)
{
	return leg->tcp ? "tcp" : "udp";
}

/* The UDP timeout of a leg to `addr`: the RTO bounded and backed off
 * (rtt.c), with full jitter once backed off so that servers recovering
 * from one outage are not re-asked in step. */
static unsigned udp_timeout(struct upstream *up, const struct sockaddr *addr, uint64_t now,
			    struct upstream_rtt *r)
{
	upstream_servers_get(up->servers, addr, now, r);
	unsigned t = upstream_rtt_timeout_ms(r, up->opts->timeout_min_ms, up->opts->timeout_max_ms);
	if (r->timeouts > 0)
		t = upstream_rtt_jitter(t, up->opts->timeout_min_ms, util_random_u32());
	return t;
}

/* ---- end of a leg, end of an attempt ---------------------------------------------- */

static void query_free(struct upstream_query *q)
{
	struct upstream *up = q->up;

	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		up->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	for (int i = 0; i < LEG_COUNT; i++)
		free(q->leg[i].tcp_msg);
	ldns_rdf_deep_free(q->qname);
	free(q);

	if (up->destroying && up->queries == NULL)
		free(up);
}

static void on_query_close(uv_handle_t *handle)
{
	struct upstream_query *q = handle->data;

	if (--q->handles == 0)
		query_free(q);
}

static void on_leg_close(uv_handle_t *handle)
{
	struct upstream_leg *leg = handle->data;
	struct upstream_query *q = leg->q;

	if (--q->handles == 0)
		query_free(q);
}

/* Closes the leg's handles; pending send/connect/write requests are
 * cancelled by libuv (their callbacks see UV_ECANCELED and a DONE leg). */
static void leg_close(struct upstream_leg *leg)
{
	leg->state = LEG_DONE;
	if (leg->timer_open) {
		leg->timer_open = false;
		uv_close((uv_handle_t *)&leg->timer, on_leg_close);
	}
	if (leg->sock_open) {
		leg->sock_open = false;
		uv_close(&leg->sock.handle, on_leg_close);
	}
}

/* Ends a leg without an outcome (cancel, destroy, a local failure): the
 * claims go back, the tables learn nothing. */
static void leg_abort(struct upstream_leg *leg)
{
	if (leg->state == LEG_DONE)
		return;
	upstream_health_release(leg->q->up->servers, &leg->claim);
	leg_close(leg);
}

/* The breaker transitions, each logged once (by the worker whose CAS made
 * it), with the server and the zone. */
enum transition {
	BREAKER_OPENED,
	BREAKER_REOPENED,
	BREAKER_PROBING,
	BREAKER_CLOSED,
};

static void log_transition(const struct upstream_leg *leg, enum transition t,
			   const struct upstream_health_event *ev)
{
	const struct upstream_query *q = leg->q;
	char a[UTIL_SOCKADDR_STRLEN], z[DNS_NAME_MAX_TEXT];

	util_sockaddr_str((const struct sockaddr *)&leg->server, a, sizeof(a));
	upstream_name_text(q->zone, q->zone_len, z, sizeof(z));
	switch (t) {
	case BREAKER_OPENED:
		log_warn(LOG_UPSTREAM,
			 "server %s zone %s: breaker open, %u failures, probe in %u ms", a, z,
			 ev->failures, ev->cooldown_ms);
		break;
	case BREAKER_REOPENED:
		log_warn(LOG_UPSTREAM,
			 "server %s zone %s: probe failed, breaker open, probe in %u ms", a, z,
			 ev->cooldown_ms);
		break;
	case BREAKER_PROBING:
		log_info(LOG_UPSTREAM, "server %s zone %s: breaker half-open, one probe sent", a,
			 z);
		break;
	case BREAKER_CLOSED:
		log_info(LOG_UPSTREAM, "server %s zone %s: breaker closed, answering again", a, z);
		break;
	}
}

/* Ends an active leg with an outcome: feeds the RTT (UDP) and health
 * tables, logs breaker transitions once, gives the claims back, closes.
 * `serving`: the response is not SERVFAIL or REFUSED. True when this
 * response closed a breaker. */
static bool leg_end(struct upstream_leg *leg, enum upstream_status status, unsigned rtt_ms,
		    bool serving)
{
	struct upstream_query *q = leg->q;
	struct upstream *up = q->up;
	uint64_t now = uv_now(up->loop);
	struct upstream_breaker_params p = breaker_params(up->opts);
	struct upstream_health_event ev;
	const struct sockaddr *addr = (const struct sockaddr *)&leg->server;

	/* TCP outcomes do not feed the UDP estimate (a server may answer one
	 * and not the other), but they are the server's health for the zone. */
	if (status == UPSTREAM_OK) {
		/* A SERVFAIL or REFUSED still proves the server is there: the
		 * breaker (silence) is reset. But such a server is no use for
		 * the zone now: its RTT estimate backs off as for a loss, so
		 * selection prefers the other servers and stops spending
		 * retries on it, and the backoff fades as for a timeout. */
		if (!leg->tcp) {
			if (serving)
				upstream_servers_sample(up->servers, addr, rtt_ms, now);
			else
				upstream_servers_timeout(up->servers, addr, now);
		}
		upstream_health_record(up->servers, &leg->claim, true, now, &p, 0, &ev);
	} else {
		/* RFC 6298 §5.5: back off. An ICMP error says the server is
		 * not there: a loss too. */
		if (!leg->tcp)
			upstream_servers_timeout(up->servers, addr, now);
		if (status == UPSTREAM_TIMEOUT)
			UPSTREAM_COUNT(up->servers, timeouts);
		upstream_health_record(up->servers, &leg->claim, false, now, &p, util_random_u32(),
				       &ev);
	}
	if (ev.opened)
		log_transition(leg, ev.opens > 1 ? BREAKER_REOPENED : BREAKER_OPENED, &ev);
	if (ev.closed)
		log_transition(leg, BREAKER_CLOSED, &ev);
	upstream_health_release(up->servers, &leg->claim);
	leg_close(leg);
	return ev.closed;
}

/* Closes what the attempt still has open (its timer, every leg). */
static void query_close(struct upstream_query *q)
{
	q->hedge_pending = false;
	if (q->timer_open) {
		q->timer_open = false;
		uv_close((uv_handle_t *)&q->timer, on_query_close);
	}
	for (int i = 0; i < LEG_COUNT; i++)
		leg_abort(&q->leg[i]);
}

/* Reports the outcome: once, after the attempt's own state is settled.
 * `winner` is the leg that answered (NULL: the primary is reported). A leg
 * still in flight lingers until its own end. */
static void query_finish(struct upstream_query *q, enum upstream_status status,
			 const struct upstream_leg *winner, const uint8_t *wire, size_t len,
			 bool recovered)
{
	if (!q->running)
		return;
	q->running = false;

	const struct upstream_leg *primary = &q->leg[LEG_PRIMARY];
	const struct upstream_leg *hedge = &q->leg[LEG_HEDGE];
	const struct upstream_leg *shown = winner != NULL ? winner : primary;
	uint64_t now = uv_now(q->up->loop);
	uint64_t since = shown->state != LEG_IDLE ? shown->start_ms : q->start_ms;
	struct upstream_result res = {
		.status = status,
		.server = shown->server,
		.wire = wire,
		.len = len,
		.tcp = q->tcp,
		.rtt_ms = now > since ? (unsigned)(now - since) : 0,
		.recovered = recovered,
	};
	if (q->hedge_sent)
		res.hedged = shown == primary ? hedge->server : primary->server;

	q->hedge_pending = false;
	if (q->timer_open) {
		q->timer_open = false;
		uv_close((uv_handle_t *)&q->timer, on_query_close);
	}
	q->cb(q->arg, &res);
	/* `q` stays allocated until the close callbacks, but is not ours to
	 * touch any more: the callback may have destroyed the upstream. */
}

static int hedge_start(struct upstream_query *q);

/* A leg failed (timeout or network error). The attempt goes on while the
 * other leg is in flight; a primary failing before its hedge was due
 * sends the hedge at once. */
static void leg_failed(struct upstream_leg *leg, enum upstream_status status, int err,
		       const char *what)
{
	struct upstream_query *q = leg->q;
	char buf[UTIL_SOCKADDR_STRLEN];

	if (leg->state != LEG_ACTIVE)
		return;
	if (err != 0)
		log_debug(
			LOG_UPSTREAM, "[%04x] %s %s: %s: %s", leg->id, leg_proto(leg),
			util_sockaddr_str((const struct sockaddr *)&leg->server, buf, sizeof(buf)),
			what, uv_strerror(err));
	else
		log_debug(
			LOG_UPSTREAM, "[%04x] %s %s: %s", leg->id, leg_proto(leg),
			util_sockaddr_str((const struct sockaddr *)&leg->server, buf, sizeof(buf)),
			what);
	leg_end(leg, status, 0, false);
	if (!q->running)
		return; /* a lingering leg: the attempt was reported already */
	if (status == UPSTREAM_TIMEOUT)
		q->timed_out = true;
	struct upstream_leg *other =
		leg == &q->leg[LEG_PRIMARY] ? &q->leg[LEG_HEDGE] : &q->leg[LEG_PRIMARY];
	if (other->state == LEG_ACTIVE)
		return;
	if (q->hedge_pending) {
		q->hedge_pending = false;
		uv_timer_stop(&q->timer);
		if (hedge_start(q) == 0)
			return;
	}
	query_finish(q, q->timed_out ? UPSTREAM_TIMEOUT : UPSTREAM_NETERR, NULL, NULL, 0, false);
}

/* A matching response on `leg`: it wins unless the attempt was reported. */
static void leg_answered(struct upstream_leg *leg, const uint8_t *wire, size_t len)
{
	struct upstream_query *q = leg->q;
	uint64_t now = uv_now(q->up->loop);
	unsigned rtt = now > leg->start_ms ? (unsigned)(now - leg->start_ms) : 0;
	char str[UTIL_SOCKADDR_STRLEN];

	log_debug(LOG_UPSTREAM, "[%04x] %s %s: %zu octets in %u ms%s", leg->id, leg_proto(leg),
		  util_sockaddr_str((const struct sockaddr *)&leg->server, str, sizeof(str)), len,
		  rtt, q->running ? "" : " (after the attempt ended)");
	/* RFC 1035 §4.1.1: the RCODE is the low 4 bits of byte 3. */
	unsigned rcode = len > 3 ? wire[3] & 0x0f : 0;
	bool serving = rcode != 2 /* SERVFAIL */ && rcode != 5 /* REFUSED */;
	bool recovered = leg_end(leg, UPSTREAM_OK, rtt, serving);
	if (q->running)
		query_finish(q, UPSTREAM_OK, leg, wire, len, recovered);
}

static void on_leg_timer(uv_timer_t *timer)
{
	leg_failed(timer->data, UPSTREAM_TIMEOUT, 0, "timeout");
}

static void on_query_timer(uv_timer_t *timer)
{
	struct upstream_query *q = timer->data;

	if (!q->running)
		return;
	if (q->deferred) {
		query_finish(q, q->deferred_status, NULL, NULL, 0, false);
		return;
	}
	if (q->hedge_pending) {
		q->hedge_pending = false;
		hedge_start(q); /* if it cannot go, the primary goes on alone */
	}
}

/* Reports `status` from the timer on the next loop turn: the contract
 * forbids calling back from inside upstream_query_start(). */
static void query_defer(struct upstream_query *q, enum upstream_status status)
{
	q->deferred = true;
	q->deferred_status = status;
	q->hedge_pending = false;
	uv_timer_stop(&q->timer);
	uv_timer_start(&q->timer, on_query_timer, 0, 0);
}

/* Whether `wire` is the answer; logs why not. */
static bool leg_accepts(struct upstream_leg *leg, const uint8_t *wire, size_t len)
{
	struct upstream_query *q = leg->q;
	enum upstream_match m =
		upstream_wire_match(wire, len, leg->id, q->qname, q->qtype, q->qclass);
	if (m == UPSTREAM_MATCH_OK)
		return true;
	char buf[UTIL_SOCKADDR_STRLEN];
	log_debug(LOG_UPSTREAM, "[%04x] %s %s: ignored a %zu-octet message: %s", leg->id,
		  leg_proto(leg),
		  util_sockaddr_str((const struct sockaddr *)&leg->server, buf, sizeof(buf)), len,
		  upstream_match_str(m));
	return false;
}

/* ---- UDP ---------------------------------------------------------------------- */

static void udp_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct upstream_leg *leg = handle->data;

	buf->base = (char *)leg->q->up->recvbuf;
	buf->len = sizeof(leg->q->up->recvbuf);
}

static void udp_recv(uv_udp_t *handle, ssize_t nread, const uv_buf_t *buf,
		     const struct sockaddr *addr, unsigned flags)
{
	struct upstream_leg *leg = handle->data;
	char str[UTIL_SOCKADDR_STRLEN];

	if (leg->state != LEG_ACTIVE)
		return;
	if (nread < 0) {
		/* On a connected socket the kernel turns ICMP unreachable into
		 * ECONNREFUSED and friends. */
		leg_failed(leg, UPSTREAM_NETERR, (int)nread, "receive");
		return;
	}
	if (nread == 0 && addr == NULL)
		return; /* nothing more to read */
	if (addr == NULL || !util_sockaddr_equal(addr, (const struct sockaddr *)&leg->server)) {
		log_debug(
			LOG_UPSTREAM, "[%04x] udp %s: ignored a datagram from elsewhere", leg->id,
			util_sockaddr_str((const struct sockaddr *)&leg->server, str, sizeof(str)));
		return;
	}
	if (flags & UV_UDP_PARTIAL) {
		log_debug(
			LOG_UPSTREAM, "[%04x] udp %s: ignored a truncated datagram", leg->id,
			util_sockaddr_str((const struct sockaddr *)&leg->server, str, sizeof(str)));
		return;
	}
	const uint8_t *wire = (const uint8_t *)buf->base;
	if (!leg_accepts(leg, wire, (size_t)nread))
		return;
	leg_answered(leg, wire, (size_t)nread);
}

static void udp_sent(uv_udp_send_t *req, int status)
{
	struct upstream_leg *leg = req->data;

	if (status < 0 && leg->state == LEG_ACTIVE)
		leg_failed(leg, UPSTREAM_NETERR, status, "send");
}

/* Opens the leg's timer and socket, sends. 0, or a negative errno with the
 * leg left for leg_abort() (nothing was sent). */
static int udp_start(struct upstream_leg *leg)
{
	struct upstream_query *q = leg->q;
	struct upstream *up = q->up;
	const char *what = "timer";
	int family = leg->server.ss_family;
	struct sockaddr_storage src;

	int ret = uv_timer_init(up->loop, &leg->timer);
	if (ret < 0)
		goto out_log;
	leg->timer_open = true;
	leg->timer.data = leg;
	q->handles++;

	what = "socket";
	ret = uv_udp_init_ex(up->loop, &leg->sock.udp, (unsigned)family);
	if (ret < 0)
		goto out_log;
	leg->sock_open = true;
	leg->sock.handle.data = leg;
	q->handles++;

	what = "bind";
	source_addr(up->opts, family, &src);
	/* RFC 5452 §9.2: an unpredictable source port, from getrandom(2), in
	 * 1024..65535; a port in use is drawn again, and after a few draws the
	 * kernel's own (also randomised) choice is taken. */
	ret = UV_EADDRINUSE;
	for (int tries = 0; tries < UPSTREAM_PORT_TRIES && ret == UV_EADDRINUSE; tries++) {
		uint16_t port = (uint16_t)(1024 + util_random_uniform(65536 - 1024));
		if (family == AF_INET)
			((struct sockaddr_in *)&src)->sin_port = htons(port);
		else
			((struct sockaddr_in6 *)&src)->sin6_port = htons(port);
		ret = uv_udp_bind(&leg->sock.udp, (struct sockaddr *)&src, 0);
	}
	if (ret == UV_EADDRINUSE) {
		if (family == AF_INET)
			((struct sockaddr_in *)&src)->sin_port = 0;
		else
			((struct sockaddr_in6 *)&src)->sin6_port = 0;
		ret = uv_udp_bind(&leg->sock.udp, (struct sockaddr *)&src, 0);
	}
	if (ret < 0)
		goto out_log;
	/* Connected: the kernel drops datagrams from other sources and reports
	 * ICMP errors to us. */
	what = "connect";
	ret = uv_udp_connect(&leg->sock.udp, (struct sockaddr *)&leg->server);
	if (ret < 0)
		goto out_log;
	what = "receive";
	ret = uv_udp_recv_start(&leg->sock.udp, udp_alloc, udp_recv);
	if (ret < 0)
		goto out_log;
	what = "send";
	uv_buf_t buf = uv_buf_init((char *)leg->query + 2, (unsigned)q->qlen);
	leg->send_req.data = leg;
	ret = uv_udp_send(&leg->send_req, &leg->sock.udp, &buf, 1, NULL, udp_sent);
	if (ret < 0)
		goto out_log;

	leg->state = LEG_ACTIVE;
	uv_timer_start(&leg->timer, on_leg_timer, leg->timeout_ms, 0);
	return 0;

out_log:;
	char str[UTIL_SOCKADDR_STRLEN];
	log_debug(LOG_UPSTREAM, "[%04x] udp %s: %s: %s", leg->id,
		  util_sockaddr_str((const struct sockaddr *)&leg->server, str, sizeof(str)), what,
		  uv_strerror(ret));
	return ret;
}

/* ---- TCP ---------------------------------------------------------------------- */

static void tcp_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct upstream_leg *leg = handle->data;

	/* Exactly what the current frame still lacks, so a read never runs
	 * into the next message and a split length prefix needs no copying. */
	if (leg->tcp_have < 2) {
		buf->base = (char *)leg->tcp_prefix + leg->tcp_have;
		buf->len = 2 - leg->tcp_have;
	} else {
		buf->base = (char *)leg->tcp_msg + (leg->tcp_have - 2);
		buf->len = leg->tcp_len - (leg->tcp_have - 2);
	}
}

static void tcp_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct upstream_leg *leg = stream->data;

	if (leg->state != LEG_ACTIVE)
		return;
	if (nread < 0) {
		leg_failed(leg, UPSTREAM_NETERR, (int)nread,
			   nread == UV_EOF ? "closed early" : "read");
		return;
	}
	leg->tcp_have += (size_t)nread;

	if (leg->tcp_have == 2 && leg->tcp_msg == NULL) {
		leg->tcp_len = (size_t)leg->tcp_prefix[0] << 8 | leg->tcp_prefix[1];
		if (leg->tcp_len == 0) {
			/* An empty frame carries nothing to match: skip it. */
			leg->tcp_have = 0;
			return;
		}
		leg->tcp_msg = malloc(leg->tcp_len);
		if (leg->tcp_msg == NULL) {
			leg_failed(leg, UPSTREAM_NETERR, UV_ENOMEM, "read");
			return;
		}
	}
	if (leg->tcp_msg == NULL || leg->tcp_have < 2 + leg->tcp_len)
		return;

	if (leg_accepts(leg, leg->tcp_msg, leg->tcp_len)) {
		/* tcp_msg is freed with the attempt, after the callback. */
		leg_answered(leg, leg->tcp_msg, leg->tcp_len);
		return;
	}
	/* RFC 7766 §7: several responses may come on one connection; wait for
	 * ours. */
	free(leg->tcp_msg);
	leg->tcp_msg = NULL;
	leg->tcp_have = 0;
}

static void tcp_written(uv_write_t *req, int status)
{
	struct upstream_leg *leg = req->data;

	if (status < 0 && leg->state == LEG_ACTIVE)
		leg_failed(leg, UPSTREAM_NETERR, status, "write");
}

static void tcp_connected(uv_connect_t *req, int status)
{
	struct upstream_leg *leg = req->data;
	struct upstream_query *q = leg->q;

	if (leg->state != LEG_ACTIVE)
		return;
	if (status < 0) {
		leg_failed(leg, UPSTREAM_NETERR, status, "connect");
		return;
	}
	uv_buf_t buf = uv_buf_init((char *)leg->query, (unsigned)(2 + q->qlen));
	leg->write_req.data = leg;
	int ret = uv_write(&leg->write_req, &leg->sock.stream, &buf, 1, tcp_written);
	if (ret < 0) {
		leg_failed(leg, UPSTREAM_NETERR, ret, "write");
		return;
	}
	ret = uv_read_start(&leg->sock.stream, tcp_alloc, tcp_read);
	if (ret < 0)
		leg_failed(leg, UPSTREAM_NETERR, ret, "read");
}

/* As udp_start(), for the whole TCP exchange. */
static int tcp_start(struct upstream_leg *leg)
{
	struct upstream_query *q = leg->q;
	struct upstream *up = q->up;
	const char *what = "timer";
	int family = leg->server.ss_family;
	struct sockaddr_storage src;

	int ret = uv_timer_init(up->loop, &leg->timer);
	if (ret < 0)
		goto out_log;
	leg->timer_open = true;
	leg->timer.data = leg;
	q->handles++;

	what = "socket";
	ret = uv_tcp_init_ex(up->loop, &leg->sock.tcp, (unsigned)family);
	if (ret < 0)
		goto out_log;
	leg->sock_open = true;
	leg->sock.handle.data = leg;
	q->handles++;

	what = "bind";
	if (source_addr(up->opts, family, &src)) {
		ret = uv_tcp_bind(&leg->sock.tcp, (struct sockaddr *)&src, 0);
		if (ret < 0)
			goto out_log;
	}
	what = "connect";
	leg->connect_req.data = leg;
	ret = uv_tcp_connect(&leg->connect_req, &leg->sock.tcp, (struct sockaddr *)&leg->server,
			     tcp_connected);
	if (ret < 0)
		goto out_log;
	leg->state = LEG_ACTIVE;
	uv_timer_start(&leg->timer, on_leg_timer, leg->timeout_ms, 0);
	return 0;

out_log:;
	char str[UTIL_SOCKADDR_STRLEN];
	log_debug(LOG_UPSTREAM, "[%04x] tcp %s: %s: %s", leg->id,
		  util_sockaddr_str((const struct sockaddr *)&leg->server, str, sizeof(str)), what,
		  uv_strerror(ret));
	return ret;
}

/* ---- selection ---------------------------------------------------------------- */

enum cand_skip {
	CAND_OK,
	CAND_SKIP_BREAKER,  /* open for this zone, or its probe is taken */
	CAND_SKIP_INFLIGHT, /* the server is at its in-flight cap */
};

/* One allowed candidate as selection sees it. */
struct cand {
	size_t i; /* index in the request */
	uint64_t hkey;
	uint64_t provider; /* provider id; the address key without NS names */
	struct upstream_rtt_choice choice;
	enum upstream_health_verdict verdict;
	enum cand_skip skip;
	bool avoided; /* of the provider (or the address) to avoid */
};

/* The provider name of candidate `i` ("" without NS names). */
static void cand_provider(struct upstream *up, const struct upstream_request *req, size_t i,
			  char *out, size_t cap)
{
	out[0] = '\0';
	if (req->candidate_ns != NULL && req->candidate_ns[i] != NULL)
		upstream_provider_name(up->servers, req->candidate_ns[i], out, cap);
}

/* Picks among `pool` (indices into `c`): a probe when one is due (so a
 * recovered server is noticed), else by RTT (rtt.c). */
static size_t pick_from(const struct cand *c, const size_t *pool, size_t np)
{
	size_t probes[UPSTREAM_CANDIDATES_MAX], nprobes = 0;
	struct upstream_rtt_choice choice[UPSTREAM_CANDIDATES_MAX];

	for (size_t j = 0; j < np; j++)
		if (c[pool[j]].verdict == UPSTREAM_HEALTH_PROBE)
			probes[nprobes++] = pool[j];
	if (nprobes > 0)
		return probes[util_random_uniform((uint32_t)nprobes)];
	for (size_t j = 0; j < np; j++)
		choice[j] = c[pool[j]].choice;
	return pool[upstream_rtt_select(choice, np, util_random_u32())];
}

/* Plans the hedge: the best healthy candidate of another provider than the
 * primary's (and than the one to avoid), due after the primary's expected
 * RTT (its srtt; half its timeout when never measured), at least
 * hedge_min_ms, and only if that comes before the primary's timeout. */
static void hedge_plan(struct upstream_query *q, const struct upstream_request *req,
		       const struct cand *c, size_t n, const struct cand *primary,
		       const struct upstream_rtt *prtt)
{
	struct upstream *up = q->up;
	struct upstream_leg *leg = &q->leg[LEG_PRIMARY];
	size_t pool[UPSTREAM_CANDIDATES_MAX], np = 0;

	for (size_t j = 0; j < n; j++)
		if (c[j].skip == CAND_OK && c[j].verdict == UPSTREAM_HEALTH_ALLOW &&
		    c[j].provider != primary->provider && !c[j].avoided)
			pool[np++] = j;
	if (np == 0)
		return;
	unsigned delay = prtt->measured ? (prtt->srtt_us + 999) / 1000 : leg->timeout_ms / 2;
	if (delay < up->opts->hedge_min_ms)
		delay = up->opts->hedge_min_ms;
	if (delay >= leg->timeout_ms)
		return;

	const struct cand *h = &c[pick_from(c, pool, np)];
	struct upstream_leg *hl = &q->leg[LEG_HEDGE];
	hl->server = req->candidates[h->i];
	hl->hkey = h->hkey;
	cand_provider(up, req, h->i, hl->provider, sizeof(hl->provider));
	q->hedge_pending = true;
	uv_timer_start(&q->timer, on_query_timer, delay, 0);
}

/*
 * Chooses the primary server and takes its claims (zone and server
 * in-flight units, the (server, zone) entry, the probe when it is one), or
 * says why not: REFUSED (no candidate allowed), LIMITED (budget, in-flight
 * caps) or UNREACHABLE (every allowed candidate's breaker is open). Plans
 * the hedge when the candidates span two providers.
 */
static enum upstream_status query_pick(struct upstream_query *q, const struct upstream_request *req,
				       uint64_t now)
{
	struct upstream *up = q->up;
	struct upstream_servers *servers = up->servers;
	const struct upstream_opts *o = up->opts;
	struct upstream_leg *leg = &q->leg[LEG_PRIMARY];
	struct cand c[UPSTREAM_CANDIDATES_MAX];
	char name[UPSTREAM_PROVIDER_MAX];
	size_t n = 0;
	/* Servers the operator configured (root hints) may be local: the
	 * localhost rule guards against delegations, not against the config. */
	struct upstream_opts policy = *o;
	if (req->configured)
		policy.do_not_query_localhost = false;

	for (size_t i = 0; i < req->ncandidates && n < UPSTREAM_CANDIDATES_MAX; i++) {
		const struct sockaddr *addr = (const struct sockaddr *)&req->candidates[i];
		if (!upstream_addr_allowed(&policy, addr))
			continue;
		struct cand *k = &c[n++];
		struct upstream_rtt r;
		k->i = i;
		k->hkey = upstream_health_key(servers, addr, q->zone_key);
		k->verdict = upstream_health_check(servers, k->hkey, now);
		upstream_servers_get(servers, addr, now, &r);
		k->choice.score = upstream_rtt_score(&r);
		k->choice.unmeasured = !r.measured && r.timeouts == 0;
		if (req->candidate_ns != NULL && req->candidate_ns[i] != NULL) {
			cand_provider(up, req, i, name, sizeof(name));
			k->provider = upstream_provider_id(name);
		} else {
			k->provider = upstream_servers_addr_key(servers, addr);
		}
		if (k->verdict == UPSTREAM_HEALTH_SKIP)
			k->skip = CAND_SKIP_BREAKER;
		else if (o->max_inflight_server > 0 &&
			 upstream_servers_inflight_count(servers, addr) >= o->max_inflight_server)
			k->skip = CAND_SKIP_INFLIGHT;
		else
			k->skip = CAND_OK;
		k->avoided = false;
	}
	if (n == 0) {
		log_debug(LOG_UPSTREAM, "none of %zu candidates may be queried", req->ncandidates);
		return UPSTREAM_REFUSED;
	}
	if (req->retry && !upstream_budget_allows(&servers->budget, now, o->retry_budget_window_ms,
						  o->retry_budget_percent, o->retry_budget_floor)) {
		UPSTREAM_COUNT(servers, refused_budget);
		log_debug(LOG_UPSTREAM, "retry refused: the retry budget is spent");
		return UPSTREAM_LIMITED;
	}
	if (!upstream_health_zone_take(servers, q->zone_key, o->max_inflight_zone, &leg->claim)) {
		UPSTREAM_COUNT(servers, refused_inflight);
		log_debug(LOG_UPSTREAM, "refused: the zone is at its in-flight cap (%u)",
			  o->max_inflight_zone);
		return UPSTREAM_LIMITED;
	}

	/* The provider to avoid: that of `avoid` when it is a candidate, else
	 * just that address. */
	if (req->avoid != NULL) {
		const struct sockaddr *av = (const struct sockaddr *)req->avoid;
		bool found = false;
		uint64_t avoid_provider = 0;
		for (size_t j = 0; j < n && !found; j++) {
			if (util_sockaddr_equal(
				    av, (const struct sockaddr *)&req->candidates[c[j].i])) {
				found = true;
				avoid_provider = c[j].provider;
			}
		}
		for (size_t j = 0; j < n; j++)
			c[j].avoided =
				found ? c[j].provider == avoid_provider
				      : util_sockaddr_equal(
						av,
						(const struct sockaddr *)&req->candidates[c[j].i]);
	}

	for (;;) {
		size_t pool[UPSTREAM_CANDIDATES_MAX], np = 0;
		/* Another provider when one is usable; else any. A probe-only
		 * request takes nothing but a server due its probe. */
		for (int strict = 1; strict >= 0 && np == 0; strict--)
			for (size_t j = 0; j < n; j++)
				if (c[j].skip == CAND_OK && !(strict && c[j].avoided) &&
				    (!req->probe_only || c[j].verdict == UPSTREAM_HEALTH_PROBE))
					pool[np++] = j;
		if (np == 0)
			break;

		struct cand *k = &c[pick_from(c, pool, np)];
		const struct sockaddr *addr = (const struct sockaddr *)&req->candidates[k->i];
		bool probe = k->verdict == UPSTREAM_HEALTH_PROBE;
		_Atomic uint32_t *si = upstream_servers_inflight(servers, addr, now);
		if (si != NULL && !upstream_inflight_take(si, o->max_inflight_server)) {
			k->skip = CAND_SKIP_INFLIGHT;
			continue;
		}
		cand_provider(up, req, k->i, leg->provider, sizeof(leg->provider));
		if (!upstream_health_take(servers, k->hkey, addr, q->zone, q->zone_len,
					  leg->provider, now, probe,
					  breaker_params(o).probe_lease_ms, &leg->claim)) {
			/* Another worker's query is the probe. */
			if (si != NULL)
				upstream_inflight_put(si);
			k->skip = CAND_SKIP_BREAKER;
			continue;
		}
		leg->claim.server_inflight = si;
		leg->server = req->candidates[k->i];
		leg->hkey = k->hkey;

		struct upstream_rtt r = {0};
		if (q->tcp)
			leg->timeout_ms = o->tcp_timeout_ms;
		else
			leg->timeout_ms = udp_timeout(up, addr, now, &r);
		/* A probe asks "are you back?": a server that is back answers
		 * at its normal speed, so the backed-off timeout is not needed,
		 * and a client may be waiting on it. */
		if (probe && leg->timeout_ms > UPSTREAM_PROBE_TIMEOUT_MS)
			leg->timeout_ms = UPSTREAM_PROBE_TIMEOUT_MS;
		if (probe)
			log_transition(leg, BREAKER_PROBING, NULL);
		if (!q->tcp && req->candidate_ns != NULL)
			hedge_plan(q, req, c, n, k, &r);
		return UPSTREAM_OK;
	}

	/* Nothing usable: the caller hears it now rather than waiting. */
	upstream_health_release(servers, &leg->claim);
	for (size_t j = 0; j < n; j++) {
		if (c[j].skip == CAND_SKIP_INFLIGHT) {
			UPSTREAM_COUNT(servers, refused_inflight);
			log_debug(LOG_UPSTREAM,
				  "refused: every usable server is at its in-flight cap");
			return UPSTREAM_LIMITED;
		}
	}
	UPSTREAM_COUNT(servers, refused_breaker);
	upstream_name_text(q->zone, q->zone_len, name, sizeof(name));
	log_debug(LOG_UPSTREAM, "zone %s: every server's breaker is open", name);
	return UPSTREAM_UNREACHABLE;
}

/* Sends the hedge planned by hedge_plan(), if the budget, the caps and the
 * target's breaker still allow it. 0 when it is in flight. */
static int hedge_start(struct upstream_query *q)
{
	struct upstream *up = q->up;
	struct upstream_servers *servers = up->servers;
	const struct upstream_opts *o = up->opts;
	struct upstream_leg *leg = &q->leg[LEG_HEDGE];
	const struct sockaddr *addr = (const struct sockaddr *)&leg->server;
	uint64_t now = uv_now(up->loop);
	char str[UTIL_SOCKADDR_STRLEN];

	if (!q->running || leg->state != LEG_IDLE || leg->server.ss_family == AF_UNSPEC)
		return -EINVAL;
	util_sockaddr_str((const struct sockaddr *)&leg->server, str, sizeof(str));
	if (!upstream_budget_allows(&servers->budget, now, o->retry_budget_window_ms,
				    o->retry_budget_percent, o->retry_budget_floor)) {
		log_debug(LOG_UPSTREAM, "no hedge to %s: the retry budget is spent", str);
		return -EAGAIN;
	}
	if (upstream_health_check(servers, leg->hkey, now) != UPSTREAM_HEALTH_ALLOW)
		return -EAGAIN;
	if (!upstream_health_zone_take(servers, q->zone_key, o->max_inflight_zone, &leg->claim))
		return -EAGAIN;
	_Atomic uint32_t *si = upstream_servers_inflight(servers, addr, now);
	if (si != NULL && !upstream_inflight_take(si, o->max_inflight_server)) {
		upstream_health_release(servers, &leg->claim);
		return -EAGAIN;
	}
	upstream_health_take(servers, leg->hkey, addr, q->zone, q->zone_len, leg->provider, now,
			     false, 0, &leg->claim);
	leg->claim.server_inflight = si;

	struct upstream_rtt r;
	leg->timeout_ms = udp_timeout(up, addr, now, &r);
	leg->start_ms = now;
	/* The same question under its own ID, from its own socket. */
	leg->id = (uint16_t)util_random_u32();
	memcpy(leg->query, q->leg[LEG_PRIMARY].query, 2 + q->qlen);
	leg->query[2] = (uint8_t)(leg->id >> 8);
	leg->query[3] = (uint8_t)leg->id;
	if (udp_start(leg) < 0) {
		leg_abort(leg);
		return -EIO;
	}
	q->hedge_sent = true;
	upstream_budget_record(&servers->budget, now, o->retry_budget_window_ms, true);
	UPSTREAM_COUNT(servers, queries);
	UPSTREAM_COUNT(servers, hedges);
	log_debug(LOG_UPSTREAM, "[%04x] udp %s: hedge for [%04x] to another provider", leg->id, str,
		  q->leg[LEG_PRIMARY].id);
	return 0;
}

/* ---- the public API -------------------------------------------------------------- */

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
		 * intact while we walk it. Lingering legs end here too. */
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
	if (req->zone != NULL && (ldns_rdf_get_type(req->zone) != LDNS_RDF_TYPE_DNAME ||
				  ldns_rdf_size(req->zone) == 0 || ldns_rdf_size(req->zone) > 255))
		return -EINVAL;
	if (up->destroying)
		return -ESHUTDOWN;

	struct upstream_query *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	struct upstream_leg *leg = &q->leg[LEG_PRIMARY];
	q->up = up;
	q->cb = cb;
	q->arg = arg;
	q->tcp = req->tcp;
	q->qtype = req->qtype;
	q->qclass = req->qclass;
	for (int i = 0; i < LEG_COUNT; i++) {
		q->leg[i].q = q;
		q->leg[i].tcp = req->tcp;
	}
	if (req->zone != NULL) {
		q->zone_len = ldns_rdf_size(req->zone);
		memcpy(q->zone, ldns_rdf_data(req->zone), q->zone_len);
	} else {
		q->zone_len = 1; /* the root */
	}
	q->zone_key = upstream_zone_key(up->servers, q->zone, q->zone_len);
	/* RFC 5452 §9.2: an unpredictable ID (with the random port). */
	leg->id = (uint16_t)util_random_u32();

	int ret = upstream_wire_query(leg->query + 2, UPSTREAM_QUERY_MAX, leg->id, req->qname,
				      req->qtype, req->qclass, up->opts->edns_buffer_size,
				      req->dnssec_ok, req->rd);
	if (ret < 0)
		goto out_free_query;
	q->qlen = (size_t)ret;
	leg->query[0] = (uint8_t)(q->qlen >> 8);
	leg->query[1] = (uint8_t)q->qlen;
	q->qname = ldns_rdf_clone(req->qname);
	if (q->qname == NULL) {
		ret = -ENOMEM;
		goto out_free_query;
	}
	ret = uv_timer_init(up->loop, &q->timer);
	if (ret < 0)
		goto out_free_name;
	q->timer.data = q;
	q->timer_open = true;
	q->handles = 1;

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

	enum upstream_status status = query_pick(q, req, q->start_ms);
	if (status != UPSTREAM_OK) {
		query_defer(q, status);
	} else {
		leg->start_ms = q->start_ms;
		ret = q->tcp ? tcp_start(leg) : udp_start(leg);
		if (ret < 0) {
			leg_abort(leg);
			query_defer(q, UPSTREAM_NETERR);
		} else {
			struct upstream_servers *servers = up->servers;
			upstream_budget_record(&servers->budget, q->start_ms,
					       up->opts->retry_budget_window_ms, req->retry);
			UPSTREAM_COUNT(servers, queries);
			if (req->retry)
				UPSTREAM_COUNT(servers, retries);
		}
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
