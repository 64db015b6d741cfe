/*
 * Tests of upstream/servers.c: the shared table of estimates. Times are
 * passed explicitly (a fake monotonic clock).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <string.h>

#include "upstream/upstream.h"
#include "upstream/impl.h"

static struct sockaddr_storage v4(uint32_t ip, uint16_t port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(ip);
	return ss;
}

#define SA(ss) ((struct sockaddr *)&(ss))

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

static void test_unknown_default(void **state)
{
	struct upstream_servers *s = *state;
	struct sockaddr_storage a = v4(0xc0000201, 53);

	assert_int_equal(upstream_servers_rtt(s, SA(a)), UPSTREAM_RTT_UNKNOWN_MS);
	struct upstream_rtt r;
	upstream_servers_get(s, SA(a), 1000, &r);
	assert_false(r.measured);
	assert_int_equal(upstream_servers_count(s), 0); /* reading does not insert */
}

static void test_sample_and_timeout(void **state)
{
	struct upstream_servers *s = *state;
	struct sockaddr_storage a = v4(0xc0000201, 53);
	struct sockaddr_storage other_port = v4(0xc0000201, 5353);
	struct upstream_rtt r;

	upstream_servers_sample(s, SA(a), 20, 1000);
	upstream_servers_get(s, SA(a), 1000, &r);
	assert_true(r.measured);
	assert_int_equal(r.srtt_us, 20000);
	assert_int_equal(upstream_rtt_score(&r), 60);

	/* The port is part of the server's identity. */
	upstream_servers_get(s, SA(other_port), 1000, &r);
	assert_false(r.measured);

	upstream_servers_timeout(s, SA(a), 1100);
	upstream_servers_timeout(s, SA(a), 1200);
	upstream_servers_get(s, SA(a), 1200, &r);
	assert_int_equal(r.timeouts, 2);
	assert_int_equal(upstream_rtt_score(&r), 240);

	/* A quiet spell forgives the backoff; a later answer resets it. */
	upstream_servers_get(s, SA(a), 1200 + 2 * UPSTREAM_RTT_DECAY_MS, &r);
	assert_int_equal(r.timeouts, 0);
	upstream_servers_timeout(s, SA(a), 1300);
	upstream_servers_sample(s, SA(a), 20, 1400);
	upstream_servers_get(s, SA(a), 1400, &r);
	assert_int_equal(r.timeouts, 0);

	/* Forgotten after the forget period. */
	upstream_servers_get(s, SA(a), 1400 + UPSTREAM_RTT_FORGET_MS, &r);
	assert_false(r.measured);
	assert_int_equal(upstream_servers_count(s), 1);
}

static void test_timeouts_after_long_silence_restart(void **state)
{
	struct upstream_servers *s = *state;
	struct sockaddr_storage a = v4(0xc0000202, 53);
	struct upstream_rtt r;

	for (int i = 0; i < 6; i++)
		upstream_servers_timeout(s, SA(a), 1000);
	upstream_servers_timeout(s, SA(a), 1000 + UPSTREAM_RTT_FORGET_MS);
	upstream_servers_get(s, SA(a), 1000 + UPSTREAM_RTT_FORGET_MS, &r);
	assert_int_equal(r.timeouts, 1);
}

static void test_ipv6_scope(void **state)
{
	struct upstream_servers *s = *state;
	struct sockaddr_storage a, b;
	memset(&a, 0, sizeof(a));
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(53);
	inet_pton(AF_INET6, "fe80::1", &sin6->sin6_addr);
	sin6->sin6_scope_id = 1;
	b = a;
	((struct sockaddr_in6 *)&b)->sin6_scope_id = 2;

	upstream_servers_sample(s, SA(a), 10, 1000);
	struct upstream_rtt r;
	upstream_servers_get(s, SA(a), 1000, &r);
	assert_true(r.measured);
	upstream_servers_get(s, SA(b), 1000, &r);
	assert_false(r.measured);
}

static void test_full_table_reuses_lru(void **state)
{
	struct upstream_servers *s = *state;
	const uint32_t n = 3 * UPSTREAM_SERVERS_SLOTS;
	struct upstream_rtt r;

	for (uint32_t i = 0; i < n; i++) {
		struct sockaddr_storage a = v4(0x0a000000 + i, 53);
		upstream_servers_sample(s, SA(a), 10 + i % 100, 1000 + i);
	}
	assert_true(upstream_servers_count(s) <= UPSTREAM_SERVERS_SLOTS);
	assert_true(upstream_servers_count(s) > UPSTREAM_SERVERS_SLOTS * 9 / 10);

	/* The most recent server always has a slot: the window's least
	 * recently used entry gave way. */
	struct sockaddr_storage last = v4(0x0a000000 + n - 1, 53);
	upstream_servers_get(s, SA(last), 1000 + n, &r);
	assert_true(r.measured);

	/* Recent servers survive far more often than the oldest ones. */
	unsigned recent = 0, old = 0;
	for (uint32_t i = 0; i < 500; i++) {
		struct sockaddr_storage a = v4(0x0a000000 + i, 53);
		struct sockaddr_storage b = v4(0x0a000000 + n - 1 - i, 53);
		upstream_servers_get(s, SA(a), 1000 + n, &r);
		old += r.measured;
		upstream_servers_get(s, SA(b), 1000 + n, &r);
		recent += r.measured;
	}
	assert_true(recent > 400);
	assert_true(old < recent / 4);
}

struct hammer {
	struct upstream_servers *s;
	int thread;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	for (int i = 0; i < 20000; i++) {
		struct sockaddr_storage a = v4(0xc0000200 + (uint32_t)(i % 16), 53);
		if ((i + h->thread) % 5 == 0)
			upstream_servers_timeout(h->s, SA(a), 5000);
		else
			upstream_servers_sample(h->s, SA(a), 30, 5000);
	}
	return NULL;
}

static void test_concurrent_updates(void **state)
{
	struct upstream_servers *s = *state;
	pthread_t t[4];
	struct hammer h[4];

	for (int i = 0; i < 4; i++) {
		h[i] = (struct hammer){s, i};
		assert_int_equal(pthread_create(&t[i], NULL, hammer_run, &h[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	/* 16 servers, each in exactly one slot, each sane. */
	assert_int_equal(upstream_servers_count(s), 16);
	for (uint32_t i = 0; i < 16; i++) {
		struct sockaddr_storage a = v4(0xc0000200 + i, 53);
		struct upstream_rtt r;
		upstream_servers_get(s, SA(a), 5000, &r);
		assert_true(r.measured);
		assert_in_range(r.srtt_us, 30000, 30000);
		assert_true(r.timeouts <= UPSTREAM_RTT_TIMEOUTS_MAX);
	}
}

/* 0x20 learning as a pure function: three case-only mismatches with no
 * case-preserving answer between them turn caps off for UPSTREAM_CAPS_OFF_MS,
 * once; a good answer resets the count; caps come back after the period. */
static void test_caps_learning(void **state)
{
	uint64_t w = 0, now = 1000;
	bool learned;

	assert_true(upstream_caps_allowed(w, now));
	w = upstream_caps_mismatch(w, now, &learned);
	assert_false(learned);
	w = upstream_caps_mismatch(w, now, &learned);
	assert_false(learned);
	w = upstream_caps_preserved(w); /* the server kept case after all */
	w = upstream_caps_mismatch(w, now, &learned);
	assert_false(learned);
	w = upstream_caps_mismatch(w, now, &learned);
	assert_false(learned);
	assert_true(upstream_caps_allowed(w, now));
	w = upstream_caps_mismatch(w, now + 5, &learned);
	assert_true(learned);
	assert_false(upstream_caps_allowed(w, now + 5));
	/* Late mismatches of queries sent with caps before: not counted again. */
	uint64_t before = w;
	w = upstream_caps_mismatch(w, now + 6, &learned);
	assert_false(learned);
	assert_int_equal(w, before);
	assert_false(upstream_caps_allowed(w, now + 5 + UPSTREAM_CAPS_OFF_MS - 1));
	assert_true(upstream_caps_allowed(w, now + 5 + UPSTREAM_CAPS_OFF_MS));
	/* After the period it takes three fresh mismatches again. */
	uint64_t later = now + 5 + UPSTREAM_CAPS_OFF_MS;
	w = upstream_caps_mismatch(w, later, &learned);
	assert_false(learned);
	assert_true(upstream_caps_allowed(w, later));
	w = upstream_caps_mismatch(w, later, &learned);
	assert_false(learned);
	w = upstream_caps_mismatch(w, later, &learned);
	assert_true(learned);
	(void)state;
}

/* The same through the shared table, per address. */
static void test_caps_per_server(void **state)
{
	struct upstream_servers *s = *state;
	struct sockaddr_storage a = v4(0xc0000201, 53), b = v4(0xc0000202, 53);
	uint64_t now = 1000;

	assert_true(upstream_servers_caps(s, SA(a), now)); /* unknown: caps on */
	assert_false(upstream_servers_caps_mismatch(s, SA(a), now));
	assert_false(upstream_servers_caps_mismatch(s, SA(a), now));
	upstream_servers_caps_preserved(s, SA(a));
	assert_false(upstream_servers_caps_mismatch(s, SA(a), now));
	assert_false(upstream_servers_caps_mismatch(s, SA(a), now));
	assert_true(upstream_servers_caps_mismatch(s, SA(a), now));
	assert_false(upstream_servers_caps_mismatch(s, SA(a), now));
	assert_false(upstream_servers_caps(s, SA(a), now + 1));
	assert_true(upstream_servers_caps(s, SA(b), now + 1));
	assert_true(upstream_servers_caps(s, SA(a), now + UPSTREAM_CAPS_OFF_MS));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unknown_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sample_and_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeouts_after_long_silence_restart, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_table_reuses_lru, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_updates, setup, teardown),
		cmocka_unit_test(test_caps_learning),
		cmocka_unit_test_setup_teardown(test_caps_per_server, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
