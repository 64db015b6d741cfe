/*
 * listen — the client-facing sockets of one worker.
 *
 * Every worker opens its own UDP and TCP socket on every listen address with
 * SO_REUSEPORT, so the kernel spreads clients across workers and no socket
 * is shared between threads. IPv6 sockets are IPV6_V6ONLY so an IPv4 and an
 * IPv6 listener never collide. UDP datagrams are handed to task.c as they
 * arrive; TCP connections to client_tcp.c.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/context.h"
#include "util/log.h"

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
	socklen_t len = addr->ss_family == AF_INET ? sizeof(struct sockaddr_in)
						   : sizeof(struct sockaddr_in6);
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
	struct worker *w = handle->data;
	*buf = uv_buf_init((char *)w->udp_rbuf, sizeof(w->udp_rbuf));
}

static void on_udp_recv(uv_udp_t *handle, ssize_t nread, const uv_buf_t *buf,
			const struct sockaddr *addr, unsigned flags)
{
	struct worker *w = handle->data;
	if (nread <= 0 || !addr || (flags & UV_UDP_PARTIAL))
		return;
	struct task_origin origin = {.transport = TASK_UDP, .udp = handle};
	memcpy(&origin.client, addr,
	       addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
					  : sizeof(struct sockaddr_in6));
	task_handle_query(w, (const uint8_t *)buf->base, (size_t)nread, &origin, addr);
}

int listen_udp_open(struct worker *w, const struct sockaddr_storage *addr, uv_udp_t *handle)
{
	int fd = open_socket(addr, SOCK_DGRAM);
	if (fd < 0)
		return fd;
	int r = uv_udp_init(&w->loop, handle);
	if (r != 0) {
		close(fd);
		return r;
	}
	handle->data = w;
	r = uv_udp_open(handle, fd);
	if (r == 0)
		r = uv_udp_recv_start(handle, on_udp_alloc, on_udp_recv);
	return r; /* on error the caller closes the handle, which closes fd */
}

int listen_tcp_open(struct worker *w, const struct sockaddr_storage *addr, uv_tcp_t *handle)
{
	int fd = open_socket(addr, SOCK_STREAM);
	if (fd < 0)
		return fd;
	int r = uv_tcp_init(&w->loop, handle);
	if (r != 0) {
		close(fd);
		return r;
	}
	handle->data = w;
	r = uv_tcp_open(handle, fd);
	if (r == 0)
		r = uv_listen((uv_stream_t *)handle, 128, tcp_conn_on_connection);
	return r;
}
