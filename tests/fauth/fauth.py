#!/usr/bin/python3
"""
fauth — the fault-injecting test authority.

A small authoritative DNS server used only by holdfast's tests. It serves
zone files on several loopback addresses at once ("servers", e.g. ns1 on
127.0.10.1 and ns2 on 127.0.10.2), over UDP and TCP, and lets a test change
at run time how each server misbehaves for a zone, name or type: drop,
SERVFAIL, REFUSED, empty NOERROR (with or without SOA), NXDOMAIN, slow,
replaced data, truncated, flapping. It counts every query it receives per
server, name and type so a test can assert how many upstream queries one
client query caused.

Why Python and dnspython rather than C like the resolver: dnspython gives
zone-file parsing and message building for free, the tool only ever runs in
tests (a few hundred queries per second is plenty), and its fault logic must
be easy to read and change when a new outage shape needs reproducing. NSD
stays the authority for well-behaved zones; fauth is for the misbehaving ones.

Usage (run with Debian's /usr/bin/python3, which has dnspython):

  fauth.py --control 127.0.0.1:5300 \\
           --server ns1=127.0.10.1 --server ns2=127.0.10.2:5353 \\
           --zone f.test.=zones/f.test.zone \\
           --zone ns2:other.test.=zones/other.test.zone \\
           --fault 'server=ns1,mode=drop' --log-queries

  serves f.test. on both servers and other.test. only on ns2, with ns1
  dropping everything from the start. The same options can come from a file,
  one per line without the dashes (relative zone files resolve against the
  file's directory), and the command line adds to it:

  fauth.py --config fauth.conf
      server ns1=127.0.10.1
      zone f.test.=f.test.zone
      fault {"server": "ns1", "mode": "drop"}

The control channel (--control HOST:PORT or a unix socket path) speaks JSON
lines: one request object per line, one answer object per line; see
CONTROL_HELP below and tests/lib/holdfast_test/fauth_control.py for the
client. Once every socket is bound fauth prints "fauth control ADDR" (when
there is a control channel) and then "fauth ready" on stdout. SIGTERM or
SIGINT: close everything, exit 0.

Authoritative behaviour: AA answers, in-zone CNAME chasing, NXDOMAIN/NODATA
with the SOA in the authority section (TTL = min(SOA TTL, SOA MINIMUM), RFC
2308 §5), referrals to delegated subzones (NS in authority, glue in
additional, AA=0), wildcards (RFC 4592 closest encloser), EDNS (OPT echoed
with version 0 and our size, DO copied, BADVERS for version > 0), TC=1 over
UDP when the answer does not fit min(client size, --edns-size) (512 without
EDNS), REFUSED for names outside every zone of that server.

It deliberately does not do: DNSSEC signing or NSEC/NSEC3 denial (records in
a signed zone file are served as plain data), zone transfers (AXFR/IXFR are
REFUSED), dynamic update or NOTIFY (NOTIMP), DNAME substitution (DNAME records
are served as data only), cross-zone CNAME chasing, IPv6 listening, TSIG,
cookies, rate limiting. It is not hardened against hostile input beyond
"a malformed packet gets FORMERR, never a crash".
"""
import argparse
import asyncio
import collections
import json
import os
import signal
import socket
import struct
import sys
import time

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

IN = dns.rdataclass.IN
DEFAULT_PORT = 53
DEFAULT_EDNS_SIZE = 1232      # our advertised size and the cap on UDP answers
MAX_CNAME_CHAIN = 16
TCP_IDLE_TIMEOUT = 30.0       # seconds without a query before we close
UDP_RCVBUF = 4 << 20          # bytes, see UdpProtocol.connection_made
QUERY_LOG_LEN = 10000         # recent queries kept for the "queries" command

MODES = ("normal", "drop", "servfail", "refused", "empty", "empty_nosoa", "nxdomain",
         "slow", "data", "truncate", "flap")
DEFAULT_SLOW_MS = 1000

CONTROL_HELP = """\
requests (one JSON object per line, "cmd" plus fields; every answer has "ok"):
  {"cmd": "ping"}                                 -> {"ok": true, "pong": true}
  {"cmd": "set_fault", "server": S, "zone": Z, "name": N, "qtype": T,
   "mode": M, "delay_ms": D, "data": R, "ttl": TTL, "flap_every": K,
   "flap_ms": MS, "flap_mode": M2, "priority": P}  -> {"ok": true, "id": ID}
      server/zone/name/qtype: omitted, null or "*" = any. A rule with the
      same four fields replaces the old one. data: one record or a list,
      presentation form "A 192.0.2.99" (TTL from "ttl", default 300).
  {"cmd": "clear_faults"} / {"cmd": "clear_faults", "id": ID}
  {"cmd": "list_faults"}                          -> {"ok": true, "faults": [...]}
  {"cmd": "counts"}                               -> {"ok": true, "counts": {...}}
  {"cmd": "reset_counts"}        (also empties the query log and rule hit counts)
  {"cmd": "queries"}                              -> {"ok": true, "queries": [...]}
  {"cmd": "set_log", "on": true|false}            per-query log lines on stderr
  {"cmd": "status"}                               -> servers, zones, fault count
  {"cmd": "help"}
modes: normal (answer as the zone says; overrides a broader rule), drop (no
  answer), servfail, refused (no AA, empty), empty (NOERROR, AA, no answer,
  SOA in authority), empty_nosoa (NOERROR, AA, no records in any section; OPT
  still echoed), nxdomain (with SOA), slow (normal after delay_ms, default
  1000), data (the given records at the query name, NOERROR, AA), truncate
  (UDP: TC=1 and empty sections; TCP: normal), flap (normal, then flap_mode
  [drop], alternating every flap_every queries or every flap_ms ms).
  delay_ms delays the answer of any mode (for flap: its bad phase only).
matching: the rule with the highest priority (default 0) wins; then the most
  specific: naming a name beats not, then a qtype, then a zone, then a server
  (so server+zone+name+qtype > ... > server-wide > global); then the newest.
  Names compare case-insensitively; zone is the served zone the name falls in.
"""


class ConfigError(Exception):
    pass


def log(msg):
    sys.stderr.write("fauth: %s\n" % msg)
    sys.stderr.flush()


def name_key(name):
    return name.to_text().lower()


# --------------------------------------------------------------------------
# Zones and the authoritative lookup


class Zone:
    """One zone file, indexed for lookups: nodes, empty non-terminals and
    zone cuts. Read-only once loaded."""

    def __init__(self, origin, path):
        self.origin = dns.name.from_text(origin)
        self.path = path
        try:
            z = dns.zone.from_file(path, origin=self.origin, relativize=False,
                                   check_origin=True)
        except (OSError, dns.exception.DNSException) as e:
            raise ConfigError("zone %s from %s: %s" % (origin, path, e)) from e
        self.nodes = dict(z.nodes.items())      # Name hashes case-insensitively
        soa = self.nodes[self.origin].get_rdataset(IN, dns.rdatatype.SOA)
        self.soa = soa
        # Every existing name plus its ancestors up to the origin: a name in
        # here without a node is an empty non-terminal (NODATA, not NXDOMAIN).
        self.existing = set()
        for n in self.nodes:
            while n not in self.existing:
                self.existing.add(n)
                if n == self.origin:
                    break
                n = n.parent()
        self.cuts = {n for n, node in self.nodes.items()
                     if n != self.origin and node.get_rdataset(IN, dns.rdatatype.NS)}

    def negative_soa(self):
        """RFC 2308 §5: the SOA in a negative answer carries
        TTL = min(SOA TTL, SOA MINIMUM)."""
        ttl = min(self.soa.ttl, self.soa[0].minimum)
        rrset = dns.rrset.RRset(self.origin, IN, dns.rdatatype.SOA)
        rrset.update(self.soa)
        rrset.ttl = ttl
        return rrset

    def find_cut(self, name, qtype):
        """The topmost delegation point at or above `name` (below the
        origin), or None. At the cut itself a DS query belongs to us."""
        ancestors = []
        n = name
        while n != self.origin:
            ancestors.append(n)
            n = n.parent()
        for a in reversed(ancestors):
            if a in self.cuts:
                if a == name and qtype == dns.rdatatype.DS:
                    return None
                return a
        return None

    def find_node(self, name):
        """(node, exists). Exact node, empty non-terminal (node None, True),
        wildcard node synthesised for `name`, or (None, False)."""
        node = self.nodes.get(name)
        if node is not None:
            return node, True
        if name in self.existing:
            return None, True
        # RFC 4592 §3.3.1: the closest encloser, then its wildcard child.
        ce = name.parent()
        while ce not in self.existing:
            ce = ce.parent()
        wild = self.nodes.get(dns.name.Name((b"*",) + ce.labels))
        if wild is not None:
            return wild, True
        return None, False

    def rrset_at(self, owner, rdataset):
        rrset = dns.rrset.RRset(owner, IN, rdataset.rdtype, rdataset.covers)
        rrset.update(rdataset)
        return rrset

    def addresses_of(self, target):
        """A and AAAA RRsets of an in-zone name (glue included: no cut check)."""
        out = []
        node = self.nodes.get(target)
        if node is not None:
            for t in (dns.rdatatype.A, dns.rdatatype.AAAA):
                rds = node.get_rdataset(IN, t)
                if rds:
                    out.append(self.rrset_at(target, rds))
        return out

    def answer(self, qname, qtype, msg):
        """Fill msg's sections for (qname, qtype). Returns (rcode, aa)."""
        owner = qname
        seen = set()
        while True:
            cut = self.find_cut(owner, qtype)
            if cut is not None:
                if owner != qname:      # CNAME into a delegated child: stop there
                    return dns.rcode.NOERROR, True
                ns = self.nodes[cut].get_rdataset(IN, dns.rdatatype.NS)
                msg.authority.append(self.rrset_at(cut, ns))
                for rd in ns:
                    msg.additional.extend(self.addresses_of(rd.target))
                return dns.rcode.NOERROR, False
            node, exists = self.find_node(owner)
            if not exists:
                msg.authority.append(self.negative_soa())
                return dns.rcode.NXDOMAIN, True     # RFC 6604: rcode of the last name
            rdatasets = []
            if node is not None:
                if qtype == dns.rdatatype.ANY:
                    rdatasets = list(node.rdatasets)
                else:
                    rds = node.get_rdataset(IN, qtype)
                    rdatasets = [rds] if rds else []
            if rdatasets:
                for rds in rdatasets:
                    rrset = self.rrset_at(owner, rds)
                    msg.answer.append(rrset)
                    self.add_additional(rrset, msg)
                return dns.rcode.NOERROR, True
            cname = node.get_rdataset(IN, dns.rdatatype.CNAME) if node is not None else None
            if cname and qtype != dns.rdatatype.CNAME:
                msg.answer.append(self.rrset_at(owner, cname))
                seen.add(owner)
                target = cname[0].target
                if (target in seen or len(seen) >= MAX_CNAME_CHAIN
                        or not target.is_subdomain(self.origin)):
                    return dns.rcode.NOERROR, True
                owner = target
                continue
            msg.authority.append(self.negative_soa())   # NODATA
            return dns.rcode.NOERROR, True

    def add_additional(self, rrset, msg):
        """Addresses of in-zone targets of NS, MX and SRV answers."""
        if rrset.rdtype == dns.rdatatype.NS:
            targets = [rd.target for rd in rrset]
        elif rrset.rdtype == dns.rdatatype.MX:
            targets = [rd.exchange for rd in rrset]
        elif rrset.rdtype == dns.rdatatype.SRV:
            targets = [rd.target for rd in rrset]
        else:
            return
        have = {(r.name, r.rdtype) for r in msg.additional}
        for t in targets:
            for r in self.addresses_of(t):
                if (r.name, r.rdtype) not in have:
                    have.add((r.name, r.rdtype))
                    msg.additional.append(r)


class Server:
    """One listening address and the zones it serves."""

    def __init__(self, name, addr, port):
        self.name = name
        self.addr = addr
        self.port = port
        self.zones = []         # longest origin first

    def add_zone(self, zone):
        if any(z.origin == zone.origin for z in self.zones):
            raise ConfigError("server %s: zone %s given twice" % (self.name, zone.origin))
        self.zones.append(zone)
        self.zones.sort(key=lambda z: len(z.origin.labels), reverse=True)

    def find_zone(self, qname):
        for z in self.zones:
            if qname.is_subdomain(z.origin):
                return z
        return None


# --------------------------------------------------------------------------
# Faults


class Fault:
    """One rule: which queries it matches and what to do with them."""

    FIELDS = ("id", "server", "zone", "name", "qtype", "mode", "delay_ms", "data", "ttl",
              "flap_every", "flap_ms", "flap_mode", "priority")
    _seq = 0

    def __init__(self, spec, servers):
        unknown = set(spec) - set(self.FIELDS) - {"cmd"}
        if unknown:
            raise ConfigError("unknown fault field(s): %s" % ", ".join(sorted(unknown)))
        Fault._seq += 1
        self.seq = Fault._seq
        self.id = self.seq

        def opt(key):
            v = spec.get(key)
            return None if v in (None, "*", "") else v

        self.server = opt("server")
        if self.server is not None and self.server not in servers:
            raise ConfigError("fault: no server named %r" % self.server)
        try:
            self.zone = dns.name.from_text(opt("zone")) if opt("zone") else None
            self.name = dns.name.from_text(opt("name")) if opt("name") else None
        except dns.exception.DNSException as e:
            raise ConfigError("fault: bad name: %s" % e) from e
        try:
            self.qtype = dns.rdatatype.from_text(str(opt("qtype"))) if opt("qtype") else None
        except dns.exception.DNSException as e:
            raise ConfigError("fault: bad qtype %r" % spec.get("qtype")) from e
        self.mode = spec.get("mode", "normal")
        if self.mode not in MODES:
            raise ConfigError("fault: mode must be one of %s, not %r" % (", ".join(MODES),
                                                                          self.mode))
        self.delay_ms = self._number(spec, "delay_ms",
                                     DEFAULT_SLOW_MS if self.mode == "slow" else 0)
        self.ttl = int(self._number(spec, "ttl", 300))
        self.priority = int(self._number(spec, "priority", 0))
        self.flap_every = int(self._number(spec, "flap_every", 0))
        self.flap_ms = self._number(spec, "flap_ms", 0)
        self.flap_mode = spec.get("flap_mode", "drop")
        if self.mode == "flap":
            if (self.flap_every > 0) == (self.flap_ms > 0):
                raise ConfigError("fault: flap needs exactly one of flap_every (queries) "
                                  "or flap_ms (milliseconds)")
            if self.flap_mode in ("flap", "data") or self.flap_mode not in MODES:
                raise ConfigError("fault: bad flap_mode %r" % self.flap_mode)
        self.data = []
        raw = spec.get("data")
        if self.mode == "data":
            if not raw:
                raise ConfigError("fault: mode data needs data, e.g. \"A 192.0.2.99\"")
            if isinstance(raw, str):
                raw = [raw]
            for text in raw:
                self.data.append(self._parse_rdata(text))
        elif raw:
            raise ConfigError("fault: data is only for mode data")
        self.hits = 0
        self.t0 = time.monotonic()

    @staticmethod
    def _number(spec, key, default):
        v = spec.get(key)
        if v is None:
            return default
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise ConfigError("fault: %s must be a number, not %r" % (key, v)) from None
        if v < 0:
            raise ConfigError("fault: %s must not be negative" % key)
        return v

    @staticmethod
    def _parse_rdata(text):
        parts = str(text).split(None, 1)
        if len(parts) != 2:
            raise ConfigError("fault: data %r is not \"TYPE RDATA\"" % text)
        try:
            rdtype = dns.rdatatype.from_text(parts[0])
            return dns.rdata.from_text(IN, rdtype, parts[1], origin=dns.name.root)
        except dns.exception.DNSException as e:
            raise ConfigError("fault: data %r: %s" % (text, e)) from e

    def key(self):
        return (self.server, self.zone, self.name, self.qtype)

    def matches(self, server, zone, qname, qtype):
        return ((self.server is None or self.server == server)
                and (self.zone is None or (zone is not None and self.zone == zone.origin))
                and (self.name is None or self.name == qname)
                and (self.qtype is None or self.qtype == qtype))

    def specificity(self):
        """Sort key, highest wins: explicit priority first; then the most
        specific rule (a rule naming a name beats one that does not, then
        one naming a type, then a zone, then a server); then the most
        recently set."""
        score = ((self.name is not None) * 8 + (self.qtype is not None) * 4
                 + (self.zone is not None) * 2 + (self.server is not None))
        return (self.priority, score, self.seq)

    def effective_mode(self):
        """The mode for the query that just matched (counts the hit)."""
        self.hits += 1
        if self.mode != "flap":
            return self.mode
        if self.flap_every:
            phase = ((self.hits - 1) // self.flap_every) % 2
        else:
            phase = int((time.monotonic() - self.t0) * 1000 // self.flap_ms) % 2
        return "normal" if phase == 0 else self.flap_mode

    def to_json(self):
        return {
            "id": self.id, "server": self.server,
            "zone": self.zone.to_text() if self.zone else None,
            "name": self.name.to_text() if self.name else None,
            "qtype": dns.rdatatype.to_text(self.qtype) if self.qtype else None,
            "mode": self.mode, "delay_ms": self.delay_ms, "ttl": self.ttl,
            "data": ["%s %s" % (dns.rdatatype.to_text(rd.rdtype), rd.to_text())
                     for rd in self.data],
            "flap_every": self.flap_every, "flap_ms": self.flap_ms,
            "flap_mode": self.flap_mode, "priority": self.priority, "hits": self.hits,
        }


def parse_fault_spec(text):
    """A fault from the command line: a JSON object, or key=value pairs
    separated by commas ("server=ns1,mode=data,data=A 192.0.2.1|A 192.0.2.2";
    in this form several data records are separated by "|")."""
    text = text.strip()
    if text.startswith("{"):
        try:
            spec = json.loads(text)
        except ValueError as e:
            raise ConfigError("fault %r: %s" % (text, e)) from e
        if not isinstance(spec, dict):
            raise ConfigError("fault %r: not a JSON object" % text)
        return spec
    spec = {}
    for item in text.split(","):
        if "=" not in item:
            raise ConfigError("fault %r: %r is not key=value" % (text, item))
        k, v = item.split("=", 1)
        spec[k.strip()] = v.strip()
    if "data" in spec:
        spec["data"] = [d.strip() for d in spec["data"].split("|")]
    return spec


# --------------------------------------------------------------------------
# The engine: counters, faults, building answers


class Engine:
    def __init__(self, servers, edns_size, log_queries):
        self.servers = servers          # name -> Server
        self.edns_size = edns_size
        self.log_queries = log_queries
        self.faults = []
        self.reset_counts()

    # -- faults

    def set_fault(self, spec):
        try:
            f = Fault(spec, self.servers)
        except (TypeError, AttributeError, ValueError) as e:    # wrong JSON types
            raise ConfigError("fault %s: %s" % (json.dumps(spec), e)) from e
        self.faults = [g for g in self.faults if g.key() != f.key()] + [f]
        return f

    def clear_faults(self, fault_id=None):
        before = len(self.faults)
        if fault_id is None:
            self.faults = []
        else:
            self.faults = [f for f in self.faults if f.id != int(fault_id)]
        return before - len(self.faults)

    def match(self, server, zone, qname, qtype):
        best = None
        for f in self.faults:
            if f.matches(server, zone, qname, qtype):
                if best is None or f.specificity() > best.specificity():
                    best = f
        return best

    # -- counters

    def reset_counts(self):
        self.total = 0
        self.per_server = {s: {"total": 0, "udp": 0, "tcp": 0} for s in self.servers}
        self.per_name = {s: {} for s in self.servers}
        self.per_mode = {s: {} for s in self.servers}
        self.query_log = collections.deque(maxlen=QUERY_LOG_LEN)
        for f in getattr(self, "faults", []):
            f.hits = 0

    def count(self, server, transport, qname, qtype):
        self.total += 1
        c = self.per_server[server]
        c["total"] += 1
        c[transport] += 1
        by_type = self.per_name[server].setdefault(name_key(qname), {})
        t = dns.rdatatype.to_text(qtype)
        by_type[t] = by_type.get(t, 0) + 1

    def counts(self):
        return {"total": self.total, "servers": self.per_server, "names": self.per_name,
                "modes": self.per_mode}

    # -- queries

    def handle(self, server, wire, transport, peer):
        """Returns (response wire or None to stay silent, delay in seconds)."""
        try:
            query = dns.message.from_wire(wire)
        except Exception:   # noqa: BLE001 -- any parse failure is FORMERR, never a crash
            return formerr(wire), 0.0
        if query.flags & dns.flags.QR:
            return None, 0.0    # a response sent to us: ignore
        if query.opcode() != dns.opcode.QUERY:
            return self.error(query, dns.rcode.NOTIMP), 0.0
        if len(query.question) != 1:
            return self.error(query, dns.rcode.FORMERR), 0.0
        q = query.question[0]
        qname, qtype = q.name, q.rdtype
        self.count(server.name, transport, qname, qtype)
        zone = server.find_zone(qname)
        fault = self.match(server.name, zone, qname, qtype)
        mode = fault.effective_mode() if fault else "normal"
        modes = self.per_mode[server.name]
        modes[mode] = modes.get(mode, 0) + 1
        self.query_log.append({"t": time.time(), "server": server.name,
                               "transport": transport, "name": name_key(qname),
                               "qtype": dns.rdatatype.to_text(qtype), "mode": mode,
                               "fault": fault.id if fault else None})
        if self.log_queries:
            log("%s %s %s#%s %s %s -> %s%s" % (
                server.name, transport, peer[0], peer[1], qname, dns.rdatatype.to_text(qtype),
                mode, " (fault %d)" % fault.id if fault else ""))
        delay = fault.delay_ms / 1000.0 if fault else 0.0
        if fault and fault.mode == "flap" and mode == "normal":
            delay = 0.0     # a flapping rule's delay belongs to its bad phase
        if mode == "drop":
            return None, 0.0
        if query.edns > 0:      # RFC 6891 §6.1.3
            return self.error(query, dns.rcode.BADVERS), delay
        if q.rdclass != IN:
            return self.error(query, dns.rcode.REFUSED), delay
        if qtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
            return self.error(query, dns.rcode.REFUSED), delay
        return self.respond(query, zone, fault, mode, transport), delay

    def response_for(self, query):
        r = dns.message.make_response(query, our_payload=self.edns_size)
        # make_response sets request_payload to the client's size, which
        # to_wire() would enforce everywhere; render() applies UDP limits.
        r.request_payload = 65535
        if query.edns >= 0 and query.ednsflags & dns.flags.DO:
            r.ednsflags |= dns.flags.DO         # RFC 3225 §3
        return r

    def error(self, query, rcode):
        r = self.response_for(query)
        r.set_rcode(rcode)
        return r.to_wire()

    def respond(self, query, zone, fault, mode, transport):
        r = self.response_for(query)
        q = query.question[0]
        if mode in ("servfail", "refused"):
            r.set_rcode(dns.rcode.SERVFAIL if mode == "servfail" else dns.rcode.REFUSED)
            return r.to_wire()
        if mode == "truncate" and transport == "udp":
            r.flags |= dns.flags.TC
            return r.to_wire()
        if zone is None and mode in ("normal", "slow", "truncate"):
            r.set_rcode(dns.rcode.REFUSED)
            return r.to_wire()
        r.flags |= dns.flags.AA
        if mode in ("empty", "nxdomain"):
            if zone is not None:
                r.authority.append(zone.negative_soa())
            if mode == "nxdomain":
                r.set_rcode(dns.rcode.NXDOMAIN)
        elif mode == "empty_nosoa":
            pass
        elif mode == "data":
            by_type = {}
            for rd in fault.data:
                rrset = by_type.get(rd.rdtype)
                if rrset is None:
                    rrset = by_type[rd.rdtype] = dns.rrset.RRset(q.name, IN, rd.rdtype)
                rrset.add(rd, fault.ttl)
            r.answer.extend(by_type.values())
        else:   # normal, slow, truncate over TCP
            rcode, aa = zone.answer(q.name, q.rdtype, r)
            r.set_rcode(rcode)
            if not aa:
                r.flags &= ~int(dns.flags.AA)
        return self.render(r, query, transport)

    def render(self, r, query, transport):
        if transport == "tcp":
            return r.to_wire()
        limit = max(512, min(query.payload, self.edns_size)) if query.edns >= 0 else 512
        try:
            return r.to_wire(max_size=limit)
        except dns.exception.TooBig:
            pass
        # Addresses for answer targets are optional (no TC); referral glue
        # and answer data are not (RFC 9471).
        if r.answer and r.additional:
            r.additional = []
            try:
                return r.to_wire(max_size=limit)
            except dns.exception.TooBig:
                pass
        r.answer, r.authority, r.additional = [], [], []
        r.flags |= dns.flags.TC
        return r.to_wire()


def formerr(wire):
    """FORMERR for a packet dnspython cannot parse: echo the ID and opcode,
    no sections. Shorter than a header: stay silent."""
    if len(wire) < 12:
        return None
    qid, flags = struct.unpack("!HH", wire[:4])
    if flags & 0x8000:
        return None
    flags = 0x8000 | (flags & 0x7800) | (flags & 0x0100) | dns.rcode.FORMERR
    return struct.pack("!HHHHHH", qid, flags, 0, 0, 0, 0)


# --------------------------------------------------------------------------
# Network


class UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, engine, server):
        self.engine = engine
        self.server = server
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        # Retry-storm tests send bursts of hundreds of queries; the default
        # receive buffer (about 200 kB, some 250 small datagrams) drops them.
        sock = transport.get_extra_info("socket")
        for opt in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
            if opt is None:
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, opt, UDP_RCVBUF)
                break
            except OSError:
                continue

    def datagram_received(self, data, addr):
        try:
            wire, delay = self.engine.handle(self.server, data, "udp", addr)
        except Exception as e:  # noqa: BLE001 -- keep serving; say what broke
            log("%s: error handling a UDP query from %s: %r" % (self.server.name, addr, e))
            return
        if wire is None:
            return
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._send, wire, addr)
        else:
            self._send(wire, addr)

    def _send(self, wire, addr):
        if not self.transport.is_closing():
            self.transport.sendto(wire, addr)

    def error_received(self, exc):
        pass


async def tcp_client(engine, server, reader, writer):
    """RFC 7766: several queries per connection, answers may come out of
    order (a slow answer does not hold back the next one)."""
    peer = writer.get_extra_info("peername") or ("?", 0)
    pending = set()

    async def send_later(wire, delay):
        await asyncio.sleep(delay)
        if not writer.is_closing():
            writer.write(struct.pack("!H", len(wire)) + wire)

    try:
        while True:
            try:
                hdr = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE_TIMEOUT)
                (length,) = struct.unpack("!H", hdr)
                data = await asyncio.wait_for(reader.readexactly(length), TCP_IDLE_TIMEOUT)
            except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
                break
            try:
                wire, delay = engine.handle(server, data, "tcp", peer)
            except Exception as e:  # noqa: BLE001
                log("%s: error handling a TCP query from %s: %r" % (server.name, peer, e))
                continue
            if wire is None:
                continue
            if delay > 0:
                t = asyncio.ensure_future(send_later(wire, delay))
                pending.add(t)
                t.add_done_callback(pending.discard)
            else:
                writer.write(struct.pack("!H", len(wire)) + wire)
                await writer.drain()
        if pending:
            await asyncio.wait(pending, timeout=TCP_IDLE_TIMEOUT)
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        for t in pending:
            t.cancel()
        writer.close()


# --------------------------------------------------------------------------
# Control channel


class Control:
    def __init__(self, engine):
        self.engine = engine

    def dispatch(self, req):
        if not isinstance(req, dict) or not isinstance(req.get("cmd"), str):
            raise ConfigError('a request is a JSON object with a "cmd" string')
        cmd = req["cmd"]
        e = self.engine
        if cmd == "ping":
            return {"pong": True}
        if cmd == "help":
            return {"help": CONTROL_HELP}
        if cmd == "set_fault":
            f = e.set_fault(req)
            return {"id": f.id, "fault": f.to_json()}
        if cmd == "clear_faults":
            self._only(req, {"id"})
            return {"cleared": e.clear_faults(req.get("id"))}
        if cmd == "list_faults":
            return {"faults": [f.to_json() for f in e.faults]}
        if cmd == "counts":
            return {"counts": e.counts()}
        if cmd == "reset_counts":
            e.reset_counts()
            return {}
        if cmd == "queries":
            return {"queries": list(e.query_log)}
        if cmd == "set_log":
            self._only(req, {"on"})
            e.log_queries = bool(req.get("on", True))
            return {"on": e.log_queries}
        if cmd == "status":
            return {"servers": {s.name: {"addr": s.addr, "port": s.port,
                                         "zones": [z.origin.to_text() for z in s.zones]}
                                for s in e.servers.values()},
                    "faults": len(e.faults)}
        raise ConfigError("unknown cmd %r (try help)" % cmd)

    @staticmethod
    def _only(req, allowed):
        extra = set(req) - allowed - {"cmd"}
        if extra:
            raise ConfigError("unexpected field(s): %s" % ", ".join(sorted(extra)))

    async def client(self, reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                if not line.strip():
                    continue
                try:
                    answer = {"ok": True}
                    answer.update(self.dispatch(json.loads(line)))
                except (ConfigError, ValueError) as ex:
                    answer = {"ok": False, "error": str(ex)}
                except Exception as ex:  # noqa: BLE001 -- a bad request never kills fauth
                    answer = {"ok": False, "error": "internal error: %r" % ex}
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


# --------------------------------------------------------------------------
# Configuration and main


def split_host_port(text, default_port, what):
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    try:
        return host, int(port)
    except ValueError:
        raise ConfigError("%s %r: port must be a number" % (what, text)) from None


def config_file_args(path):
    """A config file as argv: each line "option value" becomes
    ["--option", "value"]; relative zone files resolve against the file's
    directory. '#' starts a comment line."""
    base = os.path.dirname(os.path.abspath(path))
    argv = []
    try:
        with open(path) as f:
            lines = f.readlines()
    except OSError as e:
        raise ConfigError("config %s: %s" % (path, e)) from e
    for lineno, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        opt, _, value = line.partition(" ")
        value = value.strip()
        if opt == "config":
            raise ConfigError("%s:%d: config files do not nest" % (path, lineno))
        if opt == "zone" and "=" in value:
            left, zfile = value.split("=", 1)
            value = "%s=%s" % (left, os.path.join(base, zfile.strip()))
        argv.append("--" + opt)
        if value:
            argv.append(value)
    return argv


def build_parser():
    p = argparse.ArgumentParser(
        prog="fauth.py", description="fault-injecting test authority for holdfast's tests",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=CONTROL_HELP)
    p.add_argument("--config", help="file of options, one per line, without the dashes")
    p.add_argument("--control", help="control channel: HOST:PORT (TCP) or a unix socket "
                   "path (anything with a '/')")
    p.add_argument("--server", action="append", default=[], metavar="NAME=ADDR[:PORT]",
                   help="a server: name and listening address (UDP and TCP)")
    p.add_argument("--zone", action="append", default=[],
                   metavar="[SERVER[,SERVER...]:]ORIGIN=FILE",
                   help="a zone file, on the servers listed or on every server")
    p.add_argument("--fault", action="append", default=[], metavar="SPEC",
                   help="a fault from the start: JSON object or key=value,key=value")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help="default port of servers (default %(default)s)")
    p.add_argument("--edns-size", type=int, default=DEFAULT_EDNS_SIZE,
                   help="EDNS size we advertise and cap UDP answers at (default %(default)s)")
    p.add_argument("--log-queries", action="store_true", help="one line per query on stderr")
    return p


def load_config(argv):
    p = build_parser()
    args = p.parse_args(argv)
    if args.config:
        args = p.parse_args(config_file_args(args.config) + list(argv))
    if not args.server:
        raise ConfigError("no --server given")
    servers = {}
    for spec in args.server:
        name, sep, addr = spec.partition("=")
        if not sep or not name or not addr:
            raise ConfigError("--server %r is not NAME=ADDR[:PORT]" % spec)
        if name in servers:
            raise ConfigError("--server %s given twice" % name)
        host, port = split_host_port(addr, args.port, "--server")
        servers[name] = Server(name, host, port)
    for spec in args.zone:
        left, sep, path = spec.partition("=")
        if not sep or not left or not path:
            raise ConfigError("--zone %r is not [SERVER,...:]ORIGIN=FILE" % spec)
        names, colon, origin = left.rpartition(":")
        targets = names.split(",") if colon else list(servers)
        zone = Zone(origin, path)
        for t in targets:
            if t not in servers:
                raise ConfigError("--zone %r: no server named %r" % (spec, t))
            servers[t].add_zone(zone)
    engine = Engine(servers, args.edns_size, args.log_queries)
    for spec in args.fault:
        engine.set_fault(parse_fault_spec(spec))
    return args, engine


async def serve(args, engine):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    closers = []
    for s in engine.servers.values():
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda s=s: UdpProtocol(engine, s), local_addr=(s.addr, s.port),
                family=socket.AF_INET)
            closers.append(transport)
            srv = await asyncio.start_server(
                lambda r, w, s=s: tcp_client(engine, s, r, w), s.addr, s.port,
                family=socket.AF_INET, reuse_address=True)
            closers.append(srv)
        except OSError as e:
            raise ConfigError("server %s on %s:%d: %s" % (s.name, s.addr, s.port, e)) from e
    unix_path = None
    if args.control:
        ctl = Control(engine)
        try:
            if "/" in args.control:
                unix_path = args.control
                if os.path.exists(unix_path):
                    os.unlink(unix_path)
                srv = await asyncio.start_unix_server(ctl.client, unix_path)
                where = unix_path
            else:
                host, port = split_host_port(args.control, None, "--control")
                if port is None:
                    raise ConfigError("--control %r: need HOST:PORT or a path" % args.control)
                srv = await asyncio.start_server(ctl.client, host, port, reuse_address=True)
                where = "%s:%d" % srv.sockets[0].getsockname()[:2]
        except OSError as e:
            raise ConfigError("control %s: %s" % (args.control, e)) from e
        closers.append(srv)
        print("fauth control %s" % where, flush=True)
    print("fauth ready", flush=True)
    await stop.wait()
    for c in closers:
        c.close()
    if unix_path:
        try:
            os.unlink(unix_path)
        except OSError:
            pass
    log("stopped")


def main(argv=None):
    try:
        args, engine = load_config(sys.argv[1:] if argv is None else argv)
        asyncio.run(serve(args, engine))
    except ConfigError as e:
        log("error: %s" % e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
