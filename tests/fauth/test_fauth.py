"""
Tests of fauth itself: authoritative behaviour, every fault mode over UDP
and TCP, most-specific matching, flapping, counters, the control protocol,
the command line and config file, start/stop. Run through run.sh (private
network namespace). Two servers, ns1 (127.0.10.1) and ns2 (127.0.10.2),
serve zones/f.test.zone; only ns2 serves zones/other.test.zone.
"""
import json
import os
import select
import signal
import socket
import struct
import subprocess
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from holdfast_test import fauth_control as control
from holdfast_test.fauth import FAUTH, PYTHON, FaultyAuthority

NS1, NS2 = "127.0.10.1", "127.0.10.2"
SOURCE = "127.0.0.1"


@pytest.fixture(scope="module")
def fa(tmp_path_factory):
    f = FaultyAuthority(servers={"ns1": NS1, "ns2": NS2},
                        zones={"f.test.": "zones/f.test.zone",
                               "other.test.": ("zones/other.test.zone", ["ns2"])},
                        workdir=str(tmp_path_factory.mktemp("fauth")))
    f.start()
    yield f
    rc, killed = f.stop()
    assert not killed and rc == 0, "fauth did not exit 0 on SIGTERM:\n" + f.log_tail()


@pytest.fixture(autouse=True)
def _clean(request):
    if "fa" in request.fixturenames:
        fa = request.getfixturevalue("fa")
        fa.clear_faults()
        fa.reset_counts()
    yield


def query(name, rdtype="A", server=NS1, tcp=False, edns=0, payload=1232, timeout=2.0,
          want_dnssec=False):
    q = dns.message.make_query(name, rdtype, use_edns=edns, payload=payload,
                               want_dnssec=want_dnssec)
    q.flags &= ~int(dns.flags.RD)
    if edns > 0:    # make_query's want_dnssec(False) clears the version bits
        q.use_edns(edns, payload=payload)
    if tcp:
        return dns.query.tcp(q, server, port=53, source=SOURCE, timeout=timeout)
    return dns.query.udp(q, server, port=53, source=SOURCE, timeout=timeout)


def rrsets(section):
    return {(r.name.to_text().lower(), dns.rdatatype.to_text(r.rdtype)):
            sorted(rd.to_text() for rd in r) for r in section}


def soa_ttl(msg):
    (soa,) = [r for r in msg.authority if r.rdtype == dns.rdatatype.SOA]
    return soa.ttl


TRANSPORTS = pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])


# --------------------------------------------------------------------------
# Authoritative behaviour


@TRANSPORTS
def test_answer_is_authoritative(fa, tcp):
    r = query("www.f.test.", tcp=tcp)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert not r.flags & dns.flags.TC
    assert rrsets(r.answer) == {("www.f.test.", "A"): ["192.0.2.1", "192.0.2.2"]}
    assert r.edns == 0 and r.payload == 1232
    assert rrsets(query("api.f.test.", tcp=tcp).answer) == {("api.f.test.", "A"):
                                                           ["192.0.2.10"]}
    assert query("api.f.test.", tcp=tcp).answer[0].ttl == 300


def test_cname_chain_is_chased_in_zone(fa):
    r = query("alias.f.test.")
    assert r.flags & dns.flags.AA
    assert rrsets(r.answer) == {("alias.f.test.", "CNAME"): ["alias2.f.test."],
                                ("alias2.f.test.", "CNAME"): ["www.f.test."],
                                ("www.f.test.", "A"): ["192.0.2.1", "192.0.2.2"]}
    assert rrsets(query("alias.f.test.", "CNAME").answer) == {
        ("alias.f.test.", "CNAME"): ["alias2.f.test."]}


def test_cname_out_of_zone_dangling_and_loop(fa):
    r = query("ext.f.test.")
    assert r.rcode() == dns.rcode.NOERROR
    assert rrsets(r.answer) == {("ext.f.test.", "CNAME"): ["www.other.test."]}
    r = query("dangling.f.test.")
    assert r.rcode() == dns.rcode.NXDOMAIN      # RFC 6604: rcode of the last name
    assert ("dangling.f.test.", "CNAME") in rrsets(r.answer) and soa_ttl(r) == 60
    r = query("loop1.f.test.")
    assert r.rcode() == dns.rcode.NOERROR and len(r.answer) == 2


def test_nxdomain_and_nodata_carry_soa_with_negative_ttl(fa):
    r = query("nope.f.test.")
    assert r.rcode() == dns.rcode.NXDOMAIN and r.flags & dns.flags.AA and not r.answer
    assert soa_ttl(r) == 60                     # min(3600, MINIMUM 60)
    r = query("www.f.test.", "TXT")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer and soa_ttl(r) == 60
    r = query("nope.other.test.", server=NS2)
    assert r.rcode() == dns.rcode.NXDOMAIN and soa_ttl(r) == 30   # min(30, 600)


def test_empty_non_terminal_is_nodata(fa):
    r = query("ent.f.test.")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer and soa_ttl(r) == 60
    assert rrsets(query("deep.ent.f.test.").answer) == {("deep.ent.f.test.", "A"):
                                                        ["192.0.2.30"]}


def test_wildcards(fa):
    assert rrsets(query("x.wild.f.test.").answer) == {("x.wild.f.test.", "A"):
                                                      ["192.0.2.50"]}
    assert rrsets(query("a.b.wild.f.test.", "TXT").answer) == {
        ("a.b.wild.f.test.", "TXT"): ['"wildcard"']}
    r = query("x.wild.f.test.", "MX")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer and soa_ttl(r) == 60
    assert rrsets(query("q.cw.f.test.").answer) == {
        ("q.cw.f.test.", "CNAME"): ["www.f.test."],
        ("www.f.test.", "A"): ["192.0.2.1", "192.0.2.2"]}
    # the wildcard does not cover names that exist (ent) or the parent itself
    assert query("wild.f.test.").rcode() == dns.rcode.NOERROR
    assert not query("wild.f.test.").answer


@TRANSPORTS
def test_referral_for_delegated_subzone(fa, tcp):
    for name in ("sub.f.test.", "deep.name.sub.f.test."):
        r = query(name, tcp=tcp)
        assert r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.AA
        assert not r.answer
        assert rrsets(r.authority) == {("sub.f.test.", "NS"): ["ns.other.test.",
                                                               "ns.sub.f.test."]}
        assert rrsets(r.additional) == {("ns.sub.f.test.", "A"): ["127.0.10.3"]}
    # DS at the cut belongs to the parent: authoritative NODATA here
    r = query("sub.f.test.", "DS", tcp=tcp)
    assert r.flags & dns.flags.AA and not r.answer and soa_ttl(r) == 60


def test_additional_addresses_for_mx(fa):
    r = query("mx.f.test.", "MX")
    assert rrsets(r.additional) == {("mail.f.test.", "A"): ["192.0.2.25"]}


@TRANSPORTS
def test_refused_outside_served_zones(fa, tcp):
    r = query("www.other.test.", tcp=tcp)           # ns1 does not serve other.test
    assert r.rcode() == dns.rcode.REFUSED and not r.flags & dns.flags.AA and not r.answer
    r = query("www.other.test.", server=NS2, tcp=tcp)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert query("www.example.", tcp=tcp).rcode() == dns.rcode.REFUSED


def test_edns_echo_do_bit_and_badvers(fa):
    r = query("www.f.test.", edns=-1)
    assert r.edns == -1 and r.answer            # no OPT asked, none sent
    r = query("www.f.test.", want_dnssec=True)
    assert r.ednsflags & dns.flags.DO
    r = query("www.f.test.", edns=1)
    assert r.rcode() == dns.rcode.BADVERS and r.edns == 0 and not r.answer


def test_truncation_respects_client_size(fa):
    r = query("big.f.test.", "TXT")             # about 3 kB, client 1232
    assert r.flags & dns.flags.TC and not r.answer and r.edns == 0
    r = query("big.f.test.", "TXT", tcp=True)
    assert not r.flags & dns.flags.TC and len(r.answer[0]) == 30
    r = query("big.f.test.", "TXT", payload=4096)   # capped at --edns-size 1232
    assert r.flags & dns.flags.TC
    r = query("mid.f.test.", "TXT")             # about 800 bytes
    assert not r.flags & dns.flags.TC and len(r.answer[0]) == 6
    r = query("mid.f.test.", "TXT", edns=-1)    # 512 without EDNS
    assert r.flags & dns.flags.TC and not r.answer
    r = query("mid.f.test.", "TXT", payload=600)
    assert r.flags & dns.flags.TC


def test_any_and_case_of_question(fa):
    r = query("WwW.F.TeSt.", "ANY")
    assert r.question[0].name.to_text() == "WwW.F.TeSt."
    assert {t for _, t in rrsets(r.answer)} == {"A", "AAAA"}


def _tcp_frame(msg):
    wire = msg.to_wire()
    return struct.pack("!H", len(wire)) + wire


def _tcp_read(sock, deadline):
    buf = b""
    while True:
        if len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
            n = struct.unpack("!H", buf[:2])[0]
            return dns.message.from_wire(buf[2:2 + n]), buf[2 + n:]
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk


def test_tcp_several_queries_per_connection(fa):
    names = ["www.f.test.", "api.f.test.", "nope.f.test.", "alias.f.test."]
    with socket.create_connection((NS1, 53), timeout=2, source_address=(SOURCE, 0)) as s:
        qs = [dns.message.make_query(n, "A") for n in names]
        s.sendall(b"".join(_tcp_frame(q) for q in qs))   # pipelined
        got = {}
        deadline = time.monotonic() + 3
        rest = b""
        for _ in qs:
            if rest:
                n = struct.unpack("!H", rest[:2])[0]
                m, rest = dns.message.from_wire(rest[2:2 + n]), rest[2 + n:]
            else:
                m, rest = _tcp_read(s, deadline)
            got[m.id] = m
    assert {q.id for q in qs} == set(got)
    assert got[qs[2].id].rcode() == dns.rcode.NXDOMAIN
    assert fa.counts()["servers"]["ns1"]["tcp"] == 4


def test_malformed_packets(fa):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((SOURCE, 0))
        s.settimeout(1.0)
        s.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff", (NS1, 53))
        data, _ = s.recvfrom(512)
        assert data[:2] == b"\x12\x34" and data[3] & 0x0F == dns.rcode.FORMERR
        assert data[2] & 0x80                    # QR
        s.sendto(b"\x01\x02\x03", (NS1, 53))     # shorter than a header: silence
        with pytest.raises(socket.timeout):
            s.recvfrom(512)
    assert query("www.f.test.").answer           # still serving


# --------------------------------------------------------------------------
# Fault modes


@TRANSPORTS
def test_mode_drop(fa, tcp):
    fa.set_fault(server="ns1", name="www.f.test.", mode="drop")
    with pytest.raises(dns.exception.Timeout):
        query("www.f.test.", tcp=tcp, timeout=0.5)
    assert query("api.f.test.", tcp=tcp).answer          # other names unaffected
    assert query("www.f.test.", server=NS2, tcp=tcp).answer   # other server too
    assert fa.count(server="ns1", name="www.f.test.", qtype="A") == 1  # still counted


@TRANSPORTS
@pytest.mark.parametrize("mode,rcode", [("servfail", dns.rcode.SERVFAIL),
                                        ("refused", dns.rcode.REFUSED)])
def test_mode_error_rcodes(fa, tcp, mode, rcode):
    fa.set_fault(server="ns1", mode=mode)
    r = query("www.f.test.", tcp=tcp)
    assert r.rcode() == rcode and not r.flags & dns.flags.AA
    assert not r.answer and not r.authority and r.edns == 0


@TRANSPORTS
def test_mode_empty_like_the_dynamodb_record(fa, tcp):
    fa.set_fault(zone="f.test.", name="www.f.test.", qtype="A", mode="empty")
    r = query("www.f.test.", tcp=tcp)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA and not r.answer
    assert rrsets(r.authority).keys() == {("f.test.", "SOA")} and soa_ttl(r) == 60
    assert query("www.f.test.", "AAAA", tcp=tcp).answer   # type-specific


@TRANSPORTS
def test_mode_empty_nosoa(fa, tcp):
    fa.set_fault(name="www.f.test.", mode="empty_nosoa")
    r = query("www.f.test.", tcp=tcp)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert not r.answer and not r.authority and not r.additional


@TRANSPORTS
def test_mode_nxdomain(fa, tcp):
    fa.set_fault(name="www.f.test.", mode="nxdomain")
    r = query("www.f.test.", tcp=tcp)
    assert r.rcode() == dns.rcode.NXDOMAIN and r.flags & dns.flags.AA and not r.answer
    assert soa_ttl(r) == 60


@TRANSPORTS
def test_mode_slow(fa, tcp):
    fa.set_fault(server="ns2", mode="slow", delay_ms=400)
    t0 = time.monotonic()
    r = query("www.f.test.", server=NS2, tcp=tcp, timeout=3)
    assert time.monotonic() - t0 >= 0.38 and r.answer
    t0 = time.monotonic()
    query("www.f.test.", server=NS1, tcp=tcp)
    assert time.monotonic() - t0 < 0.3


def test_slow_tcp_answer_does_not_hold_back_the_next(fa):
    fa.set_fault(name="www.f.test.", mode="slow", delay_ms=500)
    with socket.create_connection((NS1, 53), timeout=2, source_address=(SOURCE, 0)) as s:
        slow, fast = dns.message.make_query("www.f.test.", "A"), \
            dns.message.make_query("api.f.test.", "A")
        s.sendall(_tcp_frame(slow) + _tcp_frame(fast))
        first, rest = _tcp_read(s, time.monotonic() + 3)
        assert first.id == fast.id
        second, _ = _tcp_read(s, time.monotonic() + 3) if not rest else (
            dns.message.from_wire(rest[2:]), b"")
        assert second.id == slow.id and second.answer


def test_delay_applies_to_other_modes(fa):
    fa.set_fault(name="www.f.test.", mode="servfail", delay_ms=300)
    t0 = time.monotonic()
    assert query("www.f.test.").rcode() == dns.rcode.SERVFAIL
    assert time.monotonic() - t0 >= 0.28


@TRANSPORTS
def test_mode_data(fa, tcp):
    fa.set_fault(name="www.f.test.", qtype="A", mode="data", data="A 192.0.2.99")
    r = query("www.f.test.", tcp=tcp)
    assert r.flags & dns.flags.AA and r.rcode() == dns.rcode.NOERROR
    assert rrsets(r.answer) == {("www.f.test.", "A"): ["192.0.2.99"]}
    assert r.answer[0].ttl == 300
    fa.set_fault(name="api.f.test.", mode="data", ttl=5,
                 data=["A 192.0.2.7", "A 192.0.2.8", "TXT \"lie\""])
    r = query("API.f.test.", tcp=tcp)
    assert rrsets(r.answer) == {("api.f.test.", "A"): ["192.0.2.7", "192.0.2.8"],
                                ("api.f.test.", "TXT"): ['"lie"']}
    assert all(rr.ttl == 5 for rr in r.answer)


def test_mode_data_outside_served_zones(fa):
    fa.set_fault(server="ns1", name="www.example.", mode="data", data="A 192.0.2.1")
    assert rrsets(query("www.example.").answer) == {("www.example.", "A"): ["192.0.2.1"]}


def test_mode_truncate(fa):
    fa.set_fault(name="www.f.test.", mode="truncate")
    r = query("www.f.test.")
    assert r.flags & dns.flags.TC and not r.answer and not r.authority
    r = query("www.f.test.", tcp=True)
    assert not r.flags & dns.flags.TC and len(r.answer[0]) == 2


def _answered(name="www.f.test.", server=NS1, timeout=0.3):
    try:
        query(name, server=server, timeout=timeout)
        return True
    except dns.exception.Timeout:
        return False


def test_mode_flap_every_n_queries(fa):
    fa.set_fault(name="www.f.test.", mode="flap", flap_every=2)
    assert [_answered() for _ in range(8)] == [True, True, False, False] * 2


def test_mode_flap_other_bad_mode(fa):
    fa.set_fault(name="www.f.test.", mode="flap", flap_every=1, flap_mode="servfail")
    rcodes = [query("www.f.test.").rcode() for _ in range(4)]
    assert rcodes == [dns.rcode.NOERROR, dns.rcode.SERVFAIL] * 2


def test_mode_flap_every_t_ms(fa):
    fa.set_fault(name="www.f.test.", mode="flap", flap_ms=800)
    t0 = time.monotonic()
    assert _answered()                      # 0-0.8 s: normal
    time.sleep(max(0, t0 + 1.0 - time.monotonic()))
    assert not _answered(timeout=0.2)       # 0.8-1.6 s: drop
    time.sleep(max(0, t0 + 1.9 - time.monotonic()))
    assert _answered()                      # 1.6-2.4 s: normal again


# --------------------------------------------------------------------------
# Matching


def test_server_wide_fault_leaves_other_servers_alone(fa):
    fa.set_fault(server="ns1", mode="servfail")
    assert query("www.f.test.").rcode() == dns.rcode.SERVFAIL
    assert query("nope.f.test.").rcode() == dns.rcode.SERVFAIL
    assert query("www.f.test.", server=NS2).rcode() == dns.rcode.NOERROR


def test_zone_fault(fa):
    fa.set_fault(server="ns2", zone="other.test.", mode="servfail")
    assert query("www.other.test.", server=NS2).rcode() == dns.rcode.SERVFAIL
    assert query("www.f.test.", server=NS2).rcode() == dns.rcode.NOERROR


def test_most_specific_fault_wins(fa):
    fa.set_fault(mode="refused")                                       # global
    fa.set_fault(server="ns1", mode="servfail")                        # server
    fa.set_fault(server="ns1", zone="f.test.", mode="nxdomain")        # + zone
    fa.set_fault(server="ns1", qtype="AAAA", mode="empty_nosoa")       # + type
    fa.set_fault(name="www.f.test.", mode="normal")                    # name only
    full = fa.set_fault(server="ns1", zone="f.test.", name="www.f.test.", qtype="A",
                        mode="data", data="A 192.0.2.42")
    assert query("api.f.test.", server=NS2).rcode() == dns.rcode.REFUSED  # global
    assert query("www.other.test.").rcode() == dns.rcode.SERVFAIL        # ns1, no zone
    assert query("api.f.test.").rcode() == dns.rcode.NXDOMAIN            # zone beats server
    r = query("api.f.test.", "AAAA")                                     # type beats zone
    assert r.rcode() == dns.rcode.NOERROR and not r.authority
    assert rrsets(query("www.f.test.", "AAAA").answer)                   # name beats type
    assert rrsets(query("www.f.test.").answer) == {("www.f.test.", "A"): ["192.0.2.42"]}
    fa.clear_faults(full)
    assert rrsets(query("www.f.test.").answer) == {("www.f.test.", "A"):
                                                   ["192.0.2.1", "192.0.2.2"]}
    # an explicit priority beats specificity
    fa.set_fault(server="ns1", mode="drop", priority=1)
    assert not _answered()


def test_same_key_replaces_and_case_insensitive_names(fa):
    first = fa.set_fault(name="WWW.F.TEST", mode="servfail")
    second = fa.set_fault(name="www.f.test.", mode="refused")
    assert first != second
    faults = fa.list_faults()
    assert [f["id"] for f in faults] == [second] and faults[0]["mode"] == "refused"
    assert query("wWw.f.TEST.").rcode() == dns.rcode.REFUSED
    assert fa.list_faults()[0]["hits"] == 1
    assert fa.clear_faults() == 1 and fa.list_faults() == []


# --------------------------------------------------------------------------
# Counters


def test_counts_per_server_name_type_and_transport(fa):
    query("WWW.f.test.")
    query("www.f.test.")
    query("www.f.test.", tcp=True)
    query("www.f.test.", "AAAA", server=NS2)
    fa.set_fault(server="ns2", mode="drop")
    with pytest.raises(dns.exception.Timeout):
        query("api.f.test.", server=NS2, timeout=0.3)
    c = fa.counts()
    assert c["total"] == 5
    assert c["servers"]["ns1"] == {"total": 3, "udp": 2, "tcp": 1}
    assert c["servers"]["ns2"] == {"total": 2, "udp": 2, "tcp": 0}
    assert c["names"]["ns1"] == {"www.f.test.": {"A": 3}}
    assert c["names"]["ns2"] == {"www.f.test.": {"AAAA": 1}, "api.f.test.": {"A": 1}}
    assert c["modes"]["ns2"] == {"normal": 1, "drop": 1}
    assert control.count(c, name="www.f.test") == 4
    assert control.count(c, server="ns2") == 2 and control.count(c, qtype="a") == 4
    log = fa.queries()
    assert [(q["server"], q["transport"], q["name"], q["qtype"], q["mode"]) for q in log] == [
        ("ns1", "udp", "www.f.test.", "A", "normal"),
        ("ns1", "udp", "www.f.test.", "A", "normal"),
        ("ns1", "tcp", "www.f.test.", "A", "normal"),
        ("ns2", "udp", "www.f.test.", "AAAA", "normal"),
        ("ns2", "udp", "api.f.test.", "A", "drop")]
    fa.reset_counts()
    c = fa.counts()
    assert c["total"] == 0 and c["names"] == {"ns1": {}, "ns2": {}} and fa.queries() == []
    assert c["servers"]["ns1"] == {"total": 0, "udp": 0, "tcp": 0}


def test_hundreds_of_queries_per_second(fa):
    n = 600
    t0 = time.monotonic()
    for i in range(n):
        query("www.f.test." if i % 2 else "nope.f.test.")
    rate = n / (time.monotonic() - t0)
    # a burst: 300 queries in flight on one socket, all answered
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((SOURCE, 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        wires = {}
        for i in range(300):
            q = dns.message.make_query("w%d.wild.f.test." % i, "A")
            q.id = i
            wires[i] = q.to_wire()
        for w in wires.values():
            s.sendto(w, (NS1, 53))
        got = set()
        deadline = time.monotonic() + 10
        while len(got) < len(wires) and time.monotonic() < deadline:
            r, _, _ = select.select([s], [], [], max(0, deadline - time.monotonic()))
            if r:
                got.add(dns.message.from_wire(s.recv(4096)).id)
    assert rate > 200, "only %.0f queries/s" % rate
    assert len(got) == 300
    assert fa.counts()["total"] == n + 300


# --------------------------------------------------------------------------
# Control protocol


def _raw_control(path, lines):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(3)
        s.connect(path)
        s.sendall(b"".join(line.encode() + b"\n" for line in lines))
        buf = b""
        while buf.count(b"\n") < len(lines):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return [json.loads(x) for x in buf.splitlines()]


def test_control_protocol_json_lines(fa):
    out = _raw_control(fa.control_path, [
        '{"cmd": "ping"}',
        'not json',
        '{"cmd": "frobnicate"}',
        '{"cmd": "set_fault", "mode": "explode"}',
        '{"cmd": "set_fault", "server": "ns9", "mode": "drop"}',
        '{"cmd": "set_fault", "mode": "drop", "colour": "red"}',
        '{"cmd": "set_fault", "mode": "data"}',
        '{"cmd": "set_fault", "mode": "data", "data": "A not-an-address"}',
        '{"cmd": "set_fault", "mode": "flap"}',
        '{"cmd": "set_fault", "mode": "slow", "delay_ms": -1}',
        '{"cmd": "set_fault", "server": "ns2", "name": "www.f.test.", "mode": "refused"}',
        '{"cmd": "list_faults"}',
        '{"cmd": "status"}',
        '{"cmd": "help"}',
    ])
    assert out[0] == {"ok": True, "pong": True}
    assert [o["ok"] for o in out[1:10]] == [False] * 9
    assert "unknown cmd" in out[2]["error"] and "mode must be one of" in out[3]["error"]
    assert "ns9" in out[4]["error"] and "colour" in out[5]["error"]
    assert out[10]["ok"] and isinstance(out[10]["id"], int)
    assert [f["mode"] for f in out[11]["faults"]] == ["refused"]
    ns2 = out[12]["servers"]["ns2"]
    assert (ns2["addr"], ns2["port"], sorted(ns2["zones"])) == (NS2, 53, ["f.test.",
                                                                          "other.test."])
    assert "set_fault" in out[13]["help"]
    assert query("www.f.test.", server=NS2).rcode() == dns.rcode.REFUSED
    with pytest.raises(control.ControlError, match="mode must be one of"):
        fa.set_fault(mode="explode")
    for bad in ({"zone": 5}, {"data": 7, "mode": "data"}, {"flap_every": [1], "mode": "flap"}):
        with pytest.raises(control.ControlError):
            control.request(fa.control_path, "set_fault", **bad)
    with pytest.raises(control.ControlError):
        control.request(fa.control_path, "clear_faults", id="x")
    assert fa.ping()                                 # none of that hurt it


def test_query_log_lines_and_set_log(fa):
    fa.set_fault(name="api.f.test.", mode="servfail")
    query("api.f.test.")
    deadline = time.monotonic() + 2
    while "api.f.test. A -> servfail (fault" not in fa.log_tail():
        assert time.monotonic() < deadline, fa.log_tail()
        time.sleep(0.05)
    fa.set_log(False)
    query("logless.f.test.")
    fa.set_log(True)
    query("www.f.test.")
    deadline = time.monotonic() + 2
    while "ns1 udp" not in fa.log_tail(1):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert "logless" not in fa.log_tail()


# --------------------------------------------------------------------------
# Command line, config file, start and stop (own instances on 127.0.11.x)


def _start_raw(argv, timeout=10):
    """Start fauth with stdout on a pipe; return (popen, stdout lines up to
    "fauth ready")."""
    p = subprocess.Popen([PYTHON, FAUTH] + argv, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    lines = []
    deadline = time.monotonic() + timeout
    buf = b""
    try:
        while not lines or lines[-1] != "fauth ready":
            r, _, _ = select.select([p.stdout], [], [], max(0, deadline - time.monotonic()))
            if not r:
                raise AssertionError("no 'fauth ready' within %s s" % timeout)
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                raise AssertionError("fauth exited: %s" % p.stderr.read().decode())
            buf += chunk
            *done, buf = buf.split(b"\n")
            lines += [x.decode() for x in done]
    except BaseException:
        _stop_raw(p)
        raise
    return p, lines


def _stop_raw(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
    p.stdout.close()
    p.stderr.close()
    return p.returncode


def test_config_file_tcp_control_and_faults_from_start(tmp_path):
    conf = tmp_path / "fauth.conf"
    zone = os.path.join(os.path.dirname(FAUTH), "zones", "f.test.zone")
    os.symlink(zone, str(tmp_path / "f.zone"))
    conf.write_text("# comment\n"
                    "server ns3=127.0.11.1\n"
                    "server ns4=127.0.11.2:5353\n"
                    "zone f.test.=f.zone\n"          # relative to the config file
                    "control 127.0.0.1:0\n"
                    'fault {"server": "ns3", "name": "www.f.test.", "mode": "drop"}\n')
    p, lines = _start_raw(["--config", str(conf),
                           "--fault", "server=ns4,mode=data,data=A 192.0.2.5|A 192.0.2.6"])
    try:
        assert lines[0].startswith("fauth control 127.0.0.1:")
        addr = lines[0].split()[2]
        assert control.ping(addr)
        with pytest.raises(dns.exception.Timeout):
            query("www.f.test.", server="127.0.11.1", timeout=0.5)
        assert query("api.f.test.", server="127.0.11.1").answer
        q = dns.message.make_query("anything.f.test.", "A")
        r = dns.query.udp(q, "127.0.11.2", port=5353, timeout=2)
        assert rrsets(r.answer) == {("anything.f.test.", "A"): ["192.0.2.5", "192.0.2.6"]}
        assert [f["server"] for f in control.list_faults(addr)] == ["ns3", "ns4"]
        assert control.count(control.counts(addr)) == 3
    finally:
        rc = _stop_raw(p)
    assert rc == 0


@pytest.mark.parametrize("argv,message", [
    ([], "no --server"),
    (["--server", "ns1"], "not NAME=ADDR"),
    (["--server", "a=127.0.11.5", "--zone", "b:f.test.=zones/f.test.zone"],
     "no server named 'b'"),
    (["--server", "a=127.0.11.5", "--zone", "f.test.=/nonexistent.zone"], "nonexistent"),
    (["--server", "a=127.0.11.5", "--fault", "mode=boom"], "mode must be one of"),
    (["--server", "a=127.0.11.5", "--fault", "mode=flap"], "flap needs"),
    (["--server", "a=203.0.113.1"], "203.0.113.1"),   # not an address we have
])
def test_bad_command_lines_exit_2_with_a_message(argv, message):
    p = subprocess.run([PYTHON, FAUTH] + argv, capture_output=True, text=True, timeout=20,
                       cwd=os.path.dirname(FAUTH))
    assert p.returncode == 2, p.stderr
    assert message in p.stderr


def test_fixture_start_stop_and_sigterm(tmp_path):
    fa = FaultyAuthority(servers={"x": "127.0.11.9"}, zones={"f.test.": "zones/f.test.zone"},
                         workdir=str(tmp_path), faults=[{"mode": "servfail"}],
                         log_queries=False)
    with fa:
        assert fa.alive()
        assert query("www.f.test.", server="127.0.11.9").rcode() == dns.rcode.SERVFAIL
        ctl = fa.control_path
    assert fa.returncode == 0 and not fa.alive()
    assert not os.path.exists(ctl)                   # unix socket removed on exit
    assert fa.stop() == (0, False)                   # twice is fine
