"""
resolver — the resolvers under test as processes: holdfast (and Unbound, the
reference) started with a config file we wrote, waited for until they
answer, stopped by PID with a bound, with their log kept.

    hf = Holdfast(binary, dir, config.render(keys), "127.0.0.53", "holdfast-main")
    hf.wait_ready()                 # bounded; HarnessError with the log tail
    r = hf.ask("www.a.test.")       # client.Reply
    hf.stop_checked()               # exit 0 after SIGTERM, or AssertionError

Each instance has its own directory (config, log, control socket). It does
not choose the config (the suites and config.py do) nor judge answers.
"""
import os
import shutil

from . import PORT, HarnessError, client
from .ctl import Ctl
from .process import STOP_TIMEOUT, Process


def binary_from_env(var, fallback=None):
    """The executable named by environment variable `var` (or found on PATH
    as `fallback`); HarnessError if there is none."""
    path = os.environ.get(var) or (shutil.which(fallback) if fallback else None)
    if not path or not os.access(path, os.X_OK):
        raise HarnessError("%s must name an executable (got %r)" % (var, path))
    return path


class _Daemon:
    """What holdfast and Unbound have in common once started."""

    kind = None
    # What wait_ready() asks, and over which transports, by default.
    ready_query = (".", "NS")
    ready_transports = ("udp",)

    def _start(self, name, argv, dir, addr, log_name, port):
        self.dir = dir
        self.addr = addr
        self.port = port
        self.proc = Process(name, argv, os.path.join(dir, log_name))
        self.pid = self.proc.pid

    def wait_ready(self, timeout=client.READY_TIMEOUT, query=None, transports=None,
                   then=None):
        """Until it answers anything (even SERVFAIL) on each transport, then
        until then() succeeds; see client.wait_answering. Returns self."""
        qname, rdtype = query or self.ready_query
        client.wait_answering(self.proc, self.addr, qname, rdtype,
                              transports or self.ready_transports, timeout, then, self.port)
        return self

    def alive(self):
        return self.proc.alive()

    def stop(self, timeout=STOP_TIMEOUT):
        """(exit status, killed): see process.Process.stop."""
        return self.proc.stop(timeout)

    def log_text(self):
        return self.proc.log_text()

    def log_tail(self, max_lines=200):
        return self.proc.log_tail(max_lines)

    def ask(self, name, rdtype="A", **kw):
        """client.ask() to this resolver."""
        return client.ask(self.addr, name, rdtype, port=self.port, **kw)


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


class Holdfast(_Daemon):
    """One holdfast process: `conf` (text) written to dir/holdfast.conf,
    run as `binary -c CONF args...`, its output in dir/`log_name`. With
    `ctl_bin` and `control_socket` (the config's control-socket), ctl(),
    stats(), upstream() and breaker() run holdfast-ctl."""

    kind = "holdfast"

    def __init__(self, binary, dir, conf, addr, name, log_name="holdfast.log", args=(),
                 ctl_bin=None, control_socket=None, port=PORT):
        os.makedirs(dir, exist_ok=True)
        self.conf = _write(os.path.join(dir, "holdfast.conf"), conf)
        self.socket = control_socket
        self.control = Ctl(ctl_bin, control_socket) if ctl_bin and control_socket else None
        self._start(name, [binary, "-c", self.conf] + list(args), dir, addr, log_name, port)

    def stop_checked(self):
        """Stop, and hold holdfast to DESIGN.md: it stops on SIGTERM, within
        the bound, with exit status 0 (AssertionError otherwise)."""
        rc, killed = self.stop()
        if killed:
            raise AssertionError("%s did not stop within %.0f s of SIGTERM:\n%s" % (
                self.proc.name, STOP_TIMEOUT, self.log_tail()))
        if rc != 0:
            raise AssertionError("%s exited with %s on SIGTERM:\n%s" % (
                self.proc.name, rc, self.log_tail()))

    def _ctl(self):
        if self.control is None:
            raise HarnessError("%s has no control socket" % self.proc.name)
        return self.control

    def ctl(self, cmd):
        """holdfast-ctl `cmd` output (ctl.CtlError if it fails)."""
        return self._ctl().run(cmd)

    def stats(self):
        """`holdfast-ctl stats` as {key: int}."""
        return self._ctl().stats()

    def upstream(self):
        """`holdfast-ctl upstream` as a list of dicts (ctl.parse_upstream)."""
        return self._ctl().upstream()

    def breaker(self, addr, zone):
        """The upstream row for (addr, zone), or None."""
        return self._ctl().breaker(addr, zone)


class Unbound(_Daemon):
    """One Unbound process in the foreground: `conf` (text, see
    config.unbound_reference) written to dir/unbound.conf."""

    kind = "unbound"

    def __init__(self, dir, conf, addr, name, log_name="resolver.log", binary=None,
                 port=PORT):
        os.makedirs(dir, exist_ok=True)
        binary = binary or shutil.which("unbound") or "/usr/sbin/unbound"
        self.conf = _write(os.path.join(dir, "unbound.conf"), conf)
        self._start(name, [binary, "-d", "-c", self.conf], dir, addr, log_name, port)
