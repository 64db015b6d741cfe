"""
pytest set-up for the chaos tests: one fauth hierarchy for the session, a
fresh holdfast per case (cold cache, every breaker closed; stopped at the
end with exit status 0 asserted), faults cleared and counters reset around
every case, and on failure the logs of holdfast and fauth plus
`holdfast-ctl stats` and `upstream`. Run through run.sh, which provides the
private network namespace, HOLDFAST_BIN and HOLDFAST_CTL.
"""
import os
import shutil
import tempfile

import pytest

import chaoskit

HOLDFAST_ADDR = "127.0.0.53"

_live = {}       # tag -> Holdfast
_fauth = []
_seq = [0]       # instance numbers: short paths (a unix socket path is <= 107 bytes)


def _check_private_netns():
    if os.environ.get("HOLDFAST_NETNS") != "1":
        pytest.exit("the chaos tests must run inside a private network namespace: "
                    "use tests/chaos/run.sh", returncode=3)
    with open("/proc/self/net/dev") as f:
        ifaces = [line.split(":")[0].strip() for line in f.readlines()[2:]]
    if ifaces != ["lo"]:
        pytest.exit("network namespace is not private (interfaces: %s)" % ifaces, returncode=3)


def _binaries():
    binary = os.environ.get("HOLDFAST_BIN")
    ctl = os.environ.get("HOLDFAST_CTL")
    for what, path in (("HOLDFAST_BIN", binary), ("HOLDFAST_CTL", ctl)):
        if not path or not os.access(path, os.X_OK):
            pytest.exit("%s must name an executable (got %r)" % (what, path), returncode=3)
    return binary, ctl


@pytest.fixture(scope="session")
def workdir():
    _check_private_netns()
    base = os.environ.get("HOLDFAST_CHAOS_TMP")
    if base:
        yield tempfile.mkdtemp(prefix="run-", dir=base)
        return
    path = tempfile.mkdtemp(prefix="holdfast-chaos-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def fauth(workdir):
    fa = chaoskit.fauth(workdir)
    fa.start()
    _fauth.append(fa)
    yield fa
    _fauth.remove(fa)
    rc, killed = fa.stop()
    assert rc == 0 and not killed, "fauth exited with %s (killed: %s)" % (rc, killed)


@pytest.fixture(scope="session")
def root_hints(workdir):
    return chaoskit.write_root_hints(os.path.join(workdir, "root.hints"))


class Instances:
    """Starts holdfast instances for one case or module and stops them all
    (exit status 0 after SIGTERM asserted)."""

    def __init__(self, workdir, root_hints, nodeid):
        self.workdir = workdir
        self.root_hints = root_hints
        self.nodeid = nodeid
        self.started = []

    def start(self, addr=HOLDFAST_ADDR, **overrides):
        binary, ctl = _binaries()
        _seq[0] += 1
        tag = "%02d" % _seq[0]
        hf = chaoskit.Holdfast(binary, ctl, tag, addr, self.workdir, self.root_hints,
                               **overrides)
        _live[tag] = hf
        self.started.append(hf)
        with open(os.path.join(hf.dir, "case"), "w") as f:
            f.write(self.nodeid + "\n")
        try:
            hf.wait_ready()
        except Exception:
            hf.stop()
            del _live[tag]
            raise
        return hf

    def stop_all(self):
        for hf in self.started:
            if hf.tag not in _live:
                continue
            rc, killed = hf.stop()
            del _live[hf.tag]
            # DESIGN.md: holdfast stops on SIGTERM with exit status 0.
            assert not killed, "%s did not stop after SIGTERM:\n%s" % (hf.proc.name,
                                                                       hf.log_tail())
            assert rc == 0, "%s exited with %s on SIGTERM:\n%s" % (hf.proc.name, rc,
                                                                    hf.log_tail())


@pytest.fixture
def start_holdfast(fauth, workdir, root_hints, request):
    """start_holdfast(**config overrides) -> a fresh, ready Holdfast on
    127.0.0.53 (stopped at the end of the case)."""
    inst = Instances(workdir, root_hints, request.node.nodeid)
    yield inst.start
    inst.stop_all()


@pytest.fixture(scope="module")
def module_holdfast(fauth, workdir, root_hints, request):
    """Like start_holdfast, for module-scoped scenarios."""
    inst = Instances(workdir, root_hints, request.node.nodeid)
    yield inst.start
    inst.stop_all()


@pytest.fixture
def hf(start_holdfast):
    """A fresh holdfast with the chaos defaults."""
    return start_holdfast()


@pytest.fixture(autouse=True)
def _clean(request):
    """Every case starts with fauth answering normally and zeroed counters,
    ends with the faults cleared, and fails (rather than the next case) if
    it crashed holdfast."""
    for fa in _fauth:
        fa.clear_faults()
        fa.reset_counts()
    yield
    for fa in _fauth:
        fa.clear_faults()
    for tag, h in list(_live.items()):
        if not h.alive():
            pytest.fail("%s died (exit %s) during this case:\n%s" % (
                h.proc.name, h.proc.popen.returncode, h.log_tail()))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and not hasattr(report, "wasxfail"):
        for tag, h in list(_live.items()):
            for cmd in ("stats", "upstream"):
                try:
                    text = h.ctl(cmd)
                except Exception as e:  # a courtesy, never the failure
                    text = "(unavailable: %s)" % e
                report.sections.append(("holdfast-ctl %s (%s)" % (cmd, tag), text))
            report.sections.append(("log: %s (pid %d)" % (h.proc.name, h.pid),
                                    h.log_tail(80)))
        for fa in _fauth:
            try:
                snap = fa.counts()
                report.sections.append(("fauth counts per server",
                                        str(chaoskit.per_server(snap))))
            except Exception as e:  # noqa: BLE001
                report.sections.append(("fauth counts", "(unavailable: %s)" % e))
