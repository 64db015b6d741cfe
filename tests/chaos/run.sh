#!/bin/sh
# run.sh — the chaos tests (issue 5: calm retries, dual-provider failover) in
# a private user+network+PID namespace, against fauth on loopback.
#
#   HOLDFAST_BIN=build/daemon/holdfast tests/chaos/run.sh
#   HOLDFAST_BIN=... HOLDFAST_CTL=... tests/chaos/run.sh -k both -x   # extra pytest arguments
#
# HOLDFAST_CTL defaults to holdfast-ctl next to HOLDFAST_BIN. Inside
# `unshare -rn` we are root with only a loopback interface, so fauth and
# holdfast bind port 53 on 127.x addresses and nothing leaves the machine.
# The PID namespace makes the kernel kill every process we started if the
# run is interrupted or hits the time limit (HOLDFAST_CHAOS_TIMEOUT s).
# Configs and logs go to a temp dir, kept when the run fails or with
# HOLDFAST_KEEP_TMP=1.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3   # Debian's python, which has dnspython and pytest
HOLDFAST_CHAOS_TIMEOUT=${HOLDFAST_CHAOS_TIMEOUT:-480}

fail() { echo "run.sh: $*" >&2; exit 1; }

for tool in unshare ip timeout; do
	command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
	command -v "$tool" >/dev/null 2>&1 || fail "missing tool: $tool"
done
[ -x "$py" ] || fail "missing $py"
"$py" -c 'import dns.edns, dns.message, dns.query, dns.zone, pytest' 2>/dev/null ||
	fail "$py lacks dnspython or pytest (apt install python3-dnspython python3-pytest)"
[ -n "${HOLDFAST_BIN:-}" ] || fail "set HOLDFAST_BIN=/path/to/holdfast"
[ -x "$HOLDFAST_BIN" ] || fail "HOLDFAST_BIN=$HOLDFAST_BIN is not executable"
HOLDFAST_BIN=$(cd "$(dirname "$HOLDFAST_BIN")" && pwd)/$(basename "$HOLDFAST_BIN")
HOLDFAST_CTL=${HOLDFAST_CTL:-$(dirname "$HOLDFAST_BIN")/holdfast-ctl}
[ -x "$HOLDFAST_CTL" ] || fail "HOLDFAST_CTL=$HOLDFAST_CTL is not executable (build holdfast-ctl)"
HOLDFAST_CTL=$(cd "$(dirname "$HOLDFAST_CTL")" && pwd)/$(basename "$HOLDFAST_CTL")

export PATH HOLDFAST_BIN HOLDFAST_CTL
export PYTHONDONTWRITEBYTECODE=1   # keep the source tree clean
HOLDFAST_CHAOS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/holdfast-chaos.XXXXXX")
export HOLDFAST_CHAOS_TMP

rc=0
# shellcheck disable=SC2016 # expanded by the inner shell, on purpose
timeout -s KILL "$HOLDFAST_CHAOS_TIMEOUT" \
	unshare -rn --pid --fork --kill-child --mount-proc \
	sh -c 'py=$0 dir=$1 && shift && ip link set lo up &&
		HOLDFAST_NETNS=1 exec "$py" -m pytest -q --rootdir="$dir" "$dir" "$@"' \
	"$py" "$here" "$@" || rc=$?
if [ "$rc" -eq 137 ]; then
	echo "run.sh: killed after the time limit of $HOLDFAST_CHAOS_TIMEOUT s" >&2
fi
if [ "${HOLDFAST_KEEP_TMP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
	echo "run.sh: configs and logs kept in $HOLDFAST_CHAOS_TMP" >&2
else
	rm -rf "$HOLDFAST_CHAOS_TMP"
fi
exit "$rc"
