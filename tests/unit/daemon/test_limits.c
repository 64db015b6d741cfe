/*
 * Unit tests for daemon/limits.c: the descriptors a configuration needs,
 * the fit into a lower limit (outgoing-range and incoming-num-tcp scaled
 * down in proportion, never below their minimums, refused below those),
 * and daemon_limits_apply() on this process's own RLIMIT_NOFILE: afterwards
 * the configuration always fits the soft limit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <sys/resource.h>
#include <cmocka.h>

#include "daemon/limits.h"

static struct daemon_limits default_config(unsigned threads)
{
	/* Two listen addresses, incoming-num-tcp 256, outgoing-range 4096. */
	return (struct daemon_limits){
		.threads = threads, .listen = 2, .incoming_tcp = 256, .outgoing_range = 4096};
}

static void test_need_counts_every_worker(void **state)
{
	struct daemon_limits l = default_config(4);
	uint64_t per_worker = 2 * 2 + 256 + 4096 + DAEMON_LIMITS_WORKER_FIXED;
	assert_int_equal(daemon_limits_need(&l), DAEMON_LIMITS_PROCESS_FIXED + 4 * per_worker);
	l.threads = 1;
	assert_int_equal(daemon_limits_need(&l), DAEMON_LIMITS_PROCESS_FIXED + per_worker);
}

static void test_fit_leaves_a_configuration_that_fits(void **state)
{
	struct daemon_limits l = default_config(2);
	uint64_t need = daemon_limits_need(&l);
	assert_int_equal(daemon_limits_fit(&l, need), 0);
	assert_int_equal(l.outgoing_range, 4096);
	assert_int_equal(l.incoming_tcp, 256);
	assert_int_equal(daemon_limits_fit(&l, UINT64_MAX), 0);
}

/* A hard limit of 1024 (a common default) with 2 threads: scaled down to
 * fit, the two in the configured proportion, both above their minimums. */
static void test_fit_scales_down_in_proportion(void **state)
{
	struct daemon_limits l = default_config(2);
	assert_int_equal(daemon_limits_fit(&l, 1024), 1);
	assert_true(daemon_limits_need(&l) <= 1024);
	assert_int_equal(l.threads, 2);
	assert_int_equal(l.listen, 2);
	assert_true(l.outgoing_range >= DAEMON_LIMITS_MIN_OUTGOING);
	assert_true(l.incoming_tcp >= DAEMON_LIMITS_MIN_INCOMING_TCP);
	assert_true(l.outgoing_range < 4096 && l.incoming_tcp < 256);
	/* 4096 : 256 is 16 : 1; rounding aside it stays so. */
	assert_true(l.outgoing_range >= 15 * l.incoming_tcp);
	assert_true(l.outgoing_range <= 17 * l.incoming_tcp + 16);
	/* Little room is wasted: one more descriptor per worker would not
	 * have fitted. */
	assert_true(daemon_limits_need(&l) + 2 > 1024);
}

/* Exactly the minimums fit: scaled to them. One fewer: refused, unchanged. */
static void test_fit_refuses_below_the_minimums(void **state)
{
	struct daemon_limits min = default_config(3);
	min.outgoing_range = DAEMON_LIMITS_MIN_OUTGOING;
	min.incoming_tcp = DAEMON_LIMITS_MIN_INCOMING_TCP;
	uint64_t floor = daemon_limits_need(&min);

	struct daemon_limits l = default_config(3);
	assert_int_equal(daemon_limits_fit(&l, floor), 1);
	assert_int_equal(l.outgoing_range, DAEMON_LIMITS_MIN_OUTGOING);
	assert_int_equal(l.incoming_tcp, DAEMON_LIMITS_MIN_INCOMING_TCP);

	l = default_config(3);
	assert_int_equal(daemon_limits_fit(&l, floor - 1), -EMFILE);
	assert_int_equal(l.outgoing_range, 4096);
	assert_int_equal(l.incoming_tcp, 256);
	assert_int_equal(daemon_limits_fit(&l, 10), -EMFILE);
}

/* A value configured below its minimum is kept, never raised; the other one
 * takes the room. */
static void test_fit_never_raises_a_value(void **state)
{
	struct daemon_limits l = {
		.threads = 1, .listen = 1, .incoming_tcp = 2, .outgoing_range = 5000};
	assert_int_equal(daemon_limits_fit(&l, 300), 1);
	assert_int_equal(l.incoming_tcp, 2);
	assert_true(l.outgoing_range > DAEMON_LIMITS_MIN_OUTGOING);
	assert_true(daemon_limits_need(&l) <= 300);

	l = (struct daemon_limits){
		.threads = 1, .listen = 1, .incoming_tcp = 5000, .outgoing_range = 8};
	assert_int_equal(daemon_limits_fit(&l, 300), 1);
	assert_int_equal(l.outgoing_range, 8);
	assert_true(daemon_limits_need(&l) <= 300);
}

/* On this process: whatever the hard limit allows (raised as root with
 * CAP_SYS_RESOURCE, or kept), afterwards the configuration fits the soft
 * limit. The hard limit is lowered last: it cannot be raised back without
 * privilege. */
static void test_apply_fits_the_soft_limit(void **state)
{
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	/* A soft limit below what a small configuration needs: raised. */
	struct daemon_limits l = {
		.threads = 1, .listen = 1, .incoming_tcp = 32, .outgoing_range = 64};
	uint64_t need = daemon_limits_need(&l);
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) {
		struct rlimit low = {.rlim_cur = 64, .rlim_max = rl.rlim_max};
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
		assert_int_equal(daemon_limits_apply(&l), 0);
		assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
		assert_int_equal(rl.rlim_cur, need);
		assert_int_equal(l.outgoing_range, 64); /* unchanged: it fits */
	}
	/* A hard limit below the need: raised (privileged) or scaled. */
	struct rlimit hard = {.rlim_cur = 128, .rlim_max = 128};
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &hard), 0);
	l = (struct daemon_limits){
		.threads = 1, .listen = 1, .incoming_tcp = 256, .outgoing_range = 4096};
	assert_int_equal(daemon_limits_apply(&l), 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_true(daemon_limits_need(&l) <= rl.rlim_cur);
	/* Far too many threads for the limit: refused. */
	struct rlimit tiny = {.rlim_cur = 100, .rlim_max = 100};
	if (setrlimit(RLIMIT_NOFILE, &tiny) == 0) {
		l = default_config(64);
		int r = daemon_limits_apply(&l);
		assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
		if (rl.rlim_cur < daemon_limits_need(&l))
			assert_int_equal(r, -EMFILE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_need_counts_every_worker),
		cmocka_unit_test(test_fit_leaves_a_configuration_that_fits),
		cmocka_unit_test(test_fit_scales_down_in_proportion),
		cmocka_unit_test(test_fit_refuses_below_the_minimums),
		cmocka_unit_test(test_fit_never_raises_a_value),
		cmocka_unit_test(test_apply_fits_the_soft_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
