#!/usr/bin/env bash
# tests/run.sh - runs every test of sql2es and prints "N passed, N failed".
#
# Suites print TAP-style lines ("ok - name", "not ok - name"). The harness
# starts the servers the suites need (PostgreSQL, MariaDB, the OpenSearch node)
# on loopback in temporary directories, and stops them on exit. A server that
# cannot start is a failure, never a skip.
#   tests/run.sh [SUITE...]     run only the named suites (e.g. unit golden)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export SQL2ES_ROOT=$ROOT
export SQL2ES_BIN=${SQL2ES_BIN:-$ROOT/build/sql2es}
export SQL2ES_SAN_BIN=$ROOT/build/san/sql2es
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/sql2es-tests.XXXXXX")
export SQL2ES_TEST_TMP=$LOGDIR
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=86}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=87}

passed=0 failed=0
failures=()

cleanup() {
    [ -x tests/harness/services.sh ] && tests/harness/services.sh stop >/dev/null 2>&1
    [ -n "${KEEP_TEST_TMP:-}" ] || rm -rf "$LOGDIR"
}
trap cleanup EXIT

run_suite() { # name command...
    local name=$1; shift
    local log="$LOGDIR/${name//\//_}.log" start=$SECONDS
    echo "== $name"
    "$@" >"$log" 2>&1
    local rc=$?
    local ok nok
    ok=$(grep -c '^ok - ' "$log" 2>/dev/null) || ok=0
    nok=$(grep -c '^not ok - ' "$log" 2>/dev/null) || nok=0
    passed=$((passed + ok))
    failed=$((failed + nok))
    grep '^not ok - ' "$log" | sed "s#^#   [$name] #"
    if [ "$nok" -gt 0 ]; then
        failures+=("$name")
        grep -A20 '^not ok - ' "$log" | grep '^#' | head -40 | sed 's/^/   /'
    fi
    if [ $rc -ne 0 ] && [ "$nok" -eq 0 ]; then
        failed=$((failed + 1)); failures+=("$name (exit $rc)")
        echo "   [$name] not ok - suite exited with $rc"; tail -30 "$log" | sed 's/^/   | /'
    elif [ "$ok" -eq 0 ] && [ "$nok" -eq 0 ]; then
        failed=$((failed + 1)); failures+=("$name (no tests ran)")
        echo "   [$name] not ok - suite ran no test"; tail -30 "$log" | sed 's/^/   | /'
    fi
    echo "   $ok ok, $nok not ok ($((SECONDS - start)) s)"
}

want() { [ $# -eq 0 ] && return 0; local s; for s in "${SELECTED[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
SELECTED=("$@")
sel() { if [ ${#SELECTED[@]} -eq 0 ]; then return 0; fi; want "$1"; }

# Unit tests: plain and sanitizer builds.
if sel unit; then
    for t in build/tests/test_* build/san/tests/test_*; do
        [ -x "$t" ] || continue
        case $t in *.d|*.o) continue ;; esac
        run_suite "unit:${t#build/}" "$t"
    done
fi

# Every other suite is tests/suites/NN-name.sh; it gets the services it needs
# from tests/harness/services.sh (which it calls itself with `need`).
for s in tests/suites/*.sh; do
    [ -e "$s" ] || continue
    n=$(basename "$s" .sh); n=${n#[0-9][0-9]-}
    sel "$n" || continue
    run_suite "$n" bash "$s"
done

echo
if [ ${#failures[@]} -gt 0 ]; then
    echo "failed suites: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
