# dryrun-lib.sh - sourced by the dry-run suites (tests/suites/5x-dryrun-*.sh)
# after tests/harness/lib.sh: a work directory, the binaries to run, and
# helpers that run `sql2es sync --dry-run` and check its output with
# tests/e2e/check_ndjson.py.
E2E=$SQL2ES_ROOT/tests/e2e
W=$(mktemp -d "$SQL2ES_TEST_TMP/dryrun.XXXXXX")
cd "$W" || exit 1
abs() { case $1 in /*) echo "$1" ;; *) echo "$SQL2ES_ROOT/$1" ;; esac; }
SQL2ES_BIN=$(abs "$SQL2ES_BIN")
SQL2ES_SAN_BIN=$(abs "$SQL2ES_SAN_BIN")
# bins: the plain binary, then the sanitizer one (not built: a failure)
bins=("$SQL2ES_BIN")
san_bin "$SQL2ES_SAN_BIN" && bins+=("$SQL2ES_SAN_BIN")
[ -x "$SQL2ES_BIN" ] || { not_ok "sql2es binary $SQL2ES_BIN is built"; exit 1; }
bin_tag() { if [ "$1" = "${SQL2ES_SAN_BIN:-}" ]; then echo san; else echo plain; fi; }

# run TAG BIN CONFIG [ARGS...]: dry run into $W/TAG.ndjson, stderr in $W/TAG.err, exit code in RC
run() {
    local tag=$1 bin=$2 cfg=$3; shift 3
    "$bin" sync --dry-run -c "$cfg" -o "$W/$tag.ndjson" "$@" 2>"$W/$tag.err"
    RC=$?
}
# expect NAME TAG EXPECTED [check_ndjson.py options...]: exit 0 and the output matches
expect() {
    local name=$1 tag=$2 exp=$3; shift 3
    local out
    if [ "$RC" -ne 0 ]; then
        not_ok "$name (exit $RC)"; sed 's/^/# /' "$W/$tag.err" | tail -15; return
    fi
    if out=$(python3 "$E2E/check_ndjson.py" "$W/$tag.ndjson" "$exp" --stderr "$W/$tag.err" "$@"); then
        ok "$name"
    else
        not_ok "$name"; echo "$out"
    fi
}
# pick EXPECTED OUT ID...: the expected items with these _ids, in file order
pick() {
    python3 - "$@" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
ids = set(sys.argv[3:])
out = [l for i in range(0, len(lines), 2) if json.loads(lines[i])["index"]["_id"] in ids for l in lines[i:i + 2]]
open(sys.argv[2], "w").write("\n".join(out) + "\n")
PY
}
# no_secret TAG SECRET: the secret appears neither in stderr nor in the output
no_secret() {
    if grep -qF "$2" "$W/$1.err" "$W/$1.ndjson" 2>/dev/null; then not_ok "$1: password not in output"; else ok "$1: password not in output"; fi
}
