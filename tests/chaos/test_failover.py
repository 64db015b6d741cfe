"""
Dual-provider failover and per-(server, zone) health (issue 5, "Tests"):

- one provider of dual.test. drops everything: a cold-cache query succeeds
  through the other provider in under 1 s, and after a few names the dead
  server is asked only by probes, its breaker open for dual.test.;
- the servers of dual.test. drop queries for that zone only while answering
  healthy.test. on the same addresses: healthy.test. keeps resolving at
  normal speed;
- a server that answers SERVFAIL, one that answers slowly, one that flaps:
  every name resolves, with a bounded number of upstream queries;
- two servers of ONE provider (solo.test.): grouped as one provider, one of
  them dropping still resolves.

Each case gets a fresh holdfast (cold cache, breakers closed) and counts the
queries fauth received per server. Names are unique per case (every zone
has a wildcard), so nothing is answered from an earlier case's cache.
"""
import threading
import time

import dns.rcode
import pytest
from holdfast_test.load import paced, run_load

from chaoskit import PROVIDER, SERVERS, WILDCARD, authority_queries, per_server

DUAL = "dual.test."
HEALTHY = "healthy.test."
SOLO = "solo.test."
BREAKER_THRESHOLD = 3        # upstream.h: consecutive failures that open a breaker
COOLDOWN_MIN_S = 0.5         # first cool-down before the probe (doubles, jittered)


def names(prefix, zone, n):
    return ["%s%02d.%s" % (prefix, i, zone) for i in range(n)]


def assert_data(r, zone, deadline):
    assert r.answered, "no answer: %r" % r
    assert r.rcode == dns.rcode.NOERROR and r.addrs == [WILDCARD[zone]], r
    assert r.elapsed < deadline, "answer after %.0f ms, want < %.0f ms: %r" % (
        r.elapsed * 1000, deadline * 1000, r)


def max_probes(elapsed_s):
    """Probes a dead server may get in `elapsed_s` seconds: one per cool-down,
    the first cool-down 500 ms (jitter may shorten it), plus one."""
    return int(elapsed_s / (COOLDOWN_MIN_S / 2)) + 1


def test_providers_are_grouped_by_registrable_domain(hf, fauth):
    """libpsl: ns1.prov-a.test and ns1.prov-b.example are two providers,
    ns1/ns2.solo-dns.test one."""
    for zone in (DUAL, SOLO):
        r = hf.ask("group." + zone)
        assert_data(r, zone, 2.0)
    rows = {(row["addr"], row["zone"].rstrip(".") + "."): row for row in hf.upstream()}
    got = {}
    for srv in ("pa", "pb", "s1", "s2"):
        zone = SOLO if srv.startswith("s") else DUAL
        row = rows.get((SERVERS[srv], zone))
        if row is not None:
            got[srv] = row.get("provider")
    # At least one server of each zone was asked; every row names its provider.
    assert got.get("pa") or got.get("pb"), hf.ctl("upstream")
    for srv, prov in got.items():
        assert prov == PROVIDER[srv], "%s: provider %r, want %r\n%s" % (
            srv, prov, PROVIDER[srv], hf.ctl("upstream"))


@pytest.mark.parametrize("dead", ["pa", "pb"])
def test_one_provider_drops_everything(hf, fauth, dead):
    alive = "pb" if dead == "pa" else "pa"
    fauth.set_fault(server=dead, mode="drop")

    # Cold cache: the first answer comes through the other provider in < 1 s.
    r = hf.ask("first.%s" % DUAL)
    assert_data(r, DUAL, 1.0)

    # Ten more names, paced over ~2.5 s so cool-downs can pass: every one
    # answers fast, and the dead server gets at most the breaker threshold
    # plus probes.
    t0 = time.monotonic()
    slow = []
    for name in names("n", DUAL, 10):
        r = hf.ask(name)
        assert r.answered and r.rcode == dns.rcode.NOERROR, r
        assert r.addrs == [WILDCARD[DUAL]], r
        if r.elapsed >= 1.0:
            slow.append(r)
        time.sleep(0.25)
    elapsed = time.monotonic() - t0
    assert not slow, "answers >= 1 s with one provider dead: %r" % slow

    snap = fauth.counts()
    to_dead = authority_queries(snap, servers=[dead])
    limit = BREAKER_THRESHOLD + max_probes(elapsed + 1.0)
    stats = hf.stats()
    assert to_dead <= limit, (
        "the dead server %s got %d queries for 11 names in %.1f s (want <= %d: threshold %d "
        "+ probes); per server %s; upstream.queries=%d hedges=%d timeouts=%d" % (
            dead, to_dead, elapsed, limit, BREAKER_THRESHOLD, per_server(snap),
            stats.get("upstream.queries", -1), stats.get("upstream.hedges", -1),
            stats.get("upstream.timeouts", -1)))
    assert authority_queries(snap, servers=[alive]) >= 11 - 1, per_server(snap)

    # Then a paced burst (40 new names at 20 qps): still every answer < 1 s.
    fauth.reset_counts()
    t1 = time.monotonic()
    burst = run_load(hf.addr, paced(names("b", DUAL, 40), 20, 2.0), timeout=2.0)
    elapsed = time.monotonic() - t1
    bad = [r for r in burst if not (r.answered and r.rcode == dns.rcode.NOERROR
                                    and r.addrs == [WILDCARD[DUAL]] and r.elapsed < 1.0)]
    assert not bad, "burst with %s dead: %d of 40 not answered within 1 s: %r" % (
        dead, len(bad), bad[:10])
    snap = fauth.counts()
    to_dead = authority_queries(snap, servers=[dead])
    limit = max_probes(elapsed)
    assert to_dead <= limit, "the dead server %s got %d queries during a 40-name burst " \
        "(%.1f s), want <= %d probes; per server %s" % (dead, to_dead, elapsed, limit,
                                                        per_server(snap))

    # What holdfast-ctl shows for (dead server, dual.test.): once it has
    # failed `threshold` times in a row its breaker is open (or half-open with
    # the probe in flight). Fewer failures are fine only because it is no
    # longer asked at all: RTT selection keeps away from it (its RTO is far
    # outside the exploration band of the live server).
    row = hf.breaker(SERVERS[dead], DUAL)
    if row is None:
        # Never asked at all (the live provider always answered first).
        assert to_dead == 0, hf.ctl("upstream")
        return
    if int(row["failures"]) >= BREAKER_THRESHOLD:
        assert row["breaker"] in ("open", "half-open"), row["line"]
    # Closed with fewer failures: it was asked no more than probes would be
    # (RTT exploration tries it now and then, as a probe does): the bound
    # on to_dead above.
    live = hf.breaker(SERVERS[alive], DUAL)
    assert live is not None and live["breaker"] == "closed", hf.ctl("upstream")


def test_zone_dead_on_servers_that_answer_another_zone(hf, fauth):
    """pa and pb drop dual.test. only; healthy.test. on the same addresses
    keeps answering at normal speed while clients hammer dual.test."""
    # Baseline: healthy.test. latency before the outage (cache misses).
    for name in names("pre", HEALTHY, 5):
        assert_data(hf.ask(name), HEALTHY, 0.3)

    fauth.set_fault(zone=DUAL, mode="drop")

    # Clients keep asking dual.test. (unique names) in the background ...
    dead_replies = []
    stop = threading.Event()

    def hammer():
        i = 0
        while not stop.is_set() and i < 200:
            dead_replies.append(hf.ask("dead%03d.%s" % (i, DUAL), timeout=3.0))
            i += 1

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        # ... while healthy.test. names (cache misses) must answer < 300 ms.
        healthy = []
        for name in names("h", HEALTHY, 30):
            healthy.append(hf.ask(name, timeout=3.0))
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    bad = [r for r in healthy if not (r.answered and r.rcode == dns.rcode.NOERROR
                                      and r.addrs == [WILDCARD[HEALTHY]] and r.elapsed < 0.3)]
    assert not bad, "healthy.test. answers not NOERROR within 300 ms while dual.test. is " \
        "dead (%d of %d): %r" % (len(bad), len(healthy), bad[:10])
    assert dead_replies, "the background client sent nothing"
    # The dead zone's breakers opened; the healthy zone's stayed closed (a
    # server holdfast never asked for a zone has no row).
    rows = {(row["addr"], row["zone"].rstrip(".") + "."): row for row in hf.upstream()}
    healthy_rows = [rows[(SERVERS[s], HEALTHY)] for s in ("pa", "pb")
                    if (SERVERS[s], HEALTHY) in rows]
    dual_rows = [rows[(SERVERS[s], DUAL)] for s in ("pa", "pb") if (SERVERS[s], DUAL) in rows]
    assert healthy_rows and all(r["breaker"] == "closed" for r in healthy_rows), \
        hf.ctl("upstream")
    assert any(r["breaker"] in ("open", "half-open") for r in dual_rows), hf.ctl("upstream")


def servfail_names(hf, fauth, n=30):
    """pa answers SERVFAIL at once; pb answers after 30 ms (so pa is the
    lower-RTT server and a selection that ignores SERVFAIL keeps picking it)."""
    fauth.set_fault(server="pa", zone=DUAL, mode="servfail")
    fauth.set_fault(server="pb", zone=DUAL, mode="slow", delay_ms=30)
    t0 = time.monotonic()
    replies = [hf.ask(name) for name in names("sf", DUAL, n)]
    return replies, time.monotonic() - t0


def test_servfail_from_one_provider_still_resolves(hf, fauth):
    replies, _ = servfail_names(hf, fauth)
    bad = [r for r in replies if not (r.answered and r.rcode == dns.rcode.NOERROR
                                      and r.addrs == [WILDCARD[DUAL]] and r.elapsed < 1.0)]
    assert not bad, "with pa answering SERVFAIL: %r" % bad
    snap = fauth.counts()
    total = authority_queries(snap, servers=["pa", "pb"])
    assert total <= 2 * len(replies), "dual.test. servers got %d queries for %d names: %s" % (
        total, len(replies), per_server(snap))


def test_servfail_server_is_avoided(hf, fauth):
    """A server answering SERVFAIL for the zone is asked at most threshold +
    probes times, like a dead one."""
    replies, elapsed = servfail_names(hf, fauth)
    snap = fauth.counts()
    to_bad = authority_queries(snap, servers=["pa"])
    limit = BREAKER_THRESHOLD + max_probes(elapsed)
    row = hf.breaker(SERVERS["pa"], DUAL)
    assert to_bad <= limit, "pa (SERVFAIL) got %d queries for %d names in %.1f s, want " \
        "<= %d; per server %s; %s" % (to_bad, len(replies), elapsed, limit, per_server(snap),
                                      row["line"] if row else "no row for pa")


def test_slow_provider_is_hedged(hf, fauth):
    """pa answers after 800 ms: the hedge to pb (after max(50 ms, RTT))
    answers every name well before pa would."""
    fauth.set_fault(server="pa", zone=DUAL, mode="slow", delay_ms=800)
    replies = [hf.ask(n) for n in names("slow", DUAL, 12)]
    bad = [r for r in replies if not (r.answered and r.rcode == dns.rcode.NOERROR
                                      and r.addrs == [WILDCARD[DUAL]] and r.elapsed < 0.5)]
    assert not bad, "with pa 800 ms slow, answers not within 500 ms: %r" % bad
    snap = fauth.counts()
    total = authority_queries(snap, servers=["pa", "pb"])
    # At most one query to each provider per name (first + hedge).
    assert total <= 2 * 12, "dual.test. servers got %d queries for 12 names: %s" % (
        total, per_server(snap))


def test_flapping_provider(hf, fauth):
    """pa answers 2 queries, drops 2, answers 2, ...: every name resolves
    fast through pa or pb, a bounded number of queries."""
    fauth.set_fault(server="pa", zone=DUAL, mode="flap", flap_every=2, flap_mode="drop")
    t0 = time.monotonic()
    replies = []
    for n in names("flap", DUAL, 20):
        replies.append(hf.ask(n))
        time.sleep(0.05)
    elapsed = time.monotonic() - t0
    bad = [r for r in replies if not (r.answered and r.rcode == dns.rcode.NOERROR
                                      and r.addrs == [WILDCARD[DUAL]] and r.elapsed < 1.0)]
    assert not bad, "with pa flapping, answers not within 1 s: %r" % bad
    snap = fauth.counts()
    total = authority_queries(snap, servers=["pa", "pb"])
    assert total <= 2 * 20, "dual.test. servers got %d queries for 20 names in %.1f s: %s" % (
        total, elapsed, per_server(snap))


def test_one_of_two_servers_of_one_provider_drops(hf, fauth):
    """solo.test.: ns1 and ns2.solo-dns.test are one provider (no other
    provider to hedge to); with s1 dropping, names still resolve (retry
    to s2 after s1's timeout), and s1 stops being asked."""
    fauth.set_fault(server="s1", mode="drop")
    t0 = time.monotonic()
    replies = []
    for n in names("solo", SOLO, 10):
        replies.append(hf.ask(n))
        time.sleep(0.1)
    elapsed = time.monotonic() - t0
    bad = [r for r in replies if not (r.answered and r.rcode == dns.rcode.NOERROR
                                      and r.addrs == [WILDCARD[SOLO]] and r.elapsed < 1.5)]
    assert not bad, "with s1 dropping, answers not within 1.5 s: %r" % bad
    snap = fauth.counts()
    to_dead = authority_queries(snap, servers=["s1"])
    limit = BREAKER_THRESHOLD + max_probes(elapsed)
    assert to_dead <= limit, "s1 (dead) got %d queries for 10 names in %.1f s, want <= %d; " \
        "per server %s" % (to_dead, elapsed, limit, per_server(snap))
    for srv in ("s1", "s2"):
        row = hf.breaker(SERVERS[srv], SOLO)
        if row is not None:
            assert row.get("provider") == PROVIDER[srv], row["line"]
