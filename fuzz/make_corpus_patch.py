#!/usr/bin/python3
"""Seed corpus for fuzz_patch: 5 bytes of query view (see the harness:
flags and spare room, client ID, offset capacity, name length), the
client's query name, then an answer as the fast path caches it (no OPT;
one with OPT, truncated and garbage ones too). Run with Debian's python3
(dnspython): /usr/bin/python3 fuzz/make_corpus_patch.py"""
import os
import struct

import dns.message
import dns.name
import dns.rcode
import dns.rrset

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "patch")
RD, CD, EDNS, DO = 1, 2, 4, 8


def seed(name, flags, room, qname, wire, cap=64, cid=0xBEEF):
    qwire = dns.name.from_text(qname).to_wire()
    head = bytes([flags | (room << 4)]) + struct.pack("!HBB", cid, cap, len(qwire))
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(head + qwire + wire)


def answer(qname, qtype, rrsets=(), authority=(), rcode=dns.rcode.NOERROR, edns=False):
    q = dns.message.make_query(qname.lower(), qtype, use_edns=edns)
    r = dns.message.make_response(q)
    r.set_rcode(rcode)
    for owner, ttl, rtype, *rdata in rrsets:
        r.answer.append(dns.rrset.from_text(owner, ttl, "IN", rtype, *rdata))
    for owner, ttl, rtype, *rdata in authority:
        r.authority.append(dns.rrset.from_text(owner, ttl, "IN", rtype, *rdata))
    return r.to_wire()


os.makedirs(OUT, exist_ok=True)
a = answer("www.example.com.", "A", [("www.example.com.", 300, "A", "192.0.2.1", "192.0.2.2")])
seed("a-plain", RD, 0, "www.example.com.", a)
seed("a-edns-do", RD | EDNS | DO, 11, "WwW.ExAmPlE.cOm.", a)
seed("a-edns-no-room", EDNS, 10, "www.example.com.", a)
seed("a-cap-1", CD, 0, "www.example.com.", a, cap=1)
cname = answer("alias.example.", "AAAA", [("alias.example.", 60, "CNAME", "target.example."),
                                         ("target.example.", 120, "AAAA", "2001:db8::1")])
seed("cname-chain", RD | EDNS, 15, "alias.example.", cname)
soa = ("example.", 900, "SOA", "ns.example. host.example. 1 7200 3600 1209600 300")
nx = answer("nope.example.", "A", authority=[soa], rcode=dns.rcode.NXDOMAIN)
seed("nxdomain-soa", RD, 0, "nope.example.", nx)
opt = answer("www.example.com.", "A", [("www.example.com.", 5, "A", "192.0.2.9")], edns=True)
seed("with-opt", EDNS, 11, "www.example.com.", opt)
seed("truncated", RD, 0, "www.example.com.", a[: len(a) - 3])
seed("header-only", RD, 0, "www.example.com.", a[:12])
seed("name-longer-than-msg", RD, 0, "a.very.long.name.that.does.not.fit.example.", a[:20])
seed("empty-name", RD, 0, ".", a)
bad = bytearray(a)
bad[7] = 200  # ANCOUNT far beyond the records
seed("ancount-lies", RD, 0, "www.example.com.", bytes(bad))
ptr = bytearray(a)
ptr[12 + 17 + 4] = 0xFF  # a compression pointer to nowhere in the answer owner
seed("bad-pointer", RD, 0, "www.example.com.", bytes(ptr))
full = bytearray(a)
full[10:12] = b"\xff\xff"  # ARCOUNT at its maximum: EDNS must not wrap it
seed("arcount-max", EDNS, 11, "www.example.com.", bytes(full))
