/*
 * Tests of upstream/addr.c: the defaults and the address policy (families,
 * localhost, addresses that name no single unicast host).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>
#include <sys/un.h>

#include "upstream/upstream.h"

static struct sockaddr_storage addr(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	}
	return ss;
}

static bool allowed(const struct upstream_opts *opts, const char *ip)
{
	struct sockaddr_storage ss = addr(ip, 53);
	return upstream_addr_allowed(opts, (struct sockaddr *)&ss);
}

static void test_defaults(void **state)
{
	struct upstream_opts o;

	memset(&o, 0xa5, sizeof(o));
	upstream_opts_init(&o);
	assert_int_equal(o.edns_buffer_size, 1232);
	assert_true(o.do_ip4);
	assert_true(o.do_ip6);
	assert_true(o.do_not_query_localhost);
	assert_int_equal(o.source4.ss_family, AF_UNSPEC);
	assert_int_equal(o.source6.ss_family, AF_UNSPEC);
	assert_int_equal(o.timeout_min_ms, 200);
	assert_int_equal(o.timeout_max_ms, 3000);
	assert_int_equal(o.tcp_timeout_ms, 5000);
}

static void test_unicast_allowed(void **state)
{
	struct upstream_opts o;
	upstream_opts_init(&o);

	assert_true(allowed(&o, "192.0.2.1"));
	assert_true(allowed(&o, "198.41.0.4"));
	assert_true(allowed(&o, "2001:db8::53"));
	assert_true(allowed(&o, "2001:503:ba3e::2:30"));
	assert_true(allowed(&o, "::ffff:192.0.2.1"));
}

static void test_localhost(void **state)
{
	struct upstream_opts o;
	upstream_opts_init(&o);

	assert_false(allowed(&o, "127.0.0.1"));
	assert_false(allowed(&o, "127.255.3.4"));
	assert_false(allowed(&o, "::1"));
	assert_false(allowed(&o, "::ffff:127.0.0.1"));
	/* Near misses are not localhost. */
	assert_true(allowed(&o, "126.255.255.255"));
	assert_true(allowed(&o, "128.0.0.1"));
	assert_true(allowed(&o, "::2"));

	o.do_not_query_localhost = false;
	assert_true(allowed(&o, "127.0.0.1"));
	assert_true(allowed(&o, "::1"));
	assert_true(allowed(&o, "::ffff:127.0.0.1"));
}

static void test_not_a_host(void **state)
{
	struct upstream_opts o;
	upstream_opts_init(&o);
	o.do_not_query_localhost = false;

	assert_false(allowed(&o, "0.0.0.0"));
	assert_false(allowed(&o, "0.1.2.3"));
	assert_false(allowed(&o, "224.0.0.251"));
	assert_false(allowed(&o, "239.255.255.250"));
	assert_false(allowed(&o, "255.255.255.255"));
	assert_false(allowed(&o, "240.0.0.1"));
	assert_false(allowed(&o, "::"));
	assert_false(allowed(&o, "ff02::fb"));
	assert_false(allowed(&o, "::ffff:0.0.0.0"));
	assert_false(allowed(&o, "::ffff:224.0.0.1"));

	struct sockaddr_storage zero_port = addr("192.0.2.1", 0);
	assert_false(upstream_addr_allowed(&o, (struct sockaddr *)&zero_port));
	zero_port = addr("2001:db8::1", 0);
	assert_false(upstream_addr_allowed(&o, (struct sockaddr *)&zero_port));
}

static void test_families(void **state)
{
	struct upstream_opts o;
	upstream_opts_init(&o);

	o.do_ip6 = false;
	assert_true(allowed(&o, "192.0.2.1"));
	assert_false(allowed(&o, "2001:db8::53"));
	assert_false(allowed(&o, "::ffff:192.0.2.1")); /* sent from an IPv6 socket */

	o.do_ip6 = true;
	o.do_ip4 = false;
	assert_false(allowed(&o, "192.0.2.1"));
	assert_true(allowed(&o, "2001:db8::53"));
	assert_false(allowed(&o, "::ffff:192.0.2.1")); /* leaves as IPv4 */

	struct sockaddr_un un = {.sun_family = AF_UNIX};
	assert_false(upstream_addr_allowed(&o, (struct sockaddr *)&un));
	assert_false(upstream_addr_allowed(&o, NULL));
	struct sockaddr_storage ss = addr("192.0.2.1", 53);
	assert_false(upstream_addr_allowed(NULL, (struct sockaddr *)&ss));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),  cmocka_unit_test(test_unicast_allowed),
		cmocka_unit_test(test_localhost), cmocka_unit_test(test_not_a_host),
		cmocka_unit_test(test_families),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
