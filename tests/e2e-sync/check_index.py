#!/usr/bin/env python3
"""check_index.py - compare every document of an index with the source rows.

Test helper for the end-to-end sync suites (tests/suites/6x-sync-*.sh). It
reads the expected rows as JSON lines (one object per row) from a command run
through the shell (psql COPY of row_to_json, mariadb JSON_OBJECT, sqlite3
-json via rows.py), reads the index with scroll, and checks:
  - the set of _ids is exactly the set of ids computed from the rows
    (--id is a Python format string over the row, e.g. 'items-{id}'),
    and every document is there exactly once (_count = distinct ids = rows);
  - every document has exactly the expected fields: each source column
    (renamed by --rename SRC=DST, dropped by --exclude COL; DST may be dotted
    for nested objects), plus --const FIELD=VALUE (a JSON value, or a format
    string over the row when it is not JSON), plus --ignore FIELD (present,
    not compared);
  - every value equals the source value: numbers compared by their JSON text
    (`12.50` and `12.5` differ: no rounding, no lost or added digit, no
    integer printed as a decimal), ISO timestamps compared as instants (a
    naive one is UTC), nested objects and arrays recursively. A field given
    with --float FIELD (a float/double column) is compared as a binary
    double instead: the database and sql2es may print the same double
    differently (`34` and `34.0`).
An empty comparison (no source row, or no document) is a failure: "0 rows =
0 documents" proves nothing; a test that expects an empty index counts it.
Prints TAP lines `ok - NAME: ...` / `not ok - NAME: ...` and at most
--max-diffs differences as `#` lines. Exits 0 either way (the suite counts).
Standard library only.
"""
import argparse
import datetime
import json
import subprocess
import sys
import urllib.error
import urllib.request

class Num:
    """A JSON number kept as its text: compared, formatted and printed as such."""
    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def __eq__(self, other):
        return isinstance(other, Num) and self.text == other.text

    def __hash__(self):
        return hash(self.text)

    def __str__(self):
        return self.text

    __repr__ = __str__


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def loads(raw):
    return json.loads(raw, parse_float=Num, parse_int=Num)


def index_docs(es, index):
    """All documents of index: list of (id, source)."""
    http("POST", f"{es}/{index}/_refresh")
    st, raw = http("POST", f"{es}/{index}/_search?scroll=1m",
                   {"size": 2000, "sort": ["_doc"], "query": {"match_all": {}}})
    if st != 200:
        raise RuntimeError(f"_search on {index} answered {st}: {raw[:300]!r}")
    out = []
    while True:
        rep = loads(raw)
        hits = rep["hits"]["hits"]
        out.extend((h["_id"], h["_source"]) for h in hits)
        sid = rep.get("_scroll_id")
        if not hits or not sid:
            break
        st, raw = http("POST", f"{es}/_search/scroll", {"scroll": "1m", "scroll_id": sid})
        if st != 200:
            raise RuntimeError(f"scroll answered {st}")
    if rep.get("_scroll_id"):
        http("DELETE", f"{es}/_search/scroll", {"scroll_id": rep["_scroll_id"]})
    return out


def index_count(es, index):
    st, raw = http("GET", f"{es}/{index}/_count")
    return int(json.loads(raw)["count"]) if st == 200 else -1


def as_instant(s):
    if not isinstance(s, str) or len(s) < 19 or s[4] != "-" or s[10] not in "T ":
        return None
    t = s.replace(" ", "T", 1)
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    try:
        v = datetime.datetime.fromisoformat(t)
    except ValueError:
        # fromisoformat before 3.11 wants exactly 3 or 6 fraction digits
        head, dot, rest = t.partition(".")
        if not dot:
            return None
        frac = ""
        while rest and rest[0].isdigit():
            frac, rest = frac + rest[0], rest[1:]
        try:
            v = datetime.datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}{rest}")
        except ValueError:
            return None
    if v.tzinfo is None:
        v = v.replace(tzinfo=datetime.timezone.utc)
    return v


def same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, Num) or isinstance(b, Num):
        return isinstance(a, Num) and isinstance(b, Num) and a.text == b.text
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, str) and isinstance(b, str):
        if a == b:
            return True
        ia, ib = as_instant(a), as_instant(b)
        return ia is not None and ib is not None and ia == ib
    return a == b and type(a) is type(b)


def put(doc, path, value):
    parts = path.split(".")
    for p in parts[:-1]:
        doc = doc.setdefault(p, {})
    doc[parts[-1]] = value


def flat_fields(doc, prefix=""):
    """Dotted leaf paths of doc (objects descend, arrays are leaves)."""
    for k, v in doc.items():
        p = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            yield from flat_fields(v, p + ".")
        else:
            yield p


def get(doc, path):
    for p in path.split("."):
        if not isinstance(doc, dict) or p not in doc:
            return KeyError
        doc = doc[p]
    return doc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--es", required=True)
    ap.add_argument("--index", required=True)
    ap.add_argument("--rows-cmd", required=True, help="shell command printing JSON lines")
    ap.add_argument("--id", required=True, help="format string over the row")
    ap.add_argument("--rename", action="append", default=[])
    ap.add_argument("--exclude", action="append", default=[])
    ap.add_argument("--const", action="append", default=[])
    ap.add_argument("--ignore", action="append", default=[])
    ap.add_argument("--float", action="append", default=[], help="field compared as a double")
    ap.add_argument("--name", default="index matches source")
    ap.add_argument("--max-diffs", type=int, default=8)
    a = ap.parse_args()

    try:
        raw = subprocess.run(a.rows_cmd, shell=True, check=True, capture_output=True).stdout
    except subprocess.CalledProcessError as e:
        print(f"not ok - {a.name}: reading the source failed ({e.returncode})")
        print("#   " + e.stderr.decode(errors="replace")[:400].replace("\n", "\n#   "))
        return
    rows = [loads(line) for line in raw.decode().splitlines() if line.strip()]
    rename = dict(r.split("=", 1) for r in a.rename)
    consts = []
    for c in a.const:
        k, v = c.split("=", 1)
        try:
            consts.append((k, loads(v), False))
        except ValueError:
            consts.append((k, v, True))

    expected = {}
    dup_src = 0
    for row in rows:
        fmt_row = {k: (str(v) if isinstance(v, Num) else v) for k, v in row.items()}
        rid = a.id.format(**fmt_row)
        doc = {}
        for k, v in row.items():
            if k in a.exclude:
                continue
            put(doc, rename.get(k, k), v)
        for k, v, is_fmt in consts:
            put(doc, k, v.format(**fmt_row) if is_fmt else v)
        if rid in expected:
            dup_src += 1
        expected[rid] = doc

    try:
        docs = index_docs(a.es, a.index)
    except Exception as e:  # noqa: BLE001 - any failure is a test failure
        print(f"not ok - {a.name}: reading index {a.index} failed: {e}")
        return
    count = index_count(a.es, a.index)
    got = {}
    dups = 0
    for i, s in docs:
        if i in got:
            dups += 1
        got[i] = s

    diffs = []
    if dup_src:
        diffs.append(f"{dup_src} source rows share an id (bad --id?)")
    if dups or count != len(got):
        diffs.append(f"duplicates: {dups} repeated hits, _count {count}, distinct ids {len(got)}")
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    if missing:
        diffs.append(f"{len(missing)} documents missing, e.g. {missing[:5]}")
    if extra:
        diffs.append(f"{len(extra)} unexpected documents, e.g. {extra[:5]}")
    nval = 0
    for rid in sorted(set(expected) & set(got)):
        want, have = expected[rid], got[rid]
        wf = set(flat_fields(want))
        hf = set(f for f in flat_fields(have) if f not in a.ignore)
        for f in sorted(wf | hf):
            if f in a.ignore:
                continue
            w, h = get(want, f), get(have, f)
            if w is KeyError or h is KeyError:
                # an empty object on one side is a leaf on the other
                if isinstance(w, dict) and not w and h is KeyError:
                    continue
                diffs.append(f"{rid}: field {f}: " + ("missing" if h is KeyError else "unexpected"))
                nval += 1
            elif f in a.float and isinstance(w, Num) and isinstance(h, Num):
                if float(w.text) != float(h.text):
                    diffs.append(f"{rid}: field {f}: got {h} , want {w} (as doubles)")
                    nval += 1
            elif not same(w, h):
                diffs.append(f"{rid}: field {f}: got {json.dumps(h, default=str)[:200]}, "
                             f"want {json.dumps(w, default=str)[:200]}")
                nval += 1
        for f in a.ignore:
            if get(have, f) is KeyError:
                diffs.append(f"{rid}: field {f}: missing")
    nfields = sum(len(list(flat_fields(d))) for d in expected.values())
    if not rows:
        diffs.insert(0, "the source gave no row: an empty comparison proves nothing")
    if not got:
        diffs.insert(0, f"index {a.index} holds no document: an empty comparison proves nothing")
    if diffs:
        print(f"not ok - {a.name}: {len(rows)} rows, {len(got)} documents, "
              f"{len(diffs)} differences")
        for line in diffs[:a.max_diffs]:
            print(f"#   {line}")
    else:
        print(f"ok - {a.name}: {len(rows)} rows = {len(got)} documents, "
              f"{nfields} values equal")


if __name__ == "__main__":
    sys.exit(main())
