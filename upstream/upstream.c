/*
 * upstream/upstream.c — the lifecycle of one attempt to the authorities of
 * a zone, and the public API.
 *
 * For each attempt: ask select.c for a server (it checks the limits and
 * takes the claims), build the query (wire.c), send it on a leg
 * (transport.c) under the leg's timer, and report exactly one outcome to
 * the caller's callback, unless the attempt is cancelled. When select.c
 * planned a hedge (the zone's servers span two providers, UDP only), the
 * attempt's timer sends it to the other provider if the primary has not
 * answered by then; the first matching response wins.
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
 * Does not choose servers (select.c), touch sockets (transport.c) or read
 * responses beyond their RCODE. Shared state only through servers.c,
 * health.c and budget.c (atomics, no lock on this path). Retries, TCP
 * fallback after TC=1 and the interpretation of the response are the
 * caller's.
 */
#include "upstream/upstream.h"
#include "upstream/impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "util/log.h"
#include "util/random.h"
#include "util/sockaddr.h"

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
	for (int i = 0; i < UPSTREAM_LEG_COUNT; i++)
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
	leg->state = UPSTREAM_LEG_DONE;
	if (leg->timer_open) {
		leg->timer_open = false;
		uv_close((uv_handle_t *)&leg->timer, on_leg_close);
	}
	if (leg->sock_open) {
		leg->sock_open = false;
		leg->q->up->sockets--; /* uv_close() closes the descriptor now */
		uv_close(&leg->sock.handle, on_leg_close);
	}
}

/* Ends a leg without an outcome (cancel, destroy, a local failure): the
 * claims go back, the tables learn nothing. */
static void leg_abort(struct upstream_leg *leg)
{
	if (leg->state == UPSTREAM_LEG_DONE)
		return;
	upstream_health_release(leg->q->up->servers, &leg->pick.claim);
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

	util_sockaddr_str((const struct sockaddr *)&leg->pick.server, a, sizeof(a));
	dns_name_wire_str(q->zone, q->zone_len, z, sizeof(z));
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
	struct upstream_breaker_params p = upstream_select_breaker_params(up->opts);
	struct upstream_health_event ev;
	const struct sockaddr *addr = (const struct sockaddr *)&leg->pick.server;

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
		upstream_health_record(up->servers, &leg->pick.claim, true, now, &p, 0, &ev);
	} else {
		/* RFC 6298 §5.5: back off. An ICMP error says the server is
		 * not there: a loss too. */
		if (!leg->tcp)
			upstream_servers_timeout(up->servers, addr, now);
		if (status == UPSTREAM_TIMEOUT)
			UPSTREAM_COUNT(up->servers, timeouts);
		upstream_health_record(up->servers, &leg->pick.claim, false, now, &p,
				       util_random_u32(), &ev);
	}
	if (ev.opened)
		log_transition(leg, ev.opens > 1 ? BREAKER_REOPENED : BREAKER_OPENED, &ev);
	if (ev.closed)
		log_transition(leg, BREAKER_CLOSED, &ev);
	upstream_health_release(up->servers, &leg->pick.claim);
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
	for (int i = 0; i < UPSTREAM_LEG_COUNT; i++)
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

	const struct upstream_leg *primary = &q->leg[UPSTREAM_LEG_PRIMARY];
	const struct upstream_leg *hedge = &q->leg[UPSTREAM_LEG_HEDGE];
	const struct upstream_leg *shown = winner != NULL ? winner : primary;
	uint64_t now = uv_now(q->up->loop);
	uint64_t since = shown->state != UPSTREAM_LEG_IDLE ? shown->start_ms : q->start_ms;
	struct upstream_result res = {
		.status = status,
		.server = shown->pick.server,
		.wire = wire,
		.len = len,
		.tcp = q->tcp,
		.rtt_ms = now > since ? (unsigned)(now - since) : 0,
		.recovered = recovered,
	};
	if (q->hedge_sent)
		res.hedged = shown == primary ? hedge->pick.server : primary->pick.server;

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
void upstream_leg_failed(struct upstream_leg *leg, enum upstream_status status, int err,
			 const char *what)
{
	struct upstream_query *q = leg->q;
	char buf[UTIL_SOCKADDR_STRLEN];

	if (leg->state != UPSTREAM_LEG_ACTIVE)
		return;
	util_sockaddr_str((const struct sockaddr *)&leg->pick.server, buf, sizeof(buf));
	if (err != 0)
		log_debug(LOG_UPSTREAM, "[%04x] %s %s: %s: %s", leg->id, upstream_leg_proto(leg),
			  buf, what, uv_strerror(err));
	else
		log_debug(LOG_UPSTREAM, "[%04x] %s %s: %s", leg->id, upstream_leg_proto(leg), buf,
			  what);
	leg_end(leg, status, 0, false);
	if (!q->running)
		return; /* a lingering leg: the attempt was reported already */
	if (status == UPSTREAM_TIMEOUT)
		q->timed_out = true;
	struct upstream_leg *other = leg == &q->leg[UPSTREAM_LEG_PRIMARY]
					     ? &q->leg[UPSTREAM_LEG_HEDGE]
					     : &q->leg[UPSTREAM_LEG_PRIMARY];
	if (other->state == UPSTREAM_LEG_ACTIVE)
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
void upstream_leg_answered(struct upstream_leg *leg, const uint8_t *wire, size_t len)
{
	struct upstream_query *q = leg->q;
	uint64_t now = uv_now(q->up->loop);
	unsigned rtt = now > leg->start_ms ? (unsigned)(now - leg->start_ms) : 0;
	char str[UTIL_SOCKADDR_STRLEN];

	log_debug(LOG_UPSTREAM, "[%04x] %s %s: %zu octets in %u ms%s", leg->id,
		  upstream_leg_proto(leg),
		  util_sockaddr_str((const struct sockaddr *)&leg->pick.server, str, sizeof(str)),
		  len, rtt, q->running ? "" : " (after the attempt ended)");
	/* RFC 1035 §4.1.1: the RCODE is the low 4 bits of byte 3. */
	unsigned rcode = len > 3 ? wire[3] & 0x0f : 0;
	bool serving = rcode != DNS_RCODE_SERVFAIL && rcode != DNS_RCODE_REFUSED;
	bool recovered = leg_end(leg, UPSTREAM_OK, rtt, serving);
	if (q->running)
		query_finish(q, UPSTREAM_OK, leg, wire, len, recovered);
}

static void on_leg_timer(uv_timer_t *timer)
{
	upstream_leg_failed(timer->data, UPSTREAM_TIMEOUT, 0, "timeout");
}

/* Out of descriptors: counted, and a warning at most once a second for the
 * whole process (the first worker to swap the stamp logs). */
static void note_fd_exhausted(struct upstream *up, int err)
{
	uint64_t now = uv_now(up->loop);
	uint64_t last = atomic_load_explicit(&up->servers->fd_warned_ms, memory_order_relaxed);

	UPSTREAM_COUNT(up->servers, fd_exhausted);
	if ((last == 0 || now - last >= 1000) &&
	    atomic_compare_exchange_strong_explicit(&up->servers->fd_warned_ms, &last, now,
						    memory_order_relaxed, memory_order_relaxed))
		log_warn(LOG_UPSTREAM, "out of file descriptors for upstream sockets: %s",
			 uv_strerror(err));
}

/* Sends the leg: its timer, then its socket (transport.c). 0, or a
 * negative errno with the leg left for leg_abort() (nothing was sent):
 * UPSTREAM_E_RANGE when the worker's outgoing-range is full. */
static int leg_start(struct upstream_leg *leg)
{
	struct upstream_query *q = leg->q;
	struct upstream *up = q->up;
	char str[UTIL_SOCKADDR_STRLEN];

	if (up->opts->outgoing_range != 0 && up->sockets >= up->opts->outgoing_range) {
		UPSTREAM_COUNT(up->servers, outgoing_range_full);
		log_debug(LOG_UPSTREAM, "[%04x] %s: outgoing-range full (%u sockets)", leg->id,
			  upstream_leg_proto(leg), up->sockets);
		return UPSTREAM_E_RANGE;
	}
	int ret = uv_timer_init(q->up->loop, &leg->timer);
	if (ret < 0) {
		log_debug(LOG_UPSTREAM, "[%04x] %s %s: timer: %s", leg->id, upstream_leg_proto(leg),
			  util_sockaddr_str((const struct sockaddr *)&leg->pick.server, str,
					    sizeof(str)),
			  uv_strerror(ret));
		return ret;
	}
	leg->timer_open = true;
	leg->timer.data = leg;
	q->handles++;

	ret = upstream_transport_start(leg);
	if (leg->sock_open)
		up->sockets++; /* leg_close() gives it back, whatever happened */
	if (ret == UV_EMFILE || ret == UV_ENFILE)
		note_fd_exhausted(up, ret);
	if (ret < 0)
		return ret;
	leg->state = UPSTREAM_LEG_ACTIVE;
	uv_timer_start(&leg->timer, on_leg_timer, leg->pick.timeout_ms, 0);
	return 0;
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

/* What select.c is asked for this attempt at `now` (req: NULL for the hedge). */
static struct upstream_select_in select_in(const struct upstream_query *q,
					   const struct upstream_request *req, uint64_t now)
{
	return (struct upstream_select_in){
		.opts = q->up->opts,
		.req = req,
		.zone = q->zone,
		.zone_len = q->zone_len,
		.zone_key = q->zone_key,
		.now_ms = now,
	};
}

/* Sends the hedge that select.c planned, if the budget, the caps and the
 * target's breaker still allow it. 0 when it is in flight. */
static int hedge_start(struct upstream_query *q)
{
	struct upstream *up = q->up;
	struct upstream_servers *servers = up->servers;
	const struct upstream_opts *o = up->opts;
	struct upstream_leg *leg = &q->leg[UPSTREAM_LEG_HEDGE];
	uint64_t now = uv_now(up->loop);
	char str[UTIL_SOCKADDR_STRLEN];

	if (!q->running || leg->state != UPSTREAM_LEG_IDLE ||
	    leg->pick.server.ss_family == AF_UNSPEC)
		return -EINVAL;
	struct upstream_select_in in = select_in(q, NULL, now);
	if (upstream_select_hedge(servers, &in, &leg->pick) < 0)
		return -EAGAIN;

	leg->start_ms = now;
	/* The same question under its own ID, from its own socket. */
	leg->id = (uint16_t)util_random_u32();
	memcpy(leg->query, q->leg[UPSTREAM_LEG_PRIMARY].query, 2 + q->qlen);
	leg->query[2] = (uint8_t)(leg->id >> 8);
	leg->query[3] = (uint8_t)leg->id;
	if (leg_start(leg) < 0) {
		leg_abort(leg);
		return -EIO;
	}
	q->hedge_sent = true;
	upstream_budget_record(&servers->budget, now, o->retry_budget_window_ms, true);
	UPSTREAM_COUNT(servers, queries);
	UPSTREAM_COUNT(servers, hedges);
	log_debug(LOG_UPSTREAM, "[%04x] udp %s: hedge for [%04x] to another provider", leg->id,
		  util_sockaddr_str((const struct sockaddr *)&leg->pick.server, str, sizeof(str)),
		  q->leg[UPSTREAM_LEG_PRIMARY].id);
	return 0;
}

/* Picks the primary (select.c) and sends it, or defers the reason; arms
 * the hedge when one was planned. */
static void query_send(struct upstream_query *q, const struct upstream_request *req)
{
	struct upstream *up = q->up;
	struct upstream_servers *servers = up->servers;
	struct upstream_leg *leg = &q->leg[UPSTREAM_LEG_PRIMARY];
	struct upstream_leg *hedge = &q->leg[UPSTREAM_LEG_HEDGE];
	struct upstream_select_in in = select_in(q, req, q->start_ms);

	enum upstream_status status = upstream_select(servers, &in, &leg->pick, &hedge->pick);
	if (status != UPSTREAM_OK) {
		query_defer(q, status);
		return;
	}
	if (leg->pick.probe)
		log_transition(leg, BREAKER_PROBING, NULL);
	if (hedge->pick.server.ss_family != AF_UNSPEC) {
		q->hedge_pending = true;
		uv_timer_start(&q->timer, on_query_timer, hedge->pick.delay_ms, 0);
	}
	leg->start_ms = q->start_ms;
	int ret = leg_start(leg);
	if (ret < 0) {
		leg_abort(leg);
		/* A full outgoing-range is a local limit, like the in-flight
		 * caps; a socket that cannot be had is a network error. */
		query_defer(q, ret == UPSTREAM_E_RANGE ? UPSTREAM_LIMITED : UPSTREAM_NETERR);
		return;
	}
	upstream_budget_record(&servers->budget, q->start_ms, up->opts->retry_budget_window_ms,
			       req->retry);
	UPSTREAM_COUNT(servers, queries);
	if (req->retry)
		UPSTREAM_COUNT(servers, retries);
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
	struct upstream_leg *leg = &q->leg[UPSTREAM_LEG_PRIMARY];
	q->up = up;
	q->cb = cb;
	q->arg = arg;
	q->tcp = req->tcp;
	q->qtype = req->qtype;
	q->qclass = req->qclass;
	for (int i = 0; i < UPSTREAM_LEG_COUNT; i++) {
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
	query_send(q, req);
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
