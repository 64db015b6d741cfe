/*
 * wire_names — the compressed names of a hostile message, bounded before
 * ldns reads them.
 *
 * ldns_wire2dname() (ldns 1.8.3, wire2host.c) follows up to
 * LDNS_MAX_POINTERS (65535) compression pointers per name, in any
 * direction, so a 64 KB reply whose names end in one long pointer chain
 * costs ~10^8 hops to parse (bench/reply_cost.c). Here every name that
 * ldns will decompress is walked first, and the message refused unless
 * each one obeys RFC 1035 §4.1.4 as a compressor writes it:
 *  - a pointer points strictly before the labels it continues (the start
 *    of the name, or of the run of labels the last pointer led to), and
 *    past the header: positions only decrease, so there is no loop;
 *  - at most DNS_NAME_MAX_POINTERS pointers a name;
 *  - the expanded name has at most 255 octets, of labels of at most 63.
 * Which octets of RDATA are names is what ldns_wire2rdf() decides: the
 * record type's ldns descriptor (ldns_rr_descript()), field by field, with
 * the same field sizes. A record whose fields, read that way, do not end
 * exactly at its RDLENGTH is refused too: ldns would go on reading the
 * next record from another offset than ours, and names we never walked.
 * And a record has at most DNS_RDATA_MAX_FIELDS fields: ldns_wire2rdf()
 * allocates RDLENGTH octets for every field that is not a name and grows
 * the record's field array by one each time, so a record of n fields
 * costs n * RDLENGTH octets and, where realloc copies, n^2 / 2 pointer
 * copies: one TXT of 65,000 empty strings made ldns allocate 4.3 GB (25 s
 * through the resolver with glibc, minutes under ASan).
 *
 * Allocates nothing and interprets nothing but sizes. Does not judge the
 * content of a name (letters, case), nor decompress one for a caller.
 */
#include "dns/dns.h"
#include "dns/impl.h"

bool dns_wire_name_check(const uint8_t *wire, size_t len, size_t *pos)
{
	size_t at = *pos;      /* octet being read */
	size_t run = at;       /* where the current run of labels began */
	size_t end = 0;	       /* past the name's own octets, once known */
	size_t expanded = 0;   /* octets of the decompressed name so far */
	unsigned pointers = 0; /* hops taken */

	for (;;) {
		if (at >= len)
			return false;
		uint8_t label = wire[at];
		if ((label & 0xc0) == 0xc0) {
			if (len - at < 2)
				return false;
			size_t to = dns_get16(wire + at) & 0x3fffu;
			/* Strictly before this run: a name cannot point into
			 * itself, nor at what follows it. */
			if (to >= run || to < DNS_HEADER_LEN)
				return false;
			if (++pointers > DNS_NAME_MAX_POINTERS)
				return false;
			if (end == 0)
				end = at + 2;
			at = run = to;
			continue;
		}
		if (label > 63) /* 0x40 and 0x80: no extended label types */
			return false;
		if (len - at < 1u + label)
			return false;
		expanded += 1u + label;
		if (expanded > DNS_NAME_MAX)
			return false;
		at += 1u + label;
		if (label == 0)
			break;
	}
	*pos = end ? end : at;
	return true;
}

/*
 * Size of one non-name RDATA field of ldns type `t` starting at `pos`
 * (pos < end), as ldns_wire2rdf() computes it; 0 when the field does not
 * fit before `end` (ldns refuses the record) or the type is unknown to this
 * copy of the rule (a newer ldns: refused, to be safe).
 */
static size_t field_size(ldns_rdf_type t, const uint8_t *wire, size_t pos, size_t end)
{
	size_t n;

	switch (t) {
	case LDNS_RDF_TYPE_CLASS:
	case LDNS_RDF_TYPE_ALG:
	case LDNS_RDF_TYPE_CERTIFICATE_USAGE:
	case LDNS_RDF_TYPE_SELECTOR:
	case LDNS_RDF_TYPE_MATCHING_TYPE:
	case LDNS_RDF_TYPE_INT8:
		n = 1;
		break;
	case LDNS_RDF_TYPE_TYPE:
	case LDNS_RDF_TYPE_INT16:
	case LDNS_RDF_TYPE_CERT_ALG:
		n = 2;
		break;
	case LDNS_RDF_TYPE_TIME:
	case LDNS_RDF_TYPE_INT32:
	case LDNS_RDF_TYPE_A:
	case LDNS_RDF_TYPE_PERIOD:
		n = 4;
		break;
	case LDNS_RDF_TYPE_TSIGTIME:
	case LDNS_RDF_TYPE_EUI48:
		n = 6;
		break;
	case LDNS_RDF_TYPE_ILNP64:
	case LDNS_RDF_TYPE_EUI64:
		n = 8;
		break;
	case LDNS_RDF_TYPE_AAAA:
		n = 16;
		break;
	case LDNS_RDF_TYPE_STR:
	case LDNS_RDF_TYPE_NSEC3_SALT:
	case LDNS_RDF_TYPE_TAG:
	case LDNS_RDF_TYPE_B32_EXT:
	case LDNS_RDF_TYPE_NSEC3_NEXT_OWNER:
		n = 1u + wire[pos]; /* a length octet, then the data */
		break;
	case LDNS_RDF_TYPE_INT16_DATA:
		if (end - pos < 2)
			return 0;
		n = 2u + dns_get16(wire + pos);
		break;
	case LDNS_RDF_TYPE_HIP:
		/* RFC 8005 §5: HIT length, PK algorithm, PK length, HIT, PK */
		if (end - pos < 4)
			return 0;
		n = 4u + wire[pos] + dns_get16(wire + pos + 2);
		break;
	case LDNS_RDF_TYPE_APL:
	case LDNS_RDF_TYPE_B64:
	case LDNS_RDF_TYPE_HEX:
	case LDNS_RDF_TYPE_NSEC:
	case LDNS_RDF_TYPE_UNKNOWN:
	case LDNS_RDF_TYPE_SERVICE:
	case LDNS_RDF_TYPE_LOC:
	case LDNS_RDF_TYPE_WKS:
	case LDNS_RDF_TYPE_NSAP:
	case LDNS_RDF_TYPE_ATMA:
	case LDNS_RDF_TYPE_IPSECKEY:
	case LDNS_RDF_TYPE_LONG_STR:
	case LDNS_RDF_TYPE_AMTRELAY:
	case LDNS_RDF_TYPE_SVCPARAMS:
	case LDNS_RDF_TYPE_NONE:
		n = end - pos; /* the rest of the RDATA */
		break;
	default:
		return 0;
	}
	return n <= end - pos ? n : 0;
}

bool dns_wire_rdata_check(const uint8_t *wire, size_t len, uint16_t type, size_t rdata,
			  uint16_t rdlen)
{
	const ldns_rr_descriptor *desc = ldns_rr_descript(type);
	size_t pos = rdata, end = rdata + rdlen;
	/* ldns_wire2rdf() counts fields in a uint8_t: after 255 fields of a
	 * type with a repeated last field (HIP's rendezvous servers, TXT's
	 * strings) it wraps to field 0. The same count finds the same fields. */
	uint8_t field = 0;
	size_t fields = 0; /* the same, unwrapped */
	size_t max = ldns_rr_descriptor_maximum(desc);

	if (end > len)
		return false;
	while (pos < end && field < max) {
		ldns_rdf_type t = ldns_rr_descriptor_field_type(desc, field);
		if (t == LDNS_RDF_TYPE_DNAME) {
			/* A name that runs past its RDATA would move ldns's
			 * record boundaries away from ours. */
			if (!dns_wire_name_check(wire, len, &pos) || pos > end)
				return false;
		} else {
			size_t n = field_size(t, wire, pos, end);
			if (n == 0)
				return false;
			pos += n;
		}
		if (++fields > DNS_RDATA_MAX_FIELDS)
			return false;
		field++;
	}
	return pos == end;
}
