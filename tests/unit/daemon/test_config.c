/*
 * Unit tests for daemon/config.c: defaults, every key, the error messages
 * (file:line and what is wrong), address and CIDR parsing, the ACL lookup,
 * and that conf/holdfast.conf loads and documents the true defaults.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"

#ifndef HOLDFAST_EXAMPLE_CONF
#error "HOLDFAST_EXAMPLE_CONF must name conf/holdfast.conf"
#endif

static char tmp_path[256];
static char err[512];

/* Writes `text` to a fresh temporary file whose name lands in tmp_path. */
static void write_tmp(const char *text)
{
	const char *dir = getenv("TMPDIR");
	FILE *fp;
	int fd;

	snprintf(tmp_path, sizeof(tmp_path), "%s/holdfast-conf-XXXXXX", dir ? dir : "/tmp");
	fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* Loads `text` over defaults into cfg; returns config_load_file's result. */
static int load(struct config *cfg, const char *text)
{
	int ret;

	config_defaults(cfg);
	write_tmp(text);
	err[0] = '\0';
	ret = config_load_file(cfg, tmp_path, err, sizeof(err));
	unlink(tmp_path);
	return ret;
}

/* Expects `text` to fail with "FILE:LINE: ...needle...". */
static void expect_error(const char *text, unsigned line, const char *needle)
{
	struct config cfg;
	char prefix[300];

	assert_int_equal(load(&cfg, text), -1);
	if (line)
		snprintf(prefix, sizeof(prefix), "%s:%u: ", tmp_path, line);
	else /* checks across lines name only the file */
		snprintf(prefix, sizeof(prefix), "%s: ", tmp_path);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, needle))
		fail_msg("error '%s' does not start with '%s' and contain '%s'", err, prefix,
			 needle);
}

static void expect_addr(const struct sockaddr_storage *ss, const char *addr, uint16_t port)
{
	char buf[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
		assert_int_equal(ntohs(sin->sin_port), port);
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		assert_int_equal(ss->ss_family, AF_INET6);
		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
		assert_int_equal(ntohs(sin6->sin6_port), port);
	}
	assert_string_equal(buf, addr);
}

static enum config_acl_action acl(const struct config *cfg, const char *addr)
{
	struct sockaddr_storage ss;

	assert_int_equal(config_parse_addr_port(addr, 4242, &ss), 0);
	return config_acl_check(cfg, (const struct sockaddr *)&ss);
}

static void test_defaults(void **state)
{
	struct config cfg;

	config_defaults(&cfg);
	assert_int_equal(cfg.nlisten, 2);
	expect_addr(&cfg.listen[0].addr, "127.0.0.1", 53);
	expect_addr(&cfg.listen[1].addr, "::1", 53);
	assert_int_equal(cfg.port, 53);
	assert_int_equal(cfg.num_threads, 0);
	assert_int_equal(cfg.tcp_idle_timeout_ms, 10000);
	assert_int_equal(cfg.tcp_max_connections, 256);
	assert_int_equal(cfg.nacl, 2);
	assert_string_equal(cfg.root_hints, "");
	assert_true(cfg.do_ip4 && cfg.do_ip6 && cfg.do_not_query_localhost);
	assert_true(cfg.qname_minimisation && cfg.harden_glue && cfg.harden_below_nxdomain);
	assert_true(cfg.use_caps_for_id);
	assert_int_equal(cfg.unwanted_reply_threshold, 10);
	assert_int_equal(cfg.ncaps_exempt, 0);
	assert_int_equal(cfg.edns_buffer_size, 1232);
	assert_int_equal(cfg.outgoing4.ss_family, AF_UNSPEC);
	assert_int_equal(cfg.outgoing6.ss_family, AF_UNSPEC);
	assert_int_equal(cfg.cache_min_ttl, 0);
	assert_int_equal(cfg.cache_max_ttl, 86400);
	assert_int_equal(cfg.cache_max_negative_ttl, 3600);
	assert_int_equal(cfg.max_stale_ttl, 86400);
	assert_int_equal(cfg.cache_size, 64 << 20);
	assert_int_equal(cfg.verbosity, 1);

	assert_int_equal(acl(&cfg, "127.0.0.1"), CONFIG_ACL_ALLOW);
	assert_int_equal(acl(&cfg, "127.255.0.9"), CONFIG_ACL_ALLOW);
	assert_int_equal(acl(&cfg, "::1"), CONFIG_ACL_ALLOW);
	assert_int_equal(acl(&cfg, "::ffff:127.0.0.1"), CONFIG_ACL_ALLOW);
	assert_int_equal(acl(&cfg, "192.0.2.1"), CONFIG_ACL_REFUSE);
	assert_int_equal(acl(&cfg, "2001:db8::1"), CONFIG_ACL_REFUSE);
	assert_int_equal(acl(&cfg, "::2"), CONFIG_ACL_REFUSE);
}

static void test_every_key(void **state)
{
	struct config cfg;

	assert_int_equal(load(&cfg, "interface: 192.0.2.1@5300\n"
				    "interface: 2001:db8::1\n"
				    "port: 5353\n"
				    "num-threads: 4\n"
				    "tcp-idle-timeout: 3000\n"
				    "incoming-num-tcp: 100\n"
				    "tcp-connections-per-address: 4\n"
				    "outgoing-range: 512\n"
				    "num-queries-per-thread: 300\n"
				    "jostle-timeout: 50\n"
				    "upstream-client-share: 10\n"
				    "access-control: 10.0.0.0/8 allow\n"
				    "root-hints: /etc/holdfast/root.hints\n"
				    "do-ip4: yes\n"
				    "do-ip6: no\n"
				    "do-not-query-localhost: no\n"
				    "qname-minimisation: no\n"
				    "harden-glue: no\n"
				    "harden-below-nxdomain: no\n"
				    "use-caps-for-id: no\n"
				    "unwanted-reply-threshold: 0\n"
				    "caps-exempt: example.com\n"
				    "caps-exempt: Example.NET.\n"
				    "edns-buffer-size: 4096\n"
				    "outgoing-interface: 192.0.2.7\n"
				    "outgoing-interface: 2001:db8::7\n"
				    "cache-min-ttl: 5\n"
				    "cache-max-ttl: 600\n"
				    "cache-max-negative-ttl: 60\n"
				    "max-stale-ttl: 7200\n"
				    "cache-size: 128m\n"
				    "verbosity: 2\n"),
			 0);
	assert_int_equal(cfg.nlisten, 2);
	expect_addr(&cfg.listen[0].addr, "192.0.2.1", 5300);
	expect_addr(&cfg.listen[1].addr, "2001:db8::1", 5353);
	assert_int_equal(cfg.port, 5353);
	assert_int_equal(cfg.num_threads, 4);
	assert_int_equal(cfg.tcp_idle_timeout_ms, 3000);
	assert_int_equal(cfg.tcp_max_connections, 100);
	assert_int_equal(cfg.tcp_per_address, 4);
	assert_int_equal(cfg.outgoing_range, 512);
	assert_int_equal(cfg.queries_per_thread, 300);
	assert_int_equal(cfg.jostle_timeout_ms, 50);
	assert_int_equal(cfg.client_share_percent, 10);
	assert_int_equal(cfg.nacl, 1);
	assert_int_equal(cfg.acl[0].prefix, 8);
	assert_int_equal(cfg.acl[0].action, CONFIG_ACL_ALLOW);
	assert_string_equal(cfg.root_hints, "/etc/holdfast/root.hints");
	assert_true(cfg.do_ip4);
	assert_false(cfg.do_ip6);
	assert_false(cfg.do_not_query_localhost);
	assert_false(cfg.qname_minimisation);
	assert_false(cfg.harden_glue);
	assert_false(cfg.harden_below_nxdomain);
	assert_false(cfg.use_caps_for_id);
	assert_int_equal(cfg.unwanted_reply_threshold, 0);
	assert_int_equal(cfg.ncaps_exempt, 2);
	assert_string_equal(cfg.caps_exempt[0], "example.com");
	assert_string_equal(cfg.caps_exempt[1], "Example.NET.");
	assert_int_equal(cfg.edns_buffer_size, 4096);
	expect_addr(&cfg.outgoing4, "192.0.2.7", 0);
	expect_addr(&cfg.outgoing6, "2001:db8::7", 0);
	assert_int_equal(cfg.cache_min_ttl, 5);
	assert_int_equal(cfg.cache_max_ttl, 600);
	assert_int_equal(cfg.cache_max_negative_ttl, 60);
	assert_int_equal(cfg.max_stale_ttl, 7200);
	assert_int_equal(cfg.cache_size, 128 << 20);
	assert_int_equal(cfg.verbosity, 2);
}

static void test_aliases_and_sizes(void **state)
{
	struct config cfg;

	assert_int_equal(load(&cfg, "threads: 3\nmsg-cache-size: 4k\n"), 0);
	assert_int_equal(cfg.num_threads, 3);
	assert_int_equal(cfg.cache_size, 4096);
	assert_int_equal(load(&cfg, "rrset-cache-size: 2G\n"), 0);
	assert_int_equal(cfg.cache_size, 2ull << 30);
	assert_int_equal(load(&cfg, "cache-size: 1000\n"), 0);
	assert_int_equal(cfg.cache_size, 1000);
	assert_int_equal(load(&cfg, "cache-size: 8mb\n"), 0);
	assert_int_equal(cfg.cache_size, 8 << 20);
	expect_error("cache-size: 8x\n", 1, "bad size '8x'");
	expect_error("cache-size: 0\n", 1, "out of range");
	expect_error("cache-size: 99999999999999999999g\n", 1, "cache-size");
}

/* so-rcvbuf / so-sndbuf (issue 12): Unbound's names and size syntax, 0 =
 * the kernel's default; holdfast's receive default is 4m; above 1g (the
 * kernel takes an int and doubles it) is refused. */
static void test_socket_buffers(void **state)
{
	struct config cfg;

	config_defaults(&cfg);
	assert_int_equal(cfg.so_rcvbuf, 4u << 20);
	assert_int_equal(cfg.so_sndbuf, 0);
	assert_int_equal(load(&cfg, "so-rcvbuf: 8m\nso-sndbuf: 256k\n"), 0);
	assert_int_equal(cfg.so_rcvbuf, 8u << 20);
	assert_int_equal(cfg.so_sndbuf, 256u << 10);
	assert_int_equal(load(&cfg, "so-rcvbuf: 0\nso-sndbuf: 1g\n"), 0);
	assert_int_equal(cfg.so_rcvbuf, 0);
	assert_int_equal(cfg.so_sndbuf, 1u << 30);
	assert_int_equal(load(&cfg, "so-rcvbuf: 212992\n"), 0);
	assert_int_equal(cfg.so_rcvbuf, 212992);
	expect_error("so-rcvbuf: 2g\n", 1, "out of range");
	expect_error("so-sndbuf: 1073741825\n", 1, "out of range");
	expect_error("so-rcvbuf: 4x\n", 1, "bad size '4x'");
	expect_error("so-sndbuf: -1\n", 1, "bad size '-1'");
}

static void test_quotes_and_comments(void **state)
{
	struct config cfg;

	assert_int_equal(load(&cfg, "# a comment\n"
				    "\n"
				    "   \t\n"
				    "server:\n"
				    "\troot-hints: \"my root.hints\"   # trailing comment\n"
				    "\tverbosity: 0 # quiet\n"
				    "  do-ip6: no\t# no v6 here\n"
				    "\t# indented comment\n"
				    "port:5300\r\n"),
			 0);
	assert_string_equal(cfg.root_hints, "my root.hints");
	assert_int_equal(cfg.verbosity, 0);
	assert_false(cfg.do_ip6);
	assert_int_equal(cfg.port, 5300);

	/* `#` glued to text is part of the value, as in Unbound */
	assert_int_equal(load(&cfg, "root-hints: hints#1\n"), 0);
	assert_string_equal(cfg.root_hints, "hints#1");
	assert_int_equal(load(&cfg, "root-hints: \"a # b\"\n"), 0);
	assert_string_equal(cfg.root_hints, "a # b");

	expect_error("root-hints: \"unterminated\n", 1, "unterminated quote");
	expect_error("root-hints: \"a\" b\n", 1, "unexpected text");
	expect_error("server: yes\n", 1, "section header");
}

static void test_unknown_key(void **state)
{
	expect_error("port: 53\n\n# comment\nfoo: bar\n", 4, "unknown option 'foo'");
	/* an Unbound section we do not have is unknown too, not silently skipped */
	expect_error("server:\nremote-control:\n", 2, "unknown option 'remote-control'");
}

static void test_syntax_errors(void **state)
{
	expect_error("port 53\n", 1, "missing ':'");
	expect_error("verbosity:\n", 1, "missing value for 'verbosity'");
	expect_error(": 5\n", 1, "missing option name");
}

static void test_bad_values(void **state)
{
	struct config cfg;

	expect_error("do-ip4: maybe\n", 1, "bad boolean 'maybe' for 'do-ip4'");
	expect_error("harden-glue: 1\n", 1, "bad boolean");
	expect_error("use-caps-for-id: maybe\n", 1, "bad boolean");
	expect_error("caps-exempt: a..b\n", 1, "bad domain name");
	expect_error("num-queries-per-thread: 0\n", 1, "");
	expect_error("num-threads: four\n", 1, "bad number 'four' for 'num-threads'");
	expect_error("num-threads: -1\n", 1, "bad number");
	expect_error("num-threads: 4x\n", 1, "bad number");
	expect_error("port: 0\n", 1, "'port' must be between 1 and 65535");
	expect_error("port: 65536\n", 1, "'port' must be between");
	expect_error("edns-buffer-size: 511\n", 1,
		     "'edns-buffer-size' must be between 512 and 4096");
	expect_error("edns-buffer-size: 4097\n", 1, "edns-buffer-size");
	expect_error("verbosity: 6\n", 1, "'verbosity' must be between 0 and 5");
	expect_error("cache-max-ttl: 2147483648\n", 1, "cache-max-ttl");
	expect_error("tcp-idle-timeout: 0\n", 1, "tcp-idle-timeout");
	expect_error("interface: 300.1.1.1\n", 1, "bad address '300.1.1.1'");
	expect_error("interface: 127.1\n", 1, "bad address");
	expect_error("interface: 127.0.0.1@0\n", 1, "bad address");
	expect_error("interface: 127.0.0.1@99999\n", 1, "bad address");
	expect_error("interface: ::1@x\n", 1, "bad address");
	expect_error("outgoing-interface: 192.0.2.1@53\n", 1, "bad address");
	expect_error("access-control: 10.0.0.0/33 allow\n", 1, "bad CIDR '10.0.0.0/33'");
	expect_error("access-control: 2001:db8::/129 allow\n", 1, "bad CIDR");
	expect_error("access-control: 10.0.0.0/x allow\n", 1, "bad CIDR");
	expect_error("access-control: nonsense allow\n", 1, "bad CIDR");
	expect_error("access-control: 10.0.0.0/8\n", 1, "needs a network and an action");
	expect_error("access-control: 10.0.0.0/8 permit\n", 1, "bad action 'permit'");
	expect_error("verbosity: 2\ncache-min-ttl: 700\ncache-max-ttl: 600\n", 0, "");
	assert_non_null(strstr(err, "cache-min-ttl (700) is greater than cache-max-ttl (600)"));
	assert_int_equal(load(&cfg, "do-ip4: no\ndo-ip6: no\n"), -1);
	assert_non_null(strstr(err, "do-ip4 and do-ip6"));

	/* verbosity above our highest level is clamped, not refused */
	assert_int_equal(load(&cfg, "verbosity: 5\n"), 0);
	assert_int_equal(cfg.verbosity, 3);
}

static void test_failed_load_keeps_config(void **state)
{
	struct config cfg, before;

	config_defaults(&cfg);
	before = cfg;
	write_tmp("port: 5353\ninterface: 192.0.2.1\naccess-control: 0.0.0.0/0 allow\nbad: 1\n");
	assert_int_equal(config_load_file(&cfg, tmp_path, err, sizeof(err)), -1);
	unlink(tmp_path);
	assert_memory_equal(&cfg, &before, sizeof(cfg));
}

static void test_missing_file(void **state)
{
	struct config cfg;

	config_defaults(&cfg);
	assert_int_equal(config_load_file(&cfg, "/nonexistent/holdfast.conf", err, sizeof(err)),
			 -1);
	assert_string_equal(err,
			    "/nonexistent/holdfast.conf: cannot open: No such file or directory");
}

static void test_interfaces(void **state)
{
	struct config cfg;
	char text[4096];
	size_t i, n = 0;

	/* the first line replaces the default set, the next ones add */
	assert_int_equal(load(&cfg, "interface: 192.0.2.1\ninterface: 192.0.2.2@54\n"), 0);
	assert_int_equal(cfg.nlisten, 2);
	expect_addr(&cfg.listen[0].addr, "192.0.2.1", 53);
	expect_addr(&cfg.listen[1].addr, "192.0.2.2", 54);

	/* `port:` after the interfaces applies to those without @PORT */
	assert_int_equal(load(&cfg, "interface: 192.0.2.1\n"
				    "interface: [2001:db8::1]:5300\n"
				    "interface: [2001:db8::2]\n"
				    "interface: ::1@53\n"
				    "port: 5353\n"),
			 0);
	assert_int_equal(cfg.nlisten, 4);
	expect_addr(&cfg.listen[0].addr, "192.0.2.1", 5353);
	expect_addr(&cfg.listen[1].addr, "2001:db8::1", 5300);
	expect_addr(&cfg.listen[2].addr, "2001:db8::2", 5353);
	expect_addr(&cfg.listen[3].addr, "::1", 53);

	/* and to the default listeners when the file has no interface line */
	assert_int_equal(load(&cfg, "port: 5353\n"), 0);
	assert_int_equal(cfg.nlisten, 2);
	expect_addr(&cfg.listen[0].addr, "127.0.0.1", 5353);
	expect_addr(&cfg.listen[1].addr, "::1", 5353);

	for (i = 0; i <= CONFIG_MAX_LISTEN; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "interface: 10.0.0.%zu\n", i);
	expect_error(text, CONFIG_MAX_LISTEN + 1, "too many 'interface' entries");

	expect_error("outgoing-interface: 192.0.2.1\noutgoing-interface: 192.0.2.2\n", 2,
		     "too many 'outgoing-interface' entries");
}

static void test_parse_addr_port(void **state)
{
	struct sockaddr_storage ss;

	assert_int_equal(config_parse_addr_port("127.0.0.1", 53, &ss), 0);
	expect_addr(&ss, "127.0.0.1", 53);
	assert_int_equal(config_parse_addr_port("127.0.0.1@5353", 53, &ss), 0);
	expect_addr(&ss, "127.0.0.1", 5353);
	assert_int_equal(config_parse_addr_port("::1", 53, &ss), 0);
	expect_addr(&ss, "::1", 53);
	assert_int_equal(config_parse_addr_port("::1@54", 53, &ss), 0);
	expect_addr(&ss, "::1", 54);
	assert_int_equal(config_parse_addr_port("[::1]:55", 53, &ss), 0);
	expect_addr(&ss, "::1", 55);
	assert_int_equal(config_parse_addr_port("[::1]", 53, &ss), 0);
	expect_addr(&ss, "::1", 53);
	assert_int_equal(config_parse_addr_port("fe80::1%1", 53, &ss), 0);
	assert_int_equal(((struct sockaddr_in6 *)&ss)->sin6_scope_id, 1);
	assert_int_equal(config_parse_addr_port("127.0.0.1@65535", 53, &ss), 0);

	assert_int_equal(config_parse_addr_port(NULL, 53, &ss), -1);
	assert_int_equal(config_parse_addr_port("", 53, &ss), -1);
	assert_int_equal(config_parse_addr_port("localhost", 53, &ss), -1);
	assert_int_equal(config_parse_addr_port("127.0.0.1@", 53, &ss), -1);
	assert_int_equal(config_parse_addr_port("127.0.0.1@0", 53, &ss), -1);
	assert_int_equal(config_parse_addr_port("127.0.0.1@65536", 53, &ss), -1);
	assert_int_equal(config_parse_addr_port("127.0.0.1@+53", 53, &ss), -1);
	assert_int_equal(config_parse_addr_port("[::1", 53, &ss), -1);
	assert_int_equal(config_parse_addr_port("[::1]x", 53, &ss), -1);
	assert_int_equal(config_parse_addr_port("[::1]:", 53, &ss), -1);
	assert_int_equal(config_parse_addr_port("::1 ", 53, &ss), -1);
}

static void test_acl(void **state)
{
	struct config cfg;
	char text[8192];
	size_t i, n = 0;

	assert_int_equal(load(&cfg, "access-control: 0.0.0.0/0 refuse\n"
				    "access-control: 10.0.0.0/8 allow\n"
				    "access-control: 10.1.0.0/16 deny\n"
				    "access-control: 10.1.2.3 allow\n"
				    "access-control: 2001:db8::/32 allow_snoop\n"
				    "access-control: 2001:db8:bad::/48 deny_non_local\n"
				    "access-control: 192.168.1.77/24 refuse_non_local\n"
				    "access-control: 172.16.0.0/12 allow\n"
				    "access-control: 10.2.0.0/16 allow_setrd\n"),
			 0);
	assert_int_equal(cfg.nacl, 9);
	/* the default localhost entries are gone */
	assert_int_equal(acl(&cfg, "127.0.0.1"), CONFIG_ACL_REFUSE);
	assert_int_equal(acl(&cfg, "::1"), CONFIG_ACL_REFUSE);
	/* longest prefix wins, whatever the order of the lines */
	assert_int_equal(acl(&cfg, "10.9.9.9"), CONFIG_ACL_ALLOW);
	assert_int_equal(acl(&cfg, "10.1.9.9"), CONFIG_ACL_DENY);
	assert_int_equal(acl(&cfg, "10.1.2.3"), CONFIG_ACL_ALLOW);
	assert_int_equal(acl(&cfg, "10.1.2.4"), CONFIG_ACL_DENY);
	assert_int_equal(acl(&cfg, "11.0.0.1"), CONFIG_ACL_REFUSE);
	assert_int_equal(acl(&cfg, "172.31.255.255"), CONFIG_ACL_ALLOW);
	assert_int_equal(acl(&cfg, "172.32.0.0"), CONFIG_ACL_REFUSE);
	assert_int_equal(acl(&cfg, "2001:db8::1"), CONFIG_ACL_ALLOW_SNOOP);
	assert_int_equal(acl(&cfg, "10.2.3.4"), CONFIG_ACL_ALLOW_SETRD);
	assert_int_equal(acl(&cfg, "2001:db8:bad::1"), CONFIG_ACL_DENY);
	assert_int_equal(acl(&cfg, "2001:db9::1"), CONFIG_ACL_REFUSE);
	/* host bits of the network are cleared */
	assert_int_equal(acl(&cfg, "192.168.1.1"), CONFIG_ACL_REFUSE);
	/* IPv4-mapped clients match the IPv4 entries */
	assert_int_equal(acl(&cfg, "::ffff:10.1.2.3"), CONFIG_ACL_ALLOW);
	assert_int_equal(acl(&cfg, "::ffff:10.1.2.4"), CONFIG_ACL_DENY);
	assert_int_equal(config_acl_check(&cfg, NULL), CONFIG_ACL_REFUSE);

	/* a v4-mapped entry is an IPv4 entry; the same network twice: last wins */
	assert_int_equal(load(&cfg, "access-control: ::ffff:192.0.2.0/120 allow\n"
				    "access-control: ::/0 deny\n"
				    "access-control: ::/0 refuse\n"),
			 0);
	assert_int_equal(cfg.nacl, 2);
	assert_int_equal(acl(&cfg, "192.0.2.9"), CONFIG_ACL_ALLOW);
	assert_int_equal(acl(&cfg, "::ffff:192.0.2.9"), CONFIG_ACL_ALLOW);
	assert_int_equal(acl(&cfg, "192.0.3.9"), CONFIG_ACL_REFUSE);
	assert_int_equal(acl(&cfg, "2001:db8::1"), CONFIG_ACL_REFUSE);

	for (i = 0; i <= CONFIG_MAX_ACL; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "access-control: 10.0.%zu.0/24 allow\n", i);
	expect_error(text, CONFIG_MAX_ACL + 1, "too many 'access-control' entries");
}

/*
 * conf/holdfast.conf must load, and every `# key: value` line in it must
 * show the real default: uncommenting them all must give config_defaults().
 * root-hints and outgoing-interface are unset by default, so their lines
 * are examples and are left commented.
 */
static void test_example_conf(void **state)
{
	struct config cfg, defaults;
	char text[32768], line[1024];
	size_t n = 0;
	FILE *fp;

	config_defaults(&defaults);
	config_defaults(&cfg);
	assert_int_equal(config_load_file(&cfg, HOLDFAST_EXAMPLE_CONF, err, sizeof(err)), 0);
	assert_memory_equal(&cfg, &defaults, sizeof(cfg));

	fp = fopen(HOLDFAST_EXAMPLE_CONF, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		const char *s = line, *k;
		size_t len;

		if (s[0] == '#' && s[1] == ' ' && s[2] >= 'a' && s[2] <= 'z') {
			for (k = s + 2;
			     (*k >= 'a' && *k <= 'z') || *k == '-' || (*k >= '0' && *k <= '9'); k++)
				;
			if (*k == ':' && strncmp(s + 2, "root-hints", 10) != 0 &&
			    strncmp(s + 2, "outgoing-interface", 18) != 0)
				s += 2;
		}
		len = strlen(s);
		assert_true(n + len < sizeof(text));
		memcpy(text + n, s, len + 1);
		n += len;
	}
	assert_int_equal(fclose(fp), 0);
	assert_non_null(strstr(text, "\ninterface: 127.0.0.1\n"));
	assert_non_null(strstr(text, "\ncache-size: 64m\n"));
	if (load(&cfg, text) != 0)
		fail_msg("uncommented example: %s", err);
	assert_memory_equal(&cfg, &defaults, sizeof(cfg));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_aliases_and_sizes),
		cmocka_unit_test(test_socket_buffers),
		cmocka_unit_test(test_quotes_and_comments),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_failed_load_keeps_config),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_interfaces),
		cmocka_unit_test(test_parse_addr_port),
		cmocka_unit_test(test_acl),
		cmocka_unit_test(test_example_conf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
