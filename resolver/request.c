/*
 * request — one client question's resolution, as a state machine.
 *
 * A request is a stack of queries: the client's question at the bottom,
 * above it the sub-queries it needs (priming the root, addresses of
 * glueless name servers). resolver_produce() runs the top query until it
 * needs an upstream answer (RESOLVER_SEND) or the client's question is done;
 * resolver_consume() feeds one outcome back to the top query.
 *
 * This file decides what each response class means for the query (follow a
 * referral, follow a CNAME, finish with data or a negative answer, move
 * QNAME minimisation one label down, try another server). It does no I/O
 * and reads no clock. Every loop is capped (resolver_limits) so hostile or
 * broken authorities end in SERVFAIL quickly, never in a spin.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/impl.h"
#include "cache/cache.h"
#include "dns/dns.h"
#include "util/log.h"
#include "util/random.h"

/* Upper bound of produce-loop iterations without a send, as a last guard. */
#define PRODUCE_GUARD 4096

void resolver_opts_init(struct resolver_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->qname_minimisation = true;
	opts->harden_glue = true;
	opts->do_ip4 = true;
	opts->do_ip6 = true;
	opts->upstream_port = 53;
	opts->limits.max_upstream_queries = 64;
	opts->limits.max_referrals = 32;
	opts->limits.max_cname_chain = 12;
	opts->limits.max_ns_fetches = 4;
	opts->limits.max_depth = 5;
	cache_policy_init(&opts->policy);
	opts->guard_cross_checks = 2;
}

static struct query *query_new(const ldns_rdf *qname, uint16_t qtype, uint16_t qclass,
			       struct query *parent)
{
	struct query *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->qname = ldns_rdf_clone(qname);
	q->orig_qname = ldns_rdf_clone(qname);
	q->answer = ldns_rr_list_new();
	q->authority = ldns_rr_list_new();
	if (!q->qname || !q->orig_qname || !q->answer || !q->authority) {
		ldns_rdf_deep_free(q->qname);
		ldns_rdf_deep_free(q->orig_qname);
		ldns_rr_list_free(q->answer);
		ldns_rr_list_free(q->authority);
		free(q);
		return NULL;
	}
	ldns_dname2canonical(q->qname);
	q->qtype = qtype;
	q->qclass = qclass;
	q->parent = parent;
	q->depth = parent ? parent->depth + 1 : 0;
	q->state = QUERY_START;
	q->rcode = DNS_RCODE_SERVFAIL;
	q->tcp_server = -1;
	return q;
}

static void query_free(struct query *q)
{
	if (!q)
		return;
	zone_cut_clear(&q->cut);
	ldns_rdf_deep_free(q->qname);
	ldns_rdf_deep_free(q->orig_qname);
	ldns_rdf_deep_free(q->sname);
	ldns_rr_list_deep_free(q->answer);
	ldns_rr_list_deep_free(q->authority);
	free(q);
}

static void query_finish(struct query *q, uint8_t rcode)
{
	q->rcode = rcode;
	q->state = QUERY_DONE;
}

/* The query moved on (new zone cut, next label, another name): the next
 * send is a first attempt again, with no provider to avoid. */
static void query_progress(struct query *q)
{
	q->step_attempts = 0;
	q->last_failed.ss_family = AF_UNSPEC;
}

/* `server` failed this query (timeout, lame, unusable): not asked again. */
static void query_mark_failed(struct query *q, const struct sockaddr_storage *server)
{
	if (!server)
		return;
	zone_cut_mark_failed(&q->cut, server);
	q->last_failed = *server;
	if (q->tcp_server >= 0 && (size_t)q->tcp_server < q->cut.naddrs &&
	    q->cut.addr_failed[q->tcp_server])
		q->tcp_server = -1;
}

static bool on_stack(const struct resolver_request *req, const ldns_rdf *name, uint16_t type)
{
	for (const struct query *q = req->top; q; q = q->parent)
		if (q->qtype == type && rrset_name_equal(q->qname, name))
			return true;
	return false;
}

/* Ends every sub-query and the client's question with SERVFAIL. */
static void request_fail(struct resolver_request *req, const char *why)
{
	log_qdebug(LOG_RESOLVER, req->id, "giving up: %s", why);
	while (req->top != req->goal) {
		struct query *q = req->top;
		req->top = q->parent;
		query_free(q);
	}
	ldns_rr_list_deep_free(req->goal->answer);
	req->goal->answer = ldns_rr_list_new();
	query_finish(req->goal, DNS_RCODE_SERVFAIL);
}

struct resolver_request *resolver_request_create(const struct resolver_env *env,
						 const ldns_rdf *qname, uint16_t qtype,
						 uint16_t qclass, uint64_t now)
{
	struct resolver_request *req = calloc(1, sizeof(*req));
	if (!req)
		return NULL;
	req->env = env;
	req->id = util_random_u32();
	req->ede = -1;
	req->early_ede = -1;
	req->epoch = cache_recovery_epoch(env->cache);
	if (env->stats)
		atomic_fetch_add_explicit(&env->stats->requests, 1, memory_order_relaxed);
	req->goal = query_new(qname, qtype, qclass, NULL);
	if (!req->goal) {
		free(req);
		return NULL;
	}
	req->top = req->goal;
	return req;
}

void resolver_request_destroy(struct resolver_request *req)
{
	if (!req)
		return;
	while (req->top) {
		struct query *q = req->top;
		req->top = q->parent;
		query_free(q);
	}
	if (req->answer)
		ldns_pkt_free(req->answer);
	if (req->early)
		ldns_pkt_free(req->early);
	free(req);
}

unsigned resolver_request_upstream_count(const struct resolver_request *req)
{
	return req->upstream_queries;
}

uint32_t resolver_request_id(const struct resolver_request *req)
{
	return req->id;
}

const ldns_pkt *resolver_answer(const struct resolver_request *req)
{
	return req->answer;
}

int resolver_answer_ede(const struct resolver_request *req)
{
	return req->ede;
}

static void stat_inc(const struct resolver_request *req, size_t offset)
{
	if (req->env->stats)
		atomic_fetch_add_explicit(
			(atomic_uint_fast64_t *)((char *)req->env->stats + offset), 1,
			memory_order_relaxed);
}
#define STAT_INC(req, field) stat_inc((req), offsetof(struct resolver_stats, field))

/* ---- the cache policy: stale answers, cached failures, the guard ------ */

/*
 * A stale answer to the client's question into *slot (the final answer, or
 * the early one given while the resolution goes on) with its EDE; false
 * when the cache has none.
 */
static bool request_stale_into(struct resolver_request *req, uint64_t now, ldns_pkt **slot,
			       int *ede)
{
	struct query *g = req->goal;
	ldns_pkt *pkt =
		resolver_stale_answer(req->env, g->orig_qname, g->qtype, g->qclass, now, ede);
	if (!pkt)
		return false;
	if (*slot)
		ldns_pkt_free(*slot);
	*slot = pkt;
	STAT_INC(req, stale_answers);
	log_qdebug(LOG_RESOLVER, req->id, "answered from stale data");
	return true;
}

static bool request_answer_stale(struct resolver_request *req, uint64_t now)
{
	return request_stale_into(req, now, &req->answer, &req->ede);
}

static bool request_early_stale(struct resolver_request *req, uint64_t now)
{
	return request_stale_into(req, now, &req->early, &req->early_ede);
}

/*
 * Before asking anyone for the client's question: is a failure cached (RFC
 * 9520), did a refresh fail recently (RFC 8767), or is the empty-answer
 * guard holding? True when the request was answered here.
 */
static bool request_check_policy(struct resolver_request *req, struct query *q, uint64_t now)
{
	const struct resolver_env *env = req->env;
	struct cache_qstate st;
	req->policy_checked = true;
	if (!cache_qstate_get(env->cache, q->qname, q->qtype, now, &st))
		return false;
	if (st.failures && st.fail_silent && st.epoch != cache_recovery_epoch(env->cache)) {
		/* The servers were silent, and an authority recovered since: the
		 * cached failure is void. (A name its servers answered SERVFAIL
		 * for stays failed: a server being back says nothing about it.) */
		st.failures = 0;
		st.failed_at = 0;
		st.fail_until = 0;
	}
	bool have_stale = resolver_has_stale(env, q->qname, q->qtype, now);
	switch (cache_policy_refresh(&env->opts->policy, &st, have_stale, now)) {
	case CACHE_REFRESH_ASK:
		return false;
	case CACHE_REFRESH_GUARD_HOLD: {
		ldns_rr_list *last = resolver_last_good(env, q->qname, q->qtype, now);
		if (!last)
			return false; /* nothing left to hold on to: ask */
		rrset_append_clone(q->answer, last);
		ldns_rr_list_deep_free(last);
		query_finish(q, DNS_RCODE_NOERROR);
		req->ede = DNS_EDE_STALE_ANSWER;
		req->guard_decided = true; /* the hold goes on; nothing to record */
		STAT_INC(req, guard_holds);
		return true;
	}
	case CACHE_REFRESH_STALE_HOLD:
	case CACHE_REFRESH_FAILED:
		/*
		 * The client is answered now: stale data, or (RFC 9520 §3.2)
		 * SERVFAIL with EDE 22 so stub resolvers do not retry into the
		 * storm. The resolution goes on behind it as a probe only:
		 * upstream/ sends nothing unless a breaker of the zone is due a
		 * probe, so a recovered authority is noticed within a cool-down,
		 * not after the failure cache's growing timer.
		 */
		if (!request_early_stale(req, now)) {
			req->early = resolver_answer_skeleton(req, DNS_RCODE_SERVFAIL);
			if (!req->early) {
				query_finish(q, DNS_RCODE_SERVFAIL);
				return true;
			}
			req->early_ede = DNS_EDE_NO_REACHABLE_AUTHORITY;
			STAT_INC(req, failures_cached);
		}
		req->probe_only = true;
		return false;
	}
	return false;
}

const ldns_pkt *resolver_early_answer(const struct resolver_request *req, int *ede)
{
	*ede = req->early_ede;
	return req->early;
}

/* Remembers how resolving the client's question ended (qstate). */
static void request_note_outcome(struct resolver_request *req, uint64_t now)
{
	const struct resolver_env *env = req->env;
	struct query *g = req->goal;
	struct cache_qstate st;
	if (req->failure_cached || req->guard_decided)
		return; /* already recorded */
	if (req->probe_only)
		return; /* a zone health probe: nothing learned about this name */
	bool have = cache_qstate_get(env->cache, g->orig_qname, g->qtype, now, &st);
	if (g->rcode == DNS_RCODE_SERVFAIL) {
		STAT_INC(req, failures);
		/* Stamped with the epoch the request started in: a failure
		 * of attempts sent before an authority came back is void. */
		if (st.epoch != req->epoch)
			st.failures = 0; /* failures before a recovery do not count */
		cache_policy_note_failure(&env->opts->policy, &st, now);
		st.epoch = req->epoch;
		st.fail_silent = req->unreachable;
		cache_qstate_put(env->cache, g->orig_qname, g->qtype, &st, now);
	} else if (have && cache_policy_note_success(&st)) {
		cache_qstate_put(env->cache, g->orig_qname, g->qtype, &st, now);
	}
}

/*
 * The empty-answer guard (DESIGN.md, "Why it exists"). The server just
 * answered NODATA/NXDOMAIN for q's name and type. If the cache holds
 * positive data for it, the emptiness is suspect: ask other servers of the
 * zone first; if they all agree, keep answering the last good data until the
 * emptiness has held for the whole window (cache_policy_guard_empty).
 * True when the response was handled here (cross-check or hold).
 */
static bool query_guard_empty(struct resolver_request *req, struct query *q,
			      const struct sockaddr_storage *server, bool nxdomain, uint64_t now)
{
	const struct resolver_env *env = req->env;
	if (q->parent || !resolver_guard_applies(env->opts, q->qname))
		return false;
	ldns_rr_list *last = resolver_last_good(env, q->qname, q->qtype, now);
	if (!last)
		return false;
	char nbuf[DNS_NAME_MAX * 4 + 8];
	dns_name_str(q->qname, nbuf, sizeof(nbuf));
	const char *what = nxdomain ? "NXDOMAIN" : "NODATA";

	q->empty_votes++;
	query_mark_failed(q, server);
	struct sockaddr_storage others[RESOLVER_MAX_ADDRS];
	if (q->empty_votes <= env->opts->guard_cross_checks &&
	    zone_cut_candidates(&q->cut, others, NULL, RESOLVER_MAX_ADDRS) > 0) {
		log_qinfo(LOG_RESOLVER, req->id,
			  "empty-answer guard: %s type %u answered %s where the cache has data, "
			  "asking another server",
			  nbuf, q->qtype, what);
		STAT_INC(req, guard_cross_checks);
		ldns_rr_list_deep_free(last);
		return true; /* ITERATE goes on with the next server */
	}

	struct cache_qstate st;
	cache_qstate_get(env->cache, q->qname, q->qtype, now, &st);
	bool first = st.empty_since == 0;
	enum cache_guard verdict = cache_policy_guard_empty(
		&env->opts->policy, &st, nxdomain ? DNS_RCODE_NXDOMAIN : DNS_RCODE_NOERROR, now);
	/* A hold is a decision, not a failure: no failure back-off. */
	st.failures = 0;
	st.failed_at = 0;
	st.fail_until = 0;
	cache_qstate_put(env->cache, q->qname, q->qtype, &st, now);
	req->guard_decided = true;
	if (verdict == CACHE_GUARD_ACCEPT) {
		log_warn(LOG_RESOLVER,
			 "empty-answer guard: %s type %u stayed %s for %us: accepting it, dropping "
			 "the last good answer",
			 nbuf, q->qtype, what, env->opts->policy.empty_hold);
		STAT_INC(req, guard_accepts);
		ldns_rr_list_deep_free(last);
		return false; /* the caller stores and answers the negative */
	}
	if (first)
		log_warn(LOG_RESOLVER,
			 "empty-answer guard: %s type %u answered %s by %u server(s) where the "
			 "cache has %zu record(s): keeping the last good answer for up to %us",
			 nbuf, q->qtype, what, q->empty_votes, ldns_rr_list_rr_count(last),
			 env->opts->policy.empty_hold);
	rrset_append_clone(q->answer, last);
	ldns_rr_list_deep_free(last);
	query_finish(q, DNS_RCODE_NOERROR);
	req->ede = DNS_EDE_STALE_ANSWER;
	STAT_INC(req, guard_holds);
	return true;
}

/* ---- following aliases ---------------------------------------------- */

/* True when `name` already appeared as an alias owner in this answer. */
static bool alias_seen(const struct query *q, const ldns_rdf *name)
{
	if (rrset_name_equal(q->orig_qname, name))
		return true;
	for (size_t i = 0; i < ldns_rr_list_rr_count(q->answer); i++) {
		ldns_rr *rr = ldns_rr_list_rr(q->answer, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME &&
		    rrset_name_equal(ldns_rr_owner(rr), name))
			return true;
	}
	return false;
}

/*
 * Moves the query to `target` after an alias link. False (and the query
 * finished with SERVFAIL) on a loop or when the chain is too long.
 */
static bool query_follow_alias(struct resolver_request *req, struct query *q,
			       const ldns_rdf *target)
{
	if (++q->cname_links > req->env->opts->limits.max_cname_chain) {
		log_qdebug(LOG_RESOLVER, req->id, "CNAME chain longer than %u",
			   req->env->opts->limits.max_cname_chain);
		query_finish(q, DNS_RCODE_SERVFAIL);
		return false;
	}
	if (alias_seen(q, target)) {
		log_qdebug(LOG_RESOLVER, req->id, "CNAME loop");
		query_finish(q, DNS_RCODE_SERVFAIL);
		return false;
	}
	ldns_rdf *copy = ldns_rdf_clone(target);
	if (!copy) {
		query_finish(q, DNS_RCODE_SERVFAIL);
		return false;
	}
	ldns_dname2canonical(copy);
	ldns_rdf_deep_free(q->qname);
	q->qname = copy;
	return true;
}

/* ---- START: the cache, then the zone cut ----------------------------- */

static void query_start(struct resolver_request *req, struct query *q, uint64_t now)
{
	const struct resolver_env *env = req->env;
	struct cache_result res;

	if (!q->priming) {
		enum cache_status st = cache_lookup(env->cache, q->qname, q->qtype, now, &res);
		if (st == CACHE_FRESH) {
			/* Glue and referral data are good enough to reach servers,
			 * not to answer with: those are refetched from the zone. */
			bool usable = res.kind != CACHE_KIND_RRSET ||
				      res.rank >= CACHE_RANK_ANSWER_NONAUTH || q->parent;
			if (usable) {
				if (res.kind == CACHE_KIND_RRSET) {
					rrset_append_clone(q->answer, res.rrs);
					query_finish(q, DNS_RCODE_NOERROR);
				} else {
					rrset_append_clone(q->authority, res.rrs);
					query_finish(q, res.kind == CACHE_KIND_NXDOMAIN
								? DNS_RCODE_NXDOMAIN
								: DNS_RCODE_NOERROR);
				}
				cache_result_clear(&res);
				return;
			}
		}
		if (st != CACHE_MISS)
			cache_result_clear(&res);
		if (q->qtype != LDNS_RR_TYPE_CNAME &&
		    cache_lookup(env->cache, q->qname, LDNS_RR_TYPE_CNAME, now, &res) !=
			    CACHE_MISS) {
			bool follow = res.kind == CACHE_KIND_RRSET &&
				      res.rank >= CACHE_RANK_ANSWER_NONAUTH &&
				      ldns_rr_list_rr_count(res.rrs) > 0 && res.ttl > 0;
			if (follow) {
				ldns_rr *cname = ldns_rr_list_rr(res.rrs, 0);
				rrset_append_clone(q->answer, res.rrs);
				query_follow_alias(req, q, ldns_rr_rdf(cname, 0));
				cache_result_clear(&res);
				return; /* START again with the target (or DONE) */
			}
			cache_result_clear(&res);
		}
	}

	if (q == req->goal && !req->policy_checked && q->cname_links == 0 &&
	    request_check_policy(req, q, now))
		return;

	if (q->priming) {
		zone_cut_from_hints(&q->cut, env);
	} else if (zone_cut_find(&q->cut, env, q->qname, q->qtype, now) && !req->primed) {
		/* RFC 8109: learn the root NS set before anything else. */
		req->primed = true;
		ldns_rdf *root = ldns_dname_new_frm_str(".");
		struct query *p =
			root ? query_new(root, LDNS_RR_TYPE_NS, LDNS_RR_CLASS_IN, q) : NULL;
		ldns_rdf_deep_free(root);
		if (!p) {
			request_fail(req, "out of memory");
			return;
		}
		p->priming = true;
		req->top = p;
		return; /* q stays in START and looks again once primed */
	}
	q->state = QUERY_ITERATE;
	q->qmin_labels = 0;
	q->tcp_server = -1;
	query_progress(q);
}

/* ---- ITERATE: pick what to send --------------------------------------- */

/* The name to send: under QNAME minimisation one label below the cut. */
static void choose_sname(const struct resolver_request *req, struct query *q)
{
	const struct resolver_opts *opts = req->env->opts;
	int total = dns_name_label_count(q->qname);
	int cut = dns_name_label_count(q->cut.zone);
	ldns_rdf_deep_free(q->sname);
	q->sname = NULL;
	/* A background probe behind an early answer asks the zone's SOA, not
	 * the client's name: the name is not asked again within its hold
	 * (RFC 8767 stale-refresh-time), the zone's health is. */
	if (req->probe_only) {
		q->sname = ldns_rdf_clone(q->cut.zone);
		q->stype = LDNS_RR_TYPE_SOA;
		if (q->sname)
			return;
	}
	/* A forwarder resolves the whole name itself: nothing to minimise. */
	if (opts->qname_minimisation && !q->qmin_off && !q->priming && !q->cut.forward &&
	    q->qtype != LDNS_RR_TYPE_DS) {
		if (q->qmin_labels < cut + 1)
			q->qmin_labels = cut + 1;
		if (q->qmin_labels < total) {
			q->sname = dns_name_suffix(q->qname, q->qmin_labels);
			q->stype = LDNS_RR_TYPE_NS;
			if (q->sname)
				return;
		}
	}
	q->sname = ldns_rdf_clone(q->qname);
	q->stype = q->qtype;
}

/*
 * Every server of a cached delegation failed. The child's own idea of its
 * servers (cached with higher trust) may be wrong where the parent's glue is
 * right, or the cached data may be outdated: ask the parent zone again for a
 * fresh referral (Unbound's parent-side fallback). Bounded per query.
 */
static bool query_fall_back_to_parent(struct resolver_request *req, struct query *q, uint64_t now)
{
	int labels = dns_name_label_count(q->cut.zone);
	/* Only a delegation taken from the cache can be outdated; one this
	 * request was just given is what the parent says now. */
	/* And only when its servers answered something useless (lame, SERVFAIL):
	 * servers that are silent are down, and the parent would hand back the
	 * same delegation; asking it would only add traffic to an outage. */
	if (labels == 0 || !q->cut.from_cache || !q->cut.answered ||
	    q->parent_fallbacks >= RESOLVER_MAX_PARENT_FALLBACKS)
		return false;
	ldns_rdf *parent = dns_name_suffix(q->cut.zone, labels - 1);
	if (!parent)
		return false;
	q->parent_fallbacks++;
	zone_cut_find(&q->cut, req->env, parent, 0, now);
	ldns_rdf_deep_free(parent);
	q->qmin_labels = 0;
	q->tcp_server = -1;
	query_progress(q);
	return true;
}

static bool query_iterate(struct resolver_request *req, struct query *q, struct resolver_send *out,
			  uint64_t now)
{
	const struct resolver_env *env = req->env;
	size_t n;
	if (q->tcp_server >= 0 && (size_t)q->tcp_server < q->cut.naddrs &&
	    !q->cut.addr_failed[q->tcp_server]) {
		size_t nns = q->cut.ns ? ldns_rr_list_rr_count(q->cut.ns) : 0;
		uint8_t k = q->cut.addr_ns[q->tcp_server];
		req->send_addrs[0] = q->cut.addrs[q->tcp_server];
		req->send_ns[0] = k < nns ? ldns_rr_rdf(ldns_rr_list_rr(q->cut.ns, k), 0) : NULL;
		n = 1;
	} else {
		q->tcp_server = -1;
		n = zone_cut_candidates(&q->cut, req->send_addrs, req->send_ns, RESOLVER_MAX_ADDRS);
	}
	if (n == 0) {
		const ldns_rdf *ns = NULL;
		uint16_t type = 0;
		while (q->depth < env->opts->limits.max_depth &&
		       zone_cut_next_fetch(&q->cut, env, &ns, &type)) {
			/* A name we are already resolving further down the stack:
			 * following it would loop (e.g. mutual glueless delegations). */
			if (on_stack(req, ns, type))
				continue;
			struct query *sub = query_new(ns, type, LDNS_RR_CLASS_IN, q);
			if (!sub) {
				request_fail(req, "out of memory");
				return false;
			}
			req->top = sub;
			return false;
		}
		char zbuf[DNS_NAME_MAX * 4 + 8];
		dns_name_str(q->cut.zone, zbuf, sizeof(zbuf));
		if (query_fall_back_to_parent(req, q, now)) {
			log_qdebug(LOG_RESOLVER, req->id,
				   "no usable server left for zone %s, asking its parent again",
				   zbuf);
			return false;
		}
		log_qdebug(LOG_RESOLVER, req->id, "no usable server left for zone %s", zbuf);
		/* None of them answered at all: RFC 8914 EDE 22 tells stubs that
		 * retrying now is pointless. */
		if (!q->cut.answered)
			req->unreachable = true;
		query_finish(q, DNS_RCODE_SERVFAIL);
		return false;
	}
	if (req->upstream_queries >= env->opts->limits.max_upstream_queries) {
		request_fail(req, "upstream query limit reached");
		return false;
	}
	choose_sname(req, q);
	if (!q->sname) {
		request_fail(req, "out of memory");
		return false;
	}
	out->qname = q->sname;
	out->qtype = q->stype;
	out->qclass = q->qclass;
	out->tcp = q->tcp_server >= 0;
	out->zone = q->cut.zone;
	out->servers = req->send_addrs;
	out->server_ns = req->send_ns;
	out->nservers = n;
	out->retry = q->step_attempts > 0;
	out->avoid = q->last_failed.ss_family != AF_UNSPEC ? &q->last_failed : NULL;
	q->step_attempts++;
	out->configured =
		q->cut.configured || zone_cut_addrs_from_hints(req->env, req->send_addrs, n);
	out->rd = q->cut.forward;
	out->probe_only = req->probe_only;
	req->upstream_queries++;
	return true;
}

/* A finished sub-query hands its addresses to the zone cut that wanted them. */
static void subquery_done(struct resolver_request *req, struct query *parent, struct query *sub,
			  uint64_t now)
{
	if (sub->priming)
		return;
	/* Whatever the outcome, the walk may have cached glue for the NS
	 * names the parent waits for (e.g. a referral on the way). */
	zone_cut_add_cached_addrs(&parent->cut, req->env, now);
	if (sub->rcode != DNS_RCODE_NOERROR)
		return;
	ldns_rr_list *addrs = ldns_rr_list_new();
	for (size_t i = 0; addrs && i < ldns_rr_list_rr_count(sub->answer); i++) {
		ldns_rr *rr = ldns_rr_list_rr(sub->answer, i);
		ldns_rr_type t = ldns_rr_get_type(rr);
		if (t != LDNS_RR_TYPE_A && t != LDNS_RR_TYPE_AAAA)
			continue;
		/* Through a CNAME the owner differs: the address is the NS name's. */
		ldns_rr *copy = ldns_rr_clone(rr);
		if (!copy)
			continue;
		ldns_rdf_deep_free(ldns_rr_owner(copy));
		ldns_rr_set_owner(copy, ldns_rdf_clone(sub->orig_qname));
		if (!ldns_rr_list_push_rr(addrs, copy))
			ldns_rr_free(copy);
	}
	zone_cut_add_addrs(&parent->cut, req->env, addrs);
	ldns_rr_list_deep_free(addrs);
	/* The NS name is often a server of the zone the sub-query ended in:
	 * the parent's glue for it is a second opinion worth keeping when the
	 * child's own answer points somewhere broken. */
	zone_cut_copy_addrs_of(&parent->cut, req->env, &sub->cut, sub->orig_qname);
}

enum resolver_step resolver_produce(struct resolver_request *req, uint64_t now,
				    struct resolver_send *out)
{
	for (int guard = 0; guard < PRODUCE_GUARD; guard++) {
		if (req->answer)
			return RESOLVER_DONE;
		struct query *q = req->top;
		switch (q->state) {
		case QUERY_DONE:
			if (q == req->goal) {
				request_note_outcome(req, now);
				if (q->rcode != DNS_RCODE_SERVFAIL ||
				    !request_answer_stale(req, now)) {
					req->answer = resolver_build_answer(req);
					/* Known-dead servers: tell stubs not to retry. */
					if (q->rcode == DNS_RCODE_SERVFAIL && req->unreachable &&
					    req->ede < 0)
						req->ede = DNS_EDE_NO_REACHABLE_AUTHORITY;
				}
				continue;
			}
			req->top = q->parent;
			subquery_done(req, q->parent, q, now);
			query_free(q);
			continue;
		case QUERY_START:
			query_start(req, q, now);
			continue;
		case QUERY_ITERATE:
			if (query_iterate(req, q, out, now))
				return RESOLVER_SEND;
			continue;
		}
	}
	request_fail(req, "iteration guard");
	req->answer = resolver_build_answer(req);
	return RESOLVER_DONE;
}

/* ---- consuming responses --------------------------------------------- */

static ldns_rr_list *authority_soa(const ldns_pkt *resp, const ldns_rdf *zone)
{
	ldns_rr_list *out = ldns_rr_list_new();
	const ldns_rr_list *ns = ldns_pkt_authority(resp);
	for (size_t i = 0; out && i < ldns_rr_list_rr_count(ns); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ns, i);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA ||
		    !dns_name_is_subdomain(ldns_rr_owner(rr), zone))
			continue;
		ldns_rr *copy = ldns_rr_clone(rr);
		if (copy && !ldns_rr_list_push_rr(out, copy))
			ldns_rr_free(copy);
		break; /* one SOA is all a negative answer carries */
	}
	return out;
}

/* A negative answer for `name`: remember it and finish. */
static void query_negative(struct resolver_request *req, struct query *q, const ldns_pkt *resp,
			   const ldns_rdf *name, bool nxdomain, uint64_t now)
{
	ldns_rr_list *soa = authority_soa(resp, q->cut.zone);
	enum cache_rank rank =
		ldns_pkt_aa(resp) ? CACHE_RANK_AUTHORITY_AUTH : CACHE_RANK_AUTHORITY_NONAUTH;
	cache_put_negative(req->env->cache, name, q->qtype,
			   nxdomain ? CACHE_KIND_NXDOMAIN : CACHE_KIND_NODATA, soa, rank, now);
	rrset_append_clone(q->authority, soa);
	ldns_rr_list_deep_free(soa);
	query_finish(q, nxdomain ? DNS_RCODE_NXDOMAIN : DNS_RCODE_NOERROR);
}

/* The deepest NS owner in the authority section between `zone` and sname. */
static const ldns_rdf *referral_zone(const ldns_pkt *resp, const ldns_rdf *sname,
				     const ldns_rdf *zone)
{
	const ldns_rdf *best = NULL;
	const ldns_rr_list *ns = ldns_pkt_authority(resp);
	for (size_t i = 0; i < ldns_rr_list_rr_count(ns); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ns, i);
		const ldns_rdf *owner = ldns_rr_owner(rr);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS || rrset_name_equal(owner, zone) ||
		    !dns_name_is_subdomain(owner, zone) || !dns_name_is_subdomain(sname, owner))
			continue;
		if (!best || dns_name_label_count(owner) > dns_name_label_count(best))
			best = owner;
	}
	return best;
}

/* Moves the query to a new zone cut `child` served by `ns`, with glue. */
static void query_descend(struct resolver_request *req, struct query *q, const ldns_pkt *resp,
			  const ldns_rdf *child, const ldns_rr_list *ns, uint64_t now)
{
	const struct resolver_env *env = req->env;
	if (++req->referrals > env->opts->limits.max_referrals) {
		request_fail(req, "too many referrals");
		return;
	}
	/* Glue must come from the delegating zone's bailiwick (harden-glue). */
	ldns_rdf *parent_zone = ldns_rdf_clone(q->cut.zone);
	ldns_rr_list *glue = ldns_rr_list_new();
	const ldns_rr_list *add = ldns_pkt_additional(resp);
	for (size_t i = 0; glue && i < ldns_rr_list_rr_count(add); i++) {
		ldns_rr *rr = ldns_rr_list_rr(add, i);
		ldns_rr_type t = ldns_rr_get_type(rr);
		if (t != LDNS_RR_TYPE_A && t != LDNS_RR_TYPE_AAAA)
			continue;
		if (env->opts->harden_glue &&
		    !dns_name_is_subdomain(ldns_rr_owner(rr), parent_zone))
			continue;
		ldns_rr *copy = ldns_rr_clone(rr);
		if (copy && !ldns_rr_list_push_rr(glue, copy))
			ldns_rr_free(copy);
	}
	ldns_rdf *child_copy = ldns_rdf_clone(child);
	zone_cut_set(&q->cut, child_copy, ns);
	zone_cut_add_addrs(&q->cut, env, glue);
	zone_cut_add_cached_addrs(&q->cut, env, now);
	ldns_rr_list_deep_free(glue);
	ldns_rdf_deep_free(parent_zone);
	ldns_rdf_deep_free(child_copy);
	q->qmin_labels = 0;
	q->tcp_server = -1;
	query_progress(q);
}

/* Follows the CNAME/DNAME chain inside a response; finishes or restarts. */
static void query_on_alias(struct resolver_request *req, struct query *q, const ldns_pkt *resp,
			   uint64_t now)
{
	const ldns_rr_list *an = ldns_pkt_answer(resp);
	for (;;) {
		ldns_rr_list *cname = rrset_extract(an, q->qname, LDNS_RR_TYPE_CNAME);
		ldns_rdf *target = NULL;
		if (cname && ldns_rr_list_rr_count(cname) > 0) {
			rrset_append_clone(q->answer, cname);
			target = ldns_rdf_clone(ldns_rr_rdf(ldns_rr_list_rr(cname, 0), 0));
		} else {
			/* RFC 6672 §2.2: DNAME at an ancestor: synthesize the CNAME. */
			for (size_t i = 0; i < ldns_rr_list_rr_count(an) && !target; i++) {
				ldns_rr *rr = ldns_rr_list_rr(an, i);
				const ldns_rdf *owner = ldns_rr_owner(rr);
				if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_DNAME ||
				    rrset_name_equal(owner, q->qname) ||
				    !dns_name_is_subdomain(q->qname, owner) ||
				    !dns_name_is_subdomain(owner, q->cut.zone))
					continue;
				target = resolver_dname_substitute(q->qname, owner,
								   ldns_rr_rdf(rr, 0));
				if (!target) {
					ldns_rr_list_deep_free(cname);
					query_finish(q, DNS_RCODE_SERVFAIL);
					return;
				}
				ldns_rr *dname = ldns_rr_clone(rr);
				ldns_rr *syn = ldns_rr_new();
				if (dname && syn) {
					ldns_rr_set_owner(syn, ldns_rdf_clone(q->qname));
					ldns_rr_set_type(syn, LDNS_RR_TYPE_CNAME);
					ldns_rr_set_class(syn, LDNS_RR_CLASS_IN);
					ldns_rr_set_ttl(syn, ldns_rr_ttl(rr));
					ldns_rr_push_rdf(syn, ldns_rdf_clone(target));
					ldns_rr_list_push_rr(q->answer, dname);
					ldns_rr_list_push_rr(q->answer, syn);
				} else {
					ldns_rr_free(dname);
					ldns_rr_free(syn);
				}
			}
		}
		ldns_rr_list_deep_free(cname);
		if (!target)
			break;
		bool ok = query_follow_alias(req, q, target);
		ldns_rdf_deep_free(target);
		if (!ok)
			return;
		if (!dns_name_is_subdomain(q->qname, q->cut.zone))
			break; /* another zone: ask its servers */
		ldns_rr_list *data = rrset_extract(an, q->qname, q->qtype);
		if (data && ldns_rr_list_rr_count(data) > 0) {
			rrset_append_clone(q->answer, data);
			ldns_rr_list_deep_free(data);
			query_finish(q, DNS_RCODE_NOERROR);
			return;
		}
		ldns_rr_list_deep_free(data);
	}
	/* The server is authoritative for the chain's end and says it is empty. */
	bool in_zone = dns_name_is_subdomain(q->qname, q->cut.zone);
	ldns_pkt_rcode rcode = ldns_pkt_get_rcode(resp);
	/* A forwarder's word on its zone is final too (it is not authoritative). */
	if (in_zone && (ldns_pkt_aa(resp) || q->cut.forward) &&
	    !referral_zone(resp, q->qname, q->cut.zone)) {
		query_negative(req, q, resp, q->qname, rcode == LDNS_RCODE_NXDOMAIN, now);
		return;
	}
	/* Otherwise resolve the target from the top. */
	zone_cut_clear(&q->cut);
	q->state = QUERY_START;
}

static bool is_minimised(const struct query *q)
{
	return q->stype != q->qtype || !rrset_name_equal(q->sname, q->qname);
}

static void query_on_response(struct resolver_request *req, struct query *q, const ldns_pkt *resp,
			      enum resolver_class cls, const struct sockaddr_storage *server,
			      uint64_t now)
{
	const struct resolver_env *env = req->env;
	bool minimised = is_minimised(q);

	switch (cls) {
	case RESOLVER_CLASS_ANSWER:
	case RESOLVER_CLASS_CNAME:
	case RESOLVER_CLASS_NXDOMAIN:
	case RESOLVER_CLASS_NODATA:
	case RESOLVER_CLASS_REFERRAL:
		resolver_store_response(env, resp, q->cut.zone, now);
		break;
	default:
		break;
	}

	switch (cls) {
	case RESOLVER_CLASS_ANSWER: {
		ldns_rr_list *data =
			q->stype == LDNS_RR_TYPE_ANY
				? resolver_extract_any(ldns_pkt_answer(resp), q->sname)
				: rrset_extract(ldns_pkt_answer(resp), q->sname, q->stype);
		if (minimised) {
			/* NS data at an intermediate name from the server we asked:
			 * it serves the child too (or gave us the parent's copy).
			 * Either way the same servers can take the next label, as
			 * Knot Resolver does; only referrals move the zone cut. */
			q->qmin_labels++;
			query_progress(q);
		} else {
			if (q->empty_votes > 0) {
				char nbuf[DNS_NAME_MAX * 4 + 8];
				log_qinfo(LOG_RESOLVER, req->id,
					  "empty-answer guard: another server has data for %s type "
					  "%u",
					  dns_name_str(q->qname, nbuf, sizeof(nbuf)), q->qtype);
				STAT_INC(req, guard_rescued);
			}
			rrset_append_clone(q->answer, data);
			query_finish(q, DNS_RCODE_NOERROR);
		}
		ldns_rr_list_deep_free(data);
		return;
	}
	case RESOLVER_CLASS_CNAME:
		if (minimised) {
			/* An alias above the name: only the full question can tell. */
			q->qmin_off = true;
			return;
		}
		query_on_alias(req, q, resp, now);
		return;
	case RESOLVER_CLASS_NXDOMAIN:
		if (minimised) {
			/* Relaxed minimisation: some servers answer NXDOMAIN for
			 * empty non-terminals; ask the full name before believing it. */
			q->qmin_off = true;
			return;
		}
		if (query_guard_empty(req, q, server, true, now))
			return;
		query_negative(req, q, resp, q->qname, true, now);
		return;
	case RESOLVER_CLASS_NODATA:
		if (minimised) {
			q->qmin_labels++; /* not a zone cut: one label deeper */
			query_progress(q);
			return;
		}
		if (query_guard_empty(req, q, server, false, now))
			return;
		query_negative(req, q, resp, q->qname, false, now);
		return;
	case RESOLVER_CLASS_REFERRAL: {
		const ldns_rdf *child = referral_zone(resp, q->sname, q->cut.zone);
		ldns_rdf *zone = ldns_rdf_clone(child);
		ldns_rr_list *ns = rrset_extract(ldns_pkt_authority(resp), zone, LDNS_RR_TYPE_NS);
		query_descend(req, q, resp, zone, ns, now);
		ldns_rr_list_deep_free(ns);
		ldns_rdf_deep_free(zone);
		return;
	}
	case RESOLVER_CLASS_EMPTY:
		if (minimised) {
			q->qmin_labels++;
			query_progress(q);
			return;
		}
		if (q->cut.forward) {
			/* A recursive forwarder's empty NOERROR is a NODATA. */
			query_negative(req, q, resp, q->qname, false, now);
			return;
		}
		/* Lame: neither data nor a referral nor authority. */
		query_mark_failed(q, server);
		return;
	case RESOLVER_CLASS_TRUNCATED:
	case RESOLVER_CLASS_ERROR:
		break; /* handled by the caller */
	}
}

void resolver_consume(struct resolver_request *req, uint64_t now,
		      const struct resolver_outcome *outcome)
{
	struct query *q = req->top;
	if (req->answer || q->state != QUERY_ITERATE || !q->sname)
		return; /* nothing was asked */
	const struct sockaddr_storage *server = outcome->server;
	if (req->probe_only) {
		/* The probe's outcome feeds upstream/'s breakers (a success
		 * closes them and voids cached failures); the client has its
		 * answer already. */
		request_fail(req, "background probe done");
		return;
	}

	if (outcome->status != RESOLVER_OUTCOME_RESPONSE) {
		static const char *const what[] = {
			[RESOLVER_OUTCOME_TIMEOUT] = "timeout",
			[RESOLVER_OUTCOME_ERROR] = "network error",
			[RESOLVER_OUTCOME_UNREACHABLE] = "servers known dead or limits reached",
		};
		log_qdebug(LOG_RESOLVER, req->id, "%s", what[outcome->status]);
		if (outcome->status == RESOLVER_OUTCOME_UNREACHABLE)
			req->unreachable = true;
		else
			req->asked_network = true;
		if (server && outcome->status != RESOLVER_OUTCOME_UNREACHABLE) {
			query_mark_failed(q, server);
			query_mark_failed(q, outcome->hedged);
		} else {
			/* Nobody was asked (policy, breakers, budget): none of the
			 * candidates can be asked now. */
			for (size_t i = 0; i < q->cut.naddrs; i++)
				q->cut.addr_failed[i] = true;
		}
		q->tcp_server = -1;
		return;
	}
	ldns_pkt *resp = NULL;
	if (dns_parse(outcome->wire, outcome->len, &resp) != 0) {
		log_qdebug(LOG_RESOLVER, req->id, "unparsable response");
		query_mark_failed(q, server);
		q->tcp_server = -1;
		return;
	}
	q->cut.answered = true;
	req->asked_network = true;
	unsigned bad = rrset_scrub_malformed(resp);
	if (bad)
		log_qdebug(LOG_RESOLVER, req->id, "dropped %u malformed record(s) from a response",
			   bad);
	enum resolver_class cls = resolver_classify(resp, q->sname, q->stype, q->cut.zone);
	if (log_verbosity >= LOG_LEVEL_DEBUG) {
		char nbuf[DNS_NAME_MAX * 4 + 8], zbuf[DNS_NAME_MAX * 4 + 8];
		log_qdebug(LOG_RESOLVER, req->id, "%s type %u at zone %s: %s%s",
			   dns_name_str(q->sname, nbuf, sizeof(nbuf)), q->stype,
			   dns_name_str(q->cut.zone, zbuf, sizeof(zbuf)), resolver_class_name(cls),
			   outcome->tcp ? " (tcp)" : "");
	}
	if (cls == RESOLVER_CLASS_TRUNCATED) {
		int idx = server ? zone_cut_find_addr(&q->cut, server) : -1;
		if (!outcome->tcp && idx >= 0) {
			q->tcp_server = idx; /* same server, over TCP */
		} else {
			q->tcp_server = -1;
			query_mark_failed(q, server); /* truncated even over TCP */
		}
	} else if (cls == RESOLVER_CLASS_ERROR) {
		q->tcp_server = -1;
		query_mark_failed(q, server); /* SERVFAIL, REFUSED, ...: lame */
	} else {
		q->tcp_server = -1;
		query_on_response(req, q, resp, cls, server, now);
	}
	ldns_pkt_free(resp);
}
