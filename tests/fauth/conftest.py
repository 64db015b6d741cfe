"""
pytest set-up for fauth's own tests: refuse to run outside the private
network namespace run.sh provides (they bind port 53 on 127.x addresses),
and attach the log of every fauth instance a failed case used.
"""
import pytest
from holdfast_test import suite
from holdfast_test.fauth import FaultyAuthority


def pytest_sessionstart(session):
    suite.require_netns("tests/fauth/run.sh")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for name, value in getattr(item, "funcargs", {}).items():
            if isinstance(value, FaultyAuthority):
                suite.add_section(report, "log: %s (pid %s)" % (value.name, value.pid),
                                  lambda fa=value: fa.log_tail(60))
