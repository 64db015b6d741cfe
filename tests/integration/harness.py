"""
harness — the loopback DNS hierarchy and the resolver under test.

Starts one NSD instance per "server" (each on its own 127.x address, port
53), writes root hints that point at the local root, and starts the resolver
under test (holdfast, or Unbound as a stand-in) with a config file written at
run time. Every process is started by us, tracked by PID and stopped by PID
(SIGTERM, then SIGKILL after a bound). Every wait is bounded.

It does not decide what a correct answer is: the test modules do. It refuses
to run outside a private network namespace (see run.sh), because it binds
port 53 on 127.x addresses and must never talk to the outside world.
"""
import ctypes
import os
import shutil
import signal
import subprocess
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype

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
CLIENT_ADDR = "127.0.0.1"         # allowed by the ACL
REFUSED_CLIENT_ADDR = "127.0.0.99"  # refused by the ACL
PORT = 53

STOP_TIMEOUT = 10.0      # seconds between SIGTERM and SIGKILL
START_TIMEOUT = 20.0     # seconds for a server to start answering

_PR_SET_PDEATHSIG = 1


class HarnessError(Exception):
    pass


def check_private_netns():
    """Refuse to run unless run.sh put us in a private network namespace."""
    if os.environ.get("HOLDFAST_NETNS") != "1":
        raise HarnessError("integration tests must run inside a private network "
                           "namespace: use tests/integration/run.sh")
    with open("/proc/self/net/dev") as f:
        ifaces = [line.split(":")[0].strip() for line in f.readlines()[2:]]
    if ifaces != ["lo"]:
        raise HarnessError("network namespace is not private (interfaces: %s)" % ifaces)
    if os.geteuid() != 0:
        raise HarnessError("need root inside the namespace to bind port 53")


def _die_with_parent():
    # The child gets SIGTERM if pytest dies without tearing down (belt and
    # braces; run.sh also runs everything in a private PID namespace).
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except OSError:
        pass


class Process:
    """A child process we started, its log file, and a bounded stop."""

    def __init__(self, name, argv, log_path, env=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.returncode = None
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=subprocess.STDOUT, env=env,
                                      preexec_fn=_die_with_parent)
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM by PID, wait up to `timeout`, then SIGKILL. Returns
        (exit status, True if it had to be killed)."""
        killed = False
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                killed = True
                self.popen.kill()
                self.popen.wait(timeout=timeout)
        self.returncode = self.popen.returncode
        self._log.close()
        return self.returncode, killed

    def log_tail(self, max_lines=200):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError as e:
            return "(no log: %s)" % e
        if len(lines) > max_lines:
            lines = ["... (%d lines skipped)" % (len(lines) - max_lines)] + lines[-max_lines:]
        return "\n".join(lines)


# --------------------------------------------------------------------------
# Authorities (NSD)

NSD_CONF = """\
server:
	ip-address: {addr}
	port: {port}
	do-ip4: yes
	do-ip6: no
	username: ""
	chroot: ""
	zonesdir: "{zonesdir}"
	database: ""
	pidfile: "{tmp}/nsd.pid"
	xfrdfile: "{tmp}/xfrd.state"
	xfrdir: "{tmp}"
	zonelistfile: "{tmp}/zone.list"
	logfile: "{tmp}/nsd.log"
	verbosity: 1
	server-count: 1
	identity: "{name}"
	hide-version: yes
	refuse-any: no
	reuseport: no
remote-control:
	control-enable: no
"""


def write_nsd_conf(name, addr, zones, tmp):
    conf = NSD_CONF.format(addr=addr, port=PORT, zonesdir=ZONES_DIR, tmp=tmp, name=name)
    for zone, zonefile in zones:
        conf += 'zone:\n\tname: "%s"\n\tzonefile: "%s"\n' % (zone, zonefile)
    path = os.path.join(tmp, "nsd.conf")
    with open(path, "w") as f:
        f.write(conf)
    return path


def check_zones():
    """nsd-checkzone every zone file once; a broken fixture fails fast."""
    for _, (_, zones) in SERVERS.items():
        for zone, zonefile in zones:
            r = subprocess.run(["nsd-checkzone", zone, os.path.join(ZONES_DIR, zonefile)],
                               capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                raise HarnessError("zone %s (%s): %s%s" % (zone, zonefile, r.stdout, r.stderr))


def start_nsd(name, addr, zones, tmp_root):
    tmp = os.path.join(tmp_root, "nsd-" + name)
    os.makedirs(tmp, exist_ok=True)
    conf = write_nsd_conf(name, addr, zones, tmp)
    return Process("nsd-" + name, ["nsd", "-d", "-c", conf],
                   os.path.join(tmp, "stderr.log"))


def wait_authority(proc, addr, zones, timeout=START_TIMEOUT):
    """Until every zone of the server answers SOA authoritatively (the
    equivalent of `dig +tries=1 +time=1 SOA zone @addr`)."""
    deadline = time.monotonic() + timeout
    pending = [z for z, _ in zones]
    while pending:
        if not proc.alive():
            raise HarnessError("%s exited (%s):\n%s" % (proc.name, proc.popen.returncode,
                                                        proc.log_tail()))
        if time.monotonic() > deadline:
            raise HarnessError("%s on %s: no SOA answer for %s within %.0f s:\n%s" %
                               (proc.name, addr, pending, timeout, proc.log_tail()))
        zone = pending[0]
        try:
            r = dns.query.udp(dns.message.make_query(zone, "SOA"), addr, port=PORT,
                              timeout=1.0)
            if r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA and r.answer:
                pending.pop(0)
                continue
        except (dns.exception.Timeout, OSError):
            pass
        time.sleep(0.1)


def write_root_hints(path):
    name, addr = ROOT_NS
    with open(path, "w") as f:
        f.write("; root hints for the loopback hierarchy (named.root format)\n")
        f.write(".\t\t\t3600000\tNS\t%s\n" % name)
        f.write("%s\t3600000\tA\t%s\n" % (name, addr))
    return path


class Hierarchy:
    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []
        self.root_hints = write_root_hints(os.path.join(tmp, "root.hints"))

    def start(self):
        check_zones()
        for name, (addr, zones) in SERVERS.items():
            self.procs.append((start_nsd(name, addr, zones, self.tmp), addr, zones))
        for proc, addr, zones in self.procs:
            wait_authority(proc, addr, zones)

    def stop(self):
        for proc, _, _ in self.procs:
            proc.stop()

    def logs(self):
        out = []
        for proc, addr, _ in self.procs:
            nsd_log = os.path.join(os.path.dirname(proc.log_path), "nsd.log")
            text = ""
            if os.path.exists(nsd_log):
                with open(nsd_log, errors="replace") as f:
                    text = "".join(f.readlines()[-20:])
            out.append("== %s (%s, pid %d)\n%s%s" % (proc.name, addr, proc.pid,
                                                     proc.log_tail(20), text))
        return "\n".join(out)


# --------------------------------------------------------------------------
# The resolver under test

def resolver_kind():
    kind = os.environ.get("RESOLVER", "holdfast")
    if kind not in ("holdfast", "unbound"):
        raise HarnessError("RESOLVER must be holdfast or unbound, not %r" % kind)
    return kind


# The access-control list is the same for both resolvers: everything is
# refused except 127.0.0.0/8, and 127.0.0.99 inside it is refused again
# (longest prefix wins). Tests query from 127.0.0.1 and 127.0.0.99.
ACL = [("0.0.0.0/0", "refuse"), ("127.0.0.0/8", "allow"), ("127.0.0.99/32", "refuse")]


def holdfast_conf(addr, threads, root_hints):
    lines = [
        "# written by tests/integration/harness.py",
        "interface: %s" % addr,
        "port: %d" % PORT,
        "num-threads: %d" % threads,
        "root-hints: %s" % root_hints,
        "do-ip4: yes",
        "do-ip6: no",
        "do-not-query-localhost: no",
        "qname-minimisation: yes",
        "harden-glue: yes",
        "cache-min-ttl: 0",
        "cache-max-ttl: 86400",
        "cache-max-negative-ttl: 3600",
        "edns-buffer-size: 1232",
        "verbosity: %s" % os.environ.get("RESOLVER_VERBOSITY", "1"),
    ]
    lines += ["access-control: %s %s" % acl for acl in ACL]
    return "\n".join(lines) + "\n"


def unbound_conf(addr, threads, root_hints, tmp):
    lines = [
        "# written by tests/integration/harness.py",
        "server:",
        "\tverbosity: %s" % os.environ.get("RESOLVER_VERBOSITY", "1"),
        "\tdo-daemonize: no",
        '\tchroot: ""',
        '\tusername: ""',
        '\tdirectory: "%s"' % tmp,
        '\tpidfile: ""',
        '\tlogfile: ""',
        "\tuse-syslog: no",
        "\tinterface: %s" % addr,
        "\tport: %d" % PORT,
        "\tnum-threads: %d" % threads,
        '\troot-hints: "%s"' % root_hints,
        "\tdo-ip4: yes",
        "\tdo-ip6: no",
        "\tdo-udp: yes",
        "\tdo-tcp: yes",
        "\tdo-not-query-localhost: no",
        "\tqname-minimisation: yes",
        "\tuse-caps-for-id: no",
        "\tharden-glue: yes",
        "\tminimal-responses: yes",
        '\tmodule-config: "iterator"',
        "\tcache-min-ttl: 0",
        "\tcache-max-ttl: 86400",
        "\tcache-max-negative-ttl: 3600",
        "\tedns-buffer-size: 1232",
        # Unbound's built-in local zones would answer these itself.
        '\tlocal-zone: "test." nodefault',
        '\tlocal-zone: "2.0.192.in-addr.arpa." nodefault',
    ]
    lines += ["\taccess-control: %s %s" % acl for acl in ACL]
    lines += ["remote-control:", "\tcontrol-enable: no"]
    return "\n".join(lines) + "\n"


class Resolver:
    """One running resolver process, listening on `addr`@53."""

    def __init__(self, kind, addr, threads, root_hints, tmp_root, tag, extra_conf=""):
        self.kind = kind
        self.addr = addr
        self.threads = threads
        self.tmp = os.path.join(tmp_root, "%s-%s" % (kind, tag))
        os.makedirs(self.tmp, exist_ok=True)
        log = os.path.join(self.tmp, "resolver.log")
        if kind == "holdfast":
            binary = os.environ.get("HOLDFAST_BIN") or shutil.which("holdfast")
            if not binary or not os.access(binary, os.X_OK):
                raise HarnessError("RESOLVER=holdfast needs HOLDFAST_BIN (got %r)" % binary)
            self.conf = os.path.join(self.tmp, "holdfast.conf")
            with open(self.conf, "w") as f:
                f.write(holdfast_conf(addr, threads, root_hints) + extra_conf)
            argv = [binary, "-c", self.conf]
            if threads > 1:
                # Exercise the command-line overrides too (same values as
                # the file, so a flag that is ignored cannot hide anything).
                argv += ["-t", str(threads), "-l", "%s@%d" % (addr, PORT),
                         "--root-hints", root_hints]
        else:
            binary = shutil.which("unbound") or "/usr/sbin/unbound"
            self.conf = os.path.join(self.tmp, "unbound.conf")
            with open(self.conf, "w") as f:
                f.write(unbound_conf(addr, threads, root_hints, self.tmp))
            argv = [binary, "-d", "-c", self.conf]
        self.proc = Process("%s-%s" % (kind, tag), argv, log)
        self.pid = self.proc.pid

    def wait_ready(self, timeout=START_TIMEOUT):
        """Until it answers anything at all on UDP and TCP (even SERVFAIL)."""
        deadline = time.monotonic() + timeout
        for transport in (dns.query.udp, dns.query.tcp):
            while True:
                if not self.proc.alive():
                    raise HarnessError("%s exited with %s:\n%s" % (
                        self.proc.name, self.proc.popen.returncode, self.proc.log_tail()))
                if time.monotonic() > deadline:
                    raise HarnessError("%s does not answer on %s@%d within %.0f s:\n%s" % (
                        self.proc.name, self.addr, PORT, timeout, self.proc.log_tail()))
                try:
                    transport(dns.message.make_query(".", "NS"), self.addr, port=PORT,
                              timeout=1.0)
                    break
                except (dns.exception.Timeout, OSError, EOFError):
                    time.sleep(0.1)

    def stop(self):
        return self.proc.stop()

    def log_tail(self, max_lines=200):
        return self.proc.log_tail(max_lines)


# --------------------------------------------------------------------------
# Client helpers

QUERY_TIMEOUT = 5.0


def make_query(name, rdtype="A", edns=0, payload=1232, want_dnssec=False, rd=True):
    q = dns.message.make_query(name, rdtype, use_edns=edns, payload=payload,
                               want_dnssec=want_dnssec)
    if not rd:
        q.flags &= ~dns.flags.RD
    return q


def udp(q, addr=RESOLVER_ADDR, source=CLIENT_ADDR, timeout=QUERY_TIMEOUT, **kw):
    return dns.query.udp(q, addr, port=PORT, source=source, timeout=timeout, **kw)


def tcp(q, addr=RESOLVER_ADDR, source=CLIENT_ADDR, timeout=QUERY_TIMEOUT, **kw):
    return dns.query.tcp(q, addr, port=PORT, source=source, timeout=timeout, **kw)


def rrsets(section):
    """{(owner, type): set of rdata text} with lower-cased owners."""
    out = {}
    for rrset in section:
        key = (rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype))
        out.setdefault(key, set()).update(rd.to_text() for rd in rrset)
    return out


def describe(msg):
    return msg.to_text() if msg is not None else "(no response)"
