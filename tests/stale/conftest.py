"""
pytest set-up for the serve-stale and empty-answer-guard tests: one fauth
hierarchy for the session, one holdfast instance per configuration (started
on first use, stopped at the end with exit status 0 asserted), faults
cleared after every case, and the logs of holdfast and fauth attached to a
failed case. Run through run.sh, which provides the private network
namespace and HOLDFAST_BIN.
"""
import os
import time

import pytest
from holdfast_test import suite
from holdfast_test.fauth import FaultyAuthority

import stalekit

# Each configuration: (address, config overrides). The default windows are
# in stalekit.holdfast_conf.
INSTANCES = {
    "main": ("127.0.0.53", {}),
    "max_stale": ("127.0.0.54", {"max_stale_ttl": 8}),
    "no_stale": ("127.0.0.55", {"serve_stale": "no"}),
    "no_guard": ("127.0.0.56", {"empty_answer_guard": "no"}),
    "guard_exclude": ("127.0.0.57", {"empty_answer_guard_exclude": "svc.test."}),
    "guard_scoped": ("127.0.0.58", {"empty_answer_guard_zone": "in.svc.test."}),
    "outage": ("127.0.0.59", {}),
    # answers stale after 50 ms: shorter than the quickest upstream timeout
    # (200 ms), so a late-but-in-time authority answer can refresh behind it
    "quick_stale": ("127.0.0.60", {"stale_answer_client_timeout": 50}),
}

_live = {}       # tag -> Holdfast, for logs on failure and the alive check
_fauth = []


@pytest.fixture(scope="session")
def workdir():
    suite.require_netns("tests/stale/run.sh")
    yield from suite.temp_dir("holdfast-stale-")


@pytest.fixture(scope="session")
def fauth(workdir):
    fa = FaultyAuthority(servers=stalekit.SERVERS, zones=stalekit.AUTH_ZONES,
                         workdir=workdir)
    yield from suite.serve_fauth(fa, _fauth)


@pytest.fixture(scope="session")
def root_hints(workdir):
    return stalekit.write_root_hints(os.path.join(workdir, "root.hints"))


def _instance(tag, workdir, root_hints):
    binary = suite.require_binary("HOLDFAST_BIN")
    addr, overrides = INSTANCES[tag]
    hf = stalekit.Holdfast(binary, tag, addr, workdir, root_hints, **overrides)
    _live[tag] = hf
    try:
        suite.wait_or_stop(hf)
    except Exception:
        del _live[tag]
        raise
    yield hf
    del _live[tag]
    hf.stop_checked()   # DESIGN.md: holdfast stops on SIGTERM with exit status 0


@pytest.fixture(scope="session")
def main(fauth, workdir, root_hints):
    """The default test configuration on 127.0.0.53."""
    yield from _instance("main", workdir, root_hints)


@pytest.fixture(scope="session")
def max_stale(fauth, workdir, root_hints):
    """max-stale-ttl: 8."""
    yield from _instance("max_stale", workdir, root_hints)


@pytest.fixture(scope="session")
def no_stale(fauth, workdir, root_hints):
    """serve-stale: no."""
    yield from _instance("no_stale", workdir, root_hints)


@pytest.fixture(scope="session")
def no_guard(fauth, workdir, root_hints):
    """empty-answer-guard: no."""
    yield from _instance("no_guard", workdir, root_hints)


@pytest.fixture(scope="session")
def guard_exclude(fauth, workdir, root_hints):
    """empty-answer-guard-exclude: svc.test."""
    yield from _instance("guard_exclude", workdir, root_hints)


@pytest.fixture(scope="session")
def guard_scoped(fauth, workdir, root_hints):
    """empty-answer-guard-zone: in.svc.test. (only that subtree guarded)."""
    yield from _instance("guard_scoped", workdir, root_hints)


@pytest.fixture(scope="session")
def quick_stale(fauth, workdir, root_hints):
    """stale-answer-client-timeout: 50 (ms)."""
    yield from _instance("quick_stale", workdir, root_hints)


@pytest.fixture(scope="session")
def outage(fauth, workdir, root_hints):
    """The default configuration, for the case that takes ns1 and ns2 down
    whole (its server health state must not leak into other cases)."""
    yield from _instance("outage", workdir, root_hints)


@pytest.fixture(autouse=True)
def _clean_faults(request):
    """Every case starts and ends with fauth answering normally, and fails
    (rather than the next case) if it crashed a holdfast instance."""
    yield
    broke = False
    for fa in _fauth:
        broke = broke or bool(fa.list_faults())
        fa.clear_faults()
    if broke:
        # Failures open holdfast's circuit breakers for (server, zone); a
        # breaker lets a query through (the probe that closes it) only after
        # its cool-down, at most 1.5 s. Wait it out so the next case starts
        # with healthy servers, as it would after a real outage ends.
        time.sleep(1.6)
    suite.fail_if_dead(list(_live.values()))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and not hasattr(report, "wasxfail"):
        for tag, hf in list(_live.items()):
            if tag in item.fixturenames:
                suite.add_section(report, "log: holdfast-%s (pid %d)" % (tag, hf.pid),
                                  lambda hf=hf: hf.log_tail(120))
        for fa in _fauth:
            suite.add_section(report, "log: fauth (pid %d)" % fa.pid, lambda fa=fa: fa.log_tail(40))
