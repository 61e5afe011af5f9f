#!/usr/bin/env bash
# 23-robustness.sh - ~3000 deterministic mutations of the examples and golden
# configs (the python mutator below: byte flips, deleted/duplicated lines,
# indentation, renamed keys, huge numbers, template/anchor noise).
# Every mutation goes through the compiler built with ASan+UBSan in batches
# of 100 per process (the libFuzzer target of tests/fuzz, run over a
# directory); every 10th one also through `$SQL2ES_SAN_BIN validate`, whose
# exit code must be 0 or 2 with no sanitizer report. One TAP line per batch.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
ROOT=$SQL2ES_ROOT
SAN=$SQL2ES_SAN_BIN
COUNT=${ROBUSTNESS_COUNT:-3000}
BATCH=100
plan $(( (COUNT + BATCH - 1) / BATCH ))
[ -x "$SAN" ] || { not_ok "robustness: sanitizer binary $SAN not built (make SANITIZE=address,undefined)"; exit 1; }
command -v python3 >/dev/null || { not_ok "robustness: python3 missing"; exit 1; }

# the in-process checker: the fuzz target (built if needed by run.sh)
bash "$ROOT/tests/fuzz/run.sh" build >/dev/null 2>&1
FUZZ=$ROOT/build/fuzz/fuzz_compile
[ -x "$FUZZ" ] || { not_ok "robustness: fuzz target did not build (tests/fuzz/run.sh build)"; exit 1; }

WORK=$SQL2ES_TEST_TMP/robustness
rm -rf "$WORK"
mkdir -p "$WORK"
# The mutator: deterministic (fixed seed); writes OUTDIR/bNN/mNNNN.yml.
cat > "$WORK/mutate.py" <<'PY'
import os
import random
import sys

KEYS = [b"connectors", b"mappings", b"fields", b"relations", b"templates", b"extends",
        b"sync_rules", b"basic", b"advanced", b"transform", b"from", b"on", b"one",
        b"index", b"id", b"columns", b"include", b"exclude", b"incremental", b"cursor",
        b"type", b"elasticsearch", b"bulk", b"service", b"configuration", b"tables",
        b"<<", b"mapings", b"x" * 300, b"a.b.c", b"\xff\xfe", b""]
NUMBERS = [b"99999999999999999999999999", b"-1", b"0", b"1e400", b"-0.0", b"0x7fffffffffffffff",
           b".inf", b".nan", b"18446744073709551616", b"-9223372036854775809"]
NOISE = [b"{{", b"}}", b"{{ $", b"{{ }}", b"*a", b"&a ", b"<<: *a", b"${X", b"${UNSET_VAR}",
         b"[", b"]", b"{", b"}", b": ", b"- ", b"\t", b"'", b'"', b"|", b"\x00", b"\xc3",
         b"(", b"[a-", b".*", b"\\"]


def mutate(rng, data):
    lines = data.split(b"\n")
    kind = rng.randrange(9)
    if kind == 0 and data:  # byte flips
        b = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(b))
            b[i] = rng.randrange(256)
        return bytes(b)
    if kind == 1 and len(lines) > 1:  # delete lines
        i = rng.randrange(len(lines))
        del lines[i:i + rng.randint(1, 3)]
    elif kind == 2:  # duplicate lines
        i = rng.randrange(len(lines))
        lines[i:i] = lines[i:i + rng.randint(1, 3)]
    elif kind == 3:  # indentation
        i = rng.randrange(len(lines))
        d = rng.choice([-4, -2, -1, 1, 2, 4])
        lines[i] = lines[i][-d:] if d < 0 and len(lines[i]) >= -d else b" " * max(d, 0) + lines[i]
    elif kind == 4:  # key rename
        i = rng.randrange(len(lines))
        if b":" in lines[i]:
            head, _, tail = lines[i].partition(b":")
            ind = head[:len(head) - len(head.lstrip(b" -"))]
            lines[i] = ind + rng.choice(KEYS) + b":" + tail
    elif kind == 5:  # numbers
        i = rng.randrange(len(lines))
        if b":" in lines[i]:
            head, _, _ = lines[i].partition(b":")
            lines[i] = head + b": " + rng.choice(NUMBERS)
    elif kind == 6:  # noise inserted in a line
        i = rng.randrange(len(lines))
        s = lines[i]
        j = rng.randrange(len(s) + 1)
        lines[i] = s[:j] + rng.choice(NOISE) + s[j:]
    elif kind == 7:  # truncation
        return data[:rng.randrange(len(data) + 1)]
    else:  # swap two lines
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def main():
    outdir, count, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    seeds = []
    for p in sorted(sys.argv[4:]):
        with open(p, "rb") as f:
            seeds.append(f.read())
    rng = random.Random(20240501)
    for n in range(count):
        data = rng.choice(seeds)
        for _ in range(rng.randint(1, 3)):
            data = mutate(rng, data)
        d = os.path.join(outdir, "b%02d" % (n // batch))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "m%04d.yml" % n), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
PY
python3 "$WORK/mutate.py" "$WORK/m" "$COUNT" "$BATCH" \
    "$ROOT"/examples/*/*.yml "$ROOT"/tests/golden/*.yaml || { not_ok "robustness: mutator failed"; exit 1; }

export SQL2ES_GOLDEN_HOST=h SQL2ES_GOLDEN_PORT=1 SQL2ES_GOLDEN_SECRET=s SQL2ES_GOLDEN_EMPTY=
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87

# one CLI run: prints a problem line, or nothing when fine
cli_one() {
    local f=$1 out rc
    out=$(cd "$(dirname "$f")" && timeout 20 "$SAN" validate -q -c "$(basename "$f")" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] && [ $rc -ne 2 ]; then
        echo "$f: exit $rc"; printf '%s\n' "$out" | head -5
    elif printf '%s\n' "$out" | grep -qE 'Sanitizer|runtime error:'; then
        echo "$f: sanitizer report"; printf '%s\n' "$out" | grep -E 'ERROR|runtime error' | head -3
    fi
}
export -f cli_one
export SAN

for d in "$WORK"/m/b*; do
    b=$(basename "$d")
    problems=""
    if ! out=$(timeout 300 "$FUZZ" -runs=0 -rss_limit_mb=2048 -timeout=20 "$d" 2>&1); then
        problems="in-process: $(printf '%s\n' "$out" | grep -E 'ERROR|SUMMARY|runtime error' | head -3)"
    fi
    cli=$(ls "$d"/*.yml | awk 'NR % 10 == 1' | xargs -P 2 -I{} bash -c 'cli_one "$1"' _ {})
    [ -n "$cli" ] && problems="$problems$cli"
    n=$(ls "$d" | wc -l)
    if [ -z "$problems" ]; then
        ok "robustness $b ($n mutations)"
    else
        not_ok "robustness $b"
        printf '%s\n' "$problems" | head -20 | sed 's/^/# /'
    fi
done
