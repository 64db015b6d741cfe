#!/usr/bin/python3
"""Seed corpus for fuzz_upstream_match: byte 0 picks the question (see the
harness: bits 0-2 name, 3-5 type, 6 class CH, 7 ID from the response), then
one response. Run with Debian's python3 (dnspython):
/usr/bin/python3 fuzz/make_corpus_upstream_match.py"""
import os

import dns.flags
import dns.message
import dns.rcode
import dns.rrset

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "upstream_match")
ID_FROM_RESPONSE = 0x80


def seed(name, pick, wire):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([pick]) + wire)


def response(qname, qtype, qclass="IN", answer=None):
    q = dns.message.make_query(qname, qtype, qclass, use_edns=False)
    r = dns.message.make_response(q)
    r.flags &= ~dns.flags.RD
    if answer:
        r.answer.append(dns.rrset.from_text(qname, 300, qclass, qtype, answer))
    return bytearray(r.to_wire())


os.makedirs(OUT, exist_ok=True)
ok = response("www.example.com.", "A", answer="192.0.2.1")
seed("match", ID_FROM_RESPONSE | 0, bytes(ok))
seed("match-case", ID_FROM_RESPONSE | 0, bytes(response("WWW.example.COM.", "A")))
# 0x20: a mixed-case echo (the harness also matches every input exactly
# against a drawn case pattern).
seed("match-mixed-case", ID_FROM_RESPONSE | 7, bytes(response("wWw.eXaMpLe.cOm.", "A")))
seed("match-root-ns", ID_FROM_RESPONSE | 2 | (2 << 3), bytes(response(".", "NS")))
seed("match-ch", ID_FROM_RESPONSE | 0x40 | 1, bytes(response("example.com.", "A", "CH")))
seed("wrong-id", 0, bytes(ok))
qr0 = bytearray(ok)
qr0[2] &= 0x7F
seed("qr0", ID_FROM_RESPONSE, bytes(qr0))
for n in (0, 2):
    w = bytearray(ok)
    w[5] = n
    seed(f"qdcount-{n}", ID_FROM_RESPONSE, bytes(w))
one_off = bytearray(ok)
one_off[14] ^= 0x01
seed("name-one-octet", ID_FROM_RESPONSE, bytes(one_off))
seed("truncated-question", ID_FROM_RESPONSE, bytes(ok[:20]))
seed("truncated-type", ID_FROM_RESPONSE, bytes(ok[:31]))
seed("header-only", ID_FROM_RESPONSE, bytes(ok[:12]))
seed("short", ID_FROM_RESPONSE, bytes(ok[:7]))
pointer = bytes(ok[:12]) + b"\xc0\x12\x00\x01\x00\x01" + bytes(ok[12:29])
seed("pointer-question", ID_FROM_RESPONSE, pointer)
seed("wrong-type", ID_FROM_RESPONSE | (1 << 3), bytes(ok))
seed("wrong-class", ID_FROM_RESPONSE | 0x40, bytes(ok))
body = bytearray(ok[:33])
body[7] = 5  # ANCOUNT 5, no records: the question matches, the body is garbage
seed("garbage-body", ID_FROM_RESPONSE, bytes(body) + b"\xff\xc0\x01")
long_name = bytes(ok[:12]) + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01"
seed("oversized-name", ID_FROM_RESPONSE, long_name)
