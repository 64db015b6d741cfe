#!/usr/bin/python3
"""Seed corpus for fuzz_response: byte 0 picks the question (see the
harness), then 2-byte-length-prefixed upstream responses in the order the
iterator asks for them (QNAME minimisation off). Run with Debian's python3
(dnspython): /usr/bin/python3 fuzz/make_corpus_response.py"""
import os
import struct

import dns.flags
import dns.message
import dns.rcode
import dns.rrset

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "response")


def rr(owner, rtype, rdata):
    return f"{owner} 3600 IN {rtype} {rdata}"


def seed(name, pick, *responses):
    data = bytes([pick])
    for w in responses:
        data += struct.pack(">H", len(w)) + w
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def fix(text):
    owner, _ttl, _cls, rtype, rdata = text.split(None, 4)
    return dns.rrset.from_text(owner, 3600, "IN", rtype, rdata)


def build(qname, qtype, answer=(), authority=(), additional=(), aa=False, rcode=0, tc=False):
    q = dns.message.make_query(qname, qtype)
    r = dns.message.make_response(q)
    r.flags &= ~dns.flags.RD
    if aa:
        r.flags |= dns.flags.AA
    if tc:
        r.flags |= dns.flags.TC
    r.set_rcode(rcode)
    for section, rrs in ((r.answer, answer), (r.authority, authority), (r.additional, additional)):
        for text in rrs:
            section.append(fix(text))
    return r.to_wire()


PRIME = build(".", "NS", answer=[rr(".", "NS", "k.root-servers.net.")],
              additional=[rr("k.root-servers.net.", "A", "193.0.14.129")], aa=True)
COM = build("www.example.com.", "A", authority=[rr("com.", "NS", "a.gtld-servers.net.")],
            additional=[rr("a.gtld-servers.net.", "A", "192.5.6.30")])
EXAMPLE = build("www.example.com.", "A", authority=[rr("example.com.", "NS", "ns.example.com.")],
                additional=[rr("ns.example.com.", "A", "1.2.3.4")])
SOA = rr("example.com.", "SOA", "ns.example.com. host.example.com. 1 3600 600 86400 300")

os.makedirs(OUT, exist_ok=True)
# pick 0: www.example.com. A, qmin off, harden-glue on
seed("chain-a", 0, PRIME, COM, EXAMPLE,
     build("www.example.com.", "A", answer=[rr("www.example.com.", "A", "192.0.2.1")], aa=True))
seed("cname-out", 0, PRIME, COM, EXAMPLE,
     build("www.example.com.", "A", answer=[rr("www.example.com.", "CNAME", "www.example.net.")],
           aa=True))
seed("cname-in", 0, PRIME, COM, EXAMPLE,
     build("www.example.com.", "A", answer=[rr("www.example.com.", "CNAME", "a.example.com."),
                                           rr("a.example.com.", "A", "192.0.2.2")], aa=True))
seed("nxdomain", 0, PRIME, COM, EXAMPLE,
     build("www.example.com.", "A", authority=[SOA], aa=True, rcode=dns.rcode.NXDOMAIN))
seed("nodata", 0, PRIME, COM, EXAMPLE, build("www.example.com.", "A", authority=[SOA], aa=True))
seed("truncated", 0, PRIME, COM, EXAMPLE, build("www.example.com.", "A", aa=True, tc=True),
     build("www.example.com.", "A", answer=[rr("www.example.com.", "A", "192.0.2.3")], aa=True))
seed("dname", 0, PRIME, COM, EXAMPLE,
     build("www.example.com.", "A", answer=[rr("example.com.", "DNAME", "example.org.")], aa=True))
seed("lame-upward", 0, PRIME, COM, EXAMPLE,
     build("www.example.com.", "A", authority=[rr(".", "NS", "k.root-servers.net.")], aa=True))
seed("servfail", 0, PRIME, COM, EXAMPLE, build("www.example.com.", "A", rcode=dns.rcode.SERVFAIL))
seed("glueless", 0, PRIME, COM,
     build("www.example.com.", "A", authority=[rr("example.com.", "NS", "ns.example.net.")]))
seed("escape-bailiwick", 0, PRIME, COM,
     build("www.example.com.", "A", authority=[rr("example.com.", "NS", "ns.example.com.")],
           additional=[rr("ns.example.com.", "A", "1.2.3.4"), rr("www.victim.org.", "A", "6.6.6.6")]),
     build("www.example.com.", "A", answer=[rr("www.example.com.", "A", "192.0.2.9"),
                                           rr("www.victim.org.", "A", "6.6.6.6")], aa=True))
# pick 0x40: the same with QNAME minimisation on
seed("qmin-chain", 0x40, PRIME,
     build("com.", "NS", authority=[rr("com.", "NS", "a.gtld-servers.net.")],
           additional=[rr("a.gtld-servers.net.", "A", "192.5.6.30")]),
     build("example.com.", "NS", authority=[rr("example.com.", "NS", "ns.example.com.")],
           additional=[rr("ns.example.com.", "A", "1.2.3.4")]),
     build("www.example.com.", "A", answer=[rr("www.example.com.", "A", "192.0.2.1")], aa=True))
seed("garbage", 0x13, PRIME, b"\x00\x01\xff\xff" * 8, b"\xc0\x0c" * 40)
