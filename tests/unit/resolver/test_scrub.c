/*
 * Unit tests for resolver/scrub.c: one test per rule, named after the
 * attack it stops (off-path answers, NS sets smuggled into the answer or a
 * negative reply, foreign NS sets and glue, addresses in the authority
 * section, other classes, TTLs with the top bit set, chains leaving the
 * server's bailiwick), and the records each rule must keep (the chain, a
 * DNAME's synthesized CNAME, the zone's SOA and DNSSEC records, priming
 * glue). No cache, no network: packets built with ldns.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "resolver/impl.h"

#define SOA_EXAMPLE_COM                                                                            \
	"example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 "   \
	"300"

static ldns_rr *rr_new(const char *str)
{
	ldns_rr *rr = NULL;

	assert_int_equal(ldns_rr_new_frm_str(&rr, str, 0, NULL, NULL), LDNS_STATUS_OK);
	return rr;
}

static ldns_pkt *resp_new(ldns_pkt_rcode rcode)
{
	ldns_pkt *pkt = ldns_pkt_new();

	assert_non_null(pkt);
	ldns_pkt_set_qr(pkt, true);
	ldns_pkt_set_aa(pkt, true);
	ldns_pkt_set_rcode(pkt, (uint8_t)rcode);
	return pkt;
}

static void add(ldns_pkt *pkt, ldns_pkt_section section, ...)
{
	va_list ap;

	va_start(ap, section);
	for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
		assert_true(ldns_pkt_push_rr(pkt, section, rr_new(s)));
	va_end(ap);
}

static const ldns_rr_list *section(const ldns_pkt *pkt, ldns_pkt_section which)
{
	return which == LDNS_SECTION_ANSWER	 ? ldns_pkt_answer(pkt)
	       : which == LDNS_SECTION_AUTHORITY ? ldns_pkt_authority(pkt)
						 : ldns_pkt_additional(pkt);
}

/* Records of (owner, type) left in one section. */
static size_t count(const ldns_pkt *pkt, ldns_pkt_section which, const char *owner,
		    ldns_rr_type type)
{
	ldns_rdf *name = ldns_dname_new_frm_str(owner);
	const ldns_rr_list *list = section(pkt, which);
	size_t n = 0;

	assert_non_null(name);
	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
		ldns_rr *rr = ldns_rr_list_rr(list, i);
		if (ldns_rr_get_type(rr) == type &&
		    ldns_dname_compare(ldns_rr_owner(rr), name) == 0)
			n++;
	}
	ldns_rdf_deep_free(name);
	return n;
}

static size_t total(const ldns_pkt *pkt, ldns_pkt_section which)
{
	return ldns_rr_list_rr_count(section(pkt, which));
}

/* The question state: names parsed once per test. */
struct question {
	ldns_rdf *sname, *zone;
	struct scrub_question sq;
};

static void question_init(struct question *q, const char *sname, uint16_t stype, const char *zone)
{
	q->sname = ldns_dname_new_frm_str(sname);
	q->zone = ldns_dname_new_frm_str(zone);
	assert_non_null(q->sname);
	assert_non_null(q->zone);
	q->sq = (struct scrub_question){
		.sname = q->sname, .stype = stype, .zone = q->zone, .harden_glue = true};
}

static void question_deinit(struct question *q)
{
	ldns_rdf_deep_free(q->sname);
	ldns_rdf_deep_free(q->zone);
}

/* Answer chain only, freeing the end name. */
static unsigned scrub_answer(ldns_pkt *pkt, const struct question *q)
{
	ldns_rdf *end = NULL;
	unsigned n = scrub_answer_chain(pkt, &q->sq, &end);

	assert_non_null(end);
	ldns_rdf_deep_free(end);
	return n;
}

/* A server for example.com must not plant other names of its zone (or
 * anyone's) beside the answer. */
static void test_scrub_drops_offpath_answer_rrset(void **state)
{
	(void)state;
	struct question q;
	question_init(&q, "www.example.com.", LDNS_RR_TYPE_A, "example.com.");
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR);
	add(pkt, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.1",
	    "www.example.com. 300 IN A 192.0.2.2", "mail.example.com. 300 IN A 6.6.6.6",
	    "www.example.com. 300 IN TXT \"not asked\"", "bank.example.net. 300 IN A 6.6.6.6",
	    NULL);

	assert_int_equal(scrub_answer(pkt, &q), 3);
	assert_int_equal(count(pkt, LDNS_SECTION_ANSWER, "www.example.com.", LDNS_RR_TYPE_A), 2);
	assert_int_equal(total(pkt, LDNS_SECTION_ANSWER), 2);
	assert_int_equal(ldns_pkt_ancount(pkt), 2);
	ldns_pkt_free(pkt);
	question_deinit(&q);
}

/* An NS set in the answer of an A query would take over the delegation. */
static void test_scrub_drops_ns_in_answer(void **state)
{
	(void)state;
	struct question q;
	question_init(&q, "www.example.com.", LDNS_RR_TYPE_A, "example.com.");
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR);
	add(pkt, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.1",
	    "example.com. 300 IN NS ns.evil.net.", "www.example.com. 300 IN NS ns.evil.net.", NULL);

	assert_int_equal(scrub_answer(pkt, &q), 2);
	assert_int_equal(total(pkt, LDNS_SECTION_ANSWER), 1);
	ldns_pkt_free(pkt);

	/* Asked for NS (a minimised query): the NS set asked is the answer. */
	question_deinit(&q);
	question_init(&q, "example.com.", LDNS_RR_TYPE_NS, "com.");
	pkt = resp_new(LDNS_RCODE_NOERROR);
	add(pkt, LDNS_SECTION_ANSWER, "example.com. 300 IN NS ns1.example.com.",
	    "com. 300 IN NS ns.evil.net.", NULL);
	assert_int_equal(scrub_answer(pkt, &q), 1);
	assert_int_equal(count(pkt, LDNS_SECTION_ANSWER, "example.com.", LDNS_RR_TYPE_NS), 1);
	ldns_pkt_free(pkt);
	question_deinit(&q);
}

/* The chain from the question is kept, links in any order; a DNAME keeps
 * its synthesized CNAME and a forged one that disagrees is dropped. */
static void test_scrub_keeps_chain_and_dname_synthesis(void **state)
{
	(void)state;
	struct question q;
	question_init(&q, "a.example.com.", LDNS_RR_TYPE_A, "example.com.");
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR);
	add(pkt, LDNS_SECTION_ANSWER, "c.example.com. 300 IN A 192.0.2.3",
	    "b.example.com. 300 IN CNAME c.example.com.",
	    "a.example.com. 300 IN CNAME b.example.com.",
	    "z.example.com. 300 IN A 6.6.6.6", /* not on the chain */
	    NULL);
	assert_int_equal(scrub_answer(pkt, &q), 1);
	assert_int_equal(count(pkt, LDNS_SECTION_ANSWER, "a.example.com.", LDNS_RR_TYPE_CNAME), 1);
	assert_int_equal(count(pkt, LDNS_SECTION_ANSWER, "b.example.com.", LDNS_RR_TYPE_CNAME), 1);
	assert_int_equal(count(pkt, LDNS_SECTION_ANSWER, "c.example.com.", LDNS_RR_TYPE_A), 1);
	ldns_pkt_free(pkt);
	question_deinit(&q);

	question_init(&q, "x.d.example.com.", LDNS_RR_TYPE_A, "example.com.");
	pkt = resp_new(LDNS_RCODE_NOERROR);
	add(pkt, LDNS_SECTION_ANSWER, "d.example.com. 300 IN DNAME e.example.com.",
	    "x.d.example.com. 300 IN CNAME evil.example.com.", "evil.example.com. 300 IN A 6.6.6.6",
	    "x.e.example.com. 300 IN A 192.0.2.5", NULL);
	assert_int_equal(scrub_answer(pkt, &q), 2);
	assert_int_equal(count(pkt, LDNS_SECTION_ANSWER, "d.example.com.", LDNS_RR_TYPE_DNAME), 1);
	assert_int_equal(count(pkt, LDNS_SECTION_ANSWER, "x.e.example.com.", LDNS_RR_TYPE_A), 1);
	assert_int_equal(total(pkt, LDNS_SECTION_ANSWER), 2);
	ldns_pkt_free(pkt);
	question_deinit(&q);
}

/* A server for example.com may point out of its zone, not speak for the
 * target: its data there comes from the target's own servers. */
static void test_scrub_cuts_chain_leaving_bailiwick(void **state)
{
	(void)state;
	struct question q;
	question_init(&q, "www.example.com.", LDNS_RR_TYPE_A, "example.com.");
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR);
	add(pkt, LDNS_SECTION_ANSWER, "www.example.com. 300 IN CNAME www.bank.net.",
	    "www.bank.net. 300 IN A 6.6.6.6", "www.bank.net. 300 IN CNAME back.example.com.",
	    "back.example.com. 300 IN A 6.6.6.7", NULL);
	ldns_rdf *end = NULL;
	assert_int_equal(scrub_answer_chain(pkt, &q.sq, &end), 3);
	assert_int_equal(count(pkt, LDNS_SECTION_ANSWER, "www.example.com.", LDNS_RR_TYPE_CNAME),
			 1);
	assert_int_equal(total(pkt, LDNS_SECTION_ANSWER), 1);
	ldns_rdf *want = ldns_dname_new_frm_str("www.bank.net.");
	assert_int_equal(ldns_dname_compare(end, want), 0);
	ldns_rdf_deep_free(want);
	ldns_rdf_deep_free(end);
	ldns_pkt_free(pkt);
	question_deinit(&q);
}

/* A CNAME loop ends the walk (and the answer keeps the loop for alias.c to
 * refuse). */
static void test_scrub_chain_loop_ends(void **state)
{
	(void)state;
	struct question q;
	question_init(&q, "a.example.com.", LDNS_RR_TYPE_A, "example.com.");
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR);
	add(pkt, LDNS_SECTION_ANSWER, "a.example.com. 300 IN CNAME b.example.com.",
	    "b.example.com. 300 IN CNAME a.example.com.", NULL);
	assert_int_equal(scrub_answer(pkt, &q), 0);
	assert_int_equal(total(pkt, LDNS_SECTION_ANSWER), 2);
	ldns_pkt_free(pkt);
	question_deinit(&q);
}

/* An NXDOMAIN or NODATA carries the zone's SOA, not a new delegation. */
static void test_scrub_drops_ns_in_negative_reply(void **state)
{
	(void)state;
	struct question q;
	question_init(&q, "nx.example.com.", LDNS_RR_TYPE_A, "example.com.");
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NXDOMAIN);
	add(pkt, LDNS_SECTION_AUTHORITY, SOA_EXAMPLE_COM, "example.com. 300 IN NS ns.evil.net.",
	    "example.com. 300 IN NSEC z.example.com. A NS SOA RRSIG NSEC", NULL);
	add(pkt, LDNS_SECTION_ADDITIONAL, "ns.evil.net. 300 IN A 6.6.6.6", NULL);

	assert_int_equal(resolver_scrub(pkt, &q.sq, true), 2);
	assert_int_equal(count(pkt, LDNS_SECTION_AUTHORITY, "example.com.", LDNS_RR_TYPE_SOA), 1);
	assert_int_equal(count(pkt, LDNS_SECTION_AUTHORITY, "example.com.", LDNS_RR_TYPE_NSEC), 1);
	assert_int_equal(count(pkt, LDNS_SECTION_AUTHORITY, "example.com.", LDNS_RR_TYPE_NS), 0);
	assert_int_equal(total(pkt, LDNS_SECTION_ADDITIONAL), 0);
	ldns_pkt_free(pkt);
	question_deinit(&q);
}

/* A referral from com for www.example.com may delegate example.com, not
 * other.com nor the parent: one NS set, the deepest pertinent one. */
static void test_scrub_keeps_only_pertinent_ns(void **state)
{
	(void)state;
	struct question q;
	question_init(&q, "www.example.com.", LDNS_RR_TYPE_A, "com.");
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR);
	ldns_pkt_set_aa(pkt, false);
	add(pkt, LDNS_SECTION_AUTHORITY, "other.com. 300 IN NS ns.evil.net.",
	    "example.com. 300 IN NS ns1.example.com.", ". 300 IN NS ns.evil.net.",
	    "com. 300 IN NS ns.evil.net.", "example.com. 300 IN NS ns2.example.com.",
	    "example.com. 300 IN DS 1 8 2 "
	    "0000000000000000000000000000000000000000000000000000000000000000",
	    NULL);

	ldns_rdf *end = ldns_dname_new_frm_str("www.example.com.");
	assert_int_equal(scrub_authority_ns(pkt, &q.sq, end, false), 3);
	assert_int_equal(count(pkt, LDNS_SECTION_AUTHORITY, "example.com.", LDNS_RR_TYPE_NS), 2);
	assert_int_equal(count(pkt, LDNS_SECTION_AUTHORITY, "example.com.", LDNS_RR_TYPE_DS), 1);
	assert_int_equal(total(pkt, LDNS_SECTION_AUTHORITY), 3);
	assert_int_equal(resolver_classify(pkt, q.sname, LDNS_RR_TYPE_A, q.zone),
			 RESOLVER_CLASS_REFERRAL);
	ldns_rdf_deep_free(end);
	ldns_pkt_free(pkt);
	question_deinit(&q);
}

/* Glue is the addresses of the kept NS set's targets, in bailiwick unless
 * harden-glue is off: not an address for any name the server likes. */
static void test_scrub_drops_unrelated_glue(void **state)
{
	(void)state;
	static const char *const glue[] = {
		"ns1.example.com. 300 IN A 192.0.2.53", "ns1.example.com. 300 IN AAAA 2001:db8::53",
		"www.bank.com. 300 IN A 6.6.6.6",    /* not an NS target */
		"ns.other.net. 300 IN A 6.6.6.7",    /* a target, out of bailiwick */
		"ns1.example.com. 300 IN TXT \"x\"", /* not an address */
	};
	for (int harden = 1; harden >= 0; harden--) {
		struct question q;
		question_init(&q, "www.example.com.", LDNS_RR_TYPE_A, "com.");
		q.sq.harden_glue = harden;
		ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR);
		add(pkt, LDNS_SECTION_AUTHORITY, "example.com. 300 IN NS ns1.example.com.",
		    "example.com. 300 IN NS ns.other.net.", NULL);
		for (size_t i = 0; i < sizeof(glue) / sizeof(glue[0]); i++)
			add(pkt, LDNS_SECTION_ADDITIONAL, glue[i], NULL);

		assert_int_equal(scrub_additional_glue(pkt, &q.sq), harden ? 3 : 2);
		assert_int_equal(
			count(pkt, LDNS_SECTION_ADDITIONAL, "ns1.example.com.", LDNS_RR_TYPE_A), 1);
		assert_int_equal(
			count(pkt, LDNS_SECTION_ADDITIONAL, "ns1.example.com.", LDNS_RR_TYPE_AAAA),
			1);
		assert_int_equal(
			count(pkt, LDNS_SECTION_ADDITIONAL, "ns.other.net.", LDNS_RR_TYPE_A),
			harden ? 0 : 1);
		assert_int_equal(
			count(pkt, LDNS_SECTION_ADDITIONAL, "www.bank.com.", LDNS_RR_TYPE_A), 0);
		ldns_pkt_free(pkt);
		question_deinit(&q);
	}
	/* The one harden-glue rule, as store.c and response.c ask it. */
	ldns_rdf *zone = ldns_dname_new_frm_str("com.");
	ldns_rdf *out = ldns_dname_new_frm_str("ns.other.net.");
	assert_false(scrub_glue_in_bailiwick(out, zone, true));
	assert_true(scrub_glue_in_bailiwick(out, zone, false));
	ldns_rdf_deep_free(zone);
	ldns_rdf_deep_free(out);
}

/* Priming (". NS"): the NS set is the answer, its glue is kept. */
static void test_scrub_keeps_priming_glue(void **state)
{
	(void)state;
	struct question q;
	question_init(&q, ".", LDNS_RR_TYPE_NS, ".");
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR);
	add(pkt, LDNS_SECTION_ANSWER, ". 518400 IN NS a.root-servers.net.", NULL);
	add(pkt, LDNS_SECTION_ADDITIONAL, "a.root-servers.net. 518400 IN A 198.41.0.4",
	    "a.root-servers.net. 518400 IN AAAA 2001:503:ba3e::2:30", NULL);
	assert_int_equal(resolver_scrub(pkt, &q.sq, false), 0);
	assert_int_equal(total(pkt, LDNS_SECTION_ADDITIONAL), 2);
	ldns_pkt_free(pkt);
	question_deinit(&q);
}

/* Addresses and aliases in the authority section are nobody's answer. */
static void test_scrub_drops_address_records_from_authority(void **state)
{
	(void)state;
	struct question q;
	question_init(&q, "www.example.com.", LDNS_RR_TYPE_A, "example.com.");
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR);
	add(pkt, LDNS_SECTION_AUTHORITY, SOA_EXAMPLE_COM, "www.example.com. 300 IN A 6.6.6.6",
	    "mail.example.com. 300 IN AAAA 2001:db8::666",
	    "ftp.example.com. 300 IN CNAME evil.net.", "sub.example.com. 300 IN DNAME evil.net.",
	    "net. 300 IN SOA a.evil. b.evil. 1 2 3 4 5", /* another zone's SOA */
	    "example.com. 300 IN RRSIG SOA 8 2 3600 20300101000000 20200101000000 1 "
	    "example.com. AAAA",
	    NULL);
	assert_int_equal(scrub_authority_types(pkt, &q.sq), 5);
	assert_int_equal(count(pkt, LDNS_SECTION_AUTHORITY, "example.com.", LDNS_RR_TYPE_SOA), 1);
	assert_int_equal(count(pkt, LDNS_SECTION_AUTHORITY, "example.com.", LDNS_RR_TYPE_RRSIG), 1);
	assert_int_equal(total(pkt, LDNS_SECTION_AUTHORITY), 2);
	ldns_pkt_free(pkt);
	question_deinit(&q);
}

/* A CH (or any non-IN) record is no answer to an IN question, anywhere. */
static void test_scrub_drops_non_in_class(void **state)
{
	(void)state;
	struct question q;
	question_init(&q, "www.example.com.", LDNS_RR_TYPE_A, "example.com.");
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR);
	add(pkt, LDNS_SECTION_ANSWER, "www.example.com. 300 CH A 6.6.6.6", NULL);
	add(pkt, LDNS_SECTION_AUTHORITY, "example.com. 300 CH NS ns.evil.net.", NULL);
	add(pkt, LDNS_SECTION_ADDITIONAL, "ns.example.com. 300 HS A 6.6.6.6", NULL);
	assert_int_equal(scrub_drop_non_in(pkt, &q.sq), 3);
	assert_int_equal(total(pkt, LDNS_SECTION_ANSWER) + total(pkt, LDNS_SECTION_AUTHORITY) +
				 total(pkt, LDNS_SECTION_ADDITIONAL),
			 0);
	/* What is left is no answer any more (response.c classifies again). */
	assert_int_not_equal(resolver_classify(pkt, q.sname, LDNS_RR_TYPE_A, q.zone),
			     RESOLVER_CLASS_ANSWER);
	ldns_pkt_free(pkt);
	question_deinit(&q);
}

/* RFC 2181 §8: 2^31 and above is 0, not "cache for 68 years" (or the cap). */
static void test_scrub_ttl_top_bit_is_zero(void **state)
{
	(void)state;
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR);
	add(pkt, LDNS_SECTION_ANSWER, "www.example.com. 2147483648 IN A 192.0.2.1",
	    "www.example.com. 2147483647 IN A 192.0.2.2", NULL);
	add(pkt, LDNS_SECTION_ADDITIONAL, "ns.example.com. 4294967295 IN A 192.0.2.3", NULL);
	assert_int_equal(scrub_ttl_top_bit(pkt), 2);
	assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(pkt), 0)), 0);
	assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(pkt), 1)), 2147483647u);
	assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_additional(pkt), 0)), 0);
	ldns_pkt_free(pkt);
}

/* The whole pipeline on a reply lying in every section. */
static void test_scrub_whole_reply(void **state)
{
	(void)state;
	struct question q;
	question_init(&q, "www.example.com.", LDNS_RR_TYPE_A, "example.com.");
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR);
	add(pkt, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.1",
	    "injected.example.com. 300 IN A 6.6.6.6", NULL);
	add(pkt, LDNS_SECTION_AUTHORITY, "example.com. 300 IN NS ns1.example.com.",
	    "com. 300 IN NS ns.evil.net.", NULL);
	add(pkt, LDNS_SECTION_ADDITIONAL, "ns1.example.com. 300 IN A 192.0.2.53",
	    "ns.evil.net. 300 IN A 6.6.6.6", NULL);
	assert_int_equal(resolver_scrub(pkt, &q.sq, false), 3);
	assert_int_equal(total(pkt, LDNS_SECTION_ANSWER), 1);
	assert_int_equal(count(pkt, LDNS_SECTION_AUTHORITY, "example.com.", LDNS_RR_TYPE_NS), 1);
	assert_int_equal(total(pkt, LDNS_SECTION_AUTHORITY), 1);
	assert_int_equal(total(pkt, LDNS_SECTION_ADDITIONAL), 1);
	ldns_pkt_free(pkt);
	question_deinit(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scrub_drops_offpath_answer_rrset),
		cmocka_unit_test(test_scrub_drops_ns_in_answer),
		cmocka_unit_test(test_scrub_keeps_chain_and_dname_synthesis),
		cmocka_unit_test(test_scrub_cuts_chain_leaving_bailiwick),
		cmocka_unit_test(test_scrub_chain_loop_ends),
		cmocka_unit_test(test_scrub_drops_ns_in_negative_reply),
		cmocka_unit_test(test_scrub_keeps_only_pertinent_ns),
		cmocka_unit_test(test_scrub_drops_unrelated_glue),
		cmocka_unit_test(test_scrub_keeps_priming_glue),
		cmocka_unit_test(test_scrub_drops_address_records_from_authority),
		cmocka_unit_test(test_scrub_drops_non_in_class),
		cmocka_unit_test(test_scrub_ttl_top_bit_is_zero),
		cmocka_unit_test(test_scrub_whole_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
