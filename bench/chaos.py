"""
chaos — the outage measurement of issue 5, for holdfast and Unbound in the
same run: how much traffic a resolver sends to the authorities of a zone that
is down, and whether a dead zone slows the others.

Run by bench/chaos.sh inside a private user + network + PID namespace. The
authorities are fauth (tests/fauth) serving the chaos hierarchy of
tests/chaos (chaoskit.py): dual.test. on two providers (pa 127.0.30.1,
pb 127.0.30.2), healthy.test. on the same two addresses, TTL 2 s. An outage
is a fauth rule "drop every query for zone dual.test." on both servers (the
root keeps answering, pa and pb keep answering healthy.test.).

For each resolver in turn, each phase with a fresh process (cold cache):

  (a) amplification: a paced client sends CHAOS_QPS queries per second for
      CHAOS_OUTAGE_S seconds over CHAOS_NAMES names of the dead zone;
      authority queries (every fauth server, root included, counted by fauth)
      divided by client queries.
        cold  the names were never asked;
        warm  the names were answered, their TTL ran out, then the outage.
  (b) a healthy zone during a random-subdomain flood of the dead zone: a
      probe asks never-seen names of healthy.test. (cache misses: one
      upstream query each, to the same addresses as the dead zone) at
      CHAOS_PROBE_QPS for CHAOS_BASE_S s without flood, then again during
      a flood of CHAOS_FLOOD_QPS random names of dual.test. for
      CHAOS_FLOOD_S s; p50/p99 of the probe, probes not answered NOERROR.

Every client query has a 2 s deadline (an answer later than that counts as
unanswered). Processes are started by us and stopped by PID (SIGTERM, then
SIGKILL after a bound); every wait and every load is bounded.

Configurations: both resolvers 1 worker thread, qname-minimisation off (one
upstream query per client question), do-not-query-localhost off, root hints
to fauth's root, serve-stale on: holdfast with its defaults (serve-stale
yes, stale-answer-client-timeout 1800 ms) and a control socket; Unbound with
the reference config of tests/lib/holdfast_test/config.py (module-config
"iterator") plus serve-expired: yes and serve-expired-client-timeout: 1800.
"""
import datetime
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "chaos"))
import chaoskit  # noqa: E402  (the chaos hierarchy, its fauth, holdfast's chaos config)
from holdfast_test import config, load, resolver  # noqa: E402


def env_num(name, default, cast=int):
    return cast(os.environ.get(name, default))


QPS = env_num("CHAOS_QPS", 20)
OUTAGE_S = env_num("CHAOS_OUTAGE_S", 20)
NAMES = env_num("CHAOS_NAMES", 50)
PROBE_QPS = env_num("CHAOS_PROBE_QPS", 20)
BASE_S = env_num("CHAOS_BASE_S", 10)
FLOOD_QPS = env_num("CHAOS_FLOOD_QPS", 500)
FLOOD_S = env_num("CHAOS_FLOOD_S", 20)
RESOLVERS = os.environ.get("CHAOS_RESOLVERS", "holdfast unbound").split()
DEADLINE = 2.0

DEAD = "dual.test."
HEALTHY = "healthy.test."
ADDR = {"holdfast": "127.0.0.53", "unbound": "127.0.0.54"}


def log(msg):
    print("[chaos %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


# --------------------------------------------------------------------------
# Resolvers

class Unbound(resolver.Unbound):
    def __init__(self, tmp, hints, tag):
        d = os.path.join(tmp, "unbound-" + tag)
        conf = config.unbound_reference(ADDR["unbound"], 1, hints, d)
        conf = conf.replace("qname-minimisation: yes", "qname-minimisation: no")
        conf = conf.replace("remote-control:", "\tserve-expired: yes\n"
                            "\tserve-expired-client-timeout: 1800\nremote-control:", 1)
        conf = "# bench/chaos.py: the reference config, qmin off, serve-expired on\n" + conf
        super().__init__(d, conf, ADDR["unbound"], "unbound-" + tag)

    def stats(self):
        return {}

    def ask(self, name):
        return super().ask(name, source=chaoskit.CLIENT_ADDR, none_on_timeout=True)


class Holdfast(chaoskit.Holdfast):
    def __init__(self, tmp, hints, tag):
        super().__init__(os.environ["HOLDFAST_BIN"], os.environ["HOLDFAST_CTL"], tag,
                         ADDR["holdfast"], tmp, hints, verbosity=1, num_threads=1)
        self.kind = "holdfast"


def start(kind, tmp, hints, tag):
    r = Holdfast(tmp, hints, tag) if kind == "holdfast" else Unbound(tmp, hints, tag)
    try:
        r.wait_ready()
    except Exception:
        r.stop()
        raise
    return r


def stop(r, notes):
    rc, killed = r.stop()
    if killed or rc not in (0, None):
        notes.append("%s (%s): exit status %s%s" % (r.kind, r.proc.name, rc,
                                                    " after SIGKILL" if killed else ""))


def stats_delta(a, b):
    return {k: b.get(k, 0) - a.get(k, 0) for k in b}


# --------------------------------------------------------------------------
# Phases

def amplification(kind, shape, fa, tmp, hints, notes):
    r = start(kind, tmp, hints, "amp-" + shape)
    try:
        names = ["%s%03d.%s" % (shape, i, DEAD) for i in range(NAMES)]
        if shape == "warm":
            bad = [x for x in (r.ask(n) for n in names) if not x.is_fresh]
            if bad:
                notes.append("%s warm-up: %d of %d not answered: %r" % (kind, len(bad),
                                                                       len(names), bad[:3]))
            time.sleep(chaoskit.DATA_TTL + 1.1)
        fault = fa.set_fault(zone=DEAD, mode="drop")
        fa.reset_counts()
        s0 = r.stats()
        replies = load.run_load(r.addr, load.paced(names, QPS, OUTAGE_S),
                                    timeout=DEADLINE)
        snap = fa.counts()
        s1 = r.stats()
        fa.clear_faults(fault)
        return {"client": len(replies), "auth": chaoskit.authority_queries(snap),
                "per_server": chaoskit.per_server(snap),
                "summary": load.summarize(replies), "stats": stats_delta(s0, s1)}
    finally:
        stop(r, notes)


def flood(kind, fa, tmp, hints, notes):
    r = start(kind, tmp, hints, "flood")
    rng = random.Random(7)
    try:
        # The delegations are learnt before measuring.
        for zone in (HEALTHY, DEAD):
            r.ask("warmup." + zone)
        probe_names = ["p%05d.%s" % (i, HEALTHY)
                       for i in range(int(PROBE_QPS * (BASE_S + FLOOD_S)) + 1)]
        base_sched = [(i / float(PROBE_QPS), probe_names[i], "A", "probe")
                      for i in range(int(PROBE_QPS * BASE_S))]
        fa.reset_counts()
        base = load.run_load(r.addr, base_sched, timeout=DEADLINE)
        base_snap = fa.counts()

        fault = fa.set_fault(zone=DEAD, mode="drop")
        fa.reset_counts()
        s0 = r.stats()
        off = len(base_sched)
        sched = [(i / float(PROBE_QPS), probe_names[off + i], "A", "probe")
                 for i in range(int(PROBE_QPS * FLOOD_S))]
        sched += [(i / float(FLOOD_QPS), "%08x.%s" % (rng.getrandbits(32), DEAD), "A", "flood")
                  for i in range(int(FLOOD_QPS * FLOOD_S))]
        during = load.run_load(r.addr, sched, timeout=DEADLINE)
        snap = fa.counts()
        s1 = r.stats()
        fa.clear_faults(fault)
        probes = [x for x in during if x.tag == "probe"]
        floods = [x for x in during if x.tag == "flood"]
        dead_auth = sum(n for srv, names in snap["names"].items()
                        for q, types in names.items() if q.endswith("." + DEAD)
                        for n in types.values())
        return {"base": load.summarize(base), "base_auth": chaoskit.authority_queries(
                    base_snap),
                "probe": load.summarize(probes),
                "probe_bad": sum(1 for x in probes if not x.is_fresh),
                "base_bad": sum(1 for x in base if not x.is_fresh),
                "flood": load.summarize(floods), "flood_n": len(floods),
                "auth": chaoskit.authority_queries(snap), "dead_auth": dead_auth,
                "per_server": chaoskit.per_server(snap), "stats": stats_delta(s0, s1)}
    finally:
        stop(r, notes)


# --------------------------------------------------------------------------
# Report

def ms(v):
    return "-" if v is None else ("%.1f" % v if v < 100 else "%.0f" % v)


def report(res, env, notes):
    kinds = [k for k in RESOLVERS if k in res]
    out = []
    out.append("chaos measurement (issue 5): holdfast and Unbound, same run, same authorities")
    out.extend(env)
    out.append("")
    rows = []

    def row(label, fn):
        cells = []
        for k in kinds:
            try:
                cells.append(fn(res[k]))
            except (KeyError, TypeError, ZeroDivisionError):
                cells.append("-")
        rows.append([label] + cells)

    for shape in ("cold", "warm"):
        key = "amp_" + shape
        row("(a) outage, %s cache: client queries" % shape, lambda r: str(r[key]["client"]))
        row("    authority queries", lambda r: str(r[key]["auth"]))
        row("    amplification (auth/client)",
            lambda r: "%.3f" % (r[key]["auth"] / float(r[key]["client"])))
        row("    answered <= 2 s (stale / SERVFAIL / other)",
            lambda r: "%d (%d / %d / %d)" % (
                r[key]["summary"]["answered"], r[key]["summary"]["stale"],
                r[key]["summary"]["servfail"],
                r[key]["summary"]["other"] + r[key]["summary"]["fresh"]))
        row("    unanswered within 2 s", lambda r: str(r[key]["summary"]["unanswered"]))
        row("    client latency p50 / p99 ms",
            lambda r: "%s / %s" % (ms(r[key]["summary"]["p50_ms"]),
                                   ms(r[key]["summary"]["p99_ms"])))
    row("(b) healthy zone, no flood: p50 / p99 ms",
        lambda r: "%s / %s" % (ms(r["flood"]["base"]["p50_ms"]), ms(r["flood"]["base"]["p99_ms"])))
    row("    probes not NOERROR in 2 s", lambda r: "%d of %d" % (r["flood"]["base_bad"],
                                                                 r["flood"]["base"]["n"]))
    row("    healthy zone during flood: p50 / p99 ms",
        lambda r: "%s / %s" % (ms(r["flood"]["probe"]["p50_ms"]),
                               ms(r["flood"]["probe"]["p99_ms"])))
    row("    probes not NOERROR in 2 s", lambda r: "%d of %d" % (r["flood"]["probe_bad"],
                                                                 r["flood"]["probe"]["n"]))
    row("    flood queries (answered in 2 s)",
        lambda r: "%d (%d)" % (r["flood"]["flood_n"], r["flood"]["flood"]["answered"]))
    row("    authority queries for the dead zone",
        lambda r: "%d (%.3f per flood query)" % (
            r["flood"]["dead_auth"], r["flood"]["dead_auth"] / float(r["flood"]["flood_n"])))
    row("    all authority queries during the flood", lambda r: str(r["flood"]["auth"]))

    widths = [max(len(x[i]) for x in rows + [["", *kinds]]) for i in range(len(kinds) + 1)]
    out.append("  ".join([("%-" + str(widths[0]) + "s") % ""] +
                         [("%" + str(w) + "s") % k for w, k in zip(widths[1:], kinds)]))
    for r in rows:
        out.append("  ".join([("%-" + str(widths[0]) + "s") % r[0]] +
                             [("%" + str(w) + "s") % c for w, c in zip(widths[1:], r[1:])]))
    out.append("")
    out.append("details (authority queries per fauth server; holdfast-ctl stats deltas):")
    for k in kinds:
        for phase in ("amp_cold", "amp_warm", "flood"):
            d = res[k].get(phase)
            if not d:
                continue
            st = {x: v for x, v in d.get("stats", {}).items()
                  if x.startswith(("upstream.", "failures", "stale.")) and v}
            out.append("  %s %s: per server %s%s" % (k, phase, d["per_server"],
                                                     ("; " + str(st)) if st else ""))
            if phase.startswith("amp"):
                se = d["summary"]["servfail_ede"]
                if se:
                    out.append("    SERVFAIL by EDE: %s" % se)
    if notes:
        out.append("")
        out.append("notes:")
        out.extend("  " + n for n in notes)
    return "\n".join(out) + "\n"


def environment():
    def sh(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"
    ub = sh(["unbound", "-V"]).splitlines()
    return [
        "date:     %s" % datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "holdfast: %s (%s)" % (os.environ.get("HOLDFAST_BIN"), os.environ.get("CHAOS_GIT", "?")),
        "unbound:  %s" % (ub[0] if ub else "?"),
        "machine:  %s CPUs, %s" % (os.cpu_count(), sh(["uname", "-sr"])),
        "load:     (a) %d qps for %d s over %d names; (b) probe %d qps (never-seen names of "
        "healthy.test.), %d s alone, then %d s with a flood of %d qps random names of "
        "dual.test.; 2 s deadline per query" % (QPS, OUTAGE_S, NAMES, PROBE_QPS, BASE_S,
                                                FLOOD_S, FLOOD_QPS),
    ]


def result_path():
    d = os.path.join(HERE, "results")
    os.makedirs(d, exist_ok=True)
    base = "chaos-" + datetime.date.today().isoformat()
    path = os.path.join(d, base + ".txt")
    n = 1
    while os.path.exists(path):
        path = os.path.join(d, "%s.%d.txt" % (base, n))
        n += 1
    return path


def main():
    if os.environ.get("HOLDFAST_NETNS") != "1":
        sys.exit("bench/chaos.py runs inside the namespace: use bench/chaos.sh")
    tmp = os.environ.get("CHAOS_TMP") or "/tmp"
    hints = chaoskit.write_root_hints(os.path.join(tmp, "root.hints"))
    fa = chaoskit.fauth(tmp)
    fa.start()
    notes = []
    res = {}
    t0 = time.monotonic()
    try:
        for kind in RESOLVERS:
            res[kind] = {}
            for shape in ("cold", "warm"):
                log("%s: outage, %s cache, %d qps for %d s" % (kind, shape, QPS, OUTAGE_S))
                res[kind]["amp_" + shape] = amplification(kind, shape, fa, tmp, hints, notes)
                a = res[kind]["amp_" + shape]
                log("  %d authority queries / %d client queries" % (a["auth"], a["client"]))
            log("%s: healthy zone, %d s alone then %d s with a %d qps flood" % (
                kind, BASE_S, FLOOD_S, FLOOD_QPS))
            res[kind]["flood"] = flood(kind, fa, tmp, hints, notes)
            f = res[kind]["flood"]
            log("  probe p99 %s ms alone, %s ms during the flood" % (
                ms(f["base"]["p99_ms"]), ms(f["probe"]["p99_ms"])))
    finally:
        rc, killed = fa.stop()
        if killed or rc != 0:
            notes.append("fauth exit status %s%s" % (rc, " after SIGKILL" if killed else ""))
    notes.append("run time %.0f s" % (time.monotonic() - t0))
    text = report(res, environment(), notes)
    path = result_path()
    with open(path, "w") as f:
        f.write(text)
    print(text)
    log("written to %s" % os.path.relpath(path, ROOT))


if __name__ == "__main__":
    main()
