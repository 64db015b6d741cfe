#!/bin/sh
# run.sh — run the integration suite in a private user+network+PID namespace.
#
#   RESOLVER=holdfast HOLDFAST_BIN=build/daemon/holdfast tests/integration/run.sh
#   RESOLVER=unbound tests/integration/run.sh            # the stand-in resolver
#   tests/integration/run.sh -k cname -x                 # extra pytest arguments
#
# ../lib/netns.sh enters the namespace: root with only a loopback interface,
# so NSD and the resolver bind port 53 on 127.x addresses and nothing leaves
# the machine; the kernel kills every process we started if the run is
# interrupted or hits the time limit (HOLDFAST_IT_TIMEOUT s). Configs and
# logs go to a temp dir, kept when the run fails or with HOLDFAST_KEEP_TMP=1.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
netns_prog=run.sh
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
. "$here/../lib/netns.sh"
RESOLVER=${RESOLVER:-holdfast}
HOLDFAST_IT_TIMEOUT=${HOLDFAST_IT_TIMEOUT:-540}

netns_need_tools nsd nsd-checkzone dig
netns_need_python 'dns.message, dns.query, pytest' \
	'dnspython or pytest (apt install python3-dnspython python3-pytest)'
case "$RESOLVER" in
holdfast)
	netns_holdfast_bin
	netns_holdfast_ctl
	;;
unbound)
	netns_need_tools unbound
	;;
*) netns_fail "RESOLVER must be holdfast or unbound, not '$RESOLVER'" ;;
esac

export RESOLVER
export HOLDFAST_BIN="${HOLDFAST_BIN:-}"
netns_tmpdir holdfast-it
netns_pytest "$HOLDFAST_IT_TIMEOUT" "$here" "$@"
netns_finish
