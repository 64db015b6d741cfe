"""
The empty-answer guard (issue 4, DESIGN.md "Why it exists"): when the cache
has held data for a name and the authorities now answer emptiness (NODATA
with the SOA, the October 2025 shape, or NXDOMAIN), holdfast cross-checks
with the other server, then keeps answering the last good data (stale TTL,
EDE 3) for empty-answer-hold (6 s here), re-checking every
stale-refresh-time (2 s), and accepts the emptiness only after the window.
Names never seen with data, `empty-answer-guard: no` and excluded zones get
the emptiness at once.
"""
import time

import dns.rcode
import pytest

import stalekit
from stalekit import (EDE_STALE_ANSWER, EMPTY_HOLD, PROMPT, STALE_ANSWER_TTL, STALE_REFRESH,
                      break_name, let_expire, upstream_queries)


def warm(hf, name, addrs):
    r = hf.ask(name)
    assert r.rcode == dns.rcode.NOERROR and r.addrs == addrs and not r.edes, r
    return r


def assert_held(r, addrs):
    assert r.rcode == dns.rcode.NOERROR and r.addrs == addrs, r
    assert EDE_STALE_ANSWER in r.edes, r
    assert r.ttls == [STALE_ANSWER_TTL], r


def assert_plain_empty(r, rcode):
    """The authorities' emptiness, passed on at once without an EDE."""
    assert r.elapsed <= PROMPT, r
    assert r.rcode == rcode and not r.msg.answer, r
    assert r.soa_ttls, "negative answer without SOA: %r" % r
    assert EDE_STALE_ANSWER not in r.edes, r


def test_other_server_with_data_wins(main, fauth):
    """ns1 says NODATA, ns2 still has (changed) data: the client gets ns2's
    data, fresh, without an EDE. ns2 answers the warm-up late so that holdfast
    prefers ns1 and the cross-check is really exercised (checked with fauth's
    counters; a few expiry cycles are allowed for the server choice)."""
    name = "cross.svc.test."
    fauth.set_fault(server="ns2", zone="svc.test.", name=name, mode="normal", delay_ms=1000)
    warm(main, name, ["192.0.2.20"])
    for cycle in range(4):
        let_expire()
        fauth.set_fault(server="ns1", zone="svc.test.", name=name, mode="empty")
        fauth.set_fault(server="ns2", zone="svc.test.", name=name, mode="data",
                        data="A 192.0.2.222", ttl=stalekit.DATA_TTL, delay_ms=150)
        fauth.reset_counts()
        r = main.ask(name)
        assert r.rcode == dns.rcode.NOERROR and r.addrs == ["192.0.2.222"], r
        assert 0 <= r.ttls[0] <= stalekit.DATA_TTL, "not a fresh TTL: %r" % r
        assert not r.edes, r
        assert r.elapsed <= PROMPT, r
        if upstream_queries(fauth, name, servers=["ns1"]) > 0:
            break
    else:
        pytest.fail("holdfast never asked ns1 in 4 cycles: the cross-check was not exercised")
    assert upstream_queries(fauth, name, servers=["ns2"]) >= 1


def _hold_then_accept(hf, fauth, name, addrs, mode, final_rcode):
    warm(hf, name, addrs)
    let_expire()
    break_name(fauth, name, mode=mode)
    fauth.reset_counts()

    first = hf.ask(name)
    start = time.monotonic()
    assert first.elapsed <= PROMPT, first
    assert_held(first, addrs)
    # Both servers were asked (the cross-check) before holding.
    for server in stalekit.PROVIDERS:
        assert upstream_queries(fauth, name, servers=[server]) >= 1, fauth.queries()

    # During the window: the last good data, with EDE 3 and the stale TTL.
    asked = 1
    while time.monotonic() - start < EMPTY_HOLD - 1.0:
        time.sleep(0.4)
        r = hf.ask(name)
        asked += 1
        assert r.elapsed <= PROMPT, r
        assert_held(r, addrs)
    events = hf.guard_events(name)
    assert len(events) == 1, "want one guard event in the log for %s, got:\n%s" % (
        name, "\n".join(events))
    upstream = upstream_queries(fauth, name)
    # Re-checked every stale-refresh-time, not on every client query.
    rechecks = (EMPTY_HOLD - 1.0) / STALE_REFRESH + 1
    assert 2 <= upstream <= 2 * (rechecks + 1), (upstream, asked, fauth.queries())
    assert upstream < asked

    # After the window (+ one re-check interval + margin): the emptiness.
    deadline = start + EMPTY_HOLD + STALE_REFRESH + 2.0
    while True:
        r = hf.ask(name)
        if r.rcode == final_rcode and not r.msg.answer:
            break
        assert_held(r, addrs)
        assert time.monotonic() < deadline, "still holding %.1f s after the first empty " \
            "answer (hold %d s): %r" % (time.monotonic() - start, EMPTY_HOLD, r)
        time.sleep(0.4)
    accepted = time.monotonic() - start
    assert accepted >= EMPTY_HOLD - 1.0, "accepted after %.1f s" % accepted
    assert EDE_STALE_ANSWER not in r.edes, r
    assert r.soa_ttls, r

    # Accepted for good: not held again once the negative TTL runs out.
    end = time.monotonic() + stalekit.DATA_TTL + 2.0
    while time.monotonic() < end:
        time.sleep(0.5)
        r = hf.ask(name)
        assert r.rcode == final_rcode and not r.msg.answer, r
        assert EDE_STALE_ANSWER not in r.edes, r
    events = hf.guard_events(name)
    assert len(events) == 2, "want the hold and the acceptance in the log for %s, got:\n%s" % (
        name, "\n".join(events))


def test_both_servers_empty_hold_then_nodata(main, fauth):
    _hold_then_accept(main, fauth, "hold.svc.test.", ["192.0.2.21", "192.0.2.22"], "empty",
                      dns.rcode.NOERROR)


def test_both_servers_nxdomain_hold_then_nxdomain(main, fauth):
    _hold_then_accept(main, fauth, "hold-nx.svc.test.", ["192.0.2.23"], "nxdomain",
                      dns.rcode.NXDOMAIN)


def test_name_never_seen_with_data_is_not_guarded(main, fauth):
    name = "never-seen.svc.test."
    break_name(fauth, name, mode="empty")
    assert_plain_empty(main.ask(name), dns.rcode.NOERROR)
    assert main.guard_events(name) == []


def test_guard_off_passes_emptiness_on(no_guard, fauth):
    name = "unguarded.svc.test."
    warm(no_guard, name, ["192.0.2.25"])
    let_expire()
    break_name(fauth, name, mode="empty")
    assert_plain_empty(no_guard.ask(name), dns.rcode.NOERROR)
    assert no_guard.guard_events(name) == []


def test_guard_exclude_passes_emptiness_on(guard_exclude, fauth):
    name = "excluded.svc.test."
    warm(guard_exclude, name, ["192.0.2.26"])
    let_expire()
    break_name(fauth, name, mode="empty")
    assert_plain_empty(guard_exclude.ask(name), dns.rcode.NOERROR)
    assert guard_exclude.guard_events(name) == []


def test_guard_zone_limits_the_guard_to_its_subtree(guard_scoped, fauth):
    """empty-answer-guard-zone: in.svc.test. — www.in.svc.test. is held,
    out.svc.test. is not."""
    inside, outside = "www.in.svc.test.", "out.svc.test."
    warm(guard_scoped, inside, ["192.0.2.27"])
    warm(guard_scoped, outside, ["192.0.2.28"])
    let_expire()
    break_name(fauth, inside, mode="empty")
    break_name(fauth, outside, mode="empty")
    r = guard_scoped.ask(inside)
    assert r.elapsed <= PROMPT, r
    assert_held(r, ["192.0.2.27"])
    assert_plain_empty(guard_scoped.ask(outside), dns.rcode.NOERROR)
