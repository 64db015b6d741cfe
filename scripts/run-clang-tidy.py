#!/usr/bin/python3
"""run-clang-tidy.py - the static-analysis leg of `make test` (`make tidy`).

Runs clang-tidy (checks in .clang-tidy) on every source file of the tree
named in BUILD_DIR/compile_commands.json, in parallel, and fails on any
finding whose `file:check` is not listed in .clang-tidy-baseline, and on
any file clang-tidy cannot parse. Findings in headers are reported once.
Baseline entries that no longer match a finding are printed so they can be
removed; they do not fail the run.

It does not fix anything, and does not read NOLINT budgets: the baseline is
the only way a finding is let through.

  scripts/run-clang-tidy.py BUILD_DIR [JOBS]
Exit status: 0 clean, 1 new findings or clang-tidy errors, 2 usage.
"""
import concurrent.futures
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASELINE = ".clang-tidy-baseline"
CLANG_TIDY = os.environ.get("CLANG_TIDY", "clang-tidy")
FINDING_RE = re.compile(r"^(/[^:]+):(\d+):(\d+): (warning|error): (.*) \[([\w.,-]+)\]$")


def sources(build_dir):
    with open(os.path.join(build_dir, "compile_commands.json"), encoding="utf-8") as f:
        commands = json.load(f)
    files = set()
    for c in commands:
        path = os.path.realpath(os.path.join(c.get("directory", ""), c["file"]))
        rel = os.path.relpath(path, ROOT)
        if rel.startswith("..") or rel.split(os.sep, 1)[0].startswith("build"):
            continue
        files.add(path)
    return sorted(files)


def read_baseline():
    allowed = set()
    path = os.path.join(ROOT, BASELINE)
    if not os.path.exists(path):
        return allowed
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if line:
            allowed.add(line)
    return allowed


def tidy(build_dir, path):
    r = subprocess.run([CLANG_TIDY, "-p", build_dir, "--quiet", path],
                       capture_output=True, text=True)
    return path, r.returncode, r.stdout, r.stderr


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.split("\n\n")[-2], file=sys.stderr)
        return 2
    build_dir = os.path.abspath(argv[1])
    jobs = int(argv[2]) if len(argv) == 3 else os.cpu_count() or 1
    files = sources(build_dir)
    if not files:
        print("run-clang-tidy: no source files in compile_commands.json", file=sys.stderr)
        return 1
    baseline = read_baseline()
    findings = {}  # (rel, line, col, check) -> text
    broken = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for path, rc, out, err in pool.map(lambda p: tidy(build_dir, p), files):
            for line in out.splitlines():
                m = FINDING_RE.match(line)
                if not m:
                    continue
                fpath, ln, col, kind, msg, checks = m.groups()
                rel = os.path.relpath(os.path.realpath(fpath), ROOT)
                for check in checks.split(","):
                    if kind == "error" and check.startswith("clang-diagnostic"):
                        broken.append(f"{rel}:{ln}:{col}: {msg} [{check}]")
                    else:
                        findings[(rel, int(ln), int(col), check)] = msg
            if rc != 0 and not broken:
                broken.append(f"{os.path.relpath(path, ROOT)}: clang-tidy exited {rc}: "
                              f"{err.strip()[-500:]}")
    new, used = [], set()
    for (rel, ln, col, check), msg in sorted(findings.items()):
        key = f"{rel}:{check}"
        if key in baseline:
            used.add(key)
        else:
            new.append(f"{rel}:{ln}:{col}: {msg} [{check}]")
    for b in sorted(baseline - used):
        print(f"run-clang-tidy: {BASELINE}: '{b}' no longer matches a finding; remove it")
    for line in broken + new:
        print(line, file=sys.stderr)
    if broken or new:
        print(f"run-clang-tidy: {len(new)} new finding(s), {len(broken)} error(s) in "
              f"{len(files)} files (checks: .clang-tidy; accepted: {BASELINE})", file=sys.stderr)
        return 1
    print(f"run-clang-tidy: ok, {len(files)} files, {len(findings)} finding(s) all in {BASELINE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
