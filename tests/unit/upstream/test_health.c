/*
 * Tests of upstream/health.c: the circuit breaker of one (server, zone) as
 * a state machine on a fake clock, and the shared table (per-zone
 * independence, exactly one probe, in-flight counts and caps, the dump).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "upstream/upstream.h"
#include "upstream/impl.h"

static const struct upstream_breaker_params P = {
	.threshold = 3,
	.cooldown_ms = 500,
	.cooldown_max_ms = 1500,
	.probe_lease_ms = 4000,
};

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

/* Drives `s` to OPEN at `now` with threshold failures. */
static void open_breaker(struct upstream_breaker_state *s, uint64_t now)
{
	for (unsigned i = 1; i < P.threshold; i++)
		assert_false(upstream_breaker_failure(s, now, &P, false, 0));
	assert_true(upstream_breaker_failure(s, now, &P, false, 0));
	assert_int_equal(s->state, UPSTREAM_BREAKER_OPEN);
}

/* ---- the state machine ------------------------------------------------------ */

static void test_threshold(void **state)
{
	struct upstream_breaker_state s = {0};
	uint64_t now = 10000;

	assert_int_equal(upstream_breaker_check(&s, now), UPSTREAM_HEALTH_ALLOW);
	assert_false(upstream_breaker_failure(&s, now, &P, false, 0));
	assert_false(upstream_breaker_failure(&s, now, &P, false, 0));
	/* A response of any kind resets the count. */
	assert_false(upstream_breaker_success(&s));
	assert_int_equal(s.failures, 0);
	assert_false(upstream_breaker_failure(&s, now, &P, false, 0));
	assert_false(upstream_breaker_failure(&s, now, &P, false, 0));
	assert_int_equal(upstream_breaker_check(&s, now), UPSTREAM_HEALTH_ALLOW);
	assert_true(upstream_breaker_failure(&s, now, &P, false, 0));
	assert_int_equal(s.state, UPSTREAM_BREAKER_OPEN);
	assert_int_equal(s.opens, 1);
	assert_int_equal(upstream_breaker_check(&s, now), UPSTREAM_HEALTH_SKIP);
	/* rnd 0: the lowest jitter, half the first cool-down. */
	assert_int_equal(s.until_ms, now + 250);
	/* Late failures of queries sent before it opened change nothing. */
	assert_false(upstream_breaker_failure(&s, now + 10, &P, false, 0));
	assert_int_equal(s.until_ms, now + 250);

	/* Threshold 0: never opens. */
	struct upstream_breaker_params never = P;
	never.threshold = 0;
	struct upstream_breaker_state t = {0};
	for (int i = 0; i < 300; i++)
		assert_false(upstream_breaker_failure(&t, now, &never, false, 0));
	assert_int_equal(t.failures, 255); /* saturates */
	assert_int_equal(t.state, UPSTREAM_BREAKER_CLOSED);
}

static void test_cooldown_doubles_capped_jittered(void **state)
{
	/* The cool-down before jitter: 500, 1000, then the 1500 cap. */
	static const unsigned cool[] = {0, 500, 1000, 1500, 1500, 1500};
	for (unsigned opens = 1; opens <= 5; opens++) {
		unsigned c = cool[opens];
		assert_int_equal(upstream_breaker_cooldown(&P, opens, 0), c / 2);
		assert_int_equal(upstream_breaker_cooldown(&P, opens, c - c / 2), c);
		for (uint32_t r = 1; r < 100000; r = r * 7 + 13) {
			unsigned v = upstream_breaker_cooldown(&P, opens, r);
			assert_in_range(v, c / 2, c);
		}
	}
	/* Huge counts do not overflow. */
	assert_in_range(upstream_breaker_cooldown(&P, 63, UINT32_MAX), 750, 1500);
	/* A cap below the base is the base. */
	struct upstream_breaker_params low = P;
	low.cooldown_max_ms = 100;
	assert_in_range(upstream_breaker_cooldown(&low, 3, 12345), 250, 500);
}

static void test_half_open_one_probe(void **state)
{
	struct upstream_breaker_state s = {0};
	uint64_t now = 10000;

	open_breaker(&s, now);
	uint64_t until = s.until_ms;
	assert_int_equal(upstream_breaker_check(&s, until - 1), UPSTREAM_HEALTH_SKIP);
	assert_false(upstream_breaker_claim(&s, until - 1, P.probe_lease_ms));
	assert_int_equal(upstream_breaker_seen(&s, until - 1), UPSTREAM_BREAKER_OPEN);
	assert_int_equal(upstream_breaker_seen(&s, until), UPSTREAM_BREAKER_HALF_OPEN);
	assert_int_equal(upstream_breaker_check(&s, until), UPSTREAM_HEALTH_PROBE);

	/* Exactly one probe: the first claim wins, the others skip. */
	assert_true(upstream_breaker_claim(&s, until, P.probe_lease_ms));
	assert_int_equal(s.state, UPSTREAM_BREAKER_HALF_OPEN);
	assert_true(s.probing);
	assert_int_equal(upstream_breaker_check(&s, until + 1), UPSTREAM_HEALTH_SKIP);
	assert_false(upstream_breaker_claim(&s, until + 1, P.probe_lease_ms));
	/* A non-probe failing late does not re-open it. */
	assert_false(upstream_breaker_failure(&s, until + 2, &P, false, 0));
	assert_int_equal(s.state, UPSTREAM_BREAKER_HALF_OPEN);

	/* A cancelled probe frees the slot for the next query. */
	upstream_breaker_release(&s, true);
	assert_false(s.probing);
	assert_int_equal(upstream_breaker_check(&s, until + 3), UPSTREAM_HEALTH_PROBE);
	assert_true(upstream_breaker_claim(&s, until + 3, P.probe_lease_ms));
	/* A probe lost without a word (its worker died) expires with its lease. */
	assert_int_equal(upstream_breaker_check(&s, until + 3 + P.probe_lease_ms - 1),
			 UPSTREAM_HEALTH_SKIP);
	assert_int_equal(upstream_breaker_check(&s, until + 3 + P.probe_lease_ms),
			 UPSTREAM_HEALTH_PROBE);
}

static void test_probe_success_closes(void **state)
{
	struct upstream_breaker_state s = {0};

	open_breaker(&s, 1000);
	assert_true(upstream_breaker_claim(&s, s.until_ms, P.probe_lease_ms));
	assert_true(upstream_breaker_success(&s)); /* closed: recovered */
	assert_int_equal(s.state, UPSTREAM_BREAKER_CLOSED);
	assert_int_equal(s.failures, 0);
	assert_int_equal(s.opens, 0);
	assert_false(s.probing);
	assert_int_equal(upstream_breaker_check(&s, 1001), UPSTREAM_HEALTH_ALLOW);
	assert_false(upstream_breaker_success(&s)); /* nothing to close */
	/* The next outage starts from the first cool-down again. */
	open_breaker(&s, 5000);
	assert_int_equal(s.opens, 1);
	/* A late response while OPEN closes it too: the server answers. */
	assert_true(upstream_breaker_success(&s));
}

static void test_probe_failure_reopens_doubled(void **state)
{
	struct upstream_breaker_state s = {0};
	uint64_t now = 1000;

	open_breaker(&s, now);
	unsigned expect_max[] = {500, 1000, 1500, 1500, 1500};
	for (unsigned round = 1; round < 5; round++) {
		now = s.until_ms;
		assert_true(upstream_breaker_claim(&s, now, P.probe_lease_ms));
		now += 40; /* the probe times out */
		assert_true(upstream_breaker_failure(&s, now, &P, true, UINT32_MAX));
		assert_int_equal(s.state, UPSTREAM_BREAKER_OPEN);
		assert_false(s.probing);
		assert_int_equal(s.opens, round + 1);
		unsigned c = expect_max[round];
		assert_in_range(s.until_ms - now, c / 2, c);
		assert_int_equal(upstream_breaker_check(&s, now + 1), UPSTREAM_HEALTH_SKIP);
	}
}

static void test_pack_roundtrip(void **state)
{
	struct upstream_breaker_state s = {
		.failures = 200,
		.state = UPSTREAM_BREAKER_HALF_OPEN,
		.opens = 63,
		.probing = true,
		.until_ms = (UINT64_C(1) << 46) + 12345,
	};
	struct upstream_breaker_state t;
	upstream_breaker_unpack(upstream_breaker_pack(&s), &t);
	assert_int_equal(t.failures, s.failures);
	assert_int_equal(t.state, s.state);
	assert_int_equal(t.opens, s.opens);
	assert_true(t.probing);
	assert_int_equal(t.until_ms, s.until_ms);
	struct upstream_breaker_state zero = {0};
	assert_int_equal(upstream_breaker_pack(&zero), 0);
}

/* ---- the shared table ---------------------------------------------------------- */

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

struct zone {
	ldns_rdf *name;
	uint64_t key;
};

static struct zone zone(struct upstream_servers *s, const char *text)
{
	struct zone z = {.name = ldns_dname_new_frm_str(text)};
	assert_non_null(z.name);
	z.key = upstream_zone_key(s, ldns_rdf_data(z.name), ldns_rdf_size(z.name));
	return z;
}

/* One zone unit for `client_key` under `cap` with the default 25 % share. */
static enum upstream_zone_verdict zone_take(struct upstream_servers *s, uint64_t zone_key,
					    uint64_t client_key, unsigned cap,
					    struct upstream_claim *c)
{
	return upstream_health_zone_take(s, zone_key, client_key, cap, 25, c);
}

/* One query's outcome for (addr, zone) at `now`, through the table. */
static struct upstream_health_event outcome(struct upstream_servers *s,
					    const struct sockaddr_storage *a, const struct zone *z,
					    uint64_t now, bool ok, bool probe)
{
	struct upstream_claim c = {0};
	struct upstream_health_event ev;
	uint64_t hk = upstream_health_key(s, (const struct sockaddr *)a, z->key);
	assert_true(upstream_health_take(s, hk, (const struct sockaddr *)a, ldns_rdf_data(z->name),
					 ldns_rdf_size(z->name), "example.net", now, probe,
					 P.probe_lease_ms, &c));
	upstream_health_record(s, &c, ok, now, &P, 0, &ev);
	upstream_health_release(s, &c);
	return ev;
}

static void test_zones_independent(void **state)
{
	struct upstream_servers *s = *state;
	struct sockaddr_storage a = v4(0xc0000201, 53), b = v4(0xc0000202, 53);
	struct zone z1 = zone(s, "example.com."), z2 = zone(s, "example.org.");
	struct zone z1upper = zone(s, "EXAMPLE.Com.");
	uint64_t now = 10000;

	assert_int_equal(z1.key, z1upper.key); /* case-insensitive */
	assert_int_not_equal(z1.key, z2.key);
	assert_false(outcome(s, &a, &z1, now, false, false).opened);
	assert_false(outcome(s, &a, &z1, now, false, false).opened);
	struct upstream_health_event ev = outcome(s, &a, &z1, now, false, false);
	assert_true(ev.opened);
	assert_int_equal(ev.failures, 3);
	assert_in_range(ev.cooldown_ms, 250, 500);

	uint64_t hk = upstream_health_key(s, SA(a), z1.key);
	assert_int_equal(upstream_health_check(s, hk, now), UPSTREAM_HEALTH_SKIP);
	assert_int_equal(upstream_health_check(s, upstream_health_key(s, SA(a), z1upper.key), now),
			 UPSTREAM_HEALTH_SKIP);
	/* The same server for another zone, another server for this zone. */
	assert_int_equal(upstream_health_check(s, upstream_health_key(s, SA(a), z2.key), now),
			 UPSTREAM_HEALTH_ALLOW);
	assert_int_equal(upstream_health_check(s, upstream_health_key(s, SA(b), z1.key), now),
			 UPSTREAM_HEALTH_ALLOW);
	/* Answers for another zone do not close this one. */
	assert_false(outcome(s, &a, &z2, now, true, false).closed);
	assert_int_equal(upstream_health_check(s, hk, now), UPSTREAM_HEALTH_SKIP);

	struct upstream_counters cnt;
	upstream_servers_counters(s, &cnt);
	assert_int_equal(cnt.breaker_opens, 1);
	ldns_rdf_deep_free(z1.name);
	ldns_rdf_deep_free(z2.name);
	ldns_rdf_deep_free(z1upper.name);
}

static void test_table_one_probe(void **state)
{
	struct upstream_servers *s = *state;
	struct sockaddr_storage a = v4(0xc0000201, 53);
	struct zone z = zone(s, "example.com.");
	uint64_t now = 10000;
	uint64_t hk = upstream_health_key(s, SA(a), z.key);

	for (int i = 0; i < 3; i++)
		outcome(s, &a, &z, now, false, false);
	now += 1000; /* past any first cool-down */
	assert_int_equal(upstream_health_check(s, hk, now), UPSTREAM_HEALTH_PROBE);

	struct upstream_claim p1 = {0}, p2 = {0};
	const uint8_t *zw = ldns_rdf_data(z.name);
	size_t zl = ldns_rdf_size(z.name);
	assert_true(
		upstream_health_take(s, hk, SA(a), zw, zl, NULL, now, true, P.probe_lease_ms, &p1));
	assert_true(p1.probe);
	/* A concurrent query does not get a second probe, and is skipped. */
	assert_false(
		upstream_health_take(s, hk, SA(a), zw, zl, NULL, now, true, P.probe_lease_ms, &p2));
	assert_int_equal(upstream_health_check(s, hk, now), UPSTREAM_HEALTH_SKIP);
	assert_int_equal(p1.health->inflight, 1);

	/* The probe is cancelled: released, the next query may probe. */
	upstream_health_release(s, &p1);
	assert_int_equal(upstream_health_check(s, hk, now), UPSTREAM_HEALTH_PROBE);
	/* This probe succeeds: closed, recovered. */
	struct upstream_health_event ev = outcome(s, &a, &z, now, true, true);
	assert_true(ev.closed);
	assert_int_equal(upstream_health_check(s, hk, now), UPSTREAM_HEALTH_ALLOW);

	struct upstream_counters cnt;
	upstream_servers_counters(s, &cnt);
	assert_int_equal(cnt.breaker_opens, 1);
	assert_int_equal(cnt.breaker_closes, 1);
	ldns_rdf_deep_free(z.name);
}

static void test_inflight_caps(void **state)
{
	struct upstream_servers *s = *state;
	struct sockaddr_storage a = v4(0xc0000201, 53);
	struct zone z = zone(s, "example.com."), other = zone(s, "example.org.");

	/* Per server address. */
	_Atomic uint32_t *si = upstream_servers_inflight(s, SA(a), 1000);
	assert_non_null(si);
	assert_true(upstream_inflight_take(si, 2));
	assert_true(upstream_inflight_take(si, 2));
	assert_false(upstream_inflight_take(si, 2));
	assert_int_equal(upstream_servers_inflight_count(s, SA(a)), 2);
	upstream_inflight_put(si);
	assert_true(upstream_inflight_take(si, 2));
	upstream_inflight_put(si);
	upstream_inflight_put(si);
	upstream_inflight_put(si); /* never below zero */
	assert_int_equal(upstream_servers_inflight_count(s, SA(a)), 0);
	assert_true(upstream_inflight_take(si, 0)); /* 0 = no cap */
	upstream_inflight_put(si);

	/* Per zone: at the cap the next is refused; other zones are not. */
	struct upstream_claim c[3];
	memset(c, 0, sizeof(c));
	assert_int_equal(zone_take(s, z.key, 0, 2, &c[0]), UPSTREAM_ZONE_TAKEN);
	assert_int_equal(zone_take(s, z.key, 0, 2, &c[1]), UPSTREAM_ZONE_TAKEN);
	assert_int_equal(zone_take(s, z.key, 0, 2, &c[2]), UPSTREAM_ZONE_FULL);
	assert_null(c[2].zone_inflight);
	/* Zones share a counter only by a (rare) hash collision: step over it. */
	for (int i = 0; upstream_health_zone_inflight(s, other.key) != 0; i++) {
		char name[32];
		snprintf(name, sizeof(name), "example%d.org.", i);
		ldns_rdf_deep_free(other.name);
		other = zone(s, name);
	}
	assert_int_equal(zone_take(s, other.key, 0, 2, &c[2]), UPSTREAM_ZONE_TAKEN);
	assert_int_equal(*c[0].zone_inflight, 2);
	assert_int_equal(upstream_health_zone_inflight(s, z.key), 2);
	upstream_health_release(s, &c[0]);
	assert_null(c[0].zone_inflight);
	assert_int_equal(zone_take(s, z.key, 0, 2, &c[0]), UPSTREAM_ZONE_TAKEN);
	for (int i = 0; i < 3; i++)
		upstream_health_release(s, &c[i]);
	assert_int_equal(upstream_health_zone_inflight(s, z.key), 0);
	ldns_rdf_deep_free(z.name);
	ldns_rdf_deep_free(other.name);
}

/* Issue 12: the zone's cap holds whatever the other zones do. Before, a
 * zone whose slot window was busy with other zones was not counted at all
 * (its cap skipped). 2000 zones each with a query in flight, more than the
 * old table's 1024 slots: the next zone is still held to its cap. */
#define OTHER_ZONES 2000
static void test_zone_cap_never_skipped(void **state)
{
	struct upstream_servers *s = *state;
	const unsigned cap = 64;
	static struct upstream_claim others[OTHER_ZONES], mine[10 * 64];
	char name[64];

	memset(others, 0, sizeof(others));
	memset(mine, 0, sizeof(mine));
	for (int i = 0; i < OTHER_ZONES; i++) {
		snprintf(name, sizeof(name), "z%d.example.", i);
		struct zone z = zone(s, name);
		assert_int_equal(zone_take(s, z.key, 0, cap, &others[i]), UPSTREAM_ZONE_TAKEN);
		ldns_rdf_deep_free(z.name);
	}
	struct zone victim = zone(s, "victim.example.");
	unsigned taken = 0;
	enum upstream_zone_verdict v = UPSTREAM_ZONE_TAKEN;
	/* Shares off: this is about the cap. */
	while (taken < 10 * cap &&
	       (v = upstream_health_zone_take(s, victim.key, 0, cap, 0, &mine[taken])) ==
		       UPSTREAM_ZONE_TAKEN) {
		assert_non_null(mine[taken].zone_inflight); /* counted, every time */
		taken++;
	}
	assert_int_equal(v, UPSTREAM_ZONE_FULL);
	/* At most the cap; less only by the few other zones whose counter it
	 * shares (2000 zones over 8192 counters). */
	assert_true(taken <= cap);
	assert_true(taken >= cap - 16);
	for (unsigned i = 0; i < taken; i++)
		upstream_health_release(s, &mine[i]);
	for (int i = 0; i < OTHER_ZONES; i++)
		upstream_health_release(s, &others[i]);
	assert_int_equal(upstream_health_zone_inflight(s, victim.key), 0);
	ldns_rdf_deep_free(victim.name);
}

/* A client key whose share counter for `zone_key` is not that of `than`
 * (keyed hash: a collision is possible, if rare; the test steps over it). */
static uint64_t distinct_key(struct upstream_servers *s, uint64_t zone_key, uint64_t than,
			     uint64_t from)
{
	for (uint64_t k = from;; k++) {
		struct upstream_claim a = {0}, b = {0};
		assert_int_equal(zone_take(s, zone_key, than, 0, &a), UPSTREAM_ZONE_TAKEN);
		assert_int_equal(zone_take(s, zone_key, k, 0, &b), UPSTREAM_ZONE_TAKEN);
		bool distinct = a.share_inflight != b.share_inflight;
		upstream_health_release(s, &a);
		upstream_health_release(s, &b);
		if (distinct)
			return k;
	}
}

/* Issue 12: a flooding client key is held to its share of a busy zone
 * while another key still gets in; alone, a key goes far past its share. */
static void test_zone_share(void **state)
{
	struct upstream_servers *s = *state;
	const unsigned cap = 128, share = cap / 4; /* 25 % */
	struct zone z = zone(s, "victim.example.");
	static struct upstream_claim c[2 * 128];
	unsigned n = 0;
	const uint64_t flooder = 0x1234;
	const uint64_t other = distinct_key(s, z.key, flooder, 0x5678);

	memset(c, 0, sizeof(c));
	/* Alone: past its share, up to the cap less one share (96 of 128). */
	while (n < cap && zone_take(s, z.key, flooder, cap, &c[n]) == UPSTREAM_ZONE_TAKEN)
		n++;
	assert_int_equal(n, cap - share);
	assert_int_equal(zone_take(s, z.key, flooder, cap, &c[n]), UPSTREAM_ZONE_SHARE);
	assert_null(c[n].zone_inflight);
	assert_null(c[n].share_inflight);
	assert_int_equal(upstream_health_zone_inflight(s, z.key), cap - share);

	/* Contended: the other key gets in, to the cap itself. */
	unsigned m = 0;
	while (n + m < 2 * cap && zone_take(s, z.key, other, cap, &c[n + m]) == UPSTREAM_ZONE_TAKEN)
		m++;
	assert_int_equal(m, share);
	assert_int_equal(zone_take(s, z.key, other, cap, &c[n + m]), UPSTREAM_ZONE_FULL);
	n += m;

	/* The zone drains below the last share: the flooder still waits until
	 * more than a share is free, the other is below its share again. */
	for (unsigned i = 0; i < share; i++)
		upstream_health_release(s, &c[--n]); /* the other's units */
	assert_int_equal(zone_take(s, z.key, flooder, cap, &c[n]), UPSTREAM_ZONE_SHARE);
	upstream_health_release(s, &c[0]); /* one of the flooder's */
	assert_int_equal(zone_take(s, z.key, flooder, cap, &c[0]), UPSTREAM_ZONE_TAKEN);
	assert_int_equal(zone_take(s, z.key, other, cap, &c[n]), UPSTREAM_ZONE_TAKEN);
	n++;

	/* Shares off: the flooder takes the whole cap. */
	for (unsigned i = 0; i < n; i++)
		upstream_health_release(s, &c[i]);
	n = 0;
	while (n < 2 * cap &&
	       upstream_health_zone_take(s, z.key, flooder, cap, 0, &c[n]) == UPSTREAM_ZONE_TAKEN)
		n++;
	assert_int_equal(n, cap);
	for (unsigned i = 0; i < n; i++)
		upstream_health_release(s, &c[i]);

	/* A small cap: the share is at least UPSTREAM_SHARE_MIN_INFLIGHT. */
	n = 0;
	while (n < 2 * cap && zone_take(s, z.key, flooder, 12, &c[n]) == UPSTREAM_ZONE_TAKEN)
		n++;
	assert_int_equal(n, UPSTREAM_SHARE_MIN_INFLIGHT);
	for (unsigned i = 0; i < n; i++)
		upstream_health_release(s, &c[i]);
	assert_int_equal(upstream_health_zone_inflight(s, z.key), 0);
	ldns_rdf_deep_free(z.name);
}

struct dump {
	int n;
	struct upstream_health_info info[4];
};

static void collect(void *arg, const struct upstream_health_info *info)
{
	struct dump *d = arg;
	assert_true(d->n < 4);
	d->info[d->n++] = *info;
}

static void test_health_dump(void **state)
{
	struct upstream_servers *s = *state;
	struct sockaddr_storage a = v4(0xc0000201, 53);
	struct zone z = zone(s, "Example.COM."), root = zone(s, ".");
	uint64_t now = uv_hrtime() / 1000000; /* the dump reads the real clock */
	struct dump d = {0};

	upstream_servers_health(s, collect, &d);
	assert_int_equal(d.n, 0);
	upstream_servers_sample(s, SA(a), 20, now);
	for (int i = 0; i < 3; i++)
		outcome(s, &a, &z, now, false, false);
	outcome(s, &a, &root, now, true, false);
	upstream_servers_health(s, collect, &d);
	assert_int_equal(d.n, 2);
	int zi = strcmp(d.info[0].zone, ".") == 0 ? 1 : 0;
	struct upstream_health_info *zinfo = &d.info[zi], *rinfo = &d.info[1 - zi];
	assert_string_equal(zinfo->zone, "example.com.");
	assert_string_equal(rinfo->zone, ".");
	assert_string_equal(zinfo->provider, "example.net");
	assert_int_equal(zinfo->breaker, UPSTREAM_BREAKER_OPEN);
	assert_int_equal(zinfo->failures, 3);
	assert_in_range(zinfo->cooldown_left_ms, 1, 500);
	assert_int_equal(zinfo->srtt_ms, 20);
	assert_true(zinfo->rto_ms >= 20);
	assert_int_equal(zinfo->inflight, 0);
	assert_int_equal(rinfo->breaker, UPSTREAM_BREAKER_CLOSED);
	assert_int_equal(rinfo->failures, 0);
	assert_int_equal(rinfo->addr.ss_family, AF_INET);
	ldns_rdf_deep_free(z.name);
	ldns_rdf_deep_free(root.name);
}

/* ---- the shared table under concurrency ----------------------------------- */

/*
 * Workers share the table (impl.h): take, record and release race on the
 * same (server, zone) entries. Workers run no cmocka assertion (it would
 * longjmp across threads); they count, and the main thread checks.
 */
#define RACE_THREADS 4

struct race {
	struct upstream_servers *s;
	pthread_barrier_t *start;
	const struct zone *zones; /* two */
	uint64_t now;
	int thread;
	/* results */
	unsigned taken, probes_won;
	struct upstream_claim claim;
};

static void *race_outcomes(void *arg)
{
	struct race *r = arg;

	pthread_barrier_wait(r->start);
	for (int i = 0; i < 4000; i++) {
		struct sockaddr_storage a = v4(0xc0000201 + (uint32_t)(i % 4), 53);
		const struct zone *z = &r->zones[(i / 4) % 2];
		uint64_t hk = upstream_health_key(r->s, SA(a), z->key);
		struct upstream_claim c = {0};
		struct upstream_health_event ev;
		/* Every third outcome fails: breakers open, cool down and probe. */
		bool ok = (i + r->thread) % 3 != 0;
		uint64_t now = r->now + (uint64_t)i;

		if (!upstream_health_take(r->s, hk, SA(a), ldns_rdf_data(z->name),
					  ldns_rdf_size(z->name), "example.net", now,
					  upstream_health_check(r->s, hk, now) ==
						  UPSTREAM_HEALTH_PROBE,
					  P.probe_lease_ms, &c))
			continue;
		r->taken++;
		upstream_health_record(r->s, &c, ok, now, &P, 0, &ev);
		upstream_health_release(r->s, &c);
	}
	return NULL;
}

static void collect_inflight(void *arg, const struct upstream_health_info *info)
{
	unsigned *busy = arg;

	if (info->inflight != 0)
		(*busy)++;
}

static void test_concurrent_outcomes(void **state)
{
	struct upstream_servers *s = *state;
	struct zone zones[2] = {zone(s, "example.com."), zone(s, "example.org.")};
	struct race r[RACE_THREADS];
	pthread_t t[RACE_THREADS];
	pthread_barrier_t start;
	unsigned taken = 0, busy = 0;

	assert_int_equal(pthread_barrier_init(&start, NULL, RACE_THREADS), 0);
	for (int i = 0; i < RACE_THREADS; i++) {
		r[i] = (struct race){
			.s = s, .start = &start, .zones = zones, .now = 10000, .thread = i};
		assert_int_equal(pthread_create(&t[i], NULL, race_outcomes, &r[i]), 0);
	}
	for (int i = 0; i < RACE_THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		taken += r[i].taken;
	}
	pthread_barrier_destroy(&start);
	assert_true(taken > 0);
	/* Every claim was released: nothing is left in flight anywhere. */
	upstream_servers_health(s, collect_inflight, &busy);
	assert_int_equal(busy, 0);
	for (uint32_t i = 0; i < 4; i++) {
		struct sockaddr_storage a = v4(0xc0000201 + i, 53);
		assert_int_equal(upstream_servers_inflight_count(s, SA(a)), 0);
	}
	ldns_rdf_deep_free(zones[0].name);
	ldns_rdf_deep_free(zones[1].name);
}

static void *race_probe(void *arg)
{
	struct race *r = arg;
	struct sockaddr_storage a = v4(0xc0000201, 53);
	const struct zone *z = &r->zones[0];
	uint64_t hk = upstream_health_key(r->s, SA(a), z->key);

	pthread_barrier_wait(r->start);
	if (upstream_health_take(r->s, hk, SA(a), ldns_rdf_data(z->name), ldns_rdf_size(z->name),
				 NULL, r->now, true, P.probe_lease_ms, &r->claim))
		r->probes_won++;
	return NULL;
}

/* An open breaker past its cool-down admits exactly one probe, however many
 * workers ask at the same moment (half-open, health.c). */
static void test_concurrent_one_probe(void **state)
{
	struct upstream_servers *s = *state;
	struct sockaddr_storage a = v4(0xc0000201, 53);

	for (int round = 0; round < 50; round++) {
		char name[32];
		snprintf(name, sizeof(name), "z%d.example.", round);
		struct zone z = zone(s, name);
		struct race r[RACE_THREADS];
		pthread_t t[RACE_THREADS];
		pthread_barrier_t start;
		uint64_t now = 10000;
		unsigned won = 0;

		for (int i = 0; i < 3; i++)
			outcome(s, &a, &z, now, false, false);
		now += 2000; /* past the longest cool-down */
		assert_int_equal(pthread_barrier_init(&start, NULL, RACE_THREADS), 0);
		for (int i = 0; i < RACE_THREADS; i++) {
			r[i] = (struct race){.s = s, .start = &start, .zones = &z, .now = now};
			assert_int_equal(pthread_create(&t[i], NULL, race_probe, &r[i]), 0);
		}
		for (int i = 0; i < RACE_THREADS; i++) {
			assert_int_equal(pthread_join(t[i], NULL), 0);
			won += r[i].probes_won;
		}
		pthread_barrier_destroy(&start);
		assert_int_equal(won, 1);
		for (int i = 0; i < RACE_THREADS; i++)
			if (r[i].probes_won)
				upstream_health_release(s, &r[i].claim);
		ldns_rdf_deep_free(z.name);
	}
}

/* ---- unwanted replies per (server, zone) ---------------------------------------- */

/* The window as a pure function: the threshold-th message within one
 * window trips, once; a quiet window starts over; 0 never trips. */
static void test_unwanted_window(void **state)
{
	uint64_t w = 0, now = 5000;
	bool tripped;

	for (unsigned i = 1; i < 10; i++) {
		w = upstream_unwanted_step(w, now + i, 10, &tripped);
		assert_false(tripped);
	}
	w = upstream_unwanted_step(w, now + 10, 10, &tripped);
	assert_true(tripped);
	w = upstream_unwanted_step(w, now + 11, 10, &tripped);
	assert_false(tripped); /* once per window */
	/* Nine in one window, then the window ends: counting starts over. */
	w = 0;
	for (unsigned i = 0; i < 9; i++)
		w = upstream_unwanted_step(w, now, 10, &tripped);
	w = upstream_unwanted_step(w, now + UPSTREAM_UNWANTED_WINDOW_MS, 10, &tripped);
	assert_false(tripped);
	for (unsigned i = 0; i < 8; i++)
		w = upstream_unwanted_step(w, now + UPSTREAM_UNWANTED_WINDOW_MS + 1, 10, &tripped);
	assert_false(tripped);
	w = upstream_unwanted_step(w, now + UPSTREAM_UNWANTED_WINDOW_MS + 2, 10, &tripped);
	assert_true(tripped);
	/* Threshold 0: off; the count saturates. */
	w = 0;
	for (unsigned i = 0; i < 70000; i++) {
		w = upstream_unwanted_step(w, now, 0, &tripped);
		assert_false(tripped);
	}
	assert_int_equal(w & 0xffff, 0xffff);
	(void)state;
}

/* Through the table, with a fake clock: the switch to TCP is per (server,
 * zone), reported once, lasts UPSTREAM_UNWANTED_TCP_MS, and shows in the
 * counters. */
static void test_unwanted_switches_to_tcp(void **state)
{
	struct upstream_servers *s = *state;
	struct sockaddr_storage a = v4(0xc0000201, 53);
	struct zone z = zone(s, "example.com."), other = zone(s, "example.org.");
	uint64_t now = 10000;
	struct upstream_claim c = {0}, co = {0};
	uint64_t hk = upstream_health_key(s, SA(a), z.key);
	uint64_t hko = upstream_health_key(s, SA(a), other.key);

	assert_true(upstream_health_take(s, hk, SA(a), ldns_rdf_data(z.name), ldns_rdf_size(z.name),
					 "", now, false, P.probe_lease_ms, &c));
	assert_true(upstream_health_take(s, hko, SA(a), ldns_rdf_data(other.name),
					 ldns_rdf_size(other.name), "", now, false,
					 P.probe_lease_ms, &co));
	assert_false(upstream_health_tcp(&c, now));
	for (int i = 0; i < 9; i++)
		assert_false(upstream_health_unwanted(s, &c, now + (uint64_t)i, 10));
	assert_false(upstream_health_tcp(&c, now + 9));
	assert_true(upstream_health_unwanted(s, &c, now + 9, 10));
	assert_true(upstream_health_tcp(&c, now + 9));
	assert_false(upstream_health_tcp(&co, now + 9)); /* the other zone is not touched */
	/* More in the same period: no second switch. */
	for (int i = 0; i < 20; i++)
		assert_false(upstream_health_unwanted(s, &c, now + 10, 10));
	assert_true(upstream_health_tcp(&c, now + 9 + UPSTREAM_UNWANTED_TCP_MS - 1));
	assert_false(upstream_health_tcp(&c, now + 9 + UPSTREAM_UNWANTED_TCP_MS));

	struct upstream_counters n;
	upstream_servers_counters(s, &n);
	assert_int_equal(n.unwanted, 30);
	assert_int_equal(n.unwanted_tcp_switches, 1);

	/* No entry (a full table): counted globally only. */
	struct upstream_claim none = {0};
	assert_false(upstream_health_unwanted(s, &none, now, 1));
	assert_false(upstream_health_tcp(&none, now));
	upstream_health_release(s, &c);
	upstream_health_release(s, &co);
	ldns_rdf_deep_free(z.name);
	ldns_rdf_deep_free(other.name);
}

/* The dump shows the unwanted count and the TCP period (real clock). */
static void test_unwanted_dump(void **state)
{
	struct upstream_servers *s = *state;
	struct sockaddr_storage a = v4(0xc0000201, 53);
	struct zone z = zone(s, "example.com.");
	uint64_t now = uv_hrtime() / 1000000;
	struct upstream_claim c = {0};
	struct dump d = {0};
	uint64_t hk = upstream_health_key(s, SA(a), z.key);

	assert_true(upstream_health_take(s, hk, SA(a), ldns_rdf_data(z.name), ldns_rdf_size(z.name),
					 "", now, false, P.probe_lease_ms, &c));
	for (int i = 0; i < 3; i++)
		upstream_health_unwanted(s, &c, now, 3);
	upstream_health_release(s, &c);
	upstream_servers_health(s, collect, &d);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.info[0].unwanted, 3);
	assert_in_range(d.info[0].tcp_left_ms, UPSTREAM_UNWANTED_TCP_MS - 60000,
			UPSTREAM_UNWANTED_TCP_MS);
	assert_false(d.info[0].no_caps);
	ldns_rdf_deep_free(z.name);
}

/* Workers race unwanted replies on one entry: the count is exact and the
 * switch to TCP is decided by exactly one of them (logged once). */
struct unwanted_race {
	struct upstream_servers *s;
	pthread_barrier_t *start;
	const struct upstream_claim *claim;
	uint64_t now;
	unsigned switches;
};

static void *race_unwanted(void *arg)
{
	struct unwanted_race *r = arg;

	pthread_barrier_wait(r->start);
	for (int i = 0; i < 1000; i++)
		if (upstream_health_unwanted(r->s, r->claim, r->now, 50))
			r->switches++;
	return NULL;
}

static void test_concurrent_unwanted_one_switch(void **state)
{
	struct upstream_servers *s = *state;
	struct sockaddr_storage a = v4(0xc0000201, 53);
	struct zone z = zone(s, "example.com.");
	uint64_t now = 10000;
	struct upstream_claim c = {0};
	uint64_t hk = upstream_health_key(s, SA(a), z.key);
	struct unwanted_race r[RACE_THREADS];
	pthread_t t[RACE_THREADS];
	pthread_barrier_t start;
	unsigned switches = 0;

	assert_true(upstream_health_take(s, hk, SA(a), ldns_rdf_data(z.name), ldns_rdf_size(z.name),
					 "", now, false, P.probe_lease_ms, &c));
	assert_int_equal(pthread_barrier_init(&start, NULL, RACE_THREADS), 0);
	for (int i = 0; i < RACE_THREADS; i++) {
		r[i] = (struct unwanted_race){.s = s, .start = &start, .claim = &c, .now = now};
		assert_int_equal(pthread_create(&t[i], NULL, race_unwanted, &r[i]), 0);
	}
	for (int i = 0; i < RACE_THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		switches += r[i].switches;
	}
	pthread_barrier_destroy(&start);
	assert_int_equal(switches, 1);
	struct upstream_counters n;
	upstream_servers_counters(s, &n);
	assert_int_equal(n.unwanted, (uint64_t)RACE_THREADS * 1000);
	assert_int_equal(n.unwanted_tcp_switches, 1);
	assert_true(upstream_health_tcp(&c, now));
	upstream_health_release(s, &c);
	ldns_rdf_deep_free(z.name);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_cooldown_doubles_capped_jittered),
		cmocka_unit_test(test_half_open_one_probe),
		cmocka_unit_test(test_probe_success_closes),
		cmocka_unit_test(test_probe_failure_reopens_doubled),
		cmocka_unit_test(test_pack_roundtrip),
		T(test_zones_independent),
		T(test_table_one_probe),
		T(test_inflight_caps),
		T(test_zone_cap_never_skipped),
		T(test_zone_share),
		T(test_health_dump),
		T(test_concurrent_outcomes),
		T(test_concurrent_one_probe),
		cmocka_unit_test(test_unwanted_window),
		T(test_unwanted_switches_to_tcp),
		T(test_unwanted_dump),
		T(test_concurrent_unwanted_one_switch),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
