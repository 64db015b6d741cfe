/*
 * fuzz_answer — the last step of the resolver harnesses: whatever the
 * replies did, the request's answer must be writable for a client (the
 * path daemon/reply.c takes), in the client's case, with EDNS and its EDE.
 */
#pragma once
#include <stdint.h>
#include <string.h>

#include "dns/dns.h"
#include "resolver/resolver.h"
#include "fuzz/fuzz_check.h"

static inline void fuzz_check_client_answer(const struct resolver_request *req,
					    const ldns_rdf *qname)
{
	static uint8_t out[65536];
	uint8_t wire_name[DNS_NAME_MAX];
	size_t qlen = ldns_rdf_size(qname);
	const ldns_pkt *answer = resolver_answer(req);

	CHECK(answer);
	CHECK(qlen <= sizeof(wire_name));
	memcpy(wire_name, ldns_rdf_data(qname), qlen);
	struct dns_answer_opts ao = {.id = 1,
				     .rd = true,
				     .qname_wire = wire_name,
				     .qname_len = (uint8_t)qlen,
				     .edns = true,
				     .max_size = 1232,
				     .ede_code = resolver_answer_ede(req)};
	CHECK(dns_write_answer(answer, &ao, out, sizeof(out)) > 0);
}
