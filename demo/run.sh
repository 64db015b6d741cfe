#!/bin/sh
# demo/run.sh — watch holdfast keep a name alive while its authority fails
# (`make demo`).
#
#   demo/run.sh [HOLDFAST_BINARY]     (default: build/daemon/holdfast)
#
# In a private user+network+PID namespace (`unshare -rn`: only a loopback
# interface, nothing leaves the machine, the kernel kills everything left
# when it ends) it starts fauth, the fault-injecting test authority from
# tests/fauth, serving a small hierarchy (. -> test. -> shop.test. on two
# servers, api.shop.test. A 192.0.2.80 with TTL 5), and holdfast with short
# windows. It resolves the name, then breaks shop.test.'s servers: first
# they drop every query, then they answer NOERROR with no data (the shape of
# the October 2025 DynamoDB record). dig shows holdfast answering the last
# good address with EDE 3 all along; then the servers are restored.
# Under a minute; temp files removed at the end.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
netns_prog=demo
# shellcheck source-path=SCRIPTDIR source=../tests/lib/netns.sh
. "$top/tests/lib/netns.sh"   # the tool checks and the namespace (netns_run)
py=$netns_py   # Debian's python, which has dnspython (for fauth)
DEMO_TIMEOUT=${DEMO_TIMEOUT:-120}

fail() { netns_fail "$@"; }

# ---- outside: check the tools, then run this script again in a namespace
if [ "${HOLDFAST_DEMO_INSIDE:-0}" != 1 ]; then
	bin=${1:-${HOLDFAST_BIN:-$top/build/daemon/holdfast}}
	[ -x "$bin" ] || fail "no holdfast binary at $bin (run 'make build' or pass its path)"
	bin=$(netns_abspath "$bin")
	netns_need_tools dig
	netns_need_python 'dns.message, dns.zone' 'dnspython (apt install python3-dnspython)'
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/holdfast-demo.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	HOLDFAST_DEMO_INSIDE=1 HOLDFAST_DEMO_TMP=$tmp
	export HOLDFAST_DEMO_INSIDE HOLDFAST_DEMO_TMP
	netns_run "$DEMO_TIMEOUT" "$0" "$bin"
	exit "$netns_rc"
fi

# ---- inside the namespace (netns_run has set lo up)
bin=$1
tmp=$HOLDFAST_DEMO_TMP

fauth_pid=
holdfast_pid=
cleanup() {
	[ -z "$holdfast_pid" ] || kill "$holdfast_pid" 2>/dev/null || true
	[ -z "$fauth_pid" ] || kill "$fauth_pid" 2>/dev/null || true
	[ -z "$holdfast_pid" ] || wait "$holdfast_pid" 2>/dev/null || true
	[ -z "$fauth_pid" ] || wait "$fauth_pid" 2>/dev/null || true
}
trap cleanup EXIT

if [ -t 1 ]; then bold=$(printf '\033[1m') norm=$(printf '\033[0m'); else bold='' norm=''; fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$norm"; }

# dig, showing only what matters: status, EDE, answer, time.
ask() {
	dig +tries=1 +time=5 "$@" | grep -E 'status:|EDE:|^[a-z].*[[:space:]]IN[[:space:]]|Query time' |
		sed 's/^/    /'
}

# One request to fauth's control channel (JSON; see tests/fauth/README.md).
ctl() {
	"$py" -c 'import json, sys; sys.path.insert(0, sys.argv[1])
from holdfast_test import fauth_control as control
req = json.loads(sys.argv[3]); cmd = req.pop("cmd")
control.request(sys.argv[2], cmd, **req)' "$top/tests/lib" "$tmp/fauth.ctl" "$1"
}

# the hierarchy
cat >"$tmp/root.zone" <<'EOF'
$ORIGIN .
$TTL 86400
.			IN SOA	a.root-servers.test. hostmaster.test. 1 3600 900 604800 3600
.			IN NS	a.root-servers.test.
test.			IN NS	ns.test.
ns.test.		IN A	127.0.30.2
a.root-servers.test.	IN A	127.0.30.1
EOF
cat >"$tmp/test.zone" <<'EOF'
$ORIGIN test.
$TTL 86400
@			IN SOA	ns.test. hostmaster.test. 1 3600 900 604800 3600
@			IN NS	ns.test.
ns			IN A	127.0.30.2
a.root-servers		IN A	127.0.30.1
shop			IN NS	ns1.shop.test.
shop			IN NS	ns2.shop.test.
ns1.shop		IN A	127.0.30.11
ns2.shop		IN A	127.0.30.12
EOF
cat >"$tmp/shop.test.zone" <<'EOF'
$ORIGIN shop.test.
$TTL 3600
@		IN SOA	ns1.shop.test. hostmaster.shop.test. 1 3600 900 604800 5
@		IN NS	ns1.shop.test.
@		IN NS	ns2.shop.test.
ns1		IN A	127.0.30.11
ns2		IN A	127.0.30.12
api	5	IN A	192.0.2.80
EOF
printf '.\t3600000\tNS\ta.root-servers.test.\na.root-servers.test.\t3600000\tA\t127.0.30.1\n' \
	>"$tmp/root.hints"

cat >"$tmp/holdfast.conf" <<EOF
interface: 127.0.0.53
num-threads: 1
root-hints: $tmp/root.hints
do-ip6: no
do-not-query-localhost: no
qname-minimisation: no
serve-stale: yes
stale-answer-ttl: 30
stale-answer-client-timeout: 400
stale-refresh-time: 2
empty-answer-guard: yes
empty-answer-hold: 30
verbosity: 3
EOF

say "Starting fauth (root 127.0.30.1, test. 127.0.30.2, shop.test. on ns1 127.0.30.11 and ns2 127.0.30.12)"
"$py" "$top/tests/fauth/fauth.py" --control "$tmp/fauth.ctl" \
	--server root=127.0.30.1 --server tld=127.0.30.2 \
	--server ns1=127.0.30.11 --server ns2=127.0.30.12 \
	--zone "root:.=$tmp/root.zone" --zone "tld:test.=$tmp/test.zone" \
	--zone "ns1,ns2:shop.test.=$tmp/shop.test.zone" >"$tmp/fauth.log" 2>&1 &
fauth_pid=$!
i=0
until grep -q '^fauth ready' "$tmp/fauth.log" 2>/dev/null; do
	i=$((i + 1))
	[ "$i" -le 100 ] || { cat "$tmp/fauth.log"; fail "fauth did not start"; }
	sleep 0.1
done

say "Starting holdfast on 127.0.0.53 (stale-answer-client-timeout 400 ms, stale-refresh-time 2 s, empty-answer-hold 30 s)"
sed 's/^/    /' "$tmp/holdfast.conf"
"$bin" -c "$tmp/holdfast.conf" 2>"$tmp/holdfast.log" &
holdfast_pid=$!
i=0
until dig +tries=1 +time=1 @127.0.0.53 shop.test. SOA >/dev/null 2>&1; do
	i=$((i + 1))
	[ "$i" -le 50 ] || { cat "$tmp/holdfast.log"; fail "holdfast does not answer"; }
	kill -0 "$holdfast_pid" 2>/dev/null || { cat "$tmp/holdfast.log"; fail "holdfast exited"; }
	sleep 0.2
done

say "1. Everything healthy: dig @127.0.0.53 api.shop.test (TTL 5, from the authority)"
ask @127.0.0.53 api.shop.test A

say "Waiting 6 s so the cached record expires"
sleep 6

say "2. Both shop.test. servers now DROP every query (a network outage)"
ctl '{"cmd": "set_fault", "server": "ns1", "zone": "shop.test.", "mode": "drop"}'
ctl '{"cmd": "set_fault", "server": "ns2", "zone": "shop.test.", "mode": "drop"}'
echo "    dig @127.0.30.11 api.shop.test (ns1 itself): no answer"
dig +tries=1 +time=1 @127.0.30.11 api.shop.test A | grep -E 'timed out|no servers' | sed 's/^/    /' || true
echo "    dig @127.0.0.53 api.shop.test (holdfast): stale answer after the 400 ms client timeout, EDE 3, TTL 30"
ask @127.0.0.53 api.shop.test A
sleep 1.5
echo "    1.5 s later: holdfast's own refresh has failed by now, so for stale-refresh-time (2 s)"
echo "    it answers from stale data at once, without asking the dead servers again:"
ask @127.0.0.53 api.shop.test A

say "3. The servers are back but answer EMPTY: NOERROR, no address, SOA (the October 2025 shape)"
ctl '{"cmd": "clear_faults"}'
ctl '{"cmd": "set_fault", "server": "ns1", "zone": "shop.test.", "name": "api.shop.test.", "mode": "empty"}'
ctl '{"cmd": "set_fault", "server": "ns2", "zone": "shop.test.", "name": "api.shop.test.", "mode": "empty"}'
echo "    dig @127.0.30.11 api.shop.test (ns1 itself): no address at all"
ask +norecurse @127.0.30.11 api.shop.test A
echo "    (waiting 2.5 s, until stale-refresh-time has passed and holdfast asks the servers again)"
sleep 2.5
echo "    dig @127.0.0.53 api.shop.test (holdfast): the empty-answer guard keeps the last good address, EDE 3"
ask @127.0.0.53 api.shop.test A
sleep 2.5
echo "    ... and 2.5 s later, still held (it accepts the emptiness only after empty-answer-hold, 30 s here):"
ask @127.0.0.53 api.shop.test A

say "What holdfast logged about it (stale answers and the guard)"
grep -E 'stale|guard' "$tmp/holdfast.log" | sed 's/^/    /'

say "4. The authority is fixed: faults cleared"
ctl '{"cmd": "clear_faults"}'
echo "    (waiting 2.5 s for the next re-check, stale-refresh-time)"
sleep 2.5
echo "    dig @127.0.0.53 api.shop.test: a fresh answer again, TTL 5, no EDE"
ask @127.0.0.53 api.shop.test A

say "Stopping holdfast and fauth"
kill "$holdfast_pid"
rc=0
wait "$holdfast_pid" || rc=$?
holdfast_pid=
echo "    holdfast exited with status $rc"
kill "$fauth_pid"
wait "$fauth_pid" || true
fauth_pid=
say "Done. (holdfast's full log was in $tmp/holdfast.log, removed with the temp dir.)"
