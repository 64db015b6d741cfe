/*
 * dns — the wire-format layer.
 *
 * Two parts:
 *  - the hot-path reader of client queries (header + question + OPT), small,
 *    hand-written, bounds-checked and fuzzed (query_reader.c);
 *  - the ldns boundary (message.c, name.c): parsing upstream responses,
 *    writing upstream queries, writing client answers with truncation and
 *    EDNS (incl. Extended DNS Errors), name helpers.
 *
 * No state, no I/O. ldns_status never escapes this module: functions return
 * 0 or a negative errno-style code. ldns data types (ldns_pkt, ldns_rr,
 * ldns_rdf) are the shared vocabulary of resolver/ and cache/.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ldns/ldns.h>

#define DNS_NAME_MAX 255
/* A name in presentation form, escapes included, with its NUL: at most
 * 4 * 250 octets of text (every octet as \DDD) and 4 dots (a 255-octet name
 * has at least 4 labels) fit. */
#define DNS_NAME_MAX_TEXT 1024
#define DNS_HEADER_LEN 12
#define DNS_UDP_MIN 512
#define DNS_MSG_MAX 65535

/* RCODEs we generate (RFC 1035, 6891). */
enum {
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5,
	DNS_RCODE_BADVERS = 16, /* extended: upper 8 bits go into the OPT TTL */
};

/* Extended DNS Error codes we use (RFC 8914). */
enum {
	DNS_EDE_OTHER = 0,
	DNS_EDE_STALE_ANSWER = 3,
	DNS_EDE_NOT_READY = 14,
	DNS_EDE_PROHIBITED = 18,
	DNS_EDE_STALE_NXDOMAIN = 19,
	DNS_EDE_NO_REACHABLE_AUTHORITY = 22,
	DNS_EDE_NETWORK_ERROR = 23,
};

/* ---- a response's structure, before it is parsed (skim.c) ---------------- */

/*
 * True when every question and record of `wire` lies inside its `len`
 * bytes (names well formed, compression pointers backwards, RDATA within
 * bounds). No allocation; does not interpret RDATA.
 */
bool dns_wire_skim(const uint8_t *wire, size_t len);

/* ---- hot path: reading a client query ---------------------------------- */

/* What dns_read_query() found. */
enum dns_read_status {
	DNS_READ_OK = 0,
	DNS_READ_DROP,	  /* not worth an answer: shorter than a header, or QR=1 */
	DNS_READ_FORMERR, /* malformed: answer FORMERR (question echoed if readable) */
	DNS_READ_NOTIMP,  /* opcode other than QUERY: answer NOTIMP */
	DNS_READ_BADVERS, /* EDNS version > 0: answer BADVERS (RFC 6891 §6.1.3) */
};

struct dns_query_view {
	uint16_t id;
	uint16_t flags; /* the header's flag word as received */
	uint8_t opcode;
	bool rd, cd;
	bool has_question;	     /* question section read successfully */
	uint8_t qname[DNS_NAME_MAX]; /* uncompressed wire form, case as received */
	uint8_t qname_len;	     /* including the root label */
	uint16_t qtype, qclass;
	bool has_edns;
	uint16_t edns_udp_size; /* as advertised (raw) */
	uint8_t edns_version;
	bool edns_do;
	bool has_cookie; /* client sent a COOKIE option (not yet answered) */
};

/*
 * Reads a client query. Never reads outside [wire, wire+len). Accepts
 * exactly one question (QDCOUNT=1), no answer records, and at most one OPT
 * in the additional section (other additional records, e.g. TSIG, are
 * skipped over but must be well-formed). Compression pointers are rejected
 * in the question (a query has nothing to point at).
 */
enum dns_read_status dns_read_query(const uint8_t *wire, size_t len, struct dns_query_view *q);

/*
 * Writes a header-only error response (with the question when
 * q->has_question, and an OPT record when the client sent EDNS) into `out`.
 * Returns the length written, or a negative errno if `cap` is too small.
 */
int dns_write_error(const struct dns_query_view *q, int rcode, uint8_t *out, size_t cap);
/* The same with an Extended DNS Error (RFC 8914) when the query had EDNS
 * (`ede_code` -1: none; `ede_text` may be NULL). */
int dns_write_error_ede(const struct dns_query_view *q, int rcode, int ede_code,
			const char *ede_text, uint8_t *out, size_t cap);

/* ---- names ------------------------------------------------------------- */

/* Lower-cases an uncompressed wire name in place (ASCII only, RFC 4343). */
void dns_name_lower(uint8_t *name, size_t len);
/* Number of labels, not counting the root. */
int dns_name_label_count(const ldns_rdf *name);
/* True when `name` equals `zone` or is below it (case-insensitive). */
bool dns_name_is_subdomain(const ldns_rdf *name, const ldns_rdf *zone);
/* The last `labels` labels of `name` (0 gives the root); caller frees. */
ldns_rdf *dns_name_suffix(const ldns_rdf *name, int labels);
/* Printable form for logs into `buf` (always NUL-terminated). */
const char *dns_name_str(const ldns_rdf *name, char *buf, size_t cap);
/*
 * The same for an uncompressed wire name of `len` octets: the master-file
 * form (RFC 1035 §5.1, "." for the root, special and non-printable octets
 * escaped), cut to `cap` and always NUL-terminated; "(no name)" for NULL or
 * len 0. Stops at the root label, a compression pointer or the end of
 * `wire`. Returns `out`.
 */
const char *dns_name_wire_str(const uint8_t *wire, size_t len, char *out, size_t cap);
/* A new rdf from an uncompressed wire name; NULL on bad input. */
ldns_rdf *dns_name_from_wire(const uint8_t *wire, size_t len);

/* ---- messages (ldns boundary) ------------------------------------------ */

/* Parses a full message. 0 and *out set, or -EBADMSG. Caller frees *out. */
int dns_parse(const uint8_t *wire, size_t len, ldns_pkt **out);

/*
 * Writes an upstream query: given ID, RD=0, one question, and an OPT record
 * advertising `edns_size` (no OPT when edns_size == 0). Returns the length,
 * or a negative errno.
 */
int dns_write_query(uint8_t *out, size_t cap, uint16_t id, const ldns_rdf *qname, uint16_t qtype,
		    uint16_t qclass, uint16_t edns_size, bool dnssec_ok);

/* What the client asked for, to shape the answer. */
struct dns_answer_opts {
	uint16_t id;
	bool rd, cd;
	const uint8_t *qname_wire; /* the client's question name, case preserved */
	uint8_t qname_len;
	bool edns; /* client used EDNS: answer with OPT */
	bool edns_do;
	uint16_t max_size;    /* client's UDP limit (already clamped), or 65535 for TCP */
	int ede_code;	      /* -1 for none */
	const char *ede_text; /* may be NULL */
};

/*
 * Writes `answer` (rcode + sections, built by the resolver) for a client:
 * ID, QR=1, RA=1, RD/CD copied, the question in the client's letter case,
 * OPT when the client used EDNS (with the EDE option when requested). When
 * the result exceeds opts->max_size it is cut to the header, question and
 * OPT with TC=1. Returns the length, or a negative errno.
 */
int dns_write_answer(const ldns_pkt *answer, const struct dns_answer_opts *opts, uint8_t *out,
		     size_t cap);

/* ---- the fast path: cached wire answers -------------------------------- */

/*
 * Finds the TTL field of every record (OPT excepted) in a message we wrote:
 * their offsets into `offsets` (at most `cap`) and the smallest TTL into
 * *min_ttl. The count, or -EBADMSG / -ENOSPC.
 */
int dns_answer_ttl_offsets(const uint8_t *msg, size_t len, uint16_t *offsets, size_t cap,
			   uint32_t *min_ttl);
/*
 * Shapes a cached answer (a message without OPT, TTLs already counted down)
 * for the client `q`: its ID, RD/CD, QR=1 RA=1 AA=0 TC=0 AD=0, the question
 * name in its letter case, and an OPT record when it used EDNS. `cap` is the
 * buffer's size. The new length, or a negative errno.
 */
int dns_patch_cached_answer(uint8_t *msg, size_t len, size_t cap, const struct dns_query_view *q);
