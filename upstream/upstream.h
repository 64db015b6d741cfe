/*
 * upstream — queries to authoritative servers over UDP and TCP (libuv).
 *
 * Every query the resolver sends to an authority passes through here. One
 * `struct upstream` per worker thread, used only on that worker's loop; the
 * server table (`struct upstream_servers`: RTT estimates per server
 * address, breakers per (server, zone), in-flight counts, the retry budget,
 * counters) is shared by all workers and updated with atomics (no lock on
 * the query path; thread-safe).
 *
 * One call = one attempt: upstream picks ONE server from the candidates
 * (breakers open for the zone skipped, a half-open one probed once, another
 * provider than the server that just failed preferred, then the lowest
 * expected RTT with a little exploration so a recovered or unknown server
 * gets tried), may refuse (retry budget, in-flight caps), sends one query
 * from a fresh socket (UDP: a source port and an ID drawn from getrandom,
 * RFC 5452 §9.2), may hedge to a server of another provider, and reports
 * exactly one outcome. Retrying another server is the resolver's decision.
 *
 * A response is accepted only when it comes from the address and port the
 * query went to, carries the query's ID, QR=1, and echoes the question (one
 * question; checked on the wire, RFC 5452 §9.1); anything else is ignored
 * and the attempt keeps waiting until its timeout (spoofing resistance).
 * With `use_caps_for_id` (draft-vixie-dnsext-dns0x20) the letters of the
 * name sent over UDP are in random case and the echo must match octet for
 * octet; a reply that differs only in case is not accepted, and the same
 * server is asked again at once without caps (one that keeps doing it is
 * learned as not preserving case). Otherwise the name is compared up to
 * ASCII case (RFC 4343). Messages not accepted are counted as unwanted per
 * (server, zone); past `unwanted_reply_threshold` in a window that zone is
 * asked over TCP for a while. The caller gets the bytes of an accepted
 * response with the question name in the case it asked; the rest is not
 * parsed here.
 *
 * Parses no client requests. Does not interpret responses beyond matching
 * (and the RCODE, which tells the RTT estimate that a SERVFAIL or REFUSED
 * server is of no use for now).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <ldns/ldns.h>
#include <uv.h>

#include "dns/dns.h" /* DNS_NAME_MAX_TEXT */

struct upstream_servers; /* shared, thread-safe */
struct upstream;	 /* per worker */
struct upstream_query;	 /* one attempt in flight */

struct upstream_opts {
	uint16_t edns_buffer_size; /* advertised upstream (default 1232) */
	bool do_ip4, do_ip6;
	bool do_not_query_localhost; /* refuse 127.0.0.0/8 and ::1 targets */
	/* Source addresses for outgoing queries; family AF_UNSPEC = any. */
	struct sockaddr_storage source4, source6;
	unsigned timeout_min_ms; /* lower bound of an attempt's timeout (default 200) */
	unsigned timeout_max_ms; /* upper bound (default 3000) */
	unsigned tcp_timeout_ms; /* whole TCP exchange (default 5000) */
	/* Calm retries: health per (server, zone) and limits (issue 5). */
	unsigned breaker_threshold;	  /* consecutive failures that open a breaker (3) */
	unsigned breaker_cooldown_ms;	  /* first cool-down before the probe (500 ms) */
	unsigned breaker_cooldown_max_ms; /* the doubling cool-down's cap (1500 ms), jittered */
	unsigned hedge_min_ms;		  /* hedge no earlier than this (50 ms) */
	unsigned max_inflight_server;  /* queries in flight per server address, all workers (64) */
	unsigned max_inflight_zone;    /* queries in flight per zone, all workers (128) */
	unsigned retry_budget_percent; /* retries allowed, % of first attempts (10) */
	unsigned retry_budget_floor;   /* plus this many per window (10) */
	unsigned retry_budget_window_ms; /* sliding window of the budget (10000 ms) */
	/* Spoofing resistance beyond ID and port (issue 12). */
	bool use_caps_for_id; /* random letter case in UDP query names (yes) */
	/* caps-exempt: names at or below these are sent without caps (wire
	 * form, borrowed for the upstream's lifetime). */
	ldns_rdf *const *caps_exempt;
	size_t ncaps_exempt;
	/* Unwanted replies per (server, zone) within UPSTREAM_UNWANTED_WINDOW_MS
	 * that switch the zone's queries to that server to TCP (10; 0 = never). */
	unsigned unwanted_reply_threshold;
	/* Fair shares (issue 12): a client prefix (/24, /56) at or over this
	 * percentage of a zone's in-flight cap (at least
	 * UPSTREAM_SHARE_MIN_INFLIGHT) or of the window's retries is refused
	 * once no more than one such share is left; below that it may take
	 * more. 25; 0 = no shares. */
	unsigned client_share_percent;
	/* outgoing-range: upstream sockets open at once in one worker (4096;
	 * 0 = no cap); at the cap an attempt reports UPSTREAM_LIMITED. */
	unsigned outgoing_range;
};

enum upstream_status {
	UPSTREAM_OK = 0,      /* a matching response; wire/len set */
	UPSTREAM_TIMEOUT,     /* no matching response in time */
	UPSTREAM_NETERR,      /* send/connect failed, ICMP unreachable, TCP reset */
	UPSTREAM_REFUSED,     /* no candidate allowed (family off, localhost, none given) */
	UPSTREAM_UNREACHABLE, /* every allowed candidate's breaker is open for this zone */
	UPSTREAM_LIMITED,     /* an in-flight cap, the retry budget or outgoing-range said no */
};

struct upstream_result {
	enum upstream_status status;
	struct sockaddr_storage server; /* the server asked (when one was picked) */
	const uint8_t *wire;		/* the response, valid during the callback only */
	size_t len;
	unsigned rtt_ms;
	bool tcp;
	/* A second query went to another provider (hedge); AF_UNSPEC if not.
	 * On TIMEOUT neither answered. */
	struct sockaddr_storage hedged;
	/* This response closed a breaker: an authority came back. */
	bool recovered;
};

/* Called exactly once per started attempt, unless cancelled first. */
typedef void (*upstream_cb)(void *arg, const struct upstream_result *res);

struct upstream_request {
	const ldns_rdf *qname;
	uint16_t qtype, qclass;
	bool tcp; /* send over TCP (after TC=1) */
	bool dnssec_ok;
	const struct sockaddr_storage *candidates; /* port included (normally 53) */
	size_t ncandidates;
	/* The candidates come from the operator's configuration (root hints,
	 * stub and forward zones): do_not_query_localhost does not apply. */
	bool configured;
	/* The zone cut asked: health and breakers are kept per (server, zone),
	 * in-flight caps per zone. NULL = the root. */
	const ldns_rdf *zone;
	/* NS host name of each candidate (parallel to `candidates`), for
	 * grouping servers by provider; NULL = every address its own provider. */
	const ldns_rdf *const *candidate_ns;
	/* The server that just failed for this question: prefer a candidate of
	 * another provider. NULL if none. */
	const struct sockaddr_storage *avoid;
	/* Not the first attempt for this question: paid from the retry budget. */
	bool retry;
	/* Recursion desired: the candidates are recursive resolvers (forward
	 * zones), not authorities. */
	bool rd;
	/* Send only as a breaker probe (a background refresh behind an answer
	 * already given): when no candidate is due a probe, report
	 * UPSTREAM_UNREACHABLE without sending anything. */
	bool probe_only;
	/* The client that asked (for coalesced questions, the first one): its
	 * /24 (IPv4) or /56 (IPv6) prefix has a share of the zone's in-flight
	 * cap and of the retry budget (client_share_percent). NULL = no
	 * client (its own share). */
	const struct sockaddr *client;
};

/* The shared server table. NULL on allocation failure. */
struct upstream_servers *upstream_servers_create(void);
void upstream_servers_destroy(struct upstream_servers *servers);
/* Expected RTT for `addr` in ms (an unknown server gets a default). */
unsigned upstream_servers_rtt(struct upstream_servers *servers, const struct sockaddr *addr);

/* Per worker. `opts` and `servers` are borrowed for the upstream's lifetime. */
struct upstream *upstream_create(uv_loop_t *loop, const struct upstream_opts *opts,
				 struct upstream_servers *servers);
/* Cancels every attempt in flight (their callbacks are not called) and frees
 * once libuv has closed the handles; run the loop afterwards. */
void upstream_destroy(struct upstream *up);

/*
 * Starts one attempt; `req` and what it points to are borrowed for the
 * call only. On success *out (optional) is a handle for
 * upstream_query_cancel() and `cb` will be called exactly once, never from
 * inside this call. On error (negative errno) `cb` is never called. When
 * no server may be asked (REFUSED, UNREACHABLE, LIMITED) or the socket
 * cannot be set up (NETERR), the call still succeeds and `cb` reports it
 * on the next loop turn.
 */
int upstream_query_start(struct upstream *up, const struct upstream_request *req, upstream_cb cb,
			 void *arg, struct upstream_query **out);
/* The callback will not be called. The handle is invalid afterwards. */
void upstream_query_cancel(struct upstream_query *q);

/* Default opts. */
void upstream_opts_init(struct upstream_opts *opts);
/* True when `addr` may be queried under `opts` (family allowed, localhost policy). */
bool upstream_addr_allowed(const struct upstream_opts *opts, const struct sockaddr *addr);

/* ---- health, for the control socket ----------------------------------- */

enum upstream_breaker {
	UPSTREAM_BREAKER_CLOSED,
	UPSTREAM_BREAKER_OPEN,	    /* skipped until the cool-down ends */
	UPSTREAM_BREAKER_HALF_OPEN, /* one probe allowed / in flight */
};

struct upstream_health_info {
	struct sockaddr_storage addr;
	char zone[DNS_NAME_MAX_TEXT];	  /* presentation form */
	char provider[DNS_NAME_MAX_TEXT]; /* registrable domain of the NS name, or "" */
	unsigned srtt_ms, rto_ms;
	unsigned failures; /* consecutive, for this zone */
	enum upstream_breaker breaker;
	unsigned cooldown_left_ms; /* OPEN: time until the next probe */
	unsigned inflight;
	uint32_t unwanted;    /* unwanted replies seen, for this zone, since the entry began */
	unsigned tcp_left_ms; /* > 0: queries for this zone go over TCP this much longer */
	bool no_caps;	      /* the server is learned not to preserve case (no 0x20) */
};
typedef void (*upstream_health_cb)(void *arg, const struct upstream_health_info *info);
/* Calls `cb` for every (server, zone) with health state; thread-safe. */
void upstream_servers_health(struct upstream_servers *servers, upstream_health_cb cb, void *arg);

struct upstream_counters {
	uint64_t queries; /* attempts started (first + retries + hedges) */
	uint64_t retries;
	uint64_t hedges;
	uint64_t timeouts;
	uint64_t breaker_opens, breaker_closes;
	uint64_t refused_breaker;     /* UPSTREAM_UNREACHABLE answers */
	uint64_t refused_budget;      /* retries refused by the budget */
	uint64_t refused_inflight;    /* attempts refused by an in-flight cap */
	uint64_t outgoing_range_full; /* legs not sent: the worker's outgoing-range was full */
	uint64_t fd_exhausted;	      /* legs not sent: socket() said EMFILE or ENFILE */
	uint64_t caps_mismatches;     /* replies that differed from a 0x20 question only in case */
	uint64_t caps_fallbacks;      /* servers learned not to preserve case */
	uint64_t unwanted;	      /* messages on a leg that were not its answer */
	uint64_t unwanted_tcp_switches;	  /* (server, zone) switched to TCP by unwanted replies */
	uint64_t unwanted_tcp_queries;	  /* queries sent over TCP because of such a switch */
	uint64_t refused_client_inflight; /* a client prefix over its share of a busy zone */
	uint64_t refused_client_budget;	  /* a client prefix over its share of a spent budget */
};
void upstream_servers_counters(struct upstream_servers *servers, struct upstream_counters *out);
