/*
 * client_udp — a client that asked over UDP: the worker's socket the
 * datagram came in on and the peer's address, as a `struct client` value
 * (client.h). Nothing to hold: the socket outlives every request of its
 * worker.
 */
#pragma once
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "daemon/client.h"

/* Fills `c` for an answer to `peer` through `udp`; `max_udp_size` is our
 * ceiling on a UDP answer (max-udp-size). `udp` is borrowed for as long as
 * the value is used. */
void client_udp_init(struct client *c, uv_udp_t *udp, const struct sockaddr *peer,
		     uint16_t max_udp_size);
