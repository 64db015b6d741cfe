#!/usr/bin/python3
"""check-layering.py - the module graph and the no-I/O rule, checked.

Derives the folder graph from the `#include "<folder>/..."` lines of every
.c and .h in the module folders, fuzz/ and tests/unit/, compares it with
the allowed graph in docs/layering.txt (the one place it is written) and
fails naming file:line for every include the graph does not allow, and for
every module a module's CMakeLists.txt links that the graph does not allow
(target_link_libraries may not widen it). In the folders docs/layering.txt
marks `no-io` (cache/, resolver/) it also refuses I/O and timer headers and
calls of socket, timer and clock functions; comments and string literals
are not searched. sockaddr types are allowed.

It does not compile anything, follow includes transitively, or look at
system headers other than those on the deny list.

  scripts/check-layering.py [--root DIR]   check the tree (default: the repo)
  scripts/check-layering.py --self-test    show that each rule can fail
Exit status: 0 clean, 1 violations, 2 usage or a bad docs/layering.txt.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

GRAPH_FILE = "docs/layering.txt"
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
LINK_RE = re.compile(r"target_link_libraries\s*\(([^)]*)\)", re.S)

# Headers whose only business is I/O, event loops, timers or clocks.
DENY_HEADERS = {
    "uv.h", "poll.h", "sys/poll.h", "sys/epoll.h", "sys/select.h", "sys/timerfd.h",
    "sys/time.h", "sys/timeb.h", "netdb.h", "ifaddrs.h", "sys/signalfd.h", "sys/eventfd.h",
}
# Calls that reach the network, wait, arm a timer or read a clock.
DENY_CALLS = [
    "socket", "socketpair", "bind", "connect", "listen", "accept", "accept4", "shutdown",
    "send", "sendto", "sendmsg", "sendmmsg", "recv", "recvfrom", "recvmsg", "recvmmsg",
    "setsockopt", "getsockopt", "getsockname", "getpeername",
    "getaddrinfo", "getnameinfo", "gethostbyname", "gethostbyaddr",
    "poll", "ppoll", "select", "pselect", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_wait", "epoll_pwait",
    "time", "clock", "clock_gettime", "clock_getres", "gettimeofday", "timespec_get", "ftime",
    "timer_create", "timer_settime", "timerfd_create", "timerfd_settime", "setitimer", "alarm",
    "sleep", "usleep", "nanosleep", "clock_nanosleep", "daemon_wallclock",
]
# A call: the name not preceded by an identifier character or a member
# access (`ops->send(` and `x.time(` are someone's function pointers).
CALL_RE = re.compile(
    r"(?<![\w.>$])(" + "|".join(DENY_CALLS) + r"|uv_\w+)\s*\("
)


def fail_usage(msg):
    print(f"check-layering: {msg}", file=sys.stderr)
    sys.exit(2)


def read_graph(root):
    """{folder: set of folders it may include}, the no-io folders."""
    path = os.path.join(root, GRAPH_FILE)
    allowed, no_io = {}, set()
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as e:
        fail_usage(f"cannot read {GRAPH_FILE}: {e}")
    for n, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if ":" not in line:
            fail_usage(f"{GRAPH_FILE}:{n}: expected '<folder>: <folders>'")
        name, deps = line.split(":", 1)
        name, deps = name.strip(), set(deps.split())
        if name == "no-io":
            no_io |= deps
        elif name in allowed:
            fail_usage(f"{GRAPH_FILE}:{n}: '{name}' listed twice")
        else:
            allowed[name] = deps
    modules = set(allowed) - {"fuzz"}
    for name, deps in allowed.items():
        for d in deps | (no_io if name == "fuzz" else set()):
            if d not in modules:
                fail_usage(f"{GRAPH_FILE}: '{name}' names '{d}', which is not a module")
    for d in no_io:
        if d not in modules:
            fail_usage(f"{GRAPH_FILE}: no-io names '{d}', which is not a module")
    return allowed, modules, no_io


def strip_comments_and_strings(text):
    """The text with comments and string/char literals blanked, newlines kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + c)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def source_files(root, folder):
    base = os.path.join(root, folder)
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for f in sorted(filenames):
            if f.endswith((".c", ".h")):
                yield os.path.relpath(os.path.join(dirpath, f), root)


def check(root):
    allowed, modules, no_io = read_graph(root)
    problems = []
    real = {}  # folder -> {included folder: first file:line}

    # (folder of the rule, files, modules it may include, whose impl.h it may include)
    scopes = []
    for m in sorted(modules):
        scopes.append((m, list(source_files(root, m)), allowed[m] | {m}, {m}))
    if "fuzz" in allowed:
        # Harnesses drive module internals, as unit tests do.
        scopes.append(("fuzz", list(source_files(root, "fuzz")), allowed["fuzz"], allowed["fuzz"]))
    for m in sorted(modules):
        t = os.path.join("tests", "unit", m)
        if os.path.isdir(os.path.join(root, t)):
            scopes.append((t, list(source_files(root, t)), allowed[m] | {m}, {m}))

    for scope, files, may, impl_ok in scopes:
        for rel in files:
            try:
                text = open(os.path.join(root, rel), encoding="utf-8", errors="replace").read()
            except OSError as e:
                problems.append(f"{rel}: cannot read: {e}")
                continue
            code = strip_comments_and_strings(text)
            raw_lines = text.splitlines()
            for n, line in enumerate(code.splitlines(), 1):
                # Includes are read from the raw line (the path is a string).
                m_inc = INCLUDE_RE.match(raw_lines[n - 1]) if line.lstrip().startswith("#") else None
                if m_inc:
                    kind, path = m_inc.groups()
                    if kind == '"' and "/" in path:
                        folder = path.split("/", 1)[0]
                        if folder in modules:
                            real.setdefault(scope, {}).setdefault(folder, f"{rel}:{n}")
                            if folder not in may:
                                problems.append(
                                    f"{rel}:{n}: {scope} may not include {folder}/ "
                                    f"(\"{path}\"; allowed: {', '.join(sorted(may)) or 'none'}; "
                                    f"see {GRAPH_FILE})")
                            elif path == f"{folder}/impl.h" and folder not in impl_ok:
                                problems.append(
                                    f"{rel}:{n}: {path} is private to {folder}/ and its unit tests")
                    if scope in no_io and path in DENY_HEADERS:
                        problems.append(f"{rel}:{n}: {scope}/ does no I/O and reads no clock: "
                                        f"#include {kind}{path}{'>' if kind == '<' else kind}")
                    continue
                if scope in no_io:
                    for call in CALL_RE.finditer(line):
                        problems.append(f"{rel}:{n}: {scope}/ does no I/O and reads no clock: "
                                        f"{call.group(1)}() (callers pass `now`)")
    problems += check_cmake(root, allowed, modules)
    return problems, real


def check_cmake(root, allowed, modules):
    """Every module a module's CMakeLists.txt links must be allowed too."""
    problems = []
    for m in sorted(modules):
        rel = os.path.join(m, "CMakeLists.txt")
        try:
            text = open(os.path.join(root, rel), encoding="utf-8").read()
        except OSError:
            continue
        text = re.sub(r"#[^\n]*", "", text)
        for call in LINK_RE.finditer(text):
            n = text.count("\n", 0, call.start()) + 1
            for lib in call.group(1).split()[1:]:
                if lib in modules and lib != m and lib not in allowed[m]:
                    problems.append(f"{rel}:{n}: {m} links {lib}, which {GRAPH_FILE} does not "
                                    f"allow it to include")
    return problems


def main_check(root):
    problems, real = check(root)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"check-layering: {len(problems)} violation(s); the allowed graph is {GRAPH_FILE}",
              file=sys.stderr)
        return 1
    graph = "; ".join(f"{k} -> {', '.join(sorted(set(v) - {k})) or 'nothing'}"
                      for k, v in sorted(real.items())
                      if not k.startswith("tests/"))
    print(f"check-layering: ok ({graph})")
    return 0


def self_test():
    """Copies the graph into a scratch tree and shows that every rule fires
    on a planted violation, and that the allowed forms pass."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cases = [
        # (file, text, expected substring or None for "passes")
        ("cache/bad.c", '#include "resolver/resolver.h"\n', "cache may not include resolver/"),
        ("util/bad.h", '#include "dns/dns.h"\n', "util may not include dns/"),
        ("upstream/bad.c", '#include "cache/impl.h"\n', "upstream may not include cache/"),
        ("daemon/bad.c", '#include "cache/impl.h"\n', "cache/impl.h is private"),
        ("tests/unit/dns/test_bad.c", '#include "cache/cache.h"\n', "may not include cache/"),
        ("resolver/bad.c", "#include <uv.h>\n", "#include <uv.h>"),
        ("resolver/bad2.c", "void f(void)\n{\n\tstruct timespec ts;\n"
                            "\tclock_gettime(CLOCK_MONOTONIC, &ts);\n}\n",
         "resolver/bad2.c:4: resolver/ does no I/O and reads no clock: clock_gettime()"),
        ("cache/bad2.c", "int f(int fd) { return send (fd, 0, 0, 0); }\n", "send()"),
        ("cache/bad3.c", "unsigned long f(void) { return (unsigned long)time(NULL); }\n", "time()"),
        ("resolver/bad3.c", "void f(void *l) { uv_run(l, 0); }\n", "uv_run()"),
        ("resolver/good.c",
         '#include <sys/socket.h>\n#include "cache/cache.h"\n#include "dns/dns.h"\n'
         "/* clock_gettime() is the daemon's business; so is send(). */\n"
         "struct sockaddr_storage a;\n"
         "void g(struct ops *o) { o->send(1); o->time(2); resolver_send(3); "
         "log(\"time(\"); }\n",
         None),
        ("tests/unit/cache/test_good.c", '#include "cache/impl.h"\n#include "util/log.h"\n',
         None),
        ("fuzz/good.c", '#include "resolver/resolver.h"\n', None),
        ("cache/CMakeLists.txt", "add_library(cache STATIC a.c)\n"
                                 "target_link_libraries(cache PUBLIC util\n\tPRIVATE resolver)\n",
         "cache/CMakeLists.txt:2: cache links resolver"),
        ("resolver/CMakeLists.txt", "# resolver links cache\n"
                                    "target_link_libraries(resolver PUBLIC cache PRIVATE dns util)\n",
         None),
    ]
    failures = 0
    for rel, text, expect in cases:
        with tempfile.TemporaryDirectory(prefix="layering-") as tmp:
            os.makedirs(os.path.join(tmp, "docs"))
            shutil.copy(os.path.join(repo, GRAPH_FILE), os.path.join(tmp, GRAPH_FILE))
            os.makedirs(os.path.join(tmp, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(tmp, rel), "w", encoding="utf-8") as f:
                f.write(text)
            r = subprocess.run([sys.executable, os.path.abspath(__file__), "--root", tmp],
                               capture_output=True, text=True)
            out = r.stdout + r.stderr
            if expect is None:
                ok = r.returncode == 0
            else:
                ok = r.returncode == 1 and expect in out and rel in out
            if not ok:
                failures += 1
                print(f"check-layering self-test: {rel}: expected "
                      f"{'a pass' if expect is None else repr(expect)}, got exit "
                      f"{r.returncode}:\n{out}", file=sys.stderr)
    if failures:
        return 1
    print(f"check-layering: self-test ok ({len(cases)} cases)")
    return 0


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    args = argv[1:]
    if args == ["--self-test"]:
        return self_test()
    if len(args) == 2 and args[0] == "--root":
        root = args[1]
    elif args:
        fail_usage("usage: check-layering.py [--root DIR] | --self-test")
    return main_check(root)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
