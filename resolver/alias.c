/*
 * alias — following CNAME and DNAME chains (RFC 1034 §3.6.2, RFC 6672).
 *
 * Moving a query to an alias target, with the loop check and the chain
 * length cap (resolver_limits.max_cname_chain) that apply whether the link
 * came from the cache or from a response; and reading a chain out of one
 * response, synthesizing the CNAME a DNAME implies (RFC 6672 §2.2), or
 * ending the query with YXDOMAIN when the substituted name would not fit.
 *
 * It does not look up cached CNAMEs (iterate.c's START does, then calls
 * query_follow_alias()), nor decide what happens where a chain leaves the
 * response (a negative answer or a restart from the top: response.c). No I/O.
 */
#include <string.h>

#include "resolver/impl.h"
#include "dns/dns.h"
#include "util/log.h"

ldns_rdf *alias_dname_substitute(const ldns_rdf *qname, const ldns_rdf *owner,
				 const ldns_rdf *target)
{
	/* qname = prefix + owner; result = prefix + target. */
	int keep = dns_name_label_count(qname) - dns_name_label_count(owner);
	if (keep <= 0)
		return NULL;
	size_t qlen = ldns_rdf_size(qname), olen = ldns_rdf_size(owner);
	size_t tlen = ldns_rdf_size(target);
	if (olen > qlen)
		return NULL;
	size_t plen = qlen - olen; /* wire bytes of the prefix labels */
	if (plen + tlen > DNS_NAME_MAX)
		return NULL; /* RFC 6672 §2.2: YXDOMAIN (the caller) */
	uint8_t buf[DNS_NAME_MAX];
	memcpy(buf, ldns_rdf_data(qname), plen);
	memcpy(buf + plen, ldns_rdf_data(target), tlen);
	return ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, plen + tlen, buf);
}

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

bool query_follow_alias(struct resolver_request *req, struct query *q, const ldns_rdf *target)
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

/*
 * The DNAME in `an` at a proper ancestor of q's name, inside the zone cut:
 * its record and the synthesized CNAME go to q's answer; the target is
 * returned (caller frees). NULL with *failed set when the substituted name
 * is too long (the DNAME alone goes to q's answer then: RFC 6672 §2.2 has
 * the server answer YXDOMAIN with it); NULL alone when there is no such
 * DNAME.
 */
static ldns_rdf *dname_target(struct query *q, const ldns_rr_list *an, bool *failed)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		const ldns_rdf *owner = ldns_rr_owner(rr);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_DNAME ||
		    rrset_name_equal(owner, q->qname) || !dns_name_is_subdomain(q->qname, owner) ||
		    !dns_name_is_subdomain(owner, q->cut.zone))
			continue;
		ldns_rdf *target = alias_dname_substitute(q->qname, owner, ldns_rr_rdf(rr, 0));
		if (!target) {
			ldns_rr *dname = ldns_rr_clone(rr);
			if (dname && !ldns_rr_list_push_rr(q->answer, dname))
				ldns_rr_free(dname);
			*failed = true;
			return NULL;
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
		return target;
	}
	return NULL;
}

bool query_chase_alias(struct resolver_request *req, struct query *q, const ldns_pkt *resp)
{
	const ldns_rr_list *an = ldns_pkt_answer(resp);
	for (;;) {
		ldns_rr_list *cname = rrset_extract(an, q->qname, LDNS_RR_TYPE_CNAME);
		ldns_rdf *target = NULL;
		if (cname && ldns_rr_list_rr_count(cname) > 0) {
			rrset_append_clone(q->answer, cname);
			target = ldns_rdf_clone(ldns_rr_rdf(ldns_rr_list_rr(cname, 0), 0));
		} else {
			bool failed = false;
			target = dname_target(q, an, &failed);
			if (failed) {
				/* RFC 6672 §2.2: the substituted name would exceed 255
				 * octets: YXDOMAIN, with the DNAME in the answer. */
				log_qdebug(LOG_RESOLVER, req->id,
					   "DNAME substitution longer than 255 octets: YXDOMAIN");
				ldns_rr_list_deep_free(cname);
				query_finish(q, LDNS_RCODE_YXDOMAIN);
				return true;
			}
		}
		ldns_rr_list_deep_free(cname);
		if (!target)
			return false; /* the chain ends here */
		bool ok = query_follow_alias(req, q, target);
		ldns_rdf_deep_free(target);
		if (!ok)
			return true;
		if (!dns_name_is_subdomain(q->qname, q->cut.zone))
			return false; /* another zone: ask its servers */
		ldns_rr_list *data = rrset_extract(an, q->qname, q->qtype);
		if (data && ldns_rr_list_rr_count(data) > 0) {
			rrset_append_clone(q->answer, data);
			ldns_rr_list_deep_free(data);
			query_finish(q, DNS_RCODE_NOERROR);
			return true;
		}
		ldns_rr_list_deep_free(data);
	}
}
