"""
Scrubbing (holdfast issue 12, resolver/scrub.c): a reply is believed only
about the question it answers. A lying authority for lie.test. (a stub zone
here, served by a small dnspython server in this module, since NSD adds no
junk) puts an off-path RRset in the answer section, an NS set for a sibling
zone and one for the parent in the authority section, and glue for them.
holdfast must neither show nor cache any of it: the injected names are
asked of the authority again later and get their real data.
"""
import os
import socket
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from holdfast_test import config, suite

import harness

LIAR = "127.0.7.1"          # the lying authority for lie.test.
EVIL = "127.0.9.7"          # where the injected delegation points: nothing listens
DEAD_ROOT = "127.0.9.9"
ADDR = "127.0.0.71"         # this module's holdfast

pytestmark = pytest.mark.skipif(harness.resolver_kind() != "holdfast",
                                reason="holdfast's stub-zone syntax")

ZONE = dns.name.from_text("lie.test.")
SOA = "lie.test. 60 IN SOA ns.lie.test. hostmaster.lie.test. 1 3600 900 604800 60"
DATA = {
    ("www.lie.test.", "A"): "192.0.2.1",
    ("injected.lie.test.", "A"): "192.0.2.7",
    ("x.other.lie.test.", "A"): "192.0.2.8",
    ("ns.lie.test.", "A"): LIAR,
}
# What the liar adds to its answer for www.lie.test. A.
JUNK_ANSWER = ["injected.lie.test. 3600 IN A 6.6.6.6"]
JUNK_AUTHORITY = ["other.lie.test. 3600 IN NS ns.evil.lie.test.",
                  "test. 3600 IN NS ns.evil.lie.test."]
JUNK_ADDITIONAL = ["ns.evil.lie.test. 3600 IN A " + EVIL]


class Liar:
    """A UDP authority for lie.test. that answers its data and, for
    www.lie.test. A, the junk above; counts the queries per (name, type)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LIAR, 53))
        self.sock.settimeout(0.2)
        self.counts = {}
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def count(self, name, rdtype):
        return self.counts.get((name, rdtype), 0)

    def answer(self, query):
        q = query.question[0]
        name, rdtype = q.name.to_text().lower(), dns.rdatatype.to_text(q.rdtype)
        self.counts[(name, rdtype)] = self.counts.get((name, rdtype), 0) + 1
        r = dns.message.make_response(query)
        r.flags |= dns.flags.AA

        def add(section, text):
            section.append(dns.rrset.from_text(*text.split(None, 4)))

        if (name, rdtype) in DATA:
            add(r.answer, "%s 3600 IN %s %s" % (name, rdtype, DATA[(name, rdtype)]))
        elif name == "lie.test." and rdtype == "NS":
            add(r.answer, "lie.test. 3600 IN NS ns.lie.test.")
            add(r.additional, "ns.lie.test. 3600 IN A " + LIAR)
        elif name == "lie.test." and rdtype == "SOA":
            add(r.answer, SOA)
        elif any(n.endswith("." + name) or n == name for n, _ in DATA):
            add(r.authority, SOA)                        # NODATA (or an empty non-terminal)
        else:
            add(r.authority, SOA)
            r.set_rcode(dns.rcode.NXDOMAIN)
        if (name, rdtype) == ("www.lie.test.", "A"):
            for text in JUNK_ANSWER:
                add(r.answer, text)
            add(r.authority, "lie.test. 3600 IN NS ns.lie.test.")
            for text in JUNK_AUTHORITY:
                add(r.authority, text)
            for text in JUNK_ADDITIONAL:
                add(r.additional, text)
        return r.to_wire()

    def run(self):
        while not self.stop:
            try:
                wire, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            try:
                self.sock.sendto(self.answer(dns.message.from_wire(wire)), peer)
            except Exception:   # a test server: ignore what it cannot parse
                pass

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def liar():
    suite.require_netns("tests/integration/run.sh")
    lie = Liar()
    yield lie
    lie.close()


@pytest.fixture(scope="module")
def scrubbed(liar, tmp_root):
    hints = config.write_root_hints(os.path.join(tmp_root, "scrub-root.hints"), DEAD_ROOT,
                                    ns="dead.root.")
    extra = "stub-zone: lie.test.\nstub-addr: %s liar\n" % LIAR
    r = harness.Resolver("holdfast", ADDR, 1, hints, tmp_root, "scrub", extra_conf=extra)
    suite.wait_or_stop(r)
    yield r
    r.stop_checked()


def _query(name, rdtype="A"):
    return harness.udp(harness.make_query(name, rdtype), addr=ADDR)


def _texts(resp):
    return sorted(rr.to_text() for rrset in resp.answer + resp.authority + resp.additional
                  for rr in [rrset])


def test_scrub_offpath_answer_neither_shown_nor_cached(liar, scrubbed):
    resp = _query("www.lie.test.")
    assert resp.rcode() == dns.rcode.NOERROR, harness.describe(resp)
    shown = " ".join(_texts(resp))
    assert "192.0.2.1" in shown, harness.describe(resp)
    assert "6.6.6.6" not in shown and "injected" not in shown, harness.describe(resp)
    assert "evil" not in shown, harness.describe(resp)
    # The injected name was not cached from that reply: it is asked again
    # and gets the authority's real data.
    before = liar.count("injected.lie.test.", "A")
    resp = _query("injected.lie.test.")
    assert resp.rcode() == dns.rcode.NOERROR, harness.describe(resp)
    assert [rd.to_text() for rrset in resp.answer for rd in rrset] == ["192.0.2.7"], \
        harness.describe(resp)
    assert liar.count("injected.lie.test.", "A") == before + 1


def test_scrub_foreign_ns_set_not_cached(liar, scrubbed):
    # www's reply delegated other.lie.test. to a server that is not there;
    # believed, the next question below it would time out (SERVFAIL).
    _query("www.lie.test.")
    resp = _query("x.other.lie.test.")
    assert resp.rcode() == dns.rcode.NOERROR, harness.describe(resp)
    assert [rd.to_text() for rrset in resp.answer for rd in rrset] == ["192.0.2.8"], \
        harness.describe(resp)
    assert liar.count("x.other.lie.test.", "A") >= 1
