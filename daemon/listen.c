/*
 * listen — the client-facing sockets of one worker.
 *
 * Every worker opens its own UDP and TCP socket on every listen address with
 * SO_REUSEPORT, so the kernel spreads clients across workers and no socket
 * is shared between threads. IPv6 sockets are IPV6_V6ONLY so an IPv4 and an
 * IPv6 listener never collide. UDP datagrams are handed to task.c as they
 * arrive, with a UDP client (client_udp.c) to answer through; TCP
 * connections to client_tcp.c. Reads no DNS.
 *
 * Saturation: a datagram the kernel cannot queue on a full socket buffer is
 * lost without a trace but a counter. So the UDP sockets get so-rcvbuf /
 * so-sndbuf (SO_RCVBUFFORCE as root when the sysctl maximum is lower; a
 * warning once with what was obtained otherwise), and are read with
 * recvmmsg (libuv's UV_UDP_RECVMMSG): up to LISTEN_UDP_BATCH datagrams per
 * system call into one buffer per worker.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/listen.h"
#include "daemon/client_tcp.h"
#include "daemon/client_udp.h"
#include "daemon/task.h"
#include "util/log.h"
#include "util/sockaddr.h"

/* Whether `wanted` bytes were granted, from what getsockopt() reported:
 * Linux reports twice what it grants (socket(7): the doubling is its
 * bookkeeping overhead). */
static bool sockbuf_granted(uint32_t wanted, int reported)
{
	return reported >= 0 && (uint64_t)reported / 2 >= wanted;
}

/*
 * Sets one socket buffer size (SO_RCVBUF or SO_SNDBUF) to `bytes` (0: leave
 * the kernel's). The kernel silently caps it at net.core.rmem_max /
 * wmem_max; as root (CAP_NET_ADMIN) the FORCE variant goes past that. If
 * the size is still not granted, warns once per option with what was
 * obtained. Not an error: the socket works, it only loses more at peaks.
 */
static void set_sockbuf(int fd, int opt, int force_opt, uint32_t bytes, const char *key)
{
	static atomic_bool warned[2];
	if (bytes == 0)
		return;
	int val = (int)bytes, got = -1;
	socklen_t len = sizeof(got);
	(void)setsockopt(fd, SOL_SOCKET, opt, &val, sizeof(val));
	if (getsockopt(fd, SOL_SOCKET, opt, &got, &len) == 0 && sockbuf_granted(bytes, got))
		return;
	if (setsockopt(fd, SOL_SOCKET, force_opt, &val, sizeof(val)) == 0) {
		len = sizeof(got);
		if (getsockopt(fd, SOL_SOCKET, opt, &got, &len) == 0 && sockbuf_granted(bytes, got))
			return;
	}
	const char *max = opt == SO_SNDBUF ? "wmem_max" : "rmem_max";
	if (!atomic_exchange(&warned[opt == SO_SNDBUF], true))
		log_warn(LOG_DAEMON,
			 "%s %u not granted, got %d: needs CAP_NET_ADMIN or net.core.%s", key,
			 (unsigned)bytes, got / 2, max);
}

static int open_socket(const struct sockaddr_storage *addr, int type)
{
	int fd = socket(addr->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		goto out_errno;
	if (addr->ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
		goto out_errno;
	socklen_t len = (socklen_t)util_sockaddr_len((const struct sockaddr *)addr);
	if (bind(fd, (const struct sockaddr *)addr, len) != 0)
		goto out_errno;
	return fd;
out_errno:;
	int err = -errno;
	close(fd);
	return err;
}

/* The worker's one read buffer, for every socket: with recvmmsg libuv cuts
 * it into LISTEN_UDP_BATCH slots of 64 KiB; every datagram is handled
 * before the next read, so sockets can share it. */
static void on_udp_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct listen_udp *feed = handle->data;
	*buf = uv_buf_init((char *)feed->rbuf, sizeof(feed->rbuf));
}

static void on_udp_recv(uv_udp_t *handle, ssize_t nread, const uv_buf_t *buf,
			const struct sockaddr *addr, unsigned flags)
{
	struct listen_udp *feed = handle->data;
	/* libuv 1.40+: the end of one recvmmsg batch (the buffer is free
	 * again); each datagram of it came with UV_UDP_MMSG_CHUNK. */
	if (flags & UV_UDP_MMSG_FREE) {
		client_udp_count_reads(1, feed->batch);
		feed->batch = 0;
		return;
	}
	if (nread <= 0 || !addr || (flags & UV_UDP_PARTIAL))
		return;
	if (flags & UV_UDP_MMSG_CHUNK)
		feed->batch++;
	else /* read alone (no recvmmsg) */
		client_udp_count_reads(1, 1);
	struct client client;
	client_udp_init(&client, handle, addr, feed->max_udp_size);
	task_handle_query(feed->tasks, (const uint8_t *)buf->base, (size_t)nread, &client);
}

int listen_udp_open(uv_loop_t *loop, const struct sockaddr_storage *addr, uv_udp_t *handle,
		    struct listen_udp *feed)
{
	int fd = open_socket(addr, SOCK_DGRAM);
	if (fd < 0)
		return fd;
	set_sockbuf(fd, SO_RCVBUF, SO_RCVBUFFORCE, feed->so_rcvbuf, "so-rcvbuf");
	set_sockbuf(fd, SO_SNDBUF, SO_SNDBUFFORCE, feed->so_sndbuf, "so-sndbuf");
	/* AF_UNSPEC: no socket of libuv's own; uv_udp_open() adopts ours. */
	int r = uv_udp_init_ex(loop, handle, AF_UNSPEC | UV_UDP_RECVMMSG);
	if (r != 0) {
		close(fd);
		return r;
	}
	handle->data = feed;
	r = uv_udp_open(handle, fd);
	if (r == 0)
		r = uv_udp_recv_start(handle, on_udp_alloc, on_udp_recv);
	return r; /* on error the caller closes the handle, which closes fd */
}

int listen_tcp_open(uv_loop_t *loop, const struct sockaddr_storage *addr, uv_tcp_t *handle,
		    struct client_tcp_server *clients)
{
	int fd = open_socket(addr, SOCK_STREAM);
	if (fd < 0)
		return fd;
	int r = uv_tcp_init(loop, handle);
	if (r != 0) {
		close(fd);
		return r;
	}
	handle->data = clients;
	r = uv_tcp_open(handle, fd);
	if (r == 0)
		r = uv_listen((uv_stream_t *)handle, 128, client_tcp_on_connection);
	return r;
}
