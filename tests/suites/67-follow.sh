#!/usr/bin/env bash
# 67-follow.sh - `sql2es sync --follow` against the real servers and the real
# OpenSearch node. PostgreSQL: logical replication (pgoutput) of customers
# with nested orders and their nested lines, while a writer makes thousands
# of mixed changes (tests/e2e-sync/follow_writer.py: inserts, updates,
# deletes, multi-row and large transactions, rollbacks, soft deletes, rows
# leaving and entering `where` and a rule, key updates, TOAST values left
# unchanged, child rows moved between parents, both tables of a many-to-many
# relation), a column added and a child
# table truncated mid-stream, and sql2es SIGKILLed at random moments and
# restarted; at the end every document equals what `sync --dry-run` writes
# from the final database and no other document exists
# (tests/harness/compare_dryrun.py). Then slot hygiene (--drop-slot, a new
# slot's initial read), SIGTERM, the cluster unreachable for a while (a
# fault proxy in front of it stopped, then started again on its port).
# SQLite: --follow polls the cursor.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 26
need opensearch
need postgresql
E2E_TMP=$SQL2ES_TEST_TMP/follow
rm -rf "$E2E_TMP"; mkdir -p "$E2E_TMP"
. "$SQL2ES_ROOT/tests/e2e-sync/lib.sh"
cd "$E2E_TMP" || exit 1
if [ ! -x "$SQL2ES_BIN" ]; then not_ok "sql2es is built ($SQL2ES_BIN)"; exit 0; fi
IX=e2e67
es_drop "$IX-customers" "$IX-sqlite"
COMPARE="$SQL2ES_ROOT/tests/harness/compare_dryrun.py"

psql -q -v ON_ERROR_STOP=1 >fixture.log 2>&1 <<'EOF' || { not_ok "fixture loaded"; sed 's/^/#   /' fixture.log; }
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'sql2es_fl';
DROP PUBLICATION IF EXISTS sql2es_fl;
DROP TABLE IF EXISTS fl_lines, fl_orders, fl_customers, fl_tags, fl_customer_tags;
CREATE TABLE fl_customers (id int PRIMARY KEY, name text, active boolean NOT NULL DEFAULT true,
                           deleted_at timestamptz, score int NOT NULL DEFAULT 0, bio text);
ALTER TABLE fl_customers ALTER COLUMN bio SET STORAGE EXTERNAL;
CREATE TABLE fl_orders (id int PRIMARY KEY, customer_id int, total numeric(12,2));
CREATE TABLE fl_lines (id int PRIMARY KEY, order_id int, sku text, qty int);
ALTER TABLE fl_orders REPLICA IDENTITY FULL;
ALTER TABLE fl_lines REPLICA IDENTITY FULL;
CREATE TABLE fl_tags (id int PRIMARY KEY, label text);
CREATE TABLE fl_customer_tags (customer_id int, tag_id int, PRIMARY KEY (customer_id, tag_id));
ALTER TABLE fl_tags REPLICA IDENTITY FULL;
ALTER TABLE fl_customer_tags REPLICA IDENTITY FULL;
INSERT INTO fl_tags SELECT g, 'tag' || g FROM generate_series(1, 30) g;
INSERT INTO fl_customer_tags SELECT 1 + g % 400, 1 + g % 29 FROM generate_series(1, 800) g
  ON CONFLICT DO NOTHING;
INSERT INTO fl_customers (id, name, bio)
  SELECT g, 'c' || g, (SELECT string_agg(md5(k::text || g::text), '') FROM generate_series(1, 200) k)
  FROM generate_series(1, 400) g;
INSERT INTO fl_orders SELECT g, 1 + g % 400, g * 1.25 FROM generate_series(1, 1200) g;
INSERT INTO fl_lines SELECT g, 1 + g % 1200, 'sku' || g, g % 7 FROM generate_series(1, 3000) g;
EOF

# config FILE [EXTRA CONNECTOR KEYS]
config() {
    cat >"$1" <<EOF
elasticsearch:
  host: $ES_URL
  max_wait_duration: 10
  initial_backoff_duration: 0.2
  retry_interval: 0.2
connectors:
  - connector_id: fl
    service_type: postgresql
    index_name: $IX-customers
${2:-}
    configuration:
      host: $PGHOST
      port: $PGPORT
      username: $PGUSER
      password: \${PGPASSWORD}
      database: $PGDATABASE
      tables: [fl_customers]
    sync_rules:
      basic:
        - { field: name, rule: starts_with, value: "zz", policy: exclude, order: 1 }
    mappings:
      fl_customers:
        id: "cust-{{ id }}"
        where: "active"
        deleted_when: "deleted_at IS NOT NULL"
        relations:
          orders:
            table: fl_orders
            on: { customer_id: id }
            order_by: id
            relations:
              lines:
                table: fl_lines
                on: { order_id: id }
                order_by: id
          tags:
            table: fl_tags
            through: { table: fl_customer_tags, on: { customer_id: id } }
            on: { id: tag_id }
            order_by: id
EOF
}
config pg.yml

FPID=
start_follow() { # start_follow NAME: sql2es sync --follow in the background
    "$SQL2ES_BIN" sync -c pg.yml --follow -q >"$1.out" 2>&1 &
    FPID=$!
    E2E_PIDS+=($FPID)
}
slot_lsn() { psql -XAtc "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'sql2es_fl'"; }
# wait_caught_up: the slot confirmed everything written so far (at most 90 s)
wait_caught_up() {
    local target i
    target=$(psql -XAtc "SELECT pg_current_wal_lsn()")
    for i in $(seq 1 450); do
        [ "$(psql -XAtc "SELECT coalesce(confirmed_flush_lsn >= '$target', false) FROM pg_replication_slots WHERE slot_name = 'sql2es_fl'")" = t ] && return 0
        sleep 0.2
    done
    return 1
}
compare() { # compare NAME: the index against a dry run of the final database
    "$SQL2ES_BIN" sync -c pg.yml --dry-run -q -o "$1.ndjson" >"$1.dry.out" 2>&1
    python3 "$COMPARE" "$ES_URL" "$1.ndjson" "$1" --index "$IX-customers"
}

# ---- 1. the initial read from the slot's snapshot, then the stream -------
start_follow f0
for i in $(seq 1 150); do grep -q "following fl\|error" f0.out 2>/dev/null && break; sleep 0.2; done
# -q hides the "following" line: wait for the slot instead
for i in $(seq 1 150); do [ -n "$(slot_lsn)" ] && break; sleep 0.2; done
check "a slot sql2es_fl was created" test -n "$(slot_lsn)"
check "the publication sql2es_fl was created with the five tables" test \
    "$(psql -XAtc "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'sql2es_fl'")" = 5
wait_caught_up
compare initial

# ---- 2. thousands of changes, sql2es SIGKILLed and restarted -------------
python3 "$E2E_DIR/follow_writer.py" 67 2500 >writer.sql
( psql -X -q -v ON_ERROR_STOP=0 -f writer.sql >writer.out 2>writer.err
  psql -X -q -v ON_ERROR_STOP=1 -c "ALTER TABLE fl_customers ADD COLUMN note text DEFAULT 'added'" >>writer.out 2>&1
  python3 "$E2E_DIR/follow_writer.py" 68 500 | psql -X -q -v ON_ERROR_STOP=0 >>writer.out 2>>writer.err
  psql -X -q -v ON_ERROR_STOP=1 >>writer.out 2>&1 <<'EOF'
BEGIN;
TRUNCATE fl_lines;
INSERT INTO fl_lines SELECT g, 1 + g % 1500, 'new' || g, g % 5 FROM generate_series(1, 2500) g;
COMMIT;
EOF
  python3 "$E2E_DIR/follow_writer.py" 69 500 | psql -X -q -v ON_ERROR_STOP=0 >>writer.out 2>>writer.err
) &
WPID=$!
kills=0
RANDOM=67
while kill -0 $WPID 2>/dev/null; do
    sleep "$((RANDOM % 25 / 10)).$((RANDOM % 10))"
    kill -0 $WPID 2>/dev/null || break
    kill -9 "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null
    kills=$((kills + 1))
    start_follow "f$kills"
done
wait $WPID
check "the writer committed (and rolled back) its transactions" test "$(grep -c '^ROLLBACK' writer.sql)" -gt 50
check "sql2es was SIGKILLed at least 4 times while the writer ran ($kills)" test "$kills" -ge 4
check "after the restarts the slot confirms every change (caught up)" wait_caught_up
compare after-kills
es POST "/$IX-customers/_refresh" >/dev/null
check_eq "the column added mid-stream is in every document" \
    "$(es POST "/$IX-customers/_count" '{"query":{"match":{"note":"added"}}}' | jq -r .count)" \
    "$(es GET "/$IX-customers/_count" | jq -r .count)"
check "no item was dead-lettered" test ! -s sql2es-dead-letter.ndjson
check "the follow state file holds the slot and its position" \
    grep -q "^fl	\$follow	2	sql2es_fl	[0-9A-F]*/[0-9A-F]*$" .sql2es-state-follow

# ---- 3. quick changes while running: latency under a second --------------
cid=$(psql -XAtc "SELECT id FROM fl_customers WHERE active AND deleted_at IS NULL AND name NOT LIKE 'zz%' ORDER BY id LIMIT 1")
psql -XAqc "UPDATE fl_customers SET name = 'quick' WHERE id = $cid"
got=
for i in $(seq 1 20); do
    es POST "/$IX-customers/_refresh" >/dev/null
    got=$(es GET "/$IX-customers/_doc/cust-$cid" | jq -r '._source.name // empty')
    [ "$got" = quick ] && break
    sleep 0.1
done
check_eq "a committed change reaches the index within 2 s" "$got" quick
# a far-table row of a many-to-many relation: its parents' documents follow
tid=30
psql -XAqc "INSERT INTO fl_customer_tags VALUES ($cid, $tid) ON CONFLICT DO NOTHING"
psql -XAqc "UPDATE fl_tags SET label = 'far-$tid' WHERE id = $tid"
got=
for i in $(seq 1 20); do
    es POST "/$IX-customers/_refresh" >/dev/null
    got=$(es GET "/$IX-customers/_doc/cust-$cid" | jq -r "._source.tags[]? | select((.id|tostring) == \"$tid\") | .label")
    [ "$got" = "far-$tid" ] && break
    sleep 0.1
done
check_eq "a change of a many-to-many relation's far table reaches its parents' documents" "$got" "far-$tid"

# ---- 4. SIGTERM stops cleanly -------------------------------------------
kill -TERM "$FPID"; wait "$FPID"; rc=$?
check_eq "SIGTERM: exit 143" "$rc" 143
check "SIGTERM: the summary line says TERMINATED" grep -q "follow TERMINATED" "f$kills.out"
compare after-sigterm

# ---- 5. slot hygiene -----------------------------------------------------
"$SQL2ES_BIN" sync -c pg.yml --follow --drop-slot >drop.out 2>&1; rc=$?
check_eq "--drop-slot exits 0" "$rc" 0
check_eq "--drop-slot dropped the slot and the publication" \
    "$(psql -XAtc "SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sql2es_fl') + (SELECT count(*) FROM pg_publication WHERE pubname = 'sql2es_fl')")" 0
# changes while nobody follows: a new slot starts with a full read
psql -XAqc "DELETE FROM fl_customers WHERE id BETWEEN 100 AND 120; UPDATE fl_lines SET qty = 1000 WHERE id < 50"
start_follow fnew
for i in $(seq 1 150); do [ -n "$(slot_lsn)" ] && break; sleep 0.2; done
psql -XAqc "UPDATE fl_customers SET score = 99 WHERE id = 2"
wait_caught_up
compare new-slot
kill -TERM "$FPID"; wait "$FPID"

# ---- 6. the cluster unreachable for a while: changes wait, then flow ----
start_proxy PX
PXPID=${E2E_PIDS[-1]}
PXPORT=${PX##*:}
sed "s|host: $ES_URL|host: $PX|" pg.yml >px.yml
"$SQL2ES_BIN" sync -c px.yml --follow -q >fpx.out 2>&1 &
FPID=$!; E2E_PIDS+=($FPID)
sleep 2; wait_caught_up
kill -9 "$PXPID"; wait "$PXPID" 2>/dev/null
python3 "$E2E_DIR/follow_writer.py" 70 300 | psql -X -q -v ON_ERROR_STOP=0 >>writer.out 2>>writer.err
sleep 4
python3 "$SQL2ES_ROOT/tests/harness/faultproxy.py" --upstream "$ES_URL" --listen-port "$PXPORT" \
    --log proxy2.log --max-seconds 600 >proxy2.out 2>&1 &
E2E_PIDS+=($!)
wait_caught_up
check "the follow outlived the cluster's outage (still running)" kill -0 "$FPID"
compare after-outage
kill -TERM "$FPID"; wait "$FPID"

# ---- 7. changes are read on while documents are in flight ----------------
# The proxy holds every _bulk while the hold file exists: a second change
# must go out in a second request while the first waits for its answer (the
# stream is not stopped by a request in flight), and the slot must not
# confirm either change before the node answered.
start_proxy PH --hold-file "$E2E_TMP/hold"
sed "s|host: $ES_URL|host: $PH|" pg.yml >ph.yml
"$SQL2ES_BIN" sync -c ph.yml --follow -q >fph.out 2>&1 &
FPID=$!; E2E_PIDS+=($FPID)
sleep 2; wait_caught_up
held() { curl -s "$PH/_faultproxy/stats" | jq -r '.held // 0'; }
read -r c1 c2 < <(psql -XAtF' ' -c "SELECT min(id), max(id) FROM fl_customers WHERE active AND deleted_at IS NULL AND name NOT LIKE 'zz%'")
touch "$E2E_TMP/hold"
# the end of the first change's commit is at or before after1: the slot may
# confirm what came before it (other sessions' transactions, skipped by the
# publication, confirmed as idle positions), never that commit
after1=$(psql -XAqtc "UPDATE fl_customers SET score = 501 WHERE id = $c1; SELECT pg_current_wal_insert_lsn()")
for i in $(seq 1 150); do [ "$(held)" -ge 1 ] && break; sleep 0.1; done
psql -XAqc "UPDATE fl_customers SET score = 502 WHERE id = $c2"
for i in $(seq 1 150); do [ "$(held)" -ge 2 ] && break; sleep 0.1; done
check "a second _bulk request goes out while the first waits for its answer (held: $(held))" \
    test "$(held)" -ge 2
check_eq "the slot confirms nothing the node has not answered" \
    "$(psql -XAtc "SELECT confirmed_flush_lsn < '$after1' FROM pg_replication_slots WHERE slot_name = 'sql2es_fl'")" t
rm -f "$E2E_TMP/hold"
wait_caught_up
es POST "/$IX-customers/_refresh" >/dev/null
check_eq "both changes reach the index once the node answers" \
    "$(es GET "/$IX-customers/_doc/cust-$c1" | jq -r ._source.score) $(es GET "/$IX-customers/_doc/cust-$c2" | jq -r ._source.score)" \
    "501 502"
kill -TERM "$FPID"; wait "$FPID"

# ---- 8. SQLite: --follow polls the incremental cursor --------------------
rm -f lite.db
sqlite3 lite.db <<'EOF'
CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, updated_at TEXT NOT NULL, deleted INTEGER DEFAULT 0);
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 200)
INSERT INTO notes SELECT n, 'note ' || n, '2024-01-01 00:00:00', 0 FROM g;
EOF
cat >lite.yml <<EOF
elasticsearch: { host: $ES_URL, max_wait_duration: 10 }
connectors:
  - connector_id: lite
    service_type: sqlite
    index_name: $IX-sqlite
    follow_interval: 0.2
    configuration: { path: ./lite.db }
    mappings:
      notes:
        incremental: { cursor: [updated_at, id], lag: 3s }
        deleted_when: "deleted = 1"
EOF
"$SQL2ES_BIN" sync -c lite.yml --follow -q >lite.out 2>&1 &
LPID=$!; E2E_PIDS+=($LPID)
sleep 1.5
for i in $(seq 1 30); do
    sqlite3 -cmd ".timeout 5000" lite.db "UPDATE notes SET body = 'edit $i', updated_at = datetime('now') WHERE id = $i;
                     INSERT INTO notes VALUES (1000 + $i, 'new $i', datetime('now'), 0);
                     UPDATE notes SET deleted = 1, updated_at = datetime('now') WHERE id = 100 + $i;"
    sleep 0.05
done
sleep 2
kill -TERM $LPID; wait $LPID; rc=$?
check_eq "sqlite: SIGTERM ends the polling follow with 143" "$rc" 143
"$SQL2ES_BIN" sync -c lite.yml --dry-run --full -q -o lite.ndjson >lite.dry.out 2>&1
python3 "$COMPARE" "$ES_URL" lite.ndjson "sqlite: polled changes equal a dry run of the final file" --index "$IX-sqlite"
"$SQL2ES_BIN" sync -c lite.yml --follow --drop-slot >lite-drop.out 2>&1; rc=$?
check "sqlite: --drop-slot is refused (exit 2): no slot" test "$rc" = 2 -a -n "$(grep 'no slot to drop' lite-drop.out)"
