/*
 * Unit tests for the iterator (resolver/request.c with zone_cut.c, store.c,
 * answer.c): whole resolutions driven without sockets.
 *
 * The test plays the network. A script is a table of
 * (server address, qname, qtype) -> response, the response written as
 * presentation-format records; the driver loop runs resolver_produce(),
 * asks the first candidate server of each RESOLVER_SEND, builds the wire
 * response from the script (QR set, the question echoed) and feeds it to
 * resolver_consume(), or a TIMEOUT when the script says the server is dead
 * or has no entry for the question (counted as "unscripted" and printed, so
 * a test sees every question it did not expect). Each request runs against
 * a real cache and root hints made from strings, so the tests also check
 * what is cached (negative answers, no poisoned glue) and how many upstream
 * queries each case costs.
 *
 * Set HOLDFAST_TEST_DEBUG=1 to see the resolver's debug log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "resolver/resolver.h"
#include "cache/cache.h"
#include "util/log.h"

#define T0 1700000000u
#define MAX_RRS 16
#define MAX_SENDS 256
#define DRIVER_GUARD 1000

/* The scripted hierarchy. */
#define ROOT "193.0.14.129"    /* k.root-servers.net */
#define GTLD "192.5.6.30"      /* a.gtld-servers.net: com. and net. */
#define ORGS "199.19.56.1"     /* a0.org-servers.org: org. */
#define NS1_COM "192.0.2.1"    /* ns1.example.com */
#define NS2_COM "192.0.2.2"    /* ns2.example.com */
#define NS1_NET "198.51.100.1" /* ns1.example.net */
#define NS_NET "198.51.100.53" /* ns.example.net, serves example.com when glueless */
#define EVIL "203.0.113.66"    /* an address only an attacker gives out */

#define SOA_EXAMPLE_COM                                                                            \
	"example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 "   \
	"300"

enum {
	F_AA = 1 << 0,
	F_TC = 1 << 1,
	F_DEAD = 1 << 2, /* no response: the attempt times out */
	F_UDP = 1 << 3,	 /* the entry matches only over UDP */
	F_TCP = 1 << 4,	 /* ... only over TCP */
	F_END = 1 << 5,	 /* ends a script */
};

struct entry {
	const char *server; /* address; NULL matches any */
	const char *qname;  /* lower case; "*.zone." matches zone. and below; NULL any */
	uint16_t qtype;	    /* 0 matches any */
	unsigned flags;
	uint8_t rcode;
	const char *an[MAX_RRS], *ns[MAX_RRS], *ar[MAX_RRS];
};

#define END                                                                                        \
	{                                                                                          \
		.flags = F_END                                                                     \
	}

/* What every test may rely on: the root, com./net./org. and example.net. */
static const struct entry base_script[] = {
	{ROOT, ".", LDNS_RR_TYPE_NS, F_AA, 0, .an = {". 518400 IN NS k.root-servers.net."},
	 .ar = {"k.root-servers.net. 518400 IN A " ROOT}},
	{ROOT, "*.com.", 0, 0, 0, .ns = {"com. 172800 IN NS a.gtld-servers.net."},
	 .ar = {"a.gtld-servers.net. 172800 IN A " GTLD}},
	{ROOT, "*.net.", 0, 0, 0, .ns = {"net. 172800 IN NS a.gtld-servers.net."},
	 .ar = {"a.gtld-servers.net. 172800 IN A " GTLD}},
	{ROOT, "*.org.", 0, 0, 0, .ns = {"org. 172800 IN NS a0.org-servers.org."},
	 .ar = {"a0.org-servers.org. 172800 IN A " ORGS}},
	{GTLD, "*.example.com.", 0, 0, 0, .ns = {"example.com. 172800 IN NS ns1.example.com."},
	 .ar = {"ns1.example.com. 172800 IN A " NS1_COM}},
	{GTLD, "*.example.net.", 0, 0, 0, .ns = {"example.net. 172800 IN NS ns1.example.net."},
	 .ar = {"ns1.example.net. 172800 IN A " NS1_NET}},
	{NS1_NET, "ns.example.net.", LDNS_RR_TYPE_A, F_AA, 0,
	 .an = {"ns.example.net. 3600 IN A " NS_NET}},
	{NS1_NET, "www.example.net.", LDNS_RR_TYPE_A, F_AA, 0,
	 .an = {"www.example.net. 300 IN A 198.51.100.80"}},
	{NS1_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
	 .an = {"www.example.com. 300 IN A 192.0.2.80"}},
	END,
};

struct sent {
	char server[INET6_ADDRSTRLEN];
	char qname[256];
	uint16_t qtype;
	bool tcp, configured;
	size_t nservers;
};

struct fixture {
	struct cache *cache;
	struct resolver_opts opts;
	ldns_rr_list *hints;
	struct resolver_env env;
	const struct entry *scripts[3]; /* searched in order */
	struct sent log[MAX_SENDS];
	size_t nsent;
	unsigned unscripted;
	struct resolver_request *req;
};

/* ---- helpers ------------------------------------------------------------ */

static ldns_rr *rr_new(const char *str)
{
	ldns_rr *rr = NULL;

	if (ldns_rr_new_frm_str(&rr, str, 0, NULL, NULL) != LDNS_STATUS_OK)
		fail_msg("bad record in the test: %s", str);
	return rr;
}

static ldns_rdf *name_new(const char *str)
{
	ldns_rdf *name = ldns_dname_new_frm_str(str);

	assert_non_null(name);
	return name;
}

static void name_lower_str(const ldns_rdf *name, char *buf, size_t cap)
{
	char *s = ldns_rdf2str(name);

	assert_non_null(s);
	snprintf(buf, cap, "%s", s);
	free(s);
	for (char *p = buf; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

static void addr_str(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ss)->sin_addr, buf,
			  (socklen_t)cap);
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr,
			  buf, (socklen_t)cap);
	else
		snprintf(buf, cap, "?");
}

static bool qname_matches(const char *pattern, const char *qname)
{
	if (!pattern)
		return true;
	if (strncmp(pattern, "*.", 2) != 0)
		return strcmp(pattern, qname) == 0;
	const char *zone = pattern + 2;
	size_t zl = strlen(zone), ql = strlen(qname);
	if (strcmp(zone, qname) == 0)
		return true;
	return ql > zl && strcmp(qname + ql - zl, zone) == 0 && qname[ql - zl - 1] == '.';
}

static const struct entry *script_find(const struct fixture *f, const char *server,
				       const char *qname, uint16_t qtype, bool tcp)
{
	for (size_t s = 0; s < sizeof(f->scripts) / sizeof(f->scripts[0]); s++) {
		for (const struct entry *e = f->scripts[s]; e && !(e->flags & F_END); e++) {
			if (e->server && strcmp(e->server, server) != 0)
				continue;
			if (!qname_matches(e->qname, qname))
				continue;
			if (e->qtype && e->qtype != qtype)
				continue;
			if ((e->flags & F_UDP && tcp) || (e->flags & F_TCP && !tcp))
				continue;
			return e;
		}
	}
	return NULL;
}

static void push_all(ldns_pkt *pkt, ldns_pkt_section section, const char *const *rrs)
{
	for (size_t i = 0; i < MAX_RRS && rrs[i]; i++)
		assert_true(ldns_pkt_push_rr(pkt, section, rr_new(rrs[i])));
}

/* The scripted response to `out`, with QR set and the question echoed. */
static ldns_pkt *response_new(const struct entry *e, const struct resolver_send *out)
{
	ldns_pkt *pkt = ldns_pkt_new();
	ldns_rr *question = ldns_rr_new();

	assert_non_null(pkt);
	assert_non_null(question);
	ldns_pkt_set_id(pkt, 0x4242);
	ldns_pkt_set_qr(pkt, true);
	ldns_pkt_set_aa(pkt, e->flags & F_AA);
	ldns_pkt_set_tc(pkt, e->flags & F_TC);
	ldns_pkt_set_rcode(pkt, e->rcode);
	ldns_rr_set_owner(question, ldns_rdf_clone(out->qname));
	ldns_rr_set_type(question, out->qtype);
	ldns_rr_set_class(question, out->qclass);
	ldns_rr_set_question(question, true);
	assert_true(ldns_pkt_push_rr(pkt, LDNS_SECTION_QUESTION, question));
	push_all(pkt, LDNS_SECTION_ANSWER, e->an);
	push_all(pkt, LDNS_SECTION_AUTHORITY, e->ns);
	push_all(pkt, LDNS_SECTION_ADDITIONAL, e->ar);
	return pkt;
}

/* One RESOLVER_SEND: the first candidate answers as the script says. */
static void exchange(struct fixture *f, const struct resolver_send *out, uint64_t now)
{
	struct sockaddr_storage server = out->servers[0];
	struct sent *s = &f->log[f->nsent];
	struct resolver_outcome outcome = {
		.status = RESOLVER_OUTCOME_TIMEOUT,
		.server = &server,
		.tcp = out->tcp,
	};

	assert_true(f->nsent < MAX_SENDS);
	assert_true(out->nservers > 0);
	f->nsent++;
	addr_str(&server, s->server, sizeof(s->server));
	name_lower_str(out->qname, s->qname, sizeof(s->qname));
	s->qtype = out->qtype;
	s->tcp = out->tcp;
	s->configured = out->configured;
	s->nservers = out->nservers;
	assert_int_equal(out->qclass, LDNS_RR_CLASS_IN);

	const struct entry *e = script_find(f, s->server, s->qname, s->qtype, s->tcp);
	if (!e) {
		f->unscripted++;
		fprintf(stderr, "# unscripted: @%s %s type %u%s\n", s->server, s->qname, s->qtype,
			s->tcp ? " tcp" : "");
		resolver_consume(f->req, now, &outcome);
		return;
	}
	if (e->flags & F_DEAD) {
		resolver_consume(f->req, now, &outcome);
		return;
	}
	ldns_pkt *pkt = response_new(e, out);
	uint8_t *wire = NULL;
	size_t len = 0;
	assert_int_equal(ldns_pkt2wire(&wire, pkt, &len), LDNS_STATUS_OK);
	outcome.status = RESOLVER_OUTCOME_RESPONSE;
	outcome.wire = wire;
	outcome.len = len;
	resolver_consume(f->req, now, &outcome);
	LDNS_FREE(wire);
	ldns_pkt_free(pkt);
}

/* Runs one client question to RESOLVER_DONE; the answer lives until the next call. */
static const ldns_pkt *resolve(struct fixture *f, const char *qname, uint16_t qtype, uint64_t now)
{
	struct resolver_send out;
	ldns_rdf *name = name_new(qname);

	resolver_request_destroy(f->req);
	f->nsent = 0;
	f->unscripted = 0;
	f->req = resolver_request_create(&f->env, name, qtype, LDNS_RR_CLASS_IN, now);
	ldns_rdf_deep_free(name);
	assert_non_null(f->req);
	for (int i = 0;; i++) {
		if (i >= DRIVER_GUARD)
			fail_msg("no RESOLVER_DONE after %d sends", i);
		memset(&out, 0, sizeof(out));
		if (resolver_produce(f->req, now, &out) == RESOLVER_DONE)
			break;
		exchange(f, &out, now);
	}
	/* Done is done: asking again changes nothing. */
	assert_int_equal(resolver_produce(f->req, now, &out), RESOLVER_DONE);

	const ldns_pkt *answer = resolver_answer(f->req);
	assert_non_null(answer);
	assert_int_equal(resolver_request_upstream_count(f->req), f->nsent);
	assert_true(ldns_pkt_qr(answer));
	assert_int_equal(ldns_pkt_qdcount(answer), 1);
	return answer;
}

static bool section_has(const ldns_pkt *pkt, ldns_pkt_section section, const char *str)
{
	ldns_rr *want = rr_new(str);
	const ldns_rr_list *list = ldns_pkt_get_section_clone(pkt, section);
	bool found = false;

	for (size_t i = 0; i < ldns_rr_list_rr_count(list) && !found; i++)
		found = ldns_rr_compare(ldns_rr_list_rr(list, i), want) == 0;
	ldns_rr_list_deep_free((ldns_rr_list *)list);
	ldns_rr_free(want);
	return found;
}

/* The type of the i-th record of the answer section. */
static uint16_t answer_type(const ldns_pkt *pkt, size_t i)
{
	assert_true(i < ldns_rr_list_rr_count(ldns_pkt_answer(pkt)));
	return (uint16_t)ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(pkt), i));
}

static uint32_t answer_ttl(const ldns_pkt *pkt, size_t i)
{
	assert_true(i < ldns_rr_list_rr_count(ldns_pkt_answer(pkt)));
	return ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(pkt), i));
}

static unsigned sends_to(const struct fixture *f, const char *server)
{
	unsigned n = 0;

	for (size_t i = 0; i < f->nsent; i++)
		n += strcmp(f->log[i].server, server) == 0;
	return n;
}

static void assert_sent(const struct fixture *f, size_t i, const char *server, const char *qname,
			uint16_t qtype)
{
	assert_true(i < f->nsent);
	assert_string_equal(f->log[i].server, server);
	assert_string_equal(f->log[i].qname, qname);
	assert_int_equal(f->log[i].qtype, qtype);
}

static enum cache_status cached(const struct fixture *f, const char *name, uint16_t type,
				uint64_t now, struct cache_result *res)
{
	ldns_rdf *n = name_new(name);
	enum cache_status st = cache_lookup(f->cache, n, type, now, res);

	ldns_rdf_deep_free(n);
	return st;
}

/* The first rdata field of `rr` in presentation format equals `want`. */
static bool rdata_is(const ldns_rr *rr, const char *want)
{
	char *s = ldns_rdf2str(ldns_rr_rdf(rr, 0));
	bool eq = s && strcmp(s, want) == 0;

	free(s);
	return eq;
}

static void use_script(struct fixture *f, const struct entry *script)
{
	f->scripts[0] = script;
	f->scripts[1] = base_script;
}

static void dump_log(const struct fixture *f)
{
	for (size_t i = 0; i < f->nsent; i++)
		fprintf(stderr, "# %zu: @%s %s type %u%s\n", i, f->log[i].server, f->log[i].qname,
			f->log[i].qtype, f->log[i].tcp ? " tcp" : "");
}

/* ---- fixture ------------------------------------------------------------ */

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->cache = cache_create(NULL);
	assert_non_null(f->cache);
	f->hints = ldns_rr_list_new();
	assert_non_null(f->hints);
	assert_true(ldns_rr_list_push_rr(f->hints, rr_new(". 3600000 IN NS k.root-servers.net.")));
	assert_true(
		ldns_rr_list_push_rr(f->hints, rr_new("k.root-servers.net. 3600000 IN A " ROOT)));
	resolver_opts_init(&f->opts);
	f->opts.qname_minimisation = false;
	f->opts.do_ip6 = false;
	f->env.cache = f->cache;
	f->env.opts = &f->opts;
	f->env.root_hints = f->hints;
	f->scripts[0] = base_script;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	resolver_request_destroy(f->req);
	cache_destroy(f->cache);
	ldns_rr_list_deep_free(f->hints);
	free(f);
	return 0;
}

/* ---- tests -------------------------------------------------------------- */

static void test_defaults(void **state)
{
	(void)state;
	struct resolver_opts opts;

	memset(&opts, 0xff, sizeof(opts));
	resolver_opts_init(&opts);
	assert_true(opts.qname_minimisation);
	assert_true(opts.harden_glue);
	assert_true(opts.do_ip4);
	assert_true(opts.do_ip6);
	assert_int_equal(opts.upstream_port, 53);
	assert_int_equal(opts.limits.max_upstream_queries, 64);
	assert_int_equal(opts.limits.max_referrals, 32);
	assert_int_equal(opts.limits.max_cname_chain, 12);
	assert_int_equal(opts.limits.max_ns_fetches, 4);
	assert_int_equal(opts.limits.max_depth, 5);
}

/* Priming, then root -> com. -> example.com. with glue -> the A record. */
static void test_referral_chain(void **state)
{
	struct fixture *f = *state;
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);

	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 1);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.80"));
	assert_int_equal(ldns_pkt_nscount(a), 0); /* minimal responses */
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(f->nsent, 4);
	/* RFC 8109: the root NS set first, to the hinted servers. */
	assert_sent(f, 0, ROOT, ".", LDNS_RR_TYPE_NS);
	assert_true(f->log[0].configured);
	assert_false(f->log[0].tcp);
	assert_sent(f, 1, ROOT, "www.example.com.", LDNS_RR_TYPE_A);
	assert_sent(f, 2, GTLD, "www.example.com.", LDNS_RR_TYPE_A);
	assert_false(f->log[2].configured);
	assert_sent(f, 3, NS1_COM, "www.example.com.", LDNS_RR_TYPE_A);
	/* The delegations were cached on the way. */
	struct cache_result res;
	assert_int_equal(cached(f, "example.com.", LDNS_RR_TYPE_NS, T0, &res), CACHE_FRESH);
	cache_result_clear(&res);
	assert_int_equal(cached(f, "com.", LDNS_RR_TYPE_NS, T0, &res), CACHE_FRESH);
	cache_result_clear(&res);
}

/* The same with QNAME minimisation: only the next label goes to each zone. */
static void test_qname_minimisation(void **state)
{
	struct fixture *f = *state;

	f->opts.qname_minimisation = true;
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.80"));
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(f->nsent, 4);
	assert_sent(f, 0, ROOT, ".", LDNS_RR_TYPE_NS);
	assert_sent(f, 1, ROOT, "com.", LDNS_RR_TYPE_NS);
	assert_sent(f, 2, GTLD, "example.com.", LDNS_RR_TYPE_NS);
	assert_sent(f, 3, NS1_COM, "www.example.com.", LDNS_RR_TYPE_A);
}

/* Minimisation through names without cuts: NODATA moves one label down. */
static void test_qname_minimisation_no_cuts(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "c.example.com.", LDNS_RR_TYPE_NS, F_AA, 0, .ns = {SOA_EXAMPLE_COM}},
		{NS1_COM, "b.c.example.com.", LDNS_RR_TYPE_NS, F_AA, 0, .ns = {SOA_EXAMPLE_COM}},
		{NS1_COM, "a.b.c.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"a.b.c.example.com. 300 IN A 192.0.2.90"}},
		END,
	};

	f->opts.qname_minimisation = true;
	use_script(f, script);
	const ldns_pkt *a = resolve(f, "a.b.c.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "a.b.c.example.com. 300 IN A 192.0.2.90"));
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(f->nsent, 6);
	assert_sent(f, 3, NS1_COM, "c.example.com.", LDNS_RR_TYPE_NS);
	assert_sent(f, 4, NS1_COM, "b.c.example.com.", LDNS_RR_TYPE_NS);
	assert_sent(f, 5, NS1_COM, "a.b.c.example.com.", LDNS_RR_TYPE_A);
	/* The minimised NODATA steps are not client answers: nothing negative
	 * is cached for the full name. */
	assert_int_equal(cached(f, "a.b.c.example.com.", LDNS_RR_TYPE_NS, T0, NULL), CACHE_MISS);
}

/* Relaxed minimisation: an NXDOMAIN for an empty non-terminal is re-checked
 * with the full name (RFC 9156 §3). */
static void test_qname_minimisation_broken_ent(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "c.example.com.", LDNS_RR_TYPE_NS, F_AA, LDNS_RCODE_NXDOMAIN,
		 .ns = {SOA_EXAMPLE_COM}},
		{NS1_COM, "a.b.c.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"a.b.c.example.com. 300 IN A 192.0.2.90"}},
		END,
	};

	f->opts.qname_minimisation = true;
	use_script(f, script);
	const ldns_pkt *a = resolve(f, "a.b.c.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "a.b.c.example.com. 300 IN A 192.0.2.90"));
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(f->nsent, 5);
	assert_sent(f, 4, NS1_COM, "a.b.c.example.com.", LDNS_RR_TYPE_A);
}

/* A second request is answered from the cache, TTLs counting down; once the
 * answer expires, the cached delegation takes the query straight to the zone. */
static void test_cache_hit(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "ns1.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"ns1.example.com. 3600 IN A " NS1_COM}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(answer_ttl(a, 0), 300);

	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 100);
	assert_int_equal(resolver_request_upstream_count(f->req), 0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 1);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.80"));
	assert_int_equal(answer_ttl(a, 0), 200);

	/* Expired answer, fresh delegation: one query, to the zone's server. */
	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 301);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->nsent, 1);
	assert_sent(f, 0, NS1_COM, "www.example.com.", LDNS_RR_TYPE_A);
	assert_int_equal(answer_ttl(a, 0), 300);

	/* Glue is good enough to reach a server, not to answer a client with
	 * (RFC 2181 §5.4.1): the address of ns1.example.com is asked of its zone. */
	a = resolve(f, "ns1.example.com.", LDNS_RR_TYPE_A, T0 + 302);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->nsent, 1);
	assert_sent(f, 0, NS1_COM, "ns1.example.com.", LDNS_RR_TYPE_A);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "ns1.example.com. 3600 IN A " NS1_COM));
	assert_int_equal(f->unscripted, 0);
}

/* A CNAME and its target in one authoritative response. */
static void test_cname_in_zone(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.example.com. 300 IN CNAME web.example.com.",
			"web.example.com. 300 IN A 192.0.2.81"}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 2);
	assert_int_equal(answer_type(a, 0), LDNS_RR_TYPE_CNAME);
	assert_int_equal(answer_type(a, 1), LDNS_RR_TYPE_A);
	assert_true(section_has(a, LDNS_SECTION_ANSWER,
				"www.example.com. 300 IN CNAME web.example.com."));
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "web.example.com. 300 IN A 192.0.2.81"));
	assert_int_equal(f->nsent, 4);
	assert_int_equal(f->unscripted, 0);

	/* Both links come back from the cache. */
	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 1);
	assert_int_equal(f->nsent, 0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 2);
	assert_int_equal(answer_type(a, 0), LDNS_RR_TYPE_CNAME);
	assert_int_equal(answer_type(a, 1), LDNS_RR_TYPE_A);
}

/* A CNAME into another zone: resolution restarts from the target's cut. */
static void test_cname_across_zones(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.example.com. 300 IN CNAME www.example.net."}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 2);
	assert_int_equal(answer_type(a, 0), LDNS_RR_TYPE_CNAME);
	assert_true(section_has(a, LDNS_SECTION_ANSWER,
				"www.example.com. 300 IN CNAME www.example.net."));
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.net. 300 IN A 198.51.100.80"));
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(f->nsent, 7);
	assert_sent(f, 4, ROOT, "www.example.net.", LDNS_RR_TYPE_A);
	assert_sent(f, 5, GTLD, "www.example.net.", LDNS_RR_TYPE_A);
	assert_sent(f, 6, NS1_NET, "www.example.net.", LDNS_RR_TYPE_A);

	/* The target's zone is now known: a CNAME into it costs one query there. */
	static const struct entry script2[] = {
		{NS1_COM, "ftp.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"ftp.example.com. 300 IN CNAME www.example.net."}},
		END,
	};
	use_script(f, script2);
	a = resolve(f, "ftp.example.com.", LDNS_RR_TYPE_A, T0 + 1);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 2);
	assert_int_equal(f->nsent, 1);
	assert_sent(f, 0, NS1_COM, "ftp.example.com.", LDNS_RR_TYPE_A);
}

/* A CNAME to a name the zone says does not exist: NXDOMAIN with the chain. */
static void test_cname_to_nxdomain(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA, LDNS_RCODE_NXDOMAIN,
		 .an = {"www.example.com. 300 IN CNAME gone.example.com."},
		 .ns = {SOA_EXAMPLE_COM}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_ancount(a), 1);
	assert_int_equal(answer_type(a, 0), LDNS_RR_TYPE_CNAME);
	assert_true(section_has(a, LDNS_SECTION_AUTHORITY, SOA_EXAMPLE_COM));
	assert_int_equal(f->nsent, 4);

	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 1);
	assert_int_equal(f->nsent, 0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_ancount(a), 1);
	assert_int_equal(ldns_pkt_nscount(a), 1);
}

/* CNAME loops end in SERVFAIL quickly: inside one response, across zones,
 * and again from the cache. */
static void test_cname_loop(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "a.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"a.example.com. 300 IN CNAME b.example.com.",
			"b.example.com. 300 IN CNAME a.example.com."}},
		{NS1_COM, "x.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"x.example.com. 300 IN CNAME x.example.net."}},
		{NS1_NET, "x.example.net.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"x.example.net. 300 IN CNAME x.example.com."}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "a.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(ldns_pkt_ancount(a), 0);
	assert_int_equal(f->nsent, 4);
	assert_int_equal(f->unscripted, 0);

	a = resolve(f, "x.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_true(f->nsent <= 5);
	assert_int_equal(f->unscripted, 0);

	/* Both links cached now: the loop is seen without asking anyone. */
	a = resolve(f, "x.example.com.", LDNS_RR_TYPE_A, T0 + 1);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(f->nsent, 0);
	a = resolve(f, "x.example.net.", LDNS_RR_TYPE_A, T0 + 1);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(f->nsent, 0);
}

/* max_cname_chain links are followed; one more is SERVFAIL. */
static void test_cname_chain_limit(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "c0.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"c0.example.com. 300 IN CNAME c1.example.com.",
			"c1.example.com. 300 IN CNAME c2.example.com.",
			"c2.example.com. 300 IN CNAME c3.example.com.",
			"c3.example.com. 300 IN CNAME c4.example.com.",
			"c4.example.com. 300 IN CNAME c5.example.com.",
			"c5.example.com. 300 IN CNAME c6.example.com.",
			"c6.example.com. 300 IN CNAME c7.example.com.",
			"c7.example.com. 300 IN CNAME c8.example.com.",
			"c8.example.com. 300 IN CNAME c9.example.com.",
			"c9.example.com. 300 IN CNAME c10.example.com.",
			"c10.example.com. 300 IN CNAME c11.example.com.",
			"c11.example.com. 300 IN CNAME c12.example.com.",
			"c12.example.com. 300 IN CNAME c13.example.com.",
			"c13.example.com. 300 IN A 192.0.2.13"}},
		END,
	};

	use_script(f, script);
	/* c0 -> ... -> c13: 13 links, one more than the default limit of 12. */
	const ldns_pkt *a = resolve(f, "c0.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(ldns_pkt_ancount(a), 0);
	assert_true(f->nsent <= 4);

	/* c1 -> ... -> c13: 12 links, within the limit (mostly from the cache). */
	a = resolve(f, "c1.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 13);
	assert_int_equal(answer_type(a, 12), LDNS_RR_TYPE_A);

	/* A lower limit applies to chains from the cache too. */
	f->opts.limits.max_cname_chain = 3;
	a = resolve(f, "c10.example.com.", LDNS_RR_TYPE_A, T0); /* 3 links */
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 4);
	assert_int_equal(f->nsent, 0);
	a = resolve(f, "c9.example.com.", LDNS_RR_TYPE_A, T0); /* 4 links */
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(f->nsent, 0);
}

/* NXDOMAIN with the SOA, and its negative caching (RFC 2308). */
static void test_nxdomain(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "nx.example.com.", 0, F_AA, LDNS_RCODE_NXDOMAIN, .ns = {SOA_EXAMPLE_COM}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "nx.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_ancount(a), 0);
	assert_int_equal(ldns_pkt_nscount(a), 1);
	assert_true(section_has(a, LDNS_SECTION_AUTHORITY, SOA_EXAMPLE_COM));
	assert_int_equal(f->nsent, 4);
	assert_int_equal(f->unscripted, 0);

	a = resolve(f, "nx.example.com.", LDNS_RR_TYPE_A, T0 + 10);
	assert_int_equal(resolver_request_upstream_count(f->req), 0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_nscount(a), 1);
	assert_true(section_has(a, LDNS_SECTION_AUTHORITY, SOA_EXAMPLE_COM));
	/* RFC 2308 §5: TTL = min(SOA TTL, MINIMUM) = 300, counting down. */
	assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_authority(a), 0)), 290);

	/* NXDOMAIN covers every type of the name. */
	a = resolve(f, "nx.example.com.", LDNS_RR_TYPE_MX, T0 + 10);
	assert_int_equal(f->nsent, 0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);

	/* After the negative TTL the name is asked again. */
	a = resolve(f, "nx.example.com.", LDNS_RR_TYPE_A, T0 + 301);
	assert_int_equal(f->nsent, 1);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
}

/* NODATA: NOERROR, no answer, the SOA; cached for the type only. */
static void test_nodata(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "www.example.com.", LDNS_RR_TYPE_TXT, F_AA, 0, .ns = {SOA_EXAMPLE_COM}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_TXT, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 0);
	assert_int_equal(ldns_pkt_nscount(a), 1);
	assert_true(section_has(a, LDNS_SECTION_AUTHORITY, SOA_EXAMPLE_COM));
	assert_int_equal(f->nsent, 4);

	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_TXT, T0 + 5);
	assert_int_equal(resolver_request_upstream_count(f->req), 0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 0);
	assert_int_equal(ldns_pkt_nscount(a), 1);

	/* Other types of the name are still asked. */
	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0 + 5);
	assert_int_equal(f->nsent, 1);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 1);
}

/* example.com. is served by ns.example.net. without glue: a sub-query
 * resolves the server's address first. */
static void test_glueless(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{GTLD, "*.example.com.", 0, 0, 0,
		 .ns = {"example.com. 172800 IN NS ns.example.net."}},
		{NS_NET, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.example.com. 300 IN A 192.0.2.82"}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 1);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.82"));
	/* The sub-query's records stay out of the client's answer. */
	assert_false(section_has(a, LDNS_SECTION_ANSWER, "ns.example.net. 3600 IN A " NS_NET));
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(f->nsent, 7);
	assert_sent(f, 3, ROOT, "ns.example.net.", LDNS_RR_TYPE_A);
	assert_sent(f, 4, GTLD, "ns.example.net.", LDNS_RR_TYPE_A);
	assert_sent(f, 5, NS1_NET, "ns.example.net.", LDNS_RR_TYPE_A);
	assert_sent(f, 6, NS_NET, "www.example.com.", LDNS_RR_TYPE_A);

	/* Next time the server's address comes from the cache. */
	static const struct entry script2[] = {
		{NS_NET, "ftp.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"ftp.example.com. 300 IN A 192.0.2.83"}},
		END,
	};
	use_script(f, script2);
	a = resolve(f, "ftp.example.com.", LDNS_RR_TYPE_A, T0 + 1);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->nsent, 1);
	assert_sent(f, 0, NS_NET, "ftp.example.com.", LDNS_RR_TYPE_A);
}

static const struct entry mutual_glueless_script[] = {
	{GTLD, "*.example.com.", 0, 0, 0, .ns = {"example.com. 172800 IN NS ns.example.net."}},
	{GTLD, "*.example.net.", 0, 0, 0, .ns = {"example.net. 172800 IN NS ns.example.com."}},
	END,
};

/* example.com. served by ns.example.net., example.net. by ns.example.com.,
 * neither with glue: no address can ever be found. SERVFAIL, by the
 * resolver's own loop detection, not by the upstream query cap. */
static void test_mutual_glueless_loop(void **state)
{
	struct fixture *f = *state;

	use_script(f, mutual_glueless_script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(f->unscripted, 0);
	assert_true(f->nsent < f->opts.limits.max_upstream_queries);

	f->opts.qname_minimisation = true;
	cache_flush(f->cache);
	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(f->unscripted, 0);
	assert_true(f->nsent < f->opts.limits.max_upstream_queries);
}

/* The same loop should cost about what it takes to see it: priming, the
 * two referral chains and the repeated referral for example.com. */
static void test_mutual_glueless_loop_cost(void **state)
{
	struct fixture *f = *state;

	/* Fixed: the parent fallback applies only to delegations taken from the
	 * cache, so the loop is seen after a handful of queries. */
	use_script(f, mutual_glueless_script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	if (f->nsent > 10)
		dump_log(f);
	assert_true(f->nsent <= 10);
}

static const struct entry two_servers_referral = {
	GTLD,
	"*.example.com.",
	0,
	0,
	0,
	.ns = {"example.com. 172800 IN NS ns1.example.com.",
	       "example.com. 172800 IN NS ns2.example.com."},
	.ar = {"ns1.example.com. 172800 IN A " NS1_COM, "ns2.example.com. 172800 IN A " NS2_COM},
};

/* example.com. has two servers; the first one (ns1) misbehaves as `bad`
 * says. The query moves on to ns2 after one attempt at ns1. */
static void check_one_bad_server(struct fixture *f, const struct entry *bad)
{
	const struct entry script[] = {
		*bad,
		two_servers_referral,
		{NS2_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.example.com. 300 IN A 192.0.2.80"}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.80"));
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(f->nsent, 5);
	assert_sent(f, 3, NS1_COM, "www.example.com.", LDNS_RR_TYPE_A);
	assert_int_equal(f->log[3].nservers, 2);
	assert_sent(f, 4, NS2_COM, "www.example.com.", LDNS_RR_TYPE_A);
	assert_int_equal(f->log[4].nservers, 1); /* the bad one is no candidate any more */
	f->scripts[0] = NULL;
}

static void test_dead_server(void **state)
{
	const struct entry bad = {NS1_COM, NULL, 0, F_DEAD, 0, .an = {NULL}};

	check_one_bad_server(*state, &bad);
}

static void test_lame_refused(void **state)
{
	const struct entry bad = {NS1_COM, NULL, 0, F_AA, LDNS_RCODE_REFUSED, .an = {NULL}};

	check_one_bad_server(*state, &bad);
}

static void test_lame_servfail(void **state)
{
	const struct entry bad = {NS1_COM, NULL, 0, 0, LDNS_RCODE_SERVFAIL, .an = {NULL}};

	check_one_bad_server(*state, &bad);
}

/* A lame server's upward referral (AA, the root NS set, no SOA). */
static void test_lame_upward_referral(void **state)
{
	const struct entry bad = {NS1_COM, NULL, 0,
				  F_AA,	   0,	 .ns = {". 518400 IN NS k.root-servers.net."}};

	check_one_bad_server(*state, &bad);
}

/* TC=1 over UDP: the same question goes to the same server over TCP. */
static void test_truncated_retries_tcp(void **state)
{
	struct fixture *f = *state;
	const struct entry script[] = {
		two_servers_referral,
		{NS1_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA | F_TC | F_UDP, 0, .an = {NULL}},
		{NS1_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA | F_TCP, 0,
		 .an = {"www.example.com. 300 IN A 192.0.2.80"}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.80"));
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(f->nsent, 5);
	assert_sent(f, 3, NS1_COM, "www.example.com.", LDNS_RR_TYPE_A);
	assert_false(f->log[3].tcp);
	assert_sent(f, 4, NS1_COM, "www.example.com.", LDNS_RR_TYPE_A);
	assert_true(f->log[4].tcp);
	assert_int_equal(f->log[4].nservers, 1);
	assert_int_equal(sends_to(f, NS2_COM), 0);
}

/* TC=1 over TCP too: that server is given up, the other one is asked. */
static void test_truncated_over_tcp(void **state)
{
	struct fixture *f = *state;

	/* Fixed: a server truncating over TCP too is failed and left. */
	const struct entry script[] = {
		two_servers_referral,
		{NS1_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA | F_TC, 0, .an = {NULL}},
		{NS2_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.example.com. 300 IN A 192.0.2.80"}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->nsent, 6);
	assert_true(f->log[4].tcp);
	assert_sent(f, 5, NS2_COM, "www.example.com.", LDNS_RR_TYPE_A);
	assert_false(f->log[5].tcp);
}

/* The com. server answers with NS sets for zones that are not below com.
 * (example.org.) or do not contain the name (evil.com.): not followed, not
 * cached, and their glue is never asked. */
static void test_referral_out_of_bailiwick(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{GTLD, "*.example.com.", 0, 0, 0,
		 .ns = {"example.org. 172800 IN NS ns.evil.org.",
			"evil.com. 172800 IN NS ns.evil.com."},
		 .ar = {"ns.evil.org. 172800 IN A " EVIL, "ns.evil.com. 172800 IN A " EVIL}},
		{EVIL, NULL, 0, F_AA, 0, .an = {"www.example.com. 300 IN A " EVIL}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(sends_to(f, EVIL), 0);
	assert_int_equal(f->unscripted, 0);
	if (f->nsent > 8)
		dump_log(f);
	assert_true(f->nsent <= 8);
	assert_int_equal(cached(f, "example.org.", LDNS_RR_TYPE_NS, T0, NULL), CACHE_MISS);
	assert_int_equal(cached(f, "ns.evil.org.", LDNS_RR_TYPE_A, T0, NULL), CACHE_MISS);
	assert_int_equal(cached(f, "www.example.com.", LDNS_RR_TYPE_A, T0, NULL), CACHE_MISS);
}

/* A server for example.com. that hands out a delegation of com. (upward)
 * is lame for that question; the other server answers. */
static void test_upward_referral_not_followed(void **state)
{
	const struct entry bad = {NS1_COM,
				  NULL,
				  0,
				  0,
				  0,
				  .ns = {"com. 172800 IN NS ns.evil.com."},
				  .ar = {"ns.evil.com. 172800 IN A " EVIL}};
	struct fixture *f = *state;

	check_one_bad_server(f, &bad);
	assert_int_equal(sends_to(f, EVIL), 0);
	/* The real com. NS set is still the one cached. */
	struct cache_result res;
	assert_int_equal(cached(f, "com.", LDNS_RR_TYPE_NS, T0, &res), CACHE_FRESH);
	assert_int_equal(ldns_rr_list_rr_count(res.rrs), 1);
	assert_true(rdata_is(ldns_rr_list_rr(res.rrs, 0), "a.gtld-servers.net."));
	cache_result_clear(&res);
	assert_int_equal(cached(f, "ns.evil.com.", LDNS_RR_TYPE_A, T0, NULL), CACHE_MISS);
}

/* Glue for a name outside the delegating zone (com. vouching for
 * ns.example.net.) is not used with harden_glue: the address is resolved. */
static void test_harden_glue(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{GTLD, "*.example.com.", 0, 0, 0,
		 .ns = {"example.com. 172800 IN NS ns.example.net."},
		 .ar = {"ns.example.net. 172800 IN A " EVIL}},
		{NS_NET, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.example.com. 300 IN A 192.0.2.82"}},
		{EVIL, NULL, 0, F_AA, 0, .an = {"www.example.com. 300 IN A " EVIL}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.com. 300 IN A 192.0.2.82"));
	assert_int_equal(sends_to(f, EVIL), 0);
	assert_int_equal(f->unscripted, 0);
	struct cache_result res;
	assert_int_equal(cached(f, "ns.example.net.", LDNS_RR_TYPE_A, T0, &res), CACHE_FRESH);
	assert_int_equal(ldns_rr_list_rr_count(res.rrs), 1);
	assert_true(rdata_is(ldns_rr_list_rr(res.rrs, 0), NS_NET));
	cache_result_clear(&res);

	/* Without harden_glue the same glue is believed (and used). */
	cache_flush(f->cache);
	f->opts.harden_glue = false;
	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(sends_to(f, EVIL), 1);
}

/* Every server of example.com. times out: SERVFAIL, each asked few times. */
static void test_all_servers_dead(void **state)
{
	struct fixture *f = *state;
	const struct entry script[] = {
		two_servers_referral,
		{NS1_COM, NULL, 0, F_DEAD, 0, .an = {NULL}},
		{NS2_COM, NULL, 0, F_DEAD, 0, .an = {NULL}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(f->unscripted, 0);
	/* Today: 11 sends, each dead server asked 3 times (once per cut, the
	 * cut being re-entered by the two parent fallbacks). */
	assert_true(f->nsent <= 12);
	assert_true(sends_to(f, NS1_COM) <= 3);
	assert_true(sends_to(f, NS2_COM) <= 3);
}

/* Records for names outside the server's zone are neither cached nor used
 * as the answer: a CNAME into example.net. with a forged A for its target
 * in the same response from the example.com. server. */
static void test_answer_out_of_zone(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "www.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.example.com. 300 IN CNAME www.example.net.",
			"www.example.net. 300 IN A " EVIL},
		 .ns = {"example.net. 300 IN NS ns.evil.com."},
		 .ar = {"ns.evil.com. 300 IN A " EVIL}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(ldns_pkt_ancount(a), 2);
	assert_true(section_has(a, LDNS_SECTION_ANSWER, "www.example.net. 300 IN A 198.51.100.80"));
	assert_false(section_has(a, LDNS_SECTION_ANSWER, "www.example.net. 300 IN A " EVIL));
	assert_int_equal(sends_to(f, EVIL), 0);
	struct cache_result res;
	assert_int_equal(cached(f, "www.example.net.", LDNS_RR_TYPE_A, T0, &res), CACHE_FRESH);
	assert_true(rdata_is(ldns_rr_list_rr(res.rrs, 0), "198.51.100.80"));
	cache_result_clear(&res);
	assert_int_equal(cached(f, "example.net.", LDNS_RR_TYPE_NS, T0, &res), CACHE_FRESH);
	assert_true(rdata_is(ldns_rr_list_rr(res.rrs, 0), "ns1.example.net."));
	cache_result_clear(&res);
	assert_int_equal(cached(f, "ns.evil.com.", LDNS_RR_TYPE_A, T0, NULL), CACHE_MISS);
}

/* DS lives in the parent (RFC 4035 §3.1.4.1): asked of com., not of
 * example.com., even when the child's delegation is cached; never minimised. */
static void test_ds_asked_of_parent(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{GTLD, "example.com.", LDNS_RR_TYPE_DS, F_AA, 0,
		 .an = {"example.com. 86400 IN DS 370 13 2 "
			"be74359954660069d5c63d200c39f5603827d7dd02b56f120ee9f3a86764247c"}},
		END,
	};

	f->opts.qname_minimisation = true;
	use_script(f, script);
	const ldns_pkt *a = resolve(f, "example.com.", LDNS_RR_TYPE_DS, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(a), 1);
	assert_int_equal(answer_type(a, 0), LDNS_RR_TYPE_DS);
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(f->nsent, 3);
	assert_sent(f, 1, ROOT, "example.com.", LDNS_RR_TYPE_DS);
	assert_sent(f, 2, GTLD, "example.com.", LDNS_RR_TYPE_DS);

	/* With example.com.'s delegation cached, DS still goes to com. */
	cache_flush(f->cache);
	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	a = resolve(f, "example.com.", LDNS_RR_TYPE_DS, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->nsent, 1);
	assert_sent(f, 0, GTLD, "example.com.", LDNS_RR_TYPE_DS);
}

/* The upstream query cap ends the request in SERVFAIL. */
static void test_upstream_limit(void **state)
{
	struct fixture *f = *state;

	f->opts.limits.max_upstream_queries = 3; /* the chain needs 4 */
	const ldns_pkt *a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_int_equal(ldns_pkt_ancount(a), 0);
	assert_int_equal(f->nsent, 3);

	cache_flush(f->cache);
	f->opts.limits.max_upstream_queries = 4;
	a = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->nsent, 4);
}

/* An endless chain of referrals one label deeper each time stops at the
 * referral or query cap. */
static void test_referral_limit(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "*.example.com.", 0, 0, 0,
		 .ns = {"x.example.com. 3600 IN NS ns1.example.com."},
		 .ar = {"ns1.example.com. 3600 IN A " NS1_COM}},
		END,
	};

	use_script(f, script);
	f->opts.limits.max_referrals = 4;
	const ldns_pkt *a = resolve(f, "a.b.c.d.e.f.g.h.x.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_SERVFAIL);
	assert_true(f->nsent <= 10);
}

/* DNAME (RFC 6672): the CNAME is synthesized and the target resolved. */
static void test_dname(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "www.sub.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"sub.example.com. 300 IN DNAME sub.example.net."}},
		{NS1_NET, "www.sub.example.net.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.sub.example.net. 300 IN A 198.51.100.81"}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.sub.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->unscripted, 0);
	assert_int_equal(ldns_pkt_ancount(a), 3);
	assert_int_equal(answer_type(a, 0), LDNS_RR_TYPE_DNAME);
	assert_int_equal(answer_type(a, 1), LDNS_RR_TYPE_CNAME);
	assert_int_equal(answer_type(a, 2), LDNS_RR_TYPE_A);
	assert_true(section_has(a, LDNS_SECTION_ANSWER,
				"sub.example.com. 300 IN DNAME sub.example.net."));
	assert_true(section_has(a, LDNS_SECTION_ANSWER,
				"www.sub.example.com. 300 IN CNAME www.sub.example.net."));
	assert_true(
		section_has(a, LDNS_SECTION_ANSWER, "www.sub.example.net. 300 IN A 198.51.100.81"));
	assert_int_equal(f->nsent, 7);
	assert_sent(f, 6, NS1_NET, "www.sub.example.net.", LDNS_RR_TYPE_A);
}

/* DNAME with the server's own synthesized CNAME beside it (RFC 6672 §3.1). */
static void test_dname_with_cname(void **state)
{
	struct fixture *f = *state;
	static const struct entry script[] = {
		{NS1_COM, "www.sub.example.com.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"sub.example.com. 300 IN DNAME sub.example.com.example.net.",
			"www.sub.example.com. 300 IN CNAME www.sub.example.com.example.net."}},
		{NS1_NET, "www.sub.example.com.example.net.", LDNS_RR_TYPE_A, F_AA, 0,
		 .an = {"www.sub.example.com.example.net. 300 IN A 198.51.100.82"}},
		END,
	};

	use_script(f, script);
	const ldns_pkt *a = resolve(f, "www.sub.example.com.", LDNS_RR_TYPE_A, T0);
	assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	assert_int_equal(f->unscripted, 0);
	assert_true(
		section_has(a, LDNS_SECTION_ANSWER,
			    "www.sub.example.com. 300 IN CNAME www.sub.example.com.example.net."));
	assert_true(section_has(a, LDNS_SECTION_ANSWER,
				"www.sub.example.com.example.net. 300 IN A 198.51.100.82"));
}

int main(void)
{
	if (getenv("HOLDFAST_TEST_DEBUG"))
		log_set_verbosity(LOG_LEVEL_DEBUG);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test_setup_teardown(test_referral_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qname_minimisation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qname_minimisation_no_cuts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qname_minimisation_broken_ent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cache_hit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cname_in_zone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cname_across_zones, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cname_to_nxdomain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cname_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cname_chain_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nxdomain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nodata, setup, teardown),
		cmocka_unit_test_setup_teardown(test_glueless, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mutual_glueless_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mutual_glueless_loop_cost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_servers_dead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_out_of_zone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lame_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lame_servfail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lame_upward_referral, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_retries_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_over_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_referral_out_of_bailiwick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upward_referral_not_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_harden_glue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ds_asked_of_parent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upstream_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_referral_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dname, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dname_with_cname, setup, teardown),
	};
	int rc;

	cache_thread_register();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cache_thread_unregister();
	return rc;
}
