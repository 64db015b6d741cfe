/*
 * fuzz_patch — libFuzzer harness for the fast path's wire patcher
 * (dns/patch.c): dns_answer_ttl_offsets(), which finds the TTL fields of
 * an answer before it is cached, and dns_patch_cached_answer(), which
 * shapes a cached answer for the client asking. Their input is our own
 * messages, but a corrupted cache entry must never become an overread or
 * an overwrite, so they are fuzzed with arbitrary bytes.
 *
 * Input: byte 0 holds the query view's flags (bit 0 RD, bit 1 CD, bit 2
 * EDNS, bit 3 DO) and, in bits 4-7, the spare room after the message
 * (0..15 bytes, around the OPT record's 11); bytes 1-2 the client's ID;
 * byte 3 the offset table's capacity; byte 4 the query name's length, then
 * that many bytes of name (fewer if the input ends); the rest is the
 * message.
 *
 * Invariants: nothing is read or written outside the message's buffer,
 * allocated to its exact capacity (ASan); dns_answer_ttl_offsets() returns
 * -EBADMSG, -ENOSPC or a count within the capacity, each offset a 4-byte
 * field inside the message after the header, increasing, the minimum TTL
 * the smallest of them, and -ENOSPC exactly when one slot fewer than the
 * count is given; dns_patch_cached_answer() returns -EINVAL, -ENOSPC or
 * the new length (the same, or 11 more with EDNS) within the capacity,
 * with the client's ID, QR=1 and the client's name at offset 12, and the
 * rest of the message untouched (but ARCOUNT with EDNS).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "fuzz/fuzz_check.h"

#define OPT_LEN 11 /* dns/impl.h DNS_OPT_FIXED_LEN: root owner, type, class, TTL, RDLENGTH */

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void check_offsets(const uint8_t *data, size_t len, size_t cap)
{
	uint8_t *msg = malloc(len ? len : 1);
	uint16_t *offsets = malloc((cap ? cap : 1) * sizeof(*offsets));
	uint32_t min = 0xdeadbeef;

	CHECK(msg && offsets);
	if (len)
		memcpy(msg, data, len);
	int r = dns_answer_ttl_offsets(msg, len, offsets, cap, &min);
	CHECK(r == -EBADMSG || r == -ENOSPC || (r >= 0 && (size_t)r <= cap));
	if (r >= 0) {
		uint32_t want = r ? UINT32_MAX : 0;
		for (int i = 0; i < r; i++) {
			CHECK(offsets[i] >= DNS_HEADER_LEN);
			CHECK((size_t)offsets[i] + 4 <= len);
			CHECK(i == 0 || offsets[i] > offsets[i - 1]);
			if (get32(msg + offsets[i]) < want)
				want = get32(msg + offsets[i]);
		}
		CHECK(min == want);
		if (r > 0)
			CHECK(dns_answer_ttl_offsets(msg, len, offsets, (size_t)r - 1, NULL) ==
			      -ENOSPC);
	}
	free(offsets);
	free(msg);
}

static void check_patch(const uint8_t *data, size_t len, size_t room,
			const struct dns_query_view *q)
{
	size_t cap = len + room;
	uint8_t *msg = malloc(cap ? cap : 1);

	CHECK(msg);
	if (len)
		memcpy(msg, data, len);
	int r = dns_patch_cached_answer(msg, len, cap, q);
	if (r == -EINVAL) {
		CHECK(q->qname_len == 0 || len < DNS_HEADER_LEN + (size_t)q->qname_len + 4);
		goto out;
	}
	if (r == -ENOSPC) {
		CHECK(q->has_edns && len + OPT_LEN > cap);
		goto out;
	}
	CHECK(r > 0);
	CHECK((size_t)r == len + (q->has_edns ? OPT_LEN : 0));
	CHECK((size_t)r <= cap);
	CHECK(msg[0] == (uint8_t)(q->id >> 8) && msg[1] == (uint8_t)q->id);
	CHECK(msg[2] & 0x80);
	CHECK(memcmp(msg + DNS_HEADER_LEN, q->qname, q->qname_len) == 0);
	CHECK(memcmp(msg + 4, data + 4, 6) == 0); /* QD, AN, NS counts */
	size_t rest = DNS_HEADER_LEN + q->qname_len;
	CHECK(memcmp(msg + rest, data + rest, len - rest) == 0);
	if (!q->has_edns)
		CHECK(memcmp(msg + 10, data + 10, 2) == 0);
out:
	free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_query_view q;

	if (size < 5)
		return 0;
	memset(&q, 0, sizeof(q));
	q.rd = data[0] & 1;
	q.cd = data[0] & 2;
	q.has_edns = data[0] & 4;
	q.edns_do = data[0] & 8;
	q.has_question = true;
	size_t room = data[0] >> 4;
	q.id = (uint16_t)(data[1] << 8 | data[2]);
	size_t cap = data[3];
	size_t qlen = data[4];
	data += 5;
	size -= 5;
	if (qlen > size)
		qlen = size;
	memcpy(q.qname, data, qlen);
	q.qname_len = (uint8_t)qlen;
	data += qlen;
	size -= qlen;

	check_offsets(data, size, cap);
	check_patch(data, size, room, &q);
	return 0;
}
