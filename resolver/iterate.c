/*
 * iterate — moving the request forward until it needs the network:
 * resolver_produce().
 *
 * It runs the top query of the request's stack. START: the cache first (a
 * fresh RRset or negative answer finishes the query, a cached CNAME moves
 * it), the cache policy once for the client's question (ask_policy.c), then
 * the zone cut (zone_cut.c), priming the root NS set first (RFC 8109).
 * ITERATE: the servers still worth asking, the name to send (QNAME
 * minimisation: one label below the cut, QTYPE=NS), sub-queries for
 * glueless NS names, a fresh referral from the parent when every server of
 * a cached delegation failed, and finally the resolver_send the daemon
 * carries out. A finished sub-query hands its addresses down the stack; a
 * finished client question becomes the answer.
 *
 * It does not read responses (response.c), decide cache policy (cache/
 * policy.c, asked through ask_policy.c) or assemble answers (answer.c). No
 * I/O, no clock: `now` comes in. Every loop is capped (resolver_limits, and
 * PRODUCE_GUARD as a last resort).
 */
#include <stdlib.h>

#include "resolver/impl.h"
#include "cache/cache.h"
#include "dns/dns.h"
#include "util/log.h"

/* Upper bound of produce-loop iterations without a send, as a last guard. */
#define PRODUCE_GUARD 4096

/* ---- START: the cache, then the zone cut ----------------------------- */

/* A fresh cache entry for the query's name: true when it finished or moved
 * the query (START runs again for a CNAME's target). */
static bool query_from_cache(struct resolver_request *req, struct query *q, uint64_t now)
{
	const struct resolver_env *env = req->env;
	struct cache_result res;
	/* RFC 8020: a cached NXDOMAIN above the name answers too. */
	enum cache_status st = cache_lookup_question(env->cache, q->qname, q->qtype, now, &res);
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
			return true;
		}
	}
	if (st != CACHE_MISS)
		cache_result_clear(&res);
	if (q->qtype != LDNS_RR_TYPE_CNAME &&
	    cache_lookup(env->cache, q->qname, LDNS_RR_TYPE_CNAME, now, &res) != CACHE_MISS) {
		bool follow = res.kind == CACHE_KIND_RRSET &&
			      res.rank >= CACHE_RANK_ANSWER_NONAUTH &&
			      ldns_rr_list_rr_count(res.rrs) > 0 && res.ttl > 0;
		if (follow) {
			ldns_rr *cname = ldns_rr_list_rr(res.rrs, 0);
			rrset_append_clone(q->answer, res.rrs);
			query_follow_alias(req, q, ldns_rr_rdf(cname, 0));
			cache_result_clear(&res);
			return true; /* START again with the target (or DONE) */
		}
		cache_result_clear(&res);
	}
	return false;
}

static void query_start(struct resolver_request *req, struct query *q, uint64_t now)
{
	const struct resolver_env *env = req->env;

	if (!q->priming && query_from_cache(req, q, now))
		return;

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

/*
 * No candidate server is left for q's zone cut: resolve a glueless NS name
 * in a sub-query, ask the parent again, or give the query up.
 */
static void query_out_of_servers(struct resolver_request *req, struct query *q, uint64_t now)
{
	const struct resolver_env *env = req->env;
	const ldns_rdf *ns = NULL;
	uint16_t type = 0;
	while (q->depth < env->opts->limits.max_depth &&
	       zone_cut_next_fetch(&q->cut, env, &ns, &type)) {
		/* A name we are already resolving further down the stack:
		 * following it would loop (e.g. mutual glueless delegations). */
		if (request_on_stack(req, ns, type))
			continue;
		struct query *sub = query_new(ns, type, LDNS_RR_CLASS_IN, q);
		if (!sub) {
			request_fail(req, "out of memory");
			return;
		}
		req->top = sub;
		return;
	}
	char zbuf[DNS_NAME_MAX * 4 + 8];
	dns_name_str(q->cut.zone, zbuf, sizeof(zbuf));
	if (zone_cut_fetches_capped(&q->cut, env)) {
		log_qdebug(
			LOG_RESOLVER, req->id,
			"zone %s: %u NS names without address, no more looked up (max_ns_fetches)",
			zbuf, q->cut.ns_fetches);
		REQUEST_STAT_INC(req, ns_fetches_capped);
	}
	if (query_fall_back_to_parent(req, q, now)) {
		log_qdebug(LOG_RESOLVER, req->id,
			   "no usable server left for zone %s, asking its parent again", zbuf);
		return;
	}
	log_qdebug(LOG_RESOLVER, req->id, "no usable server left for zone %s", zbuf);
	/* None of them answered at all: RFC 8914 EDE 22 tells stubs that
	 * retrying now is pointless. */
	if (!q->cut.answered)
		req->unreachable = true;
	query_finish(q, DNS_RCODE_SERVFAIL);
}

/* Fills `out` with the next question for q's servers; false when nothing
 * is to be sent (the stack or the query's state changed instead). */
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
		query_out_of_servers(req, q, now);
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

/* ---- DONE: down the stack --------------------------------------------- */

/* A finished sub-query hands its addresses to the zone cut that wanted them. */
static void subquery_done(struct resolver_request *req, struct query *parent, struct query *sub,
			  uint64_t now)
{
	if (sub->priming)
		return;
	/* Whatever the outcome, the walk may have cached glue for the NS
	 * names the parent waits for (e.g. a referral on the way). */
	zone_cut_add_cached_addrs(&parent->cut, req->env, now);
	/* The NXNS cap counts names that turned out to have no address. */
	bool found = false;
	for (size_t i = 0;
	     sub->rcode == DNS_RCODE_NOERROR && i < ldns_rr_list_rr_count(sub->answer); i++) {
		ldns_rr_type t = ldns_rr_get_type(ldns_rr_list_rr(sub->answer, i));
		found = found || t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_AAAA;
	}
	if (sub->rcode == DNS_RCODE_NXDOMAIN || (sub->rcode == DNS_RCODE_NOERROR && !found))
		parent->cut.ns_fetches++;
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

/* The client's question is done: record the outcome, build the answer. */
static void request_done(struct resolver_request *req, uint64_t now)
{
	struct query *q = req->goal;
	request_note_outcome(req, now);
	if (q->rcode == DNS_RCODE_SERVFAIL && request_answer_stale(req, now))
		return;
	req->answer = resolver_build_answer(req);
	/* Known-dead servers: tell stubs not to retry. */
	if (q->rcode == DNS_RCODE_SERVFAIL && req->unreachable && req->ede < 0)
		req->ede = DNS_EDE_NO_REACHABLE_AUTHORITY;
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
				request_done(req, now);
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
