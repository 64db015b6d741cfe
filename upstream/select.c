/*
 * upstream/select.c — which server one leg goes to, and whether it may go.
 *
 * For the primary leg of an attempt: the address policy (addr.c) filters
 * the candidates; the retry budget (budget.c) may refuse a retry and the
 * zone's in-flight cap any attempt; a candidate whose breaker is open for
 * the zone (health.c) or whose server is at its in-flight cap is skipped;
 * a candidate of another provider (provider.c) than the server that just
 * failed is preferred; among the rest a breaker due its probe goes first
 * (so a recovered server is noticed), else the lowest expected RTT with a
 * little exploration (rtt.c over servers.c). The leg's claims are taken
 * here, with CAS loops that hold across workers. With UDP and NS names the
 * hedge is planned too: the best healthy server of another provider, due
 * after the primary's expected RTT; upstream_select_hedge() admits it when
 * it is due.
 *
 * Fair shares (issue 12): the zone's in-flight cap and the retry budget
 * are shared by every client, so one client flooding random names of a
 * slow zone could hold all of the zone's slots and spend the budget, and
 * every other client would be refused. Each request carries its client
 * (upstream_client_key(): a keyed hash of its /24 or /56 prefix; the
 * first client's for coalesced questions, 0 without a client); a key at
 * its share (client_share_percent: a quarter) of a zone's cap or of the
 * window's retries is refused once no more than one share is left, so
 * the last quarter stays for the others (upstream_share_allows()). Below
 * that point a key is not held to its share: one address can be a whole
 * office behind NAT, or a benchmark. Shares bind per prefix: many
 * prefixes together still fill a zone (its cap is the bound then).
 *
 * A pure function of the shared tables, the request, `now` (monotonic ms)
 * and the random numbers passed in: no libuv, no clock, no socket. It logs
 * (debug) why an attempt was refused. Sending, timers and the outcome are
 * upstream.c's, and so is the log of breaker transitions.
 */
#include "upstream/upstream.h"
#include "upstream/impl.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "dns/dns.h"
#include "util/log.h"
#include "util/random.h"
#include "util/sockaddr.h"

static uint32_t system_u32(void *ctx)
{
	(void)ctx;
	return util_random_u32();
}

static uint32_t system_uniform(void *ctx, uint32_t bound)
{
	(void)ctx;
	return util_random_uniform(bound);
}

static const struct upstream_rng system_rng = {.u32 = system_u32, .uniform = system_uniform};

static const struct upstream_rng *rng_of(const struct upstream_select_in *in)
{
	return in->rng != NULL ? in->rng : &system_rng;
}

uint64_t upstream_client_key(const struct upstream_servers *servers, const struct sockaddr *client)
{
	uint8_t buf[1 + 7]; /* the family, then the prefix: 3 octets (/24) or 7 (/56) */
	size_t n;

	if (client == NULL)
		return 0;
	if (client->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)client;
		buf[0] = 4;
		memcpy(buf + 1, &sin->sin_addr, 3);
		n = 4;
	} else if (client->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)client;
		const uint8_t *a = sin6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			/* An IPv4 client on a dual-stack socket: the same key. */
			buf[0] = 4;
			memcpy(buf + 1, a + 12, 3);
			n = 4;
		} else {
			buf[0] = 6;
			memcpy(buf + 1, a, 7);
			n = 8;
		}
	} else {
		return 0;
	}
	return upstream_servers_hash(servers, buf, n);
}

struct upstream_breaker_params upstream_select_breaker_params(const struct upstream_opts *o)
{
	unsigned longest =
		o->timeout_max_ms > o->tcp_timeout_ms ? o->timeout_max_ms : o->tcp_timeout_ms;
	return (struct upstream_breaker_params){
		.threshold = o->breaker_threshold,
		.cooldown_ms = o->breaker_cooldown_ms,
		.cooldown_max_ms = o->breaker_cooldown_max_ms,
		/* Longer than any probe can be in flight. */
		.probe_lease_ms = longest + 1000,
	};
}

/* The UDP timeout of a leg to `addr`: the RTO bounded and backed off
 * (rtt.c), with full jitter once backed off so that servers recovering
 * from one outage are not re-asked in step. */
static unsigned udp_timeout(struct upstream_servers *servers, const struct upstream_select_in *in,
			    const struct sockaddr *addr, struct upstream_rtt *r)
{
	const struct upstream_opts *o = in->opts;

	upstream_servers_get(servers, addr, in->now_ms, r);
	unsigned t = upstream_rtt_timeout_ms(r, o->timeout_min_ms, o->timeout_max_ms);
	if (r->timeouts > 0)
		t = upstream_rtt_jitter(t, o->timeout_min_ms, rng_of(in)->u32(rng_of(in)->ctx));
	return t;
}

enum cand_skip {
	CAND_OK,
	CAND_SKIP_BREAKER,  /* open for this zone, or its probe is taken */
	CAND_SKIP_INFLIGHT, /* the server is at its in-flight cap */
};

/* One allowed candidate as selection sees it. */
struct cand {
	size_t i; /* index in the request */
	uint64_t hkey;
	uint64_t provider; /* provider id; the address key without NS names */
	struct upstream_rtt_choice choice;
	enum upstream_health_verdict verdict;
	enum cand_skip skip;
	bool avoided; /* of the provider (or the address) to avoid */
};

/* The provider name of candidate `i` ("" without NS names). */
static void cand_provider(struct upstream_servers *servers, const struct upstream_request *req,
			  size_t i, char *out, size_t cap)
{
	out[0] = '\0';
	if (req->candidate_ns != NULL && req->candidate_ns[i] != NULL)
		upstream_provider_name(servers, req->candidate_ns[i], out, cap);
}

/* Picks among `pool` (indices into `c`): a probe when one is due (so a
 * recovered server is noticed), else by RTT (rtt.c). */
static size_t pick_from(const struct cand *c, const size_t *pool, size_t np,
			const struct upstream_rng *rng)
{
	size_t probes[UPSTREAM_CANDIDATES_MAX], nprobes = 0;
	struct upstream_rtt_choice choice[UPSTREAM_CANDIDATES_MAX];

	for (size_t j = 0; j < np; j++)
		if (c[pool[j]].verdict == UPSTREAM_HEALTH_PROBE)
			probes[nprobes++] = pool[j];
	if (nprobes > 0)
		return probes[rng->uniform(rng->ctx, (uint32_t)nprobes)];
	for (size_t j = 0; j < np; j++)
		choice[j] = c[pool[j]].choice;
	return pool[upstream_rtt_select(choice, np, rng->u32(rng->ctx))];
}

/* The allowed candidates of the request, with what the tables say of
 * each. Returns how many. */
static size_t cands_load(struct upstream_servers *servers, const struct upstream_select_in *in,
			 struct cand *c)
{
	const struct upstream_request *req = in->req;
	const struct upstream_opts *o = in->opts;
	char name[UPSTREAM_PROVIDER_MAX];
	size_t n = 0;
	/* Servers the operator configured (root hints, stub and forward
	 * zones) may be local: the localhost rule guards against delegations,
	 * not against the config. */
	struct upstream_opts policy = *o;
	if (req->configured)
		policy.do_not_query_localhost = false;

	for (size_t i = 0; i < req->ncandidates && n < UPSTREAM_CANDIDATES_MAX; i++) {
		const struct sockaddr *addr = (const struct sockaddr *)&req->candidates[i];
		if (!upstream_addr_allowed(&policy, addr))
			continue;
		struct cand *k = &c[n++];
		struct upstream_rtt r;
		k->i = i;
		k->hkey = upstream_health_key(servers, addr, in->zone_key);
		k->verdict = upstream_health_check(servers, k->hkey, in->now_ms);
		upstream_servers_get(servers, addr, in->now_ms, &r);
		k->choice.score = upstream_rtt_score(&r);
		k->choice.unmeasured = !r.measured && r.timeouts == 0;
		if (req->candidate_ns != NULL && req->candidate_ns[i] != NULL) {
			cand_provider(servers, req, i, name, sizeof(name));
			k->provider = upstream_provider_id(name);
		} else {
			k->provider = upstream_servers_addr_key(servers, addr);
		}
		if (k->verdict == UPSTREAM_HEALTH_SKIP)
			k->skip = CAND_SKIP_BREAKER;
		else if (o->max_inflight_server > 0 &&
			 upstream_servers_inflight_count(servers, addr) >= o->max_inflight_server)
			k->skip = CAND_SKIP_INFLIGHT;
		else
			k->skip = CAND_OK;
		k->avoided = false;
	}
	return n;
}

/* Marks the candidates to avoid: the provider of `avoid` when it is a
 * candidate, else just that address. */
static void cands_avoid(const struct upstream_request *req, struct cand *c, size_t n)
{
	const struct sockaddr *av = (const struct sockaddr *)req->avoid;
	bool found = false;
	uint64_t avoid_provider = 0;

	if (av == NULL)
		return;
	for (size_t j = 0; j < n && !found; j++) {
		if (util_sockaddr_equal(av, (const struct sockaddr *)&req->candidates[c[j].i])) {
			found = true;
			avoid_provider = c[j].provider;
		}
	}
	for (size_t j = 0; j < n; j++)
		c[j].avoided =
			found ? c[j].provider == avoid_provider
			      : util_sockaddr_equal(
					av, (const struct sockaddr *)&req->candidates[c[j].i]);
}

/* Plans the hedge: the best healthy candidate of another provider than the
 * primary's (and than the one to avoid), due after the primary's expected
 * RTT (its srtt; half its timeout when never measured), at least
 * hedge_min_ms, and only if that comes before the primary's timeout. */
static void hedge_plan(struct upstream_servers *servers, const struct upstream_select_in *in,
		       const struct cand *c, size_t n, const struct cand *primary,
		       const struct upstream_pick *ppick, const struct upstream_rtt *prtt,
		       struct upstream_pick *hedge)
{
	size_t pool[UPSTREAM_CANDIDATES_MAX], np = 0;

	for (size_t j = 0; j < n; j++)
		if (c[j].skip == CAND_OK && c[j].verdict == UPSTREAM_HEALTH_ALLOW &&
		    c[j].provider != primary->provider && !c[j].avoided)
			pool[np++] = j;
	if (np == 0)
		return;
	unsigned delay = prtt->measured ? (prtt->srtt_us + 999) / 1000 : ppick->timeout_ms / 2;
	if (delay < in->opts->hedge_min_ms)
		delay = in->opts->hedge_min_ms;
	if (delay >= ppick->timeout_ms)
		return;

	const struct cand *h = &c[pick_from(c, pool, np, rng_of(in))];
	hedge->server = in->req->candidates[h->i];
	hedge->hkey = h->hkey;
	hedge->client_key = ppick->client_key;
	hedge->delay_ms = delay;
	cand_provider(servers, in->req, h->i, hedge->provider, sizeof(hedge->provider));
}

/* Takes the claims of candidate `k` for the primary leg (the zone's unit is
 * in p->claim already). False when its server's cap or another worker's
 * probe got in first: `k` is skipped then, nothing more is held. */
static bool cand_take(struct upstream_servers *servers, const struct upstream_select_in *in,
		      struct cand *k, struct upstream_pick *p)
{
	const struct upstream_opts *o = in->opts;
	const struct sockaddr *addr = (const struct sockaddr *)&in->req->candidates[k->i];
	bool probe = k->verdict == UPSTREAM_HEALTH_PROBE;

	_Atomic uint32_t *si = upstream_servers_inflight(servers, addr, in->now_ms);
	if (si != NULL && !upstream_inflight_take(si, o->max_inflight_server)) {
		k->skip = CAND_SKIP_INFLIGHT;
		return false;
	}
	cand_provider(servers, in->req, k->i, p->provider, sizeof(p->provider));
	if (!upstream_health_take(servers, k->hkey, addr, in->zone, in->zone_len, p->provider,
				  in->now_ms, probe,
				  upstream_select_breaker_params(o).probe_lease_ms, &p->claim)) {
		/* Another worker's query is the probe. */
		if (si != NULL)
			upstream_inflight_put(si);
		k->skip = CAND_SKIP_BREAKER;
		return false;
	}
	p->claim.server_inflight = si;
	p->server = in->req->candidates[k->i];
	p->hkey = k->hkey;
	p->probe = probe;
	return true;
}

/* Nothing usable: counted and logged; the caller hears it now rather than
 * waiting. */
static enum upstream_status none_usable(struct upstream_servers *servers,
					const struct upstream_select_in *in, const struct cand *c,
					size_t n)
{
	char name[DNS_NAME_MAX_TEXT];

	for (size_t j = 0; j < n; j++) {
		if (c[j].skip == CAND_SKIP_INFLIGHT) {
			UPSTREAM_COUNT(servers, refused_inflight);
			log_debug(LOG_UPSTREAM,
				  "refused: every usable server is at its in-flight cap");
			return UPSTREAM_LIMITED;
		}
	}
	UPSTREAM_COUNT(servers, refused_breaker);
	log_debug(LOG_UPSTREAM, "zone %s: every server's breaker is open",
		  dns_name_wire_str(in->zone, in->zone_len, name, sizeof(name)));
	return UPSTREAM_UNREACHABLE;
}

/* The retry budget for a retry of `client_key`: false when it is spent,
 * or nearly and this client is at its share (counted and logged). */
static bool budget_allows(struct upstream_servers *servers, const struct upstream_select_in *in,
			  uint64_t client_key)
{
	const struct upstream_opts *o = in->opts;

	switch (upstream_budget_check(&servers->budget, client_key, in->now_ms,
				      o->retry_budget_window_ms, o->retry_budget_percent,
				      o->retry_budget_floor, o->client_share_percent)) {
	case UPSTREAM_BUDGET_ALLOW:
		return true;
	case UPSTREAM_BUDGET_SHARE:
		UPSTREAM_COUNT(servers, refused_client_budget);
		log_debug(LOG_UPSTREAM, "retry refused: budget nearly spent, client at its share");
		return false;
	case UPSTREAM_BUDGET_SPENT:
	default:
		UPSTREAM_COUNT(servers, refused_budget);
		log_debug(LOG_UPSTREAM, "retry refused: the retry budget is spent");
		return false;
	}
}

/* The zone's in-flight unit (and the client's share of it) into
 * p->claim: false when the zone is at its cap, or busy and this client at
 * its share (counted and logged). */
static bool zone_take(struct upstream_servers *servers, const struct upstream_select_in *in,
		      struct upstream_pick *p)
{
	const struct upstream_opts *o = in->opts;
	char name[DNS_NAME_MAX_TEXT];

	switch (upstream_health_zone_take(servers, in->zone_key, p->client_key,
					  o->max_inflight_zone, o->client_share_percent,
					  &p->claim)) {
	case UPSTREAM_ZONE_TAKEN:
		return true;
	case UPSTREAM_ZONE_SHARE:
		UPSTREAM_COUNT(servers, refused_client_inflight);
		log_debug(LOG_UPSTREAM,
			  "refused: zone %s busy (%u in flight, cap %u), client at its share",
			  dns_name_wire_str(in->zone, in->zone_len, name, sizeof(name)),
			  upstream_health_zone_inflight(servers, in->zone_key),
			  o->max_inflight_zone);
		return false;
	case UPSTREAM_ZONE_FULL:
	default:
		UPSTREAM_COUNT(servers, refused_inflight);
		log_debug(LOG_UPSTREAM, "refused: zone %s is at its in-flight cap (%u)",
			  dns_name_wire_str(in->zone, in->zone_len, name, sizeof(name)),
			  o->max_inflight_zone);
		return false;
	}
}

enum upstream_status upstream_select(struct upstream_servers *servers,
				     const struct upstream_select_in *in,
				     struct upstream_pick *primary, struct upstream_pick *hedge)
{
	const struct upstream_request *req = in->req;
	const struct upstream_opts *o = in->opts;
	struct cand c[UPSTREAM_CANDIDATES_MAX];

	size_t n = cands_load(servers, in, c);
	if (n == 0) {
		log_debug(LOG_UPSTREAM, "none of %zu candidates may be queried", req->ncandidates);
		return UPSTREAM_REFUSED;
	}
	primary->client_key = upstream_client_key(servers, req->client);
	if (req->retry && !budget_allows(servers, in, primary->client_key))
		return UPSTREAM_LIMITED;
	if (!zone_take(servers, in, primary))
		return UPSTREAM_LIMITED;
	cands_avoid(req, c, n);

	for (;;) {
		size_t pool[UPSTREAM_CANDIDATES_MAX], np = 0;
		/* Another provider when one is usable; else any. A probe-only
		 * request takes nothing but a server due its probe. */
		for (int strict = 1; strict >= 0 && np == 0; strict--)
			for (size_t j = 0; j < n; j++)
				if (c[j].skip == CAND_OK && !(strict && c[j].avoided) &&
				    (!req->probe_only || c[j].verdict == UPSTREAM_HEALTH_PROBE))
					pool[np++] = j;
		if (np == 0)
			break;

		struct cand *k = &c[pick_from(c, pool, np, rng_of(in))];
		if (!cand_take(servers, in, k, primary))
			continue;

		const struct sockaddr *addr = (const struct sockaddr *)&primary->server;
		struct upstream_rtt r = {0};
		if (req->tcp)
			primary->timeout_ms = o->tcp_timeout_ms;
		else
			primary->timeout_ms = udp_timeout(servers, in, addr, &r);
		/* A probe asks "are you back?": a server that is back answers
		 * at its normal speed, so the backed-off timeout is not needed,
		 * and a client may be waiting on it. */
		if (primary->probe && primary->timeout_ms > UPSTREAM_PROBE_TIMEOUT_MS)
			primary->timeout_ms = UPSTREAM_PROBE_TIMEOUT_MS;
		if (!req->tcp && req->candidate_ns != NULL)
			hedge_plan(servers, in, c, n, k, primary, &r, hedge);
		if (req->retry)
			upstream_budget_record_share(&servers->budget, primary->client_key,
						     in->now_ms, o->retry_budget_window_ms);
		return UPSTREAM_OK;
	}

	upstream_health_release(servers, &primary->claim);
	return none_usable(servers, in, c, n);
}

int upstream_select_hedge(struct upstream_servers *servers, const struct upstream_select_in *in,
			  struct upstream_pick *hedge)
{
	const struct upstream_opts *o = in->opts;
	const struct sockaddr *addr = (const struct sockaddr *)&hedge->server;
	char str[UTIL_SOCKADDR_STRLEN];

	if (upstream_budget_check(&servers->budget, hedge->client_key, in->now_ms,
				  o->retry_budget_window_ms, o->retry_budget_percent,
				  o->retry_budget_floor,
				  o->client_share_percent) != UPSTREAM_BUDGET_ALLOW) {
		log_debug(LOG_UPSTREAM,
			  "no hedge to %s: the retry budget (or the client's share) is spent",
			  util_sockaddr_str(addr, str, sizeof(str)));
		return -EAGAIN;
	}
	if (upstream_health_check(servers, hedge->hkey, in->now_ms) != UPSTREAM_HEALTH_ALLOW)
		return -EAGAIN;
	if (upstream_health_zone_take(servers, in->zone_key, hedge->client_key,
				      o->max_inflight_zone, o->client_share_percent,
				      &hedge->claim) != UPSTREAM_ZONE_TAKEN)
		return -EAGAIN;
	_Atomic uint32_t *si = upstream_servers_inflight(servers, addr, in->now_ms);
	if (si != NULL && !upstream_inflight_take(si, o->max_inflight_server)) {
		upstream_health_release(servers, &hedge->claim);
		return -EAGAIN;
	}
	/* Not a probe: this cannot fail. */
	upstream_health_take(servers, hedge->hkey, addr, in->zone, in->zone_len, hedge->provider,
			     in->now_ms, false, 0, &hedge->claim);
	hedge->claim.server_inflight = si;
	upstream_budget_record_share(&servers->budget, hedge->client_key, in->now_ms,
				     o->retry_budget_window_ms);

	struct upstream_rtt r;
	hedge->timeout_ms = udp_timeout(servers, in, addr, &r);
	return 0;
}
