/*
 * classify — what kind of response did a server give to (sname, stype)?
 *
 * Pure function of the response, the question sent and the zone the server
 * was asked as. The order of the checks matters and follows the usual
 * iterator logic (Unbound's response_type_from_server, Knot Resolver's
 * iterate layer): errors, then data for the name, then aliases, then
 * NXDOMAIN, then referrals, then authoritative emptiness. What is done with
 * each class is response.c's business; what is cached is store.c's.
 */
#include "resolver/impl.h"
#include "dns/dns.h"

static bool answer_has(const ldns_pkt *resp, const ldns_rdf *sname, uint16_t stype)
{
	const ldns_rr_list *an = ldns_pkt_answer(resp);
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		uint16_t t = (uint16_t)ldns_rr_get_type(rr);
		if ((t == stype || stype == LDNS_RR_TYPE_ANY) &&
		    rrset_name_equal(ldns_rr_owner(rr), sname))
			return true;
	}
	return false;
}

static bool answer_has_alias(const ldns_pkt *resp, const ldns_rdf *sname, uint16_t stype)
{
	const ldns_rr_list *an = ldns_pkt_answer(resp);
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		uint16_t t = (uint16_t)ldns_rr_get_type(rr);
		if (t == LDNS_RR_TYPE_CNAME && stype != LDNS_RR_TYPE_CNAME &&
		    rrset_name_equal(ldns_rr_owner(rr), sname))
			return true;
		/* RFC 6672: a DNAME at a proper ancestor of sname redirects it. */
		if (t == LDNS_RR_TYPE_DNAME && stype != LDNS_RR_TYPE_DNAME &&
		    !rrset_name_equal(ldns_rr_owner(rr), sname) &&
		    dns_name_is_subdomain(sname, ldns_rr_owner(rr)))
			return true;
	}
	return false;
}

/* NS records in the authority section for a zone strictly below `zone`
 * that contains sname: a delegation downwards. */
static bool is_referral(const ldns_pkt *resp, const ldns_rdf *sname, const ldns_rdf *zone)
{
	const ldns_rr_list *ns = ldns_pkt_authority(resp);
	for (size_t i = 0; i < ldns_rr_list_rr_count(ns); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ns, i);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS)
			continue;
		const ldns_rdf *owner = ldns_rr_owner(rr);
		if (!rrset_name_equal(owner, zone) && dns_name_is_subdomain(owner, zone) &&
		    dns_name_is_subdomain(sname, owner))
			return true;
	}
	return false;
}

static bool has_soa(const ldns_pkt *resp, const ldns_rdf *zone)
{
	const ldns_rr_list *ns = ldns_pkt_authority(resp);
	for (size_t i = 0; i < ldns_rr_list_rr_count(ns); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ns, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA &&
		    dns_name_is_subdomain(ldns_rr_owner(rr), zone))
			return true;
	}
	return false;
}

/* NS records for a zone that is not at or below `zone`. */
static bool has_upward_ns(const ldns_pkt *resp, const ldns_rdf *zone)
{
	const ldns_rr_list *ns = ldns_pkt_authority(resp);
	for (size_t i = 0; i < ldns_rr_list_rr_count(ns); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ns, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_NS &&
		    !dns_name_is_subdomain(ldns_rr_owner(rr), zone))
			return true;
	}
	return false;
}

enum resolver_class resolver_classify(const ldns_pkt *resp, const ldns_rdf *sname, uint16_t stype,
				      const ldns_rdf *zone)
{
	if (ldns_pkt_tc(resp))
		return RESOLVER_CLASS_TRUNCATED;
	ldns_pkt_rcode rcode = ldns_pkt_get_rcode(resp);
	/* RFC 6672 §2.2: YXDOMAIN with a DNAME above sname says the
	 * substitution overflows; alias.c finds that out and answers it. */
	if (rcode == LDNS_RCODE_YXDOMAIN && stype != LDNS_RR_TYPE_DNAME &&
	    answer_has_alias(resp, sname, stype))
		return RESOLVER_CLASS_CNAME;
	if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN)
		return RESOLVER_CLASS_ERROR;
	if (answer_has(resp, sname, stype))
		return RESOLVER_CLASS_ANSWER;
	if (answer_has_alias(resp, sname, stype))
		return RESOLVER_CLASS_CNAME;
	if (rcode == LDNS_RCODE_NXDOMAIN)
		return RESOLVER_CLASS_NXDOMAIN;
	if (is_referral(resp, sname, zone))
		return RESOLVER_CLASS_REFERRAL;
	if (has_soa(resp, zone))
		return RESOLVER_CLASS_NODATA;
	/* An "AA" answer that points upwards (e.g. the root NS set) is a lame
	 * server's boilerplate, not a statement about the name. */
	if (ldns_pkt_aa(resp) && !has_upward_ns(resp, zone))
		return RESOLVER_CLASS_NODATA;
	return RESOLVER_CLASS_EMPTY;
}

const char *resolver_class_name(enum resolver_class cls)
{
	switch (cls) {
	case RESOLVER_CLASS_ANSWER:
		return "answer";
	case RESOLVER_CLASS_CNAME:
		return "cname";
	case RESOLVER_CLASS_NXDOMAIN:
		return "nxdomain";
	case RESOLVER_CLASS_NODATA:
		return "nodata";
	case RESOLVER_CLASS_REFERRAL:
		return "referral";
	case RESOLVER_CLASS_EMPTY:
		return "empty";
	case RESOLVER_CLASS_TRUNCATED:
		return "truncated";
	case RESOLVER_CLASS_ERROR:
		return "error";
	}
	return "?";
}
