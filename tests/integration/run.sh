#!/bin/sh
# run.sh — run the integration suite in a private user+network+PID namespace.
#
#   RESOLVER=holdfast HOLDFAST_BIN=build/daemon/holdfast tests/integration/run.sh
#   RESOLVER=unbound tests/integration/run.sh            # the stand-in resolver
#   tests/integration/run.sh -k cname -x                 # extra pytest arguments
#
# Inside `unshare -rn` we are root with only a loopback interface, so NSD and
# the resolver can bind port 53 on 127.x addresses and nothing leaves the
# machine. The PID namespace makes the kernel kill every process we started
# if the run is interrupted or hits the time limit (HOLDFAST_IT_TIMEOUT s).
# Configs and logs go to a temp dir, kept when the run fails or with
# HOLDFAST_KEEP_TMP=1.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3   # Debian's python, which has dnspython and pytest
RESOLVER=${RESOLVER:-holdfast}
HOLDFAST_IT_TIMEOUT=${HOLDFAST_IT_TIMEOUT:-540}

fail() { echo "run.sh: $*" >&2; exit 1; }

for tool in nsd nsd-checkzone dig unshare ip timeout; do
	command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
	command -v "$tool" >/dev/null 2>&1 || fail "missing tool: $tool"
done
[ -x "$py" ] || fail "missing $py"
"$py" -c 'import dns.message, dns.query, pytest' 2>/dev/null ||
	fail "$py lacks dnspython or pytest (apt install python3-dnspython python3-pytest)"
case "$RESOLVER" in
holdfast)
	[ -n "${HOLDFAST_BIN:-}" ] || fail "RESOLVER=holdfast needs HOLDFAST_BIN=/path/to/holdfast"
	[ -x "$HOLDFAST_BIN" ] || fail "HOLDFAST_BIN=$HOLDFAST_BIN is not executable"
	HOLDFAST_BIN=$(cd "$(dirname "$HOLDFAST_BIN")" && pwd)/$(basename "$HOLDFAST_BIN")
	;;
unbound)
	command -v unbound >/dev/null 2>&1 || fail "missing tool: unbound"
	;;
*) fail "RESOLVER must be holdfast or unbound, not '$RESOLVER'" ;;
esac

export RESOLVER PATH
export HOLDFAST_BIN="${HOLDFAST_BIN:-}"
export PYTHONDONTWRITEBYTECODE=1   # keep the source tree clean
HOLDFAST_IT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/holdfast-it.XXXXXX")
export HOLDFAST_IT_TMP

# SIGKILL on timeout: unshare's child is PID 1 of the new PID namespace, and
# when it dies the kernel kills every process left inside.
rc=0
# shellcheck disable=SC2016 # expanded by the inner shell, on purpose
timeout -s KILL "$HOLDFAST_IT_TIMEOUT" \
	unshare -rn --pid --fork --kill-child --mount-proc \
	sh -c 'py=$0 dir=$1 && shift && ip link set lo up &&
		HOLDFAST_NETNS=1 exec "$py" -m pytest -q --rootdir="$dir" "$dir" "$@"' \
	"$py" "$here" "$@" || rc=$?
if [ "$rc" -eq 137 ]; then
	echo "run.sh: killed after the time limit of $HOLDFAST_IT_TIMEOUT s" >&2
fi
if [ "${HOLDFAST_KEEP_TMP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
	echo "run.sh: configs and logs kept in $HOLDFAST_IT_TMP" >&2
else
	rm -rf "$HOLDFAST_IT_TMP"
fi
exit "$rc"
