/*
 * upstream/addr.c — which server addresses may be queried, and the defaults.
 *
 * The policy is applied to every candidate before selection: the address
 * family must be enabled, the address must name one unicast host (not the
 * unspecified address, not multicast or broadcast, not port 0), and with
 * do-not-query-localhost the loopback range is refused, as in Unbound
 * (a delegation to 127.0.0.1 is a classic way to turn a resolver against
 * the host it runs on). Pure: no I/O, no state. Also the defaults of
 * struct upstream_opts and the address formatting of the logs.
 */
#include "upstream/upstream.h"
#include "upstream/impl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

void upstream_opts_init(struct upstream_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	/* The DNS Flag Day 2020 size: fits the common 1280-octet IPv6 MTU. */
	opts->edns_buffer_size = 1232;
	opts->do_ip4 = true;
	opts->do_ip6 = true;
	opts->do_not_query_localhost = true;
	opts->source4.ss_family = AF_UNSPEC;
	opts->source6.ss_family = AF_UNSPEC;
	opts->timeout_min_ms = 200;
	opts->timeout_max_ms = 3000;
	opts->tcp_timeout_ms = 5000;
	/* Calm retries (issue 5). */
	opts->breaker_threshold = 3;
	opts->breaker_cooldown_ms = 500;
	opts->breaker_cooldown_max_ms = 1500;
	opts->hedge_min_ms = 50;
	opts->max_inflight_server = 64;
	opts->max_inflight_zone = 128;
	opts->retry_budget_percent = 10;
	opts->retry_budget_floor = 10;
	opts->retry_budget_window_ms = 10000;
	/* Issue 12. On, as in Knot Resolver and Unbound's recommendation. */
	opts->use_caps_for_id = true;
	/* A real server sends no unwanted replies at all, bar a late answer to
	 * a hedge or a retry, which goes to a socket already closed. Ten within
	 * a minute is an attack or a broken path, never normal traffic, and
	 * still far below the thousands of replies a blind spoof needs. */
	opts->unwanted_reply_threshold = 10;
	opts->client_share_percent = 25; /* issue 12: fair shares */
	/* Unbound's libevent default: room for num-queries-per-thread (1024)
	 * attempts with a hedge each and as many legs lingering. */
	opts->outgoing_range = 4096;
}

/* The IPv4 rules, on an address in network byte order. */
static bool ip4_allowed(const struct upstream_opts *opts, const uint8_t a[4])
{
	/* RFC 1122 §3.2.1.3: 0.0.0.0/8 means "this host on this network". */
	if (a[0] == 0)
		return false;
	/* RFC 5771: 224.0.0.0/4 is multicast; 240.0.0.0/4 is reserved and
	 * holds the limited broadcast address 255.255.255.255 (RFC 919). */
	if (a[0] >= 224)
		return false;
	/* RFC 1122 §3.2.1.3: 127.0.0.0/8 is loopback. */
	if (a[0] == 127 && opts->do_not_query_localhost)
		return false;
	return true;
}

bool upstream_addr_allowed(const struct upstream_opts *opts, const struct sockaddr *addr)
{
	if (opts == NULL || addr == NULL)
		return false;

	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
		if (!opts->do_ip4 || sin->sin_port == 0)
			return false;
		return ip4_allowed(opts, (const uint8_t *)&sin->sin_addr);
	}

	if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)addr;
		const struct in6_addr *a = &sin6->sin6_addr;
		if (!opts->do_ip6 || sin6->sin6_port == 0)
			return false;
		if (IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_MULTICAST(a))
			return false;
		if (IN6_IS_ADDR_LOOPBACK(a) && opts->do_not_query_localhost)
			return false;
		/* RFC 4291 §2.5.5.2: ::ffff:a.b.c.d leaves the host as IPv4, so
		 * the IPv4 family and rules apply too (::ffff:127.0.0.1 is
		 * localhost). */
		if (IN6_IS_ADDR_V4MAPPED(a))
			return opts->do_ip4 && ip4_allowed(opts, &a->s6_addr[12]);
		return true;
	}

	return false;
}
