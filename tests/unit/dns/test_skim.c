/* Unit tests for dns/skim.c: dns_wire_skim() walks a hostile message
 * without reading outside it. Each case gets an exact-size copy so ASan sees
 * any overread. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dns/dns.h"
#include "msg_builder.h"

/* www.example.com A IN, one answer (pointer to the question), one OPT. */
static const uint8_t msg[] =
	{
		0x12, 0x34, 0x81, 0x80, 0,    1,   0,	1,   0,	   0,	0,   1, /* header */
		3,    'w',  'w',  'w',	7,    'e', 'x', 'a', 'm',  'p', 'l', 'e', 3,
		'c',  'o',  'm',  0,	0,    1,   0,	1,   0xc0, 12,	0,   1,	  0,
		1,    0,    0,	  0,	60,   0,   4,	192, 0,	   2,	1, /* answer */
		0,    0,    41,	  4,	0xd0, 0,   0,	0,   0,	   0,	0, /* OPT */
};
#define ANSWER_AT 33

static bool skim(const uint8_t *w, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, w, len);
	bool ok = dns_wire_skim(copy, len);
	free(copy);
	return ok;
}

static void test_skim_accepts_a_sound_message(void **state)
{
	assert_true(skim(msg, sizeof(msg)));
	/* Trailing octets after the last record are not the skim's concern. */
	uint8_t longer[sizeof(msg) + 2] = {0};
	memcpy(longer, msg, sizeof(msg));
	assert_true(skim(longer, sizeof(longer)));
}

static void test_skim_rejects_every_truncation(void **state)
{
	for (size_t len = 0; len < sizeof(msg); len++)
		assert_false(skim(msg, len));
}

static void test_skim_rejects_counts_beyond_the_records(void **state)
{
	uint8_t w[sizeof(msg)];
	for (size_t at = 4; at < 12; at += 2) {
		memcpy(w, msg, sizeof(w));
		w[at + 1]++;
		assert_false(skim(w, sizeof(w)));
	}
	/* 65535 answers claimed: bounded by the message, not by the count. */
	memcpy(w, msg, sizeof(w));
	w[6] = 0xff, w[7] = 0xff;
	assert_false(skim(w, sizeof(w)));
}

static void test_skim_rejects_bad_names_and_rdata(void **state)
{
	uint8_t w[sizeof(msg)];

	/* A compression pointer forward (to itself): a loop, never followed. */
	memcpy(w, msg, sizeof(w));
	w[ANSWER_AT + 1] = ANSWER_AT;
	assert_false(skim(w, sizeof(w)));
	/* An extended label type (0x40) in the question. */
	memcpy(w, msg, sizeof(w));
	w[12] = 0x43;
	assert_false(skim(w, sizeof(w)));
	/* RDLENGTH past the end of the message. */
	memcpy(w, msg, sizeof(w));
	w[ANSWER_AT + 11] = 200;
	assert_false(skim(w, sizeof(w)));
	/* A header alone, no question, no records: sound. */
	static const uint8_t head[12] = {0x12, 0x34, 0x81, 0x80};
	assert_true(skim(head, sizeof(head)));
	assert_false(dns_wire_skim(NULL, 0));
}

/*
 * Compression pointers. ldns_wire2dname() (ldns 1.8.3, wire2host.c) follows
 * up to LDNS_MAX_POINTERS (65535) pointers per name in any direction; the
 * skim (dns/wire_names.c), run by upstream/ and by dns_parse() before ldns,
 * walks every name ldns will read, RDATA names included, and refuses the
 * message unless each pointer points strictly before the labels it ends,
 * past the header, with at most DNS_NAME_MAX_POINTERS of them and 255
 * octets expanded.
 */
/* header, question "a." A IN, one record of type 65280 whose RDATA is a
 * root label and `hops` pointers each to the one before, then `owners`
 * records whose owner points at the chain's top. */
static uint8_t *chain_msg(unsigned hops, unsigned owners, bool loop, size_t *len)
{
	size_t cap = 12 + 7 + 12 + 1 + 2 * (size_t)hops + 12 * (size_t)owners;
	uint8_t *w = calloc(1, cap);
	assert_non_null(w);
	const uint8_t head[] = {0x12,
				0x34,
				0x84,
				0,
				0,
				1,
				(uint8_t)((owners + 1) >> 8),
				(uint8_t)(owners + 1),
				0,
				0,
				0,
				0,
				1,
				'a',
				0,
				0,
				1,
				0,
				1};
	size_t pos = sizeof(head), top = 0;
	memcpy(w, head, pos);
	const uint8_t rr[] = {0xc0,
			      12,
			      0xff,
			      0,
			      0,
			      1,
			      0,
			      0,
			      0,
			      60,
			      (uint8_t)((1 + 2 * hops) >> 8),
			      (uint8_t)(1 + 2 * hops)};
	memcpy(w + pos, rr, sizeof(rr));
	pos += sizeof(rr);
	size_t root = pos;
	w[pos++] = 0;
	for (unsigned i = 0; i < hops; i++) {
		/* a loop: the first pointer points at the last one */
		size_t to = i == 0 ? (loop ? root + 1 + 2 * ((size_t)hops - 1) : root) : pos - 2;
		top = pos;
		w[pos++] = (uint8_t)(0xc0 | (to >> 8));
		w[pos++] = (uint8_t)to;
	}
	for (unsigned i = 0; i < owners; i++) {
		const uint8_t r[] = {(uint8_t)(0xc0 | (top >> 8)),
				     (uint8_t)top,
				     0xff,
				     0,
				     0,
				     1,
				     0,
				     0,
				     0,
				     60,
				     0,
				     0};
		memcpy(w + pos, r, sizeof(r));
		pos += sizeof(r);
	}
	*len = pos;
	return w;
}

static void test_pointer_chain_backwards_is_bounded_by_the_message(void **state)
{
	(void)state;
	size_t len;
	ldns_pkt *pkt = NULL;
	/* The owner's pointer and 15 in the chain: 16 hops, the cap. */
	uint8_t *w = chain_msg(DNS_NAME_MAX_POINTERS - 1, 3, false, &len);
	assert_true(skim(w, len));
	assert_int_equal(dns_parse(w, len, &pkt), 0);
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(pkt)), 4);
	assert_int_equal(
		ldns_dname_label_count(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(pkt), 3))), 0);
	ldns_pkt_free(pkt);
	free(w);
	/* One more hop is refused, by the skim and so by the parse. */
	w = chain_msg(DNS_NAME_MAX_POINTERS, 3, false, &len);
	assert_false(skim(w, len));
	assert_int_equal(dns_parse(w, len, &pkt), -EBADMSG);
	assert_null(pkt);
	free(w);
	/* 10,000 hops, each backwards: ldns alone would follow them all. */
	w = chain_msg(10000, 3, false, &len);
	assert_false(skim(w, len));
	assert_int_equal(dns_parse(w, len, &pkt), -EBADMSG);
	free(w);
}

static void test_pointer_loop_is_refused(void **state)
{
	(void)state;
	size_t len;
	uint8_t *w = chain_msg(8, 1, true, &len);
	/* The loop's forward pointer sits in opaque RDATA, but the owner's
	 * name leads into it: the walk of the owner refuses it. */
	assert_false(skim(w, len));
	ldns_pkt *pkt = NULL;
	assert_int_equal(dns_parse(w, len, &pkt), -EBADMSG);
	assert_null(pkt);
	free(w);
}

/* ---- messages built for one bound each ---------------------------------- */

#define QNAME_AT 12 /* "example.com" in the question */

/* Header (QDCOUNT 1, ANCOUNT `an`) and the question example.com A IN. */
static void start_msg(struct msg *m, uint16_t an)
{
	msg_header(m, 0x1234, 0x8400, 1, an, 0, 0);
	msg_question(m, "example.com", 1, 1);
}

static void put_ptr(struct msg *m, size_t to)
{
	msg_u16(m, (uint16_t)(0xc000u | to));
}

/* A record with owner `owner_ptr` (a pointer) and RDATA written later:
 * returns where RDLENGTH goes, for end_rr(). */
static size_t begin_rr(struct msg *m, size_t owner_ptr, uint16_t type)
{
	put_ptr(m, owner_ptr);
	msg_u16(m, type);
	msg_u16(m, 1);
	msg_u32(m, 60);
	size_t at = m->len;
	msg_u16(m, 0);
	return at;
}

static void end_rr(struct msg *m, size_t at)
{
	size_t n = m->len - at - 2;
	m->b[at] = (uint8_t)(n >> 8);
	m->b[at + 1] = (uint8_t)n;
}

static bool skim_msg(const struct msg *m)
{
	return skim(m->b, m->len);
}

static void test_skim_refuses_pointers_into_the_header_or_own_name(void **state)
{
	(void)state;
	struct msg m;
	size_t at;

	/* Owner "a" then a pointer back to its own first label: a loop
	 * through labels, backwards from the pointer but not from the run. */
	start_msg(&m, 1);
	size_t own = m.len;
	msg_u8(&m, 1);
	msg_u8(&m, 'a');
	put_ptr(&m, own);
	msg_bytes(&m, (const uint8_t[]){0, 1, 0, 1, 0, 0, 0, 60, 0, 0}, 10);
	assert_false(skim_msg(&m));
	/* The same owner ending in a pointer to the question: sound. */
	m.b[own + 3] = QNAME_AT;
	assert_true(skim_msg(&m));
	/* A pointer into the header (ldns refuses only offset 0). */
	for (size_t to = 1; to < QNAME_AT; to++) {
		start_msg(&m, 1);
		at = begin_rr(&m, to, 1);
		msg_u32(&m, 0x0a000001);
		end_rr(&m, at);
		assert_false(skim_msg(&m));
	}
	/* A question name that is a pointer: nothing precedes it. */
	msg_header(&m, 0x1234, 0x8400, 1, 0, 0, 0);
	put_ptr(&m, 5);
	msg_u16(&m, 1);
	msg_u16(&m, 1);
	assert_false(skim_msg(&m));
}

/* `owner` expanded: runs of single labels of `first`, 63, 63, ... octets,
 * each run pointing at the one before, the owner pointing at the last. */
static bool skim_runs(unsigned runs, uint8_t first)
{
	struct msg m;
	start_msg(&m, 2);
	size_t at = begin_rr(&m, QNAME_AT, 0xff00); /* opaque: holds the runs */
	size_t prev = 0;
	for (unsigned i = 0; i < runs; i++) {
		size_t here = m.len;
		uint8_t n = i == 0 ? first : 63;
		msg_u8(&m, n);
		for (uint8_t k = 0; k < n; k++)
			msg_u8(&m, 'x');
		if (i == 0)
			msg_u8(&m, 0);
		else
			put_ptr(&m, prev);
		prev = here;
	}
	end_rr(&m, at);
	at = begin_rr(&m, prev, 1);
	msg_u32(&m, 0x0a000001);
	end_rr(&m, at);
	bool ok = skim_msg(&m);
	ldns_pkt *pkt = NULL;
	assert_int_equal(dns_parse(m.b, m.len, &pkt), ok ? 0 : -EBADMSG);
	if (ok) /* what ldns made of it: the whole name, 255 octets */
		assert_int_equal(
			ldns_rdf_size(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(pkt), 1))),
			(size_t)first + 2 + 64 * ((size_t)runs - 1));
	ldns_pkt_free(pkt);
	return ok;
}

static void test_skim_refuses_names_over_255_octets_expanded(void **state)
{
	(void)state;
	/* 62 + 1 + 3 * 64 = 255 octets: the longest name. */
	assert_true(skim_runs(4, 61));
	/* One octet more, each run of it short enough: refused. */
	assert_false(skim_runs(4, 62));
	assert_false(skim_runs(5, 1));
}

/* Where names sit in the RDATA of the types ldns decompresses: the octets
 * before the name under test and after it, and its field index in ldns. */
struct rdata_case {
	const char *what;
	uint16_t type;
	size_t rdf;
	uint8_t pre[20];
	size_t pre_len;
	uint8_t post[24];
	size_t post_len;
};

static const struct rdata_case rdata_cases[] = {
	{"NS", 2, 0, {0}, 0, {0}, 0},
	{"CNAME", 5, 0, {0}, 0, {0}, 0},
	{"PTR", 12, 0, {0}, 0, {0}, 0},
	{"DNAME", 39, 0, {0}, 0, {0}, 0},
	{"MX exchange", 15, 1, {0, 10}, 2, {0}, 0},
	{"AFSDB", 18, 1, {0, 1}, 2, {0}, 0},
	{"KX", 36, 1, {0, 1}, 2, {0}, 0},
	{"SOA mname",
	 6,
	 0,
	 {0},
	 0,
	 {0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5},
	 21},
	{"SOA rname",
	 6,
	 1,
	 {0},
	 1,
	 {0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5},
	 20},
	{"MINFO emailbx", 14, 1, {0}, 1, {0}, 0},
	{"RP txt", 17, 1, {0}, 1, {0}, 0},
	{"SRV target", 33, 3, {0, 1, 0, 2, 0, 53}, 6, {0}, 0},
	{"NAPTR replacement", 35, 5, {0, 10, 0, 20, 1, 'S', 0, 0}, 8, {0}, 0},
	{"RRSIG signer",
	 46,
	 7,
	 {0, 1, 8, 2, 0, 0, 0, 60, 0x70, 0, 0, 0, 0x60, 0, 0, 0, 0x12, 0x34},
	 18,
	 {1, 2, 3, 4},
	 4},
	{"NSEC next", 47, 0, {0}, 0, {0, 1, 0x40}, 3},
	{"HIP rendezvous", 55, 1, {0, 2, 0, 0}, 4, {0}, 0},
};

/* A message whose one answer has the case's RDATA with its name a pointer
 * to `to`; a sentinel name "z." follows the answer (a forward target). */
static void rdata_msg(struct msg *m, const struct rdata_case *c, long to)
{
	start_msg(m, 1);
	size_t at = begin_rr(m, QNAME_AT, c->type);
	msg_bytes(m, c->pre, c->pre_len);
	size_t name_at = m->len;
	/* to < 0: a pointer to itself; to == 0: forward, to the sentinel */
	put_ptr(m, 0);
	msg_bytes(m, c->post, c->post_len);
	end_rr(m, at);
	size_t target = to < 0 ? name_at : to == 0 ? m->len : (size_t)to;
	m->b[name_at] = (uint8_t)(0xc0 | (target >> 8));
	m->b[name_at + 1] = (uint8_t)target;
	msg_name(m, "z");
}

static void test_skim_walks_the_names_inside_rdata(void **state)
{
	(void)state;
	struct msg m;
	ldns_rdf *qname = ldns_dname_new_frm_str("example.com.");

	for (size_t i = 0; i < sizeof(rdata_cases) / sizeof(rdata_cases[0]); i++) {
		const struct rdata_case *c = &rdata_cases[i];
		print_message("%s\n", c->what);
		/* Backwards, to the question: sound, and ldns reads the same
		 * field as that name (the skim found the field ldns reads). */
		rdata_msg(&m, c, QNAME_AT);
		assert_true(skim_msg(&m));
		ldns_pkt *pkt = NULL;
		assert_int_equal(dns_parse(m.b, m.len, &pkt), 0);
		ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(pkt), 0);
		assert_non_null(ldns_rr_rdf(rr, c->rdf));
		assert_int_equal(ldns_rdf_get_type(ldns_rr_rdf(rr, c->rdf)), LDNS_RDF_TYPE_DNAME);
		assert_int_equal(ldns_dname_compare(ldns_rr_rdf(rr, c->rdf), qname), 0);
		ldns_pkt_free(pkt);
		/* To itself, and forward: refused. */
		rdata_msg(&m, c, -1);
		assert_false(skim_msg(&m));
		rdata_msg(&m, c, 0);
		assert_false(skim_msg(&m));
		assert_int_equal(dns_parse(m.b, m.len, &pkt), -EBADMSG);
	}
	ldns_rdf_deep_free(qname);
}

static void test_skim_counts_hip_fields_as_ldns_does(void **state)
{
	(void)state;
	struct msg m;
	ldns_pkt *pkt = NULL;

	/* ldns counts a record's fields in a uint8_t: field 256 of a HIP
	 * record is read as the HIT/PK header again, not as a name. Here
	 * that header starts with octets that, read as a name, would be a
	 * pointer to itself; after it, one more name. */
	for (int forward = 0; forward <= 1; forward++) {
		start_msg(&m, 1);
		size_t at = begin_rr(&m, QNAME_AT, 55);
		msg_bytes(&m, (const uint8_t[]){0, 2, 0, 0}, 4);
		for (int i = 1; i < 256; i++)
			put_ptr(&m, QNAME_AT);
		size_t wrap = m.len;
		put_ptr(&m, wrap); /* HIT length 0xc0 | (wrap >> 8), algorithm */
		msg_u16(&m, 0);	   /* PK length */
		for (size_t k = 0; k < (0xc0 | (wrap >> 8)); k++)
			msg_u8(&m, 0xaa); /* the HIT */
		size_t last = m.len;
		put_ptr(&m, forward ? last + 2 : QNAME_AT);
		end_rr(&m, at);
		msg_name(&m, "z");
		if (forward) {
			assert_false(skim_msg(&m));
			continue;
		}
		assert_true(skim_msg(&m));
		assert_int_equal(dns_parse(m.b, m.len, &pkt), 0);
		ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(pkt), 0);
		assert_int_equal(ldns_rr_rd_count(rr), 258);
		assert_int_equal(ldns_rdf_get_type(ldns_rr_rdf(rr, 256)), LDNS_RDF_TYPE_HIP);
		assert_int_equal(ldns_rdf_get_type(ldns_rr_rdf(rr, 257)), LDNS_RDF_TYPE_DNAME);
		ldns_pkt_free(pkt);
	}
}

static void test_skim_refuses_rdata_that_ldns_reads_off_its_length(void **state)
{
	(void)state;
	struct msg m;
	size_t at;

	/* An A record of 8 octets: ldns reads 4 and starts the next record
	 * inside this one, where the skim has walked no name. */
	start_msg(&m, 1);
	at = begin_rr(&m, QNAME_AT, 1);
	msg_u32(&m, 0x0a000001);
	msg_u32(&m, 0xc00c0001);
	end_rr(&m, at);
	assert_false(skim_msg(&m));
	/* An NS whose name runs past RDLENGTH (ldns reads it from the
	 * message, then the next record from the wrong place). */
	start_msg(&m, 1);
	at = begin_rr(&m, QNAME_AT, 2);
	msg_u8(&m, 3);
	msg_bytes(&m, "com", 3);
	end_rr(&m, at);
	m.b[at + 1] = 3;
	msg_u8(&m, 0);
	assert_false(skim_msg(&m));
	/* An MX of one octet: its preference does not fit. */
	start_msg(&m, 1);
	at = begin_rr(&m, QNAME_AT, 15);
	msg_u8(&m, 0);
	end_rr(&m, at);
	assert_false(skim_msg(&m));
	/* The same records with the sizes right: sound. */
	start_msg(&m, 2);
	at = begin_rr(&m, QNAME_AT, 1);
	msg_u32(&m, 0x0a000001);
	end_rr(&m, at);
	at = begin_rr(&m, QNAME_AT, 15);
	msg_u16(&m, 10);
	put_ptr(&m, QNAME_AT);
	end_rr(&m, at);
	assert_true(skim_msg(&m));
}

/* One TXT record filling a 64 KB message with strings of `each` octets. */
static bool skim_big_txt(uint8_t each)
{
	static struct msg m;
	start_msg(&m, 1);
	size_t at = begin_rr(&m, QNAME_AT, 16);
	while (sizeof(m.b) - m.len > 256 && m.len + 1u + each <= DNS_MSG_MAX) {
		msg_u8(&m, each);
		for (uint8_t k = 0; k < each; k++)
			msg_u8(&m, 'x');
	}
	end_rr(&m, at);
	return skim_msg(&m);
}

static void test_skim_refuses_records_of_too_many_fields(void **state)
{
	(void)state;
	/* ldns allocates RDLENGTH octets per TXT string: 65,000 empty
	 * strings would cost 4.3 GB; 257 strings of 255 octets 16.8 MB. */
	assert_false(skim_big_txt(0));
	assert_false(skim_big_txt(3));
	assert_true(skim_big_txt(255));
	/* DNS_RDATA_MAX_FIELDS strings pass, one more does not. */
	struct msg m;
	for (unsigned extra = 0; extra <= 1; extra++) {
		start_msg(&m, 1);
		size_t at = begin_rr(&m, QNAME_AT, 16);
		for (unsigned i = 0; i < DNS_RDATA_MAX_FIELDS + extra; i++)
			msg_u8(&m, 0);
		end_rr(&m, at);
		assert_true(skim_msg(&m) == (extra == 0));
	}
}

/* What ldns itself writes, compressed, passes; the bound is not stricter
 * than a compressor. */
static void test_skim_accepts_what_ldns_writes(void **state)
{
	(void)state;
	static const char *const rrs[] = {
		"www.example.com. 60 IN CNAME web.example.com.",
		"web.example.com. 60 IN A 192.0.2.1",
		"example.com. 60 IN NS ns1.example.com.",
		"example.com. 60 IN NS ns.sub.example.com.",
		"example.com. 60 IN MX 10 mail.example.com.",
		"example.com. 60 IN SOA ns1.example.com. admin.example.com. 1 2 3 4 5",
		"_sip._udp.example.com. 60 IN SRV 1 2 5060 sip.example.com.",
		"example.com. 60 IN NSEC a.example.com. A NS SOA",
		"ns1.example.com. 60 IN A 192.0.2.53",
		"ns.sub.example.com. 60 IN AAAA 2001:db8::53",
	};
	ldns_pkt *pkt = ldns_pkt_query_new(ldns_dname_new_frm_str("www.example.com."),
					   LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0);
	assert_non_null(pkt);
	ldns_pkt_set_qr(pkt, true);
	for (size_t i = 0; i < sizeof(rrs) / sizeof(rrs[0]); i++) {
		ldns_rr *rr = NULL;
		assert_int_equal(ldns_rr_new_frm_str(&rr, rrs[i], 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(pkt, i < 8 ? LDNS_SECTION_ANSWER : LDNS_SECTION_ADDITIONAL, rr);
	}
	uint8_t *wire = NULL;
	size_t len = 0;
	assert_int_equal(ldns_pkt2wire(&wire, pkt, &len), LDNS_STATUS_OK);
	assert_true(skim(wire, len));
	ldns_pkt *back = NULL;
	assert_int_equal(dns_parse(wire, len, &back), 0);
	assert_int_equal(ldns_pkt_ancount(back), 8);
	ldns_pkt_free(back);
	free(wire);
	ldns_pkt_free(pkt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_skim_accepts_a_sound_message),
		cmocka_unit_test(test_skim_rejects_every_truncation),
		cmocka_unit_test(test_skim_rejects_counts_beyond_the_records),
		cmocka_unit_test(test_skim_rejects_bad_names_and_rdata),
		cmocka_unit_test(test_pointer_chain_backwards_is_bounded_by_the_message),
		cmocka_unit_test(test_pointer_loop_is_refused),
		cmocka_unit_test(test_skim_refuses_pointers_into_the_header_or_own_name),
		cmocka_unit_test(test_skim_refuses_names_over_255_octets_expanded),
		cmocka_unit_test(test_skim_walks_the_names_inside_rdata),
		cmocka_unit_test(test_skim_counts_hip_fields_as_ldns_does),
		cmocka_unit_test(test_skim_refuses_rdata_that_ldns_reads_off_its_length),
		cmocka_unit_test(test_skim_refuses_records_of_too_many_fields),
		cmocka_unit_test(test_skim_accepts_what_ldns_writes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
