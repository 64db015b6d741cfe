# shellcheck shell=sh
# netns.sh — sourced by every run.sh (tests/*/run.sh, bench/*.sh, demo/run.sh):
# the tool checks and the entry into a private user+network+PID namespace.
#
#   netns_prog=run.sh                     # the name in messages
#   . "$here/../lib/netns.sh"             # checks unshare, ip and timeout
#   netns_need_tools nsd dig              # the suite's own tools
#   netns_need_python 'dns.message, pytest' 'dnspython or pytest (apt install ...)'
#   netns_holdfast_bin                    # HOLDFAST_BIN: required, made absolute
#   netns_tmpdir holdfast-it              # HOLDFAST_TEST_TMP
#   netns_pytest "$timeout" "$here" "$@"  # or netns_run "$timeout" CMD ARGS...
#   netns_finish                          # keep or remove the temp dir, exit
#
# Inside `unshare -rn` we are root with only a loopback interface (set up
# here), so the servers and resolvers bind port 53 on 127.x addresses and
# nothing leaves the machine. The PID namespace (--kill-child) makes the
# kernel kill every process started inside when the run ends, is
# interrupted or hits its time limit (SIGKILL from timeout). The command
# runs with HOLDFAST_NETNS=1, which the Python side checks
# (holdfast_test/netns.py). It does not choose what to run or judge it.
# POSIX sh; every function name starts with netns_.

netns_py=/usr/bin/python3   # Debian's python, which has dnspython and pytest
netns_rc=0
unset HOLDFAST_TEST_TMP            # only netns_tmpdir sets it: netns_finish removes it
export PYTHONDONTWRITEBYTECODE=1   # keep the source tree clean

netns_fail() {
	echo "${netns_prog:-run.sh}: $*" >&2
	exit 1
}

# netns_need_tools TOOL...: every TOOL on PATH (adding /usr/sbin:/sbin if
# needed); PATH is exported. Sourcing this file checks unshare, ip, timeout.
netns_need_tools() {
	for netns_tool in "$@"; do
		command -v "$netns_tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
		command -v "$netns_tool" >/dev/null 2>&1 || netns_fail "missing tool: $netns_tool"
	done
	export PATH
}
netns_need_tools unshare ip timeout

# netns_need_python MODULES WHAT: $netns_py exists and imports MODULES
# (comma-separated, as in an import statement); else fail with "lacks WHAT".
netns_need_python() {
	[ -x "$netns_py" ] || netns_fail "missing $netns_py"
	"$netns_py" -c "import $1" 2>/dev/null || netns_fail "$netns_py lacks $2"
}

# netns_abspath PATH: PATH with an absolute directory.
netns_abspath() {
	echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
}

# netns_holdfast_bin: HOLDFAST_BIN is set and executable, made absolute and
# exported.
netns_holdfast_bin() {
	[ -n "${HOLDFAST_BIN:-}" ] || netns_fail "set HOLDFAST_BIN=/path/to/holdfast"
	[ -x "$HOLDFAST_BIN" ] || netns_fail "HOLDFAST_BIN=$HOLDFAST_BIN is not executable"
	HOLDFAST_BIN=$(netns_abspath "$HOLDFAST_BIN")
	export HOLDFAST_BIN
}

# netns_holdfast_ctl: HOLDFAST_CTL (default: holdfast-ctl next to
# HOLDFAST_BIN) is executable, made absolute and exported.
netns_holdfast_ctl() {
	HOLDFAST_CTL=${HOLDFAST_CTL:-$(dirname "$HOLDFAST_BIN")/holdfast-ctl}
	[ -x "$HOLDFAST_CTL" ] ||
		netns_fail "HOLDFAST_CTL=$HOLDFAST_CTL is not executable (build holdfast-ctl)"
	HOLDFAST_CTL=$(netns_abspath "$HOLDFAST_CTL")
	export HOLDFAST_CTL
}

# netns_tmpdir NAME: a fresh ${TMPDIR:-/tmp}/NAME.XXXXXX for configs and
# logs, exported as HOLDFAST_TEST_TMP (netns_finish keeps or removes it).
netns_tmpdir() {
	HOLDFAST_TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	export HOLDFAST_TEST_TMP
}

# netns_run SECONDS CMD [ARG...]: CMD in a new private namespace with lo up
# and HOLDFAST_NETNS=1, SIGKILLed after SECONDS. Its exit status is in
# netns_rc (137: the time limit, said on stderr); never exits the script.
netns_run() {
	netns_limit=$1
	shift
	netns_rc=0
	# shellcheck disable=SC2016 # expanded by the inner shell, on purpose
	timeout -s KILL "$netns_limit" \
		unshare -rn --pid --fork --kill-child --mount-proc \
		sh -c 'ip link set lo up && HOLDFAST_NETNS=1 exec "$@"' netns "$@" ||
		netns_rc=$?
	if [ "$netns_rc" -eq 137 ]; then
		echo "${netns_prog:-run.sh}: killed after the time limit of $netns_limit s" >&2
	fi
}

# netns_pytest SECONDS DIR [PYTEST ARG...]: the suite in DIR under pytest -q
# (rootdir DIR, so DIR/pytest.ini applies), through netns_run.
netns_pytest() {
	netns_limit=$1
	netns_dir=$2
	shift 2
	netns_run "$netns_limit" "$netns_py" -m pytest -q --rootdir="$netns_dir" "$netns_dir" "$@"
}

# netns_finish: keep HOLDFAST_TEST_TMP (if any) when the run failed or
# HOLDFAST_KEEP_TMP=1, else remove it; exit with netns_rc.
netns_finish() {
	if [ -n "${HOLDFAST_TEST_TMP:-}" ]; then
		if [ "${HOLDFAST_KEEP_TMP:-0}" = 1 ] || [ "$netns_rc" -ne 0 ]; then
			echo "${netns_prog:-run.sh}: configs and logs kept in $HOLDFAST_TEST_TMP" >&2
		else
			rm -rf "$HOLDFAST_TEST_TMP"
		fi
	fi
	exit "$netns_rc"
}
