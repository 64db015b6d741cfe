/*
 * skim — is a whole message structurally sound, and cheap for ldns to
 * parse? Every record of every section must lie inside the message: fixed
 * fields present, RDATA within its RDLENGTH and the message, and every
 * name ldns will decompress (question, owners, the names inside RDATA)
 * bounded as dns/wire_names.c says (pointers strictly backwards, at most
 * DNS_NAME_MAX_POINTERS of them, 255 octets expanded), and no record of
 * more than DNS_RDATA_MAX_FIELDS fields. Nothing is allocated.
 *
 * Used by upstream/ on a response whose question matched, so that garbage
 * is ignored at the cost of a walk rather than a parse, and by dns_parse()
 * before ldns sees any bytes, so no path can hand ldns an unbounded
 * message. It does not judge the content: a sound message can still be a
 * lie, and the parser may still reject RDATA whose inner layout is wrong.
 */
#include "dns/dns.h"
#include "dns/impl.h"

bool dns_wire_skim(const uint8_t *wire, size_t len)
{
	size_t pos = DNS_HEADER_LEN;

	if (!wire || len < DNS_HEADER_LEN)
		return false;
	unsigned qd = dns_get16(wire + 4);
	/* RFC 1035 §4.1.1: ANCOUNT, NSCOUNT and ARCOUNT in bytes 6..11. */
	unsigned rrs = (unsigned)dns_get16(wire + 6) + dns_get16(wire + 8) + dns_get16(wire + 10);

	/* Each question takes at least 5 octets, each record 11, so these
	 * loops are bounded by len, not by the counts. */
	for (unsigned i = 0; i < qd; i++) {
		if (!dns_wire_name_check(wire, len, &pos) || len - pos < 4)
			return false;
		pos += 4;
	}
	for (unsigned i = 0; i < rrs; i++) {
		if (!dns_wire_name_check(wire, len, &pos) || len - pos < 10)
			return false;
		uint16_t type = dns_get16(wire + pos);
		uint16_t rdlen = dns_get16(wire + pos + 8);
		pos += 10;
		if (len - pos < rdlen || !dns_wire_rdata_check(wire, len, type, pos, rdlen))
			return false;
		pos += rdlen;
	}
	return true;
}
