/*
 * fuzz_upstream_match — libFuzzer harness for upstream/wire.c's response
 * matcher (upstream_wire_match()), the first code to read the bytes an
 * authority (or anyone who can reach our port) sends back.
 *
 * Input: byte 0 picks the question asked (bits 0-2 the name, bits 3-5 the
 * type, bit 6 class CH instead of IN) and, with bit 7, takes the expected
 * ID from the response itself so the fuzzer gets past the ID check; the
 * rest is the response.
 *
 * Invariants: never reads outside the response (ASan in fuzz builds); the
 * verdict is one of the enum's; it is OK exactly when a plain reference
 * check holds (header ID, QR=1, QDCOUNT=1, the QNAME's octets at offset 12
 * equal up to ASCII case, then QTYPE and QCLASS) and the sections skim
 * as well formed (dns_wire_skim()); SHORT exactly when the
 * response is shorter than a header. Also prints the question name with
 * dns_name_wire_str(), which must stay in its buffer.
 *
 * The 0x20 mode on the same input: the name in a case pattern drawn by
 * upstream_wire_caps() (random words from a hash of the input), matched
 * exactly with upstream_wire_match_name(): OK exactly when the plain
 * verdict is OK and the octets at offset 12 are the pattern's, CASE
 * exactly when it is OK and they are not, and otherwise the same verdict
 * as the plain check. After an exact OK, upstream_wire_restore_qname()
 * puts the asked name back and the plain check still says OK.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "upstream/impl.h"
#include "fuzz/fuzz_check.h"

static const char *const names[] = {
	"www.example.com.",	   "example.com.",	     ".",
	"a.b.c.d.example.net.",	   "xn--bcher-kva.example.", "_sip._udp.example.org.",
	"1.2.0.192.in-addr.arpa.", "WwW.ExAmPlE.CoM.",
};
static const uint16_t types[] = {
	LDNS_RR_TYPE_A,	    LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_NS,	 LDNS_RR_TYPE_MX,
	LDNS_RR_TYPE_CNAME, LDNS_RR_TYPE_SOA,  LDNS_RR_TYPE_PTR, LDNS_RR_TYPE_DS,
};

static ldns_rdf *qnames[8];

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* The matcher's contract, written the simple way. */
static bool reference(const uint8_t *w, size_t len, uint16_t id, const ldns_rdf *qname,
		      uint16_t qtype, uint16_t qclass)
{
	const uint8_t *q = ldns_rdf_data(qname);
	size_t qlen = ldns_rdf_size(qname);

	if (len < 12 + qlen + 4)
		return false;
	if ((w[0] << 8 | w[1]) != id || !(w[2] & 0x80) || (w[4] << 8 | w[5]) != 1)
		return false;
	for (size_t i = 0; i < qlen; i++)
		if (lower(w[12 + i]) != lower(q[i]))
			return false;
	return (w[12 + qlen] << 8 | w[13 + qlen]) == qtype &&
	       (w[14 + qlen] << 8 | w[15 + qlen]) == qclass;
}

/* xorshift32 over a seed taken from the input: deterministic per input. */
static uint32_t next_u32(void *ctx)
{
	uint32_t *x = ctx;
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void check_caps_mode(uint8_t *w, size_t len, uint16_t id, const ldns_rdf *qname,
			    uint16_t qtype, uint16_t qclass, enum upstream_match plain)
{
	const uint8_t *q = ldns_rdf_data(qname);
	size_t qlen = ldns_rdf_size(qname);
	uint8_t caps[DNS_NAME_MAX + 1];
	uint32_t seed = 0x9e3779b9u;

	for (size_t i = 0; i < len; i++)
		seed = (seed ^ w[i]) * 16777619u;
	if (seed == 0)
		seed = 1;
	struct upstream_rng rng = {.u32 = next_u32, .ctx = &seed};
	CHECK(qlen <= sizeof(caps));
	memcpy(caps, q, qlen);
	bool mixed = upstream_wire_caps(caps, qlen, &rng);
	bool up = false, low = false;
	for (size_t i = 0; i < qlen; i++) {
		CHECK(lower(caps[i]) == lower(q[i])); /* only the case changes */
		up |= caps[i] >= 'A' && caps[i] <= 'Z';
		low |= caps[i] >= 'a' && caps[i] <= 'z';
	}
	CHECK(mixed == (up && low));

	enum upstream_match e =
		upstream_wire_match_name(w, len, id, caps, qlen, qtype, qclass, true);
	bool exact = len >= 12 + qlen && memcmp(w + 12, caps, qlen) == 0;
	if (plain == UPSTREAM_MATCH_OK)
		CHECK(e == (exact ? UPSTREAM_MATCH_OK : UPSTREAM_MATCH_CASE));
	else
		CHECK(e == plain);
	if (e == UPSTREAM_MATCH_OK) {
		upstream_wire_restore_qname(w, len, q, qlen);
		CHECK(memcmp(w + 12, q, qlen) == 0);
		CHECK(upstream_wire_match(w, len, id, qname, qtype, qclass) == UPSTREAM_MATCH_OK);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (qnames[0] == NULL)
		for (size_t i = 0; i < 8; i++)
			CHECK((qnames[i] = ldns_dname_new_frm_str(names[i])) != NULL);

	uint8_t pick = data[0];
	const ldns_rdf *qname = qnames[pick & 7];
	uint16_t qtype = types[(pick >> 3) & 7];
	uint16_t qclass = pick & 0x40 ? LDNS_RR_CLASS_CH : LDNS_RR_CLASS_IN;
	size_t len = size - 1;
	/* An exact copy, so that reading one octet past is caught. */
	uint8_t *w = malloc(len ? len : 1);
	CHECK(w != NULL);
	memcpy(w, data + 1, len);
	uint16_t id = (pick & 0x80) && len >= 2 ? (uint16_t)(w[0] << 8 | w[1]) : 0xbeef;

	enum upstream_match m = upstream_wire_match(w, len, id, qname, qtype, qclass);
	CHECK(m >= UPSTREAM_MATCH_OK && m <= UPSTREAM_MATCH_QUESTION);
	CHECK((m == UPSTREAM_MATCH_OK) ==
	      (reference(w, len, id, qname, qtype, qclass) && dns_wire_skim(w, len)));
	CHECK((m == UPSTREAM_MATCH_SHORT) == (len < 12));

	check_caps_mode(w, len, id, qname, qtype, qclass, m);

	if (len > 12) {
		char text[DNS_NAME_MAX_TEXT];
		dns_name_wire_str(w + 12, len - 12, text, sizeof(text));
		CHECK(strlen(text) < sizeof(text));
	}
	free(w);
	return 0;
}
