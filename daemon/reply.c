/*
 * reply — the messages a client gets back, as bytes handed to the client
 * (client.h): header-only errors (FORMERR, REFUSED, NOTIMP, BADVERS,
 * SERVFAIL), the RFC 8482 answer to ANY, and a resolver answer shaped for
 * one client (its ID, letter case, EDNS, size limit with TC=1 when it does
 * not fit). Knows nothing about resolution, nor which transport the client
 * used: the size limit and the framing are the client's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/reply.h"
#include "daemon/client.h"

void reply_error(struct reply_buf *buf, const struct client *c, const struct dns_query_view *q,
		 int rcode)
{
	int n = dns_write_error(q, rcode, buf->b, sizeof(buf->b));
	if (n > 0)
		client_send(c, buf->b, (size_t)n);
}

void reply_error_ede(struct reply_buf *buf, const struct client *c, const struct dns_query_view *q,
		     int rcode, int ede, const char *text)
{
	int n = dns_write_error_ede(q, rcode, ede, text, buf->b, sizeof(buf->b));
	if (n > 0)
		client_send(c, buf->b, (size_t)n);
}

void reply_answer(struct reply_buf *buf, const struct client *c, const struct dns_query_view *q,
		  const ldns_pkt *answer, int ede)
{
	struct dns_answer_opts ao = {
		.id = q->id,
		.rd = q->rd,
		.cd = q->cd,
		.qname_wire = q->qname,
		.qname_len = q->qname_len,
		.edns = q->has_edns,
		.edns_do = q->edns_do,
		.max_size = client_size_limit(c, q),
		.ede_code = ede,
	};
	int n = answer ? dns_write_answer(answer, &ao, buf->b, sizeof(buf->b)) : -ENOMEM;
	if (n > 0)
		client_send(c, buf->b, (size_t)n);
	else
		reply_error(buf, c, q, DNS_RCODE_SERVFAIL);
}

void reply_any(struct reply_buf *buf, const struct client *c, const struct dns_query_view *q)
{
	/* RFC 8482 §4.2: one synthesized HINFO record instead of everything. */
	ldns_pkt *pkt = ldns_pkt_new();
	ldns_rr *hinfo = NULL, *question = ldns_rr_new();
	ldns_rdf *owner = dns_name_from_wire(q->qname, q->qname_len);
	ldns_rdf *qowner = dns_name_from_wire(q->qname, q->qname_len);
	if (pkt && owner && qowner && question &&
	    ldns_rr_new_frm_str(&hinfo, ". 3600 IN HINFO \"RFC8482\" \"\"", 0, NULL, NULL) ==
		    LDNS_STATUS_OK) {
		ldns_rdf_deep_free(ldns_rr_owner(hinfo));
		ldns_rr_set_owner(hinfo, owner);
		owner = NULL;
		ldns_rr_set_owner(question, qowner);
		qowner = NULL;
		ldns_rr_set_type(question, LDNS_RR_TYPE_ANY);
		ldns_rr_set_class(question, q->qclass);
		ldns_rr_set_question(question, true);
		ldns_pkt_push_rr(pkt, LDNS_SECTION_QUESTION, question);
		ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, hinfo);
		question = hinfo = NULL;
		reply_answer(buf, c, q, pkt, -1);
	} else {
		reply_error(buf, c, q, DNS_RCODE_SERVFAIL);
	}
	ldns_rr_free(hinfo);
	ldns_rr_free(question);
	ldns_rdf_deep_free(owner);
	ldns_rdf_deep_free(qowner);
	if (pkt)
		ldns_pkt_free(pkt);
}
