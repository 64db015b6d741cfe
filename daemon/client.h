/*
 * client — what a request needs from whoever asked: a way to send the
 * answer, the largest answer that client takes, and a hold that keeps the
 * client's state alive while an answer is owed. The one seam between the
 * request layer (task.c, coalesce.c, reply.c) and the transports
 * (client_udp.c, client_tcp.c): nothing above this header knows UDP from
 * TCP, and a test can put a fake client here.
 *
 * A `struct client` is a small value: copy it freely (a task and each
 * coalesced waiter keep their own copy). Copies share the transport state
 * `handle` points at; whoever keeps a copy beyond the call that received it
 * must client_hold() it and client_release() it exactly once when done.
 * UDP's hold and release do nothing (the socket outlives every task);
 * TCP's count the answers a connection is still owed, and the connection
 * is freed only when that count is zero and its handles are closed.
 *
 * Sending to a client that went away (a closed TCP connection) is a silent
 * no-op, so a request never has to ask.
 *
 * Threads: a client belongs to its worker's thread, like everything it is
 * handed to.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct client;
struct dns_query_view;

struct client_ops {
	/* Sends one DNS message (the transport adds any framing). `msg` is
	 * borrowed for the call: the transport copies what it must keep. */
	void (*send)(const struct client *c, const uint8_t *msg, size_t len);
	/* The largest answer this client takes for query `q`. */
	uint16_t (*size_limit)(const struct client *c, const struct dns_query_view *q);
	/* A request keeps `c` until it has answered (NULL: nothing to count). */
	void (*hold)(const struct client *c);
	void (*release)(const struct client *c);
};

struct client {
	const struct client_ops *ops;
	void *handle;		      /* the transport's state (socket, connection) */
	struct sockaddr_storage peer; /* where the query came from (ACL, logs) */
	uint16_t max_size;	      /* the transport's ceiling on an answer we send */
};

static inline void client_send(const struct client *c, const uint8_t *msg, size_t len)
{
	c->ops->send(c, msg, len);
}

static inline uint16_t client_size_limit(const struct client *c, const struct dns_query_view *q)
{
	return c->ops->size_limit(c, q);
}

static inline void client_hold(const struct client *c)
{
	if (c->ops->hold)
		c->ops->hold(c);
}

static inline void client_release(const struct client *c)
{
	if (c->ops->release)
		c->ops->release(c);
}
