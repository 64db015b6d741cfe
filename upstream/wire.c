/*
 * upstream/wire.c — the query we send and the check of what comes back.
 *
 * A thin stand-in for the dns/ module's dns_write_query(),
 * dns_parse() and dns_response_matches() (same contracts), written against
 * ldns directly so upstream could be built while dns/ was being written.
 * When dns/ is in, these two functions can become calls into it and
 * upstream -> ldns becomes upstream -> dns, as DESIGN.md draws it.
 *
 * Interprets nothing beyond what matching needs: the rcode, the sections and
 * the TC bit are the resolver's business.
 */
#include "upstream/impl.h"
#include "dns/dns.h"

#include <errno.h>
#include <string.h>

const char *upstream_match_str(enum upstream_match m)
{
	switch (m) {
	case UPSTREAM_MATCH_OK:
		return "ok";
	case UPSTREAM_MATCH_SHORT:
		return "shorter than a header";
	case UPSTREAM_MATCH_ID:
		return "wrong ID";
	case UPSTREAM_MATCH_NOT_REPLY:
		return "QR=0";
	case UPSTREAM_MATCH_MALFORMED:
		return "malformed";
	case UPSTREAM_MATCH_QUESTION:
		return "different question";
	}
	return "?";
}

int upstream_wire_query(uint8_t *out, size_t cap, uint16_t id, const ldns_rdf *qname,
			uint16_t qtype, uint16_t qclass, uint16_t edns_size, bool dnssec_ok,
			bool rd)
{
	if (qname == NULL || ldns_rdf_get_type(qname) != LDNS_RDF_TYPE_DNAME)
		return -EINVAL;
	/* dns/'s writer: no allocation on the way out. RD=0 (we iterate),
	 * unless forwarding to a recursive upstream. */
	int len = dns_write_query(out, cap, id, qname, qtype, qclass, edns_size, dnssec_ok);
	if (len >= 3 && rd)
		out[2] |= 0x01; /* RFC 1035 §4.1.1: RD is the low bit of byte 2 */
	return len;
}

enum upstream_match upstream_wire_match(const uint8_t *wire, size_t len, uint16_t id,
					const ldns_rdf *qname, uint16_t qtype, uint16_t qclass)
{
	/* Cheap checks on the raw header first: most junk stops here. */
	if (len < LDNS_HEADER_SIZE)
		return UPSTREAM_MATCH_SHORT;
	if (LDNS_ID_WIRE(wire) != id)
		return UPSTREAM_MATCH_ID;
	if (!LDNS_QR_WIRE(wire))
		return UPSTREAM_MATCH_NOT_REPLY;

	ldns_pkt *pkt = NULL;
	if (ldns_wire2pkt(&pkt, wire, len) != LDNS_STATUS_OK)
		return UPSTREAM_MATCH_MALFORMED;

	/* RFC 5452 §9.1: accept only a response that echoes the question. */
	enum upstream_match ret = UPSTREAM_MATCH_QUESTION;
	const ldns_rr_list *qs = ldns_pkt_question(pkt);
	if (qs != NULL && ldns_rr_list_rr_count(qs) == 1) {
		const ldns_rr *q = ldns_rr_list_rr(qs, 0);
		const ldns_rdf *owner = ldns_rr_owner(q);
		/* ldns_dname_compare() folds case (RFC 4343). */
		if (owner != NULL && ldns_dname_compare(owner, qname) == 0 &&
		    ldns_rr_get_type(q) == qtype && ldns_rr_get_class(q) == qclass)
			ret = UPSTREAM_MATCH_OK;
	}
	ldns_pkt_free(pkt);
	return ret;
}
