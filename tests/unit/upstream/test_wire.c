/*
 * Tests of upstream/wire.c: the query we build and the response check,
 * which reads the header and the question on the wire (hostile bytes:
 * every cut, pointer and oversized name must be refused without reading
 * out of bounds; run under ASan).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "upstream/impl.h"

static ldns_rdf *name(const char *s)
{
	ldns_rdf *n = ldns_dname_new_frm_str(s);
	assert_non_null(n);
	return n;
}

/* A response to (id, qname, qtype, qclass) as wire; caller frees. */
static uint8_t *response(uint16_t id, const char *qname, uint16_t qtype, uint16_t qclass, bool qr,
			 size_t *len)
{
	ldns_pkt *p = ldns_pkt_query_new(name(qname), qtype, qclass, 0);
	assert_non_null(p);
	ldns_pkt_set_id(p, id);
	ldns_pkt_set_qr(p, qr);
	uint8_t *wire = NULL;
	assert_int_equal(ldns_pkt2wire(&wire, p, len), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	return wire;
}

static void test_query_shape(void **state)
{
	uint8_t buf[UPSTREAM_QUERY_MAX];
	ldns_rdf *q = name("www.Example.COM.");

	int len = upstream_wire_query(buf, sizeof(buf), 0xbeef, q, LDNS_RR_TYPE_AAAA,
				      LDNS_RR_CLASS_IN, 1232, true, false);
	assert_true(len > LDNS_HEADER_SIZE);

	ldns_pkt *p = NULL;
	assert_int_equal(ldns_wire2pkt(&p, buf, (size_t)len), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_id(p), 0xbeef);
	assert_false(ldns_pkt_qr(p));
	assert_false(ldns_pkt_rd(p)); /* iterative: RD=0 */
	assert_int_equal(ldns_pkt_qdcount(p), 1);
	const ldns_rr *qr = ldns_rr_list_rr(ldns_pkt_question(p), 0);
	/* The name goes out as given, case included. */
	assert_int_equal(ldns_rdf_compare(ldns_rr_owner(qr), q), 0);
	assert_int_equal(ldns_rr_get_type(qr), LDNS_RR_TYPE_AAAA);
	assert_int_equal(ldns_rr_get_class(qr), LDNS_RR_CLASS_IN);
	assert_true(ldns_pkt_edns(p));
	assert_int_equal(ldns_pkt_edns_udp_size(p), 1232);
	assert_true(ldns_pkt_edns_do(p));
	ldns_pkt_free(p);

	/* No EDNS when the size is 0. */
	len = upstream_wire_query(buf, sizeof(buf), 1, q, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0,
				  false, false);
	assert_true(len > 0);
	assert_int_equal(ldns_wire2pkt(&p, buf, (size_t)len), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_arcount(p), 0);
	ldns_pkt_free(p);

	/* Forwarding asks a recursive upstream: RD=1. */
	len = upstream_wire_query(buf, sizeof(buf), 2, q, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 1232,
				  false, true);
	assert_true(len > 0);
	assert_int_equal(ldns_wire2pkt(&p, buf, (size_t)len), LDNS_STATUS_OK);
	assert_true(ldns_pkt_rd(p));
	ldns_pkt_free(p);

	/* Too small a buffer, or not a name. */
	assert_int_equal(upstream_wire_query(buf, 20, 1, q, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 1232,
					     false, false),
			 -ENOSPC);
	ldns_rdf *notname = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, "192.0.2.1");
	assert_int_equal(upstream_wire_query(buf, sizeof(buf), 1, notname, LDNS_RR_TYPE_A,
					     LDNS_RR_CLASS_IN, 1232, false, false),
			 -EINVAL);
	ldns_rdf_deep_free(notname);
	ldns_rdf_deep_free(q);
}

static void test_match(void **state)
{
	ldns_rdf *q = name("www.example.com.");
	size_t len;
	uint8_t *w;

	w = response(42, "www.example.com.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, true, &len);
	assert_int_equal(upstream_wire_match(w, len, 42, q, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN),
			 UPSTREAM_MATCH_OK);
	assert_int_equal(upstream_wire_match(w, len, 43, q, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN),
			 UPSTREAM_MATCH_ID);
	assert_int_equal(upstream_wire_match(w, len, 42, q, LDNS_RR_TYPE_AAAA, LDNS_RR_CLASS_IN),
			 UPSTREAM_MATCH_QUESTION);
	assert_int_equal(upstream_wire_match(w, len, 42, q, LDNS_RR_TYPE_A, LDNS_RR_CLASS_CH),
			 UPSTREAM_MATCH_QUESTION);
	assert_int_equal(upstream_wire_match(w, 11, 42, q, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN),
			 UPSTREAM_MATCH_SHORT);
	/* Cut inside the question: unparsable. */
	assert_int_equal(upstream_wire_match(w, len - 3, 42, q, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN),
			 UPSTREAM_MATCH_MALFORMED);
	free(w);

	/* RFC 4343: the echoed name may differ in case (0x20 randomisation). */
	w = response(42, "WwW.ExAmPlE.cOm.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, true, &len);
	assert_int_equal(upstream_wire_match(w, len, 42, q, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN),
			 UPSTREAM_MATCH_OK);
	free(w);

	w = response(42, "www.example.net.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, true, &len);
	assert_int_equal(upstream_wire_match(w, len, 42, q, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN),
			 UPSTREAM_MATCH_QUESTION);
	free(w);

	/* Our own query reflected back. */
	w = response(42, "www.example.com.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, false, &len);
	assert_int_equal(upstream_wire_match(w, len, 42, q, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN),
			 UPSTREAM_MATCH_NOT_REPLY);
	free(w);

	/* A header-only response (no question) does not match. */
	uint8_t hdr[LDNS_HEADER_SIZE] = {0, 42, 0x80, 0x01};
	assert_int_equal(
		upstream_wire_match(hdr, sizeof(hdr), 42, q, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN),
		UPSTREAM_MATCH_QUESTION);

	for (int m = UPSTREAM_MATCH_OK; m <= UPSTREAM_MATCH_QUESTION; m++)
		assert_string_not_equal(upstream_match_str((enum upstream_match)m), "?");
	ldns_rdf_deep_free(q);
}

/* A response to www.example.com. A IN, ID 0x1234, written by hand: the
 * header, the question, and `extra` octets of body. */
static const uint8_t base[] = {
	0x12, 0x34, 0x84, 0x00, 0, 1,	0,   0,	  0,   0,   0,	 0, /* header: QR AA, QDCOUNT 1 */
	3,    'w',  'w',  'w',	7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
	3,    'c',  'o',  'm',	0, 0,	1,   0,	  1, /* A IN */
};
#define NAME_AT 12
#define NAME_LEN 17

static enum upstream_match match(const uint8_t *w, size_t len, const char *qname, uint16_t qtype,
				 uint16_t qclass)
{
	ldns_rdf *q = name(qname);
	enum upstream_match m = upstream_wire_match(w, len, 0x1234, q, qtype, qclass);
	ldns_rdf_deep_free(q);
	return m;
}

#define MATCH(w, len) match((w), (len), "www.example.com.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN)

static void test_match_header(void **state)
{
	uint8_t w[sizeof(base)];

	assert_int_equal(MATCH(base, sizeof(base)), UPSTREAM_MATCH_OK);
	assert_int_equal(MATCH(NULL, 0), UPSTREAM_MATCH_SHORT);
	assert_int_equal(MATCH(base, 11), UPSTREAM_MATCH_SHORT);

	memcpy(w, base, sizeof(w));
	w[1] ^= 0x01; /* wrong ID */
	assert_int_equal(MATCH(w, sizeof(w)), UPSTREAM_MATCH_ID);

	memcpy(w, base, sizeof(w));
	w[2] &= 0x7f; /* QR=0: our query reflected */
	assert_int_equal(MATCH(w, sizeof(w)), UPSTREAM_MATCH_NOT_REPLY);

	memcpy(w, base, sizeof(w));
	w[5] = 0; /* QDCOUNT 0 */
	assert_int_equal(MATCH(w, sizeof(w)), UPSTREAM_MATCH_QUESTION);
	w[5] = 2; /* QDCOUNT 2 */
	assert_int_equal(MATCH(w, sizeof(w)), UPSTREAM_MATCH_QUESTION);
	w[4] = 1, w[5] = 1; /* QDCOUNT 257 */
	assert_int_equal(MATCH(w, sizeof(w)), UPSTREAM_MATCH_QUESTION);

	/* The other header bits are the resolver's: TC, an RCODE, counts. */
	memcpy(w, base, sizeof(w));
	w[2] |= 0x02;
	w[3] = 0x02;
	assert_int_equal(MATCH(w, sizeof(w)), UPSTREAM_MATCH_OK);
}

static void test_match_name(void **state)
{
	uint8_t w[sizeof(base)];

	/* Any one octet of the name changed: not our question (or not a
	 * readable one, when a label length changed). */
	for (size_t i = NAME_AT; i < NAME_AT + NAME_LEN; i++) {
		memcpy(w, base, sizeof(w));
		w[i] = (uint8_t)(w[i] + 1);
		enum upstream_match m = MATCH(w, sizeof(w));
		assert_true(m == UPSTREAM_MATCH_QUESTION || m == UPSTREAM_MATCH_MALFORMED);
	}
	/* RFC 4343: letter case differs, the name is the same; each letter. */
	for (size_t i = NAME_AT; i < NAME_AT + NAME_LEN; i++) {
		memcpy(w, base, sizeof(w));
		if (w[i] < 'a' || w[i] > 'z')
			continue;
		w[i] = (uint8_t)(w[i] - ('a' - 'A'));
		assert_int_equal(MATCH(w, sizeof(w)), UPSTREAM_MATCH_OK);
	}
	/* ... and the name asked may be in mixed case too (0x20). */
	assert_int_equal(
		match(base, sizeof(base), "WWW.eXaMpLe.CoM.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN),
		UPSTREAM_MATCH_OK);
	/* Case folding is ASCII only: '[' is not '{'. */
	static const uint8_t odd[] = {0x12, 0x34, 0x80, 0,   0, 1, 0, 0, 0, 0,
				      0,    0,	  1,	'[', 0, 0, 1, 0, 1};
	assert_int_equal(match(odd, sizeof(odd), "\\[.", 1, 1), UPSTREAM_MATCH_OK);
	assert_int_equal(match(odd, sizeof(odd), "{.", 1, 1), UPSTREAM_MATCH_QUESTION);

	/* A parent, a child, the same octets in other labels. */
	assert_int_equal(match(base, sizeof(base), "example.com.", 1, 1), UPSTREAM_MATCH_QUESTION);
	assert_int_equal(match(base, sizeof(base), "a.www.example.com.", 1, 1),
			 UPSTREAM_MATCH_QUESTION);
	assert_int_equal(match(base, sizeof(base), "wwwexample.com.", 1, 1),
			 UPSTREAM_MATCH_QUESTION);
	assert_int_equal(match(base, sizeof(base), ".", 1, 1), UPSTREAM_MATCH_QUESTION);

	/* The root asked and echoed. */
	static const uint8_t root[] = {0x12, 0x34, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1};
	assert_int_equal(match(root, sizeof(root), ".", LDNS_RR_TYPE_NS, LDNS_RR_CLASS_IN),
			 UPSTREAM_MATCH_OK);
}

static void test_match_truncated(void **state)
{
	/* Cut anywhere in the question: unreadable, never read past. */
	for (size_t len = NAME_AT; len < sizeof(base); len++) {
		uint8_t *w = malloc(len); /* exactly `len`, so ASan sees an overread */
		assert_non_null(w);
		memcpy(w, base, len);
		assert_int_equal(MATCH(w, len), UPSTREAM_MATCH_MALFORMED);
		free(w);
	}
}

static void test_match_compression(void **state)
{
	/* A pointer to a copy of the right name later in the message: a
	 * parser would read www.example.com, but nothing precedes a question
	 * at offset 12, so a pointer there is malformed. */
	uint8_t w[64];
	size_t n = 0;
	memcpy(w, base, NAME_AT);
	n = NAME_AT;
	w[n++] = 0xc0;
	w[n++] = NAME_AT + 6; /* the copy below */
	w[n++] = 0, w[n++] = 1, w[n++] = 0, w[n++] = 1;
	memcpy(w + n, base + NAME_AT, NAME_LEN);
	n += NAME_LEN;
	assert_int_equal(MATCH(w, n), UPSTREAM_MATCH_MALFORMED);

	/* A pointer after the first label, and one to the header. */
	memcpy(w, base, sizeof(base));
	w[NAME_AT + 4] = 0xc0;
	w[NAME_AT + 5] = 0;
	assert_int_equal(MATCH(w, sizeof(base)), UPSTREAM_MATCH_MALFORMED);
	memcpy(w, base, sizeof(base));
	w[NAME_AT] = 0xc0;
	w[NAME_AT + 1] = 0;
	assert_int_equal(MATCH(w, sizeof(base)), UPSTREAM_MATCH_MALFORMED);
	/* The obsolete extended label types (0x40, 0x80) are no better. */
	memcpy(w, base, sizeof(base));
	w[NAME_AT] = 0x41;
	assert_int_equal(MATCH(w, sizeof(base)), UPSTREAM_MATCH_MALFORMED);
	w[NAME_AT] = 0x81;
	assert_int_equal(MATCH(w, sizeof(base)), UPSTREAM_MATCH_MALFORMED);
}

static void test_match_oversized_name(void **state)
{
	/* Five 63-octet labels: 321 octets, more than a name may have. */
	uint8_t w[12 + 5 * 64 + 1 + 4];
	size_t n = NAME_AT;
	memcpy(w, base, NAME_AT);
	for (int l = 0; l < 5; l++) {
		w[n++] = 63;
		memset(w + n, 'a', 63);
		n += 63;
	}
	w[n++] = 0;
	w[n++] = 0, w[n++] = 1, w[n++] = 0, w[n++] = 1;
	assert_int_equal(n, sizeof(w));
	assert_int_equal(MATCH(w, n), UPSTREAM_MATCH_MALFORMED);
}

static void test_match_type_class(void **state)
{
	assert_int_equal(
		match(base, sizeof(base), "www.example.com.", LDNS_RR_TYPE_AAAA, LDNS_RR_CLASS_IN),
		UPSTREAM_MATCH_QUESTION);
	assert_int_equal(
		match(base, sizeof(base), "www.example.com.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_CH),
		UPSTREAM_MATCH_QUESTION);
	/* 256 + 1 is not 1: both octets count. */
	uint8_t w[sizeof(base)];
	memcpy(w, base, sizeof(w));
	w[NAME_AT + NAME_LEN] = 1;
	assert_int_equal(MATCH(w, sizeof(w)), UPSTREAM_MATCH_QUESTION);
	memcpy(w, base, sizeof(w));
	w[NAME_AT + NAME_LEN + 2] = 1;
	assert_int_equal(MATCH(w, sizeof(w)), UPSTREAM_MATCH_QUESTION);
}

static void test_match_ignores_a_body_that_does_not_fit(void **state)
{
	/* The question matches but the body is garbage (ANCOUNT says 5, no
	 * records follow; trailing junk): ignored like a non-matching reply,
	 * so the attempt waits for the real answer or times out, and the
	 * server's health counts that (as before the match moved to the wire). */
	uint8_t w[sizeof(base) + 3];
	memcpy(w, base, sizeof(base));
	w[7] = 5;
	w[sizeof(base)] = 0xff;
	w[sizeof(base) + 1] = 0xc0;
	w[sizeof(base) + 2] = 0x01;
	assert_int_equal(MATCH(w, sizeof(w)), UPSTREAM_MATCH_BODY);

	/* One well-formed answer record (a pointer back to the question
	 * name): accepted, the resolver parses it. */
	uint8_t ok[sizeof(base) + 16];
	static const uint8_t rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};
	memcpy(ok, base, sizeof(base));
	memcpy(ok + sizeof(base), rr, sizeof(rr));
	ok[7] = 1;
	assert_int_equal(MATCH(ok, sizeof(ok)), UPSTREAM_MATCH_OK);
	/* Its RDLENGTH one past the end: not a message. */
	ok[sizeof(base) + 11] = 5;
	assert_int_equal(MATCH(ok, sizeof(ok)), UPSTREAM_MATCH_BODY);
}

static void test_match_leaves_the_body(void **state)
{
	/* A name asked that is not a name never matches. */
	ldns_rdf *notname = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, "192.0.2.1");
	assert_int_equal(upstream_wire_match(base, sizeof(base), 0x1234, notname, 1, 1),
			 UPSTREAM_MATCH_QUESTION);
	assert_int_equal(upstream_wire_match(base, sizeof(base), 0x1234, NULL, 1, 1),
			 UPSTREAM_MATCH_QUESTION);
	ldns_rdf_deep_free(notname);
}

/* A fixed sequence of random words for the case pattern. */
static uint32_t fixed_u32(void *ctx)
{
	uint32_t *w = ctx;
	return *w;
}

/* draft-vixie-dnsext-dns0x20: one bit per letter, nothing else touched. */
static void test_caps_pattern(void **state)
{
	ldns_rdf *q = name("a1-B.exAmple.");
	uint8_t buf[32];
	size_t len = ldns_rdf_size(q);
	uint32_t word = 0x15; /* bits 1,0,1,0,1,0...: upper, lower, upper, ... */
	struct upstream_rng rng = {.u32 = fixed_u32, .ctx = &word};

	memcpy(buf, ldns_rdf_data(q), len);
	assert_true(upstream_wire_caps(buf, len, &rng));
	/* Letters a, b, e, x, a, m, p, l, e get U l U l U l l l l. */
	static const uint8_t want[] = {4,   'A', '1', '-', 'b', 7,   'E',
				       'x', 'A', 'm', 'p', 'l', 'e', 0};
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));

	/* All lower (or all upper): an echo proves nothing about the server. */
	word = 0;
	memcpy(buf, ldns_rdf_data(q), len);
	assert_false(upstream_wire_caps(buf, len, &rng));
	word = UINT32_MAX;
	assert_false(upstream_wire_caps(buf, len, &rng));
	assert_memory_equal(buf, "\4A1-B\7EXAMPLE", len);
	/* The root has no letter. */
	uint8_t root = 0;
	assert_false(upstream_wire_caps(&root, 1, &rng));
	assert_int_equal(root, 0);

	/* The CSPRNG: more than 32 letters take more than one word, and the
	 * length octets stay. */
	ldns_rdf *longer = name("abcdefghijklmnopqrstuvwxyz.abcdefghijklmnopqrstuvwxyz.");
	uint8_t big[64];
	size_t blen = ldns_rdf_size(longer);
	memcpy(big, ldns_rdf_data(longer), blen);
	upstream_wire_caps(big, blen, NULL);
	assert_int_equal(big[0], 26);
	assert_int_equal(big[27], 26);
	assert_int_equal(big[blen - 1], 0);
	ldns_rdf *drawn = ldns_dname_new_frm_data((uint16_t)blen, big);
	assert_int_equal(ldns_dname_compare(longer, drawn), 0); /* up to case */
	ldns_rdf_deep_free(drawn);
	ldns_rdf_deep_free(longer);
	ldns_rdf_deep_free(q);
	(void)state;
}

/* With caps, the echo must be exact; a reply right in all but case is its
 * own verdict, not OK (it may be a spoof), and not a plain QUESTION. */
static void test_match_exact_case(void **state)
{
	ldns_rdf *sent = name("wWw.ExAmple.cOm.");
	size_t len;
	uint8_t *same =
		response(7, "wWw.ExAmple.cOm.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, true, &len);
	const uint8_t *n = ldns_rdf_data(sent);
	size_t nlen = ldns_rdf_size(sent);

	assert_int_equal(upstream_wire_match_name(same, len, 7, n, nlen, LDNS_RR_TYPE_A,
						  LDNS_RR_CLASS_IN, true),
			 UPSTREAM_MATCH_OK);
	size_t llen;
	uint8_t *lower =
		response(7, "www.example.com.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, true, &llen);
	assert_int_equal(upstream_wire_match_name(lower, llen, 7, n, nlen, LDNS_RR_TYPE_A,
						  LDNS_RR_CLASS_IN, true),
			 UPSTREAM_MATCH_CASE);
	/* Without caps the same reply is fine (RFC 4343). */
	assert_int_equal(upstream_wire_match_name(lower, llen, 7, n, nlen, LDNS_RR_TYPE_A,
						  LDNS_RR_CLASS_IN, false),
			 UPSTREAM_MATCH_OK);
	assert_int_equal(
		upstream_wire_match(lower, llen, 7, sent, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN),
		UPSTREAM_MATCH_OK);
	/* Everything else is checked first: wrong ID, type, another name. */
	assert_int_equal(upstream_wire_match_name(lower, llen, 8, n, nlen, LDNS_RR_TYPE_A,
						  LDNS_RR_CLASS_IN, true),
			 UPSTREAM_MATCH_ID);
	assert_int_equal(upstream_wire_match_name(lower, llen, 7, n, nlen, LDNS_RR_TYPE_AAAA,
						  LDNS_RR_CLASS_IN, true),
			 UPSTREAM_MATCH_QUESTION);
	size_t olen;
	uint8_t *other =
		response(7, "www.example.net.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, true, &olen);
	assert_int_equal(upstream_wire_match_name(other, olen, 7, n, nlen, LDNS_RR_TYPE_A,
						  LDNS_RR_CLASS_IN, true),
			 UPSTREAM_MATCH_QUESTION);
	/* Malformed beyond the question: malformed, whatever the case. */
	assert_int_equal(upstream_wire_match_name(lower, llen - 1, 7, n, nlen, LDNS_RR_TYPE_A,
						  LDNS_RR_CLASS_IN, true),
			 UPSTREAM_MATCH_MALFORMED);
	assert_string_equal(upstream_match_str(UPSTREAM_MATCH_CASE),
			    "question in another letter case (0x20)");
	free(same);
	free(lower);
	free(other);
	ldns_rdf_deep_free(sent);
	(void)state;
}

/* After a 0x20 reply is accepted, the question reads in the resolver's own
 * case again, and with it every name compressed to it. */
static void test_restore_question_case(void **state)
{
	ldns_pkt *p =
		ldns_pkt_query_new(name("wWw.ExAmple.cOm."), LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0);
	ldns_rr *rr = NULL;
	assert_int_equal(
		ldns_rr_new_frm_str(&rr, "wWw.ExAmple.cOm. 60 IN A 192.0.2.1", 0, NULL, NULL),
		LDNS_STATUS_OK);
	ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	ldns_pkt_set_qr(p, true);
	uint8_t *wire = NULL;
	size_t len;
	assert_int_equal(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	/* ldns compresses the owner to the question: a pointer to offset 12. */
	ldns_rdf *asked = name("www.Example.com.");
	upstream_wire_restore_qname(wire, len, ldns_rdf_data(asked), ldns_rdf_size(asked));
	assert_memory_equal(wire + 12, ldns_rdf_data(asked), ldns_rdf_size(asked));
	ldns_pkt *back = NULL;
	assert_int_equal(ldns_wire2pkt(&back, wire, len), LDNS_STATUS_OK);
	char *owner = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(back), 0)));
	assert_string_equal(owner, "www.Example.com.");
	free(owner);
	ldns_pkt_free(back);
	/* Too short for the name: nothing written. */
	uint8_t small[14] = {0};
	upstream_wire_restore_qname(small, sizeof(small), ldns_rdf_data(asked),
				    ldns_rdf_size(asked));
	for (size_t i = 0; i < sizeof(small); i++)
		assert_int_equal(small[i], 0);
	ldns_rdf_deep_free(asked);
	free(wire);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_shape),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_match_header),
		cmocka_unit_test(test_match_name),
		cmocka_unit_test(test_match_truncated),
		cmocka_unit_test(test_match_compression),
		cmocka_unit_test(test_match_oversized_name),
		cmocka_unit_test(test_match_type_class),
		cmocka_unit_test(test_match_ignores_a_body_that_does_not_fit),
		cmocka_unit_test(test_match_leaves_the_body),
		cmocka_unit_test(test_caps_pattern),
		cmocka_unit_test(test_match_exact_case),
		cmocka_unit_test(test_restore_question_case),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
