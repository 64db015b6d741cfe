"""
suite — the pytest pieces every suite's conftest.py uses: refuse to run
outside the namespace, the session's temp directory, the executables from
the environment, start-or-clean-up of an instance, fauth for a session,
the check that a case left its processes running, and log sections on a
failed case that can never become the failure themselves.

It holds no fixtures itself: each conftest.py declares its own (scope,
names, what it starts), so a suite reads on its own.
"""
import os
import shutil
import tempfile

import pytest

from . import HarnessError
from .netns import check_private_netns
from .resolver import binary_from_env


def require_netns(runner):
    """pytest.exit (status 3) unless we run inside netns.sh's namespace."""
    try:
        check_private_netns(runner)
    except HarnessError as e:
        pytest.exit(str(e), returncode=3)


def require_binary(var, fallback=None):
    """The executable named by `var`, or pytest.exit (status 3)."""
    try:
        return binary_from_env(var, fallback)
    except HarnessError as e:
        pytest.exit(str(e), returncode=3)


def temp_dir(prefix):
    """Generator for a session fixture: a fresh directory for configs, pid
    files and logs. Inside HOLDFAST_TEST_TMP when netns.sh made one (it
    keeps or removes it); otherwise a new PREFIX* dir removed at the end
    unless HOLDFAST_KEEP_TMP=1."""
    base = os.environ.get("HOLDFAST_TEST_TMP")
    if base:
        yield tempfile.mkdtemp(prefix="run-", dir=base)
        return
    path = tempfile.mkdtemp(prefix=prefix)
    yield path
    if os.environ.get("HOLDFAST_KEEP_TMP") == "1":
        print("\ntemp dir kept: %s" % path)
    else:
        shutil.rmtree(path, ignore_errors=True)


def wait_or_stop(instance, **kw):
    """instance.wait_ready(**kw); if that fails, stop it and re-raise."""
    try:
        return instance.wait_ready(**kw)
    except Exception:
        instance.stop()
        raise


def serve_fauth(fa, live):
    """Generator for a session fixture: the FaultyAuthority `fa` started,
    and in the list `live` (for logs on failure) while it runs; at the end
    stopped, with exit status 0 after SIGTERM asserted."""
    fa.start()
    live.append(fa)
    yield fa
    live.remove(fa)
    rc, killed = fa.stop()
    if rc != 0 or killed:
        raise AssertionError("fauth exited with %s (killed: %s)" % (rc, killed))


def fail_if_dead(instances):
    """pytest.fail for the first of `instances` (resolvers, with .proc) that
    is no longer running, so a case that crashes one fails itself rather
    than the next case."""
    for inst in instances:
        if not inst.proc.alive():
            pytest.fail("%s died (exit %s) during this case:\n%s" % (
                inst.proc.name, inst.proc.popen.returncode, inst.log_tail()))


def add_section(report, title, text_fn):
    """Attach text_fn() to a failed report; a log is a courtesy, never the
    failure, so an error getting it is attached instead."""
    try:
        report.sections.append((title, text_fn()))
    except Exception as e:  # noqa: BLE001
        report.sections.append((title, "(unavailable: %s)" % e))
