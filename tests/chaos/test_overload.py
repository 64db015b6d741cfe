"""
num-queries-per-thread reached (issue 12, "no silent loss at saturation"):
what is over the cap gets an answer, not silence.

One worker, num-queries-per-thread: 4, and solo.test. slow at both of its
servers (fauth answers after SLOW_MS). Four questions for solo.test. names
take the four slots; what comes while they wait is over capacity:

- with a long jostle-timeout the newcomers are shed: each one answered at
  once SERVFAIL with EDE 0 and the "overloaded" EXTRA-TEXT, counted as
  requests.shed, and the four resolutions go on;
- with jostle-timeout: 0 the oldest resolution is ended instead: its client
  gets that SERVFAIL + EDE 0 (no stale data exists), counted as
  requests.jostled, and the newcomer is resolved.

Before, both were dropped without an answer (the client waited its
timeout and asked again). No timing is asserted: the waits below only order
the steps (the slots are taken before the newcomers arrive).
"""
import socket
import time

import dns.edns
import dns.message
import dns.rcode

from chaoskit import WILDCARD

SOLO = "solo.test."
CAP = 4
SHED = 6
SLOW_MS = 1500
SHED_TEXT = "overloaded: num-queries-per-thread reached"
ANSWER_WAIT = 15.0      # s: a slot holder's resolution may retry the slow servers


def send(sock, addr, name, qid):
    q = dns.message.make_query(name, "A", use_edns=0, payload=1232)
    q.id = qid
    sock.sendto(q.to_wire(), (addr, 53))


def receive(sock, n, timeout):
    """Up to n answers within `timeout` s: {id: message}."""
    out = {}
    end = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            wire, _ = sock.recvfrom(65535)
        except socket.timeout:
            break
        m = dns.message.from_wire(wire)
        out[m.id] = m
    return out


def ede_of(m):
    """[(code, text)] of the EDE options of `m`."""
    return [(o.code, o.text) for o in m.options if o.otype == dns.edns.EDE]


def client_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


def wait_processed(hf, timeout=10.0):
    """Until holdfast's worker has sent an upstream query, i.e. has read the
    slot holders (they are first in its socket's queue): orders the steps,
    so that what follows is read in a later loop iteration."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if hf.stats().get("upstream.queries", 0) >= 1:
            return
        time.sleep(0.02)
    raise AssertionError("holdfast sent no upstream query for the slot holders")


def fill_slots(hf, holders, tag):
    for i in range(CAP):
        send(holders, hf.addr, "hold%d-%s.%s" % (i, tag, SOLO), 100 + i)


def test_over_capacity_is_shed_with_servfail_and_ede(start_holdfast, fauth):
    hf = start_holdfast(num_queries_per_thread=CAP, jostle_timeout=60000)
    fauth.set_fault(zone=SOLO, mode="slow", delay_ms=SLOW_MS)
    holders, late = client_socket(), client_socket()
    try:
        # One burst: the worker reads the datagrams in the order sent, so the
        # four holders take the slots and the six after them find it full
        # (the holders wait at least one upstream timeout: fauth is slow).
        fill_slots(hf, holders, "shed")
        for i in range(SHED):
            send(late, hf.addr, "late%d.%s" % (i, SOLO), 200 + i)
        shed = receive(late, SHED, ANSWER_WAIT)
        assert sorted(shed) == list(range(200, 200 + SHED)), shed
        for m in shed.values():
            assert m.rcode() == dns.rcode.SERVFAIL, m
            assert ede_of(m) == [(0, SHED_TEXT)], m
        st = hf.stats()
        assert st["requests.shed"] == SHED, st
        assert st.get("requests.jostled", 0) == 0, st
        # The slot holders were not disturbed: each gets its own answer.
        held = receive(holders, CAP, ANSWER_WAIT)
        assert sorted(held) == list(range(100, 100 + CAP)), held
        for m in held.values():
            assert ede_of(m) != [(0, SHED_TEXT)], m
    finally:
        holders.close()
        late.close()


def test_jostled_resolution_is_answered(start_holdfast, fauth):
    hf = start_holdfast(num_queries_per_thread=CAP, jostle_timeout=0)
    fauth.set_fault(zone=SOLO, mode="slow", delay_ms=SLOW_MS)
    holders, late = client_socket(), client_socket()
    try:
        fill_slots(hf, holders, "jostle")
        wait_processed(hf)
        time.sleep(0.05)    # the oldest is older than jostle-timeout (0 ms)
        # A healthy name: it takes the oldest one's slot and resolves.
        send(late, hf.addr, "newcomer.healthy.test.", 300)
        newcomer = receive(late, 1, ANSWER_WAIT)
        held = receive(holders, CAP, ANSWER_WAIT)
        assert sorted(held) == list(range(100, 100 + CAP)), held
        # The oldest (the first sent) was jostled: SERVFAIL + EDE 0; the
        # other three were resolved as usual.
        assert held[100].rcode() == dns.rcode.SERVFAIL, held[100]
        assert ede_of(held[100]) == [(0, SHED_TEXT)], held[100]
        for qid in range(101, 100 + CAP):
            assert ede_of(held[qid]) != [(0, SHED_TEXT)], held[qid]
        assert list(newcomer) == [300], newcomer
        assert newcomer[300].rcode() == dns.rcode.NOERROR, newcomer[300]
        assert [rr.address for rrset in newcomer[300].answer for rr in rrset] == \
            [WILDCARD["healthy.test."]], newcomer[300]
        st = hf.stats()
        assert st["requests.jostled"] == 1, st
        assert st.get("requests.shed", 0) == 0, st
    finally:
        holders.close()
        late.close()
