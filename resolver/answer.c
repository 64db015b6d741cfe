/*
 * answer — assembling what the client gets once its question is resolved:
 * the RCODE, the answer section (CNAME/DNAME chain, then the data) and, for
 * negative answers, the SOA in the authority section (RFC 2308 §3). Minimal
 * responses: no authority or additional data with positive answers.
 * dns_write_answer() later sets the header bits and the client's letter case.
 */
#include <string.h>

#include "resolver/impl.h"
#include "dns/dns.h"

ldns_rr_list *resolver_extract_any(const ldns_rr_list *list, const ldns_rdf *owner)
{
	ldns_rr_list *out = ldns_rr_list_new();
	for (size_t i = 0; out && list && i < ldns_rr_list_rr_count(list); i++) {
		ldns_rr *rr = ldns_rr_list_rr(list, i);
		if (!rrset_name_equal(ldns_rr_owner(rr), owner))
			continue;
		ldns_rr *copy = ldns_rr_clone(rr);
		if (copy && !ldns_rr_list_push_rr(out, copy))
			ldns_rr_free(copy);
	}
	return out;
}

ldns_rdf *resolver_dname_substitute(const ldns_rdf *qname, const ldns_rdf *owner,
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
		return NULL; /* RFC 6672 §2.2: YXDOMAIN; we answer SERVFAIL */
	uint8_t buf[DNS_NAME_MAX];
	memcpy(buf, ldns_rdf_data(qname), plen);
	memcpy(buf + plen, ldns_rdf_data(target), tlen);
	return ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, plen + tlen, buf);
}

ldns_pkt *resolver_answer_skeleton(const struct resolver_request *req, uint8_t rcode)
{
	const struct query *q = req->goal;
	ldns_pkt *pkt = ldns_pkt_new();
	if (!pkt)
		return NULL;
	ldns_pkt_set_qr(pkt, true);
	ldns_pkt_set_ra(pkt, true);
	ldns_pkt_set_rcode(pkt, rcode);
	ldns_rr *question = ldns_rr_new();
	if (question) {
		ldns_rr_set_owner(question, ldns_rdf_clone(q->orig_qname));
		ldns_rr_set_type(question, q->qtype);
		ldns_rr_set_class(question, q->qclass);
		ldns_rr_set_question(question, true);
		ldns_pkt_push_rr(pkt, LDNS_SECTION_QUESTION, question);
	}
	return pkt;
}

ldns_pkt *resolver_build_answer(struct resolver_request *req)
{
	struct query *q = req->goal;
	ldns_pkt *pkt = resolver_answer_skeleton(req, q->rcode);
	if (!pkt)
		return NULL;
	if (q->rcode == DNS_RCODE_SERVFAIL)
		return pkt; /* no partial chains with a failure */
	for (size_t i = 0; i < ldns_rr_list_rr_count(q->answer); i++)
		ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER,
				 ldns_rr_clone(ldns_rr_list_rr(q->answer, i)));
	for (size_t i = 0; i < ldns_rr_list_rr_count(q->authority); i++)
		ldns_pkt_push_rr(pkt, LDNS_SECTION_AUTHORITY,
				 ldns_rr_clone(ldns_rr_list_rr(q->authority, i)));
	return pkt;
}
