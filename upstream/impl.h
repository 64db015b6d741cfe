/*
 * upstream/impl.h — declarations shared only inside the upstream module.
 *
 * The layers, each testable on its own:
 *  - rtt.c: the pure arithmetic of one server's estimate (RFC 6298 smoothed
 *    RTT and variance, timeout backoff, forgetting) and the choice of a
 *    server among candidates. No clock, no randomness, no atomics: time and
 *    random numbers come in as arguments so tests can drive them.
 *  - servers.c: the shared table of estimates (C11 atomics, no lock), the
 *    per-address in-flight counts and the counters.
 *  - health.c: the circuit breaker of one (server, zone) as pure
 *    arithmetic, the shared table of breakers and the per-zone in-flight
 *    counts (C11 atomics; a per-entry spin flag guards only the names kept
 *    for the health dump).
 *  - budget.c: the shared retry budget, a sliding window of atomic buckets.
 *  - provider.c: grouping NS host names by provider (libpsl).
 *  - select.c: which server one leg goes to, and whether it may go
 *    (breakers, in-flight caps, the budget, the hedge's target), over the
 *    tables above with `now` and the random numbers passed in. No libuv.
 *  - wire.c: building the query, its 0x20 case pattern, and matching a
 *    response on the wire.
 *  - transport.c: the sockets of one leg (UDP, TCP framing) on libuv.
 *  - upstream.c: the attempt's lifecycle (legs, hedge timer, outcome,
 *    cancel) and the public API, gluing the others together.
 * The structs of the last two (struct upstream, struct upstream_query,
 * struct upstream_leg) are at the end; they are one worker's, never shared.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <ldns/ldns.h>
#include <uv.h>

#include "upstream/upstream.h"
#include "util/siphash.h"

struct upstream_servers;
struct psl_ctx_st; /* libpsl */

/* ---- rtt.c: one server's estimate ---------------------------------------- */

/* Expected RTT of a server never measured (or forgotten), in ms. Above a
 * typical far-away authority (~100-300 ms) so that a server known to answer
 * quickly is preferred, below a backed-off one so new servers get a turn. */
#define UPSTREAM_RTT_UNKNOWN_MS 400u
/* Exploration picks among servers whose score is within this band of the
 * best one (unbound's RTT_BAND), and among unmeasured ones. */
#define UPSTREAM_RTT_BAND_MS 400u
/* Percentage of selections that explore instead of taking the best. */
#define UPSTREAM_RTT_EXPLORE_PERCENT 5u
/* Scores are capped here (ms), whatever the backoff. */
#define UPSTREAM_RTT_SCORE_MAX_MS 120000u
/* Samples above this are clamped (ms); keeps the packed fields in range. */
#define UPSTREAM_RTT_SAMPLE_MAX_MS 120000u
/* Consecutive timeouts counted; more would not change any bound. */
#define UPSTREAM_RTT_TIMEOUTS_MAX 12u
/* A server not heard of for this long is treated as unknown again
 * (unbound's infra-host-ttl is the same 15 minutes). */
#define UPSTREAM_RTT_FORGET_MS (UINT64_C(15) * 60 * 1000)
/* One backoff step is forgiven per this much time without news, so a server
 * that was down is tried again (at a normal timeout) after a quiet spell. */
#define UPSTREAM_RTT_DECAY_MS UINT64_C(10000)

/*
 * One server's estimate. srtt and rttvar are kept in microseconds so that
 * the 1/8 and 1/4 gains of RFC 6298 §2.3 do not vanish in integer rounding
 * of millisecond samples.
 */
struct upstream_rtt {
	uint32_t srtt_us;   /* smoothed RTT, valid when measured */
	uint32_t rttvar_us; /* RTT variance, valid when measured */
	uint8_t timeouts;   /* consecutive timeouts, <= UPSTREAM_RTT_TIMEOUTS_MAX */
	bool measured;	    /* at least one sample since the slot was (re)used */
};

/* The estimate packed into one 64-bit word, so it is updated with one CAS.
 * All-zero is "unknown". */
uint64_t upstream_rtt_pack(const struct upstream_rtt *r);
void upstream_rtt_unpack(uint64_t word, struct upstream_rtt *r);

/* Feeds one RTT measurement (RFC 6298 §2.2, §2.3); clears the timeouts. */
void upstream_rtt_sample(struct upstream_rtt *r, unsigned rtt_ms);
/* Records one more consecutive timeout (RFC 6298 §5.5 backs off on it). */
void upstream_rtt_timeout(struct upstream_rtt *r);

/*
 * The estimate as seen at `now_ms`, given the time of its last update:
 * forgotten when older than UPSTREAM_RTT_FORGET_MS, and with one backoff step
 * forgiven per UPSTREAM_RTT_DECAY_MS. Times are monotonic milliseconds.
 */
void upstream_rtt_age(struct upstream_rtt *r, uint64_t last_ms, uint64_t now_ms);

/* RFC 6298 §2: srtt + max(G, 4 * rttvar) in ms, G = 1 ms; the unknown
 * default when not measured. No backoff, no bounds. */
unsigned upstream_rtt_rto(const struct upstream_rtt *r);
/* What server selection compares: the RTO doubled per consecutive timeout,
 * capped at UPSTREAM_RTT_SCORE_MAX_MS. */
unsigned upstream_rtt_score(const struct upstream_rtt *r);
/* The timeout of a UDP attempt: the RTO bounded to [min_ms, max_ms], then
 * doubled per consecutive timeout (RFC 6298 §5.5) and capped at max_ms. */
unsigned upstream_rtt_timeout_ms(const struct upstream_rtt *r, unsigned min_ms, unsigned max_ms);

/* One candidate as the selection sees it. */
struct upstream_rtt_choice {
	unsigned score;	 /* upstream_rtt_score() */
	bool unmeasured; /* never measured and not failing: worth exploring */
};

/*
 * Picks one of `n` (> 0) candidates with one random number `rnd`:
 * usually the lowest score (a random one among equals); with probability
 * UPSTREAM_RTT_EXPLORE_PERCENT a random one among the unmeasured and those
 * within UPSTREAM_RTT_BAND_MS of the best, so estimates stay fresh and new
 * servers get measured. Returns the index.
 */
size_t upstream_rtt_select(const struct upstream_rtt_choice *c, size_t n, uint32_t rnd);

/* Full jitter: a value in [max(t / 2, floor_ms), t] drawn with `rnd` (t
 * itself when floor_ms >= t). Used on backed-off timeouts. */
unsigned upstream_rtt_jitter(unsigned t, unsigned floor_ms, uint32_t rnd);

/* ---- health.c: one (server, zone) circuit breaker, pure ------------------ */

/* The breaker of one (server, zone), packed into one 64-bit word (see
 * health.c) so that every transition is one CAS. All-zero is "healthy". */
struct upstream_breaker_state {
	uint8_t failures;  /* consecutive network failures (saturating) */
	uint8_t state;	   /* enum upstream_breaker */
	uint8_t opens;	   /* consecutive opens, for the doubling cool-down */
	bool probing;	   /* HALF_OPEN: the probe is taken */
	uint64_t until_ms; /* OPEN: end of the cool-down; HALF_OPEN+probing: probe lease end */
};

struct upstream_breaker_params {
	unsigned threshold;	  /* consecutive failures that open; 0 = never open */
	unsigned cooldown_ms;	  /* first cool-down */
	unsigned cooldown_max_ms; /* cap of the doubling */
	unsigned probe_lease_ms;  /* a probe not heard of for this long is presumed lost */
};

/* What selection may do with a candidate. */
enum upstream_health_verdict {
	UPSTREAM_HEALTH_ALLOW, /* closed */
	UPSTREAM_HEALTH_PROBE, /* cool-down over: one query may probe it */
	UPSTREAM_HEALTH_SKIP,  /* open, or its probe is in flight */
};

uint64_t upstream_breaker_pack(const struct upstream_breaker_state *s);
void upstream_breaker_unpack(uint64_t word, struct upstream_breaker_state *s);
enum upstream_health_verdict upstream_breaker_check(const struct upstream_breaker_state *s,
						    uint64_t now_ms);
/* The breaker as the health dump shows it at `now_ms` (an OPEN breaker
 * whose cool-down is over reads HALF_OPEN). */
enum upstream_breaker upstream_breaker_seen(const struct upstream_breaker_state *s,
					    uint64_t now_ms);
/* Takes the single probe when check() says PROBE: HALF_OPEN, probing. */
bool upstream_breaker_claim(struct upstream_breaker_state *s, uint64_t now_ms, unsigned lease_ms);
/* A response of any kind. True when it closed an open or half-open breaker. */
bool upstream_breaker_success(struct upstream_breaker_state *s);
/* A timeout or network error; `probe` when the query held the probe. True
 * when the breaker opened (closed -> open, or a failed probe re-opening). */
bool upstream_breaker_failure(struct upstream_breaker_state *s, uint64_t now_ms,
			      const struct upstream_breaker_params *p, bool probe, uint32_t rnd);
/* The probe ended without an outcome (cancelled): the next query may probe. */
void upstream_breaker_release(struct upstream_breaker_state *s, bool probe);
/* The cool-down after the `opens`-th consecutive open: cooldown_ms doubled
 * (opens - 1) times, capped at cooldown_max_ms, then full jitter in
 * [cool / 2, cool] drawn with `rnd`. */
unsigned upstream_breaker_cooldown(const struct upstream_breaker_params *p, unsigned opens,
				   uint32_t rnd);

/* ---- budget.c: the retry budget --------------------------------------------- */

#define UPSTREAM_BUDGET_BUCKETS 10u
/* Client keys whose retries are counted apart (a key uses slot key %
 * SLOTS; keys that share a slot share one count: only stricter). */
#define UPSTREAM_BUDGET_SHARE_SLOTS 256u

/* A sliding window of UPSTREAM_BUDGET_BUCKETS buckets of window_ms /
 * UPSTREAM_BUDGET_BUCKETS each; a bucket is one atomic word (epoch tag,
 * first attempts, retries). The same window per client key slot, retries
 * only. Zero-initialised = empty. */
struct upstream_budget {
	_Atomic uint64_t bucket[UPSTREAM_BUDGET_BUCKETS];
	_Atomic uint64_t share[UPSTREAM_BUDGET_SHARE_SLOTS][UPSTREAM_BUDGET_BUCKETS];
};

/* ---- fair shares (issue 12): one rule for the zone cap and the budget ---- */

/* `percent` of `total`, at least `min`; 0 (no share) when percent is 0. */
static inline uint64_t upstream_share_of(uint64_t total, unsigned percent, uint64_t min)
{
	uint64_t share = total * percent / 100;
	if (percent == 0)
		return 0;
	return share > min ? share : min;
}

/*
 * Whether a client key holding `mine` of a resource (`used` of `total`
 * taken, used < total) may take one more: yes below its `share`; at or
 * over it only while more than one share is left. So a key alone goes
 * well past its share (to total - share), and once the resource is
 * contended the last share stays for keys below theirs. share 0: yes.
 */
static inline bool upstream_share_allows(uint64_t total, uint64_t used, uint64_t mine,
					 uint64_t share)
{
	return share == 0 || mine < share || used + share < total;
}

void upstream_budget_init(struct upstream_budget *b);
/* Counts one attempt sent at `now_ms`: a first one or a retry (hedges are
 * retries). */
void upstream_budget_record(struct upstream_budget *b, uint64_t now_ms, unsigned window_ms,
			    bool retry);
/* First attempts and retries in the window ending at `now_ms`. */
void upstream_budget_counts(struct upstream_budget *b, uint64_t now_ms, unsigned window_ms,
			    uint64_t *firsts, uint64_t *retries);
/* Whether one more retry fits: retries < floor + percent * firsts / 100.
 * Check and record are separate: concurrent workers may overshoot by one
 * retry each (accepted; the budget is a rate, not a lock). */
bool upstream_budget_allows(struct upstream_budget *b, uint64_t now_ms, unsigned window_ms,
			    unsigned percent, unsigned floor);

/* A client key's share of the window's retries is never below this: a
 * budget of one or two retries is too small to be shared. */
#define UPSTREAM_SHARE_MIN_RETRIES 2u

enum upstream_budget_verdict {
	UPSTREAM_BUDGET_ALLOW,
	UPSTREAM_BUDGET_SPENT, /* no retry fits, for anybody */
	UPSTREAM_BUDGET_SHARE, /* nearly spent, and this client key is at its share */
};
/* Counts one retry of `client_key` in its slot (upstream_budget_record
 * counts it for everybody: call both). */
void upstream_budget_record_share(struct upstream_budget *b, uint64_t client_key, uint64_t now_ms,
				  unsigned window_ms);
/* Retries counted in the slot of `client_key` in the window. */
uint64_t upstream_budget_share_retries(struct upstream_budget *b, uint64_t client_key,
				       uint64_t now_ms, unsigned window_ms);
/*
 * Whether one more retry of `client_key` fits: upstream_budget_allows(),
 * then upstream_share_allows() with the window's allowance (floor +
 * percent * firsts / 100) as the total and `share_percent` of it (at least
 * UPSTREAM_SHARE_MIN_RETRIES) as the key's share. The same overshoot as upstream_budget_allows().
 */
enum upstream_budget_verdict upstream_budget_check(struct upstream_budget *b, uint64_t client_key,
						   uint64_t now_ms, unsigned window_ms,
						   unsigned percent, unsigned floor,
						   unsigned share_percent);

/* ---- servers.c: the shared tables ----------------------------------------- */

/* Slots in the table (a power of two) and the probe window of one key. */
#define UPSTREAM_SERVERS_SLOTS 4096u
#define UPSTREAM_SERVERS_PROBE 8u
/* (server, zone) health entries and zones with an in-flight count. */
#define UPSTREAM_HEALTH_SLOTS 4096u
#define UPSTREAM_HEALTH_PROBE 8u
/* Per-zone in-flight counters, one per keyed hash of the zone modulo
 * SLOTS (no keys: the table cannot fill, so every zone is counted; zones
 * that share a counter share one cap, only stricter), and the same per
 * (zone, client key) for the shares. 32 KiB each. */
#define UPSTREAM_ZONE_SLOTS 8192u
#define UPSTREAM_SHARE_SLOTS 8192u
/* A client key's share of a zone's in-flight cap is never below this. */
#define UPSTREAM_SHARE_MIN_INFLIGHT 8u
/* A provider name as kept (a registrable domain, lower case, no final dot). */
#define UPSTREAM_PROVIDER_MAX 256u

struct upstream_server_slot {
	_Atomic uint64_t key;
	_Atomic uint64_t stats;
	_Atomic uint64_t last_ms;
	_Atomic uint32_t inflight; /* queries in flight to this address, all workers */
	_Atomic uint64_t caps;	   /* packed 0x20 state, upstream_caps_*() */
};

struct upstream_health_slot {
	_Atomic uint64_t key;	   /* keyed hash of (address, zone); 0 = free */
	_Atomic uint64_t state;	   /* packed struct upstream_breaker_state */
	_Atomic uint64_t last_ms;  /* last use, for taking over idle slots */
	_Atomic uint32_t inflight; /* queries in flight for this (server, zone) */
	_Atomic uint64_t unwanted; /* packed window of unwanted replies, upstream_unwanted_step() */
	_Atomic uint64_t tcp_until_ms;	 /* queries go over TCP before this (unwanted replies) */
	_Atomic uint32_t unwanted_total; /* unwanted replies since the entry began (dump) */
	_Atomic bool has_provider;
	/* The names, for the health dump only: written when the slot is
	 * claimed (and the provider once), read by the dump, both under
	 * `lock` (a spin flag held for a copy of < 1 KiB). */
	atomic_flag lock;
	struct sockaddr_storage addr;
	uint8_t zone_len;
	uint8_t zone[255]; /* wire form, lower case; zone_len 0 = not yet named */
	char provider[UPSTREAM_PROVIDER_MAX];
};

/* The counters of struct upstream_counters, as atomics. */
struct upstream_stats {
	_Atomic uint64_t queries, retries, hedges, timeouts;
	_Atomic uint64_t breaker_opens, breaker_closes;
	_Atomic uint64_t refused_breaker, refused_budget, refused_inflight;
	_Atomic uint64_t caps_mismatches, caps_fallbacks;
	_Atomic uint64_t unwanted, unwanted_tcp_switches, unwanted_tcp_queries;
	_Atomic uint64_t refused_client_inflight, refused_client_budget;
	_Atomic uint64_t outgoing_range_full, fd_exhausted;
};
#define UPSTREAM_COUNT(servers, field)                                                             \
	atomic_fetch_add_explicit(&(servers)->stats.field, 1, memory_order_relaxed)

/* Everything the workers share. Lock-free except the names of health
 * slots (see struct upstream_health_slot). */
struct upstream_servers {
	struct util_siphash_key hash_key;
	const struct psl_ctx_st *psl;
	struct psl_ctx_st *psl_owned; /* freed with the table (NULL: builtin) */
	struct upstream_stats stats;
	/* uv_now (ms, CLOCK_MONOTONIC in every loop) of the last "out of
	 * descriptors" warning: at most one a second for the process. */
	_Atomic uint64_t fd_warned_ms;
	struct upstream_budget budget;
	struct upstream_server_slot slots[UPSTREAM_SERVERS_SLOTS];
	_Atomic uint32_t zone_inflight[UPSTREAM_ZONE_SLOTS];
	_Atomic uint32_t share_inflight[UPSTREAM_SHARE_SLOTS];
	struct upstream_health_slot health[UPSTREAM_HEALTH_SLOTS];
};

/* Keyed hash (util/siphash.h with the table's secret key); never 0. */
uint64_t upstream_servers_hash(const struct upstream_servers *servers, const void *buf, size_t len);
/* The key of `addr` (family, address, port, scope); 0 for other families. */
uint64_t upstream_servers_addr_key(const struct upstream_servers *servers,
				   const struct sockaddr *addr);

/* Reads the aged estimate of `addr` at `now_ms` (unknown when absent). */
void upstream_servers_get(struct upstream_servers *servers, const struct sockaddr *addr,
			  uint64_t now_ms, struct upstream_rtt *out);
/* Records a measured RTT / a timeout for `addr` at `now_ms`. */
void upstream_servers_sample(struct upstream_servers *servers, const struct sockaddr *addr,
			     unsigned rtt_ms, uint64_t now_ms);
void upstream_servers_timeout(struct upstream_servers *servers, const struct sockaddr *addr,
			      uint64_t now_ms);
/* Slots in use (for tests and statistics; a racy snapshot). */
size_t upstream_servers_count(struct upstream_servers *servers);

/* The in-flight counter of `addr` (its slot claimed if needed), or NULL
 * when the table cannot hold it (then nothing is counted). */
_Atomic uint32_t *upstream_servers_inflight(struct upstream_servers *servers,
					    const struct sockaddr *addr, uint64_t now_ms);
/* Queries in flight to `addr` (0 when absent). */
unsigned upstream_servers_inflight_count(struct upstream_servers *servers,
					 const struct sockaddr *addr);

/*
 * 0x20 per server (draft-vixie-dnsext-dns0x20): whether it preserves the
 * case of query names, learned. One 64-bit word per server slot: the low 8
 * bits count case-only mismatches with no case-preserving answer since,
 * the rest is the end of a no-caps period (ms, 0 = none). Pure, so tests
 * drive the clock; servers.c applies them with CAS loops.
 */
/* Case-only mismatches (each with the right ID and port) that turn 0x20
 * off for a server: one is a spoof or a fluke, three in a row a habit. */
#define UPSTREAM_CAPS_MISMATCHES 3u
/* How long a server learned not to preserve case is asked without caps
 * before it is tried again (it may have been fixed, or it was a spoofer). */
#define UPSTREAM_CAPS_OFF_MS (UINT64_C(3600) * 1000)
/* Whether a query to a server in state `word` may use caps at `now_ms`. */
bool upstream_caps_allowed(uint64_t word, uint64_t now_ms);
/* One case-only mismatch at `now_ms`; *learned when it turned caps off
 * (once per period: mismatches while off are not counted). */
uint64_t upstream_caps_mismatch(uint64_t word, uint64_t now_ms, bool *learned);
/* An exact echo of a mixed-case name: the server preserves case. */
uint64_t upstream_caps_preserved(uint64_t word);

/* The table's side of the above, for the server slot of `addr`. A server
 * not in the table may use caps. */
bool upstream_servers_caps(struct upstream_servers *servers, const struct sockaddr *addr,
			   uint64_t now_ms);
/* True when this mismatch turned caps off for `addr` (log it, count it). */
bool upstream_servers_caps_mismatch(struct upstream_servers *servers, const struct sockaddr *addr,
				    uint64_t now_ms);
void upstream_servers_caps_preserved(struct upstream_servers *servers, const struct sockaddr *addr);

/* In-flight counters: take one unit unless `cap` (0 = no cap) is reached
 * (CAS loop: the cap holds across workers); give it back (never below 0). */
bool upstream_inflight_take(_Atomic uint32_t *counter, unsigned cap);
void upstream_inflight_put(_Atomic uint32_t *counter);

/* ---- health.c: the shared table of breakers ---------------------------------- */

/* What one query leg holds, released when it ends (any way). */
struct upstream_claim {
	_Atomic uint32_t *server_inflight; /* per address (servers.c) */
	_Atomic uint32_t *zone_inflight;   /* per zone */
	_Atomic uint32_t *share_inflight;  /* per (zone, client key) */
	struct upstream_health_slot *health;
	uint64_t health_key;
	bool probe;    /* holds the half-open breaker's probe */
	bool recorded; /* the outcome went to the breaker */
};

/* Key of a zone (lower-cased wire form; len 0 or NULL = the root). */
uint64_t upstream_zone_key(const struct upstream_servers *servers, const uint8_t *zone, size_t len);
/* Key of (server, zone). */
uint64_t upstream_health_key(const struct upstream_servers *servers, const struct sockaddr *addr,
			     uint64_t zone_key);
/* The verdict for an entry at `now_ms` (ALLOW when there is none). */
enum upstream_health_verdict upstream_health_check(struct upstream_servers *servers, uint64_t hkey,
						   uint64_t now_ms);
enum upstream_zone_verdict {
	UPSTREAM_ZONE_TAKEN,
	UPSTREAM_ZONE_FULL,  /* the zone is at its cap */
	UPSTREAM_ZONE_SHARE, /* the zone is busy and this client key is at its share */
};
/*
 * Takes one unit of the zone's in-flight count and one of (zone,
 * client_key)'s into c->zone_inflight and c->share_inflight, unless the
 * zone is at `cap` (0 = no cap) or upstream_share_allows() says no (the
 * share: `share_percent` of the cap, at least UPSTREAM_SHARE_MIN_INFLIGHT);
 * nothing is taken then. The cap holds across workers (CAS); the share is
 * judged on a count read just before, so racing workers may pass it by one
 * each.
 */
enum upstream_zone_verdict upstream_health_zone_take(struct upstream_servers *servers,
						     uint64_t zone_key, uint64_t client_key,
						     unsigned cap, unsigned share_percent,
						     struct upstream_claim *c);
/* Queries in flight for the zone's counter (for tests and logs). */
unsigned upstream_health_zone_inflight(struct upstream_servers *servers, uint64_t zone_key);
/*
 * Takes an in-flight unit on (server, zone), creating the entry (with the
 * names for the health dump; `provider` may be NULL or "") and, with
 * `probe`, the breaker's probe. False when the probe went to another query
 * (nothing taken then).
 */
bool upstream_health_take(struct upstream_servers *servers, uint64_t hkey,
			  const struct sockaddr *addr, const uint8_t *zone, size_t zone_len,
			  const char *provider, uint64_t now_ms, bool probe, unsigned lease_ms,
			  struct upstream_claim *c);

/* What one outcome did to the breaker, for the caller's log. */
struct upstream_health_event {
	bool opened, closed;
	unsigned failures, opens, cooldown_ms;
};
/* Feeds the outcome of the leg holding `c` (ok = any response). */
void upstream_health_record(struct upstream_servers *servers, struct upstream_claim *c, bool ok,
			    uint64_t now_ms, const struct upstream_breaker_params *p, uint32_t rnd,
			    struct upstream_health_event *ev);
/* Gives back everything `c` holds (an unreported probe is released). */
void upstream_health_release(struct upstream_servers *servers, struct upstream_claim *c);

/*
 * Unwanted replies per (server, zone): messages on a leg that were not its
 * answer (wrong ID, QR=0, another question, wrong case, malformed, from
 * elsewhere). A window of UPSTREAM_UNWANTED_WINDOW_MS packed in one word
 * (start ms << 16 | count, saturating); the threshold-th message in one
 * window trips it, and the zone is then asked over TCP for
 * UPSTREAM_UNWANTED_TCP_MS.
 */
#define UPSTREAM_UNWANTED_WINDOW_MS 60000u
#define UPSTREAM_UNWANTED_TCP_MS 300000u
/* Pure: one more unwanted message at `now_ms`; *tripped when its count
 * reached `threshold` (> 0) with this one. */
uint64_t upstream_unwanted_step(uint64_t word, uint64_t now_ms, unsigned threshold, bool *tripped);
/* Counts one unwanted message on the leg holding `c` (globally, and on its
 * entry if any). True when it switched the entry to TCP (it was not
 * already): the caller logs it, once. */
bool upstream_health_unwanted(struct upstream_servers *servers, const struct upstream_claim *c,
			      uint64_t now_ms, unsigned threshold);
/* Whether queries under `c`'s entry go over TCP at `now_ms`. */
bool upstream_health_tcp(const struct upstream_claim *c, uint64_t now_ms);

/* ---- provider.c: which provider a name server belongs to ----------------------- */

/* Loads the public suffix list once per table (psl_latest, else builtin). */
void upstream_provider_init(struct upstream_servers *servers);
void upstream_provider_deinit(struct upstream_servers *servers);
/* The registrable domain of NS host name `ns`, lower case, no final dot
 * ("example.co.uk" for ns.example.co.uk.); the whole name when it has none.
 * Returns the length written ("" and 0 for NULL). */
size_t upstream_provider_name(const struct upstream_servers *servers, const ldns_rdf *ns, char *out,
			      size_t cap);
/* A 64-bit id of a provider name (FNV-1a), for grouping. */
uint64_t upstream_provider_id(const char *name);

/* ---- select.c: which server a leg goes to --------------------------------------- */

/* Candidates considered per attempt (after the address policy). A
 * delegation seldom has more than 13 servers with two addresses each. */
#define UPSTREAM_CANDIDATES_MAX 64
/* Upper bound of a breaker probe's timeout (ms). */
#define UPSTREAM_PROBE_TIMEOUT_MS 800u

/* Where selection draws its random numbers (exploration, ties, jitter):
 * util/random.h in production, a fixed sequence in tests. */
struct upstream_rng {
	uint32_t (*u32)(void *ctx);
	uint32_t (*uniform)(void *ctx, uint32_t bound); /* in [0, bound), bound > 0 */
	void *ctx;
};

/* What one selection is asked. Everything is borrowed for the call. */
struct upstream_select_in {
	const struct upstream_opts *opts;
	/* The attempt's request; NULL for upstream_select_hedge(). */
	const struct upstream_request *req;
	const uint8_t *zone; /* wire form, lower case or not; "\0" for the root */
	size_t zone_len;
	uint64_t zone_key;		/* upstream_zone_key(zone) */
	uint64_t now_ms;		/* monotonic (the uv_now base) */
	const struct upstream_rng *rng; /* NULL: util/random.h */
};

/* One server chosen for one leg, and what the leg holds while it runs. */
struct upstream_pick {
	struct sockaddr_storage server;	      /* AF_UNSPEC: none (zero-initialised) */
	uint64_t hkey;			      /* health key of (server, zone) */
	bool probe;			      /* this leg is the half-open breaker's probe */
	unsigned timeout_ms;		      /* of this leg */
	unsigned delay_ms;		      /* a planned hedge: due this long after the primary */
	char provider[UPSTREAM_PROVIDER_MAX]; /* "" without NS names */
	uint64_t client_key;		      /* upstream_client_key() of the request */
	struct upstream_claim claim;	      /* in-flight units, probe; given back by the caller */
};

/*
 * Chooses the primary server of an attempt and takes its claims into
 * primary->claim (zone and server in-flight units, the (server, zone)
 * entry, the probe when it is one), or says why not, counting it: REFUSED
 * (no candidate allowed), LIMITED (the retry budget, an in-flight cap) or
 * UNREACHABLE (every allowed candidate's breaker is open, or none is due a
 * probe for a probe-only request); nothing is held then. `primary` and
 * `hedge` start zeroed. With UDP and NS names, also plans the hedge: its
 * server, provider and delay in `hedge` (AF_UNSPEC when there is none);
 * nothing is taken for it yet.
 */
enum upstream_status upstream_select(struct upstream_servers *servers,
				     const struct upstream_select_in *in,
				     struct upstream_pick *primary, struct upstream_pick *hedge);
/*
 * Admits the planned hedge now (in->req is NULL): the retry budget, its
 * breaker (closed only), the zone and server caps. 0 with the claims taken
 * and hedge->timeout_ms set, or -EAGAIN with nothing held.
 */
int upstream_select_hedge(struct upstream_servers *servers, const struct upstream_select_in *in,
			  struct upstream_pick *hedge);
/* The key of a client's prefix for the fair shares: keyed SipHash of its
 * /24 (IPv4, also IPv4-mapped IPv6) or /56 (IPv6); 0 for NULL or another
 * family (no client: a share of its own). Never 0 otherwise. */
uint64_t upstream_client_key(const struct upstream_servers *servers, const struct sockaddr *client);
/* The breaker parameters `opts` imply (the probe lease outlasts any query). */
struct upstream_breaker_params upstream_select_breaker_params(const struct upstream_opts *opts);

/* ---- wire.c: the query and the response check ----------------------------- */

/* The largest query we build: header, a 255-octet name, type, class, OPT. */
#define UPSTREAM_QUERY_MAX 512u

/* Why a response was (not) accepted; the names are for debug logs. */
enum upstream_match {
	UPSTREAM_MATCH_OK = 0,
	UPSTREAM_MATCH_SHORT,	  /* shorter than a header */
	UPSTREAM_MATCH_ID,	  /* another ID */
	UPSTREAM_MATCH_NOT_REPLY, /* QR=0 */
	UPSTREAM_MATCH_MALFORMED, /* the question cannot be read */
	UPSTREAM_MATCH_BODY, /* the records, a name or an RDATA break dns_wire_skim()'s bounds */
	UPSTREAM_MATCH_QUESTION, /* not exactly one question, or not ours */
	UPSTREAM_MATCH_CASE,	 /* exact mode: all ours but the letter case of the name */
	/* Not from upstream_wire_match*(): transport.c's own reasons. */
	UPSTREAM_MATCH_SOURCE,	  /* a datagram from another address or port */
	UPSTREAM_MATCH_TRUNCATED, /* a datagram larger than the buffer */
};

const char *upstream_match_str(enum upstream_match m);

/*
 * Writes a query with dns_write_query() (`id`, one question, an OPT record
 * advertising `edns_size` with the DO bit as asked, no OPT when edns_size
 * == 0), with RD set when `rd` (forwarding). Returns the length, or a
 * negative errno.
 */
int upstream_wire_query(uint8_t *out, size_t cap, uint16_t id, const ldns_rdf *qname,
			uint16_t qtype, uint16_t qclass, uint16_t edns_size, bool dnssec_ok,
			bool rd);

/*
 * Checks, on the wire and without parsing the rest, that `wire` answers the
 * query `id` for exactly this question (RFC 5452 §9.1): QR=1, QDCOUNT=1,
 * the name at offset 12 uncompressed and equal to `qname` up to ASCII case
 * (RFC 4343), then QTYPE and QCLASS. Never reads outside [wire, wire+len).
 * Whether the rest of the message parses is the resolver's business.
 */
enum upstream_match upstream_wire_match(const uint8_t *wire, size_t len, uint16_t id,
					const ldns_rdf *qname, uint16_t qtype, uint16_t qclass);
/*
 * The same check against the wire name `name` (`name_len` octets,
 * uncompressed). With `exact` the name must come back octet for octet (the
 * 0x20 question): a reply that would match up to ASCII case is
 * UPSTREAM_MATCH_CASE (every other check passed), never OK.
 */
enum upstream_match upstream_wire_match_name(const uint8_t *wire, size_t len, uint16_t id,
					     const uint8_t *name, size_t name_len, uint16_t qtype,
					     uint16_t qclass, bool exact);
/*
 * draft-vixie-dnsext-dns0x20: gives each ASCII letter of the uncompressed
 * wire name `name` (in place) a random case, one random bit per letter from
 * `rng` (NULL: util/random.h). Length octets and other octets are left
 * alone. True when the result has both an upper- and a lower-case letter:
 * only then does an exact echo show that the server preserves case (one
 * that lower-cases, or upper-cases, everything cannot produce it).
 */
bool upstream_wire_caps(uint8_t *name, size_t name_len, const struct upstream_rng *rng);
/* Writes `name` (`name_len` octets) over the question name at offset 12 of
 * an accepted response `wire`, so names compressed to it read in the case
 * the resolver asked. No-op when it does not fit. */
void upstream_wire_restore_qname(uint8_t *wire, size_t len, const uint8_t *name, size_t name_len);

/* ---- upstream.c and transport.c: one worker's attempts on libuv ---------------- */

/* One worker's upstream: only its loop's thread touches it. */
struct upstream {
	uv_loop_t *loop;
	const struct upstream_opts *opts;
	struct upstream_servers *servers;
	struct upstream_query *queries; /* every attempt not yet freed */
	unsigned sockets;		/* legs' sockets open: outgoing-range counts these */
	bool destroying;
	/* One datagram at a time: libuv calls alloc and recv back to back, and
	 * a response is only valid during the callback, so attempts share it. */
	uint8_t recvbuf[65536];
};

enum upstream_leg_state {
	UPSTREAM_LEG_IDLE,   /* not sent (a hedge not yet due, or none) */
	UPSTREAM_LEG_ACTIVE, /* sent, waiting */
	UPSTREAM_LEG_DONE,   /* ended; handles closed or closing */
};

/* One query sent (the primary, the hedge): its own socket, timer, ID and
 * claims. Owned by its struct upstream_query; handles closed by upstream.c. */
struct upstream_leg {
	struct upstream_query *q;
	enum upstream_leg_state state;
	bool tcp;
	bool caps;		    /* the name in `query` is in random case: match exactly */
	bool caps_proof;	    /* and mixed case: an exact echo shows the case is kept */
	bool sock_open, timer_open; /* initialised, to be closed */
	struct upstream_pick pick;  /* the server, its timeout, what is held */

	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_udp_t udp;
		uv_tcp_t tcp;
	} sock;
	uv_timer_t timer;
	uv_udp_send_t send_req;
	uv_connect_t connect_req;
	uv_write_t write_req;

	uint64_t start_ms;
	uint16_t id;
	/* The query, behind room for the TCP length prefix (RFC 1035 §4.2.2). */
	uint8_t query[2 + UPSTREAM_QUERY_MAX];

	/* TCP framing of the response being read. */
	uint8_t tcp_prefix[2];
	size_t tcp_have; /* octets of the current message read, prefix included */
	size_t tcp_len;	 /* its length, once the prefix is in */
	uint8_t *tcp_msg;
};

/* The primary and the hedge; each may be asked once more without caps
 * after a case-only mismatch, on the leg UPSTREAM_LEG_RECASE further on
 * (a fresh socket, ID and timer; the claims move over). */
enum {
	UPSTREAM_LEG_PRIMARY,
	UPSTREAM_LEG_HEDGE,
	UPSTREAM_LEG_RECASE,
	UPSTREAM_LEG_COUNT = 2 * UPSTREAM_LEG_RECASE
};

/* One attempt: what upstream_query_start() returns a handle to. */
struct upstream_query {
	struct upstream *up;
	struct upstream_query *prev, *next;
	upstream_cb cb;
	void *arg;

	bool running; /* false once reported or cancelled */
	bool tcp;
	bool deferred; /* the timer reports `deferred_status` */
	enum upstream_status deferred_status;
	bool timer_open;
	bool hedge_pending; /* the timer starts the hedge */
	bool hedge_sent;
	bool timed_out;	  /* a leg timed out (else the failures were network errors) */
	unsigned handles; /* open libuv handles; freed at 0 */
	uv_timer_t timer;

	uint64_t start_ms;
	uint16_t qtype, qclass;
	ldns_rdf *qname;
	size_t qlen;
	uint64_t zone_key;
	size_t zone_len;
	uint8_t zone[255]; /* wire form; "\0" for the root */

	struct upstream_leg leg[UPSTREAM_LEG_COUNT];
};

static inline const char *upstream_leg_proto(const struct upstream_leg *leg)
{
	return leg->tcp ? "tcp" : "udp";
}

/*
 * transport.c: opens the leg's socket (counted in q->handles, closed by
 * upstream.c) and sends the query (UDP), or starts connecting (TCP; the
 * query follows on connect). 0, or a negative errno with the leg left for
 * the caller to abort (nothing was sent). The leg's outcome comes back
 * through upstream_leg_failed() and upstream_leg_answered().
 */
int upstream_transport_start(struct upstream_leg *leg);

/* upstream.c: a leg not sent because its worker's outgoing-range is full
 * (reported as UPSTREAM_LIMITED). */
#define UPSTREAM_E_RANGE (-1001)

/* upstream.c: a leg failed (timeout, network error: `err` a UV_E* or 0). */
void upstream_leg_failed(struct upstream_leg *leg, enum upstream_status status, int err,
			 const char *what);
/* upstream.c: a response that upstream_wire_match() accepted came on `leg`. */
void upstream_leg_answered(struct upstream_leg *leg, const uint8_t *wire, size_t len);
/* upstream.c: a message on the active `leg` that is not its answer, for
 * reason `m`: counted; a case-only mismatch asks again without caps. */
void upstream_leg_unwanted(struct upstream_leg *leg, enum upstream_match m);
