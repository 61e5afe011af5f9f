#!/usr/bin/env bash
# 71-serve-failover.sh - failover and resume of `sql2es serve` jobs, on a
# dedicated OpenSearch node (restarted in the middle of a job), with the test
# client in the role of Kibana (tests/e2e-serve/kibana.py):
#   SIGKILL of the instance running a full job: once the job's last_seen is
#   older than service.job_takeover_after the other instance takes it over
#   and finishes it from the position recorded in the job document (no
#   document indexed twice but the few after that position: a restart from
#   scratch would index again every document that was in before the kill);
#   SIGTERM suspends the job with its position, a restarted service resumes
#   it from there, and the full job's sweep stays exact (a row deleted in the
#   source before the resume is deleted from the index, no other document
#   is); the node restarted in the middle of a job; indexed_document_volume
#   during and after the run; the watermark in the connector's sync_cursor,
#   continued by an incremental job of another instance (another folder: no
#   shared state file).
# The jobs are long enough (20000 rows, _bulk requests of 50 documents, one
# at a time) to be stopped in the middle. Documents indexed more than once
# are counted from the shard's sequence numbers (one per index operation).
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 25
need postgresql
export PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE
T=$SQL2ES_TEST_TMP/e2e-serve-failover
rm -rf "$T"; mkdir -p "$T/a" "$T/b"
cd "$T" || exit 1
if [ ! -x "$SQL2ES_BIN" ]; then not_ok "sql2es is built ($SQL2ES_BIN)"; exit 0; fi
B=$SQL2ES_BIN
OS=$SQL2ES_ROOT/tests/harness/opensearch.sh
N2=$T/node
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    bash "$OS" stop "$N2" >/dev/null 2>&1
}
trap cleanup EXIT
if ! OPENSEARCH_MAX_SECONDS=1200 bash "$OS" start "$N2" 2>node-start.log; then
    not_ok "a dedicated node started"; tail -20 node-start.log | sed 's/^/#   /'; exit 0
fi
. "$N2/opensearch.env"
PORT=${ES_URL##*:}
. "$SQL2ES_ROOT/tests/e2e-serve/lib.sh"
IX=f71-fo
N=20000

# serve NAME DIR: a service in the background, its pid in SERVE_PID
serve() {
    (cd "$2" && exec "$B" serve -c serve.yml --poll 0.2) >"$T/$1.log" 2>&1 &
    SERVE_PID=$!
    PIDS+=($SERVE_PID)
    wait_for 60 grep -qs ' ready; ' "$T/$1.log"
}
# the pid in the job's worker token (host/pid/claim/ms)
worker_pid() { job "$1" | jq -r '.metadata.sql2es.worker // ""' | cut -d/ -f2; }
# index operations on index $1 (one shard) beyond its documents: the
# documents indexed more than once
reindexed() {
    local seq n
    es POST "/$1/_refresh" >/dev/null
    seq=$(es POST "/$1/_search" '{"size":1,"sort":[{"_seq_no":"desc"}],"seq_no_primary_term":true,"_source":false}' | jq '.hits.hits[0]._seq_no')
    n=$(es GET "/$1/_count" | jq .count)
    echo $((seq + 1 - n))
}
docs_at_least() { test "$(count $IX)" -ge "$1"; }
has_position() { job "$1" | jq -e '.metadata.sql2es.position.table == "f71_items" and (.metadata.sql2es.position.key | length) == 1' >/dev/null; }

# ---- fixtures ------------------------------------------------------------------
psql -q -v ON_ERROR_STOP=1 >psql.log 2>&1 <<EOF || { not_ok "PostgreSQL fixture"; sed 's/^/#   /' psql.log; exit 0; }
DROP TABLE IF EXISTS f71_items, f71_events;
CREATE TABLE f71_items (id int PRIMARY KEY, title text NOT NULL);
INSERT INTO f71_items SELECT i, 'title ' || i || ' ' || repeat('x', 400) FROM generate_series(1, $N) i;
CREATE TABLE f71_events (id int PRIMARY KEY, v text, updated_at timestamp NOT NULL);
INSERT INTO f71_events SELECT i, 'e' || i, '2024-01-01'::timestamp + i * interval '1 minute' FROM generate_series(1, 50) i;
EOF
SRC_MIB=$(psql -At -c "SELECT sum(octet_length(title)) / 1048576.0 FROM f71_items")

for d in a b; do
cat >$d/serve.yml <<EOF
elasticsearch:
  host: $ES_URL
  ssl: false
  max_wait_duration: 60
  max_retries: 30
  retry_interval: 1
  bulk: { chunk_size: 50, max_concurrency: 1, max_retries: 30, retry_interval: 0.5 }
service: { heartbeat: 1, idling: 2, job_takeover_after: 6 }
connectors:
  - connector_id: fo
    service_type: postgresql
    index_name: $IX
    configuration: { host: $PGHOST, port: $PGPORT, username: $PGUSER, password: "\${PGPASSWORD}", database: $PGDATABASE, tables: [f71_items] }
    mappings:
      f71_items:
        id: "{{ id }}"
        fields: { title: title }
        index_settings: { number_of_shards: 1, number_of_replicas: 0 }
  - connector_id: inc
    service_type: postgresql
    index_name: f71-inc
    configuration: { host: $PGHOST, port: $PGPORT, username: $PGUSER, password: "\${PGPASSWORD}", database: $PGDATABASE, tables: [f71_events] }
    mappings:
      f71_events:
        id: "{{ id }}"
        fields: { v: v }
        incremental: { cursor: [updated_at, id] }
EOF
done

# ---- SIGKILL of the instance running a job: another one takes it over ---------------
serve s1 a || { not_ok "serve s1 starts"; sed 's/^/#   /' s1.log; exit 0; }
S1=$SERVE_PID
serve s2 b || { not_ok "serve s2 starts"; sed 's/^/#   /' s2.log; exit 0; }
S2=$SERVE_PID
# the tables "entered in Kibana" (a document made from config.yml carries the form's "*")
wait_for 30 bash -c "$KIB get connector inc | jq -e '.configuration.tables' >/dev/null"
$KIB configure fo tables=f71_items
$KIB configure inc tables=f71_events
wait_for 30 bash -c "$KIB get connector fo | jq -e '.status == \"connected\"' >/dev/null"
J=$($KIB sync fo full)
$KIB wait "$J" in_progress --timeout 20 >/dev/null
wait_for 60 docs_at_least 3000
wait_for 10 has_position "$J"
MID=$(job "$J")
check "while running: the job records its acknowledged position (table, last key)" has_position "$J"
check "while running: indexed_document_volume > 0 ($(jq -r .indexed_document_volume <<<"$MID") MiB)" \
    jqe '.indexed_document_volume > 0 and .indexed_document_count > 0' "$MID"
VICTIM=$(worker_pid "$J")
case $VICTIM in "$S1") SURVIVOR=$S2 ;; "$S2") SURVIVOR=$S1 ;; *) SURVIVOR= ;; esac
check "the job runs on one of the two services (pid $VICTIM)" test -n "$SURVIVOR"
kill -9 "$VICTIM" 2>/dev/null
wait "$VICTIM" 2>/dev/null
sleep 0.5
AT_KILL=$(count $IX)
echo "# $AT_KILL documents in at the SIGKILL; position $(job "$J" | jq -c .metadata.sql2es.position.key)"
check_eq "the killed instance left the job in_progress" "$(job "$J" | jq -r .status)" in_progress
OUT=$($KIB wait "$J" completed,error --timeout 120)
check_eq "the other instance took the job over and completed it" \
    "$(jq -r '[.status, .total_document_count] | join(" ")' <<<"$OUT")" "completed $N"
check_eq "... it is the job's worker now" "$(worker_pid "$J")" "$SURVIVOR"
check "the survivor's log says it took the job over" grep -q "job taken over" "$T/s1.log" "$T/s2.log"
DUP=$(reindexed $IX)
echo "# documents indexed twice: $DUP (a restart from scratch: at least $AT_KILL)"
check "every document indexed once but the few after the recorded position ($DUP < $AT_KILL)" \
    test "$DUP" -lt "$AT_KILL"
check_eq "every row is in the index" "$(count $IX)" $N
check_eq "the connector's lock moved over and was released (last_sync_status completed)" \
    "$(conn fo | jq -r .last_sync_status)" completed
VOL=$(jq -r .indexed_document_volume <<<"$OUT")
echo "# indexed_document_volume $VOL MiB; the titles alone: $SRC_MIB MiB"
check "indexed_document_volume is the acknowledged MiB ($VOL, titles $SRC_MIB)" \
    python3 -c "import sys; v, s = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if s - 0.6 <= v <= s * 1.3 + 1 else 1)" "$VOL" "$SRC_MIB"
SURV_DIR=a; [ "$SURVIVOR" = "$S2" ] && SURV_DIR=b

# ---- SIGTERM: suspended with its position; a restart resumes it, the sweep exact -------
es DELETE "/$IX" >/dev/null
J=$($KIB sync fo full)
$KIB wait "$J" in_progress --timeout 20 >/dev/null
wait_for 60 docs_at_least 3000
kill -TERM "$SURVIVOR"
wait "$SURVIVOR"; RC=$?
check_eq "serve exits 0 on SIGTERM" "$RC" 0
AT_STOP=$(count $IX)
SUS=$(job "$J")
check "the job is suspended with its position (table, key)" \
    jqe '.status == "suspended" and .metadata.sql2es.position.table == "f71_items" and (.metadata.sql2es.position.key | length) == 1' "$SUS"
KEY=$(jq -r '.metadata.sql2es.position.key[0]' <<<"$SUS")
echo "# $AT_STOP documents in, suspended at key $KEY"
# a row before the position disappears from the source while no service runs
psql -q -c "DELETE FROM f71_items WHERE id = 5"
serve s3 $SURV_DIR
S3=$SERVE_PID
OUT=$($KIB wait "$J" completed,error --timeout 120)
check_eq "the restarted service resumed the job to completion" "$(jq -r .status <<<"$OUT")" completed
check "it went on from the position ($(grep -c 'going on from the recorded position' $T/s3.log) resume logged)" \
    grep -q "going on from the recorded position" "$T/s3.log"
# minus one: row 5's document, indexed before the stop and deleted by the sweep
DUP=$(($(reindexed $IX) - 1))
echo "# documents indexed twice: $DUP (a restart from scratch: at least $AT_STOP)"
check "a suspended job goes on exactly after its last row: no document sent twice ($DUP)" test "$DUP" -eq 0
check_eq "the sweep after the resume deleted the row gone from the source, and no other document" \
    "$(count $IX) $(es GET "/$IX/_doc/5" | jq -r .found) $(jq -r .deleted_document_count <<<"$OUT")" "$((N - 1)) false 1"

# ---- the node restarted in the middle of a job --------------------------------------------
psql -q -c "INSERT INTO f71_items VALUES (5, 'title 5 again')"
J=$($KIB sync fo full)
$KIB wait "$J" in_progress --timeout 20 >/dev/null
wait_for 30 has_position "$J"
pid=$(cat "$N2/opensearch.pid")
kill -TERM "$pid" 2>/dev/null
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
sleep 1
if OPENSEARCH_KEEP_DATA=1 OPENSEARCH_HTTP_PORT=$PORT OPENSEARCH_MAX_SECONDS=900 \
        bash "$OS" start "$N2" 2>node-restart.log; then
    ok "the node started again on the same port with its data"
else
    not_ok "the node started again on the same port with its data"; tail -20 node-restart.log | sed 's/^/#   /'
fi
OUT=$($KIB wait "$J" completed,error --timeout 240)
check_eq "the job rode out the node restart: completed with every row" \
    "$(jq -r '[.status, .total_document_count] | join(" ")' <<<"$OUT")" "completed $N"
check_eq "... the re-inserted row is back" "$(es GET "/$IX/_doc/5" | jq -r ._source.title)" "title 5 again"

# ---- the watermark in sync_cursor, continued on another instance ---------------------------
J=$($KIB sync inc incremental)
OUT=$($KIB wait "$J" completed,error --timeout 60)
check_eq "first incremental job: every row" "$(jq -r '[.status, .indexed_document_count] | join(" ")' <<<"$OUT")" "completed 50"
check_eq "the connector's sync_cursor holds the watermark" \
    "$(conn inc | jq -c .sync_cursor)" '{"watermarks":{"f71_events":["2024-01-01T00:50:00","50"]}}'
kill -TERM "$S3"; wait "$S3"
OTHER=a; [ "$SURV_DIR" = a ] && OTHER=b
psql -q -c "INSERT INTO f71_events VALUES (51, 'new', '2024-02-01'), (52, 'new', '2024-02-02'); UPDATE f71_events SET v = 'changed', updated_at = '2024-02-03' WHERE id = 7"
serve s4 $OTHER
S4=$SERVE_PID
J=$($KIB sync inc incremental)
OUT=$($KIB wait "$J" completed,error --timeout 60)
check_eq "an incremental job on another instance continues from sync_cursor (3 changed rows)" \
    "$(jq -r '[.status, .indexed_document_count, .total_document_count] | join(" ")' <<<"$OUT")" "completed 3 52"
check_eq "... and moves the watermark" "$(conn inc | jq -c '.sync_cursor.watermarks.f71_events')" '["2024-02-03T00:00:00","7"]'
kill -TERM "$S4"; wait "$S4"
check "no service logged an error" bash -c "! grep -h ' ERROR ' '$T'/s*.log | grep ."
