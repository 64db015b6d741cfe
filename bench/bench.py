"""
bench — holdfast against Unbound under dnsperf, in the same run.

Run by bench/run.sh inside a private user + network + PID namespace. Starts a
small NSD hierarchy (root, test., bench.test. with 1000 hosts), holdfast and
Unbound with equivalent configurations on different loopback addresses,
warms both caches, then runs dnsperf against each resolver in turn and reads
each resolver's CPU time from /proc/PID/stat around every run.

Workloads:
  hit    every query is in the cache (1750 questions: A, AAAA, MX, TXT and
         CNAME->A over 1000 names), the file looped for BENCH_DURATION s
  mixed  (BENCH_MIX_NX_PERCENT)% of the queries are names that do not exist
         and were never asked before (each one is a cache miss and an upstream
         query answered NXDOMAIN); the rest are the cached questions. The file
         is read once (-n 1) so no miss name repeats.

For each workload two dnsperf runs per resolver: a closed-loop throughput run
(QPS, average latency, CPU per query) and a paced latency run at
BENCH_LAT_QPS with -v (per-query latencies -> p50/p90/p99/p99.9).

Processes, the NSD config template and the resolver configs are the shared
test harness's (tests/lib/holdfast_test): started by us, stopped by PID
(SIGTERM, SIGKILL after a bound). Every wait is bounded.
"""
import datetime
import os
import random
import re
import resource
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from holdfast_test import HarnessError, client, config, nsd, resolver  # noqa: E402
from holdfast_test.netns import check_private_netns  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402


def env_int(name, default):
    return int(os.environ.get(name, default))


DURATION = env_int("BENCH_DURATION", 20)          # s per throughput run
CLIENTS = env_int("BENCH_CLIENTS", 16)           # dnsperf -c
THREADS = env_int("BENCH_DNSPERF_THREADS", 2)     # dnsperf -T
OUTSTANDING = env_int("BENCH_OUTSTANDING", 200)   # dnsperf -q
LAT_QPS = env_int("BENCH_LAT_QPS", 20000)         # dnsperf -Q for the latency runs
LAT_DURATION = env_int("BENCH_LAT_DURATION", 5)   # s per latency run
MIX_NX_PERCENT = env_int("BENCH_MIX_NX_PERCENT", 10)
NSD_RRL = env_int("BENCH_NSD_RRL", 0)             # 1: keep NSD's default RRL
# Extra holdfast config lines ("\n" or ";" between them), e.g.
# BENCH_HOLDFAST_CONF="so-rcvbuf: 0" to measure one setting's share.
HOLDFAST_EXTRA = [ln.strip() for ln in
                  os.environ.get("BENCH_HOLDFAST_CONF", "").replace(";", "\n").splitlines()
                  if ln.strip()]
REPEAT = env_int("BENCH_REPEAT", 3)               # rounds of throughput runs
WORKLOADS = os.environ.get("BENCH_WORKLOADS", "hit mixed").split()
RESOLVER_THREADS = 2
HOSTS = 1000
CACHE_MB = 64            # holdfast cache-size; Unbound msg 32m + rrset 32m

HOLDFAST_ADDR = "127.0.0.53"
UNBOUND_ADDR = "127.0.0.54"
CLIENT_ADDR = "127.0.0.1"
ZONE = "bench.test."

# name -> (address, [(zone, file name)]); zone files are written at run time.
ROOT_NS = ("a.root-servers.test.", "127.0.1.1")
SERVERS = {
    "root": ("127.0.1.1", [(".", "root.zone")]),
    "tld-test": ("127.0.2.1", [("test.", "test.zone")]),
    "leaf": ("127.0.3.1", [(ZONE, "bench.test.zone")]),
}

CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


# --------------------------------------------------------------------------
# Zones and query files

def write_zones(zdir):
    os.makedirs(zdir, exist_ok=True)
    with open(os.path.join(zdir, "root.zone"), "w") as f:
        f.write("$ORIGIN .\n$TTL 86400\n"
                ".\tIN SOA a.root-servers.test. hostmaster.nic.test. 1 1800 900 604800 86400\n"
                ".\tIN NS a.root-servers.test.\n"
                "test.\t172800 IN NS ns1.nic.test.\n"
                "a.root-servers.test.\t172800 IN A 127.0.1.1\n"
                "ns1.nic.test.\t172800 IN A 127.0.2.1\n")
    with open(os.path.join(zdir, "test.zone"), "w") as f:
        f.write("$ORIGIN test.\n$TTL 86400\n"
                "@\tIN SOA ns1.nic.test. hostmaster.nic.test. 1 3600 900 604800 3600\n"
                "@\tIN NS ns1.nic.test.\n"
                "ns1.nic\tIN A 127.0.2.1\n"
                "a.root-servers\tIN A 127.0.1.1\n"
                "bench\tIN NS ns1.bench.test.\n"
                "ns1.bench\tIN A 127.0.3.1\n")
    # Long TTLs: nothing expires during a run. Negative TTL (SOA minimum) 3600.
    lines = ["; written by bench/bench.py", "$ORIGIN %s" % ZONE, "$TTL 86400",
             "@\tIN SOA ns1.bench.test. hostmaster.bench.test. 1 3600 900 604800 3600",
             "@\tIN NS ns1.bench.test.",
             "ns1\tIN A 127.0.3.1"]
    for i in range(HOSTS):
        lines.append("h%04d\tIN A 10.%d.%d.%d" % (i, i // 65536, (i // 256) % 256, i % 256))
        lines.append("h%04d\tIN AAAA 2001:db8::%x" % (i, i))
    for i in range(100):
        lines.append("h%04d\tIN MX 10 h%04d.bench.test." % (i, (i + 1) % HOSTS))
        lines.append('h%04d\tIN TXT "bench text record %d"' % (100 + i, i))
    for i in range(50):
        lines.append("c%04d\tIN CNAME h%04d" % (i, 200 + i))
    with open(os.path.join(zdir, "bench.test.zone"), "w") as f:
        f.write("\n".join(lines) + "\n")


def hit_questions():
    """The cached set: 1000 A, 500 AAAA, 100 MX, 100 TXT, 50 CNAME->A."""
    q = [("h%04d.%s" % (i, ZONE), "A") for i in range(HOSTS)]
    q += [("h%04d.%s" % (i, ZONE), "AAAA") for i in range(0, HOSTS, 2)]
    q += [("h%04d.%s" % (i, ZONE), "MX") for i in range(100)]
    q += [("h%04d.%s" % (100 + i, ZONE), "TXT") for i in range(100)]
    q += [("c%04d.%s" % (i, ZONE), "A") for i in range(50)]
    random.Random(1).shuffle(q)
    return q


def write_query_file(path, questions):
    with open(path, "w") as f:
        for name, rdtype in questions:
            f.write("%s %s\n" % (name, rdtype))


def write_mixed_file(path, n_lines, prefix, hits):
    """n_lines queries: MIX_NX_PERCENT % never-seen names under bench.test.
    (NXDOMAIN, one upstream query each), the rest cycling through `hits`.
    The same file is used for both resolvers (each has its own cache)."""
    rng = random.Random(2)
    nx = 0
    with open(path, "w") as f:
        for i in range(n_lines):
            if rng.randrange(100) < MIX_NX_PERCENT:
                f.write("%s%07d.%s A\n" % (prefix, nx, ZONE))
                nx += 1
            else:
                name, rdtype = hits[i % len(hits)]
                f.write("%s %s\n" % (name, rdtype))
    return nx


# --------------------------------------------------------------------------
# Processes

def hierarchy(tmp, zdir):
    """The NSD servers (not started); root hints in tmp/root.hints."""
    # Debian's NSD has response rate limiting on (200 qps per /24): the miss
    # workload would measure RRL drops and TC=1 slips.
    return nsd.Hierarchy(tmp, SERVERS, zdir, root=ROOT_NS, extra="" if NSD_RRL else nsd.NO_RRL)


def start_holdfast(binary, tmp, hints):
    conf = config.holdfast_reference(HOLDFAST_ADDR, RESOLVER_THREADS, hints)
    conf = "# bench/bench.py: the reference config plus cache-size\n" + conf
    conf += "cache-size: %dm\n" % CACHE_MB
    conf += "".join("%s\n" % ln for ln in HOLDFAST_EXTRA)
    # holdfast-ctl beside the binary: `stats` after the runs says where
    # queries went (shed, limited upstream, SERVFAIL causes).
    ctl_bin = os.path.join(os.path.dirname(binary), "holdfast-ctl")
    sock = os.path.join(tmp, "holdfast", "control.sock")
    if os.access(ctl_bin, os.X_OK):
        conf += 'control-socket: "%s"\n' % sock
    else:
        ctl_bin = sock = None
    hf = resolver.Holdfast(binary, os.path.join(tmp, "holdfast"), conf, HOLDFAST_ADDR,
                           "holdfast", log_name="resolver.log", ctl_bin=ctl_bin,
                           control_socket=sock)
    return hf.proc, hf.conf, hf


def start_unbound(tmp, hints):
    d = os.path.join(tmp, "unbound")
    conf = config.unbound_reference(UNBOUND_ADDR, RESOLVER_THREADS, hints, d)
    conf = "# bench/bench.py: the reference config plus cache sizes\n" + conf
    extra = ("\tmsg-cache-size: %dm\n\trrset-cache-size: %dm\n"
             % (CACHE_MB // 2, CACHE_MB // 2))
    conf = conf.replace("remote-control:", extra + "remote-control:", 1)
    ub = resolver.Unbound(d, conf, UNBOUND_ADDR, "unbound")
    return ub.proc, ub.conf


def wait_ready(proc, addr):
    client.wait_answering(proc, addr)


def cpu_seconds(pid):
    """utime + stime of the whole process (all threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def thread_cpu(pid):
    """{tid: seconds} for every thread of `pid`."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[tid] = (int(fields[11]) + int(fields[12])) / CLK_TCK
        except OSError:
            pass
    return out


def ctx_switches(pid):
    """Voluntary + involuntary context switches summed over all threads."""
    n = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if "ctxt_switches:" in line:
                        n += int(line.split()[1])
        except OSError:
            pass
    return n


def udp_counters():
    """The namespace's UDP counters from /proc/net/snmp (drops show here)."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return dict(zip(rows[0][1:], (int(x) for x in rows[1][1:])))


def udp_socket_drops():
    """{inode: drops} for every UDP socket of the namespace (/proc/net/udp and
    udp6: the last column counts the datagrams the kernel dropped on that
    socket, e.g. because its receive buffer was full)."""
    out = {}
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    v = line.split()
                    if len(v) >= 13:
                        out[int(v[9])] = int(v[-1])
        except OSError:
            pass
    return out


def socket_owners():
    """{socket inode: process name} over every process we can see (the PID
    namespace's /proc: ours, the resolvers, NSD, dnsperf)."""
    owners = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % pid) as f:
                comm = f.read().strip()
            fds = os.listdir("/proc/%s/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink("/proc/%s/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                owners[int(link[8:-1])] = comm
    return owners


class DropSampler:
    """Per-process UDP receive drops during one run: samples every socket's
    drop counter every SAMPLE_S (a socket's counter goes when it closes, so
    dnsperf's are read while it runs) and charges each increase to the
    process that owns the socket. What the namespace counted but no sample
    saw (sockets opened and closed between two samples, e.g. holdfast's
    per-query upstream sockets, or the last SAMPLE_S of a dnsperf run) is
    left as the difference to RcvbufErrors."""
    SAMPLE_S = 0.25

    def __init__(self):
        self.base = udp_socket_drops()
        self.last = dict(self.base)
        self.owner = {}
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        now = udp_socket_drops()
        grown = [i for i, d in now.items() if d > self.last.get(i, self.base.get(i, 0))]
        if any(i not in self.owner for i in grown):
            self.owner.update(socket_owners())
        for i in grown:
            self.last[i] = now[i]

    def _run(self):
        while not self.stop_ev.wait(self.SAMPLE_S):
            self._sample()

    def start(self):
        self.thread.start()
        return self

    def finish(self):
        self.stop_ev.set()
        self.thread.join()
        self._sample()
        per = {}
        for i, d in self.last.items():
            n = d - self.base.get(i, 0)
            if n > 0:
                name = self.owner.get(i, "?")
                per[name] = per.get(name, 0) + n
        return per


def machine_busy():
    """(busy, total) jiffies over all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v[:8]) - idle, sum(v[:8])


# --------------------------------------------------------------------------
# dnsperf

def dnsperf(addr, qfile, extra, timeout):
    argv = ["dnsperf", "-s", addr, "-a", CLIENT_ADDR, "-d", qfile] + extra
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return r, cpu, argv


def parse_stats(out):
    def num(pat, cast=float, default=None):
        m = re.search(pat, out)
        return cast(m.group(1)) if m else default
    s = {
        "sent": num(r"Queries sent:\s+(\d+)", int, 0),
        "completed": num(r"Queries completed:\s+(\d+)", int, 0),
        "lost": num(r"Queries lost:\s+(\d+)", int, 0),
        "runtime": num(r"Run time \(s\):\s+([\d.]+)"),
        "qps": num(r"Queries per second:\s+([\d.]+)"),
        "lat_avg": num(r"Average Latency \(s\):\s+([\d.]+)"),
        "lat_min": num(r"Average Latency \(s\):\s+[\d.]+ \(min ([\d.]+)"),
        "lat_max": num(r"Average Latency \(s\):.*max ([\d.]+)\)"),
        "lat_sd": num(r"Latency StdDev \(s\):\s+([\d.]+)"),
        "pkt": None,
        "rcodes": {},
    }
    m = re.search(r"Average packet size:\s+request (\d+), response (\d+)", out)
    if m:
        s["pkt"] = (int(m.group(1)), int(m.group(2)))
    m = re.search(r"Response codes:\s+(.*)", out)
    if m:
        for code, n in re.findall(r"([A-Z]+) (\d+) \(", m.group(1)):
            s["rcodes"][code] = int(n)
    return s


def percentiles(verbose_out):
    """Per-query latencies from dnsperf -v lines ('> RCODE name type 0.000123')."""
    lat = sorted(float(m.group(1)) for m in
                 re.finditer(r"^> \S+ .* ([\d.]+)$", verbose_out, re.M))
    if not lat:
        return None

    def p(q):
        return lat[min(len(lat) - 1, int(q * len(lat)))]
    return {"n": len(lat), "p50": p(0.50), "p90": p(0.90), "p99": p(0.99), "p999": p(0.999)}


def throughput_run(res, qfile, once):
    extra = ["-l", str(DURATION), "-c", str(CLIENTS), "-T", str(THREADS),
             "-q", str(OUTSTANDING), "-t", "2"]
    if once:
        extra += ["-n", "1"]
    others = [o for o in RESOLVERS if o is not res]
    c0 = cpu_seconds(res["proc"].pid)
    o0 = [cpu_seconds(o["proc"].pid) for o in others]
    t0 = thread_cpu(res["proc"].pid)
    x0 = ctx_switches(res["proc"].pid)
    u0 = udp_counters()
    b0 = machine_busy()
    drops = DropSampler().start()
    r, perf_cpu, argv = dnsperf(res["addr"], qfile, extra, DURATION + 60)
    s_drops = drops.finish()
    b1 = machine_busy()
    u1 = udp_counters()
    t1 = thread_cpu(res["proc"].pid)
    x1 = ctx_switches(res["proc"].pid)
    c1 = cpu_seconds(res["proc"].pid)
    o1 = [cpu_seconds(o["proc"].pid) for o in others]
    s = parse_stats(r.stdout)
    s["argv"] = " ".join(argv)
    s["rc"] = r.returncode
    s["stderr"] = r.stderr.strip()
    s["cpu"] = c1 - c0
    s["other_cpu"] = sum(b - a for a, b in zip(o0, o1))
    s["dnsperf_cpu"] = perf_cpu
    s["busy"] = (b1[0] - b0[0]) / max(1, b1[1] - b0[1])
    s["box_cpu"] = (b1[0] - b0[0]) / CLK_TCK
    s["box_us_per_q"] = s["box_cpu"] / s["completed"] * 1e6 if s["completed"] else float("nan")
    s["cs_per_q"] = (x1 - x0) / s["completed"] if s["completed"] else float("nan")
    s["threads"] = sorted((round(t1[t] - t0.get(t, 0), 2) for t in t1), reverse=True)
    s["udp"] = {k: u1[k] - u0[k] for k in ("RcvbufErrors", "SndbufErrors", "InErrors")
                if k in u0 and u1[k] != u0[k]}
    if s["udp"].get("RcvbufErrors", 0) > sum(s_drops.values()):
        s_drops["unattributed"] = s["udp"]["RcvbufErrors"] - sum(s_drops.values())
    s["drops"] = s_drops
    s["us_per_q"] = s["cpu"] / s["completed"] * 1e6 if s["completed"] else float("nan")
    s["raw"] = r.stdout
    return s


def latency_run(res, qfile, once):
    extra = ["-l", str(LAT_DURATION), "-c", str(CLIENTS), "-T", str(THREADS),
             "-Q", str(LAT_QPS), "-t", "2", "-v"]
    if once:
        extra += ["-n", "1"]
    r, _, _ = dnsperf(res["addr"], qfile, extra, LAT_DURATION + 60)
    s = parse_stats(r.stdout)
    s["raw"] = r.stdout
    s["pct"] = percentiles(r.stdout)
    s["rc"] = r.returncode
    return s


# --------------------------------------------------------------------------
# Checks

def check_answers(questions):
    """Ask both resolvers every cached question once; report differences in
    rcode or answer section. Returns a list of text lines."""
    problems = []
    for name, rdtype in questions:
        got = {}
        for res in RESOLVERS:
            try:
                m = dns.query.udp(dns.message.make_query(name, rdtype), res["addr"],
                                  port=53, source=CLIENT_ADDR, timeout=3.0)
                got[res["kind"]] = (dns.rcode.to_text(m.rcode()),
                                    sorted(client.rrsets(m.answer).items()))
            except dns.exception.Timeout:
                got[res["kind"]] = ("TIMEOUT", [])
        rc = {k: v[0] for k, v in got.items()}
        if any(v != "NOERROR" for v in rc.values()) or got["holdfast"] != got["unbound"]:
            problems.append("%s %s: %s" % (name, rdtype, got))
    return problems


def warm(res, qfile):
    """Two passes over the cached set at low concurrency."""
    r, _, _ = dnsperf(res["addr"], qfile, ["-n", "2", "-c", "2", "-q", "20", "-t", "3",
                                           "-l", "60"], 120)
    return parse_stats(r.stdout)


def aggregate(rs):
    """Median of each figure over the rounds; counts summed."""
    def med(key):
        v = sorted(r[key] for r in rs if r[key] is not None)
        return v[len(v) // 2] if v else None
    out = {k: med(k) for k in ("qps", "lat_avg", "cpu", "us_per_q", "box_us_per_q",
                               "runtime", "busy", "dnsperf_cpu", "other_cpu")}
    out["cores"] = med_list([r["cpu"] / (r["runtime"] or 1) for r in rs])
    for k in ("sent", "completed", "lost"):
        out[k] = sum(r[k] for r in rs)
    out["rcodes"] = {}
    for r in rs:
        for code, n in r["rcodes"].items():
            out["rcodes"][code] = out["rcodes"].get(code, 0) + n
    out["pkt"] = rs[0]["pkt"]
    out["runs"] = rs
    return out


def med_list(v):
    v = sorted(v)
    return v[len(v) // 2] if v else 0.0


# --------------------------------------------------------------------------
# Report

def fmt_row(cols, widths):
    return "  ".join(str(c).rjust(w) if i > 1 else str(c).ljust(w)
                     for i, (c, w) in enumerate(zip(cols, widths)))


def report(results, env_lines, notes):
    out = []
    out.append("holdfast benchmark — %s" % datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))
    out += env_lines
    out.append("")
    hdr = ["workload", "resolver", "QPS", "lost", "avg ms", "p50 ms", "p99 ms",
           "p99.9 ms", "CPU s", "cores", "us CPU/q", "box us/q", "resp B", "rcodes"]
    widths = [8, 8, 9, 6, 7, 7, 7, 8, 6, 5, 8, 8, 6, 0]
    out.append(fmt_row(hdr, widths))
    out.append("-" * 120)
    for wl in WORKLOADS:
        for kind in ("holdfast", "unbound"):
            s = results.get((wl, kind))
            if not s:
                continue
            pct = (s.get("lat") or {}).get("pct") or {}
            lost = "%d" % s["lost"]

            def ms(v):
                return "%.3f" % (v * 1000) if v is not None else "-"
            rcodes = " ".join("%s=%d" % kv for kv in sorted(s["rcodes"].items()))
            out.append(fmt_row([
                wl, kind, "%.0f" % (s["qps"] or 0), lost, ms(s["lat_avg"]),
                ms(pct.get("p50")), ms(pct.get("p99")), ms(pct.get("p999")),
                "%.2f" % s["cpu"], "%.2f" % s["cores"],
                "%.2f" % s["us_per_q"], "%.2f" % s["box_us_per_q"], s["pkt"][1] if s["pkt"] else "-", rcodes], widths))
    out.append("")
    out.append("ratios holdfast/unbound (QPS: higher is better; CPU per query: lower is better)")
    for wl in WORKLOADS:
        h, u = results.get((wl, "holdfast")), results.get((wl, "unbound"))
        if h and u and h["qps"] and u["qps"] and u["us_per_q"]:
            out.append("  %-6s  QPS %.2f   CPU/query %.2f   whole-machine CPU/query %.2f" % (
                wl, h["qps"] / u["qps"], h["us_per_q"] / u["us_per_q"],
                h["box_us_per_q"] / u["box_us_per_q"]))
    out.append("")
    out.append("columns: QPS, lost and avg ms from the closed-loop throughput run; p50/p99/p99.9"
               " from the paced latency run;")
    out.append("  CPU s = resolver utime+stime during the throughput run, cores = CPU s / run time,"
               " us CPU/q = CPU s / completed queries,")
    out.append("  box us/q = busy CPU time of the whole machine (resolver + dnsperf + NSD + kernel)"
               " / completed queries")
    out.append("")
    out.append("every run (round: QPS, us CPU/q, box us/q, resolver cores, resolver context "
               "switches per query, dnsperf CPU s,")
    out.append("  machine busy %, idle resolver's CPU s, CPU s per resolver thread, UDP drops in the")
    out.append("  namespace (/proc/net/snmp), receive drops by the process owning the socket (/proc/net/udp))")
    for wl in WORKLOADS:
        for kind in ("holdfast", "unbound"):
            s = results.get((wl, kind))
            if not s:
                continue
            for i, r in enumerate(s["runs"]):
                out.append("  %-6s %-8s #%d: %7.0f  %6.2f  %6.2f  %.2f  %.3f  %5.2f  %3.0f%%  %.2f"
                           "  %s  %s  %s" % (
                    wl, kind, i + 1, r["qps"] or 0, r["us_per_q"], r["box_us_per_q"],
                    r["cpu"] / (r["runtime"] or 1), r["cs_per_q"], r["dnsperf_cpu"], r["busy"] * 100,
                    r["other_cpu"], [t for t in r["threads"] if t > 0], r["udp"] or "-",
                    r["drops"] or "-"))
    out.append("")
    out.append("latency runs: paced at %d QPS for %d s with -v (same query mix)"
               % (LAT_QPS, LAT_DURATION))
    for wl in WORKLOADS:
        for kind in ("holdfast", "unbound"):
            s = results.get((wl, kind))
            lat = s and s.get("lat")
            if lat:
                pct = lat["pct"] or {}
                if lat["rc"] != 0:
                    out.append("  %-6s %-8s dnsperf exit %d" % (wl, kind, lat["rc"]))
                out.append("  %-6s %-8s n=%s lost=%d avg %.3f ms p90 %s ms rcodes %s" % (
                    wl, kind, pct.get("n", 0), lat["lost"], (lat["lat_avg"] or 0) * 1000,
                    "%.3f" % (pct["p90"] * 1000) if pct else "-",
                    " ".join("%s=%d" % kv for kv in sorted(lat["rcodes"].items()))))
    if notes:
        out.append("")
        out.append("notes:")
        out += ["  " + n for n in notes]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------

RESOLVERS = []


def environment(holdfast_bin):
    def sh(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = os.environ.get("BENCH_GIT", "?")
    ub = sh(["unbound", "-V"]).splitlines()
    return [
        "holdfast: %s (git %s)" % (holdfast_bin, commit),
        "unbound:  %s" % (ub[0] if ub else "?"),
        "dnsperf:  %s" % (sh(["dnsperf", "-h"]).splitlines()[-1:] or ["?"])[0],
        "machine:  %d CPUs, %s, kernel %s" % (os.cpu_count(), cpu, os.uname().release),
        "resolvers: %d threads each, cache %d MB (holdfast cache-size; Unbound msg+rrset %d+%d MB), "
        "qname-minimisation yes, module-config iterator" % (
            RESOLVER_THREADS, CACHE_MB, CACHE_MB // 2, CACHE_MB // 2),
        "dnsperf:  -c %d -T %d -q %d -t 2, %d s per throughput run, %d rounds (order "
        "alternates; table = median), no EDNS" % (CLIENTS, THREADS, OUTSTANDING, DURATION, REPEAT),
        "queries:  hit = 1750 cached questions (1000 A, 500 AAAA, 100 MX, 100 TXT, 50 CNAME->A); "
        "mixed = %d%% never-seen names (NXDOMAIN, one upstream query each) + the cached ones"
        % MIX_NX_PERCENT,
        "holdfast extra config: %s" % ("; ".join(HOLDFAST_EXTRA) or "none"),
        "NSD:      3 servers (root, test., bench.test. with %d hosts), response rate limiting %s"
        % (HOSTS, "on (Debian default)" if NSD_RRL else "off"),
        "CPU:      utime+stime of the resolver process from /proc/PID/stat "
        "(CLK_TCK %d) before and after each run" % CLK_TCK,
    ]


def main():
    check_private_netns("bench/run.sh")
    holdfast_bin = os.environ["HOLDFAST_BIN"]
    tmp = os.environ["BENCH_TMP"]
    results_dir = os.environ.get("BENCH_RESULTS", os.path.join(HERE, "results"))
    zdir = os.path.join(tmp, "zones")
    write_zones(zdir)
    nsd_servers = hierarchy(tmp, zdir)
    hints = nsd_servers.root_hints
    hits = hit_questions()
    hit_file = os.path.join(tmp, "hit.txt")
    write_query_file(hit_file, hits)

    notes = []
    results = {}
    try:
        log("starting NSD hierarchy")
        nsd_servers.start()
        hp, hconf, hf = start_holdfast(holdfast_bin, tmp, hints)
        RESOLVERS.append({"kind": "holdfast", "addr": HOLDFAST_ADDR, "proc": hp, "conf": hconf})
        up, uconf = start_unbound(tmp, hints)
        RESOLVERS.append({"kind": "unbound", "addr": UNBOUND_ADDR, "proc": up, "conf": uconf})
        for res in RESOLVERS:
            wait_ready(res["proc"], res["addr"])
            log("%s ready on %s (pid %d)" % (res["kind"], res["addr"], res["proc"].pid))

        for res in RESOLVERS:
            w = warm(res, hit_file)
            log("warm %s: completed %d lost %d rcodes %s" % (
                res["kind"], w["completed"], w["lost"], w["rcodes"]))
            if w["lost"] or set(w["rcodes"]) != {"NOERROR"}:
                notes.append("warm-up %s: completed %d, lost %d, rcodes %s" % (
                    res["kind"], w["completed"], w["lost"], w["rcodes"]))
        problems = check_answers(hits)
        log("answer check: %d of %d questions differ or fail" % (len(problems), len(hits)))
        if problems:
            notes.append("answer check: %d of %d cached questions differ between the "
                         "resolvers or are not NOERROR; first ones:" % (len(problems), len(hits)))
            notes += ["  " + p for p in problems[:10]]

        runs = {}          # (workload, kind) -> [throughput stats per round]
        lat = {}           # (workload, kind) -> latency stats (round 0 only)
        n_mixed = None
        for rnd in range(REPEAT):
            # Alternate which resolver goes first, so neither always runs
            # on a machine that has just been busy with the other.
            order = RESOLVERS if rnd % 2 == 0 else RESOLVERS[::-1]
            for wl in WORKLOADS:
                if wl == "hit":
                    tfile, lfile, once = hit_file, hit_file, False
                elif wl == "mixed":
                    # -n 1 and enough lines that the file is not used up
                    # before -l ends, sized from the best hit QPS; new names
                    # every round, so every miss is a miss.
                    if n_mixed is None:
                        top = max([r["qps"] or 0 for k, rs in runs.items() if k[0] == "hit"
                                   for r in rs] or [150000])
                        n_mixed = int(min(max(top, 50000) * DURATION * 1.3, 6000000))
                    tfile = os.path.join(tmp, "mixed.txt")
                    nx = write_mixed_file(tfile, n_mixed, "nx%d-" % rnd, hits)
                    lfile = os.path.join(tmp, "mixed-lat.txt")
                    if rnd == 0:
                        write_mixed_file(lfile, LAT_QPS * LAT_DURATION * 2, "lat-", hits)
                    log("mixed file: %d lines, %d never-seen names" % (n_mixed, nx))
                    once = True
                else:
                    raise HarnessError("unknown workload %r" % wl)
                for res in order:
                    key = (wl, res["kind"])
                    if not res["proc"].alive():
                        continue
                    log("round %d %s / %s: throughput run, %d s" % (rnd + 1, wl, res["kind"],
                                                                    DURATION))
                    st = throughput_run(res, tfile, once)
                    log("  qps %.0f completed %d lost %d cpu %.2f s (%.2f us/q) rcodes %s" % (
                        st["qps"] or 0, st["completed"], st["lost"], st["cpu"],
                        st["us_per_q"], st["rcodes"]))
                    if st["rc"] != 0 or st["stderr"]:
                        notes.append("%s/%s dnsperf exit %d: %s" % (
                            wl, res["kind"], st["rc"], st["stderr"][:500]))
                    raw = os.path.join(tmp, "dnsperf-%s-%s-%d.txt" % (wl, res["kind"], rnd + 1))
                    with open(raw, "w") as f:
                        f.write(st.pop("raw"))
                    runs.setdefault(key, []).append(st)
                    if not res["proc"].alive():
                        notes.append("%s DIED during %s (exit %s); log tail:\n%s" % (
                            res["kind"], wl, res["proc"].popen.returncode,
                            res["proc"].log_tail(40)))
                        continue
                    if rnd == 0:
                        log("%s / %s: latency run, %d QPS for %d s" % (
                            wl, res["kind"], LAT_QPS, LAT_DURATION))
                        lat[key] = latency_run(res, lfile, once)
                        raw = os.path.join(tmp, "dnsperf-%s-%s-latency.txt" % (wl, res["kind"]))
                        with open(raw, "w") as f:
                            f.write(lat[key].pop("raw"))
                    # Let the other resolver's stray work finish before its run.
                    time.sleep(1)
        if hf.control is not None and hp.alive():
            try:
                st = hf.stats()
                nz = ["%s=%d" % kv for kv in sorted(st.items()) if kv[1]]
                notes.append("holdfast-ctl stats after all runs (non-zero):")
                notes += ["  " + " ".join(nz[i:i + 6]) for i in range(0, len(nz), 6)]
            except Exception as e:  # noqa: BLE001 - a report line, not a failure
                notes.append("holdfast-ctl stats failed: %s" % e)
        for f in ("mixed.txt", "mixed-lat.txt"):
            if os.path.exists(os.path.join(tmp, f)):
                os.unlink(os.path.join(tmp, f))   # up to ~150 MB
        for key, rs in runs.items():
            results[key] = aggregate(rs)
            results[key]["lat"] = lat.get(key)
        for (wl, kind), st in sorted(results.items()):
            if st["lost"]:
                per = {}
                for r in st["runs"]:
                    for name, n in r["drops"].items():
                        per[name] = per.get(name, 0) + n
                notes.append("%s/%s: %d queries lost of %d sent over %d runs; UDP receive "
                             "buffer drops in the namespace during those runs: %d, by "
                             "process: %s" % (
                                 wl, kind, st["lost"], st["sent"], len(st["runs"]),
                                 sum(r["udp"].get("RcvbufErrors", 0) for r in st["runs"]),
                                 per or "-"))
            bad = {k: v for k, v in st["rcodes"].items() if k not in ("NOERROR", "NXDOMAIN")}
            if bad:
                notes.append("%s/%s: unexpected rcodes %s" % (wl, kind, bad))
    finally:
        for res in RESOLVERS:
            rc, killed = res["proc"].stop()
            log("%s stopped: exit %s%s" % (res["kind"], rc, " (SIGKILL)" if killed else ""))
            if rc != 0 or killed:
                notes.append("%s exit status %s%s" % (res["kind"], rc,
                                                     " after SIGKILL" if killed else ""))
            lines = [ln for ln in res["proc"].log_tail(2000).splitlines() if ln.strip()]
            if lines:
                notes.append("%s log: %d lines, last: %s" % (res["kind"], len(lines),
                                                              lines[-1][:200]))
        nsd_servers.stop()

    text = report(results, environment(holdfast_bin), notes)
    print()
    print(text, end="")
    os.makedirs(results_dir, exist_ok=True)
    stamp = datetime.date.today().isoformat()
    path = os.path.join(results_dir, stamp + ".txt")
    n = 2
    while os.path.exists(path):
        path = os.path.join(results_dir, "%s.%d.txt" % (stamp, n))
        n += 1
    with open(path, "w") as f:
        f.write(text)
    log("results written to %s; configs, logs and raw dnsperf output in %s" % (path, tmp))


if __name__ == "__main__":
    main()
