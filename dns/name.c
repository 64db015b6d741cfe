/*
 * name — helpers for domain names: ldns_rdf names for the resolver and
 * cache, and uncompressed wire names from the hot path.
 *
 * Comparisons are ASCII case-insensitive (RFC 4343); nothing here touches
 * IDNA or any other character set. Printing is for logs only: the output is
 * the master-file form (RFC 1035 §5.1) and may be cut to the buffer size.
 */
#include "dns/dns.h"
#include "dns/impl.h"

#include <stdio.h>
#include <string.h>

void dns_name_lower(uint8_t *name, size_t len)
{
	size_t pos = 0;

	if (!name)
		return;
	/* Walk the labels so that length bytes are never mistaken for text. */
	while (pos < len) {
		uint8_t label = name[pos];

		if (label == 0 || label > 63)
			return;
		pos++;
		for (size_t end = pos + label; pos < end && pos < len; pos++) {
			if (name[pos] >= 'A' && name[pos] <= 'Z')
				name[pos] = (uint8_t)(name[pos] + ('a' - 'A'));
		}
	}
}

static bool is_name(const ldns_rdf *name)
{
	return name && ldns_rdf_get_type(name) == LDNS_RDF_TYPE_DNAME && ldns_rdf_size(name) > 0;
}

int dns_name_label_count(const ldns_rdf *name)
{
	if (!is_name(name))
		return 0;
	return ldns_dname_label_count(name);
}

bool dns_name_is_subdomain(const ldns_rdf *name, const ldns_rdf *zone)
{
	if (!is_name(name) || !is_name(zone))
		return false;
	/* ldns_dname_is_subdomain() is false for equal names; we want "at or below" */
	return ldns_dname_compare(name, zone) == 0 || ldns_dname_is_subdomain(name, zone);
}

ldns_rdf *dns_name_suffix(const ldns_rdf *name, int labels)
{
	int count;

	if (!is_name(name) || labels < 0)
		return NULL;
	count = ldns_dname_label_count(name);
	if (labels >= count)
		return ldns_rdf_clone(name);
	if (labels == 0)
		return ldns_dname_new_frm_str(".");
	return ldns_dname_clone_from(name, (uint16_t)(count - labels));
}

const char *dns_name_str(const ldns_rdf *name, char *buf, size_t cap)
{
	if (!is_name(name))
		return dns_name_wire_str(NULL, 0, buf, cap);
	return dns_name_wire_str(ldns_rdf_data(name), ldns_rdf_size(name), buf, cap);
}

const char *dns_name_wire_str(const uint8_t *wire, size_t len, char *buf, size_t cap)
{
	size_t pos = 0, out = 0;

	if (!buf || cap == 0)
		return buf;
	buf[0] = '\0';
	if (!wire || len == 0) {
		snprintf(buf, cap, "(no name)");
		return buf;
	}
	if (wire[0] == 0) {
		snprintf(buf, cap, ".");
		return buf;
	}
	/* Written by hand so that a log line costs no allocation. */
	while (pos < len && wire[pos] != 0 && wire[pos] <= 63) {
		size_t end = pos + 1u + wire[pos];

		for (pos++; pos < end && pos < len; pos++) {
			uint8_t c = wire[pos];
			char tmp[5];
			int n;

			if (c == '.' || c == '\\' || c == '(' || c == ')' || c == ';' || c == '"' ||
			    c == '@' || c == '$')
				n = snprintf(tmp, sizeof(tmp), "\\%c", c);
			else if (c <= 0x20 || c >= 0x7f)
				n = snprintf(tmp, sizeof(tmp), "\\%03u", c);
			else
				n = snprintf(tmp, sizeof(tmp), "%c", c);
			if (out + (size_t)n + 1 > cap)
				goto out_truncated;
			memcpy(buf + out, tmp, (size_t)n);
			out += (size_t)n;
		}
		if (out + 2 > cap)
			goto out_truncated;
		buf[out++] = '.';
	}
out_truncated:
	buf[out] = '\0';
	return buf;
}

ldns_rdf *dns_name_from_wire(const uint8_t *wire, size_t len)
{
	if (!dns_wire_name_is_valid(wire, len))
		return NULL;
	return ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, len, wire);
}
