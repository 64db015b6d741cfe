#!/bin/sh
# install-deps.sh — installs the Debian 12 packages holdfast needs to build,
# run and test, when they are missing. Idempotent; runs apt-get only when a
# package is absent (and `apt-get update` only if the first install fails,
# as on a fresh machine without package lists).
#
#   scripts/install-deps.sh build   # to build and run holdfast
#   scripts/install-deps.sh test    # + everything the test suite starts
#   scripts/install-deps.sh bench   # + dnsperf and Unbound for bench/
#   scripts/install-deps.sh deckard # + what Deckard's runner needs
set -eu

BUILD="gcc make cmake pkg-config libldns-dev libuv1-dev libjemalloc-dev liburcu-dev
 libcmocka-dev libpsl-dev publicsuffix"
# Tests: clang + its runtime for libFuzzer and the sanitizers (ASan, UBSan,
# TSan), clang-format and clang-tidy for the style and static-analysis legs,
# NSD as the real authoritative server, dig/kdig, Debian's python with
# dnspython and pytest, unshare (util-linux) and ip (iproute2) for the
# private namespace.
TEST="clang libclang-rt-14-dev nsd dnsutils knot-dnsutils python3 python3-dnspython
 python3-pytest iproute2 util-linux clang-format clang-tidy"
BENCH="dnsperf unbound"
# Deckard's runner (../shared/deckard, tests/deckard/run.sh): its Python
# modules, libfaketime, and tshark's dumpcap for its captures.
DECKARD="python3-jinja2 python3-pytest-xdist python3-pytest-forked python3-pyroute2
 python3-dpkt python3-augeas faketime wireshark-common"

case "${1:-build}" in
build) want="$BUILD" ;;
test) want="$BUILD $TEST" ;;
bench) want="$BUILD $TEST $BENCH" ;;
deckard) want="$BUILD $TEST $DECKARD" ;;
*) echo "usage: $0 build|test|bench|deckard" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 ||
	{ $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null; }
