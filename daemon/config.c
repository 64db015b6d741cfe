/*
 * config — built-in defaults, the config file reader and the ACL lookup.
 *
 * The file format is the flat subset of Unbound's: `key: value` lines, `#`
 * comments, optional double quotes around a value and an optional bare
 * `server:` header, so that an operator's unbound.conf `server:` section
 * loads unchanged as long as it uses keys we know. A file is read into a
 * scratch copy and committed only when every line is valid, so a reload
 * that fails leaves the running configuration untouched.
 *
 * This file checks syntax and ranges only. It opens no sockets, resolves no
 * host names and does not read the root hints file it is given.
 */
/* Before ldns: without it <ldns/common.h> defines bool as signed char. */
#include <stdbool.h>
#include <ldns/ldns.h>

#include "daemon/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache/cache.h"
#include "resolver/resolver.h"
#include "upstream/upstream.h"
#include "util/assert.h"
#include "util/sockaddr.h"

#define CONFIG_DEFAULT_PORT 53
#define CONFIG_MAX_TTL 2147483647u /* RFC 2181 §8: TTLs are 31-bit */

/* ---- addresses ---------------------------------------------------------- */

/* Strict decimal: digits only, no sign, no spaces. 0 or -1. */
static int parse_ull(const char *s, unsigned long long *out)
{
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno || *end != '\0')
		return -1;
	return 0;
}

static int parse_port(const char *s, uint16_t *out)
{
	unsigned long long v;

	if (parse_ull(s, &v) || v < 1 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/*
 * A numeric IPv4 or IPv6 address, IPv6 optionally with a %scope (interface
 * name or index) for link-local listeners. inet_pton rather than
 * getaddrinfo: the latter accepts inet_aton shorthands such as "10" or
 * "127.1", which in a config file are far more likely typos than intent.
 */
static int parse_ip(const char *s, struct sockaddr_storage *out)
{
	char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	struct sockaddr_in *sin = (struct sockaddr_in *)out;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
	char *scope;

	if (strlen(s) >= sizeof(buf))
		return -1;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return 0;
	}
	strcpy(buf, s);
	scope = strchr(buf, '%');
	if (scope)
		*scope++ = '\0';
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1)
		return -1;
	sin6->sin6_family = AF_INET6;
	if (scope) {
		unsigned long long idx;

		if (parse_ull(scope, &idx) == 0 && idx <= UINT32_MAX)
			sin6->sin6_scope_id = (uint32_t)idx;
		else if ((sin6->sin6_scope_id = if_nametoindex(scope)) == 0)
			return -1;
	}
	return 0;
}

int config_parse_addr_port(const char *s, uint16_t default_port, struct sockaddr_storage *out)
{
	char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 16];
	const char *port_str = NULL;
	char *addr = buf, *sep;
	uint16_t port = default_port;

	if (!s || strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	if (buf[0] == '[') {
		/* "[::1]:53", "[::1]@53" or "[::1]" */
		sep = strchr(buf, ']');
		if (!sep)
			return -1;
		*sep++ = '\0';
		addr = buf + 1;
		if (*sep == ':' || *sep == '@')
			port_str = sep + 1;
		else if (*sep != '\0')
			return -1;
	} else if ((sep = strchr(buf, '@'))) {
		*sep = '\0';
		port_str = sep + 1;
	}
	if (port_str && parse_port(port_str, &port))
		return -1;
	if (parse_ip(addr, out))
		return -1;
	util_sockaddr_set_port(out, port);
	return 0;
}

/* Raw address bytes and their bit length; NULL for other families. */
static const uint8_t *addr_bytes(const struct sockaddr_storage *ss, unsigned *bits)
{
	if (ss->ss_family == AF_INET) {
		*bits = 32;
		return (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
	}
	if (ss->ss_family == AF_INET6) {
		*bits = 128;
		return (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
	}
	return NULL;
}

/*
 * Dual-stack sockets report IPv4 clients as ::ffff:a.b.c.d; match those (and
 * ACL entries written that way) as the IPv4 addresses they are, so one
 * `access-control: 10.0.0.0/8` covers both kinds of socket.
 */
static void addr_unmap_v4(struct sockaddr_storage *ss, unsigned *prefix)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	struct sockaddr_in sin;

	if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return;
	if (prefix && *prefix < 96)
		return; /* covers more than the mapped range: keep it IPv6 */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = sin6->sin6_port;
	memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &sin, sizeof(sin));
	if (prefix)
		*prefix -= 96;
}

static bool prefix_matches(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (memcmp(a, net, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ net[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* "ADDR/PREFIX" or a bare "ADDR" (a host). Host bits are cleared. 0 or -1. */
static int parse_cidr(const char *s, struct sockaddr_storage *net, unsigned *prefix)
{
	char buf[INET6_ADDRSTRLEN + 8];
	unsigned long long len;
	unsigned bits = 0, i;
	uint8_t *bytes;
	char *slash;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (strchr(buf, '%') || parse_ip(buf, net))
		return -1;
	bytes = (uint8_t *)addr_bytes(net, &bits);
	len = bits;
	if (slash && (parse_ull(slash, &len) || len > bits))
		return -1;
	*prefix = (unsigned)len;
	for (i = *prefix; i < bits; i++)
		bytes[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
	addr_unmap_v4(net, prefix);
	return 0;
}

enum config_acl_action config_acl_check(const struct config *cfg, const struct sockaddr *addr)
{
	enum config_acl_action action = CONFIG_ACL_REFUSE;
	struct sockaddr_storage client;
	const uint8_t *cbytes;
	unsigned cbits;
	int best = -1;
	size_t i;

	if (!addr)
		return CONFIG_ACL_REFUSE;
	memset(&client, 0, sizeof(client));
	if (util_sockaddr_len(addr) == 0)
		return CONFIG_ACL_REFUSE;
	memcpy(&client, addr, util_sockaddr_len(addr));
	addr_unmap_v4(&client, NULL);
	cbytes = addr_bytes(&client, &cbits);

	for (i = 0; i < cfg->nacl; i++) {
		const struct config_acl *a = &cfg->acl[i];
		const uint8_t *nbytes;
		unsigned nbits;

		if (a->net.ss_family != client.ss_family || (int)a->prefix <= best)
			continue;
		nbytes = addr_bytes(&a->net, &nbits);
		if (prefix_matches(cbytes, nbytes, a->prefix)) {
			best = a->prefix;
			action = a->action;
		}
	}
	return action;
}

/* ---- defaults ----------------------------------------------------------- */

void config_defaults(struct config *cfg)
{
	static const char *const listen[] = {"127.0.0.1", "::1"};
	static const char *const acl[] = {"127.0.0.0/8", "::1/128"};
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	cfg->port = CONFIG_DEFAULT_PORT;
	/* The defaults are constants: one that does not parse is a bug here, not an input error. */
	for (i = 0; i < sizeof(listen) / sizeof(listen[0]); i++) {
		int rc = config_parse_addr_port(listen[i], cfg->port,
						&cfg->listen[cfg->nlisten++].addr);

		util_assert_abort(rc == 0);
	}
	cfg->num_threads = 0;
	cfg->tcp_idle_timeout_ms = 10000;
	cfg->tcp_max_connections = 256;
	cfg->tcp_per_address = 16;
	cfg->queries_per_thread = 1024;
	cfg->jostle_timeout_ms = 200;
	cfg->so_rcvbuf = CONFIG_DEFAULT_SO_RCVBUF;
	cfg->so_sndbuf = 0;

	for (i = 0; i < sizeof(acl) / sizeof(acl[0]); i++) {
		struct config_acl *a = &cfg->acl[cfg->nacl++];
		unsigned prefix;
		int rc = parse_cidr(acl[i], &a->net, &prefix);

		util_assert_abort(rc == 0);
		a->prefix = (uint8_t)prefix;
		a->action = CONFIG_ACL_ALLOW;
	}

	/* What the modules own, they default: one place for each value. */
	struct upstream_opts up;
	struct resolver_opts res;
	struct cache_opts cache;
	upstream_opts_init(&up);
	resolver_opts_init(&res);
	cache_opts_init(&cache);

	cfg->root_hints[0] = '\0';
	cfg->do_ip4 = up.do_ip4;
	cfg->do_ip6 = up.do_ip6;
	cfg->do_not_query_localhost = up.do_not_query_localhost;
	cfg->use_caps_for_id = up.use_caps_for_id;
	cfg->unwanted_reply_threshold = up.unwanted_reply_threshold;
	cfg->edns_buffer_size = up.edns_buffer_size;
	cfg->client_share_percent = up.client_share_percent;
	cfg->outgoing_range = up.outgoing_range;
	cfg->outgoing4 = up.source4;
	cfg->outgoing6 = up.source6;
	cfg->qname_minimisation = res.qname_minimisation;
	cfg->harden_glue = res.harden_glue;
	cfg->harden_below_nxdomain = cache.harden_below_nxdomain;
	snprintf(cfg->control_socket, sizeof(cfg->control_socket), "/run/holdfast.sock");
	cfg->serve_stale = res.policy.serve_stale;
	cfg->stale_answer_ttl = res.policy.stale_answer_ttl;
	cfg->stale_refresh_time = res.policy.stale_refresh_time;
	cfg->empty_guard = res.policy.empty_guard;
	cfg->empty_hold = res.policy.empty_hold;
	cfg->stale_client_timeout_ms = 1800; /* RFC 8767 §5 suggests 1.8 s */
	/* DNS flag day 2020: answers to clients avoid IP fragmentation too. */
	cfg->max_udp_size = 1232;

	cfg->cache_min_ttl = cache.min_ttl;
	cfg->cache_max_ttl = cache.max_ttl;
	cfg->cache_max_negative_ttl = cache.max_negative_ttl;
	cfg->max_stale_ttl = cache.max_stale_ttl;
	cfg->cache_size = cache.max_bytes;

	cfg->verbosity = 1;
}

/* ---- the file reader ---------------------------------------------------- */

struct parser {
	struct config *cfg; /* the scratch copy being filled */
	const char *file;
	unsigned line;
	char *err;
	size_t errlen;
	bool listen_replaced; /* the first `interface:` dropped the previous set */
	bool acl_replaced;
	bool outgoing4_set, outgoing6_set;
	/* listen[i] had an explicit port; the others follow `port:` at the end */
	bool listen_port_given[CONFIG_MAX_LISTEN];
};

__attribute__((format(printf, 2, 3))) static int parser_fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!p->err || p->errlen == 0)
		return -1;
	if (p->line)
		n = snprintf(p->err, p->errlen, "%s:%u: ", p->file, p->line);
	else
		n = snprintf(p->err, p->errlen, "%s: ", p->file);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int parse_number(struct parser *p, const char *key, const char *val, unsigned long long min,
			unsigned long long max, unsigned long long *out)
{
	unsigned long long v;

	/*
	 * `*out` is written only on success, and failure returns a literal -1:
	 * parser_fail() is variadic, so the compiler cannot inline it to see
	 * that it always fails, and callers read their number after a 0.
	 */
	if (parse_ull(val, &v)) {
		parser_fail(p, "bad number '%s' for '%s'", val, key);
		return -1;
	}
	if (v < min || v > max) {
		parser_fail(p, "'%s' must be between %llu and %llu, not %llu", key, min, max, v);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_bool(struct parser *p, const char *key, const char *val, bool *out)
{
	if (strcasecmp(val, "yes") == 0)
		*out = true;
	else if (strcasecmp(val, "no") == 0)
		*out = false;
	else
		return parser_fail(p, "bad boolean '%s' for '%s' (expected yes or no)", val, key);
	return 0;
}

static int key_interface(struct parser *p, const char *key, const char *val)
{
	struct config *cfg = p->cfg;
	struct sockaddr_storage ss;

	if (config_parse_addr_port(val, cfg->port, &ss))
		return parser_fail(p, "bad address '%s' for '%s' (expected ADDR[@PORT])", val, key);
	if (!p->listen_replaced) {
		cfg->nlisten = 0;
		p->listen_replaced = true;
	}
	if (cfg->nlisten >= CONFIG_MAX_LISTEN)
		return parser_fail(p, "too many '%s' entries (at most %d)", key, CONFIG_MAX_LISTEN);
	p->listen_port_given[cfg->nlisten] = strchr(val, '@') || strstr(val, "]:");
	cfg->listen[cfg->nlisten++].addr = ss;
	return 0;
}

static int key_port(struct parser *p, const char *key, const char *val)
{
	unsigned long long v;

	if (parse_number(p, key, val, 1, 65535, &v))
		return -1;
	p->cfg->port = (uint16_t)v;
	return 0;
}

static int key_root_hints(struct parser *p, const char *key, const char *val)
{
	size_t len = strlen(val);

	if (len >= sizeof(p->cfg->root_hints))
		return parser_fail(p, "path for '%s' is too long", key);
	memcpy(p->cfg->root_hints, val, len + 1);
	return 0;
}

/* `stub-zone: NAME` / `forward-zone: NAME`: starts a zone; its servers follow. */
static int key_stub_zone(struct parser *p, const char *key, const char *val)
{
	struct config *cfg = p->cfg;
	ldns_rdf *name = NULL;
	if (cfg->nstubs >= CONFIG_MAX_STUBS)
		return parser_fail(p, "too many stub and forward zones (at most %d)",
				   CONFIG_MAX_STUBS);
	if (strlen(val) >= CONFIG_NAME_MAX || ldns_str2rdf_dname(&name, val) != LDNS_STATUS_OK)
		return parser_fail(p, "bad domain name '%s' for '%s'", val, key);
	ldns_rdf_deep_free(name);
	struct config_stub *stub = &cfg->stubs[cfg->nstubs++];
	memset(stub, 0, sizeof(*stub));
	snprintf(stub->zone, sizeof(stub->zone), "%s", val);
	stub->forward = strcmp(key, "forward-zone") == 0;
	return 0;
}

/* `stub-addr: ADDR[@PORT] [PROVIDER]` (and forward-addr) for the last zone. */
static int key_stub_addr(struct parser *p, const char *key, const char *val)
{
	struct config *cfg = p->cfg;
	bool forward = strcmp(key, "forward-addr") == 0;
	if (cfg->nstubs == 0 || cfg->stubs[cfg->nstubs - 1].forward != forward)
		return parser_fail(p, "'%s' must follow a '%s' line", key,
				   forward ? "forward-zone" : "stub-zone");
	struct config_stub *stub = &cfg->stubs[cfg->nstubs - 1];
	if (stub->naddrs >= CONFIG_MAX_STUB_ADDRS)
		return parser_fail(p, "too many '%s' lines for %s (at most %d)", key, stub->zone,
				   CONFIG_MAX_STUB_ADDRS);
	char addr[INET6_ADDRSTRLEN + 16];
	const char *sp = strpbrk(val, " \t");
	size_t alen = sp ? (size_t)(sp - val) : strlen(val);
	if (alen >= sizeof(addr))
		return parser_fail(p, "bad address '%s' for '%s'", val, key);
	memcpy(addr, val, alen);
	addr[alen] = '\0';
	if (config_parse_addr_port(addr, 53, &stub->addrs[stub->naddrs]) != 0)
		return parser_fail(p, "bad address '%s' for '%s' (expected ADDR[@PORT] [PROVIDER])",
				   addr, key);
	const char *prov = sp ? sp + strspn(sp, " \t") : "";
	size_t plen = strlen(prov);
	for (size_t i = 0; i < plen; i++)
		if (!isalnum((unsigned char)prov[i]) && prov[i] != '-')
			return parser_fail(p, "bad provider '%s' for '%s' (letters, digits, '-')",
					   prov, key);
	if (plen >= CONFIG_PROVIDER_MAX)
		return parser_fail(p, "provider name '%s' is too long", prov);
	memcpy(stub->provider[stub->naddrs], prov, plen + 1);
	stub->naddrs++;
	return 0;
}

static int key_control_socket(struct parser *p, const char *key, const char *val)
{
	size_t len = strlen(val);
	if (strcmp(val, "none") == 0) {
		p->cfg->control_socket[0] = '\0';
		return 0;
	}
	if (len >= sizeof(p->cfg->control_socket))
		return parser_fail(p, "path for '%s' is too long (at most %zu bytes)", key,
				   sizeof(p->cfg->control_socket) - 1);
	memcpy(p->cfg->control_socket, val, len + 1);
	return 0;
}

/* A domain name for the guard lists: checked here so typos fail at start. */
static int key_guard_zone(struct parser *p, const char *key, const char *val)
{
	bool exclude = strcmp(key, "empty-answer-guard-exclude") == 0;
	bool caps = strcmp(key, "caps-exempt") == 0;
	char(*list)[CONFIG_NAME_MAX] = caps	 ? p->cfg->caps_exempt
				       : exclude ? p->cfg->guard_exclude
						 : p->cfg->guard_include;
	size_t *n = caps      ? &p->cfg->ncaps_exempt
		    : exclude ? &p->cfg->nguard_exclude
			      : &p->cfg->nguard_include;
	size_t len = strlen(val);
	ldns_rdf *name = NULL;

	if (*n >= CONFIG_MAX_ZONES)
		return parser_fail(p, "too many '%s' lines (at most %d)", key, CONFIG_MAX_ZONES);
	if (len >= CONFIG_NAME_MAX || ldns_str2rdf_dname(&name, val) != LDNS_STATUS_OK)
		return parser_fail(p, "bad domain name '%s' for '%s'", val, key);
	ldns_rdf_deep_free(name);
	memcpy(list[(*n)++], val, len + 1);
	return 0;
}

static int key_access_control(struct parser *p, const char *key, const char *val)
{
	/* Unbound's names. The *_non_local variants differ from refuse and
	 * deny only for local data, which holdfast does not serve yet. */
	static const struct {
		const char *name;
		enum config_acl_action action;
	} actions[] = {
		{"allow", CONFIG_ACL_ALLOW},
		{"allow_snoop", CONFIG_ACL_ALLOW_SNOOP},
		{"allow_setrd", CONFIG_ACL_ALLOW_SETRD},
		{"refuse", CONFIG_ACL_REFUSE},
		{"refuse_non_local", CONFIG_ACL_REFUSE},
		{"deny", CONFIG_ACL_DENY},
		{"deny_non_local", CONFIG_ACL_DENY},
	};
	struct config *cfg = p->cfg;
	struct sockaddr_storage net;
	char cidr[INET6_ADDRSTRLEN + 8];
	const char *sp, *act;
	struct config_acl *a = NULL;
	unsigned prefix;
	size_t i, len;

	sp = strpbrk(val, " \t");
	if (!sp)
		return parser_fail(p, "'%s' needs a network and an action (e.g. 10.0.0.0/8 allow)",
				   key);
	len = (size_t)(sp - val);
	for (act = sp; *act == ' ' || *act == '\t'; act++)
		;
	if (len >= sizeof(cidr))
		return parser_fail(p, "bad CIDR '%.*s' for '%s'", (int)len, val, key);
	memcpy(cidr, val, len);
	cidr[len] = '\0';
	if (parse_cidr(cidr, &net, &prefix))
		return parser_fail(p, "bad CIDR '%s' for '%s'", cidr, key);
	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(act, actions[i].name) == 0)
			break;
	if (i == sizeof(actions) / sizeof(actions[0]))
		return parser_fail(p,
				   "bad action '%s' for '%s' (expected allow, allow_snoop, "
				   "allow_setrd, refuse or deny)",
				   act, key);

	if (!p->acl_replaced) {
		cfg->nacl = 0;
		p->acl_replaced = true;
	}
	/* the same network twice: the later line wins, as in Unbound */
	for (size_t j = 0; j < cfg->nacl; j++) {
		if (cfg->acl[j].prefix == prefix && cfg->acl[j].net.ss_family == net.ss_family &&
		    memcmp(&cfg->acl[j].net, &net, sizeof(net)) == 0)
			a = &cfg->acl[j];
	}
	if (!a) {
		if (cfg->nacl >= CONFIG_MAX_ACL)
			return parser_fail(p, "too many '%s' entries (at most %d)", key,
					   CONFIG_MAX_ACL);
		a = &cfg->acl[cfg->nacl++];
	}
	a->net = net;
	a->prefix = (uint8_t)prefix;
	a->action = actions[i].action;
	return 0;
}

static int key_outgoing_interface(struct parser *p, const char *key, const char *val)
{
	struct sockaddr_storage ss;
	bool *seen;

	if (parse_ip(val, &ss))
		return parser_fail(p, "bad address '%s' for '%s'", val, key);
	seen = ss.ss_family == AF_INET ? &p->outgoing4_set : &p->outgoing6_set;
	if (*seen)
		return parser_fail(p, "too many '%s' entries (at most one per address family)",
				   key);
	*seen = true;
	if (ss.ss_family == AF_INET)
		p->cfg->outgoing4 = ss;
	else
		p->cfg->outgoing6 = ss;
	return 0;
}

static int key_verbosity(struct parser *p, const char *key, const char *val)
{
	unsigned long long v;

	if (parse_number(p, key, val, 0, 5, &v))
		return -1;
	/* Unbound goes to 5; our most detailed level is 3 (debug) */
	p->cfg->verbosity = v > 3 ? 3 : (int)v;
	return 0;
}

/* Bytes with an optional k/m/g suffix (also kb/mb/gb, any case), as
 * Unbound, within [min, max]. 0 or -1 (the error written). */
static int parse_bytes(struct parser *p, const char *key, const char *val, uint64_t min,
		       uint64_t max, uint64_t *out)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {{"", 0}, {"k", 10}, {"kb", 10}, {"m", 20}, {"mb", 20}, {"g", 30}, {"gb", 30}};
	unsigned long long v;
	char *end;
	size_t i;

	if (!isdigit((unsigned char)val[0]))
		return parser_fail(p, "bad size '%s' for '%s'", val, key);
	errno = 0;
	v = strtoull(val, &end, 10);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcasecmp(end, units[i].suffix) == 0)
			break;
	if (errno || i == sizeof(units) / sizeof(units[0]))
		return parser_fail(p, "bad size '%s' for '%s' (expected bytes or a k/m/g suffix)",
				   val, key);
	if (v > (UINT64_MAX >> units[i].shift) || ((uint64_t)v << units[i].shift) < min ||
	    ((uint64_t)v << units[i].shift) > max)
		return parser_fail(p, "'%s' out of range: '%s'", key, val);
	*out = (uint64_t)v << units[i].shift;
	return 0;
}

static int key_cache_size(struct parser *p, const char *key, const char *val)
{
	return parse_bytes(p, key, val, 1, UINT64_MAX, &p->cfg->cache_size);
}

/* so-rcvbuf / so-sndbuf: bytes, 0 = the kernel's default; at most 1g (the
 * kernel takes an int and doubles it). */
static int key_sockbuf(struct parser *p, const char *key, const char *val)
{
	uint64_t v;
	if (parse_bytes(p, key, val, 0, CONFIG_MAX_SOCKBUF, &v) != 0)
		return -1;
	if (strcmp(key, "so-rcvbuf") == 0)
		p->cfg->so_rcvbuf = (uint32_t)v;
	else
		p->cfg->so_sndbuf = (uint32_t)v;
	return 0;
}

enum key_kind {
	KEY_BOOL,
	KEY_UNSIGNED,
	KEY_U16,
	KEY_U32,
	KEY_FUNC,
};

struct key_def {
	const char *name;
	enum key_kind kind;
	size_t offset; /* into struct config, for the plain kinds */
	unsigned long long min, max;
	int (*fn)(struct parser *p, const char *key, const char *val);
};

#define KEY_PLAIN(name, kind, field, min, max)                                                     \
	{                                                                                          \
		name, kind, offsetof(struct config, field), min, max, NULL                         \
	}
#define KEY_CALL(name, fn)                                                                         \
	{                                                                                          \
		name, KEY_FUNC, 0, 0, 0, fn                                                        \
	}

static const struct key_def keys[] = {
	KEY_CALL("interface", key_interface),
	KEY_CALL("port", key_port),
	KEY_PLAIN("num-threads", KEY_UNSIGNED, num_threads, 0, 1024),
	KEY_PLAIN("threads", KEY_UNSIGNED, num_threads, 0, 1024),
	KEY_PLAIN("tcp-idle-timeout", KEY_UNSIGNED, tcp_idle_timeout_ms, 1, 3600000),
	KEY_PLAIN("incoming-num-tcp", KEY_UNSIGNED, tcp_max_connections, 1, 65535),
	KEY_PLAIN("tcp-connections-per-address", KEY_UNSIGNED, tcp_per_address, 0, 65535),
	KEY_PLAIN("outgoing-range", KEY_UNSIGNED, outgoing_range, 1, 65535),
	KEY_PLAIN("num-queries-per-thread", KEY_UNSIGNED, queries_per_thread, 1, 1000000),
	KEY_PLAIN("jostle-timeout", KEY_UNSIGNED, jostle_timeout_ms, 0, 60000),
	KEY_PLAIN("upstream-client-share", KEY_UNSIGNED, client_share_percent, 0, 50),
	KEY_CALL("so-rcvbuf", key_sockbuf),
	KEY_CALL("so-sndbuf", key_sockbuf),
	KEY_CALL("access-control", key_access_control),
	KEY_CALL("root-hints", key_root_hints),
	KEY_PLAIN("do-ip4", KEY_BOOL, do_ip4, 0, 0),
	KEY_PLAIN("do-ip6", KEY_BOOL, do_ip6, 0, 0),
	KEY_PLAIN("do-not-query-localhost", KEY_BOOL, do_not_query_localhost, 0, 0),
	KEY_PLAIN("qname-minimisation", KEY_BOOL, qname_minimisation, 0, 0),
	KEY_PLAIN("harden-glue", KEY_BOOL, harden_glue, 0, 0),
	KEY_PLAIN("harden-below-nxdomain", KEY_BOOL, harden_below_nxdomain, 0, 0),
	KEY_PLAIN("use-caps-for-id", KEY_BOOL, use_caps_for_id, 0, 0),
	KEY_CALL("caps-exempt", key_guard_zone),
	KEY_PLAIN("unwanted-reply-threshold", KEY_UNSIGNED, unwanted_reply_threshold, 0, 1000000),
	KEY_PLAIN("edns-buffer-size", KEY_U16, edns_buffer_size, 512, 4096),
	KEY_PLAIN("max-udp-size", KEY_U16, max_udp_size, 512, 65535),
	KEY_CALL("outgoing-interface", key_outgoing_interface),
	KEY_PLAIN("cache-min-ttl", KEY_U32, cache_min_ttl, 0, CONFIG_MAX_TTL),
	KEY_PLAIN("cache-max-ttl", KEY_U32, cache_max_ttl, 0, CONFIG_MAX_TTL),
	KEY_PLAIN("cache-max-negative-ttl", KEY_U32, cache_max_negative_ttl, 0, CONFIG_MAX_TTL),
	KEY_PLAIN("max-stale-ttl", KEY_U32, max_stale_ttl, 0, CONFIG_MAX_TTL),
	KEY_CALL("cache-size", key_cache_size),
	KEY_CALL("msg-cache-size", key_cache_size),
	KEY_CALL("rrset-cache-size", key_cache_size),
	KEY_CALL("verbosity", key_verbosity),
	KEY_PLAIN("serve-stale", KEY_BOOL, serve_stale, 0, 0),
	KEY_PLAIN("serve-expired", KEY_BOOL, serve_stale, 0, 0),
	KEY_PLAIN("stale-answer-ttl", KEY_U32, stale_answer_ttl, 0, CONFIG_MAX_TTL),
	KEY_PLAIN("serve-expired-reply-ttl", KEY_U32, stale_answer_ttl, 0, CONFIG_MAX_TTL),
	KEY_PLAIN("serve-expired-ttl", KEY_U32, max_stale_ttl, 0, CONFIG_MAX_TTL),
	KEY_PLAIN("stale-answer-client-timeout", KEY_UNSIGNED, stale_client_timeout_ms, 0, 60000),
	KEY_PLAIN("serve-expired-client-timeout", KEY_UNSIGNED, stale_client_timeout_ms, 0, 60000),
	KEY_PLAIN("stale-refresh-time", KEY_U32, stale_refresh_time, 0, 86400),
	KEY_PLAIN("empty-answer-guard", KEY_BOOL, empty_guard, 0, 0),
	KEY_PLAIN("empty-answer-hold", KEY_U32, empty_hold, 0, 7ull * 86400),
	KEY_CALL("empty-answer-guard-zone", key_guard_zone),
	KEY_CALL("control-socket", key_control_socket),
	KEY_CALL("stub-zone", key_stub_zone),
	KEY_CALL("forward-zone", key_stub_zone),
	KEY_CALL("stub-addr", key_stub_addr),
	KEY_CALL("forward-addr", key_stub_addr),
	KEY_CALL("empty-answer-guard-exclude", key_guard_zone),
};

static int parser_apply(struct parser *p, const char *key, const char *val)
{
	const struct key_def *k = NULL;
	unsigned long long v;
	char *field;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(keys[i].name, key) == 0) {
			k = &keys[i];
			break;
		}
	}
	if (!k)
		return parser_fail(p, "unknown option '%s'", key);
	if (*val == '\0')
		return parser_fail(p, "missing value for '%s'", key);
	if (k->kind == KEY_FUNC)
		return k->fn(p, key, val);

	field = (char *)p->cfg + k->offset;
	if (k->kind == KEY_BOOL)
		return parse_bool(p, key, val, (bool *)field);
	if (parse_number(p, key, val, k->min, k->max, &v))
		return -1;
	if (k->kind == KEY_UNSIGNED)
		*(unsigned *)field = (unsigned)v;
	else if (k->kind == KEY_U16)
		*(uint16_t *)field = (uint16_t)v;
	else
		*(uint32_t *)field = (uint32_t)v;
	return 0;
}

/*
 * One line, modified in place. A `#` starts a comment at the start of the
 * line or after whitespace; elsewhere it is part of the value, as in
 * Unbound, where `#` can appear inside a value only when quoted or glued to
 * text.
 */
static int parser_line(struct parser *p, char *s)
{
	char *key, *key_end, *val, *end;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || *s == '#')
		return 0;

	key = s;
	while (*s && *s != ':' && !isspace((unsigned char)*s))
		s++;
	key_end = s;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != ':') {
		*key_end = '\0';
		return parser_fail(p, "missing ':' after '%s' (expected 'key: value')", key);
	}
	*key_end = '\0';
	s++;
	while (isspace((unsigned char)*s))
		s++;

	if (*s == '"') {
		val = ++s;
		end = strchr(s, '"');
		if (!end)
			return parser_fail(p, "unterminated quote in value of '%s'", key);
		*end++ = '\0';
		while (isspace((unsigned char)*end))
			end++;
		if (*end != '\0' && *end != '#')
			return parser_fail(p, "unexpected text after quoted value of '%s'", key);
	} else {
		val = s;
		for (end = s; *end; end++) {
			if (*end == '#' && end > s && isspace((unsigned char)end[-1])) {
				*end = '\0';
				break;
			}
		}
		end = val + strlen(val);
		while (end > val && isspace((unsigned char)end[-1]))
			*--end = '\0';
	}

	if (strcmp(key, "server") == 0) {
		if (*val != '\0')
			return parser_fail(p, "'server:' is a section header and takes no value");
		return 0;
	}
	if (*key == '\0')
		return parser_fail(p, "missing option name before ':'");
	return parser_apply(p, key, val);
}

/* Cross-key checks that no single line can make. */
static int parser_finish(struct parser *p)
{
	struct config *cfg = p->cfg;
	size_t i;

	p->line = 0;
	/* `port:` may come after the `interface:` lines it applies to */
	for (i = 0; i < cfg->nlisten; i++)
		if (!p->listen_port_given[i])
			util_sockaddr_set_port(&cfg->listen[i].addr, cfg->port);
	if (cfg->cache_min_ttl > cfg->cache_max_ttl)
		return parser_fail(p, "cache-min-ttl (%u) is greater than cache-max-ttl (%u)",
				   cfg->cache_min_ttl, cfg->cache_max_ttl);
	for (i = 0; i < cfg->nstubs; i++)
		if (cfg->stubs[i].naddrs == 0)
			return parser_fail(p, "%s-zone %s has no %s-addr line",
					   cfg->stubs[i].forward ? "forward" : "stub",
					   cfg->stubs[i].zone,
					   cfg->stubs[i].forward ? "forward" : "stub");
	if (!cfg->do_ip4 && !cfg->do_ip6)
		return parser_fail(p,
				   "do-ip4 and do-ip6 are both 'no': no way to reach any server");
	return 0;
}

int config_parse_text(struct config *cfg, const char *name, const char *text, size_t len, char *err,
		      size_t errlen)
{
	struct parser p = {.file = name, .err = err, .errlen = errlen};
	int ret = -1;
	char *buf;
	size_t i;

	if (err && errlen)
		err[0] = '\0';
	p.cfg = malloc(sizeof(*p.cfg));
	buf = malloc(len + 1); /* parser_line() edits its line in place */
	if (!p.cfg || !buf) {
		parser_fail(&p, "out of memory");
		goto out_free;
	}
	memcpy(p.cfg, cfg, sizeof(*cfg)); /* padding too: callers may memcmp */
	if (len)
		memcpy(buf, text, len);
	buf[len] = '\0';
	/*
	 * Listeners inherited from the defaults (or an earlier file) that use
	 * the default port follow a `port:` line in this file too.
	 */
	for (i = 0; i < cfg->nlisten; i++)
		p.listen_port_given[i] =
			util_sockaddr_port((const struct sockaddr *)&cfg->listen[i].addr) !=
			cfg->port;

	for (size_t off = 0; off < len;) {
		char *line = buf + off;
		char *nl = memchr(line, '\n', len - off);
		size_t n = nl ? (size_t)(nl - line) : len - off;

		off += n + (nl ? 1 : 0);
		line[n] = '\0';
		p.line++;
		if (strlen(line) != n) {
			parser_fail(&p, "NUL byte in line");
			goto out_free;
		}
		while (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (parser_line(&p, line))
			goto out_free;
	}
	if (parser_finish(&p))
		goto out_free;
	memcpy(cfg, p.cfg, sizeof(*cfg));
	ret = 0;
out_free:
	free(buf);
	free(p.cfg);
	return ret;
}

int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
	struct parser p = {.file = path, .err = err, .errlen = errlen};
	char *text = NULL;
	size_t len = 0, cap = 0;
	int ret = -1;
	FILE *fp;

	if (err && errlen)
		err[0] = '\0';
	fp = fopen(path, "r");
	if (!fp)
		return parser_fail(&p, "cannot open: %s", strerror(errno));
	for (;;) {
		if (cap - len < 4096) {
			char *nt = realloc(text, cap + 65536);
			if (!nt) {
				parser_fail(&p, "out of memory");
				goto out_close;
			}
			text = nt;
			cap += 65536;
		}
		errno = 0;
		size_t n = fread(text + len, 1, cap - len, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		parser_fail(&p, "read error: %s", strerror(errno ? errno : EIO));
		goto out_close;
	}
	ret = config_parse_text(cfg, path, text, len, err, errlen);
out_close:
	fclose(fp);
	free(text);
	return ret;
}
