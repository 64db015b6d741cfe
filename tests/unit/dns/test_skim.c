/* Unit tests for dns/skim.c: dns_wire_skim() walks a hostile message
 * without reading outside it. Each case gets an exact-size copy so ASan sees
 * any overread. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dns/dns.h"

/* www.example.com A IN, one answer (pointer to the question), one OPT. */
static const uint8_t msg[] =
	{
		0x12, 0x34, 0x81, 0x80, 0,    1,   0,	1,   0,	   0,	0,   1, /* header */
		3,    'w',  'w',  'w',	7,    'e', 'x', 'a', 'm',  'p', 'l', 'e', 3,
		'c',  'o',  'm',  0,	0,    1,   0,	1,   0xc0, 12,	0,   1,	  0,
		1,    0,    0,	  0,	60,   0,   4,	192, 0,	   2,	1, /* answer */
		0,    0,    41,	  4,	0xd0, 0,   0,	0,   0,	   0,	0, /* OPT */
};
#define ANSWER_AT 33

static bool skim(const uint8_t *w, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, w, len);
	bool ok = dns_wire_skim(copy, len);
	free(copy);
	return ok;
}

static void test_skim_accepts_a_sound_message(void **state)
{
	assert_true(skim(msg, sizeof(msg)));
	/* Trailing octets after the last record are not the skim's concern. */
	uint8_t longer[sizeof(msg) + 2] = {0};
	memcpy(longer, msg, sizeof(msg));
	assert_true(skim(longer, sizeof(longer)));
}

static void test_skim_rejects_every_truncation(void **state)
{
	for (size_t len = 0; len < sizeof(msg); len++)
		assert_false(skim(msg, len));
}

static void test_skim_rejects_counts_beyond_the_records(void **state)
{
	uint8_t w[sizeof(msg)];
	for (size_t at = 4; at < 12; at += 2) {
		memcpy(w, msg, sizeof(w));
		w[at + 1]++;
		assert_false(skim(w, sizeof(w)));
	}
	/* 65535 answers claimed: bounded by the message, not by the count. */
	memcpy(w, msg, sizeof(w));
	w[6] = 0xff, w[7] = 0xff;
	assert_false(skim(w, sizeof(w)));
}

static void test_skim_rejects_bad_names_and_rdata(void **state)
{
	uint8_t w[sizeof(msg)];

	/* A compression pointer forward (to itself): a loop, never followed. */
	memcpy(w, msg, sizeof(w));
	w[ANSWER_AT + 1] = ANSWER_AT;
	assert_false(skim(w, sizeof(w)));
	/* An extended label type (0x40) in the question. */
	memcpy(w, msg, sizeof(w));
	w[12] = 0x43;
	assert_false(skim(w, sizeof(w)));
	/* RDLENGTH past the end of the message. */
	memcpy(w, msg, sizeof(w));
	w[ANSWER_AT + 11] = 200;
	assert_false(skim(w, sizeof(w)));
	/* A header alone, no question, no records: sound. */
	static const uint8_t head[12] = {0x12, 0x34, 0x81, 0x80};
	assert_true(skim(head, sizeof(head)));
	assert_false(dns_wire_skim(NULL, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_skim_accepts_a_sound_message),
		cmocka_unit_test(test_skim_rejects_every_truncation),
		cmocka_unit_test(test_skim_rejects_counts_beyond_the_records),
		cmocka_unit_test(test_skim_rejects_bad_names_and_rdata),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
