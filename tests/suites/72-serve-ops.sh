#!/usr/bin/env bash
# 72-serve-ops.sh - `sql2es serve --listen`: what an operator sees, against
# the real OpenSearch node and PostgreSQL, with the Kibana stand-in
# (tests/e2e-serve/kibana.py) making jobs:
#   /metrics parsed strictly (tests/e2e-serve/metrics.py) and held against
#   the job documents (indexed and deleted counts, jobs by status, rows);
#   /healthz 200, then 503 when the cluster stops answering (the fault proxy
#   between serve and the node is stopped), then 200 again; the status page
#   rendered by headless Chromium (connectors and the running job in the
#   DOM, values HTML-escaped, no secret, a screenshot); a bad --listen
#   address (exit 2) and a port in use (exit 1); JSON logs that carry the
#   connector and job ids; the top-level help naming serve, connector, job.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 48
need opensearch
need postgresql
T=$SQL2ES_TEST_TMP/e2e-serve-ops
rm -rf "$T"; mkdir -p "$T"
cd "$T" || exit 1
if [ ! -x "$SQL2ES_BIN" ]; then not_ok "sql2es is built ($SQL2ES_BIN)"; exit 0; fi
B=$SQL2ES_BIN
. "$SQL2ES_ROOT/tests/e2e-serve/lib.sh"
MET="python3 $SQL2ES_ROOT/tests/e2e-serve/metrics.py"
IX=svc72
PIDS=()
cleanup() { local p; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

# listen_of LOG: the address serve logged for --listen 127.0.0.1:0
listen_of() { wait_for 20 grep -qs 'status page on http://' "$1" && grep -o 'status page on http://[^/]*' "$1" | head -1 | sed 's|.*http://||'; }
# scrape NAME: /metrics of the first service into NAME.prom
scrape() { curl -s --max-time 10 "http://$ADDR/metrics" >"$T/$1.prom"; }
# metric FILE NAME LABEL=V...: one value (empty when absent)
metric() { local f=$1; shift; $MET get "$T/$f.prom" "$@" 2>/dev/null; }

# ---- the help names the service commands ------------------------------------------
HELP=$("$B" --help)
check "sql2es --help lists serve, connector and job" \
    bash -c 'grep -q "^  serve " <<<"$1" && grep -q "^  connector " <<<"$1" && grep -q "^  job " <<<"$1"' _ "$HELP"
check "serve --help documents --listen" bash -c "'$B' serve --help | grep -q -- '--listen HOST:PORT'"

# ---- fixtures ---------------------------------------------------------------------------
sqlite3 lite.db <<'EOF'
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
INSERT INTO items SELECT i, 'item ' || i FROM n;
EOF
psql -q -v ON_ERROR_STOP=1 >psql.log 2>&1 <<'EOF' || { not_ok "PostgreSQL fixture"; sed 's/^/#   /' psql.log; exit 0; }
DROP TABLE IF EXISTS ops_slow;
CREATE OR REPLACE FUNCTION ops_slowly(v text) RETURNS text LANGUAGE sql VOLATILE AS
  $$ SELECT pg_sleep(0.05); SELECT v $$;
CREATE TABLE ops_slow (id int PRIMARY KEY, v text);
INSERT INTO ops_slow SELECT i, 'v' || i FROM generate_series(1, 600) i;
EOF
for i in .elastic-connectors-v1 .elastic-connectors-sync-jobs-v1 .elastic-connectors .elastic-connectors-sync-jobs $IX-lite $IX-slow $IX-broken; do es DELETE "/$i" >/dev/null; done

cat >serve.yml <<EOF
elasticsearch: { host: $ES_URL, ssl: false, max_wait_duration: 30 }
service: { heartbeat: 1, idling: 2, max_concurrent_content_syncs: 2 }
connectors:
  - connector_id: lite
    service_type: sqlite
    index_name: $IX-lite
    configuration: { path: ./lite.db, tables: [items] }
    mappings:
      items: { id: "{{ id }}", fields: { name: name } }
  - connector_id: broken
    service_type: sqlite
    index_name: $IX-broken
    configuration: { path: ./no-such.db, tables: [items] }
  - connector_id: slow
    service_type: postgresql
    index_name: $IX-slow
    configuration: { host: $PGHOST, port: $PGPORT, username: $PGUSER, password: "$PGPASSWORD", database: $PGDATABASE }
    sync_rules:
      advanced:
        - tables: [ops_slow]
          query: "SELECT s.id, ops_slowly(s.v) AS v FROM ops_slow s ORDER BY s.id"
          id_columns: [id]
EOF

# ---- --listen errors ----------------------------------------------------------------------
"$B" serve -c serve.yml --listen nonsense >bad.log 2>&1; RC=$?
check_eq "--listen that is not HOST:PORT: exit 2" "$RC" 2
check "... with a message naming the expected form" grep -q "expected HOST:PORT" bad.log

# ---- the service, with JSON logs and the status server on a free port ------------------------
"$B" serve -c serve.yml --poll 0.2 --log-format json --listen 127.0.0.1:0 >s1.log 2>&1 &
S1=$!; PIDS+=($S1)
ADDR=$(listen_of s1.log)
if [ -z "$ADDR" ] || ! wait_for 60 grep -qs ' ready; ' s1.log; then
    not_ok "serve starts with --listen"; sed 's/^/#   /' s1.log; exit 0
fi
ok "serve starts with --listen 127.0.0.1:0 and logs the address ($ADDR)"
"$B" serve -c serve.yml --listen "$ADDR" >inuse.log 2>&1; RC=$?
check_eq "a port in use: exit 1" "$RC" 1
check "... saying the address is in use" grep -q "Address already in use" inuse.log

check "/healthz answers 200 with status ok once the cluster answered" \
    wait_for 20 bash -c "curl -sf 'http://$ADDR/healthz' | jq -e '.status == \"ok\" and .cluster_contact_age_seconds >= 0' >/dev/null"
check_eq "an unknown path is 404" "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR/nope")" 404
check_eq "POST is 405" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$ADDR/metrics")" 405
check_eq "/metrics has the Prometheus text content type" \
    "$(curl -s -o /dev/null -w '%{content_type}' "http://$ADDR/metrics")" "text/plain; version=0.0.4; charset=utf-8"

# ---- two jobs on SQLite: the counters against the job documents --------------------------
J1=$($KIB sync lite full)
O1=$($KIB wait "$J1" completed,error --timeout 60)
sqlite3 lite.db "DELETE FROM items WHERE id <= 7; UPDATE items SET name = 'renamed' WHERE id = 100;"
J2=$($KIB sync lite full)
O2=$($KIB wait "$J2" completed,error --timeout 60)
check_eq "two SQLite full jobs complete (the second deletes 7)" \
    "$(jq -r .status <<<"$O1") $(jq -r '[.status, .deleted_document_count] | join(" ")' <<<"$O2")" "completed completed 7"
# the jobs index is re-read every 2 s: wait for both completed jobs there
wait_for 15 bash -c "curl -s 'http://$ADDR/metrics' | grep -q '^sql2es_sync_jobs{connector_id=\"lite\",status=\"completed\"} 2$'"
scrape m1
check "/metrics is a well-formed exposition (HELP and TYPE for every family)" $MET check "$T/m1.prom"
check_eq "documents indexed = the sum of the job documents' indexed_document_count" \
    "$(metric m1 sql2es_documents_indexed_total connector_id=lite)" \
    "$(( $(jq .indexed_document_count <<<"$O1") + $(jq .indexed_document_count <<<"$O2") ))"
check_eq "documents deleted = the sum of the job documents' deleted_document_count" \
    "$(metric m1 sql2es_documents_deleted_total connector_id=lite)" \
    "$(( $(jq .deleted_document_count <<<"$O1") + $(jq .deleted_document_count <<<"$O2") ))"
check_eq "jobs by status: 2 completed here, none failed" \
    "$(metric m1 sql2es_jobs_total connector_id=lite status=completed) $(metric m1 sql2es_jobs_total connector_id=lite status=error)" "2 0"
check_eq "jobs in the jobs index by status: as a _count of the index says" \
    "$(metric m1 sql2es_sync_jobs connector_id=lite status=completed)" \
    "$(es POST '/.elastic-connectors-sync-jobs/_count' '{"query":{"bool":{"filter":[{"term":{"connector.id":"lite"}},{"term":{"status":"completed"}}]}}}' | jq .count)"
check_eq "rows read: 300 + 293" "$(metric m1 sql2es_rows_read_total connector_id=lite)" 593
check "rows/s of the last job is positive" \
    python3 -c "import sys; sys.exit(0 if float(sys.argv[1] or 0) > 0 else 1)" "$(metric m1 sql2es_rows_per_second connector_id=lite)"
check "seconds since the last successful sync: small (< 30)" \
    python3 -c "import sys; v=sys.argv[1]; sys.exit(0 if v != '' and 0 <= float(v) < 30 else 1)" "$(metric m1 sql2es_last_success_age_seconds connector_id=lite)"
check "heartbeat age (service.heartbeat 1 s): under 10 s" \
    python3 -c "import sys; v=sys.argv[1]; sys.exit(0 if v != '' and 0 <= float(v) < 10 else 1)" "$(metric m1 sql2es_heartbeat_age_seconds connector_id=lite)"
check_eq "the connector status as a labelled gauge" "$(metric m1 sql2es_connector_status connector_id=lite status=connected)" 1
check_eq "no retries against a healthy node" "$(metric m1 sql2es_retries_total connector_id=lite)" 0

# a job that fails in the sync process: counted as error
JB=$($KIB sync broken full)
OB=$($KIB wait "$JB" completed,error --timeout 60)
wait_for 10 bash -c "curl -s 'http://$ADDR/metrics' | grep -q '^sql2es_jobs_total{connector_id=\"broken\",status=\"error\"} 1$'"
scrape mb
check_eq "a failed job: error in its document, counted as error here" \
    "$(jq -r .status <<<"$OB") $(metric mb sql2es_jobs_total connector_id=broken status=error)" "error 1"

# ---- the status page in headless Chromium, with a job running ----------------------------
# a name with markup, as someone could type it in Kibana: it must show as text
es POST "/.elastic-connectors/_update/slow?refresh=true&retry_on_conflict=5" \
    '{"doc":{"name":"Slow <script>alert(1)</script> & \"co\""}}' >/dev/null
JS=$($KIB sync slow full)
if ! $KIB wait "$JS" in_progress --timeout 30 >/dev/null; then
    not_ok "the slow job starts"
fi
wait_for 10 bash -c "curl -s 'http://$ADDR/' | grep -q '$JS'"
# the job list and the connector documents are read apart (each poll): the
# page may show the job before the poll that reads the new name
wait_for 15 bash -c "curl -s 'http://$ADDR/' | grep -q 'Slow &lt;script&gt;'"
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
    sh "$SQL2ES_ROOT/tools/install-deps.sh" >deps.log 2>&1
    CHROME=$(command -v chromium || true)
fi
chrome() {
    timeout 90 "$CHROME" --headless --no-sandbox --disable-gpu --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-dev-shm-usage --user-data-dir="$(mktemp -d "$T/chrome.XXXXXX")" "$@" 2>>"$T/chrome.log"
}
if [ -z "$CHROME" ]; then
    not_ok "chromium is installed (tools/install-deps.sh failed: see deps.log)"
    sed 's/^/#   /' deps.log | tail -5
    for i in 1 2 3 4 5; do not_ok "status page check $i (no chromium)"; done
else
    ok "chromium is installed ($CHROME)"
    chrome --dump-dom "http://$ADDR/" >dom.html
    check "the rendered page lists both connectors" \
        bash -c 'grep -q "class=\"connector\" data-id=\"lite\"" dom.html && grep -q "class=\"connector\" data-id=\"slow\"" dom.html'
    check "the rendered page shows the running job with its connector" \
        bash -c "grep -q 'class=\"job\" data-id=\"$JS\"' dom.html && grep -A3 'data-id=\"$JS\"' dom.html | grep -q '>slow<'"
    check "a name with markup is text, not markup (HTML-escaped)" \
        bash -c 'grep -q "Slow &lt;script&gt;alert(1)&lt;/script&gt; &amp; \"co\"" dom.html && ! grep -q "<script>alert" dom.html'
    chrome --screenshot="$T/status.png" --window-size=1280,720 "http://$ADDR/" >/dev/null
    check "a screenshot of the page was taken" test -s "$T/status.png"
    check "the page and the metrics carry no secret" \
        bash -c "! grep -q -- '$PGPASSWORD' dom.html && ! curl -s 'http://$ADDR/metrics' | grep -q -- '$PGPASSWORD'"
    [ -n "${SQL2ES_KEEP_SCREENSHOT:-}" ] && cp "$T/status.png" "$SQL2ES_KEEP_SCREENSHOT"
fi
scrape m2
check_eq "a running job: sql2es_jobs_running 1 for its connector" "$(metric m2 sql2es_jobs_running connector_id=slow)" 1
check "its progress is exported with the job id" test -n "$(metric m2 sql2es_job_documents_indexed connector_id=slow job_id="$JS")"
$KIB cancel "$JS"
$KIB wait "$JS" canceled,completed,error --timeout 30 >/dev/null
wait_for 10 bash -c "curl -s 'http://$ADDR/metrics' | grep -q '^sql2es_jobs_total{connector_id=\"slow\",status=\"canceled\"} 1$'"
scrape m3
check_eq "the canceled job is counted as canceled" "$(metric m3 sql2es_jobs_total connector_id=slow status=canceled)" 1
check_eq "and the running gauge is back to 0" "$(metric m3 sql2es_jobs_running connector_id=slow)" 0

# ---- logs carry the connector and job ids ------------------------------------------------
check "every log line is one JSON object" bash -c "jq -e . s1.log >/dev/null"
check "every log line about job J1 carries job and connector" \
    bash -c "grep -- '$J1' s1.log | jq -s -e 'length >= 2 and all(.job == \"$J1\" and .connector == \"lite\")' >/dev/null"
check "the sync process's own lines (its error) carry both ids too" \
    bash -c "jq -e 'select(.job == \"$JB\" and .connector == \"broken\" and .level == \"ERROR\" and (.message | test(\"no-such.db\")))' s1.log | grep -q ."

# ---- /healthz when the cluster stops answering (fault proxy between serve and node) ------------
PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
proxy() {
    python3 "$SQL2ES_ROOT/tests/harness/faultproxy.py" --upstream "$ES_URL" --listen-port "$PORT" \
        --max-seconds 300 "$@" >"$T/proxy.out" 2>>"$T/proxy.log" &
    PROXY_PID=$!; PIDS+=($PROXY_PID)
    wait_for 10 grep -qs '^PROXY ' "$T/proxy.out"
}
# serve starts before the proxy: it waits for the cluster, and says so
sed -e "s|host: $ES_URL|host: http://127.0.0.1:$PORT, max_retries: 3, retry_interval: 1|" serve.yml >via-proxy.yml
"$B" serve -c via-proxy.yml --poll 0.2 --log-format json --listen 127.0.0.1:0 >s2.log 2>&1 &
S2=$!; PIDS+=($S2)
A2=$(listen_of s2.log)
check "while serve waits for the cluster: /healthz 503, not answered yet" \
    bash -c "curl -s 'http://$A2/healthz' | jq -e '.status == \"unavailable\" and (.reason | test(\"not answered yet\"))' >/dev/null"
wait_for 10 grep -qs 'waiting for' s2.log
proxy
check "through the proxy: /healthz 200" \
    wait_for 40 bash -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' 'http://$A2/healthz')\" = 200"
check "the waits for the cluster are JSON log lines too (--log-format json)" \
    bash -c "jq -e . s2.log >/dev/null && jq -e 'select(.level == \"WARN\" and (.message | test(\"^waiting for http\")))' s2.log | grep -q ."
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null
T0=$SECONDS
check "the proxy stopped: /healthz 503 within 45 s" \
    wait_for 45 bash -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 'http://$A2/healthz')\" = 503"
echo "# 503 after $((SECONDS - T0)) s"
check "the 503 body says the cluster has not answered" \
    bash -c "curl -s 'http://$A2/healthz' | jq -e '.status == \"unavailable\" and (.reason | test(\"cluster has not answered\"))' >/dev/null"
check "/metrics is still served while the cluster is away" \
    bash -c "curl -sf --max-time 5 'http://$A2/metrics' | grep -q '^sql2es_cluster_contact_age_seconds '"
proxy
check "the proxy is back: /healthz 200 again" \
    wait_for 60 bash -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' 'http://$A2/healthz')\" = 200"

# ---- retries: the proxy answers 429 to half of the _bulk requests -----------------------------
kill "$S1"; wait "$S1" 2>/dev/null   # only the service behind the proxy takes the next job
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null
proxy --rate-429 0.5 --seed 3
JR=$($KIB sync lite full)
OR=$($KIB wait "$JR" completed,error --timeout 90)
wait_for 10 bash -c "curl -s 'http://$A2/metrics' | grep -q '^sql2es_jobs_total{connector_id=\"lite\",status=\"completed\"} 1$'"
curl -s "http://$A2/metrics" >"$T/mr.prom"
check_eq "through 429s the job completes with every document" \
    "$(jq -r '[.status, .indexed_document_count] | join(" ")' <<<"$OR")" "completed 293"
check "the retries it took are counted (sql2es_retries_total > 0)" \
    python3 -c "import sys; sys.exit(0 if int(sys.argv[1] or 0) > 0 else 1)" "$(metric mr sql2es_retries_total connector_id=lite)"
echo "# retries: $(metric mr sql2es_retries_total connector_id=lite); proxy: $(curl -s "http://127.0.0.1:$PORT/_faultproxy/stats")"

# ---- SIGTERM stops the server with the service ------------------------------------------------
kill -TERM "$S2"; wait "$S2" 2>/dev/null; RC=$?
check_eq "SIGTERM: serve exits 0" "$RC" 0
check "the port is closed afterwards" bash -c "! curl -s --max-time 3 'http://$A2/healthz' >/dev/null"
