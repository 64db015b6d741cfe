/*
 * reply_cost — CPU cost of one large upstream reply through the real path.
 *
 * Builds the worst replies a 64 KB TCP message allows (about 4,000 records:
 * one owner and type with distinct RDATA, 4,000 distinct owners, and one
 * owner and type with every record the same) and feeds each, as wire bytes,
 * to resolver_consume() of a request asking the root hints' server: that is
 * dns_parse, rrset_scrub_malformed, resolver_classify, response_accept with
 * resolver_store_response (cache/), the alias chase and the client answer.
 * Prints the median wall time of a few runs per case ("median ms"; a reply
 * over the record caps of resolver/impl.h ends in SERVFAIL, rcode 2, at
 * the cost of counting), and the same of rrset_split() + rrset_extract()
 * alone on the parsed answer ("split ms"), which the caps do not stop, to
 * show the grouping's cost at sizes above the caps, and of dns_wire_skim()
 * alone ("skim ms", the compression-pointer bound of dns/wire_names.c, with
 * its verdict). The pointer cases are the worst replies ldns alone would
 * parse, and the worst the bound accepts. A measuring tool, not
 * a test: it asserts nothing about time (see bench/README.md).
 *
 *	build/bench/reply_cost [records]     (default 4000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "resolver/impl.h" /* rrset_split(): the helpers alone, past the caps */
#include "cache/cache.h"
#include "dns/dns.h"

#define NOW 1700000000u
#define ROUNDS 5

enum shape {
	SAME_OWNER,
	DISTINCT_OWNERS,
	DUPLICATES,
	POINTER_CHAINS,
	HIP_CHAIN,
	HIP_AT_CAP,
	TXT_FIELDS,
	TXT_LONG_STRINGS,
};

static const char *const shape_name[] = {
	[SAME_OWNER] = "one owner/type, distinct rdata",
	[DISTINCT_OWNERS] = "distinct owners",
	[DUPLICATES] = "one owner/type, all duplicates",
	[POINTER_CHAINS] = "owners at the end of a 16K chain",
	[HIP_CHAIN] = "HIP names at the end of a 16K chain",
	[HIP_AT_CAP] = "HIP names, 15 hops, 241 octets",
	[TXT_FIELDS] = "one TXT of 65,000 empty strings",
	[TXT_LONG_STRINGS] = "one TXT of 255-octet strings",
};

static ldns_rr *rr_from(const char *str)
{
	ldns_rr *rr = NULL;
	if (ldns_rr_new_frm_str(&rr, str, 0, NULL, NULL) != LDNS_STATUS_OK) {
		fprintf(stderr, "reply_cost: bad record %s\n", str);
		exit(1);
	}
	return rr;
}

/* The wire reply to "big.test. A" with `n` answer records of `shape`. */
static uint8_t *reply_new(enum shape shape, unsigned n, size_t *len)
{
	ldns_pkt *pkt = ldns_pkt_new();
	ldns_rr *q = ldns_rr_new();
	char buf[128];
	uint8_t *wire = NULL;

	ldns_pkt_set_id(pkt, 0x4242);
	ldns_pkt_set_qr(pkt, true);
	ldns_pkt_set_aa(pkt, true);
	ldns_rr_set_owner(q, ldns_dname_new_frm_str("big.test."));
	ldns_rr_set_type(q, LDNS_RR_TYPE_A);
	ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
	ldns_rr_set_question(q, true);
	ldns_pkt_push_rr(pkt, LDNS_SECTION_QUESTION, q);
	for (unsigned i = 0; i < n; i++) {
		unsigned v = shape == DUPLICATES ? 1 : i;
		if (shape == DISTINCT_OWNERS && i > 0)
			/* Two-octet labels above 0x7f (no letters, so no two
			 * owners equal case-insensitively): 19 octets a record. */
			snprintf(buf, sizeof(buf), "\\%03u\\%03u.test. 300 IN A 10.%u.%u.%u",
				 128 + ((i >> 7) & 127), 128 + (i & 127), (v >> 16) & 255,
				 (v >> 8) & 255, v & 255);
		else
			snprintf(buf, sizeof(buf), "big.test. 300 IN A 10.%u.%u.%u",
				 (v >> 16) & 255, (v >> 8) & 255, v & 255);
		ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, rr_from(buf));
	}
	if (ldns_pkt2wire(&wire, pkt, len) != LDNS_STATUS_OK) {
		fprintf(stderr, "reply_cost: cannot write the reply\n");
		exit(1);
	}
	ldns_pkt_free(pkt);
	return wire;
}

/*
 * The worst compression-pointer case skim lets through (every pointer
 * points backwards): the RDATA of one record (unknown type) holds a root
 * label and a chain of `hops` pointers, each to the one before; `n` records
 * then have their owner point at the chain's top, so ldns_wire2dname()
 * follows `hops` pointers for each (ldns allows LDNS_MAX_POINTERS, 65535,
 * per name). The records go over RESOLVER_MAX_REPLY_RRS: the parse is what
 * is measured.
 */
static uint8_t *chain_reply_new(unsigned hops, unsigned n, size_t *len)
{
	static const uint8_t head[] = {0x42, 0x42, 0x84, 0x00, 0,   1,	 0,   0,   0, 0, 0, 0, 3,
				       'b',  'i',  'g',	 4,    't', 'e', 's', 't', 0, 0, 1, 0, 1};
	size_t cap = sizeof(head) + 12 + 1 + 2 * (size_t)hops + 12 * (size_t)n;
	uint8_t *w = calloc(1, cap);
	size_t pos = sizeof(head);
	memcpy(w, head, sizeof(head));
	w[6] = (uint8_t)((n + 1) >> 8);
	w[7] = (uint8_t)(n + 1);
	uint8_t rr[12] = {0xc0, 12, 0xff, 0x00, 0, 1, 0, 0, 1, 0x2c};
	rr[10] = (uint8_t)((1 + 2 * hops) >> 8);
	rr[11] = (uint8_t)(1 + 2 * hops);
	memcpy(w + pos, rr, 12);
	pos += 12;
	size_t root = pos, top = pos;
	w[pos++] = 0;
	for (unsigned i = 0; i < hops; i++) {
		size_t prev = i == 0 ? root : pos - 2;
		top = pos;
		w[pos++] = (uint8_t)(0xc0 | (prev >> 8));
		w[pos++] = (uint8_t)prev;
	}
	for (unsigned i = 0; i < n; i++) {
		uint8_t r[12] = {(uint8_t)(0xc0 | (top >> 8)),
				 (uint8_t)top,
				 0xff,
				 0x00,
				 0,
				 1,
				 0,
				 0,
				 1,
				 0x2c,
				 0,
				 0};
		memcpy(w + pos, r, 12);
		pos += 12;
	}
	*len = pos;
	return w;
}

/*
 * The worst pointer case for the parse: names of two octets each, so that
 * a 64 KB reply holds as many as it can, at the end of a chain as long as
 * the rest of the message allows. One record of an unknown type holds the
 * chain in its RDATA: a root label, then `segs` runs of `labels` one-octet
 * labels, each run ending in a pointer to the run before. HIP records
 * (RFC 8005: the rendezvous servers are a list of names, which ldns
 * decompresses) follow, their RDATA filled with pointers to the top run:
 * ldns counts a record's fields in a uint8_t, so every 256th field is read
 * as the HIT/PK header again and gets four zero octets. `fields` per HIP
 * record (the skim allows DNS_RDATA_MAX_FIELDS); `*names` is the number of
 * pointers written.
 */
static uint8_t *hip_chain_reply_new(unsigned segs, unsigned labels, unsigned fields, size_t *len,
				    unsigned *names)
{
	static const uint8_t head[] = {0x42, 0x42, 0x84, 0x00, 0,   1,	 0,   2,   0, 0, 0, 0, 3,
				       'b',  'i',  'g',	 4,    't', 'e', 's', 't', 0, 0, 1, 0, 1};
	uint8_t *w = calloc(1, DNS_MSG_MAX);
	size_t pos = sizeof(head);
	memcpy(w, head, sizeof(head));
	size_t chain = 1 + (size_t)segs * (2 * (size_t)labels + 2);
	uint8_t rr[12] = {0xc0, 12, 0xff, 0x00, 0, 1, 0, 0, 1, 0x2c};
	rr[10] = (uint8_t)(chain >> 8);
	rr[11] = (uint8_t)chain;
	memcpy(w + pos, rr, 12);
	pos += 12;
	size_t prev = pos, top = pos;
	w[pos++] = 0;
	for (unsigned i = 0; i < segs; i++) {
		top = pos;
		for (unsigned k = 0; k < labels; k++) {
			w[pos++] = 1;
			w[pos++] = 'x';
		}
		w[pos++] = (uint8_t)(0xc0 | (prev >> 8));
		w[pos++] = (uint8_t)prev;
		prev = top;
	}
	unsigned records = 1;
	*names = 0;
	while (DNS_MSG_MAX - pos >= 12 + 4 + 2) {
		uint8_t hip[12] = {0xc0, 12, 0, 55, 0, 1, 0, 0, 1, 0x2c};
		size_t hip_at = pos;
		pos += 12;
		size_t rdata = pos;
		for (unsigned field = 0; field < fields && DNS_MSG_MAX - pos >= 4; field++) {
			if (field % 256 == 0) {
				pos += 4; /* HIT length 0, algorithm 0, PK length 0 */
			} else {
				w[pos++] = (uint8_t)(0xc0 | (top >> 8));
				w[pos++] = (uint8_t)top;
				(*names)++;
			}
		}
		hip[10] = (uint8_t)((pos - rdata) >> 8);
		hip[11] = (uint8_t)(pos - rdata);
		memcpy(w + hip_at, hip, 12);
		records++;
	}
	w[6] = (uint8_t)(records >> 8);
	w[7] = (uint8_t)records;
	*len = pos;
	return w;
}

/*
 * One TXT record filling the message with strings of `each` octets: ldns
 * allocates RDLENGTH octets for every string (wire2host.c), so empty
 * strings cost 65,000 allocations of 64 KB. `*strings` is their number.
 */
static uint8_t *txt_reply_new(unsigned each, size_t *len, unsigned *strings)
{
	static const uint8_t head[] = {0x42, 0x42, 0x84, 0x00, 0,   1,	 0,   1,   0, 0, 0, 0, 3,
				       'b',  'i',  'g',	 4,    't', 'e', 's', 't', 0, 0, 1, 0, 1};
	uint8_t *w = calloc(1, DNS_MSG_MAX);
	size_t pos = sizeof(head);
	memcpy(w, head, sizeof(head));
	uint8_t rr[12] = {0xc0, 12, 0, 16, 0, 1, 0, 0, 1, 0x2c};
	size_t rr_at = pos;
	pos += 12;
	size_t rdata = pos;
	*strings = 0;
	while (DNS_MSG_MAX - pos >= 1 + (size_t)each) {
		w[pos] = (uint8_t)each;
		memset(w + pos + 1, 'x', each);
		pos += 1 + (size_t)each;
		(*strings)++;
	}
	rr[10] = (uint8_t)((pos - rdata) >> 8);
	rr[11] = (uint8_t)(pos - rdata);
	memcpy(w + rr_at, rr, 12);
	*len = pos;
	return w;
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One request from create to answer, the reply fed once. Seconds spent in
 * resolver_consume(); *rcode and *ancount describe the client's answer. */
static double run_once(const uint8_t *wire, size_t len, int *rcode, size_t *ancount)
{
	struct cache *cache = cache_create(NULL);
	ldns_rr_list *hints = ldns_rr_list_new();
	struct resolver_opts opts;
	struct resolver_env env = {0};
	struct resolver_send out;
	ldns_rdf *qname = ldns_dname_new_frm_str("big.test.");
	double spent = 0;

	ldns_rr_list_push_rr(hints, rr_from(". 3600000 IN NS k.root-servers.net."));
	ldns_rr_list_push_rr(hints, rr_from("k.root-servers.net. 3600000 IN A 193.0.14.129"));
	resolver_opts_init(&opts);
	opts.qname_minimisation = false;
	opts.do_ip6 = false;
	env.cache = cache;
	env.opts = &opts;
	env.root_hints = hints;
	/* The root is primed from the hints' own answer so that only the big
	 * reply is measured: cache the priming result directly. */
	ldns_rr_list *root_ns = ldns_rr_list_new();
	ldns_rr_list_push_rr(root_ns, rr_from(". 518400 IN NS k.root-servers.net."));
	cache_put_rrset(cache, root_ns, CACHE_RANK_ANSWER_AUTH, NOW);
	ldns_rr_list_deep_free(root_ns);
	ldns_rr_list *root_a = ldns_rr_list_new();
	ldns_rr_list_push_rr(root_a, rr_from("k.root-servers.net. 518400 IN A 193.0.14.129"));
	cache_put_rrset(cache, root_a, CACHE_RANK_ANSWER_AUTH, NOW);
	ldns_rr_list_deep_free(root_a);

	struct resolver_request *req =
		resolver_request_create(&env, qname, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, NOW);
	for (int guard = 0; guard < 16; guard++) {
		memset(&out, 0, sizeof(out));
		if (resolver_produce(req, NOW, &out) == RESOLVER_DONE)
			break;
		struct sockaddr_storage server = out.servers[0];
		struct resolver_outcome outcome = {
			.status = RESOLVER_OUTCOME_RESPONSE,
			.server = &server,
			.wire = wire,
			.len = len,
		};
		char name[256];
		char *s = ldns_rdf2str(out.qname);
		snprintf(name, sizeof(name), "%s", s ? s : "");
		free(s);
		if (strcmp(name, "big.test.") != 0 || out.qtype != LDNS_RR_TYPE_A) {
			/* Anything else (priming): a timeout, not measured. */
			outcome.status = RESOLVER_OUTCOME_TIMEOUT;
			resolver_consume(req, NOW, &outcome);
			continue;
		}
		double t0 = seconds();
		resolver_consume(req, NOW, &outcome);
		memset(&out, 0, sizeof(out));
		resolver_produce(req, NOW, &out); /* builds the client's answer */
		spent += seconds() - t0;
	}
	const ldns_pkt *answer = resolver_answer(req);
	*rcode = answer ? (int)ldns_pkt_get_rcode(answer) : -1;
	*ancount = answer ? ldns_rr_list_rr_count(ldns_pkt_answer(answer)) : 0;
	resolver_request_destroy(req);
	ldns_rdf_deep_free(qname);
	ldns_rr_list_deep_free(hints);
	cache_destroy(cache);
	return spent;
}

/* The grouping and duplicate removal alone (what resolver_store_response()
 * and the answer extraction run), whatever the caps: seconds. */
static double split_once(const uint8_t *wire, size_t len, size_t *nsets)
{
	ldns_pkt *pkt = NULL;
	if (ldns_wire2pkt(&pkt, wire, len) != LDNS_STATUS_OK)
		return -1;
	double t0 = seconds();
	struct rrset_item *sets = rrset_split(ldns_pkt_answer(pkt), nsets);
	ldns_rr_list *big = rrset_extract(ldns_pkt_answer(pkt),
					  ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(pkt), 0)),
					  LDNS_RR_TYPE_A);
	double t = seconds() - t0;
	ldns_rr_list_deep_free(big);
	rrset_split_free(sets, *nsets);
	ldns_pkt_free(pkt);
	return t;
}

/* The bound alone: dns_wire_skim() on the whole reply, seconds. */
static double skim_once(const uint8_t *wire, size_t len, bool *ok)
{
	double t0 = seconds();
	*ok = dns_wire_skim(wire, len);
	return seconds() - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 4000;

	printf("%-34s %7s %8s %10s %6s %8s %9s %6s %8s %5s\n", "reply", "records", "bytes",
	       "median ms", "rcode", "answer", "split ms", "sets", "skim ms", "sound");
	for (enum shape shape = SAME_OWNER; shape <= TXT_LONG_STRINGS; shape++) {
		size_t len;
		/* 19 octets a record with distinct owners: 3,400 fill 64 KB. */
		unsigned count = shape == DISTINCT_OWNERS && n > 3400 ? 3400 : n;
		uint8_t *wire;
		if (shape == POINTER_CHAINS) {
			/* 16,000 hops and the rest of 64 KB in 12-octet records. */
			count = (65535 - 26 - 13 - 2 * 16000) / 12;
			wire = chain_reply_new(16000, count, &len);
		} else if (shape == HIP_CHAIN) {
			/* Half the message in hops, half in names. */
			wire = hip_chain_reply_new(16000, 0, 65535, &len, &count);
		} else if (shape == HIP_AT_CAP) {
			/* The longest names the bound accepts: the top run is
			 * 15 hops from the root (DNS_NAME_MAX_POINTERS 16, one
			 * more to reach it), 241 octets expanded, in HIP
			 * records of DNS_RDATA_MAX_FIELDS fields. */
			wire = hip_chain_reply_new(15, 8, DNS_RDATA_MAX_FIELDS, &len, &count);
		} else if (shape == TXT_FIELDS) {
			wire = txt_reply_new(0, &len, &count);
		} else if (shape == TXT_LONG_STRINGS) {
			wire = txt_reply_new(255, &len, &count);
		} else {
			wire = reply_new(shape, count, &len);
		}
		double t[ROUNDS];
		int rcode = 0;
		size_t ancount = 0;
		for (int r = 0; r < ROUNDS; r++)
			t[r] = run_once(wire, len, &rcode, &ancount);
		qsort(t, ROUNDS, sizeof(t[0]), cmp_double);
		double st[ROUNDS];
		size_t nsets = 0;
		for (int r = 0; r < ROUNDS; r++)
			st[r] = split_once(wire, len, &nsets);
		qsort(st, ROUNDS, sizeof(st[0]), cmp_double);
		double sk[ROUNDS];
		bool sound = false;
		for (int r = 0; r < ROUNDS; r++)
			sk[r] = skim_once(wire, len, &sound);
		qsort(sk, ROUNDS, sizeof(sk[0]), cmp_double);
		printf("%-34s %7u %8zu %10.2f %6d %8zu %9.2f %6zu %8.2f %5s\n", shape_name[shape],
		       count, len, t[ROUNDS / 2] * 1e3, rcode, ancount, st[ROUNDS / 2] * 1e3, nsets,
		       sk[ROUNDS / 2] * 1e3, sound ? "yes" : "no");
		free(wire);
	}
	return 0;
}
