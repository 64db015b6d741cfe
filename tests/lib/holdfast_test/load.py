"""
load — the paced client: a bounded load of UDP queries from one socket, each
sent at its planned offset and timed, and the summary of the replies (how
many answered, fresh, stale, SERVFAIL with which EDE, latency percentiles).
Used by the chaos suite and bench/chaos.py.

It does not retry a query (an answer later than the timeout counts as
unanswered) and does not judge the replies: the callers do.
"""
import select
import socket
import time

import dns.exception
import dns.message
import dns.rcode

from . import PORT
from .client import CLIENT_ADDR, Reply


def paced(names, qps, duration, start=0.0, tag=None, rdtype="A"):
    """A schedule: `qps` queries per second for `duration` seconds, cycling
    through `names`, as [(offset s, name, rdtype, tag)]."""
    n = int(round(qps * duration))
    return [(start + i / float(qps), names[i % len(names)], rdtype, tag) for i in range(n)]


def run_load(addr, schedule, timeout=2.0, source=CLIENT_ADDR, max_wall=None):
    """Send every query of `schedule` (see paced()) at its offset from one
    UDP socket, EDNS on, and collect the answers; a query not answered
    within `timeout` s counts as unanswered. Bounded: returns after the last
    send + timeout (or `max_wall` s). Returns [Reply] in schedule order
    (sent_at = offset from the start)."""
    schedule = sorted(schedule, key=lambda s: s[0])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((source, 0))
    sock.setblocking(False)
    results = [None] * len(schedule)
    pending = {}            # id -> (index, sent monotonic)
    next_id = 1
    t0 = time.monotonic()
    end = t0 + (schedule[-1][0] if schedule else 0) + timeout + 0.05
    if max_wall is not None:
        end = min(end, t0 + max_wall)
    i = 0
    try:
        while True:
            now = time.monotonic()
            # send everything due
            while i < len(schedule) and t0 + schedule[i][0] <= now:
                off, name, rdtype, tag = schedule[i]
                while next_id in pending or next_id == 0:
                    next_id = (next_id + 1) & 0xFFFF
                q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
                q.id = next_id
                next_id = (next_id + 1) & 0xFFFF
                try:
                    sock.sendto(q.to_wire(), (addr, PORT))
                except OSError:
                    pass        # counted as unanswered
                pending[q.id] = (i, time.monotonic())
                i += 1
            # expire
            for qid, (idx, sent) in list(pending.items()):
                if now - sent > timeout:
                    off, name, _, tag = schedule[idx]
                    results[idx] = Reply(None, timeout, name=name, sent_at=off, tag=tag)
                    del pending[qid]
            if (i >= len(schedule) and not pending) or now >= end:
                break
            wait = end - now
            if i < len(schedule):
                wait = min(wait, t0 + schedule[i][0] - now)
            if pending:
                wait = min(wait, min(s for _, s in pending.values()) + timeout - now)
            r, _, _ = select.select([sock], [], [], max(0.0, wait))
            if not r:
                continue
            while True:
                try:
                    wire, _ = sock.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                at = time.monotonic()
                try:
                    msg = dns.message.from_wire(wire)
                except dns.exception.DNSException:
                    continue
                hit = pending.pop(msg.id, None)
                if hit is None:
                    continue
                idx, sent = hit
                off, name, _, tag = schedule[idx]
                results[idx] = Reply(msg, at - sent, name=name, sent_at=off, tag=tag)
    finally:
        sock.close()
    for idx, (off, name, _, tag) in enumerate(schedule):
        if results[idx] is None:
            results[idx] = Reply(None, timeout, name=name, sent_at=off, tag=tag)
    return results


def percentile(values, q):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def summarize(replies):
    """Counts of a list of Reply: answered, fresh, stale, servfail (with
    which EDEs), unanswered, and the latency p50/p99/max in ms."""
    out = {"n": len(replies), "answered": 0, "fresh": 0, "stale": 0, "servfail": 0,
           "servfail_ede": {}, "other": 0, "unanswered": 0}
    lat = []
    for r in replies:
        if not r.answered:
            out["unanswered"] += 1
            continue
        out["answered"] += 1
        lat.append(r.elapsed * 1000)
        if r.is_stale:
            out["stale"] += 1
        elif r.is_fresh:
            out["fresh"] += 1
        elif r.rcode == dns.rcode.SERVFAIL:
            out["servfail"] += 1
            key = ",".join(str(e) for e in sorted(r.edes)) or "none"
            out["servfail_ede"][key] = out["servfail_ede"].get(key, 0) + 1
        else:
            out["other"] += 1
    out["p50_ms"] = percentile(lat, 0.50)
    out["p99_ms"] = percentile(lat, 0.99)
    out["max_ms"] = max(lat) if lat else None
    return out
