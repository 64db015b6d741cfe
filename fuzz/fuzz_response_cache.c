/*
 * fuzz_response_cache — upstream responses against a pre-warmed cache,
 * with the scrubbing invariant checked after every response: what a reply
 * caused to be cached is on the question's chain, the one NS RRset kept,
 * or that set's glue (resolver/scrub.c and store.c guarantee it).
 *
 * Input: as fuzz_response (fuzz/fuzz_response.c): byte 0 picks the question
 * and the options, then responses as a 2-byte big-endian length and the
 * bytes, each answering the iterator's next send (as if from its first
 * candidate); timeouts when they run out. Before each input the cache is
 * emptied and warmed with a fixed delegation tree (root, com, net, org,
 * example.com with in- and out-of-zone servers, example.org) and records,
 * so the iterator starts at a deep cut and a reply can try to overwrite
 * what is there.
 *
 * Invariant, per response to a send (qname Q, type T, zone cut Z), over
 * the entries cache_put_*() stored meanwhile (cache_set_store_observer()),
 * checked against a model computed here from the response alone:
 *  - an unparsable response stores nothing;
 *  - every entry is at or below Z (glue too, under harden-glue);
 *  - an entry of answer rank, or a negative entry, is on the chain: Q and
 *    the names reached from it through the answer section's CNAMEs and
 *    DNAMEs (RFC 6672 substitution), or a DNAME used on the way;
 *  - an entry of authority rank is an NS RRset, and at most one owner has
 *    one; that owner is Q or an ancestor of a chain name;
 *  - glue is an address (A, AAAA) of a target of that NS RRset (of any NS
 *    RRset in the authority section when the store kept the old one).
 * Plus fuzz_response's: the request ends with an answer a client can get.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "dns/dns.h"
#include "resolver/resolver.h"
#include "fuzz/fuzz_answer.h"
#include "fuzz/fuzz_check.h"

#define MAX_SENDS 200
#define MAX_STORES 4096
#define MAX_CHAIN 64 /* names on the model's chain (resolver caps it lower) */

static const char *const names[] = {
	"www.example.com.",    "new.example.com.", "mail.example.com.",	    "a.b.example.net.",
	"victim.example.org.", "example.com.",	   "deep.sub.example.com.", "ns1.example.com.",
};
static const uint16_t types[] = {
	LDNS_RR_TYPE_A,	    LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_NS,	 LDNS_RR_TYPE_MX,
	LDNS_RR_TYPE_CNAME, LDNS_RR_TYPE_TXT,  LDNS_RR_TYPE_SOA, LDNS_RR_TYPE_SRV,
};

/* The warm cache: RRsets with the rank they are stored at. */
static const struct {
	const char *rr;
	enum cache_rank rank;
} warm[] = {
	{". 518400 IN NS k.root-servers.net.", CACHE_RANK_ANSWER_AUTH},
	{"k.root-servers.net. 518400 IN A 193.0.14.129", CACHE_RANK_ANSWER_AUTH},
	{"com. 172800 IN NS a.gtld-servers.net.", CACHE_RANK_AUTHORITY_NONAUTH},
	{"net. 172800 IN NS a.gtld-servers.net.", CACHE_RANK_AUTHORITY_NONAUTH},
	{"org. 172800 IN NS a0.org-servers.org.", CACHE_RANK_AUTHORITY_NONAUTH},
	{"a.gtld-servers.net. 172800 IN A 192.5.6.30", CACHE_RANK_GLUE},
	{"a0.org-servers.org. 172800 IN A 199.19.56.1", CACHE_RANK_GLUE},
	{"example.com. 86400 IN NS ns1.example.com.", CACHE_RANK_AUTHORITY_AUTH},
	{"example.com. 86400 IN NS ns2.example.net.", CACHE_RANK_AUTHORITY_AUTH},
	{"ns1.example.com. 86400 IN A 192.0.2.53", CACHE_RANK_ANSWER_AUTH},
	{"ns2.example.net. 86400 IN A 198.51.100.53", CACHE_RANK_ANSWER_AUTH},
	{"example.net. 86400 IN NS ns2.example.net.", CACHE_RANK_AUTHORITY_AUTH},
	{"example.org. 86400 IN NS ns.example.org.", CACHE_RANK_AUTHORITY_AUTH},
	{"ns.example.org. 86400 IN A 203.0.113.53", CACHE_RANK_ANSWER_AUTH},
	{"www.example.com. 3600 IN A 192.0.2.80", CACHE_RANK_ANSWER_AUTH},
	{"mail.example.com. 3600 IN MX 10 mx.example.com.", CACHE_RANK_ANSWER_NONAUTH},
	{"victim.example.org. 3600 IN A 203.0.113.1", CACHE_RANK_ANSWER_AUTH},
};

static struct cache *cache;
static ldns_rr_list *hints;
static struct resolver_opts opts;
static struct resolver_stats stats;

/* What the observer saw during one resolver_consume(). */
struct store {
	ldns_rdf *name;
	uint16_t type;
	enum cache_kind kind;
	enum cache_rank rank;
};
static struct store stores[MAX_STORES];
static size_t nstores;

static void observe(void *ctx, const ldns_rdf *name, uint16_t type, enum cache_kind kind,
		    enum cache_rank rank)
{
	(void)ctx;
	CHECK(nstores < MAX_STORES);
	stores[nstores].name = ldns_rdf_clone(name);
	CHECK(stores[nstores].name);
	stores[nstores].type = type;
	stores[nstores].kind = kind;
	stores[nstores].rank = rank;
	nstores++;
}

static void stores_clear(void)
{
	for (size_t i = 0; i < nstores; i++)
		ldns_rdf_deep_free(stores[i].name);
	nstores = 0;
}

static ldns_rr *rr_from(const char *text)
{
	ldns_rr *rr = NULL;
	CHECK(ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) == LDNS_STATUS_OK);
	return rr;
}

static void setup_once(void)
{
	if (cache)
		return;
	cache_thread_register();
	struct cache_opts co = {.max_bytes = 4u << 20,
				.max_ttl = 86400,
				.max_negative_ttl = 3600,
				.max_stale_ttl = 86400};
	cache = cache_create(&co);
	CHECK(cache);
	hints = ldns_rr_list_new();
	CHECK(hints);
	ldns_rr_list_push_rr(hints, rr_from(". 3600000 IN NS k.root-servers.net."));
	ldns_rr_list_push_rr(hints, rr_from("k.root-servers.net. 3600000 IN A 193.0.14.129"));
	resolver_opts_init(&opts);
}

static void warm_cache(uint64_t now)
{
	/* One RRset per run of equal owner and type in `warm`. */
	for (size_t i = 0; i < sizeof(warm) / sizeof(warm[0]);) {
		ldns_rr_list *set = ldns_rr_list_new();
		CHECK(set);
		size_t j = i;
		for (; j < sizeof(warm) / sizeof(warm[0]); j++) {
			ldns_rr *rr = rr_from(warm[j].rr);
			if (j > i &&
			    (ldns_dname_compare(ldns_rr_owner(rr),
						ldns_rr_owner(ldns_rr_list_rr(set, 0))) != 0 ||
			     ldns_rr_get_type(rr) != ldns_rr_get_type(ldns_rr_list_rr(set, 0)))) {
				ldns_rr_free(rr);
				break;
			}
			ldns_rr_list_push_rr(set, rr);
		}
		CHECK(cache_put_rrset(cache, set, warm[i].rank, now) == 0);
		ldns_rr_list_deep_free(set);
		i = j;
	}
}

static bool same_name(const ldns_rdf *a, const ldns_rdf *b)
{
	return ldns_dname_compare(a, b) == 0;
}

/* `name` with its suffix `owner` (a proper ancestor) replaced by `target`
 * (RFC 6672 §2.2); NULL when the result is over 255 octets. */
static ldns_rdf *dname_substitute(const ldns_rdf *name, const ldns_rdf *owner,
				  const ldns_rdf *target)
{
	size_t prefix = ldns_rdf_size(name) - ldns_rdf_size(owner);
	size_t len = prefix + ldns_rdf_size(target);
	if (len > DNS_NAME_MAX)
		return NULL;
	uint8_t buf[DNS_NAME_MAX];
	memcpy(buf, ldns_rdf_data(name), prefix);
	memcpy(buf + prefix, ldns_rdf_data(target), ldns_rdf_size(target));
	return ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, len, buf);
}

/* The model: the names of the chain from `q` through the answer section,
 * and the DNAME owners used on the way. */
struct chain {
	ldns_rdf *names[MAX_CHAIN];
	size_t n;
	ldns_rdf *dnames[MAX_CHAIN];
	size_t ndnames;
};

static bool in_list(ldns_rdf *const *list, size_t n, const ldns_rdf *name)
{
	for (size_t i = 0; i < n; i++)
		if (same_name(list[i], name))
			return true;
	return false;
}

static void chain_add(ldns_rdf **list, size_t *n, const ldns_rdf *name)
{
	if (*n < MAX_CHAIN && !in_list(list, *n, name)) {
		list[*n] = ldns_rdf_clone(name);
		CHECK(list[*n]);
		(*n)++;
	}
}

static void chain_build(struct chain *c, const ldns_pkt *resp, const ldns_rdf *q)
{
	const ldns_rr_list *an = ldns_pkt_answer(resp);
	memset(c, 0, sizeof(*c));
	chain_add(c->names, &c->n, q);
	/* Every name is expanded once; the list only grows, to MAX_CHAIN. */
	for (size_t at = 0; at < c->n; at++) {
		const ldns_rdf *cur = c->names[at];
		for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
			const ldns_rr *rr = ldns_rr_list_rr(an, i);
			const ldns_rdf *owner = ldns_rr_owner(rr);
			const ldns_rdf *target = ldns_rr_rdf(rr, 0);
			if (!target || ldns_rdf_get_type(target) != LDNS_RDF_TYPE_DNAME)
				continue;
			if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && same_name(owner, cur)) {
				chain_add(c->names, &c->n, target);
			} else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNAME &&
				   !same_name(owner, cur) && dns_name_is_subdomain(cur, owner)) {
				chain_add(c->dnames, &c->ndnames, owner);
				ldns_rdf *next = dname_substitute(cur, owner, target);
				if (next) {
					chain_add(c->names, &c->n, next);
					ldns_rdf_deep_free(next);
				}
			}
		}
	}
}

static void chain_free(struct chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		ldns_rdf_deep_free(c->names[i]);
	for (size_t i = 0; i < c->ndnames; i++)
		ldns_rdf_deep_free(c->dnames[i]);
}

/* Is `name` a chain name or an ancestor of one? */
static bool above_chain(const struct chain *c, const ldns_rdf *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (dns_name_is_subdomain(c->names[i], name))
			return true;
	return false;
}

/* Is `name` the target of an NS record of the authority section, owned by
 * `owner` (any owner when NULL)? */
static bool is_ns_target(const ldns_pkt *resp, const ldns_rdf *owner, const ldns_rdf *name)
{
	const ldns_rr_list *ns = ldns_pkt_authority(resp);
	for (size_t i = 0; i < ldns_rr_list_rr_count(ns); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ns, i);
		const ldns_rdf *target = ldns_rr_rdf(rr, 0);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS || !target ||
		    (owner && !same_name(ldns_rr_owner(rr), owner)))
			continue;
		if (same_name(target, name))
			return true;
	}
	return false;
}

/* The invariant over `stores`, for a response `wire` to (q, qtype) at `zone`. */
static void check_stores(const uint8_t *wire, size_t len, const ldns_rdf *q, const ldns_rdf *zone)
{
	ldns_pkt *resp = NULL;
	if (dns_parse(wire, len, &resp) != 0) {
		CHECK(nstores == 0);
		return;
	}
	struct chain c;
	chain_build(&c, resp, q);
	const ldns_rdf *ns_owner = NULL; /* the one NS RRset of authority rank */
	for (size_t i = 0; i < nstores; i++) {
		const struct store *s = &stores[i];
		bool answer_rank =
			s->rank == CACHE_RANK_ANSWER_AUTH || s->rank == CACHE_RANK_ANSWER_NONAUTH;
		if (s->rank != CACHE_RANK_GLUE || opts.harden_glue)
			CHECK(dns_name_is_subdomain(s->name, zone));
		if (s->kind != CACHE_KIND_RRSET) {
			CHECK(in_list(c.names, c.n, s->name));
		} else if (answer_rank) {
			CHECK(in_list(c.names, c.n, s->name) ||
			      (s->type == LDNS_RR_TYPE_DNAME &&
			       in_list(c.dnames, c.ndnames, s->name)));
		} else if (s->rank != CACHE_RANK_GLUE) {
			CHECK(s->type == LDNS_RR_TYPE_NS);
			CHECK(!ns_owner || same_name(ns_owner, s->name));
			CHECK(above_chain(&c, s->name));
			ns_owner = s->name;
		}
	}
	for (size_t i = 0; i < nstores; i++) {
		const struct store *s = &stores[i];
		if (s->kind != CACHE_KIND_RRSET || s->rank != CACHE_RANK_GLUE)
			continue;
		CHECK(s->type == LDNS_RR_TYPE_A || s->type == LDNS_RR_TYPE_AAAA);
		CHECK(is_ns_target(resp, ns_owner, s->name));
	}
	chain_free(&c);
	ldns_pkt_free(resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup_once();
	if (size < 1)
		return 0;
	uint8_t pick = data[0];
	opts.qname_minimisation = pick & 0x40;
	opts.harden_glue = !(pick & 0x80);
	struct resolver_env env = {
		.cache = cache, .opts = &opts, .root_hints = hints, .stats = &stats};
	uint64_t now = 1700000000u + (pick >> 3);
	cache_set_store_observer(cache, NULL, NULL);
	warm_cache(now);
	cache_set_store_observer(cache, observe, NULL);
	ldns_rdf *qname = ldns_dname_new_frm_str(names[pick & 7]);
	CHECK(qname);
	struct resolver_request *req =
		resolver_request_create(&env, qname, types[(pick >> 3) & 7], LDNS_RR_CLASS_IN, now);
	CHECK(req);

	size_t off = 1;
	unsigned sends = 0;
	struct resolver_send send;
	stores_clear();
	while (resolver_produce(req, now, &send) == RESOLVER_SEND) {
		CHECK(++sends <= MAX_SENDS);
		CHECK(send.nservers > 0 && send.qname && send.zone);
		/* What produce stored (answers from the cache store nothing). */
		CHECK(nstores == 0);
		struct resolver_outcome o = {.server = &send.servers[0], .tcp = send.tcp};
		if (off + 2 > size) {
			o.status = RESOLVER_OUTCOME_TIMEOUT;
			resolver_consume(req, now, &o);
			CHECK(nstores == 0);
			continue;
		}
		size_t len = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (len > size - off)
			len = size - off;
		o.status = RESOLVER_OUTCOME_RESPONSE;
		o.wire = data + off;
		o.len = len;
		off += len;
		/* The send's names live in the request, which consume changes. */
		ldns_rdf *q = ldns_rdf_clone(send.qname);
		ldns_rdf *zone = ldns_rdf_clone(send.zone);
		CHECK(q && zone);
		resolver_consume(req, now, &o);
		check_stores(o.wire, o.len, q, zone);
		stores_clear();
		ldns_rdf_deep_free(q);
		ldns_rdf_deep_free(zone);
	}
	CHECK(nstores == 0);
	fuzz_check_client_answer(req, qname);

	resolver_request_destroy(req);
	ldns_rdf_deep_free(qname);
	cache_set_store_observer(cache, NULL, NULL);
	/* Every input starts from the same warm cache: reproducible crashes. */
	cache_flush(cache);
	cache_thread_quiescent();
	return 0;
}
