/*
 * task — one client query on its worker: the glue between the wire, the
 * iterator and the upstream layer.
 *
 * Checks what must be answered without resolving (malformed input, refused
 * clients, opcodes, classes and types we do not resolve), then drives the
 * sans-I/O resolver: every RESOLVER_SEND becomes one upstream attempt, every
 * upstream outcome is fed back, until the resolver says DONE and the answer
 * is written back the way the query came (UDP with the client's size limit,
 * or TCP framed). Holds no resolution logic.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon.h"
#include "cache/cache.h"
#include "util/log.h"

struct task {
	struct task *prev, *next;
	struct worker *w;
	struct task_origin origin;
	struct dns_query_view q;
	struct resolver_request *req;
	struct upstream_query *upq;
	uint64_t started_ms;	 /* uv_now: the monotonic clock, for the deadline */
	uv_timer_t *stale_timer; /* stale-answer-client-timeout, when armed */
	bool answered;		 /* the client already has an answer (stale) */
};

uint64_t daemon_wallclock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (uint64_t)ts.tv_sec;
}

static void send_udp(struct worker *w, uv_udp_t *udp, const struct sockaddr *to, const uint8_t *msg,
		     size_t len);

/* Writes `len` bytes of w->wbuf the way the query came. */
static void reply(struct worker *w, const struct task_origin *origin, const uint8_t *msg,
		  size_t len)
{
	if (origin->transport == TASK_UDP)
		send_udp(w, origin->udp, (const struct sockaddr *)&origin->client, msg, len);
	else
		tcp_conn_send(origin->conn, msg, len);
}

static void reply_error(struct worker *w, const struct task_origin *origin,
			const struct dns_query_view *q, int rcode)
{
	int n = dns_write_error(q, rcode, w->wbuf, sizeof(w->wbuf));
	if (n > 0)
		reply(w, origin, w->wbuf, (size_t)n);
}

/* ---- UDP sending ------------------------------------------------------ */

struct udp_send {
	uv_udp_send_t req;
	size_t len;
	uint8_t data[];
};

static void on_udp_sent(uv_udp_send_t *req, int status)
{
	free(req->data);
}

static void send_udp(struct worker *w, uv_udp_t *udp, const struct sockaddr *to, const uint8_t *msg,
		     size_t len)
{
	uv_buf_t buf = uv_buf_init((char *)msg, (unsigned)len);
	int r = uv_udp_try_send(udp, &buf, 1, to);
	if (r >= 0)
		return;
	if (r != UV_EAGAIN) {
		log_debug(LOG_DAEMON, "udp send failed: %s", uv_strerror(r));
		return;
	}
	/* Socket buffer full: queue a copy. */
	struct udp_send *s = malloc(sizeof(*s) + len);
	if (!s)
		return;
	memcpy(s->data, msg, len);
	s->len = len;
	s->req.data = s;
	buf = uv_buf_init((char *)s->data, (unsigned)len);
	if (uv_udp_send(&s->req, udp, &buf, 1, to, on_udp_sent) != 0)
		free(s);
}

/* ---- the task list ---------------------------------------------------- */

static void task_link(struct worker *w, struct task *t)
{
	t->next = w->tasks;
	if (w->tasks)
		w->tasks->prev = t;
	w->tasks = t;
	w->ntasks++;
}

static void on_timer_closed(uv_handle_t *h)
{
	free(h);
}

static void task_free(struct task *t)
{
	struct worker *w = t->w;
	if (t->prev)
		t->prev->next = t->next;
	else
		w->tasks = t->next;
	if (t->next)
		t->next->prev = t->prev;
	w->ntasks--;
	if (t->upq)
		upstream_query_cancel(t->upq);
	if (t->stale_timer) {
		t->stale_timer->data = NULL;
		uv_close((uv_handle_t *)t->stale_timer, on_timer_closed);
	}
	resolver_request_destroy(t->req);
	if (t->origin.transport == TASK_TCP && t->origin.conn)
		tcp_conn_task_done(t->origin.conn);
	free(t);
}

/* ---- answering -------------------------------------------------------- */

/* The client's UDP limit: RFC 6891 §6.2.5, at least 512, at most ours. */
static uint16_t client_udp_limit(const struct worker *w, const struct dns_query_view *q)
{
	if (!q->has_edns)
		return DNS_UDP_MIN;
	uint16_t size = q->edns_udp_size < DNS_UDP_MIN ? DNS_UDP_MIN : q->edns_udp_size;
	uint16_t ours = w->ctx->max_udp_size;
	return size > ours ? ours : size;
}

/* Writes `answer` (with an Extended DNS Error when ede >= 0) to the client. */
static void task_reply(struct task *t, const ldns_pkt *answer, int ede)
{
	struct worker *w = t->w;
	struct dns_answer_opts ao = {
		.id = t->q.id,
		.rd = t->q.rd,
		.cd = t->q.cd,
		.qname_wire = t->q.qname,
		.qname_len = t->q.qname_len,
		.edns = t->q.has_edns,
		.edns_do = t->q.edns_do,
		.max_size =
			t->origin.transport == TASK_UDP ? client_udp_limit(w, &t->q) : DNS_MSG_MAX,
		.ede_code = ede,
	};
	int n = answer ? dns_write_answer(answer, &ao, w->wbuf, sizeof(w->wbuf)) : -ENOMEM;
	if (n > 0)
		reply(w, &t->origin, w->wbuf, (size_t)n);
	else
		reply_error(w, &t->origin, &t->q, DNS_RCODE_SERVFAIL);
	t->answered = true;
}

/* RFC 8767: answers the client from stale data now, if there is any. */
static bool task_reply_stale(struct task *t)
{
	int ede = -1;
	ldns_rdf *qname = dns_name_from_wire(t->q.qname, t->q.qname_len);
	ldns_pkt *pkt = qname ? resolver_stale_answer(&t->w->ctx->env, qname, t->q.qtype,
						      t->q.qclass, daemon_wallclock(), &ede)
			      : NULL;
	ldns_rdf_deep_free(qname);
	if (!pkt)
		return false;
	task_reply(t, pkt, ede);
	ldns_pkt_free(pkt);
	if (t->w->ctx->env.stats)
		atomic_fetch_add_explicit(&t->w->ctx->env.stats->stale_answers, 1,
					  memory_order_relaxed);
	log_qdebug(LOG_DAEMON, resolver_request_id(t->req),
		   "client answered from stale data, refresh goes on");
	return true;
}

static void task_answer(struct task *t)
{
	/* After a stale answer the resolution only refreshed the cache. */
	if (!t->answered)
		task_reply(t, resolver_answer(t->req), resolver_answer_ede(t->req));
	task_free(t);
}

static void on_stale_timer(uv_timer_t *timer)
{
	struct task *t = timer->data;
	if (t && !t->answered)
		task_reply_stale(t);
}

static bool task_step(struct task *t);

static void on_upstream(void *arg, const struct upstream_result *res)
{
	struct task *t = arg;
	t->upq = NULL;
	struct resolver_outcome o = {
		.server = res->server.ss_family == AF_UNSPEC ? NULL : &res->server,
		.hedged = res->hedged.ss_family == AF_UNSPEC ? NULL : &res->hedged,
		.wire = res->wire,
		.len = res->len,
		.tcp = res->tcp,
	};
	switch (res->status) {
	case UPSTREAM_OK:
		o.status = RESOLVER_OUTCOME_RESPONSE;
		break;
	case UPSTREAM_TIMEOUT:
		o.status = RESOLVER_OUTCOME_TIMEOUT;
		break;
	case UPSTREAM_UNREACHABLE:
	case UPSTREAM_LIMITED:
		o.status = RESOLVER_OUTCOME_UNREACHABLE;
		o.server = NULL;
		break;
	case UPSTREAM_REFUSED:
		o.server = NULL;
		o.status = RESOLVER_OUTCOME_ERROR;
		break;
	case UPSTREAM_NETERR:
		o.status = RESOLVER_OUTCOME_ERROR;
		break;
	}
	/* An authority came back: failures cached before now are void. */
	if (res->recovered)
		cache_note_recovery(t->w->ctx->cache);
	resolver_consume(t->req, daemon_wallclock(), &o);
	task_step(t);
}

/* Runs the resolver until it needs the network (true) or is done and the
 * task freed (false). */
static bool task_step(struct task *t)
{
	struct worker *w = t->w;
	uint64_t now = daemon_wallclock();
	for (;;) {
		struct resolver_send send;
		if (resolver_produce(t->req, now, &send) == RESOLVER_DONE) {
			task_answer(t);
			return false;
		}
		if (uv_now(&w->loop) - t->started_ms > w->ctx->resolution_timeout_ms) {
			log_qdebug(LOG_DAEMON, resolver_request_id(t->req),
				   "resolution took too long, SERVFAIL");
			if (!t->answered && !task_reply_stale(t))
				reply_error(w, &t->origin, &t->q, DNS_RCODE_SERVFAIL);
			task_free(t);
			return false;
		}
		struct upstream_request ur = {
			.qname = send.qname,
			.qtype = send.qtype,
			.qclass = send.qclass,
			.tcp = send.tcp,
			.candidates = send.servers,
			.ncandidates = send.nservers,
			.configured = send.configured,
			.zone = send.zone,
			.candidate_ns = send.server_ns,
			.avoid = send.avoid,
			.retry = send.retry,
		};
		if (upstream_query_start(w->upstream, &ur, on_upstream, t, &t->upq) == 0)
			return true;
		/* Could not even start (memory): count it as a failed attempt;
		 * the resolver's query limit bounds this loop. */
		struct resolver_outcome o = {.status = RESOLVER_OUTCOME_ERROR};
		resolver_consume(t->req, now, &o);
	}
}

/* RFC 8482 §4.2: answer ANY with one synthesized HINFO record. */
static void answer_any(struct worker *w, const struct task_origin *origin,
		       const struct dns_query_view *q)
{
	ldns_pkt *pkt = ldns_pkt_new();
	ldns_rdf *owner = dns_name_from_wire(q->qname, q->qname_len);
	ldns_rr *hinfo = NULL;
	if (owner)
		ldns_rr_new_frm_str(&hinfo, "x. 3600 IN HINFO \"RFC8482\" \"\"", 0, NULL, NULL);
	if (!pkt || !owner || !hinfo) {
		reply_error(w, origin, q, DNS_RCODE_SERVFAIL);
		goto out;
	}
	ldns_rdf_deep_free(ldns_rr_owner(hinfo));
	ldns_rr_set_owner(hinfo, owner);
	owner = NULL;
	ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, hinfo);
	hinfo = NULL;
	ldns_pkt_set_rcode(pkt, DNS_RCODE_NOERROR);
	struct dns_answer_opts ao = {
		.id = q->id,
		.rd = q->rd,
		.cd = q->cd,
		.qname_wire = q->qname,
		.qname_len = q->qname_len,
		.edns = q->has_edns,
		.edns_do = q->edns_do,
		.max_size = origin->transport == TASK_UDP ? client_udp_limit(w, q) : DNS_MSG_MAX,
		.ede_code = -1,
	};
	/* dns_write_answer takes qtype/qclass from the packet's question */
	ldns_rr *question = ldns_rr_new();
	if (question) {
		ldns_rr_set_owner(question, dns_name_from_wire(q->qname, q->qname_len));
		ldns_rr_set_type(question, LDNS_RR_TYPE_ANY);
		ldns_rr_set_class(question, q->qclass);
		ldns_rr_set_question(question, true);
		ldns_pkt_push_rr(pkt, LDNS_SECTION_QUESTION, question);
	}
	int n = dns_write_answer(pkt, &ao, w->wbuf, sizeof(w->wbuf));
	if (n > 0)
		reply(w, origin, w->wbuf, (size_t)n);
out:
	ldns_rr_free(hinfo);
	ldns_rdf_deep_free(owner);
	if (pkt)
		ldns_pkt_free(pkt);
}

/*
 * The resolution has to wait for the network. RFC 8767 §5: if the cache
 * holds stale data, the client gets it after stale-answer-client-timeout
 * (at once when that is 0) while the resolution goes on to refresh it.
 */
static void task_arm_stale(struct task *t, const ldns_rdf *qname)
{
	struct daemon_ctx *ctx = t->w->ctx;
	if (!resolver_has_stale(&ctx->env, qname, t->q.qtype, daemon_wallclock()))
		return;
	if (ctx->stale_client_timeout_ms == 0) {
		task_reply_stale(t);
		return;
	}
	t->stale_timer = malloc(sizeof(*t->stale_timer));
	if (!t->stale_timer)
		return;
	uv_timer_init(&t->w->loop, t->stale_timer);
	t->stale_timer->data = t;
	uv_timer_start(t->stale_timer, on_stale_timer, ctx->stale_client_timeout_ms, 0);
}

void task_handle_query(struct worker *w, const uint8_t *msg, size_t len,
		       const struct task_origin *origin, const struct sockaddr *peer)
{
	struct dns_query_view q;
	enum config_acl_action acl = config_acl_check(&w->ctx->cfg, peer);
	if (acl == CONFIG_ACL_DENY)
		return;
	enum dns_read_status st = dns_read_query(msg, len, &q);
	switch (st) {
	case DNS_READ_DROP:
		return;
	case DNS_READ_FORMERR:
		reply_error(w, origin, &q, DNS_RCODE_FORMERR);
		return;
	case DNS_READ_NOTIMP:
		reply_error(w, origin, &q, DNS_RCODE_NOTIMP);
		return;
	case DNS_READ_BADVERS:
		reply_error(w, origin, &q, DNS_RCODE_BADVERS);
		return;
	case DNS_READ_OK:
		break;
	}
	if (acl == CONFIG_ACL_REFUSE) {
		reply_error(w, origin, &q, DNS_RCODE_REFUSED);
		return;
	}
	/* Only the Internet class is resolved; zone transfers and other meta
	 * queries are not a resolver's business (RFC 6895 §3.1). */
	if (q.qclass != LDNS_RR_CLASS_IN || q.qtype == LDNS_RR_TYPE_AXFR ||
	    q.qtype == LDNS_RR_TYPE_IXFR || q.qtype == LDNS_RR_TYPE_MAILA ||
	    q.qtype == LDNS_RR_TYPE_MAILB || q.qtype == LDNS_RR_TYPE_OPT) {
		reply_error(w, origin, &q,
			    q.qtype == LDNS_RR_TYPE_OPT ? DNS_RCODE_FORMERR : DNS_RCODE_REFUSED);
		return;
	}
	if (q.qtype == LDNS_RR_TYPE_ANY) {
		answer_any(w, origin, &q);
		return;
	}
	if (w->stopping)
		return;

	struct task *t = calloc(1, sizeof(*t));
	ldns_rdf *qname = dns_name_from_wire(q.qname, q.qname_len);
	if (!t || !qname) {
		free(t);
		ldns_rdf_deep_free(qname);
		reply_error(w, origin, &q, DNS_RCODE_SERVFAIL);
		return;
	}
	t->w = w;
	t->origin = *origin;
	t->q = q;
	t->started_ms = uv_now(&w->loop);
	t->req =
		resolver_request_create(&w->ctx->env, qname, q.qtype, q.qclass, daemon_wallclock());
	if (!t->req) {
		ldns_rdf_deep_free(qname);
		free(t);
		reply_error(w, origin, &q, DNS_RCODE_SERVFAIL);
		return;
	}
	task_link(w, t);
	if (origin->transport == TASK_TCP)
		tcp_conn_task_begin(origin->conn);
	if (task_step(t))
		task_arm_stale(t, qname);
	ldns_rdf_deep_free(qname);
}

void task_cancel_all(struct worker *w)
{
	while (w->tasks)
		task_free(w->tasks);
}

void task_detach_conn(struct worker *w, struct tcp_conn *conn)
{
	/* The answers have nowhere to go; the resolution may still warm the
	 * cache, but a closed connection should not keep upstream busy. */
	struct task *t = w->tasks;
	while (t) {
		struct task *next = t->next;
		if (t->origin.transport == TASK_TCP && t->origin.conn == conn)
			task_free(t);
		t = next;
	}
}
