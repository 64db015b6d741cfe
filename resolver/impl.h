/*
 * resolver internals shared between the files of resolver/. Not a public
 * interface: daemon/ and tests use resolver.h.
 */
#pragma once
#include "resolver/resolver.h"

#define RESOLVER_MAX_ADDRS 32		/* addresses kept per zone cut */
#define RESOLVER_MAX_NS 16		/* NS names considered per zone cut */
#define RESOLVER_MAX_PARENT_FALLBACKS 2 /* re-asking a parent after its child failed */

/* A zone cut: the closest known delegation and what we know of its servers. */
struct zone_cut {
	ldns_rdf *zone;
	ldns_rr_list *ns; /* NS RRset (owned), may be empty for hints */
	struct sockaddr_storage addrs[RESOLVER_MAX_ADDRS];
	bool addr_failed[RESOLVER_MAX_ADDRS];
	uint8_t addr_ns[RESOLVER_MAX_ADDRS]; /* index of the NS name it belongs to */
	size_t naddrs;
	/* Per NS name (index into `ns`): address lookups already attempted. */
	bool ns_fetched_a[RESOLVER_MAX_NS], ns_fetched_aaaa[RESOLVER_MAX_NS];
	unsigned ns_fetches;
	bool from_hints;
	bool from_cache; /* found in the cache (may be outdated), not a fresh referral */
	bool configured; /* a stub or forward zone's servers (from the configuration) */
	bool forward;	 /* the servers are recursive resolvers: ask with RD=1 */
	bool answered;	 /* one of its servers sent a parsable response */
};

enum query_state {
	QUERY_START,   /* consult the cache, find the zone cut */
	QUERY_ITERATE, /* ask the cut's servers */
	QUERY_DONE,
};

/* One goal on the request's stack: the client question or a sub-query. */
struct query {
	struct query *parent;
	ldns_rdf *qname;      /* current name (moves along CNAME chains), lower case */
	ldns_rdf *orig_qname; /* the name first asked */
	uint16_t qtype, qclass;
	enum query_state state;
	struct zone_cut cut;
	int qmin_labels; /* labels of the name asked under QNAME minimisation */
	bool qmin_off;
	bool priming;	/* the ". NS" priming query (cut = hints) */
	int tcp_server; /* index into cut.addrs to retry over TCP, or -1 */
	unsigned depth;
	/* The name and type last sent (for consume). */
	ldns_rdf *sname;
	uint16_t stype;
	/* Result of a finished query. */
	uint8_t rcode;
	ldns_rr_list *answer;	 /* CNAME chain + final RRset (owned) */
	ldns_rr_list *authority; /* SOA of a negative answer (owned) */
	unsigned cname_links;
	unsigned parent_fallbacks;
	unsigned empty_votes;	/* servers that answered empty where the cache had data */
	unsigned step_attempts; /* sends since the last progress (referral, alias, label) */
	struct sockaddr_storage last_failed; /* AF_UNSPEC if none since the last progress */
};

struct resolver_request {
	const struct resolver_env *env;
	uint32_t id;
	struct query *top;  /* stack: top->parent ... -> root goal */
	struct query *goal; /* the client's question (bottom of the stack) */
	unsigned upstream_queries;
	unsigned referrals;
	bool primed;	     /* the root priming sub-query has been tried */
	bool policy_checked; /* the cache policy was consulted for the question */
	int ede;	     /* Extended DNS Error for the answer, or -1 */
	bool failure_cached; /* answered from a cached failure */
	bool guard_decided;  /* the empty-answer guard recorded its verdict */
	ldns_pkt *early;     /* answer given to the client before resolving (or NULL) */
	int early_ede;
	bool probe_only;    /* resolving behind an early answer: only breaker probes */
	bool asked_network; /* some upstream query was actually sent */
	uint32_t epoch;	    /* cache_recovery_epoch() when the request started */
	ldns_pkt *answer;   /* set once the client's question is done */
	struct sockaddr_storage send_addrs[RESOLVER_MAX_ADDRS]; /* resolver_send.servers */
	const ldns_rdf *send_ns[RESOLVER_MAX_ADDRS];		/* resolver_send.server_ns */
	bool unreachable; /* upstream said the zone's servers are known dead */
};

/* zone_cut.c */
void zone_cut_clear(struct zone_cut *cut);
/* Sets `cut` to the closest delegation for `name` known to the cache (or the
 * root hints). Returns true when the root NS set must be primed first. */
bool zone_cut_find(struct zone_cut *cut, const struct resolver_env *env, const ldns_rdf *name,
		   uint16_t qtype, uint64_t now);
/* Sets the cut from the root hints. */
void zone_cut_from_hints(struct zone_cut *cut, const struct resolver_env *env);
/* Replaces the cut with `zone` served by `ns` (copied). */
void zone_cut_set(struct zone_cut *cut, const ldns_rdf *zone, const ldns_rr_list *ns);
/* Adds the addresses of `rrs` (A/AAAA) whose owner is one of the cut's NS names. */
void zone_cut_add_addrs(struct zone_cut *cut, const struct resolver_env *env,
			const ldns_rr_list *rrs);
/* Adds cached addresses of the cut's NS names. */
void zone_cut_add_cached_addrs(struct zone_cut *cut, const struct resolver_env *env, uint64_t now);
/* Adds to `dst` the addresses `src` knows for the NS name `name`. */
void zone_cut_copy_addrs_of(struct zone_cut *dst, const struct resolver_env *env,
			    const struct zone_cut *src, const ldns_rdf *name);
/* Untried address candidates into `out` (and the NS name each belongs to
 * into `ns`, when not NULL); returns the count. */
size_t zone_cut_candidates(const struct zone_cut *cut, struct sockaddr_storage *out,
			   const ldns_rdf **ns, size_t cap);
/* True when every address in `addrs` is one of the root hints' addresses. */
bool zone_cut_addrs_from_hints(const struct resolver_env *env, const struct sockaddr_storage *addrs,
			       size_t n);
/* Marks `addr` failed for the rest of this request. */
void zone_cut_mark_failed(struct zone_cut *cut, const struct sockaddr_storage *addr);
int zone_cut_find_addr(const struct zone_cut *cut, const struct sockaddr_storage *addr);
/* The next NS name whose address should be looked up, with the type; false if none. */
bool zone_cut_next_fetch(struct zone_cut *cut, const struct resolver_env *env,
			 const ldns_rdf **name, uint16_t *type);

/* rrset.c: small helpers over ldns_rr_list */
/* New list of the RRs in `list` with owner `owner` (case-insensitive) and `type`. */
ldns_rr_list *rrset_extract(const ldns_rr_list *list, const ldns_rdf *owner, uint16_t type);
/* First RR with the given owner and type, or NULL. */
ldns_rr *rrset_find(const ldns_rr_list *list, const ldns_rdf *owner, uint16_t type);
bool rrset_name_equal(const ldns_rdf *a, const ldns_rdf *b);
/* Removes records whose RDATA cannot be what their type says (an NS
 * without a name, an A of 3 bytes...): input from the network is hostile
 * and the iterator reads these fields. The number removed. */
unsigned rrset_scrub_malformed(ldns_pkt *pkt);
/* Appends clones of `src` to `dst`. */
void rrset_append_clone(ldns_rr_list *dst, const ldns_rr_list *src);

/* answer.c */
/* Builds the client answer from the finished goal query (never NULL: falls
 * back to a bare SERVFAIL packet, or NULL only when even that fails). */
ldns_pkt *resolver_build_answer(struct resolver_request *req);
/* A packet with only the question of the client and `rcode`. */
ldns_pkt *resolver_answer_skeleton(const struct resolver_request *req, uint8_t rcode);
/* RFC 6672 §2.2: qname with the `owner` suffix replaced by `target`; NULL if
 * the result would be too long. */
ldns_rdf *resolver_dname_substitute(const ldns_rdf *qname, const ldns_rdf *owner,
				    const ldns_rdf *target);
/* Every RR owned by `owner` (answers to QTYPE=ANY). */
ldns_rr_list *resolver_extract_any(const ldns_rr_list *list, const ldns_rdf *owner);

/* stale.c */
/* The cached positive RRset of (name, type), fresh or expired (expired
 * records get the stale TTL); NULL if none. Caller frees. */
ldns_rr_list *resolver_last_good(const struct resolver_env *env, const ldns_rdf *name,
				 uint16_t type, uint64_t now);
/* Does the empty-answer guard cover `name` (global switch, include/exclude)? */
bool resolver_guard_applies(const struct resolver_opts *opts, const ldns_rdf *name);

/* store.c: caching of a classified response, bailiwick-scrubbed */
void resolver_store_response(const struct resolver_env *env, const ldns_pkt *resp,
			     const ldns_rdf *zone, uint64_t now);
