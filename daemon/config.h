/*
 * config — the daemon's configuration: built-in defaults, the config file
 * (Unbound-style `key: value` lines, `#` comments) and command-line
 * overrides. Validation happens here; every error names file, line and what
 * is wrong. No resolution logic, no I/O beyond reading the file.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CONFIG_MAX_LISTEN 32
#define CONFIG_MAX_ACL 64
#define CONFIG_MAX_ZONES 64
#define CONFIG_NAME_MAX 256 /* a domain name in presentation form */
#define CONFIG_MAX_STUBS 16
#define CONFIG_MAX_STUB_ADDRS 16
#define CONFIG_PROVIDER_MAX 64
/* so-rcvbuf default: 4 MB holds ~5000 small queries (a loopback datagram
 * costs ~800 bytes of buffer), ~40 ms of arrivals at 100k queries/s per
 * worker: a worker descheduled for a time slice on a busy machine does
 * not lose them. The kernel's default (212992) holds ~2 ms of them. */
#define CONFIG_DEFAULT_SO_RCVBUF ((uint32_t)4 << 20)
#define CONFIG_MAX_SOCKBUF ((uint64_t)1 << 30)

/*
 * A stub zone (authoritative servers for a zone, e.g. a corporate zone) or
 * a forward zone (recursive resolvers that answer for it), with each
 * server's provider: servers of different providers fail over to each other
 * and are hedged across, as NS sets of different registrable domains are.
 */
struct config_stub {
	char zone[CONFIG_NAME_MAX];
	bool forward;
	struct sockaddr_storage addrs[CONFIG_MAX_STUB_ADDRS];	   /* port included */
	char provider[CONFIG_MAX_STUB_ADDRS][CONFIG_PROVIDER_MAX]; /* "" = its own */
	size_t naddrs;
};

struct config_listen {
	struct sockaddr_storage addr; /* port included */
};

enum config_acl_action {
	CONFIG_ACL_ALLOW,	/* recursive queries (RD=1) answered; RD=0 ones REFUSED */
	CONFIG_ACL_ALLOW_SNOOP, /* RD=0 queries answered too (cache snooping) */
	CONFIG_ACL_ALLOW_SETRD, /* every query treated as RD=1 (Unbound's allow_setrd) */
	CONFIG_ACL_REFUSE,	/* answer REFUSED */
	CONFIG_ACL_DENY,	/* drop silently */
};

struct config_acl {
	struct sockaddr_storage net; /* network address (host bits zero) */
	uint8_t prefix;		     /* prefix length */
	enum config_acl_action action;
};

struct config {
	/* listening */
	struct config_listen listen[CONFIG_MAX_LISTEN];
	size_t nlisten;
	uint16_t port;		      /* default port for `interface:` without @PORT (53) */
	unsigned num_threads;	      /* 0 = number of CPUs */
	unsigned tcp_idle_timeout_ms; /* tcp-idle-timeout (default 10000) */
	unsigned tcp_max_connections; /* incoming-num-tcp, per worker as in Unbound (256) */
	unsigned queries_per_thread;  /* num-queries-per-thread: resolutions per worker (1024) */
	unsigned jostle_timeout_ms;   /* jostle-timeout: age before one may be ended (200) */
	unsigned tcp_per_address; /* tcp-connections-per-address, whole process (16; 0 = no cap) */
	unsigned outgoing_range;  /* outgoing-range: upstream sockets per worker (4096) */
	uint32_t so_rcvbuf;	  /* so-rcvbuf: client UDP sockets, bytes (4m; 0 = kernel's) */
	uint32_t so_sndbuf;	  /* so-sndbuf: client UDP sockets, bytes (0 = kernel's) */
	/* upstream-client-share: % of a zone's in-flight cap and of the retry
	 * budget a client /24 or /56 keeps once contended (25; 0 = off) */
	unsigned client_share_percent;

	/* access control; longest prefix wins; default: only localhost allowed */
	struct config_acl acl[CONFIG_MAX_ACL];
	size_t nacl;

	/* iteration */
	char root_hints[4096]; /* path; empty = built-in root hints */
	bool do_ip4, do_ip6;
	bool do_not_query_localhost;
	bool qname_minimisation;
	bool harden_glue;
	bool harden_below_nxdomain;		      /* RFC 8020 (yes) */
	bool use_caps_for_id;			      /* 0x20 in upstream names (yes) */
	unsigned unwanted_reply_threshold;	      /* per (server, zone) -> TCP (10; 0 = off) */
	uint16_t edns_buffer_size;		      /* upstream (1232) */
	uint16_t max_udp_size;			      /* largest UDP answer to clients (1232) */
	struct sockaddr_storage outgoing4, outgoing6; /* outgoing-interface; AF_UNSPEC = any */

	/* cache */
	uint32_t cache_min_ttl;		 /* 0 */
	uint32_t cache_max_ttl;		 /* 86400 */
	uint32_t cache_max_negative_ttl; /* 3600 */
	uint32_t max_stale_ttl;		 /* 86400 */
	uint64_t cache_size; /* bytes; msg-cache-size/rrset-cache-size style, default 64m */

	/* serve-stale (RFC 8767) and the empty-answer guard */
	bool serve_stale;		  /* serve-stale (yes); alias serve-expired */
	uint32_t stale_answer_ttl;	  /* 30 s; alias serve-expired-reply-ttl */
	unsigned stale_client_timeout_ms; /* stale-answer-client-timeout (1800 ms) */
	uint32_t stale_refresh_time;	  /* 30 s */
	bool empty_guard;		  /* empty-answer-guard (yes) */
	uint32_t empty_hold;		  /* empty-answer-hold (600 s) */
	/* empty-answer-guard-zone / -exclude: names (and below) guarded or not */
	char guard_include[CONFIG_MAX_ZONES][CONFIG_NAME_MAX];
	size_t nguard_include;
	char guard_exclude[CONFIG_MAX_ZONES][CONFIG_NAME_MAX];
	size_t nguard_exclude;

	/* caps-exempt: names (and below) sent without 0x20 */
	char caps_exempt[CONFIG_MAX_ZONES][CONFIG_NAME_MAX];
	size_t ncaps_exempt;

	char control_socket[108]; /* control-socket: unix socket path, "" = none */

	/* stub-zone / stub-addr, forward-zone / forward-addr */
	struct config_stub stubs[CONFIG_MAX_STUBS];
	size_t nstubs;

	int verbosity; /* 0 err .. 3 debug (default 1 = warnings) */
};

/* Fills built-in defaults (listen on 127.0.0.1@53 and ::1@53, ACL localhost). */
void config_defaults(struct config *cfg);

/*
 * Reads `path` over `cfg` (which holds defaults). On error returns -1 and
 * writes "FILE:LINE: what is wrong" into err. An unknown key is an error.
 * The first `interface:` line replaces the default listen set; later ones add.
 */
int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen);
/*
 * The same reader over `len` bytes of text in memory (need not be
 * NUL-terminated); `name` stands for the file in messages. Opens no file:
 * the config has no include. config_load_file() reads the file and calls it.
 */
int config_parse_text(struct config *cfg, const char *name, const char *text, size_t len, char *err,
		      size_t errlen);

/* Parses "ADDR[@PORT]" (IPv4 or IPv6, port default `default_port`). 0 or -1. */
int config_parse_addr_port(const char *s, uint16_t default_port, struct sockaddr_storage *out);

/* Looks up the ACL action for a client address. */
enum config_acl_action config_acl_check(const struct config *cfg, const struct sockaddr *addr);
