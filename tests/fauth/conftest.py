"""
pytest set-up for fauth's own tests: refuse to run outside the private
network namespace run.sh provides (they bind port 53 on 127.x addresses),
and attach the log of every fauth instance a failed case used.
"""
import os

import pytest

from fixture import FaultyAuthority


def pytest_sessionstart(session):
    if os.environ.get("FAUTH_NETNS") != "1":
        pytest.exit("fauth tests must run inside a private network namespace: "
                    "use tests/fauth/run.sh", returncode=3)
    with open("/proc/self/net/dev") as f:
        ifaces = [line.split(":")[0].strip() for line in f.readlines()[2:]]
    if ifaces != ["lo"]:
        pytest.exit("network namespace is not private (interfaces: %s)" % ifaces,
                    returncode=3)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for name, value in getattr(item, "funcargs", {}).items():
            if isinstance(value, FaultyAuthority):
                report.sections.append(("log: %s (pid %s)" % (value.name, value.pid),
                                        value.log_tail(60)))
