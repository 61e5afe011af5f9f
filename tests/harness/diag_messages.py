#!/usr/bin/env python3
"""diag_messages.py - every error and warning the config compiler can print
has a test case.

Lists the diag_error()/diag_warning() calls of dsl/*.c (the loader, checker,
template parser and lowering) with their format strings, and looks for a
case of each:
  - golden: a line of a tests/golden/*.expected file that the format matches
    (`%s`, `%d`... match any text), after `error: ` or `warning: `;
  - unit: a test source (tests/unit/*.c, tests/integration/*.c,
    tests/suites/*.sh) with a string literal that holds the whole message
    (conversions match any text; the literal may hold more, such as the
    "line:col: " before it).
A message no configuration can reach is listed in UNREACHED below with the
reason (each entry names its file and format; a stale entry is an error).
A call whose format is not a literal, or has no word of its own (e.g. "%s",
"%s (%s)": libyaml's messages), is listed as dynamic and not counted.

  tests/harness/diag_messages.py          list every message and its case
  tests/harness/diag_messages.py --check  print only those without a case;
                                          exit 1 when there is one
Standard library only; run from anywhere.
"""
import glob
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CALL = re.compile(r"\bdiag_(error|warning)\s*\(")
CONV = re.compile(r"%[-+ #0]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?:hh|h|ll|l|z|j|t)?[diouxXeEfgGcsp%]")
ESC = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "0": "\0", "r": "\r"}


UNREACHED = {
    ("dsl/check.c", "%s needs at least %ld %s%s"):
        "no key of schemas/language.yaml has min_items above 1 (that case says 'must not be empty')",
    ("dsl/check.c", "no configuration"): "dsl_compile never calls the checker without a document",
    ("dsl/yaml.c", "out of memory reading the file"):
        "only under an allocation fault (SQL2ES_FAULT=alloc:N); 26-fault-walk walks them "
        "and checks each ends cleanly, not each message",
    ("dsl/yaml.c", "out of memory while parsing YAML"): "needs an allocation failure (no fault hook in libyaml)",
    ("dsl/lower.c", "no target index for table '%s'"): "index_name has a default (the connector id)",
}


def c_unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append(ESC.get(s[i + 1], s[i + 1]))
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def calls(path):
    """(line, kind, format) of each diag call in a C file: the format is the
    third argument when it is made of string literals only, else None."""
    text = open(path, encoding="utf-8").read()
    for m in CALL.finditer(text):
        i, depth, arg, lits, other = m.end(), 1, 0, [], False
        while i < len(text) and depth:
            ch = text[i]
            if ch == '"':
                j = i + 1
                while text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
                if arg == 2:
                    lits.append(text[i + 1:j])
                i = j + 1
                continue
            if ch in "({[":
                depth += 1
            elif ch in ")}]":
                depth -= 1
            elif ch == "," and depth == 1:
                arg += 1
            elif arg == 2 and not ch.isspace():
                other = True
            i += 1
        fmt = c_unescape("".join(lits)) if lits and not other else None
        yield text.count("\n", 0, m.start()) + 1, m.group(1), fmt


def pattern(fmt):
    parts, pos = [], 0
    for c in CONV.finditer(fmt):
        parts.append(re.escape(fmt[pos:c.start()]))
        parts.append("%" if c.group() == "%%" else ".*?")
        pos = c.end()
    parts.append(re.escape(fmt[pos:]))
    return re.compile("".join(parts) + "$")


LIT = re.compile(r'"((?:[^"\\\n]|\\.){8,})"')


def tokens(fmt):
    """fmt as a list of characters and None (a conversion: any text)."""
    out, pos = [], 0
    for c in CONV.finditer(fmt):
        out.extend(fmt[pos:c.start()])
        out.append("%" if c.group() == "%%" else None)
        pos = c.end()
    out.extend(fmt[pos:])
    return out


def part_of(lit, toks):
    """Does lit hold a whole message the format can print (any text for the
    conversions)? lit may hold more: a test quotes "line:col: message | hint"."""
    need = sum(1 for t in toks if t is not None)
    best = 0
    states = {}  # (token index, inside a conversion) -> fixed characters matched
    for ch in lit:
        nxt = {}

        def put(k, v):
            if nxt.get(k, -1) < v:
                nxt[k] = v
        starts = [((i, False), 0) for i in range(len(toks))]  # the message may start here
        for (i, inside), got in list(states.items()) + starts:
            if inside:
                put((i, True), got)  # the conversion before i prints ch
            j = i
            while True:
                if j < len(toks) and toks[j] is None:
                    put((j + 1, True), got)  # a conversion prints ch...
                    j += 1  # ...or nothing
                    continue
                if j < len(toks) and toks[j] == ch:
                    put((j + 1, False), got + 1)
                break
        states = nxt
        if states:
            best = max(best, max(states.values()))
        if best >= need:
            return True
    return False


def fixed_part(fmt):
    pieces = [p for p in CONV.split(fmt) if p.strip()]
    return max(pieces, key=len).strip() if pieces else ""


def main():
    check = "--check" in sys.argv[1:]
    golden = []
    for f in sorted(glob.glob(os.path.join(ROOT, "tests/golden/*.expected"))):
        for line in open(f, encoding="utf-8", errors="replace"):
            m = re.search(r"\b(error|warning): (.*)$", line.rstrip("\n"))
            if m:
                golden.append((os.path.basename(f), m.group(1), m.group(2)))
    sources = {}
    for pat in ("tests/unit/*.c", "tests/integration/*.c", "tests/suites/*.sh"):
        for f in sorted(glob.glob(os.path.join(ROOT, pat))):
            sources[os.path.relpath(f, ROOT)] = c_unescape(open(f, encoding="utf-8", errors="replace").read())

    literals = {s: [c_unescape(m.group(1)) for m in LIT.finditer(open(os.path.join(ROOT, s),
                    encoding="utf-8", errors="replace").read())] for s in sources}
    total = covered = dynamic = unreached = 0
    missing = []
    used = set()
    for path in sorted(glob.glob(os.path.join(ROOT, "dsl/*.c"))):
        rel = os.path.relpath(path, ROOT)
        for line, kind, fmt in calls(path):
            where = f"{rel}:{line}"
            if fmt is None or not re.search(r"[A-Za-z]", CONV.sub("", fmt)):
                dynamic += 1
                if not check:
                    print(f"{where}: {kind}: (dynamic) {fmt!r}")
                continue
            total += 1
            rx = pattern(fmt)
            case = next((f"golden {g}" for g, k, msg in golden if k == kind and rx.match(msg)), None)
            if case is None:
                toks = tokens(fmt)
                words = [w for w in re.findall(r"[A-Za-z_]{5,}", CONV.sub(" ", fmt))]
                for src, lits in literals.items():
                    if any(any(w in l for w in words) and part_of(l, toks) for l in lits):
                        case = f"unit {src}"
                        break
            if case is None and (rel, fmt) in UNREACHED:
                used.add((rel, fmt))
                unreached += 1
                case = "unreached: " + UNREACHED[(rel, fmt)]
                if not check:
                    print(f"{where}: {kind}: {fmt!r}: {case}")
                continue
            if case:
                covered += 1
                if not check:
                    print(f"{where}: {kind}: {fmt!r}: {case}")
            else:
                missing.append(f"{where}: {kind}: {fmt!r}: NO CASE")
                print(missing[-1])
    for rel, fmt in sorted(set(UNREACHED) - used):
        missing.append(f"{rel}: {fmt!r}: listed as unreached, but no longer found or now has a case")
        print(missing[-1])
    print(f"# {total} messages: {covered} with a case, {unreached} unreached (listed), "
          f"{len(missing)} without a case; {dynamic} dynamic calls not counted")
    return 1 if check and missing else 0


if __name__ == "__main__":
    sys.exit(main())
