/*
 * Tests of upstream/wire.c: the query we build and the response check.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_shape),
		cmocka_unit_test(test_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
