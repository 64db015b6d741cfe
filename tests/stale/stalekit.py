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
waits (the shared harness, tests/lib/holdfast_test).
"""
import os
import time

from holdfast_test import client, config, resolver
from holdfast_test.fauth_control import count as fauth_count_of

HERE = os.path.dirname(os.path.abspath(__file__))
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

START_TIMEOUT = 20.0
QUERY_TIMEOUT = 8.0

EDE_STALE_ANSWER = client.EDE_STALE_ANSWER
EDE_STALE_NXDOMAIN = client.EDE_STALE_NXDOMAIN


def holdfast_conf(addr, root_hints, **overrides):
    """The config text: the common short windows plus `overrides`
    (python_names become dashed keys; a list value repeats the key)."""
    keys = config.loopback_keys(addr, root_hints)
    keys.update({
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
    })
    return config.render(keys, "# written by tests/stale/stalekit.py", overrides)


def write_root_hints(path):
    return config.write_root_hints(path, SERVERS["root"])


class Holdfast(resolver.Holdfast):
    """One holdfast process with its own config, on `addr`@53."""

    ready_query = ("localhost.", "A")   # answered at once (a REFUSED will do)

    def __init__(self, binary, tag, addr, workdir, root_hints, **overrides):
        self.tag = tag
        super().__init__(binary, os.path.join(workdir, "holdfast-" + tag),
                         holdfast_conf(addr, root_hints, **overrides), addr,
                         "holdfast-" + tag)

    def wait_ready(self, timeout=START_TIMEOUT):
        """Until it answers anything at all (a REFUSED or SERVFAIL will do)."""
        return super().wait_ready(timeout=timeout)

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
        """One UDP query, EDNS on by default; Reply (a timeout raises)."""
        return super().ask(name, rdtype, edns=edns, timeout=timeout)


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
    return fauth_count_of(snapshot, server=server, name=name)


def let_expire(extra=1.1):
    """Sleep until data fetched just now is past its TTL. holdfast keeps time
    in whole wall-clock seconds, so TTL + 1.1 s is past expiry for sure."""
    time.sleep(DATA_TTL + extra)
