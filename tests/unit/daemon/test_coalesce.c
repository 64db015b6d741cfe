/*
 * Unit tests for daemon/coalesce.c: which questions are the same, the keyed
 * hash, the table's find/add/remove, and the waiter cap with its holds.
 * Questions come from dns_read_query() over messages built byte by byte,
 * so the key sees exactly what a client sent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/coalesce.h"
#include "tests/unit/dns/msg_builder.h"

struct qopts {
	bool edns, do_bit, cd;
	uint16_t qclass;
};

static struct dns_query_view query(const char *name, uint16_t qtype, struct qopts o)
{
	struct msg m;
	struct dns_query_view q;
	msg_header(&m, 0x1234, 0x0100 | (o.cd ? 0x0010 : 0), 1, 0, 0, o.edns ? 1 : 0);
	msg_question(&m, name, qtype, o.qclass ? o.qclass : 1);
	if (o.edns)
		msg_opt(&m, 1232, 0, 0, o.do_bit, NULL, 0);
	assert_int_equal(dns_read_query(m.b, m.len, &q), DNS_READ_OK);
	return q;
}

static bool same(const struct coalesce_table *t, struct dns_query_view a, struct dns_query_view b)
{
	struct coalesce_key ka, kb;
	coalesce_key_build(t, &a, &ka);
	coalesce_key_build(t, &b, &kb);
	bool eq = ka.len == kb.len && memcmp(ka.b, kb.b, ka.len) == 0;
	/* Equal keys hash equally; the table relies on it. */
	if (eq)
		assert_true(ka.hash == kb.hash);
	return eq;
}

static void test_key_rules(void **state)
{
	(void)state;
	struct coalesce_table t;
	coalesce_table_init(&t);
	struct dns_query_view base = query("www.example.com", 1, (struct qopts){.edns = true});

	/* RFC 4343: letter case does not make another question. */
	assert_true(same(&t, base, query("WWW.Example.COM", 1, (struct qopts){.edns = true})));
	/* EDNS without DO only shapes the answer. */
	assert_true(same(&t, base, query("www.example.com", 1, (struct qopts){0})));
	/* DO, CD, QTYPE, QCLASS and the name itself do. */
	assert_false(
		same(&t, base,
		     query("www.example.com", 1, (struct qopts){.edns = true, .do_bit = true})));
	assert_false(same(&t, base, query("www.example.com", 1, (struct qopts){.cd = true})));
	assert_false(same(&t, base, query("www.example.com", 28, (struct qopts){0})));
	assert_false(same(&t, base, query("www.example.com", 1, (struct qopts){.qclass = 3})));
	assert_false(same(&t, base, query("www.example.org", 1, (struct qopts){0})));
	assert_false(same(&t, base, query("ww.wexample.com", 1, (struct qopts){0})));
	coalesce_table_deinit(&t);
}

static void test_hash_is_keyed(void **state)
{
	(void)state;
	/* Two tables (two workers) draw their own keys: the same name hashes
	 * differently, so nobody can precompute names for one bucket. */
	struct coalesce_table a, b;
	coalesce_table_init(&a);
	coalesce_table_init(&b);
	assert_true(a.hash_key.k0 != b.hash_key.k0 || a.hash_key.k1 != b.hash_key.k1);
	struct dns_query_view q = query("www.example.com", 1, (struct qopts){0});
	struct coalesce_key ka, kb;
	coalesce_key_build(&a, &q, &ka);
	coalesce_key_build(&b, &q, &kb);
	assert_true(ka.hash != kb.hash);
	/* ... and it is the keyed SipHash of the key bytes. */
	assert_true(ka.hash == util_siphash(&a.hash_key, ka.b, ka.len));
	coalesce_table_deinit(&a);
	coalesce_table_deinit(&b);
}

static void test_find_add_remove(void **state)
{
	(void)state;
	struct coalesce_table t;
	coalesce_table_init(&t);
	struct coalesce_entry e1 = {0}, e2 = {0};
	struct dns_query_view q1 = query("a.example", 1, (struct qopts){0});
	struct dns_query_view q2 = query("b.example", 1, (struct qopts){0});
	coalesce_key_build(&t, &q1, &e1.key);
	coalesce_key_build(&t, &q2, &e2.key);

	assert_null(coalesce_find(&t, &e1.key)); /* no buckets yet */
	assert_null(t.buckets);
	assert_int_equal(coalesce_add(&t, &e1), 0);
	assert_int_equal(coalesce_add(&t, &e2), 0);
	assert_ptr_equal(coalesce_find(&t, &e1.key), &e1);
	assert_ptr_equal(coalesce_find(&t, &e2.key), &e2);
	coalesce_remove(&t, &e1);
	assert_false(e1.registered);
	assert_null(coalesce_find(&t, &e1.key));
	assert_ptr_equal(coalesce_find(&t, &e2.key), &e2);
	coalesce_remove(&t, &e1); /* not registered: nothing happens */
	coalesce_remove(&t, &e2);
	assert_null(coalesce_find(&t, &e2.key));
	coalesce_table_deinit(&t);
}

/* A client that only counts holds. */
static unsigned holds;

static void count_send(const struct client *c, const uint8_t *msg, size_t len)
{
	fail_msg("coalesce.c never sends");
}

static uint16_t count_size(const struct client *c, const struct dns_query_view *q)
{
	return 512;
}

static void count_hold(const struct client *c)
{
	holds++;
}

static void count_release(const struct client *c)
{
	assert_true(holds > 0);
	holds--;
}

static const struct client_ops count_ops = {
	.send = count_send,
	.size_limit = count_size,
	.hold = count_hold,
	.release = count_release,
};

static void test_waiter_cap_and_holds(void **state)
{
	(void)state;
	struct coalesce_entry e = {0};
	struct client c = {.ops = &count_ops};
	struct dns_query_view q = query("www.example.com", 1, (struct qopts){0});

	holds = 0;
	for (unsigned i = 0; i < COALESCE_MAX_WAITERS; i++)
		assert_int_equal(coalesce_join(&e, &c, &q), 0);
	assert_int_equal(e.nwaiters, COALESCE_MAX_WAITERS);
	assert_int_equal(holds, COALESCE_MAX_WAITERS);
	assert_int_equal(coalesce_join(&e, &c, &q), -ENOSPC);
	assert_int_equal(holds, COALESCE_MAX_WAITERS); /* a refused join holds nothing */

	struct coalesce_waiter *w = coalesce_take_waiters(&e);
	assert_null(e.waiters);
	assert_int_equal(e.nwaiters, 0);
	unsigned n = 0;
	while (w) {
		struct coalesce_waiter *next = w->next;
		assert_int_equal(w->q.id, 0x1234);
		coalesce_waiter_free(w);
		n++;
		w = next;
	}
	assert_int_equal(n, COALESCE_MAX_WAITERS);
	assert_int_equal(holds, 0);
	coalesce_waiter_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_rules),
		cmocka_unit_test(test_hash_is_keyed),
		cmocka_unit_test(test_find_add_remove),
		cmocka_unit_test(test_waiter_cap_and_holds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
