#!/usr/bin/env bash
# 51-dryrun-mariadb.sh - `sql2es sync --dry-run` end to end against the real
# MariaDB test server (service_type mysql): the type matrix in connectors-
# compatible default documents (`_id = {table}_{pk...}`, raw names, `Table`,
# `id`, `_timestamp`), a column named `id`, mapped tables (fields, templates,
# transforms, nested fields, relations, globs, columns) and basic rules.
# Fixtures and expected documents: tests/e2e/mariadb/. Plain binary and, when
# built, the sanitizer binary.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 16
need mariadb
export MYSQL_HOST MYSQL_PORT MYSQL_USER MYSQL_PASSWORD MYSQL_DATABASE
. "$SQL2ES_ROOT/tests/e2e/dryrun-lib.sh"
FIX=$E2E/mariadb
CLIENT=$(command -v mariadb || command -v mysql)
root_sql() { env -u MYSQL_HOST -u MYSQL_PORT -u MYSQL_PWD "$CLIENT" --no-defaults -uroot --socket="$MYSQL_ROOT_SOCKET" "$@"; }

if ! root_sql "$MYSQL_DATABASE" <"$FIX/types.sql" >"$W/setup.log" 2>&1 ||
   ! root_sql "$MYSQL_DATABASE" <"$FIX/shop.sql" >>"$W/setup.log" 2>&1; then
    not_ok "mariadb fixtures load"; sed 's/^/# /' "$W/setup.log"; exit 1
fi
ok "mariadb fixtures load"

for bin in "${bins[@]}"; do
    b=$(bin_tag "$bin")

    run "$b-compat" "$bin" "$FIX/compat.yml"
    expect "$b: type matrix, connectors-compatible documents (no mappings)" "$b-compat" \
        "$FIX/compat.expected.ndjson" --summary tables=2 --summary rows_read=6 --summary documents=6 \
        --summary warnings=0 --summary errors=0 --summary tables_skipped=1
    no_secret "$b-compat" "$MYSQL_PASSWORD"

    run "$b-id" "$bin" "$FIX/compat-id.yml"
    expect "$b: a column named id: one 'id' key (the connectors' id = _id), no duplicate key" \
        "$b-id" "$FIX/compat-id.expected.ndjson"

    run "$b-mapped" "$bin" "$FIX/mapped.yml"
    expect "$b: mapped tables: fields, templates, transforms, nested, relations, globs, columns" \
        "$b-mapped" "$FIX/mapped.expected.ndjson" --summary tables=5 --summary rows_read=13 \
        --summary documents=13 --summary errors=0

    run "$b-rules" "$bin" "$FIX/rules.yml"
    expect "$b: basic sync rules" "$b-rules" "$FIX/rules.expected.ndjson" \
        --summary rows_read=9 --summary documents=4 --summary filtered=5
done

bin=$SQL2ES_BIN
# advanced rule without id_columns: keyed by the primary keys of its tables
# sorted by name (the Elastic MySQL connector), so the documents and _ids equal
# those of the same rule with id_columns [customer_id, order_id]
adv_cfg() { # FILE TABLES QUERY ID_COLUMNS
    cat >"$1" <<EOF
connectors:
  - connector_id: myadvkeys
    service_type: mysql
    index_name: adv-keys
    configuration:
      host: \${MYSQL_HOST}
      port: \${MYSQL_PORT}
      user: \${MYSQL_USER}
      password: \${MYSQL_PASSWORD}
      database: \${MYSQL_DATABASE}
      tables: "*"
    sync_rules:
      advanced:
        - tables: $2
          query: "$3"
EOF
    [ -z "$4" ] || echo "          id_columns: $4" >>"$1"
}
strip_ts() { jq -c 'del(._timestamp)' "$1"; }
ADVQ="SELECT o.order_id, c.customer_id, c.last_name FROM orders o JOIN customers c ON c.customer_id = o.customer_id WHERE o.total > 20"
adv_cfg "$W/advk-none.yml" "[orders, customers]" "$ADVQ" ""
adv_cfg "$W/advk-ids.yml" "[orders, customers]" "$ADVQ" "[customer_id, order_id]"
run advk-none "$bin" "$W/advk-none.yml"; rc_none=$RC
run advk-ids "$bin" "$W/advk-ids.yml"; rc_ids=$RC
check_eq "advanced rule without id_columns: the same documents and _ids as id_columns [customer_id, order_id]" \
    "$rc_none $rc_ids $(strip_ts "$W/advk-none.ndjson" | md5sum)" "0 0 $(strip_ts "$W/advk-ids.ndjson" | md5sum)"
check_eq "advanced rule without id_columns: _ids join the keys sorted by name" \
    "$(jq -r 'select(.index) | .index._id' "$W/advk-none.ndjson" | sort | tr '\n' ' ')" \
    "orders_customers_1_11 orders_customers_1_13 "
adv_cfg "$W/advk-miss.yml" "[orders, customers]" "SELECT o.customer_id, o.total FROM orders o" ""
run advk-miss "$bin" "$W/advk-miss.yml"
check "advanced rule without id_columns, a key column not selected: an error naming the rule, its tables and the column" \
    bash -c '[ "$1" -ne 0 ] && grep -q "advanced rule on .orders_customers.: no id_columns, and the primary key columns of its tables (orders, customers) are not among the query.s columns: order_id$" "$2"' _ "$RC" "$W/advk-miss.err"

run table "$bin" "$FIX/mapped.yml" --table orders --limit 2
pick "$FIX/mapped.expected.ndjson" "$W/want-table.ndjson" orders_10 orders_11
expect "--table orders --limit 2" table "$W/want-table.ndjson" --summary tables=1 --summary rows_read=2

# many-to-many through a link table and {{ album.title }} from a many-to-one
# object (tests/e2e/through.sql; the same documents from every database)
if root_sql "$MYSQL_DATABASE" <"$E2E/through.sql" >>"$W/setup.log" 2>&1; then
    run through "$SQL2ES_BIN" "$FIX/through.yml"
    expect "through: playlists of a track, tracks of a playlist (link order), template into album" \
        through "$E2E/through.expected.ndjson" --summary tables=2 --summary rows_read=9 \
        --summary documents=9 --summary errors=0
else
    not_ok "through fixture"; sed 's/^/# /' "$W/setup.log" | tail -5
fi
