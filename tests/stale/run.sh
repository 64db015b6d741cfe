#!/bin/sh
# run.sh — the serve-stale and empty-answer-guard tests, in a private
# user+network+PID namespace, against fauth on loopback.
#
#   HOLDFAST_BIN=build/daemon/holdfast tests/stale/run.sh
#   HOLDFAST_BIN=... tests/stale/run.sh -k guard -x   # extra pytest arguments
#
# Inside `unshare -rn` we are root with only a loopback interface, so fauth
# and holdfast can bind port 53 on 127.x addresses and nothing leaves the
# machine. The PID namespace makes the kernel kill every process we started
# if the run is interrupted or hits the time limit (HOLDFAST_STALE_TIMEOUT
# seconds). Configs and logs go to a temp dir, kept when the run fails or
# with HOLDFAST_KEEP_TMP=1.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3   # Debian's python, which has dnspython and pytest
HOLDFAST_STALE_TIMEOUT=${HOLDFAST_STALE_TIMEOUT:-480}

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

export PATH HOLDFAST_BIN
export PYTHONDONTWRITEBYTECODE=1   # keep the source tree clean
HOLDFAST_STALE_TMP=$(mktemp -d "${TMPDIR:-/tmp}/holdfast-stale.XXXXXX")
export HOLDFAST_STALE_TMP

rc=0
# shellcheck disable=SC2016 # expanded by the inner shell, on purpose
timeout -s KILL "$HOLDFAST_STALE_TIMEOUT" \
	unshare -rn --pid --fork --kill-child --mount-proc \
	sh -c 'py=$0 dir=$1 && shift && ip link set lo up &&
		HOLDFAST_NETNS=1 exec "$py" -m pytest -q --rootdir="$dir" "$dir" "$@"' \
	"$py" "$here" "$@" || rc=$?
if [ "$rc" -eq 137 ]; then
	echo "run.sh: killed after the time limit of $HOLDFAST_STALE_TIMEOUT s" >&2
fi
if [ "${HOLDFAST_KEEP_TMP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
	echo "run.sh: configs and logs kept in $HOLDFAST_STALE_TMP" >&2
else
	rm -rf "$HOLDFAST_STALE_TMP"
fi
exit "$rc"
