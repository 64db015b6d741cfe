/*
 * scripted — the scripted network shared by the resolver unit tests that
 * drive whole resolutions (test_iterate.c, test_response.c, test_alias.c,
 * test_store.c, ...). Test-only, header-only like tests/unit/dns/msg_builder.h.
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
#pragma once
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

static inline ldns_rr *rr_new(const char *str)
{
	ldns_rr *rr = NULL;

	if (ldns_rr_new_frm_str(&rr, str, 0, NULL, NULL) != LDNS_STATUS_OK)
		fail_msg("bad record in the test: %s", str);
	return rr;
}

static inline ldns_rdf *name_new(const char *str)
{
	ldns_rdf *name = ldns_dname_new_frm_str(str);

	assert_non_null(name);
	return name;
}

static inline void name_lower_str(const ldns_rdf *name, char *buf, size_t cap)
{
	char *s = ldns_rdf2str(name);

	assert_non_null(s);
	snprintf(buf, cap, "%s", s);
	free(s);
	for (char *p = buf; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

static inline void addr_str(const struct sockaddr_storage *ss, char *buf, size_t cap)
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

static inline bool qname_matches(const char *pattern, const char *qname)
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

static inline const struct entry *script_find(const struct fixture *f, const char *server,
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

static inline void push_all(ldns_pkt *pkt, ldns_pkt_section section, const char *const *rrs)
{
	for (size_t i = 0; i < MAX_RRS && rrs[i]; i++)
		assert_true(ldns_pkt_push_rr(pkt, section, rr_new(rrs[i])));
}

/* The scripted response to `out`, with QR set and the question echoed. */
static inline ldns_pkt *response_new(const struct entry *e, const struct resolver_send *out)
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
static inline void exchange(struct fixture *f, const struct resolver_send *out, uint64_t now)
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
static inline const ldns_pkt *resolve(struct fixture *f, const char *qname, uint16_t qtype,
				      uint64_t now)
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

static inline bool section_has(const ldns_pkt *pkt, ldns_pkt_section section, const char *str)
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
static inline uint16_t answer_type(const ldns_pkt *pkt, size_t i)
{
	assert_true(i < ldns_rr_list_rr_count(ldns_pkt_answer(pkt)));
	return (uint16_t)ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(pkt), i));
}

static inline uint32_t answer_ttl(const ldns_pkt *pkt, size_t i)
{
	assert_true(i < ldns_rr_list_rr_count(ldns_pkt_answer(pkt)));
	return ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(pkt), i));
}

static inline unsigned sends_to(const struct fixture *f, const char *server)
{
	unsigned n = 0;

	for (size_t i = 0; i < f->nsent; i++)
		n += strcmp(f->log[i].server, server) == 0;
	return n;
}

static inline void assert_sent(const struct fixture *f, size_t i, const char *server,
			       const char *qname, uint16_t qtype)
{
	assert_true(i < f->nsent);
	assert_string_equal(f->log[i].server, server);
	assert_string_equal(f->log[i].qname, qname);
	assert_int_equal(f->log[i].qtype, qtype);
}

static inline enum cache_status cached(const struct fixture *f, const char *name, uint16_t type,
				       uint64_t now, struct cache_result *res)
{
	ldns_rdf *n = name_new(name);
	enum cache_status st = cache_lookup(f->cache, n, type, now, res);

	ldns_rdf_deep_free(n);
	return st;
}

/* The first rdata field of `rr` in presentation format equals `want`. */
static inline bool rdata_is(const ldns_rr *rr, const char *want)
{
	char *s = ldns_rdf2str(ldns_rr_rdf(rr, 0));
	bool eq = s && strcmp(s, want) == 0;

	free(s);
	return eq;
}

static inline void use_script(struct fixture *f, const struct entry *script)
{
	f->scripts[0] = script;
	f->scripts[1] = base_script;
}

static inline void dump_log(const struct fixture *f)
{
	for (size_t i = 0; i < f->nsent; i++)
		fprintf(stderr, "# %zu: @%s %s type %u%s\n", i, f->log[i].server, f->log[i].qname,
			f->log[i].qtype, f->log[i].tcp ? " tcp" : "");
}

/* ---- fixture ------------------------------------------------------------ */

static inline int setup(void **state)
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

static inline int teardown(void **state)
{
	struct fixture *f = *state;

	resolver_request_destroy(f->req);
	cache_destroy(f->cache);
	ldns_rr_list_deep_free(f->hints);
	free(f);
	return 0;
}

/* example.com. delegated to two servers, ns1 and ns2, both with glue. */
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

/* Group set-up and tear-down: the debug log on request, the cache's thread. */
static inline int scripted_group_setup(void **state)
{
	(void)state;
	if (getenv("HOLDFAST_TEST_DEBUG"))
		log_set_verbosity(LOG_LEVEL_DEBUG);
	cache_thread_register();
	return 0;
}

static inline int scripted_group_teardown(void **state)
{
	(void)state;
	cache_thread_unregister();
	return 0;
}
