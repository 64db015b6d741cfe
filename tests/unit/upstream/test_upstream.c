/*
 * Tests of upstream/upstream.c, the attempt's lifecycle, on a real libuv
 * loop against the fake authorities of harness.c: deferred outcomes
 * (REFUSED, UNREACHABLE, LIMITED) never from inside the call, cancel and
 * destroy silencing the callback (and, with uv_loop_close, every handle
 * closed), re-entrant callbacks, hedges and lingering legs, breakers and
 * their probe, the budget, the in-flight caps and outgoing-range end to
 * end, socket() out of descriptors. The choice
 * itself is tested without a loop in test_select.c. Run under ASan for
 * the leak side.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "harness.h"
#include "util/log.h"

static void test_refused(void **state)
{
	struct env *e = *state;
	e->opts.do_not_query_localhost = true;
	struct sockaddr_storage c[] = {ip4("127.0.0.1", 53), ip4("0.0.0.0", 53),
				       ip4("224.0.0.1", 53)};

	start(e, c, 3, false);
	start(e, NULL, 0, false); /* none given */
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(e->results[i].status, UPSTREAM_REFUSED);
		assert_int_equal(e->results[i].server.ss_family, AF_UNSPEC);
		assert_false(e->results[i].has_wire);
	}
}

static void test_policy_filters_candidates(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_ANSWER);
	struct sockaddr_storage c[4] = {ip4("0.0.0.0", 53), ip4("255.255.255.255", 53),
					ip4("127.0.0.1", 0)};
	c[3] = e->fake.udp_addr;
	/* An IPv6 candidate while do_ip6 is off. */
	struct sockaddr_in6 *six = (struct sockaddr_in6 *)&c[0];
	memset(&c[0], 0, sizeof(c[0]));
	uv_ip6_addr("::1", port_of(&e->fake.udp_addr), six);

	for (int i = 0; i < 5; i++)
		start(e, c, 4, false);
	e->stop_after = 5;
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(e->results[i].status, UPSTREAM_OK);
		assert_true(same(&e->results[i].server, &e->fake.udp_addr));
	}
}

static void test_selection_prefers_the_fast_server(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_ANSWER);
	/* A second candidate known to be slow (measured 900 ms earlier). */
	struct sockaddr_storage slow = ip4("127.0.0.2", port_of(&e->fake.udp_addr));
	for (int i = 0; i < 5; i++)
		upstream_servers_sample(e->servers, (struct sockaddr *)&slow, 900,
					uv_now(&e->loop));
	upstream_servers_sample(e->servers, (struct sockaddr *)&e->fake.udp_addr, 1,
				uv_now(&e->loop));
	struct sockaddr_storage c[2] = {slow, e->fake.udp_addr};

	/* Exploration (5 %) stays within the RTT band: the slow one is
	 * outside it, so every attempt goes to the fast one. */
	for (int i = 0; i < 8; i++)
		start(e, c, 2, false);
	e->stop_after = 8;
	uv_run(&e->loop, UV_RUN_DEFAULT);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(e->results[i].status, UPSTREAM_OK);
		assert_true(same(&e->results[i].server, &e->fake.udp_addr));
	}
}

static void test_cancel_before_answer(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SPOOF); /* answers after 30 ms */

	/* Cancelled at once, and cancelled while waiting (from a timer). */
	struct upstream_query *q1 = start(e, &e->fake.udp_addr, 1, false);
	upstream_query_cancel(q1);
	struct upstream_query *q2 = start(e, &e->fake.tcp_addr, 1, true);
	struct sockaddr_storage refused = ip4("0.0.0.0", 53);
	struct upstream_query *q3 = start(e, &refused, 1, false);
	upstream_query_cancel(q3); /* the deferred REFUSED must not come either */
	upstream_query_cancel(NULL);

	uv_run(&e->loop, UV_RUN_NOWAIT);
	upstream_query_cancel(q2);
	uv_timer_start(&e->stopper, stop_fake, 100, 0);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 0);
}

static void test_destroy_in_flight(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SILENT);
	struct sockaddr_storage refused = ip4("0.0.0.0", 53);

	start(e, &e->fake.udp_addr, 1, false);
	start(e, &e->fake.udp_addr, 1, false);
	start(e, &e->fake.tcp_addr, 1, true);
	uv_run(&e->loop, UV_RUN_NOWAIT); /* the TCP connection gets going */
	start(e, &refused, 1, false);
	upstream_destroy(e->up);
	e->up = NULL;
	uv_timer_start(&e->stopper, stop_fake, 200, 0);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 0);
}

static void test_reentrant_callback(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_ANSWER);
	struct sockaddr_storage refused = ip4("0.0.0.0", 53);

	/* The REFUSED callback cancels itself and a pending attempt (to a port
	 * that never answers), and starts a new attempt whose answer ends the
	 * test. */
	struct upstream_query *pending = start(e, &e->fake.other_addr, 1, false);
	struct upstream_query *q = start(e, &refused, 1, false);
	e->self = q;
	e->to_cancel = pending;
	e->start_in_cb = true;
	e->stop_after = 2;
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 2);
	assert_int_equal(e->results[0].status, UPSTREAM_REFUSED);
	assert_int_equal(e->results[1].status, UPSTREAM_OK);
}

static void test_destroy_from_callback(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SILENT);
	struct sockaddr_storage refused = ip4("0.0.0.0", 53);

	start(e, &e->fake.udp_addr, 1, false);
	start(e, &e->fake.tcp_addr, 1, true);
	start(e, &refused, 1, false);
	e->destroy_in_cb = true;
	uv_run(&e->loop, UV_RUN_DEFAULT);

	/* Only the REFUSED one reported; the others died with the upstream. */
	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_REFUSED);
	assert_null(e->up);
}

static void test_bad_arguments(void **state)
{
	struct env *e = *state;
	struct upstream_request req = request(e, NULL, 0, false);
	struct upstream_query *q = NULL;

	assert_int_equal(upstream_query_start(NULL, &req, on_result, e, &q), -EINVAL);
	assert_int_equal(upstream_query_start(e->up, NULL, on_result, e, &q), -EINVAL);
	assert_int_equal(upstream_query_start(e->up, &req, NULL, e, &q), -EINVAL);
	req.ncandidates = 2; /* but no array */
	assert_int_equal(upstream_query_start(e->up, &req, on_result, e, &q), -EINVAL);
	req = request(e, NULL, 0, false);
	req.qname = NULL;
	assert_int_equal(upstream_query_start(e->up, &req, on_result, e, &q), -EINVAL);
	assert_null(q);
	assert_null(upstream_create(NULL, &e->opts, e->servers));
	upstream_destroy(NULL);
	uv_run(&e->loop, UV_RUN_NOWAIT);
	assert_int_equal(e->nresults, 0);
}

static void test_hedge_to_other_provider(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_ANSWER);
	/* The dead server's own timeout would be a second or more. */
	e->opts.timeout_min_ms = 1000;
	e->opts.timeout_max_ms = 3000;
	struct sockaddr_storage c[2] = {e->fake.other_addr, e->fake.udp_addr}; /* dead, live */
	/* The dead one looks fastest (it answered in 5 ms before it died);
	 * the live one is slow enough to be outside the exploration band. */
	sample_n(e, &c[0], 5);
	sample_n(e, &c[1], 900);
	ldns_rdf *zone = ldns_dname_new_frm_str("example.com.");
	ldns_rdf *ns[2] = {ldns_dname_new_frm_str("ns1.dead-dns.test."),
			   ldns_dname_new_frm_str("ns1.live-dns.test.")};
	struct upstream_request req = zone_request(e, c, 2, zone, (const ldns_rdf *const *)ns);

	uv_update_time(&e->loop);
	uint64_t t0 = uv_now(&e->loop);
	start_req(e, &req);
	run_until(e, 1);

	struct recorded *r = &e->results[0];
	assert_int_equal(r->status, UPSTREAM_OK);
	assert_true(same(&r->server, &c[1]));
	assert_true(same(&r->hedged, &c[0]));
	assert_string_equal(r->rdata, "192.0.2.1");
	assert_false(r->recovered);
	/* The hedge left after max(hedge_min 50 ms, srtt 5 ms), long before
	 * the dead server's timeout. */
	assert_in_range(r->at_ms - t0, 45, 500);
	assert_int_equal(e->fake.queries, 1);

	struct upstream_counters cnt;
	upstream_servers_counters(e->servers, &cnt);
	assert_int_equal(cnt.queries, 2);
	assert_int_equal(cnt.hedges, 1);
	assert_int_equal(cnt.retries, 0);
	/* The hedge was paid from the retry budget. */
	uint64_t firsts, retries;
	upstream_budget_counts(&e->servers->budget, uv_now(&e->loop),
			       e->opts.retry_budget_window_ms, &firsts, &retries);
	assert_int_equal(firsts, 1);
	assert_int_equal(retries, 1);

	/* The losing query to the dead server lingers until its own end and
	 * counts as a failure for (dead, zone): the breaker learns even while
	 * hedges hide the outage. */
	uv_run(&e->loop, UV_RUN_DEFAULT);
	struct health_find h = health_of(e, &c[0], "example.com.");
	assert_true(h.found);
	assert_int_equal(h.info.failures, 1);
	assert_int_equal(h.info.inflight, 0);
	assert_string_equal(h.info.provider, "dead-dns.test");
	h = health_of(e, &c[1], "example.com.");
	assert_true(h.found);
	assert_int_equal(h.info.failures, 0);
	assert_string_equal(h.info.provider, "live-dns.test");
	assert_int_equal(upstream_servers_inflight_count(e->servers, (struct sockaddr *)&c[0]), 0);
	assert_int_equal(upstream_servers_inflight_count(e->servers, (struct sockaddr *)&c[1]), 0);
	ldns_rdf_deep_free(zone);
	ldns_rdf_deep_free(ns[0]);
	ldns_rdf_deep_free(ns[1]);
}

static void test_no_hedge_within_one_provider(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_ANSWER);
	e->opts.timeout_min_ms = 300;
	e->opts.timeout_max_ms = 300;
	struct sockaddr_storage c[2] = {e->fake.other_addr, e->fake.udp_addr};
	sample_n(e, &c[0], 5);
	sample_n(e, &c[1], 900);
	ldns_rdf *ns[2] = {ldns_dname_new_frm_str("ns1.example.com."),
			   ldns_dname_new_frm_str("ns2.example.com.")};
	struct upstream_request req = zone_request(e, c, 2, NULL, (const ldns_rdf *const *)ns);

	start_req(e, &req);
	run_until(e, 1);
	/* One provider: no hedge, the dead server times out. */
	assert_int_equal(e->results[0].status, UPSTREAM_TIMEOUT);
	assert_true(same(&e->results[0].server, &c[0]));
	assert_int_equal(e->results[0].hedged.ss_family, AF_UNSPEC);
	assert_int_equal(e->fake.queries, 0);
	ldns_rdf_deep_free(ns[0]);
	ldns_rdf_deep_free(ns[1]);
}

static void test_breaker_unreachable(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SILENT);
	e->opts.breaker_cooldown_ms = 5000; /* stays open for the test */
	e->opts.breaker_cooldown_max_ms = 5000;
	e->stop_after = 100;
	ldns_rdf *zone = ldns_dname_new_frm_str("example.com.");
	ldns_rdf *other = ldns_dname_new_frm_str("example.org.");
	struct upstream_request req = zone_request(e, &e->fake.udp_addr, 1, zone, NULL);

	for (int i = 0; i < 3; i++)
		start_req(e, &req);
	run_until(e, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(e->results[i].status, UPSTREAM_TIMEOUT);
	assert_int_equal(e->fake.queries, 3);

	/* Open for the zone: refused at once, nothing sent. */
	uv_update_time(&e->loop);
	uint64_t t0 = uv_now(&e->loop);
	start_req(e, &req);
	run_until(e, 4);
	assert_int_equal(e->results[3].status, UPSTREAM_UNREACHABLE);
	assert_int_equal(e->results[3].server.ss_family, AF_UNSPEC);
	assert_true(e->results[3].at_ms - t0 < 20);
	assert_int_equal(e->fake.queries, 3);
	struct health_find h = health_of(e, &e->fake.udp_addr, "example.com.");
	assert_true(h.found);
	assert_int_equal(h.info.breaker, UPSTREAM_BREAKER_OPEN);
	assert_int_equal(h.info.failures, 3);
	assert_in_range(h.info.cooldown_left_ms, 1, 5000);

	/* The same server for another zone is still asked. */
	struct upstream_request req2 = zone_request(e, &e->fake.udp_addr, 1, other, NULL);
	start_req(e, &req2);
	run_until(e, 5);
	assert_int_equal(e->results[4].status, UPSTREAM_TIMEOUT);
	assert_int_equal(e->fake.queries, 4);

	struct upstream_counters cnt;
	upstream_servers_counters(e->servers, &cnt);
	assert_int_equal(cnt.breaker_opens, 1);
	assert_int_equal(cnt.refused_breaker, 1);
	assert_int_equal(cnt.timeouts, 4);
	assert_int_equal(cnt.queries, 4);
	fake_stop(&e->fake);
	ldns_rdf_deep_free(zone);
	ldns_rdf_deep_free(other);
}

static void test_probe_recovers(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SILENT);
	e->opts.breaker_cooldown_ms = 100;
	e->opts.breaker_cooldown_max_ms = 200;
	e->stop_after = 100;
	ldns_rdf *zone = ldns_dname_new_frm_str("example.com.");
	struct upstream_request req = zone_request(e, &e->fake.udp_addr, 1, zone, NULL);

	for (int i = 0; i < 3; i++)
		start_req(e, &req);
	run_until(e, 3);
	/* The authority comes back; the cool-down (<= 100 ms) passes. */
	e->fake.mode = FAKE_ANSWER;
	run_for(e, 150);
	struct health_find h = health_of(e, &e->fake.udp_addr, "example.com.");
	assert_int_equal(h.info.breaker, UPSTREAM_BREAKER_HALF_OPEN);

	/* One probe; a concurrent query keeps skipping the server. */
	start_req(e, &req);
	start_req(e, &req);
	run_until(e, 5);
	int ok = -1, unreachable = -1;
	for (int i = 3; i < 5; i++) {
		if (e->results[i].status == UPSTREAM_OK)
			ok = i;
		if (e->results[i].status == UPSTREAM_UNREACHABLE)
			unreachable = i;
	}
	assert_true(ok >= 0 && unreachable >= 0);
	assert_true(e->results[ok].recovered);
	assert_int_equal(e->fake.queries, 4);

	/* Closed: the next query is an ordinary one. */
	start_req(e, &req);
	run_until(e, 6);
	assert_int_equal(e->results[5].status, UPSTREAM_OK);
	assert_false(e->results[5].recovered);
	h = health_of(e, &e->fake.udp_addr, "example.com.");
	assert_int_equal(h.info.breaker, UPSTREAM_BREAKER_CLOSED);
	assert_int_equal(h.info.failures, 0);

	struct upstream_counters cnt;
	upstream_servers_counters(e->servers, &cnt);
	assert_int_equal(cnt.breaker_opens, 1);
	assert_int_equal(cnt.breaker_closes, 1);
	fake_stop(&e->fake);
	ldns_rdf_deep_free(zone);
}

static void test_budget_limited(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_ANSWER);
	e->opts.retry_budget_percent = 0;
	e->opts.retry_budget_floor = 2;
	e->stop_after = 4;
	struct upstream_request req = request(e, &e->fake.udp_addr, 1, false);

	start_req(e, &req);
	req.retry = true;
	for (int i = 0; i < 3; i++)
		start_req(e, &req);
	run_until(e, 4);

	int ok = 0, limited = 0;
	for (int i = 0; i < 4; i++) {
		ok += e->results[i].status == UPSTREAM_OK;
		limited += e->results[i].status == UPSTREAM_LIMITED;
	}
	assert_int_equal(ok, 3);
	assert_int_equal(limited, 1);
	assert_int_equal(e->fake.queries, 3);
	struct upstream_counters cnt;
	upstream_servers_counters(e->servers, &cnt);
	assert_int_equal(cnt.retries, 2);
	assert_int_equal(cnt.refused_budget, 1);
	assert_int_equal(cnt.queries, 3);
}

static void test_inflight_caps(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SILENT);
	e->opts.max_inflight_zone = 2;
	e->opts.max_inflight_server = 3;
	e->stop_after = 100;
	ldns_rdf *za = ldns_dname_new_frm_str("a.example.");
	ldns_rdf *zb = ldns_dname_new_frm_str("b.example.");
	ldns_rdf *zc = ldns_dname_new_frm_str("c.example.");
	struct upstream_request ra = zone_request(e, &e->fake.udp_addr, 1, za, NULL);
	struct upstream_request rb = zone_request(e, &e->fake.udp_addr, 1, zb, NULL);
	struct upstream_request rc = zone_request(e, &e->fake.udp_addr, 1, zc, NULL);

	start_req(e, &ra);
	start_req(e, &ra);
	start_req(e, &ra); /* zone at its cap */
	start_req(e, &rb);
	start_req(e, &rc); /* server at its cap */
	assert_int_equal(
		upstream_servers_inflight_count(e->servers, (struct sockaddr *)&e->fake.udp_addr),
		3);
	run_until(e, 5);
	int limited = 0, timeout = 0;
	for (int i = 0; i < 5; i++) {
		limited += e->results[i].status == UPSTREAM_LIMITED;
		timeout += e->results[i].status == UPSTREAM_TIMEOUT;
	}
	assert_int_equal(limited, 2);
	assert_int_equal(timeout, 3);
	assert_int_equal(e->fake.queries, 3);
	struct upstream_counters cnt;
	upstream_servers_counters(e->servers, &cnt);
	assert_int_equal(cnt.refused_inflight, 2);

	/* Every unit came back: the same burst goes out again. */
	assert_int_equal(
		upstream_servers_inflight_count(e->servers, (struct sockaddr *)&e->fake.udp_addr),
		0);
	start_req(e, &ra);
	start_req(e, &ra);
	start_req(e, &rb);
	run_until(e, 8);
	for (int i = 5; i < 8; i++)
		assert_int_equal(e->results[i].status, UPSTREAM_TIMEOUT);
	assert_int_equal(e->fake.queries, 6);
	fake_stop(&e->fake);
	ldns_rdf_deep_free(za);
	ldns_rdf_deep_free(zb);
	ldns_rdf_deep_free(zc);
}

static void test_cancel_gives_back(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SILENT);
	e->opts.max_inflight_zone = 1;
	ldns_rdf *zone = ldns_dname_new_frm_str("example.com.");
	struct upstream_request req = zone_request(e, &e->fake.udp_addr, 1, zone, NULL);
	struct upstream_query *q = NULL;

	assert_int_equal(upstream_query_start(e->up, &req, on_result, e, &q), 0);
	upstream_query_cancel(q);
	assert_int_equal(
		upstream_servers_inflight_count(e->servers, (struct sockaddr *)&e->fake.udp_addr),
		0);
	/* The zone's single unit is free again. */
	start_req(e, &req);
	run_until(e, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_TIMEOUT);
	ldns_rdf_deep_free(zone);
}

/* outgoing-range: at most that many leg sockets open in one worker; the
 * attempt beyond reports LIMITED at once, counted, with nothing sent, and
 * the sockets come back when the legs end. Before: no cap (a socket per
 * attempt, as many as the descriptors allowed). */
static void test_outgoing_range_caps_sockets(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SILENT);
	e->opts.outgoing_range = 2;
	e->stop_after = 100;
	ldns_rdf *zone = ldns_dname_new_frm_str("example.com.");
	struct upstream_request req = zone_request(e, &e->fake.udp_addr, 1, zone, NULL);

	start_req(e, &req);
	start_req(e, &req);
	start_req(e, &req); /* no socket left */
	run_until(e, 3);
	int limited = 0, timeout = 0;
	for (int i = 0; i < 3; i++) {
		limited += e->results[i].status == UPSTREAM_LIMITED;
		timeout += e->results[i].status == UPSTREAM_TIMEOUT;
	}
	assert_int_equal(limited, 1);
	assert_int_equal(timeout, 2);
	assert_int_equal(e->results[0].status, UPSTREAM_LIMITED); /* reported first, at once */
	assert_int_equal(e->fake.queries, 2);
	struct upstream_counters cnt;
	upstream_servers_counters(e->servers, &cnt);
	assert_int_equal(cnt.outgoing_range_full, 1);
	/* Both sockets were given back: two go out again. */
	start_req(e, &req);
	start_req(e, &req);
	run_until(e, 5);
	assert_int_equal(e->results[3].status, UPSTREAM_TIMEOUT);
	assert_int_equal(e->results[4].status, UPSTREAM_TIMEOUT);
	assert_int_equal(e->fake.queries, 4);
	ldns_rdf_deep_free(zone);
}

/* socket() out of descriptors (the soft RLIMIT_NOFILE lowered to 3: no new
 * descriptor at all): the attempt is a NETERR, counted as fd_exhausted,
 * nothing sent, no crash; with the limit back the next one goes out. */
static void test_out_of_descriptors_is_a_neterr(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SILENT);
	e->stop_after = 100;
	ldns_rdf *zone = ldns_dname_new_frm_str("example.com.");
	struct upstream_request req = zone_request(e, &e->fake.udp_addr, 1, zone, NULL);
	struct rlimit rl, none;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	none = (struct rlimit){.rlim_cur = 3, .rlim_max = rl.rlim_max};
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &none), 0);
	start_req(e, &req);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	run_until(e, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_NETERR);
	assert_int_equal(e->fake.queries, 0);
	struct upstream_counters cnt;
	upstream_servers_counters(e->servers, &cnt);
	assert_int_equal(cnt.fd_exhausted, 1);
	start_req(e, &req);
	run_until(e, 2);
	assert_int_equal(e->results[1].status, UPSTREAM_TIMEOUT);
	assert_int_equal(e->fake.queries, 1);
	ldns_rdf_deep_free(zone);
}

static void test_selection_breakers_and_avoid(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_ANSWER);
	fake_start(&e->fake2, &e->loop, FAKE_ANSWER);
	struct sockaddr_storage a1 = e->fake.udp_addr, a2 = e->fake.other_addr;
	struct sockaddr_storage b = e->fake2.udp_addr;
	sample_n(e, &a1, 1);   /* the fastest */
	sample_n(e, &a2, 900); /* same provider as a1; silent */
	sample_n(e, &b, 900);  /* another provider, slow */
	ldns_rdf *zone = ldns_dname_new_frm_str("example.com.");
	ldns_rdf *other = ldns_dname_new_frm_str("example.org.");
	ldns_rdf *ns3[3] = {ldns_dname_new_frm_str("ns1.alpha.test."),
			    ldns_dname_new_frm_str("ns2.alpha.test."),
			    ldns_dname_new_frm_str("ns.beta.test.")};
	struct sockaddr_storage c3[3] = {a1, a2, b};
	e->stop_after = 18;

	/* a2 just failed: its provider (alpha, a1 included) is avoided. */
	struct upstream_request req = zone_request(e, c3, 3, zone, (const ldns_rdf *const *)ns3);
	req.avoid = &a2;
	req.retry = true;
	for (int i = 0; i < 6; i++)
		start_req(e, &req);
	run_until(e, 6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(e->results[i].status, UPSTREAM_OK);
		assert_true(same(&e->results[i].server, &b));
	}

	/* a1's breaker is open for example.com: skipped there... */
	uint64_t zk = upstream_zone_key(e->servers, ldns_rdf_data(zone), ldns_rdf_size(zone));
	uint64_t hk = upstream_health_key(e->servers, (struct sockaddr *)&a1, zk);
	struct upstream_breaker_params p = {
		.threshold = 3, .cooldown_ms = 5000, .cooldown_max_ms = 5000};
	for (int i = 0; i < 3; i++) {
		struct upstream_claim cl = {0};
		struct upstream_health_event ev;
		assert_true(upstream_health_take(e->servers, hk, (struct sockaddr *)&a1,
						 ldns_rdf_data(zone), ldns_rdf_size(zone), NULL,
						 uv_now(&e->loop), false, 0, &cl));
		upstream_health_record(e->servers, &cl, false, uv_now(&e->loop), &p, 0, &ev);
		upstream_health_release(e->servers, &cl);
	}
	struct sockaddr_storage c2[2] = {a1, b};
	ldns_rdf *ns2[2] = {ns3[0], ns3[2]};
	req = zone_request(e, c2, 2, zone, (const ldns_rdf *const *)ns2);
	for (int i = 0; i < 6; i++)
		start_req(e, &req);
	run_until(e, 12);
	for (int i = 6; i < 12; i++) {
		assert_int_equal(e->results[i].status, UPSTREAM_OK);
		assert_true(same(&e->results[i].server, &b));
	}
	/* ...but not for example.org. */
	req = zone_request(e, c2, 2, other, (const ldns_rdf *const *)ns2);
	for (int i = 0; i < 6; i++)
		start_req(e, &req);
	run_until(e, 18);
	for (int i = 12; i < 18; i++) {
		assert_int_equal(e->results[i].status, UPSTREAM_OK);
		assert_true(same(&e->results[i].server, &a1));
	}
	ldns_rdf_deep_free(zone);
	ldns_rdf_deep_free(other);
	for (int i = 0; i < 3; i++)
		ldns_rdf_deep_free(ns3[i]);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_refused),
		T(test_policy_filters_candidates),
		T(test_selection_prefers_the_fast_server),
		T(test_cancel_before_answer),
		T(test_destroy_in_flight),
		T(test_reentrant_callback),
		T(test_destroy_from_callback),
		T(test_bad_arguments),
		T(test_hedge_to_other_provider),
		T(test_no_hedge_within_one_provider),
		T(test_breaker_unreachable),
		T(test_probe_recovers),
		T(test_budget_limited),
		T(test_inflight_caps),
		T(test_cancel_gives_back),
		T(test_selection_breakers_and_avoid),
		T(test_outgoing_range_caps_sockets),
		T(test_out_of_descriptors_is_a_neterr),
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
