#!/usr/bin/env python3
"""check_ndjson.py - checks a `sql2es sync --dry-run` output against expected documents.

  check_ndjson.py OUT EXPECTED [--stderr FILE] [--summary key=N ...] [--any-order]

OUT must be strict UTF-8 NDJSON: every line ends with a newline, every line is one
JSON value, lines come in action/source pairs (a `delete` action has no source).
EXPECTED is NDJSON in the same shape ("-": check the summary only). Numbers are compared as their exact text
(12.50 differs from 12.5: NUMERIC digits must survive), objects key by key (key
order ignored), arrays in order. In EXPECTED, the string "<timestamp>" matches any
ISO-8601 UTC timestamp, "<re:PATTERN>" a string matching PATTERN entirely and "<any>"
any value. Documents are matched by
(action, _index, _id); per index, the order of the ids must be the expected one
unless --any-order. --summary checks counts of the final stderr summary line
("N rows read, N documents, N deletes, N filtered, N warnings, N errors", "N
tables", "N tables skipped"). Prints one "# ..." line per difference; exit 1 when
there is any. Standard library only.
"""
import json
import re
import sys

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


class Num:
    """A JSON number kept as its text."""

    def __init__(self, text):
        self.text = text

    def __eq__(self, other):
        return isinstance(other, Num) and other.text == self.text

    def __repr__(self):
        return self.text


def loads(line):
    def dup_check(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate key in object: %r" % keys)
        return dict(pairs)

    return json.loads(line, parse_float=Num, parse_int=Num, parse_constant=lambda c: (_ for _ in ()).throw(ValueError("non-JSON constant " + c)),
                      object_pairs_hook=dup_check)


def read_pairs(path, errors, strict=True):
    data = open(path, "rb").read()
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        errors.append("%s: not valid UTF-8 at byte %d" % (path, e.start))
        text = data.decode("utf-8", errors="replace")
    if text and not text.endswith("\n"):
        errors.append("%s: last line has no newline" % path)
    lines = [l for l in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    items, i = [], 0
    while i < len(lines):
        try:
            action = loads(lines[i])
        except ValueError as e:
            errors.append("%s:%d: invalid JSON: %s" % (path, i + 1, e))
            i += 1
            continue
        if not isinstance(action, dict) or len(action) != 1 or list(action)[0] not in ("index", "create", "update", "delete"):
            errors.append("%s:%d: not a bulk action line: %s" % (path, i + 1, lines[i][:200]))
            i += 1
            continue
        op = list(action)[0]
        meta = action[op]
        src = None
        if op != "delete":
            if i + 1 >= len(lines):
                errors.append("%s:%d: action without a source line" % (path, i + 1))
                break
            try:
                src = loads(lines[i + 1])
            except ValueError as e:
                errors.append("%s:%d: invalid JSON: %s" % (path, i + 2, e))
            if not isinstance(src, dict):
                errors.append("%s:%d: source is not an object" % (path, i + 2))
            i += 2
        else:
            i += 1
        items.append((op, meta, src))
    return items


def same(want, got, where, diffs):
    if want == "<any>":
        return
    if isinstance(want, str) and want.startswith("<re:") and want.endswith(">"):
        if not (isinstance(got, str) and re.fullmatch(want[4:-1], got)):
            diffs.append("%s: want a match of /%s/, got %r" % (where, want[4:-1], got))
        return
    if want == "<timestamp>":
        if not (isinstance(got, str) and TS.match(got)):
            diffs.append("%s: want a timestamp, got %r" % (where, got))
        return
    if isinstance(want, dict):
        if not isinstance(got, dict):
            diffs.append("%s: want an object, got %r" % (where, got))
            return
        for k in want:
            if k not in got:
                diffs.append("%s.%s: missing (want %r)" % (where, k, want[k]))
            else:
                same(want[k], got[k], "%s.%s" % (where, k), diffs)
        for k in got:
            if k not in want:
                diffs.append("%s.%s: unexpected field = %r" % (where, k, got[k]))
        return
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            diffs.append("%s: want %r, got %r" % (where, want, got))
            return
        for n, (w, g) in enumerate(zip(want, got)):
            same(w, g, "%s[%d]" % (where, n), diffs)
        return
    if type(want) is not type(got) or want != got:
        diffs.append("%s: want %r, got %r" % (where, want, got))


def summary_counts(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    lines = [l for l in text.splitlines() if l.startswith("sql2es: dry run") or l.startswith("sql2es: sync")]
    if not lines:
        return None
    line = lines[-1]
    out = {}
    for n, key in re.findall(r"(\d+) (tables skipped|tables|rows read|documents|deletes|filtered|warnings|errors)", line):
        out[key.replace(" ", "_")] = int(n)
    out["failed"] = 1 if "FAILED" in line else 0
    return out


def main(argv):
    args = argv[1:]
    stderr_file, summary, any_order = None, {}, False
    pos = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--stderr":
            stderr_file = args[i + 1]
            i += 2
        elif a == "--summary":
            k, v = args[i + 1].split("=")
            lo, _, hi = v.partition("..")
            summary[k] = (int(lo), int(hi or lo))
            i += 2
        elif a == "--any-order":
            any_order = True
            i += 1
        else:
            pos.append(a)
            i += 1
    out_path, exp_path = pos
    diffs = []
    only_counts = exp_path == "-"  # no expected documents: the summary only
    got = [] if only_counts else read_pairs(out_path, diffs)
    want = [] if only_counts else read_pairs(exp_path, diffs)

    def key(item):
        op, meta, _ = item
        idx = meta.get("_index")
        _id = meta.get("_id")
        return (op, idx.text if isinstance(idx, Num) else idx, _id.text if isinstance(_id, Num) else _id)

    gmap = {}
    for it in got:
        k = key(it)
        if k in gmap:
            diffs.append("duplicate item %r" % (k,))
        gmap[k] = it
    wkeys = set()
    for it in want:
        k = key(it)
        wkeys.add(k)
        if k not in gmap:
            diffs.append("missing item %r" % (k,))
            continue
        g = gmap[k]
        same(it[1], g[1], "%s action" % (k,), diffs)
        if it[2] is not None:
            same(it[2], g[2], "%s" % (k[2],), diffs)
    for k in gmap:
        if k not in wkeys and not only_counts:
            diffs.append("unexpected item %r" % (k,))
    if not any_order:
        def order(items):
            per = {}
            for it in items:
                k = key(it)
                per.setdefault(k[1], []).append(k[2])
            return per
        wo, go = order(want), order([g for g in got if key(g) in wkeys])
        for idx in wo:
            if wo[idx] != go.get(idx):
                diffs.append("order in index %s: want %r, got %r" % (idx, wo[idx], go.get(idx)))
    if summary:
        counts = summary_counts(stderr_file) if stderr_file else None
        if counts is None:
            diffs.append("no summary line in %s" % stderr_file)
        else:
            for k, (lo, hi) in summary.items():
                if not lo <= counts.get(k, 0) <= hi:
                    diffs.append("summary %s: want %s, got %d" % (k, lo if lo == hi else "%d..%d" % (lo, hi), counts.get(k, 0)))
    for d in diffs[:40]:
        print("# " + d)
    if len(diffs) > 40:
        print("# ... and %d more differences" % (len(diffs) - 40))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
