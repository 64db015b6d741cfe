"""
Spoofing resistance beyond ID and port (holdfast issue 12, upstream/):
0x20 random case in upstream query names and unwanted-reply counting.

Three small dnspython authorities, each a stub zone of this module's
holdfast (NSD keeps case and sends no junk, so it cannot play these parts):
 - keep.test. (127.0.7.2) echoes the question as sent and names its answer
   after it (compressed to the question): holdfast must send random case
   and the client must still see its own case;
 - lower.test. (127.0.7.3) lower-cases every name it writes, the question
   included: holdfast still resolves (asks again without 0x20), and after
   three such replies learns the server, logs it once, counts it;
 - spoof.test. (127.0.7.4) sends wrong-ID, wrong-question and QR=0 replies
   over UDP before the real one: counted, and past unwanted-reply-threshold
   holdfast asks that zone over TCP (the server sees TCP queries).
"""
import os
import socket
import struct
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from holdfast_test import config, resolver, suite

import harness

KEEP = "127.0.7.2"
LOWER = "127.0.7.3"
SPOOF = "127.0.7.4"
DEAD_ROOT = "127.0.9.9"
ADDR = "127.0.0.72"         # this module's holdfast
THRESHOLD = 6

pytestmark = pytest.mark.skipif(harness.resolver_kind() != "holdfast",
                                reason="holdfast's stub zones, keys and holdfast-ctl")

# Enough letters that a random draw is never all lower case (2^-26 per query).
LONG = "abcdefghijklmnopqrstuvwxyz"


def _name_has_upper(wire_name):
    return any(c.isupper() for c in wire_name)


class Authority:
    """A UDP + TCP authority on `addr`:53 for one zone. Answers every A
    question with 192.0.2.1 under the question's own name (NS/SOA for the
    apex). `mode`: "keep", "lower" or "spoof". Records every question name
    as it came (case included) and the transport."""

    def __init__(self, addr, zone, mode):
        self.addr, self.zone, self.mode = addr, dns.name.from_text(zone), mode
        self.seen = []           # (transport, name text as received)
        self.lock = threading.Lock()
        self.stop = False
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((addr, 53))
        self.udp.settimeout(0.2)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((addr, 53))
        self.tcp.listen(8)
        self.tcp.settimeout(0.2)
        self.threads = [threading.Thread(target=self.run_udp, daemon=True),
                        threading.Thread(target=self.run_tcp, daemon=True)]
        for t in self.threads:
            t.start()

    def names(self, transport=None):
        with self.lock:
            return [n for t, n in self.seen if transport is None or t == transport]

    def answer(self, query, transport):
        q = query.question[0]
        with self.lock:
            self.seen.append((transport, q.name.to_text()))
        r = dns.message.make_response(query)
        r.flags |= dns.flags.AA
        apex = "%s 60 IN SOA ns.%s hostmaster.%s 1 3600 900 604800 60" % (
            self.zone, self.zone, self.zone)
        if q.name == self.zone and q.rdtype == dns.rdatatype.NS:
            r.answer.append(dns.rrset.from_text(q.name, 60, "IN", "NS", "ns." + str(self.zone)))
        elif q.rdtype == dns.rdatatype.A and q.name != self.zone:
            # Named after the question as received: dnspython compresses it
            # to the question (a pointer to offset 12).
            r.answer.append(dns.rrset.from_text(q.name, 60, "IN", "A", "192.0.2.1"))
        else:
            r.authority.append(dns.rrset.from_text(*apex.split(None, 4)))
        if self.mode == "lower":
            # A server that does not keep case: every name lower-cased.
            r.question[0].name = dns.name.from_text(q.name.to_text().lower())
            for rrset in r.answer:
                rrset.name = dns.name.from_text(rrset.name.to_text().lower())
        return r.to_wire()

    def junk(self, query):
        """What the spoofer sends before the answer: wrong ID, another
        question, our query echoed with QR=0."""
        out = []
        r = dns.message.make_response(query)
        r.id = (query.id + 1) & 0xffff
        out.append(r.to_wire())
        other = dns.message.make_query("other." + str(self.zone), "A")
        other.id = query.id
        other.flags |= dns.flags.QR
        out.append(other.to_wire())
        out.append(query.to_wire())
        return out

    def run_udp(self):
        while not self.stop:
            try:
                wire, peer = self.udp.recvfrom(65535)
            except socket.timeout:
                continue
            try:
                query = dns.message.from_wire(wire)
                if self.mode == "spoof":
                    for j in self.junk(query):
                        self.udp.sendto(j, peer)
                self.udp.sendto(self.answer(query, "udp"), peer)
            except Exception:   # a test server: ignore what it cannot parse
                pass

    def run_tcp(self):
        while not self.stop:
            try:
                conn, _ = self.tcp.accept()
            except socket.timeout:
                continue
            try:
                conn.settimeout(2)
                head = conn.recv(2)
                if len(head) == 2:
                    n = struct.unpack("!H", head)[0]
                    wire = b""
                    while len(wire) < n:
                        chunk = conn.recv(n - len(wire))
                        if not chunk:
                            break
                        wire += chunk
                    out = self.answer(dns.message.from_wire(wire), "tcp")
                    conn.sendall(struct.pack("!H", len(out)) + out)
            except Exception:
                pass
            finally:
                conn.close()

    def close(self):
        self.stop = True
        for t in self.threads:
            t.join(2)
        self.udp.close()
        self.tcp.close()


@pytest.fixture(scope="module")
def auths():
    suite.require_netns("tests/integration/run.sh")
    a = {"keep": Authority(KEEP, "keep.test.", "keep"),
         "lower": Authority(LOWER, "lower.test.", "lower"),
         "spoof": Authority(SPOOF, "spoof.test.", "spoof")}
    yield a
    for x in a.values():
        x.close()


@pytest.fixture(scope="module")
def hf(auths, tmp_root):
    hints = config.write_root_hints(os.path.join(tmp_root, "caps-root.hints"), DEAD_ROOT,
                                    ns="dead.root.")
    binary = resolver.binary_from_env("HOLDFAST_BIN", fallback="holdfast")
    ctl = os.environ.get("HOLDFAST_CTL") or os.path.join(os.path.dirname(binary),
                                                         "holdfast-ctl")
    tmp = os.path.join(tmp_root, "holdfast-caps")
    sock = os.path.join(tmp, "ctl.sock")
    extra = "".join("stub-zone: %s\nstub-addr: %s\n" % (z, a)
                    for z, a in (("keep.test.", KEEP), ("lower.test.", LOWER),
                                 ("spoof.test.", SPOOF)))
    extra += "unwanted-reply-threshold: %d\ncontrol-socket: %s\nverbosity: 2\n" % (
        THRESHOLD, sock)
    conf = config.holdfast_reference(ADDR, 1, hints) + extra
    r = resolver.Holdfast(binary, tmp, conf, ADDR, "holdfast-caps", log_name="resolver.log",
                          ctl_bin=ctl, control_socket=sock)
    suite.wait_or_stop(r)
    yield r
    r.stop_checked()


def _query(name, rdtype="A"):
    return harness.udp(harness.make_query(name, rdtype), addr=ADDR)


def _owners(resp):
    return [rrset.name.to_text() for rrset in resp.answer]


def test_caps_random_case_sent_client_sees_its_own(auths, hf):
    name = "%s.keep.test." % LONG
    resp = _query(name)
    assert resp.rcode() == dns.rcode.NOERROR, harness.describe(resp)
    assert [rd.to_text() for rrset in resp.answer for rd in rrset] == ["192.0.2.1"], \
        harness.describe(resp)
    # The client sees the names in its own case, not holdfast's random one.
    assert _owners(resp) == [name], harness.describe(resp)
    assert resp.question[0].name.to_text() == name
    sent = [n for n in auths["keep"].names("udp") if n.lower() == name]
    assert sent and all(_name_has_upper(n) for n in sent), sent
    # A mixed-case client name is not lost either.
    mixed = "MiXeD.%s.keep.test." % LONG.upper()
    resp = _query(mixed)
    assert resp.rcode() == dns.rcode.NOERROR, harness.describe(resp)
    assert [o.lower() for o in _owners(resp)] == [mixed.lower()], harness.describe(resp)
    st = hf.stats()
    assert st["upstream.caps_mismatches"] == 0, st


def test_caps_fallback_for_a_server_that_loses_case(auths, hf):
    lower = auths["lower"]
    for i in range(3):
        name = "n%d.%s.lower.test." % (i, LONG)
        resp = _query(name)
        assert resp.rcode() == dns.rcode.NOERROR, harness.describe(resp)
        assert [rd.to_text() for rrset in resp.answer for rd in rrset] == ["192.0.2.1"], \
            harness.describe(resp)
    st = hf.stats()
    assert st["upstream.caps_mismatches"] >= 3, st
    assert st["upstream.caps_fallbacks"] == 1, st
    log = hf.log_text()
    assert log.count("0x20 off for it") == 1, hf.log_tail()
    assert LOWER in [l for l in log.splitlines() if "0x20 off for it" in l][0]
    # Learned: the next queries (QNAME minimisation: one per label) go out
    # as asked, each once.
    before = len(lower.names())
    name = "after.%s.lower.test." % LONG
    resp = _query(name)
    assert resp.rcode() == dns.rcode.NOERROR, harness.describe(resp)
    sent = lower.names()[before:]
    assert name in sent and len(set(sent)) == len(sent), sent
    assert not any(_name_has_upper(n) for n in sent), sent
    assert hf.stats()["upstream.caps_fallbacks"] == 1
    rows = [r for r in hf.upstream() if r["addr"] == LOWER]
    assert rows and all(r.get("caps") == "off" for r in rows), hf.ctl("upstream")


def test_unwanted_replies_switch_the_zone_to_tcp(auths, hf):
    spoof = auths["spoof"]
    # Each UDP query draws three unwanted replies; the answer follows.
    i = 0
    while not spoof.names("tcp") and i < 6:
        resp = _query("q%d.spoof.test." % i)
        assert resp.rcode() == dns.rcode.NOERROR, harness.describe(resp)
        assert [rd.to_text() for rrset in resp.answer for rd in rrset] == ["192.0.2.1"], \
            harness.describe(resp)
        i += 1
    assert spoof.names("tcp"), spoof.names()
    st = hf.stats()
    assert st["upstream.unwanted"] >= THRESHOLD, st
    assert st["upstream.unwanted_tcp_switches"] == 1, st
    assert st["upstream.unwanted_tcp_queries"] >= 1, st
    # Once switched, the zone stays on TCP: no more UDP to it.
    udp_before = len(spoof.names("udp"))
    resp = _query("later.spoof.test.")
    assert resp.rcode() == dns.rcode.NOERROR, harness.describe(resp)
    assert len(spoof.names("udp")) == udp_before, spoof.names()
    log = hf.log_text()
    lines = [l for l in log.splitlines() if "unwanted replies within" in l]
    assert len(lines) == 1 and SPOOF in lines[0] and "spoof.test." in lines[0], lines
    row = hf.breaker(SPOOF, "spoof.test.")
    assert row is not None and int(row["unwanted"]) >= THRESHOLD, hf.ctl("upstream")
    assert "tcp_for" in row, row["line"]
    # Other zones are not switched: keep.test. still goes over UDP.
    assert not auths["keep"].names("tcp")
