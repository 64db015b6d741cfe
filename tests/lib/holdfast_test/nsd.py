"""
nsd — a hierarchy of NSD authorities on loopback: one NSD process per
"server", each on its own 127.x address at port 53 with its own config,
pid file and log in a directory of its own, zone files from the suite's
zones folder.

    servers = {"root": ("127.0.1.1", [(".", "root.zone")]), ...}
    h = Hierarchy(tmp, servers, zones_dir, root=("a.root-servers.test.", "127.0.1.1"))
    h.start()        # nsd-checkzone every zone, start all, wait for each SOA
    h.root_hints     # written for `root`
    h.stop()

Every wait is bounded. It does not write zone files (the suites keep theirs;
bench writes its own) and does not decide what they should answer.
"""
import os
import subprocess
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode

from . import PORT, HarnessError, config
from .process import Process

START_TIMEOUT = 20.0     # seconds for a server to answer every zone's SOA

# {extra} is more server: options (bench switches response rate limiting off).
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
{extra}remote-control:
	control-enable: no
"""

# Server options that switch NSD's response rate limiting off (Debian's
# NSD has it on, 200 qps per /24: a load would measure RRL drops).
NO_RRL = "\trrl-ratelimit: 0\n\trrl-whitelist-ratelimit: 0\n"


def nsd_conf(name, addr, zones, tmp, zones_dir, extra=""):
    """The config text of one server: `zones` is [(origin, file in zones_dir)]."""
    conf = NSD_CONF.format(addr=addr, port=PORT, zonesdir=zones_dir, tmp=tmp, name=name,
                           extra=extra)
    for zone, zonefile in zones:
        conf += 'zone:\n\tname: "%s"\n\tzonefile: "%s"\n' % (zone, zonefile)
    return conf


def check_zones(servers, zones_dir):
    """nsd-checkzone every zone file once; a broken fixture fails fast."""
    for _, (_, zones) in servers.items():
        for zone, zonefile in zones:
            r = subprocess.run(["nsd-checkzone", zone, os.path.join(zones_dir, zonefile)],
                               capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                raise HarnessError("zone %s (%s): %s%s" % (zone, zonefile, r.stdout, r.stderr))


def start_nsd(name, addr, zones, tmp_root, zones_dir, extra=""):
    """One NSD in the foreground, in tmp_root/nsd-NAME (not waited for)."""
    tmp = os.path.join(tmp_root, "nsd-" + name)
    os.makedirs(tmp, exist_ok=True)
    path = os.path.join(tmp, "nsd.conf")
    with open(path, "w") as f:
        f.write(nsd_conf(name, addr, zones, tmp, zones_dir, extra))
    return Process("nsd-" + name, ["nsd", "-d", "-c", path], os.path.join(tmp, "stderr.log"))


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


class Hierarchy:
    """The NSD servers of `servers` ({name: (addr, [(zone, file)])}); with
    `root` = (ns name, addr), root hints for it in tmp/root.hints."""

    def __init__(self, tmp, servers, zones_dir, root=None, extra=""):
        self.tmp = tmp
        self.servers = servers
        self.zones_dir = zones_dir
        self.extra = extra
        self.procs = []
        self.root_hints = None
        if root is not None:
            ns, addr = root
            self.root_hints = config.write_root_hints(
                os.path.join(tmp, "root.hints"), addr, ns=ns,
                comment="root hints for the loopback hierarchy (named.root format)")

    def start(self):
        check_zones(self.servers, self.zones_dir)
        for name, (addr, zones) in self.servers.items():
            self.procs.append((start_nsd(name, addr, zones, self.tmp, self.zones_dir,
                                         self.extra), addr, zones))
        for proc, addr, zones in self.procs:
            wait_authority(proc, addr, zones)

    def stop(self):
        for proc, _, _ in self.procs:
            proc.stop()

    def logs(self):
        """The last lines of every server's output and nsd.log."""
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
