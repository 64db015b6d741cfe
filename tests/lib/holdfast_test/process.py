"""
process — a child process we started, its log file, and a bounded stop.

Every process of the tests is started here: stdout and stderr go to one log
file, the child gets SIGTERM if the test process dies (PR_SET_PDEATHSIG; the
run.sh PID namespace is the other belt), and it is stopped by PID: SIGTERM,
a bounded wait, then SIGKILL. It does not know what the process is or when
it is ready: the callers (resolver, nsd, fauth) wait for that.
"""
import ctypes
import signal
import subprocess

STOP_TIMEOUT = 10.0      # seconds between SIGTERM and SIGKILL

_PR_SET_PDEATHSIG = 1


def die_with_parent():
    """preexec_fn: the child gets SIGTERM when its parent dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except OSError:
        pass


def read_log(path):
    """The whole log as text (undecodable bytes replaced)."""
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def tail(path, max_lines=200):
    """The last `max_lines` lines of a log, saying how many were skipped."""
    try:
        lines = read_log(path).splitlines()
    except OSError as e:
        return "(no log: %s)" % e
    if len(lines) > max_lines:
        lines = ["... (%d lines skipped)" % (len(lines) - max_lines)] + lines[-max_lines:]
    return "\n".join(lines)


class Process:
    """A child process we started, its log file, and a bounded stop."""

    def __init__(self, name, argv, log_path, env=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.returncode = None
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=subprocess.STDOUT, env=env,
                                      preexec_fn=die_with_parent)
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM by PID, wait up to `timeout`, then SIGKILL. Returns
        (exit status, True if it had to be killed). Safe to call twice."""
        killed = False
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                killed = True
                self.popen.kill()
                self.popen.wait(timeout=timeout)
        self.returncode = self.popen.returncode
        self._log.close()
        return self.returncode, killed

    def log_text(self):
        return read_log(self.log_path)

    def log_tail(self, max_lines=200):
        return tail(self.log_path, max_lines)
