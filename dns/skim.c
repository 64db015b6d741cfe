/*
 * skim — is a whole message structurally sound? Every record of every
 * section must lie inside the message: names of valid labels whose
 * compression pointers point backwards, fixed fields present, RDATA within
 * its RDLENGTH and the message. Nothing is allocated, no pointer is
 * followed and no RDATA is interpreted.
 *
 * Used by upstream/ on a response whose question matched, so that garbage
 * is ignored at the cost of a walk rather than a parse (the resolver parses
 * the response once, after). It does not judge the content: a sound
 * message can still be a lie, and the parser may still reject RDATA whose
 * inner layout is wrong.
 */
#include "dns/dns.h"
#include "dns/impl.h"

bool dns_wire_skim(const uint8_t *wire, size_t len)
{
	struct dns_reader r = {.wire = wire, .len = len, .pos = DNS_HEADER_LEN};
	struct dns_rr_head rr;

	if (!wire || len < DNS_HEADER_LEN)
		return false;
	unsigned qd = dns_get16(wire + 4);
	/* RFC 1035 §4.1.1: ANCOUNT, NSCOUNT and ARCOUNT in bytes 6..11. */
	unsigned rrs = (unsigned)dns_get16(wire + 6) + dns_get16(wire + 8) + dns_get16(wire + 10);

	for (unsigned i = 0; i < qd; i++) {
		bool root;

		if (!dns_reader_skip_name(&r, &root) || !dns_reader_has(&r, 4))
			return false;
		r.pos += 4;
	}
	/* Each record takes at least 11 octets, so this loop is bounded by len. */
	for (unsigned i = 0; i < rrs; i++)
		if (!dns_reader_rr(&r, &rr))
			return false;
	return true;
}
