/*
 * answer — assembling what the client gets once its question is resolved:
 * the RCODE, the answer section (CNAME/DNAME chain, then the data) and, for
 * negative answers, the SOA in the authority section (RFC 2308 §3). Minimal
 * responses: no authority or additional data with positive answers.
 * dns_write_answer() later sets the header bits and the client's letter case.
 */
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
