/*
 * resolver internals shared between the files of resolver/. Not a public
 * interface: daemon/ and tests use resolver.h. A request and its queries
 * are used by one thread at a time (the caller's); the env is read-only.
 *
 * The files, in the order a question meets them:
 *   request.c       the request, its stack of queries, the public accessors
 *   iterate.c       resolver_produce(): cache, zone cut, what to send next
 *   ask_policy.c    the iterator asking cache/policy.c (cached failures,
 *                   stale answers, the empty-answer guard)
 *   zone_cut.c      where to ask: the closest delegation and its addresses
 *   response.c      resolver_consume(): classify -> accept (store) -> act
 *   classify.c      what kind of reply it is
 *   scrub.c         what of a reply is evidence about the question (cut in place)
 *   store.c         what of an accepted reply is cached, with what trust
 *   alias.c         CNAME and DNAME chains
 *   answer.c        the client's answer
 *   stale_answer.c  answers from cached, possibly expired, data
 *   rrset.c         RRset helpers
 */
#pragma once
#include "resolver/resolver.h"

#define RESOLVER_MAX_ADDRS 32		/* addresses kept per zone cut */
#define RESOLVER_MAX_NS 16		/* NS names considered per zone cut */
#define RESOLVER_MAX_PARENT_FALLBACKS 2 /* re-asking a parent after its child failed */
/*
 * Records a reply may carry, and records one RRset of it may carry. A 64 KB
 * TCP reply holds up to ~5,900 records (11 octets each at least); the work
 * per record is O(log n) (rrset.c), these caps bound the total. Unbound has
 * no such caps (the 64 KB message bounds it); real RRsets stay in the low
 * hundreds (large TXT and DNSKEY sets, NS sets of big hosters). A reply
 * over either is a failure of the server that sent it (response.c): we do
 * not keep part of an RRset (RFC 2181 §5.1, an RRset is used whole), and a
 * reply without the RRset it carried would read as NODATA.
 */
#define RESOLVER_MAX_REPLY_RRS 2000
#define RESOLVER_MAX_RRSET_RRS 1000

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
	unsigned ns_fetches; /* lookups that found no address (NXDOMAIN, NODATA): NXNS cap */
	bool from_cache;     /* found in the cache (may be outdated), not a fresh referral */
	bool configured;     /* a stub or forward zone's servers (from the configuration) */
	bool forward;	     /* the servers are recursive resolvers: ask with RD=1 */
	bool answered;	     /* one of its servers sent a parsable response */
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
	bool guard_decided;  /* the empty-answer guard recorded its verdict */
	ldns_pkt *early;     /* answer given to the client before resolving (or NULL) */
	int early_ede;
	bool probe_only;  /* resolving behind an early answer: only breaker probes */
	uint32_t epoch;	  /* cache_recovery_epoch() when the request started */
	ldns_pkt *answer; /* set once the client's question is done */
	struct sockaddr_storage send_addrs[RESOLVER_MAX_ADDRS]; /* resolver_send.servers */
	const ldns_rdf *send_ns[RESOLVER_MAX_ADDRS];		/* resolver_send.server_ns */
	bool unreachable; /* upstream said the zone's servers are known dead */
};

/* request.c: the request, its query stack, state changes every step shares */
/* A new query for (qname, qtype, qclass) above `parent` (NULL: the goal), in
 * START; NULL on allocation failure. The caller pushes it (req->top). */
struct query *query_new(const ldns_rdf *qname, uint16_t qtype, uint16_t qclass,
			struct query *parent);
/* NULL-safe; the caller has popped it. */
void query_free(struct query *q);
void query_finish(struct query *q, uint8_t rcode);
/* The query moved on (new zone cut, next label, another name): the next
 * send is a first attempt again, with no provider to avoid. */
void query_progress(struct query *q);
/* `server` (NULL-safe) failed this query (timeout, lame, unusable): not
 * asked again by it. */
void query_mark_failed(struct query *q, const struct sockaddr_storage *server);
/* Is (name, type) already being resolved somewhere on the stack? */
bool request_on_stack(const struct resolver_request *req, const ldns_rdf *name, uint16_t type);
/* Ends every sub-query and the client's question with SERVFAIL. */
void request_fail(struct resolver_request *req, const char *why);
/* Bumps a counter of env->stats (if any); use REQUEST_STAT_INC. */
void request_stat_inc(const struct resolver_request *req, size_t offset);
#define REQUEST_STAT_INC(req, field) request_stat_inc((req), offsetof(struct resolver_stats, field))

/* alias.c: CNAME and DNAME chains */
/* Moves q to `target` after an alias link. False (and q finished with
 * SERVFAIL) on a loop or when the chain is too long. */
bool query_follow_alias(struct resolver_request *req, struct query *q, const ldns_rdf *target);
/* RFC 6672 §2.2: `qname` with its `owner` suffix replaced by `target`
 * (qname strictly below owner); NULL when that would exceed 255 octets
 * (YXDOMAIN) or qname is not below owner. Caller frees. Used by alias.c to
 * follow a chain and by scrub.c to walk one. */
ldns_rdf *alias_dname_substitute(const ldns_rdf *qname, const ldns_rdf *owner,
				 const ldns_rdf *target);
/* Follows the chain from q's name through the answer section of `resp`
 * (CNAMEs, DNAMEs with the synthesized CNAME), adding each link to q's
 * answer. True when q is finished (the data was in `resp`, or SERVFAIL);
 * false when the chain leaves `resp` with q at its last target. */
bool query_chase_alias(struct resolver_request *req, struct query *q, const ldns_pkt *resp);

/* ask_policy.c: the iterator's consultations of cache/policy.c */
/* Before asking anyone for the client's question (q is the goal): a cached
 * failure, a failed refresh or the empty-answer guard's hold. True when q
 * was answered here; an early answer may be set with the request going on
 * as a probe (req->probe_only). */
bool request_check_policy(struct resolver_request *req, struct query *q, uint64_t now);
/* Records how resolving the client's question ended (per-question state). */
void request_note_outcome(struct resolver_request *req, uint64_t now);
/* The client's answer from stale data instead of a SERVFAIL; false if none. */
bool request_answer_stale(struct resolver_request *req, uint64_t now);
/* The empty-answer guard: `server` answered NODATA/NXDOMAIN for q. True when
 * handled here (another server is to be asked, or the last good data holds);
 * false when the caller stores and answers the negative. */
bool query_guard_empty(struct resolver_request *req, struct query *q,
		       const struct sockaddr_storage *server, bool nxdomain, uint64_t now);
/* q got data after the guard doubted an empty answer: count the rescue. */
void query_guard_note_data(struct resolver_request *req, const struct query *q);

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
/* The next NS name whose address should be looked up, with the type; false
 * if none, or if max_ns_fetches lookups of this cut found no address. */
bool zone_cut_next_fetch(struct zone_cut *cut, const struct resolver_env *env,
			 const ldns_rdf **name, uint16_t *type);
/* max_ns_fetches lookups of the cut's NS names said "no such address". */
bool zone_cut_fetches_capped(const struct zone_cut *cut, const struct resolver_env *env);

/* rrset.c: small helpers over ldns_rr_list */
/* New list of the RRs in `list` with owner `owner` (case-insensitive) and
 * `type`, each distinct record once (RFC 2181 §5). O(n log n). */
ldns_rr_list *rrset_extract(const ldns_rr_list *list, const ldns_rdf *owner, uint16_t type);
bool rrset_name_equal(const ldns_rdf *a, const ldns_rdf *b);
/* Removes records whose RDATA cannot be what their type says (an NS
 * without a name, an A of 3 bytes...): input from the network is hostile
 * and the iterator reads these fields. The number removed. */
unsigned rrset_scrub_malformed(ldns_pkt *pkt);
/* The RRsets of `section` (grouped by owner and type, duplicates removed),
 * in the order their first record appears: an array of *nsets new lists,
 * freed with rrset_split_free(). NULL on allocation failure. O(n log n). */
struct rrset_item {
	ldns_rr_list *rrs; /* owned */
};
struct rrset_item *rrset_split(const ldns_rr_list *section, size_t *nsets);
void rrset_split_free(struct rrset_item *sets, size_t nsets);
/* 0 when `pkt` is within RESOLVER_MAX_REPLY_RRS records (answer, authority
 * and additional) and no RRset of a section has more than
 * RESOLVER_MAX_RRSET_RRS records (duplicates counted); -E2BIG or -EMSGSIZE
 * when not, -ENOMEM. *count and *largest get the figures. */
int rrset_check_reply_size(const ldns_pkt *pkt, size_t *count, size_t *largest);
/* Appends clones of `src` to `dst`. */
void rrset_append_clone(ldns_rr_list *dst, const ldns_rr_list *src);

/* answer.c */
/* Builds the client answer from the finished goal query (never NULL: falls
 * back to a bare SERVFAIL packet, or NULL only when even that fails). */
ldns_pkt *resolver_build_answer(struct resolver_request *req);
/* A packet with only the question of the client and `rcode`. */
ldns_pkt *resolver_answer_skeleton(const struct resolver_request *req, uint8_t rcode);
/* Every RR owned by `owner` (answers to QTYPE=ANY). */
ldns_rr_list *resolver_extract_any(const ldns_rr_list *list, const ldns_rdf *owner);

/* stale_answer.c */
/* The cached positive RRset of (name, type), fresh or expired (expired
 * records get the stale TTL); NULL if none. Caller frees. */
ldns_rr_list *resolver_last_good(const struct resolver_env *env, const ldns_rdf *name,
				 uint16_t type, uint64_t now);

/* scrub.c: what of a reply answers the question sent (RFC 2181 §5.4.1),
 * cut out of the packet in place; each rule returns the records it dropped
 * (logged at debug with the reason). Pure but for that log. */
struct scrub_question {
	const ldns_rdf *sname; /* the name and type sent */
	uint16_t stype;
	const ldns_rdf *zone; /* the zone the server was asked as (its bailiwick) */
	bool harden_glue;
	uint32_t id; /* request id, for the log */
};
/* Every rule below, in order; `negative` for NXDOMAIN and NODATA replies. */
unsigned resolver_scrub(ldns_pkt *pkt, const struct scrub_question *sq, bool negative);
/* Records of another class than IN, in every section. */
unsigned scrub_drop_non_in(ldns_pkt *pkt, const struct scrub_question *sq);
/* RFC 2181 §8: a TTL with the top bit set is 0. Returns the TTLs changed. */
unsigned scrub_ttl_top_bit(ldns_pkt *pkt);
/* Answer: only the CNAME/DNAME chain from sname inside the zone and the
 * RRset of stype at its end (with their RRSIGs). *end is where the chain
 * ended (caller frees; NULL on allocation failure). */
unsigned scrub_answer_chain(ldns_pkt *pkt, const struct scrub_question *sq, ldns_rdf **end);
/* Authority: only NS, the zone's SOA and DNSSEC records (no addresses,
 * aliases or other data). */
unsigned scrub_authority_types(ldns_pkt *pkt, const struct scrub_question *sq);
/* Authority: at most one NS RRset, the deepest with an owner at or below
 * the zone and at or above `end`; none when `negative`. */
unsigned scrub_authority_ns(ldns_pkt *pkt, const struct scrub_question *sq, const ldns_rdf *end,
			    bool negative);
/* Additional: only A/AAAA of the targets of the NS sets left, in bailiwick. */
unsigned scrub_additional_glue(ldns_pkt *pkt, const struct scrub_question *sq);
/* harden-glue: may an address for `owner` come from a server for `zone`? */
bool scrub_glue_in_bailiwick(const ldns_rdf *owner, const ldns_rdf *zone, bool harden_glue);

/* store.c: caching of a classified, accepted response, bailiwick-scrubbed */
void resolver_store_response(const struct resolver_env *env, const ldns_pkt *resp,
			     const ldns_rdf *zone, uint64_t now);
/* Caches the negative answer (NXDOMAIN or NODATA for `qtype`) `resp` from a
 * server for `zone` gives for `name`, with its SOA (RFC 2308). Returns a copy
 * of that SOA (empty list if none, NULL on allocation failure); caller frees. */
ldns_rr_list *resolver_store_negative(const struct resolver_env *env, const ldns_pkt *resp,
				      const ldns_rdf *zone, const ldns_rdf *name, uint16_t qtype,
				      bool nxdomain, uint64_t now);
