/*
 * rrset — small helpers over ldns_rr_list used by the iterator: extracting
 * one RRset from a section, finding a record, comparing names the DNS way
 * (case-insensitively, RFC 4343). No policy here.
 */
#include "resolver/impl.h"

bool rrset_name_equal(const ldns_rdf *a, const ldns_rdf *b)
{
	return a && b && ldns_dname_compare(a, b) == 0;
}

ldns_rr_list *rrset_extract(const ldns_rr_list *list, const ldns_rdf *owner, uint16_t type)
{
	ldns_rr_list *out = ldns_rr_list_new();
	if (!out || !list)
		return out;
	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
		ldns_rr *rr = ldns_rr_list_rr(list, i);
		if ((uint16_t)ldns_rr_get_type(rr) == type &&
		    rrset_name_equal(ldns_rr_owner(rr), owner)) {
			/* RFC 2181 §5: an RRset has no duplicate records. */
			bool dup = false;
			for (size_t j = 0; j < ldns_rr_list_rr_count(out) && !dup; j++)
				dup = ldns_rr_compare(ldns_rr_list_rr(out, j), rr) == 0;
			if (dup)
				continue;
			ldns_rr *copy = ldns_rr_clone(rr);
			if (copy && !ldns_rr_list_push_rr(out, copy))
				ldns_rr_free(copy);
		}
	}
	return out;
}

ldns_rr *rrset_find(const ldns_rr_list *list, const ldns_rdf *owner, uint16_t type)
{
	if (!list)
		return NULL;
	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
		ldns_rr *rr = ldns_rr_list_rr(list, i);
		if ((uint16_t)ldns_rr_get_type(rr) == type &&
		    rrset_name_equal(ldns_rr_owner(rr), owner))
			return rr;
	}
	return NULL;
}

void rrset_append_clone(ldns_rr_list *dst, const ldns_rr_list *src)
{
	if (!dst || !src)
		return;
	for (size_t i = 0; i < ldns_rr_list_rr_count(src); i++) {
		ldns_rr *copy = ldns_rr_clone(ldns_rr_list_rr(src, i));
		if (copy && !ldns_rr_list_push_rr(dst, copy))
			ldns_rr_free(copy);
	}
}
