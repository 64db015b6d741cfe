/*
 * stale_answer — answers built from what the cache still holds, expired
 * records included: RFC 8767 serve-stale answers (following a cached CNAME
 * chain) and the empty-answer guard's "last good" RRset. Expired records
 * get the policy's stale TTL (RFC 8767 §4: 30 s).
 *
 * It decides nothing. Whether data is stale or fresh is cache/'s
 * (cache_lookup); whether to answer stale, hold or ask is cache/policy.c's;
 * when the iterator asks that policy and uses these answers is
 * ask_policy.c's (and daemon/task.c's client timer).
 */
#include "resolver/impl.h"
#include "cache/cache.h"
#include "dns/dns.h"

static void set_ttls(ldns_rr_list *rrs, uint32_t ttl)
{
	for (size_t i = 0; rrs && i < ldns_rr_list_rr_count(rrs); i++)
		ldns_rr_set_ttl(ldns_rr_list_rr(rrs, i), ttl);
}

static void push_all(ldns_pkt *pkt, ldns_pkt_section section, const ldns_rr_list *rrs)
{
	for (size_t i = 0; rrs && i < ldns_rr_list_rr_count(rrs); i++)
		ldns_pkt_push_rr(pkt, section, ldns_rr_clone(ldns_rr_list_rr(rrs, i)));
}

/* Data good enough to answer a client with (not glue, not referral NS). */
static bool answerable(const struct cache_result *res)
{
	return res->kind != CACHE_KIND_RRSET || res->rank >= CACHE_RANK_ANSWER_NONAUTH;
}

bool resolver_has_stale(const struct resolver_env *env, const ldns_rdf *qname, uint16_t qtype,
			uint64_t now)
{
	if (!env->opts->policy.serve_stale)
		return false;
	return cache_lookup(env->cache, qname, qtype, now, NULL) == CACHE_STALE ||
	       (qtype != LDNS_RR_TYPE_CNAME &&
		cache_lookup(env->cache, qname, LDNS_RR_TYPE_CNAME, now, NULL) == CACHE_STALE);
}

ldns_pkt *resolver_stale_answer(const struct resolver_env *env, const ldns_rdf *qname,
				uint16_t qtype, uint16_t qclass, uint64_t now, int *ede)
{
	const struct cache_policy *policy = &env->opts->policy;
	*ede = -1;
	if (!policy->serve_stale)
		return NULL;
	ldns_pkt *pkt = ldns_pkt_new();
	ldns_rdf *name = ldns_rdf_clone(qname);
	ldns_rr *question = ldns_rr_new();
	if (!pkt || !name || !question)
		goto out_fail;
	ldns_rr_set_owner(question, ldns_rdf_clone(qname));
	ldns_rr_set_type(question, qtype);
	ldns_rr_set_class(question, qclass);
	ldns_rr_set_question(question, true);
	ldns_pkt_push_rr(pkt, LDNS_SECTION_QUESTION, question);
	question = NULL;
	ldns_pkt_set_qr(pkt, true);
	ldns_pkt_set_ra(pkt, true);

	bool stale = false;
	for (unsigned links = 0; links <= env->opts->limits.max_cname_chain; links++) {
		struct cache_result res;
		enum cache_status st = cache_lookup(env->cache, name, qtype, now, &res);
		if (st != CACHE_MISS && answerable(&res)) {
			if (st == CACHE_STALE) {
				set_ttls(res.rrs, policy->stale_answer_ttl);
				stale = true;
			}
			if (res.kind == CACHE_KIND_RRSET) {
				push_all(pkt, LDNS_SECTION_ANSWER, res.rrs);
				ldns_pkt_set_rcode(pkt, DNS_RCODE_NOERROR);
			} else {
				push_all(pkt, LDNS_SECTION_AUTHORITY, res.rrs);
				ldns_pkt_set_rcode(pkt, res.kind == CACHE_KIND_NXDOMAIN
								? DNS_RCODE_NXDOMAIN
								: DNS_RCODE_NOERROR);
			}
			cache_result_clear(&res);
			if (!stale)
				break; /* nothing expired: not a stale answer */
			*ede = ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NXDOMAIN
				       ? DNS_EDE_STALE_NXDOMAIN
				       : DNS_EDE_STALE_ANSWER;
			ldns_rdf_deep_free(name);
			return pkt;
		}
		if (st != CACHE_MISS)
			cache_result_clear(&res);
		if (qtype == LDNS_RR_TYPE_CNAME)
			break;
		st = cache_lookup(env->cache, name, LDNS_RR_TYPE_CNAME, now, &res);
		if (st == CACHE_MISS)
			break;
		if (!answerable(&res) || res.kind != CACHE_KIND_RRSET ||
		    ldns_rr_list_rr_count(res.rrs) == 0) {
			cache_result_clear(&res);
			break;
		}
		if (st == CACHE_STALE) {
			set_ttls(res.rrs, policy->stale_answer_ttl);
			stale = true;
		}
		push_all(pkt, LDNS_SECTION_ANSWER, res.rrs);
		ldns_rdf *target = ldns_rdf_clone(ldns_rr_rdf(ldns_rr_list_rr(res.rrs, 0), 0));
		cache_result_clear(&res);
		if (!target)
			break;
		ldns_rdf_deep_free(name);
		name = target;
	}
out_fail:
	ldns_rr_free(question);
	ldns_rdf_deep_free(name);
	if (pkt)
		ldns_pkt_free(pkt);
	return NULL;
}

ldns_rr_list *resolver_last_good(const struct resolver_env *env, const ldns_rdf *name,
				 uint16_t type, uint64_t now)
{
	struct cache_result res;
	enum cache_status st = cache_lookup(env->cache, name, type, now, &res);
	if (st == CACHE_MISS)
		return NULL;
	if (res.kind != CACHE_KIND_RRSET || !answerable(&res) ||
	    ldns_rr_list_rr_count(res.rrs) == 0) {
		cache_result_clear(&res);
		return NULL;
	}
	ldns_rr_list *rrs = res.rrs;
	if (st == CACHE_STALE)
		set_ttls(rrs, env->opts->policy.stale_answer_ttl);
	return rrs;
}
