/*
 * Tests of upstream/transport.c through the public API, on a real libuv
 * loop against the fake authorities of harness.c: UDP answers, spoofs
 * (wrong ID, another question, QR=0, another port) ignored, TC=1 passed on,
 * timeouts, ICMP port unreachable; TCP framing (a split length prefix, an
 * unrelated frame and an empty one first), hang-ups, refused connections
 * and timeouts. Run under ASan for the leak side.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "util/log.h"

/* For the cases that expect an answer or a network error: timeouts far
 * beyond anything a loaded machine adds, so only the behaviour is tested
 * (the harness's short defaults are for the timeout cases). The upstream
 * borrows e->opts, so this takes effect for the next attempt. */
static void patient(struct env *e)
{
	e->opts.timeout_min_ms = e->opts.timeout_max_ms = 5000;
	e->opts.tcp_timeout_ms = 5000;
}

static void test_udp_answer(void **state)
{
	struct env *e = *state;
	patient(e);
	fake_start(&e->fake, &e->loop, FAKE_ANSWER);

	assert_int_equal(upstream_servers_rtt(e->servers, (struct sockaddr *)&e->fake.udp_addr),
			 UPSTREAM_RTT_UNKNOWN_MS);
	start(e, &e->fake.udp_addr, 1, false);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_OK);
	assert_true(same(&e->results[0].server, &e->fake.udp_addr));
	assert_false(e->results[0].tcp);
	assert_false(e->results[0].tc);
	assert_string_equal(e->results[0].rdata, "192.0.2.1");
	assert_int_equal(e->fake.queries, 1);
	/* The RTT was measured: no longer the unknown default. */
	assert_int_not_equal(upstream_servers_rtt(e->servers, (struct sockaddr *)&e->fake.udp_addr),
			     UPSTREAM_RTT_UNKNOWN_MS);
}

static void test_udp_spoofs_ignored(void **state)
{
	struct env *e = *state;
	patient(e);
	fake_start(&e->fake, &e->loop, FAKE_SPOOF);

	start(e, &e->fake.udp_addr, 1, false);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_OK);
	/* Only the real answer (sent 30 ms after the junk) was taken. */
	assert_string_equal(e->results[0].rdata, "192.0.2.1");
	assert_true(e->results[0].rtt_ms >= 25);
}

static void test_udp_truncated_is_ok(void **state)
{
	struct env *e = *state;
	patient(e);
	fake_start(&e->fake, &e->loop, FAKE_TRUNCATED);

	start(e, &e->fake.udp_addr, 1, false);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_OK);
	assert_true(e->results[0].tc);
}

static void test_udp_timeout(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SILENT);

	uint64_t t0 = uv_hrtime();
	start(e, &e->fake.udp_addr, 1, false);
	uv_run(&e->loop, UV_RUN_DEFAULT);
	uint64_t elapsed_ms = (uv_hrtime() - t0) / 1000000;

	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_TIMEOUT);
	assert_true(same(&e->results[0].server, &e->fake.udp_addr));
	/* Unknown server: RTO 400 ms bounded by timeout_max_ms = 150. */
	assert_true(e->results[0].rtt_ms >= 145); /* a timer never fires early */
	assert_true(elapsed_ms >= 140);
	assert_int_equal(e->fake.queries, 1);
	/* Backed off: the unknown default doubled. */
	assert_int_equal(upstream_servers_rtt(e->servers, (struct sockaddr *)&e->fake.udp_addr),
			 2 * UPSTREAM_RTT_UNKNOWN_MS);
}

static void test_udp_port_unreachable(void **state)
{
	struct env *e = *state;
	patient(e);
	struct sockaddr_storage dead = closed_port(&e->loop, false);

	start(e, &dead, 1, false);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_NETERR);
}

static void test_tcp_answer_in_pieces(void **state)
{
	struct env *e = *state;
	patient(e);
	fake_start(&e->fake, &e->loop, FAKE_ANSWER);

	start(e, &e->fake.tcp_addr, 1, true);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_OK);
	assert_true(e->results[0].tcp);
	assert_string_equal(e->results[0].rdata, "192.0.2.1");
	assert_true(e->results[0].rtt_ms >= 40); /* three 15 ms steps */
	/* TCP does not feed the UDP estimate. */
	assert_int_equal(upstream_servers_rtt(e->servers, (struct sockaddr *)&e->fake.tcp_addr),
			 UPSTREAM_RTT_UNKNOWN_MS);
}

static void test_tcp_hangup(void **state)
{
	struct env *e = *state;
	patient(e);
	fake_start(&e->fake, &e->loop, FAKE_HANGUP);

	start(e, &e->fake.tcp_addr, 1, true);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_NETERR);
	assert_true(e->results[0].tcp);
	assert_int_equal(e->fake.queries, 1);
}

static void test_tcp_refused(void **state)
{
	struct env *e = *state;
	patient(e);
	struct sockaddr_storage dead = closed_port(&e->loop, true);

	start(e, &dead, 1, true);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_NETERR);
}

static void test_tcp_timeout(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SILENT);

	start(e, &e->fake.tcp_addr, 1, true);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_TIMEOUT);
	assert_true(e->results[0].rtt_ms >= 295); /* tcp_timeout_ms, never early */
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_udp_answer),  T(test_udp_spoofs_ignored),   T(test_udp_truncated_is_ok),
		T(test_udp_timeout), T(test_udp_port_unreachable), T(test_tcp_answer_in_pieces),
		T(test_tcp_hangup),  T(test_tcp_refused),	   T(test_tcp_timeout),
	};
#undef T
	/* As in the daemon: a peer that went away is an error code, not a
	 * signal (libuv writes to streams without MSG_NOSIGNAL). */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return 1;
	/* HOLDFAST_TEST_DEBUG=1 shows what upstream logs (ignored messages...). */
	if (getenv("HOLDFAST_TEST_DEBUG") != NULL)
		log_set_verbosity(LOG_LEVEL_DEBUG);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
