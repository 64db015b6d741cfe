#!/bin/sh
# run.sh — holdfast against Unbound under dnsperf, in one private namespace.
#
#   HOLDFAST_BIN=build/daemon/holdfast bench/run.sh
#   BENCH_DURATION=10 BENCH_WORKLOADS=hit HOLDFAST_BIN=... bench/run.sh
#
# Inside `unshare -rn --pid --fork --kill-child` (tests/lib/netns.sh) we are
# root with only a loopback interface: NSD binds port 53 on 127.x addresses,
# nothing leaves the machine, and when the run ends or hits the time limit
# (BENCH_TIMEOUT s) the kernel kills everything left in the PID namespace
# (--mount-proc: /proc/PID of our children is readable for the CPU figures).
# bench.py does the work; the results table goes to stdout and to
# bench/results/<date>.txt. Configs, logs and raw dnsperf output stay in a
# temp dir (printed at the end).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
netns_prog=bench/run.sh
# shellcheck source-path=SCRIPTDIR source=../tests/lib/netns.sh
. "$root/tests/lib/netns.sh"   # the tool checks and the namespace (netns_run)
BENCH_TIMEOUT=${BENCH_TIMEOUT:-900}

netns_need_tools nsd nsd-checkzone dnsperf unbound
netns_need_python 'dns.message, dns.query' 'dnspython (apt install python3-dnspython)'
if [ -z "${HOLDFAST_BIN:-}" ]; then
	for b in "$root/build/daemon/holdfast" /tmp/build-bench/daemon/holdfast; do
		[ -x "$b" ] && HOLDFAST_BIN=$b && break
	done
fi
[ -n "${HOLDFAST_BIN:-}" ] ||
	netns_fail "set HOLDFAST_BIN=/path/to/holdfast (a RelWithDebInfo build)"
netns_holdfast_bin

BENCH_GIT=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/holdfast-bench.XXXXXX")
export BENCH_GIT BENCH_TMP

netns_run "$BENCH_TIMEOUT" "$netns_py" "$here/bench.py"
echo "bench/run.sh: configs, logs and raw dnsperf output in $BENCH_TMP" >&2
exit "$netns_rc"
