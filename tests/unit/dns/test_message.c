/*
 * Tests for dns/message.c: parsing, upstream queries and client answers
 * (EDNS, EDE, truncation). Every written message is parsed back with ldns
 * and checked field by field. (Response matching is upstream/wire.c's,
 * tested in tests/unit/upstream/test_wire.c.)
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "dns/dns.h"

static ldns_rdf *name(const char *s)
{
	ldns_rdf *rdf = ldns_dname_new_frm_str(s);

	assert_non_null(rdf);
	return rdf;
}

static ldns_rr *rr(const char *s)
{
	ldns_rr *r = NULL;

	assert_int_equal(ldns_rr_new_frm_str(&r, s, 0, NULL, NULL), LDNS_STATUS_OK);
	return r;
}

static ldns_pkt *parse(const uint8_t *wire, int len)
{
	ldns_pkt *pkt = NULL;

	assert_true(len > 0);
	assert_int_equal(dns_parse(wire, (size_t)len, &pkt), 0);
	assert_non_null(pkt);
	return pkt;
}

/* The data of EDNS option `code` in `pkt`, or NULL. */
static const ldns_edns_option *find_option(ldns_pkt *pkt, uint16_t code)
{
	ldns_edns_option_list *list = ldns_pkt_edns_get_option_list(pkt);

	for (size_t i = 0; list && i < ldns_edns_option_list_get_count(list); i++) {
		ldns_edns_option *o = ldns_edns_option_list_get_option(list, i);

		if (ldns_edns_get_code(o) == code)
			return o;
	}
	return NULL;
}

/* ---- dns_parse ----------------------------------------------------------- */

static void test_parse(void **state)
{
	uint8_t out[512];
	ldns_rdf *q = name("example.com.");
	ldns_pkt *pkt = NULL;
	int len;

	len = dns_write_query(out, sizeof(out), 1, q, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 1232,
			      false);
	assert_int_equal(dns_parse(out, (size_t)len, &pkt), 0);
	ldns_pkt_free(pkt);

	for (int n = 0; n < len; n++) {
		pkt = (ldns_pkt *)1;
		assert_int_equal(dns_parse(out, (size_t)n, &pkt), -EBADMSG);
		assert_null(pkt);
	}
	out[12] = 0xc0; /* a pointer loop in the question */
	out[13] = 12;
	assert_int_equal(dns_parse(out, (size_t)len, &pkt), -EBADMSG);
	assert_int_equal(dns_parse(NULL, 10, &pkt), -EBADMSG);
	assert_int_equal(dns_parse(out, (size_t)len, NULL), -EINVAL);
	ldns_rdf_deep_free(q);
}

/* ---- dns_write_query ----------------------------------------------------- */

static void test_write_query(void **state)
{
	uint8_t out[512];
	ldns_rdf *q = name("WwW.Example.com.");
	ldns_pkt *pkt;
	const ldns_rr *question;
	int len;

	len = dns_write_query(out, sizeof(out), 0xabcd, q, LDNS_RR_TYPE_AAAA, LDNS_RR_CLASS_IN,
			      1232, true);
	pkt = parse(out, len);
	assert_int_equal(ldns_pkt_id(pkt), 0xabcd);
	assert_false(ldns_pkt_qr(pkt));
	assert_false(ldns_pkt_rd(pkt));
	assert_int_equal(ldns_pkt_get_opcode(pkt), LDNS_PACKET_QUERY);
	assert_int_equal(ldns_pkt_qdcount(pkt), 1);
	question = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
	assert_int_equal(ldns_rr_get_type(question), LDNS_RR_TYPE_AAAA);
	assert_int_equal(ldns_rr_get_class(question), LDNS_RR_CLASS_IN);
	assert_int_equal(ldns_rdf_compare(ldns_rr_owner(question), q), 0);
	assert_true(ldns_pkt_edns(pkt));
	assert_int_equal(ldns_pkt_edns_udp_size(pkt), 1232);
	assert_int_equal(ldns_pkt_edns_version(pkt), 0);
	assert_true(ldns_pkt_edns_do(pkt));
	ldns_pkt_free(pkt);

	/* no EDNS at all */
	len = dns_write_query(out, sizeof(out), 2, q, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0, false);
	assert_int_equal(len, 12 + (int)ldns_rdf_size(q) + 4);
	pkt = parse(out, len);
	assert_false(ldns_pkt_edns(pkt));
	assert_int_equal(ldns_pkt_arcount(pkt), 0);
	ldns_pkt_free(pkt);

	/* EDNS without DO */
	len = dns_write_query(out, sizeof(out), 3, q, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 4096,
			      false);
	pkt = parse(out, len);
	assert_int_equal(ldns_pkt_edns_udp_size(pkt), 4096);
	assert_false(ldns_pkt_edns_do(pkt));
	ldns_pkt_free(pkt);

	assert_int_equal(dns_write_query(out, 20, 3, q, 1, 1, 1232, false), -ENOSPC);
	assert_int_equal(dns_write_query(out, sizeof(out), 3, NULL, 1, 1, 1232, false), -EINVAL);
	{
		ldns_rdf *not_name = ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, 5);

		assert_int_equal(dns_write_query(out, sizeof(out), 3, not_name, 1, 1, 0, false),
				 -EINVAL);
		ldns_rdf_deep_free(not_name);
	}
	ldns_rdf_deep_free(q);
}

/* ---- dns_write_answer ---------------------------------------------------- */

static const uint8_t client_qname[] = "\x03WwW\x07"
				      "ExAmple\x03"
				      "com";

/* An answer as the resolver would build it: question in lower case. */
static ldns_pkt *make_answer(int n_a)
{
	ldns_pkt *pkt = ldns_pkt_query_new(name("www.example.com."), LDNS_RR_TYPE_A,
					   LDNS_RR_CLASS_IN, LDNS_QR | LDNS_AA);
	char line[128];

	assert_non_null(pkt);
	for (int i = 0; i < n_a; i++) {
		snprintf(line, sizeof(line), "WWW.example.COM. 300 IN A 192.0.2.%d", i % 256);
		assert_true(ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, rr(line)));
	}
	assert_true(ldns_pkt_push_rr(pkt, LDNS_SECTION_AUTHORITY,
				     rr("example.com. 3600 IN NS ns1.example.com.")));
	assert_true(ldns_pkt_push_rr(pkt, LDNS_SECTION_ADDITIONAL,
				     rr("ns1.example.com. 3600 IN A 192.0.2.53")));
	return pkt;
}

static struct dns_answer_opts default_opts(void)
{
	struct dns_answer_opts o = {
		.id = 0x5151,
		.rd = true,
		.cd = false,
		.qname_wire = client_qname,
		.qname_len = sizeof(client_qname),
		.edns = true,
		.edns_do = true,
		.max_size = 1232,
		.ede_code = -1,
		.ede_text = NULL,
	};
	return o;
}

static void test_write_answer(void **state)
{
	static uint8_t out[65535];
	struct dns_answer_opts o = default_opts();
	ldns_pkt *answer = make_answer(3);
	ldns_pkt *pkt;
	const ldns_rr *q, *a;
	int len;

	assert_true(ldns_pkt_push_rr(answer, LDNS_SECTION_ANSWER,
				     rr("www.example.com. 300 IN MX 10 MX1.Example.com.")));

	len = dns_write_answer(answer, &o, out, sizeof(out));
	pkt = parse(out, len);
	assert_int_equal(ldns_pkt_id(pkt), 0x5151);
	assert_true(ldns_pkt_qr(pkt));
	assert_false(ldns_pkt_aa(pkt)); /* never authoritative, even if the answer was */
	assert_false(ldns_pkt_tc(pkt));
	assert_true(ldns_pkt_rd(pkt));
	assert_true(ldns_pkt_ra(pkt));
	assert_false(ldns_pkt_cd(pkt));
	assert_false(ldns_pkt_ad(pkt));
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_qdcount(pkt), 1);
	assert_int_equal(ldns_pkt_ancount(pkt), 4);
	assert_int_equal(ldns_pkt_nscount(pkt), 1);
	assert_int_equal(ldns_pkt_arcount(pkt), 1); /* ldns counts the OPT apart */
	q = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
	assert_int_equal(ldns_rdf_size(ldns_rr_owner(q)), sizeof(client_qname));
	assert_memory_equal(ldns_rdf_data(ldns_rr_owner(q)), client_qname, sizeof(client_qname));
	assert_int_equal(ldns_rr_get_type(q), LDNS_RR_TYPE_A);
	/*
	 * ldns compresses names case-insensitively, so an answer owner equal to
	 * the question becomes a pointer to it and reads back in the client's
	 * case (Unbound and BIND answer the same way). Labels that are not
	 * compressed keep their own case: "MX1" below.
	 */
	a = ldns_rr_list_rr(ldns_pkt_answer(pkt), 0);
	assert_memory_equal(ldns_rdf_data(ldns_rr_owner(a)), client_qname, sizeof(client_qname));
	a = ldns_rr_list_rr(ldns_pkt_answer(pkt), 3);
	assert_int_equal(ldns_rr_get_type(a), LDNS_RR_TYPE_MX);
	assert_memory_equal(ldns_rdf_data(ldns_rr_rdf(a, 1)), "\x03MX1", 4);
	assert_true(ldns_pkt_edns(pkt));
	assert_int_equal(ldns_pkt_edns_udp_size(pkt), 1232);
	assert_true(ldns_pkt_edns_do(pkt));
	assert_null(find_option(pkt, 15));
	ldns_pkt_free(pkt);

	/* the answer is left as it was */
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(answer)), 4);
	assert_int_equal(ldns_pkt_id(answer), 0);

	/* no EDNS: no OPT, even with an EDE asked for */
	o.edns = false;
	o.ede_code = DNS_EDE_STALE_ANSWER;
	o.cd = true;
	o.rd = false;
	len = dns_write_answer(answer, &o, out, sizeof(out));
	pkt = parse(out, len);
	assert_false(ldns_pkt_edns(pkt));
	assert_true(ldns_pkt_cd(pkt));
	assert_false(ldns_pkt_rd(pkt));
	ldns_pkt_free(pkt);

	/* fits max_size but not the buffer */
	o = default_opts();
	assert_int_equal(dns_write_answer(answer, &o, out, 40), -ENOSPC);
	ldns_pkt_free(answer);
}

static void test_write_answer_rcode(void **state)
{
	static uint8_t out[4096];
	struct dns_answer_opts o = default_opts();
	ldns_pkt *answer = ldns_pkt_query_new(name("nope.example.com."), LDNS_RR_TYPE_A,
					      LDNS_RR_CLASS_IN, LDNS_QR);
	ldns_pkt *pkt;
	int len;

	ldns_pkt_set_rcode(answer, LDNS_RCODE_NXDOMAIN);
	assert_true(ldns_pkt_push_rr(answer, LDNS_SECTION_AUTHORITY,
				     rr("example.com. 300 IN SOA ns1.example.com. "
					"host.example.com. 1 7200 3600 1209600 300")));
	len = dns_write_answer(answer, &o, out, sizeof(out));
	pkt = parse(out, len);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_ancount(pkt), 0);
	assert_int_equal(ldns_pkt_nscount(pkt), 1);
	assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_authority(pkt), 0)),
			 LDNS_RR_TYPE_SOA);
	ldns_pkt_free(pkt);
	ldns_pkt_free(answer);
}

static void test_write_answer_ede(void **state)
{
	static uint8_t out[4096];
	struct dns_answer_opts o = default_opts();
	ldns_pkt *answer = make_answer(2);
	const ldns_edns_option *ede;
	ldns_pkt *pkt;
	int len;

	o.ede_code = DNS_EDE_STALE_ANSWER;
	o.ede_text = "stale";
	len = dns_write_answer(answer, &o, out, sizeof(out));
	pkt = parse(out, len);
	assert_int_equal(ldns_pkt_ancount(pkt), 2);
	ede = find_option(pkt, 15);
	assert_non_null(ede);
	assert_int_equal(ldns_edns_get_size(ede), 2 + 5);
	assert_memory_equal(ldns_edns_get_data(ede), "\x00\x03stale", 7);
	ldns_pkt_free(pkt);

	/* no text: just the INFO-CODE */
	o.ede_code = DNS_EDE_NO_REACHABLE_AUTHORITY;
	o.ede_text = NULL;
	len = dns_write_answer(answer, &o, out, sizeof(out));
	pkt = parse(out, len);
	ede = find_option(pkt, 15);
	assert_non_null(ede);
	assert_int_equal(ldns_edns_get_size(ede), 2);
	assert_memory_equal(ldns_edns_get_data(ede), "\x00\x16", 2);
	ldns_pkt_free(pkt);

	/* a very long text is cut, and not inside a UTF-8 sequence */
	{
		char text[400];

		memset(text, 'x', sizeof(text));
		for (int i = 250; i + 1 < (int)sizeof(text); i += 2) {
			text[i] = (char)0xc3; /* "é" */
			text[i + 1] = (char)0xa9;
		}
		text[sizeof(text) - 1] = '\0';
		o.ede_text = text;
		len = dns_write_answer(answer, &o, out, sizeof(out));
		pkt = parse(out, len);
		ede = find_option(pkt, 15);
		assert_non_null(ede);
		assert_true(ldns_edns_get_size(ede) <= 2 + 256);
		assert_int_equal((ldns_edns_get_size(ede) - 2 - 250) % 2, 0);
		ldns_pkt_free(pkt);
	}
	ldns_pkt_free(answer);
}

static void test_write_answer_truncated(void **state)
{
	static uint8_t out[65535];
	struct dns_answer_opts o = default_opts();
	ldns_pkt *answer = make_answer(100); /* 100 A records: far more than 512 bytes */
	const ldns_edns_option *ede;
	ldns_pkt *pkt;
	int len;

	o.max_size = 512;
	o.ede_code = DNS_EDE_STALE_ANSWER;
	o.ede_text = "stale";
	len = dns_write_answer(answer, &o, out, sizeof(out));
	assert_true(len <= 512);
	pkt = parse(out, len);
	assert_true(ldns_pkt_tc(pkt));
	assert_true(ldns_pkt_qr(pkt));
	assert_true(ldns_pkt_ra(pkt));
	assert_true(ldns_pkt_rd(pkt));
	assert_int_equal(ldns_pkt_id(pkt), 0x5151);
	assert_int_equal(ldns_pkt_qdcount(pkt), 1);
	assert_int_equal(ldns_pkt_ancount(pkt), 0);
	assert_int_equal(ldns_pkt_nscount(pkt), 0);
	assert_memory_equal(
		ldns_rdf_data(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(pkt), 0))),
		client_qname, sizeof(client_qname));
	assert_true(ldns_pkt_edns(pkt));
	assert_int_equal(ldns_pkt_edns_udp_size(pkt), 1232);
	assert_true(ldns_pkt_edns_do(pkt));
	ede = find_option(pkt, 15);
	assert_non_null(ede);
	assert_memory_equal(ldns_edns_get_data(ede), "\x00\x03stale", 7);
	ldns_pkt_free(pkt);

	/* no EDNS: header + question only */
	o.edns = false;
	len = dns_write_answer(answer, &o, out, sizeof(out));
	assert_int_equal(len, 12 + (int)sizeof(client_qname) + 4);
	pkt = parse(out, len);
	assert_true(ldns_pkt_tc(pkt));
	assert_false(ldns_pkt_edns(pkt));
	ldns_pkt_free(pkt);

	/* TCP limit: everything fits */
	o = default_opts();
	o.max_size = 65535;
	len = dns_write_answer(answer, &o, out, sizeof(out));
	pkt = parse(out, len);
	assert_false(ldns_pkt_tc(pkt));
	assert_int_equal(ldns_pkt_ancount(pkt), 100);
	ldns_pkt_free(pkt);
	ldns_pkt_free(answer);
}

static void test_write_answer_boundary(void **state)
{
	static uint8_t out[4096];
	struct dns_answer_opts o = default_opts();
	ldns_pkt *answer = make_answer(10);
	ldns_pkt *pkt;
	int full;
	int len;

	o.max_size = 65535;
	full = dns_write_answer(answer, &o, out, sizeof(out));
	assert_true(full > 0);

	o.max_size = (uint16_t)full; /* exactly fits */
	len = dns_write_answer(answer, &o, out, sizeof(out));
	assert_int_equal(len, full);
	o.max_size = (uint16_t)(full - 1); /* one byte over */
	len = dns_write_answer(answer, &o, out, sizeof(out));
	pkt = parse(out, len);
	assert_true(ldns_pkt_tc(pkt));
	ldns_pkt_free(pkt);
	ldns_pkt_free(answer);
}

static void test_write_answer_drops_stray_opt(void **state)
{
	static uint8_t out[4096];
	struct dns_answer_opts o = default_opts();
	ldns_pkt *answer = make_answer(1);
	ldns_rr *opt = ldns_rr_new();
	ldns_pkt *pkt;
	int len;

	ldns_rr_set_owner(opt, name("."));
	ldns_rr_set_type(opt, LDNS_RR_TYPE_OPT);
	ldns_rr_set_class(opt, 4096);
	assert_true(ldns_pkt_push_rr(answer, LDNS_SECTION_ADDITIONAL, opt));
	len = dns_write_answer(answer, &o, out, sizeof(out));
	/* ldns_wire2pkt refuses two OPT records, so parsing proves there is one */
	pkt = parse(out, len);
	assert_int_equal(ldns_pkt_edns_udp_size(pkt), 1232);
	assert_int_equal(ldns_pkt_arcount(pkt), 1);
	ldns_pkt_free(pkt);
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_additional(answer)), 2);
	ldns_pkt_free(answer);
}

static void test_write_answer_bad_input(void **state)
{
	static uint8_t out[512];
	struct dns_answer_opts o = default_opts();
	ldns_pkt *answer = make_answer(1);
	ldns_pkt *empty = ldns_pkt_new();
	static const uint8_t bad_name[] = {3, 'c', 'o', 'm'};

	assert_int_equal(dns_write_answer(NULL, &o, out, sizeof(out)), -EINVAL);
	assert_int_equal(dns_write_answer(answer, NULL, out, sizeof(out)), -EINVAL);
	assert_int_equal(dns_write_answer(empty, &o, out, sizeof(out)), -EINVAL);
	o.qname_wire = bad_name;
	o.qname_len = sizeof(bad_name);
	assert_int_equal(dns_write_answer(answer, &o, out, sizeof(out)), -EINVAL);
	ldns_pkt_free(answer);
	ldns_pkt_free(empty);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_write_query),
		cmocka_unit_test(test_write_answer),
		cmocka_unit_test(test_write_answer_rcode),
		cmocka_unit_test(test_write_answer_ede),
		cmocka_unit_test(test_write_answer_truncated),
		cmocka_unit_test(test_write_answer_boundary),
		cmocka_unit_test(test_write_answer_drops_stray_opt),
		cmocka_unit_test(test_write_answer_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
