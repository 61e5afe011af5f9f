# lib.sh - sourced by test suites (tests/suites/*.sh): TAP helpers and `need`.
# Every suite declares how many checks it runs with `plan N` (prints the TAP
# plan line `1..N`) before its first check; a test binary run by a suite
# prints its own plan (tests/unit/t.h, T_PLAN). tests/run.sh adds up the plan
# lines of a suite's output and fails the suite when a different number of
# checks ran, so a crash or an early exit cannot hide the checks it skipped.
SQL2ES_ROOT=${SQL2ES_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# SQL2ES_BUILD: the plain build (default build/; `make coverage` points it at
# the instrumented build/cov); SQL2ES_SAN_BUILD: the sanitizer build.
SQL2ES_BUILD=${SQL2ES_BUILD:-$SQL2ES_ROOT/build}
SQL2ES_SAN_BUILD=${SQL2ES_SAN_BUILD:-$SQL2ES_ROOT/build/san}
SQL2ES_BIN=${SQL2ES_BIN:-$SQL2ES_BUILD/sql2es}
SQL2ES_SAN_BIN=${SQL2ES_SAN_BIN:-$SQL2ES_SAN_BUILD/sql2es}
: "${SQL2ES_TEST_TMP:=$(mktemp -d)}"
export SQL2ES_TEST_TMP

# need NAME: start the service (once per run) and import its variables.
need() {
    local env
    env=$(bash "$SQL2ES_ROOT/tests/harness/services.sh" start "$1") || {
        echo "not ok - service $1 could not be started"; exit 1; }
    set -a; . "$env"; set +a
}
# plan N: this suite runs N checks (its own; binaries it runs plan theirs).
plan() { echo "1..$1"; }
# san_bin PATH: PATH when the sanitizer build made it; otherwise a failing
# check naming the build to run, and returns 1 (never a silent skip).
san_bin() {
    if [ -x "$1" ]; then return 0; fi
    not_ok "sanitizer build: ${1#"$SQL2ES_ROOT"/} is not built (make SANITIZE=address,undefined all unit)"
    return 1
}
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; }
# check NAME CMD...: ok when CMD succeeds
check() { local n=$1; shift; if "$@"; then ok "$n"; else not_ok "$n"; fi; }
# check_eq NAME GOT WANT
check_eq() {
    if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1"; printf '#   got:  %s\n#   want: %s\n' "$2" "$3"; fi
}
