/*
 * scrub — what of a reply is evidence about the question sent (RFC 2181
 * §5.4.1), cut out of the parsed packet in place before anything of it is
 * cached or shown to the client.
 *
 * A reply is believed only about one question: (sname, stype) asked of a
 * server for `zone`. So the answer section keeps the CNAME/DNAME chain that
 * starts at sname, inside the zone, and the RRset of the type asked at its
 * end; the authority section keeps at most one NS RRset, the deepest one
 * between the zone and the chain's end (none in a negative answer), the
 * zone's SOA and the DNSSEC records (left for the validator); the
 * additional section keeps only the addresses of that NS set's targets,
 * inside the zone unless harden-glue is off. Records of another class than
 * IN go everywhere; a TTL with the top bit set is 0 (RFC 2181 §8). The
 * model is Unbound's iterator/iter_scrub.c. One function per rule, each
 * pure over the packet and the question (drops are logged at debug).
 *
 * It does not classify (classify.c runs before and again after it), nor
 * decide ranks or store (store.c), nor validate DNSSEC (to come).
 */
#include <string.h>

#include "resolver/impl.h"
#include "dns/dns.h"
#include "util/log.h"

#define SCRUB_TTL_MAX 0x7fffffffu /* RFC 2181 §8: larger TTLs mean 0 */

/* Is `rr` kept? `i` is its index in the section being filtered. */
typedef bool (*scrub_keep_fn)(const ldns_rr *rr, size_t i, const void *arg);

static void scrub_log_drop(const struct scrub_question *sq, const ldns_rr *rr, const char *section,
			   const char *why)
{
	if (log_verbosity < LOG_LEVEL_DEBUG)
		return;
	char nbuf[DNS_NAME_MAX * 4 + 8];
	log_qdebug(LOG_RESOLVER, sq->id, "scrub: dropped %s type %u from the %s section: %s",
		   dns_name_str(ldns_rr_owner(rr), nbuf, sizeof(nbuf)),
		   (unsigned)ldns_rr_get_type(rr), section, why);
}

/* Rebuilds one section with the records `keep` accepts; frees the others. */
static unsigned scrub_filter(ldns_pkt *pkt, ldns_pkt_section which, scrub_keep_fn keep,
			     const void *arg, const struct scrub_question *sq, const char *why)
{
	static const char *const names[] = {
		[LDNS_SECTION_ANSWER] = "answer",
		[LDNS_SECTION_AUTHORITY] = "authority",
		[LDNS_SECTION_ADDITIONAL] = "additional",
	};
	ldns_rr_list *list = which == LDNS_SECTION_ANSWER      ? ldns_pkt_answer(pkt)
			     : which == LDNS_SECTION_AUTHORITY ? ldns_pkt_authority(pkt)
							       : ldns_pkt_additional(pkt);
	size_t n = ldns_rr_list_rr_count(list);
	size_t i;
	for (i = 0; i < n && keep(ldns_rr_list_rr(list, i), i, arg); i++)
		;
	if (i == n)
		return 0; /* nothing to drop: leave the list alone */
	ldns_rr_list *kept = ldns_rr_list_new();
	if (!kept)
		return 0; /* out of memory: the store's bailiwick rule still holds */
	unsigned dropped = 0;
	for (i = 0; i < n; i++) {
		ldns_rr *rr = ldns_rr_list_rr(list, i);
		if (keep(rr, i, arg) && ldns_rr_list_push_rr(kept, rr))
			continue;
		scrub_log_drop(sq, rr, names[which], why);
		ldns_rr_free(rr);
		dropped++;
	}
	ldns_rr_list_free(list); /* the list only: its records moved or were freed */
	uint16_t count = (uint16_t)ldns_rr_list_rr_count(kept);
	if (which == LDNS_SECTION_ANSWER) {
		ldns_pkt_set_answer(pkt, kept);
		ldns_pkt_set_ancount(pkt, count);
	} else if (which == LDNS_SECTION_AUTHORITY) {
		ldns_pkt_set_authority(pkt, kept);
		ldns_pkt_set_nscount(pkt, count);
	} else {
		ldns_pkt_set_additional(pkt, kept);
		ldns_pkt_set_arcount(pkt, count);
	}
	return dropped;
}

static bool keep_marked(const ldns_rr *rr, size_t i, const void *arg)
{
	(void)rr;
	return ((const bool *)arg)[i];
}

static bool keep_class_in(const ldns_rr *rr, size_t i, const void *arg)
{
	(void)i;
	(void)arg;
	return ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN;
}

unsigned scrub_drop_non_in(ldns_pkt *pkt, const struct scrub_question *sq)
{
	const char *why = "not class IN";
	return scrub_filter(pkt, LDNS_SECTION_ANSWER, keep_class_in, NULL, sq, why) +
	       scrub_filter(pkt, LDNS_SECTION_AUTHORITY, keep_class_in, NULL, sq, why) +
	       scrub_filter(pkt, LDNS_SECTION_ADDITIONAL, keep_class_in, NULL, sq, why);
}

static unsigned ttl_clear_top_bit(ldns_rr_list *list)
{
	unsigned n = 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
		ldns_rr *rr = ldns_rr_list_rr(list, i);
		if (ldns_rr_ttl(rr) > SCRUB_TTL_MAX) {
			ldns_rr_set_ttl(rr, 0);
			n++;
		}
	}
	return n;
}

unsigned scrub_ttl_top_bit(ldns_pkt *pkt)
{
	return ttl_clear_top_bit(ldns_pkt_answer(pkt)) +
	       ttl_clear_top_bit(ldns_pkt_authority(pkt)) +
	       ttl_clear_top_bit(ldns_pkt_additional(pkt));
}

/* Marks every record of `list` with this owner and type; true if any. */
static bool mark_rrset(const ldns_rr_list *list, bool *mark, const ldns_rdf *owner, uint16_t type)
{
	bool any = false;
	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
		ldns_rr *rr = ldns_rr_list_rr(list, i);
		uint16_t t = (uint16_t)ldns_rr_get_type(rr);
		if ((t == type || type == LDNS_RR_TYPE_ANY) &&
		    rrset_name_equal(ldns_rr_owner(rr), owner)) {
			mark[i] = true;
			any = true;
		}
	}
	return any;
}

/* One chain step at `name`: marks the link(s) and returns the next name
 * (caller frees), or NULL when the chain ends here. */
static ldns_rdf *chain_step(const ldns_rr_list *an, bool *mark, const ldns_rdf *name,
			    const struct scrub_question *sq)
{
	ldns_rdf *next = NULL;
	/* RFC 6672: a DNAME at a proper ancestor of name inside the zone. */
	if (sq->stype != LDNS_RR_TYPE_DNAME) {
		for (size_t i = 0; i < ldns_rr_list_rr_count(an) && !next; i++) {
			ldns_rr *rr = ldns_rr_list_rr(an, i);
			const ldns_rdf *owner = ldns_rr_owner(rr);
			if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_DNAME ||
			    rrset_name_equal(owner, name) || !dns_name_is_subdomain(name, owner) ||
			    !dns_name_is_subdomain(owner, sq->zone))
				continue;
			next = alias_dname_substitute(name, owner, ldns_rr_rdf(rr, 0));
			mark[i] = true;
		}
	}
	if (sq->stype == LDNS_RR_TYPE_CNAME)
		return next;
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_CNAME ||
		    !rrset_name_equal(ldns_rr_owner(rr), name))
			continue;
		const ldns_rdf *target = ldns_rr_rdf(rr, 0);
		/* The CNAME a DNAME implies must say what the DNAME says. */
		if (next && !rrset_name_equal(target, next))
			continue;
		if (!next)
			next = ldns_rdf_clone(target);
		mark[i] = true;
	}
	return next;
}

unsigned scrub_answer_chain(ldns_pkt *pkt, const struct scrub_question *sq, ldns_rdf **end)
{
	const ldns_rr_list *an = ldns_pkt_answer(pkt);
	size_t n = ldns_rr_list_rr_count(an);
	bool *mark = calloc(n ? n : 1, sizeof(*mark));
	ldns_rdf *name = ldns_rdf_clone(sq->sname);
	if (!mark || !name) {
		free(mark);
		ldns_rdf_deep_free(name);
		*end = NULL;
		return 0;
	}
	/* Each step takes at least one more record, so n + 1 steps end any
	 * chain, a looping one included. */
	for (size_t step = 0; step <= n; step++) {
		if (!dns_name_is_subdomain(name, sq->zone))
			break; /* out of the server's bailiwick: its own servers say */
		if (mark_rrset(an, mark, name, sq->stype))
			break; /* the data asked */
		ldns_rdf *next = chain_step(an, mark, name, sq);
		if (!next)
			break;
		ldns_rdf_deep_free(name);
		name = next;
	}
	/* RRSIGs go with the records they sign (the validator's, later). */
	for (size_t i = 0; i < n; i++) {
		if (!mark[i] || ldns_rr_get_type(ldns_rr_list_rr(an, i)) == LDNS_RR_TYPE_RRSIG)
			continue;
		const ldns_rdf *owner = ldns_rr_owner(ldns_rr_list_rr(an, i));
		for (size_t j = 0; j < n; j++)
			if (ldns_rr_get_type(ldns_rr_list_rr(an, j)) == LDNS_RR_TYPE_RRSIG &&
			    rrset_name_equal(ldns_rr_owner(ldns_rr_list_rr(an, j)), owner))
				mark[j] = true;
	}
	unsigned dropped = scrub_filter(pkt, LDNS_SECTION_ANSWER, keep_marked, mark, sq,
					"not on the chain from the question name inside the zone");
	free(mark);
	*end = name;
	return dropped;
}

/* The types an authority section may carry: NS, SOA and, untouched until
 * the validator comes, DNSSEC records. */
static bool keep_authority_type(const ldns_rr *rr, size_t i, const void *arg)
{
	(void)i;
	const struct scrub_question *sq = arg;
	switch (ldns_rr_get_type(rr)) {
	case LDNS_RR_TYPE_NS:
	case LDNS_RR_TYPE_NSEC:
	case LDNS_RR_TYPE_NSEC3:
	case LDNS_RR_TYPE_RRSIG:
	case LDNS_RR_TYPE_DS:
		return true;
	case LDNS_RR_TYPE_SOA:
		return dns_name_is_subdomain(ldns_rr_owner(rr), sq->zone);
	default:
		return false;
	}
}

unsigned scrub_authority_types(ldns_pkt *pkt, const struct scrub_question *sq)
{
	return scrub_filter(pkt, LDNS_SECTION_AUTHORITY, keep_authority_type, sq, sq,
			    "not NS, the zone's SOA or DNSSEC");
}

struct keep_ns_arg {
	const ldns_rdf *owner; /* the NS RRset kept, or NULL for none */
};

static bool keep_ns_of(const ldns_rr *rr, size_t i, const void *arg)
{
	(void)i;
	const struct keep_ns_arg *a = arg;
	return ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS ||
	       (a->owner && rrset_name_equal(ldns_rr_owner(rr), a->owner));
}

unsigned scrub_authority_ns(ldns_pkt *pkt, const struct scrub_question *sq, const ldns_rdf *end,
			    bool negative)
{
	struct keep_ns_arg a = {NULL};
	const ldns_rr_list *au = ldns_pkt_authority(pkt);
	/* The deepest NS owner between the zone and the chain's end: for a
	 * referral, the child classify.c saw (referral_zone in response.c). */
	for (size_t i = 0; !negative && end && i < ldns_rr_list_rr_count(au); i++) {
		ldns_rr *rr = ldns_rr_list_rr(au, i);
		const ldns_rdf *owner = ldns_rr_owner(rr);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS ||
		    !dns_name_is_subdomain(owner, sq->zone) || !dns_name_is_subdomain(end, owner))
			continue;
		if (!a.owner || dns_name_label_count(owner) > dns_name_label_count(a.owner))
			a.owner = owner;
	}
	/* The owner points into the list being rebuilt: copy it first. */
	ldns_rdf *owner = a.owner ? ldns_rdf_clone(a.owner) : NULL;
	a.owner = owner;
	unsigned dropped =
		scrub_filter(pkt, LDNS_SECTION_AUTHORITY, keep_ns_of, &a, sq,
			     negative ? "NS in a negative answer" : "not the one pertinent NS set");
	ldns_rdf_deep_free(owner);
	return dropped;
}

bool scrub_glue_in_bailiwick(const ldns_rdf *owner, const ldns_rdf *zone, bool harden_glue)
{
	return !harden_glue || dns_name_is_subdomain(owner, zone);
}

/* Is `name` the target of an NS record (of the zone) in `list`? */
static bool is_ns_target(const ldns_rr_list *list, const ldns_rdf *name, const ldns_rdf *zone)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
		ldns_rr *rr = ldns_rr_list_rr(list, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_NS &&
		    dns_name_is_subdomain(ldns_rr_owner(rr), zone) &&
		    rrset_name_equal(ldns_rr_rdf(rr, 0), name))
			return true;
	}
	return false;
}

struct keep_glue_arg {
	const ldns_pkt *pkt;
	const struct scrub_question *sq;
};

static bool keep_glue(const ldns_rr *rr, size_t i, const void *arg)
{
	(void)i;
	const struct keep_glue_arg *a = arg;
	const ldns_rdf *zone = a->sq->zone;
	ldns_rr_type t = ldns_rr_get_type(rr);
	const ldns_rdf *owner = ldns_rr_owner(rr);
	/* The NS sets left are the pertinent one (authority) and the one
	 * asked for (answer): the glue is theirs. */
	return (t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_AAAA) &&
	       (is_ns_target(ldns_pkt_authority(a->pkt), owner, zone) ||
		is_ns_target(ldns_pkt_answer(a->pkt), owner, zone)) &&
	       scrub_glue_in_bailiwick(owner, zone, a->sq->harden_glue);
}

unsigned scrub_additional_glue(ldns_pkt *pkt, const struct scrub_question *sq)
{
	struct keep_glue_arg a = {pkt, sq};
	return scrub_filter(pkt, LDNS_SECTION_ADDITIONAL, keep_glue, &a, sq,
			    "not an address of a kept NS target inside the zone");
}

unsigned resolver_scrub(ldns_pkt *pkt, const struct scrub_question *sq, bool negative)
{
	unsigned dropped = scrub_drop_non_in(pkt, sq);
	unsigned zeroed = scrub_ttl_top_bit(pkt);
	if (zeroed)
		log_qdebug(LOG_RESOLVER, sq->id, "scrub: %u TTL(s) with the top bit set read as 0",
			   zeroed);
	ldns_rdf *end = NULL;
	dropped += scrub_answer_chain(pkt, sq, &end);
	dropped += scrub_authority_types(pkt, sq);
	dropped += scrub_authority_ns(pkt, sq, end, negative);
	dropped += scrub_additional_glue(pkt, sq);
	ldns_rdf_deep_free(end);
	return dropped;
}
