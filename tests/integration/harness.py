"""
harness — the integration suite's hierarchy and resolver under test, on top
of the shared tests/lib (holdfast_test).

The server table below is the suite's own: one NSD instance per "server"
(each on its own 127.x address, port 53) serving zones/, and root hints
pointing at the local root. The resolver under test is holdfast or Unbound
(RESOLVER) with the reference config of holdfast_test.config. Processes,
waits and client helpers are holdfast_test's: every process is started by
us, tracked by PID and stopped by PID (SIGTERM, then SIGKILL after a bound);
every wait is bounded.

It does not decide what a correct answer is: the test modules do. The
fixtures (conftest.py) refuse to run outside a private network namespace
(see run.sh), because it binds port 53 on 127.x addresses and must never
talk to the outside world.
"""
import os

from holdfast_test import PORT, HarnessError, client, config, nsd, resolver

HERE = os.path.dirname(os.path.abspath(__file__))
ZONES_DIR = os.path.join(HERE, "zones")

# The hierarchy: server name -> (address, [(zone, zone file)]).
SERVERS = {
    "root": ("127.0.1.1", [(".", "root.zone")]),
    "tld-test": ("127.0.2.1", [("test.", "test.zone")]),
    "tld-example": ("127.0.2.2", [("example.", "example.zone")]),
    "tld-arpa": ("127.0.2.3", [("arpa.", "arpa.zone"),
                               ("in-addr.arpa.", "in-addr.arpa.zone")]),
    "leaf1": ("127.0.3.1", [("a.test.", "a.test.zone"),
                            ("neg.test.", "neg.test.zone"),
                            ("2.0.192.in-addr.arpa.", "2.0.192.in-addr.arpa.zone")]),
    "leaf2": ("127.0.3.2", [("b.test.", "b.test.zone"),
                            ("b.example.", "b.example.zone"),
                            ("cname.example.", "cname.example.zone"),
                            ("hoster.example.", "hoster.example.zone")]),
    "leaf3": ("127.0.3.3", [("glueless.test.", "glueless.test.zone"),
                            ("lame.test.", "lame.test.zone")]),
    # Listed as a server of lame.test. but does not serve it: REFUSED.
    "lame": ("127.0.3.4", [("other.example.", "other.example.zone")]),
}
ROOT_NS = ("a.root-servers.test.", "127.0.1.1")

RESOLVER_ADDR = "127.0.0.53"      # the resolver under test (module fixture)
RESOLVER_MT_ADDR = "127.0.0.54"   # second instance with 2 worker threads
CLIENT_ADDR = client.CLIENT_ADDR  # allowed by the ACL (config.ACL)
REFUSED_CLIENT_ADDR = "127.0.0.99"  # refused by the ACL
QUERY_TIMEOUT = client.QUERY_TIMEOUT


def Hierarchy(tmp):
    """The suite's NSD servers (not started), root hints in tmp/root.hints."""
    return nsd.Hierarchy(tmp, SERVERS, ZONES_DIR, root=ROOT_NS)


# --------------------------------------------------------------------------
# The resolver under test

def resolver_kind():
    kind = os.environ.get("RESOLVER", "holdfast")
    if kind not in ("holdfast", "unbound"):
        raise HarnessError("RESOLVER must be holdfast or unbound, not %r" % kind)
    return kind


class _Holdfast(resolver.Holdfast):
    ready_transports = ("udp", "tcp")   # answers anything on both


class _Unbound(resolver.Unbound):
    ready_transports = ("udp", "tcp")


def Resolver(kind, addr, threads, root_hints, tmp_root, tag, extra_conf=""):
    """One running resolver process of `kind`, listening on `addr`@53, with
    the reference config (plus `extra_conf` for holdfast), in
    tmp_root/KIND-TAG. wait_ready() waits for UDP and TCP."""
    name = "%s-%s" % (kind, tag)
    tmp = os.path.join(tmp_root, name)
    if kind == "unbound":
        os.makedirs(tmp, exist_ok=True)
        return _Unbound(tmp, config.unbound_reference(addr, threads, root_hints, tmp),
                        addr, name)
    try:
        binary = resolver.binary_from_env("HOLDFAST_BIN", fallback="holdfast")
    except HarnessError as e:
        raise HarnessError("RESOLVER=holdfast needs HOLDFAST_BIN: %s" % e) from None
    args = []
    if threads > 1:
        # Exercise the command-line overrides too (same values as the file,
        # so a flag that is ignored cannot hide anything).
        args = ["-t", str(threads), "-l", "%s@%d" % (addr, PORT), "--root-hints", root_hints]
    conf = config.holdfast_reference(addr, threads, root_hints) + extra_conf
    return _Holdfast(binary, tmp, conf, addr, name, log_name="resolver.log", args=args)


# --------------------------------------------------------------------------
# Client helpers (holdfast_test.client): to the resolver under test from
# 127.0.0.1 by default

make_query = client.make_query
rrsets = client.rrsets
describe = client.describe


def udp(q, addr=RESOLVER_ADDR, source=CLIENT_ADDR, timeout=QUERY_TIMEOUT, **kw):
    return client.udp(q, addr, source=source, timeout=timeout, **kw)


def tcp(q, addr=RESOLVER_ADDR, source=CLIENT_ADDR, timeout=QUERY_TIMEOUT, **kw):
    return client.tcp(q, addr, source=source, timeout=timeout, **kw)
