#!/usr/bin/python3
"""Seed corpus for fuzz_response_cache: byte 0 picks the question (see the
harness: pick & 7 the name, (pick >> 3) & 7 the type, 0x40 QNAME
minimisation, 0x80 harden-glue off), then 2-byte-length-prefixed upstream
responses. The cache is warm, so the first send for a name under
example.com goes to example.com's servers. One poisoning attempt through
each section, and a compression-pointer chain. Run with Debian's python3
(dnspython): /usr/bin/python3 fuzz/make_corpus_response_cache.py"""
import os
import struct

import dns.flags
import dns.message
import dns.rcode
import dns.rrset

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "response_cache")


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


def build(qname, qtype, answer=(), authority=(), additional=(), aa=True, rcode=0):
    q = dns.message.make_query(qname, qtype)
    q.id = 0x4242  # reproducible files
    r = dns.message.make_response(q)
    r.flags &= ~dns.flags.RD
    if aa:
        r.flags |= dns.flags.AA
    r.set_rcode(rcode)
    for section, rrs in ((r.answer, answer), (r.authority, authority), (r.additional, additional)):
        for text in rrs:
            section.append(fix(text))
    return r.to_wire()


NEW_A = 1           # new.example.com. A
WWW_A = 0           # www.example.com. A
NET_A = 3           # a.b.example.net. A
DEEP_A = 6          # deep.sub.example.com. A
NEW_MX = 1 | 3 << 3
SOA = rr("example.com.", "SOA", "ns1.example.com. host.example.com. 1 3600 600 86400 300")
NS = rr("example.com.", "NS", "ns1.example.com.")

os.makedirs(OUT, exist_ok=True)
# answer section: off-chain records in and out of the zone, over warm data
seed("answer-offpath", NEW_A,
     build("new.example.com.", "A", answer=[rr("new.example.com.", "A", "192.0.2.7"),
                                           rr("www.example.com.", "A", "6.6.6.6"),
                                           rr("victim.example.org.", "A", "6.6.6.6"),
                                           rr("ns1.example.com.", "A", "6.6.6.6")]))
seed("answer-cname-chain", NEW_A,
     build("new.example.com.", "A", answer=[rr("new.example.com.", "CNAME", "www.example.com."),
                                           rr("www.example.com.", "A", "192.0.2.8"),
                                           rr("mail.example.com.", "A", "6.6.6.6")]))
seed("answer-dname", NET_A,
     build("a.b.example.net.", "A", answer=[rr("b.example.net.", "DNAME", "example.com."),
                                           rr("a.b.example.net.", "CNAME", "a.example.com."),
                                           rr("a.example.com.", "A", "6.6.6.6"),
                                           rr("c.example.net.", "A", "6.6.6.6")]))
seed("answer-nonauth-over-auth", WWW_A | 0x80,
     build("www.example.com.", "A", answer=[rr("www.example.com.", "A", "6.6.6.6")], aa=False))
# authority section: NS sets for other zones, for the parent, two at once
seed("authority-foreign-ns", NEW_A,
     build("new.example.com.", "A", answer=[rr("new.example.com.", "A", "192.0.2.9")],
           authority=[rr("example.org.", "NS", "ns.evil.example."),
                      rr("com.", "NS", "ns.evil.example."), NS,
                      rr("sub.example.com.", "NS", "ns.evil.example.")]))
seed("authority-referral-two-sets", DEEP_A,
     build("deep.sub.example.com.", "A", aa=False,
           authority=[rr("sub.example.com.", "NS", "ns.sub.example.com."),
                      rr("other.example.com.", "NS", "ns.sub.example.com."),
                      rr("example.com.", "NS", "ns.evil.example.")],
           additional=[rr("ns.sub.example.com.", "A", "192.0.2.60")]),
     build("deep.sub.example.com.", "A", answer=[rr("deep.sub.example.com.", "A", "192.0.2.61")]))
seed("authority-nxdomain-extra", NEW_MX,
     build("new.example.com.", "MX", rcode=dns.rcode.NXDOMAIN,
           authority=[SOA, rr("example.org.", "NS", "ns.evil.example."),
                      rr("www.example.com.", "A", "6.6.6.6")]))
# additional section: glue for names no NS set names, and out of zone
seed("additional-glue", NEW_A,
     build("new.example.com.", "A", answer=[rr("new.example.com.", "A", "192.0.2.10")],
           authority=[NS],
           additional=[rr("ns1.example.com.", "A", "192.0.2.54"),
                       rr("www.example.com.", "A", "6.6.6.6"),
                       rr("victim.example.org.", "A", "6.6.6.6"),
                       rr("ns2.example.net.", "A", "6.6.6.6"),
                       rr("fresh.example.com.", "A", "6.6.6.6"),
                       rr("fresh.example.com.", "AAAA", "2001:db8::666")]))
seed("additional-glue-unhardened", NEW_A | 0x80,
     build("new.example.com.", "A", aa=False,
           authority=[rr("new.example.com.", "NS", "ns.example.org.")],
           additional=[rr("ns.example.org.", "A", "6.6.6.6"),
                       rr("victim.example.org.", "A", "6.6.6.6"),
                       rr("other.example.org.", "A", "6.6.6.6")]),
     build("new.example.com.", "A", answer=[rr("new.example.com.", "A", "192.0.2.11")]))
# a 16-hop chain is the cap; this reply's owner needs 40: refused, nothing stored
chain = bytearray(build("new.example.com.", "A"))
chain[7] = 2  # ANCOUNT 2: the chain's holder and the record that ends in it
chain += b"\xc0\x0c\xff\x00\x00\x01\x00\x00\x0e\x10" + struct.pack(">H", 1 + 2 * 40)
root = len(chain)
chain += b"\x00"
prev = root
for _ in range(40):
    top = len(chain)
    chain += struct.pack(">H", 0xc000 | prev)
    prev = top
chain += struct.pack(">H", 0xc000 | prev) + b"\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\xc0\x00\x02\x0c"
seed("pointer-chain", NEW_A, bytes(chain))


def hip_chain(segs, labels, fields):
    """The worst 64 KB reply for the parse (bench/reply_cost.c): a chain of
    `segs` runs of `labels` one-octet labels in an opaque record, then HIP
    records of `fields` fields whose RDATA is two-octet names pointing at the
    chain's top (every 256th field is a HIT/PK header: ldns counts fields in
    a uint8_t)."""
    w = bytearray(build("new.example.com.", "A"))
    body = bytearray(b"\x00")
    base = len(w) + 12
    prev = base
    top = base
    for _ in range(segs):
        top = base + len(body)
        body += b"\x01x" * labels + struct.pack(">H", 0xc000 | prev)
        prev = top
    w += b"\xc0\x0c\xff\x00\x00\x01\x00\x00\x0e\x10" + struct.pack(">H", len(body)) + body
    records = 1
    while 65535 - len(w) >= 12 + 4 + 2:
        rdata = bytearray()
        for field in range(fields):
            if 65535 - len(w) - 12 - len(rdata) < 4:
                break
            rdata += b"\x00\x00\x00\x00" if field % 256 == 0 else struct.pack(">H", 0xc000 | top)
        w += b"\xc0\x0c\x00\x37\x00\x01\x00\x00\x0e\x10" + struct.pack(">H", len(rdata)) + rdata
        records += 1
    w[6:8] = struct.pack(">H", records)
    return bytes(w)


# the longest names the bound accepts (16 hops, 241 octets), as many as fit
seed("hip-names-at-cap", NEW_A, hip_chain(15, 8, 512))
# half the message a 16,000-hop chain, half names at its end: refused
seed("hip-names-16k-chain", NEW_A, hip_chain(16000, 0, 65535))
# one TXT of 65,000 empty strings (4.3 GB of ldns allocations): refused
txt = bytearray(build("new.example.com.", "A"))
txt[7] = 1
txt += b"\xc0\x0c\x00\x10\x00\x01\x00\x00\x0e\x10" + struct.pack(">H", 65535 - len(txt) - 12)
txt += bytes(65535 - len(txt))
seed("txt-empty-strings", NEW_A, bytes(txt))
