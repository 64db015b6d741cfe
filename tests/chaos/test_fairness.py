"""
Fair shares of the upstream limits (issue 12): one client flooding random
names of a zone whose servers are slow cannot take the zone's whole
in-flight cap (128 queries, all workers) from everybody else.

solo.test. (two servers of one provider, so no hedging; 64 in flight per
server, 128 for the zone) answers every name after 500 ms, except
www.solo.test., which it answers at once. A flooder (127.0.0.2, one /24)
sends a burst of 200 random names back to back; right after, a normal
client of another /24 (127.1.0.3: the share is per /24) asks
www.solo.test. once. The flooder is held to its share once the zone is
busy (96 of 128 slots: the last quarter stays for the others), so the
normal client gets its answer, and the refusals are counted
(upstream.refused_client_inflight). Before the shares, the flood held all
128 slots and the normal client got SERVFAIL.

Bounded: 201 queries, every reply awaited at most 4 s.
"""
import select
import socket
import time
import uuid

import dns.message
import dns.rcode
from holdfast_test import PORT

SOLO = "solo.test."
FLOODER = "127.0.0.2"
NORMAL = "127.1.0.3"     # another /24 than the flooder's
FLOOD = 200              # more than the zone's cap of 128
SLOW_MS = 500            # below the timeout the warm-up leaves (RTO ~900 ms)
WAIT_S = 4.0


def _socket(source):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((source, 0))
    s.setblocking(False)
    return s


def _collect(socks, want, deadline):
    """Replies by (socket index, message id) until `want` of them or the
    deadline."""
    got = {}
    while len(got) < want:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select(socks, [], [], left)
        for s in r:
            while True:
                try:
                    wire, _ = s.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                try:
                    msg = dns.message.from_wire(wire)
                except Exception:
                    continue
                got[(socks.index(s), msg.id)] = msg
    return got


def test_flooder_held_to_its_share(hf, fauth):
    # Warm up: the delegation cached and both servers measured slow
    # (300 ms), so the flood's 500 ms answers come well within the timeout
    # and no breaker opens.
    fauth.set_fault(zone=SOLO, mode="slow", delay_ms=300)
    for i in range(3):
        r = hf.ask("warm%d.%s" % (i, SOLO))
        assert r.answered and r.rcode == dns.rcode.NOERROR, r
    fauth.set_fault(zone=SOLO, mode="slow", delay_ms=SLOW_MS)
    fauth.set_fault(zone=SOLO, name="www." + SOLO, mode="normal")
    before = hf.stats()

    flooder, normal = _socket(FLOODER), _socket(NORMAL)
    try:
        tag = uuid.uuid4().hex[:8]
        for i in range(FLOOD):
            q = dns.message.make_query("f%d-%s.%s" % (i, tag, SOLO), "A", use_edns=0)
            q.id = i + 1
            flooder.sendto(q.to_wire(), (hf.addr, PORT))
        q = dns.message.make_query("www." + SOLO, "A", use_edns=0)
        q.id = 4242
        normal.sendto(q.to_wire(), (hf.addr, PORT))
        got = _collect([flooder, normal], FLOOD + 1, time.monotonic() + WAIT_S)
    finally:
        flooder.close()
        normal.close()

    stats = hf.stats()
    refused = stats.get("upstream.refused_client_inflight", 0) - \
        before.get("upstream.refused_client_inflight", 0)
    flood = [m for (k, _), m in got.items() if k == 0]
    rcodes = {}
    for m in flood:
        rcodes[dns.rcode.to_text(m.rcode())] = rcodes.get(dns.rcode.to_text(m.rcode()), 0) + 1
    detail = "flood replies %d %s; refused_client_inflight +%d refused_inflight %d" % (
        len(flood), rcodes, refused, stats.get("upstream.refused_inflight", -1))

    reply = got.get((1, 4242))
    assert reply is not None, "the normal client got no answer; " + detail
    assert reply.rcode() == dns.rcode.NOERROR, \
        "the normal client got %s; %s" % (dns.rcode.to_text(reply.rcode()), detail)
    addrs = [rd.address for rrset in reply.answer for rd in rrset if rrset.rdtype == 1]
    assert addrs == ["192.0.2.31"], reply
    # The flooder was held to its share, and still had most of the zone.
    assert refused > 0, detail
    assert rcodes.get("NOERROR", 0) >= 64, detail
