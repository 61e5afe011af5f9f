#!/usr/bin/env bash
# 56-many-tables.sh - a templated connector of 200 tables read
# max_concurrent_tables at a time, on SQLite, PostgreSQL and MariaDB: the dry
# run writes byte for byte what a sequential run writes (the sanitizer build
# too); a sync into the test OpenSearch node makes the same documents as a
# sequential one and sweeps what it did not see; a table that fails among
# them is named, the others are read, and its index is not swept; the number
# of connections (counted by a proxy, bench/latency_proxy.py) never exceeds
# the setting.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 48
need opensearch
need postgresql
need mariadb
E2E_TMP=$SQL2ES_TEST_TMP/e2e-many-tables
rm -rf "$E2E_TMP"; mkdir -p "$E2E_TMP"
. "$SQL2ES_ROOT/tests/e2e-sync/lib.sh"
cd "$E2E_TMP" || exit 1
if [ ! -x "$SQL2ES_BIN" ]; then not_ok "sql2es is built ($SQL2ES_BIN)"; exit 0; fi
SAN=$SQL2ES_SAN_BIN
NT=200 CONC=6

# 200 tables mt_000..mt_199 with i % 7 rows (empty ones too) and mt_050 of 300
# rows (several fetches, interleaved with the other tables' reads)
fixture() { # DIALECT
    local i n r sql
    for i in $(seq 0 $((NT - 1))); do
        printf -v t 'mt_%03d' "$i"
        echo "DROP TABLE IF EXISTS $t;"
        echo "CREATE TABLE $t (id INTEGER PRIMARY KEY, name VARCHAR(40), n INTEGER);"
        n=$((i % 7)); [ "$i" = 50 ] && n=300
        if [ "$n" -gt 0 ]; then
            sql="INSERT INTO $t (id, name, n) VALUES "
            for r in $(seq 1 "$n"); do
                sql+="($((r * 3)), '$t row $r', $((r * i)))"; [ "$r" -lt "$n" ] && sql+=","
            done
            echo "$sql;"
        fi
    done
}
WANT=0
for i in $(seq 0 $((NT - 1))); do n=$((i % 7)); [ "$i" = 50 ] && n=300; WANT=$((WANT + n)); done
FAIL_ROWS=$((137 % 7))

msql() { MYSQL_PWD=$MYSQL_PASSWORD mariadb -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" "$MYSQL_DATABASE" "$@"; }
fixture >fixture.sql
ok_load=1
rm -f many.db; sqlite3 many.db <fixture.sql >load.log 2>&1 || ok_load=0
psql -X -q -v ON_ERROR_STOP=1 -f fixture.sql >>load.log 2>&1 || ok_load=0
msql <fixture.sql >>load.log 2>&1 || ok_load=0
if [ $ok_load = 1 ]; then ok "200 tables on SQLite, PostgreSQL and MariaDB"
else not_ok "200 tables on SQLite, PostgreSQL and MariaDB"; sed 's/^/#   /' load.log | head; exit 0; fi

# a proxy in front of a database: counts the connections open at once
PX_PIDS=()
proxy() { # UPSTREAM_PORT STATS: the proxy's port in $port (not in a subshell: the exit trap stops it)
    local out=$E2E_TMP/px-$RANDOM.out i
    port=
    python3 "$SQL2ES_ROOT/bench/latency_proxy.py" --upstream "127.0.0.1:$1" --rtt-ms 4 \
        --stats "$2" --max-seconds 900 >"$out" 2>&1 &
    E2E_PIDS+=($!)
    for i in $(seq 1 100); do
        port=$(sed -n 's/^PROXY 127.0.0.1://p' "$out"); [ -n "$port" ] && break; sleep 0.1
    done
}
max_open() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["max_open"])' "$1" 2>/dev/null; }

# config FILE DB CONCURRENCY INDEX [PORT] [FAIL]: one connector of the 200 tables
config() {
    local f=$1 db=$2 conc=$3 ix=$4 port=${5:-} fail=${6:-} src
    case $db in
        sqlite) src="service_type: sqlite
    configuration: { path: ./many.db, tables: \"mt_*\" }" ;;
        postgresql) src="service_type: postgresql
    configuration: { host: 127.0.0.1, port: ${port:-$PGPORT}, username: $PGUSER, password: \"\${PGPASSWORD}\", database: $PGDATABASE, tables: \"mt_*\" }" ;;
        mariadb) src="service_type: mysql
    configuration: { host: 127.0.0.1, port: ${port:-$MYSQL_PORT}, user: $MYSQL_USER, password: \"\${MYSQL_PASSWORD}\", database: $MYSQL_DATABASE, tables: \"mt_*\" }" ;;
    esac
    cat >"$f" <<EOF
elasticsearch: { host: $ES_URL, ssl: false, bulk: { chunk_size: 97 } }
connectors:
  - connector_id: many_$db
    $src
    index_name: $ix
    max_concurrent_tables: $conc
    state_file: ./state-$db
    mappings:
      "mt_*":
        id: "{{ \$table }}-{{ id }}"
        fields: { label: "{{ \$table }}/{{ name }}" }
EOF
    if [ -n "$fail" ]; then
        cat >>"$f" <<EOF
      mt_137:
        id: "{{ \$table }}-{{ id }}"
        where: "no_such_column = 1"
EOF
    fi
}

# docs INDEX: every document of an index, sorted by _id, one per line
docs() { es POST "/$1/_refresh" >/dev/null; es GET "/$1/_search?size=10000" | jq -c '.hits.hits | map({_id, _source}) | sort_by(._id) | .[]'; }

for db in sqlite postgresql mariadb; do
    # ---- dry run: the output of a sequential run, byte for byte -----------------
    config seq-$db.yml $db 1 e2e68-$db
    config conc-$db.yml $db $CONC e2e68-$db
    "$SQL2ES_BIN" sync -q --dry-run -c seq-$db.yml -o seq-$db.ndjson >seq-$db.err 2>&1
    "$SQL2ES_BIN" sync -q --dry-run -c conc-$db.yml -o conc-$db.ndjson >conc-$db.err 2>&1
    rc=$?
    check_eq "$db: concurrent dry run exits 0" "$rc" 0
    check_eq "$db: dry run writes a document per row" "$(grep -c '"index"' conc-$db.ndjson)" "$WANT"
    if cmp -s seq-$db.ndjson conc-$db.ndjson; then ok "$db: $CONC tables at a time: the dry run equals the sequential one"
    else not_ok "$db: $CONC tables at a time: the dry run equals the sequential one"; diff seq-$db.ndjson conc-$db.ndjson | head -5 | sed 's/^/#   /'; fi
    if [ -x "$SAN" ]; then
        "$SAN" sync -q --dry-run -c conc-$db.yml -o san-$db.ndjson >san-$db.err 2>&1
        rc=$?
        if [ $rc = 0 ] && cmp -s seq-$db.ndjson san-$db.ndjson; then ok "$db: sanitizer build, same output"
        else not_ok "$db: sanitizer build, same output (exit $rc)"; head -20 san-$db.err | sed 's/^/#   /'; fi
    else
        san_bin "$SAN"
    fi

    # ---- a failing table among them ----------------------------------------------
    config seqf-$db.yml $db 1 e2e68-$db "" fail
    config concf-$db.yml $db $CONC e2e68-$db "" fail
    "$SQL2ES_BIN" sync -q --dry-run -c seqf-$db.yml -o seqf-$db.ndjson >seqf-$db.err 2>&1
    "$SQL2ES_BIN" sync -q --dry-run -c concf-$db.yml -o concf-$db.ndjson >concf-$db.err 2>&1
    rc=$?
    check_eq "$db: a failing table fails the run" "$rc" 1
    if grep -q "mt_137" concf-$db.err && [ "$(grep -c 'error' concf-$db.err)" -ge 1 ]; then
        ok "$db: the error names the table"
    else not_ok "$db: the error names the table"; sed 's/^/#   /' concf-$db.err | head; fi
    check_eq "$db: ... the other tables are read" "$(grep -c '"index"' concf-$db.ndjson)" $((WANT - FAIL_ROWS))
    if cmp -s seqf-$db.ndjson concf-$db.ndjson && diff -q <(grep -v 'sql2es:' seqf-$db.err) <(grep -v 'sql2es:' concf-$db.err) >/dev/null; then
        ok "$db: ... output and messages as a sequential run's"
    else not_ok "$db: ... output and messages as a sequential run's"; diff seqf-$db.err concf-$db.err | head -6 | sed 's/^/#   /'; fi
done

# ---- syncs into the node ---------------------------------------------------------
for db in sqlite postgresql mariadb; do
    IXS=e2e68-$db-seq IXC=e2e68-$db-conc
    es_drop "$IXS" "$IXC"
    port=
    case $db in
        postgresql) proxy "$PGPORT" px-$db.json ;;
        mariadb) proxy "$MYSQL_PORT" px-$db.json ;;
    esac
    config sseq-$db.yml $db 1 "$IXS"
    config sconc-$db.yml $db $CONC "$IXC" "$port"
    run_sync sseq-$db -c sseq-$db.yml
    check_sync sseq-$db 0 "$db: sequential sync"
    # a document no table makes: the concurrent full sync sweeps it
    es PUT "/$IXC/_doc/stale-1?refresh=true" '{"label":"stale"}' >/dev/null
    run_sync sconc-$db -c sconc-$db.yml
    check_sync sconc-$db 0 "$db: sync of 200 tables, $CONC at a time"
    check_eq "$db: ... a document per row" "$(es_count "$IXC")" "$WANT"
    if [ "$(docs "$IXS" | md5sum)" = "$(docs "$IXC" | md5sum)" ]; then ok "$db: ... the same documents as the sequential sync, the unseen one swept"
    else not_ok "$db: ... the same documents as the sequential sync, the unseen one swept"; diff <(docs "$IXS") <(docs "$IXC") | head -5 | sed 's/^/#   /'; fi
    if [ -n "$port" ]; then
        check_eq "$db: ... over $CONC connections at most (counted by a proxy)" "$(max_open px-$db.json)" "$CONC"
    fi
    # a failing table: the others are written, its index is not swept
    es PUT "/$IXC/_doc/stale-2?refresh=true" '{"label":"stale"}' >/dev/null
    config sfail-$db.yml $db $CONC "$IXC" "$port" fail
    run_sync sfail-$db -c sfail-$db.yml
    check_sync sfail-$db 1 "$db: a failing table fails the sync"
    if grep -q "mt_137" "$E2E_TMP/sfail-$db.out"; then ok "$db: ... naming the table"
    else not_ok "$db: ... naming the table"; show sfail-$db; fi
    check_eq "$db: ... no sweep of its index" "$(es_doc "$IXC" stale-2)" '{"label":"stale"}'
    es_drop "$IXS" "$IXC"
done
