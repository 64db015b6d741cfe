"""
chaoskit — the pieces the chaos tests (tests/chaos) and the outage
measurement (bench/chaos.py) share: the loopback hierarchy served by fauth,
its counters read per server, and holdfast instances with the chaos config
and a control socket.

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
bounded waits (the shared harness, tests/lib/holdfast_test; its load module
is the paced client that sends a bounded load and times every answer).
"""
import os

from holdfast_test import config, resolver
from holdfast_test.client import CLIENT_ADDR
from holdfast_test.fauth import FaultyAuthority

HERE = os.path.dirname(os.path.abspath(__file__))
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

START_TIMEOUT = 20.0
QUERY_TIMEOUT = 5.0


def fauth(workdir, name="fauth"):
    """The hierarchy's fauth (not started). Query logging off: the counters
    are what the cases read, and a flood would fill the log."""
    return FaultyAuthority(servers=SERVERS, zones=AUTH_ZONES, workdir=workdir,
                           log_queries=False, name=name)


def write_root_hints(path):
    return config.write_root_hints(path, SERVERS["root"],
                                   comment="root hints of the chaos hierarchy (named.root format)")


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
    keys = config.loopback_keys(addr, root_hints)
    keys.update({
        "qname-minimisation": "no",   # one upstream query per client question
        "access-control": "127.0.0.0/8 allow",
        "control-socket": control_socket,
        "verbosity": int(os.environ.get("CHAOS_VERBOSITY", "2")),
    })
    return config.render(keys, "# written by tests/chaos/chaoskit.py", overrides)


class Holdfast(resolver.Holdfast):
    """One holdfast process with its own config and control socket; ctl(),
    stats(), upstream() and breaker() run holdfast-ctl."""

    # localhost. never leaves the resolver: holdfast refuses it or answers
    # it itself.
    ready_query = ("localhost.", "A")

    def __init__(self, binary, ctl, tag, addr, workdir, root_hints, **overrides):
        self.tag = tag
        self.ctl_bin = ctl
        d = os.path.join(workdir, "holdfast-" + tag)
        sock = os.path.join(d, "ctl.sock")
        super().__init__(binary, d, holdfast_conf(addr, root_hints, sock, **overrides),
                         addr, "holdfast-" + tag, ctl_bin=ctl, control_socket=sock)

    def wait_ready(self, timeout=START_TIMEOUT):
        """Until it answers anything and the control socket answers
        `stats`."""
        return super().wait_ready(timeout=timeout, then=self.stats)

    def ask(self, name, rdtype="A", timeout=QUERY_TIMEOUT):
        """One UDP query from 127.0.0.1 with EDNS; Reply (no answer in
        `timeout`: msg None)."""
        return super().ask(name, rdtype, timeout=timeout, source=CLIENT_ADDR,
                           none_on_timeout=True)
