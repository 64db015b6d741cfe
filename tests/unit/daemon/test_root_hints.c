/*
 * Unit tests for daemon/root_hints.c: the built-in hints parse into the 13
 * root servers with both addresses, conf/root.hints says the same, and
 * broken or useless hints files are refused with file and line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/root_hints.h"

#ifndef HOLDFAST_ROOT_HINTS_FILE
#error "HOLDFAST_ROOT_HINTS_FILE must name conf/root.hints"
#endif

static char tmp_path[256];
static char err[512];

static void write_tmp(const char *text)
{
	const char *dir = getenv("TMPDIR");
	FILE *fp;
	int fd;

	snprintf(tmp_path, sizeof(tmp_path), "%s/holdfast-hints-XXXXXX", dir ? dir : "/tmp");
	fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

/* Loads `text` from a temporary file; returns the loader's result. */
static int load_text(const char *text, ldns_rr_list **out)
{
	int ret;

	write_tmp(text);
	err[0] = '\0';
	ret = daemon_root_hints_load(tmp_path, out, err, sizeof(err));
	unlink(tmp_path);
	return ret;
}

static void expect_error(const char *text, int line, const char *needle)
{
	ldns_rr_list *list = NULL;
	char prefix[300];

	assert_int_equal(load_text(text, &list), -1);
	assert_null(list);
	if (line)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", tmp_path, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", tmp_path);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, needle))
		fail_msg("error '%s' does not start with '%s' and contain '%s'", err, prefix,
			 needle);
}

static size_t count_type(const ldns_rr_list *list, ldns_rr_type type)
{
	size_t i, n = 0;

	for (i = 0; i < ldns_rr_list_rr_count(list); i++)
		if (ldns_rr_get_type(ldns_rr_list_rr(list, i)) == type)
			n++;
	return n;
}

/* True if `list` holds `owner type rdata` (presentation form). */
static bool has_rr(const ldns_rr_list *list, const char *text)
{
	ldns_rr *want = NULL;
	bool found;

	assert_int_equal(ldns_rr_new_frm_str(&want, text, 3600000, NULL, NULL), LDNS_STATUS_OK);
	found = ldns_rr_list_contains_rr(list, want);
	ldns_rr_free(want);
	return found;
}

static void test_builtin(void **state)
{
	ldns_rr_list *list = NULL;
	size_t i;

	assert_int_equal(daemon_root_hints_load(NULL, &list, err, sizeof(err)), 0);
	assert_non_null(list);
	assert_int_equal(ldns_rr_list_rr_count(list), 39);
	assert_int_equal(count_type(list, LDNS_RR_TYPE_NS), 13);
	assert_int_equal(count_type(list, LDNS_RR_TYPE_A), 13);
	assert_int_equal(count_type(list, LDNS_RR_TYPE_AAAA), 13);
	for (i = 0; i < ldns_rr_list_rr_count(list); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(list, i);

		assert_int_equal(ldns_rr_get_class(rr), LDNS_RR_CLASS_IN);
		assert_int_equal(ldns_rr_ttl(rr), 3600000);
	}
	assert_true(has_rr(list, ". NS a.root-servers.net."));
	assert_true(has_rr(list, ". NS m.root-servers.net."));
	assert_true(has_rr(list, "a.root-servers.net. A 198.41.0.4"));
	assert_true(has_rr(list, "b.root-servers.net. A 170.247.170.2"));
	assert_true(has_rr(list, "b.root-servers.net. AAAA 2801:1b8:10::b"));
	assert_true(has_rr(list, "g.root-servers.net. AAAA 2001:500:12::d0d"));
	assert_true(has_rr(list, "m.root-servers.net. AAAA 2001:dc3::35"));
	assert_false(has_rr(list, "b.root-servers.net. A 199.9.14.201")); /* before 2023 */
	ldns_rr_list_deep_free(list);
}

/* conf/root.hints is the operators' copy of the built-in text */
static void test_conf_file_matches_builtin(void **state)
{
	const char *builtin = daemon_root_hints_builtin();
	size_t len = strlen(builtin);
	ldns_rr_list *list = NULL;
	char *buf = malloc(len + 2);
	FILE *fp;

	assert_non_null(buf);
	fp = fopen(HOLDFAST_ROOT_HINTS_FILE, "r");
	assert_non_null(fp);
	assert_int_equal(fread(buf, 1, len + 1, fp), len);
	assert_int_equal(fclose(fp), 0);
	buf[len] = '\0';
	assert_string_equal(buf, builtin);
	free(buf);

	assert_int_equal(daemon_root_hints_load(HOLDFAST_ROOT_HINTS_FILE, &list, err, sizeof(err)),
			 0);
	assert_int_equal(count_type(list, LDNS_RR_TYPE_NS), 13);
	assert_int_equal(count_type(list, LDNS_RR_TYPE_A) + count_type(list, LDNS_RR_TYPE_AAAA),
			 26);
	ldns_rr_list_deep_free(list);
}

static void test_directives_and_filtering(void **state)
{
	ldns_rr_list *list = NULL;

	/* $TTL, $ORIGIN, relative names, class CH and unrelated records */
	assert_int_equal(load_text("; comment\n"
				   "\n"
				   "$TTL 100\n"
				   ".  NS  ns1.example.\n"
				   ".  IN NS  ns2.example.\n"
				   "$ORIGIN example.\n"
				   "ns1  A     192.0.2.1\n"
				   "ns2  AAAA  2001:db8::2\n"
				   "other  A  192.0.2.99 ; not an NS target\n"
				   "example.  NS  ns1.example. ; not for the root\n"
				   "ns1  TXT  \"skipped\"\n"
				   "ns1  CH  A  192.0.2.3\n",
				   &list),
			 0);
	assert_int_equal(ldns_rr_list_rr_count(list), 4);
	assert_int_equal(count_type(list, LDNS_RR_TYPE_NS), 2);
	assert_true(has_rr(list, "ns1.example. A 192.0.2.1"));
	assert_true(has_rr(list, "ns2.example. AAAA 2001:db8::2"));
	assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(list, 0)), 100);
	ldns_rr_list_deep_free(list);

	/* addresses before the NS records, names in any case */
	list = NULL;
	assert_int_equal(
		load_text("NS1.EXAMPLE. 3600 A 192.0.2.1\n. 3600 NS ns1.example.\n", &list), 0);
	assert_int_equal(ldns_rr_list_rr_count(list), 2);
	ldns_rr_list_deep_free(list);
}

static void test_bad_files(void **state)
{
	ldns_rr_list *list = NULL;

	assert_int_equal(daemon_root_hints_load("/nonexistent/root.hints", &list, err, sizeof(err)),
			 -1);
	assert_null(list);
	assert_string_equal(err, "/nonexistent/root.hints: cannot open: No such file or directory");

	expect_error("", 0, "no NS record for the root");
	expect_error("; only comments\n", 0, "no NS record for the root");
	expect_error("example. NS ns1.example.\nns1.example. A 192.0.2.1\n", 0,
		     "no NS record for the root");
	expect_error(". NS ns1.example.\nns2.example. A 192.0.2.1\n", 0, "no A or AAAA record");
	expect_error("; header\n\n. NS ns1.example.\nns1.example. A 192.0.2.300\n", 4, "");
	expect_error(". NS ns1.example.\n. BOGUS ns1.example.\nns1.example. A 192.0.2.1\n", 2, "");
	expect_error(". NS ns1.example.\n$INCLUDE other.zone\n", 2, "$INCLUDE");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin),
		cmocka_unit_test(test_conf_file_matches_builtin),
		cmocka_unit_test(test_directives_and_filtering),
		cmocka_unit_test(test_bad_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
