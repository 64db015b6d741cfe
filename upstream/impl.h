/*
 * upstream/impl.h — declarations shared only inside the upstream module.
 *
 * Three layers, each testable on its own:
 *  - rtt.c: the pure arithmetic of one server's estimate (RFC 6298 smoothed
 *    RTT and variance, timeout backoff, forgetting) and the choice of a
 *    server among candidates. No clock, no randomness, no atomics: time and
 *    random numbers come in as arguments so tests can drive them.
 *  - servers.c: the shared table of estimates (C11 atomics, no lock).
 *  - wire.c: building the query and matching a response (ldns).
 * upstream.c does the I/O on libuv and glues them together.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <ldns/ldns.h>

struct upstream_servers;

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
#define UPSTREAM_RTT_FORGET_MS (15u * 60u * 1000u)
/* One backoff step is forgiven per this much time without news, so a server
 * that was down is tried again (at a normal timeout) after a quiet spell. */
#define UPSTREAM_RTT_DECAY_MS 10000u

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

/* ---- servers.c: the shared table ----------------------------------------- */

/* Slots in the table (a power of two) and the probe window of one key. */
#define UPSTREAM_SERVERS_SLOTS 4096u
#define UPSTREAM_SERVERS_PROBE 8u

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

/* ---- wire.c: the query and the response check ----------------------------- */

/* The largest query we build: header, a 255-octet name, type, class, OPT. */
#define UPSTREAM_QUERY_MAX 512u

/* Why a response was (not) accepted; the names are for debug logs. */
enum upstream_match {
	UPSTREAM_MATCH_OK = 0,
	UPSTREAM_MATCH_SHORT,	  /* shorter than a header */
	UPSTREAM_MATCH_ID,	  /* another ID */
	UPSTREAM_MATCH_NOT_REPLY, /* QR=0 */
	UPSTREAM_MATCH_MALFORMED, /* ldns could not parse it */
	UPSTREAM_MATCH_QUESTION,  /* not exactly our question */
};

const char *upstream_match_str(enum upstream_match m);

/*
 * Writes a query: `id`, RD=0, one question, an OPT record advertising
 * `edns_size` with the DO bit as asked (no OPT when edns_size == 0).
 * Returns the length, or a negative errno. Same contract as the dns/
 * module's dns_write_query(), which it stands in for.
 */
int upstream_wire_query(uint8_t *out, size_t cap, uint16_t id, const ldns_rdf *qname,
			uint16_t qtype, uint16_t qclass, uint16_t edns_size, bool dnssec_ok);

/* Checks that `wire` answers the query `id` for exactly this question (the
 * name compared case-insensitively, RFC 4343). */
enum upstream_match upstream_wire_match(const uint8_t *wire, size_t len, uint16_t id,
					const ldns_rdf *qname, uint16_t qtype, uint16_t qclass);
