#!/usr/bin/env bash
# 50-dryrun-postgresql.sh - `sql2es sync --dry-run` end to end against the real
# PostgreSQL test server: the type matrix in connectors-compatible default
# documents, mapped tables (fields, templates, transforms, nested fields,
# relations, globs, columns), basic and advanced sync rules, where and
# deleted_when, --table, --limit, --connector. Fixtures and expected documents: tests/e2e/postgresql/; the
# checker: tests/e2e/check_ndjson.py. Runs with $SQL2ES_BIN and, when built,
# once more with the sanitizer binary $SQL2ES_SAN_BIN.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 30
need postgresql
export PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE
. "$SQL2ES_ROOT/tests/e2e/dryrun-lib.sh"
FIX=$E2E/postgresql

if ! "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -f "$FIX/types.sql" >"$W/setup.log" 2>&1 ||
   ! "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -f "$FIX/shop.sql" >>"$W/setup.log" 2>&1; then
    not_ok "postgresql fixtures load"; sed 's/^/# /' "$W/setup.log"; exit 1
fi
ok "postgresql fixtures load"

for bin in "${bins[@]}"; do
    b=$(bin_tag "$bin")

    run "$b-compat" "$bin" "$FIX/compat.yml"
    expect "$b: type matrix, connectors-compatible documents (no mappings), MD5 of ids over 512 bytes" "$b-compat" \
        "$FIX/compat.expected.ndjson" --summary tables=3 --summary rows_read=8 --summary documents=8 \
        --summary warnings=4 --summary errors=0 --summary tables_skipped=1
    if grep -q "nopk.*skipped" "$W/$b-compat.err" && ! grep -q "^1 error" "$W/$b-compat.err"; then
        ok "$b: table without primary key skipped with a warning, not an error"
    else
        not_ok "$b: table without primary key skipped with a warning, not an error"; sed 's/^/# /' "$W/$b-compat.err"
    fi
    no_secret "$b-compat" "$PGPASSWORD"

    run "$b-mapped" "$bin" "$FIX/mapped.yml"
    expect "$b: mapped tables: fields, templates, transforms, nested, relations, globs, columns" \
        "$b-mapped" "$FIX/mapped.expected.ndjson" --summary tables=5 --summary rows_read=13 \
        --summary documents=13 --summary errors=0

    run "$b-rules" "$bin" "$FIX/rules.yml"
    expect "$b: basic sync rules" "$b-rules" "$FIX/rules.expected.ndjson" \
        --summary rows_read=9 --summary documents=4 --summary filtered=5

    run "$b-adv" "$bin" "$FIX/advanced.yml"
    expect "$b: advanced rules (custom query, id_columns)" "$b-adv" "$FIX/advanced.expected.ndjson" \
        --summary tables=1 --summary documents=2
done

bin=$SQL2ES_BIN
# advanced rule without id_columns: keyed by the primary keys of its tables in
# the order of `tables` (the Elastic PostgreSQL connector), so the documents and
# _ids equal those of the same rule with id_columns [order_id, customer_id]
adv_cfg() { # FILE TABLES QUERY ID_COLUMNS SCHEMA
    cat >"$1" <<EOF
connectors:
  - connector_id: pgadvkeys
    service_type: postgresql
    index_name: adv-keys
    configuration:
      host: \${PGHOST}
      port: \${PGPORT}
      username: \${PGUSER}
      password: \${PGPASSWORD}
      database: \${PGDATABASE}
      schema: $5
      tables: "*"
    sync_rules:
      advanced:
        - tables: $2
          query: "$3"
EOF
    [ -z "$4" ] || echo "          id_columns: $4" >>"$1"
}
strip_ts() { jq -c 'del(._timestamp)' "$1"; }
ADVQ="SELECT o.order_id, c.customer_id, c.last_name FROM shop.orders o JOIN shop.customers c ON c.customer_id = o.customer_id WHERE o.total > 20"
adv_cfg "$W/advk-none.yml" "[orders, customers]" "$ADVQ" "" shop
adv_cfg "$W/advk-ids.yml" "[orders, customers]" "$ADVQ" "[order_id, customer_id]" shop
run advk-none "$bin" "$W/advk-none.yml"; rc_none=$RC
run advk-ids "$bin" "$W/advk-ids.yml"; rc_ids=$RC
check_eq "advanced rule without id_columns: the same documents and _ids as id_columns [order_id, customer_id]" \
    "$rc_none $rc_ids $(strip_ts "$W/advk-none.ndjson" | md5sum)" "0 0 $(strip_ts "$W/advk-ids.ndjson" | md5sum)"
check_eq "advanced rule without id_columns: _ids join the keys of orders then customers" \
    "$(jq -r 'select(.index) | .index._id' "$W/advk-none.ndjson" | sort | tr '\n' ' ')" \
    "${PGDATABASE}_shop_orders_customers_11_1 ${PGDATABASE}_shop_orders_customers_13_1 "
adv_cfg "$W/advk-miss.yml" "[orders, customers]" "SELECT o.order_id, o.total FROM shop.orders o" "" shop
run advk-miss "$bin" "$W/advk-miss.yml"
check "advanced rule without id_columns, a key column not selected: an error naming the rule, its tables and the column" \
    bash -c '[ "$1" -ne 0 ] && grep -q "advanced rule on .orders_customers.: no id_columns, and the primary key columns of its tables (orders, customers) are not among the query.s columns: customer_id$" "$2"' _ "$RC" "$W/advk-miss.err"
adv_cfg "$W/advk-nopk.yml" "[nopk]" "SELECT x FROM e2e.nopk" "" e2e
run advk-nopk "$bin" "$W/advk-nopk.yml"
check "advanced rule without id_columns on a table without a primary key: an error" \
    bash -c '[ "$1" -ne 0 ] && grep -q "advanced rule on .nopk.: no id_columns, and none of its tables (nopk) has a primary key" "$2"' _ "$RC" "$W/advk-nopk.err"

# where + deleted_when (a NULL predicate is not a delete) + columns include + omit_nulls
run soft "$bin" "$FIX/softdelete.yml" --full
expect "where, deleted_when (delete actions), columns include" soft "$FIX/softdelete.expected.ndjson" \
    --summary rows_read=7 --summary documents=4 --summary deletes=3

# --table: only that table (relations still read their child tables)
run table "$bin" "$FIX/mapped.yml" --table customers
pick "$FIX/mapped.expected.ndjson" "$W/want-table.ndjson" cust-1 cust-2 cust-3
expect "--table customers" table "$W/want-table.ndjson" --summary tables=1 --summary rows_read=3

# --limit: at most N rows per table, in key order
run limit "$bin" "$FIX/mapped.yml" --limit 1
pick "$FIX/mapped.expected.ndjson" "$W/want-limit.ndjson" sql2es_test_shop_countries_DE cust-1 \
    invoice_2023-1 invoice_2024-1 sql2es_test_shop_orders_10
expect "--limit 1" limit "$W/want-limit.ndjson" --summary tables=5 --summary rows_read=5

# --connector: two connectors in one file, only one runs; an unknown one is a usage error
cat >"$W/two.yml" <<EOF
connectors:
  - connector_id: first
    service_type: postgresql
    index_name: people
    configuration:
      host: \${PGHOST}
      port: \${PGPORT}
      username: \${PGUSER}
      password: \${PGPASSWORD}
      database: \${PGDATABASE}
      schema: shop
      tables: people
    mappings:
      people:
        id: "p{{ id }}"
  - connector_id: second
    service_type: postgresql
    index_name: other
    configuration:
      host: \${PGHOST}
      port: \${PGPORT}
      username: \${PGUSER}
      password: \${PGPASSWORD}
      database: \${PGDATABASE}
      schema: shop
      tables: countries
EOF
run conn "$bin" "$W/two.yml" --connector second
# the second connector has no mappings: connectors-compatible documents
for c in DE:Germany FR:France JP:Japan; do
    id=sql2es_test_shop_countries_${c%%:*}
    printf '{"index":{"_index":"other","_id":"%s"}}\n' "$id"
    printf '{"shop_countries_code":"%s","shop_countries_name":"%s","database":"sql2es_test","table":"countries","schema":"shop","id":"%s","_timestamp":"<timestamp>"}\n' "${c%%:*}" "${c#*:}" "$id"
done >"$W/want-conn.ndjson"
expect "--connector second" conn "$W/want-conn.ndjson" --summary tables=1 --summary rows_read=3
run conn2 "$bin" "$W/two.yml"
check_eq "both connectors without --connector: 12 documents" \
    "$(grep -c '^{"index"' "$W/conn2.ndjson")" 12
run conn3 "$bin" "$W/two.yml" --connector nope
check_eq "--connector nope: exit 2" "$RC" 2
if grep -q "nope" "$W/conn3.err"; then ok "--connector nope: names the connector"; else not_ok "--connector nope: names the connector"; sed 's/^/# /' "$W/conn3.err"; fi

# stdout when -o is absent; the NDJSON on stdout equals the file output
"$bin" sync --dry-run -q -c "$FIX/rules.yml" >"$W/stdout.ndjson" 2>"$W/stdout.err"
check_eq "-o absent: the body goes to stdout (exit 0)" "$?:$(cmp -s "$W/stdout.ndjson" "$W/$(bin_tag "${bins[0]}")-rules.ndjson" && echo same)" "0:same"
check_eq "-q: no progress, only the summary" \
    "$(wc -l <"$W/stdout.err")/$(grep -c '^sql2es: dry run done: ' "$W/stdout.err")" "1/1"

# columns whose names differ only by case become one lower-cased field in the
# connectors' documents: refused at bind time with both names, not sent as
# documents with a duplicate key (which Elasticsearch would reject row by row)
"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 >>"$W/setup.log" 2>&1 <<'SQL'
DROP TABLE IF EXISTS public.casey;
CREATE TABLE public.casey (id int PRIMARY KEY, "Name" text, name text);
INSERT INTO public.casey VALUES (1, 'A', 'a');
SQL
cat >"$W/casey.yml" <<EOF
connectors:
  - connector_id: casey
    service_type: postgresql
    configuration: { host: $PGHOST, port: $PGPORT, username: $PGUSER, password: "\${PGPASSWORD}", database: $PGDATABASE, tables: [casey] }
EOF
run casey "$bin" "$W/casey.yml"
check_eq "case-colliding columns: the sync fails (exit 1)" "$RC" 1
check "... naming both columns and the field" \
    grep -q "columns 'Name' and 'name' both become field 'public_casey_name'" "$W/casey.err"
check_eq "... and writes no document" "$(grep -c '^{"index"' "$W/casey.ndjson" 2>/dev/null || true)" 0

# many-to-many through a link table and {{ album.title }} from a many-to-one
# object (tests/e2e/through.sql in schema music; the same documents from every database)
if { echo "DROP SCHEMA IF EXISTS music CASCADE; CREATE SCHEMA music; SET search_path = music;";
     cat "$E2E/through.sql"; } | "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 >>"$W/setup.log" 2>&1; then
    run through "$bin" "$FIX/through.yml"
    expect "through: playlists of a track, tracks of a playlist (link order), template into album" \
        through "$E2E/through.expected.ndjson" --summary tables=2 --summary rows_read=9 \
        --summary documents=9 --summary errors=0
else
    not_ok "through fixture"; sed 's/^/# /' "$W/setup.log" | tail -5
fi
