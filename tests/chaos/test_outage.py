"""
Both providers of dual.test. down (issue 5, "Tests"): while a client sends a
bounded burst (200 queries over 10 s for 20 names), count the queries the
authorities receive (every fauth server, the root included) and assert

- upstream queries per client query <= 0.2;
- every client query gets an answer within 2 s: stale data (EDE 3) or
  SERVFAIL with EDE 22 "No Reachable Authority" or 23 "Network Error";
- after the authorities recover, answers come back within 2 s (a successful
  probe closes the breaker and voids the failures cached for the zone; the
  failure cache's growing timer must not decide).

Two shapes of the same outage, each run once per module by a fixture (one
fresh holdfast each) and then checked by several small cases:

- cold:  the names were never asked (no stale data: SERVFAIL + EDE);
- warm:  the names were answered, their 2 s TTL ran out, then the outage.

The outage is a fauth rule for zone dual.test. on both servers (pa and pb
keep answering healthy.test., the root keeps answering).
"""
import time

import dns.rcode
import pytest
from holdfast_test.client import EDE_NETWORK_ERROR, EDE_NO_REACHABLE_AUTHORITY
from holdfast_test.load import paced, run_load, summarize

from chaoskit import DATA_TTL, WILDCARD, authority_queries, per_server

DUAL = "dual.test."
NAMES = 20
CLIENT_QPS = 20
BURST_S = 10.0               # 200 queries
ANSWER_DEADLINE = 2.0        # s, every client query
MAX_AMPLIFICATION = 0.2      # authority queries / client queries
RECOVERY_S = 2.0             # answers back within this after the authorities
RECOVERY_WINDOW = 4.0        # s of client load after the recovery


ADDRS = {"cold": "127.0.0.60", "warm": "127.0.0.61"}    # one instance per shape


def run_outage(start, fauth, shape):
    hf = start(addr=ADDRS[shape])
    names = ["o%02d-%s.%s" % (i, shape, DUAL) for i in range(NAMES)]
    if shape == "warm":
        for n in names:
            r = hf.ask(n)
            assert r.is_fresh and r.addrs == [WILDCARD[DUAL]], "warming %s: %r" % (n, r)
        time.sleep(DATA_TTL + 1.1)      # whole wall-clock seconds: past expiry for sure
    fault = fauth.set_fault(zone=DUAL, mode="drop")
    fauth.reset_counts()
    stats0 = hf.stats()
    t0 = time.monotonic()
    burst = run_load(hf.addr, paced(names, CLIENT_QPS, BURST_S), timeout=ANSWER_DEADLINE + 1)
    burst_s = time.monotonic() - t0
    snap = fauth.counts()
    stats1 = hf.stats()
    upstream_ctl = hf.ctl("upstream")

    # The authorities come back; the client keeps asking the same names.
    fauth.clear_faults(fault)
    fauth.reset_counts()
    recovery = run_load(hf.addr, paced(names, CLIENT_QPS, RECOVERY_WINDOW),
                        timeout=ANSWER_DEADLINE + 1)
    rsnap = fauth.counts()
    stats2 = hf.stats()
    return {
        "hf": hf, "names": names, "burst": burst, "burst_s": burst_s, "snap": snap,
        "stats": {k: stats1.get(k, 0) - stats0.get(k, 0) for k in stats1},
        "upstream": upstream_ctl, "recovery": recovery, "rsnap": rsnap,
        "rstats": {k: stats2.get(k, 0) - stats1.get(k, 0) for k in stats2},
    }


@pytest.fixture(scope="module", params=["cold", "warm"])
def outage(request, module_holdfast, fauth):
    fauth.clear_faults()
    return run_outage(module_holdfast, fauth, request.param) | {"shape": request.param}


# Where holdfast measured short of the issue (the assertions stay as the
# issue words them; these mark the known failures, strictly).
# Where holdfast measured short of the issue (the assertions stay as the
# issue words them; these would mark known failures). Empty: every case is
# expected to pass.
XFAIL = {}
XFAIL_FLAKY = {}


def known_shortfall(request, outage, what):
    reason = XFAIL.get((what, outage["shape"]))
    if reason:
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=reason))
    reason = XFAIL_FLAKY.get((what, outage["shape"]))
    if reason:
        request.node.add_marker(pytest.mark.xfail(strict=False, reason=reason))


def describe(o):
    s = o["stats"]
    return ("%s outage: %s; authority queries per server %s; holdfast: upstream.queries=%d "
            "retries=%d hedges=%d timeouts=%d breaker_opens=%d refused_breaker=%d "
            "refused_budget=%d failures.cached=%d stale.answers=%d\n%s" % (
                o["shape"], summarize(o["burst"]), per_server(o["snap"]),
                s.get("upstream.queries", 0), s.get("upstream.retries", 0),
                s.get("upstream.hedges", 0), s.get("upstream.timeouts", 0),
                s.get("upstream.breaker_opens", 0), s.get("upstream.refused_breaker", 0),
                s.get("upstream.refused_budget", 0), s.get("failures.cached", 0),
                s.get("stale.answers", 0), o["upstream"]))


def test_upstream_amplification(outage, request):
    known_shortfall(request, outage, 'amplification')
    client = len(outage["burst"])
    upstream = authority_queries(outage["snap"])
    ratio = upstream / float(client)
    assert ratio <= MAX_AMPLIFICATION, (
        "%d authority queries for %d client queries = %.3f per client query, want <= %.2f; "
        "%s" % (upstream, client, ratio, MAX_AMPLIFICATION, describe(outage)))


def test_every_client_query_answered_in_time(outage, request):
    known_shortfall(request, outage, 'in_time')
    late = [r for r in outage["burst"] if not r.answered or r.elapsed > ANSWER_DEADLINE]
    assert not late, "%d of %d queries not answered within %.0f s: %r; %s" % (
        len(late), len(outage["burst"]), ANSWER_DEADLINE, late[:8], describe(outage))


def test_answers_are_stale_data_or_servfail_with_ede(outage, request):
    known_shortfall(request, outage, 'ede')
    ok_ede = {EDE_NO_REACHABLE_AUTHORITY, EDE_NETWORK_ERROR}
    wrong = []
    for r in outage["burst"]:
        if not r.answered:
            continue
        if r.is_stale and r.addrs == [WILDCARD[DUAL]]:
            if outage["shape"] == "cold":
                wrong.append(r)     # stale data that was never fetched?
            continue
        if r.rcode == dns.rcode.SERVFAIL and ok_ede & set(r.edes):
            continue
        wrong.append(r)
    assert not wrong, "%d answers are neither stale data (EDE 3) nor SERVFAIL with EDE 22/23: " \
        "%r; %s" % (len(wrong), wrong[:8], describe(outage))
    if outage["shape"] == "warm":
        stale = sum(1 for r in outage["burst"] if r.is_stale)
        assert stale == sum(1 for r in outage["burst"] if r.answered), \
            "warm names: expected stale data for every answer: %s" % describe(outage)


def test_answers_come_back_after_recovery(outage, request):
    """Every query sent RECOVERY_S or more after the authorities came back
    gets fresh data; and each name gets fresh data within RECOVERY_S of the
    first time it is asked after that point."""
    known_shortfall(request, outage, 'recovery')
    rec = outage["recovery"]
    late = [r for r in rec if r.sent_at >= RECOVERY_S and not r.is_fresh]
    first_fresh = {}
    for r in rec:
        if r.is_fresh and r.name not in first_fresh:
            first_fresh[r.name] = r.sent_at + r.elapsed
    never = [n for n in outage["names"] if n not in first_fresh]
    s = outage["rstats"]
    assert not late and not never, (
        "after recovery: %d of %d queries sent >= %.0f s later still not fresh (%r); names "
        "never fresh in %.0f s: %d; first fresh answer at %s s; recovery: %s; authority "
        "queries %s; holdfast: breaker_closes=%d upstream.queries=%d failures.cached=%d "
        "stale.answers=%d" % (
            len(late), sum(1 for r in rec if r.sent_at >= RECOVERY_S), RECOVERY_S, late[:5],
            RECOVERY_WINDOW, len(never),
            "%.2f" % min(first_fresh.values()) if first_fresh else "never",
            summarize(rec), per_server(outage["rsnap"]), s.get("upstream.breaker_closes", 0),
            s.get("upstream.queries", 0), s.get("failures.cached", 0),
            s.get("stale.answers", 0)))
