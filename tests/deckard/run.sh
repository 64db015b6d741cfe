#!/bin/sh
# Runs CZ.NIC's Deckard scenarios (../shared/deckard) against holdfast.
#
#   tests/deckard/run.sh [LIST] [extra run.sh options]
#
# LIST defaults to ../shared/deckard/lists/visible.txt. Builds the
# jemalloc-free binary first (jemalloc and libfaketime deadlock each other,
# see DESIGN.md "Time") in build-nojemalloc/. Needs ../shared, so it is not
# part of the README's test command. The last line is "N passed, N failed".
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
deckard=${DECKARD_RUNNER:-$top/../shared/deckard/run.sh}
[ -x "$deckard" ] || { echo "tests/deckard/run.sh: $deckard not found" >&2; exit 2; }
list=$(dirname "$deckard")/lists/visible.txt
case "${1:-}" in
"" | -*) ;;
*) list=$1; shift ;;
esac

"$top/scripts/install-deps.sh" deckard
build=$top/build-nojemalloc
cmake -S "$top" -B "$build" -DWITH_JEMALLOC=OFF -DBUILD_TESTING=OFF \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target holdfast -j "$(nproc)" >/dev/null

exec "$deckard" -a "-c holdfast.conf" "$@" "$build/daemon/holdfast" \
	"$top/tests/deckard/holdfast.conf.j2" "$list"
