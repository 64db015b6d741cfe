/*
 * dns/impl.h — declarations shared only inside the dns module.
 * Byte-order helpers and the hand-written writer of the small messages the
 * module builds without ldns (errors, upstream queries, truncated answers).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"

/* RFC 1035 §4.1.1 header flag bits (in the 16-bit flag word). */
#define DNS_FLAG_QR 0x8000u
#define DNS_FLAG_AA 0x0400u
#define DNS_FLAG_TC 0x0200u
#define DNS_FLAG_RD 0x0100u
#define DNS_FLAG_RA 0x0080u
#define DNS_FLAG_AD 0x0020u
#define DNS_FLAG_CD 0x0010u
#define DNS_OPCODE_SHIFT 11
#define DNS_OPCODE_MASK 0xfu

#define DNS_TYPE_OPT 41
#define DNS_EDNS_DO 0x8000u	 /* RFC 3225 §3: in the low 16 bits of the OPT TTL */
#define DNS_EDNS_OPT_COOKIE 10	 /* RFC 7873 §4 */
#define DNS_EDNS_OPT_EDE 15	 /* RFC 8914 §2 */
#define DNS_EDNS_UDP_ANSWER 1232 /* DNS Flag Day 2020: fits common path MTUs */
#define DNS_OPT_FIXED_LEN 11	 /* root owner, type, class, TTL, RDLENGTH */

static inline uint16_t dns_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t dns_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void dns_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void dns_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- reading hostile messages without allocating (query_reader.c, skim.c) ---- */

/* A cursor over the datagram; `pos` never exceeds `len`. */
struct dns_reader {
	const uint8_t *wire;
	size_t len;
	size_t pos;
};

static inline bool dns_reader_has(const struct dns_reader *r, size_t n)
{
	return r->len - r->pos >= n;
}

static inline bool dns_reader_u16(struct dns_reader *r, uint16_t *v)
{
	if (!dns_reader_has(r, 2))
		return false;
	*v = dns_get16(r->wire + r->pos);
	r->pos += 2;
	return true;
}

/*
 * Skips an owner name elsewhere in the message. Compression is legal there
 * (RFC 1035 §4.1.4), but we never follow a pointer: we only check it points
 * backwards, to where a name could have started. `is_root` tells whether
 * the name was the bare root label.
 */
static inline bool dns_reader_skip_name(struct dns_reader *r, bool *is_root)
{
	size_t n = 0;
	size_t start = r->pos;

	for (;;) {
		uint8_t label;

		if (!dns_reader_has(r, 1))
			return false;
		label = r->wire[r->pos];
		if ((label & 0xc0) == 0xc0) {
			uint16_t ptr;

			if (!dns_reader_has(r, 2))
				return false;
			ptr = dns_get16(r->wire + r->pos) & 0x3fff;
			if (ptr >= r->pos)
				return false;
			r->pos += 2;
			*is_root = false;
			return true;
		}
		if (label > 63)
			return false;
		if (!dns_reader_has(r, 1u + label) || n + 1u + label > DNS_NAME_MAX)
			return false;
		n += 1u + label;
		r->pos += 1u + label;
		if (label == 0)
			break;
	}
	*is_root = r->pos - start == 1;
	return true;
}

struct dns_rr_head {
	bool owner_is_root;
	uint16_t type, rclass;
	uint32_t ttl;
	uint16_t rdlen;
	size_t rdata; /* offset of RDATA in the message */
};

/* Reads one RR's fixed part and steps over its RDATA, staying in bounds. */
static inline bool dns_reader_rr(struct dns_reader *r, struct dns_rr_head *rr)
{
	if (!dns_reader_skip_name(r, &rr->owner_is_root))
		return false;
	if (!dns_reader_has(r, 10))
		return false;
	rr->type = dns_get16(r->wire + r->pos);
	rr->rclass = dns_get16(r->wire + r->pos + 2);
	rr->ttl = dns_get32(r->wire + r->pos + 4);
	rr->rdlen = dns_get16(r->wire + r->pos + 8);
	r->pos += 10;
	if (!dns_reader_has(r, rr->rdlen))
		return false;
	rr->rdata = r->pos;
	r->pos += rr->rdlen;
	return true;
}

/* ---- compressed names as ldns will read them (wire_names.c) ---- */

/*
 * Checks the possibly compressed name at wire[*pos]: labels of at most 63
 * octets, each pointer strictly before the run of labels it ends and past
 * the header, at most DNS_NAME_MAX_POINTERS pointers, at most DNS_NAME_MAX
 * octets expanded. On success *pos is past the name's own octets.
 */
bool dns_wire_name_check(const uint8_t *wire, size_t len, size_t *pos);
/*
 * Checks the RDATA of a record of `type` at wire[rdata], `rdlen` octets:
 * its fields as ldns_wire2rdf() reads them (the type's ldns descriptor) end
 * exactly at rdata + rdlen, and each name field passes
 * dns_wire_name_check() inside the RDATA, and there are at most
 * DNS_RDATA_MAX_FIELDS of them.
 */
bool dns_wire_rdata_check(const uint8_t *wire, size_t len, uint16_t type, size_t rdata,
			  uint16_t rdlen);

/* A message made of a header, at most one question and at most one OPT. */
struct dns_wire_head {
	uint16_t id;
	uint16_t flags;	      /* the whole flag word, low 4 bits of the rcode included */
	const uint8_t *qname; /* uncompressed wire name; NULL: no question */
	uint8_t qname_len;
	uint16_t qtype, qclass;
	bool opt; /* append an OPT record */
	uint16_t udp_size;
	uint8_t ext_rcode; /* upper 8 bits of a 12-bit rcode (RFC 6891 §6.1.3) */
	bool edns_do;
	int ede_code;	      /* -1: no Extended DNS Error option */
	const char *ede_text; /* may be NULL */
	size_t ede_text_len;
};

/* Writes `h` into `out`. The length, or -ENOSPC when `cap` is too small. */
int dns_wire_write_head(const struct dns_wire_head *h, uint8_t *out, size_t cap);

/*
 * Checks an uncompressed wire name of exactly `len` bytes: labels of at
 * most 63 bytes, no compression or extended label types, ends with the root
 * label at len - 1, len <= 255.
 */
bool dns_wire_name_is_valid(const uint8_t *name, size_t len);
