/*
 * query_reader — the hot-path reader of client queries and the writer of
 * the error responses it leads to.
 *
 * Every byte is hostile: each read is checked against the datagram's
 * length, and nothing here allocates or follows a compression pointer. It
 * reads the header, the single question and the OPT record, and checks that
 * the rest of the message is well formed; it does not interpret other
 * records (TSIG, SIG(0) are skipped over), does not validate cookies and
 * does not decide what to answer beyond the rcode of a malformed query.
 */
#include "dns/dns.h"
#include "dns/impl.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

/*
 * The question name: uncompressed only (a query has nothing earlier to
 * point at), labels <= 63 bytes, whole name <= 255 bytes (RFC 1035 §2.3.4).
 * Copied out as received, letter case included.
 */
static bool read_qname(struct dns_reader *r, uint8_t *name, uint8_t *name_len)
{
	size_t n = 0;

	for (;;) {
		uint8_t label;

		if (!dns_reader_has(r, 1))
			return false;
		label = r->wire[r->pos];
		/* > 63 covers pointers (0xc0) and extended label types (0x40, 0x80) */
		if (label > 63)
			return false;
		if (!dns_reader_has(r, 1u + label) || n + 1u + label > DNS_NAME_MAX)
			return false;
		memcpy(name + n, r->wire + r->pos, 1u + label);
		n += 1u + label;
		r->pos += 1u + label;
		if (label == 0)
			break;
	}
	*name_len = (uint8_t)n;
	return true;
}

/*
 * Walks the EDNS options of a version-0 OPT (RFC 6891 §6.1.2): each is a
 * code, a length and that many bytes, and together they fill RDATA exactly.
 */
static bool read_edns_options(const uint8_t *wire, size_t pos, size_t end, struct dns_query_view *q)
{
	while (pos < end) {
		uint16_t code, olen;

		if (end - pos < 4)
			return false;
		code = dns_get16(wire + pos);
		olen = dns_get16(wire + pos + 2);
		pos += 4;
		if (end - pos < olen)
			return false;
		if (code == DNS_EDNS_OPT_COOKIE) {
			/* RFC 7873 §5.2.2: a client cookie alone (8 bytes) or with a
			 * server cookie of 8 to 32 bytes; any other length is FORMERR */
			if (olen != 8 && (olen < 16 || olen > 40))
				return false;
			q->has_cookie = true;
		}
		pos += olen;
	}
	return true;
}

/* The OPT pseudo-RR: RFC 6891 §6.1.1-6.1.3. */
static enum dns_read_status read_opt(const struct dns_reader *r, const struct dns_rr_head *rr,
				     struct dns_query_view *q)
{
	/* §6.1.1: at most one OPT, owned by the root */
	if (q->has_edns || !rr->owner_is_root)
		return DNS_READ_FORMERR;
	q->has_edns = true;
	q->edns_udp_size = rr->rclass;
	q->edns_version = (uint8_t)(rr->ttl >> 16);
	q->edns_do = (rr->ttl & DNS_EDNS_DO) != 0;
	/* A later version may lay its options out differently: do not walk them. */
	if (q->edns_version > 0)
		return DNS_READ_BADVERS;
	if (!read_edns_options(r->wire, rr->rdata, rr->rdata + rr->rdlen, q))
		return DNS_READ_FORMERR;
	return DNS_READ_OK;
}

/*
 * Everything after the header. Returns as soon as the message proves
 * malformed, so that `q` holds what was read before that point.
 */
static enum dns_read_status read_sections(struct dns_reader *r, struct dns_query_view *q,
					  uint16_t qdcount, uint16_t ancount, uint16_t nscount,
					  uint16_t arcount)
{
	enum dns_read_status status = DNS_READ_OK;
	struct dns_rr_head rr;

	/* One question per query in practice (RFC 9619 makes it the rule). */
	if (qdcount > 1)
		return DNS_READ_FORMERR;
	if (qdcount == 1) {
		if (!read_qname(r, q->qname, &q->qname_len))
			return DNS_READ_FORMERR;
		if (!dns_reader_u16(r, &q->qtype) || !dns_reader_u16(r, &q->qclass))
			return DNS_READ_FORMERR;
		q->has_question = true;
	} else {
		/*
		 * No question: FORMERR, but keep reading so the answer can carry
		 * an OPT (a cookie-only query, RFC 7873 §5.4, looks like this).
		 */
		status = DNS_READ_FORMERR;
	}

	/* A QUERY carries no answers; other opcodes (NOTIFY) may, and are
	 * read only to find their OPT. */
	if (ancount != 0 && q->opcode == 0)
		return DNS_READ_FORMERR;
	for (uint32_t i = 0; i < (uint32_t)ancount + nscount; i++) {
		if (!dns_reader_rr(r, &rr))
			return DNS_READ_FORMERR;
	}

	for (uint16_t i = 0; i < arcount; i++) {
		if (!dns_reader_rr(r, &rr))
			return DNS_READ_FORMERR;
		if (rr.type == DNS_TYPE_OPT) {
			enum dns_read_status opt = read_opt(r, &rr, q);

			if (opt == DNS_READ_FORMERR)
				return opt;
			if (opt == DNS_READ_BADVERS && status == DNS_READ_OK)
				status = opt;
		}
	}

	/* Bytes after the last record: not a message we understand. */
	if (r->pos != r->len)
		return DNS_READ_FORMERR;
	return status;
}

enum dns_read_status dns_read_query(const uint8_t *wire, size_t len, struct dns_query_view *q)
{
	struct dns_reader r = {.wire = wire, .len = len, .pos = DNS_HEADER_LEN};
	enum dns_read_status status;

	/* qname means something only with has_question: leave its 255 bytes be */
	memset(q, 0, offsetof(struct dns_query_view, qname));
	memset(&q->qname_len, 0, sizeof(*q) - offsetof(struct dns_query_view, qname_len));
	if (!wire || len < DNS_HEADER_LEN)
		return DNS_READ_DROP;

	q->id = dns_get16(wire);
	q->flags = dns_get16(wire + 2);
	/* A response sent to us: answering it could start a loop (RFC 5452 §9.1). */
	if (q->flags & DNS_FLAG_QR)
		return DNS_READ_DROP;
	q->opcode = (uint8_t)((q->flags >> DNS_OPCODE_SHIFT) & DNS_OPCODE_MASK);
	q->rd = (q->flags & DNS_FLAG_RD) != 0;
	q->cd = (q->flags & DNS_FLAG_CD) != 0;

	status = read_sections(&r, q, dns_get16(wire + 4), dns_get16(wire + 6), dns_get16(wire + 8),
			       dns_get16(wire + 10));
	/* RFC 1035 §4.1.1: NOTIMP for any opcode but QUERY, whatever follows;
	 * the question and OPT are kept when they could be read. */
	if (q->opcode != 0)
		return DNS_READ_NOTIMP;
	return status;
}

int dns_write_error(const struct dns_query_view *q, int rcode, uint8_t *out, size_t cap)
{
	return dns_write_error_ede(q, rcode, -1, NULL, out, cap);
}

int dns_write_error_ede(const struct dns_query_view *q, int rcode, int ede_code,
			const char *ede_text, uint8_t *out, size_t cap)
{
	struct dns_wire_head h = {.ede_code = -1};

	if (!q || !out || rcode < 0 || rcode > 0xfff)
		return -EINVAL;
	h.id = q->id;
	h.flags = (uint16_t)(DNS_FLAG_QR | DNS_FLAG_RA | ((uint16_t)q->opcode << DNS_OPCODE_SHIFT) |
			     (q->rd ? DNS_FLAG_RD : 0) |
			     /* RFC 4035 §3.1.6: CD is copied into the response */
			     (q->cd ? DNS_FLAG_CD : 0) | (rcode & 0xf));
	if (q->has_question) {
		h.qname = q->qname;
		h.qname_len = q->qname_len;
		h.qtype = q->qtype;
		h.qclass = q->qclass;
	}
	/* RFC 6891 §7: answer EDNS with EDNS; an rcode above 15 needs the OPT
	 * to carry its upper bits (§6.1.3), so it forces one. */
	if (q->has_edns || rcode > 0xf) {
		h.opt = true;
		h.udp_size = DNS_EDNS_UDP_ANSWER;
		h.ext_rcode = (uint8_t)(rcode >> 4);
		h.edns_do = q->edns_do; /* RFC 3225 §3: DO is copied */
		/* RFC 8914 §3: only in an OPT the client asked for with its own */
		if (q->has_edns && ede_code >= 0 && ede_code <= 0xffff) {
			h.ede_code = ede_code;
			h.ede_text = ede_text;
			h.ede_text_len =
				ede_text ? strnlen(ede_text, 256) : 0; /* ours: short ASCII */
		}
	}
	return dns_wire_write_head(&h, out, cap);
}
