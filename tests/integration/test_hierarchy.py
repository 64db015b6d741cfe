"""
The loopback hierarchy itself, queried directly (no resolver): if one of
these fails, the resolution cases below it cannot be trusted.
"""
import dns.flags
import dns.query
import dns.rcode

import harness
from harness import SERVERS, make_query, rrsets


def ask(server, name, rdtype, transport=dns.query.udp, **kw):
    addr = SERVERS[server][0]
    q = make_query(name, rdtype, rd=False, **kw)
    return transport(q, addr, port=harness.PORT, timeout=2.0)


def test_root_refers_to_tlds(hierarchy):
    r = ask("root", "host.a.test.", "A")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer
    assert rrsets(r.authority)[("test.", "NS")] == {"ns1.nic.test."}
    assert rrsets(r.additional)[("ns1.nic.test.", "A")] == {"127.0.2.1"}


def test_every_zone_is_served_authoritatively(hierarchy):
    for server, (_, zones) in SERVERS.items():
        for zone, _ in zones:
            r = ask(server, zone, "SOA")
            assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA, (server, zone)


def test_lame_server_refuses(hierarchy):
    for server in ("lame", "tld-example"):
        r = ask(server, "www.lame.test.", "A")
        assert r.rcode() == dns.rcode.REFUSED, server


def test_glueless_delegation_has_no_glue(hierarchy):
    r = ask("tld-test", "www.glueless.test.", "A")
    assert rrsets(r.authority)[("glueless.test.", "NS")] == {"ns.hoster.example."}
    assert not r.additional or all(rr.rdtype == 41 for rr in r.additional)


def test_delegation_loop_has_no_glue(hierarchy):
    r = ask("tld-test", "www.loop.test.", "A")
    assert rrsets(r.authority)[("loop.test.", "NS")] == {"ns.loop2.test."}
    assert not [rr for rr in r.additional if rr.rdtype in (1, 28)]


def test_authority_truncates_big_rrset_over_udp(hierarchy):
    r = ask("leaf1", "many.a.test.", "A", payload=1232)
    assert r.flags & dns.flags.TC
    r = ask("leaf1", "many.a.test.", "A", transport=dns.query.tcp)
    assert len(r.answer[0]) == 100
    assert 1232 < len(r.to_wire()) < 4096


def test_large_txt_size(hierarchy):
    r = ask("leaf1", "large.a.test.", "TXT", transport=dns.query.tcp)
    assert len(r.answer[0]) == 12
    assert 1232 < len(r.to_wire()) < 4096


def test_negative_soa_minimum_is_small(hierarchy):
    r = ask("leaf1", "nx.neg.test.", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    soa = r.authority[0]
    assert soa[0].minimum == 2
