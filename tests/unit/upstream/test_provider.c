/*
 * Tests of upstream/provider.c: NS host names grouped by registrable
 * domain with the public suffix list.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "upstream/upstream.h"
#include "upstream/impl.h"

static int setup(void **state)
{
	*state = upstream_servers_create();
	return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	upstream_servers_destroy(*state);
	return 0;
}

/* The provider name of `ns` (presentation form). */
static const char *provider(struct upstream_servers *s, const char *ns, char *buf, size_t cap)
{
	ldns_rdf *name = ldns_dname_new_frm_str(ns);
	assert_non_null(name);
	upstream_provider_name(s, name, buf, cap);
	ldns_rdf_deep_free(name);
	return buf;
}

static void test_registrable_domain(void **state)
{
	struct upstream_servers *s = *state;
	char a[UPSTREAM_PROVIDER_MAX], b[UPSTREAM_PROVIDER_MAX];

	assert_string_equal(provider(s, "ns1.example.com.", a, sizeof(a)), "example.com");
	assert_string_equal(provider(s, "NS2.Example.COM.", b, sizeof(b)), "example.com");
	assert_int_equal(upstream_provider_id(a), upstream_provider_id(b));
	assert_string_equal(provider(s, "ns1.example.net.", b, sizeof(b)), "example.net");
	assert_int_not_equal(upstream_provider_id(a), upstream_provider_id(b));
	/* A multi-label public suffix. */
	assert_string_equal(provider(s, "ns.example.co.uk.", a, sizeof(a)), "example.co.uk");
	assert_string_equal(provider(s, "a.b.ns.example.co.uk", a, sizeof(a)), "example.co.uk");
	/* Real providers: one group each. */
	assert_string_equal(provider(s, "ns-1234.awsdns-26.org.", a, sizeof(a)), "awsdns-26.org");
	assert_string_equal(provider(s, "ns-99.awsdns-12.com.", b, sizeof(b)), "awsdns-12.com");
	assert_string_equal(provider(s, "dana.ns.cloudflare.com.", a, sizeof(a)), "cloudflare.com");
	/* Unknown TLDs (the test authorities'): the implicit "*" rule. */
	assert_string_equal(provider(s, "ns1.alpha.test.", a, sizeof(a)), "alpha.test");
	assert_string_equal(provider(s, "ns1.beta.test.", b, sizeof(b)), "beta.test");
}

static void test_odd_names(void **state)
{
	struct upstream_servers *s = *state;
	char a[UPSTREAM_PROVIDER_MAX];

	/* A public suffix itself, or a single label: the name alone. */
	assert_string_equal(provider(s, "co.uk.", a, sizeof(a)), "co.uk");
	assert_string_equal(provider(s, "localhost.", a, sizeof(a)), "localhost");
	assert_string_equal(provider(s, ".", a, sizeof(a)), "");
	assert_int_equal(upstream_provider_name(s, NULL, a, sizeof(a)), 0);
	assert_string_equal(a, "");
	/* Truncation keeps a terminated string. */
	char small[5];
	provider(s, "ns1.example.com.", small, sizeof(small));
	assert_string_equal(small, "exam");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_registrable_domain),
		T(test_odd_names),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
