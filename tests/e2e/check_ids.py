#!/usr/bin/env python3
"""check_ids.py OUT N [--kids] - OUT is a dry run of a table with ids 1..N (document _id =
id): every id must appear exactly once (no duplicate, no lost row) and the
NDJSON must be well formed (action/source pairs; every 100th source parsed in full). With --kids, every source is parsed and its relation array `kids` must be exactly
[{"k": 2*id-1}, {"k": 2*id}] (the fixture of suite 53: two children per parent).
Prints "# ..." lines on differences."""
import json
import re
import sys


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    kids = "--kids" in sys.argv[3:]
    prefix = ""
    seen = {}
    bad = []
    with open(path, "rb") as f:
        lines = f.read().decode("utf-8").split("\n")
    if lines[-1] != "":
        bad.append("last line has no newline")
    lines = lines[:-1]
    if len(lines) % 2:
        bad.append("odd number of lines: %d" % len(lines))
    action = re.compile(r'\{"index":\{"_index":"[^"\\]*","_id":"([^"\\]*)"\}\}$')
    for i in range(0, len(lines) - 1, 2):
        m = action.match(lines[i])
        a = {"index": {"_id": m.group(1)}} if m else json.loads(lines[i])
        if kids:
            src = json.loads(lines[i + 1])
            n_id = int(src.get("id", 0))
            if src.get("kids") != [{"k": 2 * n_id - 1}, {"k": 2 * n_id}] and len(bad) < 5:
                bad.append("document %s: kids %r" % (n_id, src.get("kids")))
        elif i % 200 == 0:  # sources: every 100th parsed in full (speed), all checked for shape
            json.loads(lines[i + 1])
        elif not (lines[i + 1].startswith("{") and lines[i + 1].endswith("}")):
            bad.append("line %d is not a JSON object" % (i + 2))
        _id = a["index"]["_id"]
        seen[_id] = seen.get(_id, 0) + 1
    want = {prefix + str(i) for i in range(1, n + 1)}
    dups = sorted((k for k, v in seen.items() if v > 1), key=lambda s: (len(s), s))
    lost = sorted(want - set(seen), key=lambda s: (len(s), s))
    extra = sorted(set(seen) - want)
    if dups:
        bad.append("%d duplicated ids, e.g. %s" % (len(dups), dups[:5]))
    if lost:
        bad.append("%d lost ids, e.g. %s" % (len(lost), lost[:5]))
    if extra:
        bad.append("%d unexpected ids, e.g. %s" % (len(extra), extra[:5]))
    for b in bad:
        print("# " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
