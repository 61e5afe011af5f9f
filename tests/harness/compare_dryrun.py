#!/usr/bin/env python3
"""compare_dryrun.py - the index equals what `sync --dry-run` would write.

Test helper of the follow suite (tests/suites/67-follow.sh). Reads the _bulk
body of a dry run (BULK: action lines and source lines; a delete line means
the document must be absent), reads every document of the indices it names
(and of --index, which must then hold exactly the expected ones) with scroll,
and prints one TAP line:
  ok - NAME: N documents equal
  not ok - NAME: ...   followed by at most 10 differences as `#` lines:
missing documents, extra documents (in the index, not in the dry run),
documents whose source differs (compared as parsed JSON, numbers by their
text). An empty expectation is a failure ("0 = 0" proves nothing).
Usage: compare_dryrun.py ES_URL BULK NAME [--index I]...
Standard library only.
"""
import json
import sys
import urllib.error
import urllib.request


class Num(str):
    """A JSON number kept as its text."""


def loads(raw):
    return json.loads(raw, parse_float=Num, parse_int=Num)


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


def index_docs(es, index):
    http("POST", f"{es}/{index}/_refresh")
    st, raw = http("POST", f"{es}/{index}/_search?scroll=1m",
                   {"size": 2000, "sort": ["_doc"], "query": {"match_all": {}}})
    if st == 404:
        return {}
    if st != 200:
        raise RuntimeError(f"_search on {index} answered {st}: {raw[:300]!r}")
    out = {}
    while True:
        r = loads(raw)
        hits = r["hits"]["hits"]
        if not hits:
            break
        for h in hits:
            out[h["_id"]] = h["_source"]
        st, raw = http("POST", f"{es}/_search/scroll", {"scroll": "1m", "scroll_id": r["_scroll_id"]})
        if st != 200:
            raise RuntimeError(f"scroll answered {st}")
    return out


def main():
    args = sys.argv[1:]
    extra = []
    while "--index" in args:
        i = args.index("--index")
        extra.append(args[i + 1])
        del args[i:i + 2]
    es, bulk, name = args
    expect = {}
    lines = open(bulk, encoding="utf-8").read().splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        act = loads(lines[i])
        (op, meta), = act.items()
        ix = expect.setdefault(meta["_index"], {})
        if op == "delete":
            ix.pop(meta["_id"], None)
            i += 1
        else:
            ix[meta["_id"]] = loads(lines[i + 1])
            i += 2
    for ix in extra:
        expect.setdefault(ix, {})
    total = sum(len(v) for v in expect.values())
    diffs = []
    for ix, docs in sorted(expect.items()):
        got = index_docs(es, ix)
        for did in sorted(set(docs) - set(got)):
            diffs.append(f"{ix}: missing {did}: {json.dumps(docs[did])[:300]}")
        for did in sorted(set(got) - set(docs)):
            diffs.append(f"{ix}: extra {did}: {json.dumps(got[did])[:300]}")
        for did in sorted(set(docs) & set(got)):
            if docs[did] != got[did]:
                diffs.append(f"{ix}: differs {did}:\n#     index:   {json.dumps(got[did])[:400]}"
                             f"\n#     dry run: {json.dumps(docs[did])[:400]}")
    if total == 0:
        print(f"not ok - {name}: the dry run expects no document")
    elif diffs:
        print(f"not ok - {name}: {len(diffs)} differences over {total} documents")
        for d in diffs[:10]:
            print(f"#   {d}")
    else:
        print(f"ok - {name}: {total} documents equal")


if __name__ == "__main__":
    main()
