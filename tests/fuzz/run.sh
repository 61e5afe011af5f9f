#!/usr/bin/env bash
# run.sh - build and run a fuzz target (libFuzzer + ASan + UBSan).
#   tests/fuzz/run.sh replay   run every input of the target's corpus once
#   tests/fuzz/run.sh build    only build build/fuzz/<target>
#   tests/fuzz/run.sh long     fuzz for FUZZ_SECONDS (default 300); new
#                              crashers are copied into the corpus
# FUZZ_TARGET: fuzz_compile (default; corpus tests/fuzz/corpus/ plus the
# examples and golden inputs), fuzz_yaml (same inputs), fuzz_template and
# fuzz_es_reply (corpus tests/fuzz/corpus/<target>/).
# The library sources are compiled here with clang (the Makefile is not
# involved); objects go to build/fuzz/. The compiler targets (fuzz_compile,
# fuzz_yaml, fuzz_template) build from the compiler-only sources (base, plan,
# dsl, the driver interface's helpers) with libyaml and PCRE2 alone: a build
# failure here means the compiler depends on a database or HTTP library.
# fuzz_es_reply builds from the sink's sources and what they stand on. The corpus is seeded
# from examples/*/*.yml and tests/golden/*.yaml on every run.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODE=${1:-replay}
OUT=build/fuzz
TARGET=${FUZZ_TARGET:-fuzz_compile}
[ -f "tests/fuzz/$TARGET.c" ] || { echo "not ok - fuzz: no target $TARGET"; exit 1; }
case $TARGET in
fuzz_compile | fuzz_yaml) CORPUS=tests/fuzz/corpus; SEEDED=1 ;;
*) CORPUS=tests/fuzz/corpus/$TARGET; SEEDED=0 ;;
esac
mkdir -p "$OUT" "$CORPUS"
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null || { echo "not ok - fuzz: $CC not installed"; exit 1; }

case $TARGET in
fuzz_compile | fuzz_yaml | fuzz_template)
    # the compiler only (the same files as the Makefile's libsql2es_compiler.a)
    SRCS="$(ls base/*.c plan/*.c dsl/*.c sources/dialect.c sources/util.c | tr '\n' ' ')"
    PKG="yaml-0.1 libpcre2-8"; EXTRA_LIBS="-lm" ;;
*)
    # the Elasticsearch sink and what it stands on (no database client)
    SRCS="$(ls base/*.c plan/*.c sinks/*.c sources/dialect.c sources/util.c | tr '\n' ' ')"
    PKG="libpcre2-8 libcurl libcjson"; EXTRA_LIBS="-lpthread -lm -lz" ;;
esac
GEN="$OUT/schema_data.c"
if [ ! -f "$GEN" ] || [ schemas/language.yaml -nt "$GEN" ]; then
    sh tools/embed.sh sql2es_language_yaml schemas/language.yaml > "$GEN.tmp" && mv "$GEN.tmp" "$GEN"
fi
FLAGS="-std=c11 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
BIN="$OUT/$TARGET"
# rebuild only when an input is newer than the binary
stale=1
if [ -x "$BIN" ] && [ -z "$(find $SRCS "tests/fuzz/$TARGET.c" schemas/language.yaml */*.h -newer "$BIN" 2>/dev/null)" ]; then
    stale=0
fi
# shellcheck disable=SC2086
[ $stale -eq 0 ] || $CC $FLAGS $(pkg-config --cflags $PKG) -o "$BIN" "tests/fuzz/$TARGET.c" $SRCS "$GEN" \
    $(pkg-config --libs $PKG) $EXTRA_LIBS 2> "$OUT/build.log" || {
    echo "not ok - fuzz: $TARGET build failed"; sed 's/^/# /' "$OUT/build.log" | tail -30; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# the yaml/env cases read variables; make them defined and stable
export SQL2ES_GOLDEN_HOST=h SQL2ES_GOLDEN_PORT=1 SQL2ES_GOLDEN_SECRET=s SQL2ES_GOLDEN_EMPTY=

case $MODE in
build)
    echo "ok - fuzz target built: $BIN"
    ;;
replay)
    # the corpus plus the current examples and golden inputs, read in place
    dirs=("$CORPUS")
    if [ "$SEEDED" = 1 ]; then
        dirs+=(tests/golden)
        for d in examples/*/; do [ -d "$d" ] && dirs+=("$d"); done
    fi
    n=$(find "${dirs[@]}" -maxdepth 1 -type f | wc -l)
    [ "$n" -gt 0 ] || { echo "not ok - fuzz replay $TARGET: empty corpus"; exit 1; }
    if "$BIN" -runs=0 "${dirs[@]}" > "$OUT/replay-$TARGET.log" 2>&1; then
        echo "ok - fuzz replay $TARGET: $n corpus inputs"
    else
        echo "not ok - fuzz replay $TARGET"
        grep -E "ERROR|SUMMARY|#[0-9]+ 0x" "$OUT/replay-$TARGET.log" | head -30 | sed 's/^/# /'
        exit 1
    fi
    ;;
long)
    secs=${FUZZ_SECONDS:-300}
    # seed the corpus (content-addressed names keep it free of duplicates)
    for f in examples/*/*.yml tests/golden/*.yaml; do
        [ "$SEEDED" = 1 ] && [ -f "$f" ] || continue
        h=$(sha1sum "$f" | cut -c1-16)
        [ -f "$CORPUS/seed-$h" ] || cp "$f" "$CORPUS/seed-$h"
    done
    mkdir -p "$OUT/work" "$OUT/artifacts"
    rc=0
    "$BIN" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$OUT/artifacts/" "$OUT/work" "$CORPUS" || rc=$?
    for a in "$OUT"/artifacts/*; do
        [ -f "$a" ] || continue
        cp "$a" "$CORPUS/crash-$(sha1sum "$a" | cut -c1-16)"
        echo "crasher kept: $a"
    done
    if [ $rc -eq 0 ]; then echo "ok - fuzz long $TARGET ($secs s)"; else echo "not ok - fuzz long $TARGET (exit $rc)"; exit 1; fi
    ;;
*)
    echo "usage: tests/fuzz/run.sh [replay|long]" >&2
    exit 2
    ;;
esac
