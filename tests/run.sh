#!/usr/bin/env bash
# tests/run.sh - runs every test of sql2es and prints "N passed, N failed".
#
# Suites print TAP-style lines ("ok - name", "not ok - name") and declare how
# many they run with TAP plan lines ("1..N": `plan N` in a shell suite,
# T_PLAN(N) in a test binary; a suite's plan is the sum of its plan lines).
# A suite fails when it printed no plan, when a different number of checks
# ran, when it exits non-zero, or on any "not ok". The harness starts the
# servers the suites need (PostgreSQL, MariaDB, the OpenSearch node) on
# loopback in temporary directories, and stops them on exit. A server that
# cannot start, or a test binary (plain or sanitizer build) that was not
# built, is a failure, never a skip. The logs of the run are kept, and their
# path printed, when a suite failed (or KEEP_TEST_TMP is set).
#   tests/run.sh [SUITE...]     run only the named suites (e.g. unit golden)
#   SQL2ES_SUITES=DIR           run the suites of DIR instead of tests/suites
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export SQL2ES_ROOT=$ROOT
abs() { case $1 in /*) echo "$1" ;; *) echo "$ROOT/$1" ;; esac; }
# The plain and the sanitizer builds (`make coverage` runs the suites with
# SQL2ES_BUILD=build/cov, its instrumented build).
export SQL2ES_BUILD=$(abs "${SQL2ES_BUILD:-build}")
export SQL2ES_SAN_BUILD=$(abs "${SQL2ES_SAN_BUILD:-build/san}")
export SQL2ES_BIN=$(abs "${SQL2ES_BIN:-$SQL2ES_BUILD/sql2es}")
export SQL2ES_SAN_BIN=$SQL2ES_SAN_BUILD/sql2es
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/sql2es-tests.XXXXXX")
export SQL2ES_TEST_TMP=$LOGDIR
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=86}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=87}

passed=0 failed=0
failures=()

cleanup() {
    [ -x tests/harness/services.sh ] && tests/harness/services.sh stop >/dev/null 2>&1
    # the logs stay when a suite failed (their path was printed) or on request
    [ ${#failures[@]} -gt 0 ] || [ -n "${KEEP_TEST_TMP:-}" ] || rm -rf "$LOGDIR"
}
trap cleanup EXIT

run_suite() { # name command...
    local name=$1; shift
    local log="$LOGDIR/${name//\//_}.log" start=$SECONDS
    echo "== $name"
    "$@" >"$log" 2>&1
    local rc=$?
    local ok nok planned nplans bad=0
    ok=$(grep -c '^ok - ' "$log" 2>/dev/null) || ok=0
    nok=$(grep -c '^not ok - ' "$log" 2>/dev/null) || nok=0
    nplans=$(grep -cE '^1\.\.[0-9]+$' "$log" 2>/dev/null) || nplans=0
    planned=$(grep -E '^1\.\.[0-9]+$' "$log" | awk -F'\\.\\.' '{ n += $2 } END { print n + 0 }')
    passed=$((passed + ok))
    failed=$((failed + nok))
    grep '^not ok - ' "$log" | sed "s#^#   [$name] #"
    if [ "$nok" -gt 0 ]; then
        bad=1
        grep -A20 '^not ok - ' "$log" | grep '^#' | head -40 | sed 's/^/   /'
    fi
    if [ $rc -ne 0 ] && [ "$nok" -eq 0 ]; then
        failed=$((failed + 1)); bad=1
        echo "   [$name] not ok - suite exited with $rc"; tail -30 "$log" | sed 's/^/   | /'
    fi
    if [ "$ok" -eq 0 ] && [ "$nok" -eq 0 ]; then
        failed=$((failed + 1)); bad=1
        echo "   [$name] not ok - suite ran no test"; tail -30 "$log" | sed 's/^/   | /'
    elif [ "$nplans" -eq 0 ]; then
        failed=$((failed + 1)); bad=1
        echo "   [$name] not ok - suite declared no plan (\`plan N\` in a suite, T_PLAN(N) in a binary)"
    elif [ $((ok + nok)) -ne "$planned" ]; then
        failed=$((failed + 1)); bad=1
        echo "   [$name] not ok - planned $planned checks, $((ok + nok)) ran"
        [ $((ok + nok)) -lt "$planned" ] && tail -15 "$log" | sed 's/^/   | /'
    fi
    [ $bad -eq 0 ] || { failures+=("$name"); echo "   log: $log"; }
    echo "   $ok ok, $nok not ok ($((SECONDS - start)) s)"
}

want() { [ $# -eq 0 ] && return 0; local s; for s in "${SELECTED[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
SELECTED=("$@")
sel() { if [ ${#SELECTED[@]} -eq 0 ]; then return 0; fi; want "$1"; }

# Unit tests: plain and sanitizer builds of every tests/unit/test_*.c; a
# binary that was not built fails (make all unit; make SANITIZE=address,undefined all unit).
if sel unit; then
    for b in "$SQL2ES_BUILD" "$SQL2ES_SAN_BUILD"; do
        for src in tests/unit/test_*.c; do
            [ -e "$src" ] || continue
            t=$b/tests/$(basename "$src" .c)
            n=${t#"$ROOT"/}; n=${n#build/}
            if [ -x "$t" ]; then
                run_suite "unit:$n" "$t"
            else
                run_suite "unit:$n" sh -c 'echo "1..1"; echo "not ok - $1 is not built (make all unit; make SANITIZE=address,undefined all unit)"; exit 1' _ "$t"
            fi
        done
    done
fi

# Every other suite is tests/suites/NN-name.sh; it gets the services it needs
# from tests/harness/services.sh (which it calls itself with `need`).
# Two lanes: the service suites (7x: mostly waiting on the services they
# drive, each on its own connectors and indices) run one after the other
# beside the rest, which also run one after the other; the servers they
# share are started once (tests/harness/services.sh takes a lock). The
# service lane's output is printed when both lanes are done, and its counts
# are added. The wire-fault suites and 67-follow (their own slots, sessions
# and proxies; about three minutes together) run in the service lane too, so
# that both lanes take about as long. SQL2ES_TEST_LANES=1 runs everything in
# one lane.
LANE2=()
LANE1=()
for s in "${SQL2ES_SUITES:-tests/suites}"/*.sh; do
    [ -e "$s" ] || continue
    n=$(basename "$s" .sh); n=${n#[0-9][0-9]-}
    sel "$n" || continue
    case $(basename "$s") in
    7[0-9]-* | 57-wire-* | 67-follow.sh) [ "${SQL2ES_TEST_LANES:-2}" = 1 ] && LANE1+=("$s") || LANE2+=("$s") ;;
    *) LANE1+=("$s") ;;
    esac
done
lane_pid=
if [ ${#LANE2[@]} -gt 0 ]; then
    (
        passed=0 failed=0 failures=()
        trap - EXIT
        for s in "${LANE2[@]}"; do
            n=$(basename "$s" .sh); n=${n#[0-9][0-9]-}
            run_suite "$n" bash "$s"
        done
        echo "$passed $failed ${failures[*]}" >"$LOGDIR/lane2.result"
    ) >"$LOGDIR/lane2.out" 2>&1 &
    lane_pid=$!
fi
for s in "${LANE1[@]}"; do
    n=$(basename "$s" .sh); n=${n#[0-9][0-9]-}
    run_suite "$n" bash "$s"
done
if [ -n "$lane_pid" ]; then
    wait "$lane_pid"
    cat "$LOGDIR/lane2.out"
    if read -r p2 f2 rest <"$LOGDIR/lane2.result" 2>/dev/null; then
        passed=$((passed + p2)); failed=$((failed + f2))
        [ -n "$rest" ] && failures+=($rest)
    else
        failed=$((failed + 1)); failures+=(service-lane)
        echo "   [service lane] not ok - it ended without its counts"
    fi
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
    echo "failed suites: ${failures[*]}"
fi
if [ ${#failures[@]} -gt 0 ] || [ -n "${KEEP_TEST_TMP:-}" ]; then
    echo "logs kept in $LOGDIR"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
