/*
 * message — the ldns boundary for whole messages: parsing upstream
 * responses, writing upstream queries, checking that a response answers
 * the question we asked, and writing the answer a client gets (EDNS, EDE,
 * truncation).
 *
 * ldns_status values are turned into negative errno codes here and never
 * leave the module. This file does not decide what an answer contains (the
 * resolver does) nor patch cached wire answers; it keeps no state.
 */
#include "dns/dns.h"
#include "dns/impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Longest EXTRA-TEXT we send: it is for humans and must not crowd out data. */
#define DNS_EDE_TEXT_MAX 256

int dns_parse(const uint8_t *wire, size_t len, ldns_pkt **out)
{
	ldns_pkt *pkt = NULL;

	if (!out)
		return -EINVAL;
	*out = NULL;
	/* Compression pointers: ldns_wire2dname() follows up to
	 * LDNS_MAX_POINTERS (65535) per name, in any direction, so a 64 KB
	 * message could cost ~10^8 hops (bench/reply_cost.c). The skim bounds
	 * every name ldns will read first (dns/wire_names.c), on every path:
	 * upstream/ skims too, but fuzzers and tests come here directly. */
	if (!dns_wire_skim(wire, len))
		return -EBADMSG;
	if (ldns_wire2pkt(&pkt, wire, len) != LDNS_STATUS_OK) {
		ldns_pkt_free(pkt);
		return -EBADMSG;
	}
	*out = pkt;
	return 0;
}

static bool rdf_is_name(const ldns_rdf *name)
{
	return name && ldns_rdf_get_type(name) == LDNS_RDF_TYPE_DNAME &&
	       dns_wire_name_is_valid(ldns_rdf_data(name), ldns_rdf_size(name));
}

int dns_write_query(uint8_t *out, size_t cap, uint16_t id, const ldns_rdf *qname, uint16_t qtype,
		    uint16_t qclass, uint16_t edns_size, bool dnssec_ok)
{
	/* RD=0: we iterate; asking an authority to recurse would be wrong. */
	struct dns_wire_head h = {
		.id = id,
		.flags = 0,
		.qtype = qtype,
		.qclass = qclass,
		.opt = edns_size > 0,
		.udp_size = edns_size,
		.edns_do = dnssec_ok, /* RFC 3225 §3 */
		.ede_code = -1,
	};

	if (!out || !rdf_is_name(qname))
		return -EINVAL;
	h.qname = ldns_rdf_data(qname);
	h.qname_len = (uint8_t)ldns_rdf_size(qname);
	return dns_wire_write_head(&h, out, cap);
}

/* Cuts EXTRA-TEXT to DNS_EDE_TEXT_MAX bytes without splitting a UTF-8 sequence. */
static size_t ede_text_len(const char *text)
{
	size_t n;

	if (!text)
		return 0;
	n = strnlen(text, DNS_EDE_TEXT_MAX + 1);
	if (n <= DNS_EDE_TEXT_MAX)
		return n;
	n = DNS_EDE_TEXT_MAX;
	while (n > 0 && ((uint8_t)text[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* The OPT of an answer: RFC 6891 §6.1.2, plus RFC 8914 §2 EDE when asked for. */
static int answer_set_edns(ldns_pkt *pkt, const struct dns_answer_opts *opts)
{
	ldns_edns_option_list *list;
	ldns_edns_option *ede;
	uint8_t data[2 + DNS_EDE_TEXT_MAX];
	size_t text_len;

	ldns_pkt_set_edns_udp_size(pkt, DNS_EDNS_UDP_ANSWER);
	ldns_pkt_set_edns_do(pkt, opts->edns_do);
	if (opts->ede_code < 0)
		return 0;

	text_len = ede_text_len(opts->ede_text);
	dns_put16(data, (uint16_t)opts->ede_code);
	if (text_len)
		memcpy(data + 2, opts->ede_text, text_len);
	list = ldns_edns_option_list_new();
	if (!list)
		return -ENOMEM;
	ede = ldns_edns_new_from_data(DNS_EDNS_OPT_EDE, 2 + text_len, data);
	if (!ede || !ldns_edns_option_list_push(list, ede)) {
		ldns_edns_deep_free(ede);
		ldns_edns_option_list_deep_free(list);
		return -ENOMEM;
	}
	ldns_pkt_set_edns_option_list(pkt, list); /* pkt owns it now */
	return 0;
}

/* Header, question and OPT with TC=1: RFC 1035 §4.2.1, RFC 6891 §7. */
static int write_truncated(const struct dns_wire_head *full, uint16_t max_size, uint8_t *out,
			   size_t cap)
{
	struct dns_wire_head h = *full;
	int ret;

	h.flags |= DNS_FLAG_TC;
	ret = dns_wire_write_head(&h, out, cap);
	if (ret > max_size && h.ede_code >= 0) {
		/* an EDE too long for the client's limit is the first thing to go */
		h.ede_code = -1;
		ret = dns_wire_write_head(&h, out, cap);
	}
	return ret;
}

/*
 * Renders the answer with ldns_pkt2wire(), which compresses names. The
 * sections are borrowed from `answer` for the call, not copied: the
 * temporary packet's own empty lists are put back before it is freed.
 */
int dns_write_answer(const ldns_pkt *answer, const struct dns_answer_opts *opts, uint8_t *out,
		     size_t cap)
{
	struct dns_wire_head head = {.ede_code = -1};
	const ldns_rr_list *question;
	ldns_rr_list *own_an, *own_ns, *own_ar;
	ldns_rr_list *additional = NULL;
	ldns_rr_list *src_ar;
	ldns_pkt *pkt;
	ldns_rr *qrr;
	ldns_rdf *owner;
	uint8_t *wire = NULL;
	size_t size = 0;
	ldns_status status;
	int ret;

	if (!answer || !opts || !out || !opts->qname_wire)
		return -EINVAL;
	question = ldns_pkt_question(answer);
	if (!question || ldns_rr_list_rr_count(question) < 1)
		return -EINVAL;
	if (!dns_wire_name_is_valid(opts->qname_wire, opts->qname_len))
		return -EINVAL;

	head.id = opts->id;
	head.flags = (uint16_t)(DNS_FLAG_QR | DNS_FLAG_RA | (opts->rd ? DNS_FLAG_RD : 0) |
				(opts->cd ? DNS_FLAG_CD : 0) | (ldns_pkt_get_rcode(answer) & 0xf));
	head.qname = opts->qname_wire;
	head.qname_len = opts->qname_len;
	head.qtype = ldns_rr_get_type(ldns_rr_list_rr(question, 0));
	head.qclass = ldns_rr_get_class(ldns_rr_list_rr(question, 0));
	if (opts->edns) {
		head.opt = true;
		head.udp_size = DNS_EDNS_UDP_ANSWER;
		head.edns_do = opts->edns_do;
		head.ede_code = opts->ede_code;
		head.ede_text = opts->ede_text;
		head.ede_text_len = ede_text_len(opts->ede_text);
	}

	pkt = ldns_pkt_new();
	if (!pkt)
		return -ENOMEM;
	ldns_pkt_set_id(pkt, opts->id);
	ldns_pkt_set_qr(pkt, true);
	ldns_pkt_set_opcode(pkt, LDNS_PACKET_QUERY);
	ldns_pkt_set_aa(pkt, false); /* a recursive resolver is never authoritative */
	ldns_pkt_set_rd(pkt, opts->rd);
	ldns_pkt_set_ra(pkt, true);
	ldns_pkt_set_cd(pkt, opts->cd);
	ldns_pkt_set_ad(pkt, false); /* no DNSSEC validation yet */
	ldns_pkt_set_rcode(pkt, ldns_pkt_get_rcode(answer) & 0xf);

	owner = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, opts->qname_len, opts->qname_wire);
	qrr = ldns_rr_new();
	if (!owner || !qrr) {
		ldns_rdf_deep_free(owner);
		ldns_rr_free(qrr);
		ret = -ENOMEM;
		goto out_free_pkt;
	}
	ldns_rr_set_owner(qrr, owner);
	ldns_rr_set_question(qrr, true);
	ldns_rr_set_type(qrr, head.qtype);
	ldns_rr_set_class(qrr, head.qclass);
	if (!ldns_pkt_push_rr(pkt, LDNS_SECTION_QUESTION, qrr)) {
		ldns_rr_free(qrr);
		ret = -ENOMEM;
		goto out_free_pkt;
	}

	/* ldns keeps a parsed OPT out of the additional list; a hand-built one
	 * might not, and two OPTs would make the answer malformed. */
	src_ar = ldns_pkt_additional(answer);
	for (size_t i = 0; src_ar && i < ldns_rr_list_rr_count(src_ar); i++) {
		if (ldns_rr_get_type(ldns_rr_list_rr(src_ar, i)) == LDNS_RR_TYPE_OPT) {
			additional = ldns_rr_list_new();
			if (!additional) {
				ret = -ENOMEM;
				goto out_free_pkt;
			}
			for (size_t j = 0; j < ldns_rr_list_rr_count(src_ar); j++) {
				ldns_rr *rr = ldns_rr_list_rr(src_ar, j);

				if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_OPT &&
				    !ldns_rr_list_push_rr(additional, rr)) {
					ret = -ENOMEM;
					goto out_free_additional;
				}
			}
			break;
		}
	}

	if (opts->edns) {
		ret = answer_set_edns(pkt, opts);
		if (ret < 0)
			goto out_free_additional;
	}

	own_an = ldns_pkt_answer(pkt);
	own_ns = ldns_pkt_authority(pkt);
	own_ar = ldns_pkt_additional(pkt);
	ldns_pkt_set_answer(pkt, ldns_pkt_answer(answer));
	ldns_pkt_set_authority(pkt, ldns_pkt_authority(answer));
	ldns_pkt_set_additional(pkt, additional ? additional : src_ar);
	ldns_pkt_set_ancount(pkt, (uint16_t)ldns_rr_list_rr_count(ldns_pkt_answer(pkt)));
	ldns_pkt_set_nscount(pkt, (uint16_t)ldns_rr_list_rr_count(ldns_pkt_authority(pkt)));
	ldns_pkt_set_arcount(pkt, (uint16_t)ldns_rr_list_rr_count(ldns_pkt_additional(pkt)));
	status = ldns_pkt2wire(&wire, pkt, &size);
	ldns_pkt_set_answer(pkt, own_an);
	ldns_pkt_set_authority(pkt, own_ns);
	ldns_pkt_set_additional(pkt, own_ar);

	if (status != LDNS_STATUS_OK) {
		ret = status == LDNS_STATUS_MEM_ERR ? -ENOMEM : -EINVAL;
		goto out_free_wire;
	}
	if (size > opts->max_size || size > DNS_MSG_MAX) {
		ret = write_truncated(&head, opts->max_size, out, cap);
		goto out_free_wire;
	}
	if (size > cap) {
		ret = -ENOSPC;
		goto out_free_wire;
	}
	memcpy(out, wire, size);
	ret = (int)size;

out_free_wire:
	free(wire);
out_free_additional:
	ldns_rr_list_free(additional); /* shallow: the records belong to `answer` */
out_free_pkt:
	ldns_pkt_free(pkt);
	return ret;
}
