/*
 * Unit tests for daemon/task.c (with coalesce.c and reply.c): whole client
 * requests without sockets.
 *
 * Two seams stand in for the outside world. The client is a fake
 * (client.h): it records every message sent to it and counts holds, and
 * can "go away" the way a closed TCP connection does (its sends become
 * no-ops and its state is freed when the last hold is released, so ASan
 * sees any use after that). The upstream layer is a link seam: this file
 * defines upstream_query_start() and upstream_query_cancel(), keeps every
 * attempt pending, and the test answers them by hand from a small script
 * (one authoritative root that knows www.example.com) or lets them time
 * out. The resolver and the cache are the real ones, and the stale-answer
 * timer runs on a real uv loop (timers are not sockets).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/client.h"
#include "daemon/context.h"
#include "daemon/task.h"
#include "cache/cache.h"
#include "tests/unit/dns/msg_builder.h"
#include "util/log.h"

#define ROOT "193.0.14.129"
#define FLAG_RD 0x0100
#define FLAG_CD 0x0010
#define EDE_STALE 3
#define EDE_NO_REACHABLE 22
#define DRIVE_GUARD 500

/* ---- the fake upstream (link seam) ------------------------------------- */

struct upstream_query {
	struct upstream_query *next;
	upstream_cb cb;
	void *arg;
	char qname[256]; /* lower case, presentation form */
	uint16_t qtype;
	bool probe_only;
	struct sockaddr_storage server; /* the first candidate */
};

static struct {
	struct upstream_query *pending; /* newest first */
	unsigned started, cancelled;
} up;

int upstream_query_start(struct upstream *u, const struct upstream_request *req, upstream_cb cb,
			 void *arg, struct upstream_query **out)
{
	struct upstream_query *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	char *s = ldns_rdf2str(req->qname);
	assert_non_null(s);
	snprintf(q->qname, sizeof(q->qname), "%s", s);
	free(s);
	for (char *p = q->qname; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	q->qtype = req->qtype;
	q->probe_only = req->probe_only;
	if (req->ncandidates > 0)
		q->server = req->candidates[0];
	q->cb = cb;
	q->arg = arg;
	q->next = up.pending;
	up.pending = q;
	up.started++;
	if (out)
		*out = q;
	return 0;
}

static void pending_unlink(struct upstream_query *q)
{
	for (struct upstream_query **p = &up.pending; *p; p = &(*p)->next)
		if (*p == q) {
			*p = q->next;
			return;
		}
	fail_msg("upstream query not pending");
}

void upstream_query_cancel(struct upstream_query *q)
{
	pending_unlink(q);
	up.cancelled++;
	free(q);
}

static unsigned pending_count(void)
{
	unsigned n = 0;
	for (struct upstream_query *q = up.pending; q; q = q->next)
		n++;
	return n;
}

/* ---- the scripted network ---------------------------------------------- */

/* Addresses www.example.com has at the authority (fresh data). */
#define WWW_FRESH "192.0.2.80"
#define WWW_STALE "192.0.2.99"

static ldns_rr *rr_new(const char *str)
{
	ldns_rr *rr = NULL;
	if (ldns_rr_new_frm_str(&rr, str, 0, NULL, NULL) != LDNS_STATUS_OK)
		fail_msg("bad record in the test: %s", str);
	return rr;
}

/* The root answers everything itself, authoritatively (it is the zone
 * "." and everything is in its bailiwick). */
static ldns_pkt *script_response(const struct upstream_query *q)
{
	ldns_pkt *pkt = ldns_pkt_new();
	ldns_rr *question = ldns_rr_new();
	assert_non_null(pkt);
	assert_non_null(question);
	ldns_pkt_set_id(pkt, 0x4242);
	ldns_pkt_set_qr(pkt, true);
	ldns_pkt_set_aa(pkt, true);
	ldns_rdf *qname = ldns_dname_new_frm_str(q->qname);
	assert_non_null(qname);
	ldns_rr_set_owner(question, qname);
	ldns_rr_set_type(question, q->qtype);
	ldns_rr_set_class(question, LDNS_RR_CLASS_IN);
	ldns_rr_set_question(question, true);
	ldns_pkt_push_rr(pkt, LDNS_SECTION_QUESTION, question);
	if (strcmp(q->qname, ".") == 0 && q->qtype == LDNS_RR_TYPE_NS) {
		ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER,
				 rr_new(". 518400 IN NS k.root-servers.net."));
		ldns_pkt_push_rr(pkt, LDNS_SECTION_ADDITIONAL,
				 rr_new("k.root-servers.net. 518400 IN A " ROOT));
	} else if (strcmp(q->qname, "www.example.com.") == 0 && q->qtype == LDNS_RR_TYPE_A) {
		ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER,
				 rr_new("www.example.com. 300 IN A " WWW_FRESH));
	} else {
		/* NODATA with the root's SOA. */
		ldns_pkt_push_rr(
			pkt, LDNS_SECTION_AUTHORITY,
			rr_new(". 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. "
			       "1 1800 900 604800 86400"));
	}
	return pkt;
}

/* Answers the oldest pending attempt from the script. */
static void respond(struct upstream_query *q)
{
	ldns_pkt *pkt = script_response(q);
	uint8_t *wire = NULL;
	size_t len = 0;
	assert_int_equal(ldns_pkt2wire(&wire, pkt, &len), LDNS_STATUS_OK);
	struct upstream_result res = {.status = UPSTREAM_OK, .wire = wire, .len = len};
	res.server = q->server;
	pending_unlink(q);
	q->cb(q->arg, &res);
	free(q);
	LDNS_FREE(wire);
	ldns_pkt_free(pkt);
}

/* The attempt gets no answer. */
static void time_out(struct upstream_query *q)
{
	struct upstream_result res = {.status = UPSTREAM_TIMEOUT};
	res.server = q->server;
	pending_unlink(q);
	q->cb(q->arg, &res);
	free(q);
}

/* A probe-only attempt no breaker is due: nothing is sent. */
static void unreachable(struct upstream_query *q)
{
	struct upstream_result res = {.status = UPSTREAM_UNREACHABLE};
	pending_unlink(q);
	q->cb(q->arg, &res);
	free(q);
}

static struct upstream_query *oldest_pending(void)
{
	struct upstream_query *q = up.pending;
	while (q && q->next)
		q = q->next;
	return q;
}

/* Plays the network until nothing is pending: every attempt answered from
 * the script (`dead`: every attempt times out; probes are unreachable). */
static void drive(bool dead)
{
	for (int i = 0; up.pending; i++) {
		if (i >= DRIVE_GUARD)
			fail_msg("still pending after %d attempts", i);
		struct upstream_query *q = oldest_pending();
		if (q->probe_only)
			unreachable(q);
		else if (dead)
			time_out(q);
		else
			respond(q);
	}
}

/* ---- the fake client --------------------------------------------------- */

#define FAKE_KEEP 4

struct fake_client {
	unsigned holds, max_holds;
	unsigned sent;	    /* messages sent while it was there */
	unsigned sent_gone; /* sends after it went away (dropped) */
	bool gone;	    /* went away; freed at the last release */
	uint8_t msg[FAKE_KEEP][4096];
	size_t len[FAKE_KEEP];
	struct client client; /* the value handed to task.c */
};

static unsigned fakes_alive;

static void fake_send(const struct client *c, const uint8_t *msg, size_t len)
{
	struct fake_client *fc = c->handle;
	if (fc->gone) {
		fc->sent_gone++;
		return;
	}
	if (fc->sent < FAKE_KEEP) {
		assert_true(len <= sizeof(fc->msg[0]));
		memcpy(fc->msg[fc->sent], msg, len);
		fc->len[fc->sent] = len;
	}
	fc->sent++;
}

static uint16_t fake_size_limit(const struct client *c, const struct dns_query_view *q)
{
	return c->max_size;
}

static void fake_hold(const struct client *c)
{
	struct fake_client *fc = c->handle;
	fc->holds++;
	if (fc->holds > fc->max_holds)
		fc->max_holds = fc->holds;
}

static void fake_free(struct fake_client *fc)
{
	fakes_alive--;
	free(fc);
}

static void fake_release(const struct client *c)
{
	struct fake_client *fc = c->handle;
	assert_true(fc->holds > 0);
	fc->holds--;
	if (fc->gone && fc->holds == 0)
		fake_free(fc);
}

static const struct client_ops fake_ops = {
	.send = fake_send,
	.size_limit = fake_size_limit,
	.hold = fake_hold,
	.release = fake_release,
};

static struct fake_client *fake_new(void)
{
	struct fake_client *fc = calloc(1, sizeof(*fc));
	assert_non_null(fc);
	fc->client.ops = &fake_ops;
	fc->client.handle = fc;
	struct sockaddr_in *sin = (struct sockaddr_in *)&fc->client.peer;
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
	fc->client.max_size = DNS_MSG_MAX;
	fakes_alive++;
	return fc;
}

/* The client goes away (a TCP connection closing): freed now if nothing
 * holds it, else at the last release. */
static void fake_go_away(struct fake_client *fc)
{
	fc->gone = true;
	if (fc->holds == 0)
		fake_free(fc);
}

/* A client that stays to the end: nothing may hold it any more. */
static void fake_done(struct fake_client *fc)
{
	assert_int_equal(fc->holds, 0);
	fake_free(fc);
}

/* ---- queries and answers ----------------------------------------------- */

struct qopts {
	uint16_t id;
	bool edns, do_bit, cd;
	bool no_rd; /* RD=0: a non-recursive query */
};

static void ask(struct task_env *env, struct fake_client *fc, const char *name, uint16_t qtype,
		struct qopts o)
{
	struct msg m;
	msg_header(&m, o.id, (o.no_rd ? 0 : FLAG_RD) | (o.cd ? FLAG_CD : 0), 1, 0, 0,
		   o.edns ? 1 : 0);
	msg_question(&m, name, qtype, LDNS_RR_CLASS_IN);
	if (o.edns)
		msg_opt(&m, 1232, 0, 0, o.do_bit, NULL, 0);
	task_handle_query(env, m.b, m.len, &fc->client);
}

/* The i-th message sent to `fc`, parsed; caller frees. */
static ldns_pkt *sent_pkt(const struct fake_client *fc, unsigned i)
{
	assert_true(i < fc->sent && i < FAKE_KEEP);
	ldns_pkt *pkt = NULL;
	assert_int_equal(ldns_wire2pkt(&pkt, fc->msg[i], fc->len[i]), LDNS_STATUS_OK);
	return pkt;
}

/* The EDE info code of `pkt` (RFC 8914), or -1. */
static int pkt_ede(const ldns_pkt *pkt)
{
	const ldns_rdf *opts = ldns_pkt_edns_data(pkt);
	if (!opts)
		return -1;
	const uint8_t *p = ldns_rdf_data(opts);
	size_t n = ldns_rdf_size(opts);
	while (n >= 4) {
		uint16_t code = (uint16_t)(p[0] << 8 | p[1]), len = (uint16_t)(p[2] << 8 | p[3]);
		if (len + 4u > n)
			return -1;
		if (code == 15 && len >= 2)
			return p[4] << 8 | p[5];
		p += 4 + len;
		n -= 4 + len;
	}
	return -1;
}

/* The only A record of the answer section, as text. */
static void answer_a(const ldns_pkt *pkt, char *buf, size_t cap)
{
	const ldns_rr_list *an = ldns_pkt_answer(pkt);
	assert_int_equal(ldns_rr_list_rr_count(an), 1);
	ldns_rr *rr = ldns_rr_list_rr(an, 0);
	assert_int_equal(ldns_rr_get_type(rr), LDNS_RR_TYPE_A);
	char *s = ldns_rdf2str(ldns_rr_rdf(rr, 0));
	snprintf(buf, cap, "%s", s);
	free(s);
}

/* The question name as sent back, case kept. */
static void question_name(const ldns_pkt *pkt, char *buf, size_t cap)
{
	char *s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(pkt), 0)));
	snprintf(buf, cap, "%s", s);
	free(s);
}

static void assert_answer(const struct fake_client *fc, unsigned i, uint16_t id, const char *a,
			  int ede)
{
	ldns_pkt *pkt = sent_pkt(fc, i);
	char got[64];
	assert_int_equal(ldns_pkt_id(pkt), id);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	answer_a(pkt, got, sizeof(got));
	assert_string_equal(got, a);
	assert_int_equal(pkt_ede(pkt), ede);
	ldns_pkt_free(pkt);
}

/* ---- fixture ------------------------------------------------------------ */

struct fixture {
	uv_loop_t loop;
	struct daemon_ctx ctx;
	struct task_env env;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	struct daemon_ctx *ctx = &f->ctx;
	config_defaults(&ctx->cfg);
	ctx->cache = cache_create(NULL); /* defaults: data kept a day past expiry */
	assert_non_null(ctx->cache);
	ctx->root_hints = ldns_rr_list_new();
	ldns_rr_list_push_rr(ctx->root_hints, rr_new(". 3600000 IN NS k.root-servers.net."));
	ldns_rr_list_push_rr(ctx->root_hints, rr_new("k.root-servers.net. 3600000 IN A " ROOT));
	resolver_opts_init(&ctx->resolver_opts);
	ctx->resolver_opts.qname_minimisation = false;
	ctx->resolver_opts.do_ip6 = false;
	cache_policy_init(&ctx->resolver_opts.policy);
	ctx->resolver_opts.policy.serve_stale = true;
	ctx->env.cache = ctx->cache;
	ctx->env.opts = &ctx->resolver_opts;
	ctx->env.root_hints = ctx->root_hints;
	ctx->env.stats = &ctx->stats;
	ctx->resolution_timeout_ms = 12000;
	ctx->stale_client_timeout_ms = 1800;
	ctx->max_udp_size = 1232;
	/* Never dereferenced: upstream_query_start() is this file's. */
	task_env_init(&f->env, &f->loop, ctx, (struct upstream *)f);
	memset(&up, 0, sizeof(up));
	fakes_alive = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	task_env_stop(&f->env);
	assert_int_equal(f->env.ntasks, 0);
	assert_null(up.pending);
	/* Close callbacks of the stale timers, then the loop must be empty. */
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	assert_int_equal(fakes_alive, 0);
	cache_destroy(f->ctx.cache);
	ldns_rr_list_deep_free(f->ctx.root_hints);
	free(f);
	return 0;
}

/* Puts www.example.com A into the cache, expired `ago` seconds ago. */
static void cache_stale_www(struct fixture *f, uint32_t ago)
{
	ldns_rr_list *set = ldns_rr_list_new();
	ldns_rr_list_push_rr(set, rr_new("www.example.com. 300 IN A " WWW_STALE));
	assert_int_equal(cache_put_rrset(f->ctx.cache, set, CACHE_RANK_ANSWER_AUTH,
					 daemon_wallclock() - 300 - ago),
			 0);
	ldns_rr_list_deep_free(set);
}

static enum cache_status cached_www(struct fixture *f, char *a, size_t cap)
{
	ldns_rdf *name = ldns_dname_new_frm_str("www.example.com.");
	struct cache_result res;
	enum cache_status st =
		cache_lookup(f->ctx.cache, name, LDNS_RR_TYPE_A, daemon_wallclock(), &res);
	if (st != CACHE_MISS) {
		if (res.kind == CACHE_KIND_RRSET && ldns_rr_list_rr_count(res.rrs) == 1) {
			char *s = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(res.rrs, 0), 0));
			snprintf(a, cap, "%s", s);
			free(s);
		}
		cache_result_clear(&res);
	}
	ldns_rdf_deep_free(name);
	return st;
}

/* ---- a plain resolution ------------------------------------------------ */

static void test_resolves_and_answers(void **state)
{
	struct fixture *f = *state;
	struct fake_client *c = fake_new();

	ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 7});
	assert_int_equal(c->sent, 0);
	assert_int_equal(c->holds, 1); /* the task owes it an answer */
	assert_int_equal(f->env.ntasks, 1);
	drive(false);
	assert_int_equal(c->sent, 1);
	assert_answer(c, 0, 7, WWW_FRESH, -1);
	assert_int_equal(f->env.ntasks, 0);
	/* The next one comes from the answer cache: no task, no hold. */
	unsigned started = up.started;
	ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 8});
	assert_int_equal(c->sent, 2);
	assert_answer(c, 1, 8, WWW_FRESH, -1);
	assert_int_equal(up.started, started);
	assert_int_equal(c->max_holds, 1);
	fake_done(c);
}

static void test_error_answers_hold_nothing(void **state)
{
	struct fixture *f = *state;
	struct fake_client *c = fake_new();
	uint8_t junk[5] = {0x12, 0x34, 0x01, 0x00, 0x00}; /* shorter than a header: dropped */

	task_handle_query(&f->env, junk, sizeof(junk), &c->client);
	assert_int_equal(c->sent, 0);
	ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_AXFR, (struct qopts){.id = 3});
	assert_int_equal(c->sent, 1);
	ldns_pkt *pkt = sent_pkt(c, 0);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_REFUSED);
	ldns_pkt_free(pkt);
	assert_int_equal(c->max_holds, 0);
	assert_int_equal(up.started, 0);
	fake_done(c);
}

/* Sets the action of the default access-control entry for 127.0.0.0/8. */
static void acl_localhost(struct fixture *f, enum config_acl_action action)
{
	struct sockaddr_in *net = (struct sockaddr_in *)&f->ctx.cfg.acl[0].net;
	assert_int_equal(net->sin_family, AF_INET);
	assert_int_equal(f->ctx.cfg.acl[0].prefix, 8);
	f->ctx.cfg.acl[0].action = action;
}

/* Cache snooping: under `allow`, an RD=0 query is REFUSED before anything
 * is looked up, on the resolver path and on the answer-cache fast path. */
static void test_nonrecursive_refused_under_allow(void **state)
{
	struct fixture *f = *state;
	struct fake_client *c = fake_new();

	ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 1, .no_rd = true});
	assert_int_equal(c->sent, 1);
	ldns_pkt *pkt = sent_pkt(c, 0);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_REFUSED);
	assert_int_equal(ldns_pkt_ancount(pkt), 0);
	ldns_pkt_free(pkt);
	assert_int_equal(up.started, 0);

	/* Cached now (and in the fast path): RD=0 still learns nothing. */
	ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 2});
	drive(false);
	assert_answer(c, 1, 2, WWW_FRESH, -1);
	ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 3, .no_rd = true});
	assert_int_equal(c->sent, 3);
	pkt = sent_pkt(c, 2);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_REFUSED);
	assert_int_equal(ldns_pkt_ancount(pkt), 0);
	ldns_pkt_free(pkt);
	assert_int_equal(atomic_load(&f->ctx.stats.refused_nonrecursive), 2);
	fake_done(c);
}

/* allow_snoop answers RD=0 (RD=0 echoed); allow_setrd answers it as a
 * recursive query (RD=1 in the answer). */
static void test_nonrecursive_allow_snoop_and_setrd(void **state)
{
	struct fixture *f = *state;
	struct fake_client *c = fake_new();

	acl_localhost(f, CONFIG_ACL_ALLOW_SNOOP);
	ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 4, .no_rd = true});
	drive(false);
	assert_int_equal(c->sent, 1);
	assert_answer(c, 0, 4, WWW_FRESH, -1);
	ldns_pkt *pkt = sent_pkt(c, 0);
	assert_false(ldns_pkt_rd(pkt));
	ldns_pkt_free(pkt);

	acl_localhost(f, CONFIG_ACL_ALLOW_SETRD);
	ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 5, .no_rd = true});
	assert_int_equal(c->sent, 2);
	assert_answer(c, 1, 5, WWW_FRESH, -1);
	pkt = sent_pkt(c, 1);
	assert_true(ldns_pkt_rd(pkt));
	ldns_pkt_free(pkt);
	assert_int_equal(atomic_load(&f->ctx.stats.refused_nonrecursive), 0);
	fake_done(c);
}

/* ---- coalescing ---------------------------------------------------------- */

static void test_identical_questions_join(void **state)
{
	struct fixture *f = *state;
	struct fake_client *a = fake_new(), *b = fake_new();

	ask(&f->env, a, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 1});
	unsigned started = up.started;
	assert_int_equal(pending_count(), 1);
	/* Same question in other letters (RFC 4343): joins, no new attempt. */
	ask(&f->env, b, "WwW.ExAmPlE.cOm", LDNS_RR_TYPE_A, (struct qopts){.id = 2});
	assert_int_equal(f->env.ntasks, 1);
	assert_int_equal(up.started, started);
	assert_int_equal(b->holds, 1);
	drive(false);
	assert_int_equal(a->sent, 1);
	assert_int_equal(b->sent, 1);
	assert_answer(a, 0, 1, WWW_FRESH, -1);
	assert_answer(b, 0, 2, WWW_FRESH, -1);
	/* Each in its own letter case. */
	char qn[64];
	ldns_pkt *pkt = sent_pkt(b, 0);
	question_name(pkt, qn, sizeof(qn));
	assert_string_equal(qn, "WwW.ExAmPlE.cOm.");
	ldns_pkt_free(pkt);
	pkt = sent_pkt(a, 0);
	question_name(pkt, qn, sizeof(qn));
	assert_string_equal(qn, "www.example.com.");
	ldns_pkt_free(pkt);
	fake_done(a);
	fake_done(b);
}

static void test_different_questions_do_not_join(void **state)
{
	struct fixture *f = *state;
	struct fake_client *c = fake_new();

	ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 1, .edns = true});
	assert_int_equal(f->env.ntasks, 1);
	/* DO, CD and QTYPE change the answer: each is its own resolution. */
	ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_A,
	    (struct qopts){.id = 2, .edns = true, .do_bit = true});
	assert_int_equal(f->env.ntasks, 2);
	ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_A,
	    (struct qopts){.id = 3, .edns = true, .cd = true});
	assert_int_equal(f->env.ntasks, 3);
	ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_AAAA, (struct qopts){.id = 4});
	assert_int_equal(f->env.ntasks, 4);
	ask(&f->env, c, "www2.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 5});
	assert_int_equal(f->env.ntasks, 5);
	/* EDNS itself (without DO) does not: it only shapes the answer. */
	ask(&f->env, c, "WWW.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 6});
	assert_int_equal(f->env.ntasks, 5);
	assert_int_equal(c->holds, 6);
	drive(false);
	assert_int_equal(c->sent, 6);
	assert_int_equal(f->env.ntasks, 0);
	fake_done(c);
}

static void test_waiter_cap(void **state)
{
	struct fixture *f = *state;
	struct fake_client *c = fake_new();

	ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 0});
	for (unsigned i = 1; i <= COALESCE_MAX_WAITERS; i++)
		ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_A,
		    (struct qopts){.id = (uint16_t)i});
	assert_int_equal(f->env.ntasks, 1);
	assert_int_equal(c->holds, 1 + COALESCE_MAX_WAITERS);
	/* The leader is full: the next one resolves on its own ... */
	ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 999});
	assert_int_equal(f->env.ntasks, 2);
	/* ... and, the newest in its bucket, is the one later questions join. */
	ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 1000});
	assert_int_equal(f->env.ntasks, 2);
	assert_int_equal(c->holds, 3 + COALESCE_MAX_WAITERS);
	drive(false);
	assert_int_equal(c->sent, 3 + COALESCE_MAX_WAITERS);
	assert_int_equal(f->env.ntasks, 0);
	fake_done(c);
}

/* ---- serve-stale: the client timer -------------------------------------- */

static void test_stale_after_client_timeout(void **state)
{
	struct fixture *f = *state;
	struct fake_client *a = fake_new(), *b = fake_new(), *late = fake_new();

	cache_stale_www(f, 600);
	f->ctx.stale_client_timeout_ms = 20;
	ask(&f->env, a, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 1, .edns = true});
	ask(&f->env, b, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 2, .edns = true});
	assert_int_equal(a->sent + b->sent, 0);
	assert_int_equal(pending_count(), 1);
	/* The authorities are slow: the timer answers from stale data. */
	uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(a->sent, 1);
	assert_int_equal(b->sent, 1);
	assert_answer(a, 0, 1, WWW_STALE, EDE_STALE);
	assert_answer(b, 0, 2, WWW_STALE, EDE_STALE);
	assert_int_equal(b->holds, 0); /* the waiter is done */
	assert_int_equal(a->holds, 1); /* the resolution still runs */
	assert_int_equal(pending_count(), 1);
	assert_int_equal(f->ctx.stats.stale_answers, 1);
	/* Asked again meanwhile: stale data at once, no second resolution. */
	ask(&f->env, late, "www.example.com", LDNS_RR_TYPE_A,
	    (struct qopts){.id = 3, .edns = true});
	assert_int_equal(late->sent, 1);
	assert_answer(late, 0, 3, WWW_STALE, EDE_STALE);
	assert_int_equal(f->env.ntasks, 1);
	/* The refresh ends: the cache is fresh, nobody is answered twice. */
	drive(false);
	assert_int_equal(a->sent, 1);
	assert_int_equal(b->sent, 1);
	char got[64] = "";
	assert_int_equal(cached_www(f, got, sizeof(got)), CACHE_FRESH);
	assert_string_equal(got, WWW_FRESH);
	fake_done(a);
	fake_done(b);
	fake_done(late);
}

static void test_stale_at_once_when_timeout_is_zero(void **state)
{
	struct fixture *f = *state;
	struct fake_client *c = fake_new();

	cache_stale_www(f, 600);
	f->ctx.stale_client_timeout_ms = 0;
	ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 9, .edns = true});
	assert_int_equal(c->sent, 1);
	assert_answer(c, 0, 9, WWW_STALE, EDE_STALE);
	assert_int_equal(pending_count(), 1); /* the refresh goes on */
	drive(false);
	assert_int_equal(c->sent, 1);
	char got[64] = "";
	assert_int_equal(cached_www(f, got, sizeof(got)), CACHE_FRESH);
	assert_string_equal(got, WWW_FRESH);
	fake_done(c);
}

static void test_no_stale_data_no_timer(void **state)
{
	struct fixture *f = *state;
	struct fake_client *c = fake_new();

	f->ctx.stale_client_timeout_ms = 0;
	ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 9});
	assert_int_equal(c->sent, 0);
	/* Nothing is armed: the loop has no timer to run. */
	assert_int_equal(uv_run(&f->loop, UV_RUN_NOWAIT), 0);
	drive(false);
	assert_int_equal(c->sent, 1);
	assert_answer(c, 0, 9, WWW_FRESH, -1);
	fake_done(c);
}

/* ---- early answers -------------------------------------------------------- */

static void test_cached_failure_answers_at_once(void **state)
{
	struct fixture *f = *state;
	struct fake_client *first = fake_new(), *second = fake_new();

	/* Every authority is silent: the first client waits for the failure. */
	ask(&f->env, first, "www.example.com", LDNS_RR_TYPE_A,
	    (struct qopts){.id = 1, .edns = true});
	drive(true);
	assert_int_equal(first->sent, 1);
	ldns_pkt *pkt = sent_pkt(first, 0);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(pkt);
	/* RFC 9520: the failure is cached; the next client is answered
	 * before anything is asked upstream. */
	unsigned started = up.started;
	ask(&f->env, second, "www.example.com", LDNS_RR_TYPE_A,
	    (struct qopts){.id = 2, .edns = true});
	assert_int_equal(second->sent, 1);
	pkt = sent_pkt(second, 0);
	assert_int_equal(ldns_pkt_id(pkt), 2);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_SERVFAIL);
	assert_int_equal(pkt_ede(pkt), EDE_NO_REACHABLE);
	ldns_pkt_free(pkt);
	/* Whatever goes on behind it is a breaker probe only, and ends
	 * without a second answer. */
	for (struct upstream_query *q = up.pending; q; q = q->next)
		assert_true(q->probe_only);
	assert_true(up.started - started <= 1);
	drive(true);
	assert_int_equal(second->sent, 1);
	assert_int_equal(f->env.ntasks, 0);
	fake_done(first);
	fake_done(second);
}

/* ---- clients that go away ------------------------------------------------ */

static void test_client_gone_before_answer(void **state)
{
	struct fixture *f = *state;
	struct fake_client *gone = fake_new();

	ask(&f->env, gone, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 1});
	assert_int_equal(gone->holds, 1);
	unsigned cancelled = up.cancelled;
	fake_go_away(gone); /* still held by the task: not freed yet */
	assert_int_equal(fakes_alive, 1);
	/* The resolution is not cancelled: it finishes and fills the cache. */
	drive(false);
	assert_int_equal(up.cancelled, cancelled);
	assert_int_equal(f->env.ntasks, 0);
	assert_int_equal(fakes_alive, 0); /* freed at the task's release */
	char got[64] = "";
	assert_int_equal(cached_www(f, got, sizeof(got)), CACHE_FRESH);
	assert_string_equal(got, WWW_FRESH);
}

static void test_waiter_gone_leader_answered(void **state)
{
	struct fixture *f = *state;
	struct fake_client *leader = fake_new(), *gone = fake_new(), *stays = fake_new();

	ask(&f->env, leader, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 1});
	ask(&f->env, gone, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 2});
	ask(&f->env, stays, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 3});
	fake_go_away(gone);
	drive(false);
	assert_int_equal(leader->sent, 1);
	assert_int_equal(stays->sent, 1);
	assert_answer(leader, 0, 1, WWW_FRESH, -1);
	assert_answer(stays, 0, 3, WWW_FRESH, -1);
	assert_int_equal(fakes_alive, 2);
	fake_done(leader);
	fake_done(stays);
}

static void test_leader_gone_waiters_answered(void **state)
{
	struct fixture *f = *state;
	struct fake_client *gone = fake_new(), *waiter = fake_new(), *later = fake_new();

	ask(&f->env, gone, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 1});
	ask(&f->env, waiter, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 2});
	fake_go_away(gone);
	/* The resolution goes on for its waiters, and can still be joined. */
	ask(&f->env, later, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 3});
	assert_int_equal(f->env.ntasks, 1);
	drive(false);
	assert_answer(waiter, 0, 2, WWW_FRESH, -1);
	assert_answer(later, 0, 3, WWW_FRESH, -1);
	assert_int_equal(fakes_alive, 2);
	fake_done(waiter);
	fake_done(later);
}

static void test_stop_releases_every_client(void **state)
{
	struct fixture *f = *state;
	struct fake_client *a = fake_new(), *b = fake_new(), *gone = fake_new();

	cache_stale_www(f, 600);
	f->ctx.stale_client_timeout_ms = 5000; /* armed, never fires */
	ask(&f->env, a, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 1});
	ask(&f->env, b, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 2});
	ask(&f->env, gone, "other.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 3});
	fake_go_away(gone);
	unsigned pending = pending_count();
	assert_int_equal(pending, 2);
	/* Shutdown: tasks end unanswered, their attempts are cancelled, every
	 * hold is released (the gone client is freed by it). */
	task_env_stop(&f->env);
	assert_int_equal(up.cancelled, pending);
	assert_int_equal(a->sent + b->sent, 0);
	assert_int_equal(fakes_alive, 2);
	/* No new resolution after stop. */
	ask(&f->env, a, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 4});
	assert_int_equal(f->env.ntasks, 0);
	assert_int_equal(up.started, pending);
	fake_done(a);
	fake_done(b);
}

/* ---- hold and release ---------------------------------------------------- */

static void test_hold_counts_answers_owed(void **state)
{
	struct fixture *f = *state;
	struct fake_client *c = fake_new();

	/* One connection, pipelined: every query in flight is one hold,
	 * leader or waiter alike; each answer releases one. */
	for (uint16_t i = 0; i < 5; i++)
		ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = i});
	ask(&f->env, c, "www.example.com", LDNS_RR_TYPE_AAAA, (struct qopts){.id = 5});
	assert_int_equal(c->holds, 6);
	assert_int_equal(f->env.ntasks, 2);
	while (up.pending) {
		respond(oldest_pending());
		/* A hold lasts exactly until the answer it stands for is sent. */
		assert_int_equal(c->holds, 6 - c->sent);
	}
	assert_int_equal(c->sent, 6);
	assert_int_equal(c->holds, 0);
	fake_done(c);
}

/* ---- num-queries-per-thread (issue 12) ----------------------------------- */

/* A shed or jostled client's answer: SERVFAIL in its own ID, with EDE 0
 * and TASK_SHED_TEXT when it asked with EDNS, no OPT when it did not. */
static void assert_shed(const struct fake_client *fc, unsigned i, uint16_t id, bool edns)
{
	ldns_pkt *pkt = sent_pkt(fc, i);
	assert_int_equal(ldns_pkt_id(pkt), id);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_SERVFAIL);
	assert_int_equal(ldns_pkt_qdcount(pkt), 1);
	if (edns) {
		assert_int_equal(pkt_ede(pkt), 0);
		const ldns_rdf *opts = ldns_pkt_edns_data(pkt);
		size_t n = strlen(TASK_SHED_TEXT);
		/* the one option: code 15, length, INFO-CODE, EXTRA-TEXT */
		assert_int_equal(ldns_rdf_size(opts), 4 + 2 + n);
		assert_memory_equal(ldns_rdf_data(opts) + 6, TASK_SHED_TEXT, n);
	} else {
		assert_false(ldns_pkt_edns(pkt));
	}
	ldns_pkt_free(pkt);
}

/* At the cap a new query is shed while the oldest resolution is young:
 * answered SERVFAIL + EDE 0 at once, holding nothing; once the oldest has
 * waited more than jostle-timeout it is jostled out: its attempt
 * cancelled, its client and its waiter answered SERVFAIL + EDE 0. Before
 * (issue 12): both were dropped without an answer and their clients left
 * to time out. */
static void test_queries_per_thread_sheds_then_jostles(void **state)
{
	struct fixture *f = *state;
	struct fake_client *a = fake_new(), *a2 = fake_new(), *b = fake_new(), *c = fake_new(),
			   *d = fake_new();

	f->ctx.cfg.queries_per_thread = 2;
	f->ctx.cfg.jostle_timeout_ms = 50;
	ask(&f->env, a, "a.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 1, .edns = true});
	ask(&f->env, a2, "a.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 11, .edns = true});
	ask(&f->env, b, "b.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 2});
	assert_int_equal(f->env.ntasks, 2);
	/* Full, and the oldest is young: the newest is shed, with EDNS ... */
	ask(&f->env, c, "c.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 3, .edns = true});
	assert_int_equal(f->env.ntasks, 2);
	assert_int_equal(c->sent, 1);
	assert_int_equal(c->holds, 0);
	assert_shed(c, 0, 3, true);
	/* ... and without: plain SERVFAIL. */
	ask(&f->env, d, "d.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 5});
	assert_int_equal(d->sent, 1);
	assert_int_equal(d->holds, 0);
	assert_shed(d, 0, 5, false);
	assert_int_equal(f->ctx.stats.tasks_dropped, 2);
	assert_int_equal(up.cancelled, 0);
	/* The oldest has waited past jostle-timeout: it makes room, and its
	 * client and waiter are told. */
	usleep(60 * 1000);
	uv_update_time(&f->loop);
	ask(&f->env, c, "c.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 4, .edns = true});
	assert_int_equal(f->env.ntasks, 2);
	assert_int_equal(f->ctx.stats.tasks_jostled, 1);
	assert_int_equal(up.cancelled, 1);
	assert_int_equal(a->sent, 1);
	assert_int_equal(a->holds, 0);
	assert_shed(a, 0, 1, true);
	assert_int_equal(a2->sent, 1);
	assert_int_equal(a2->holds, 0);
	assert_shed(a2, 0, 11, true);
	assert_int_equal(c->holds, 1);
	drive(false);
	assert_int_equal(a->sent, 1);
	assert_int_equal(b->sent, 1);
	assert_int_equal(c->sent, 2);
	fake_done(a);
	fake_done(a2);
	fake_done(b);
	fake_done(c);
	fake_done(d);
}

/* A jostled resolution whose question has stale data in the cache answers
 * its client from it (RFC 8767, EDE 3) rather than SERVFAIL: the client
 * timer had not fired yet. Before: the client got nothing. */
static void test_jostled_answers_stale_data(void **state)
{
	struct fixture *f = *state;
	struct fake_client *a = fake_new(), *b = fake_new();

	cache_stale_www(f, 600);
	f->ctx.cfg.queries_per_thread = 1;
	f->ctx.cfg.jostle_timeout_ms = 50;
	ask(&f->env, a, "www.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 1, .edns = true});
	assert_int_equal(a->sent, 0);
	usleep(60 * 1000);
	uv_update_time(&f->loop);
	ask(&f->env, b, "b.example.com", LDNS_RR_TYPE_A, (struct qopts){.id = 2, .edns = true});
	assert_int_equal(f->ctx.stats.tasks_jostled, 1);
	assert_int_equal(a->sent, 1);
	assert_int_equal(a->holds, 0);
	assert_answer(a, 0, 1, WWW_STALE, EDE_STALE);
	drive(false);
	assert_int_equal(b->sent, 1);
	fake_done(a);
	fake_done(b);
}

int main(void)
{
	log_set_verbosity(getenv("HOLDFAST_TEST_DEBUG") ? 4 : 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_resolves_and_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_answers_hold_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nonrecursive_refused_under_allow, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_nonrecursive_allow_snoop_and_setrd, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_identical_questions_join, setup, teardown),
		cmocka_unit_test_setup_teardown(test_different_questions_do_not_join, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_waiter_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_after_client_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_at_once_when_timeout_is_zero, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_stale_data_no_timer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cached_failure_answers_at_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_client_gone_before_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_waiter_gone_leader_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leader_gone_waiters_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_releases_every_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_counts_answers_owed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queries_per_thread_sheds_then_jostles, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_jostled_answers_stale_data, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
