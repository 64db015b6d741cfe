/*
 * fuzz_tcp_framing — libFuzzer harness for the DNS-over-TCP framing,
 * tcp_framing_next() (daemon/tcp_framing.c): the first code to look at the
 * bytes a TCP client sends.
 *
 * Input: byte 0 seeds the sizes of the reads the stream arrives in; the
 * rest is the stream.
 *
 * Invariants: never reads outside what was received (ASan); the result is
 * 1, 0 or -EBADMSG, and exactly what a plain reading of the prefix says;
 * every message lies inside the buffer and is 1..65535 bytes. A receiver
 * that gets the stream in pieces, keeps the tail that is not yet a whole
 * message and moves it to the front (as client_tcp.c does), sees the same
 * messages, in the same order, as one that gets it at once, and stops at
 * the same point on a zero length.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/tcp_framing.h"
#include "fuzz/fuzz_check.h"

#define MAX_MSGS 4096

struct split {
	size_t off[MAX_MSGS], len[MAX_MSGS]; /* offsets into the stream */
	size_t n;
	bool bad; /* stopped on a zero length */
};

/* One call on an exact-size copy, checked against the plain reading. */
static int next(const uint8_t *data, size_t len, size_t *mlen)
{
	uint8_t *buf = calloc(1, len ? len : 1);
	int r;

	CHECK(buf);
	if (len)
		memcpy(buf, data, len);
	*mlen = 0;
	r = tcp_framing_next(buf, len, mlen);
	free(buf);
	if (len < 2) {
		CHECK(r == 0);
	} else {
		size_t want = (size_t)data[0] << 8 | data[1];
		if (want == 0)
			CHECK(r == -EBADMSG);
		else if (len - 2 < want)
			CHECK(r == 0);
		else
			CHECK(r == 1 && *mlen == want && *mlen >= 1 && *mlen <= 65535 &&
			      2 + *mlen <= len);
	}
	return r;
}

static void split_whole(const uint8_t *s, size_t len, struct split *out)
{
	size_t off = 0, mlen;
	int r = 0;

	memset(out, 0, sizeof(*out));
	while (out->n < MAX_MSGS && (r = next(s + off, len - off, &mlen)) == 1) {
		out->off[out->n] = off + 2;
		out->len[out->n++] = mlen;
		off += 2 + mlen;
	}
	out->bad = out->n < MAX_MSGS && r < 0;
}

/* As client_tcp.c's on_read: a buffer of the largest frame, filled piece by piece. */
static void split_pieces(const uint8_t *s, size_t len, uint32_t rnd, const struct split *whole)
{
	static uint8_t buf[2 + 65535];
	size_t have = 0, fed = 0, base = 0, n = 0, mlen;

	while (fed < len) {
		rnd = rnd * 1103515245u + 12345u;
		size_t piece = 1 + (rnd >> 16) % 700;
		if (piece > len - fed)
			piece = len - fed;
		if (piece > sizeof(buf) - have)
			piece = sizeof(buf) - have;
		memcpy(buf + have, s + fed, piece);
		have += piece;
		fed += piece;
		size_t off = 0;
		int r = 0;
		while (n < MAX_MSGS && (r = next(buf + off, have - off, &mlen)) == 1) {
			CHECK(n < whole->n);
			CHECK(whole->off[n] == base + off + 2 && whole->len[n] == mlen);
			CHECK(memcmp(buf + off + 2, s + whole->off[n], mlen) == 0);
			n++;
			off += 2 + mlen;
		}
		if (n == MAX_MSGS)
			return;
		if (r < 0) {
			CHECK(whole->bad && n == whole->n);
			return;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
		base += off;
		/* A frame never needs more than the buffer holds. */
		CHECK(have < sizeof(buf));
	}
	CHECK(n == whole->n && !whole->bad);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct split whole;

	if (size < 1)
		return 0;
	split_whole(data + 1, size - 1, &whole);
	split_pieces(data + 1, size - 1, data[0] * 2654435761u, &whole);
	return 0;
}
