/*
 * resolver — the iterator, as a sans-I/O state machine.
 *
 * One `struct resolver_request` per client question. The caller (daemon/)
 * drives it:
 *
 *	req = resolver_request_create(env, qname, qtype, qclass, now);
 *	while (resolver_produce(req, now, &send) == RESOLVER_SEND) {
 *		... send `send.qname/qtype` to one of `send.servers` (upstream/) ...
 *		resolver_consume(req, now, &outcome);
 *	}
 *	answer = resolver_answer(req);   (rcode + sections, for dns_write_answer)
 *	resolver_request_destroy(req);
 *
 * The resolver never touches a socket or a timer: it says "ask this question
 * of one of these servers" and is fed what came back (a response, or that
 * the attempt failed). That is what lets unit tests and replay suites drive
 * it without a network.
 *
 * What it does: cache lookups, priming of the root NS set (RFC 8109), the
 * zone-cut walk with referrals and glue, glueless delegations (NS addresses
 * resolved on demand in sub-queries), CNAME/DNAME chains, negative answers,
 * QNAME minimisation (relaxed, QTYPE=NS for intermediate labels), TC=1 ->
 * TCP, bailiwick scrubbing and credibility ranking when caching, and the caps
 * that keep loops and amplification short (see struct resolver_limits).
 *
 * Not thread-safe per request; requests are independent. Time `now` is
 * wall-clock seconds (cache expiry).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <ldns/ldns.h>

#include "cache/cache.h"

struct resolver_request;

struct resolver_limits {
	unsigned max_upstream_queries; /* per client request, sub-queries included (default 64) */
	unsigned max_referrals;	       /* referrals followed per request (default 32) */
	unsigned max_cname_chain;      /* CNAME/DNAME links per answer (default 12) */
	unsigned max_ns_fetches;       /* glueless NS names per delegation found not to exist
					  (NXDOMAIN/NODATA) before no more are looked up (default 4) */
	unsigned max_depth;	       /* nesting of sub-queries (default 5) */
};

/* Names (and everything below them) the empty-answer guard covers or skips. */
struct resolver_zone_list {
	ldns_rdf **names;
	size_t count;
};

/*
 * A zone whose servers come from the configuration: a stub zone
 * (authoritative servers) or a forward zone (recursive resolvers, asked
 * with RD=1). provider_ns[i] is a name whose registrable domain stands for
 * address i's provider, so upstream/ fails over and hedges across them as
 * it does across the providers of an NS set.
 */
struct resolver_stub {
	ldns_rdf *zone;
	bool forward;
	struct sockaddr_storage *addrs;
	ldns_rdf **provider_ns;
	size_t naddrs;
};

struct resolver_opts {
	bool qname_minimisation;
	bool harden_glue;	/* drop glue outside the delegating zone */
	bool do_ip4, do_ip6;	/* address families we may query */
	uint16_t upstream_port; /* 53 */
	struct resolver_limits limits;
	/* Serve-stale, failure caching and the empty-answer guard (cache/). */
	struct cache_policy policy;
	/* Guard only these zones (empty list = every zone), never these. */
	struct resolver_zone_list guard_include, guard_exclude;
	unsigned guard_cross_checks;	   /* other servers asked before trusting emptiness (2) */
	const struct resolver_stub *stubs; /* configured stub and forward zones */
	size_t nstubs;
};

/* Counters shared by every request (atomics; read by the control socket). */
struct resolver_stats {
	atomic_uint_fast64_t requests;
	atomic_uint_fast64_t stale_answers;	 /* answered with expired data (EDE 3/19) */
	atomic_uint_fast64_t failures;		 /* resolutions that failed (SERVFAIL) */
	atomic_uint_fast64_t failures_cached;	 /* answered from a cached failure (RFC 9520) */
	atomic_uint_fast64_t guard_cross_checks; /* emptiness re-asked of another server */
	atomic_uint_fast64_t guard_rescued;	 /* another server had the data */
	atomic_uint_fast64_t guard_holds;	 /* answered the last good data instead */
	atomic_uint_fast64_t guard_accepts;	 /* emptiness believed after the hold */
	atomic_uint_fast64_t scrubbed;		 /* reply records dropped by scrub.c */
	/* Client TCP limits (daemon/client_tcp.c): connections closed at accept
	 * for incoming-num-tcp, tcp-connections-per-address and access-control
	 * deny; reads paused at the pipelining and write-queue caps; connections
	 * closed for a write queue full past tcp-idle-timeout and for a message
	 * left incomplete past it (slowloris). */
	atomic_uint_fast64_t tcp_refused_max_conns;
	atomic_uint_fast64_t tcp_refused_per_addr;
	atomic_uint_fast64_t tcp_denied;
	atomic_uint_fast64_t tcp_pipeline_pauses;
	atomic_uint_fast64_t tcp_write_pauses;
	atomic_uint_fast64_t tcp_write_stall_closes;
	atomic_uint_fast64_t tcp_partial_timeouts;
	atomic_uint_fast64_t tcp_fd_exhausted; /* accept() out of descriptors: shed */
	/* num-queries-per-thread (daemon/task.c): resolutions ended unanswered
	 * to make room (jostled), new ones not started (dropped). */
	atomic_uint_fast64_t tasks_jostled;
	atomic_uint_fast64_t tasks_dropped;
	atomic_uint_fast64_t replies_oversized; /* over RESOLVER_MAX_REPLY_RRS / _RRSET_RRS */
	atomic_uint_fast64_t ns_fetches_capped; /* delegations that hit max_ns_fetches */
	/* RD=0 queries REFUSED: access-control `allow` does not answer cache
	 * snooping (daemon/task.c). */
	atomic_uint_fast64_t refused_nonrecursive;
};

/* Shared, read-only configuration of all requests (borrowed). */
struct resolver_env {
	struct cache *cache;
	const struct resolver_opts *opts;
	/* Root hints: NS records of "." and A/AAAA of their targets. */
	const ldns_rr_list *root_hints;
	struct resolver_stats *stats; /* may be NULL */
};

enum resolver_step {
	RESOLVER_SEND, /* `struct resolver_send` says what to ask */
	RESOLVER_DONE, /* resolver_answer() is ready */
};

/* "Ask this question of one of these servers." Valid until the next call. */
struct resolver_send {
	const ldns_rdf *qname;
	uint16_t qtype, qclass;
	bool tcp;
	const ldns_rdf *zone;			/* the zone cut the servers serve */
	const struct sockaddr_storage *servers; /* candidates, not yet failed */
	const ldns_rdf *const *server_ns;	/* NS host name of each candidate */
	size_t nservers;
	bool configured; /* every server is from the root hints */
	bool retry;	 /* an earlier attempt for this step failed */
	bool rd;	 /* forwarding: recursion desired */
	bool probe_only; /* send only if a breaker of the zone is due a probe */
	const struct sockaddr_storage *avoid; /* the server that just failed, or NULL */
};

enum resolver_outcome_status {
	RESOLVER_OUTCOME_RESPONSE,    /* `wire/len` from `server` */
	RESOLVER_OUTCOME_TIMEOUT,     /* `server` (and `hedged`, if set) did not answer */
	RESOLVER_OUTCOME_ERROR,	      /* network error, or refused locally (server NULL: all) */
	RESOLVER_OUTCOME_UNREACHABLE, /* the servers are known dead (breakers open) or the
					 retry budget / in-flight caps say no: none is asked */
};

struct resolver_outcome {
	enum resolver_outcome_status status;
	const struct sockaddr_storage *server; /* the candidate asked (NULL: none was) */
	const struct sockaddr_storage *hedged; /* a second candidate asked too, or NULL */
	const uint8_t *wire;
	size_t len;
	bool tcp;
};

void resolver_opts_init(struct resolver_opts *opts);

/* NULL on allocation failure. Names are copied. */
struct resolver_request *resolver_request_create(const struct resolver_env *env,
						 const ldns_rdf *qname, uint16_t qtype,
						 uint16_t qclass, uint64_t now);
void resolver_request_destroy(struct resolver_request *req);

enum resolver_step resolver_produce(struct resolver_request *req, uint64_t now,
				    struct resolver_send *out);
void resolver_consume(struct resolver_request *req, uint64_t now,
		      const struct resolver_outcome *outcome);

/*
 * The answer after RESOLVER_DONE: rcode, answer section (CNAME chain and the
 * final RRset), authority (the SOA of a negative answer). Owned by the
 * request. Never NULL after DONE (SERVFAIL on internal failure).
 */
const ldns_pkt *resolver_answer(const struct resolver_request *req);

/*
 * An answer for the client before the resolution ends (a cached failure, or
 * stale data after a failed refresh): give it at once; the resolution goes
 * on in the background, sending only breaker probes. NULL if none.
 */
const ldns_pkt *resolver_early_answer(const struct resolver_request *req, int *ede);

/* Extended DNS Error (RFC 8914) to attach to the answer, or -1. */
int resolver_answer_ede(const struct resolver_request *req);

/*
 * Serve-stale (RFC 8767) for callers that cannot wait: an answer to
 * (qname, qtype) built from cached data that may be expired (following a
 * CNAME chain), expired records with the policy's stale TTL. NULL when the
 * cache has no usable data or serve-stale is off; *ede gets 3 (Stale
 * Answer) or 19 (Stale NXDOMAIN Answer). Caller frees with ldns_pkt_free().
 */
ldns_pkt *resolver_stale_answer(const struct resolver_env *env, const ldns_rdf *qname,
				uint16_t qtype, uint16_t qclass, uint64_t now, int *ede);
/* Cheap check: does the cache hold expired data a stale answer could use? */
bool resolver_has_stale(const struct resolver_env *env, const ldns_rdf *qname, uint16_t qtype,
			uint64_t now);

/* Upstream queries this request has sent so far (for limits and stats). */
unsigned resolver_request_upstream_count(const struct resolver_request *req);
/* A short id for log lines. */
uint32_t resolver_request_id(const struct resolver_request *req);

/* ---- response classification (exposed for unit tests and fuzzing) ----- */

enum resolver_class {
	RESOLVER_CLASS_ANSWER, /* data for (sname, stype) */
	RESOLVER_CLASS_CNAME,  /* CNAME at sname, or DNAME above it */
	RESOLVER_CLASS_NXDOMAIN,
	RESOLVER_CLASS_NODATA,	  /* AA or SOA: the name exists, no such type */
	RESOLVER_CLASS_REFERRAL,  /* NS for a zone below `zone`, at or above sname */
	RESOLVER_CLASS_EMPTY,	  /* NOERROR, nothing usable, not authoritative */
	RESOLVER_CLASS_TRUNCATED, /* TC=1 */
	RESOLVER_CLASS_ERROR,	  /* SERVFAIL, REFUSED, FORMERR, NOTIMP, ... */
};

/* Classifies a response to (sname, stype) from a server for `zone`. */
enum resolver_class resolver_classify(const ldns_pkt *resp, const ldns_rdf *sname, uint16_t stype,
				      const ldns_rdf *zone);
const char *resolver_class_name(enum resolver_class cls);
