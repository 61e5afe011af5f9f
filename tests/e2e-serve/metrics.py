#!/usr/bin/env python3
"""metrics.py - reads a Prometheus text exposition (format 0.0.4), strictly:

  metrics.py check FILE
      exit 0 when FILE is well formed: every sample belongs to a family
      declared by a `# HELP` and a `# TYPE` line before it, each family is
      declared once and its samples are contiguous, names and label names are
      valid, label values are quoted and escaped, values are numbers, counters
      end in _total, no series repeats; otherwise prints why and exits 1
  metrics.py get FILE NAME [label=value ...]
      prints the value of the one sample of NAME whose labels include the
      given ones (exit 1 when none or several match)
  metrics.py families FILE
      prints each family with its type
"""
import math
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse(text):
    """[(name, {labels}, value)], {family: type}; raises ValueError."""
    if not text.endswith("\n"):
        raise ValueError("the exposition does not end with a newline")
    helps, types, samples, seen, order = {}, {}, [], set(), []
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                fam = parts[2]
                if not NAME.match(fam):
                    raise ValueError(f"line {n}: bad metric name {fam!r}")
                if parts[1] == "HELP":
                    if fam in helps:
                        raise ValueError(f"line {n}: second HELP for {fam}")
                    if len(parts) < 4 or not parts[3].strip():
                        raise ValueError(f"line {n}: empty HELP for {fam}")
                    helps[fam] = parts[3]
                else:
                    if fam in types:
                        raise ValueError(f"line {n}: second TYPE for {fam}")
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise ValueError(f"line {n}: bad TYPE line")
                    if any(s[0] == fam for s in samples):
                        raise ValueError(f"line {n}: TYPE of {fam} after its samples")
                    types[fam] = parts[3]
                    order.append(fam)
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not m:
            raise ValueError(f"line {n}: not a sample: {line!r}")
        name, body, value = m.group(1), m.group(3), m.group(4)
        labels = {}
        if body:
            pos = 0
            while pos < len(body):
                lm = LABEL.match(body, pos)
                if not lm:
                    raise ValueError(f"line {n}: bad labels {body!r}")
                if lm.group(1) in labels:
                    raise ValueError(f"line {n}: label {lm.group(1)} twice")
                labels[lm.group(1)] = (lm.group(2).replace("\\n", "\n").replace('\\"', '"')
                                       .replace("\\\\", "\\"))
                pos = lm.end()
                if pos < len(body):
                    if body[pos] != ",":
                        raise ValueError(f"line {n}: bad labels {body!r}")
                    pos += 1
        if name not in types or name not in helps:
            raise ValueError(f"line {n}: sample of {name} without HELP and TYPE before it")
        if order[-1] != name:
            raise ValueError(f"line {n}: samples of {name} are not together")
        if types[name] == "counter" and not name.endswith("_total"):
            raise ValueError(f"line {n}: counter {name} does not end in _total")
        try:
            v = float(value)
        except ValueError:
            raise ValueError(f"line {n}: value {value!r} is not a number")
        if types[name] == "counter" and (v < 0 or math.isnan(v)):
            raise ValueError(f"line {n}: counter {name} is {value}")
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            raise ValueError(f"line {n}: series {name}{labels} twice")
        seen.add(key)
        samples.append((name, labels, v))
    for fam in helps:
        if fam not in types:
            raise ValueError(f"HELP of {fam} without TYPE")
    return samples, types


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd, path = sys.argv[1], sys.argv[2]
    text = open(path, encoding="utf-8").read()
    try:
        samples, types = parse(text)
    except ValueError as e:
        print(f"metrics: {e}", file=sys.stderr)
        return 1
    if cmd == "check":
        return 0
    if cmd == "families":
        for fam, t in types.items():
            print(fam, t)
        return 0
    if cmd == "get":
        want = dict(a.split("=", 1) for a in sys.argv[4:])
        got = [v for n, labels, v in samples
               if n == sys.argv[3] and all(labels.get(k) == x for k, x in want.items())]
        if len(got) != 1:
            print(f"metrics: {len(got)} samples of {sys.argv[3]} {want}", file=sys.stderr)
            return 1
        v = got[0]
        print(int(v) if v == int(v) else v)
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
