"""
pytest set-up for the chaos tests: one fauth hierarchy for the session, a
fresh holdfast per case (cold cache, every breaker closed; stopped at the
end with exit status 0 asserted), faults cleared and counters reset around
every case, and on failure the logs of holdfast and fauth plus
`holdfast-ctl stats` and `upstream`. Run through run.sh, which provides the
private network namespace, HOLDFAST_BIN and HOLDFAST_CTL.
"""
import os

import pytest
from holdfast_test import suite

import chaoskit

HOLDFAST_ADDR = "127.0.0.53"

_live = {}       # tag -> Holdfast
_fauth = []
_seq = [0]       # instance numbers: short paths (a unix socket path is <= 107 bytes)


def _binaries():
    return suite.require_binary("HOLDFAST_BIN"), suite.require_binary("HOLDFAST_CTL")


@pytest.fixture(scope="session")
def workdir():
    suite.require_netns("tests/chaos/run.sh")
    yield from suite.temp_dir("holdfast-chaos-")


@pytest.fixture(scope="session")
def fauth(workdir):
    yield from suite.serve_fauth(chaoskit.fauth(workdir), _fauth)


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
            suite.wait_or_stop(hf)
        except Exception:
            del _live[tag]
            raise
        return hf

    def stop_all(self):
        for hf in self.started:
            if hf.tag not in _live:
                continue
            del _live[hf.tag]
            hf.stop_checked()   # DESIGN.md: holdfast stops on SIGTERM with exit status 0


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
    suite.fail_if_dead(list(_live.values()))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and not hasattr(report, "wasxfail"):
        for tag, h in list(_live.items()):
            for cmd in ("stats", "upstream"):
                suite.add_section(report, "holdfast-ctl %s (%s)" % (cmd, tag),
                                  lambda h=h, cmd=cmd: h.ctl(cmd))
            suite.add_section(report, "log: %s (pid %d)" % (h.proc.name, h.pid),
                              lambda h=h: h.log_tail(80))
        for fa in _fauth:
            suite.add_section(report, "fauth counts per server",
                              lambda fa=fa: str(chaoskit.per_server(fa.counts())))
