/*
 * zone_cut — where to ask: the closest known delegation for a name and the
 * addresses of its name servers.
 *
 * A configured stub or forward zone at or above the name is the cut,
 * whatever the cache holds below it: a public server must not re-route part
 * of a private zone.
 *
 * The cut comes from the cache (the deepest fresh NS RRset above the name),
 * or from the root hints when nothing is cached (then the root must be
 * primed first, RFC 8109). Addresses come from glue, from the cache, or
 * from sub-queries for glueless NS names, fetched on demand one at a time
 * and capped per delegation (NXNSAttack mitigation). Server *choice* among
 * the candidates is upstream/'s job (RTT); this file only says which
 * addresses are still worth trying for this request.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "resolver/impl.h"
#include "cache/cache.h"
#include "dns/dns.h"
#include "util/sockaddr.h"

void zone_cut_clear(struct zone_cut *cut)
{
	ldns_rdf_deep_free(cut->zone);
	ldns_rr_list_deep_free(cut->ns);
	memset(cut, 0, sizeof(*cut));
}

void zone_cut_set(struct zone_cut *cut, const ldns_rdf *zone, const ldns_rr_list *ns)
{
	zone_cut_clear(cut);
	cut->zone = ldns_rdf_clone(zone);
	cut->ns = ldns_rr_list_new();
	for (size_t i = 0; ns && i < ldns_rr_list_rr_count(ns); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ns, i);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS ||
		    ldns_rr_list_rr_count(cut->ns) >= RESOLVER_MAX_NS)
			continue;
		/* duplicates of the same NS name would waste fetch slots */
		bool dup = false;
		for (size_t j = 0; j < ldns_rr_list_rr_count(cut->ns); j++)
			dup |= rrset_name_equal(ldns_rr_rdf(ldns_rr_list_rr(cut->ns, j), 0),
						ldns_rr_rdf(rr, 0));
		if (dup)
			continue;
		ldns_rr *copy = ldns_rr_clone(rr);
		if (copy && !ldns_rr_list_push_rr(cut->ns, copy))
			ldns_rr_free(copy);
	}
}

static int ns_index(const struct zone_cut *cut, const ldns_rdf *name)
{
	for (size_t i = 0; cut->ns && i < ldns_rr_list_rr_count(cut->ns); i++)
		if (rrset_name_equal(ldns_rr_rdf(ldns_rr_list_rr(cut->ns, i), 0), name))
			return (int)i;
	return -1;
}

int zone_cut_find_addr(const struct zone_cut *cut, const struct sockaddr_storage *addr)
{
	for (size_t i = 0; i < cut->naddrs; i++)
		if (util_sockaddr_equal((const struct sockaddr *)&cut->addrs[i],
					(const struct sockaddr *)addr))
			return (int)i;
	return -1;
}

static void add_addr_rr(struct zone_cut *cut, const struct resolver_env *env, const ldns_rr *rr)
{
	ldns_rr_type t = ldns_rr_get_type(rr);
	if (!((t == LDNS_RR_TYPE_A && env->opts->do_ip4) ||
	      (t == LDNS_RR_TYPE_AAAA && env->opts->do_ip6)))
		return;
	if (ldns_rr_rd_count(rr) != 1 || cut->naddrs >= RESOLVER_MAX_ADDRS)
		return;
	int idx = ns_index(cut, ldns_rr_owner(rr));
	if (idx < 0)
		return;
	size_t sz = 0;
	struct sockaddr_storage *ss =
		ldns_rdf2native_sockaddr_storage(ldns_rr_rdf(rr, 0), env->opts->upstream_port, &sz);
	if (!ss)
		return;
	if (zone_cut_find_addr(cut, ss) < 0) {
		cut->addrs[cut->naddrs] = *ss;
		cut->addr_failed[cut->naddrs] = false;
		cut->addr_ns[cut->naddrs] = (uint8_t)idx;
		cut->naddrs++;
	}
	/* An NS name with an address needs no fetch. */
	if (idx < RESOLVER_MAX_NS) {
		cut->ns_fetched_a[idx] = true;
		cut->ns_fetched_aaaa[idx] = true;
	}
	LDNS_FREE(ss);
}

void zone_cut_add_addrs(struct zone_cut *cut, const struct resolver_env *env,
			const ldns_rr_list *rrs)
{
	for (size_t i = 0; rrs && i < ldns_rr_list_rr_count(rrs); i++)
		add_addr_rr(cut, env, ldns_rr_list_rr(rrs, i));
}

void zone_cut_copy_addrs_of(struct zone_cut *dst, const struct resolver_env *env,
			    const struct zone_cut *src, const ldns_rdf *name)
{
	int src_idx = ns_index(src, name);
	int dst_idx = ns_index(dst, name);
	if (src_idx < 0 || dst_idx < 0)
		return;
	for (size_t i = 0; i < src->naddrs && dst->naddrs < RESOLVER_MAX_ADDRS; i++) {
		if (src->addr_ns[i] != src_idx || zone_cut_find_addr(dst, &src->addrs[i]) >= 0)
			continue;
		int family = src->addrs[i].ss_family;
		if ((family == AF_INET && !env->opts->do_ip4) ||
		    (family == AF_INET6 && !env->opts->do_ip6))
			continue;
		dst->addrs[dst->naddrs] = src->addrs[i];
		dst->addr_failed[dst->naddrs] = false;
		dst->addr_ns[dst->naddrs] = (uint8_t)dst_idx;
		dst->naddrs++;
	}
}

void zone_cut_add_cached_addrs(struct zone_cut *cut, const struct resolver_env *env, uint64_t now)
{
	static const uint16_t types[] = {LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA};
	for (size_t i = 0; cut->ns && i < ldns_rr_list_rr_count(cut->ns); i++) {
		const ldns_rdf *name = ldns_rr_rdf(ldns_rr_list_rr(cut->ns, i), 0);
		for (size_t t = 0; t < 2; t++) {
			if ((types[t] == LDNS_RR_TYPE_A && !env->opts->do_ip4) ||
			    (types[t] == LDNS_RR_TYPE_AAAA && !env->opts->do_ip6))
				continue;
			struct cache_result res;
			enum cache_status st = cache_lookup(env->cache, name, types[t], now, &res);
			if (st != CACHE_FRESH) {
				cache_result_clear(&res); /* a stale hit owns records too */
				continue;
			}
			if (res.kind == CACHE_KIND_RRSET)
				zone_cut_add_addrs(cut, env, res.rrs);
			else if (i < RESOLVER_MAX_NS) /* known not to exist: no fetch */
				(types[t] == LDNS_RR_TYPE_A ? cut->ns_fetched_a
							    : cut->ns_fetched_aaaa)[i] = true;
			cache_result_clear(&res);
		}
	}
}

void zone_cut_from_hints(struct zone_cut *cut, const struct resolver_env *env)
{
	ldns_rdf *root = ldns_dname_new_frm_str(".");
	ldns_rr_list *ns = rrset_extract(env->root_hints, root, LDNS_RR_TYPE_NS);
	zone_cut_set(cut, root, ns);
	zone_cut_add_addrs(cut, env, env->root_hints);
	ldns_rr_list_deep_free(ns);
	ldns_rdf_deep_free(root);
}

/* The cut of a configured stub or forward zone: its servers, by provider. */
static void zone_cut_from_stub(struct zone_cut *cut, const struct resolver_env *env,
			       const struct resolver_stub *stub)
{
	ldns_rr_list *ns = ldns_rr_list_new();
	for (size_t i = 0; ns && i < stub->naddrs; i++) {
		ldns_rr *rr = ldns_rr_new_frm_type(LDNS_RR_TYPE_NS);
		if (!rr)
			continue;
		ldns_rr_set_owner(rr, ldns_rdf_clone(stub->zone));
		ldns_rr_set_ttl(rr, 0);
		ldns_rr_set_rdf(rr, ldns_rdf_clone(stub->provider_ns[i]), 0);
		if (!ldns_rr_list_push_rr(ns, rr))
			ldns_rr_free(rr);
	}
	zone_cut_set(cut, stub->zone, ns); /* one NS name per provider */
	ldns_rr_list_deep_free(ns);
	for (size_t i = 0; i < stub->naddrs && cut->naddrs < RESOLVER_MAX_ADDRS; i++) {
		int family = stub->addrs[i].ss_family;
		if ((family == AF_INET && !env->opts->do_ip4) ||
		    (family == AF_INET6 && !env->opts->do_ip6) ||
		    zone_cut_find_addr(cut, &stub->addrs[i]) >= 0)
			continue;
		int idx = ns_index(cut, stub->provider_ns[i]);
		cut->addrs[cut->naddrs] = stub->addrs[i];
		cut->addr_failed[cut->naddrs] = false;
		cut->addr_ns[cut->naddrs] = (uint8_t)(idx < 0 ? 0 : idx);
		cut->naddrs++;
	}
	/* The provider names are labels, not hosts: nothing to look up. */
	for (size_t i = 0; i < RESOLVER_MAX_NS; i++)
		cut->ns_fetched_a[i] = cut->ns_fetched_aaaa[i] = true;
	cut->configured = true;
	cut->forward = stub->forward;
}

/*
 * The deepest configured zone at or above `name` whose apex is at most
 * `labels` labels long (so a DS query, which starts one label up, does not
 * match the zone it is the DS of), or NULL; its label count in *stub_labels.
 */
static const struct resolver_stub *stub_above(const struct resolver_env *env, const ldns_rdf *name,
					      int labels, int *stub_labels)
{
	const struct resolver_stub *best = NULL;
	for (size_t i = 0; i < env->opts->nstubs; i++) {
		const struct resolver_stub *stub = &env->opts->stubs[i];
		int l = dns_name_label_count(stub->zone);
		if (l > labels || (best && l <= *stub_labels) ||
		    !dns_name_is_subdomain(name, stub->zone))
			continue;
		best = stub;
		*stub_labels = l;
	}
	return best;
}

bool zone_cut_find(struct zone_cut *cut, const struct resolver_env *env, const ldns_rdf *name,
		   uint16_t qtype, uint64_t now)
{
	int labels = dns_name_label_count(name);
	/* RFC 4035 §3.1.4.1: DS lives in the parent zone, so start above it. */
	if (qtype == LDNS_RR_TYPE_DS && labels > 0)
		labels--;
	/*
	 * A configured zone wins over every delegation the cache holds at or
	 * below it: those may have come from any public server in bailiwick
	 * of a zone above (a referral or an authority section), and must not
	 * re-route part of a private zone. The cache keeps no provenance, so
	 * none below it is used: the configured servers are asked, and a
	 * referral they give is followed within the request (one query more
	 * per resolution below a delegation inside a stub zone).
	 */
	int stub_labels = -1;
	const struct resolver_stub *stub = stub_above(env, name, labels, &stub_labels);
	if (stub) {
		zone_cut_from_stub(cut, env, stub);
		return false;
	}
	for (int l = labels; l >= 0; l--) {
		ldns_rdf *zone = dns_name_suffix(name, l);
		if (!zone)
			continue;
		struct cache_result res;
		enum cache_status st = cache_lookup(env->cache, zone, LDNS_RR_TYPE_NS, now, &res);
		if (st == CACHE_FRESH && res.kind == CACHE_KIND_RRSET &&
		    ldns_rr_list_rr_count(res.rrs) > 0) {
			zone_cut_set(cut, zone, res.rrs);
			cut->from_cache = true;
			cache_result_clear(&res);
			ldns_rdf_deep_free(zone);
			zone_cut_add_cached_addrs(cut, env, now);
			/* Root server addresses are also in the hints: never let a
			 * glueless priming answer leave the root unreachable. */
			if (l == 0)
				zone_cut_add_addrs(cut, env, env->root_hints);
			return false;
		}
		if (st != CACHE_MISS)
			cache_result_clear(&res);
		ldns_rdf_deep_free(zone);
	}
	zone_cut_from_hints(cut, env);
	return true;
}

size_t zone_cut_candidates(const struct zone_cut *cut, struct sockaddr_storage *out,
			   const ldns_rdf **ns, size_t cap)
{
	size_t n = 0;
	size_t nns = cut->ns ? ldns_rr_list_rr_count(cut->ns) : 0;
	for (size_t i = 0; i < cut->naddrs && n < cap; i++) {
		if (cut->addr_failed[i])
			continue;
		if (ns)
			ns[n] = cut->addr_ns[i] < nns
					? ldns_rr_rdf(ldns_rr_list_rr(cut->ns, cut->addr_ns[i]), 0)
					: NULL;
		out[n++] = cut->addrs[i];
	}
	return n;
}

void zone_cut_mark_failed(struct zone_cut *cut, const struct sockaddr_storage *addr)
{
	int i = addr ? zone_cut_find_addr(cut, addr) : -1;
	if (i >= 0)
		cut->addr_failed[i] = true;
}

bool zone_cut_fetches_capped(const struct zone_cut *cut, const struct resolver_env *env)
{
	return cut->ns_fetches >= env->opts->limits.max_ns_fetches;
}

bool zone_cut_next_fetch(struct zone_cut *cut, const struct resolver_env *env,
			 const ldns_rdf **name, uint16_t *type)
{
	/* NXNS (CVE-2020-12662): a referral to many names that do not exist
	 * would have us look each up. ns_fetches counts the lookups that found
	 * no address (iterate.c subquery_done); names whose servers are only
	 * dead or failing do not count, so a delegation whose first servers
	 * are down still resolves, bounded by max_upstream_queries (as
	 * Unbound: its MAX_TARGET_NX counts NXDOMAIN targets). */
	if (zone_cut_fetches_capped(cut, env))
		return false;
	size_t n = cut->ns ? ldns_rr_list_rr_count(cut->ns) : 0;
	if (n > RESOLVER_MAX_NS)
		n = RESOLVER_MAX_NS;
	/* IPv4 addresses of every NS name first, then IPv6: one usable server
	 * is all we need, and a missing AAAA is the common case. */
	for (int pass = 0; pass < 2; pass++) {
		bool want = pass == 0 ? env->opts->do_ip4 : env->opts->do_ip6;
		bool *fetched = pass == 0 ? cut->ns_fetched_a : cut->ns_fetched_aaaa;
		for (size_t i = 0; want && i < n; i++) {
			if (fetched[i])
				continue;
			fetched[i] = true;
			*name = ldns_rr_rdf(ldns_rr_list_rr(cut->ns, i), 0);
			*type = pass == 0 ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA;
			return true;
		}
	}
	return false;
}

/* Is `addr` (port included) the address in the RDATA of hint `rr`? Compares
 * bytes in place: this runs for every upstream query. */
static bool hint_is_addr(const ldns_rr *rr, const struct sockaddr_storage *addr, uint16_t port)
{
	const ldns_rdf *rd = ldns_rr_rd_count(rr) == 1 ? ldns_rr_rdf(rr, 0) : NULL;
	if (!rd)
		return false;
	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_A && addr->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)addr;
		return ldns_rdf_size(rd) == 4 && ntohs(sin->sin_port) == port &&
		       memcmp(ldns_rdf_data(rd), &sin->sin_addr, 4) == 0;
	}
	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_AAAA && addr->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)addr;
		return ldns_rdf_size(rd) == 16 && ntohs(sin6->sin6_port) == port &&
		       memcmp(ldns_rdf_data(rd), &sin6->sin6_addr, 16) == 0;
	}
	return false;
}

bool zone_cut_addrs_from_hints(const struct resolver_env *env, const struct sockaddr_storage *addrs,
			       size_t n)
{
	const ldns_rr_list *hints = env->root_hints;
	size_t nh = hints ? ldns_rr_list_rr_count(hints) : 0;
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t j = 0; !found && j < nh; j++)
			found = hint_is_addr(ldns_rr_list_rr(hints, j), &addrs[i],
					     env->opts->upstream_port);
		if (!found)
			return false;
	}
	return n > 0;
}
