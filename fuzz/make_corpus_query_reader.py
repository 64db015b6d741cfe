#!/usr/bin/python3
"""Writes the seed corpus fuzz/corpus/query_reader/: client queries, valid
and malformed, one datagram per file. Needs dnspython (Debian's
python3-dnspython; run with /usr/bin/python3). The files are committed; run
this again only to change the seeds. Crash inputs found by fuzzing are added
by hand next to these (crash-*), never regenerated."""
import os
import struct
import sys

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rdatatype

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "query_reader")
os.makedirs(out, exist_ok=True)


def query(name, rdtype, **kw):
    q = dns.message.make_query(name, rdtype, **kw)
    q.id = 0x1234
    return q


def save(fname, wire):
    with open(os.path.join(out, fname), "wb") as f:
        f.write(wire)


cookie = dns.edns.GenericOption(dns.edns.COOKIE, bytes(range(8)))
server_cookie = dns.edns.GenericOption(dns.edns.COOKIE, bytes(range(24)))

save("a-plain", query("www.example.com", "A").to_wire())
save("aaaa-edns", query("www.example.com", "AAAA", use_edns=0, payload=1232).to_wire())
save("mx-edns-do", query("Example.ORG", "MX", want_dnssec=True, payload=4096).to_wire())
save("a-cookie", query("www.example.net", "A", use_edns=0, options=[cookie]).to_wire())
save("a-server-cookie",
     query("www.example.net", "A", use_edns=0, options=[server_cookie]).to_wire())
save("ns-root", query(".", "NS", use_edns=0).to_wire())

n = query("example.com", "SOA")
n.set_opcode(dns.opcode.NOTIFY)
save("notify", n.to_wire())

plain = query("www.example.com", "A").to_wire()
edns = query("www.example.com", "A", use_edns=0).to_wire()
# EDNS version 1 (the version byte is the second of the OPT TTL)
save("badvers", edns[:-5] + b"\x01" + edns[-4:])
# QDCOUNT=0 with a cookie: the RFC 7873 §5.4 shape
save("no-question-cookie", plain[:4] + b"\x00\x00\x00\x00\x00\x00\x00\x01"
     + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x0c\x00\x0a\x00\x08" + bytes(8))
save("truncated", edns[:-3])
save("trailing-garbage", edns + b"junk")
# question name that points at itself
save("pointer-in-question", plain[:12] + b"\x03www\xc0\x0c\x00\x01\x00\x01")
save("label-64", plain[:12] + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01")
# two OPT records
save("two-opts", edns[:10] + b"\x00\x02" + edns[12:] + edns[-11:])
# an answer record in a query
save("with-answer", plain[:6] + b"\x00\x01" + plain[8:]
     + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\x7f\x00\x00\x01")
# a response: dropped
resp = dns.message.make_response(query("www.example.com", "A"))
save("response", resp.to_wire())
# OPT whose option length runs past RDATA
save("bad-option-len", plain[:10] + b"\x00\x01" + plain[12:]
     + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x06\x00\x03\x00\x09ab")
# TSIG-like record after the OPT, skipped over
save("opt-then-tsig", edns[:10] + b"\x00\x02" + edns[12:]
     + b"\x03key\x00\x00\xfa\x00\xff\x00\x00\x00\x00\x00\x03abc")
print("wrote", len(os.listdir(out)), "files to", out, file=sys.stderr)
