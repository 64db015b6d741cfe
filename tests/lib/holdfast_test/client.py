"""
client — the tests' side of DNS: queries over UDP and TCP with timeouts,
the timed Reply (rcode, addresses, TTLs, EDE codes), rrsets as a dict, and
the bounded wait until a server answers at all.

It does not judge answers (the test modules do) and never retries a query:
a timeout is a result.
"""
import time

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from . import PORT, HarnessError

CLIENT_ADDR = "127.0.0.1"   # the tests' source address (allowed by every ACL)
QUERY_TIMEOUT = 5.0
READY_TIMEOUT = 20.0        # seconds for a server to start answering

# RFC 8914 §4 Extended DNS Error codes the suites look for.
EDE_STALE_ANSWER = 3
EDE_STALE_NXDOMAIN = 19
EDE_NO_REACHABLE_AUTHORITY = 22
EDE_NETWORK_ERROR = 23


def make_query(name, rdtype="A", edns=0, payload=1232, want_dnssec=False, rd=True):
    q = dns.message.make_query(name, rdtype, use_edns=edns, payload=payload,
                               want_dnssec=want_dnssec)
    if not rd:
        q.flags &= ~dns.flags.RD
    return q


def udp(q, addr, source=CLIENT_ADDR, timeout=QUERY_TIMEOUT, port=PORT, **kw):
    return dns.query.udp(q, addr, port=port, source=source, timeout=timeout, **kw)


def tcp(q, addr, source=CLIENT_ADDR, timeout=QUERY_TIMEOUT, port=PORT, **kw):
    return dns.query.tcp(q, addr, port=port, source=source, timeout=timeout, **kw)


def rrsets(section):
    """{(owner, type): set of rdata text} with lower-cased owners."""
    out = {}
    for rrset in section:
        key = (rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype))
        out.setdefault(key, set()).update(rd.to_text() for rd in rrset)
    return out


def describe(msg):
    return msg.to_text() if msg is not None else "(no response)"


def edes(msg):
    """The EDE info-codes of a response, in order (RFC 8914)."""
    return [o.code for o in msg.options if o.otype == dns.edns.EDE]


class Reply:
    """One answer and how long it took (msg None: no answer in time)."""

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
            self.soa_ttls = []
            return
        self.rcode = msg.rcode()
        self.edes = edes(msg)
        self.addrs = sorted(rd.address for rrs in msg.answer
                            if rrs.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
                            for rd in rrs)
        self.ttls = sorted({rrs.ttl for rrs in msg.answer})
        self.soa_ttls = sorted({rrs.ttl for rrs in msg.authority
                                if rrs.rdtype == dns.rdatatype.SOA})

    @property
    def answered(self):
        return self.msg is not None

    @property
    def is_nodata(self):
        return self.rcode == dns.rcode.NOERROR and not self.msg.answer

    @property
    def is_stale(self):
        return self.rcode == dns.rcode.NOERROR and EDE_STALE_ANSWER in self.edes

    @property
    def is_fresh(self):
        return (self.rcode == dns.rcode.NOERROR and bool(self.addrs)
                and EDE_STALE_ANSWER not in self.edes)

    def __repr__(self):
        who = "%s: " % self.name if self.name else ""
        if self.msg is None:
            return "<%sno answer within %.0f ms>" % (who, self.elapsed * 1000)
        return "<%s%s in %.0f ms, answer %s ttl %s, EDE %s>" % (
            who, dns.rcode.to_text(self.rcode), self.elapsed * 1000, self.addrs, self.ttls,
            self.edes)


def ask(addr, name, rdtype="A", edns=True, timeout=QUERY_TIMEOUT, source=None,
        none_on_timeout=False, port=PORT):
    """One UDP query, EDNS (payload 1232) on by default; a Reply timed with
    time.monotonic. No answer within `timeout`: dns.exception.Timeout, or
    with none_on_timeout a Reply whose msg is None."""
    if edns:
        q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
    else:
        q = dns.message.make_query(name, rdtype, use_edns=False)
    t0 = time.monotonic()
    try:
        r = dns.query.udp(q, addr, port=port, source=source, timeout=timeout)
    except dns.exception.Timeout:
        if not none_on_timeout:
            raise
        r = None
    return Reply(r, time.monotonic() - t0, name=name)


TRANSPORTS = {"udp": dns.query.udp, "tcp": dns.query.tcp}


def wait_answering(proc, addr, qname=".", rdtype="NS", transports=("udp",),
                   timeout=READY_TIMEOUT, then=None, port=PORT):
    """Until the server `proc` (a process.Process) answers anything at all
    (even SERVFAIL or REFUSED) to `qname` `rdtype` on addr@port, over each
    transport in turn, and then `then()` returns without raising
    HarnessError. Bounded by `timeout` seconds in all; HarnessError with the
    log tail if the process exits or the time runs out."""
    deadline = time.monotonic() + timeout
    steps = [TRANSPORTS[t] for t in transports] + ([then] if then else [])
    for step in steps:
        while True:
            if not proc.alive():
                raise HarnessError("%s exited with %s:\n%s" % (
                    proc.name, proc.popen.returncode, proc.log_tail()))
            if time.monotonic() > deadline:
                raise HarnessError("%s does not answer on %s@%d within %.0f s:\n%s" % (
                    proc.name, addr, port, timeout, proc.log_tail()))
            try:
                if step is then:
                    then()
                else:
                    step(dns.message.make_query(qname, rdtype), addr, port=port, timeout=1.0)
                break
            except (dns.exception.Timeout, OSError, EOFError, HarnessError):
                time.sleep(0.1)
