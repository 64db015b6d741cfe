/*
 * tests/unit/upstream/harness.c — the fake authorities and the fixture of
 * harness.h, linked into test_upstream and test_transport.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* ---- fake authorities --------------------------------------------------------- */

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
	char *seen = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(query), 0)));
	snprintf(f->seen, sizeof(f->seen), "%s", seen);
	free(seen);
	if (f->mode == FAKE_LOWER) {
		/* A server that does not keep case: everything it writes is
		 * lower case, the question included. */
		ldns_pkt_free(query);
		uint8_t *q = (uint8_t *)buf->base;
		for (size_t i = 12; i < (size_t)nread && q[i] != 0; i += 1 + (size_t)q[i])
			for (size_t k = i + 1; k <= i + q[i] && k < (size_t)nread; k++)
				if (q[k] >= 'A' && q[k] <= 'Z')
					q[k] = (uint8_t)(q[k] + 'a' - 'A');
		assert_int_equal(ldns_wire2pkt(&query, q, (size_t)nread), LDNS_STATUS_OK);
	}
	assert_false(ldns_pkt_rd(query));
	size_t len;
	uint8_t *w;
	const struct sockaddr *to = addr;

	switch (f->mode) {
	case FAKE_ANSWER:
	case FAKE_LOWER:
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
	c->fake->tcp_queries++;
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

void fake_start(struct fake *f, uv_loop_t *loop, enum fake_mode mode)
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
	/* TCP on the UDP port when it is free, as a real server: a leg
	 * switched to TCP asks the address it would have asked over UDP. */
	struct sockaddr_in same_port = any;
	same_port.sin_port = ((struct sockaddr_in *)&f->udp_addr)->sin_port;
	if (uv_tcp_bind(&f->listener, (struct sockaddr *)&same_port, 0) < 0 ||
	    uv_listen((uv_stream_t *)&f->listener, 8, fake_accept) < 0) {
		uv_close((uv_handle_t *)&f->listener, NULL);
		assert_int_equal(uv_tcp_init(loop, &f->listener), 0);
		f->listener.data = f;
		assert_int_equal(uv_tcp_bind(&f->listener, (struct sockaddr *)&any, 0), 0);
		assert_int_equal(uv_listen((uv_stream_t *)&f->listener, 8, fake_accept), 0);
	}
	len = sizeof(f->tcp_addr);
	assert_int_equal(uv_tcp_getsockname(&f->listener, (struct sockaddr *)&f->tcp_addr, &len),
			 0);

	uv_timer_init(loop, &f->delay);
	f->delay.data = f;
}

void fake_stop(struct fake *f)
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

static void watchdog_fired(uv_timer_t *t)
{
	fail_msg("the loop did not finish in time");
}

int setup(void **state)
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

int teardown(void **state)
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

struct upstream_request request(struct env *e, const struct sockaddr_storage *cands, size_t n,
				bool tcp)
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

struct upstream_query *start(struct env *e, const struct sockaddr_storage *cands, size_t n,
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

void on_result(void *arg, const struct upstream_result *res)
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
		char *qn = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p), 0)));
		snprintf(r->qname, sizeof(r->qname), "%s", qn);
		free(qn);
		if (ldns_pkt_ancount(p) > 0) {
			char *on =
				ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(p), 0)));
			snprintf(r->owner, sizeof(r->owner), "%s", on);
			free(on);
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

void stop_fake(uv_timer_t *t)
{
	struct env *e = t->data;
	fake_stop(&e->fake);
}

struct sockaddr_storage ip4(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	uv_ip4_addr(ip, port, (struct sockaddr_in *)&ss);
	return ss;
}

uint16_t port_of(const struct sockaddr_storage *ss)
{
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

bool same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return a->ss_family == b->ss_family && port_of(a) == port_of(b);
}

/* A loopback port nobody listens on (bound, read, released). */
struct sockaddr_storage closed_port(uv_loop_t *loop, bool tcp)
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

/* ---- calm retries: breakers, hedges, caps, budget ---------------------------- */

/* Runs the loop until `n` results are in. */
void run_until(struct env *e, int n)
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
void run_for(struct env *e, unsigned ms)
{
	e->waited = false;
	uv_timer_start(&e->stopper, waited, ms, 0);
	while (!e->waited)
		uv_run(&e->loop, UV_RUN_ONCE);
}

void start_req(struct env *e, const struct upstream_request *req)
{
	struct upstream_query *q = NULL;
	int before = e->nresults;
	e->in_start = true;
	assert_int_equal(upstream_query_start(e->up, req, on_result, e, &q), 0);
	e->in_start = false;
	assert_non_null(q);
	assert_int_equal(e->nresults, before);
}

struct upstream_request zone_request(struct env *e, const struct sockaddr_storage *cands, size_t n,
				     const ldns_rdf *zone, const ldns_rdf *const *ns)
{
	struct upstream_request req = request(e, cands, n, false);
	req.zone = zone;
	req.candidate_ns = ns;
	return req;
}

void sample_n(struct env *e, const struct sockaddr_storage *a, unsigned ms)
{
	for (int i = 0; i < 5; i++)
		upstream_servers_sample(e->servers, (const struct sockaddr *)a, ms,
					uv_now(&e->loop));
}

static void health_find_cb(void *arg, const struct upstream_health_info *info)
{
	struct health_find *f = arg;
	if (same(&info->addr, f->addr) && strcmp(info->zone, f->zone) == 0) {
		f->found = true;
		f->info = *info;
	}
}

struct health_find health_of(struct env *e, const struct sockaddr_storage *a, const char *zone)
{
	struct health_find f = {.addr = a, .zone = zone};
	upstream_servers_health(e->servers, health_find_cb, &f);
	return f;
}
