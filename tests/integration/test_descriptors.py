"""
File descriptors (issue 12: "running out of descriptors sheds load with a
log line and a counter, never a crash"; "upstream sockets are bounded").

- Started under a hard RLIMIT_NOFILE of 128 (a /bin/sh wrapper runs
  `ulimit -n 128` and execs holdfast, same PID): holdfast warns and scales
  outgoing-range and incoming-num-tcp down to fit; a flood of TCP
  connections is refused at the scaled cap while UDP keeps answering, and
  TCP answers again once they close.
- Then the soft limit is lowered under it at run time (prlimit, to 3: no
  new descriptor at all): UDP still answers what is cached, an uncached name
  gets SERVFAIL with upstream.fd_exhausted counted and warned, a TCP
  connection is shed with tcp.fd_exhausted counted and warned, and the
  worker is not stuck in libuv's accept retry (UDP goes on answering). With
  the limit back, TCP answers again. It never crashes and exits 0.
- outgoing-range: 2 with a stub zone whose server never answers: of ten
  uncached names sent at once, the ones beyond the two sockets get SERVFAIL
  without a query sent, counted as upstream.outgoing_range_full.

Every loop is bounded in count and time; only loopback, in the namespace.
"""
import os
import resource
import socket
import time

import dns.exception
import dns.message
import dns.rcode
import pytest
from holdfast_test import config, resolver

import harness

pytestmark = pytest.mark.skipif(harness.resolver_kind() != "holdfast",
                                reason="holdfast's descriptor limits and counters")

ADDR = "127.0.0.71"
RANGE_ADDR = "127.0.0.72"
BLACKHOLE = "127.0.9.7"     # takes queries, never answers
HARD_LIMIT = 128
FLOOD = 60                  # client TCP connections opened at once


def _ctl_bin():
    ctl = os.environ.get("HOLDFAST_CTL") or os.path.join(
        os.path.dirname(os.environ.get("HOLDFAST_BIN", "")), "holdfast-ctl")
    if not os.access(ctl, os.X_OK):
        pytest.skip("holdfast-ctl not found next to HOLDFAST_BIN")
    return ctl


def _start(tmp_root, tag, addr, root_hints, extra, hard_limit=None):
    binary = resolver.binary_from_env("HOLDFAST_BIN", fallback="holdfast")
    d = os.path.join(tmp_root, "holdfast-" + tag)
    os.makedirs(d, exist_ok=True)
    sock = os.path.join(d, "control.sock")
    if hard_limit is not None:
        wrapper = os.path.join(d, "limited.sh")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nulimit -n %d || exit 99\nexec "%s" "$@"\n' % (hard_limit, binary))
        os.chmod(wrapper, 0o755)
        binary = wrapper
    conf = (config.holdfast_reference(addr, 1, root_hints) +
            "control-socket: %s\n" % sock + extra)
    r = resolver.Holdfast(binary, d, conf, addr, "holdfast-" + tag, log_name="resolver.log",
                          ctl_bin=_ctl_bin(), control_socket=sock)
    try:
        r.wait_ready(transports=("udp", "tcp"))
    except Exception:
        r.stop()
        raise
    return r


def _wait(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("not within %.1f s: %s" % (timeout, what))


def _udp_ok(name, addr=ADDR, timeout=2.0):
    resp = harness.udp(harness.make_query(name, "A"), addr=addr, timeout=timeout)
    assert resp.rcode() == dns.rcode.NOERROR, harness.describe(resp)
    return resp


def _tcp_answers(name, addr=ADDR, timeout=1.0):
    try:
        resp = harness.tcp(harness.make_query(name, "A"), addr=addr, timeout=timeout)
    except (OSError, EOFError, dns.exception.Timeout):
        return False
    return resp.rcode() == dns.rcode.NOERROR


def _flood(addr, n):
    """n TCP connections from 127.0.0.1..4 (so the per-address cap is not
    what says no), left open; the ones the server closed at once are
    counted by the server, not here."""
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(1.0)
        s.bind(("127.0.0.%d" % (1 + i % 4), 0))
        try:
            s.connect((addr, 53))
        except OSError:
            s.close()
            continue
        socks.append(s)
    return socks


def _closed_by_server(s, timeout):
    """Whether the server closed or reset `s` within `timeout` (bounded)."""
    deadline = time.monotonic() + timeout
    s.settimeout(0.1)
    while time.monotonic() < deadline:
        try:
            if s.recv(512) == b"":
                return True
        except socket.timeout:
            continue
        except OSError:
            return True
    return False


def test_descriptor_exhaustion_sheds_and_recovers(hierarchy, tmp_root):
    r = _start(tmp_root, "fds", ADDR, hierarchy.root_hints,
               "incoming-num-tcp: 256\noutgoing-range: 4096\n", hard_limit=HARD_LIMIT)
    held = []
    try:
        log = r.log_text()
        assert "RLIMIT_NOFILE %d is below" % HARD_LIMIT in log, log
        assert "outgoing-range 4096 ->" in log, log
        _udp_ok("host.a.test.")                     # cached from now on

        # A flood of connections: the scaled incoming-num-tcp says no.
        held = _flood(ADDR, FLOOD)
        _wait(lambda: r.stats()["tcp.refused_max_connections"] > 0, 5,
              "connections refused at incoming-num-tcp")
        _udp_ok("host.a.test.")
        _udp_ok("mail.a.test.")                     # needs an upstream socket: there is one
        for s in held:
            s.close()
        held = []
        _wait(lambda: _tcp_answers("host.a.test."), 10, "TCP answering after the flood")
        before = r.stats()

        # No descriptor left at all (the limit lowered under it). The
        # control socket cannot accept either: counters are read after.
        soft, hard = resource.prlimit(r.pid, resource.RLIMIT_NOFILE)
        resource.prlimit(r.pid, resource.RLIMIT_NOFILE, (3, hard))
        try:
            _udp_ok("host.a.test.")                 # cached: needs no descriptor
            resp = harness.udp(harness.make_query("ttl.a.test.", "A"), addr=ADDR, timeout=5.0)
            assert resp.rcode() == dns.rcode.SERVFAIL, harness.describe(resp)
            held = _flood(ADDR, 4)
            for s in held:
                assert _closed_by_server(s, 5), "a connection was not shed"
                s.close()
            held = []
            # The worker is not spinning in libuv's accept loop.
            for _ in range(5):
                _udp_ok("host.a.test.")
            assert r.alive()
        finally:
            resource.prlimit(r.pid, resource.RLIMIT_NOFILE, (soft, hard))
        # The listener comes back within a few of its one-second retries.
        _wait(lambda: _tcp_answers("host.a.test."), 10, "TCP answering with descriptors back")
        after = r.stats()
        assert after["upstream.fd_exhausted"] > before["upstream.fd_exhausted"], after
        assert after["tcp.fd_exhausted"] > before["tcp.fd_exhausted"], after
        log = r.log_text()
        assert "out of file descriptors for upstream sockets" in log, log
        assert "out of file descriptors for TCP clients" in log, log
        _udp_ok("a.test.")                          # upstream sockets again
        assert r.alive()
    finally:
        for s in held:
            s.close()
        r.stop_checked()


def _blackhole():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((BLACKHOLE, 53))
    return s


def test_outgoing_range_full_fails_fast(hierarchy, tmp_root):
    hole = _blackhole()
    extra = ("outgoing-range: 2\n"
             "stub-zone: slow.test.\n"
             "stub-addr: %s\n" % BLACKHOLE)
    r = _start(tmp_root, "range", RANGE_ADDR, hierarchy.root_hints, extra)
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        c.bind((harness.CLIENT_ADDR, 0))
        c.settimeout(0.2)
        ids = {}
        for i in range(10):
            q = harness.make_query("n%d.slow.test." % i, "A")
            ids[q.id] = i
            c.sendto(q.to_wire(), (RANGE_ADDR, 53))
        deadline = time.monotonic() + 8.0
        got = {}
        while len(got) < 10 and time.monotonic() < deadline:
            try:
                wire, _ = c.recvfrom(65535)
            except socket.timeout:
                continue
            m = dns.message.from_wire(wire)
            if m.id in ids and m.id not in got:
                got[m.id] = m.rcode()
        assert len(got) == 10, got
        assert all(rc == dns.rcode.SERVFAIL for rc in got.values()), got
        # Two sockets went to the black hole; the rest were refused at the
        # cap without a query sent.
        assert r.stats()["upstream.outgoing_range_full"] >= 7
        seen = set()
        hole.setblocking(False)
        for _ in range(100):
            try:
                wire, _ = hole.recvfrom(65535)
            except BlockingIOError:
                break
            seen.add(dns.message.from_wire(wire).question[0].name.to_text().lower())
        assert 1 <= len(seen) <= 3, seen
        assert r.alive()
    finally:
        c.close()
        hole.close()
        r.stop_checked()
