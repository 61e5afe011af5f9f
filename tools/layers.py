#!/usr/bin/env python3
"""layers.py - checks that sql2es's folders are layers and prints the include graph.

Folders, from the top down (a folder may include only folders below it):

    cli -> service -> sync -> engine, sinks -> dsl -> plan -> sources -> base

Checks, each printed as a TAP line ("ok - ..." / "not ok - ..."):
  * no #include of a folder above (or beside) the includer's;
  * the file-level include graph has no cycle;
  * each third-party client header is included by exactly one file;
  * with --objects DIR: no two files call each other (from `nm` of the objects).

  tools/layers.py [--graph] [--objects BUILD_DIR]
    --graph   print the folder graph and each file's floor (longest include chain)
"""
import os
import re
import subprocess
import sys

LAYERS = [["cli"], ["service"], ["sync"], ["engine", "sinks"], ["dsl"], ["plan"], ["sources"], ["base"]]
RANK = {f: len(LAYERS) - i for i, fs in enumerate(LAYERS) for f in fs}
THIRD_PARTY = ["yaml.h", "curl/curl.h", "cjson/cJSON.h", "libpq-fe.h", "pcre2.h", "sqlite3.h",
               "mysql.h", "microhttpd.h"]
INC = re.compile(r'^\s*#\s*include\s+([<"])([^>"]+)[>"]', re.M)

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(root)

files = []
for folder in RANK:
    for name in sorted(os.listdir(folder)):
        if name.endswith((".c", ".h")):
            files.append(folder + "/" + name)

includes = {}  # file -> [included project file]
system = {}    # file -> [<header>]
for f in files:
    text = open(f, encoding="utf-8").read()
    # third-party headers: also the ones pulled in under a guard
    includes[f] = []
    system[f] = []
    for kind, path in INC.findall(text):
        if kind == '"':
            includes[f].append(path)
        else:
            system[f].append(path)

failed = 0
checks = 0


def report(ok, name, detail=()):
    global failed, checks
    checks += 1
    print(("ok - " if ok else "not ok - ") + name)
    for line in detail:
        print("#   " + line)
    if not ok:
        failed += 1


# 1. direction
bad = []
for f in files:
    src = f.split("/")[0]
    for inc in includes[f]:
        dst = inc.split("/")[0]
        if inc not in includes and not os.path.exists(inc):
            bad.append(f"{f}: includes \"{inc}\", which is not a project path from the top")
            continue
        if dst == src:
            continue
        if dst not in RANK:
            bad.append(f"{f}: includes {inc} outside the layers")
        elif RANK[dst] >= RANK[src]:
            bad.append(f"{f} ({src}) includes {inc} ({dst}): not below it")
report(not bad, "layers: every include points down", bad)

# 2. no cycle in the file include graph
graph = {f: [i for i in includes[f] if i in includes] for f in files}
cycle = []
state = {}


def dfs(n, stack):
    state[n] = 1
    stack.append(n)
    for m in graph[n]:
        if state.get(m) == 1:
            cycle.append(" -> ".join(stack[stack.index(m):] + [m]))
        elif m not in state:
            dfs(m, stack)
    stack.pop()
    state[n] = 2


for f in files:
    if f not in state:
        dfs(f, [])
report(not cycle, "layers: no include cycle", cycle)

# 3. each third-party header in one file
detail = []
for h in THIRD_PARTY:
    users = [f for f in files if h in system[f]]
    if len(users) != 1:
        detail.append(f"<{h}> included by {len(users)} files: {', '.join(users) or 'none'}")
report(not detail, "layers: each third-party client header is included by one file", detail)

# 4. no two files call each other (needs the objects)
if "--objects" in sys.argv:
    build = sys.argv[sys.argv.index("--objects") + 1]
    defined, used = {}, {}
    for f in files:
        if not f.endswith(".c"):
            continue
        obj = os.path.join(build, f[:-2] + ".o")
        if not os.path.exists(obj):
            report(False, f"layers: object {obj} exists (run make first)")
            continue
        out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
        defined[f], used[f] = set(), set()
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "TDRB":
                defined[f].add(parts[2])
            elif len(parts) == 2 and parts[0] == "U":
                used[f].add(parts[1])
    owner = {s: f for f, syms in defined.items() for s in syms}
    calls = {f: {owner[s] for s in used[f] if s in owner and owner[s] != f} for f in used}
    mutual = sorted({tuple(sorted((a, b))) for a in calls for b in calls[a] if a in calls.get(b, ())})
    report(not mutual, "layers: no two files call each other",
           [f"{a} <-> {b}" for a, b in mutual])
    up = []
    for a in calls:
        for b in calls[a]:
            sa, sb = a.split("/")[0], b.split("/")[0]
            if sa != sb and RANK[sb] >= RANK[sa]:
                up.append(f"{a} ({sa}) calls into {b} ({sb})")
    report(not up, "layers: every call points down", sorted(up))

if "--graph" in sys.argv:
    edges = set()
    for f in files:
        for inc in includes[f]:
            s, d = f.split("/")[0], inc.split("/")[0]
            if s != d and d in RANK:
                edges.add((s, d))
    print("# folder graph (top down):")
    for fs in LAYERS:
        for s in fs:
            outs = sorted({d for a, d in edges if a == s}, key=lambda x: -RANK[x])
            print(f"#   {s:8s} -> {', '.join(outs) if outs else '(nothing)'}")
    floor = {}

    def depth(n, seen=()):
        if n in floor:
            return floor[n]
        if n in seen:
            return 0
        d = 1 + max([depth(m, seen + (n,)) for m in graph[n]] or [0])
        floor[n] = d
        return d

    deepest = max(files, key=depth)
    print(f"# include graph: {len(files)} files, {max(floor.values())} floors deep (deepest: {deepest})")

print(f"# {checks} checks, {failed} failed")
sys.exit(1 if failed else 0)
