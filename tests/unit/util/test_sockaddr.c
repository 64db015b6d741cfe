/* Unit tests for util/sockaddr.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <cmocka.h>

#include "util/sockaddr.h"

static struct sockaddr_storage addr(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	}
	util_sockaddr_set_port(&ss, port);
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static void test_sockaddr_len_and_port(void **state)
{
	struct sockaddr_storage a = addr("192.0.2.1", 53), b = addr("2001:db8::1", 5353);
	struct sockaddr_storage none;

	memset(&none, 0, sizeof(none));
	none.ss_family = AF_UNIX;
	assert_int_equal(util_sockaddr_len(SA(a)), sizeof(struct sockaddr_in));
	assert_int_equal(util_sockaddr_len(SA(b)), sizeof(struct sockaddr_in6));
	assert_int_equal(util_sockaddr_len(SA(none)), 0);
	assert_int_equal(util_sockaddr_port(SA(a)), 53);
	assert_int_equal(util_sockaddr_port(SA(b)), 5353);
	assert_int_equal(util_sockaddr_port(SA(none)), 0);
}

static void test_sockaddr_equal_needs_family_address_and_port(void **state)
{
	struct sockaddr_storage a = addr("192.0.2.1", 53);
	struct sockaddr_storage same = addr("192.0.2.1", 53);
	struct sockaddr_storage other_port = addr("192.0.2.1", 54);
	struct sockaddr_storage other_ip = addr("192.0.2.2", 53);
	struct sockaddr_storage mapped = addr("::ffff:192.0.2.1", 53);
	struct sockaddr_storage v6 = addr("2001:db8::1", 53), v6b = addr("2001:db8::1", 53);

	assert_true(util_sockaddr_equal(SA(a), SA(same)));
	assert_false(util_sockaddr_equal(SA(a), SA(other_port)));
	assert_false(util_sockaddr_equal(SA(a), SA(other_ip)));
	assert_false(util_sockaddr_equal(SA(a), SA(mapped)));
	assert_true(util_sockaddr_equal(SA(v6), SA(v6b)));
	assert_false(util_sockaddr_equal(SA(v6), SA(mapped)));
}

static void test_sockaddr_str_is_addr_at_port(void **state)
{
	char buf[UTIL_SOCKADDR_STRLEN];
	struct sockaddr_storage a = addr("192.0.2.1", 53);
	struct sockaddr_storage b = addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);

	assert_string_equal(util_sockaddr_str(SA(a), buf, sizeof(buf)), "192.0.2.1@53");
	assert_string_equal(util_sockaddr_str(SA(b), buf, sizeof(buf)),
			    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff@65535");
	/* A short buffer truncates, never overflows. */
	char small[8];
	util_sockaddr_str(SA(a), small, sizeof(small));
	assert_int_equal(strlen(small), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sockaddr_len_and_port),
		cmocka_unit_test(test_sockaddr_equal_needs_family_address_and_port),
		cmocka_unit_test(test_sockaddr_str_is_addr_at_port),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
