#!/bin/sh
# chaos.sh — the outage measurement (issue 5) for holdfast and Unbound in
# one private namespace: upstream amplification during a total outage of a
# zone, and the latency of a healthy zone during a random-subdomain flood of
# the dead one. About 3 minutes; killed after CHAOS_TIMEOUT s (420).
#
#   HOLDFAST_BIN=build/daemon/holdfast bench/chaos.sh
#   CHAOS_RESOLVERS=holdfast CHAOS_OUTAGE_S=10 HOLDFAST_BIN=... bench/chaos.sh
#
# HOLDFAST_CTL defaults to holdfast-ctl next to HOLDFAST_BIN. Inside
# `unshare -rn --pid --fork --kill-child` we are root with only a loopback
# interface: fauth binds port 53 on 127.x, nothing leaves the machine, and
# the kernel kills everything left in the PID namespace when the run ends.
# The table goes to stdout and to bench/results/chaos-<date>.txt; configs and
# logs stay in the temp dir printed at the end.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
py=/usr/bin/python3   # Debian's python, which has dnspython
CHAOS_TIMEOUT=${CHAOS_TIMEOUT:-420}

fail() { echo "bench/chaos.sh: $*" >&2; exit 1; }

for tool in unbound unshare ip timeout; do
	command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
	command -v "$tool" >/dev/null 2>&1 || fail "missing tool: $tool"
done
[ -x "$py" ] || fail "missing $py"
"$py" -c 'import dns.edns, dns.message, dns.query, dns.zone' 2>/dev/null ||
	fail "$py lacks dnspython (apt install python3-dnspython)"
[ -n "${HOLDFAST_BIN:-}" ] || fail "set HOLDFAST_BIN=/path/to/holdfast (a RelWithDebInfo build)"
[ -x "$HOLDFAST_BIN" ] || fail "HOLDFAST_BIN=$HOLDFAST_BIN is not executable"
HOLDFAST_BIN=$(cd "$(dirname "$HOLDFAST_BIN")" && pwd)/$(basename "$HOLDFAST_BIN")
HOLDFAST_CTL=${HOLDFAST_CTL:-$(dirname "$HOLDFAST_BIN")/holdfast-ctl}
[ -x "$HOLDFAST_CTL" ] || fail "HOLDFAST_CTL=$HOLDFAST_CTL is not executable (build holdfast-ctl)"

CHAOS_GIT=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
CHAOS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/holdfast-chaos-bench.XXXXXX")
export PATH HOLDFAST_BIN HOLDFAST_CTL CHAOS_GIT CHAOS_TMP
export PYTHONDONTWRITEBYTECODE=1   # keep the source tree clean

rc=0
# shellcheck disable=SC2016 # expanded by the inner shell, on purpose
timeout -s KILL "$CHAOS_TIMEOUT" \
	unshare -rn --pid --fork --kill-child --mount-proc \
	sh -c 'ip link set lo up && HOLDFAST_NETNS=1 exec "$0" "$1"' \
	"$py" "$here/chaos.py" || rc=$?
if [ "$rc" -eq 137 ]; then
	echo "bench/chaos.sh: killed after the time limit of $CHAOS_TIMEOUT s" >&2
fi
echo "bench/chaos.sh: configs and logs in $CHAOS_TMP" >&2
exit "$rc"
