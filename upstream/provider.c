/*
 * upstream/provider.c — which DNS provider a name server belongs to.
 *
 * A zone served by two providers keeps resolving when one fails, if the
 * resolver knows which servers share a fate. By default the provider of a
 * name server is the registrable domain of its host name (ns1.example.com
 * and ns2.example.com are one provider; ns.example.net another;
 * ns.example.co.uk belongs to example.co.uk), found with libpsl and the
 * public suffix list Debian ships (psl_latest picks the newer of the file
 * and the built-in copy). The list is loaded once per server table and is
 * only read afterwards (libpsl lookups on a loaded context are read-only,
 * so the workers share it without a lock). Nothing is cached per query.
 *
 * Does not decide anything: selection (select.c) compares the ids.
 */
#include "upstream/upstream.h"
#include "upstream/impl.h"

#include <libpsl.h>
#include <string.h>

void upstream_provider_init(struct upstream_servers *servers)
{
	servers->psl_owned = psl_latest(NULL);
	servers->psl = servers->psl_owned;
	if (servers->psl == NULL)
		servers->psl = psl_builtin();
}

void upstream_provider_deinit(struct upstream_servers *servers)
{
	/* psl_free() leaves the built-in context alone. */
	psl_free(servers->psl_owned);
	servers->psl_owned = NULL;
	servers->psl = NULL;
}

/* The host name of `ns` as libpsl wants it: lower case, dot-separated, no
 * final dot. Octets a host name cannot hold become '_' (grouping only needs
 * equal names to stay equal). */
static size_t host_text(const ldns_rdf *ns, char *out, size_t cap)
{
	const uint8_t *w = ldns_rdf_data(ns);
	size_t len = ldns_rdf_size(ns), n = 0, i = 0;

	while (i < len && w[i] != 0 && w[i] < 64) {
		size_t lab = w[i++];
		if (i + lab > len)
			break;
		if (n > 0 && n + 1 < cap)
			out[n++] = '.';
		for (size_t j = 0; j < lab && n + 1 < cap; j++) {
			char c = (char)w[i + j];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
				  c == '_';
			if (!ok)
				c = '_';
			out[n++] = c;
		}
		i += lab;
	}
	out[n] = '\0';
	return n;
}

size_t upstream_provider_name(const struct upstream_servers *servers, const ldns_rdf *ns, char *out,
			      size_t cap)
{
	char host[256];

	if (cap == 0)
		return 0;
	out[0] = '\0';
	if (ns == NULL || ldns_rdf_get_type(ns) != LDNS_RDF_TYPE_DNAME)
		return 0;
	size_t len = host_text(ns, host, sizeof(host));
	const char *reg = NULL;
	if (len > 0 && servers->psl != NULL)
		reg = psl_registrable_domain(servers->psl, host);
	if (reg == NULL)
		reg = host; /* a public suffix itself, or no list: the name alone */
	size_t n = strlen(reg);
	if (n >= cap)
		n = cap - 1;
	memcpy(out, reg, n);
	out[n] = '\0';
	return n;
}

uint64_t upstream_provider_id(const char *name)
{
	/* FNV-1a: the ids are only compared within one query. */
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (const char *p = name; *p != '\0'; p++) {
		h ^= (uint8_t)*p;
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}
