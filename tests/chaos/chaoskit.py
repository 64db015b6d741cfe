"""
chaoskit — the pieces the chaos tests (tests/chaos) and the outage
measurement (bench/chaos.py) share: the loopback hierarchy served by fauth,
holdfast instances with a control socket, holdfast-ctl parsing, and a paced
client that sends a bounded load from one socket and times every answer.

The hierarchy (one fauth process, see ../fauth/README.md and zones/):

    root   127.0.30.254  .             delegates every zone below, with glue
    pa     127.0.30.1    dual.test. healthy.test.   NS ns1.prov-a.test.
    pb     127.0.30.2    dual.test. healthy.test.   NS ns1.prov-b.example.
    s1     127.0.30.11   solo.test.                 NS ns1.solo-dns.test.
    s2     127.0.30.12   solo.test.                 NS ns2.solo-dns.test.
    other  127.0.30.21   other.test.                NS ns.other-dns.test.

dual.test. has two providers (libpsl: registrable domains prov-a.test and
prov-b.example; neither TLD is in the public suffix list, so the default
rule "*" makes the last two labels the registrable domain); healthy.test. is
served by the same two addresses; solo.test. has two servers of one provider
(solo-dns.test). Every zone has a wildcard A record with TTL 2 s, so any
name resolves while its servers are up and random names are cache misses.

It does not decide what a correct answer is: the test modules (and the bench)
do. Every process is started by us, tracked by PID and stopped by PID with
bounded waits (harness.Process from tests/integration).
"""
import os
import select
import socket
import subprocess
import sys
import time

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TESTS, "fauth"))
sys.path.insert(0, os.path.join(TESTS, "integration"))

import control  # noqa: E402  (tests/fauth)
from fixture import FaultyAuthority  # noqa: E402,F401  (tests/fauth)
from harness import Process  # noqa: E402  (tests/integration)

ZONES = os.path.join(HERE, "zones")
SERVERS = {"root": "127.0.30.254", "pa": "127.0.30.1", "pb": "127.0.30.2",
           "s1": "127.0.30.11", "s2": "127.0.30.12", "other": "127.0.30.21"}
AUTH_ZONES = {
    ".": (os.path.join(ZONES, "root.zone"), ["root"]),
    "dual.test.": (os.path.join(ZONES, "dual.test.zone"), ["pa", "pb"]),
    "healthy.test.": (os.path.join(ZONES, "healthy.test.zone"), ["pa", "pb"]),
    "solo.test.": (os.path.join(ZONES, "solo.test.zone"), ["s1", "s2"]),
    "other.test.": (os.path.join(ZONES, "other.test.zone"), ["other"]),
}
# The wildcard address of each zone (what a random name resolves to).
WILDCARD = {"dual.test.": "192.0.2.10", "healthy.test.": "192.0.2.20",
            "solo.test.": "192.0.2.30", "other.test.": "192.0.2.40"}
PROVIDER = {"pa": "prov-a.test", "pb": "prov-b.example",
            "s1": "solo-dns.test", "s2": "solo-dns.test"}
DATA_TTL = 2

PORT = 53
CLIENT_ADDR = "127.0.0.1"
START_TIMEOUT = 20.0
QUERY_TIMEOUT = 5.0
CTL_TIMEOUT = 5.0

EDE_STALE_ANSWER = 3
EDE_STALE_NXDOMAIN = 19
EDE_NO_REACHABLE_AUTHORITY = 22
EDE_NETWORK_ERROR = 23


def fauth(workdir, name="fauth"):
    """The hierarchy's fauth (not started). Query logging off: the counters
    are what the cases read, and a flood would fill the log."""
    return FaultyAuthority(servers=SERVERS, zones=AUTH_ZONES, workdir=workdir,
                           log_queries=False, name=name)


def write_root_hints(path):
    with open(path, "w") as f:
        f.write("; root hints of the chaos hierarchy (named.root format)\n")
        f.write(".\t\t\t3600000\tNS\ta.root-servers.test.\n")
        f.write("a.root-servers.test.\t3600000\tA\t%s\n" % SERVERS["root"])
    return path


def authority_queries(snapshot, servers=None, exclude=()):
    """Queries the fauth servers received in a counts() snapshot: all of
    them, or only `servers`, minus `exclude`."""
    out = 0
    for srv, c in snapshot["servers"].items():
        if (servers is None or srv in servers) and srv not in exclude:
            out += c["total"]
    return out


def per_server(snapshot):
    return {srv: c["total"] for srv, c in snapshot["servers"].items() if c["total"]}


# --------------------------------------------------------------------------
# holdfast

def holdfast_conf(addr, root_hints, control_socket, **overrides):
    """Config text: the chaos defaults plus `overrides` (python_names become
    dashed keys; a list value repeats the key)."""
    keys = {
        "interface": addr,
        "port": PORT,
        "num-threads": 1,
        "root-hints": root_hints,
        "do-ip4": "yes",
        "do-ip6": "no",
        "do-not-query-localhost": "no",
        "qname-minimisation": "no",   # one upstream query per client question
        "access-control": "127.0.0.0/8 allow",
        "control-socket": control_socket,
        "verbosity": int(os.environ.get("CHAOS_VERBOSITY", "2")),
    }
    for k, v in overrides.items():
        keys[k.replace("_", "-")] = v
    lines = ["# written by tests/chaos/chaoskit.py"]
    for k, v in keys.items():
        for item in (v if isinstance(v, list) else [v]):
            lines.append("%s: %s" % (k, item))
    return "\n".join(lines) + "\n"


class Reply:
    """One answer and how long it took (None msg = no answer in time)."""

    def __init__(self, msg, elapsed, name=None, sent_at=None, tag=None):
        self.msg = msg
        self.elapsed = elapsed
        self.name = name
        self.sent_at = sent_at
        self.tag = tag
        if msg is None:
            self.rcode = None
            self.edes = []
            self.addrs = []
            self.ttls = []
            return
        self.rcode = msg.rcode()
        self.edes = [o.code for o in msg.options if o.otype == dns.edns.EDE]
        self.addrs = sorted(rd.address for rrs in msg.answer
                            if rrs.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
                            for rd in rrs)
        self.ttls = sorted({rrs.ttl for rrs in msg.answer})

    @property
    def answered(self):
        return self.msg is not None

    @property
    def is_stale(self):
        return self.rcode == dns.rcode.NOERROR and EDE_STALE_ANSWER in self.edes

    @property
    def is_fresh(self):
        return (self.rcode == dns.rcode.NOERROR and bool(self.addrs)
                and EDE_STALE_ANSWER not in self.edes)

    def __repr__(self):
        if self.msg is None:
            return "<%s: no answer within %.0f ms>" % (self.name, self.elapsed * 1000)
        return "<%s: %s in %.0f ms, answer %s ttl %s, EDE %s>" % (
            self.name, dns.rcode.to_text(self.rcode), self.elapsed * 1000, self.addrs,
            self.ttls, self.edes)


class Holdfast:
    """One holdfast process with its own config and control socket."""

    def __init__(self, binary, ctl, tag, addr, workdir, root_hints, **overrides):
        self.tag = tag
        self.addr = addr
        self.ctl_bin = ctl
        self.dir = os.path.join(workdir, "holdfast-" + tag)
        os.makedirs(self.dir, exist_ok=True)
        self.socket = os.path.join(self.dir, "ctl.sock")
        self.conf = os.path.join(self.dir, "holdfast.conf")
        with open(self.conf, "w") as f:
            f.write(holdfast_conf(addr, root_hints, self.socket, **overrides))
        self.proc = Process("holdfast-" + tag, [binary, "-c", self.conf],
                            os.path.join(self.dir, "holdfast.log"))
        self.pid = self.proc.pid

    def wait_ready(self, timeout=START_TIMEOUT):
        """Until it answers anything (localhost. never leaves the resolver:
        holdfast refuses it or answers it itself) and the control socket
        answers `stats`."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.proc.alive():
                raise RuntimeError("%s exited with %s:\n%s" % (
                    self.proc.name, self.proc.popen.returncode, self.log_tail()))
            if time.monotonic() > deadline:
                raise RuntimeError("%s not ready on %s within %.0f s:\n%s" % (
                    self.proc.name, self.addr, timeout, self.log_tail()))
            try:
                dns.query.udp(dns.message.make_query("localhost.", "A"), self.addr,
                              port=PORT, timeout=1.0)
                self.stats()
                return self
            except (dns.exception.Timeout, OSError, RuntimeError):
                time.sleep(0.1)

    def stop(self):
        return self.proc.stop()

    def alive(self):
        return self.proc.alive()

    def log_tail(self, max_lines=150):
        return self.proc.log_tail(max_lines)

    # -- holdfast-ctl

    def ctl(self, cmd):
        r = subprocess.run([self.ctl_bin, "-s", self.socket, cmd], capture_output=True,
                           text=True, timeout=CTL_TIMEOUT)
        if r.returncode != 0:
            raise RuntimeError("holdfast-ctl %s: exit %d: %s%s" % (cmd, r.returncode,
                                                                   r.stdout, r.stderr))
        return r.stdout

    def stats(self):
        """`holdfast-ctl stats` as {key: int}."""
        out = {}
        for line in self.ctl("stats").splitlines():
            k, sep, v = line.partition(":")
            if sep and v.strip().isdigit():
                out[k.strip()] = int(v)
        return out

    def upstream(self):
        """`holdfast-ctl upstream` as a list of dicts: addr, port, zone,
        provider, srtt, rto, failures, breaker, probe_in, inflight, line."""
        rows = []
        for line in self.ctl("upstream").splitlines():
            parts = line.split()
            if not parts or "@" not in parts[0]:
                continue
            host, _, port = parts[0].rpartition("@")
            row = {"addr": host, "port": int(port), "line": line}
            for p in parts[1:]:
                k, sep, v = p.partition("=")
                if sep:
                    row[k] = v
            rows.append(row)
        return rows

    def breaker(self, addr, zone):
        """The upstream row for (addr, zone), or None."""
        zone = zone.lower().rstrip(".") + "."
        for row in self.upstream():
            if row["addr"] == addr and row.get("zone", "").lower().rstrip(".") + "." == zone:
                return row
        return None

    def ask(self, name, rdtype="A", timeout=QUERY_TIMEOUT):
        """One UDP query from 127.0.0.1 with EDNS; Reply (no answer in
        `timeout`: msg None)."""
        q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
        t0 = time.monotonic()
        try:
            r = dns.query.udp(q, self.addr, port=PORT, source=CLIENT_ADDR, timeout=timeout)
        except dns.exception.Timeout:
            r = None
        return Reply(r, time.monotonic() - t0, name=name)


# --------------------------------------------------------------------------
# The paced client

def paced(names, qps, duration, start=0.0, tag=None, rdtype="A"):
    """A schedule: `qps` queries per second for `duration` seconds, cycling
    through `names`, as [(offset s, name, rdtype, tag)]."""
    n = int(round(qps * duration))
    return [(start + i / float(qps), names[i % len(names)], rdtype, tag) for i in range(n)]


def run_load(addr, schedule, timeout=2.0, source=CLIENT_ADDR, max_wall=None):
    """Send every query of `schedule` (see paced()) at its offset from one
    UDP socket, EDNS on, and collect the answers; a query not answered
    within `timeout` s counts as unanswered. Bounded: returns after the last
    send + timeout (or `max_wall` s). Returns [Reply] in schedule order
    (sent_at = offset from the start)."""
    schedule = sorted(schedule, key=lambda s: s[0])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((source, 0))
    sock.setblocking(False)
    results = [None] * len(schedule)
    pending = {}            # id -> (index, sent monotonic)
    next_id = 1
    t0 = time.monotonic()
    end = t0 + (schedule[-1][0] if schedule else 0) + timeout + 0.05
    if max_wall is not None:
        end = min(end, t0 + max_wall)
    i = 0
    try:
        while True:
            now = time.monotonic()
            # send everything due
            while i < len(schedule) and t0 + schedule[i][0] <= now:
                off, name, rdtype, tag = schedule[i]
                while next_id in pending or next_id == 0:
                    next_id = (next_id + 1) & 0xFFFF
                q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
                q.id = next_id
                next_id = (next_id + 1) & 0xFFFF
                try:
                    sock.sendto(q.to_wire(), (addr, PORT))
                except OSError:
                    pass        # counted as unanswered
                pending[q.id] = (i, time.monotonic())
                i += 1
            # expire
            for qid, (idx, sent) in list(pending.items()):
                if now - sent > timeout:
                    off, name, _, tag = schedule[idx]
                    results[idx] = Reply(None, timeout, name=name, sent_at=off, tag=tag)
                    del pending[qid]
            if (i >= len(schedule) and not pending) or now >= end:
                break
            wait = end - now
            if i < len(schedule):
                wait = min(wait, t0 + schedule[i][0] - now)
            if pending:
                wait = min(wait, min(s for _, s in pending.values()) + timeout - now)
            r, _, _ = select.select([sock], [], [], max(0.0, wait))
            if not r:
                continue
            while True:
                try:
                    wire, _ = sock.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                at = time.monotonic()
                try:
                    msg = dns.message.from_wire(wire)
                except dns.exception.DNSException:
                    continue
                hit = pending.pop(msg.id, None)
                if hit is None:
                    continue
                idx, sent = hit
                off, name, _, tag = schedule[idx]
                results[idx] = Reply(msg, at - sent, name=name, sent_at=off, tag=tag)
    finally:
        sock.close()
    for idx, (off, name, _, tag) in enumerate(schedule):
        if results[idx] is None:
            results[idx] = Reply(None, timeout, name=name, sent_at=off, tag=tag)
    return results


def percentile(values, q):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def summarize(replies):
    """Counts of a list of Reply: answered, fresh, stale, servfail (with
    which EDEs), unanswered, and the latency p50/p99/max in ms."""
    out = {"n": len(replies), "answered": 0, "fresh": 0, "stale": 0, "servfail": 0,
           "servfail_ede": {}, "other": 0, "unanswered": 0}
    lat = []
    for r in replies:
        if not r.answered:
            out["unanswered"] += 1
            continue
        out["answered"] += 1
        lat.append(r.elapsed * 1000)
        if r.is_stale:
            out["stale"] += 1
        elif r.is_fresh:
            out["fresh"] += 1
        elif r.rcode == dns.rcode.SERVFAIL:
            out["servfail"] += 1
            key = ",".join(str(e) for e in sorted(r.edes)) or "none"
            out["servfail_ede"][key] = out["servfail_ede"].get(key, 0) + 1
        else:
            out["other"] += 1
    out["p50_ms"] = percentile(lat, 0.50)
    out["p99_ms"] = percentile(lat, 0.99)
    out["max_ms"] = max(lat) if lat else None
    return out
