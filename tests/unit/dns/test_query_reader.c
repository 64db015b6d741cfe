/*
 * Tests for dns/query_reader.c: the hot-path client query reader and the
 * error responses. Inputs are built byte by byte (msg_builder.h) and always
 * passed in an exact-size heap copy, so that under ASan a read one byte past
 * the end is caught.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "dns/dns.h"
#include "msg_builder.h"

#define T_A 1
#define T_NS 2
#define T_MX 15
#define T_AAAA 28
#define T_TSIG 250
#define C_IN 1
#define C_ANY 255

static enum dns_read_status read_exact(const uint8_t *wire, size_t len, struct dns_query_view *q)
{
	uint8_t *copy = malloc(len ? len : 1);
	enum dns_read_status st;

	assert_non_null(copy);
	memcpy(copy, wire, len);
	st = dns_read_query(copy, len, q);
	free(copy);
	return st;
}

static enum dns_read_status read_msg(const struct msg *m, struct dns_query_view *q)
{
	return read_exact(m->b, m->len, q);
}

static void build_edns_query(struct msg *m)
{
	static const uint8_t cookie[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};

	msg_header(m, 0xbeef, 0x0100, 1, 0, 0, 1);
	msg_question(m, "WwW.Example.COM", T_AAAA, C_IN);
	msg_opt(m, 4096, 0, 0, true, cookie, sizeof(cookie));
}

static void test_plain_query(void **state)
{
	struct msg m;
	struct dns_query_view q;
	static const uint8_t want[] = "\x03www\x07"
				      "example\x03"
				      "com";

	msg_header(&m, 0x1234, 0x0100, 1, 0, 0, 0);
	msg_question(&m, "www.example.com", T_A, C_IN);
	assert_int_equal(read_msg(&m, &q), DNS_READ_OK);
	assert_int_equal(q.id, 0x1234);
	assert_int_equal(q.flags, 0x0100);
	assert_int_equal(q.opcode, 0);
	assert_true(q.rd);
	assert_false(q.cd);
	assert_true(q.has_question);
	assert_int_equal(q.qname_len, sizeof(want));
	assert_memory_equal(q.qname, want, sizeof(want));
	assert_int_equal(q.qtype, T_A);
	assert_int_equal(q.qclass, C_IN);
	assert_false(q.has_edns);
	assert_false(q.has_cookie);
}

static void test_root_and_cd(void **state)
{
	struct msg m;
	struct dns_query_view q;

	msg_header(&m, 1, 0x0010, 1, 0, 0, 0); /* CD, no RD */
	msg_question(&m, ".", T_NS, C_IN);
	assert_int_equal(read_msg(&m, &q), DNS_READ_OK);
	assert_false(q.rd);
	assert_true(q.cd);
	assert_int_equal(q.qname_len, 1);
	assert_int_equal(q.qname[0], 0);
}

static void test_edns_query(void **state)
{
	struct msg m;
	struct dns_query_view q;

	msg_header(&m, 7, 0x0100, 1, 0, 0, 1);
	msg_question(&m, "example.org", T_MX, C_IN);
	msg_opt(&m, 1232, 0, 0, false, NULL, 0);
	assert_int_equal(read_msg(&m, &q), DNS_READ_OK);
	assert_true(q.has_edns);
	assert_int_equal(q.edns_udp_size, 1232);
	assert_int_equal(q.edns_version, 0);
	assert_false(q.edns_do);
	assert_false(q.has_cookie);
	assert_int_equal(q.qtype, T_MX);
}

static void test_edns_do_and_cookie(void **state)
{
	struct msg m;
	struct dns_query_view q;

	build_edns_query(&m);
	assert_int_equal(read_msg(&m, &q), DNS_READ_OK);
	assert_true(q.has_edns);
	assert_true(q.edns_do);
	assert_true(q.has_cookie);
	assert_int_equal(q.edns_udp_size, 4096);
	/* letter case preserved */
	assert_memory_equal(q.qname,
			    "\x03WwW\x07"
			    "Example\x03"
			    "COM",
			    q.qname_len);
}

static void test_cookie_with_server_cookie(void **state)
{
	uint8_t opt[4 + 24] = {0, 10, 0, 24};
	struct msg m;
	struct dns_query_view q;

	msg_header(&m, 7, 0, 1, 0, 0, 1);
	msg_question(&m, "example.org", T_A, C_IN);
	msg_opt(&m, 1232, 0, 0, false, opt, sizeof(opt));
	assert_int_equal(read_msg(&m, &q), DNS_READ_OK);
	assert_true(q.has_cookie);
}

static void test_bad_cookie_length(void **state)
{
	uint8_t opt[4 + 12] = {0, 10, 0, 12};
	struct msg m;
	struct dns_query_view q;

	msg_header(&m, 7, 0, 1, 0, 0, 1);
	msg_question(&m, "example.org", T_A, C_IN);
	msg_opt(&m, 1232, 0, 0, false, opt, sizeof(opt));
	assert_int_equal(read_msg(&m, &q), DNS_READ_FORMERR);
	assert_true(q.has_question);
	assert_true(q.has_edns); /* the FORMERR answer still carries an OPT */
}

static void test_bad_option_lengths(void **state)
{
	/* option length runs past RDATA */
	static const uint8_t over[] = {0, 3, 0, 5, 'a', 'b'};
	/* three bytes: not even an option header */
	static const uint8_t stub[] = {0, 3, 0};
	struct msg m;
	struct dns_query_view q;

	msg_header(&m, 7, 0, 1, 0, 0, 1);
	msg_question(&m, "example.org", T_A, C_IN);
	msg_opt(&m, 1232, 0, 0, false, over, sizeof(over));
	assert_int_equal(read_msg(&m, &q), DNS_READ_FORMERR);

	msg_header(&m, 7, 0, 1, 0, 0, 1);
	msg_question(&m, "example.org", T_A, C_IN);
	msg_opt(&m, 1232, 0, 0, false, stub, sizeof(stub));
	assert_int_equal(read_msg(&m, &q), DNS_READ_FORMERR);
}

static void test_truncated_everywhere(void **state)
{
	struct msg m;
	struct dns_query_view q;

	build_edns_query(&m);
	for (size_t n = 0; n < m.len; n++) {
		enum dns_read_status st = read_exact(m.b, n, &q);

		if (n < DNS_HEADER_LEN)
			assert_int_equal(st, DNS_READ_DROP);
		else
			assert_int_equal(st, DNS_READ_FORMERR);
	}
	assert_int_equal(read_exact(m.b, m.len, &q), DNS_READ_OK);
}

static void test_label_too_long(void **state)
{
	char label[65];
	struct msg m;
	struct dns_query_view q;

	memset(label, 'a', 63);
	label[63] = '\0';
	msg_header(&m, 1, 0, 1, 0, 0, 0);
	msg_question(&m, label, T_A, C_IN);
	assert_int_equal(read_msg(&m, &q), DNS_READ_OK);
	assert_int_equal(q.qname_len, 65);

	memset(label, 'a', 64);
	label[64] = '\0';
	msg_header(&m, 1, 0, 1, 0, 0, 0);
	msg_question(&m, label, T_A, C_IN);
	assert_int_equal(read_msg(&m, &q), DNS_READ_FORMERR);
	assert_false(q.has_question);
}

/* A name of `total` wire bytes made of labels of up to 63 bytes; `total`
 * must not leave a remainder of one byte (255 and 257 do not). */
static void put_long_name(struct msg *m, size_t total)
{
	size_t left = total - 1;

	while (left > 0) {
		size_t n = left - 1 > 63 ? 63 : left - 1;

		msg_u8(m, (uint8_t)n);
		for (size_t i = 0; i < n; i++)
			msg_u8(m, 'x');
		left -= n + 1;
	}
	msg_u8(m, 0);
}

static void test_name_too_long(void **state)
{
	struct msg m;
	struct dns_query_view q;

	/* 64+64+64+62 + root = 255 bytes: the longest legal name */
	msg_header(&m, 1, 0, 1, 0, 0, 0);
	put_long_name(&m, 255);
	msg_u16(&m, T_A);
	msg_u16(&m, C_IN);
	assert_int_equal(read_msg(&m, &q), DNS_READ_OK);
	assert_int_equal(q.qname_len, 255);

	/* 64*4 + root = 257 bytes */
	msg_header(&m, 1, 0, 1, 0, 0, 0);
	put_long_name(&m, 257);
	msg_u16(&m, T_A);
	msg_u16(&m, C_IN);
	assert_int_equal(read_msg(&m, &q), DNS_READ_FORMERR);
	assert_false(q.has_question);
}

static void test_compression_in_question(void **state)
{
	struct msg m;
	struct dns_query_view q;

	msg_header(&m, 1, 0, 1, 0, 0, 0);
	msg_u8(&m, 3);
	msg_bytes(&m, "www", 3);
	msg_u16(&m, 0xc000 | 12); /* pointer back to the name itself */
	msg_u16(&m, T_A);
	msg_u16(&m, C_IN);
	assert_int_equal(read_msg(&m, &q), DNS_READ_FORMERR);
	assert_false(q.has_question);

	/* extended label type 0x40 (RFC 6891 §5) */
	msg_header(&m, 1, 0, 1, 0, 0, 0);
	msg_u8(&m, 0x41);
	msg_u8(&m, 0);
	msg_u16(&m, T_A);
	msg_u16(&m, C_IN);
	assert_int_equal(read_msg(&m, &q), DNS_READ_FORMERR);
}

static void test_qdcount(void **state)
{
	struct msg m;
	struct dns_query_view q;

	msg_header(&m, 1, 0, 0, 0, 0, 0);
	assert_int_equal(read_msg(&m, &q), DNS_READ_FORMERR);
	assert_false(q.has_question);
	assert_false(q.has_edns);

	/* no question but a cookie in an OPT (RFC 7873 §5.4 shape) */
	{
		static const uint8_t cookie[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};

		msg_header(&m, 1, 0, 0, 0, 0, 1);
		msg_opt(&m, 1232, 0, 0, false, cookie, sizeof(cookie));
		assert_int_equal(read_msg(&m, &q), DNS_READ_FORMERR);
		assert_false(q.has_question);
		assert_true(q.has_edns);
		assert_true(q.has_cookie);
	}

	msg_header(&m, 1, 0, 2, 0, 0, 0);
	msg_question(&m, "a.example", T_A, C_IN);
	msg_question(&m, "b.example", T_A, C_IN);
	assert_int_equal(read_msg(&m, &q), DNS_READ_FORMERR);
	assert_false(q.has_question);
}

static void test_ancount(void **state)
{
	struct msg m;
	struct dns_query_view q;

	msg_header(&m, 1, 0, 1, 1, 0, 0);
	msg_question(&m, "example.com", T_A, C_IN);
	msg_u16(&m, 0xc00c);
	msg_u16(&m, T_A);
	msg_u16(&m, C_IN);
	msg_u32(&m, 300);
	msg_u16(&m, 4);
	msg_u32(&m, 0x7f000001);
	assert_int_equal(read_msg(&m, &q), DNS_READ_FORMERR);
	assert_true(q.has_question); /* echoed in the FORMERR */
}

static void test_authority_skipped(void **state)
{
	struct msg m;
	struct dns_query_view q;

	/* a well-formed authority record with a backward pointer is skipped */
	msg_header(&m, 1, 0, 1, 0, 1, 0);
	msg_question(&m, "example.com", T_A, C_IN);
	msg_u16(&m, 0xc00c);
	msg_u16(&m, T_NS);
	msg_u16(&m, C_IN);
	msg_u32(&m, 300);
	msg_u16(&m, 2);
	msg_u16(&m, 0xc00c);
	assert_int_equal(read_msg(&m, &q), DNS_READ_OK);

	/* RDLENGTH past the end */
	msg_header(&m, 1, 0, 1, 0, 1, 0);
	msg_question(&m, "example.com", T_A, C_IN);
	msg_u16(&m, 0xc00c);
	msg_u16(&m, T_NS);
	msg_u16(&m, C_IN);
	msg_u32(&m, 300);
	msg_u16(&m, 3);
	msg_u16(&m, 0xc00c);
	assert_int_equal(read_msg(&m, &q), DNS_READ_FORMERR);

	/* a forward pointer is not a name */
	msg_header(&m, 1, 0, 1, 0, 1, 0);
	msg_question(&m, "example.com", T_A, C_IN);
	msg_u16(&m, 0xc000 | 200);
	msg_u16(&m, T_NS);
	msg_u16(&m, C_IN);
	msg_u32(&m, 300);
	msg_u16(&m, 0);
	assert_int_equal(read_msg(&m, &q), DNS_READ_FORMERR);
}

static void test_tsig_skipped(void **state)
{
	struct msg m;
	struct dns_query_view q;

	msg_header(&m, 1, 0, 1, 0, 0, 2);
	msg_question(&m, "example.com", T_A, C_IN);
	msg_opt(&m, 1232, 0, 0, false, NULL, 0);
	msg_name(&m, "key.example");
	msg_u16(&m, T_TSIG);
	msg_u16(&m, C_ANY);
	msg_u32(&m, 0);
	msg_u16(&m, 3);
	msg_bytes(&m, "abc", 3);
	assert_int_equal(read_msg(&m, &q), DNS_READ_OK);
	assert_true(q.has_edns);
}

static void test_two_opts(void **state)
{
	struct msg m;
	struct dns_query_view q;

	msg_header(&m, 1, 0, 1, 0, 0, 2);
	msg_question(&m, "example.com", T_A, C_IN);
	msg_opt(&m, 1232, 0, 0, false, NULL, 0);
	msg_opt(&m, 1232, 0, 0, false, NULL, 0);
	assert_int_equal(read_msg(&m, &q), DNS_READ_FORMERR);
	assert_true(q.has_question);
}

static void test_opt_owner_not_root(void **state)
{
	struct msg m;
	struct dns_query_view q;

	msg_header(&m, 1, 0, 1, 0, 0, 1);
	msg_question(&m, "example.com", T_A, C_IN);
	msg_name(&m, "example.com");
	msg_u16(&m, 41);
	msg_u16(&m, 1232);
	msg_u32(&m, 0);
	msg_u16(&m, 0);
	assert_int_equal(read_msg(&m, &q), DNS_READ_FORMERR);
	assert_false(q.has_edns);
}

static void test_badvers(void **state)
{
	struct msg m;
	struct dns_query_view q;

	msg_header(&m, 1, 0x0100, 1, 0, 0, 1);
	msg_question(&m, "example.com", T_A, C_IN);
	msg_opt(&m, 1232, 0, 1, true, NULL, 0);
	assert_int_equal(read_msg(&m, &q), DNS_READ_BADVERS);
	assert_true(q.has_question);
	assert_true(q.has_edns);
	assert_int_equal(q.edns_version, 1);
	assert_true(q.edns_do);
}

static void test_opcodes(void **state)
{
	/* IQUERY, STATUS, NOTIFY, UPDATE, DSO */
	static const uint8_t opcodes[] = {1, 2, 4, 5, 6};
	struct msg m;
	struct dns_query_view q;

	for (size_t i = 0; i < sizeof(opcodes); i++) {
		msg_header(&m, 9, (uint16_t)(opcodes[i] << 11), 1, 0, 0, 1);
		msg_question(&m, "example.com", 6 /* SOA */, C_IN);
		msg_opt(&m, 1232, 0, 0, false, NULL, 0);
		assert_int_equal(read_msg(&m, &q), DNS_READ_NOTIMP);
		assert_int_equal(q.opcode, opcodes[i]);
		assert_true(q.has_question);
		assert_true(q.has_edns);
	}

	/* NOTIFY with the SOA in the answer section (RFC 1996 §3.7) */
	msg_header(&m, 9, 4 << 11, 1, 1, 0, 0);
	msg_question(&m, "example.com", 6, C_IN);
	msg_u16(&m, 0xc00c);
	msg_u16(&m, 6);
	msg_u16(&m, C_IN);
	msg_u32(&m, 300);
	msg_u16(&m, 0);
	assert_int_equal(read_msg(&m, &q), DNS_READ_NOTIMP);
	assert_true(q.has_question);

	/* malformed and not a QUERY: still NOTIMP */
	msg_header(&m, 9, 5 << 11, 1, 0, 0, 0);
	msg_u8(&m, 70);
	assert_int_equal(read_msg(&m, &q), DNS_READ_NOTIMP);
	assert_false(q.has_question);
}

static void test_drop(void **state)
{
	struct msg m;
	struct dns_query_view q;

	msg_header(&m, 1, 0x8000, 1, 0, 0, 0);
	msg_question(&m, "example.com", T_A, C_IN);
	assert_int_equal(read_msg(&m, &q), DNS_READ_DROP);
	assert_int_equal(read_exact(m.b, 0, &q), DNS_READ_DROP);
	assert_int_equal(read_exact(m.b, 11, &q), DNS_READ_DROP);
	assert_int_equal(dns_read_query(NULL, 0, &q), DNS_READ_DROP);
}

static void test_trailing_garbage(void **state)
{
	struct msg m;
	struct dns_query_view q;

	msg_header(&m, 1, 0, 1, 0, 0, 0);
	msg_question(&m, "example.com", T_A, C_IN);
	msg_u8(&m, 0);
	assert_int_equal(read_msg(&m, &q), DNS_READ_FORMERR);
	assert_true(q.has_question);

	build_edns_query(&m);
	msg_bytes(&m, "junk", 4);
	assert_int_equal(read_msg(&m, &q), DNS_READ_FORMERR);
}

/* ---- dns_write_error ---------------------------------------------------- */

static ldns_pkt *write_and_parse(const struct dns_query_view *q, int rcode, int *len)
{
	uint8_t out[512];
	ldns_pkt *pkt = NULL;

	*len = dns_write_error(q, rcode, out, sizeof(out));
	assert_true(*len >= DNS_HEADER_LEN);
	assert_int_equal(ldns_wire2pkt(&pkt, out, (size_t)*len), LDNS_STATUS_OK);
	return pkt;
}

static void test_write_formerr_with_question_and_edns(void **state)
{
	struct msg m;
	struct dns_query_view q;
	ldns_pkt *pkt;
	const ldns_rr *rr;
	int len;

	build_edns_query(&m);
	msg_u8(&m, 0); /* trailing byte: FORMERR */
	assert_int_equal(read_msg(&m, &q), DNS_READ_FORMERR);

	pkt = write_and_parse(&q, DNS_RCODE_FORMERR, &len);
	assert_int_equal(ldns_pkt_id(pkt), 0xbeef);
	assert_true(ldns_pkt_qr(pkt));
	assert_true(ldns_pkt_rd(pkt));
	assert_true(ldns_pkt_ra(pkt));
	assert_false(ldns_pkt_aa(pkt));
	assert_false(ldns_pkt_tc(pkt));
	assert_int_equal(ldns_pkt_get_opcode(pkt), LDNS_PACKET_QUERY);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_FORMERR);
	assert_int_equal(ldns_pkt_qdcount(pkt), 1);
	assert_int_equal(ldns_pkt_ancount(pkt), 0);
	rr = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
	assert_int_equal(ldns_rr_get_type(rr), T_AAAA);
	/* letter case kept */
	assert_memory_equal(ldns_rdf_data(ldns_rr_owner(rr)), q.qname, q.qname_len);
	assert_true(ldns_pkt_edns(pkt));
	assert_int_equal(ldns_pkt_edns_udp_size(pkt), 1232);
	assert_int_equal(ldns_pkt_edns_version(pkt), 0);
	assert_int_equal(ldns_pkt_edns_extended_rcode(pkt), 0);
	assert_true(ldns_pkt_edns_do(pkt));
	ldns_pkt_free(pkt);

	/* too small a buffer, never overrun */
	{
		uint8_t out[64];

		assert_int_equal(dns_write_error(&q, DNS_RCODE_FORMERR, out, (size_t)len - 1),
				 -ENOSPC);
		assert_int_equal(dns_write_error(&q, DNS_RCODE_FORMERR, out, 11), -ENOSPC);
		assert_int_equal(dns_write_error(&q, 4096, out, sizeof(out)), -EINVAL);
		assert_int_equal(dns_write_error(&q, -1, out, sizeof(out)), -EINVAL);
	}
}

static void test_write_formerr_without_question(void **state)
{
	struct msg m;
	struct dns_query_view q;
	ldns_pkt *pkt;
	int len;

	msg_header(&m, 0x4242, 0, 0, 0, 0, 0);
	assert_int_equal(read_msg(&m, &q), DNS_READ_FORMERR);
	pkt = write_and_parse(&q, DNS_RCODE_FORMERR, &len);
	assert_int_equal(len, DNS_HEADER_LEN);
	assert_int_equal(ldns_pkt_id(pkt), 0x4242);
	assert_int_equal(ldns_pkt_qdcount(pkt), 0);
	assert_false(ldns_pkt_rd(pkt));
	assert_false(ldns_pkt_edns(pkt));
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_FORMERR);
	ldns_pkt_free(pkt);
}

static void test_write_notimp(void **state)
{
	struct msg m;
	struct dns_query_view q;
	ldns_pkt *pkt;
	int len;

	msg_header(&m, 5, (5 << 11) | 0x0100, 1, 0, 0, 0);
	msg_question(&m, "example.com", 6, C_IN);
	assert_int_equal(read_msg(&m, &q), DNS_READ_NOTIMP);
	pkt = write_and_parse(&q, DNS_RCODE_NOTIMP, &len);
	assert_int_equal(ldns_pkt_get_opcode(pkt), LDNS_PACKET_UPDATE);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOTIMPL);
	assert_true(ldns_pkt_rd(pkt));
	assert_int_equal(ldns_pkt_qdcount(pkt), 1);
	assert_false(ldns_pkt_edns(pkt));
	ldns_pkt_free(pkt);
}

static void test_write_badvers(void **state)
{
	struct msg m;
	struct dns_query_view q;
	uint8_t out[512];
	ldns_pkt *pkt;
	int len;

	msg_header(&m, 5, 0, 1, 0, 0, 1);
	msg_question(&m, "example.com", T_A, C_IN);
	msg_opt(&m, 4096, 0, 3, false, NULL, 0);
	assert_int_equal(read_msg(&m, &q), DNS_READ_BADVERS);
	pkt = write_and_parse(&q, DNS_RCODE_BADVERS, &len);
	/* RFC 6891 §6.1.3: 16 = upper 8 bits 1 in the OPT, lower 4 bits 0 */
	assert_int_equal(ldns_pkt_get_rcode(pkt), 0);
	assert_true(ldns_pkt_edns(pkt));
	assert_int_equal(ldns_pkt_edns_extended_rcode(pkt), 1);
	assert_int_equal(ldns_pkt_edns_version(pkt), 0);
	assert_int_equal(ldns_pkt_edns_udp_size(pkt), 1232);
	ldns_pkt_free(pkt);

	/* raw bytes of the OPT: owner, type, class, TTL */
	len = dns_write_error(&q, DNS_RCODE_BADVERS, out, sizeof(out));
	assert_int_equal(out[3] & 0xf, 0);
	assert_int_equal(out[len - 11], 0);
	assert_int_equal(out[len - 10], 0);
	assert_int_equal(out[len - 9], 41);
	assert_int_equal(out[len - 6], 1);
	assert_int_equal(out[len - 5], 0);

	/* an extended rcode forces an OPT even without client EDNS */
	q.has_edns = false;
	pkt = write_and_parse(&q, DNS_RCODE_BADVERS, &len);
	assert_true(ldns_pkt_edns(pkt));
	assert_int_equal(ldns_pkt_edns_extended_rcode(pkt), 1);
	ldns_pkt_free(pkt);
}

static void test_write_refused_plain(void **state)
{
	struct msg m;
	struct dns_query_view q;
	ldns_pkt *pkt;
	int len;

	msg_header(&m, 77, 0x0110, 1, 0, 0, 0);
	msg_question(&m, "Example.NET", T_A, C_IN);
	assert_int_equal(read_msg(&m, &q), DNS_READ_OK);
	pkt = write_and_parse(&q, DNS_RCODE_REFUSED, &len);
	assert_int_equal(len, (int)m.len);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_REFUSED);
	assert_true(ldns_pkt_cd(pkt));
	assert_true(ldns_pkt_rd(pkt));
	ldns_pkt_free(pkt);
}

/* dns_write_error_ede (issue 12, shedding): the EDE option (code 15:
 * INFO-CODE, EXTRA-TEXT) only inside the OPT of a client that sent EDNS;
 * without EDNS, or with code -1, the same bytes as dns_write_error. */
static void test_write_error_ede(void **state)
{
	static const char text[] = "overloaded";
	static const uint8_t want_opt[] = {0,	15,  0,	  12,  0,   0,	 'o', 'v',
					   'e', 'r', 'l', 'o', 'a', 'd', 'e', 'd'};
	struct msg m;
	struct dns_query_view q;
	uint8_t a[512], b[512];
	ldns_pkt *pkt = NULL;
	int n, n0;

	build_edns_query(&m);
	assert_int_equal(read_msg(&m, &q), DNS_READ_OK);
	n = dns_write_error_ede(&q, DNS_RCODE_SERVFAIL, 0, text, a, sizeof(a));
	n0 = dns_write_error(&q, DNS_RCODE_SERVFAIL, b, sizeof(b));
	assert_int_equal(n, n0 + (int)sizeof(want_opt));
	assert_int_equal(ldns_wire2pkt(&pkt, a, (size_t)n), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_SERVFAIL);
	assert_int_equal(ldns_pkt_id(pkt), 0xbeef);
	assert_int_equal(ldns_rdf_size(ldns_pkt_edns_data(pkt)), sizeof(want_opt));
	assert_memory_equal(ldns_rdf_data(ldns_pkt_edns_data(pkt)), want_opt, sizeof(want_opt));
	ldns_pkt_free(pkt);
	/* no code: dns_write_error's bytes */
	assert_int_equal(dns_write_error_ede(&q, DNS_RCODE_SERVFAIL, -1, text, a, sizeof(a)), n0);
	assert_memory_equal(a, b, (size_t)n0);
	/* never overrun */
	assert_int_equal(dns_write_error_ede(&q, DNS_RCODE_SERVFAIL, 0, text, a, (size_t)n - 1),
			 -ENOSPC);

	/* without EDNS: no OPT, so no EDE */
	msg_header(&m, 9, 0x0100, 1, 0, 0, 0);
	msg_question(&m, "example.net", T_A, C_IN);
	assert_int_equal(read_msg(&m, &q), DNS_READ_OK);
	n = dns_write_error_ede(&q, DNS_RCODE_SERVFAIL, 0, text, a, sizeof(a));
	assert_int_equal(n, (int)m.len);
	assert_int_equal(dns_write_error(&q, DNS_RCODE_SERVFAIL, b, sizeof(b)), n);
	assert_memory_equal(a, b, (size_t)n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_query),
		cmocka_unit_test(test_root_and_cd),
		cmocka_unit_test(test_edns_query),
		cmocka_unit_test(test_edns_do_and_cookie),
		cmocka_unit_test(test_cookie_with_server_cookie),
		cmocka_unit_test(test_bad_cookie_length),
		cmocka_unit_test(test_bad_option_lengths),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_label_too_long),
		cmocka_unit_test(test_name_too_long),
		cmocka_unit_test(test_compression_in_question),
		cmocka_unit_test(test_qdcount),
		cmocka_unit_test(test_ancount),
		cmocka_unit_test(test_authority_skipped),
		cmocka_unit_test(test_tsig_skipped),
		cmocka_unit_test(test_two_opts),
		cmocka_unit_test(test_opt_owner_not_root),
		cmocka_unit_test(test_badvers),
		cmocka_unit_test(test_opcodes),
		cmocka_unit_test(test_drop),
		cmocka_unit_test(test_trailing_garbage),
		cmocka_unit_test(test_write_formerr_with_question_and_edns),
		cmocka_unit_test(test_write_formerr_without_question),
		cmocka_unit_test(test_write_notimp),
		cmocka_unit_test(test_write_badvers),
		cmocka_unit_test(test_write_refused_plain),
		cmocka_unit_test(test_write_error_ede),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
