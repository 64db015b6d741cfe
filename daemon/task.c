/*
 * task — one client question on its worker: the glue between the client,
 * the iterator and the upstream layer.
 *
 * Checks what must be answered without resolving (refused clients,
 * malformed input, opcodes, classes and types we do not resolve), tries the
 * answer cache, then drives the sans-I/O resolver: every RESOLVER_SEND
 * becomes one upstream attempt, every upstream outcome is fed back, until
 * the resolver says DONE and reply.c writes the answer for the client
 * (client.h). Which transport the client used is not known here.
 *
 * Coalescing (coalesce.c keeps the table): a task waiting on the network is
 * findable by its question (per worker); an identical question arriving
 * meanwhile joins it as a waiter instead of starting a second resolution,
 * and gets the same answer in its own ID, letter case and EDNS shape. A
 * request never leaves its worker, so nothing here is locked; the same
 * question on two workers is resolved twice (the cache makes the second one
 * cheap).
 *
 * Serve-stale (RFC 8767 §5): when the cache holds stale data, the client
 * (and every waiter) gets it after stale-answer-client-timeout while the
 * resolution goes on to refresh the cache. A client that went away is
 * treated the same way: the resolution finishes, fills the cache, and its
 * answer is sent nowhere. Holds no resolution logic.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/task.h"
#include "daemon/client.h"
#include "daemon/coalesce.h"
#include "daemon/context.h"
#include "daemon/reply.h"
#include "cache/cache.h"
#include "util/log.h"

struct task {
	struct task *prev, *next;	/* the worker's list of tasks */
	struct coalesce_entry joinable; /* key and waiters; registered while on the network */
	struct task_env *env;
	struct client client; /* held until the task is freed */
	struct dns_query_view q;
	struct resolver_request *req;
	struct upstream_query *upq;
	uint64_t started_ms;	 /* uv_now: the monotonic clock, for the deadline */
	uv_timer_t *stale_timer; /* stale-answer-client-timeout, when armed */
	bool answered;		 /* the client already has an answer (stale, early) */
};

static struct task *task_of(struct coalesce_entry *e)
{
	return (struct task *)(void *)((char *)e - offsetof(struct task, joinable));
}

static void stats_add_stale(struct task_env *env)
{
	if (env->ctx->env.stats)
		atomic_fetch_add_explicit(&env->ctx->env.stats->stale_answers, 1,
					  memory_order_relaxed);
}

/* Answers every waiter with `answer` (SERVFAIL when NULL) and frees them. */
static void waiters_reply(struct task *t, const ldns_pkt *answer, int ede)
{
	struct coalesce_waiter *wt = coalesce_take_waiters(&t->joinable);
	while (wt) {
		struct coalesce_waiter *next = wt->next;
		reply_answer(&t->env->buf, &wt->client, &wt->q, answer, ede);
		coalesce_waiter_free(wt);
		wt = next;
	}
}

/* Answers every waiter SERVFAIL with the shedding EDE and frees them. */
static void task_shed_waiters(struct task *t)
{
	struct coalesce_waiter *wt = coalesce_take_waiters(&t->joinable);
	while (wt) {
		struct coalesce_waiter *next = wt->next;
		reply_error_ede(&t->env->buf, &wt->client, &wt->q, DNS_RCODE_SERVFAIL,
				DNS_EDE_OTHER, TASK_SHED_TEXT);
		coalesce_waiter_free(wt);
		wt = next;
	}
}

/* ---- the task list ---------------------------------------------------- */

static void task_link(struct task_env *env, struct task *t)
{
	if (!env->tasks)
		env->oldest = t;
	t->next = env->tasks;
	if (env->tasks)
		env->tasks->prev = t;
	env->tasks = t;
	env->ntasks++;
}

static void on_timer_closed(uv_handle_t *h)
{
	free(h);
}

static void task_free(struct task *t)
{
	struct task_env *env = t->env;
	coalesce_remove(&env->inflight, &t->joinable);
	struct coalesce_waiter *wt = coalesce_take_waiters(&t->joinable);
	while (wt) {
		struct coalesce_waiter *next = wt->next;
		coalesce_waiter_free(wt);
		wt = next;
	}
	if (env->oldest == t)
		env->oldest = t->prev;
	if (t->prev)
		t->prev->next = t->next;
	else
		env->tasks = t->next;
	if (t->next)
		t->next->prev = t->prev;
	env->ntasks--;
	if (t->upq)
		upstream_query_cancel(t->upq);
	if (t->stale_timer) {
		t->stale_timer->data = NULL;
		uv_close((uv_handle_t *)t->stale_timer, on_timer_closed);
	}
	resolver_request_destroy(t->req);
	client_release(&t->client);
	free(t);
}

/* ---- answering -------------------------------------------------------- */

/* The stale answer for the task's question, or NULL (caller frees). */
static ldns_pkt *task_stale_answer(struct task *t, int *ede)
{
	ldns_rdf *qname = dns_name_from_wire(t->q.qname, t->q.qname_len);
	ldns_pkt *pkt = qname ? resolver_stale_answer(&t->env->ctx->env, qname, t->q.qtype,
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
		reply_answer(&t->env->buf, &t->client, &t->q, pkt, ede);
		t->answered = true;
		stats_add_stale(t->env);
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
	struct task_env *env = t->env;
	uint8_t *buf = env->buf.b;
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
	int n = dns_write_answer(answer, &ao, buf, sizeof(env->buf.b));
	if (n <= 0 || (ldns_pkt_tc(answer)))
		return;
	uint16_t offsets[256];
	uint32_t ttl = 0;
	int count = dns_answer_ttl_offsets(buf, (size_t)n, offsets, 256, &ttl);
	if (count <= 0)
		return; /* nothing to count down (e.g. NODATA without SOA): not kept */
	if (soa_min < ttl)
		ttl = soa_min;
	cache_answer_put(env->ctx->cache, buf, (size_t)n, offsets, (size_t)count, ttl,
			 daemon_wallclock());
}

/* The fast path: a fresh cached answer, patched for this client. */
static bool answer_from_cache(struct task_env *env, const struct client *client,
			      const struct dns_query_view *q)
{
	uint8_t *buf = env->buf.b;
	size_t cap = sizeof(env->buf.b);
	int n = cache_answer_get(env->ctx->cache, q->qname, q->qname_len, q->qtype,
				 daemon_wallclock(), buf, cap - 64);
	if (n <= 0)
		return false;
	n = dns_patch_cached_answer(buf, (size_t)n, cap, q);
	if (n <= 0 || (size_t)n > client_size_limit(client, q))
		return false; /* too big for this client: the slow path truncates */
	client_send(client, buf, (size_t)n);
	if (env->ctx->env.stats)
		atomic_fetch_add_explicit(&env->ctx->env.stats->requests, 1, memory_order_relaxed);
	return true;
}

static void task_answer(struct task *t)
{
	const ldns_pkt *answer = resolver_answer(t->req);
	int ede = resolver_answer_ede(t->req);
	answer_cache_store(t, answer, ede);
	/* After a stale answer the resolution only refreshed the cache. */
	if (!t->answered)
		reply_answer(&t->env->buf, &t->client, &t->q, answer, ede);
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
		cache_note_recovery(t->env->ctx->cache);
	resolver_consume(t->req, daemon_wallclock(), &o);
	task_step(t);
}

/* Runs the resolver until it needs the network (true) or is done and the
 * task freed (false). */
static bool task_step(struct task *t)
{
	struct task_env *env = t->env;
	uint64_t now = daemon_wallclock();
	for (;;) {
		struct resolver_send send;
		if (resolver_produce(t->req, now, &send) == RESOLVER_DONE) {
			task_answer(t);
			return false;
		}
		if (uv_now(env->loop) - t->started_ms > env->ctx->resolution_timeout_ms) {
			log_qdebug(LOG_DAEMON, resolver_request_id(t->req),
				   "resolution took too long, SERVFAIL");
			if (!task_reply_stale(t)) {
				if (!t->answered)
					reply_error(&env->buf, &t->client, &t->q,
						    DNS_RCODE_SERVFAIL);
				waiters_reply(t, NULL, -1);
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
			/* Its prefix's fair share upstream; waiters share it. */
			.client = (const struct sockaddr *)&t->client.peer,
		};
		if (upstream_query_start(env->upstream, &ur, on_upstream, t, &t->upq) == 0)
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
	struct task_env *env = t->env;
	const struct daemon_ctx *ctx = env->ctx;
	if (!resolver_has_stale(&ctx->env, qname, t->q.qtype, daemon_wallclock()))
		return;
	if (ctx->stale_client_timeout_ms == 0) {
		task_reply_stale(t);
		return;
	}
	t->stale_timer = malloc(sizeof(*t->stale_timer));
	if (!t->stale_timer)
		return;
	uv_timer_init(env->loop, t->stale_timer);
	t->stale_timer->data = t;
	uv_timer_start(t->stale_timer, on_stale_timer, ctx->stale_client_timeout_ms, 0);
}

/* Joins the task in flight for the same question; false if there is none
 * (or it has no room), and the caller resolves the question itself. */
static bool task_join(struct task_env *env, const struct coalesce_key *key,
		      const struct client *client, const struct dns_query_view *q)
{
	struct coalesce_entry *e = coalesce_find(&env->inflight, key);
	if (!e)
		return false;
	struct task *leader = task_of(e);
	if (leader->answered) {
		/* The leader's client already got stale data: so does this one. */
		int ede = -1;
		ldns_pkt *pkt = task_stale_answer(leader, &ede);
		if (!pkt)
			return false;
		reply_answer(&env->buf, client, q, pkt, ede);
		stats_add_stale(env);
		ldns_pkt_free(pkt);
		return true;
	}
	return coalesce_join(e, client, q) == 0;
}

/* What needs no resolution; true when answered (or dropped) here. */
static bool answer_without_resolving(struct task_env *env, const uint8_t *msg, size_t len,
				     const struct client *client, struct dns_query_view *q)
{
	struct reply_buf *buf = &env->buf;
	enum config_acl_action acl =
		config_acl_check(&env->ctx->cfg, (const struct sockaddr *)&client->peer);
	if (acl == CONFIG_ACL_DENY)
		return true;
	switch (dns_read_query(msg, len, q)) {
	case DNS_READ_DROP:
		return true;
	case DNS_READ_FORMERR:
		reply_error(buf, client, q, DNS_RCODE_FORMERR);
		return true;
	case DNS_READ_NOTIMP:
		reply_error(buf, client, q, DNS_RCODE_NOTIMP);
		return true;
	case DNS_READ_BADVERS:
		reply_error(buf, client, q, DNS_RCODE_BADVERS);
		return true;
	case DNS_READ_OK:
		break;
	}
	if (acl == CONFIG_ACL_REFUSE) {
		reply_error(buf, client, q, DNS_RCODE_REFUSED);
		return true;
	}
	/* RD=0 asks what the cache holds without recursion: cache snooping,
	 * which tells a third party what the clients have been visiting. As
	 * Unbound's `allow` (and Knot Resolver's refuse_nord, PowerDNS
	 * Recursor's allow-no-rd=no), only allow_snoop answers it; allow_setrd
	 * treats every query as recursive, for clients that forget the bit. */
	if (!q->rd && acl == CONFIG_ACL_ALLOW_SETRD) {
		q->rd = true; /* answered as a recursive query, RD=1 echoed */
	} else if (!q->rd && acl != CONFIG_ACL_ALLOW_SNOOP) {
		if (env->ctx->env.stats)
			atomic_fetch_add_explicit(&env->ctx->env.stats->refused_nonrecursive, 1,
						  memory_order_relaxed);
		reply_error(buf, client, q, DNS_RCODE_REFUSED);
		return true;
	}
	/* Only the Internet class is resolved; zone transfers and other meta
	 * queries are not a resolver's business (RFC 6895 §3.1). */
	if (q->qtype == LDNS_RR_TYPE_OPT) {
		reply_error(buf, client, q, DNS_RCODE_FORMERR);
		return true;
	}
	if (q->qclass != LDNS_RR_CLASS_IN || q->qtype == LDNS_RR_TYPE_AXFR ||
	    q->qtype == LDNS_RR_TYPE_IXFR || q->qtype == LDNS_RR_TYPE_MAILA ||
	    q->qtype == LDNS_RR_TYPE_MAILB) {
		reply_error(buf, client, q, DNS_RCODE_REFUSED);
		return true;
	}
	if (q->qtype == LDNS_RR_TYPE_ANY) {
		reply_any(buf, client, q);
		return true;
	}
	return env->stopping;
}

/*
 * num-queries-per-thread is reached: Unbound's jostle, simplified to the
 * oldest resolution. If it has waited more than jostle-timeout it is ended
 * (a slow or attacking question must not keep the worker's slots) and true
 * is returned; else the new query is shed (false). Either way it is
 * counted, and nobody is left to time out: unlike Unbound, which drops
 * both silently, the jostled clients get stale data if the cache has it,
 * else SERVFAIL, and the shed query SERVFAIL, both with EDE 0 (RFC 8914
 * has no code for overload) and TASK_SHED_TEXT. A dropped query is a
 * client that waits its timeout and asks again, often twice, while the
 * overload lasts; an answer costs one send and tells it at once to try
 * its next server. Only clients the ACL allows get here, and the answer
 * is no larger than the query plus the EDE option: no amplification.
 */
static bool task_make_room(struct task_env *env, const struct client *client,
			   const struct dns_query_view *q)
{
	struct task *oldest = env->oldest;
	struct resolver_stats *st = env->ctx->env.stats;
	if (oldest && uv_now(env->loop) - oldest->started_ms > env->ctx->cfg.jostle_timeout_ms) {
		log_qdebug(LOG_DAEMON, resolver_request_id(oldest->req),
			   "num-queries-per-thread reached, the oldest resolution jostled out");
		if (st)
			atomic_fetch_add_explicit(&st->tasks_jostled, 1, memory_order_relaxed);
		if (!task_reply_stale(oldest)) {
			if (!oldest->answered)
				reply_error_ede(&env->buf, &oldest->client, &oldest->q,
						DNS_RCODE_SERVFAIL, DNS_EDE_OTHER, TASK_SHED_TEXT);
			task_shed_waiters(oldest);
		}
		task_free(oldest);
		return true;
	}
	log_debug(LOG_DAEMON, "num-queries-per-thread reached, query shed with SERVFAIL");
	if (st)
		atomic_fetch_add_explicit(&st->tasks_dropped, 1, memory_order_relaxed);
	reply_error_ede(&env->buf, client, q, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER, TASK_SHED_TEXT);
	return false;
}

void task_handle_query(struct task_env *env, const uint8_t *msg, size_t len,
		       const struct client *client)
{
	struct dns_query_view q;
	if (answer_without_resolving(env, msg, len, client, &q) ||
	    answer_from_cache(env, client, &q))
		return;
	struct task *t = calloc(1, sizeof(*t));
	if (!t) {
		reply_error(&env->buf, client, &q, DNS_RCODE_SERVFAIL);
		return;
	}
	coalesce_key_build(&env->inflight, &q, &t->joinable.key);
	if (task_join(env, &t->joinable.key, client, &q) ||
	    (env->ntasks >= env->ctx->cfg.queries_per_thread && !task_make_room(env, client, &q))) {
		free(t);
		return;
	}
	t->q = q;
	t->env = env;
	t->client = *client;
	ldns_rdf *qname = dns_name_from_wire(t->q.qname, t->q.qname_len);
	t->started_ms = uv_now(env->loop);
	t->req = qname ? resolver_request_create(&env->ctx->env, qname, t->q.qtype, t->q.qclass,
						 daemon_wallclock())
		       : NULL;
	if (!t->req) {
		reply_error(&env->buf, client, &t->q, DNS_RCODE_SERVFAIL);
		ldns_rdf_deep_free(qname);
		free(t);
		return;
	}
	task_link(env, t);
	client_hold(&t->client);
	if (task_step(t)) {
		/* Waiting on the network: identical questions join this one
		 * (unless the table cannot be allocated: then they do not). */
		coalesce_add(&env->inflight, &t->joinable);
		int ede = -1;
		const ldns_pkt *early = resolver_early_answer(t->req, &ede);
		if (early) {
			/* Answered now (cached failure, stale data); the resolution
			 * goes on behind it as a breaker probe only. */
			reply_answer(&env->buf, &t->client, &t->q, early, ede);
			t->answered = true;
		} else {
			task_arm_stale(t, qname);
		}
	}
	ldns_rdf_deep_free(qname);
}

void task_env_init(struct task_env *env, uv_loop_t *loop, struct daemon_ctx *ctx,
		   struct upstream *upstream)
{
	env->loop = loop;
	env->ctx = ctx;
	env->upstream = upstream;
	env->tasks = NULL;
	env->oldest = NULL;
	env->ntasks = 0;
	env->stopping = false;
	coalesce_table_init(&env->inflight);
}

void task_env_stop(struct task_env *env)
{
	env->stopping = true;
	while (env->tasks)
		task_free(env->tasks);
	coalesce_table_deinit(&env->inflight);
}
