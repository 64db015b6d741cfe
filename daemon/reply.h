/*
 * reply — the DNS messages a client gets back, written and handed to the
 * client (client.h): error answers, the RFC 8482 answer to ANY, and an
 * answer from the resolver shaped for one client (its ID, letter case,
 * EDNS and size limit). Knows neither the transport nor resolution.
 *
 * `buf` is scratch for one message, one per worker: the client copies what
 * it sends, so the next reply may reuse it at once.
 */
#pragma once
#include <stdint.h>
#include <ldns/ldns.h>

#include "dns/dns.h"

struct client;

struct reply_buf {
	uint8_t b[65536 + 2]; /* any DNS message, with room to patch one in place */
};

/* A header-only answer with `rcode` (and the question, when it was read). */
void reply_error(struct reply_buf *buf, const struct client *c, const struct dns_query_view *q,
		 int rcode);
/* The same with an Extended DNS Error (RFC 8914) if the client used EDNS. */
void reply_error_ede(struct reply_buf *buf, const struct client *c, const struct dns_query_view *q,
		     int rcode, int ede, const char *text);
/* `answer` (rcode + sections) shaped for this client; EDE when ede >= 0.
 * SERVFAIL when `answer` is NULL or cannot be written. */
void reply_answer(struct reply_buf *buf, const struct client *c, const struct dns_query_view *q,
		  const ldns_pkt *answer, int ede);
/* RFC 8482 minimal answer to QTYPE=ANY. */
void reply_any(struct reply_buf *buf, const struct client *c, const struct dns_query_view *q);
