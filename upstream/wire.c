/*
 * upstream/wire.c — the query we send and the check of what comes back.
 *
 * The query is written by dns/ (dns_write_query(), no allocation), with RD
 * set for forwarding. The check is done on the wire, without parsing the
 * message: the header (ID, QR, QDCOUNT) and the question at offset 12,
 * read label by label and bounds-checked, since anyone who can reach our
 * port can send bytes here; then a skim of the sections (dns_wire_skim():
 * records within bounds, no allocation), so structural garbage is ignored
 * like any other non-matching message. A matching message goes to the
 * resolver, which parses it once (dns_parse()) and treats an unparsable
 * one as a failure of that server.
 *
 * With 0x20 (draft-vixie-dnsext-dns0x20) each leg's name carries random
 * letter case drawn here from the CSPRNG, in the leg's own query buffer (no
 * allocation), and the check compares the echo octet for octet: a reply
 * right in everything but case is reported as such (UPSTREAM_MATCH_CASE),
 * not accepted. After acceptance the resolver's own case is written back
 * over the question name, so names compressed to it read as asked.
 *
 * Interprets nothing beyond what matching needs: the rcode, the sections and
 * the TC bit are the resolver's business.
 */
#include "upstream/impl.h"
#include "dns/dns.h"
#include "util/random.h"

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
		return "unreadable question";
	case UPSTREAM_MATCH_BODY:
		return "body out of bounds (records, compression pointers or RDATA)";
	case UPSTREAM_MATCH_QUESTION:
		return "different question";
	case UPSTREAM_MATCH_CASE:
		return "question in another letter case (0x20)";
	case UPSTREAM_MATCH_SOURCE:
		return "from another address";
	case UPSTREAM_MATCH_TRUNCATED:
		return "truncated datagram";
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

/* ASCII-only case folding (RFC 4343 §3): other octets compare exactly. */
static uint8_t fold(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

/*
 * Compares the name at wire[pos] with `want` (an uncompressed wire name of
 * `want_len` octets) label by label, up to ASCII case; *exact says whether
 * it was also the same octet for octet. The name in a question at offset
 * 12 cannot be compressed (nothing precedes it to point at, RFC 1035
 * §4.1.4), so a pointer or an extended label type there is malformed. Sets
 * *end past the name when it is readable.
 */
static enum upstream_match name_match(const uint8_t *wire, size_t len, size_t pos,
				      const uint8_t *want, size_t want_len, size_t *end,
				      bool *exact)
{
	size_t start = pos;
	bool same = true;

	for (;;) {
		if (pos >= len)
			return UPSTREAM_MATCH_MALFORMED; /* cut inside the name */
		uint8_t label = wire[pos];
		if (label > 63)
			return UPSTREAM_MATCH_MALFORMED; /* compression or 0x40/0x80 types */
		if (pos + 1 + label > len || pos + 1 + label - start > DNS_NAME_MAX)
			return UPSTREAM_MATCH_MALFORMED;
		size_t at = pos - start; /* the same offset in `want` */
		if (same && (at >= want_len || want[at] != label || at + 1 + label > want_len))
			same = false;
		for (size_t k = 1; same && k <= label; k++)
			same = fold(wire[pos + k]) == fold(want[at + k]);
		pos += 1 + (size_t)label;
		if (label == 0)
			break;
	}
	*end = pos;
	if (!same || pos - start != want_len)
		return UPSTREAM_MATCH_QUESTION;
	*exact = memcmp(wire + start, want, want_len) == 0;
	return UPSTREAM_MATCH_OK;
}

enum upstream_match upstream_wire_match(const uint8_t *wire, size_t len, uint16_t id,
					const ldns_rdf *qname, uint16_t qtype, uint16_t qclass)
{
	bool ok = qname != NULL && ldns_rdf_get_type(qname) == LDNS_RDF_TYPE_DNAME;
	return upstream_wire_match_name(wire, len, id, ok ? ldns_rdf_data(qname) : NULL,
					ok ? ldns_rdf_size(qname) : 0, qtype, qclass, false);
}

enum upstream_match upstream_wire_match_name(const uint8_t *wire, size_t len, uint16_t id,
					     const uint8_t *name, size_t name_len, uint16_t qtype,
					     uint16_t qclass, bool exact)
{
	/* RFC 1035 §4.1.1: ID in bytes 0-1, QR the top bit of byte 2,
	 * QDCOUNT in bytes 4-5. */
	if (wire == NULL || len < DNS_HEADER_LEN)
		return UPSTREAM_MATCH_SHORT;
	if ((uint16_t)(wire[0] << 8 | wire[1]) != id)
		return UPSTREAM_MATCH_ID;
	if (!(wire[2] & 0x80))
		return UPSTREAM_MATCH_NOT_REPLY;
	/* RFC 5452 §9.1: accept only a response that echoes the question. */
	if ((wire[4] << 8 | wire[5]) != 1)
		return UPSTREAM_MATCH_QUESTION;
	if (name == NULL || name_len == 0)
		return UPSTREAM_MATCH_QUESTION;

	size_t pos = 0;
	bool same_case = false;
	enum upstream_match m =
		name_match(wire, len, DNS_HEADER_LEN, name, name_len, &pos, &same_case);
	if (m != UPSTREAM_MATCH_OK)
		return m;
	if (len - pos < 4)
		return UPSTREAM_MATCH_MALFORMED; /* cut before QTYPE and QCLASS end */
	if ((uint16_t)(wire[pos] << 8 | wire[pos + 1]) != qtype ||
	    (uint16_t)(wire[pos + 2] << 8 | wire[pos + 3]) != qclass)
		return UPSTREAM_MATCH_QUESTION;
	/* A body that is not even well formed is ignored, as a spoofed reply
	 * would be: the attempt waits for the real one (or its timeout, which
	 * the server's health then counts). The resolver parses the rest once. */
	if (!dns_wire_skim(wire, len))
		return UPSTREAM_MATCH_BODY;
	/* draft-vixie-dnsext-dns0x20 §4: with random case, the echo must be
	 * exact. Told apart from other mismatches: the caller asks again
	 * without caps, and learns which servers do not keep case. */
	if (exact && !same_case)
		return UPSTREAM_MATCH_CASE;
	return UPSTREAM_MATCH_OK;
}

bool upstream_wire_caps(uint8_t *name, size_t name_len, const struct upstream_rng *rng)
{
	uint32_t bits = 0;
	unsigned left = 0;
	bool upper = false, lower = false;

	for (size_t pos = 0; pos < name_len && name[pos] != 0 && name[pos] <= 63;) {
		size_t label = name[pos];
		for (size_t k = pos + 1; k <= pos + label && k < name_len; k++) {
			uint8_t c = fold(name[k]);
			if (c < 'a' || c > 'z')
				continue;
			if (left == 0) {
				bits = rng != NULL ? rng->u32(rng->ctx) : util_random_u32();
				left = 32;
			}
			bool up = bits & 1u;
			bits >>= 1;
			left--;
			name[k] = up ? (uint8_t)(c - ('a' - 'A')) : c;
			upper |= up;
			lower |= !up;
		}
		pos += 1 + label;
	}
	return upper && lower;
}

void upstream_wire_restore_qname(uint8_t *wire, size_t len, const uint8_t *name, size_t name_len)
{
	if (wire == NULL || name == NULL || len < DNS_HEADER_LEN || len - DNS_HEADER_LEN < name_len)
		return;
	memcpy(wire + DNS_HEADER_LEN, name, name_len);
}
