#!/usr/bin/env bash
# 68-follow-mariadb.sh - `sql2es sync --follow` from MariaDB's row-based
# binlog against the real servers and the real OpenSearch node: customers
# with nested orders and their nested lines and tags (many-to-many), the
# initial read from a consistent snapshot, then a writer making thousands of
# mixed changes (tests/e2e-sync/follow_writer.py --mysql: inserts, updates,
# deletes, multi-row and large transactions, rollbacks, soft deletes, rows
# leaving and entering `where` and a rule, key updates, child rows moved
# between parents, both tables of a many-to-many relation), a new binlog file,
# a column added and a child table truncated mid-stream, while sql2es is SIGKILLed at random
# moments and restarted from its saved binlog position; at the end every
# document equals what `sync --dry-run` writes from the final database and no
# other document exists (tests/harness/compare_dryrun.py). Then latency,
# SIGTERM, --drop-slot (a new initial read), the cluster unreachable for a
# while, and binlog_format=STATEMENT refused with what to set.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 18
need opensearch
need mariadb
E2E_TMP=$SQL2ES_TEST_TMP/follow-mariadb
rm -rf "$E2E_TMP"; mkdir -p "$E2E_TMP"
. "$SQL2ES_ROOT/tests/e2e-sync/lib.sh"
cd "$E2E_TMP" || exit 1
if [ ! -x "$SQL2ES_BIN" ]; then not_ok "sql2es is built ($SQL2ES_BIN)"; exit 0; fi
IX=e2e68
es_drop "$IX-customers"
COMPARE="$SQL2ES_ROOT/tests/harness/compare_dryrun.py"
sql() { MYSQL_PWD=$MYSQL_PASSWORD mariadb --default-character-set=utf8mb4 -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" "$MYSQL_DATABASE" "$@"; }
root() { mariadb --no-defaults -uroot -hlocalhost --socket="$MYSQL_ROOT_SOCKET" "$@"; }

sql >fixture.log 2>&1 <<'EOF' || { not_ok "fixture loaded"; sed 's/^/#   /' fixture.log; }
DROP TABLE IF EXISTS fl_lines, fl_orders, fl_customers, fl_tags, fl_customer_tags;
CREATE TABLE fl_customers (id int PRIMARY KEY, name text, active boolean NOT NULL DEFAULT true,
                           deleted_at datetime(3), score int NOT NULL DEFAULT 0, bio text);
CREATE TABLE fl_orders (id int PRIMARY KEY, customer_id int, total decimal(12,2), KEY (customer_id));
CREATE TABLE fl_lines (id int PRIMARY KEY, order_id int, sku varchar(40), qty int, KEY (order_id));
CREATE TABLE fl_tags (id int PRIMARY KEY, label varchar(40));
CREATE TABLE fl_customer_tags (customer_id int, tag_id int, PRIMARY KEY (customer_id, tag_id));
INSERT INTO fl_tags SELECT seq, CONCAT('tag', seq) FROM seq_1_to_30;
INSERT IGNORE INTO fl_customer_tags SELECT 1 + seq % 400, 1 + seq % 29 FROM seq_1_to_800;
INSERT INTO fl_customers (id, name, bio) SELECT seq, CONCAT('c', seq), REPEAT(MD5(seq), 20) FROM seq_1_to_400;
INSERT INTO fl_orders SELECT seq, 1 + seq % 400, seq * 1.25 FROM seq_1_to_1200;
INSERT INTO fl_lines SELECT seq, 1 + seq % 1200, CONCAT('sku', seq), seq % 7 FROM seq_1_to_3000;
EOF

cat >my.yml <<EOF
elasticsearch:
  host: $ES_URL
  max_wait_duration: 10
  initial_backoff_duration: 0.2
  retry_interval: 0.2
connectors:
  - connector_id: fl
    service_type: mysql
    index_name: $IX-customers
    configuration:
      host: $MYSQL_HOST
      port: $MYSQL_PORT
      username: $MYSQL_USER
      password: \${MYSQL_PASSWORD}
      database: $MYSQL_DATABASE
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

FPID=
start_follow() { # start_follow NAME [CONFIG]: sql2es sync --follow in the background
    "$SQL2ES_BIN" sync -c "${2:-my.yml}" --follow -q >"$1.out" 2>&1 &
    FPID=$!
    E2E_PIDS+=($FPID)
}
# the saved position (file:offset) and the binlog's end, as "file offset"
saved_pos() { sed -n 's/^fl	\$follow	2	[^	]*	\(.*\):\([0-9]*\)$/\1 \2/p' .sql2es-state-follow 2>/dev/null; }
binlog_end() { sql -N -e "SHOW MASTER STATUS" | awk '{print $1, $2}'; }
# wait_caught_up: the saved position reached the binlog's end (at most 90 s)
wait_caught_up() {
    local want got i
    want=$(binlog_end)
    for i in $(seq 1 450); do
        got=$(saved_pos)
        if [ -n "$got" ]; then
            set -- $want $got
            if [[ "$3" > "$1" ]] || { [ "$3" = "$1" ] && [ "$4" -ge "$2" ]; }; then return 0; fi
        fi
        sleep 0.2
    done
    echo "# caught up? saved '$(saved_pos)', binlog end '$want'"
    return 1
}
compare() { # compare NAME: the index against a dry run of the final database
    "$SQL2ES_BIN" sync -c my.yml --dry-run -q -o "$1.ndjson" >"$1.dry.out" 2>&1
    python3 "$COMPARE" "$ES_URL" "$1.ndjson" "$1" --index "$IX-customers"
}

# ---- 1. the initial read from a consistent snapshot, then the stream -----
start_follow f0
for i in $(seq 1 150); do [ -n "$(saved_pos)" ] && break; sleep 0.2; done
check "the follow state holds a binlog position after the initial read" test -n "$(saved_pos)"
wait_caught_up
compare initial

# ---- 2. thousands of changes, sql2es SIGKILLed and restarted -------------
python3 "$E2E_DIR/follow_writer.py" 67 2500 --mysql >writer.sql
( sql --force <writer.sql >writer.out 2>writer.err
  root -e "FLUSH BINARY LOGS" >>writer.out 2>&1   # a new binlog file mid-stream (ROTATE)
  sql -e "ALTER TABLE fl_customers ADD COLUMN note varchar(20) DEFAULT 'added'" >>writer.out 2>&1
  python3 "$E2E_DIR/follow_writer.py" 68 500 --mysql | sql --force >>writer.out 2>>writer.err
  sql >>writer.out 2>&1 <<'EOF'
TRUNCATE fl_lines;
INSERT INTO fl_lines SELECT seq, 1 + seq % 1500, CONCAT('new', seq), seq % 5 FROM seq_1_to_2500;
EOF
  python3 "$E2E_DIR/follow_writer.py" 69 500 --mysql | sql --force >>writer.out 2>>writer.err
) &
WPID=$!
kills=0
RANDOM=68
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
check "after the restarts the saved position reaches the binlog's end (caught up)" wait_caught_up
compare after-kills
es POST "/$IX-customers/_refresh" >/dev/null
check_eq "the column added mid-stream is in every document" \
    "$(es POST "/$IX-customers/_count" '{"query":{"match":{"note":"added"}}}' | jq -r .count)" \
    "$(es GET "/$IX-customers/_count" | jq -r .count)"
check "no item was dead-lettered" test ! -s sql2es-dead-letter.ndjson

# ---- 3. a committed change reaches the index quickly ---------------------
read -r cid lid < <(sql -N -e "SELECT c.id, l.id FROM fl_customers c JOIN fl_orders o ON o.customer_id = c.id
    JOIN fl_lines l ON l.order_id = o.id WHERE c.active AND c.deleted_at IS NULL AND c.name NOT LIKE 'zz%'
    ORDER BY c.id, l.id LIMIT 1")
t0=$(date +%s.%N)
sql -e "UPDATE fl_lines SET sku = 'quick' WHERE id = $lid"
got=
for i in $(seq 1 40); do
    es POST "/$IX-customers/_refresh" >/dev/null
    got=$(es GET "/$IX-customers/_doc/cust-$cid" | jq -r '[._source.orders[]?.lines[]?.sku] | index("quick") // empty')
    [ -n "$got" ] && break
    sleep 0.05
done
echo "# a nested line's change seen in the root document after $(echo "$(date +%s.%N) - $t0" | bc) s"
check "a change of a line reaches its customer's document within 2 s" test -n "$got"

# the server ends the binlog connection (KILL of its dump thread): sql2es
# connects again from the saved position and goes on
dump=$(root -N -e "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'" | head -1)
[ -n "$dump" ] && root -e "KILL $dump"
sql -e "UPDATE fl_lines SET sku = 'after-kill' WHERE id = $lid"
got=
for i in $(seq 1 100); do
    es POST "/$IX-customers/_refresh" >/dev/null
    got=$(es GET "/$IX-customers/_doc/cust-$cid" | jq -r '[._source.orders[]?.lines[]?.sku] | index("after-kill") // empty')
    [ -n "$got" ] && break
    sleep 0.1
done
check "the binlog connection killed by the server: sql2es reconnects and the next change arrives" \
    test -n "$dump" -a -n "$got" -a "$(sql -N -e "SHOW BINARY LOGS" | wc -l)" -ge 2

# ---- 4. SIGTERM stops cleanly -------------------------------------------
kill -TERM "$FPID"; wait "$FPID"; rc=$?
check_eq "SIGTERM: exit 143" "$rc" 143
compare after-sigterm

# ---- 5. --drop-slot forgets the position: a new initial read ------------
"$SQL2ES_BIN" sync -c my.yml --follow --drop-slot >drop.out 2>&1; rc=$?
check "--drop-slot exits 0 and forgets the saved position" test "$rc" = 0 -a -z "$(saved_pos)"
sql -e "DELETE FROM fl_customers WHERE id BETWEEN 100 AND 120; UPDATE fl_lines SET qty = 1000 WHERE id < 50"
start_follow fnew
for i in $(seq 1 150); do [ -n "$(saved_pos)" ] && break; sleep 0.2; done
sql -e "UPDATE fl_customers SET score = 99 WHERE id = 2"
wait_caught_up
compare new-start

# ---- 6. the cluster unreachable for a while: changes wait, then flow ----
kill -TERM "$FPID"; wait "$FPID"
start_proxy PX
PXPID=${E2E_PIDS[-1]}
PXPORT=${PX##*:}
sed "s|host: $ES_URL|host: $PX|" my.yml >px.yml
start_follow fpx px.yml
sleep 2; wait_caught_up
kill -9 "$PXPID"; wait "$PXPID" 2>/dev/null
python3 "$E2E_DIR/follow_writer.py" 70 300 --mysql | sql --force >>writer.out 2>>writer.err
sleep 4
python3 "$SQL2ES_ROOT/tests/harness/faultproxy.py" --upstream "$ES_URL" --listen-port "$PXPORT" \
    --log proxy2.log --max-seconds 600 >proxy2.out 2>&1 &
E2E_PIDS+=($!)
wait_caught_up
check "the follow outlived the cluster's outage (still running)" kill -0 "$FPID"
compare after-outage
kill -TERM "$FPID"; wait "$FPID"

# ---- 7. binlog_format=STATEMENT: refused, saying what to set ------------
root -e "SET GLOBAL binlog_format = 'STATEMENT'"
"$SQL2ES_BIN" sync -c my.yml --follow -q >stmt.out 2>&1; rc=$?
check "binlog_format=STATEMENT: sync --follow exits 1 saying to set ROW" \
    test "$rc" = 1 -a -n "$(grep 'binlog_format is STATEMENT.*needs ROW' stmt.out)"
# --poll: incremental syncs instead of the binlog (what the user may ask for)
sql -e "INSERT INTO fl_customers (id, name) VALUES (999999, 'polled')"
"$SQL2ES_BIN" sync -c my.yml --follow --poll >poll.out 2>&1 &
PPID_=$!; E2E_PIDS+=($PPID_)
got=
for i in $(seq 1 100); do
    es POST "/$IX-customers/_refresh" >/dev/null
    got=$(es GET "/$IX-customers/_doc/cust-999999" | jq -r '._source.name // empty')
    [ "$got" = polled ] && break
    sleep 0.2
done
kill -TERM "$PPID_"; wait "$PPID_"; rc=$?
root -e "SET GLOBAL binlog_format = 'ROW'"
check "--follow --poll follows by incremental syncs whatever binlog_format says (exit 143 on SIGTERM)" \
    test "$got" = polled -a "$rc" = 143 -a -n "$(grep 'by reading its incremental cursors' poll.out)"
