#!/usr/bin/env bash
# 64-sync-tls.sh - HTTPS to Elasticsearch (`ssl`, `verify_certs`, `ca_certs`)
# with basic authentication: a SQLite table synced into the test node through
# the loopback proxy (tests/harness/faultproxy.py) speaking TLS with a
# certificate of a throwaway CA (tests/harness/tls.sh) and requiring the
# Authorization header (the node itself has neither TLS nor security).
# Checks: verified TLS works, an unrelated CA is refused quickly and clearly,
# verify_certs: false accepts it, `ssl: true` on a bare host means https, a
# wrong password is a clear error, and the password never shows in output.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 16
need opensearch
E2E_TMP=$SQL2ES_TEST_TMP/e2e-sync-tls
rm -rf "$E2E_TMP"; mkdir -p "$E2E_TMP"
. "$SQL2ES_ROOT/tests/e2e-sync/lib.sh"
cd "$E2E_TMP" || exit 1
san_bin "$SQL2ES_SAN_BIN" || exit 1
SQL2ES_BIN=$SQL2ES_SAN_BIN

bash "$SQL2ES_ROOT/tests/harness/tls.sh" certs >certs.log 2>&1 || { not_ok "test certificates"; exit 1; }
sqlite3 t.db "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 120)
INSERT INTO items SELECT i, 'item ' || i FROM s;" || { not_ok "fixture"; exit 1; }
IX=e2e64
es_drop "$IX-verified" "$IX-unverified" "$IX-bare" "$IX-other"

export ES_TEST_PASSWORD=tls-pw-$$-secret
basic=$(printf 'tls-user:%s' "$ES_TEST_PASSWORD" | base64 -w0)
start_proxy PTLS --tls-cert certs/server.pem --tls-key certs/server.key \
    --require-header "Authorization: Basic $basic" --fault-paths '^$' || exit 1
case $PTLS in https://*) ok "the proxy speaks https ($PTLS)" ;; *) not_ok "the proxy speaks https ($PTLS)"; exit 1 ;; esac
PORT=${PTLS##*:}

cfg() { # FILE HOST INDEX [extra elasticsearch lines...]
    local f=$1 host=$2 index=$3; shift 3
    {
        printf 'elasticsearch:\n  host: %s\n  username: tls-user\n  password: ${ES_TEST_PASSWORD}\n' "$host"
        local l; for l in "$@"; do printf '  %s\n' "$l"; done
        cat <<YML
connectors:
  - connector_id: tls
    service_type: sqlite
    index_name: $index
    configuration: { path: ./t.db, tables: [items] }
YML
    } >"$f"
}

cfg verified.yml "$PTLS" "$IX-verified" "ca_certs: $E2E_TMP/certs/ca.pem" "verify_certs: true"
run_sync verified -c verified.yml --full
check_sync verified 0 "https with the CA in ca_certs: the certificate is verified"
check_eq "every row indexed through TLS" "$(es_count "$IX-verified")" 120

cfg other.yml "$PTLS" "$IX-other" "ca_certs: $E2E_TMP/certs/other-ca.pem"
start=$SECONDS
run_sync other -c other.yml --full
check_sync other 1 "an unrelated CA: the sync fails"
check "the error names the certificate problem" grep -qiE "certificate|SSL" other.out
check "... at once: a bad certificate is not a cluster starting up (max_wait_duration is 240 s)" \
    test $((SECONDS - start)) -lt 30
check "the error says what to check" grep -q "check elasticsearch.ca_certs" other.out
check_eq "... and nothing was indexed" "$(es GET "/$IX-other/_count" | jq -r '.count // 0')" 0

cfg unverified.yml "$PTLS" "$IX-unverified" "ca_certs: $E2E_TMP/certs/other-ca.pem" "verify_certs: false"
run_sync unverified -c unverified.yml --full
check_sync unverified 0 "verify_certs: false accepts a certificate no CA vouches for"
check_eq "every row indexed without verification" "$(es_count "$IX-unverified")" 120

cfg bare.yml "127.0.0.1:$PORT" "$IX-bare" "ssl: true" "ca_certs: $E2E_TMP/certs/ca.pem"
run_sync bare -c bare.yml --full
check_sync bare 0 "a host without a scheme and ssl: true means https"
check_eq "every row indexed (bare host)" "$(es_count "$IX-bare")" 120

ES_TEST_PASSWORD=wrong-$ES_TEST_PASSWORD run_sync badpw -c verified.yml --full
check_sync badpw 1 "a wrong password fails the sync"
check "the error shows the server's answer (401)" grep -q "401" badpw.out
check "the password never appears in any output" \
    bash -c "! grep -rqF -- '$ES_TEST_PASSWORD' ./*.out"
n401=$(curl -s --max-time 10 --cacert certs/ca.pem "$PTLS/_faultproxy/stats" | jq -r '.["401"] // 0')
check "the proxy refused the wrong credentials ($n401 answers 401)" test "${n401:-0}" -ge 1
es_drop "$IX-verified" "$IX-unverified" "$IX-bare" "$IX-other"
