#!/usr/bin/env bash
# bench/run.sh [compile|sqlite|postgresql|mariadb|relations|rss|latency|nested|many|e2e|serve|follow|all] - benchmarks (not tests).
#
# Prints a Markdown table of wall time, rows/s and peak RSS for sql2es and
# for the baselines in the same run; copy the figures into bench/RESULTS.md.
#   ROWS=1000000 (default)   rows per table
# Servers are started through the test harness (loopback, temporary dirs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SQL2ES_BIN:-$root/build/sql2es}
ROWS=${ROWS:-1000000}
what=${1:-all}
export SQL2ES_TEST_TMP=${SQL2ES_TEST_TMP:-$(mktemp -d "${TMPDIR:-/tmp}/sql2es-bench.XXXXXX")}
work=$SQL2ES_TEST_TMP/bench
mkdir -p "$work"
trap 'bash "$root/tests/harness/services.sh" stop >/dev/null 2>&1; rm -rf "$SQL2ES_TEST_TMP"' EXIT
need() { local env; env=$(bash "$root/tests/harness/services.sh" start "$1"); set -a; . "$env"; set +a; }

# measure LABEL ROWS CMD... : one line of the table (best of 3 runs for wall time, max RSS)
measure() {
    local label=$1 rows=$2; shift 2
    local best="" rss=0
    for _ in 1 2 3; do
        /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>"$work/err" || {
            echo "| $label | FAILED: $(tail -1 "$work/err") | | |"; return; }
        read -r t m < "$work/time"
        if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
        [ "$m" -gt "$rss" ] && rss=$m
    done
    local rate
    rate=$(awk "BEGIN{ if ($best > 0) printf \"%.0f\", $rows / $best; else print \"inf\" }")
    printf '| %s | %s s | %s rows/s | %d MB |\n' "$label" "$best" "$rate" $((rss / 1024))
}

header() { printf '\n### %s (%s rows)\n\n| what | wall (best of 3) | throughput | peak RSS |\n|---|---|---|---|\n' "$1" "$2"; }

sqlite_db() { # FILE ROWS
    rm -f "$1"
    sqlite3 "$1" >/dev/null <<SQL
PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, email TEXT, price NUMERIC, qty INTEGER,
  created_at TEXT, active BOOLEAN, score REAL, tags TEXT, note TEXT);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $2)
INSERT INTO items SELECT i, 'name ' || i, 'user' || i || '@example.com', (i % 10000) / 100.0, i % 97,
  '2024-01-01T00:00:00Z', i % 2, i * 0.5, 'a,b,c', 'some text for row ' || i FROM s;
SQL
}

cfg_sqlite() { # FILE DB
    cat > "$1" <<YML
connectors:
  - connector_id: bench
    service_type: sqlite
    index_name: bench
    configuration: { path: $2, tables: "*" }
    mappings:
      items: { index: bench-items }
YML
}

bench_sqlite() {
    sqlite_db "$work/b.db" "$ROWS"
    cfg_sqlite "$work/sqlite.yml" "$work/b.db"
    header "SQLite dry run" "$ROWS"
    measure "sql2es sync --dry-run -o /dev/null" "$ROWS" "$bin" sync -q -c "$work/sqlite.yml" --dry-run -o /dev/null
    measure "sqlite3 -json (baseline)" "$ROWS" sqlite3 -json "$work/b.db" "SELECT * FROM items"
}

bench_rss() {
    header "Peak RSS against table size (SQLite dry run)" "10k / ROWS / 10xROWS"
    for n in 10000 "$ROWS" $((ROWS * 10)); do
        sqlite_db "$work/r.db" "$n"
        cfg_sqlite "$work/r.yml" "$work/r.db"
        measure "sql2es, $n rows" "$n" "$bin" sync -q -c "$work/r.yml" --dry-run -o /dev/null
    done
    rm -f "$work/r.db"
}

bench_relations() {
    sqlite_db "$work/p.db" "$ROWS"
    sqlite3 "$work/p.db" <<SQL
PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
CREATE TABLE lines (id INTEGER PRIMARY KEY, item_id INTEGER, sku TEXT, qty INTEGER);
WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < $ROWS * 5 - 1)
INSERT INTO lines SELECT i, i / 5 + 1, 'sku-' || i, i % 7 FROM s;
CREATE INDEX lines_item ON lines(item_id);
SQL
    cat > "$work/rel.yml" <<YML
connectors:
  - connector_id: bench
    service_type: sqlite
    index_name: bench
    configuration: { path: $work/p.db, tables: [items] }
    mappings:
      items:
        index: bench-items
        relations:
          lines: { table: lines, on: { item_id: id }, fields: { sku: sku, qty: qty }, order_by: id }
YML
    cfg_sqlite "$work/flat.yml" "$work/p.db"
    header "Relations: parents with 5 children each (SQLite dry run)" "$ROWS"
    measure "flat table" "$ROWS" "$bin" sync -q -c "$work/flat.yml" --table items --dry-run -o /dev/null
    measure "with one-to-many relation (5 children)" "$ROWS" "$bin" sync -q -c "$work/rel.yml" --dry-run -o /dev/null
}

bench_postgresql() {
    need postgresql
    psql -q -v ON_ERROR_STOP=1 <<SQL
DROP TABLE IF EXISTS items;
CREATE TABLE items (id bigint PRIMARY KEY, name text, email text, price numeric(12,2), qty int,
  created_at timestamptz, active boolean, score double precision, tags text[], meta jsonb);
INSERT INTO items SELECT i, 'name ' || i, 'user' || i || '@example.com', (i % 10000) / 100.0, i % 97,
  timestamptz '2024-01-01' + i * interval '1 second', i % 2 = 0, i * 0.5, ARRAY['a','b'],
  jsonb_build_object('k', i) FROM generate_series(1, $ROWS) i;
ANALYZE items;
SQL
    cat > "$work/pg.yml" <<YML
connectors:
  - connector_id: bench
    service_type: postgresql
    index_name: bench
    configuration: { host: $PGHOST, port: $PGPORT, username: $PGUSER, password: "\${PGPASSWORD}",
                     database: $PGDATABASE, tables: [items] }
    mappings:
      items: { index: bench-items }
YML
    header "PostgreSQL dry run" "$ROWS"
    measure "sql2es sync --dry-run -o /dev/null" "$ROWS" "$bin" sync -q -c "$work/pg.yml" --dry-run -o /dev/null
    measure "psql COPY (SELECT row_to_json(t) FROM items t) (baseline)" "$ROWS" \
        psql -c "COPY (SELECT row_to_json(t) FROM items t) TO STDOUT"
}

bench_mariadb() {
    need mariadb
    mariadb -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" -p"$MYSQL_PASSWORD" "$MYSQL_DATABASE" <<SQL
DROP TABLE IF EXISTS items;
CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(64), email VARCHAR(64), price DECIMAL(12,2),
  qty INT, created_at DATETIME(6), active TINYINT(1), score DOUBLE, tags VARCHAR(32), meta JSON);
INSERT INTO items SELECT seq, CONCAT('name ', seq), CONCAT('user', seq, '@example.com'), (seq % 10000) / 100,
  seq % 97, '2024-01-01' + INTERVAL seq SECOND, seq % 2, seq * 0.5, 'a,b,c', JSON_OBJECT('k', seq)
  FROM seq_1_to_$ROWS;
SQL
    cat > "$work/my.yml" <<YML
connectors:
  - connector_id: bench
    service_type: mysql
    index_name: bench
    configuration: { host: $MYSQL_HOST, port: $MYSQL_PORT, username: $MYSQL_USER,
                     password: "\${MYSQL_PASSWORD}", database: $MYSQL_DATABASE, tables: [items] }
    mappings:
      items: { index: bench-items }
YML
    header "MariaDB dry run" "$ROWS"
    measure "sql2es sync --dry-run -o /dev/null" "$ROWS" "$bin" sync -q -c "$work/my.yml" --dry-run -o /dev/null
    measure "mariadb --batch (baseline)" "$ROWS" \
        mariadb --batch -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" -p"$MYSQL_PASSWORD" "$MYSQL_DATABASE" -e "SELECT * FROM items"
}

bench_compile() {
    local n=${TABLES:-1000}
    python3 - "$work/big.yml" "$n" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("elasticsearch: { host: http://127.0.0.1:9200 }\n")
    f.write("templates:\n  audited:\n    columns: { exclude: [created_by, updated_by] }\n"
            "    incremental: { cursor: [updated_at, id], lag: 30s }\n")
    f.write("connectors:\n  - connector_id: big\n    service_type: postgresql\n"
            "    index_name: big\n    configuration: { host: 127.0.0.1, username: u, password: p, database: d }\n"
            "    sync_rules:\n      basic:\n        - { field: country, rule: equals, value: FR, policy: exclude, order: 1 }\n"
            "    mappings:\n")
    for i in range(n):
        f.write(f"      table_{i:04d}:\n        extends: [audited]\n        index: \"idx-{{{{ $table }}}}\"\n"
                f"        id: \"{{{{ $table }}}}-{{{{ id }}}}\"\n        fields:\n"
                f"          name: \"{{{{ first }}}} {{{{ last }}}}\"\n"
                f"          email: {{ from: email, transform: [trim, lower], type: keyword }}\n"
                f"          phone: {{ from: phone, transform: [{{ regex_replace: [\"[^0-9+]\", \"\"] }}] }}\n"
                f"          address.city: city\n"
                f"        relations:\n          items: {{ table: items_{i:04d}, on: {{ parent_id: id }}, fields: {{ sku: sku }} }}\n")
PY
    header "Compiler: validate a config with $n tables ($(wc -l < "$work/big.yml") lines)" "$n"
    measure "sql2es validate" "$n" "$bin" validate -q -c "$work/big.yml"
    # templates whose extends form a DAG (each level extends both templates of
    # the next: 2^100 paths), and 100,000 table entries selected by name
    python3 - "$work/dag.yml" "$work/wide.yml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("templates:\n")
    for l in range(100):
        for k in "ab":
            f.write(f"  l{l}{k}:\n    where: w{l}{k}\n    fields: {{ f{l}{k}: c{l}{k} }}\n")
            if l < 99:
                f.write(f"    extends: [l{l + 1}a, l{l + 1}b]\n")
    f.write("connectors:\n  - connector_id: s\n    service_type: sqlite\n    index_name: i\n"
            "    configuration: { path: x.db }\n    mappings:\n      t: { extends: [l0a, l0b] }\n")
with open(sys.argv[2], "w") as f:
    f.write("connectors:\n  - connector_id: s\n    service_type: sqlite\n    index_name: i\n"
            "    configuration:\n      path: x.db\n      tables:\n")
    f.writelines(f"        - t{i}\n" for i in range(100000))
    f.write("    mappings:\n")
    f.writelines(f"      t{i}: {{ index: ix{i} }}\n" for i in range(100000))
PY
    header "Compiler: 200 templates in a DAG of extends; 100,000 table entries" "-"
    measure "sql2es validate (200-template DAG)" 200 "$bin" validate -q -c "$work/dag.yml"
    measure "sql2es validate (100,000 tables)" 100000 "$bin" validate -q -c "$work/wide.yml"
    measure "sql2es plan (100,000 tables)" 100000 "$bin" plan -c "$work/wide.yml"
}

# ---- latency (issue 12): dry runs direct and through bench/latency_proxy.py ----
# LAT_ROWS rows (parents; 5 children each for the nested runs), RTT_MS round trip;
# BASE_BIN (optional): another sql2es build measured the same way, as the before.
# Each line: wall (best of LAT_RUNS), rows/s, the share of the direct run's
# throughput, client bursts (requests sent after an answer) per 1,000 rows
# counted by the proxy, and round trips per 1,000 rows that the wall time
# pays for: (wall - direct wall) / round trip.
LAT_ROWS=${LAT_ROWS:-100000}
RTT_MS=${RTT_MS:-20}
LAT_RUNS=${LAT_RUNS:-2}
px_start() { # UPSTREAM_PORT STATS: sets PX_PORT, PX_PID
    python3 "$root/bench/latency_proxy.py" --upstream "127.0.0.1:$1" --rtt-ms "$RTT_MS" \
        --stats "$2" >"$work/px.out" 2>&1 &
    PX_PID=$!
    PX_PORT=""
    for _ in $(seq 100); do
        [ -n "$PX_PORT" ] && break
        sleep 0.1
        PX_PORT=$(sed -n 's/^PROXY 127.0.0.1:\([0-9]*\)$/\1/p' "$work/px.out")
    done
}
bursts() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bursts"])' "$1"; }
# lat_run LABEL ROWS DIRECT_SECS STATS CMD...: one table line; LAT_BEST gets the wall time
lat_run() {
    local label=$1 rows=$2 direct=$3 stats=$4; shift 4
    local best="" nb=0
    for _ in $(seq "$LAT_RUNS"); do
        local b0=0
        [ -n "$stats" ] && { sleep 0.3; b0=$(bursts "$stats"); }
        /usr/bin/time -f '%e' -o "$work/time" "$@" >/dev/null 2>"$work/err" || {
            echo "| $label | FAILED: $(tail -1 "$work/err") | | | | |"; return; }
        local t; t=$(cat "$work/time")
        if [ -n "$stats" ]; then sleep 0.3; nb=$(( $(bursts "$stats") - b0 )); fi
        if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
    done
    LAT_BEST=$best
    awk -v l="$label" -v r="$rows" -v t="$best" -v d="$direct" -v nb="$nb" -v px="$stats" -v rtt="$RTT_MS" 'BEGIN{
        share = (d == "" || t <= 0) ? "1.00x" : sprintf("%.2fx", d / t)
        if (px == "") { b = "-"; rt = "-" } else {
            b = sprintf("%.1f", nb * 1000 / r); rt = sprintf("%.1f", (t - d) / (rtt / 1000) * 1000 / r) }
        printf "| %s | %s s | %.0f rows/s | %s | %s | %s |\n", l, t, r / t, share, b, rt }'
}
bench_latency() {
    need postgresql
    need mariadb
    local n=$LAT_ROWS
    psql -q -v ON_ERROR_STOP=1 <<SQL
DROP TABLE IF EXISTS lat_items, lat_lines;
CREATE TABLE lat_items (id bigint PRIMARY KEY, name text, email text, price numeric(12,2), qty int,
  created_at timestamptz, active boolean, score double precision, tags text[], meta jsonb);
INSERT INTO lat_items SELECT i, 'name ' || i, 'user' || i || '@example.com', (i % 10000) / 100.0, i % 97,
  timestamptz '2024-01-01' + i * interval '1 second', i % 2 = 0, i * 0.5, ARRAY['a','b'],
  jsonb_build_object('k', i) FROM generate_series(1, $n) i;
CREATE TABLE lat_lines (id bigint PRIMARY KEY, item_id bigint, sku text, qty int);
INSERT INTO lat_lines SELECT i, i / 5 + 1, 'sku-' || i, i % 7 FROM generate_series(0, $n * 5 - 1) i;
CREATE INDEX lat_lines_item ON lat_lines (item_id);
ANALYZE lat_items; ANALYZE lat_lines;
SQL
    mariadb -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" -p"$MYSQL_PASSWORD" "$MYSQL_DATABASE" <<SQL
DROP TABLE IF EXISTS lat_items, lat_lines;
CREATE TABLE lat_items (id BIGINT PRIMARY KEY, name VARCHAR(64), email VARCHAR(64), price DECIMAL(12,2),
  qty INT, created_at DATETIME(6), active TINYINT(1), score DOUBLE, tags VARCHAR(32), meta JSON);
INSERT INTO lat_items SELECT seq, CONCAT('name ', seq), CONCAT('user', seq, '@example.com'), (seq % 10000) / 100,
  seq % 97, '2024-01-01' + INTERVAL seq SECOND, seq % 2, seq * 0.5, 'a,b,c', JSON_OBJECT('k', seq)
  FROM seq_1_to_$n;
CREATE TABLE lat_lines (id BIGINT PRIMARY KEY, item_id BIGINT, sku VARCHAR(32), qty INT, KEY lat_lines_item (item_id));
INSERT INTO lat_lines SELECT seq, seq DIV 5 + 1, CONCAT('sku-', seq), seq % 7 FROM seq_0_to_$((n * 5 - 1));
SQL
    # lat_cfg FILE SERVICE PORT USER PASSWORD_VAR DATABASE NESTED
    lat_cfg() {
        {
            printf 'connectors:\n  - connector_id: lat\n    service_type: %s\n    index_name: lat\n' "$2"
            printf '    configuration: { host: 127.0.0.1, port: %s, username: %s, password: "${%s}", database: %s, tables: [lat_items] }\n' "$3" "$4" "$5" "$6"
            printf '    mappings:\n      lat_items:\n        index: lat-items\n'
            if [ "$7" = nested ]; then
                printf '        relations:\n          lines: { table: lat_lines, on: { item_id: id }, fields: { sku: sku, qty: qty }, order_by: id }\n'
            fi
        } >"$1"
    }
    printf '\n### Latency: dry runs direct and at %s ms round trip (%s rows; nested: 5 children each)\n\n' "$RTT_MS" "$n"
    printf '| what | wall (best of %s) | throughput | share of direct | bursts / 1,000 rows | round trips paid / 1,000 rows |\n|---|---|---|---|---|---|\n' "$LAT_RUNS"
    local db port user pwvar dbname svc shape
    for db in postgresql mariadb; do
        case $db in
        postgresql) svc=postgresql port=$PGPORT user=$PGUSER pwvar=PGPASSWORD dbname=$PGDATABASE ;;
        mariadb) svc=mysql port=$MYSQL_PORT user=$MYSQL_USER pwvar=MYSQL_PASSWORD dbname=$MYSQL_DATABASE ;;
        esac
        px_start "$port" "$work/px-$db.json"
        for shape in flat nested; do
            lat_cfg "$work/lat-$db-$shape.yml" $svc "$port" "$user" $pwvar "$dbname" $shape
            lat_cfg "$work/latpx-$db-$shape.yml" $svc "$PX_PORT" "$user" $pwvar "$dbname" $shape
            lat_run "$db $shape, direct" "$n" "" "" "$bin" sync -q -c "$work/lat-$db-$shape.yml" --dry-run -o /dev/null
            local direct=$LAT_BEST
            lat_run "$db $shape, $RTT_MS ms round trip" "$n" "$direct" "$work/px-$db.json" \
                "$bin" sync -q -c "$work/latpx-$db-$shape.yml" --dry-run -o /dev/null
            if [ -n "${BASE_BIN:-}" ]; then # the first BASE_LIMIT rows (slow there)
                local bl=${BASE_LIMIT:-5000} bd
                bd=$(awk -v d="$direct" -v l="$bl" -v n="$n" 'BEGIN{printf "%.3f", d * l / n}')
                LAT_RUNS=1 lat_run "$db $shape, $RTT_MS ms round trip, BASE_BIN, first $bl rows" "$bl" "$bd" \
                    "$work/px-$db.json" "$BASE_BIN" sync -q -c "$work/latpx-$db-$shape.yml" --dry-run \
                    -o /dev/null --limit "$bl"
            fi
        done
        kill "$PX_PID" 2>/dev/null; wait "$PX_PID" 2>/dev/null || true
    done
}

# ---- nested documents (issue 12, item 2) ----
# NESTED_ROWS parents x 5 children, clustered (children stored in parent
# order) and scattered (child parent_id spread: (i * 7919) % N + 1), on the
# three databases: sql2es with the relation read by merge (the default), the
# same with `read: batch` (IN batches: the before), and the database's own
# nested JSON in one query (json_agg, JSON_ARRAYAGG, json_group_array).
# Wall time best of NESTED_RUNS (the batch line: one run); ratio = the
# database's own JSON / sql2es merge.
NESTED_ROWS=${NESTED_ROWS:-100000}
NESTED_RUNS=${NESTED_RUNS:-2}
best_of() { # RUNS CMD...: NB_BEST gets the best wall time (empty on failure)
    local runs=$1 t; shift
    NB_BEST=""
    for _ in $(seq "$runs"); do
        /usr/bin/time -f '%e' -o "$work/time" "$@" >/dev/null 2>"$work/err" || { NB_BEST=""; return; }
        t=$(cat "$work/time")
        if [ -z "$NB_BEST" ] || awk "BEGIN{exit !($t < $NB_BEST)}"; then NB_BEST=$t; fi
    done
}
bench_nested() {
    need postgresql
    need mariadb
    local n=$NESTED_ROWS db lay
    psql -q -v ON_ERROR_STOP=1 <<SQL
DROP TABLE IF EXISTS n_items, n_cl, n_sc;
CREATE TABLE n_items (id bigint PRIMARY KEY, name text, email text, price numeric(12,2), qty int,
  created_at timestamptz, active boolean, score double precision, tags text[], meta jsonb);
INSERT INTO n_items SELECT i, 'name ' || i, 'user' || i || '@example.com', (i % 10000) / 100.0, i % 97,
  timestamptz '2024-01-01' + i * interval '1 second', i % 2 = 0, i * 0.5, ARRAY['a','b'],
  jsonb_build_object('k', i) FROM generate_series(1, $n) i;
CREATE TABLE n_cl (id bigint PRIMARY KEY, item_id bigint, sku text, qty int);
INSERT INTO n_cl SELECT i, i / 5 + 1, 'sku-' || i, i % 7 FROM generate_series(0, $n * 5 - 1) i;
CREATE INDEX ON n_cl (item_id);
CREATE TABLE n_sc (id bigint PRIMARY KEY, item_id bigint, sku text, qty int);
INSERT INTO n_sc SELECT i, (i::bigint * 7919) % $n + 1, 'sku-' || i, i % 7 FROM generate_series(0, $n * 5 - 1) i;
CREATE INDEX ON n_sc (item_id);
VACUUM ANALYZE n_items; VACUUM ANALYZE n_cl; VACUUM ANALYZE n_sc;
SQL
    mariadb -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" -p"$MYSQL_PASSWORD" "$MYSQL_DATABASE" >/dev/null <<SQL
DROP TABLE IF EXISTS n_items, n_cl, n_sc;
CREATE TABLE n_items (id BIGINT PRIMARY KEY, name VARCHAR(64), email VARCHAR(64), price DECIMAL(12,2),
  qty INT, created_at DATETIME(6), active TINYINT(1), score DOUBLE, tags VARCHAR(32), meta JSON);
INSERT INTO n_items SELECT seq, CONCAT('name ', seq), CONCAT('user', seq, '@example.com'), (seq % 10000) / 100,
  seq % 97, '2024-01-01' + INTERVAL seq SECOND, seq % 2, seq * 0.5, 'a,b,c', JSON_OBJECT('k', seq)
  FROM seq_1_to_$n;
CREATE TABLE n_cl (id BIGINT PRIMARY KEY, item_id BIGINT, sku VARCHAR(32), qty INT, KEY (item_id));
INSERT INTO n_cl SELECT seq, seq DIV 5 + 1, CONCAT('sku-', seq), seq % 7 FROM seq_0_to_$((n * 5 - 1));
CREATE TABLE n_sc (id BIGINT PRIMARY KEY, item_id BIGINT, sku VARCHAR(32), qty INT, KEY (item_id));
INSERT INTO n_sc SELECT seq, (seq * 7919) % $n + 1, CONCAT('sku-', seq), seq % 7 FROM seq_0_to_$((n * 5 - 1));
ANALYZE TABLE n_items, n_cl, n_sc;
SQL
    rm -f "$work/n.db"
    sqlite3 "$work/n.db" >/dev/null <<SQL
PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
CREATE TABLE n_items (id INTEGER PRIMARY KEY, name TEXT, email TEXT, price NUMERIC, qty INTEGER,
  created_at TEXT, active BOOLEAN, score REAL, tags TEXT, note TEXT);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $n)
INSERT INTO n_items SELECT i, 'name ' || i, 'user' || i || '@example.com', (i % 10000) / 100.0, i % 97,
  '2024-01-01T00:00:00Z', i % 2, i * 0.5, 'a,b,c', 'some text for row ' || i FROM s;
CREATE TABLE n_cl (id INTEGER PRIMARY KEY, item_id INTEGER, sku TEXT, qty INTEGER);
WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < $n * 5 - 1)
INSERT INTO n_cl SELECT i, i / 5 + 1, 'sku-' || i, i % 7 FROM s;
CREATE INDEX n_cl_item ON n_cl(item_id);
CREATE TABLE n_sc (id INTEGER PRIMARY KEY, item_id INTEGER, sku TEXT, qty INTEGER);
WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < $n * 5 - 1)
INSERT INTO n_sc SELECT i, (i * 7919) % $n + 1, 'sku-' || i, i % 7 FROM s;
CREATE INDEX n_sc_item ON n_sc(item_id);
ANALYZE;
SQL
    nested_cfg() { # FILE DB LAYOUT READ
        local conf
        case $2 in
        postgresql) conf="service_type: postgresql
    configuration: { host: $PGHOST, port: $PGPORT, username: $PGUSER, password: \"\${PGPASSWORD}\", database: $PGDATABASE, tables: [n_items] }" ;;
        mariadb) conf="service_type: mysql
    configuration: { host: $MYSQL_HOST, port: $MYSQL_PORT, username: $MYSQL_USER, password: \"\${MYSQL_PASSWORD}\", database: $MYSQL_DATABASE, tables: [n_items] }" ;;
        sqlite) conf="service_type: sqlite
    configuration: { path: $work/n.db, tables: [n_items] }" ;;
        esac
        cat >"$1" <<YML
connectors:
  - connector_id: nested
    index_name: nested
    $conf
    mappings:
      n_items:
        index: nested-items
        relations:
          lines: { table: n_$3, on: { item_id: id }, fields: { sku: sku, qty: qty }, order_by: id, read: $4 }
YML
    }
    own_json() { # DB LAYOUT: a script printing the database's own nested JSON, one document per parent
        local sql
        case $1 in
        postgresql) sql="COPY (SELECT row_to_json(t) FROM (SELECT i.*, (SELECT json_agg(json_build_object('sku', l.sku, 'qty', l.qty) ORDER BY l.id) FROM n_$2 l WHERE l.item_id = i.id) AS lines FROM n_items i ORDER BY i.id) t) TO STDOUT"
            printf 'psql -c %q\n' "$sql" ;;
        mariadb) sql="SELECT JSON_OBJECT('id', i.id, 'name', i.name, 'email', i.email, 'price', i.price, 'qty', i.qty, 'created_at', i.created_at, 'active', i.active, 'score', i.score, 'tags', i.tags, 'meta', i.meta, 'lines', (SELECT JSON_ARRAYAGG(JSON_OBJECT('sku', l.sku, 'qty', l.qty) ORDER BY l.id) FROM n_$2 l WHERE l.item_id = i.id)) FROM n_items i ORDER BY i.id"
            printf 'mariadb -h %q -P %q -u %q -p%q %q --batch --raw --skip-column-names -e %q\n' "$MYSQL_HOST" "$MYSQL_PORT" "$MYSQL_USER" "$MYSQL_PASSWORD" "$MYSQL_DATABASE" "$sql" ;;
        sqlite) sql="SELECT json_object('id', i.id, 'name', i.name, 'email', i.email, 'price', i.price, 'qty', i.qty, 'created_at', i.created_at, 'active', i.active, 'score', i.score, 'tags', i.tags, 'note', i.note, 'lines', (SELECT json_group_array(json_object('sku', l.sku, 'qty', l.qty)) FROM (SELECT sku, qty FROM n_$2 l WHERE l.item_id = i.id ORDER BY l.id) l)) FROM n_items i ORDER BY i.id"
            printf 'sqlite3 %q %q\n' "$work/n.db" "$sql" ;;
        esac >"$work/own-$1-$2.sh"
    }
    printf '\n### Nested documents: %s parents x 5 children (dry run; load average %s)\n\n' "$n" "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf '| database, children | sql2es, read by merge | sql2es, read: batch (before) | own nested JSON | own JSON / merge | goal 2x |\n|---|---|---|---|---|---|\n'
    for db in postgresql mariadb sqlite; do
        for lay in cl sc; do
            nested_cfg "$work/n-$db-$lay-merge.yml" $db $lay merge
            nested_cfg "$work/n-$db-$lay-batch.yml" $db $lay batch
            local tm tb to
            best_of "$NESTED_RUNS" "$bin" sync -q -c "$work/n-$db-$lay-merge.yml" --dry-run -o /dev/null; tm=$NB_BEST
            best_of 1 "$bin" sync -q -c "$work/n-$db-$lay-batch.yml" --dry-run -o /dev/null; tb=$NB_BEST
            own_json $db $lay
            best_of "$NESTED_RUNS" bash "$work/own-$db-$lay.sh"; to=$NB_BEST
            awk -v d="$db" -v l="$([ $lay = cl ] && echo clustered || echo scattered)" -v m="$tm" -v b="$tb" -v o="$to" 'BEGIN{
                r = (m > 0 && o > 0) ? o / m : 0
                printf "| %s, %s | %s s | %s s | %s s | %.2fx | %s |\n", d, l, m == "" ? "FAILED" : m, b == "" ? "FAILED" : b,
                    o == "" ? "FAILED" : o, r, r >= 2 ? "met" : "missed" }'
        done
    done
}

# Many tables: a templated connector of MANY_TABLES tables of MANY_ROWS rows,
# dry runs at RTT_MS round trip, max_concurrent_tables 1 (one table at a time)
# against several settings, the runs interleaved (MANY_RUNS rounds, best of).
MANY_TABLES=${MANY_TABLES:-200}
MANY_ROWS=${MANY_ROWS:-50}
MANY_RUNS=${MANY_RUNS:-2}
MANY_SETTINGS=${MANY_SETTINGS:-1 2 4 8 16}
bench_many() {
    need postgresql
    need mariadb
    local t i sqlp="" sqlm=""
    for i in $(seq 0 $((MANY_TABLES - 1))); do
        printf -v t 'many_%03d' "$i"
        sqlp+="DROP TABLE IF EXISTS $t; CREATE TABLE $t (id bigint PRIMARY KEY, name text, price numeric(12,2), created_at timestamptz);
INSERT INTO $t SELECT g, 'name ' || g, g / 7.0, timestamptz '2024-01-01' + g * interval '1 minute' FROM generate_series(1, $MANY_ROWS) g;
"
        sqlm+="DROP TABLE IF EXISTS $t; CREATE TABLE $t (id BIGINT PRIMARY KEY, name VARCHAR(40), price DECIMAL(12,2), created_at DATETIME);
INSERT INTO $t SELECT seq, CONCAT('name ', seq), seq / 7, '2024-01-01' + INTERVAL seq MINUTE FROM seq_1_to_$MANY_ROWS;
"
    done
    PGOPTIONS="-c client_min_messages=warning" psql -q -v ON_ERROR_STOP=1 <<<"$sqlp" >/dev/null
    mariadb -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" -p"$MYSQL_PASSWORD" "$MYSQL_DATABASE" <<<"$sqlm"
    local rows=$((MANY_TABLES * MANY_ROWS))
    printf '
### Many tables: %s tables of %s rows, dry runs at %s ms round trip

' "$MANY_TABLES" "$MANY_ROWS" "$RTT_MS"
    printf '| what | max_concurrent_tables | wall (best of %s) | tables/s | vs one at a time | connections (most open) |
|---|---|---|---|---|---|
' "$MANY_RUNS"
    local db port user pwvar dbname svc c r
    for db in postgresql mariadb; do
        case $db in
        postgresql) svc=postgresql port=$PGPORT user=$PGUSER pwvar=PGPASSWORD dbname=$PGDATABASE ;;
        mariadb) svc=mysql port=$MYSQL_PORT user=$MYSQL_USER pwvar=MYSQL_PASSWORD dbname=$MYSQL_DATABASE ;;
        esac
        declare -A best=() most=()
        for c in $MANY_SETTINGS; do
            {
                printf 'connectors:\n  - connector_id: many\n    service_type: %s\n    index_name: many\n' "$svc"
                printf '    max_concurrent_tables: %s\n' "$c"
                printf '    configuration: { host: 127.0.0.1, port: PORT, username: %s, password: "${%s}", database: %s, tables: "many_*" }\n' "$user" "$pwvar" "$dbname"
                printf '    mappings:\n      "many_*":\n        id: "{{ $table }}-{{ id }}"\n'
            } >"$work/many-$db-$c.tpl"
        done
        for r in $(seq "$MANY_RUNS"); do
            for c in $MANY_SETTINGS; do
                px_start "$port" "$work/pxm-$db-$c.json"
                sed "s/port: PORT/port: $PX_PORT/" "$work/many-$db-$c.tpl" >"$work/many-$db-$c.yml"
                /usr/bin/time -f '%e' -o "$work/time" "$bin" sync -q -c "$work/many-$db-$c.yml" --dry-run \
                    -o "$work/many-$db-$c.ndjson" 2>"$work/err" || { echo "| $db | $c | FAILED: $(tail -1 "$work/err") | | | |"; }
                kill "$PX_PID" 2>/dev/null; wait "$PX_PID" 2>/dev/null || true
                local tm; tm=$(cat "$work/time")
                if [ -z "${best[$c]:-}" ] || awk "BEGIN{exit !($tm < ${best[$c]})}"; then best[$c]=$tm; fi
                most[$c]=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["max_open"])' "$work/pxm-$db-$c.json")
                cmp -s "$work/many-$db-1.ndjson" "$work/many-$db-$c.ndjson" || echo "| $db | $c | OUTPUT DIFFERS from one at a time | | | |"
            done
        done
        for c in $MANY_SETTINGS; do
            awk -v db="$db" -v c="$c" -v t="${best[$c]}" -v b="${best[1]:-}" -v n="$MANY_TABLES" -v m="${most[$c]}" -v rows="$rows" 'BEGIN{
                printf "| %s, %d rows | %s | %s s | %.1f | %s | %s |\n", db, rows, c, t, n / t, b == "" ? "-" : sprintf("%.2fx", b / t), m }'
        done
        unset best most
    done
}

bench_e2e() {
    bash "$root/bench/e2e.sh" "$work"
}

bench_serve() {
    bash "$root/bench/serve.sh" "$work"
}

# sync --follow (bench/follow.sh): latency at 1,000 and 5,000 changes/s, the
# catch-up rate against the node's ingest limit, RSS over a 60 s stream
# (LONG_SECONDS=600 for the 10-minute figure), PGSync with PGSYNC=1.
bench_follow() {
    BIN=$bin bash "$root/bench/follow.sh" all
}

case $what in
compile) bench_compile ;;
sqlite) bench_sqlite ;;
postgresql) bench_postgresql ;;
mariadb) bench_mariadb ;;
relations) bench_relations ;;
rss) bench_rss ;;
latency) bench_latency ;;
nested) bench_nested ;;
many) bench_many ;;
e2e) bench_e2e ;;
serve) bench_serve ;;
follow) bench_follow ;;
all) bench_compile; bench_sqlite; bench_postgresql; bench_mariadb; bench_relations; bench_rss; bench_latency; bench_nested
     bench_many
     [ -f "$root/bench/e2e.sh" ] && bench_e2e
     bench_serve
     bench_follow ;;
*) echo "usage: bench/run.sh [compile|sqlite|postgresql|mariadb|relations|rss|latency|nested|many|e2e|serve|follow|all]" >&2; exit 2 ;;
esac
