/*
 * response — what one upstream outcome means for the query that asked:
 * resolver_consume().
 *
 * A timeout or network error fails the server for this request (or, when
 * nobody could be asked, every candidate). A reply goes through one
 * pipeline, in this order:
 *
 *   1. parse (dns/) and drop malformed records (rrset.c);
 *   2. classify (classify.c): answer, alias, NXDOMAIN, NODATA, referral,
 *      empty, truncated, error;
 *   3. accept (response_accept): the one place a classified reply goes to
 *      the cache: scrubbed (scrub.c), then stored (store.c). DNSSEC
 *      validation belongs here too, between classification and storing;
 *   4. act (query_on_response): finish with data or a negative answer,
 *      follow a referral or an alias (alias.c), move QNAME minimisation one
 *      label down, retry over TCP, or fail the server.
 *
 * It does not choose what is sent next (iterate.c runs once this returns),
 * nor decide cache policy: the empty-answer guard is asked through
 * ask_policy.c. No I/O, no clock.
 */
#include "resolver/impl.h"
#include "cache/cache.h"
#include "dns/dns.h"
#include "util/log.h"

/* A negative answer for `name`: remember it and finish. */
static void query_negative(struct resolver_request *req, struct query *q, const ldns_pkt *resp,
			   const ldns_rdf *name, bool nxdomain, uint64_t now)
{
	ldns_rr_list *soa =
		resolver_store_negative(req->env, resp, q->cut.zone, name, q->qtype, nxdomain, now);
	rrset_append_clone(q->authority, soa);
	ldns_rr_list_deep_free(soa);
	query_finish(q, nxdomain ? DNS_RCODE_NXDOMAIN : DNS_RCODE_NOERROR);
}

/* The deepest NS owner in the authority section between `zone` and sname. */
static const ldns_rdf *referral_zone(const ldns_pkt *resp, const ldns_rdf *sname,
				     const ldns_rdf *zone)
{
	const ldns_rdf *best = NULL;
	const ldns_rr_list *ns = ldns_pkt_authority(resp);
	for (size_t i = 0; i < ldns_rr_list_rr_count(ns); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ns, i);
		const ldns_rdf *owner = ldns_rr_owner(rr);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS || rrset_name_equal(owner, zone) ||
		    !dns_name_is_subdomain(owner, zone) || !dns_name_is_subdomain(sname, owner))
			continue;
		if (!best || dns_name_label_count(owner) > dns_name_label_count(best))
			best = owner;
	}
	return best;
}

/* Moves the query to a new zone cut `child` served by `ns`, with glue. */
static void query_descend(struct resolver_request *req, struct query *q, const ldns_pkt *resp,
			  const ldns_rdf *child, const ldns_rr_list *ns, uint64_t now)
{
	const struct resolver_env *env = req->env;
	if (++req->referrals > env->opts->limits.max_referrals) {
		request_fail(req, "too many referrals");
		return;
	}
	/* Glue must come from the delegating zone's bailiwick (harden-glue). */
	ldns_rdf *parent_zone = ldns_rdf_clone(q->cut.zone);
	ldns_rr_list *glue = ldns_rr_list_new();
	const ldns_rr_list *add = ldns_pkt_additional(resp);
	for (size_t i = 0; glue && i < ldns_rr_list_rr_count(add); i++) {
		ldns_rr *rr = ldns_rr_list_rr(add, i);
		ldns_rr_type t = ldns_rr_get_type(rr);
		if (t != LDNS_RR_TYPE_A && t != LDNS_RR_TYPE_AAAA)
			continue;
		if (!scrub_glue_in_bailiwick(ldns_rr_owner(rr), parent_zone,
					     env->opts->harden_glue))
			continue;
		ldns_rr *copy = ldns_rr_clone(rr);
		if (copy && !ldns_rr_list_push_rr(glue, copy))
			ldns_rr_free(copy);
	}
	ldns_rdf *child_copy = ldns_rdf_clone(child);
	zone_cut_set(&q->cut, child_copy, ns);
	zone_cut_add_addrs(&q->cut, env, glue);
	zone_cut_add_cached_addrs(&q->cut, env, now);
	ldns_rr_list_deep_free(glue);
	ldns_rdf_deep_free(parent_zone);
	ldns_rdf_deep_free(child_copy);
	q->qmin_labels = 0;
	q->tcp_server = -1;
	query_progress(q);
}

/* A referral: the query moves to the child zone the reply names. */
static void query_on_referral(struct resolver_request *req, struct query *q, const ldns_pkt *resp,
			      uint64_t now)
{
	const ldns_rdf *child = referral_zone(resp, q->sname, q->cut.zone);
	ldns_rdf *zone = ldns_rdf_clone(child);
	ldns_rr_list *ns = rrset_extract(ldns_pkt_authority(resp), zone, LDNS_RR_TYPE_NS);
	query_descend(req, q, resp, zone, ns, now);
	ldns_rr_list_deep_free(ns);
	ldns_rdf_deep_free(zone);
}

/* Follows the CNAME/DNAME chain inside a response; finishes or restarts. */
static void query_on_alias(struct resolver_request *req, struct query *q, const ldns_pkt *resp,
			   uint64_t now)
{
	if (query_chase_alias(req, q, resp))
		return; /* finished: data, or SERVFAIL (loop, too long) */
	/* The server is authoritative for the chain's end and says it is empty. */
	bool in_zone = dns_name_is_subdomain(q->qname, q->cut.zone);
	ldns_pkt_rcode rcode = ldns_pkt_get_rcode(resp);
	/* A forwarder's word on its zone is final too (it is not authoritative). */
	if (in_zone && (ldns_pkt_aa(resp) || q->cut.forward) &&
	    !referral_zone(resp, q->qname, q->cut.zone)) {
		query_negative(req, q, resp, q->qname, rcode == LDNS_RCODE_NXDOMAIN, now);
		return;
	}
	/* Otherwise resolve the target from the top. */
	zone_cut_clear(&q->cut);
	q->state = QUERY_START;
}

/* Data for the name and type sent. */
static void query_on_answer(struct resolver_request *req, struct query *q, const ldns_pkt *resp,
			    bool minimised)
{
	if (minimised) {
		/* NS data at an intermediate name from the server we asked:
		 * it serves the child too (or gave us the parent's copy).
		 * Either way the same servers can take the next label, as
		 * Knot Resolver does; only referrals move the zone cut. */
		q->qmin_labels++;
		query_progress(q);
		return;
	}
	ldns_rr_list *data = q->stype == LDNS_RR_TYPE_ANY
				     ? resolver_extract_any(ldns_pkt_answer(resp), q->sname)
				     : rrset_extract(ldns_pkt_answer(resp), q->sname, q->stype);
	query_guard_note_data(req, q);
	rrset_append_clone(q->answer, data);
	query_finish(q, DNS_RCODE_NOERROR);
	ldns_rr_list_deep_free(data);
}

/* TC=1: the same server over TCP, unless this was TCP already. */
static void query_on_truncated(struct query *q, const struct sockaddr_storage *server, bool tcp)
{
	int idx = server ? zone_cut_find_addr(&q->cut, server) : -1;
	if (!tcp && idx >= 0) {
		q->tcp_server = idx; /* same server, over TCP */
	} else {
		q->tcp_server = -1;
		query_mark_failed(q, server); /* truncated even over TCP */
	}
}

/*
 * Step 4, act: what the classified, accepted reply means for q. Runs after
 * response_accept() for every class.
 */
static void query_on_response(struct resolver_request *req, struct query *q, const ldns_pkt *resp,
			      enum resolver_class cls, const struct sockaddr_storage *server,
			      bool tcp, uint64_t now)
{
	bool minimised = q->stype != q->qtype || !rrset_name_equal(q->sname, q->qname);

	if (cls != RESOLVER_CLASS_TRUNCATED)
		q->tcp_server = -1; /* whatever it was for, that exchange is over */
	switch (cls) {
	case RESOLVER_CLASS_TRUNCATED:
		query_on_truncated(q, server, tcp);
		return;
	case RESOLVER_CLASS_ANSWER:
		query_on_answer(req, q, resp, minimised);
		return;
	case RESOLVER_CLASS_CNAME:
		if (minimised) {
			/* An alias above the name: only the full question can tell. */
			q->qmin_off = true;
			return;
		}
		query_on_alias(req, q, resp, now);
		return;
	case RESOLVER_CLASS_NXDOMAIN:
		if (minimised) {
			/* Relaxed minimisation: some servers answer NXDOMAIN for
			 * empty non-terminals; ask the full name before believing it. */
			q->qmin_off = true;
			return;
		}
		if (query_guard_empty(req, q, server, true, now))
			return;
		query_negative(req, q, resp, q->qname, true, now);
		return;
	case RESOLVER_CLASS_NODATA:
		if (minimised) {
			q->qmin_labels++; /* not a zone cut: one label deeper */
			query_progress(q);
			return;
		}
		if (query_guard_empty(req, q, server, false, now))
			return;
		query_negative(req, q, resp, q->qname, false, now);
		return;
	case RESOLVER_CLASS_REFERRAL:
		query_on_referral(req, q, resp, now);
		return;
	case RESOLVER_CLASS_EMPTY:
		if (minimised) {
			q->qmin_labels++;
			query_progress(q);
			return;
		}
		if (q->cut.forward) {
			/* A recursive forwarder's empty NOERROR is a NODATA. */
			query_negative(req, q, resp, q->qname, false, now);
			return;
		}
		/* Lame: neither data nor a referral nor authority. */
		query_mark_failed(q, server);
		return;
	case RESOLVER_CLASS_ERROR:
		query_mark_failed(q, server); /* SERVFAIL, REFUSED, ...: lame */
		return;
	}
}

/*
 * Step 3, accept: the seam between classification and the cache. Nothing
 * of a reply reaches the cache, or the act step, before this point. First
 * the reply is scrubbed (scrub.c, RFC 2181 §5.4.1): cut down in place to
 * what answers (sname, stype) from a server for q->cut.zone, so what is
 * dropped is neither cached nor shown to the client; then classified again
 * on what is left (a reply whose only answer was of another class is not an
 * answer any more). Its RRsets are then stored (store.c,
 * resolver_store_response); a negative answer is stored later from this
 * same reply, when query_on_response() finishes the query with it
 * (resolver_store_negative, after the empty-answer guard), so scrubbing
 * covers it too. A validator goes here as well: a reply it rejects is
 * handed on as RESOLVER_CLASS_ERROR, so nothing of it is stored or acted
 * on and the server is failed for this request. Returns the class to act on.
 */
static enum resolver_class response_accept(struct resolver_request *req, struct query *q,
					   ldns_pkt *resp, enum resolver_class cls, uint64_t now)
{
	switch (cls) {
	case RESOLVER_CLASS_ANSWER:
	case RESOLVER_CLASS_CNAME:
	case RESOLVER_CLASS_NXDOMAIN:
	case RESOLVER_CLASS_NODATA:
	case RESOLVER_CLASS_REFERRAL: {
		const struct scrub_question sq = {
			.sname = q->sname,
			.stype = q->stype,
			.zone = q->cut.zone,
			.harden_glue = req->env->opts->harden_glue,
			.id = req->id,
		};
		bool negative = cls == RESOLVER_CLASS_NXDOMAIN || cls == RESOLVER_CLASS_NODATA;
		unsigned dropped = resolver_scrub(resp, &sq, negative);
		if (dropped) {
			if (req->env->stats)
				atomic_fetch_add_explicit(&req->env->stats->scrubbed, dropped,
							  memory_order_relaxed);
			cls = resolver_classify(resp, q->sname, q->stype, q->cut.zone);
		}
		if (cls == RESOLVER_CLASS_EMPTY)
			break; /* nothing answering the question was left */
		resolver_store_response(req->env, resp, q->cut.zone, now);
		break;
	}
	case RESOLVER_CLASS_EMPTY:
	case RESOLVER_CLASS_TRUNCATED:
	case RESOLVER_CLASS_ERROR:
		break; /* nothing in it is worth keeping */
	}
	return cls;
}

/* No reply: a timeout, a network error, or nobody could be asked. */
static void query_on_no_reply(struct resolver_request *req, struct query *q,
			      const struct resolver_outcome *outcome)
{
	static const char *const what[] = {
		[RESOLVER_OUTCOME_TIMEOUT] = "timeout",
		[RESOLVER_OUTCOME_ERROR] = "network error",
		[RESOLVER_OUTCOME_UNREACHABLE] = "servers known dead or limits reached",
	};
	log_qdebug(LOG_RESOLVER, req->id, "%s", what[outcome->status]);
	if (outcome->status == RESOLVER_OUTCOME_UNREACHABLE)
		req->unreachable = true;
	if (outcome->server && outcome->status != RESOLVER_OUTCOME_UNREACHABLE) {
		query_mark_failed(q, outcome->server);
		query_mark_failed(q, outcome->hedged);
	} else {
		/* Nobody was asked (policy, breakers, budget): none of the
		 * candidates can be asked now. */
		for (size_t i = 0; i < q->cut.naddrs; i++)
			q->cut.addr_failed[i] = true;
	}
	q->tcp_server = -1;
}

void resolver_consume(struct resolver_request *req, uint64_t now,
		      const struct resolver_outcome *outcome)
{
	struct query *q = req->top;
	if (req->answer || q->state != QUERY_ITERATE || !q->sname)
		return; /* nothing was asked */
	const struct sockaddr_storage *server = outcome->server;
	if (req->probe_only) {
		/* The probe's outcome feeds upstream/'s breakers (a success
		 * closes them and voids cached failures); the client has its
		 * answer already. */
		request_fail(req, "background probe done");
		return;
	}
	if (outcome->status != RESOLVER_OUTCOME_RESPONSE) {
		query_on_no_reply(req, q, outcome);
		return;
	}

	/* 1. parse, drop malformed records */
	ldns_pkt *resp = NULL;
	if (dns_parse(outcome->wire, outcome->len, &resp) != 0) {
		log_qdebug(LOG_RESOLVER, req->id, "unparsable response");
		query_mark_failed(q, server);
		q->tcp_server = -1;
		return;
	}
	q->cut.answered = true;
	/* Records caps (impl.h): a reply over them is this server's failure. */
	size_t nrrs, largest;
	if (rrset_check_reply_size(resp, &nrrs, &largest) != 0) {
		log_qinfo(LOG_RESOLVER, req->id,
			  "reply refused: %zu records, largest RRset %zu (caps %u, %u)", nrrs,
			  largest, RESOLVER_MAX_REPLY_RRS, RESOLVER_MAX_RRSET_RRS);
		REQUEST_STAT_INC(req, replies_oversized);
		query_mark_failed(q, server);
		q->tcp_server = -1;
		ldns_pkt_free(resp);
		return;
	}
	unsigned bad = rrset_scrub_malformed(resp);
	if (bad)
		log_qdebug(LOG_RESOLVER, req->id, "dropped %u malformed record(s) from a response",
			   bad);
	/* 2. classify */
	enum resolver_class cls = resolver_classify(resp, q->sname, q->stype, q->cut.zone);
	if (log_verbosity >= LOG_LEVEL_DEBUG) {
		char nbuf[DNS_NAME_MAX * 4 + 8], zbuf[DNS_NAME_MAX * 4 + 8];
		log_qdebug(LOG_RESOLVER, req->id, "%s type %u at zone %s: %s%s",
			   dns_name_str(q->sname, nbuf, sizeof(nbuf)), q->stype,
			   dns_name_str(q->cut.zone, zbuf, sizeof(zbuf)), resolver_class_name(cls),
			   outcome->tcp ? " (tcp)" : "");
	}
	/* 3. accept: scrub, (validate: to come), store */
	cls = response_accept(req, q, resp, cls, now);
	/* 4. act */
	query_on_response(req, q, resp, cls, server, outcome->tcp, now);
	ldns_pkt_free(resp);
}
