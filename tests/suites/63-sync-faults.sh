#!/usr/bin/env bash
# 63-sync-faults.sh - real syncs from PostgreSQL into the test OpenSearch node
# through fault-injecting proxies (tests/harness/faultproxy.py): 429 on a third
# of the _bulk requests, 503s, item-level rejections, connections reset before
# and after forwarding. Each sync must end with every document present exactly
# once (compared field by field), or fail cleanly and succeed on the next run.
# Then authentication: an ApiKey header required by a proxy, with the right
# key (exit 0) and a wrong one (exit 1, a clear 401 message, the key never
# printed).
set -uo pipefail
# the sessions of this suite carry their own name: the kill below leaves
# the other suites' sessions (run beside this one) alone
export PGAPPNAME=sql2es-e2e63
. "$(dirname "$0")/../harness/lib.sh"
plan 48
need opensearch
need postgresql
E2E_TMP=$SQL2ES_TEST_TMP/e2e-sync-faults
rm -rf "$E2E_TMP"; mkdir -p "$E2E_TMP"
. "$SQL2ES_ROOT/tests/e2e-sync/lib.sh"
cd "$E2E_TMP" || exit 1

if [ ! -x "$SQL2ES_BIN" ]; then not_ok "sql2es is built ($SQL2ES_BIN)"; exit 0; fi
if ! psql -q -v ON_ERROR_STOP=1 >psql.log 2>&1 <<'EOF'
DROP TABLE IF EXISTS e2e_fault;
CREATE TABLE e2e_fault (id int PRIMARY KEY, name text, amount numeric(24,8), at timestamptz, tags text[]);
INSERT INTO e2e_fault SELECT g, 'row ' || g || repeat('x', g % 50), g * 1.0001, timestamptz '2024-01-01' + g * interval '1 s',
       ARRAY['a' || (g % 7)] FROM generate_series(1, 2000) g;
EOF
then not_ok "fixture loaded"; sed 's/^/#   /' psql.log; exit 0; fi
ROWS="psql -XAtc \"SELECT row_to_json(t) FROM e2e_fault t\""

# config FILE HOST INDEX [ES_EXTRA_YAML]
config() {
    cat >"$1" <<EOF
elasticsearch:
  host: $2
  ssl: false
  max_wait_duration: 10
  initial_backoff_duration: 0.05
  backoff_multiplier: 2
  max_retries: ${RETRIES:-8}
  retry_interval: 0.25
${4:-}
  bulk:
    chunk_size: 100
    max_concurrency: 3
    max_retries: ${RETRIES:-8}
    retry_interval: 0.05
    dead_letter_file: ./dead-$3.ndjson
connectors:
  - connector_id: faults
    service_type: postgresql
    index_name: $3
    configuration: { host: $PGHOST, port: $PGPORT, username: $PGUSER, password: "\${PGPASSWORD}", database: $PGDATABASE, tables: e2e_fault, fetch_size: 500 }
    mappings:
      e2e_fault: { id: "f-{{ id }}" }
EOF
}

# fault_run LABEL VAR PROXY_ARGS...: sync through a proxy into a fresh index;
# a failed run must be clean and the next run must complete the index.
fault_run() {
    local label=$1 var=$2 ix=e2e63-${2,,}; shift 2
    es_drop "$ix"
    start_proxy "$var" "$@" || return
    local url=${!var}
    config "$var.yml" "$url" "$ix"
    run_sync "$var" -c "$var.yml"
    local rc=$SYNC_RC
    if [ "$rc" -ne 0 ]; then
        echo "# $label: first run failed (exit $rc); re-running"
        show "$var" 6
        run_sync "$var-again" -c "$var.yml"
        check_sync "$var-again" 0 "$label: the re-run after a clean failure completes"
    else
        ok "$label: sync completed (exit 0)"
    fi
    check_index "$label: every document present exactly once, every value equal" "$ix" "$ROWS" 'f-{id}'
    check "$label: nothing dead-lettered" test ! -s "dead-$ix.ndjson"
}

fault_run "429 on a third of the _bulk requests" P429 --rate-429 0.33 --seed 4291
check "429: the proxy answered 429 ($(proxy_stat "$P429" 429) times)" test "$(proxy_stat "$P429" 429)" -gt 0
fault_run "503 on a quarter of the _bulk requests" P503 --fail-503 0.25 --seed 5031
fault_run "item-level 429 rejections (20%)" PITEM --item-reject 0.2 --seed 77
check "items: the proxy rejected items ($(proxy_stat "$PITEM" rejected_items))" test "$(proxy_stat "$PITEM" rejected_items)" -gt 0
check "items: the summary counts every document acknowledged" grep -q 'acknowledged 2000\b' <<<"$SYNC_SUMMARY"
fault_run "connections reset before forwarding (10%)" PRST --reset 0.1 --seed 12
check "reset: the proxy reset connections ($(proxy_stat "$PRST" reset))" test "$(proxy_stat "$PRST" reset)" -gt 0
fault_run "connections reset after forwarding (10%)" PRSTA --reset-after 0.1 --seed 13
fault_run "all faults at once" PALL --rate-429 0.2 --fail-503 0.1 --reset 0.05 --reset-after 0.05 --item-reject 0.1 --seed 99

# an unrecoverable cluster: every _bulk refused -> exit 1, clear message, next run completes
es_drop e2e63-pdown
start_proxy PDOWN --fail-503 1.0 --seed 1
RETRIES=2 config pdown.yml "$PDOWN" e2e63-pdown
run_sync pdown -c pdown.yml
check_sync pdown 1 "every _bulk answered 503 -> failure"
check "every _bulk 503: the message names the 503" grep -q '503' pdown.out
check "every _bulk 503: no sweep after a failed run" grep -q 'unseen deleted 0' <<<"$SYNC_SUMMARY"
config pdown2.yml "$ES_URL" e2e63-pdown
run_sync pdown2 -c pdown2.yml
check_sync pdown2 0 "the next run against the healthy node"
check_index "after the failed run: the next run completes the index" e2e63-pdown "$ROWS" 'f-{id}'

# the cluster unreachable for ~2 s in the middle of a sync (the proxy stopped
# and started again on the same port): retried, every document exactly once
es_drop e2e63-outage
start_proxy POUT
port=${POUT##*:}
config outage.yml "$POUT" e2e63-outage
sed -i 's/chunk_size: 100/chunk_size: 30/; s/max_concurrency: 3/max_concurrency: 1/' outage.yml
"$SQL2ES_BIN" sync -c outage.yml >outage.out 2>&1 &
spid=$!
sleep 1
kill "${E2E_PIDS[-1]}" 2>/dev/null
sleep 2
running=no; kill -0 "$spid" 2>/dev/null && running=yes
python3 "$SQL2ES_ROOT/tests/harness/faultproxy.py" --upstream "$ES_URL" --listen-port "$port" \
    --max-seconds 300 >outage-proxy2.out 2>&1 &
E2E_PIDS+=($!)
wait "$spid"
SYNC_RC=$?
SYNC_SUMMARY=$(grep '^sql2es: ' outage.out | tail -1)
check_eq "outage: the sync was still running when the cluster came back" "$running" yes
if [ "$SYNC_RC" -ne 0 ]; then
    echo "# outage: first run failed (exit $SYNC_RC); re-running"; show outage 6
    run_sync outage-again -c outage.yml
    check_sync outage-again 0 "outage: the re-run after a clean failure completes"
else
    ok "outage: the sync rode out the outage (exit 0)"
fi
check_index "outage: every document present exactly once" e2e63-outage "$ROWS" 'f-{id}'

# the PostgreSQL connection killed in the middle of the scan: resumed after
# the last key written, every row exactly once
psql -q -v ON_ERROR_STOP=1 >>psql.log 2>&1 <<'EOF'
DROP TABLE IF EXISTS e2e_resume;
CREATE TABLE e2e_resume (id int PRIMARY KEY, v text);
INSERT INTO e2e_resume SELECT g, 'v' || g FROM generate_series(1, 100000) g;
EOF
es_drop e2e63-resume
cat >resume.yml <<EOF
elasticsearch: { host: $ES_URL, ssl: false, bulk: { chunk_size: 100, max_concurrency: 1, queue_max_size: 200 } }
connectors:
  - connector_id: resume
    service_type: postgresql
    index_name: e2e63-resume
    configuration: { host: $PGHOST, port: $PGPORT, username: $PGUSER, password: "\${PGPASSWORD}", database: $PGDATABASE, tables: e2e_resume, fetch_size: 500 }
    mappings:
      e2e_resume: { id: "r-{{ id }}" }
EOF
"$SQL2ES_BIN" sync -c resume.yml >resume.out 2>&1 &
spid=$!
# kill the source connection once documents are arriving (not on a timer:
# an idle machine would finish first, a busy one would not have started)
killed=0
for _ in $(seq 1 300); do
    kill -0 "$spid" 2>/dev/null || break
    n=$(curl -s "$ES_URL/e2e63-resume/_count" | python3 -c 'import sys,json
try: print(json.load(sys.stdin).get("count", 0))
except Exception: print(0)')
    if [ "${n:-0}" -gt 0 ]; then
        killed=$(psql -h "$PG_SUPERUSER_SOCKET" -U "$PG_SUPERUSER" -d "$PGDATABASE" -XAtc \
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '$PGUSER' AND application_name = 'sql2es-e2e63' AND pid <> pg_backend_pid()" 2>>psql.log)
        break
    fi
    sleep 0.1
done
wait "$spid"
SYNC_RC=$?
check_eq "source connection killed mid-scan: the sync completes" "$SYNC_RC/$( [ "${killed:-0}" -gt 0 ] && echo killed)" "0/killed"
check "source connection killed mid-scan: a warning says it resumed" grep -q 'resuming after [1-9]' resume.out
check_index "source connection killed mid-scan: every row exactly once" e2e63-resume \
    "psql -XAtc \"SELECT row_to_json(t) FROM e2e_resume t\"" 'r-{id}'

# ---- authentication ---------------------------------------------------------------
KEY=$(printf 'e2e-id:%s' "secret$RANDOM$RANDOM" | base64)
WRONG=$(printf 'e2e-id:%s' "wrong$RANDOM$RANDOM" | base64)
start_proxy PAUTH --require-header "Authorization: ApiKey $KEY"
es_drop e2e63-auth
export E2E_API_KEY=$KEY
config auth.yml "$PAUTH" e2e63-auth '  api_key: ${E2E_API_KEY}'
run_sync auth -c auth.yml
check_sync auth 0 "api_key: the proxy requiring the ApiKey header lets the sync through"
check_index "api_key: every document indexed" e2e63-auth "$ROWS" 'f-{id}'
export E2E_API_KEY=$WRONG
run_sync authbad -c auth.yml
check_sync authbad 1 "wrong api_key -> failure"
check "wrong api_key: the message says 401" grep -q '401' authbad.out
check "wrong api_key: no key in the output" bash -c "! grep -qF -e '$KEY' -e '$WRONG' authbad.out auth.out"
check "api keys never reach the proxy log in clear" bash -c "! grep -qF -e '$KEY' -e '$WRONG' proxy-PAUTH.log"
# the connector's own api_key wins over elasticsearch.api_key
cat >auth-conn.yml <<EOF
elasticsearch: { host: $PAUTH, ssl: false, api_key: "$WRONG", max_wait_duration: 5 }
connectors:
  - connector_id: faults
    service_type: postgresql
    api_key: \${E2E_API_KEY}
    index_name: e2e63-auth
    configuration: { host: $PGHOST, port: $PGPORT, username: $PGUSER, password: "\${PGPASSWORD}", database: $PGDATABASE, tables: e2e_fault }
    mappings:
      e2e_fault: { id: "f-{{ id }}" }
EOF
export E2E_API_KEY=$KEY
run_sync authconn -c auth-conn.yml
check_sync authconn 0 "the connector's api_key wins over elasticsearch.api_key"
check "connector api_key: no key in the output" bash -c "! grep -qF -e '$KEY' -e '$WRONG' authconn.out"

# basic authentication: username/password
PW="pw-$RANDOM$RANDOM"
start_proxy PBASIC --require-header "Authorization: Basic $(printf 'e2e-user:%s' "$PW" | base64)"
es_drop e2e63-basic
export E2E_ES_PASSWORD=$PW
config basic.yml "$PBASIC" e2e63-basic '  username: e2e-user
  password: ${E2E_ES_PASSWORD}'
run_sync basic -c basic.yml
check_sync basic 0 "username/password: the proxy requiring Basic auth lets the sync through"
check_eq "username/password: every document indexed" "$(es_count e2e63-basic)" 2000
export E2E_ES_PASSWORD=wrong-$PW
run_sync basicbad -c basic.yml
check_sync basicbad 1 "wrong password -> failure"
check "wrong password: a 401 message without the password" \
    bash -c "grep -q 401 basicbad.out && ! grep -qF -e '$PW' basicbad.out basic.out proxy-PBASIC.log"

# ---- the connector's ingest pipeline -------------------------------------------------
es PUT /_ingest/pipeline/e2e63-pipe '{"description":"e2e","processors":[]}' >/dev/null
start_proxy PPIPE
es_drop e2e63-pipe
cat >pipe.yml <<EOF2
elasticsearch: { host: $PPIPE, ssl: false }
connectors:
  - connector_id: faults
    service_type: postgresql
    pipeline: e2e63-pipe
    index_name: e2e63-pipe
    configuration: { host: $PGHOST, port: $PGPORT, username: $PGUSER, password: "\${PGPASSWORD}", database: $PGDATABASE, tables: e2e_fault }
    mappings:
      e2e_fault: { id: "f-{{ id }}" }
EOF2
run_sync pipe -c pipe.yml
check_sync pipe 0 "sync with the connector's pipeline"
check "pipeline: every _bulk request names it" \
    python3 -c '
import json, sys
bulk = [json.loads(l)["path"] for l in open(sys.argv[1]) if "_bulk" in l]
assert bulk and all("pipeline=e2e63-pipe" in p for p in bulk), bulk[:3]
' proxy-PPIPE.log
check_eq "pipeline: every document indexed" "$(es_count e2e63-pipe)" 2000
