/*
 * reply — writing answers back to clients, the way their query came: UDP
 * (the client's EDNS size limit, TC=1 when the answer does not fit) or TCP
 * (length-framed, through client_tcp.c). Also the answers that need no
 * resolution: errors (FORMERR, REFUSED, NOTIMP, BADVERS, SERVFAIL) and the
 * RFC 8482 answer to ANY. Knows nothing about resolution.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/context.h"
#include "util/log.h"

struct udp_send {
	uv_udp_send_t req;
	uint8_t data[];
};

static void on_udp_sent(uv_udp_send_t *req, int status)
{
	free(req->data);
}

static void send_udp(uv_udp_t *udp, const struct sockaddr *to, const uint8_t *msg, size_t len)
{
	uv_buf_t buf = uv_buf_init((char *)msg, (unsigned)len);
	int r = uv_udp_try_send(udp, &buf, 1, to);
	if (r >= 0)
		return;
	if (r != UV_EAGAIN) {
		log_debug(LOG_DAEMON, "udp send failed: %s", uv_strerror(r));
		return;
	}
	/* Socket buffer full: queue a copy. */
	struct udp_send *s = malloc(sizeof(*s) + len);
	if (!s)
		return;
	memcpy(s->data, msg, len);
	s->req.data = s;
	buf = uv_buf_init((char *)s->data, (unsigned)len);
	if (uv_udp_send(&s->req, udp, &buf, 1, to, on_udp_sent) != 0)
		free(s);
}

void reply_raw(struct worker *w, const struct task_origin *origin, const uint8_t *msg, size_t len)
{
	if (origin->transport == TASK_UDP)
		send_udp(origin->udp, (const struct sockaddr *)&origin->client, msg, len);
	else
		tcp_conn_send(origin->conn, msg, len);
}

void reply_error(struct worker *w, const struct task_origin *origin, const struct dns_query_view *q,
		 int rcode)
{
	int n = dns_write_error(q, rcode, w->wbuf, sizeof(w->wbuf));
	if (n > 0)
		reply_raw(w, origin, w->wbuf, (size_t)n);
}

/* The client's UDP limit: RFC 6891 §6.2.5, at least 512, at most ours. */
uint16_t reply_size_limit(const struct worker *w, const struct task_origin *origin,
			  const struct dns_query_view *q)
{
	if (origin->transport == TASK_TCP)
		return DNS_MSG_MAX;
	if (!q->has_edns)
		return DNS_UDP_MIN;
	uint16_t size = q->edns_udp_size < DNS_UDP_MIN ? DNS_UDP_MIN : q->edns_udp_size;
	uint16_t ours = w->ctx->max_udp_size;
	return size > ours ? ours : size;
}

void reply_answer(struct worker *w, const struct task_origin *origin,
		  const struct dns_query_view *q, const ldns_pkt *answer, int ede)
{
	struct dns_answer_opts ao = {
		.id = q->id,
		.rd = q->rd,
		.cd = q->cd,
		.qname_wire = q->qname,
		.qname_len = q->qname_len,
		.edns = q->has_edns,
		.edns_do = q->edns_do,
		.max_size = reply_size_limit(w, origin, q),
		.ede_code = ede,
	};
	int n = answer ? dns_write_answer(answer, &ao, w->wbuf, sizeof(w->wbuf)) : -ENOMEM;
	if (n > 0)
		reply_raw(w, origin, w->wbuf, (size_t)n);
	else
		reply_error(w, origin, q, DNS_RCODE_SERVFAIL);
}

void reply_any(struct worker *w, const struct task_origin *origin, const struct dns_query_view *q)
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
		reply_answer(w, origin, q, pkt, -1);
	} else {
		reply_error(w, origin, q, DNS_RCODE_SERVFAIL);
	}
	ldns_rr_free(hinfo);
	ldns_rr_free(question);
	ldns_rdf_deep_free(owner);
	ldns_rdf_deep_free(qowner);
	if (pkt)
		ldns_pkt_free(pkt);
}
