#!/usr/bin/env bash
# 13-harness.sh - the test harness tests itself: tests/run.sh over stub suites
# (SQL2ES_SUITES) fails a suite that ran fewer checks than its plan, that
# printed no plan, or that crashed; keeps the logs of a failed run and prints
# their path; the golden suite refuses UPDATE_GOLDEN under CI; and
# tests/e2e-sync/check_index.py against a stub server
# (tests/harness/selftest_check_index.py).
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 18
root=$SQL2ES_ROOT
T=$SQL2ES_TEST_TMP/harness
rm -rf "$T"
mkdir -p "$T/suites" "$T/tmp"
stub() { printf '#!/usr/bin/env bash\n. "$SQL2ES_ROOT/tests/harness/lib.sh"\n%s\n' "$2" >"$T/suites/$1.sh"; }
stub 01-good 'plan 2; ok a; ok b'
stub 02-short 'plan 3; ok a; ok b'
stub 03-noplan 'ok a'
stub 04-crash 'plan 2; ok a; kill -SEGV $$; ok b'
stub 05-over 'plan 1; ok a; ok b'
# runner NAME...: tests/run.sh over the stubs; output in $T/NAME.out, exit in RC
runner() {
    local out=$T/$1.out
    SQL2ES_SUITES=$T/suites TMPDIR=$T/tmp KEEP_TEST_TMP= bash "$root/tests/run.sh" "$@" >"$out" 2>&1
    RC=$?
}
runner good
check_eq "a suite that ran its plan passes" "$RC/$(tail -1 "$T/good.out")" "0/2 passed, 0 failed"
check "a run that passed leaves no logs behind" test -z "$(ls -A "$T/tmp")"
runner short
check "a suite that ran fewer checks than planned fails" grep -q 'not ok - planned 3 checks, 2 ran' "$T/short.out"
check_eq "... and counts as a failure" "$RC/$(tail -1 "$T/short.out")" "1/2 passed, 1 failed"
runner over
check "a suite that ran more checks than planned fails" grep -q 'not ok - planned 1 checks, 2 ran' "$T/over.out"
runner noplan
check "a suite without a plan fails" grep -q 'not ok - suite declared no plan' "$T/noplan.out"
check_eq "... exit 1" "$RC" 1
runner crash
check "a suite killed by a signal fails" grep -q 'not ok - suite exited with' "$T/crash.out"
check "... and the checks it did not run are reported" grep -q 'not ok - planned 2 checks, 1 ran' "$T/crash.out"
log=$(sed -n 's/^   log: //p' "$T/crash.out")
check "the log of the failed suite is kept and its path printed" test -s "$log"
check "the log holds the suite's output" grep -q '^ok - a' "$log"
check "the run prints where its logs are" grep -q '^logs kept in ' "$T/crash.out"
check_eq "the closing line stays 'N passed, N failed'" "$(tail -1 "$T/crash.out")" "1 passed, 2 failed"

# a sanitizer build that was not built is a failure, not a skip
mkdir -p "$T/nosan/tests"
runner_unit() {
    SQL2ES_SUITES=$T/none SQL2ES_SAN_BUILD=$T/nosan TMPDIR=$T/tmp bash "$root/tests/run.sh" unit >"$T/unit.out" 2>&1
    RC=$?
}
runner_unit
check "a missing sanitizer unit binary fails" grep -q 'not ok - .*nosan/tests/test_core is not built' "$T/unit.out"
check_eq "... exit 1" "$RC" 1
out=$(SQL2ES_SAN_BIN=$T/nosan/sql2es bash -c '. "$SQL2ES_ROOT/tests/harness/lib.sh"; san_bin "$SQL2ES_SAN_BIN" || echo refused')
check "san_bin: a missing sanitizer binary is a failing check" \
    sh -c 'printf "%s\n" "$1" | grep -q "^not ok - sanitizer build: .* is not built" && printf "%s\n" "$1" | grep -q "^refused$"' _ "$out"

# UPDATE_GOLDEN is refused under CI, before any file is written
before=$(cd "$root/tests/golden" && cat ./*.expected | md5sum)
out=$(CI=true UPDATE_GOLDEN=1 bash "$root/tests/suites/20-golden.sh" 2>&1)
check "UPDATE_GOLDEN under CI: refused" sh -c 'printf "%s\n" "$1" | grep -q "^not ok - golden: UPDATE_GOLDEN is refused when CI is set"' _ "$out"
check_eq "UPDATE_GOLDEN under CI: no expectation changed" "$(cd "$root/tests/golden" && cat ./*.expected | md5sum)" "$before"

# check_index.py: numbers by their text, no empty comparison (9 checks, own plan)
python3 "$root/tests/harness/selftest_check_index.py"
