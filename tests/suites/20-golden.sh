#!/usr/bin/env bash
# 20-golden.sh - golden compiler tests: tests/golden/NNN-name.yaml is compiled
# with `sql2es plan -c FILE` (or `sql2es validate -c FILE` for *-invalid*
# cases) from inside tests/golden, so locations print as relative names; the
# exit code, stdout and stderr are compared with NNN-name.expected (first
# line `exit: N`). UPDATE_GOLDEN=1 rewrites the expectations that differ and
# reports each rewritten case as not ok (check the diff, then run again);
# it is refused when CI is set. Last, tests/harness/diag_messages.py checks
# that every error and warning message of dsl/ has a golden or unit case.
# Interpolation cases get fixed environment variables (below).
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
BIN=$SQL2ES_BIN
cd "$SQL2ES_ROOT/tests/golden" || exit 1
cases=([0-9][0-9][0-9]-*.yaml)
plan $((${#cases[@]} + 1))
[ -x "$BIN" ] || { not_ok "golden: $BIN is not built"; exit 1; }
if [ -n "${UPDATE_GOLDEN:-}" ] && [ -n "${CI:-}" ]; then
    not_ok "golden: UPDATE_GOLDEN is refused when CI is set (expectations are never rewritten in CI)"
    exit 1
fi

# Fixed environment for ${VAR} interpolation cases.
export SQL2ES_GOLDEN_HOST=db.example.test
export SQL2ES_GOLDEN_PORT=6543
export SQL2ES_GOLDEN_SECRET=not-printed
export SQL2ES_GOLDEN_EMPTY=
unset SQL2ES_GOLDEN_UNSET
export NO_COLOR=1

run_case() { # file -> prints "exit: N" then stdout+stderr
    local f=$1 cmd=plan out rc extra=()
    case $f in *-invalid*) cmd=validate ;; esac
    case $f in *-format-json*) extra=(--format json) ;; esac
    case $f in *-table-*) extra+=(--table "$(sed -n 's/^# table: //p' "$f" | head -1)") ;; esac
    out=$("$BIN" "$cmd" -c "$f" "${extra[@]}" 2>&1)
    rc=$?
    printf 'exit: %d\n%s\n' "$rc" "$out"
}

n=0
for f in "${cases[@]}"; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    exp=${f%.yaml}.expected
    got=$(run_case "$f")
    if [ -n "${UPDATE_GOLDEN:-}" ] && [ "$got" != "$(cat "$exp" 2>/dev/null)" ]; then
        printf '%s\n' "$got" > "$exp"
        not_ok "golden $f: expectation rewritten (UPDATE_GOLDEN); check the diff and run again"
        continue
    fi
    if [ ! -f "$exp" ]; then
        not_ok "golden $f: no $exp (run with UPDATE_GOLDEN=1)"
        continue
    fi
    if [ "$got" == "$(cat "$exp")" ]; then
        ok "golden $f"
    else
        not_ok "golden $f"
        diff <(printf '%s\n' "$got") "$exp" | head -40 | sed 's/^/# /'
    fi
done
[ "$n" -gt 0 ] || not_ok "golden: no cases found"

# Every error and warning of the compiler (dsl/) has a golden or unit case.
if out=$(python3 "$SQL2ES_ROOT/tests/harness/diag_messages.py" --check 2>&1); then
    ok "every compiler message has a case (${out##*# })"
else
    not_ok "every compiler message has a case (tests/harness/diag_messages.py)"
    printf '%s\n' "$out" | sed 's/^/#   /'
fi
