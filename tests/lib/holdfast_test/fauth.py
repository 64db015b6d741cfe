"""
fauth — start and drive fauth (tests/fauth/fauth.py, the fault-injecting
test authority) as a child process, from a pytest fixture or a bench.

    from holdfast_test.fauth import FaultyAuthority

    @pytest.fixture
    def fauth(tmp_path):
        fa = FaultyAuthority(servers={"ns1": "127.0.10.1", "ns2": "127.0.10.2"},
                             zones={"f.test.": "zones/f.test.zone",          # every server
                                    "other.test.": ("zones/other.test.zone", ["ns2"])},
                             workdir=str(tmp_path))
        fa.start()
        yield fa
        fa.stop()

    fauth.set_fault(server="ns1", mode="drop")
    assert fauth.count(server="ns2", name="www.f.test.", qtype="A") == 1

The process is a process.Process: started by us, tracked by PID and stopped
by PID (SIGTERM, then SIGKILL after a bound); it also gets SIGTERM if the
test process dies (PR_SET_PDEATHSIG). Every wait is bounded. The control
channel is a unix socket in `workdir`, so parallel instances never collide.
Its log (stdout and stderr, with one line per query) is `workdir/NAME.log`.

It does not create the network namespace (run inside ../netns.sh's to bind
port 53 on 127.x addresses) and holds no fault logic: that is fauth.py's.
"""
import json
import os
import time

from . import PYTHON, TESTS_DIR, HarnessError
from . import fauth_control as control
from .process import Process, tail

FAUTH_DIR = os.path.join(TESTS_DIR, "fauth")
FAUTH = os.path.join(FAUTH_DIR, "fauth.py")
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


class FauthError(HarnessError):
    pass


class FaultyAuthority:
    """One fauth process.

    servers: {name: "ADDR" or "ADDR:PORT"} (port 53 by default).
    zones:   {origin: file} served by every server, or
             {origin: (file, [server, ...])}; relative files are relative to
             tests/fauth/.
    faults:  optional list of fault dicts (as for set_fault) active from the
             start.
    """

    def __init__(self, servers, zones, workdir, faults=None, log_queries=True,
                 edns_size=None, name="fauth"):
        self.servers = dict(servers)
        self.zones = dict(zones)
        self.workdir = workdir
        self.faults = list(faults or [])
        self.log_queries = log_queries
        self.edns_size = edns_size
        self.name = name
        self.control_path = os.path.join(workdir, name + ".ctl")
        self.log_path = os.path.join(workdir, name + ".log")
        self.proc = None
        self.pid = None
        self.returncode = None

    def argv(self):
        argv = [PYTHON, FAUTH, "--control", self.control_path]
        for srv, addr in self.servers.items():
            argv += ["--server", "%s=%s" % (srv, addr)]
        for origin, spec in self.zones.items():
            if isinstance(spec, (tuple, list)):
                path, on = spec
                prefix = ",".join(on) + ":"
            else:
                path, prefix = spec, ""
            argv += ["--zone", "%s%s=%s" % (prefix, origin, os.path.join(FAUTH_DIR, path))]
        for f in self.faults:
            argv += ["--fault", json.dumps(f)]
        if self.log_queries:
            argv.append("--log-queries")
        if self.edns_size:
            argv += ["--edns-size", str(self.edns_size)]
        return argv

    def start(self, timeout=START_TIMEOUT):
        """Start and wait (bounded) until it printed "fauth ready" and the
        control channel answers ping. Returns self."""
        if self.proc is not None:
            raise FauthError("%s already started (pid %d)" % (self.name, self.pid))
        os.makedirs(self.workdir, exist_ok=True)
        self.proc = Process(self.name, self.argv(), self.log_path)
        self.pid = self.proc.pid
        deadline = time.monotonic() + timeout
        while True:
            if not self.proc.alive():
                rc = self.proc.popen.returncode
                self.stop()
                raise FauthError("%s exited with %s at start:\n%s" % (self.name, rc,
                                                                     self.log_tail()))
            if self._ready():
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise FauthError("%s not ready within %.0f s:\n%s" % (self.name, timeout,
                                                                      self.log_tail()))
            time.sleep(0.05)

    def _ready(self):
        try:
            with open(self.log_path, "rb") as f:
                if b"fauth ready\n" not in f.read():
                    return False
            return control.ping(self.control_path, timeout=1.0)
        except (OSError, control.ControlError):
            return False

    @property
    def popen(self):
        return self.proc.popen if self.proc is not None else None

    def alive(self):
        return self.proc is not None and self.proc.alive()

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM by PID, bounded wait, then SIGKILL. Returns (exit status,
        True if it had to be killed). Safe to call twice, or before start."""
        if self.proc is None:
            return None, False
        self.returncode, killed = self.proc.stop(timeout)
        return self.returncode, killed

    def log_tail(self, max_lines=100):
        return tail(self.log_path, max_lines)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- control channel (see fauth_control.py)

    def ping(self):
        return control.ping(self.control_path)

    def set_fault(self, **kw):
        return control.set_fault(self.control_path, **kw)

    def clear_faults(self, fault_id=None):
        return control.clear_faults(self.control_path, fault_id)

    def list_faults(self):
        return control.list_faults(self.control_path)

    def counts(self):
        return control.counts(self.control_path)

    def count(self, server=None, name=None, qtype=None):
        return control.count(self.counts(), server=server, name=name, qtype=qtype)

    def reset_counts(self):
        control.reset_counts(self.control_path)

    def queries(self):
        return control.queries(self.control_path)

    def set_log(self, on=True):
        control.set_log(self.control_path, on)
