/*
 * caps_cost — CPU cost of 0x20 on one leg (issue 12): drawing the case
 * pattern into the query buffer (upstream_wire_caps(), CSPRNG words from
 * util/random.h) and the exact match of the reply against it
 * (upstream_wire_match_name(), exact), beside the plain case-insensitive
 * match of the same reply, plus the restore of the question case. Prints
 * ns per call, median of a few rounds. A measuring tool, not a test: it
 * asserts nothing about time (bench/README.md).
 *
 *	build/bench/caps_cost [calls]     (default 1000000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "upstream/impl.h"

#define ROUNDS 5

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

enum op { OP_DRAW, OP_MATCH_PLAIN, OP_MATCH_EXACT, OP_RESTORE, OP_COUNT };
static const char *const op_name[] = {
	[OP_DRAW] = "draw case pattern (upstream_wire_caps)",
	[OP_MATCH_PLAIN] = "match, case-insensitive",
	[OP_MATCH_EXACT] = "match, exact (0x20)",
	[OP_RESTORE] = "restore question case",
};

int main(int argc, char **argv)
{
	long calls = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
	const char *text = "www.mail.example-company.co.uk.";
	ldns_rdf *qname = ldns_dname_new_frm_str(text);
	uint8_t query[UPSTREAM_QUERY_MAX];
	uint8_t reply[UPSTREAM_QUERY_MAX];
	volatile unsigned sink = 0;

	if (qname == NULL || calls <= 0)
		return 1;
	int len = upstream_wire_query(query, sizeof(query), 0x1234, qname, LDNS_RR_TYPE_A,
				      LDNS_RR_CLASS_IN, 1232, false, false);
	if (len < 0)
		return 1;
	size_t nlen = ldns_rdf_size(qname);
	memcpy(reply, query, (size_t)len);
	reply[2] |= 0x80; /* QR=1: the query echoed as a reply */
	upstream_wire_caps(query + 12, nlen, NULL);
	memcpy(reply + 12, query + 12, nlen); /* a case-preserving server */

	printf("%-42s %10s\n", "name: www.mail.example-company.co.uk.", "ns/call");
	for (int op = 0; op < OP_COUNT; op++) {
		double t[ROUNDS];
		for (int r = 0; r < ROUNDS; r++) {
			double t0 = now_ns();
			for (long i = 0; i < calls; i++) {
				switch (op) {
				case OP_DRAW:
					sink += upstream_wire_caps(query + 12, nlen, NULL);
					break;
				case OP_MATCH_PLAIN:
					sink += upstream_wire_match(reply, (size_t)len, 0x1234,
								    qname, LDNS_RR_TYPE_A,
								    LDNS_RR_CLASS_IN);
					break;
				case OP_MATCH_EXACT:
					sink += upstream_wire_match_name(
						reply, (size_t)len, 0x1234, reply + 12, nlen,
						LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, true);
					break;
				default:
					upstream_wire_restore_qname(reply, (size_t)len,
								    ldns_rdf_data(qname), nlen);
					sink += reply[13];
					break;
				}
			}
			t[r] = (now_ns() - t0) / (double)calls;
		}
		qsort(t, ROUNDS, sizeof(t[0]), cmp);
		printf("%-42s %10.1f\n", op_name[op], t[ROUNDS / 2]);
	}
	ldns_rdf_deep_free(qname);
	return sink == 0xffffffffu;
}
