#!/bin/sh
# run.sh — holdfast against Unbound under dnsperf, in one private namespace.
#
#   HOLDFAST_BIN=build/daemon/holdfast bench/run.sh
#   BENCH_DURATION=10 BENCH_WORKLOADS=hit HOLDFAST_BIN=... bench/run.sh
#
# Inside `unshare -rn --pid --fork --kill-child` we are root with only a
# loopback interface: NSD binds port 53 on 127.x addresses, nothing leaves the
# machine, and when the run ends or hits the time limit (BENCH_TIMEOUT s) the
# kernel kills everything left in the PID namespace (--mount-proc: /proc/PID
# of our children is readable for the CPU figures). bench.py does the work;
# the results table goes to stdout and to bench/results/<date>.txt. Configs,
# logs and raw dnsperf output stay in a temp dir (printed at the end).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
py=/usr/bin/python3   # Debian's python, which has dnspython
BENCH_TIMEOUT=${BENCH_TIMEOUT:-900}

fail() { echo "bench/run.sh: $*" >&2; exit 1; }

for tool in nsd nsd-checkzone dnsperf unbound unshare ip timeout; do
	command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
	command -v "$tool" >/dev/null 2>&1 || fail "missing tool: $tool"
done
[ -x "$py" ] || fail "missing $py"
"$py" -c 'import dns.message, dns.query' 2>/dev/null ||
	fail "$py lacks dnspython (apt install python3-dnspython)"
if [ -z "${HOLDFAST_BIN:-}" ]; then
	for b in "$root/build/daemon/holdfast" /tmp/build-bench/daemon/holdfast; do
		[ -x "$b" ] && HOLDFAST_BIN=$b && break
	done
fi
[ -n "${HOLDFAST_BIN:-}" ] || fail "set HOLDFAST_BIN=/path/to/holdfast (a RelWithDebInfo build)"
[ -x "$HOLDFAST_BIN" ] || fail "HOLDFAST_BIN=$HOLDFAST_BIN is not executable"
HOLDFAST_BIN=$(cd "$(dirname "$HOLDFAST_BIN")" && pwd)/$(basename "$HOLDFAST_BIN")

BENCH_GIT=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/holdfast-bench.XXXXXX")
export PATH HOLDFAST_BIN BENCH_GIT BENCH_TMP
export PYTHONDONTWRITEBYTECODE=1   # keep the source tree clean (harness import)

rc=0
# shellcheck disable=SC2016 # expanded by the inner shell, on purpose
timeout -s KILL "$BENCH_TIMEOUT" \
	unshare -rn --pid --fork --kill-child --mount-proc \
	sh -c 'ip link set lo up && HOLDFAST_NETNS=1 exec "$0" "$1"' \
	"$py" "$here/bench.py" || rc=$?
if [ "$rc" -eq 137 ]; then
	echo "bench/run.sh: killed after the time limit of $BENCH_TIMEOUT s" >&2
fi
echo "bench/run.sh: configs, logs and raw dnsperf output in $BENCH_TMP" >&2
exit "$rc"
