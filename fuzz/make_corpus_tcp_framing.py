#!/usr/bin/python3
"""Seed corpus for fuzz_tcp_framing: byte 0 seeds the read sizes (see the
harness), then a TCP stream: pipelined queries, a partial frame, a zero
length, the largest frame. Run with Debian's python3 (dnspython):
/usr/bin/python3 fuzz/make_corpus_tcp_framing.py"""
import os
import struct

import dns.message

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "tcp_framing")


def frame(wire):
    return struct.pack("!H", len(wire)) + wire


def seed(name, pieces, stream):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([pieces]) + stream)


os.makedirs(OUT, exist_ok=True)
q = [dns.message.make_query(f"q{i}.example.", "A").to_wire() for i in range(5)]
seed("one-query", 0, frame(q[0]))
seed("pipelined", 7, b"".join(frame(w) for w in q))
seed("partial-tail", 42, frame(q[0]) + frame(q[1])[:9])
seed("prefix-only", 3, frame(q[0]) + b"\x00")
seed("zero-length", 9, frame(q[0]) + b"\x00\x00" + frame(q[1]))
seed("largest", 200, frame(bytes(65535)) + frame(q[2]))
seed("one-byte-messages", 1, b"\x00\x01A" * 300)
seed("empty", 0, b"")
