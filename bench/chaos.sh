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
# `unshare -rn --pid --fork --kill-child` (tests/lib/netns.sh) we are root
# with only a loopback interface: fauth binds port 53 on 127.x, nothing
# leaves the machine, and the kernel kills everything left in the PID
# namespace when the run ends.
# The table goes to stdout and to bench/results/chaos-<date>.txt; configs and
# logs stay in the temp dir printed at the end.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
netns_prog=bench/chaos.sh
# shellcheck source-path=SCRIPTDIR source=../tests/lib/netns.sh
. "$root/tests/lib/netns.sh"   # the tool checks and the namespace (netns_run)
CHAOS_TIMEOUT=${CHAOS_TIMEOUT:-420}

netns_need_tools unbound
netns_need_python 'dns.edns, dns.message, dns.query, dns.zone' \
	'dnspython (apt install python3-dnspython)'
[ -n "${HOLDFAST_BIN:-}" ] ||
	netns_fail "set HOLDFAST_BIN=/path/to/holdfast (a RelWithDebInfo build)"
netns_holdfast_bin
netns_holdfast_ctl

CHAOS_GIT=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
CHAOS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/holdfast-chaos-bench.XXXXXX")
export CHAOS_GIT CHAOS_TMP

netns_run "$CHAOS_TIMEOUT" "$netns_py" "$here/chaos.py"
echo "bench/chaos.sh: configs and logs in $CHAOS_TMP" >&2
exit "$netns_rc"
