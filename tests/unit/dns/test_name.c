/*
 * Tests for dns/name.c: lower-casing wire names, label counts, the
 * subdomain test, suffixes, printing (rdf and wire form) and building names
 * from wire bytes.
 */
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

static void test_lower(void **state)
{
	uint8_t wire[] = "\x03WwW\x07"
			 "ExAmPlE\x03"
			 "COM";
	/* a label length of 'A' (65) is invalid; lowering must stop, not touch it */
	uint8_t bad[] = {0x41, 'A', 'B'};

	dns_name_lower(wire, sizeof(wire));
	assert_memory_equal(wire,
			    "\x03www\x07"
			    "example\x03"
			    "com",
			    sizeof(wire));
	dns_name_lower(bad, sizeof(bad));
	assert_int_equal(bad[0], 0x41);
	assert_int_equal(bad[1], 'A');

	/* a label claiming more bytes than there are stays in bounds */
	{
		static const uint8_t truncated[3] = {5, 'A', 'B'}; /* no terminating root */
		uint8_t *cut = malloc(sizeof(truncated));

		assert_non_null(cut);
		memcpy(cut, truncated, sizeof(truncated));
		dns_name_lower(cut, 3);
		assert_memory_equal(cut,
				    "\x05"
				    "ab",
				    3);
		free(cut);
	}
	dns_name_lower(NULL, 0);
}

static void test_label_count(void **state)
{
	ldns_rdf *root = name(".");
	ldns_rdf *www = name("www.example.com.");

	assert_int_equal(dns_name_label_count(root), 0);
	assert_int_equal(dns_name_label_count(www), 3);
	assert_int_equal(dns_name_label_count(NULL), 0);
	ldns_rdf_deep_free(root);
	ldns_rdf_deep_free(www);
}

static void test_is_subdomain(void **state)
{
	ldns_rdf *www = name("www.Example.com.");
	ldns_rdf *zone = name("example.COM.");
	ldns_rdf *other = name("example.org.");
	ldns_rdf *tricky = name("wwwexample.com.");
	ldns_rdf *root = name(".");

	assert_true(dns_name_is_subdomain(www, zone));
	assert_true(dns_name_is_subdomain(zone, zone)); /* equal counts */
	assert_true(dns_name_is_subdomain(www, root));
	assert_true(dns_name_is_subdomain(root, root));
	assert_false(dns_name_is_subdomain(zone, www));
	assert_false(dns_name_is_subdomain(www, other));
	assert_false(dns_name_is_subdomain(tricky, zone)); /* label boundary, not string suffix */
	assert_false(dns_name_is_subdomain(NULL, zone));
	assert_false(dns_name_is_subdomain(www, NULL));
	ldns_rdf_deep_free(www);
	ldns_rdf_deep_free(zone);
	ldns_rdf_deep_free(other);
	ldns_rdf_deep_free(tricky);
	ldns_rdf_deep_free(root);
}

static void test_suffix(void **state)
{
	ldns_rdf *www = name("www.Example.com.");
	ldns_rdf *want2 = name("Example.com.");
	ldns_rdf *want1 = name("com.");
	ldns_rdf *root = name(".");
	ldns_rdf *s;

	s = dns_name_suffix(www, 2);
	assert_non_null(s);
	assert_int_equal(ldns_rdf_size(s), ldns_rdf_size(want2));
	/* case is kept */
	assert_memory_equal(ldns_rdf_data(s), ldns_rdf_data(want2), ldns_rdf_size(s));
	ldns_rdf_deep_free(s);

	s = dns_name_suffix(www, 1);
	assert_int_equal(ldns_rdf_compare(s, want1), 0);
	ldns_rdf_deep_free(s);

	s = dns_name_suffix(www, 0);
	assert_int_equal(ldns_rdf_compare(s, root), 0);
	ldns_rdf_deep_free(s);

	s = dns_name_suffix(www, 3);
	assert_int_equal(ldns_rdf_compare(s, www), 0);
	ldns_rdf_deep_free(s);

	s = dns_name_suffix(www, 10); /* more labels than there are: the whole name */
	assert_int_equal(ldns_rdf_compare(s, www), 0);
	ldns_rdf_deep_free(s);

	s = dns_name_suffix(root, 0);
	assert_int_equal(ldns_rdf_compare(s, root), 0);
	ldns_rdf_deep_free(s);

	assert_null(dns_name_suffix(www, -1));
	assert_null(dns_name_suffix(NULL, 1));
	ldns_rdf_deep_free(www);
	ldns_rdf_deep_free(want2);
	ldns_rdf_deep_free(want1);
	ldns_rdf_deep_free(root);
}

static void test_str(void **state)
{
	char buf[64];
	char tiny[8];
	ldns_rdf *www = name("www.Example.com.");
	ldns_rdf *root = name(".");
	static const uint8_t odd_wire[] = {3, 'a', '.', 0x07, 1, ' ', 0};
	ldns_rdf *odd = dns_name_from_wire(odd_wire, sizeof(odd_wire));

	assert_string_equal(dns_name_str(www, buf, sizeof(buf)), "www.Example.com.");
	assert_string_equal(dns_name_str(root, buf, sizeof(buf)), ".");
	assert_non_null(odd);
	assert_string_equal(dns_name_str(odd, buf, sizeof(buf)), "a\\.\\007.\\032.");
	assert_string_equal(dns_name_str(NULL, buf, sizeof(buf)), "(no name)");
	/* cut, always terminated */
	assert_string_equal(dns_name_str(www, tiny, sizeof(tiny)), "www.Exa");
	assert_null(dns_name_str(www, NULL, 0));
	ldns_rdf_deep_free(www);
	ldns_rdf_deep_free(root);
	ldns_rdf_deep_free(odd);
}

static void test_wire_str(void **state)
{
	char buf[64];
	char big[DNS_NAME_MAX_TEXT];
	static const uint8_t odd[] = {3, 'a', '.', 'b', 2, 0x01, ' ', 0};
	static const uint8_t root[] = {0};
	static const uint8_t com[] = {3, 'c', 'o', 'm', 0};
	static const uint8_t special[] = {4, '@', '$', ';', '\\', 0};
	static const uint8_t ptr[] = {3, 'w', 'w', 'w', 0xc0, 12};
	static const uint8_t cut[] = {7, 'e', 'x', 'a'}; /* the label claims more */

	/* escapes as in RFC 1035 §5.1: special octets by \c, others by \DDD */
	assert_string_equal(dns_name_wire_str(odd, sizeof(odd), buf, sizeof(buf)),
			    "a\\.b.\\001\\032.");
	assert_string_equal(dns_name_wire_str(special, sizeof(special), buf, sizeof(buf)),
			    "\\@\\$\\;\\\\.");
	assert_string_equal(dns_name_wire_str(root, 1, buf, sizeof(buf)), ".");
	assert_string_equal(dns_name_wire_str(com, sizeof(com), buf, sizeof(buf)), "com.");
	/* stops at a pointer or the end of the bytes, never reads past */
	assert_string_equal(dns_name_wire_str(ptr, sizeof(ptr), buf, sizeof(buf)), "www.");
	assert_string_equal(dns_name_wire_str(cut, sizeof(cut), buf, sizeof(buf)), "exa.");
	assert_string_equal(dns_name_wire_str(NULL, 3, buf, sizeof(buf)), "(no name)");
	assert_string_equal(dns_name_wire_str(com, 0, buf, sizeof(buf)), "(no name)");
	/* too small: cut, terminated */
	assert_string_equal(dns_name_wire_str(com, sizeof(com), buf, 4), "com");
	assert_string_equal(dns_name_wire_str(com, sizeof(com), buf, 1), "");
	assert_null(dns_name_wire_str(com, sizeof(com), NULL, 0));

	/* the longest presentation form fits DNS_NAME_MAX_TEXT: 255 octets,
	 * four labels (63, 63, 63, 61), every octet escaped as \DDD */
	uint8_t worst[DNS_NAME_MAX];
	size_t pos = 0;
	for (int l = 0; l < 4; l++) {
		uint8_t n = l < 3 ? 63 : 61;
		worst[pos++] = n;
		memset(worst + pos, 0x01, n);
		pos += n;
	}
	worst[pos++] = 0;
	assert_int_equal(pos, DNS_NAME_MAX);
	dns_name_wire_str(worst, pos, big, sizeof(big));
	assert_int_equal(strlen(big), 250 * 4 + 4);

	/* dns_name_str() is the same for an rdf */
	ldns_rdf *rdf = dns_name_from_wire(odd, sizeof(odd));
	assert_non_null(rdf);
	assert_string_equal(dns_name_str(rdf, big, sizeof(big)),
			    dns_name_wire_str(odd, sizeof(odd), buf, sizeof(buf)));
	ldns_rdf_deep_free(rdf);
}

static void test_from_wire(void **state)
{
	static const uint8_t ok[] = "\x07"
				    "example\x03"
				    "com";
	static const uint8_t ptr[] = {3, 'w', 'w', 'w', 0xc0, 12};
	static const uint8_t no_root[] = {3, 'c', 'o', 'm'};
	static const uint8_t extra[] = {3, 'c', 'o', 'm', 0, 0};
	uint8_t long_label[66] = {64};
	ldns_rdf *rdf, *want = name("example.com.");

	rdf = dns_name_from_wire(ok, sizeof(ok));
	assert_non_null(rdf);
	assert_int_equal(ldns_rdf_get_type(rdf), LDNS_RDF_TYPE_DNAME);
	assert_int_equal(ldns_dname_compare(rdf, want), 0);
	ldns_rdf_deep_free(rdf);

	assert_null(dns_name_from_wire(ptr, sizeof(ptr)));
	assert_null(dns_name_from_wire(no_root, sizeof(no_root)));
	assert_null(dns_name_from_wire(extra, sizeof(extra)));
	assert_null(dns_name_from_wire(long_label, sizeof(long_label)));
	assert_null(dns_name_from_wire(ok, 0));
	assert_null(dns_name_from_wire(NULL, 5));
	ldns_rdf_deep_free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lower),	     cmocka_unit_test(test_label_count),
		cmocka_unit_test(test_is_subdomain), cmocka_unit_test(test_suffix),
		cmocka_unit_test(test_str),	     cmocka_unit_test(test_wire_str),
		cmocka_unit_test(test_from_wire),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
