#!/usr/bin/env bash
# 65-node-restart.sh - the search node itself stopped and started again in the
# middle of a sync. A dedicated OpenSearch node (tests/harness/opensearch.sh,
# its own data directory) takes a PostgreSQL table; once documents arrive the
# node gets SIGTERM, and it is started again on the same port with its data
# kept. The sync must either ride out the restart or fail cleanly, and then
# (after at most one more run) every row is in the index exactly once.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 7
need postgresql
export PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE
E2E_TMP=$SQL2ES_TEST_TMP/e2e-node-restart
rm -rf "$E2E_TMP"; mkdir -p "$E2E_TMP"
N2=$E2E_TMP/node2
ES_URL=unset
. "$SQL2ES_ROOT/tests/e2e-sync/lib.sh"
cd "$E2E_TMP" || exit 1
OS=$SQL2ES_ROOT/tests/harness/opensearch.sh
cleanup() { e2e_cleanup; bash "$OS" stop "$N2" >/dev/null 2>&1; }
trap cleanup EXIT

if ! OPENSEARCH_MAX_SECONDS=900 bash "$OS" start "$N2" 2>node2-start.log; then
    not_ok "a dedicated node started"; sed 's/^/#   /' node2-start.log | tail -20; exit 1
fi
. "$N2/opensearch.env"
PORT=${ES_URL##*:}
ok "a dedicated node started ($ES_URL)"

ROWS=60000
"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 >psql.log 2>&1 <<SQL || { not_ok "fixture"; exit 1; }
DROP TABLE IF EXISTS e2e_restart;
CREATE TABLE e2e_restart (id int PRIMARY KEY, v text, n numeric(10,2));
INSERT INTO e2e_restart SELECT g, 'value ' || g, g / 100.0 FROM generate_series(1, $ROWS) g;
SQL
ROWS_CMD="'$PG_BINDIR/psql' -X -At -c \"SELECT row_to_json(t) FROM e2e_restart t\""

cat >restart.yml <<YML
elasticsearch:
  host: $ES_URL
  ssl: false
  max_wait_duration: 120
  initial_backoff_duration: 0.5
  backoff_multiplier: 1.5
  max_retries: 30
  retry_interval: 1
  bulk: { chunk_size: 100, max_concurrency: 1, max_retries: 30, retry_interval: 0.5 }
connectors:
  - connector_id: restart
    service_type: postgresql
    index_name: e2e65-restart
    configuration: { host: $PGHOST, port: $PGPORT, username: $PGUSER, password: "\${PGPASSWORD}", database: $PGDATABASE, tables: e2e_restart }
    mappings:
      e2e_restart:
        id: "r-{{ id }}"
        index_settings: { number_of_replicas: 0 }
YML

"$SQL2ES_BIN" sync -c restart.yml --full >restart.out 2>&1 &
spid=$!
n=0
for _ in $(seq 1 300); do
    n=$(es_count e2e65-restart 2>/dev/null || echo 0)
    [ "${n:-0}" -gt 0 ] 2>/dev/null && break
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.1
done
running=no; kill -0 "$spid" 2>/dev/null && running=yes
check_eq "the sync was still running when the node was stopped ($n documents in)" "$running" yes

pid=$(cat "$N2/opensearch.pid")
kill -TERM "$pid" 2>/dev/null
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "the node stopped" bash -c "! kill -0 $pid 2>/dev/null"
sleep 1
if OPENSEARCH_KEEP_DATA=1 OPENSEARCH_HTTP_PORT=$PORT OPENSEARCH_MAX_SECONDS=900 \
        bash "$OS" start "$N2" 2>node2-restart.log; then
    ok "the node started again on the same port with its data"
else
    not_ok "the node started again on the same port with its data"; tail -20 node2-restart.log | sed 's/^/#   /'
fi
wait "$spid"
SYNC_RC=$?
SYNC_SUMMARY=$(grep '^sql2es: ' restart.out | tail -1)
if [ "$SYNC_RC" -eq 0 ]; then
    ok "the sync rode out the node restart (exit 0)"
    check "... and its summary counts the requests it sent again ($SYNC_SUMMARY)" \
        grep -qE '; [1-9][0-9]* retried' <<<"$SYNC_SUMMARY"
else
    check "a sync that gave up says why" grep -q "error" restart.out
    echo "# the first run failed (exit $SYNC_RC); running it again"; show restart 6
    run_sync restart-again -c restart.yml --full
    check_sync restart-again 0 "the next run after the restart completes"
fi
check_index "after the restart: every row in the index exactly once" e2e65-restart "$ROWS_CMD" 'r-{id}'
