#!/bin/sh
# run.sh — the chaos tests (issue 5: calm retries, dual-provider failover) in
# a private user+network+PID namespace, against fauth on loopback.
#
#   HOLDFAST_BIN=build/daemon/holdfast tests/chaos/run.sh
#   HOLDFAST_BIN=... HOLDFAST_CTL=... tests/chaos/run.sh -k both -x   # extra pytest arguments
#
# HOLDFAST_CTL defaults to holdfast-ctl next to HOLDFAST_BIN. ../lib/netns.sh
# enters the namespace: root with only a loopback interface, so fauth and
# holdfast bind port 53 on 127.x addresses and nothing leaves the machine;
# the kernel kills every process we started if the run is interrupted or
# hits the time limit (HOLDFAST_CHAOS_TIMEOUT s). Configs and logs go to a
# temp dir, kept when the run fails or with HOLDFAST_KEEP_TMP=1.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
netns_prog=run.sh
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
. "$here/../lib/netns.sh"
HOLDFAST_CHAOS_TIMEOUT=${HOLDFAST_CHAOS_TIMEOUT:-480}

netns_need_python 'dns.edns, dns.message, dns.query, dns.zone, pytest' \
	'dnspython or pytest (apt install python3-dnspython python3-pytest)'
netns_holdfast_bin
netns_holdfast_ctl
netns_tmpdir holdfast-chaos
netns_pytest "$HOLDFAST_CHAOS_TIMEOUT" "$here" "$@"
netns_finish
