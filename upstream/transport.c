/*
 * upstream/transport.c — the sockets of one leg: UDP and TCP on libuv.
 *
 * Every leg gets a fresh socket. A UDP socket is bound to a source port
 * drawn from getrandom(2) (RFC 5452 §9.2) and connected to the server, so
 * the kernel drops datagrams from other sources and reports ICMP errors;
 * a TCP socket connects, writes the length-prefixed query and reads
 * length-prefixed frames (RFC 1035 §4.2.2, RFC 7766). What arrives is
 * checked against the query (upstream_wire_match_name(): RFC 5452 §9.1,
 * exactly when the leg's name is in 0x20 case); the first message that
 * matches goes to upstream_leg_answered() with the question name back in
 * the resolver's case, anything else is logged and handed to
 * upstream_leg_unwanted() (counted; a case-only mismatch asks again), and
 * errors go to upstream_leg_failed().
 *
 * Does not decide what an outcome means, run the leg's timer or close the
 * handles (upstream.c), nor choose the server (select.c).
 */
#include "upstream/upstream.h"
#include "upstream/impl.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/random.h"
#include "util/sockaddr.h"

/* Random source ports drawn before leaving the choice to the kernel. */
#define TRANSPORT_PORT_TRIES 4

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* The address to bind for `family`: the configured source, or the
 * wildcard, port 0. True when a source was configured. */
static bool source_addr(const struct upstream_opts *opts, int family, struct sockaddr_storage *out)
{
	const struct sockaddr_storage *src = family == AF_INET ? &opts->source4 : &opts->source6;

	memset(out, 0, sizeof(*out));
	if (src->ss_family == family)
		*out = *src;
	else
		out->ss_family = (sa_family_t)family; /* INADDR_ANY / in6addr_any */
	set_port(out, 0);
	return src->ss_family == family;
}

/* A message on the leg that is not its answer: logged, then counted (and
 * acted on) by upstream.c. The leg may have ended when this returns. */
static void leg_rejects(struct upstream_leg *leg, size_t len, enum upstream_match m)
{
	char buf[UTIL_SOCKADDR_STRLEN];
	log_debug(LOG_UPSTREAM, "[%04x] %s %s: ignored a %zu-octet message: %s", leg->id,
		  upstream_leg_proto(leg),
		  util_sockaddr_str((const struct sockaddr *)&leg->pick.server, buf, sizeof(buf)),
		  len, upstream_match_str(m));
	upstream_leg_unwanted(leg, m);
}

/*
 * Whether `wire` is the answer. With caps the name must be the leg's own,
 * octet for octet; once accepted, the resolver's case is written back
 * over it (names compressed to the question then read as the resolver
 * asked), and a mixed-case echo tells the table the server keeps case.
 * Otherwise rejected (the leg may have ended then).
 */
static bool leg_accepts(struct upstream_leg *leg, uint8_t *wire, size_t len)
{
	struct upstream_query *q = leg->q;
	const uint8_t *asked = ldns_rdf_data(q->qname);
	size_t name_len = ldns_rdf_size(q->qname);
	const uint8_t *sent = leg->caps ? leg->query + 2 + DNS_HEADER_LEN : asked;
	enum upstream_match m = upstream_wire_match_name(wire, len, leg->id, sent, name_len,
							 q->qtype, q->qclass, leg->caps);
	if (m != UPSTREAM_MATCH_OK) {
		leg_rejects(leg, len, m);
		return false;
	}
	if (leg->caps) {
		upstream_wire_restore_qname(wire, len, asked, name_len);
		if (leg->caps_proof)
			upstream_servers_caps_preserved(q->up->servers,
							(const struct sockaddr *)&leg->pick.server);
	}
	return true;
}

static void log_step(const struct upstream_leg *leg, const char *what, int err)
{
	char str[UTIL_SOCKADDR_STRLEN];

	log_debug(LOG_UPSTREAM, "[%04x] %s %s: %s: %s", leg->id, upstream_leg_proto(leg),
		  util_sockaddr_str((const struct sockaddr *)&leg->pick.server, str, sizeof(str)),
		  what, uv_strerror(err));
}

/*
 * Opens the leg's socket (UDP or TCP, counted in q->handles) and binds it.
 * UDP always: RFC 5452 §9.2 wants an unpredictable source port, drawn from
 * getrandom(2) in 1024..65535; a port in use is drawn again, and after a
 * few draws the kernel's own (also randomised) choice is taken. TCP only to
 * a configured source address, on the kernel's port: the handshake already
 * proves the path. 0, or a negative errno with `*what` the failed step.
 */
static int sock_open(struct upstream_leg *leg, const char **what)
{
	struct upstream_query *q = leg->q;
	struct upstream *up = q->up;
	int family = leg->pick.server.ss_family;
	struct sockaddr_storage src;
	int ret;

	*what = "socket";
	if (leg->tcp)
		ret = uv_tcp_init_ex(up->loop, &leg->sock.tcp, (unsigned)family);
	else
		ret = uv_udp_init_ex(up->loop, &leg->sock.udp, (unsigned)family);
	if (ret < 0)
		return ret;
	leg->sock_open = true;
	leg->sock.handle.data = leg;
	q->handles++;

	*what = "bind";
	bool configured = source_addr(up->opts, family, &src);
	if (leg->tcp)
		return configured ? uv_tcp_bind(&leg->sock.tcp, (struct sockaddr *)&src, 0) : 0;
	ret = UV_EADDRINUSE;
	for (int tries = 0; tries < TRANSPORT_PORT_TRIES && ret == UV_EADDRINUSE; tries++) {
		set_port(&src, (uint16_t)(1024 + util_random_uniform(65536 - 1024)));
		ret = uv_udp_bind(&leg->sock.udp, (struct sockaddr *)&src, 0);
	}
	if (ret == UV_EADDRINUSE) {
		set_port(&src, 0);
		ret = uv_udp_bind(&leg->sock.udp, (struct sockaddr *)&src, 0);
	}
	return ret;
}

/* ---- UDP ---------------------------------------------------------------------- */

static void udp_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct upstream_leg *leg = handle->data;

	(void)suggested;
	buf->base = (char *)leg->q->up->recvbuf;
	buf->len = sizeof(leg->q->up->recvbuf);
}

static void udp_recv(uv_udp_t *handle, ssize_t nread, const uv_buf_t *buf,
		     const struct sockaddr *addr, unsigned flags)
{
	struct upstream_leg *leg = handle->data;
	char str[UTIL_SOCKADDR_STRLEN];

	if (leg->state != UPSTREAM_LEG_ACTIVE)
		return;
	if (nread < 0) {
		/* On a connected socket the kernel turns ICMP unreachable into
		 * ECONNREFUSED and friends. */
		upstream_leg_failed(leg, UPSTREAM_NETERR, (int)nread, "receive");
		return;
	}
	if (nread == 0 && addr == NULL)
		return; /* nothing more to read */
	const struct sockaddr *server = (const struct sockaddr *)&leg->pick.server;
	if (addr == NULL || !util_sockaddr_equal(addr, server)) {
		log_debug(LOG_UPSTREAM, "[%04x] udp %s: ignored a datagram from %s", leg->id,
			  util_sockaddr_str(server, str, sizeof(str)),
			  addr != NULL ? "elsewhere" : "nowhere");
		upstream_leg_unwanted(leg, UPSTREAM_MATCH_SOURCE);
		return;
	}
	if (flags & UV_UDP_PARTIAL) {
		leg_rejects(leg, (size_t)nread, UPSTREAM_MATCH_TRUNCATED);
		return;
	}
	/* Our own buffer (udp_alloc): the question case may be restored in it. */
	uint8_t *wire = (uint8_t *)buf->base;
	if (!leg_accepts(leg, wire, (size_t)nread))
		return;
	upstream_leg_answered(leg, wire, (size_t)nread);
}

static void udp_sent(uv_udp_send_t *req, int status)
{
	struct upstream_leg *leg = req->data;

	if (status < 0 && leg->state == UPSTREAM_LEG_ACTIVE)
		upstream_leg_failed(leg, UPSTREAM_NETERR, status, "send");
}

static int udp_start(struct upstream_leg *leg)
{
	const char *what;
	int ret = sock_open(leg, &what);
	if (ret < 0)
		goto out_log;
	what = "connect";
	ret = uv_udp_connect(&leg->sock.udp, (struct sockaddr *)&leg->pick.server);
	if (ret < 0)
		goto out_log;
	what = "receive";
	ret = uv_udp_recv_start(&leg->sock.udp, udp_alloc, udp_recv);
	if (ret < 0)
		goto out_log;
	what = "send";
	uv_buf_t buf = uv_buf_init((char *)leg->query + 2, (unsigned)leg->q->qlen);
	leg->send_req.data = leg;
	ret = uv_udp_send(&leg->send_req, &leg->sock.udp, &buf, 1, NULL, udp_sent);
	if (ret < 0)
		goto out_log;
	return 0;

out_log:
	log_step(leg, what, ret);
	return ret;
}

/* ---- TCP ---------------------------------------------------------------------- */

static void tcp_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct upstream_leg *leg = handle->data;

	(void)suggested;
	/* Exactly what the current frame still lacks, so a read never runs
	 * into the next message and a split length prefix needs no copying. */
	if (leg->tcp_have < 2) {
		buf->base = (char *)leg->tcp_prefix + leg->tcp_have;
		buf->len = 2 - leg->tcp_have;
	} else {
		buf->base = (char *)leg->tcp_msg + (leg->tcp_have - 2);
		buf->len = leg->tcp_len - (leg->tcp_have - 2);
	}
}

static void tcp_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct upstream_leg *leg = stream->data;

	(void)buf;
	if (leg->state != UPSTREAM_LEG_ACTIVE)
		return;
	if (nread < 0) {
		upstream_leg_failed(leg, UPSTREAM_NETERR, (int)nread,
				    nread == UV_EOF ? "closed early" : "read");
		return;
	}
	leg->tcp_have += (size_t)nread;

	if (leg->tcp_have == 2 && leg->tcp_msg == NULL) {
		leg->tcp_len = (size_t)leg->tcp_prefix[0] << 8 | leg->tcp_prefix[1];
		if (leg->tcp_len == 0) {
			/* An empty frame carries nothing to match: skip it. */
			leg->tcp_have = 0;
			return;
		}
		leg->tcp_msg = malloc(leg->tcp_len);
		if (leg->tcp_msg == NULL) {
			upstream_leg_failed(leg, UPSTREAM_NETERR, UV_ENOMEM, "read");
			return;
		}
	}
	if (leg->tcp_msg == NULL || leg->tcp_have < 2 + leg->tcp_len)
		return;

	if (leg_accepts(leg, leg->tcp_msg, leg->tcp_len)) {
		/* tcp_msg is freed with the attempt, after the callback. */
		upstream_leg_answered(leg, leg->tcp_msg, leg->tcp_len);
		return;
	}
	/* RFC 7766 §7: several responses may come on one connection; wait for
	 * ours. */
	free(leg->tcp_msg);
	leg->tcp_msg = NULL;
	leg->tcp_have = 0;
}

static void tcp_written(uv_write_t *req, int status)
{
	struct upstream_leg *leg = req->data;

	if (status < 0 && leg->state == UPSTREAM_LEG_ACTIVE)
		upstream_leg_failed(leg, UPSTREAM_NETERR, status, "write");
}

static void tcp_connected(uv_connect_t *req, int status)
{
	struct upstream_leg *leg = req->data;
	struct upstream_query *q = leg->q;

	if (leg->state != UPSTREAM_LEG_ACTIVE)
		return;
	if (status < 0) {
		upstream_leg_failed(leg, UPSTREAM_NETERR, status, "connect");
		return;
	}
	uv_buf_t buf = uv_buf_init((char *)leg->query, (unsigned)(2 + q->qlen));
	leg->write_req.data = leg;
	int ret = uv_write(&leg->write_req, &leg->sock.stream, &buf, 1, tcp_written);
	if (ret < 0) {
		upstream_leg_failed(leg, UPSTREAM_NETERR, ret, "write");
		return;
	}
	ret = uv_read_start(&leg->sock.stream, tcp_alloc, tcp_read);
	if (ret < 0)
		upstream_leg_failed(leg, UPSTREAM_NETERR, ret, "read");
}

static int tcp_start(struct upstream_leg *leg)
{
	const char *what;
	int ret = sock_open(leg, &what);
	if (ret < 0)
		goto out_log;
	what = "connect";
	leg->connect_req.data = leg;
	ret = uv_tcp_connect(&leg->connect_req, &leg->sock.tcp,
			     (struct sockaddr *)&leg->pick.server, tcp_connected);
	if (ret < 0)
		goto out_log;
	return 0;

out_log:
	log_step(leg, what, ret);
	return ret;
}

int upstream_transport_start(struct upstream_leg *leg)
{
	return leg->tcp ? tcp_start(leg) : udp_start(leg);
}
