/*
 * task — one client question on its worker: the glue between the wire, the
 * iterator and the upstream layer.
 *
 * Checks what must be answered without resolving (malformed input, refused
 * clients, opcodes, classes and types we do not resolve), then drives the
 * sans-I/O resolver: every RESOLVER_SEND becomes one upstream attempt, every
 * upstream outcome is fed back, until the resolver says DONE and the answer
 * goes back the way the query came (reply.c).
 *
 * Coalescing: a task waiting on the network is findable by its question
 * (per worker); an identical question arriving meanwhile joins it as a
 * waiter instead of starting a second resolution, and gets the same answer
 * in its own ID, letter case and EDNS shape. A request never leaves its
 * worker, so nothing here is locked; the same question on two workers is
 * resolved twice (the cache makes the second one cheap).
 *
 * Serve-stale (RFC 8767 §5): when the cache holds stale data, the client
 * (and every waiter) gets it after stale-answer-client-timeout while the
 * resolution goes on to refresh the cache. Holds no resolution logic.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/context.h"
#include "cache/cache.h"
#include "util/log.h"

#define TASK_BUCKETS 1024    /* coalescing table size per worker */
#define TASK_MAX_WAITERS 256 /* beyond this, a question gets its own resolution */

/* A client that asked the same question as a task already in flight. */
struct waiter {
	struct waiter *next;
	struct task_origin origin;
	struct dns_query_view q;
};

struct task {
	struct task *prev, *next; /* the worker's list of tasks */
	struct task *hnext;	  /* coalescing bucket chain, when registered */
	bool registered;
	struct worker *w;
	struct task_origin origin;
	struct dns_query_view q;
	/* Coalescing key: lower-cased qname, qtype, qclass, DO and CD. */
	uint8_t key[DNS_NAME_MAX + 5];
	uint16_t key_len;
	uint32_t key_hash;
	struct waiter *waiters;
	unsigned nwaiters;
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

static void stats_add_stale(struct worker *w)
{
	if (w->ctx->env.stats)
		atomic_fetch_add_explicit(&w->ctx->env.stats->stale_answers, 1,
					  memory_order_relaxed);
}

/* ---- coalescing ------------------------------------------------------- */

static void key_build(struct task *t)
{
	const struct dns_query_view *q = &t->q;
	memcpy(t->key, q->qname, q->qname_len);
	dns_name_lower(t->key, q->qname_len);
	size_t n = q->qname_len;
	t->key[n++] = (uint8_t)(q->qtype >> 8);
	t->key[n++] = (uint8_t)q->qtype;
	t->key[n++] = (uint8_t)(q->qclass >> 8);
	t->key[n++] = (uint8_t)q->qclass;
	t->key[n++] = (uint8_t)((q->edns_do ? 1 : 0) | (q->cd ? 2 : 0));
	t->key_len = (uint16_t)n;
	uint32_t h = 2166136261u; /* FNV-1a: keys are per worker, not attacker-visible */
	for (size_t i = 0; i < n; i++)
		h = (h ^ t->key[i]) * 16777619u;
	t->key_hash = h;
}

static struct task *inflight_find(struct worker *w, const struct task *probe)
{
	if (!w->inflight)
		return NULL;
	for (struct task *t = w->inflight[probe->key_hash % TASK_BUCKETS]; t; t = t->hnext)
		if (t->key_hash == probe->key_hash && t->key_len == probe->key_len &&
		    memcmp(t->key, probe->key, t->key_len) == 0)
			return t;
	return NULL;
}

static void inflight_add(struct task *t)
{
	struct worker *w = t->w;
	if (!w->inflight)
		w->inflight = calloc(TASK_BUCKETS, sizeof(*w->inflight));
	if (!w->inflight)
		return;
	struct task **head = &w->inflight[t->key_hash % TASK_BUCKETS];
	t->hnext = *head;
	*head = t;
	t->registered = true;
}

static void inflight_remove(struct task *t)
{
	if (!t->registered)
		return;
	for (struct task **p = &t->w->inflight[t->key_hash % TASK_BUCKETS]; *p; p = &(*p)->hnext)
		if (*p == t) {
			*p = t->hnext;
			break;
		}
	t->registered = false;
}

static void waiter_free(struct waiter *wt)
{
	if (wt->origin.transport == TASK_TCP && wt->origin.conn)
		tcp_conn_task_done(wt->origin.conn);
	free(wt);
}

/* Answers every waiter with `answer` and forgets them. */
static void waiters_reply(struct task *t, const ldns_pkt *answer, int ede)
{
	while (t->waiters) {
		struct waiter *wt = t->waiters;
		t->waiters = wt->next;
		reply_answer(t->w, &wt->origin, &wt->q, answer, ede);
		waiter_free(wt);
	}
	t->nwaiters = 0;
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
	inflight_remove(t);
	while (t->waiters) {
		struct waiter *wt = t->waiters;
		t->waiters = wt->next;
		waiter_free(wt);
	}
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

/* The stale answer for the task's question, or NULL (caller frees). */
static ldns_pkt *task_stale_answer(struct task *t, int *ede)
{
	ldns_rdf *qname = dns_name_from_wire(t->q.qname, t->q.qname_len);
	ldns_pkt *pkt = qname ? resolver_stale_answer(&t->w->ctx->env, qname, t->q.qtype,
						      t->q.qclass, daemon_wallclock(), ede)
			      : NULL;
	ldns_rdf_deep_free(qname);
	return pkt;
}

/* RFC 8767: answers the client and the waiters from stale data now. */
static bool task_reply_stale(struct task *t)
{
	int ede = -1;
	ldns_pkt *pkt = task_stale_answer(t, &ede);
	if (!pkt)
		return false;
	if (!t->answered) {
		reply_answer(t->w, &t->origin, &t->q, pkt, ede);
		t->answered = true;
		stats_add_stale(t->w);
	}
	waiters_reply(t, pkt, ede);
	ldns_pkt_free(pkt);
	log_qdebug(LOG_DAEMON, resolver_request_id(t->req),
		   "client answered from stale data, refresh goes on");
	return true;
}

/*
 * Keeps a fresh, complete answer for the fast path (cache_answer_*): only
 * NOERROR/NXDOMAIN answers the resolver produced from fresh data (no EDE:
 * nothing stale, nothing guarded), written once without OPT.
 */
static void answer_cache_store(struct task *t, const ldns_pkt *answer, int ede)
{
	struct worker *w = t->w;
	ldns_pkt_rcode rcode = answer ? ldns_pkt_get_rcode(answer) : LDNS_RCODE_SERVFAIL;
	if (ede >= 0 || (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN))
		return;
	/* RFC 2308 §5: a negative answer lives min(SOA TTL, SOA MINIMUM). */
	uint32_t soa_min = UINT32_MAX;
	const ldns_rr_list *ns = ldns_pkt_authority(answer);
	for (size_t i = 0; i < ldns_rr_list_rr_count(ns); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ns, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(rr) == 7) {
			uint32_t m = ldns_rdf2native_int32(ldns_rr_rdf(rr, 6));
			if (m < soa_min)
				soa_min = m;
		}
	}
	struct dns_answer_opts ao = {
		.id = 0,
		.qname_wire = t->q.qname,
		.qname_len = t->q.qname_len,
		.max_size = DNS_MSG_MAX,
		.ede_code = -1,
	};
	int n = dns_write_answer(answer, &ao, w->wbuf, sizeof(w->wbuf));
	if (n <= 0 || (ldns_pkt_tc(answer)))
		return;
	uint16_t offsets[256];
	uint32_t ttl = 0;
	int count = dns_answer_ttl_offsets(w->wbuf, (size_t)n, offsets, 256, &ttl);
	if (count <= 0)
		return; /* nothing to count down (e.g. NODATA without SOA): not kept */
	if (soa_min < ttl)
		ttl = soa_min;
	cache_answer_put(w->ctx->cache, w->wbuf, (size_t)n, offsets, (size_t)count, ttl,
			 daemon_wallclock());
}

/* The fast path: a fresh cached answer, patched for this client. */
static bool answer_from_cache(struct worker *w, const struct task_origin *origin,
			      const struct dns_query_view *q)
{
	int n = cache_answer_get(w->ctx->cache, q->qname, q->qname_len, q->qtype,
				 daemon_wallclock(), w->wbuf, sizeof(w->wbuf) - 64);
	if (n <= 0)
		return false;
	n = dns_patch_cached_answer(w->wbuf, (size_t)n, sizeof(w->wbuf), q);
	if (n <= 0 || (size_t)n > reply_size_limit(w, origin, q))
		return false; /* too big for this client: the slow path truncates */
	reply_raw(w, origin, w->wbuf, (size_t)n);
	if (w->ctx->env.stats)
		atomic_fetch_add_explicit(&w->ctx->env.stats->requests, 1, memory_order_relaxed);
	return true;
}

static void task_answer(struct task *t)
{
	const ldns_pkt *answer = resolver_answer(t->req);
	int ede = resolver_answer_ede(t->req);
	answer_cache_store(t, answer, ede);
	/* After a stale answer the resolution only refreshed the cache. */
	if (!t->answered)
		reply_answer(t->w, &t->origin, &t->q, answer, ede);
	waiters_reply(t, answer, ede);
	task_free(t);
}

static void on_stale_timer(uv_timer_t *timer)
{
	struct task *t = timer->data;
	if (t)
		task_reply_stale(t);
}

/* ---- driving the resolver --------------------------------------------- */

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
			if (!task_reply_stale(t)) {
				if (!t->answered)
					reply_error(w, &t->origin, &t->q, DNS_RCODE_SERVFAIL);
				while (t->waiters) {
					struct waiter *wt = t->waiters;
					t->waiters = wt->next;
					reply_error(w, &wt->origin, &wt->q, DNS_RCODE_SERVFAIL);
					waiter_free(wt);
				}
			}
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
			.rd = send.rd,
			.probe_only = send.probe_only,
		};
		if (upstream_query_start(w->upstream, &ur, on_upstream, t, &t->upq) == 0)
			return true;
		/* Could not even start (memory): count it as a failed attempt;
		 * the resolver's query limit bounds this loop. */
		struct resolver_outcome o = {.status = RESOLVER_OUTCOME_ERROR};
		resolver_consume(t->req, now, &o);
	}
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

/* Joins the task in flight for the same question; false if there is none. */
static bool task_join(struct worker *w, struct task *probe, const struct task_origin *origin)
{
	struct task *leader = inflight_find(w, probe);
	if (!leader || leader->nwaiters >= TASK_MAX_WAITERS)
		return false;
	if (leader->answered) {
		/* The leader's client already got stale data: so does this one. */
		int ede = -1;
		ldns_pkt *pkt = task_stale_answer(leader, &ede);
		if (!pkt)
			return false;
		reply_answer(w, origin, &probe->q, pkt, ede);
		stats_add_stale(w);
		ldns_pkt_free(pkt);
		return true;
	}
	struct waiter *wt = calloc(1, sizeof(*wt));
	if (!wt)
		return false;
	wt->origin = *origin;
	wt->q = probe->q;
	if (origin->transport == TASK_TCP)
		tcp_conn_task_begin(origin->conn);
	wt->next = leader->waiters;
	leader->waiters = wt;
	leader->nwaiters++;
	return true;
}

/* What needs no resolution; true when answered (or dropped) here. */
static bool answer_without_resolving(struct worker *w, const uint8_t *msg, size_t len,
				     const struct task_origin *origin, const struct sockaddr *peer,
				     struct dns_query_view *q)
{
	enum config_acl_action acl = config_acl_check(&w->ctx->cfg, peer);
	if (acl == CONFIG_ACL_DENY)
		return true;
	switch (dns_read_query(msg, len, q)) {
	case DNS_READ_DROP:
		return true;
	case DNS_READ_FORMERR:
		reply_error(w, origin, q, DNS_RCODE_FORMERR);
		return true;
	case DNS_READ_NOTIMP:
		reply_error(w, origin, q, DNS_RCODE_NOTIMP);
		return true;
	case DNS_READ_BADVERS:
		reply_error(w, origin, q, DNS_RCODE_BADVERS);
		return true;
	case DNS_READ_OK:
		break;
	}
	if (acl == CONFIG_ACL_REFUSE) {
		reply_error(w, origin, q, DNS_RCODE_REFUSED);
		return true;
	}
	/* Only the Internet class is resolved; zone transfers and other meta
	 * queries are not a resolver's business (RFC 6895 §3.1). */
	if (q->qtype == LDNS_RR_TYPE_OPT) {
		reply_error(w, origin, q, DNS_RCODE_FORMERR);
		return true;
	}
	if (q->qclass != LDNS_RR_CLASS_IN || q->qtype == LDNS_RR_TYPE_AXFR ||
	    q->qtype == LDNS_RR_TYPE_IXFR || q->qtype == LDNS_RR_TYPE_MAILA ||
	    q->qtype == LDNS_RR_TYPE_MAILB) {
		reply_error(w, origin, q, DNS_RCODE_REFUSED);
		return true;
	}
	if (q->qtype == LDNS_RR_TYPE_ANY) {
		reply_any(w, origin, q);
		return true;
	}
	return w->stopping;
}

void task_handle_query(struct worker *w, const uint8_t *msg, size_t len,
		       const struct task_origin *origin, const struct sockaddr *peer)
{
	struct dns_query_view q;
	if (answer_without_resolving(w, msg, len, origin, peer, &q) ||
	    answer_from_cache(w, origin, &q))
		return;
	struct task *t = calloc(1, sizeof(*t));
	if (!t) {
		reply_error(w, origin, &q, DNS_RCODE_SERVFAIL);
		return;
	}
	t->q = q;
	t->w = w;
	t->origin = *origin;
	key_build(t);
	if (task_join(w, t, origin)) {
		free(t);
		return;
	}
	ldns_rdf *qname = dns_name_from_wire(t->q.qname, t->q.qname_len);
	t->started_ms = uv_now(&w->loop);
	t->req = qname ? resolver_request_create(&w->ctx->env, qname, t->q.qtype, t->q.qclass,
						 daemon_wallclock())
		       : NULL;
	if (!t->req) {
		reply_error(w, origin, &t->q, DNS_RCODE_SERVFAIL);
		ldns_rdf_deep_free(qname);
		free(t);
		return;
	}
	task_link(w, t);
	if (origin->transport == TASK_TCP)
		tcp_conn_task_begin(origin->conn);
	if (task_step(t)) {
		/* Waiting on the network: identical questions join this one. */
		inflight_add(t);
		int ede = -1;
		const ldns_pkt *early = resolver_early_answer(t->req, &ede);
		if (early) {
			/* Answered now (cached failure, stale data); the resolution
			 * goes on behind it as a breaker probe only. */
			reply_answer(w, &t->origin, &t->q, early, ede);
			t->answered = true;
		} else {
			task_arm_stale(t, qname);
		}
	}
	ldns_rdf_deep_free(qname);
}

void task_cancel_all(struct worker *w)
{
	while (w->tasks)
		task_free(w->tasks);
	free(w->inflight);
	w->inflight = NULL;
}

void task_detach_conn(struct worker *w, struct tcp_conn *conn)
{
	/* The answers have nowhere to go; a closed connection should not keep
	 * upstream busy. Waiters on that connection are dropped from their
	 * leader, whose own client may still want its answer. */
	struct task *t = w->tasks;
	while (t) {
		struct task *next = t->next;
		for (struct waiter **p = &t->waiters; *p;) {
			struct waiter *wt = *p;
			if (wt->origin.transport == TASK_TCP && wt->origin.conn == conn) {
				*p = wt->next;
				t->nwaiters--;
				waiter_free(wt);
			} else {
				p = &wt->next;
			}
		}
		if (t->origin.transport == TASK_TCP && t->origin.conn == conn) {
			if (t->waiters) {
				/* Others wait on this resolution: it goes on for them. */
				tcp_conn_task_done(conn);
				t->origin.conn = NULL;
				t->answered = true;
			} else {
				task_free(t);
			}
		}
		t = next;
	}
}
