#!/usr/bin/env python3
"""mutate.py - mutation score of the test suite per product folder (`make mutate`).

Mutants come from universalmutator (PyPI `universalmutator`, its C rules):
every one-token change it knows (operators, constants, conditions, deleted
statements...). The sample is reproducible: for each folder, the mutants of
all its .c files are listed in a fixed order and shuffled with --seed; the
first --per-folder that compile are run. A mutant whose object code equals
the original's (the compiler proved it equivalent) is set aside and not
counted. Each mutant is built in a copy of the tree (build/mutate/tree: the
working tree is never touched) and the suites that matter for its folder are
run (SUITES below); the mutant is killed when any check fails, a suite exits
non-zero, a plan is not met, or a suite runs past --timeout. A mutant the
plain build lets through is judged again with the sanitizer build
(AddressSanitizer, LeakSanitizer, UBSan: what `make test` also runs), so a
leak or an out-of-bounds write counts as caught, and the report says which
judgement caught it (--no-sanitize: plain only). Servers (PostgreSQL,
MariaDB, OpenSearch) are started once and shared by all mutants.

  tests/harness/mutate.py [--per-folder N] [--seed S] [--folders a,b]
                          [--budget SECONDS] [--timeout SECONDS] [--report FILE]
                          [--work DIR]   (another DIR for a second run at the same time)
                          [--jobs N]     (make -jN, default 2)
  tests/harness/mutate.py --smoke     one mutant of base/md5.c, must be killed

Prints one line per mutant and a table per folder: score = killed / (killed
+ survived); survivors are listed with their diff line to judge by hand.
"""
import argparse
import difflib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
WORK = os.path.join(ROOT, "build", "mutate")
TREE = os.path.join(WORK, "tree")

# folder -> (make targets, suites); "unit:NAME" runs one unit binary. The
# targets are what the suites run (sql2es, the unit binaries, the suites'
# integration binaries): relinking every test binary for each mutant cost
# more than running the tests.
UNIT = "unit:"
SQL2ES = "build/sql2es"


def T(*names):
    return [SQL2ES] + ["build/tests/" + n for n in names]


SUITES = {
    "base": (T("test_core", "test_md5", "test_interp", "test_yaml", "test_state"),
             [UNIT + "test_core", UNIT + "test_md5", UNIT + "test_interp",
              UNIT + "test_yaml", UNIT + "test_state", "golden"]),
    "plan": (T("test_lower"), [UNIT + "test_lower", "golden"]),
    "dsl": (T("test_yaml", "test_check", "test_lower"),
            [UNIT + "test_yaml", UNIT + "test_check", UNIT + "test_lower", "golden"]),
    "engine": (T("test_interp", "test_lower"), [UNIT + "test_interp", UNIT + "test_lower", "golden"]),
    "sources": (T("test_sqlite_driver", "test_source_util", "itest_postgresql", "itest_mysql"),
                [UNIT + "test_sqlite_driver", UNIT + "test_source_util", "postgresql", "mariadb"]),
    "sinks": (T("test_es_reply", "test_es_client", "test_es_http", "test_sinks", "itest_es"),
              [UNIT + "test_es_reply", UNIT + "test_es_client", UNIT + "test_es_http",
               UNIT + "test_sinks", "es-sink"]),
    "sync": (["all", "unit"], [UNIT + "test_state", UNIT + "test_idset", "sync-sqlite"]),
    "cli": (["all"], ["golden", "examples"]),
}
FOLDERS = ["base", "sources", "plan", "dsl", "engine", "sinks", "sync", "cli"]


def sh(cmd, cwd=ROOT, timeout=None, env=None):
    p = subprocess.run(cmd, cwd=cwd, shell=isinstance(cmd, str), capture_output=True,
                       text=True, errors="replace", timeout=timeout, env=env)
    return p.returncode, p.stdout + p.stderr


def copy_tree():
    """The tracked files of the working tree (with uncommitted edits) in TREE."""
    os.makedirs(TREE, exist_ok=True)  # an existing copy keeps its build
    rc, out = sh(["git", "ls-files", "-z"])
    if rc:
        sys.exit("mutate: git ls-files failed: " + out)
    for rel in out.split("\0"):
        if not rel or rel.startswith("build/"):
            continue
        src, dst = os.path.join(ROOT, rel), os.path.join(TREE, rel)
        if not os.path.isfile(src):
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.exists(dst) or open(src, "rb").read() != open(dst, "rb").read():
            shutil.copy(src, dst)  # a fresh mtime: make rebuilds what changed
    # the test node's Java build is shared, not rebuilt
    target = os.path.join(ROOT, "tests", "opensearch", "target")
    link = os.path.join(TREE, "tests", "opensearch", "target")
    if os.path.isdir(target) and not os.path.lexists(link):
        os.symlink(target, link)


def mutants_of(rel):
    """Sorted list of mutant files of product file rel (generated once), made
    from the tree copy: the working tree may change while a run lasts."""
    d = os.path.join(WORK, "mutants", rel.replace("/", "_"))
    stamp = os.path.join(d, ".source")
    src = open(os.path.join(TREE, rel), "rb").read()
    if not (os.path.exists(stamp) and open(stamp, "rb").read() == src):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        tmp = os.path.join(d, os.path.basename(rel))
        shutil.copy2(os.path.join(TREE, rel), tmp)
        rc, out = sh(["mutate", os.path.basename(rel), "c", "--noCheck", "--mutantDir", d], cwd=d)
        os.remove(tmp)
        if rc:
            sys.exit(f"mutate: universalmutator failed on {rel}: {out[-500:]}")
        open(stamp, "wb").write(src)
    num = re.compile(r"\.mutant\.(\d+)\.c$")
    ms = [f for f in os.listdir(d) if num.search(f)]
    return sorted((os.path.join(d, f) for f in ms), key=lambda f: int(num.search(f).group(1)))


def diff_line(orig, mut):
    """(line, before, after) of the mutant's change; an inserted line (a
    statement added before line N) reads `(inserted)` -> the new line, a
    deleted one the old line -> `(deleted)`."""
    a, b = open(orig).read().splitlines(), open(mut).read().splitlines()
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        before = " / ".join(x.strip() for x in a[i1:i2]) or "(inserted)"
        after = " / ".join(y.strip() for y in b[j1:j2]) or "(deleted)"
        return i1 + 1, before, after
    return 0, "", ""


def obj_of(rel):
    return os.path.join("build", rel[:-2] + ".o")


def stripped(obj):
    fd, out = tempfile.mkstemp(suffix=".o")
    os.close(fd)
    rc, _ = sh(["objcopy", "--strip-debug", obj, out])
    data = open(out, "rb").read() if rc == 0 else None
    os.remove(out)
    return data


SAN = "address,undefined"


def san_targets(targets):
    """The sanitizer build's paths of plain-build targets (build/X -> build/san/X)."""
    return [t.replace("build/", "build/san/", 1) if t.startswith("build/") else t for t in targets]


def run_suites(folder, env, timeout, san=False):
    """None when every suite passed, else the reason the mutant is killed."""
    for s in SUITES[folder][1]:
        try:
            if s.startswith(UNIT):
                bdir = os.path.join(TREE, "build", "san") if san else os.path.join(TREE, "build")
                rc, out = sh([os.path.join(bdir, "tests", s[len(UNIT):])], cwd=TREE,
                             timeout=timeout, env=env)
            else:
                path = [f for f in os.listdir(os.path.join(TREE, "tests", "suites"))
                        if re.fullmatch(r"\d\d-" + re.escape(s) + r"\.sh", f)]
                if not path:
                    return f"no suite {s}"
                rc, out = sh(["bash", os.path.join("tests", "suites", path[0])], cwd=TREE,
                             timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return f"{s}: timeout"
        lines = out.splitlines()
        nok = [l for l in lines if l.startswith("not ok - ")]
        ran = sum(1 for l in lines if l.startswith("ok - ")) + len(nok)
        planned = sum(int(l[3:]) for l in lines if re.fullmatch(r"1\.\.\d+", l))
        if nok:
            return f"{s}: {nok[0][:100]}"
        if rc:
            return f"{s}: exit {rc}"
        if ran != planned:
            return f"{s}: planned {planned}, ran {ran}"
    return None


def main():
    global WORK, TREE
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-folder", type=int, default=12)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--folders", default=",".join(FOLDERS))
    ap.add_argument("--budget", type=float, default=3600, help="seconds for the whole run")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per suite run")
    ap.add_argument("--report", default=None, help="default: WORK/report.md")
    ap.add_argument("--work", default=WORK,
                    help="directory of the tree copy and the mutants (one per concurrent run)")
    ap.add_argument("--jobs", type=int, default=2, help="make -j for the builds")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--no-sanitize", action="store_true",
                    help="judge with the plain build only (no second judgement of survivors)")
    a = ap.parse_args()
    WORK = os.path.abspath(a.work)
    TREE = os.path.join(WORK, "tree")
    if a.report is None:
        a.report = os.path.join(WORK, "report.md")
    if shutil.which("mutate") is None:
        sys.exit("mutate: universalmutator is not installed (pip install universalmutator)")
    folders = a.folders.split(",")
    only_file = None
    if a.smoke:
        folders, a.per_folder, only_file = ["base"], 1, "base/md5.c"
        SUITES["base"] = (["build/tests/test_md5"], [UNIT + "test_md5"])

    os.makedirs(WORK, exist_ok=True)
    copy_tree()
    t0 = time.time()
    print(f"# building the tree copy ({TREE})", flush=True)
    rc, out = sh(["make", "-s", f"-j{a.jobs}", "all", "unit"], cwd=TREE)
    if rc:
        sys.exit("mutate: the unmutated tree does not build:\n" + out[-2000:])
    if not a.no_sanitize:
        rc, out = sh(["make", "-s", f"-j{a.jobs}", f"SANITIZE={SAN}", "all", "unit"], cwd=TREE)
        if rc:
            sys.exit("mutate: the unmutated tree's sanitizer build fails:\n" + out[-2000:])

    env = dict(os.environ)
    tmp = tempfile.mkdtemp(prefix="sql2es-mutate.")
    env.update(SQL2ES_ROOT=TREE, SQL2ES_TEST_TMP=tmp, SQL2ES_BUILD=os.path.join(TREE, "build"),
               SQL2ES_BIN=os.path.join(TREE, "build", "sql2es"),
               # one build: the sanitizer variants run the same (plain) binaries
               SQL2ES_SAN_BUILD=os.path.join(TREE, "build"),
               SQL2ES_SAN_BIN=os.path.join(TREE, "build", "sql2es"))
    env.pop("UPDATE_GOLDEN", None)
    # the second judgement: the sanitizer build in both places
    env_san = dict(env, SQL2ES_BIN=os.path.join(TREE, "build", "san", "sql2es"),
                   SQL2ES_SAN_BUILD=os.path.join(TREE, "build", "san"),
                   SQL2ES_SAN_BIN=os.path.join(TREE, "build", "san", "sql2es"))
    # the unmutated tree must pass every suite that will judge the mutants
    for f in folders:
        why = run_suites(f, env, a.timeout) or (
            None if a.no_sanitize else run_suites(f, env_san, a.timeout, san=True))
        if why:
            sh(["bash", "tests/harness/services.sh", "stop"], cwd=TREE, env=env)
            sys.exit(f"mutate: the unmutated tree fails ({f}): {why}")
    results = {}
    try:
        for folder in folders:
            res = results.setdefault(folder, {"killed": 0, "killed_san": 0, "survived": 0, "invalid": 0,
                                              "equivalent": 0, "survivors": [], "skipped": 0})
            files = sorted(os.path.relpath(os.path.join(folder, f), ".")
                           for f in os.listdir(os.path.join(TREE, folder)) if f.endswith(".c"))
            if only_file:
                files = [only_file]
            pool = [(rel, m) for rel in files for m in mutants_of(rel)]
            random.Random(f"{a.seed}:{folder}").shuffle(pool)
            done = 0
            for rel, m in pool:
                if done >= a.per_folder:
                    break
                if time.time() - t0 > a.budget:
                    res["skipped"] = a.per_folder - done
                    print(f"# {folder}: time budget spent", flush=True)
                    break
                orig = os.path.join(TREE, rel)
                saved = open(orig, "rb").read()
                obj = os.path.join(TREE, obj_of(rel))
                before = stripped(obj)
                line, x, y = diff_line(orig, m)
                tag = f"{rel}:{line} {os.path.basename(m)}"
                try:
                    shutil.copy(m, orig)
                    rc, out = sh(["make", "-s", obj_of(rel)], cwd=TREE)
                    if rc:
                        res["invalid"] += 1
                        continue
                    if stripped(obj) == before:
                        res["equivalent"] += 1
                        print(f"equivalent (same object code)  {tag}", flush=True)
                        continue
                    rc, out = sh(["make", "-s", f"-j{a.jobs}"] + SUITES[folder][0], cwd=TREE)
                    if rc:  # the object compiled, the program does not link (put1 -> put0)
                        res["invalid"] += 1
                        print(f"invalid (does not link)  {tag}", flush=True)
                        continue
                    done += 1
                    why = run_suites(folder, env, a.timeout)
                    if not why and not a.no_sanitize:
                        rc, out = sh(["make", "-s", f"-j{a.jobs}", f"SANITIZE={SAN}"] +
                                     san_targets(SUITES[folder][0]), cwd=TREE)
                        why = f"sanitizer build fails: {out[-200:]}" if rc else \
                            run_suites(folder, env_san, a.timeout, san=True)
                        if why:
                            why = "sanitizer build: " + why
                            res["killed_san"] += 1
                    if why:
                        res["killed"] += 1
                        print(f"killed    {tag}  ({why})", flush=True)
                    else:
                        res["survived"] += 1
                        res["survivors"].append(f"{rel}:{line}: `{x}` -> `{y}`")
                        print(f"SURVIVED  {tag}\n    - {x}\n    + {y}", flush=True)
                finally:
                    open(orig, "wb").write(saved)
                    os.utime(orig)
            # back to the original objects
            sh(["make", "-s", f"-j{a.jobs}"] + SUITES[folder][0], cwd=TREE)
    finally:
        sh(["bash", "tests/harness/services.sh", "stop"], cwd=TREE, env=env)
        shutil.rmtree(tmp, ignore_errors=True)

    lines = [f"Seed {a.seed}, {a.per_folder} mutants per folder, "
             f"{time.time() - t0:.0f} s.", "",
             "| folder | run | killed | of which only by the sanitizer build | survived | score | not compiling | same object code |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    tk = ts = 0
    for f in folders:
        r = results.get(f)
        if not r:
            continue
        n = r["killed"] + r["survived"]
        tk, ts = tk + r["killed"], ts + r["survived"]
        score = f"{100.0 * r['killed'] / n:.0f} %" if n else "-"
        lines.append(f"| {f} | {n} | {r['killed']} | {r['killed_san']} | {r['survived']} | {score} | "
                     f"{r['invalid']} | {r['equivalent']} |")
    n = tk + ts
    lines.append(f"| total | {n} | {tk} | | {ts} | {100.0 * tk / n:.0f} % | | |" if n else "| total | 0 | | | | | | |")
    lines += ["", "Survivors:"]
    for f in folders:
        for s in results.get(f, {}).get("survivors", []):
            lines.append(f"- {s}")
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(a.report), exist_ok=True)
    open(a.report, "w").write(text)
    print(text)
    if a.smoke:
        return 0 if tk == 1 and ts == 0 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
