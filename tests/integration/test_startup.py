"""
Start-up failures an operator meets (issue 10: "a listen address that
cannot be bound: one clear log line naming the address and the reason,
exit status 1, nothing left behind"). holdfast used to log the error and
then abort in uv_close() on the listener handle it had never initialised
(exit 134, a core dump).

192.0.2.1 (TEST-NET-1) is on no interface of the test's namespace, so
binding it fails with EADDRNOTAVAIL, as a docker0 address that is not up
yet would.
"""
import os
import subprocess

import pytest
from holdfast_test import resolver

import harness

pytestmark = pytest.mark.skipif(harness.resolver_kind() != "holdfast",
                                reason="holdfast's own start-up")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT_HINTS = os.path.join(HERE, "..", "..", "conf", "root.hints")
ABSENT = "192.0.2.1@5353"
START_TIMEOUT = 20


def _run(tmp_path, *listen, threads=2):
    binary = resolver.binary_from_env("HOLDFAST_BIN", fallback="holdfast")
    conf = tmp_path / "holdfast.conf"
    conf.write_text("control-socket: none\n")
    args = [binary, "-c", str(conf), "--root-hints", ROOT_HINTS, "-t", str(threads)]
    for addr in listen:
        args += ["-l", addr]
    return subprocess.run(args, capture_output=True, text=True, timeout=START_TIMEOUT)


@pytest.mark.parametrize("threads", [1, 2])
def test_unbindable_address_exits_1_with_one_line(tmp_path, threads):
    p = _run(tmp_path, ABSENT, threads=threads)
    assert p.returncode == 1, (p.returncode, p.stderr)
    errors = [l for l in p.stderr.splitlines() if "error" in l]
    assert errors, p.stderr
    assert "cannot listen on " + ABSENT in errors[0], p.stderr
    assert "address not available" in errors[0], p.stderr
    assert "Assertion" not in p.stderr and "Aborted" not in p.stderr, p.stderr


def test_second_address_unbindable_exits_1(tmp_path):
    """The first address binds, the second does not: the first one's
    handles are closed, the process still exits 1 cleanly."""
    p = _run(tmp_path, "127.0.0.1@5354", ABSENT)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "cannot listen on " + ABSENT in p.stderr, p.stderr
    assert "Assertion" not in p.stderr, p.stderr
