/*
 * rrset — small helpers over ldns_rr_list used by the iterator: extracting
 * one RRset from a section or splitting a section into its RRsets (without
 * duplicates, in O(n log n)), copying records, comparing names the DNS way
 * (case-insensitively, RFC 4343), dropping records whose RDATA does not fit
 * their type, and checking a reply against the record caps
 * (RESOLVER_MAX_REPLY_RRS, RESOLVER_MAX_RRSET_RRS). No policy here: what a
 * reply over the caps means is response.c's business.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/impl.h"

bool rrset_name_equal(const ldns_rdf *a, const ldns_rdf *b)
{
	return a && b && ldns_dname_compare(a, b) == 0;
}

/* A record and where it was: its index in its list, and its section. */
struct rr_pos {
	const ldns_rr *rr;
	size_t idx;
	int section;
};

/*
 * Duplicate removal in O(n log n): RFC 2181 §5 says an RRset has no two
 * equal records, and a reply may carry thousands (a 64 KB TCP reply holds
 * about 4,000 A records). Each record's canonical wire form (RFC 4034 §6.2,
 * as ldns_rr_compare() uses) is written once into one buffer; the records
 * are sorted by (class, RDATA) and the first of each run of equals is kept.
 */
struct rr_ref {
	size_t idx; /* position in the input: output keeps this order */
	ldns_rr_class cls;
	size_t off, len; /* RDATA in the buffer */
	const uint8_t *rd;
};

static int rr_ref_cmp_data(const struct rr_ref *a, const struct rr_ref *b)
{
	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	int c = memcmp(a->rd, b->rd, a->len < b->len ? a->len : b->len);
	if (c)
		return c;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return 0;
}

static int rr_ref_cmp(const void *pa, const void *pb)
{
	const struct rr_ref *a = pa, *b = pb;
	int c = rr_ref_cmp_data(a, b);
	if (c)
		return c;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Appends clones of items[0..n).rr to `out`, each distinct record once, in input order. */
static void clone_distinct(ldns_rr_list *out, const struct rr_pos *items, size_t n)
{
	struct rr_ref *refs = n > 1 ? calloc(n, sizeof(*refs)) : NULL;
	bool *keep = n > 1 ? calloc(n, sizeof(*keep)) : NULL;
	ldns_buffer *buf = n > 1 ? ldns_buffer_new(n * 32) : NULL;
	bool sorted = false;

	if (refs && keep && buf) {
		sorted = true;
		for (size_t i = 0; i < n && sorted; i++) {
			const ldns_rr *rr = items[i].rr;
			size_t start = ldns_buffer_position(buf);
			if (ldns_rr2buffer_wire_canonical(buf, rr, LDNS_SECTION_ANY) !=
			    LDNS_STATUS_OK) {
				sorted = false;
				break;
			}
			/* owner, then type, class, TTL, RDLENGTH: 10 octets */
			size_t head = ldns_rdf_size(ldns_rr_owner(rr)) + 10;
			size_t end = ldns_buffer_position(buf);
			refs[i].idx = i;
			refs[i].cls = ldns_rr_get_class(rr);
			refs[i].off = start + head < end ? start + head : end;
			refs[i].len = end - refs[i].off;
		}
		sorted = sorted && ldns_buffer_status_ok(buf);
	}
	if (sorted) {
		for (size_t i = 0; i < n; i++)
			refs[i].rd = ldns_buffer_at(buf, refs[i].off);
		qsort(refs, n, sizeof(*refs), rr_ref_cmp);
		for (size_t i = 0; i < n; i++)
			keep[refs[i].idx] = i == 0 || rr_ref_cmp_data(&refs[i - 1], &refs[i]) != 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (sorted && !keep[i])
			continue;
		if (!sorted && n > 1) {
			/* Out of memory for the sort: the quadratic check, rare. */
			bool dup = false;
			for (size_t j = 0; j < i && !dup; j++)
				dup = ldns_rr_compare(items[j].rr, items[i].rr) == 0;
			if (dup)
				continue;
		}
		ldns_rr *copy = ldns_rr_clone(items[i].rr);
		if (copy && !ldns_rr_list_push_rr(out, copy))
			ldns_rr_free(copy);
	}
	ldns_buffer_free(buf);
	free(keep);
	free(refs);
}

ldns_rr_list *rrset_extract(const ldns_rr_list *list, const ldns_rdf *owner, uint16_t type)
{
	ldns_rr_list *out = ldns_rr_list_new();
	size_t count = list ? ldns_rr_list_rr_count(list) : 0, n = 0;
	if (!out || count == 0)
		return out;
	struct rr_pos *match = calloc(count, sizeof(*match));
	if (!match) {
		ldns_rr_list_free(out);
		return NULL;
	}
	for (size_t i = 0; i < count; i++) {
		ldns_rr *rr = ldns_rr_list_rr(list, i);
		if ((uint16_t)ldns_rr_get_type(rr) == type &&
		    rrset_name_equal(ldns_rr_owner(rr), owner))
			match[n++] = (struct rr_pos){rr, i, 0};
	}
	clone_distinct(out, match, n);
	free(match);
	return out;
}

/* Sorting records by (section, owner, type), canonical order (RFC 4034
 * §6.1), then by index so that each run is in input order. */
static int rr_pos_cmp(const void *pa, const void *pb)
{
	const struct rr_pos *a = pa, *b = pb;
	if (a->section != b->section)
		return a->section < b->section ? -1 : 1;
	int c = ldns_dname_compare(ldns_rr_owner(a->rr), ldns_rr_owner(b->rr));
	if (c)
		return c;
	ldns_rr_type ta = ldns_rr_get_type(a->rr), tb = ldns_rr_get_type(b->rr);
	if (ta != tb)
		return ta < tb ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static bool rr_pos_same_set(const struct rr_pos *a, const struct rr_pos *b)
{
	return a->section == b->section && ldns_rr_get_type(a->rr) == ldns_rr_get_type(b->rr) &&
	       ldns_dname_compare(ldns_rr_owner(a->rr), ldns_rr_owner(b->rr)) == 0;
}

/* One run of the sorted records: one RRset. */
struct rr_run {
	size_t start, n; /* in the sorted array */
	size_t first;	 /* index of its first record in the section */
};

static int rr_run_by_first(const void *pa, const void *pb)
{
	const struct rr_run *a = pa, *b = pb;
	return a->first < b->first ? -1 : a->first > b->first;
}

struct rrset_item *rrset_split(const ldns_rr_list *section, size_t *nsets)
{
	size_t count = section ? ldns_rr_list_rr_count(section) : 0;
	size_t cap = count ? count : 1, nr = 0;
	*nsets = 0;
	struct rr_pos *pos = calloc(cap, sizeof(*pos));
	struct rr_run *runs = calloc(cap, sizeof(*runs));
	struct rrset_item *sets = calloc(cap, sizeof(*sets));
	if (!pos || !runs || !sets)
		goto out_fail;
	for (size_t i = 0; i < count; i++)
		pos[i] = (struct rr_pos){ldns_rr_list_rr(section, i), i, 0};
	qsort(pos, count, sizeof(*pos), rr_pos_cmp);
	for (size_t i = 0; i < count; i++) {
		if (i == 0 || !rr_pos_same_set(&pos[i - 1], &pos[i]))
			runs[nr++] = (struct rr_run){i, 0, pos[i].idx};
		runs[nr - 1].n++;
	}
	/* Sets in the order their first record appears in the section. */
	qsort(runs, nr, sizeof(*runs), rr_run_by_first);
	for (size_t r = 0; r < nr; r++) {
		sets[r].rrs = ldns_rr_list_new();
		if (!sets[r].rrs)
			goto out_fail;
		clone_distinct(sets[r].rrs, &pos[runs[r].start], runs[r].n);
	}
	*nsets = nr;
	free(runs);
	free(pos);
	return sets;
out_fail:
	rrset_split_free(sets, nr);
	free(runs);
	free(pos);
	return NULL;
}

void rrset_split_free(struct rrset_item *sets, size_t nsets)
{
	for (size_t i = 0; sets && i < nsets; i++)
		ldns_rr_list_deep_free(sets[i].rrs);
	free(sets);
}

int rrset_check_reply_size(const ldns_pkt *pkt, size_t *count, size_t *largest)
{
	const ldns_rr_list *sec[3] = {ldns_pkt_answer(pkt), ldns_pkt_authority(pkt),
				      ldns_pkt_additional(pkt)};
	size_t total = 0;
	for (int s = 0; s < 3; s++)
		total += sec[s] ? ldns_rr_list_rr_count(sec[s]) : 0;
	*count = total;
	*largest = 0;
	if (total > RESOLVER_MAX_REPLY_RRS)
		return -E2BIG;
	struct rr_pos *pos = calloc(total ? total : 1, sizeof(*pos));
	if (!pos)
		return -ENOMEM;
	size_t n = 0;
	for (int s = 0; s < 3; s++)
		for (size_t i = 0; sec[s] && i < ldns_rr_list_rr_count(sec[s]); i++, n++)
			pos[n] = (struct rr_pos){ldns_rr_list_rr(sec[s], i), n, s};
	qsort(pos, n, sizeof(*pos), rr_pos_cmp);
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		run = i > 0 && rr_pos_same_set(&pos[i - 1], &pos[i]) ? run + 1 : 1;
		if (run > *largest)
			*largest = run;
	}
	free(pos);
	return *largest > RESOLVER_MAX_RRSET_RRS ? -EMSGSIZE : 0;
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
