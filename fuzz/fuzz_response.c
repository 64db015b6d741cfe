/*
 * fuzz_response — libFuzzer harness for upstream-response processing: the
 * bytes authorities send, through parsing (dns_parse), classification
 * (resolver_classify), bailiwick scrubbing and caching (resolver/store.c,
 * cache/) and the iterator's reaction, with a real cache.
 *
 * Input: byte 0 picks the question (name and type) and the options
 * (QNAME minimisation, harden-glue); then a sequence of responses, each a
 * 2-byte big-endian length and that many bytes. The iterator is driven
 * without sockets: each RESOLVER_SEND is answered with the next response
 * (as if from the first candidate); when they run out, with timeouts. The
 * question check upstream/ does is skipped on purpose: the resolver must
 * survive responses to other questions too.
 *
 * Invariants: the request always ends (bounded sends), ends with an
 * answer, and the answer can be written for a client.
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

static const char *const names[] = {
	"www.example.com.",	   "example.com.",
	"a.b.c.d.example.net.",	   ".",
	"xn--bcher-kva.example.",  "_sip._udp.example.org.",
	"1.2.0.192.in-addr.arpa.", "deep.a.b.c.d.e.f.g.h.example.",
};
static const uint16_t types[] = {
	LDNS_RR_TYPE_A,	    LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_NS, LDNS_RR_TYPE_MX,
	LDNS_RR_TYPE_CNAME, LDNS_RR_TYPE_TXT,  LDNS_RR_TYPE_DS, LDNS_RR_TYPE_SRV,
};

static struct cache *cache;
static ldns_rr_list *hints;
static struct resolver_opts opts;
static struct resolver_stats stats;

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
	hints = ldns_rr_list_new();
	const char *rrs[] = {". 3600000 IN NS k.root-servers.net.",
			     "k.root-servers.net. 3600000 IN A 193.0.14.129",
			     "k.root-servers.net. 3600000 IN AAAA 2001:7fd::1"};
	for (size_t i = 0; i < 3; i++) {
		ldns_rr *rr = NULL;
		CHECK(ldns_rr_new_frm_str(&rr, rrs[i], 0, NULL, NULL) == LDNS_STATUS_OK);
		ldns_rr_list_push_rr(hints, rr);
	}
	resolver_opts_init(&opts);
	CHECK(cache && hints);
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
	ldns_rdf *qname = ldns_dname_new_frm_str(names[pick & 7]);
	CHECK(qname);
	uint64_t now = 1700000000u + (pick >> 3);
	struct resolver_request *req =
		resolver_request_create(&env, qname, types[(pick >> 3) & 7], LDNS_RR_CLASS_IN, now);
	CHECK(req);

	size_t off = 1;
	unsigned sends = 0;
	struct resolver_send send;
	while (resolver_produce(req, now, &send) == RESOLVER_SEND) {
		CHECK(++sends <= MAX_SENDS);
		CHECK(send.nservers > 0 && send.qname);
		struct resolver_outcome o = {.server = &send.servers[0], .tcp = send.tcp};
		if (off + 2 <= size) {
			size_t len = (size_t)data[off] << 8 | data[off + 1];
			off += 2;
			if (len > size - off)
				len = size - off;
			o.status = RESOLVER_OUTCOME_RESPONSE;
			o.wire = data + off;
			o.len = len;
			off += len;
		} else {
			o.status = RESOLVER_OUTCOME_TIMEOUT;
		}
		resolver_consume(req, now, &o);
	}
	fuzz_check_client_answer(req, qname);

	resolver_request_destroy(req);
	ldns_rdf_deep_free(qname);
	/* Every input starts from an empty cache: reproducible crashes. */
	cache_flush(cache);
	cache_thread_quiescent();
	return 0;
}
