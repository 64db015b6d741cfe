/*
 * fuzz_query_reader — libFuzzer harness for the hot-path client query
 * reader (dns_read_query) and the error responses written from what it
 * read (dns_write_error).
 *
 * Beyond "no crash, no out-of-bounds read" (ASan, UBSan) it checks the
 * reader's promises: the name it returns is a valid uncompressed name of at
 * most 255 bytes and matches the bytes of the input; the error response
 * parses back with ldns (dns_parse) and carries the ID, the question and
 * the rcode it should; the name helpers accept every name the reader
 * accepts. It does not look at what the daemon would answer.
 */
#include "dns/dns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz/fuzz_check.h"

/* The rcode dns_write_error() would be called with for each outcome. */
static int outcome_rcode(enum dns_read_status st)
{
	switch (st) {
	case DNS_READ_OK:
		return DNS_RCODE_SERVFAIL; /* any rcode works; the daemon uses SERVFAIL etc. */
	case DNS_READ_FORMERR:
		return DNS_RCODE_FORMERR;
	case DNS_READ_NOTIMP:
		return DNS_RCODE_NOTIMP;
	case DNS_READ_BADVERS:
		return DNS_RCODE_BADVERS;
	case DNS_READ_DROP:
		break;
	}
	return -1;
}

static void check_name(const struct dns_query_view *q, const uint8_t *data, size_t size)
{
	size_t pos = 0;

	CHECK(q->qname_len >= 1 && q->qname_len <= DNS_NAME_MAX);
	/* the question starts right after the header and is copied verbatim */
	CHECK(size >= DNS_HEADER_LEN + (size_t)q->qname_len + 4);
	CHECK(memcmp(q->qname, data + DNS_HEADER_LEN, q->qname_len) == 0);
	while (q->qname[pos] != 0) {
		CHECK(q->qname[pos] <= 63);
		pos += 1u + q->qname[pos];
		CHECK(pos < q->qname_len);
	}
	CHECK(pos + 1 == q->qname_len);
}

/* The name helpers must take any name the reader accepts. */
static void check_name_helpers(const struct dns_query_view *q)
{
	uint8_t lower[DNS_NAME_MAX];
	char text[4 * DNS_NAME_MAX + 2];
	ldns_rdf *name, *low, *suffix;
	int labels;

	name = dns_name_from_wire(q->qname, q->qname_len);
	CHECK(name);
	memcpy(lower, q->qname, q->qname_len);
	dns_name_lower(lower, q->qname_len);
	low = dns_name_from_wire(lower, q->qname_len);
	CHECK(low);
	CHECK(ldns_dname_compare(name, low) == 0);
	labels = dns_name_label_count(name);
	CHECK(labels >= 0 && labels <= DNS_NAME_MAX / 2);
	suffix = dns_name_suffix(name, labels > 0 ? labels - 1 : 0);
	CHECK(suffix);
	CHECK(dns_name_is_subdomain(name, suffix));
	CHECK(dns_name_is_subdomain(low, suffix));
	dns_name_str(name, text, sizeof(text));
	CHECK(strlen(text) < sizeof(text));
	ldns_rdf_deep_free(suffix);
	ldns_rdf_deep_free(low);
	ldns_rdf_deep_free(name);
}

static void check_error_response(const struct dns_query_view *q, int rcode)
{
	uint8_t out[DNS_HEADER_LEN + DNS_NAME_MAX + 4 + 64];
	ldns_pkt *pkt = NULL;
	int len;

	len = dns_write_error(q, rcode, out, sizeof(out));
	CHECK(len >= DNS_HEADER_LEN);
	/* one byte short must be refused, never overrun */
	CHECK(dns_write_error(q, rcode, out, (size_t)len - 1) < 0);

	CHECK(dns_parse(out, (size_t)len, &pkt) == 0);
	CHECK(ldns_pkt_id(pkt) == q->id);
	CHECK(ldns_pkt_qr(pkt));
	CHECK(ldns_pkt_get_opcode(pkt) == q->opcode);
	CHECK(ldns_pkt_rd(pkt) == q->rd);
	CHECK(ldns_pkt_get_rcode(pkt) == (rcode & 0xf));
	CHECK(ldns_pkt_qdcount(pkt) == (q->has_question ? 1 : 0));
	if (q->has_question) {
		const ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
		const ldns_rdf *owner = ldns_rr_owner(rr);

		CHECK(ldns_rr_get_type(rr) == q->qtype);
		CHECK(ldns_rr_get_class(rr) == q->qclass);
		CHECK(ldns_rdf_size(owner) == q->qname_len);
		CHECK(memcmp(ldns_rdf_data(owner), q->qname, q->qname_len) == 0);
	}
	if (q->has_edns || rcode > 0xf) {
		CHECK(ldns_pkt_edns(pkt));
		CHECK(ldns_pkt_edns_version(pkt) == 0);
		CHECK(ldns_pkt_edns_extended_rcode(pkt) == (rcode >> 4));
	}
	ldns_pkt_free(pkt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_query_view q;
	enum dns_read_status st;
	int rcode;

	st = dns_read_query(data, size, &q);
	CHECK(st == DNS_READ_OK || st == DNS_READ_DROP || st == DNS_READ_FORMERR ||
	      st == DNS_READ_NOTIMP || st == DNS_READ_BADVERS);
	if (st == DNS_READ_DROP)
		return 0;
	CHECK(size >= DNS_HEADER_LEN);
	if (st == DNS_READ_OK) {
		CHECK(q.has_question);
		CHECK(q.opcode == 0);
		CHECK(!q.has_edns || q.edns_version == 0);
	}
	if (st == DNS_READ_BADVERS)
		CHECK(q.has_edns && q.edns_version > 0);
	if (q.has_question) {
		check_name(&q, data, size);
		check_name_helpers(&q);
	}

	rcode = outcome_rcode(st);
	check_error_response(&q, rcode);
	return 0;
}
