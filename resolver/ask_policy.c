/*
 * ask_policy — where the iterator asks the cache's policy, and carries out
 * what it says.
 *
 * The decisions (stale or fresh? ask, hold, or answer a cached failure?
 * believe an empty answer yet?) are cache/policy.c's; the answers made of
 * cached, possibly expired, data are built by stale_answer.c. This file is
 * the iterator's side, at the three points where it consults them:
 *  - before asking anyone for the client's question: a cached failure (RFC
 *    9520) or a failed refresh (RFC 8767) answers at once and the request
 *    goes on as a probe; the empty-answer guard's hold answers the last good
 *    data (request_check_policy);
 *  - when a server answers NODATA/NXDOMAIN where the cache has data: the
 *    empty-answer guard's cross-check and hold (query_guard_empty);
 *  - when the client's question ends: the outcome is recorded in the
 *    per-question state, and a SERVFAIL becomes a stale answer if there is
 *    one (request_note_outcome, request_answer_stale).
 *
 * It decides no policy itself, sends nothing and reads no clock.
 */
#include "resolver/impl.h"
#include "cache/cache.h"
#include "dns/dns.h"
#include "util/log.h"

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
	REQUEST_STAT_INC(req, stale_answers);
	log_qdebug(LOG_RESOLVER, req->id, "answered from stale data");
	return true;
}

bool request_answer_stale(struct resolver_request *req, uint64_t now)
{
	return request_stale_into(req, now, &req->answer, &req->ede);
}

static bool request_early_stale(struct resolver_request *req, uint64_t now)
{
	return request_stale_into(req, now, &req->early, &req->early_ede);
}

bool request_check_policy(struct resolver_request *req, struct query *q, uint64_t now)
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
		REQUEST_STAT_INC(req, guard_holds);
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
			REQUEST_STAT_INC(req, failures_cached);
		}
		req->probe_only = true;
		return false;
	}
	return false;
}

void request_note_outcome(struct resolver_request *req, uint64_t now)
{
	const struct resolver_env *env = req->env;
	struct query *g = req->goal;
	struct cache_qstate st;
	if (req->guard_decided)
		return; /* already recorded */
	if (req->probe_only)
		return; /* a zone health probe: nothing learned about this name */
	bool have = cache_qstate_get(env->cache, g->orig_qname, g->qtype, now, &st);
	if (g->rcode == DNS_RCODE_SERVFAIL) {
		REQUEST_STAT_INC(req, failures);
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

/* ---- the empty-answer guard ------------------------------------------- */

static bool zone_listed(const struct resolver_zone_list *list, const ldns_rdf *name)
{
	for (size_t i = 0; i < list->count; i++)
		if (dns_name_is_subdomain(name, list->names[i]))
			return true;
	return false;
}

/* Does the empty-answer guard cover `name` (global switch, include/exclude)? */
static bool guard_applies(const struct resolver_opts *opts, const ldns_rdf *name)
{
	if (!opts->policy.empty_guard || zone_listed(&opts->guard_exclude, name))
		return false;
	return opts->guard_include.count == 0 || zone_listed(&opts->guard_include, name);
}

bool query_guard_empty(struct resolver_request *req, struct query *q,
		       const struct sockaddr_storage *server, bool nxdomain, uint64_t now)
{
	const struct resolver_env *env = req->env;
	if (q->parent || !guard_applies(env->opts, q->qname))
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
		REQUEST_STAT_INC(req, guard_cross_checks);
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
		REQUEST_STAT_INC(req, guard_accepts);
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
	REQUEST_STAT_INC(req, guard_holds);
	return true;
}

void query_guard_note_data(struct resolver_request *req, const struct query *q)
{
	if (q->empty_votes == 0)
		return;
	char nbuf[DNS_NAME_MAX * 4 + 8];
	log_qinfo(LOG_RESOLVER, req->id,
		  "empty-answer guard: another server has data for %s type %u",
		  dns_name_str(q->qname, nbuf, sizeof(nbuf)), q->qtype);
	REQUEST_STAT_INC(req, guard_rescued);
}
