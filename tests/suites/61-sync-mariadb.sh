#!/usr/bin/env bash
# 61-sync-mariadb.sh - real syncs from the test MariaDB server into the test
# OpenSearch node: every field of every document compared with the source rows
# (read with the mariadb client, tests/e2e-sync/mysql_rows.py), re-runs,
# updates, hard and soft deletes, a filter change, the MySQL connector's
# default documents, incremental runs, and the dead-letter file.
# Fixture: tests/e2e-sync/mysql-fixture.sql.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 26
need opensearch
need mariadb
E2E_TMP=$SQL2ES_TEST_TMP/e2e-sync-mariadb
rm -rf "$E2E_TMP"; mkdir -p "$E2E_TMP"
. "$SQL2ES_ROOT/tests/e2e-sync/lib.sh"
cd "$E2E_TMP" || exit 1

if [ ! -x "$SQL2ES_BIN" ]; then not_ok "sql2es is built ($SQL2ES_BIN)"; exit 0; fi
sql() { MYSQL_PWD=$MYSQL_PASSWORD mariadb --default-character-set=utf8mb4 -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" "$MYSQL_DATABASE" "$@"; }
if ! sql <"$E2E_DIR/mysql-fixture.sql" >mysql.log 2>&1; then
    not_ok "fixture loaded"; sed 's/^/#   /' mysql.log; exit 0
fi
IX=e2e61
es_drop "$IX-products" "$IX-plain" "$IX-orders" "$IX-dead"
rows() { local t=$1; shift; printf 'python3 %q %s' "$E2E_DIR/mysql_rows.py" "$t"; [ $# -eq 0 ] || printf ' %q' "$@"; }

# config FILE TABLES MAPPINGS [RULES]: one MySQL connector
config() {
    cat >"$1" <<EOF
elasticsearch:
  host: $ES_URL
  ssl: false
  bulk: { dead_letter_file: ./dead.ndjson, chunk_size: 60 }
connectors:
  - connector_id: my
    service_type: mysql
    index_name: $IX-default
    configuration:
      host: $MYSQL_HOST
      port: $MYSQL_PORT
      user: $MYSQL_USER
      password: \${MYSQL_PASSWORD}
      database: $MYSQL_DATABASE
      tables: [$2]
      fetch_size: 41
    sync_rules:
      basic: [${4:-}]
    mappings:
$3
EOF
}
P_MAP='      e2e_products:
        index: '$IX'-products
        id: "product-{{ id }}"
        fields:
          attrs: { from: attrs, type: object }
        deleted_when: "deleted_at IS NOT NULL"'

# ---- full sync ---------------------------------------------------------------
config products.yml e2e_products "$P_MAP"
run_sync full1 -c products.yml
check_sync full1 0 "full sync of e2e_products"
check_index "full sync: every document equals its row" $IX-products "$(rows e2e_products --json attrs)" 'product-{id}' --float ratio
check_eq "mapping: bigint unsigned is unsigned_long" \
    "$(es GET "/$IX-products/_mapping" | jq -r ".[\"$IX-products\"].mappings.properties.qty.type")" unsigned_long

# ---- re-run, updates, deletes --------------------------------------------------
run_sync full2 -c products.yml
check_sync full2 0 "re-run"
check_index "re-run: idempotent" $IX-products "$(rows e2e_products --json attrs)" 'product-{id}' --float ratio
sql >>mysql.log 2>&1 <<'EOF'
UPDATE e2e_products SET name = CONCAT('renamed ', id), price = -price, attrs = '{"changed": true}' WHERE id IN (2, 40, 77, 149);
DELETE FROM e2e_products WHERE id IN (8, 9, 10, 11);
UPDATE e2e_products SET deleted_at = NOW() WHERE id IN (20, 21, 22);
INSERT INTO e2e_products (id, name) VALUES (500, 'fresh');
EOF
run_sync full3 -c products.yml
check_sync full3 0 "full sync after updates and deletes"
check_index "updates, hard and soft deletes reflected" $IX-products \
    "$(rows e2e_products --json attrs --where 'deleted_at IS NULL')" 'product-{id}' --float ratio
check_eq "summary: 3 soft deletes, 4 unseen deleted" \
    "$(summary_num deletes)/$(sed -n 's/.*unseen deleted \([0-9]*\).*/\1/p' <<<"$SYNC_SUMMARY")" "3/4"

config products-rule.yml e2e_products "$P_MAP" '{ field: code, rule: starts_with, value: "X", policy: exclude, order: 1 }'
run_sync rule -c products-rule.yml
check_sync rule 0 "full sync with a new exclude rule"
check_index "filter change: excluded documents deleted" $IX-products \
    "$(rows e2e_products --json attrs --where "deleted_at IS NULL AND (code IS NULL OR code NOT LIKE 'X%')")" 'product-{id}' --float ratio

# ---- default documents (no mapping): the MySQL connector's shape ---------------
cat >plain.yml <<EOF
elasticsearch: { host: $ES_URL, ssl: false }
connectors:
  - connector_id: my-plain
    service_type: mysql
    index_name: $IX-plain
    configuration: { host: $MYSQL_HOST, port: $MYSQL_PORT, user: $MYSQL_USER, password: "\${MYSQL_PASSWORD}", database: $MYSQL_DATABASE, tables: e2e_plain }
EOF
run_sync plain -c plain.yml
check_sync plain 0 "full sync of a table without mapping"
check_index "default documents: {table}_{pk} ids, raw columns, Table, id" $IX-plain "$(rows e2e_plain)" \
    'e2e_plain_{id}' --exclude id --const 'Table="e2e_plain"' --const 'id=e2e_plain_{id}' \
    --ignore _timestamp

# ---- incremental ------------------------------------------------------------------
O_MAP='      e2e_orders:
        index: '$IX'-orders
        id: "order-{{ id }}"
        incremental: { cursor: [updated_at, id] }
        where: "status <> '"'void'"'"
        deleted_when: "deleted = 1"'
config orders.yml e2e_orders "$O_MAP"
run_sync inc1 -c orders.yml
check_sync inc1 0 "incremental: first run"
check_eq "incremental: first run reads 80 rows" "$(summary_num 'rows read')" 80
check "incremental: default state file next to the config" test -s .sql2es-state
check_index "incremental: first run indexed everything" $IX-orders "$(rows e2e_orders --where "deleted = 0 AND status <> 'void'")" 'order-{id}'
sql >>mysql.log 2>&1 <<'EOF'
UPDATE e2e_orders SET status = 'paid', total = total + 0.01, updated_at = '2024-02-01 00:00:00.000001' WHERE id IN (5, 6, 7);
INSERT INTO e2e_orders VALUES (81, 1.10, 'new', '2024-02-01 00:00:00.000001', 0), (82, 2.20, 'new', '2024-02-01 00:00:00.000001', 0);
EOF
run_sync inc2 -c orders.yml
check_sync inc2 0 "incremental: second run"
check_eq "incremental: second run reads only the 5 changed rows" "$(summary_num 'rows read')" 5
check_index "incremental: changes reflected" $IX-orders "$(rows e2e_orders --where "deleted = 0 AND status <> 'void'")" 'order-{id}'
# same timestamp as the watermark, greater id: the tuple cursor must not lose it
sql -e "INSERT INTO e2e_orders VALUES (90, 9.90, 'same-ts', '2024-02-01 00:00:00.000001', 0); UPDATE e2e_orders SET deleted = 1, updated_at = '2024-03-01' WHERE id = 12; UPDATE e2e_orders SET status = 'void', updated_at = '2024-03-01' WHERE id = 13" >>mysql.log 2>&1
run_sync inc3 -c orders.yml
check_sync inc3 0 "incremental: third run"
check_eq "incremental: a row with the watermark's timestamp and a greater id is read, plus a soft delete and a row leaving \`where\`" \
    "$(summary_num 'rows read')/$(summary_num deletes)" "3/2"
check_eq "incremental: the row no longer matching \`where\` -> document deleted" "$(es_doc $IX-orders order-13)" null
check_index "incremental: index equals the live rows" $IX-orders "$(rows e2e_orders --where "deleted = 0 AND status <> 'void'")" 'order-{id}'

# ---- dead letter -----------------------------------------------------------------------
rm -f dead.ndjson
config dead.yml e2e_dead "      e2e_dead: { index: $IX-dead, id: \"d-{{ id }}\", fields: { note: { from: note, type: long } } }"
run_sync dead -c dead.yml
check_sync dead 1 "a document refused by the node -> failure"
check "dead letter: d-9 with its reason" bash -c "grep -q 'd-9' dead.ndjson && [ \$(wc -l <dead.ndjson) -eq 1 ]"
check_index "dead letter: the other 29 documents are indexed" $IX-dead "$(rows e2e_dead --where "note <> 'nine'")" 'd-{id}'
