"""
stalekit — the pieces the serve-stale and empty-answer-guard tests share:
the loopback hierarchy served by fauth, holdfast instances with their own
config, and a client that times each answer and reads its EDE codes.

The hierarchy (all inside one fauth process, see ../fauth/README.md):

    root  127.0.20.1   .          delegates test. to tld
    tld   127.0.20.2   test.      delegates svc.test. to ns1 + ns2, with glue
    ns1   127.0.20.11  svc.test.  data TTL 2 s, negative TTL 2 s
    ns2   127.0.20.12  svc.test.

Faults are always set per name and per svc.test. server (`break_name`), so
root and tld keep answering when holdfast walks back up to re-learn the
delegation, and cases never disturb each other.

It does not decide what a correct answer is: the test modules do. Every
process is started by us, tracked by PID and stopped by PID with bounded
waits (harness.Process from tests/integration).
"""
import os
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

from fixture import FaultyAuthority  # noqa: E402  (tests/fauth)
from harness import Process  # noqa: E402  (tests/integration)

ZONES = os.path.join(HERE, "zones")
SERVERS = {"root": "127.0.20.1", "tld": "127.0.20.2",
           "ns1": "127.0.20.11", "ns2": "127.0.20.12"}
AUTH_ZONES = {".": (os.path.join(ZONES, "root.zone"), ["root"]),
              "test.": (os.path.join(ZONES, "test.zone"), ["tld"]),
              "svc.test.": (os.path.join(ZONES, "svc.test.zone"), ["ns1", "ns2"])}
ZONE = "svc.test."
PROVIDERS = ("ns1", "ns2")

# The windows every instance is configured with (short, so a case fits in
# seconds). DATA_TTL is the TTL of the data in svc.test.zone.
DATA_TTL = 2
STALE_ANSWER_TTL = 17          # distinct from every TTL in the zones
CLIENT_TIMEOUT_MS = 300        # stale-answer-client-timeout
STALE_REFRESH = 2              # stale-refresh-time, s
EMPTY_HOLD = 6                 # empty-answer-hold, s
# The issue: "stale answer within stale-answer-client-timeout + 200 ms".
STALE_DEADLINE = (CLIENT_TIMEOUT_MS + 200) / 1000.0
# "At once": an answer that needs no waiting on a timer.
PROMPT = 1.0

PORT = 53
START_TIMEOUT = 20.0
QUERY_TIMEOUT = 8.0

EDE_STALE_ANSWER = 3
EDE_STALE_NXDOMAIN = 19


def holdfast_conf(addr, root_hints, **overrides):
    """The config text: the common short windows plus `overrides`
    (python_names become dashed keys; a list value repeats the key)."""
    keys = {
        "interface": addr,
        "port": PORT,
        "num-threads": 1,
        "root-hints": root_hints,
        "do-ip4": "yes",
        "do-ip6": "no",
        "do-not-query-localhost": "no",
        "qname-minimisation": "no",     # one upstream query per client question
        "access-control": "127.0.0.0/8 allow",
        "cache-min-ttl": 0,
        "serve-stale": "yes",
        "stale-answer-ttl": STALE_ANSWER_TTL,
        "max-stale-ttl": 3600,
        "stale-answer-client-timeout": CLIENT_TIMEOUT_MS,
        "stale-refresh-time": STALE_REFRESH,
        "empty-answer-guard": "yes",
        "empty-answer-hold": EMPTY_HOLD,
        "verbosity": 3,
    }
    for k, v in overrides.items():
        keys[k.replace("_", "-")] = v
    lines = ["# written by tests/stale/stalekit.py"]
    for k, v in keys.items():
        for item in (v if isinstance(v, list) else [v]):
            lines.append("%s: %s" % (k, item))
    return "\n".join(lines) + "\n"


def write_root_hints(path):
    with open(path, "w") as f:
        f.write(".\t\t\t3600000\tNS\ta.root-servers.test.\n")
        f.write("a.root-servers.test.\t3600000\tA\t%s\n" % SERVERS["root"])
    return path


class Reply:
    """One answer from holdfast and how long it took."""

    def __init__(self, msg, elapsed):
        self.msg = msg
        self.elapsed = elapsed
        self.rcode = msg.rcode()
        self.edes = [o.code for o in msg.options if o.otype == dns.edns.EDE]
        self.addrs = sorted(rd.address for rrs in msg.answer
                            if rrs.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
                            for rd in rrs)
        self.ttls = sorted({rrs.ttl for rrs in msg.answer})
        self.soa_ttls = sorted({rrs.ttl for rrs in msg.authority
                                if rrs.rdtype == dns.rdatatype.SOA})

    @property
    def is_nodata(self):
        return self.rcode == dns.rcode.NOERROR and not self.msg.answer

    def __repr__(self):
        return "<%s in %.0f ms, answer %s ttl %s, EDE %s>" % (
            dns.rcode.to_text(self.rcode), self.elapsed * 1000, self.addrs, self.ttls,
            self.edes)


class Holdfast:
    """One holdfast process with its own config, on `addr`@53."""

    def __init__(self, binary, tag, addr, workdir, root_hints, **overrides):
        self.tag = tag
        self.addr = addr
        self.dir = os.path.join(workdir, "holdfast-" + tag)
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "holdfast.conf")
        with open(self.conf, "w") as f:
            f.write(holdfast_conf(addr, root_hints, **overrides))
        self.proc = Process("holdfast-" + tag, [binary, "-c", self.conf],
                            os.path.join(self.dir, "holdfast.log"))
        self.pid = self.proc.pid

    def wait_ready(self, timeout=START_TIMEOUT):
        """Until it answers anything at all (a REFUSED or SERVFAIL will do)."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.proc.alive():
                raise RuntimeError("%s exited with %s:\n%s" % (
                    self.proc.name, self.proc.popen.returncode, self.log_tail()))
            if time.monotonic() > deadline:
                raise RuntimeError("%s does not answer on %s within %.0f s:\n%s" % (
                    self.proc.name, self.addr, timeout, self.log_tail()))
            try:
                dns.query.udp(dns.message.make_query("localhost.", "A"), self.addr, port=PORT,
                              timeout=1.0)
                return self
            except (dns.exception.Timeout, OSError):
                time.sleep(0.1)

    def stop(self):
        return self.proc.stop()

    def alive(self):
        return self.proc.alive()

    def log_text(self):
        with open(self.proc.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_tail(self, max_lines=150):
        return self.proc.log_tail(max_lines)

    def guard_events(self, name):
        """Log lines at warning level or above about the empty-answer guard
        for `name` (the operator-visible events; debug/info lines such as
        "asking another server" are not counted)."""
        out = []
        for line in self.log_text().splitlines():
            parts = line.split(None, 2)
            if len(parts) < 3 or parts[1] not in ("warning", "error"):
                continue
            if "guard" in line and (" %s " % name) in line:
                out.append(line)
        return out

    def ask(self, name, rdtype="A", edns=True, timeout=QUERY_TIMEOUT):
        """One UDP query from 127.0.0.1, EDNS on by default; Reply."""
        if edns:
            q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
        else:
            q = dns.message.make_query(name, rdtype, use_edns=False)
        t0 = time.monotonic()
        r = dns.query.udp(q, self.addr, port=PORT, timeout=timeout)
        return Reply(r, time.monotonic() - t0)


def break_name(fauth, name, mode, servers=PROVIDERS, **kw):
    """Make the svc.test. servers misbehave for `name` (every type); the
    fault ids."""
    return [fauth.set_fault(server=s, zone=ZONE, name=name, mode=mode, **kw) for s in servers]


def upstream_queries(fauth, name, servers=PROVIDERS):
    """Queries for `name` (any type) that the listed fauth servers received
    since the last reset_counts."""
    snap = fauth.counts()
    return sum(fauth_count(snap, s, name) for s in servers)


def fauth_count(snapshot, server, name):
    import control  # tests/fauth, on sys.path above
    return control.count(snapshot, server=server, name=name)


def let_expire(extra=1.1):
    """Sleep until data fetched just now is past its TTL. holdfast keeps time
    in whole wall-clock seconds, so TTL + 1.1 s is past expiry for sure."""
    time.sleep(DATA_TTL + extra)
