/*
 * client_udp — sending answers to UDP clients: one datagram to the address
 * the query came from, from the socket it came in on, and the size rule of
 * RFC 6891 §6.2.5; an answer the socket cannot take at once is copied and
 * queued, within a per-worker byte budget (dropped and counted beyond).
 * Does not write DNS messages (reply.c) nor read them (listen.c hands
 * datagrams to task.c).
 */
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/client_udp.h"
#include "dns/dns.h"
#include "util/log.h"
#include "util/sockaddr.h"

struct udp_send {
	uv_udp_send_t req;
	size_t len;
	uint8_t data[];
};

/* Bytes of answers this worker has queued: the send and its callback both
 * run on the worker's thread, so a thread-local is the worker's budget. */
static _Thread_local size_t udp_queued;
static atomic_uint_fast64_t udp_drops;
static atomic_uint_fast64_t udp_reads, udp_datagrams;

void client_udp_count_reads(uint64_t reads, uint64_t datagrams)
{
	atomic_fetch_add_explicit(&udp_reads, reads, memory_order_relaxed);
	atomic_fetch_add_explicit(&udp_datagrams, datagrams, memory_order_relaxed);
}

void client_udp_read_counts(uint64_t *reads, uint64_t *datagrams)
{
	*reads = atomic_load_explicit(&udp_reads, memory_order_relaxed);
	*datagrams = atomic_load_explicit(&udp_datagrams, memory_order_relaxed);
}

static void on_udp_sent(uv_udp_send_t *req, int status)
{
	struct udp_send *s = req->data;
	udp_queued -= s->len;
	free(s);
}

uint64_t client_udp_send_drops(void)
{
	return atomic_load_explicit(&udp_drops, memory_order_relaxed);
}

static void udp_send(const struct client *c, const uint8_t *msg, size_t len)
{
	uv_udp_t *udp = c->handle;
	const struct sockaddr *to = (const struct sockaddr *)&c->peer;
	uv_buf_t buf = uv_buf_init((char *)msg, (unsigned)len);
	int r = uv_udp_try_send(udp, &buf, 1, to);
	if (r >= 0)
		return;
	if (r != UV_EAGAIN) {
		log_debug(LOG_DAEMON, "udp send failed: %s", uv_strerror(r));
		return;
	}
	/* Socket buffer full: queue a copy, within the worker's budget. */
	if (udp_queued + len > CLIENT_UDP_MAX_SEND_QUEUE) {
		atomic_fetch_add_explicit(&udp_drops, 1, memory_order_relaxed);
		log_debug(LOG_DAEMON, "udp send queue full, answer dropped");
		return;
	}
	struct udp_send *s = malloc(sizeof(*s) + len);
	if (!s)
		return;
	memcpy(s->data, msg, len);
	s->len = len;
	s->req.data = s;
	buf = uv_buf_init((char *)s->data, (unsigned)len);
	if (uv_udp_send(&s->req, udp, &buf, 1, to, on_udp_sent) != 0) {
		free(s);
		return;
	}
	udp_queued += len;
}

/* The client's UDP limit: RFC 6891 §6.2.5, at least 512, at most ours. */
static uint16_t udp_size_limit(const struct client *c, const struct dns_query_view *q)
{
	if (!q->has_edns)
		return DNS_UDP_MIN;
	uint16_t size = q->edns_udp_size < DNS_UDP_MIN ? DNS_UDP_MIN : q->edns_udp_size;
	return size > c->max_size ? c->max_size : size;
}

static const struct client_ops udp_ops = {
	.send = udp_send,
	.size_limit = udp_size_limit,
};

void client_udp_init(struct client *c, uv_udp_t *udp, const struct sockaddr *peer,
		     uint16_t max_udp_size)
{
	memset(c, 0, sizeof(*c));
	c->ops = &udp_ops;
	c->handle = udp;
	memcpy(&c->peer, peer, util_sockaddr_len(peer));
	c->max_size = max_udp_size;
}
