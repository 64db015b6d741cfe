/*
 * Unit tests for resolver/classify.c: resolver_classify() on responses
 * built with ldns, one per class and the edges between them (exact type and
 * ANY, CNAME and DNAME aliases, NXDOMAIN, NODATA with and without SOA, lame
 * and upward answers, downward referrals versus sideways or upward NS sets,
 * TC=1, error RCODEs), and resolver_class_name() for every class.
 * No cache, no network: classify is a pure function of its arguments.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "resolver/resolver.h"

#define SOA_EXAMPLE_COM                                                                            \
	"example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 "   \
	"300"

static ldns_rr *rr_new(const char *str)
{
	ldns_rr *rr = NULL;

	assert_int_equal(ldns_rr_new_frm_str(&rr, str, 0, NULL, NULL), LDNS_STATUS_OK);
	return rr;
}

static ldns_rdf *name_new(const char *str)
{
	ldns_rdf *name = ldns_dname_new_frm_str(str);

	assert_non_null(name);
	return name;
}

/* A response with QR set, the given rcode and AA bit, and no records yet. */
static ldns_pkt *resp_new(ldns_pkt_rcode rcode, bool aa)
{
	ldns_pkt *pkt = ldns_pkt_new();

	assert_non_null(pkt);
	ldns_pkt_set_qr(pkt, true);
	ldns_pkt_set_aa(pkt, aa);
	ldns_pkt_set_rcode(pkt, (uint8_t)rcode);
	return pkt;
}

/* Appends the records given as strings (NULL-terminated) to `section`. */
static void add(ldns_pkt *pkt, ldns_pkt_section section, ...)
{
	va_list ap;

	va_start(ap, section);
	for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
		assert_true(ldns_pkt_push_rr(pkt, section, rr_new(s)));
	va_end(ap);
}

/* Classifies `pkt` as a response to (sname, stype) from a server for `zone`. */
static enum resolver_class classify(const ldns_pkt *pkt, const char *sname, uint16_t stype,
				    const char *zone)
{
	ldns_rdf *s = name_new(sname);
	ldns_rdf *z = name_new(zone);
	enum resolver_class cls = resolver_classify(pkt, s, stype, z);

	ldns_rdf_deep_free(s);
	ldns_rdf_deep_free(z);
	return cls;
}

#define assert_class(pkt, sname, stype, zone, expected)                                            \
	assert_string_equal(resolver_class_name(classify((pkt), (sname), (stype), (zone))),        \
			    resolver_class_name(expected))

static void test_answer_exact_type(void **state)
{
	(void)state;
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR, true);

	add(pkt, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.80", NULL);
	add(pkt, LDNS_SECTION_AUTHORITY, "example.com. 300 IN NS ns1.example.com.", NULL);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "example.com.",
		     RESOLVER_CLASS_ANSWER);
	/* Names compare case-insensitively (RFC 4343). */
	assert_class(pkt, "WWW.Example.COM.", LDNS_RR_TYPE_A, "example.com.",
		     RESOLVER_CLASS_ANSWER);
	/* Data of another type at the name is no answer: authoritative NODATA. */
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_AAAA, "example.com.",
		     RESOLVER_CLASS_NODATA);
	/* Data for another name is no answer either. */
	assert_class(pkt, "ftp.example.com.", LDNS_RR_TYPE_A, "example.com.",
		     RESOLVER_CLASS_NODATA);
	ldns_pkt_free(pkt);

	/* A non-authoritative answer (e.g. from a forwarder) still counts. */
	pkt = resp_new(LDNS_RCODE_NOERROR, false);
	add(pkt, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.80", NULL);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "example.com.",
		     RESOLVER_CLASS_ANSWER);
	ldns_pkt_free(pkt);
}

static void test_answer_any(void **state)
{
	(void)state;
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR, true);

	add(pkt, LDNS_SECTION_ANSWER, "example.com. 300 IN MX 10 mail.example.com.",
	    "example.com. 300 IN TXT \"v=spf1 -all\"", NULL);
	assert_class(pkt, "example.com.", LDNS_RR_TYPE_ANY, "example.com.", RESOLVER_CLASS_ANSWER);
	assert_class(pkt, "example.com.", LDNS_RR_TYPE_MX, "example.com.", RESOLVER_CLASS_ANSWER);
	ldns_pkt_free(pkt);
}

static void test_cname_at_sname(void **state)
{
	(void)state;
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR, true);

	add(pkt, LDNS_SECTION_ANSWER, "www.example.com. 300 IN CNAME web.example.net.", NULL);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", RESOLVER_CLASS_CNAME);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_ANY, "example.com.",
		     RESOLVER_CLASS_ANSWER);
	/* Asking for the CNAME itself: that is the answer, not an alias. */
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_CNAME, "example.com.",
		     RESOLVER_CLASS_ANSWER);
	/* A CNAME owned by another name does not redirect sname. */
	assert_class(pkt, "ftp.example.com.", LDNS_RR_TYPE_A, "example.com.",
		     RESOLVER_CLASS_NODATA);
	ldns_pkt_free(pkt);

	/* A chain with the target's data: sname itself only has the CNAME. */
	pkt = resp_new(LDNS_RCODE_NOERROR, true);
	add(pkt, LDNS_SECTION_ANSWER, "www.example.com. 300 IN CNAME web.example.com.",
	    "web.example.com. 300 IN A 192.0.2.80", NULL);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", RESOLVER_CLASS_CNAME);
	ldns_pkt_free(pkt);

	/* NXDOMAIN for the target of an in-zone CNAME: still an alias first. */
	pkt = resp_new(LDNS_RCODE_NXDOMAIN, true);
	add(pkt, LDNS_SECTION_ANSWER, "www.example.com. 300 IN CNAME gone.example.com.", NULL);
	add(pkt, LDNS_SECTION_AUTHORITY, SOA_EXAMPLE_COM, NULL);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", RESOLVER_CLASS_CNAME);
	ldns_pkt_free(pkt);
}

static void test_dname_above_sname(void **state)
{
	(void)state;
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR, true);

	add(pkt, LDNS_SECTION_ANSWER, "sub.example.com. 300 IN DNAME sub.example.net.", NULL);
	assert_class(pkt, "www.sub.example.com.", LDNS_RR_TYPE_A, "example.com.",
		     RESOLVER_CLASS_CNAME);
	assert_class(pkt, "a.b.sub.example.com.", LDNS_RR_TYPE_AAAA, "example.com.",
		     RESOLVER_CLASS_CNAME);
	/* RFC 6672 §2.3: a DNAME does not redirect its own owner name. */
	assert_class(pkt, "sub.example.com.", LDNS_RR_TYPE_A, "example.com.",
		     RESOLVER_CLASS_NODATA);
	/* Asking for the DNAME at the owner: the answer. */
	assert_class(pkt, "sub.example.com.", LDNS_RR_TYPE_DNAME, "example.com.",
		     RESOLVER_CLASS_ANSWER);
	/* A DNAME elsewhere in the tree does not apply. */
	assert_class(pkt, "www.other.example.com.", LDNS_RR_TYPE_A, "example.com.",
		     RESOLVER_CLASS_NODATA);
	ldns_pkt_free(pkt);
}

static void test_nxdomain(void **state)
{
	(void)state;
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NXDOMAIN, true);

	add(pkt, LDNS_SECTION_AUTHORITY, SOA_EXAMPLE_COM, NULL);
	assert_class(pkt, "nx.example.com.", LDNS_RR_TYPE_A, "example.com.",
		     RESOLVER_CLASS_NXDOMAIN);
	ldns_pkt_free(pkt);

	/* Without SOA and without AA it is still NXDOMAIN by RCODE. */
	pkt = resp_new(LDNS_RCODE_NXDOMAIN, false);
	assert_class(pkt, "nx.example.com.", LDNS_RR_TYPE_A, "example.com.",
		     RESOLVER_CLASS_NXDOMAIN);
	ldns_pkt_free(pkt);
}

static void test_nodata_with_soa(void **state)
{
	(void)state;
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR, true);

	add(pkt, LDNS_SECTION_AUTHORITY, SOA_EXAMPLE_COM, NULL);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_AAAA, "example.com.",
		     RESOLVER_CLASS_NODATA);
	ldns_pkt_free(pkt);

	/* The SOA is enough without AA (RFC 2308 §2.2 type 2). */
	pkt = resp_new(LDNS_RCODE_NOERROR, false);
	add(pkt, LDNS_SECTION_AUTHORITY, SOA_EXAMPLE_COM, NULL);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_AAAA, "example.com.",
		     RESOLVER_CLASS_NODATA);
	/* An SOA of a child zone asked as its parent: still below the zone. */
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_AAAA, "com.", RESOLVER_CLASS_NODATA);
	/* An SOA from outside the zone asked is no statement about the name. */
	assert_class(pkt, "www.example.org.", LDNS_RR_TYPE_AAAA, "example.org.",
		     RESOLVER_CLASS_EMPTY);
	ldns_pkt_free(pkt);
}

static void test_nodata_aa_without_soa(void **state)
{
	(void)state;
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR, true);

	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_AAAA, "example.com.",
		     RESOLVER_CLASS_NODATA);
	ldns_pkt_free(pkt);

	/* AA with the zone's own NS set in authority: nothing upward, NODATA. */
	pkt = resp_new(LDNS_RCODE_NOERROR, true);
	add(pkt, LDNS_SECTION_AUTHORITY, "example.com. 300 IN NS ns1.example.com.", NULL);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_AAAA, "example.com.",
		     RESOLVER_CLASS_NODATA);
	ldns_pkt_free(pkt);
}

static void test_empty(void **state)
{
	(void)state;
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR, false);

	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", RESOLVER_CLASS_EMPTY);
	/* Non-AA with the zone's own NS set: not a referral, not authoritative. */
	add(pkt, LDNS_SECTION_AUTHORITY, "example.com. 300 IN NS ns1.example.com.", NULL);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", RESOLVER_CLASS_EMPTY);
	ldns_pkt_free(pkt);
}

static void test_lame_upward_referral(void **state)
{
	(void)state;
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR, true);

	/* A lame server's boilerplate: AA, the root NS set, no SOA. */
	add(pkt, LDNS_SECTION_AUTHORITY, ". 518400 IN NS a.root-servers.net.",
	    ". 518400 IN NS k.root-servers.net.", NULL);
	add(pkt, LDNS_SECTION_ADDITIONAL, "a.root-servers.net. 518400 IN A 198.41.0.4", NULL);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", RESOLVER_CLASS_EMPTY);
	ldns_pkt_free(pkt);

	/* Same without AA. */
	pkt = resp_new(LDNS_RCODE_NOERROR, false);
	add(pkt, LDNS_SECTION_AUTHORITY, "com. 172800 IN NS a.gtld-servers.net.", NULL);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", RESOLVER_CLASS_EMPTY);
	ldns_pkt_free(pkt);
}

static void test_referral(void **state)
{
	(void)state;
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR, false);

	add(pkt, LDNS_SECTION_AUTHORITY, "example.com. 172800 IN NS ns1.example.com.",
	    "example.com. 172800 IN NS ns2.example.net.", NULL);
	add(pkt, LDNS_SECTION_ADDITIONAL, "ns1.example.com. 172800 IN A 192.0.2.1", NULL);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "com.", RESOLVER_CLASS_REFERRAL);
	/* Two levels down at once (the root delegating example.com directly). */
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, ".", RESOLVER_CLASS_REFERRAL);
	/* QNAME minimisation: the NS query for the child apex itself. */
	assert_class(pkt, "example.com.", LDNS_RR_TYPE_NS, "com.", RESOLVER_CLASS_REFERRAL);
	/* Case-insensitive. */
	assert_class(pkt, "WWW.EXAMPLE.com.", LDNS_RR_TYPE_A, "COM.", RESOLVER_CLASS_REFERRAL);
	/* Asked as example.com already: the NS set is the zone's own, no referral. */
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", RESOLVER_CLASS_EMPTY);
	/* A delegation that does not contain sname (sideways) is no referral. */
	assert_class(pkt, "www.example.org.", LDNS_RR_TYPE_A, ".", RESOLVER_CLASS_EMPTY);
	/* A delegation below sname does not contain sname either. */
	assert_class(pkt, "com.", LDNS_RR_TYPE_NS, ".", RESOLVER_CLASS_EMPTY);
	ldns_pkt_free(pkt);

	/* Sideways NS, authoritative: still not a referral, and not NODATA
	 * either (the NS set is outside the zone asked). */
	pkt = resp_new(LDNS_RCODE_NOERROR, true);
	add(pkt, LDNS_SECTION_AUTHORITY, "example.org. 172800 IN NS ns.evil.org.", NULL);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "com.", RESOLVER_CLASS_EMPTY);
	ldns_pkt_free(pkt);

	/* Upward NS (a child server pointing back at com.): not a referral. */
	pkt = resp_new(LDNS_RCODE_NOERROR, false);
	add(pkt, LDNS_SECTION_AUTHORITY, "com. 172800 IN NS a.gtld-servers.net.", NULL);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "example.com.", RESOLVER_CLASS_EMPTY);
	ldns_pkt_free(pkt);

	/* A referral beside an SOA is still a referral (some servers add it). */
	pkt = resp_new(LDNS_RCODE_NOERROR, false);
	add(pkt, LDNS_SECTION_AUTHORITY, "example.com. 172800 IN NS ns1.example.com.",
	    "com. 900 IN SOA a.gtld-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400",
	    NULL);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "com.", RESOLVER_CLASS_REFERRAL);
	ldns_pkt_free(pkt);

	/* NXDOMAIN wins over an NS set in authority. */
	pkt = resp_new(LDNS_RCODE_NXDOMAIN, false);
	add(pkt, LDNS_SECTION_AUTHORITY, "example.com. 172800 IN NS ns1.example.com.", NULL);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "com.", RESOLVER_CLASS_NXDOMAIN);
	ldns_pkt_free(pkt);
}

static void test_truncated(void **state)
{
	(void)state;
	ldns_pkt *pkt = resp_new(LDNS_RCODE_NOERROR, true);

	ldns_pkt_set_tc(pkt, true);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "example.com.",
		     RESOLVER_CLASS_TRUNCATED);
	/* TC=1 wins even over data that looks complete, and over errors. */
	add(pkt, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.80", NULL);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "example.com.",
		     RESOLVER_CLASS_TRUNCATED);
	ldns_pkt_set_rcode(pkt, LDNS_RCODE_SERVFAIL);
	assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "example.com.",
		     RESOLVER_CLASS_TRUNCATED);
	ldns_pkt_free(pkt);
}

static void test_error_rcodes(void **state)
{
	(void)state;
	static const ldns_pkt_rcode rcodes[] = {
		LDNS_RCODE_SERVFAIL, LDNS_RCODE_REFUSED,  LDNS_RCODE_FORMERR,
		LDNS_RCODE_NOTIMPL,  LDNS_RCODE_YXDOMAIN, LDNS_RCODE_NOTAUTH,
	};

	for (size_t i = 0; i < sizeof(rcodes) / sizeof(rcodes[0]); i++) {
		ldns_pkt *pkt = resp_new(rcodes[i], true);

		assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "example.com.",
			     RESOLVER_CLASS_ERROR);
		/* Records beside an error RCODE are not believed. */
		add(pkt, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.80", NULL);
		add(pkt, LDNS_SECTION_AUTHORITY, "www.example.com. 300 IN NS ns.example.com.",
		    NULL);
		assert_class(pkt, "www.example.com.", LDNS_RR_TYPE_A, "example.com.",
			     RESOLVER_CLASS_ERROR);
		ldns_pkt_free(pkt);
	}
}

/* RFC 6672 §2.2: YXDOMAIN with a DNAME above the name is the server saying
 * the substitution overflows: an alias (alias.c answers YXDOMAIN), not a
 * server failure. Without the DNAME it stays an error. */
static void test_yxdomain_with_dname(void **state)
{
	(void)state;
	ldns_pkt *pkt = resp_new(LDNS_RCODE_YXDOMAIN, true);

	assert_class(pkt, "www.sub.example.com.", LDNS_RR_TYPE_A, "example.com.",
		     RESOLVER_CLASS_ERROR);
	add(pkt, LDNS_SECTION_ANSWER, "sub.example.com. 300 IN DNAME example.net.", NULL);
	assert_class(pkt, "www.sub.example.com.", LDNS_RR_TYPE_A, "example.com.",
		     RESOLVER_CLASS_CNAME);
	ldns_pkt_free(pkt);
}

static void test_class_names(void **state)
{
	(void)state;
	static const struct {
		enum resolver_class cls;
		const char *name;
	} names[] = {
		{RESOLVER_CLASS_ANSWER, "answer"},	 {RESOLVER_CLASS_CNAME, "cname"},
		{RESOLVER_CLASS_NXDOMAIN, "nxdomain"},	 {RESOLVER_CLASS_NODATA, "nodata"},
		{RESOLVER_CLASS_REFERRAL, "referral"},	 {RESOLVER_CLASS_EMPTY, "empty"},
		{RESOLVER_CLASS_TRUNCATED, "truncated"}, {RESOLVER_CLASS_ERROR, "error"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_string_equal(resolver_class_name(names[i].cls), names[i].name);
	/* Every value has its own name. */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (size_t j = i + 1; j < sizeof(names) / sizeof(names[0]); j++)
			assert_string_not_equal(resolver_class_name(names[i].cls),
						resolver_class_name(names[j].cls));
	assert_string_equal(resolver_class_name((enum resolver_class)99), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_exact_type),
		cmocka_unit_test(test_answer_any),
		cmocka_unit_test(test_cname_at_sname),
		cmocka_unit_test(test_dname_above_sname),
		cmocka_unit_test(test_nxdomain),
		cmocka_unit_test(test_nodata_with_soa),
		cmocka_unit_test(test_nodata_aa_without_soa),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_lame_upward_referral),
		cmocka_unit_test(test_referral),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_error_rcodes),
		cmocka_unit_test(test_yxdomain_with_dname),
		cmocka_unit_test(test_class_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
