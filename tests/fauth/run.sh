#!/bin/sh
# run.sh — run fauth's own tests in a private user+network+PID namespace.
#
#   tests/fauth/run.sh            # all of them
#   tests/fauth/run.sh -k flap -x # extra arguments go to pytest
#
# Inside `unshare -rn` we are root with only a loopback interface, so fauth
# can bind port 53 on 127.x addresses and nothing leaves the machine. The
# PID namespace makes the kernel kill everything we started if the run is
# interrupted or hits the time limit (FAUTH_TEST_TIMEOUT seconds).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3   # Debian's python, which has dnspython and pytest
FAUTH_TEST_TIMEOUT=${FAUTH_TEST_TIMEOUT:-300}

fail() { echo "run.sh: $*" >&2; exit 1; }

for tool in unshare ip timeout; do
	command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
	command -v "$tool" >/dev/null 2>&1 || fail "missing tool: $tool"
done
[ -x "$py" ] || fail "missing $py"
"$py" -c 'import dns.message, dns.query, dns.zone, pytest' 2>/dev/null ||
	fail "$py lacks dnspython or pytest (apt install python3-dnspython python3-pytest)"

export PATH
export PYTHONDONTWRITEBYTECODE=1   # keep the source tree clean

rc=0
# shellcheck disable=SC2016 # expanded by the inner shell, on purpose
timeout -s KILL "$FAUTH_TEST_TIMEOUT" \
	unshare -rn --pid --fork --kill-child --mount-proc \
	sh -c 'py=$0 dir=$1 && shift && ip link set lo up &&
		FAUTH_NETNS=1 exec "$py" -m pytest -q --rootdir="$dir" "$dir" "$@"' \
	"$py" "$here" "$@" || rc=$?
if [ "$rc" -eq 137 ]; then
	echo "run.sh: killed after the time limit of $FAUTH_TEST_TIMEOUT s" >&2
fi
exit "$rc"
