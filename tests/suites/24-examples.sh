#!/usr/bin/env bash
# Every example compiles: `validate` exits 0 and `plan` prints a plan, with the
# normal and the sanitizer build; `--help` works for every command.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
nex=$(ls "$SQL2ES_ROOT"/examples/*/config.yml | wc -l)
# per binary: 3 per example, 4 --help, --version, 3 exit codes; then 4 on secrets
plan $(( 2 * (3 * nex + 8) + 7 ))
bins=("$SQL2ES_BIN")
san_bin "$SQL2ES_SAN_BIN" && bins+=("$SQL2ES_SAN_BIN")
for bin in "${bins[@]}"; do
    tag=$(basename "$(dirname "$bin")")
    for f in "$SQL2ES_ROOT"/examples/*/config.yml; do
        ex=$(basename "$(dirname "$f")")
        out=$(cd "$(dirname "$f")" && "$bin" validate -c config.yml 2>&1); rc=$?
        check_eq "[$tag] validate examples/$ex exits 0" "$rc" 0
        [ $rc -eq 0 ] || echo "$out" | sed 's/^/# /'
        out=$(cd "$(dirname "$f")" && "$bin" plan -c config.yml 2>&1); rc=$?
        check "[$tag] plan examples/$ex prints connectors" test $rc -eq 0 -a -n "$(echo "$out" | grep '^connector ')"
        out=$(cd "$(dirname "$f")" && "$bin" plan -c config.yml --format json 2>/dev/null); rc=$?
        check "[$tag] plan --format json examples/$ex is valid JSON" \
            sh -c 'test "$1" -eq 0 && printf "%s" "$2" | python3 -m json.tool >/dev/null' _ "$rc" "$out"
    done
    for cmd in validate plan sync schema; do
        out=$("$bin" "$cmd" --help 2>&1); rc=$?
        check "[$tag] $cmd --help" test $rc -eq 0 -a -n "$(echo "$out" | grep '^usage: sql2es')"
    done
    out=$("$bin" --version); check "[$tag] --version" test -n "$(echo "$out" | grep -E '^sql2es [0-9]+\.[0-9]+')"
    "$bin" nonsense >/dev/null 2>&1; check_eq "[$tag] unknown command exits 2" "$?" 2
    "$bin" plan -c /nonexistent.yml >/dev/null 2>&1; check_eq "[$tag] missing file exits 2" "$?" 2
    "$bin" sync -c "$SQL2ES_ROOT/examples/quickstart/config.yml" --limit x >/dev/null 2>&1
    check_eq "[$tag] bad --limit exits 2" "$?" 2
done
# the connectors' own config.yml has no database settings: it validates, and
# what would connect refuses it at the connector's line (exit 2) instead of
# falling back to the local socket as root
ex=$SQL2ES_ROOT/examples/connectors-compat
out=$(cd "$ex" && timeout 60 "$SQL2ES_BIN" sync --dry-run -o /dev/null -c config.yml 2>&1); rc=$?
check_eq "connectors-compat: sync refuses a connector without database settings (exit 2)" "$rc" 2
check "connectors-compat: the refusal names the connector's line" \
    sh -c 'printf "%s" "$1" | grep -q "^config.yml:39:15: error: connector .* has no database settings"' _ "$out"
out=$(cd "$ex" && timeout 60 "$SQL2ES_BIN" validate --check-source -c config.yml 2>&1); rc=$?
check_eq "connectors-compat: validate --check-source refuses it too (exit 2)" "$rc" 2
# secrets never printed by plan
tmp=$(mktemp -d)
cat > "$tmp/c.yml" <<'YML'
elasticsearch: { host: "http://127.0.0.1:9", api_key: "SeCrEtKeY123", password: "EsPaSs999" }
connectors:
  - connector_id: s
    index_name: s
    service_type: postgresql
    configuration: { host: 127.0.0.1, username: u, password: "PgPaSs777", database: d }
YML
out=$("$SQL2ES_BIN" plan -c "$tmp/c.yml" 2>&1; "$SQL2ES_BIN" plan -c "$tmp/c.yml" --format json 2>&1)
check "plan redacts api_key and passwords" sh -c '! printf "%s" "$1" | grep -qE "SeCrEtKeY123|EsPaSs999|PgPaSs777"' _ "$out"
check "plan shows *** for secrets" sh -c 'printf "%s" "$1" | grep -q "\*\*\*"' _ "$out"
# a password in the host URL's userinfo: not in plan (text, JSON) nor in a
# run-time error, also when it holds '/', '#' or '?'
cat > "$tmp/u.yml" <<'YML'
elasticsearch: { host: "http://elastic:Pw/9#x?y@127.0.0.1:9" }
connectors:
  - { connector_id: s, index_name: s, service_type: sqlite, configuration: { path: none.db } }
YML
out=$("$SQL2ES_BIN" plan -c "$tmp/u.yml" 2>&1; "$SQL2ES_BIN" plan -c "$tmp/u.yml" --format json 2>&1)
check "plan masks the password of the host URL" sh -c '! printf "%s" "$1" | grep -q "Pw/9" && printf "%s" "$1" | grep -q "elastic:\*\*\*@127"' _ "$out"
out=$(cd "$tmp" && timeout 60 "$SQL2ES_BIN" sync -c u.yml 2>&1); rc=$?
check "a run-time error does not show the password of the host URL" \
    sh -c 'test "$2" -ne 0 -a "$2" -ne 124 && ! printf "%s" "$1" | grep -q "Pw/9"' _ "$out" "$rc"
[ $rc -ne 0 ] && printf "%s" "$out" | grep -q "Pw/9" && printf '%s\n' "$out" | sed 's/^/# /'
rm -rf "$tmp"
