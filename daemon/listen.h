/*
 * listen — the client-facing sockets of one worker: a UDP and a TCP socket
 * per listen address (SO_REUSEPORT). Datagrams go to task.c with a UDP
 * client (client_udp.h); connections to client_tcp.c.
 *
 * Threads: the sockets and `struct listen_udp` belong to one worker's loop.
 */
#pragma once
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

struct client_tcp_server;
struct task_env;

/* Datagrams read per recvmmsg call at most (libuv's own ceiling is 20). */
#define LISTEN_UDP_BATCH 16

/* What a worker's UDP sockets feed, and their read buffer. */
struct listen_udp {
	struct task_env *tasks; /* borrowed */
	uint16_t max_udp_size;	/* max-udp-size: our ceiling on a UDP answer */
	uint32_t so_rcvbuf;	/* so-rcvbuf, bytes; 0 = the kernel's */
	uint32_t so_sndbuf;	/* so-sndbuf, bytes; 0 = the kernel's */
	unsigned batch;		/* datagrams of the recvmmsg batch being handled */
	uint8_t rbuf[(size_t)LISTEN_UDP_BATCH * 65536]; /* a 64 KiB slot per datagram */
};

/* Opens, binds and starts reading a UDP socket into `handle`. 0 or a
 * negative errno; on error after uv_udp_init the caller closes `handle`. */
int listen_udp_open(uv_loop_t *loop, const struct sockaddr_storage *addr, uv_udp_t *handle,
		    struct listen_udp *feed);
/* Opens, binds and listens on a TCP socket; connections go to `clients`. */
int listen_tcp_open(uv_loop_t *loop, const struct sockaddr_storage *addr, uv_tcp_t *handle,
		    struct client_tcp_server *clients);
