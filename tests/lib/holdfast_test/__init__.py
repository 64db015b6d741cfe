"""
holdfast_test — the harness every Python test suite and bench of holdfast
shares: processes we start and stop by PID, the NSD hierarchy, fauth, the
resolvers under test (holdfast and Unbound) with their config writers,
holdfast-ctl, and the dnspython client helpers.

    process     Process: a child with its log, stopped by PID with a bound
    netns       the check that we run inside run.sh's private namespace
    config      holdfast/Unbound config text, root hints
    nsd         NSD config template, zone check, the hierarchy start
    resolver    Holdfast and Unbound processes: start, wait, stop, logs
    ctl         holdfast-ctl: stats and upstream tables
    fauth       FaultyAuthority: tests/fauth/fauth.py as a child process
    fauth_control  the client of fauth's control channel
    client      queries over UDP/TCP, Reply (timing, EDE), rrsets
    load        the paced client: a bounded load from one socket
    suite       pytest pieces: namespace check, temp dir, logs on failure

It does not decide what a correct answer is (the test modules do), and it
does not hold any suite's hierarchy, zones or cases: each suite keeps those
in its own folder. The shell side (namespace entry, tool checks, the time
limit) is ../netns.sh. See ../README.md.
"""
import os

LIB_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS_DIR = os.path.dirname(LIB_DIR)
REPO_DIR = os.path.dirname(TESTS_DIR)

PORT = 53                # every server and resolver in the namespace
PYTHON = "/usr/bin/python3"   # Debian's, which has dnspython and pytest


class HarnessError(RuntimeError):
    """The set-up failed (a process exited, did not answer in time, a tool
    failed): not a verdict on the resolver's answers."""
