/*
 * request — one client question's resolution: the request, its stack of
 * queries, and the public accessors.
 *
 * A request is a stack of queries: the client's question (the goal) at the
 * bottom, above it the sub-queries it needs (priming the root, addresses of
 * glueless name servers). This file creates and frees requests and queries,
 * and holds the small state changes every step shares: a query finished, a
 * query made progress, a server failed it, the whole request gives up.
 *
 * It decides nothing about the resolution: what to send is iterate.c's,
 * what a response means is response.c's, what the cache policy says is
 * ask_policy.c's. No I/O, no clock.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/impl.h"
#include "cache/cache.h"
#include "dns/dns.h"
#include "util/log.h"
#include "util/random.h"

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

struct query *query_new(const ldns_rdf *qname, uint16_t qtype, uint16_t qclass,
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

void query_free(struct query *q)
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

void query_finish(struct query *q, uint8_t rcode)
{
	q->rcode = rcode;
	q->state = QUERY_DONE;
}

void query_progress(struct query *q)
{
	q->step_attempts = 0;
	q->last_failed.ss_family = AF_UNSPEC;
}

void query_mark_failed(struct query *q, const struct sockaddr_storage *server)
{
	if (!server)
		return;
	zone_cut_mark_failed(&q->cut, server);
	q->last_failed = *server;
	if (q->tcp_server >= 0 && (size_t)q->tcp_server < q->cut.naddrs &&
	    q->cut.addr_failed[q->tcp_server])
		q->tcp_server = -1;
}

bool request_on_stack(const struct resolver_request *req, const ldns_rdf *name, uint16_t type)
{
	for (const struct query *q = req->top; q; q = q->parent)
		if (q->qtype == type && rrset_name_equal(q->qname, name))
			return true;
	return false;
}

void request_fail(struct resolver_request *req, const char *why)
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

void request_stat_inc(const struct resolver_request *req, size_t offset)
{
	if (req->env->stats)
		atomic_fetch_add_explicit(
			(atomic_uint_fast64_t *)((char *)req->env->stats + offset), 1,
			memory_order_relaxed);
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

const ldns_pkt *resolver_early_answer(const struct resolver_request *req, int *ede)
{
	*ede = req->early_ede;
	return req->early;
}
