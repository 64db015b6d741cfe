/*
 * tcp_framing — the RFC 7766 §8 framing of DNS over TCP as a pure
 * function: where the first whole message in a byte stream is. No I/O, no
 * state, no allocation; client_tcp.c keeps the buffer and the connection.
 *
 * Threads: none of its own; safe from any thread.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* The 2-byte length prefix before each message (RFC 7766 §8, RFC 1035 §4.2.2). */
#define TCP_FRAMING_PREFIX 2

/*
 * Looks at the bytes received so far, buf[0..len): 1 when a whole message
 * is at the front (it is buf[TCP_FRAMING_PREFIX .. TCP_FRAMING_PREFIX +
 * *msg_len), 1..65535 bytes; the next frame starts after it); 0 when more
 * bytes are needed; -EBADMSG when the length prefix is 0 (no DNS message is
 * empty: the peer is not speaking DNS, close the connection).
 */
int tcp_framing_next(const uint8_t *buf, size_t len, size_t *msg_len);
