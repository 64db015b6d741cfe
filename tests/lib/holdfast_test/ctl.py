"""
ctl — holdfast-ctl, the control client of a running holdfast, from Python:
one command per call with a bounded timeout, and the `stats` and `upstream`
tables parsed into dicts.

It does not keep a connection or retry; a failed command raises CtlError
with holdfast-ctl's exit status and output.
"""
import subprocess

from . import HarnessError

CTL_TIMEOUT = 5.0


class CtlError(HarnessError):
    pass


def parse_stats(text):
    """`holdfast-ctl stats` output as {key: int} (lines "key: N")."""
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if sep and v.strip().isdigit():
            out[k.strip()] = int(v)
    return out


def parse_upstream(text):
    """`holdfast-ctl upstream` output as a list of dicts: addr, port, line,
    and every key=value field of the row (zone, provider, srtt, rto,
    failures, breaker, probe_in, inflight)."""
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or "@" not in parts[0]:
            continue
        host, _, port = parts[0].rpartition("@")
        row = {"addr": host, "port": int(port), "line": line}
        for p in parts[1:]:
            k, sep, v = p.partition("=")
            if sep:
                row[k] = v
        rows.append(row)
    return rows


def _zone_key(zone):
    return zone.lower().rstrip(".") + "."


class Ctl:
    """holdfast-ctl `binary` talking to the control socket `socket`."""

    def __init__(self, binary, socket, timeout=CTL_TIMEOUT):
        self.binary = binary
        self.socket = socket
        self.timeout = timeout

    def run(self, cmd):
        """Output of `holdfast-ctl -s SOCKET cmd`; CtlError if it fails."""
        r = subprocess.run([self.binary, "-s", self.socket, cmd], capture_output=True,
                           text=True, timeout=self.timeout)
        if r.returncode != 0:
            raise CtlError("holdfast-ctl %s: exit %d: %s%s" % (cmd, r.returncode,
                                                               r.stdout, r.stderr))
        return r.stdout

    def stats(self):
        return parse_stats(self.run("stats"))

    def upstream(self):
        return parse_upstream(self.run("upstream"))

    def breaker(self, addr, zone):
        """The upstream row for (addr, zone), or None."""
        zone = _zone_key(zone)
        for row in self.upstream():
            if row["addr"] == addr and _zone_key(row.get("zone", "")) == zone:
                return row
        return None
