/*
 * fuzz_config — libFuzzer harness for the configuration reader,
 * config_parse_text() (daemon/config.c), the code behind config_load_file().
 * The file is the operator's, but a reader that overruns on a malformed
 * line is a bug all the same, and the reader is where every bound on a
 * list (listen, ACL, stubs, guard zones) is enforced.
 *
 * Input: the text of a configuration file. The reader opens no file (the
 * config has no include; root-hints and control-socket only record paths),
 * so the harness needs no file access.
 *
 * Invariants: never reads outside the input (ASan); returns 0 or -1; on
 * -1 the message is non-empty, NUL-terminated, names the file and the
 * config is left exactly as it was (byte for byte); on 0 every list is
 * within its bound, strings are NUL-terminated, cache-min-ttl <=
 * cache-max-ttl, and the ACL answers for a few addresses. The same text
 * read twice gives the same config.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "fuzz/fuzz_check.h"

/* Byte for byte, padding included: config_parse_text() copies whole structs. */
static bool same_bytes(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return false;
	return true;
}

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static void check_config(const struct config *cfg)
{
	CHECK(cfg->nlisten <= CONFIG_MAX_LISTEN);
	CHECK(cfg->nacl <= CONFIG_MAX_ACL);
	CHECK(cfg->nstubs <= CONFIG_MAX_STUBS);
	CHECK(cfg->nguard_include <= CONFIG_MAX_ZONES);
	CHECK(cfg->nguard_exclude <= CONFIG_MAX_ZONES);
	CHECK(cfg->cache_min_ttl <= cfg->cache_max_ttl);
	CHECK(cfg->do_ip4 || cfg->do_ip6);
	CHECK(terminated(cfg->root_hints, sizeof(cfg->root_hints)));
	CHECK(terminated(cfg->control_socket, sizeof(cfg->control_socket)));
	for (size_t i = 0; i < cfg->nstubs; i++) {
		CHECK(cfg->stubs[i].naddrs >= 1 && cfg->stubs[i].naddrs <= CONFIG_MAX_STUB_ADDRS);
		CHECK(terminated(cfg->stubs[i].zone, sizeof(cfg->stubs[i].zone)));
		for (size_t j = 0; j < cfg->stubs[i].naddrs; j++)
			CHECK(terminated(cfg->stubs[i].provider[j],
					 sizeof(cfg->stubs[i].provider[j])));
	}
	for (size_t i = 0; i < cfg->nguard_include; i++)
		CHECK(terminated(cfg->guard_include[i], sizeof(cfg->guard_include[i])));
	for (size_t i = 0; i < cfg->nguard_exclude; i++)
		CHECK(terminated(cfg->guard_exclude[i], sizeof(cfg->guard_exclude[i])));

	static const char *const probes[] = {"127.0.0.1", "192.0.2.1", "::1", "2001:db8::1",
					     "::ffff:10.0.0.1"};
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof(ss));
		if (strchr(probes[i], ':')) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			s6->sin6_family = AF_INET6;
			CHECK(inet_pton(AF_INET6, probes[i], &s6->sin6_addr) == 1);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			s4->sin_family = AF_INET;
			CHECK(inet_pton(AF_INET, probes[i], &s4->sin_addr) == 1);
		}
		enum config_acl_action a = config_acl_check(cfg, (const struct sockaddr *)&ss);
		CHECK(a == CONFIG_ACL_ALLOW || a == CONFIG_ACL_ALLOW_SNOOP ||
		      a == CONFIG_ACL_ALLOW_SETRD || a == CONFIG_ACL_DENY ||
		      a == CONFIG_ACL_REFUSE);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config defaults, cfg, again;
	char err[512];
	/* An exact-size copy, so ASan sees any read past the text. */
	char *text = malloc(size ? size : 1);

	CHECK(text);
	if (size)
		memcpy(text, data, size);
	config_defaults(&defaults);
	memcpy(&cfg, &defaults, sizeof(cfg));
	memset(err, 'x', sizeof(err));
	int r = config_parse_text(&cfg, "fuzz.conf", text, size, err, sizeof(err));
	CHECK(r == 0 || r == -1);
	if (r != 0) {
		CHECK(terminated(err, sizeof(err)));
		CHECK(strncmp(err, "fuzz.conf", 9) == 0);
		CHECK(same_bytes(&cfg, &defaults, sizeof(cfg)));
	} else {
		check_config(&cfg);
		memcpy(&again, &defaults, sizeof(again));
		CHECK(config_parse_text(&again, "fuzz.conf", text, size, NULL, 0) == 0);
		CHECK(same_bytes(&again, &cfg, sizeof(cfg)));
	}
	free(text);
	return 0;
}
