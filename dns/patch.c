/*
 * patch — the fast path's side of the wire layer: finding the TTL fields
 * of an answer we wrote (so the cache can count them down in place), and
 * shaping a cached answer for the client asking now (ID, flags, the
 * question's letter case, OPT). Every byte is bounds-checked even though
 * the messages are our own: a cache entry must never become an overread.
 */
#include <errno.h>
#include <string.h>

#include "dns/dns.h"
#include "dns/impl.h"

/* Skips a possibly compressed name; the offset after it, or 0. */
static size_t skip_name(const uint8_t *msg, size_t len, size_t off)
{
	while (off < len) {
		uint8_t l = msg[off];
		if ((l & 0xc0) == 0xc0)
			return off + 2 <= len ? off + 2 : 0;
		if (l & 0xc0)
			return 0;
		off += 1 + (size_t)l;
		if (l == 0)
			return off <= len ? off : 0;
	}
	return 0;
}

int dns_answer_ttl_offsets(const uint8_t *msg, size_t len, uint16_t *offsets, size_t cap,
			   uint32_t *min_ttl)
{
	if (len < DNS_HEADER_LEN || len > UINT16_MAX)
		return -EBADMSG;
	size_t qd = dns_get16(msg + 4);
	size_t rrs = (size_t)dns_get16(msg + 6) + dns_get16(msg + 8) + dns_get16(msg + 10);
	size_t off = DNS_HEADER_LEN, n = 0;
	uint32_t min = UINT32_MAX;
	for (size_t i = 0; i < qd; i++) {
		off = skip_name(msg, len, off);
		if (!off || off + 4 > len)
			return -EBADMSG;
		off += 4;
	}
	for (size_t i = 0; i < rrs; i++) {
		off = skip_name(msg, len, off);
		if (!off || off + 10 > len)
			return -EBADMSG;
		uint16_t type = dns_get16(msg + off);
		uint16_t rdlen = dns_get16(msg + off + 8);
		if (off + 10 + rdlen > len)
			return -EBADMSG;
		if (type != DNS_TYPE_OPT) { /* the OPT "TTL" is flags, not a TTL */
			if (n >= cap)
				return -ENOSPC;
			offsets[n++] = (uint16_t)(off + 4);
			uint32_t ttl = dns_get32(msg + off + 4);
			if (ttl < min)
				min = ttl;
		}
		off += 10 + rdlen;
	}
	if (off != len)
		return -EBADMSG;
	if (min_ttl)
		*min_ttl = n ? min : 0;
	return (int)n;
}

int dns_patch_cached_answer(uint8_t *msg, size_t len, size_t cap, const struct dns_query_view *q)
{
	if (len < DNS_HEADER_LEN + (size_t)q->qname_len + 4 || q->qname_len == 0)
		return -EINVAL;
	/* Same name (case aside) is guaranteed by the cache key; the case is the
	 * client's (DNS 0x20 and plain courtesy). */
	dns_put16(msg, q->id);
	uint16_t flags = dns_get16(msg + 2);
	flags &= (uint16_t) ~(DNS_FLAG_RD | DNS_FLAG_CD | DNS_FLAG_AA | DNS_FLAG_TC | DNS_FLAG_AD);
	flags |= DNS_FLAG_QR | DNS_FLAG_RA;
	if (q->rd)
		flags |= DNS_FLAG_RD;
	if (q->cd)
		flags |= DNS_FLAG_CD;
	dns_put16(msg + 2, flags);
	memcpy(msg + DNS_HEADER_LEN, q->qname, q->qname_len);
	if (!q->has_edns)
		return (int)len;
	/* RFC 6891 §7: answer EDNS with EDNS (version 0, DO echoed). */
	if (len + DNS_OPT_FIXED_LEN > cap)
		return -ENOSPC;
	uint8_t *o = msg + len;
	o[0] = 0; /* root owner */
	dns_put16(o + 1, DNS_TYPE_OPT);
	dns_put16(o + 3, DNS_EDNS_UDP_ANSWER);
	dns_put32(o + 5, q->edns_do ? DNS_EDNS_DO : 0);
	dns_put16(o + 9, 0);
	dns_put16(msg + 10, (uint16_t)(dns_get16(msg + 10) + 1));
	return (int)(len + DNS_OPT_FIXED_LEN);
}
