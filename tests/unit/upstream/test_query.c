/*
 * Tests of upstream/upstream.c on a real libuv loop against fake
 * authorities in the same loop, on 127.0.0.1 with kernel-chosen ports:
 * a UDP one (answers, spoofs, stays silent, truncates) and a TCP one
 * (answers in pieces, after an unrelated frame, or hangs up). Checks the
 * outcome reported, that ignored messages are ignored, that cancel and
 * destroy silence the callback, and (with uv_loop_close) that every handle
 * got closed. Run under ASan for the leak side.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "upstream/upstream.h"
#include "upstream/impl.h"
#include "util/log.h"

/* ---- fake authorities --------------------------------------------------------- */

enum fake_mode {
	FAKE_ANSWER,	/* answer A 192.0.2.1 */
	FAKE_SPOOF,	/* junk first, then (later) the real answer */
	FAKE_SILENT,	/* never answer */
	FAKE_TRUNCATED, /* answer with TC=1 */
	FAKE_HANGUP,	/* TCP: close after reading the query */
};

struct fake {
	uv_loop_t *loop;
	enum fake_mode mode;
	uv_udp_t udp;	/* the authority */
	uv_udp_t other; /* another port on the same host, for "from elsewhere" */
	uv_tcp_t listener;
	uv_timer_t delay; /* sends the real answer after the junk */
	struct sockaddr_storage udp_addr, tcp_addr, peer;
	struct sockaddr_storage other_addr; /* a UDP port that never answers */
	uint8_t *pending;
	size_t pending_len;
	int queries;
	bool running;
	uint8_t buf[65536];
};

struct conn {
	struct fake *fake;
	uv_tcp_t tcp;
	uv_timer_t timer;
	int closing;
	uint8_t in[65536 + 2];
	size_t have;
	uint8_t *out; /* framed response being dribbled out */
	size_t out_len, out_off;
	int step;
};

/* A response to `query` as wire (caller frees); `id_delta`, `qname`
 * (NULL: the query's), `qr` and `rdata` shape a wrong one. */
static uint8_t *make_response(const ldns_pkt *query, uint16_t id_delta, const char *qname, bool qr,
			      bool tc, const char *rdata, size_t *len)
{
	const ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(query), 0);
	ldns_rdf *owner = qname ? ldns_dname_new_frm_str(qname) : ldns_rdf_clone(ldns_rr_owner(q));
	ldns_pkt *p = ldns_pkt_query_new(owner, ldns_rr_get_type(q), ldns_rr_get_class(q), 0);
	ldns_pkt_set_id(p, (uint16_t)(ldns_pkt_id(query) + id_delta));
	ldns_pkt_set_qr(p, qr);
	ldns_pkt_set_aa(p, true);
	ldns_pkt_set_tc(p, tc);
	if (!tc) {
		char str[300];
		char *o = ldns_rdf2str(ldns_rr_owner(q));
		snprintf(str, sizeof(str), "%s 300 IN A %s", o, rdata);
		free(o);
		ldns_rr *rr = NULL;
		assert_int_equal(ldns_rr_new_frm_str(&rr, str, 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	}
	uint8_t *wire = NULL;
	assert_int_equal(ldns_pkt2wire(&wire, p, len), LDNS_STATUS_OK);
	ldns_pkt_free(p);
	return wire;
}

static void udp_send_to(uv_udp_t *h, const uint8_t *wire, size_t len, const struct sockaddr *to)
{
	uv_buf_t b = uv_buf_init((char *)wire, (unsigned)len);
	assert_int_equal(uv_udp_try_send(h, &b, 1, to), (int)len);
}

static void fake_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct fake *f = h->data;
	buf->base = (char *)f->buf;
	buf->len = sizeof(f->buf);
}

static void fake_delayed(uv_timer_t *t)
{
	struct fake *f = t->data;
	udp_send_to(&f->udp, f->pending, f->pending_len, (struct sockaddr *)&f->peer);
	free(f->pending);
	f->pending = NULL;
}

static void fake_udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
			  const struct sockaddr *addr, unsigned flags)
{
	struct fake *f = h->data;
	if (nread <= 0 || addr == NULL)
		return;
	f->queries++;
	ldns_pkt *query = NULL;
	assert_int_equal(ldns_wire2pkt(&query, (uint8_t *)buf->base, (size_t)nread),
			 LDNS_STATUS_OK);
	assert_false(ldns_pkt_rd(query));
	size_t len;
	uint8_t *w;
	const struct sockaddr *to = addr;

	switch (f->mode) {
	case FAKE_ANSWER:
	case FAKE_TRUNCATED:
		w = make_response(query, 0, NULL, true, f->mode == FAKE_TRUNCATED, "192.0.2.1",
				  &len);
		udp_send_to(h, w, len, to);
		free(w);
		break;
	case FAKE_SPOOF:
		/* Wrong ID; right ID but another question; our query echoed (QR=0);
		 * a "right" answer from another port; then, later, the real one. */
		w = make_response(query, 1, NULL, true, false, "192.0.2.66", &len);
		udp_send_to(h, w, len, to);
		free(w);
		w = make_response(query, 0, "spoof.example.", true, false, "192.0.2.66", &len);
		udp_send_to(h, w, len, to);
		free(w);
		w = make_response(query, 0, NULL, false, false, "192.0.2.66", &len);
		udp_send_to(h, w, len, to);
		free(w);
		w = make_response(query, 0, NULL, true, false, "192.0.2.66", &len);
		udp_send_to(&f->other, w, len, to);
		free(w);
		memcpy(&f->peer, addr,
		       addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						   : sizeof(struct sockaddr_in));
		f->pending =
			make_response(query, 0, NULL, true, false, "192.0.2.1", &f->pending_len);
		uv_timer_start(&f->delay, fake_delayed, 30, 0);
		break;
	default:
		break;
	}
	ldns_pkt_free(query);
}

static void conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	if (--c->closing == 0) {
		free(c->out);
		free(c);
	}
}

static void conn_close(struct conn *c)
{
	if (c->closing > 0)
		return;
	c->closing = 2;
	uv_close((uv_handle_t *)&c->tcp, conn_closed);
	uv_close((uv_handle_t *)&c->timer, conn_closed);
}

/* The client may have gone (cancelled): then the connection just ends. */
static void conn_write(struct conn *c, const uint8_t *p, size_t n)
{
	uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
	if (c->closing == 0 && uv_try_write((uv_stream_t *)&c->tcp, &b, 1) != (int)n)
		conn_close(c);
}

/* Sends the framed response in three pieces, 15 ms apart: half the length
 * prefix; the other half and 5 octets; the rest. */
static void conn_dribble(uv_timer_t *t)
{
	struct conn *c = t->data;
	static const size_t cut[] = {1, 7};
	if (c->step < 2) {
		size_t end = cut[c->step];
		conn_write(c, c->out + c->out_off, end - c->out_off);
		c->out_off = end;
		c->step++;
		uv_timer_start(&c->timer, conn_dribble, 15, 0);
		return;
	}
	conn_write(c, c->out + c->out_off, c->out_len - c->out_off);
	c->out_off = c->out_len;
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;
	buf->base = (char *)c->in + c->have;
	buf->len = sizeof(c->in) - c->have;
}

static uint8_t *frame(const uint8_t *w, size_t len, size_t *out_len)
{
	uint8_t *f = malloc(len + 2);
	f[0] = (uint8_t)(len >> 8);
	f[1] = (uint8_t)len;
	memcpy(f + 2, w, len);
	*out_len = len + 2;
	return f;
}

static void conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	if (nread < 0) {
		conn_close(c);
		return;
	}
	c->have += (size_t)nread;
	if (c->have < 2 || c->have < 2 + (size_t)(c->in[0] << 8 | c->in[1]))
		return;
	c->fake->queries++;
	if (c->fake->mode == FAKE_HANGUP) {
		conn_close(c);
		return;
	}
	if (c->fake->mode == FAKE_SILENT)
		return;

	ldns_pkt *query = NULL;
	assert_int_equal(ldns_wire2pkt(&query, c->in + 2, c->have - 2), LDNS_STATUS_OK);
	size_t len, flen;
	/* First an unrelated frame (wrong ID) and an empty one: skipped. */
	uint8_t *w = make_response(query, 7, NULL, true, false, "192.0.2.66", &len);
	uint8_t *fr = frame(w, len, &flen);
	conn_write(c, fr, flen);
	free(fr);
	free(w);
	static const uint8_t empty[2] = {0, 0};
	conn_write(c, empty, 2);
	/* Then the answer, in pieces. */
	w = make_response(query, 0, NULL, true, false, "192.0.2.1", &len);
	c->out = frame(w, len, &c->out_len);
	free(w);
	ldns_pkt_free(query);
	c->have = 0;
	uv_timer_start(&c->timer, conn_dribble, 15, 0);
}

static void fake_accept(uv_stream_t *server, int status)
{
	struct fake *f = server->data;
	assert_int_equal(status, 0);
	struct conn *c = calloc(1, sizeof(*c));
	c->fake = f;
	uv_tcp_init(f->loop, &c->tcp);
	uv_timer_init(f->loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	assert_int_equal(uv_accept(server, (uv_stream_t *)&c->tcp), 0);
	uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read);
	/* Connections end when the client closes (EOF) */
}

static void fake_start(struct fake *f, uv_loop_t *loop, enum fake_mode mode)
{
	struct sockaddr_in any;
	int len;

	memset(f, 0, sizeof(*f));
	f->loop = loop;
	f->mode = mode;
	f->running = true;
	uv_ip4_addr("127.0.0.1", 0, &any);

	assert_int_equal(uv_udp_init(loop, &f->udp), 0);
	f->udp.data = f;
	assert_int_equal(uv_udp_bind(&f->udp, (struct sockaddr *)&any, 0), 0);
	len = sizeof(f->udp_addr);
	assert_int_equal(uv_udp_getsockname(&f->udp, (struct sockaddr *)&f->udp_addr, &len), 0);
	assert_int_equal(uv_udp_recv_start(&f->udp, fake_alloc, fake_udp_recv), 0);

	assert_int_equal(uv_udp_init(loop, &f->other), 0);
	assert_int_equal(uv_udp_bind(&f->other, (struct sockaddr *)&any, 0), 0);
	len = sizeof(f->other_addr);
	assert_int_equal(uv_udp_getsockname(&f->other, (struct sockaddr *)&f->other_addr, &len), 0);

	assert_int_equal(uv_tcp_init(loop, &f->listener), 0);
	f->listener.data = f;
	assert_int_equal(uv_tcp_bind(&f->listener, (struct sockaddr *)&any, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&f->listener, 8, fake_accept), 0);
	len = sizeof(f->tcp_addr);
	assert_int_equal(uv_tcp_getsockname(&f->listener, (struct sockaddr *)&f->tcp_addr, &len),
			 0);

	uv_timer_init(loop, &f->delay);
	f->delay.data = f;
}

static void fake_stop(struct fake *f)
{
	if (!f->running)
		return;
	f->running = false;
	uv_close((uv_handle_t *)&f->udp, NULL);
	uv_close((uv_handle_t *)&f->other, NULL);
	uv_close((uv_handle_t *)&f->listener, NULL);
	uv_close((uv_handle_t *)&f->delay, NULL);
	free(f->pending);
	f->pending = NULL;
}

/* ---- the harness -------------------------------------------------------------- */

#define MAX_RESULTS 32

struct recorded {
	enum upstream_status status;
	struct sockaddr_storage server;
	unsigned rtt_ms;
	bool tcp;
	bool has_wire;
	bool tc;
	char rdata[64]; /* first answer's rdata */
	struct sockaddr_storage hedged;
	bool recovered;
	uint64_t at_ms; /* uv_now() when reported */
};

struct env {
	uv_loop_t loop;
	struct upstream_opts opts;
	struct upstream_servers *servers;
	struct upstream *up;
	struct fake fake;
	struct fake fake2; /* a second authority (another provider), when started */
	uv_timer_t watchdog, stopper;
	bool waited;
	ldns_rdf *qname;
	struct recorded results[MAX_RESULTS];
	int nresults;
	bool in_start;	/* set while upstream_query_start() runs */
	int stop_after; /* stop the fake after this many results */
	/* Re-entrancy tests: what the callback does. */
	struct upstream_query *to_cancel;
	bool start_in_cb, destroy_in_cb;
	struct upstream_query *self;
};

static void watchdog_fired(uv_timer_t *t)
{
	fail_msg("the loop did not finish in time");
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_int_equal(uv_loop_init(&e->loop), 0);
	upstream_opts_init(&e->opts);
	e->opts.do_not_query_localhost = false;
	e->opts.do_ip6 = false;
	e->opts.timeout_min_ms = 50;
	e->opts.timeout_max_ms = 150;
	e->opts.tcp_timeout_ms = 300;
	e->servers = upstream_servers_create();
	e->up = upstream_create(&e->loop, &e->opts, e->servers);
	assert_non_null(e->up);
	e->qname = ldns_dname_new_frm_str("www.example.com.");
	e->stop_after = 1;
	uv_timer_init(&e->loop, &e->watchdog);
	uv_timer_start(&e->watchdog, watchdog_fired, 10000, 0);
	uv_unref((uv_handle_t *)&e->watchdog);
	uv_timer_init(&e->loop, &e->stopper);
	e->stopper.data = e;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	upstream_destroy(e->up);
	fake_stop(&e->fake);
	fake_stop(&e->fake2);
	uv_close((uv_handle_t *)&e->watchdog, NULL);
	uv_close((uv_handle_t *)&e->stopper, NULL);
	uv_run(&e->loop, UV_RUN_DEFAULT);
	/* Every handle upstream opened has been closed. */
	assert_int_equal(uv_loop_close(&e->loop), 0);
	upstream_servers_destroy(e->servers);
	ldns_rdf_deep_free(e->qname);
	free(e);
	return 0;
}

static void on_result(void *arg, const struct upstream_result *res);

static struct upstream_request request(struct env *e, const struct sockaddr_storage *cands,
				       size_t n, bool tcp)
{
	return (struct upstream_request){
		.qname = e->qname,
		.qtype = LDNS_RR_TYPE_A,
		.qclass = LDNS_RR_CLASS_IN,
		.tcp = tcp,
		.candidates = cands,
		.ncandidates = n,
	};
}

static struct upstream_query *start(struct env *e, const struct sockaddr_storage *cands, size_t n,
				    bool tcp)
{
	struct upstream_request req = request(e, cands, n, tcp);
	struct upstream_query *q = NULL;
	int before = e->nresults;
	e->in_start = true;
	assert_int_equal(upstream_query_start(e->up, &req, on_result, e, &q), 0);
	e->in_start = false;
	assert_non_null(q);
	/* Never a callback from inside the call. */
	assert_int_equal(e->nresults, before);
	return q;
}

static void on_result(void *arg, const struct upstream_result *res)
{
	struct env *e = arg;
	assert_false(e->in_start);
	assert_true(e->nresults < MAX_RESULTS);
	struct recorded *r = &e->results[e->nresults++];
	r->status = res->status;
	r->server = res->server;
	r->rtt_ms = res->rtt_ms;
	r->tcp = res->tcp;
	r->has_wire = res->wire != NULL;
	r->hedged = res->hedged;
	r->recovered = res->recovered;
	r->at_ms = uv_now(&e->loop);
	assert_true((res->status == UPSTREAM_OK) == (res->wire != NULL));
	if (res->wire != NULL) {
		ldns_pkt *p = NULL;
		assert_int_equal(ldns_wire2pkt(&p, res->wire, res->len), LDNS_STATUS_OK);
		r->tc = ldns_pkt_tc(p);
		if (ldns_pkt_ancount(p) > 0) {
			char *s = ldns_rdf2str(
				ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(p), 0), 0));
			snprintf(r->rdata, sizeof(r->rdata), "%s", s);
			free(s);
		}
		ldns_pkt_free(p);
	}

	/* Re-entrancy: the attempt is over; its handle may be cancelled (a
	 * no-op), other attempts cancelled or started, the upstream destroyed. */
	if (e->self != NULL) {
		upstream_query_cancel(e->self);
		e->self = NULL;
	}
	if (e->to_cancel != NULL) {
		upstream_query_cancel(e->to_cancel);
		e->to_cancel = NULL;
	}
	if (e->start_in_cb) {
		e->start_in_cb = false;
		start(e, &e->fake.udp_addr, 1, false);
	}
	if (e->destroy_in_cb) {
		e->destroy_in_cb = false;
		upstream_destroy(e->up);
		e->up = NULL;
	}
	if (e->nresults >= e->stop_after) {
		fake_stop(&e->fake);
		fake_stop(&e->fake2);
	}
}

static void stop_fake(uv_timer_t *t)
{
	struct env *e = t->data;
	fake_stop(&e->fake);
}

static struct sockaddr_storage ip4(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	uv_ip4_addr(ip, port, (struct sockaddr_in *)&ss);
	return ss;
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static bool same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return a->ss_family == b->ss_family && port_of(a) == port_of(b);
}

/* A loopback port nobody listens on (bound, read, released). */
static struct sockaddr_storage closed_port(uv_loop_t *loop, bool tcp)
{
	struct sockaddr_storage ss;
	struct sockaddr_in any;
	int len = sizeof(ss);
	uv_ip4_addr("127.0.0.1", 0, &any);
	if (tcp) {
		uv_tcp_t t;
		uv_tcp_init(loop, &t);
		assert_int_equal(uv_tcp_bind(&t, (struct sockaddr *)&any, 0), 0);
		uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &len);
		uv_close((uv_handle_t *)&t, NULL);
	} else {
		uv_udp_t u;
		uv_udp_init(loop, &u);
		assert_int_equal(uv_udp_bind(&u, (struct sockaddr *)&any, 0), 0);
		uv_udp_getsockname(&u, (struct sockaddr *)&ss, &len);
		uv_close((uv_handle_t *)&u, NULL);
	}
	uv_run(loop, UV_RUN_NOWAIT); /* finish the close */
	return ss;
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_udp_answer(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_ANSWER);

	assert_int_equal(upstream_servers_rtt(e->servers, (struct sockaddr *)&e->fake.udp_addr),
			 UPSTREAM_RTT_UNKNOWN_MS);
	start(e, &e->fake.udp_addr, 1, false);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_OK);
	assert_true(same(&e->results[0].server, &e->fake.udp_addr));
	assert_false(e->results[0].tcp);
	assert_false(e->results[0].tc);
	assert_string_equal(e->results[0].rdata, "192.0.2.1");
	assert_int_equal(e->fake.queries, 1);
	/* The RTT was measured: loopback is far below the unknown default. */
	assert_true(upstream_servers_rtt(e->servers, (struct sockaddr *)&e->fake.udp_addr) < 50);
}

static void test_udp_spoofs_ignored(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SPOOF);

	start(e, &e->fake.udp_addr, 1, false);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_OK);
	/* Only the real answer (sent 30 ms after the junk) was taken. */
	assert_string_equal(e->results[0].rdata, "192.0.2.1");
	assert_true(e->results[0].rtt_ms >= 25);
}

static void test_udp_truncated_is_ok(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_TRUNCATED);

	start(e, &e->fake.udp_addr, 1, false);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_OK);
	assert_true(e->results[0].tc);
}

static void test_udp_timeout(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SILENT);

	uint64_t t0 = uv_hrtime();
	start(e, &e->fake.udp_addr, 1, false);
	uv_run(&e->loop, UV_RUN_DEFAULT);
	uint64_t elapsed_ms = (uv_hrtime() - t0) / 1000000;

	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_TIMEOUT);
	assert_true(same(&e->results[0].server, &e->fake.udp_addr));
	/* Unknown server: RTO 400 ms bounded by timeout_max_ms = 150. */
	assert_in_range(e->results[0].rtt_ms, 145, 600);
	assert_in_range(elapsed_ms, 140, 1000);
	assert_int_equal(e->fake.queries, 1);
	/* Backed off: the unknown default doubled. */
	assert_int_equal(upstream_servers_rtt(e->servers, (struct sockaddr *)&e->fake.udp_addr),
			 2 * UPSTREAM_RTT_UNKNOWN_MS);
}

static void test_udp_port_unreachable(void **state)
{
	struct env *e = *state;
	struct sockaddr_storage dead = closed_port(&e->loop, false);

	start(e, &dead, 1, false);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_NETERR);
	assert_true(e->results[0].rtt_ms < 145); /* not a timeout */
}

static void test_refused(void **state)
{
	struct env *e = *state;
	e->opts.do_not_query_localhost = true;
	struct sockaddr_storage c[] = {ip4("127.0.0.1", 53), ip4("0.0.0.0", 53),
				       ip4("224.0.0.1", 53)};

	start(e, c, 3, false);
	start(e, NULL, 0, false); /* none given */
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(e->results[i].status, UPSTREAM_REFUSED);
		assert_int_equal(e->results[i].server.ss_family, AF_UNSPEC);
		assert_false(e->results[i].has_wire);
	}
}

static void test_policy_filters_candidates(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_ANSWER);
	struct sockaddr_storage c[4] = {ip4("0.0.0.0", 53), ip4("255.255.255.255", 53),
					ip4("127.0.0.1", 0)};
	c[3] = e->fake.udp_addr;
	/* An IPv6 candidate while do_ip6 is off. */
	struct sockaddr_in6 *six = (struct sockaddr_in6 *)&c[0];
	memset(&c[0], 0, sizeof(c[0]));
	uv_ip6_addr("::1", port_of(&e->fake.udp_addr), six);

	for (int i = 0; i < 5; i++)
		start(e, c, 4, false);
	e->stop_after = 5;
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(e->results[i].status, UPSTREAM_OK);
		assert_true(same(&e->results[i].server, &e->fake.udp_addr));
	}
}

static void test_selection_prefers_the_fast_server(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_ANSWER);
	/* A second candidate known to be slow (measured 900 ms earlier). */
	struct sockaddr_storage slow = ip4("127.0.0.2", port_of(&e->fake.udp_addr));
	for (int i = 0; i < 5; i++)
		upstream_servers_sample(e->servers, (struct sockaddr *)&slow, 900,
					uv_now(&e->loop));
	upstream_servers_sample(e->servers, (struct sockaddr *)&e->fake.udp_addr, 1,
				uv_now(&e->loop));
	struct sockaddr_storage c[2] = {slow, e->fake.udp_addr};

	/* Exploration (5 %) stays within the RTT band: the slow one is
	 * outside it, so every attempt goes to the fast one. */
	for (int i = 0; i < 8; i++)
		start(e, c, 2, false);
	e->stop_after = 8;
	uv_run(&e->loop, UV_RUN_DEFAULT);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(e->results[i].status, UPSTREAM_OK);
		assert_true(same(&e->results[i].server, &e->fake.udp_addr));
	}
}

static void test_tcp_answer_in_pieces(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_ANSWER);

	start(e, &e->fake.tcp_addr, 1, true);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_OK);
	assert_true(e->results[0].tcp);
	assert_string_equal(e->results[0].rdata, "192.0.2.1");
	assert_true(e->results[0].rtt_ms >= 40); /* three 15 ms steps */
	/* TCP does not feed the UDP estimate. */
	assert_int_equal(upstream_servers_rtt(e->servers, (struct sockaddr *)&e->fake.tcp_addr),
			 UPSTREAM_RTT_UNKNOWN_MS);
}

static void test_tcp_hangup(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_HANGUP);

	start(e, &e->fake.tcp_addr, 1, true);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_NETERR);
	assert_true(e->results[0].tcp);
	assert_int_equal(e->fake.queries, 1);
}

static void test_tcp_refused(void **state)
{
	struct env *e = *state;
	struct sockaddr_storage dead = closed_port(&e->loop, true);

	start(e, &dead, 1, true);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_NETERR);
}

static void test_tcp_timeout(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SILENT);

	start(e, &e->fake.tcp_addr, 1, true);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_TIMEOUT);
	assert_in_range(e->results[0].rtt_ms, 295, 1000); /* tcp_timeout_ms */
}

static void test_cancel_before_answer(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SPOOF); /* answers after 30 ms */

	/* Cancelled at once, and cancelled while waiting (from a timer). */
	struct upstream_query *q1 = start(e, &e->fake.udp_addr, 1, false);
	upstream_query_cancel(q1);
	struct upstream_query *q2 = start(e, &e->fake.tcp_addr, 1, true);
	struct sockaddr_storage refused = ip4("0.0.0.0", 53);
	struct upstream_query *q3 = start(e, &refused, 1, false);
	upstream_query_cancel(q3); /* the deferred REFUSED must not come either */
	upstream_query_cancel(NULL);

	uv_run(&e->loop, UV_RUN_NOWAIT);
	upstream_query_cancel(q2);
	uv_timer_start(&e->stopper, stop_fake, 100, 0);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 0);
}

static void test_destroy_in_flight(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SILENT);
	struct sockaddr_storage refused = ip4("0.0.0.0", 53);

	start(e, &e->fake.udp_addr, 1, false);
	start(e, &e->fake.udp_addr, 1, false);
	start(e, &e->fake.tcp_addr, 1, true);
	uv_run(&e->loop, UV_RUN_NOWAIT); /* the TCP connection gets going */
	start(e, &refused, 1, false);
	upstream_destroy(e->up);
	e->up = NULL;
	uv_timer_start(&e->stopper, stop_fake, 200, 0);
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 0);
}

static void test_reentrant_callback(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_ANSWER);
	struct sockaddr_storage refused = ip4("0.0.0.0", 53);

	/* The REFUSED callback cancels itself and a pending attempt (to a port
	 * that never answers), and starts a new attempt whose answer ends the
	 * test. */
	struct upstream_query *pending = start(e, &e->fake.other_addr, 1, false);
	struct upstream_query *q = start(e, &refused, 1, false);
	e->self = q;
	e->to_cancel = pending;
	e->start_in_cb = true;
	e->stop_after = 2;
	uv_run(&e->loop, UV_RUN_DEFAULT);

	assert_int_equal(e->nresults, 2);
	assert_int_equal(e->results[0].status, UPSTREAM_REFUSED);
	assert_int_equal(e->results[1].status, UPSTREAM_OK);
}

static void test_destroy_from_callback(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SILENT);
	struct sockaddr_storage refused = ip4("0.0.0.0", 53);

	start(e, &e->fake.udp_addr, 1, false);
	start(e, &e->fake.tcp_addr, 1, true);
	start(e, &refused, 1, false);
	e->destroy_in_cb = true;
	uv_run(&e->loop, UV_RUN_DEFAULT);

	/* Only the REFUSED one reported; the others died with the upstream. */
	assert_int_equal(e->nresults, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_REFUSED);
	assert_null(e->up);
}

/* ---- calm retries: breakers, hedges, caps, budget ---------------------------- */

/* Runs the loop until `n` results are in. */
static void run_until(struct env *e, int n)
{
	while (e->nresults < n)
		uv_run(&e->loop, UV_RUN_ONCE);
}

static void waited(uv_timer_t *t)
{
	struct env *e = t->data;
	e->waited = true;
}

/* Runs the loop for `ms` milliseconds. */
static void run_for(struct env *e, unsigned ms)
{
	e->waited = false;
	uv_timer_start(&e->stopper, waited, ms, 0);
	while (!e->waited)
		uv_run(&e->loop, UV_RUN_ONCE);
}

static void start_req(struct env *e, const struct upstream_request *req)
{
	struct upstream_query *q = NULL;
	int before = e->nresults;
	e->in_start = true;
	assert_int_equal(upstream_query_start(e->up, req, on_result, e, &q), 0);
	e->in_start = false;
	assert_non_null(q);
	assert_int_equal(e->nresults, before);
}

static struct upstream_request zone_request(struct env *e, const struct sockaddr_storage *cands,
					    size_t n, const ldns_rdf *zone,
					    const ldns_rdf *const *ns)
{
	struct upstream_request req = request(e, cands, n, false);
	req.zone = zone;
	req.candidate_ns = ns;
	return req;
}

static void sample_n(struct env *e, const struct sockaddr_storage *a, unsigned ms)
{
	for (int i = 0; i < 5; i++)
		upstream_servers_sample(e->servers, (const struct sockaddr *)a, ms,
					uv_now(&e->loop));
}

struct health_find {
	const struct sockaddr_storage *addr;
	const char *zone;
	bool found;
	struct upstream_health_info info;
};

static void health_find_cb(void *arg, const struct upstream_health_info *info)
{
	struct health_find *f = arg;
	if (same(&info->addr, f->addr) && strcmp(info->zone, f->zone) == 0) {
		f->found = true;
		f->info = *info;
	}
}

static struct health_find health_of(struct env *e, const struct sockaddr_storage *a,
				    const char *zone)
{
	struct health_find f = {.addr = a, .zone = zone};
	upstream_servers_health(e->servers, health_find_cb, &f);
	return f;
}

static void test_hedge_to_other_provider(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_ANSWER);
	/* The dead server's own timeout would be a second or more. */
	e->opts.timeout_min_ms = 1000;
	e->opts.timeout_max_ms = 3000;
	struct sockaddr_storage c[2] = {e->fake.other_addr, e->fake.udp_addr}; /* dead, live */
	/* The dead one looks fastest (it answered in 5 ms before it died);
	 * the live one is slow enough to be outside the exploration band. */
	sample_n(e, &c[0], 5);
	sample_n(e, &c[1], 900);
	ldns_rdf *zone = ldns_dname_new_frm_str("example.com.");
	ldns_rdf *ns[2] = {ldns_dname_new_frm_str("ns1.dead-dns.test."),
			   ldns_dname_new_frm_str("ns1.live-dns.test.")};
	struct upstream_request req = zone_request(e, c, 2, zone, (const ldns_rdf *const *)ns);

	uv_update_time(&e->loop);
	uint64_t t0 = uv_now(&e->loop);
	start_req(e, &req);
	run_until(e, 1);

	struct recorded *r = &e->results[0];
	assert_int_equal(r->status, UPSTREAM_OK);
	assert_true(same(&r->server, &c[1]));
	assert_true(same(&r->hedged, &c[0]));
	assert_string_equal(r->rdata, "192.0.2.1");
	assert_false(r->recovered);
	/* The hedge left after max(hedge_min 50 ms, srtt 5 ms), long before
	 * the dead server's timeout. */
	assert_in_range(r->at_ms - t0, 45, 500);
	assert_int_equal(e->fake.queries, 1);

	struct upstream_counters cnt;
	upstream_servers_counters(e->servers, &cnt);
	assert_int_equal(cnt.queries, 2);
	assert_int_equal(cnt.hedges, 1);
	assert_int_equal(cnt.retries, 0);
	/* The hedge was paid from the retry budget. */
	uint64_t firsts, retries;
	upstream_budget_counts(&e->servers->budget, uv_now(&e->loop),
			       e->opts.retry_budget_window_ms, &firsts, &retries);
	assert_int_equal(firsts, 1);
	assert_int_equal(retries, 1);

	/* The losing query to the dead server lingers until its own end and
	 * counts as a failure for (dead, zone): the breaker learns even while
	 * hedges hide the outage. */
	uv_run(&e->loop, UV_RUN_DEFAULT);
	struct health_find h = health_of(e, &c[0], "example.com.");
	assert_true(h.found);
	assert_int_equal(h.info.failures, 1);
	assert_int_equal(h.info.inflight, 0);
	assert_string_equal(h.info.provider, "dead-dns.test");
	h = health_of(e, &c[1], "example.com.");
	assert_true(h.found);
	assert_int_equal(h.info.failures, 0);
	assert_string_equal(h.info.provider, "live-dns.test");
	assert_int_equal(upstream_servers_inflight_count(e->servers, (struct sockaddr *)&c[0]), 0);
	assert_int_equal(upstream_servers_inflight_count(e->servers, (struct sockaddr *)&c[1]), 0);
	ldns_rdf_deep_free(zone);
	ldns_rdf_deep_free(ns[0]);
	ldns_rdf_deep_free(ns[1]);
}

static void test_no_hedge_within_one_provider(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_ANSWER);
	e->opts.timeout_min_ms = 300;
	e->opts.timeout_max_ms = 300;
	struct sockaddr_storage c[2] = {e->fake.other_addr, e->fake.udp_addr};
	sample_n(e, &c[0], 5);
	sample_n(e, &c[1], 900);
	ldns_rdf *ns[2] = {ldns_dname_new_frm_str("ns1.example.com."),
			   ldns_dname_new_frm_str("ns2.example.com.")};
	struct upstream_request req = zone_request(e, c, 2, NULL, (const ldns_rdf *const *)ns);

	start_req(e, &req);
	run_until(e, 1);
	/* One provider: no hedge, the dead server times out. */
	assert_int_equal(e->results[0].status, UPSTREAM_TIMEOUT);
	assert_true(same(&e->results[0].server, &c[0]));
	assert_int_equal(e->results[0].hedged.ss_family, AF_UNSPEC);
	assert_int_equal(e->fake.queries, 0);
	ldns_rdf_deep_free(ns[0]);
	ldns_rdf_deep_free(ns[1]);
}

static void test_breaker_unreachable(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SILENT);
	e->opts.breaker_cooldown_ms = 5000; /* stays open for the test */
	e->opts.breaker_cooldown_max_ms = 5000;
	e->stop_after = 100;
	ldns_rdf *zone = ldns_dname_new_frm_str("example.com.");
	ldns_rdf *other = ldns_dname_new_frm_str("example.org.");
	struct upstream_request req = zone_request(e, &e->fake.udp_addr, 1, zone, NULL);

	for (int i = 0; i < 3; i++)
		start_req(e, &req);
	run_until(e, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(e->results[i].status, UPSTREAM_TIMEOUT);
	assert_int_equal(e->fake.queries, 3);

	/* Open for the zone: refused at once, nothing sent. */
	uv_update_time(&e->loop);
	uint64_t t0 = uv_now(&e->loop);
	start_req(e, &req);
	run_until(e, 4);
	assert_int_equal(e->results[3].status, UPSTREAM_UNREACHABLE);
	assert_int_equal(e->results[3].server.ss_family, AF_UNSPEC);
	assert_true(e->results[3].at_ms - t0 < 20);
	assert_int_equal(e->fake.queries, 3);
	struct health_find h = health_of(e, &e->fake.udp_addr, "example.com.");
	assert_true(h.found);
	assert_int_equal(h.info.breaker, UPSTREAM_BREAKER_OPEN);
	assert_int_equal(h.info.failures, 3);
	assert_in_range(h.info.cooldown_left_ms, 1, 5000);

	/* The same server for another zone is still asked. */
	struct upstream_request req2 = zone_request(e, &e->fake.udp_addr, 1, other, NULL);
	start_req(e, &req2);
	run_until(e, 5);
	assert_int_equal(e->results[4].status, UPSTREAM_TIMEOUT);
	assert_int_equal(e->fake.queries, 4);

	struct upstream_counters cnt;
	upstream_servers_counters(e->servers, &cnt);
	assert_int_equal(cnt.breaker_opens, 1);
	assert_int_equal(cnt.refused_breaker, 1);
	assert_int_equal(cnt.timeouts, 4);
	assert_int_equal(cnt.queries, 4);
	fake_stop(&e->fake);
	ldns_rdf_deep_free(zone);
	ldns_rdf_deep_free(other);
}

static void test_probe_recovers(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SILENT);
	e->opts.breaker_cooldown_ms = 100;
	e->opts.breaker_cooldown_max_ms = 200;
	e->stop_after = 100;
	ldns_rdf *zone = ldns_dname_new_frm_str("example.com.");
	struct upstream_request req = zone_request(e, &e->fake.udp_addr, 1, zone, NULL);

	for (int i = 0; i < 3; i++)
		start_req(e, &req);
	run_until(e, 3);
	/* The authority comes back; the cool-down (<= 100 ms) passes. */
	e->fake.mode = FAKE_ANSWER;
	run_for(e, 150);
	struct health_find h = health_of(e, &e->fake.udp_addr, "example.com.");
	assert_int_equal(h.info.breaker, UPSTREAM_BREAKER_HALF_OPEN);

	/* One probe; a concurrent query keeps skipping the server. */
	start_req(e, &req);
	start_req(e, &req);
	run_until(e, 5);
	int ok = -1, unreachable = -1;
	for (int i = 3; i < 5; i++) {
		if (e->results[i].status == UPSTREAM_OK)
			ok = i;
		if (e->results[i].status == UPSTREAM_UNREACHABLE)
			unreachable = i;
	}
	assert_true(ok >= 0 && unreachable >= 0);
	assert_true(e->results[ok].recovered);
	assert_int_equal(e->fake.queries, 4);

	/* Closed: the next query is an ordinary one. */
	start_req(e, &req);
	run_until(e, 6);
	assert_int_equal(e->results[5].status, UPSTREAM_OK);
	assert_false(e->results[5].recovered);
	h = health_of(e, &e->fake.udp_addr, "example.com.");
	assert_int_equal(h.info.breaker, UPSTREAM_BREAKER_CLOSED);
	assert_int_equal(h.info.failures, 0);

	struct upstream_counters cnt;
	upstream_servers_counters(e->servers, &cnt);
	assert_int_equal(cnt.breaker_opens, 1);
	assert_int_equal(cnt.breaker_closes, 1);
	fake_stop(&e->fake);
	ldns_rdf_deep_free(zone);
}

static void test_budget_limited(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_ANSWER);
	e->opts.retry_budget_percent = 0;
	e->opts.retry_budget_floor = 2;
	e->stop_after = 4;
	struct upstream_request req = request(e, &e->fake.udp_addr, 1, false);

	start_req(e, &req);
	req.retry = true;
	for (int i = 0; i < 3; i++)
		start_req(e, &req);
	run_until(e, 4);

	int ok = 0, limited = 0;
	for (int i = 0; i < 4; i++) {
		ok += e->results[i].status == UPSTREAM_OK;
		limited += e->results[i].status == UPSTREAM_LIMITED;
	}
	assert_int_equal(ok, 3);
	assert_int_equal(limited, 1);
	assert_int_equal(e->fake.queries, 3);
	struct upstream_counters cnt;
	upstream_servers_counters(e->servers, &cnt);
	assert_int_equal(cnt.retries, 2);
	assert_int_equal(cnt.refused_budget, 1);
	assert_int_equal(cnt.queries, 3);
}

static void test_inflight_caps(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SILENT);
	e->opts.max_inflight_zone = 2;
	e->opts.max_inflight_server = 3;
	e->stop_after = 100;
	ldns_rdf *za = ldns_dname_new_frm_str("a.example.");
	ldns_rdf *zb = ldns_dname_new_frm_str("b.example.");
	ldns_rdf *zc = ldns_dname_new_frm_str("c.example.");
	struct upstream_request ra = zone_request(e, &e->fake.udp_addr, 1, za, NULL);
	struct upstream_request rb = zone_request(e, &e->fake.udp_addr, 1, zb, NULL);
	struct upstream_request rc = zone_request(e, &e->fake.udp_addr, 1, zc, NULL);

	start_req(e, &ra);
	start_req(e, &ra);
	start_req(e, &ra); /* zone at its cap */
	start_req(e, &rb);
	start_req(e, &rc); /* server at its cap */
	assert_int_equal(
		upstream_servers_inflight_count(e->servers, (struct sockaddr *)&e->fake.udp_addr),
		3);
	run_until(e, 5);
	int limited = 0, timeout = 0;
	for (int i = 0; i < 5; i++) {
		limited += e->results[i].status == UPSTREAM_LIMITED;
		timeout += e->results[i].status == UPSTREAM_TIMEOUT;
	}
	assert_int_equal(limited, 2);
	assert_int_equal(timeout, 3);
	assert_int_equal(e->fake.queries, 3);
	struct upstream_counters cnt;
	upstream_servers_counters(e->servers, &cnt);
	assert_int_equal(cnt.refused_inflight, 2);

	/* Every unit came back: the same burst goes out again. */
	assert_int_equal(
		upstream_servers_inflight_count(e->servers, (struct sockaddr *)&e->fake.udp_addr),
		0);
	start_req(e, &ra);
	start_req(e, &ra);
	start_req(e, &rb);
	run_until(e, 8);
	for (int i = 5; i < 8; i++)
		assert_int_equal(e->results[i].status, UPSTREAM_TIMEOUT);
	assert_int_equal(e->fake.queries, 6);
	fake_stop(&e->fake);
	ldns_rdf_deep_free(za);
	ldns_rdf_deep_free(zb);
	ldns_rdf_deep_free(zc);
}

static void test_cancel_gives_back(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_SILENT);
	e->opts.max_inflight_zone = 1;
	ldns_rdf *zone = ldns_dname_new_frm_str("example.com.");
	struct upstream_request req = zone_request(e, &e->fake.udp_addr, 1, zone, NULL);
	struct upstream_query *q = NULL;

	assert_int_equal(upstream_query_start(e->up, &req, on_result, e, &q), 0);
	upstream_query_cancel(q);
	assert_int_equal(
		upstream_servers_inflight_count(e->servers, (struct sockaddr *)&e->fake.udp_addr),
		0);
	/* The zone's single unit is free again. */
	start_req(e, &req);
	run_until(e, 1);
	assert_int_equal(e->results[0].status, UPSTREAM_TIMEOUT);
	ldns_rdf_deep_free(zone);
}

static void test_selection_breakers_and_avoid(void **state)
{
	struct env *e = *state;
	fake_start(&e->fake, &e->loop, FAKE_ANSWER);
	fake_start(&e->fake2, &e->loop, FAKE_ANSWER);
	struct sockaddr_storage a1 = e->fake.udp_addr, a2 = e->fake.other_addr;
	struct sockaddr_storage b = e->fake2.udp_addr;
	sample_n(e, &a1, 1);   /* the fastest */
	sample_n(e, &a2, 900); /* same provider as a1; silent */
	sample_n(e, &b, 900);  /* another provider, slow */
	ldns_rdf *zone = ldns_dname_new_frm_str("example.com.");
	ldns_rdf *other = ldns_dname_new_frm_str("example.org.");
	ldns_rdf *ns3[3] = {ldns_dname_new_frm_str("ns1.alpha.test."),
			    ldns_dname_new_frm_str("ns2.alpha.test."),
			    ldns_dname_new_frm_str("ns.beta.test.")};
	struct sockaddr_storage c3[3] = {a1, a2, b};
	e->stop_after = 18;

	/* a2 just failed: its provider (alpha, a1 included) is avoided. */
	struct upstream_request req = zone_request(e, c3, 3, zone, (const ldns_rdf *const *)ns3);
	req.avoid = &a2;
	req.retry = true;
	for (int i = 0; i < 6; i++)
		start_req(e, &req);
	run_until(e, 6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(e->results[i].status, UPSTREAM_OK);
		assert_true(same(&e->results[i].server, &b));
	}

	/* a1's breaker is open for example.com: skipped there... */
	uint64_t zk = upstream_zone_key(e->servers, ldns_rdf_data(zone), ldns_rdf_size(zone));
	uint64_t hk = upstream_health_key(e->servers, (struct sockaddr *)&a1, zk);
	struct upstream_breaker_params p = {
		.threshold = 3, .cooldown_ms = 5000, .cooldown_max_ms = 5000};
	for (int i = 0; i < 3; i++) {
		struct upstream_claim cl = {0};
		struct upstream_health_event ev;
		assert_true(upstream_health_take(e->servers, hk, (struct sockaddr *)&a1,
						 ldns_rdf_data(zone), ldns_rdf_size(zone), NULL,
						 uv_now(&e->loop), false, 0, &cl));
		upstream_health_record(e->servers, &cl, false, uv_now(&e->loop), &p, 0, &ev);
		upstream_health_release(e->servers, &cl);
	}
	struct sockaddr_storage c2[2] = {a1, b};
	ldns_rdf *ns2[2] = {ns3[0], ns3[2]};
	req = zone_request(e, c2, 2, zone, (const ldns_rdf *const *)ns2);
	for (int i = 0; i < 6; i++)
		start_req(e, &req);
	run_until(e, 12);
	for (int i = 6; i < 12; i++) {
		assert_int_equal(e->results[i].status, UPSTREAM_OK);
		assert_true(same(&e->results[i].server, &b));
	}
	/* ...but not for example.org. */
	req = zone_request(e, c2, 2, other, (const ldns_rdf *const *)ns2);
	for (int i = 0; i < 6; i++)
		start_req(e, &req);
	run_until(e, 18);
	for (int i = 12; i < 18; i++) {
		assert_int_equal(e->results[i].status, UPSTREAM_OK);
		assert_true(same(&e->results[i].server, &a1));
	}
	ldns_rdf_deep_free(zone);
	ldns_rdf_deep_free(other);
	for (int i = 0; i < 3; i++)
		ldns_rdf_deep_free(ns3[i]);
}

static void test_bad_arguments(void **state)
{
	struct env *e = *state;
	struct upstream_request req = request(e, NULL, 0, false);
	struct upstream_query *q = NULL;

	assert_int_equal(upstream_query_start(NULL, &req, on_result, e, &q), -EINVAL);
	assert_int_equal(upstream_query_start(e->up, NULL, on_result, e, &q), -EINVAL);
	assert_int_equal(upstream_query_start(e->up, &req, NULL, e, &q), -EINVAL);
	req.ncandidates = 2; /* but no array */
	assert_int_equal(upstream_query_start(e->up, &req, on_result, e, &q), -EINVAL);
	req = request(e, NULL, 0, false);
	req.qname = NULL;
	assert_int_equal(upstream_query_start(e->up, &req, on_result, e, &q), -EINVAL);
	assert_null(q);
	assert_null(upstream_create(NULL, &e->opts, e->servers));
	upstream_destroy(NULL);
	uv_run(&e->loop, UV_RUN_NOWAIT);
	assert_int_equal(e->nresults, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_udp_answer),
		T(test_udp_spoofs_ignored),
		T(test_udp_truncated_is_ok),
		T(test_udp_timeout),
		T(test_udp_port_unreachable),
		T(test_refused),
		T(test_policy_filters_candidates),
		T(test_selection_prefers_the_fast_server),
		T(test_tcp_answer_in_pieces),
		T(test_tcp_hangup),
		T(test_tcp_refused),
		T(test_tcp_timeout),
		T(test_cancel_before_answer),
		T(test_destroy_in_flight),
		T(test_reentrant_callback),
		T(test_destroy_from_callback),
		T(test_bad_arguments),
		T(test_hedge_to_other_provider),
		T(test_no_hedge_within_one_provider),
		T(test_breaker_unreachable),
		T(test_probe_recovers),
		T(test_budget_limited),
		T(test_inflight_caps),
		T(test_cancel_gives_back),
		T(test_selection_breakers_and_avoid),
	};
#undef T
	/* As in the daemon: a peer that went away is an error code, not a
	 * signal (libuv writes to streams without MSG_NOSIGNAL). */
	signal(SIGPIPE, SIG_IGN);
	/* HOLDFAST_TEST_DEBUG=1 shows what upstream logs (ignored messages...). */
	if (getenv("HOLDFAST_TEST_DEBUG") != NULL)
		log_set_verbosity(LOG_LEVEL_DEBUG);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
