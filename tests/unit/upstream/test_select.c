/*
 * Tests of upstream/select.c without a loop: the tables are built with the
 * servers.c, health.c and budget.c APIs at a fake monotonic `now`, random
 * numbers come from a fixed sequence, and each test reads what selection
 * chose and what it holds (in-flight counts, the probe, the counters).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "upstream/upstream.h"
#include "upstream/impl.h"

#define NOW 1000000u /* ms */

/* A fixed sequence of random numbers, repeated. */
struct seq {
	uint32_t v[4];
	size_t n, i;
};

static uint32_t seq_u32(void *ctx)
{
	struct seq *s = ctx;
	return s->v[s->i++ % s->n];
}

static uint32_t seq_uniform(void *ctx, uint32_t bound)
{
	return seq_u32(ctx) % bound;
}

/* rtt.c explores when rnd % 100 < 5; 50 never does, and takes the first
 * of equals. */
#define NO_EXPLORE 50u

struct env {
	struct upstream_servers *servers;
	struct upstream_opts opts;
	struct seq seq;
	struct upstream_rng rng;
	uint8_t zone[32];
	size_t zone_len;
	struct sockaddr_storage a[4];
	const ldns_rdf *ns[4];
	ldns_rdf *owned_ns[4];
	struct upstream_request req;
};

static struct sockaddr_storage v4(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(53);
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	return ss;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->servers = upstream_servers_create();
	assert_non_null(e->servers);
	upstream_opts_init(&e->opts);
	e->seq = (struct seq){.v = {NO_EXPLORE}, .n = 1};
	e->rng = (struct upstream_rng){.u32 = seq_u32, .uniform = seq_uniform, .ctx = &e->seq};
	static const uint8_t zone[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0};
	memcpy(e->zone, zone, sizeof(zone));
	e->zone_len = sizeof(zone);
	e->a[0] = v4("192.0.2.1");
	e->a[1] = v4("192.0.2.2");
	e->a[2] = v4("198.51.100.1");
	e->a[3] = v4("127.0.0.1");
	e->req = (struct upstream_request){.candidates = e->a, .ncandidates = 3};
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	for (int i = 0; i < 4; i++)
		ldns_rdf_deep_free(e->owned_ns[i]);
	upstream_servers_destroy(e->servers);
	free(e);
	return 0;
}

/* NS names for the candidates: a[0] and a[1] one provider, a[2] another. */
static void with_providers(struct env *e)
{
	static const char *const names[] = {"ns1.alpha.test.", "ns2.alpha.test.", "ns.beta.test.",
					    "ns.local.test."};
	for (int i = 0; i < 4; i++) {
		e->owned_ns[i] = ldns_dname_new_frm_str(names[i]);
		e->ns[i] = e->owned_ns[i];
	}
	e->req.candidate_ns = e->ns;
}

static void sample(struct env *e, int i, unsigned ms)
{
	for (int k = 0; k < 5; k++)
		upstream_servers_sample(e->servers, (struct sockaddr *)&e->a[i], ms, NOW);
}

static uint64_t zone_key(struct env *e)
{
	return upstream_zone_key(e->servers, e->zone, e->zone_len);
}

static struct upstream_select_in in_at(struct env *e, uint64_t now)
{
	return (struct upstream_select_in){
		.opts = &e->opts,
		.req = &e->req,
		.zone = e->zone,
		.zone_len = e->zone_len,
		.zone_key = zone_key(e),
		.now_ms = now,
		.rng = &e->rng,
	};
}

/* Runs one selection at `now`; the caller releases p->claim. */
static enum upstream_status pick_at(struct env *e, uint64_t now, struct upstream_pick *p,
				    struct upstream_pick *h)
{
	struct upstream_select_in in = in_at(e, now);
	memset(p, 0, sizeof(*p));
	memset(h, 0, sizeof(*h));
	return upstream_select(e->servers, &in, p, h);
}

/* Picks at NOW and gives everything back; returns the index chosen (-1: none). */
static int pick_index(struct env *e, enum upstream_status *status)
{
	struct upstream_pick p, h;
	enum upstream_status st = pick_at(e, NOW, &p, &h);
	if (status != NULL)
		*status = st;
	upstream_health_release(e->servers, &p.claim);
	for (int i = 0; i < 4; i++)
		if (st == UPSTREAM_OK &&
		    memcmp(&p.server, &e->a[i], sizeof(struct sockaddr_in)) == 0)
			return i;
	return -1;
}

/* `failures` network failures of a[i] for the zone at `now`. */
static void fail_n(struct env *e, int i, unsigned failures, uint64_t now)
{
	struct upstream_breaker_params p = upstream_select_breaker_params(&e->opts);
	const struct sockaddr *addr = (const struct sockaddr *)&e->a[i];
	uint64_t hk = upstream_health_key(e->servers, addr, zone_key(e));
	for (unsigned k = 0; k < failures; k++) {
		struct upstream_claim c = {0};
		struct upstream_health_event ev;
		assert_true(upstream_health_take(e->servers, hk, addr, e->zone, e->zone_len, NULL,
						 now, false, 0, &c));
		upstream_health_record(e->servers, &c, false, now, &p, 0, &ev);
		upstream_health_release(e->servers, &c);
	}
}

static struct upstream_counters counters(struct env *e)
{
	struct upstream_counters c;
	upstream_servers_counters(e->servers, &c);
	return c;
}

static unsigned inflight(struct env *e, int i)
{
	return upstream_servers_inflight_count(e->servers, (struct sockaddr *)&e->a[i]);
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_lowest_rtt_wins(void **state)
{
	struct env *e = *state;
	sample(e, 0, 300);
	sample(e, 1, 20);
	sample(e, 2, 900);
	for (uint32_t r = 5; r < 100; r += 7) { /* never exploring */
		e->seq.v[0] = r;
		assert_int_equal(pick_index(e, NULL), 1);
	}
	/* Exploring draws only within the band of the best (400 ms): the one
	 * at 900 ms is never drawn. */
	for (uint32_t k = 0; k < 10; k++) {
		e->seq.v[0] = k * 100 + 1;
		assert_true(pick_index(e, NULL) != 2);
	}
	assert_int_equal(inflight(e, 1), 0); /* every pick was given back */
}

static void test_exploration(void **state)
{
	struct env *e = *state;
	sample(e, 0, 20);
	e->req.ncandidates = 2; /* a[1] never measured */
	assert_int_equal(pick_index(e, NULL), 0);
	/* rnd % 100 < 5 explores: the draw is {a[0], a[1]}, (rnd / 100) % 2
	 * picks in it. */
	e->seq.v[0] = 100 * 1 + 3;
	assert_int_equal(pick_index(e, NULL), 1);
	e->seq.v[0] = 100 * 2 + 3;
	assert_int_equal(pick_index(e, NULL), 0);
}

static void test_open_breaker_skipped(void **state)
{
	struct env *e = *state;
	sample(e, 0, 10);
	sample(e, 1, 50);
	sample(e, 2, 90);
	fail_n(e, 0, e->opts.breaker_threshold, NOW);
	assert_int_equal(pick_index(e, NULL), 1);

	/* Below the threshold a server stays in. */
	fail_n(e, 1, e->opts.breaker_threshold - 1, NOW);
	assert_int_equal(pick_index(e, NULL), 1);

	/* Every breaker open: UNREACHABLE at once, counted, nothing held. */
	fail_n(e, 1, 1, NOW);
	fail_n(e, 2, e->opts.breaker_threshold, NOW);
	enum upstream_status st;
	assert_int_equal(pick_index(e, &st), -1);
	assert_int_equal(st, UPSTREAM_UNREACHABLE);
	assert_int_equal(counters(e).refused_breaker, 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(inflight(e, i), 0);

	/* Another zone: the same servers are fine. */
	static const uint8_t org[] = {3, 'o', 'r', 'g', 0};
	memcpy(e->zone, org, sizeof(org));
	e->zone_len = sizeof(org);
	assert_int_equal(pick_index(e, NULL), 0);
}

static void test_half_open_one_probe(void **state)
{
	struct env *e = *state;
	sample(e, 0, 900); /* slow, but due its probe: probed first */
	sample(e, 1, 10);
	e->req.ncandidates = 2;
	fail_n(e, 0, e->opts.breaker_threshold, NOW);
	uint64_t later = NOW + e->opts.breaker_cooldown_ms + 1;
	struct upstream_pick p1, h1, p2, h2;

	/* Before the cool-down ends, a probe-only request has nothing to do. */
	e->req.probe_only = true;
	assert_int_equal(pick_at(e, NOW, &p2, &h2), UPSTREAM_UNREACHABLE);
	assert_int_equal(inflight(e, 0) + inflight(e, 1), 0);
	e->req.probe_only = false;

	assert_int_equal(pick_at(e, later, &p1, &h1), UPSTREAM_OK);
	assert_memory_equal(&p1.server, &e->a[0], sizeof(struct sockaddr_in));
	assert_true(p1.probe);
	assert_true(p1.claim.probe);
	/* The probe's timeout is capped: a server that is back answers fast. */
	assert_true(p1.timeout_ms <= UPSTREAM_PROBE_TIMEOUT_MS);

	/* While it is out, nobody else probes: the next pick goes elsewhere. */
	assert_int_equal(pick_at(e, later, &p2, &h2), UPSTREAM_OK);
	assert_memory_equal(&p2.server, &e->a[1], sizeof(struct sockaddr_in));
	assert_false(p2.probe);
	upstream_health_release(e->servers, &p2.claim);

	/* A probe-only request finds no other probe to send. */
	e->req.probe_only = true;
	assert_int_equal(pick_at(e, later, &p2, &h2), UPSTREAM_UNREACHABLE);
	assert_int_equal(inflight(e, 1), 0);

	/* The probe given back unreported (cancelled): the next one may go. */
	upstream_health_release(e->servers, &p1.claim);
	assert_int_equal(pick_at(e, later, &p2, &h2), UPSTREAM_OK);
	assert_true(p2.probe);
	assert_memory_equal(&p2.server, &e->a[0], sizeof(struct sockaddr_in));
	upstream_health_release(e->servers, &p2.claim);
}

static void test_avoid_provider(void **state)
{
	struct env *e = *state;
	with_providers(e);
	sample(e, 0, 10); /* fastest, but the same provider as a[1] */
	sample(e, 1, 20);
	sample(e, 2, 300);
	e->req.avoid = &e->a[1];
	assert_int_equal(pick_index(e, NULL), 2);

	/* The other provider unusable: any server rather than none. */
	fail_n(e, 2, e->opts.breaker_threshold, NOW);
	assert_int_equal(pick_index(e, NULL), 0);

	/* Without NS names only the address itself is avoided. */
	e->req.candidate_ns = NULL;
	e->req.avoid = &e->a[0];
	assert_int_equal(pick_index(e, NULL), 1);
	/* An `avoid` that is not a candidate changes nothing. */
	struct sockaddr_storage elsewhere = v4("203.0.113.9");
	e->req.avoid = &elsewhere;
	assert_int_equal(pick_index(e, NULL), 0);
}

static void test_inflight_cap_server(void **state)
{
	struct env *e = *state;
	sample(e, 0, 10);
	sample(e, 1, 50);
	e->req.ncandidates = 2;
	e->opts.max_inflight_server = 1;

	struct upstream_pick p1, h1, p2, h2;
	assert_int_equal(pick_at(e, NOW, &p1, &h1), UPSTREAM_OK);
	assert_int_equal(inflight(e, 0), 1);
	/* a[0] is at its cap: the next one goes to a[1]... */
	assert_int_equal(pick_at(e, NOW, &p2, &h2), UPSTREAM_OK);
	assert_memory_equal(&p2.server, &e->a[1], sizeof(struct sockaddr_in));
	/* ...and then both are: refused, counted, nothing held. */
	struct upstream_pick p3, h3;
	assert_int_equal(pick_at(e, NOW, &p3, &h3), UPSTREAM_LIMITED);
	assert_int_equal(counters(e).refused_inflight, 1);
	assert_int_equal(inflight(e, 0), 1);
	assert_int_equal(inflight(e, 1), 1);
	upstream_health_release(e->servers, &p1.claim);
	upstream_health_release(e->servers, &p2.claim);
	assert_int_equal(inflight(e, 0), 0);
	assert_int_equal(pick_index(e, NULL), 0);
}

static void test_inflight_cap_zone(void **state)
{
	struct env *e = *state;
	e->opts.max_inflight_zone = 2;
	struct upstream_pick p[3], h[3];
	assert_int_equal(pick_at(e, NOW, &p[0], &h[0]), UPSTREAM_OK);
	assert_int_equal(pick_at(e, NOW, &p[1], &h[1]), UPSTREAM_OK);
	assert_int_equal(pick_at(e, NOW, &p[2], &h[2]), UPSTREAM_LIMITED);
	assert_int_equal(counters(e).refused_inflight, 1);
	/* The refused one took no server unit. */
	assert_int_equal(inflight(e, 0) + inflight(e, 1) + inflight(e, 2), 2);
	upstream_health_release(e->servers, &p[0].claim);
	assert_int_equal(pick_at(e, NOW, &p[2], &h[2]), UPSTREAM_OK);
	upstream_health_release(e->servers, &p[1].claim);
	upstream_health_release(e->servers, &p[2].claim);
	assert_int_equal(inflight(e, 0) + inflight(e, 1) + inflight(e, 2), 0);
}

/* Picks at NOW for `client` and keeps what the pick holds in *p;
 * retries are recorded for everybody as upstream.c does after sending. */
static enum upstream_status pick_for(struct env *e, const struct sockaddr_storage *client,
				     struct upstream_pick *p)
{
	struct upstream_pick h;
	e->req.client = (const struct sockaddr *)client;
	enum upstream_status st = pick_at(e, NOW, p, &h);
	if (st == UPSTREAM_OK)
		upstream_budget_record(&e->servers->budget, NOW, e->opts.retry_budget_window_ms,
				       e->req.retry);
	return st;
}

/* A client of another /24 than `flooder` whose shares (of the zone, of
 * the budget) are counted apart from the flooder's: keyed hashes may
 * collide (then the two would share, only stricter); the test steps over
 * such a key. */
static struct sockaddr_storage distinct_client(struct env *e,
					       const struct sockaddr_storage *flooder)
{
	uint64_t fk = upstream_client_key(e->servers, (const struct sockaddr *)flooder);
	for (int i = 0; i < 250; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "198.18.%d.7", i);
		struct sockaddr_storage c = v4(ip);
		uint64_t ck = upstream_client_key(e->servers, (const struct sockaddr *)&c);
		struct upstream_claim a = {0}, b = {0};
		upstream_health_zone_take(e->servers, zone_key(e), fk, 0, 0, &a);
		upstream_health_zone_take(e->servers, zone_key(e), ck, 0, 0, &b);
		bool apart = a.share_inflight != b.share_inflight &&
			     fk % UPSTREAM_BUDGET_SHARE_SLOTS != ck % UPSTREAM_BUDGET_SHARE_SLOTS;
		upstream_health_release(e->servers, &a);
		upstream_health_release(e->servers, &b);
		if (apart)
			return c;
	}
	fail_msg("no client key apart from the flooder's");
	return *flooder;
}

/* Issue 12: a client flooding one zone is held to its share once the
 * zone is busy, and a client of another /24 still gets through. */
static void test_client_share_zone(void **state)
{
	struct env *e = *state;
	static struct upstream_pick p[64 + 1];
	struct sockaddr_storage flooder = v4("203.0.113.7"), neighbour = v4("203.0.113.250");
	struct sockaddr_storage normal = distinct_client(e, &flooder);
	unsigned n = 0;

	e->opts.max_inflight_zone = 64; /* a share: 16 */
	/* Alone, the flooder goes past its share (16) to the cap less one
	 * share (48): one address can be a whole office. */
	while (n < 64 && pick_for(e, &flooder, &p[n]) == UPSTREAM_OK)
		n++;
	assert_int_equal(n, 48);
	assert_int_equal(counters(e).refused_client_inflight, 1);
	assert_int_equal(counters(e).refused_inflight, 0);
	/* Its /24 is one key. */
	assert_int_equal(pick_for(e, &neighbour, &p[n]), UPSTREAM_LIMITED);
	assert_int_equal(counters(e).refused_client_inflight, 2);
	assert_int_equal(inflight(e, 0) + inflight(e, 1) + inflight(e, 2), 48);

	/* Another /24 gets in, up to the zone's cap. */
	unsigned m = 0;
	while (n + m < 64 && pick_for(e, &normal, &p[n + m]) == UPSTREAM_OK)
		m++;
	assert_int_equal(m, 16);
	assert_int_equal(pick_for(e, &normal, &p[n + m]), UPSTREAM_LIMITED);
	assert_int_equal(counters(e).refused_inflight, 1); /* the cap itself */
	n += m;
	for (unsigned i = 0; i < n; i++)
		upstream_health_release(e->servers, &p[i].claim);
	assert_int_equal(inflight(e, 0) + inflight(e, 1) + inflight(e, 2), 0);

	/* Without shares one client takes the whole cap (as before). */
	e->opts.client_share_percent = 0;
	n = 0;
	while (n < 65 && pick_for(e, &flooder, &p[n]) == UPSTREAM_OK)
		n++;
	assert_int_equal(n, 64);
	for (unsigned i = 0; i < n; i++)
		upstream_health_release(e->servers, &p[i].claim);
}

/* The hedge is the same client's: it takes the client's share too. */
static void test_client_share_hedge(void **state)
{
	struct env *e = *state;
	static struct upstream_pick p[64];
	struct sockaddr_storage flooder = v4("203.0.113.7");
	unsigned n = 0;

	with_providers(e);
	sample(e, 0, 5);
	sample(e, 1, 7);
	sample(e, 2, 300);
	e->opts.timeout_min_ms = 1000;
	e->opts.max_inflight_zone = 64;
	struct upstream_pick primary, hedge;
	e->req.client = (const struct sockaddr *)&flooder;
	assert_int_equal(pick_at(e, NOW, &primary, &hedge), UPSTREAM_OK);
	assert_int_equal(hedge.server.ss_family, AF_INET);
	assert_int_equal(hedge.client_key, primary.client_key);
	assert_true(primary.client_key != 0);
	/* The flooder's primaries fill its part of the zone (47 + this one). */
	while (n < 64 && pick_for(e, &flooder, &p[n]) == UPSTREAM_OK)
		n++;
	assert_int_equal(n, 47);
	struct upstream_select_in in = in_at(e, NOW + hedge.delay_ms);
	in.req = NULL;
	assert_int_equal(upstream_select_hedge(e->servers, &in, &hedge), -EAGAIN);
	/* Another client's hedge would go. */
	struct sockaddr_storage normal = distinct_client(e, &flooder);
	struct upstream_pick p2, h2;
	e->req.client = (const struct sockaddr *)&normal;
	upstream_health_release(e->servers, &p[--n].claim); /* room for one more primary */
	assert_int_equal(pick_at(e, NOW, &p2, &h2), UPSTREAM_OK);
	assert_int_equal(h2.server.ss_family, AF_INET);
	assert_int_equal(upstream_select_hedge(e->servers, &in, &h2), 0);
	upstream_health_release(e->servers, &h2.claim);
	upstream_health_release(e->servers, &p2.claim);
	upstream_health_release(e->servers, &primary.claim);
	for (unsigned i = 0; i < n; i++)
		upstream_health_release(e->servers, &p[i].claim);
}

/* Issue 12: one client's retries cannot spend the budget for everybody. */
static void test_client_share_budget(void **state)
{
	struct env *e = *state;
	struct sockaddr_storage flooder = v4("203.0.113.7");
	struct sockaddr_storage normal = distinct_client(e, &flooder);
	struct upstream_pick p;
	unsigned n = 0;

	e->opts.retry_budget_percent = 0;
	e->opts.retry_budget_floor = 40; /* a share: 10 */
	e->req.retry = true;
	/* Alone: all but the last share. */
	while (n < 100 && pick_for(e, &flooder, &p) == UPSTREAM_OK) {
		upstream_health_release(e->servers, &p.claim);
		n++;
	}
	assert_int_equal(n, 30);
	assert_int_equal(counters(e).refused_client_budget, 1);
	assert_int_equal(counters(e).refused_budget, 0);
	/* Another /24 still retries, until the budget is spent. */
	n = 0;
	while (n < 100 && pick_for(e, &normal, &p) == UPSTREAM_OK) {
		upstream_health_release(e->servers, &p.claim);
		n++;
	}
	assert_int_equal(n, 10);
	assert_int_equal(counters(e).refused_budget, 1);
	/* First attempts are never refused by the budget. */
	e->req.retry = false;
	assert_int_equal(pick_for(e, &flooder, &p), UPSTREAM_OK);
	upstream_health_release(e->servers, &p.claim);
}

/* The key of a client is its /24 or /56: IPv4-mapped IPv6 is the IPv4 key. */
static void test_client_key(void **state)
{
	struct env *e = *state;
	struct upstream_servers *s = e->servers;
	struct sockaddr_storage a = v4("192.0.2.1"), b = v4("192.0.2.254"), c = v4("192.0.3.1");
	struct sockaddr_storage m, x, y, z;
	memset(&m, 0, sizeof(m));
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&m;
	sin6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.9", &sin6->sin6_addr), 1);
	x = y = z = m;
	assert_int_equal(
		inet_pton(AF_INET6, "2001:db8:0:1100::1", &((struct sockaddr_in6 *)&x)->sin6_addr),
		1);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:0:11ff:ffff::2",
				   &((struct sockaddr_in6 *)&y)->sin6_addr),
			 1);
	assert_int_equal(
		inet_pton(AF_INET6, "2001:db8:0:1200::1", &((struct sockaddr_in6 *)&z)->sin6_addr),
		1);
#define KEY(ss) upstream_client_key(s, (const struct sockaddr *)&(ss))
	assert_int_equal(upstream_client_key(s, NULL), 0);
	assert_true(KEY(a) != 0);
	assert_true(KEY(a) == KEY(b));
	assert_true(KEY(a) != KEY(c));
	assert_true(KEY(a) == KEY(m));
	assert_true(KEY(x) == KEY(y)); /* one /56 */
	assert_true(KEY(x) != KEY(z));
	assert_true(KEY(x) != KEY(a));
	struct sockaddr_storage unix_family = {.ss_family = AF_UNIX};
	assert_int_equal(KEY(unix_family), 0);
#undef KEY
}

static void test_budget_refuses_retry(void **state)
{
	struct env *e = *state;
	e->opts.retry_budget_percent = 0;
	e->opts.retry_budget_floor = 1;
	unsigned w = e->opts.retry_budget_window_ms;
	e->req.retry = true;
	assert_int_equal(pick_index(e, NULL), 0); /* the floor allows one */
	upstream_budget_record(&e->servers->budget, NOW, w, true);

	enum upstream_status st;
	assert_int_equal(pick_index(e, &st), -1);
	assert_int_equal(st, UPSTREAM_LIMITED);
	assert_int_equal(counters(e).refused_budget, 1);
	/* A first attempt is never refused by the budget. */
	e->req.retry = false;
	assert_int_equal(pick_index(e, &st), 0);
	/* The window slides: the retry is allowed again later. */
	e->req.retry = true;
	struct upstream_pick p, h;
	assert_int_equal(pick_at(e, NOW + w + 1, &p, &h), UPSTREAM_OK);
	upstream_health_release(e->servers, &p.claim);
}

static void test_hedge_other_provider(void **state)
{
	struct env *e = *state;
	with_providers(e);
	sample(e, 0, 5);
	sample(e, 1, 7);
	sample(e, 2, 300);
	e->opts.timeout_min_ms = 1000;

	struct upstream_pick p, h;
	assert_int_equal(pick_at(e, NOW, &p, &h), UPSTREAM_OK);
	assert_memory_equal(&p.server, &e->a[0], sizeof(struct sockaddr_in));
	/* Not a[1] (the same provider): the other one, after max(50, srtt). */
	assert_memory_equal(&h.server, &e->a[2], sizeof(struct sockaddr_in));
	assert_string_equal(h.provider, "beta.test");
	assert_string_equal(p.provider, "alpha.test");
	assert_int_equal(h.delay_ms, e->opts.hedge_min_ms);
	assert_true(h.delay_ms < p.timeout_ms);
	/* Planned, not taken. */
	assert_int_equal(inflight(e, 2), 0);

	/* Admitted when due: claims taken, a timeout of its own. */
	struct upstream_select_in in = in_at(e, NOW + h.delay_ms);
	in.req = NULL;
	assert_int_equal(upstream_select_hedge(e->servers, &in, &h), 0);
	assert_int_equal(inflight(e, 2), 1);
	assert_true(h.timeout_ms >= e->opts.timeout_min_ms);
	upstream_health_release(e->servers, &h.claim);
	upstream_health_release(e->servers, &p.claim);

	/* Its breaker opened meanwhile, or the budget spent: it stays home. */
	assert_int_equal(pick_at(e, NOW, &p, &h), UPSTREAM_OK);
	fail_n(e, 2, e->opts.breaker_threshold, NOW);
	assert_int_equal(upstream_select_hedge(e->servers, &in, &h), -EAGAIN);
	assert_int_equal(inflight(e, 2), 0);
	upstream_health_release(e->servers, &p.claim);

	e->opts.retry_budget_floor = 0;
	e->opts.retry_budget_percent = 0;
	struct upstream_pick h2 = {.server = e->a[1]};
	h2.hkey = upstream_health_key(e->servers, (struct sockaddr *)&e->a[1], zone_key(e));
	assert_int_equal(upstream_select_hedge(e->servers, &in, &h2), -EAGAIN);
	assert_int_equal(inflight(e, 1), 0);
}

static void test_no_hedge(void **state)
{
	struct env *e = *state;
	with_providers(e);
	sample(e, 0, 5);
	sample(e, 1, 7);
	sample(e, 2, 300);
	struct upstream_pick p, h;

	/* One provider only. */
	e->req.ncandidates = 2;
	assert_int_equal(pick_at(e, NOW, &p, &h), UPSTREAM_OK);
	assert_int_equal(h.server.ss_family, AF_UNSPEC);
	upstream_health_release(e->servers, &p.claim);

	/* TCP is never hedged. */
	e->req.ncandidates = 3;
	e->req.tcp = true;
	assert_int_equal(pick_at(e, NOW, &p, &h), UPSTREAM_OK);
	assert_int_equal(h.server.ss_family, AF_UNSPEC);
	assert_int_equal(p.timeout_ms, e->opts.tcp_timeout_ms);
	upstream_health_release(e->servers, &p.claim);

	/* The hedge would come after the primary's own timeout. */
	e->req.tcp = false;
	e->opts.timeout_min_ms = e->opts.timeout_max_ms = 40; /* below hedge_min_ms */
	assert_int_equal(pick_at(e, NOW, &p, &h), UPSTREAM_OK);
	assert_int_equal(h.server.ss_family, AF_UNSPEC);
	upstream_health_release(e->servers, &p.claim);
}

static void test_configured_servers(void **state)
{
	struct env *e = *state;
	/* A delegation to 127.0.0.1 is refused (do-not-query-localhost)... */
	e->req.candidates = &e->a[3];
	e->req.ncandidates = 1;
	enum upstream_status st;
	assert_int_equal(pick_index(e, &st), -1);
	assert_int_equal(st, UPSTREAM_REFUSED);
	/* ...but a stub or forward zone (or root hint) the operator
	 * configured may point at the host itself. */
	e->req.configured = true;
	assert_int_equal(pick_index(e, &st), 3);
	/* Nothing given, or nothing allowed, even configured. */
	e->req.ncandidates = 0;
	assert_int_equal(pick_index(e, &st), -1);
	assert_int_equal(st, UPSTREAM_REFUSED);
	struct sockaddr_storage any = v4("0.0.0.0");
	e->req.candidates = &any;
	e->req.ncandidates = 1;
	assert_int_equal(pick_index(e, &st), -1);
	assert_int_equal(st, UPSTREAM_REFUSED);
}

static void test_timeouts(void **state)
{
	struct env *e = *state;
	struct upstream_pick p, h;
	e->req.ncandidates = 1;
	/* Unknown server: its RTO (400 ms) within [min, max]. */
	assert_int_equal(pick_at(e, NOW, &p, &h), UPSTREAM_OK);
	assert_int_equal(p.timeout_ms, UPSTREAM_RTT_UNKNOWN_MS);
	upstream_health_release(e->servers, &p.claim);
	/* Backed off after a timeout, then jittered within [t / 2, t]. */
	upstream_servers_timeout(e->servers, (struct sockaddr *)&e->a[0], NOW);
	e->seq.v[0] = 0;
	assert_int_equal(pick_at(e, NOW, &p, &h), UPSTREAM_OK);
	assert_int_equal(p.timeout_ms, UPSTREAM_RTT_UNKNOWN_MS);
	upstream_health_release(e->servers, &p.claim);
	e->seq.v[0] = UINT32_MAX;
	assert_int_equal(pick_at(e, NOW, &p, &h), UPSTREAM_OK);
	assert_in_range(p.timeout_ms, UPSTREAM_RTT_UNKNOWN_MS, 2 * UPSTREAM_RTT_UNKNOWN_MS);
	upstream_health_release(e->servers, &p.claim);
}

static void test_breaker_params(void **state)
{
	struct env *e = *state;
	struct upstream_breaker_params p = upstream_select_breaker_params(&e->opts);
	assert_int_equal(p.threshold, e->opts.breaker_threshold);
	assert_int_equal(p.cooldown_ms, e->opts.breaker_cooldown_ms);
	assert_int_equal(p.cooldown_max_ms, e->opts.breaker_cooldown_max_ms);
	/* A probe's lease outlasts the longest query (TCP, 5000 ms). */
	assert_true(p.probe_lease_ms > e->opts.tcp_timeout_ms);
	assert_true(p.probe_lease_ms > e->opts.timeout_max_ms);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_lowest_rtt_wins),      T(test_exploration),
		T(test_open_breaker_skipped), T(test_half_open_one_probe),
		T(test_avoid_provider),	      T(test_inflight_cap_server),
		T(test_inflight_cap_zone),    T(test_budget_refuses_retry),
		T(test_client_share_zone),    T(test_client_share_hedge),
		T(test_client_share_budget),  T(test_client_key),
		T(test_hedge_other_provider), T(test_no_hedge),
		T(test_configured_servers),   T(test_timeouts),
		T(test_breaker_params),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
