/*
 * rrset — small helpers over ldns_rr_list used by the iterator: extracting
 * one RRset from a section, copying records, comparing names the DNS way
 * (case-insensitively, RFC 4343), and dropping records whose RDATA does not
 * fit their type. No policy here.
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

/* The RDATA shape the iterator relies on for the types it interprets. */
static bool rr_is_well_formed(const ldns_rr *rr)
{
	switch (ldns_rr_get_type(rr)) {
	case LDNS_RR_TYPE_NS:
	case LDNS_RR_TYPE_CNAME:
	case LDNS_RR_TYPE_DNAME:
	case LDNS_RR_TYPE_PTR:
		return ldns_rr_rd_count(rr) == 1 && ldns_rr_rdf(rr, 0) &&
		       ldns_rdf_get_type(ldns_rr_rdf(rr, 0)) == LDNS_RDF_TYPE_DNAME;
	case LDNS_RR_TYPE_A:
		return ldns_rr_rd_count(rr) == 1 && ldns_rr_rdf(rr, 0) &&
		       ldns_rdf_size(ldns_rr_rdf(rr, 0)) == 4;
	case LDNS_RR_TYPE_AAAA:
		return ldns_rr_rd_count(rr) == 1 && ldns_rr_rdf(rr, 0) &&
		       ldns_rdf_size(ldns_rr_rdf(rr, 0)) == 16;
	case LDNS_RR_TYPE_SOA:
		return ldns_rr_rd_count(rr) == 7 && ldns_rr_rdf(rr, 6) &&
		       ldns_rdf_size(ldns_rr_rdf(rr, 6)) == 4;
	default:
		return ldns_rr_owner(rr) != NULL;
	}
}

static ldns_rr_list *scrub_list(ldns_rr_list *list, unsigned *dropped)
{
	ldns_rr_list *kept = ldns_rr_list_new();
	if (!kept)
		return NULL;
	for (size_t i = 0; list && i < ldns_rr_list_rr_count(list); i++) {
		ldns_rr *rr = ldns_rr_list_rr(list, i);
		if (rr_is_well_formed(rr) && ldns_rr_list_push_rr(kept, rr))
			continue;
		ldns_rr_free(rr);
		(*dropped)++;
	}
	ldns_rr_list_free(list); /* the list only: its records moved or were freed */
	return kept;
}

unsigned rrset_scrub_malformed(ldns_pkt *pkt)
{
	unsigned dropped = 0;
	ldns_rr_list *l;
	if ((l = scrub_list(ldns_pkt_answer(pkt), &dropped)))
		ldns_pkt_set_answer(pkt, l);
	if ((l = scrub_list(ldns_pkt_authority(pkt), &dropped)))
		ldns_pkt_set_authority(pkt, l);
	if ((l = scrub_list(ldns_pkt_additional(pkt), &dropped)))
		ldns_pkt_set_additional(pkt, l);
	return dropped;
}
