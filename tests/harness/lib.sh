# lib.sh - sourced by test suites (tests/suites/*.sh): TAP helpers and `need`.
SQL2ES_ROOT=${SQL2ES_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SQL2ES_BIN=${SQL2ES_BIN:-$SQL2ES_ROOT/build/sql2es}
: "${SQL2ES_TEST_TMP:=$(mktemp -d)}"
export SQL2ES_TEST_TMP

# need NAME: start the service (once per run) and import its variables.
need() {
    local env
    env=$(bash "$SQL2ES_ROOT/tests/harness/services.sh" start "$1") || {
        echo "not ok - service $1 could not be started"; exit 1; }
    set -a; . "$env"; set +a
}
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; }
# check NAME CMD...: ok when CMD succeeds
check() { local n=$1; shift; if "$@"; then ok "$n"; else not_ok "$n"; fi; }
# check_eq NAME GOT WANT
check_eq() {
    if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1"; printf '#   got:  %s\n#   want: %s\n' "$2" "$3"; fi
}
