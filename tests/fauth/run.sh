#!/bin/sh
# run.sh — run fauth's own tests in a private user+network+PID namespace.
#
#   tests/fauth/run.sh            # all of them
#   tests/fauth/run.sh -k flap -x # extra arguments go to pytest
#
# ../lib/netns.sh enters the namespace: root with only a loopback interface,
# so fauth binds port 53 on 127.x addresses and nothing leaves the machine;
# the kernel kills everything we started if the run is interrupted or hits
# the time limit (FAUTH_TEST_TIMEOUT seconds). The cases' files live in
# pytest's own temp dirs.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
netns_prog=run.sh
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
. "$here/../lib/netns.sh"
FAUTH_TEST_TIMEOUT=${FAUTH_TEST_TIMEOUT:-300}

netns_need_python 'dns.message, dns.query, dns.zone, pytest' \
	'dnspython or pytest (apt install python3-dnspython python3-pytest)'
netns_pytest "$FAUTH_TEST_TIMEOUT" "$here" "$@"
netns_finish
