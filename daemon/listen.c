/*
 * listen — the client-facing sockets of one worker.
 *
 * Every worker opens its own UDP and TCP socket on every listen address with
 * SO_REUSEPORT, so the kernel spreads clients across workers and no socket
 * is shared between threads. IPv6 sockets are IPV6_V6ONLY so an IPv4 and an
 * IPv6 listener never collide. UDP datagrams are handed to task.c as they
 * arrive, with a UDP client (client_udp.c) to answer through; TCP
 * connections to client_tcp.c. Reads no DNS.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/listen.h"
#include "daemon/client_tcp.h"
#include "daemon/client_udp.h"
#include "daemon/task.h"
#include "util/log.h"
#include "util/sockaddr.h"

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

static void on_udp_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct listen_udp *feed = handle->data;
	*buf = uv_buf_init((char *)feed->rbuf, sizeof(feed->rbuf));
}

static void on_udp_recv(uv_udp_t *handle, ssize_t nread, const uv_buf_t *buf,
			const struct sockaddr *addr, unsigned flags)
{
	struct listen_udp *feed = handle->data;
	if (nread <= 0 || !addr || (flags & UV_UDP_PARTIAL))
		return;
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
	int r = uv_udp_init(loop, handle);
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
