/*
 * root_hints — the built-in root hints and the named.root reader.
 *
 * Files are read with ldns's master-file reader, so $TTL, $ORIGIN (default:
 * the root), comments, relative names and parentheses behave as in any zone
 * file; the built-in text goes through the same path via fmemopen so that
 * both are validated alike. $INCLUDE is refused: hints are one file.
 */
#include "daemon/root_hints.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define ROOT_HINTS_BUILTIN_NAME "built-in root hints"
#define ROOT_HINTS_DEFAULT_TTL 3600000u /* named.root's TTL */

/* Addresses as in IANA's named.root; conf/root.hints is the same text. */
static const char root_hints_builtin[] =
	"; Root name server hints for holdfast, in the format of IANA's named.root\n"
	"; (https://www.internic.net/domain/named.root). Only the NS records for the\n"
	"; root and the addresses of their targets are used. Update this copy from\n"
	"; named.root when a root server is renumbered (b.root was in November 2023).\n"
	";\n"
	"; operated by Verisign, Inc.\n"
	";\n"
	".                          3600000    NS    A.ROOT-SERVERS.NET.\n"
	"A.ROOT-SERVERS.NET.        3600000    A     198.41.0.4\n"
	"A.ROOT-SERVERS.NET.        3600000    AAAA  2001:503:ba3e::2:30\n"
	";\n"
	"; operated by University of Southern California, ISI\n"
	";\n"
	".                          3600000    NS    B.ROOT-SERVERS.NET.\n"
	"B.ROOT-SERVERS.NET.        3600000    A     170.247.170.2\n"
	"B.ROOT-SERVERS.NET.        3600000    AAAA  2801:1b8:10::b\n"
	";\n"
	"; operated by Cogent Communications\n"
	";\n"
	".                          3600000    NS    C.ROOT-SERVERS.NET.\n"
	"C.ROOT-SERVERS.NET.        3600000    A     192.33.4.12\n"
	"C.ROOT-SERVERS.NET.        3600000    AAAA  2001:500:2::c\n"
	";\n"
	"; operated by University of Maryland\n"
	";\n"
	".                          3600000    NS    D.ROOT-SERVERS.NET.\n"
	"D.ROOT-SERVERS.NET.        3600000    A     199.7.91.13\n"
	"D.ROOT-SERVERS.NET.        3600000    AAAA  2001:500:2d::d\n"
	";\n"
	"; operated by NASA Ames Research Center\n"
	";\n"
	".                          3600000    NS    E.ROOT-SERVERS.NET.\n"
	"E.ROOT-SERVERS.NET.        3600000    A     192.203.230.10\n"
	"E.ROOT-SERVERS.NET.        3600000    AAAA  2001:500:a8::e\n"
	";\n"
	"; operated by Internet Systems Consortium, Inc.\n"
	";\n"
	".                          3600000    NS    F.ROOT-SERVERS.NET.\n"
	"F.ROOT-SERVERS.NET.        3600000    A     192.5.5.241\n"
	"F.ROOT-SERVERS.NET.        3600000    AAAA  2001:500:2f::f\n"
	";\n"
	"; operated by US Department of Defense (NIC)\n"
	";\n"
	".                          3600000    NS    G.ROOT-SERVERS.NET.\n"
	"G.ROOT-SERVERS.NET.        3600000    A     192.112.36.4\n"
	"G.ROOT-SERVERS.NET.        3600000    AAAA  2001:500:12::d0d\n"
	";\n"
	"; operated by US Army Research Lab\n"
	";\n"
	".                          3600000    NS    H.ROOT-SERVERS.NET.\n"
	"H.ROOT-SERVERS.NET.        3600000    A     198.97.190.53\n"
	"H.ROOT-SERVERS.NET.        3600000    AAAA  2001:500:1::53\n"
	";\n"
	"; operated by Netnod\n"
	";\n"
	".                          3600000    NS    I.ROOT-SERVERS.NET.\n"
	"I.ROOT-SERVERS.NET.        3600000    A     192.36.148.17\n"
	"I.ROOT-SERVERS.NET.        3600000    AAAA  2001:7fe::53\n"
	";\n"
	"; operated by Verisign, Inc.\n"
	";\n"
	".                          3600000    NS    J.ROOT-SERVERS.NET.\n"
	"J.ROOT-SERVERS.NET.        3600000    A     192.58.128.30\n"
	"J.ROOT-SERVERS.NET.        3600000    AAAA  2001:503:c27::2:30\n"
	";\n"
	"; operated by RIPE NCC\n"
	";\n"
	".                          3600000    NS    K.ROOT-SERVERS.NET.\n"
	"K.ROOT-SERVERS.NET.        3600000    A     193.0.14.129\n"
	"K.ROOT-SERVERS.NET.        3600000    AAAA  2001:7fd::1\n"
	";\n"
	"; operated by ICANN\n"
	";\n"
	".                          3600000    NS    L.ROOT-SERVERS.NET.\n"
	"L.ROOT-SERVERS.NET.        3600000    A     199.7.83.42\n"
	"L.ROOT-SERVERS.NET.        3600000    AAAA  2001:500:9f::42\n"
	";\n"
	"; operated by WIDE Project\n"
	";\n"
	".                          3600000    NS    M.ROOT-SERVERS.NET.\n"
	"M.ROOT-SERVERS.NET.        3600000    A     202.12.27.33\n"
	"M.ROOT-SERVERS.NET.        3600000    AAAA  2001:dc3::35\n"
	"; End of file\n";

const char *daemon_root_hints_builtin(void)
{
	return root_hints_builtin;
}

__attribute__((format(printf, 5, 6))) static int
hints_fail(char *err, size_t errlen, const char *name, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || errlen == 0)
		return -1;
	if (line > 0)
		n = snprintf(err, errlen, "%s:%d: ", name, line);
	else
		n = snprintf(err, errlen, "%s: ", name);
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static bool rr_is_root_ns(const ldns_rr *rr)
{
	return ldns_rr_get_type(rr) == LDNS_RR_TYPE_NS && ldns_rr_rd_count(rr) == 1 &&
	       ldns_dname_label_count(ldns_rr_owner(rr)) == 0;
}

static bool rr_is_ns_target(const ldns_rr_list *all, const ldns_rdf *owner)
{
	size_t i;

	for (i = 0; i < ldns_rr_list_rr_count(all); i++) {
		const ldns_rr *ns = ldns_rr_list_rr(all, i);

		if (rr_is_root_ns(ns) && ldns_dname_compare(ldns_rr_rdf(ns, 0), owner) == 0)
			return true;
	}
	return false;
}

/*
 * Reads every IN NS/A/AAAA record of `fp` into `all`. ldns consumes leading
 * comment lines in the same call as the record after them and leaves
 * line_nr on the line after the one it failed on, hence `line_nr - 1`.
 */
static int hints_read(FILE *fp, const char *name, ldns_rr_list *all, char *err, size_t errlen)
{
	uint32_t ttl = ROOT_HINTS_DEFAULT_TTL;
	ldns_rdf *origin = ldns_dname_new_frm_str(".");
	ldns_rdf *prev = NULL;
	int line_nr = 1, ret = 0;

	if (!origin)
		return hints_fail(err, errlen, name, 0, "out of memory");
	while (!feof(fp)) {
		int start = line_nr;
		ldns_rr *rr = NULL;
		ldns_status st = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &origin, &prev, &line_nr);
		int line = line_nr > start ? line_nr - 1 : start;

		if (st == LDNS_STATUS_SYNTAX_EMPTY || st == LDNS_STATUS_SYNTAX_TTL ||
		    st == LDNS_STATUS_SYNTAX_ORIGIN)
			continue;
		if (st == LDNS_STATUS_SYNTAX_INCLUDE) {
			ret = hints_fail(err, errlen, name, line, "$INCLUDE is not supported");
			break;
		}
		if (st != LDNS_STATUS_OK) {
			ret = hints_fail(err, errlen, name, line, "%s",
					 ldns_get_errorstr_by_id(st));
			break;
		}
		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
		    (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS &&
		     ldns_rr_get_type(rr) != LDNS_RR_TYPE_A &&
		     ldns_rr_get_type(rr) != LDNS_RR_TYPE_AAAA)) {
			ldns_rr_free(rr);
			continue;
		}
		if (!ldns_rr_list_push_rr(all, rr)) {
			ldns_rr_free(rr);
			ret = hints_fail(err, errlen, name, 0, "out of memory");
			break;
		}
	}
	if (ret == 0 && ferror(fp))
		ret = hints_fail(err, errlen, name, 0, "read error: %s", strerror(errno));
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	return ret;
}

static int hints_push_clone(ldns_rr_list *list, const ldns_rr *rr)
{
	ldns_rr *copy = ldns_rr_clone(rr);

	if (!copy || !ldns_rr_list_push_rr(list, copy)) {
		ldns_rr_free(copy);
		return -1;
	}
	return 0;
}

/* Copies the useful records of `all` into a new list; -1 if it cannot start. */
static int hints_select(ldns_rr_list *all, const char *name, ldns_rr_list **out, char *err,
			size_t errlen)
{
	ldns_rr_list *hints = ldns_rr_list_new();
	size_t i, nns = 0, naddr = 0;

	if (!hints)
		return hints_fail(err, errlen, name, 0, "out of memory");
	for (i = 0; i < ldns_rr_list_rr_count(all); i++) {
		ldns_rr *rr = ldns_rr_list_rr(all, i);

		if (!rr_is_root_ns(rr))
			continue;
		if (hints_push_clone(hints, rr))
			goto out_nomem;
		nns++;
	}
	for (i = 0; i < ldns_rr_list_rr_count(all); i++) {
		ldns_rr *rr = ldns_rr_list_rr(all, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_NS ||
		    !rr_is_ns_target(all, ldns_rr_owner(rr)))
			continue;
		if (hints_push_clone(hints, rr))
			goto out_nomem;
		naddr++;
	}
	if (nns == 0) {
		ldns_rr_list_deep_free(hints);
		return hints_fail(err, errlen, name, 0, "no NS record for the root zone '.'");
	}
	if (naddr == 0) {
		ldns_rr_list_deep_free(hints);
		return hints_fail(err, errlen, name, 0,
				  "no A or AAAA record for any of the root's name servers");
	}
	*out = hints;
	return 0;
out_nomem:
	ldns_rr_list_deep_free(hints);
	return hints_fail(err, errlen, name, 0, "out of memory");
}

int daemon_root_hints_load(const char *path_or_null, ldns_rr_list **out, char *err, size_t errlen)
{
	const char *name = path_or_null ? path_or_null : ROOT_HINTS_BUILTIN_NAME;
	ldns_rr_list *all;
	FILE *fp;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (path_or_null)
		fp = fopen(path_or_null, "r");
	else /* read-only stream: the cast does not lead to a write */
		fp = fmemopen((void *)root_hints_builtin, sizeof(root_hints_builtin) - 1, "r");
	if (!fp)
		return hints_fail(err, errlen, name, 0, "cannot open: %s", strerror(errno));
	all = ldns_rr_list_new();
	if (!all) {
		(void)fclose(fp); /* read-only: nothing buffered to lose */
		return hints_fail(err, errlen, name, 0, "out of memory");
	}
	ret = hints_read(fp, name, all, err, errlen);
	(void)fclose(fp); /* read-only: nothing buffered to lose */
	if (ret == 0)
		ret = hints_select(all, name, out, err, errlen);
	ldns_rr_list_deep_free(all);
	return ret;
}
