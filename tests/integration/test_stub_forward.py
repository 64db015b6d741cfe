"""
Stub and forward zones (issue 5, "Stub zones for corporate use"): a zone
answered by configured servers grouped by provider, and a zone forwarded to
recursive resolvers. The root hints of these instances point at an address
nothing listens on, so every answer here can only come through the
configured servers.
"""
import os
import time

import dns.rcode
import dns.rdatatype
import pytest
from holdfast_test import config, suite

import harness

DEAD_ROOT = "127.0.9.9"     # nothing listens: the ordinary iteration fails
DEAD_SERVER = "127.0.9.8"   # a dead server of one provider
LEAF1 = "127.0.3.1"         # serves a.test. (and neg.test.)

pytestmark = pytest.mark.skipif(harness.resolver_kind() != "holdfast",
                                reason="holdfast's stub-zone/forward-zone syntax")


def _dead_hints(tmp_root):
    return config.write_root_hints(os.path.join(tmp_root, "dead-root.hints"), DEAD_ROOT,
                                   ns="dead.root.")


def _start(tmp_root, addr, tag, extra):
    r = harness.Resolver("holdfast", addr, 1, _dead_hints(tmp_root), tmp_root, tag,
                         extra_conf=extra)
    return suite.wait_or_stop(r)


def _a(resp):
    return sorted(rd.to_text() for rrset in resp.answer if rrset.rdtype == dns.rdatatype.A
                  for rd in rrset)


def test_stub_zone_with_a_dead_provider(hierarchy, tmp_root):
    extra = ("stub-zone: a.test.\n"
             "stub-addr: %s provider-dead\n"
             "stub-addr: %s provider-live\n" % (DEAD_SERVER, LEAF1))
    r = _start(tmp_root, "127.0.0.61", "stub", extra)
    try:
        for name in ("host.a.test.", "www.a.test.", "a.test."):
            t0 = time.monotonic()
            resp = harness.udp(harness.make_query(name, "A"), addr="127.0.0.61")
            elapsed = time.monotonic() - t0
            assert resp.rcode() == dns.rcode.NOERROR, harness.describe(resp)
            assert _a(resp), harness.describe(resp)
            # the dead provider costs at most one short wait (hedge/timeout)
            assert elapsed < 1.0, "%s took %.2f s" % (name, elapsed)
        # a name outside the stub zone goes to the (dead) root: SERVFAIL
        resp = harness.udp(harness.make_query("host.b.test.", "A"), addr="127.0.0.61")
        assert resp.rcode() == dns.rcode.SERVFAIL, harness.describe(resp)
    finally:
        r.stop_checked()   # exit 0 after SIGTERM


def test_forward_zone(hierarchy, resolver, tmp_root):
    # The module's main resolver (127.0.0.53) iterates; this one forwards.
    extra = ("forward-zone: .\n"
             "forward-addr: %s dead-isp\n"
             "forward-addr: %s main\n" % (DEAD_SERVER, harness.RESOLVER_ADDR))
    r = _start(tmp_root, "127.0.0.62", "forward", extra)
    try:
        resp = harness.udp(harness.make_query("host.b.test.", "A"), addr="127.0.0.62")
        assert resp.rcode() == dns.rcode.NOERROR, harness.describe(resp)
        assert _a(resp), harness.describe(resp)
        resp = harness.udp(harness.make_query("nothing-here.a.test.", "A"), addr="127.0.0.62")
        assert resp.rcode() == dns.rcode.NXDOMAIN, harness.describe(resp)
        # a CNAME chain across zones comes back whole from the forwarder
        resp = harness.udp(harness.make_query("www.a.test.", "A"), addr="127.0.0.62")
        assert resp.rcode() == dns.rcode.NOERROR, harness.describe(resp)
        assert _a(resp) == ["192.0.2.10"], harness.describe(resp)
    finally:
        r.stop_checked()   # exit 0 after SIGTERM
