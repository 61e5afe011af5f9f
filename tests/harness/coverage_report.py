#!/usr/bin/env python3
"""coverage_report.py - per-folder line and branch coverage from an lcov
tracefile (`make coverage` writes build/cov/coverage.info).

  coverage_report.py FILE.info            one line per product folder
  coverage_report.py FILE.info --files    and one line per file
  coverage_report.py FILE.info --markdown the same as a Markdown table

Folders are the layers (base, sources, plan, dsl, engine, sinks, sync, service, cli);
generated files (build/gen) and tests are left out. Standard library only.
"""
import os
import sys

FOLDERS = ["base", "sources", "plan", "dsl", "engine", "sinks", "sync", "service", "cli"]


def read(path):
    """{source file: {LF, LH, BRF, BRH}} counted from the DA and BRDA records
    (lcov does not always write the LF/LH summaries). A file that comes in
    more than one record (a unit test that compiles a driver file into
    itself, to reach its static functions) counts each line and each branch
    once: covered when any record covers it."""
    da, br, cur = {}, {}, None
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.strip()
        if line.startswith("SF:"):
            cur = os.path.normpath(line[3:])
            da.setdefault(cur, {})
            br.setdefault(cur, {})
        elif cur is not None and line.startswith("DA:"):
            ln, hits = line[3:].split(",")[:2]
            da[cur][ln] = da[cur].get(ln, False) or hits not in ("0", "-")
        elif cur is not None and line.startswith("BRDA:"):
            ln, block, branch, taken = line[5:].split(",")
            key = (ln, block, branch)
            br[cur][key] = br[cur].get(key, False) or taken not in ("0", "-")
        elif line == "end_of_record":
            cur = None
    return {f: {"LF": len(da[f]), "LH": sum(da[f].values()), "BRF": len(br[f]), "BRH": sum(br[f].values())}
            for f in da}


def pct(h, f):
    return f"{100.0 * h / f:5.1f} %" if f else "   - "


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    files = read(sys.argv[1])
    md = "--markdown" in sys.argv
    root = os.getcwd()
    rows = {}
    per_file = []
    for path, c in files.items():
        rel = os.path.relpath(path, root)
        folder = rel.split(os.sep)[0]
        if folder not in FOLDERS:
            continue
        agg = rows.setdefault(folder, {"LF": 0, "LH": 0, "BRF": 0, "BRH": 0, "n": 0})
        for k in ("LF", "LH", "BRF", "BRH"):
            agg[k] += c[k]
        agg["n"] += 1
        per_file.append((rel, c))
    tot = {k: sum(r[k] for r in rows.values()) for k in ("LF", "LH", "BRF", "BRH")}
    if md:
        print("| folder | files | lines | branches |")
        print("| --- | ---: | ---: | ---: |")
    else:
        print(f"{'folder':<10} {'files':>5} {'lines':>20} {'branches':>20}")
    for f in FOLDERS + ["total"]:
        r = rows.get(f) if f != "total" else dict(tot, n=sum(x["n"] for x in rows.values()))
        if not r:
            continue
        lines = f"{pct(r['LH'], r['LF'])} ({r['LH']}/{r['LF']})"
        br = f"{pct(r['BRH'], r['BRF'])} ({r['BRH']}/{r['BRF']})"
        if md:
            print(f"| {f} | {r['n']} | {lines} | {br} |")
        else:
            print(f"{f:<10} {r['n']:>5} {lines:>20} {br:>20}")
    if "--files" in sys.argv:
        print()
        for rel, c in sorted(per_file):
            print(f"{rel:<28} {pct(c['LH'], c['LF'])} ({c['LH']}/{c['LF']})  "
                  f"{pct(c['BRH'], c['BRF'])} ({c['BRH']}/{c['BRF']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
