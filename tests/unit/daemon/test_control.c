/*
 * Unit tests for daemon/control.c: the command reader (control_parse_line),
 * the answers (control_respond), the socket's limits (a client cap, a
 * timeout per client, a bounded line), and the RCU rule of the one cache
 * walk: `flush` run on an offline main thread, as main.c's is, while worker
 * threads store, look up and report quiescent states. Before the fix the
 * flush walked the tables offline and read entries call_rcu() had freed
 * (ThreadSanitizer: a race with free; ASan: heap-use-after-free).
 *
 * The limits are driven over a real unix socket on a real uv loop; the
 * client side is plain non-blocking sockets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/context.h"
#include "daemon/control.h"
#include "cache/cache.h"

#define T0 1000000u

static struct daemon_ctx ctx;

static int ctx_setup(void **state)
{
	cache_thread_register();
	memset(&ctx, 0, sizeof(ctx));
	ctx.cache = cache_create(NULL);
	ctx.servers = upstream_servers_create();
	assert_non_null(ctx.cache);
	assert_non_null(ctx.servers);
	/* As main.c: registered, offline while the loop waits. */
	cache_thread_offline();
	return 0;
}

static int ctx_teardown(void **state)
{
	cache_thread_online();
	cache_destroy(ctx.cache);
	upstream_servers_destroy(ctx.servers);
	cache_thread_unregister();
	return 0;
}

/* ---- the reader --------------------------------------------------------- */

static int parse(const char *s, size_t len, struct control_line *line)
{
	memset(line, 0x55, sizeof(*line));
	return control_parse_line(s, len, line);
}

static void test_parse_commands(void **state)
{
	struct control_line line;

	assert_int_equal(parse("stats\n", 6, &line), 1);
	assert_int_equal(line.cmd, CONTROL_CMD_STATS);
	assert_int_equal(line.consumed, 6);
	assert_string_equal(line.word, "stats");
	assert_int_equal(parse("upstream\r\n", 10, &line), 1);
	assert_int_equal(line.cmd, CONTROL_CMD_UPSTREAM);
	assert_int_equal(parse("flush  \r\n", 9, &line), 1);
	assert_int_equal(line.cmd, CONTROL_CMD_FLUSH);
	assert_string_equal(line.word, "flush");
	/* Only the first line counts. */
	assert_int_equal(parse("help\nflush\n", 11, &line), 1);
	assert_int_equal(line.cmd, CONTROL_CMD_HELP);
	assert_int_equal(line.consumed, 5);
	/* Not yet a line. */
	assert_int_equal(parse("stats", 5, &line), 0);
	assert_int_equal(parse("", 0, &line), 0);
	/* Unknown ones, echoed safely. */
	assert_int_equal(parse("\n", 1, &line), 1);
	assert_int_equal(line.cmd, CONTROL_CMD_UNKNOWN);
	assert_string_equal(line.word, "");
	assert_int_equal(parse("fl\0sh\n", 6, &line), 1);
	assert_int_equal(line.cmd, CONTROL_CMD_UNKNOWN);
	assert_string_equal(line.word, "fl?sh");
	assert_int_equal(parse("flush\0\n", 7, &line), 1);
	assert_int_equal(line.cmd, CONTROL_CMD_UNKNOWN);
	assert_int_equal(parse("\x1b[2Jstats\n", 10, &line), 1);
	assert_string_equal(line.word, "?[2Jstats");
	assert_int_equal(parse("STATS\n", 6, &line), 1);
	assert_int_equal(line.cmd, CONTROL_CMD_UNKNOWN);
}

/* The limit: a newline within the first CONTROL_LINE_MAX bytes, or -EMSGSIZE. */
static void test_parse_line_limit(void **state)
{
	char buf[CONTROL_LINE_MAX + 8];
	struct control_line line;

	memset(buf, 'a', sizeof(buf));
	buf[CONTROL_LINE_MAX - 1] = '\n'; /* the longest line allowed */
	assert_int_equal(parse(buf, sizeof(buf), &line), 1);
	assert_int_equal(line.consumed, CONTROL_LINE_MAX);
	assert_int_equal(strlen(line.word), CONTROL_LINE_MAX - 1);
	buf[CONTROL_LINE_MAX - 1] = 'a';
	buf[CONTROL_LINE_MAX] = '\n'; /* one byte too many */
	assert_int_equal(parse(buf, sizeof(buf), &line), -EMSGSIZE);
	assert_int_equal(parse(buf, CONTROL_LINE_MAX, &line), -EMSGSIZE);
	assert_int_equal(parse(buf, CONTROL_LINE_MAX - 1, &line), 0);
}

static char *respond(struct control *ctl, const char *cmd)
{
	struct control_line line;
	size_t len;

	assert_int_equal(control_parse_line(cmd, strlen(cmd), &line), 1);
	char *out = control_respond(ctl, &line, &len);
	assert_non_null(out);
	assert_int_equal(strlen(out), len);
	return out;
}

static void test_respond(void **state)
{
	struct control ctl = {.ctx = &ctx};
	char *out;

	out = respond(&ctl, "help\n");
	assert_string_equal(out, "commands: stats, upstream, flush, help\n");
	free(out);
	out = respond(&ctl, "bogus\n");
	assert_string_equal(out, "error: unknown command 'bogus' (try: help)\n");
	free(out);
	out = respond(&ctl, "upstream\n"); /* no servers yet: empty, not an error */
	assert_string_equal(out, "");
	free(out);
	ctl.refused = 3;
	out = respond(&ctl, "stats\n");
	assert_non_null(strstr(out, "\ncache.entries: 0\n"));
	assert_non_null(strstr(out, "\ncontrol.refused: 3\n"));
	free(out);
	out = respond(&ctl, "flush\n");
	assert_string_equal(out, "ok\n");
	free(out);
}

/* ---- flush against worker threads (RCU) --------------------------------- */

#define RACE_THREADS 2
#define RACE_NAMES 64
#define RACE_FLUSHES 300

static atomic_bool race_stop;

static void *race_worker(void *p)
{
	unsigned id = (unsigned)(uintptr_t)p;
	ldns_rr_list *sets[RACE_NAMES];
	ldns_rdf *names[RACE_NAMES];
	uint32_t rnd = 2463534242u * (id + 1);

	cache_thread_register();
	for (unsigned i = 0; i < RACE_NAMES; i++) {
		char buf[128];
		ldns_rr *rr = NULL;

		snprintf(buf, sizeof(buf), "race%u.example.", i);
		names[i] = ldns_dname_new_frm_str(buf);
		snprintf(buf, sizeof(buf), "race%u.example. 300 IN A 192.0.2.%u", i, i);
		assert_int_equal(ldns_rr_new_frm_str(&rr, buf, 0, NULL, NULL), LDNS_STATUS_OK);
		sets[i] = ldns_rr_list_new();
		ldns_rr_list_push_rr(sets[i], rr);
	}
	/* Every iteration replaces an entry (call_rcu of the old one) and
	 * reports a quiescent state, so reclamation runs as fast as it can. */
	while (!atomic_load(&race_stop)) {
		struct cache_result res;
		unsigned n;

		rnd ^= rnd << 13;
		rnd ^= rnd >> 17;
		rnd ^= rnd << 5;
		n = rnd % RACE_NAMES;
		assert_true(cache_put_rrset(ctx.cache, sets[n], CACHE_RANK_ANSWER_AUTH, T0) >= 0);
		if (cache_lookup(ctx.cache, names[(n + 1) % RACE_NAMES], LDNS_RR_TYPE_A, T0,
				 &res) != CACHE_MISS)
			cache_result_clear(&res);
		cache_thread_quiescent();
	}
	for (unsigned i = 0; i < RACE_NAMES; i++) {
		ldns_rdf_deep_free(names[i]);
		ldns_rr_list_deep_free(sets[i]);
	}
	cache_thread_unregister();
	return NULL;
}

static void test_flush_races_workers(void **state)
{
	struct control ctl = {.ctx = &ctx};
	pthread_t tids[RACE_THREADS];

	atomic_store(&race_stop, false);
	for (unsigned i = 0; i < RACE_THREADS; i++)
		assert_int_equal(pthread_create(&tids[i], NULL, race_worker, (void *)(uintptr_t)i),
				 0);
	/* This thread is offline (ctx_setup), as main.c's is between commands. */
	for (unsigned i = 0; i < RACE_FLUSHES; i++) {
		char *out = respond(&ctl, "flush\n");

		assert_string_equal(out, "ok\n");
		free(out);
		usleep(200);
	}
	atomic_store(&race_stop, true);
	for (unsigned i = 0; i < RACE_THREADS; i++)
		assert_int_equal(pthread_join(tids[i], NULL), 0);
	char *out = respond(&ctl, "flush\n");
	free(out);
	struct cache_stats st;
	cache_get_stats(ctx.cache, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
}

/* ---- the socket's limits ------------------------------------------------ */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the loop for about `ms` milliseconds. */
static void pump(uv_loop_t *loop, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	do {
		uv_run(loop, UV_RUN_NOWAIT);
		usleep(1000);
	} while (now_ms() < end);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

/* What the server sent before closing: the bytes read, or -1 while the
 * connection is still open with nothing (more) to read. */
static ssize_t read_all(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	for (;;) {
		ssize_t r = read(fd, buf + len, cap - 1 - len);
		if (r > 0) {
			len += (size_t)r;
			continue;
		}
		if (r == 0)
			break;
		if (errno == EAGAIN)
			return -1;
		break; /* ECONNRESET: closed */
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

static void test_socket_limits(void **state)
{
	char path[] = "/tmp/holdfast-test-control-XXXXXX";
	char sock[sizeof(path) + 16];
	uv_loop_t loop;
	struct control ctl;
	int idle[CONTROL_CLIENTS_MAX];
	char buf[1024];

	assert_non_null(mkdtemp(path));
	snprintf(sock, sizeof(sock), "%s/ctl.sock", path);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(control_start(&ctl, &loop, &ctx, sock), 0);

	/* The cap: CONTROL_CLIENTS_MAX idle clients, then one more is closed
	 * at once, without an answer. */
	for (unsigned i = 0; i < CONTROL_CLIENTS_MAX; i++)
		idle[i] = connect_to(sock);
	pump(&loop, 50);
	assert_int_equal(ctl.nclients, CONTROL_CLIENTS_MAX);
	int extra = connect_to(sock);
	pump(&loop, 50);
	assert_int_equal(ctl.refused, 1);
	assert_int_equal(read_all(extra, buf, sizeof(buf)), 0);
	close(extra);
	assert_int_equal(ctl.nclients, CONTROL_CLIENTS_MAX);

	/* A client that leaves frees its slot. */
	close(idle[0]);
	pump(&loop, 50);
	assert_int_equal(ctl.nclients, CONTROL_CLIENTS_MAX - 1);

	/* The line bound: no newline in CONTROL_LINE_MAX bytes is an error. */
	int lng = connect_to(sock);
	char big[CONTROL_LINE_MAX + 10];
	memset(big, 's', sizeof(big));
	assert_int_equal(write(lng, big, sizeof(big)), (ssize_t)sizeof(big));
	pump(&loop, 50);
	assert_int_equal(ctl.too_long, 1);
	assert_true(read_all(lng, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "error: command line longer than 255 bytes\n");
	close(lng);

	/* Half a command waits, then the rest answers. */
	int half = connect_to(sock);
	assert_int_equal(write(half, "he", 2), 2);
	pump(&loop, 50);
	assert_int_equal(read_all(half, buf, sizeof(buf)), -1);
	assert_int_equal(write(half, "lp\n", 3), 3);
	pump(&loop, 50);
	assert_true(read_all(half, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "commands: stats, upstream, flush, help\n");
	close(half);
	pump(&loop, 20);

	/* The timeout: the idle ones (one of them with half a line) are
	 * closed after CONTROL_CLIENT_TIMEOUT_MS, not before. */
	assert_int_equal(write(idle[1], "sta", 3), 3);
	pump(&loop, CONTROL_CLIENT_TIMEOUT_MS / 2);
	assert_int_equal(ctl.timeouts, 0);
	assert_int_equal(read_all(idle[1], buf, sizeof(buf)), -1);
	pump(&loop, CONTROL_CLIENT_TIMEOUT_MS / 2 + 500);
	assert_int_equal(ctl.timeouts, CONTROL_CLIENTS_MAX - 1);
	assert_int_equal(ctl.nclients, 0);
	for (unsigned i = 1; i < CONTROL_CLIENTS_MAX; i++) {
		assert_int_equal(read_all(idle[i], buf, sizeof(buf)), 0);
		close(idle[i]);
	}

	/* Stopping closes a client still connected. */
	int last = connect_to(sock);
	pump(&loop, 20);
	assert_int_equal(ctl.nclients, 1);
	control_stop(&ctl);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(ctl.nclients, 0);
	close(last);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(access(sock, F_OK), -1);
	rmdir(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_commands), cmocka_unit_test(test_parse_line_limit),
		cmocka_unit_test(test_respond),	       cmocka_unit_test(test_flush_races_workers),
		cmocka_unit_test(test_socket_limits),
	};

	return cmocka_run_group_tests(tests, ctx_setup, ctx_teardown);
}
