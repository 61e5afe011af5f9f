#!/usr/bin/env bash
# follow.sh - commit-to-acknowledged latency of `sql2es sync --follow` on
# PostgreSQL (issue 11, item 8): a table of ROWS rows followed into the test
# OpenSearch node while bench/follow_latency.py commits single-row UPDATEs at
# RATE per second for SECONDS and watches the slot's confirmed position.
#   RATE=1000 SECONDS=30 ROWS=10000 bash bench/follow.sh
# Servers: the test harness's (started here when not running).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/harness/lib.sh"
need postgresql
need opensearch
RATE=${RATE:-1000} SECONDS_=${SECONDS_:-30} ROWS=${ROWS:-10000}
W=$SQL2ES_TEST_TMP/bench-follow
rm -rf "$W"; mkdir -p "$W"; cd "$W"
curl -s -X DELETE "$ES_URL/bench-follow" >/dev/null
psql -Xq -v ON_ERROR_STOP=1 <<EOF
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'sql2es_bench';
DROP PUBLICATION IF EXISTS sql2es_bench;
DROP TABLE IF EXISTS bench_follow;
CREATE TABLE bench_follow (id int PRIMARY KEY, v int NOT NULL DEFAULT 0, label text);
INSERT INTO bench_follow SELECT g, 0, 'row ' || g FROM generate_series(1, $ROWS) g;
EOF
cat >bench.yml <<EOF
elasticsearch: { host: $ES_URL }
connectors:
  - connector_id: bench
    service_type: postgresql
    index_name: bench-follow
    configuration:
      host: $PGHOST
      port: $PGPORT
      username: $PGUSER
      password: \${PGPASSWORD}
      database: $PGDATABASE
      tables: [bench_follow]
EOF
/usr/bin/time -f '%M' -o rss.txt "$SQL2ES_BIN" sync -c bench.yml --follow -q >follow.out 2>&1 &
FPID=$!
trap 'kill $FPID 2>/dev/null' EXIT
for _ in $(seq 1 300); do
    [ "$(psql -XAtc "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sql2es_bench' AND active")" = 1 ] && break
    sleep 0.2
done
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$ROOT/bench/follow_latency.py" sql2es_bench "$RATE" "$SECONDS_" "$ROWS"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
kill -TERM $(pgrep -P $FPID sql2es 2>/dev/null || echo $FPID) 2>/dev/null || true
wait $FPID 2>/dev/null || true
echo "peak RSS of sql2es: $(( $(tail -1 rss.txt) / 1024 )) MB"
