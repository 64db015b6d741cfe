"""
Serve-stale (RFC 8767, issue 4): when both servers of svc.test. fail, a
client that asks for expired data gets it within stale-answer-client-timeout
+ 200 ms, with EDE 3 (or 19 for a stale NXDOMAIN) and the stale TTL; a
failed refresh is not retried within stale-refresh-time; nothing is served
past max-stale-ttl; with serve-stale off the client gets SERVFAIL as before.

Every case: warm the cache (fresh answer, no EDE), let the 2 s TTL run out,
break the name on ns1 and ns2 only (root and tld keep answering), ask again.
"""
import time

import dns.rcode
import pytest

import stalekit
from stalekit import (EDE_STALE_ANSWER, EDE_STALE_NXDOMAIN, PROMPT, STALE_ANSWER_TTL,
                      STALE_DEADLINE, STALE_REFRESH, break_name, let_expire, upstream_queries)


def warm(hf, name, addrs):
    r = hf.ask(name)
    assert r.rcode == dns.rcode.NOERROR and r.addrs == addrs, r
    assert 0 < r.ttls[0] <= stalekit.DATA_TTL and not r.edes, r
    return r


def assert_stale(r, addrs, deadline=STALE_DEADLINE):
    assert r.elapsed <= deadline, "stale answer after %.0f ms, want <= %.0f ms: %r" % (
        r.elapsed * 1000, deadline * 1000, r)
    assert r.rcode == dns.rcode.NOERROR and r.addrs == addrs, r
    assert EDE_STALE_ANSWER in r.edes, r
    assert r.ttls == [STALE_ANSWER_TTL], r


def queries_for(fauth, name):
    return [q for q in fauth.queries() if q["name"].lower() == name]


FAILURES = {
    "drop": {"mode": "drop"},
    "servfail": {"mode": "servfail"},
    "refused": {"mode": "refused"},
    # beyond holdfast's largest upstream timeout (3 s)
    "slow": {"mode": "slow", "delay_ms": 4000},
    # NOERROR, AA, nothing in any section: lame, i.e. a failure, not emptiness
    "nosoa": {"mode": "empty_nosoa"},
}
ADDRS = {"drop": ["192.0.2.1", "192.0.2.2"], "servfail": ["192.0.2.3"],
         "refused": ["192.0.2.4"], "slow": ["192.0.2.5"], "nosoa": ["192.0.2.9"]}


@pytest.mark.parametrize("label", list(FAILURES))
def test_stale_answer_when_both_servers_fail(main, fauth, label):
    name = "%s.svc.test." % label
    warm(main, name, ADDRS[label])
    let_expire()
    break_name(fauth, name, **FAILURES[label])
    fauth.reset_counts()

    r = main.ask(name)
    assert_stale(r, ADDRS[label])
    # It did try the authorities before falling back to stale data.
    assert upstream_queries(fauth, name) >= 1


def test_resolution_goes_on_after_the_stale_answer(quick_stale, fauth):
    """RFC 8767 §5: the client is answered from stale data at the client
    timeout while holdfast keeps resolving behind it. The authority answers
    slowly (after the client timeout, before the upstream timeout) with new
    data: the stale answer goes out first, then the late answer refreshes
    the cache, and the next client gets the new data, fresh."""
    main = quick_stale
    name = "slow-bg.svc.test."
    warm(main, name, ["192.0.2.13"])
    let_expire()
    for server in stalekit.PROVIDERS:
        fauth.set_fault(server=server, name=name, mode="data", data="A 192.0.2.99",
                        delay_ms=120)
    fauth.reset_counts()
    r = main.ask(name)
    assert r.rcode == dns.rcode.NOERROR and r.addrs == ["192.0.2.13"], r
    assert EDE_STALE_ANSWER in r.edes, r
    asked = len(queries_for(fauth, name))
    assert asked >= 1, "the refresh never reached the authorities"
    # The late answer lands in the cache behind the stale one.
    deadline = time.monotonic() + 4.0
    while time.monotonic() < deadline:
        time.sleep(0.2)
        fresh = main.ask(name)
        if fresh.addrs == ["192.0.2.99"]:
            break
    assert fresh.addrs == ["192.0.2.99"], fresh
    assert EDE_STALE_ANSWER not in fresh.edes, fresh


def test_stale_answers_while_both_servers_are_down(outage, fauth):
    """ns1 and ns2 drop everything (not one name): the first expired name is
    answered from stale data at the client timeout; a second one, asked once
    holdfast has seen the servers time out (and its health state may refuse
    the fetch), is answered from stale data within the same bound."""
    a, b = "down-a.svc.test.", "down-b.svc.test."
    warm(outage, a, ["192.0.2.14"])
    warm(outage, b, ["192.0.2.15"])
    let_expire()
    for server in stalekit.PROVIDERS:
        fauth.set_fault(server=server, zone=stalekit.ZONE, mode="drop")
    assert_stale(outage.ask(a), ["192.0.2.14"])
    time.sleep(1.5)
    assert_stale(outage.ask(b), ["192.0.2.15"])
    assert_stale(outage.ask(a), ["192.0.2.14"])


def test_stale_nxdomain_gets_ede_19(main, fauth):
    name = "gone.svc.test."
    r = main.ask(name)
    assert r.rcode == dns.rcode.NXDOMAIN and not r.edes, r
    let_expire()
    break_name(fauth, name, mode="servfail")

    r = main.ask(name)
    assert r.elapsed <= STALE_DEADLINE, r
    assert r.rcode == dns.rcode.NXDOMAIN, r
    assert EDE_STALE_NXDOMAIN in r.edes and EDE_STALE_ANSWER not in r.edes, r
    assert r.soa_ttls == [STALE_ANSWER_TTL], r


def test_no_upstream_query_within_stale_refresh_time(main, fauth):
    name = "refresh.svc.test."
    addrs = ["192.0.2.6"]
    warm(main, name, addrs)
    let_expire()
    break_name(fauth, name, mode="servfail")
    assert_stale(main.ask(name), addrs)
    failed_at = time.monotonic()
    time.sleep(0.3)            # let the (fast) failed refresh finish
    assert upstream_queries(fauth, name) >= 1

    # Within stale-refresh-time: stale at once, nobody asked.
    fauth.reset_counts()
    for _ in range(3):
        r = main.ask(name)
        assert_stale(r, addrs, deadline=0.1)
    assert time.monotonic() - failed_at < STALE_REFRESH - 0.5, "too slow to test the window"
    assert upstream_queries(fauth, name, servers=stalekit.SERVERS) == 0, fauth.queries()

    # After it: the authorities are asked again (and still fail).
    time.sleep(max(0.0, failed_at + STALE_REFRESH + 1.1 - time.monotonic()))
    r = main.ask(name)
    assert_stale(r, addrs)
    assert upstream_queries(fauth, name) >= 1


def test_stale_answer_to_a_client_without_edns(main, fauth):
    """No OPT in the query: still the stale data, and no OPT to carry an EDE."""
    name = "noedns.svc.test."
    warm(main, name, ["192.0.2.10"])
    let_expire()
    break_name(fauth, name, mode="servfail")
    r = main.ask(name, edns=False)
    assert r.elapsed <= STALE_DEADLINE, r
    assert r.rcode == dns.rcode.NOERROR and r.addrs == ["192.0.2.10"], r
    assert r.ttls == [STALE_ANSWER_TTL], r
    assert r.msg.edns < 0, r.msg


def test_no_stale_answer_past_max_stale_ttl(max_stale, fauth):
    """max-stale-ttl: 8 — stale until 8 s past expiry, SERVFAIL after."""
    name = "limit.svc.test."
    addrs = ["192.0.2.7"]
    warm(max_stale, name, addrs)
    warmed = time.monotonic()
    let_expire()
    break_name(fauth, name, mode="servfail")
    assert_stale(max_stale.ask(name), addrs)

    time.sleep(max(0.0, warmed + stalekit.DATA_TTL + 8 + 1.5 - time.monotonic()))
    r = max_stale.ask(name)
    assert r.elapsed <= PROMPT, r
    assert r.rcode == dns.rcode.SERVFAIL and not r.addrs, r
    assert EDE_STALE_ANSWER not in r.edes, r


@pytest.mark.parametrize("label,addr", [("servfail", "192.0.2.8"), ("drop", "192.0.2.11")])
def test_serve_stale_off_gives_servfail(no_stale, fauth, label, addr):
    name = "off-%s.svc.test." % label
    warm(no_stale, name, [addr])
    let_expire()
    break_name(fauth, name, **FAILURES[label])
    fauth.reset_counts()
    r = no_stale.ask(name)
    assert r.rcode == dns.rcode.SERVFAIL and not r.addrs, r
    assert EDE_STALE_ANSWER not in r.edes, r
    # It asked the authorities rather than answering from the cache.
    assert upstream_queries(fauth, name) >= 1
