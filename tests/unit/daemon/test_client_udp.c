/*
 * Unit tests for daemon/client_udp.c: the RFC 6891 §6.2.5 size rule and the
 * bounded send queue (issue 12): when the socket cannot take an answer at
 * once (EAGAIN) a copy is queued, but only within
 * CLIENT_UDP_MAX_SEND_QUEUE bytes per worker; beyond it answers are dropped
 * and counted, and room comes back as queued answers leave.
 *
 * libuv's two send calls are replaced by this file's definitions (a link
 * seam: the executable's symbols win over libuv's): uv_udp_try_send()
 * always says EAGAIN, uv_udp_send() keeps the request for the test to
 * complete. No socket, no loop.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/client_udp.h"
#include "dns/dns.h"

#define MAX_SENDS 4096

static struct {
	uv_udp_send_t *reqs[MAX_SENDS]; /* queued, not yet completed */
	uv_udp_send_cb cbs[MAX_SENDS];
	size_t bytes[MAX_SENDS];
	unsigned n, done;
	size_t queued_bytes;
	bool socket_full; /* uv_udp_try_send says EAGAIN */
	unsigned sent_at_once;
} fake;

int uv_udp_try_send(uv_udp_t *handle, const uv_buf_t bufs[], unsigned int nbufs,
		    const struct sockaddr *addr)
{
	if (fake.socket_full)
		return UV_EAGAIN;
	fake.sent_at_once++;
	return (int)bufs[0].len;
}

int uv_udp_send(uv_udp_send_t *req, uv_udp_t *handle, const uv_buf_t bufs[], unsigned int nbufs,
		const struct sockaddr *addr, uv_udp_send_cb send_cb)
{
	assert_true(fake.n < MAX_SENDS);
	fake.reqs[fake.n] = req;
	fake.cbs[fake.n] = send_cb;
	fake.bytes[fake.n] = bufs[0].len;
	fake.queued_bytes += bufs[0].len;
	fake.n++;
	return 0;
}

/* The socket drained: the oldest queued answers leave. */
static void complete(unsigned count)
{
	for (unsigned i = 0; i < count && fake.done < fake.n; i++, fake.done++) {
		fake.queued_bytes -= fake.bytes[fake.done];
		fake.cbs[fake.done](fake.reqs[fake.done], 0);
	}
}

static void client(struct client *c, uv_udp_t *udp)
{
	struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(5353)};
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	client_udp_init(c, udp, (const struct sockaddr *)&peer, 1232);
}

static void test_size_limit_follows_edns(void **state)
{
	uv_udp_t udp;
	struct client c;
	client(&c, &udp);
	struct dns_query_view q = {0};
	assert_int_equal(client_size_limit(&c, &q), 512);
	q.has_edns = true;
	q.edns_udp_size = 4096;
	assert_int_equal(client_size_limit(&c, &q), 1232);
	q.edns_udp_size = 100;
	assert_int_equal(client_size_limit(&c, &q), 512);
}

static void test_sent_at_once_when_the_socket_takes_it(void **state)
{
	uv_udp_t udp;
	struct client c;
	client(&c, &udp);
	memset(&fake, 0, sizeof(fake));
	static const uint8_t msg[100];
	client_send(&c, msg, sizeof(msg));
	assert_int_equal(fake.sent_at_once, 1);
	assert_int_equal(fake.n, 0);
}

/*
 * A flood the socket cannot take (a client spoofing a victim's address, a
 * slow network): before, every answer was copied into libuv's queue
 * without bound. Now the copies stop at the budget, the rest are dropped
 * and counted, and sending resumes as the queue drains.
 */
static void test_send_queue_is_bounded_on_eagain(void **state)
{
	uv_udp_t udp;
	struct client c;
	client(&c, &udp);
	memset(&fake, 0, sizeof(fake));
	fake.socket_full = true;
	static const uint8_t msg[1000];
	uint64_t drops_before = client_udp_send_drops();
	for (unsigned i = 0; i < 1000; i++) /* 1 MB of answers */
		client_send(&c, msg, sizeof(msg));
	assert_true(fake.queued_bytes <= CLIENT_UDP_MAX_SEND_QUEUE);
	unsigned queued = fake.n;
	assert_int_equal(queued, CLIENT_UDP_MAX_SEND_QUEUE / sizeof(msg));
	assert_int_equal(client_udp_send_drops() - drops_before, 1000 - queued);
	/* Ten leave: room for ten more, not eleven. */
	complete(10);
	for (unsigned i = 0; i < 11; i++)
		client_send(&c, msg, sizeof(msg));
	assert_int_equal(fake.n, queued + 10);
	assert_int_equal(client_udp_send_drops() - drops_before, 1000 - queued + 1);
	complete(fake.n); /* frees every copy (ASan: no leak) */
	assert_int_equal(fake.queued_bytes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_limit_follows_edns),
		cmocka_unit_test(test_sent_at_once_when_the_socket_takes_it),
		cmocka_unit_test(test_send_queue_is_bounded_on_eagain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
