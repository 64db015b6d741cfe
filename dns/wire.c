/*
 * wire — the hand-written writer of small messages: a header, at most one
 * question and at most one OPT record (with an optional Extended DNS Error).
 * Used for error responses, upstream queries and truncated answers, where
 * building an ldns_pkt would only cost allocations. It writes no resource
 * records of other types and does no name compression (nothing to compress:
 * there is one name at most).
 */
#include "dns/impl.h"
#include "dns/dns.h"

#include <errno.h>
#include <string.h>

bool dns_wire_name_is_valid(const uint8_t *name, size_t len)
{
	size_t pos = 0;

	if (!name || len == 0 || len > DNS_NAME_MAX)
		return false;
	while (pos < len) {
		uint8_t label = name[pos];

		if (label == 0)
			return pos == len - 1;
		/* RFC 1035 §4.1.4 pointers and RFC 6891 §5 extended label types */
		if (label > 63)
			return false;
		pos += 1u + label;
	}
	return false;
}

int dns_wire_write_head(const struct dns_wire_head *h, uint8_t *out, size_t cap)
{
	size_t need = DNS_HEADER_LEN;
	size_t ede_len = 0;
	size_t pos;

	if (h->qname)
		need += h->qname_len + 4u;
	if (h->opt) {
		need += DNS_OPT_FIXED_LEN;
		if (h->ede_code >= 0) {
			ede_len = h->ede_text ? h->ede_text_len : 0;
			/* RFC 8914 §2: INFO-CODE (2 bytes) then EXTRA-TEXT */
			if (ede_len > DNS_MSG_MAX - 512)
				return -EINVAL;
			need += 4u + 2u + ede_len;
		}
	}
	if (need > cap)
		return -ENOSPC;

	dns_put16(out, h->id);
	dns_put16(out + 2, h->flags);
	dns_put16(out + 4, h->qname ? 1 : 0);
	dns_put16(out + 6, 0);
	dns_put16(out + 8, 0);
	dns_put16(out + 10, h->opt ? 1 : 0);
	pos = DNS_HEADER_LEN;

	if (h->qname) {
		memcpy(out + pos, h->qname, h->qname_len);
		pos += h->qname_len;
		dns_put16(out + pos, h->qtype);
		dns_put16(out + pos + 2, h->qclass);
		pos += 4;
	}
	if (h->opt) {
		/* RFC 6891 §6.1.2-6.1.3: root owner, CLASS = UDP size, TTL = ext rcode,
		 * version (0), DO + Z */
		uint16_t rdlen = h->ede_code >= 0 ? (uint16_t)(4u + 2u + ede_len) : 0;

		out[pos] = 0;
		dns_put16(out + pos + 1, DNS_TYPE_OPT);
		dns_put16(out + pos + 3, h->udp_size);
		dns_put32(out + pos + 5,
			  ((uint32_t)h->ext_rcode << 24) | (h->edns_do ? DNS_EDNS_DO : 0));
		dns_put16(out + pos + 9, rdlen);
		pos += DNS_OPT_FIXED_LEN;
		if (h->ede_code >= 0) {
			dns_put16(out + pos, DNS_EDNS_OPT_EDE);
			dns_put16(out + pos + 2, (uint16_t)(2u + ede_len));
			dns_put16(out + pos + 4, (uint16_t)h->ede_code);
			if (ede_len)
				memcpy(out + pos + 6, h->ede_text, ede_len);
			pos += 6u + ede_len;
		}
	}
	return (int)pos;
}
