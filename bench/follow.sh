#!/usr/bin/env bash
# follow.sh - `sql2es sync --follow` on PostgreSQL (issue 11, item 8), on a
# table bench_follow of ROWS rows followed into the test OpenSearch node.
#
#   bash bench/follow.sh [latency|catchup|limit|rss|pgsync|all]     (default: all)
#
# latency  commit-to-acknowledged latency (bench/follow_latency.py): writers
#          commit single- or multi-row UPDATEs at each rate of RATES for
#          SECONDS_ s while a poller reads the slot's confirmed_flush_lsn;
#          RATES is a list of CHANGES_PER_S:ROWS_PER_COMMIT:WRITERS.
# catchup  the highest sustained change rate: with the follower stopped,
#          every row is updated once (CATCHUP_TX rows per transaction), then
#          the follower starts and the time until the slot confirmed the last
#          commit is measured (changes/s = ROWS / that time).
# limit    the node's ingest limit, measured as bench/e2e.sh does: the same
#          documents (a dry run of the table) posted as files of CHUNK lines,
#          5 requests at a time with curl (documents/s).
# rss      one long stream (LONG_SECONDS at LONG_RATE changes/s): peak RSS.
# pgsync   PGSync (pip) in its daemon mode at each rate of RATES: latency
#          until a probe row's change is visible (sql2es's runs report it
#          too); skipped by `all` unless PGSYNC=1.
#
# BASE_BIN=path/to/an/older/sql2es runs the latency and catch-up figures for
# that binary too, interleaved with BIN (default: the build's), on the same
# table. Servers: the test harness's (started when not running).
#   RATES="1000:5:4 5000:25:4" SECONDS_=30 ROWS=10000 CATCHUP_ROWS=50000
#   LONG_SECONDS=60 LONG_RATE=1000 CHUNK=500
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/harness/lib.sh"
need postgresql
need opensearch
what=${1:-all}
RATES=${RATES:-1000:5:4 5000:25:4}
SECONDS_=${SECONDS_:-30} ROWS=${ROWS:-10000} CATCHUP_ROWS=${CATCHUP_ROWS:-50000}
CATCHUP_TX=${CATCHUP_TX:-100} LONG_SECONDS=${LONG_SECONDS:-60} LONG_RATE=${LONG_RATE:-1000}
CHUNK=${CHUNK:-500}
BIN=$(realpath "${BIN:-$SQL2ES_BIN}")
BASE_BIN=${BASE_BIN:+$(realpath "$BASE_BIN")}
W=$SQL2ES_TEST_TMP/bench-follow
rm -rf "$W"; mkdir -p "$W"; cd "$W"
FPID=
trap '[ -n "$FPID" ] && kill $FPID 2>/dev/null; true' EXIT

load() { cut -d' ' -f1-3 /proc/loadavg; }
lsn_ge() { [ "$(psql -XAtc "SELECT coalesce(confirmed_flush_lsn >= '$1', false) FROM pg_replication_slots WHERE slot_name = 'sql2es_bench'")" = t ]; }

# table N: bench_follow with N rows, no slot, no publication, no index
table() {
    curl -s -X DELETE "$ES_URL/bench-follow" >/dev/null
    psql -Xq -v ON_ERROR_STOP=1 >/dev/null 2>&1 <<EOF
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'sql2es_bench';
DROP PUBLICATION IF EXISTS sql2es_bench;
DROP TABLE IF EXISTS bench_follow;
CREATE TABLE bench_follow (id int PRIMARY KEY, v int NOT NULL DEFAULT 0, label text);
INSERT INTO bench_follow SELECT g, 0, 'row ' || g FROM generate_series(0, $1) g;
EOF
    rm -f .sql2es-state .sql2es-state-follow
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
}

# start BIN: the follower in the background (its initial read done when the
# slot is active and confirmed)
start() {
    /usr/bin/time -f '%U %S %M' -o rss.txt "$1" sync -c bench.yml --follow -q >>follow.out 2>&1 &
    FPID=$!
    for _ in $(seq 1 600); do
        grep -qs sql2es_bench .sql2es-state-follow &&
            [ "$(psql -XAtc "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sql2es_bench' AND active")" = 1 ] && return 0
        sleep 0.1
    done
    echo "the follower did not start: $(tail -3 follow.out)" >&2
    return 1
}
# stop: SIGTERM (the slot stays); sets RSS (MB) and CPU (s) of the follower
stop() {
    kill -TERM $(pgrep -P "$FPID" sql2es 2>/dev/null || echo "$FPID") 2>/dev/null || true
    wait "$FPID" 2>/dev/null || true
    FPID=
    local u=0 s=0 m=0
    read -r u s m < <(tail -1 rss.txt) || true
    RSS=$((m / 1024)) CPU=$(awk "BEGIN{print $u + $s}")
}

latency() { # latency BIN LABEL RATE:PER:WRITERS [SECONDS]
    local rate per writers out
    IFS=: read -r rate per writers <<<"$3"
    table "$ROWS"
    start "$1" || return 0
    local l0; l0=$(load)
    out=$(PROBE_URL="$ES_URL/bench-follow/_doc/${PGDATABASE}_public_bench_follow_0" \
          PROBE_FIELD=public_bench_follow_v python3 "$ROOT/bench/follow_latency.py" sql2es_bench "$rate" "${4:-$SECONDS_}" "$ROWS" "$per" "$writers") || out="FAILED: follow_latency.py"
    stop
    echo "| $2 | $rate/s ($per per commit, $writers writers) | $out | $RSS MB | $CPU s | $l0 -> $(load) |"
}

catchup() { # catchup BIN LABEL
    local t0 t1 target l0
    table "$CATCHUP_ROWS"
    start "$1" || return 0
    stop
    psql -Xq -v ON_ERROR_STOP=1 >/dev/null <<EOF
DO \$\$ BEGIN
  FOR lo IN 1..$CATCHUP_ROWS BY $CATCHUP_TX LOOP
    UPDATE bench_follow SET v = v + 1 WHERE id >= lo AND id < lo + $CATCHUP_TX;
    COMMIT;
  END LOOP;
END \$\$;
EOF
    target=$(psql -XAtc "SELECT pg_current_wal_lsn()")
    l0=$(load)
    t0=$(date +%s.%N)
    start "$1" || return 0
    for _ in $(seq 1 6000); do lsn_ge "$target" && break; sleep 0.05; done
    t1=$(date +%s.%N)
    stop
    awk -v n="$CATCHUP_ROWS" -v t0="$t0" -v t1="$t1" -v l="$2" -v r="$RSS" -v c="$CPU" -v l0="$l0" -v l1="$(load)" \
        'BEGIN { printf "| %s | %d changes (%d per commit) confirmed in %.1f s | %.0f changes/s | %s MB | %s s | %s -> %s |\n", l, n, '"$CATCHUP_TX"', t1 - t0, n / (t1 - t0), r, c, l0, l1 }'
}

limit() { # the node's ingest limit for the same documents
    local best="" t0 t1 t
    table "$CATCHUP_ROWS"
    "$BIN" sync -c bench.yml --dry-run -q -o limit.ndjson
    rm -rf chunks; mkdir chunks
    awk -v max="$CHUNK" -v dir=chunks 'BEGIN { f = sprintf("%s/c%06d", dir, 0); n = 0; k = 0 }
        { need = /^\{"delete"/ ? 1 : 2 }
        src == 1 { print > f; src = 0; next }
        { if (lines + need > max) { close(f); k++; f = sprintf("%s/c%06d", dir, k); lines = 0 }
          print > f; lines += need; if (need == 2) src = 1 }' limit.ndjson
    local l0; l0=$(load)
    for _ in 1 2 3; do
        t0=$(date +%s.%N)
        (cd chunks && ls | xargs -P 5 -I{} curl -s -o /dev/null -H 'Content-Type: application/x-ndjson' \
            --data-binary @{} "$ES_URL/_bulk")
        t1=$(date +%s.%N)
        t=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b - a}')
        if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
    done
    awk -v n="$CATCHUP_ROWS" -v t="$best" -v c="$CHUNK" -v l0="$l0" -v l1="$(load)" \
        'BEGIN { printf "| ingest limit: curl, files of %d lines, 5 at a time (best of 3) | %d documents in %.2f s | %.0f documents/s | | | %s -> %s |\n", c, n, t, n / t, l0, l1 }'
}

# PGSync (PyPI) in its daemon mode on the same table and workload: a venv in
# VENV (default: a temporary directory), Redis (or Valkey) started here on
# loopback, bench/pgsync/follow.json mapped to the same document.
pgsync() { # pgsync RATE:PER:WRITERS
    local rate per writers venv=${VENV:-$W/venv} rport rpid ppid out n redis
    IFS=: read -r rate per writers <<<"$1"
    if [ ! -x "$venv/bin/pgsync" ]; then
        { python3 -m venv "$venv" && "$venv/bin/pip" install -q pgsync; } >pip.log 2>&1 || {
            echo "| PGSync | $rate/s | FAILED: pip install pgsync: $(tail -1 pip.log) | | | |"; return 0; }
    fi
    redis=$(command -v redis-server || command -v valkey-server || true)
    [ -n "$redis" ] || { echo "| PGSync | $rate/s | FAILED: no redis-server or valkey-server (apt-get install redis-server) | | | |"; return 0; }
    table "$ROWS"
    curl -s -X DELETE "$ES_URL/bench-pgsync" >/dev/null
    rport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p redis checkpoint
    "$redis" --bind 127.0.0.1 --port "$rport" --save '' --appendonly no --dir "$W/redis" >redis.log 2>&1 &
    rpid=$!
    sed "s/@DATABASE@/$PGDATABASE/" "$ROOT/bench/pgsync/follow.json" >pgsync.json
    export OPENSEARCH=true ELASTICSEARCH=false ELASTICSEARCH_URL=$ES_URL ELASTICSEARCH_TIMEOUT=120 \
        REDIS_HOST=127.0.0.1 REDIS_PORT=$rport CHECKPOINT_PATH=$W/checkpoint \
        PG_HOST=$PGHOST PG_PORT=$PGPORT PG_USER=$PGUSER PG_PASSWORD=$PGPASSWORD PG_DATABASE=$PGDATABASE
    if ! "$venv/bin/bootstrap" --config pgsync.json >pgsync-bootstrap.log 2>&1; then
        echo "| PGSync $("$venv/bin/pip" show pgsync 2>/dev/null | sed -n 's/^Version: //p') | $rate/s | FAILED: bootstrap: $(grep -v '^ *$' pgsync-bootstrap.log | tail -1 | sed "s/$PGPASSWORD/***/g") | | | |"
        kill $rpid; return 0
    fi
    /usr/bin/time -f '%U %S %M' -o pgsync-rss.txt "$venv/bin/pgsync" --config pgsync.json --daemon >pgsync.log 2>&1 &
    ppid=$!
    for _ in $(seq 1 600); do
        n=$(curl -s "$ES_URL/bench-pgsync/_count" | jq -r '.count // 0' 2>/dev/null || echo 0)
        [ "$n" -ge "$ROWS" ] && break
        kill -0 $ppid 2>/dev/null || break
        sleep 0.2
    done
    if ! kill -0 $ppid 2>/dev/null; then
        echo "| PGSync | $rate/s | FAILED: the daemon exited: $(grep -v '^ *$' pgsync.log | tail -1 | sed "s/$PGPASSWORD/***/g") | | | |"
        kill $rpid; return 0
    fi
    local l0; l0=$(load)
    out=$(PROBE_URL="$ES_URL/bench-pgsync/_doc/0" PROBE_FIELD=v \
          python3 "$ROOT/bench/follow_latency.py" - "$rate" "$SECONDS_" "$ROWS" "$per" "$writers") || out="FAILED: follow_latency.py"
    kill -TERM $(pgrep -P $ppid 2>/dev/null || echo $ppid) 2>/dev/null || true
    wait $ppid 2>/dev/null || true
    kill $rpid 2>/dev/null || true
    local u sy m
    read -r u sy m < <(tail -1 pgsync-rss.txt) || true
    echo "| PGSync $("$venv/bin/pip" show pgsync 2>/dev/null | sed -n 's/^Version: //p') --daemon | $rate/s ($per per commit, $writers writers) | $out | $((${m:-0} / 1024)) MB | $(awk "BEGIN{print ${u:-0} + ${sy:-0}}") s | $l0 -> $(load) |"
    "$venv/bin/bootstrap" --config pgsync.json --teardown >/dev/null 2>&1 || true
}

header() { printf '\n| binary | workload | result | peak RSS | CPU | load average |\n|---|---|---|---|---|---|\n'; }

case $what in
pgsync)
    header
    for spec in $RATES; do pgsync "$spec"; done ;;
latency|all)
    header
    for spec in $RATES; do
        latency "$BIN" "sql2es" "$spec"
        [ -n "$BASE_BIN" ] && latency "$BASE_BIN" "baseline" "$spec"
    done ;;&
catchup|all)
    header
    limit
    catchup "$BIN" "sql2es"
    [ -n "$BASE_BIN" ] && catchup "$BASE_BIN" "baseline"
    limit ;;&
limit) header; limit ;;
rss|all)
    header
    latency "$BIN" "sql2es, $LONG_SECONDS s stream" "$LONG_RATE:1:4" "$LONG_SECONDS"
    if [ "$what" = all ] && [ "${PGSYNC:-0}" = 1 ]; then
        for spec in $RATES; do pgsync "$spec"; done
    fi ;;
latency|catchup|all) ;;
*) echo "usage: bench/follow.sh [latency|catchup|limit|rss|pgsync|all]" >&2; exit 2 ;;
esac
