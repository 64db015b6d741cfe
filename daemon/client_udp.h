/*
 * client_udp — a client that asked over UDP: the worker's socket the
 * datagram came in on and the peer's address, as a `struct client` value
 * (client.h). Nothing to hold: the socket outlives every request of its
 * worker.
 *
 * Threads: a client is used on its worker's thread; the send queue's
 * budget is per worker thread (thread-local), the drop counter atomic.
 */
#pragma once
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "daemon/client.h"

/* Answer bytes copied and queued per worker while its UDP sockets' buffers
 * are full (EAGAIN), waiting for libuv to send them; an answer beyond this
 * is dropped and counted (the client retries, as after a lost datagram). */
#define CLIENT_UDP_MAX_SEND_QUEUE ((size_t)256 * 1024)

/* Fills `c` for an answer to `peer` through `udp`; `max_udp_size` is our
 * ceiling on a UDP answer (max-udp-size). `udp` is borrowed for as long as
 * the value is used. */
void client_udp_init(struct client *c, uv_udp_t *udp, const struct sockaddr *peer,
		     uint16_t max_udp_size);
/* Answers dropped at CLIENT_UDP_MAX_SEND_QUEUE, all workers (thread-safe). */
uint64_t client_udp_send_drops(void);
/* Reads of the client UDP sockets (listen.c: one per recvmmsg call, or per
 * recvmsg without it) and the datagrams they returned, all workers since
 * start: datagrams / reads is the batch size (thread-safe). */
void client_udp_count_reads(uint64_t reads, uint64_t datagrams);
void client_udp_read_counts(uint64_t *reads, uint64_t *datagrams);
