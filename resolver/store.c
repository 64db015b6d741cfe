/*
 * store — what of a response goes into the cache, and with what trust.
 *
 * What reaches it was cut down by scrub.c to what answers the question.
 * Bailiwick: a server asked as `zone` may only tell us about names at or
 * below `zone`; everything else is dropped (cache poisoning defence). Glue
 * outside the zone is dropped too unless harden-glue is off.
 * Credibility (RFC 2181 §5.4.1): AA answers rank above non-AA answers,
 * authority data above glue. This file only says which rank each record
 * has; whether it may replace what the cache holds is decided in one place,
 * cache_rank_may_replace() (cache/): a fresh entry only gives way to
 * strictly more trusted data or an authoritative answer, and a delegation
 * re-sent by the child does not outlive the TTL the parent gave. A negative answer (RFC 2308) is stored with the SOA
 * that vouches for it.
 *
 * It does not judge the reply: which class it is (classify.c), whether it
 * is accepted at all and when a negative answer is final (response.c) are
 * decided before anything is stored here.
 */
#include "resolver/impl.h"
#include "cache/cache.h"
#include "dns/dns.h"
#include "util/log.h"

static void store_section(const struct resolver_env *env, const ldns_rr_list *section,
			  const ldns_rdf *zone, int which, bool aa, uint64_t now)
{
	/* One store per RRset, found by sorting (rrset.c): O(n log n). */
	size_t n = 0;
	struct rrset_item *sets = rrset_split(section, &n);
	for (size_t i = 0; sets && i < n; i++) {
		ldns_rr_list *rrset = sets[i].rrs;
		ldns_rr *rr = ldns_rr_list_rr(rrset, 0);
		ldns_rr_type type = ldns_rr_get_type(rr);
		const ldns_rdf *owner = ldns_rr_owner(rr);
		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
			continue;
		enum cache_rank rank;
		bool in_zone = dns_name_is_subdomain(owner, zone);
		if (which == LDNS_SECTION_ANSWER) {
			if (!in_zone)
				continue;
			rank = aa ? CACHE_RANK_ANSWER_AUTH : CACHE_RANK_ANSWER_NONAUTH;
		} else if (which == LDNS_SECTION_AUTHORITY) {
			/* NS only: SOA/NSEC belong to negative answers. */
			if (type != LDNS_RR_TYPE_NS || !in_zone)
				continue;
			rank = aa ? CACHE_RANK_AUTHORITY_AUTH : CACHE_RANK_AUTHORITY_NONAUTH;
		} else {
			if (type != LDNS_RR_TYPE_A && type != LDNS_RR_TYPE_AAAA)
				continue;
			if (!scrub_glue_in_bailiwick(owner, zone, env->opts->harden_glue))
				continue;
			rank = CACHE_RANK_GLUE;
		}
		cache_put_rrset(env->cache, rrset, rank, now);
	}
	rrset_split_free(sets, n);
}

void resolver_store_response(const struct resolver_env *env, const ldns_pkt *resp,
			     const ldns_rdf *zone, uint64_t now)
{
	bool aa = ldns_pkt_aa(resp);
	store_section(env, ldns_pkt_answer(resp), zone, LDNS_SECTION_ANSWER, aa, now);
	store_section(env, ldns_pkt_authority(resp), zone, LDNS_SECTION_AUTHORITY, aa, now);
	store_section(env, ldns_pkt_additional(resp), zone, LDNS_SECTION_ADDITIONAL, aa, now);
}

/* The SOA of `zone` (or below) from the authority section: one record at most. */
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

ldns_rr_list *resolver_store_negative(const struct resolver_env *env, const ldns_pkt *resp,
				      const ldns_rdf *zone, const ldns_rdf *name, uint16_t qtype,
				      bool nxdomain, uint64_t now)
{
	ldns_rr_list *soa = authority_soa(resp, zone);
	enum cache_rank rank =
		ldns_pkt_aa(resp) ? CACHE_RANK_AUTHORITY_AUTH : CACHE_RANK_AUTHORITY_NONAUTH;
	cache_put_negative(env->cache, name, qtype,
			   nxdomain ? CACHE_KIND_NXDOMAIN : CACHE_KIND_NODATA, soa, rank, now);
	return soa;
}
