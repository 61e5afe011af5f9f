#!/usr/bin/env bash
# 62-sync-sqlite.sh - real syncs from a SQLite file into the test OpenSearch
# node: nested documents (one-to-many orders, many-to-one country) compared
# field by field with the rows read by the sqlite3 client, transforms, full
# and incremental runs with soft deletes, a table-limited full sync that must
# not sweep the other tables' documents, and the same syncs under the
# sanitizer build (no leak, no undefined behaviour).
# Fixture: tests/e2e-sync/sqlite-fixture.sql.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 49
need opensearch
E2E_TMP=$SQL2ES_TEST_TMP/e2e-sync-sqlite
rm -rf "$E2E_TMP"; mkdir -p "$E2E_TMP"
. "$SQL2ES_ROOT/tests/e2e-sync/lib.sh"
cd "$E2E_TMP" || exit 1

if [ ! -x "$SQL2ES_BIN" ]; then not_ok "sql2es is built ($SQL2ES_BIN)"; exit 0; fi
if ! sqlite3 shop.db <"$E2E_DIR/sqlite-fixture.sql" >sqlite.log 2>&1; then
    not_ok "fixture loaded"; sed 's/^/#   /' sqlite.log; exit 0
fi
IX=e2e62
es_drop "$IX-customers" "$IX-shared" "$IX-san" "$IX-limit" "$IX-two" "$IX-dl"

# The expected documents, built by SQLite itself (json_object/json_group_array).
CUSTOMERS="sqlite3 shop.db \"SELECT json_object('id', c.id, 'name', c.name, 'score', c.score, 'big', c.big,
  'country_code', c.country_code, 'created', c.created, 'updated_at', c.updated_at, 'deleted', c.deleted,
  'email', lower(trim(c.email)),
  'orders', (SELECT json_group_array(json_object('id', o.id, 'total', o.total, 'status', o.status))
             FROM (SELECT * FROM orders o WHERE o.customer_id = c.id ORDER BY o.id) o),
  'country', (SELECT json_object('code', code, 'name', name) FROM countries WHERE code = c.country_code))
  FROM customers c WHERE c.deleted = 0 AND c.name <> 'banned'\""

config() { # FILE INDEX
    cat >"$1" <<EOF
elasticsearch: { host: $ES_URL, ssl: false, bulk: { chunk_size: 50, max_concurrency: 3 } }
connectors:
  - connector_id: lite
    service_type: sqlite
    index_name: $IX-default
    configuration: { path: ./shop.db, tables: [customers] }
    sync_rules:
      basic:
        - { field: name, rule: equals, value: "banned", policy: exclude, order: 1 }
    mappings:
      customers:
        index: $2
        id: "c-{{ id }}"
        fields:
          name: name
          email: { from: email, transform: [trim, lower], type: keyword }
        relations:
          orders:
            table: orders
            on: { customer_id: id }
            fields: { id: id, total: total, status: status }
            order_by: id
          country:
            table: countries
            on: { code: country_code }
            one: true
        incremental: { cursor: [updated_at, id], lag: 1m }
        deleted_when: "deleted = 1"
        index_settings: { number_of_shards: 1, number_of_replicas: 0, refresh_interval: 2s }
EOF
}
config shop.yml $IX-customers
check "the exclude rule on a plain column is pushed into SQL" \
    bash -c "'$SQL2ES_BIN' plan -c shop.yml | grep -q 'pushed down'"

run_sync full1 -c shop.yml --state-file ./shop.state
check_sync full1 0 "first sync of customers with relations"
check_index "nested documents equal the rows (orders array, country object, transforms)" \
    $IX-customers "$CUSTOMERS" 'c-{id}'
check_eq "mapping: email is keyword" \
    "$(es GET "/$IX-customers/_mapping" | jq -r ".[\"$IX-customers\"].mappings.properties.email.type")" keyword
check_eq "index_settings: the created index has the configured settings" \
    "$(es GET "/$IX-customers/_settings" | jq -r ".[\"$IX-customers\"].settings.index | [.number_of_shards, .number_of_replicas, .refresh_interval] | join(\" \")")" "1 0 2s"

# incremental: parents changed (and a child of one of them), a soft delete, a new customer with orders
sqlite3 shop.db >>sqlite.log 2>&1 <<'EOF'
UPDATE customers SET name = 'changed ' || id, updated_at = '2024-06-01 00:00:00' WHERE id IN (3, 4, 5);
UPDATE orders SET status = 'refunded' WHERE customer_id = 3;
UPDATE customers SET deleted = 1, updated_at = '2024-06-01 00:00:00' WHERE id = 7;
UPDATE customers SET name = 'banned', updated_at = '2024-06-01 00:00:00' WHERE id = 9;
INSERT INTO customers (id, name, email, updated_at) VALUES (301, 'new customer', 'NEW@x.org', '2024-06-01 00:00:00');
INSERT INTO orders VALUES (701, 301, 9.5, 'open'), (702, 301, 10.25, 'paid');
EOF
run_sync inc1 -c shop.yml --state-file ./shop.state
check_sync inc1 0 "incremental run"
# the 6 changed rows, plus the 2 rows within the 1 min lag of the old watermark
check_eq "incremental: rows read 8 (one a leaver of the pushed-down rule), 2 deletes" \
    "$(summary_num 'rows read')/$(summary_num deletes)" "8/2"
check_eq "incremental: the row now excluded by a pushed-down rule -> document deleted" "$(es_doc $IX-customers c-9)" null
check_index "incremental: changes, children and the soft delete reflected" $IX-customers "$CUSTOMERS" 'c-{id}'

# a hard delete is only seen by a full sync
sqlite3 shop.db "DELETE FROM customers WHERE id IN (1, 2)" >>sqlite.log 2>&1
run_sync full2 -c shop.yml --state-file ./shop.state --full
check_sync full2 0 "--full run"
check_index "--full: hard-deleted customers swept" $IX-customers "$CUSTOMERS" 'c-{id}'

# two tables into one index; a full sync of one table must not sweep the other's documents
cat >shared.yml <<EOF
elasticsearch: { host: $ES_URL, ssl: false }
connectors:
  - connector_id: lite-shared
    service_type: sqlite
    index_name: $IX-shared
    configuration: { path: ./shop.db, tables: [countries, orders] }
    mappings:
      countries: { id: "country-{{ code }}" }
      orders: { id: "order-{{ id }}" }
EOF
run_sync shared1 -c shared.yml
check_sync shared1 0 "two tables into one index"
check_eq "shared index: the second table's fields have the plan's types (orders.total double)" \
    "$(es GET "/$IX-shared/_mapping" | jq -r '.[].mappings.properties.total.type')" double
check_eq "shared index: countries + orders" "$(es_count $IX-shared)" \
    "$(( $(sqlite3 shop.db 'SELECT count(*) FROM countries') + $(sqlite3 shop.db 'SELECT count(*) FROM orders') ))"
sqlite3 shop.db "DELETE FROM countries WHERE code = 'US'" >>sqlite.log 2>&1
run_sync shared2 -c shared.yml --table countries --full
check_sync shared2 0 "--table countries --full"
check_eq "--table countries: the orders' documents are kept" \
    "$(es POST "/$IX-shared/_count" '{"query":{"exists":{"field":"customer_id"}}}' | jq -r .count)" \
    "$(sqlite3 shop.db 'SELECT count(*) FROM orders')"
check "--table countries: a warning says why nothing was swept" grep -q "may also hold documents of table 'orders'" shared2.out
run_sync shared3 -c shared.yml --full
check_sync shared3 0 "full sync of both tables"
check_eq "full sync: the deleted country swept, nothing else" \
    "$(es_doc $IX-shared country-US)/$(sed -n 's/.*unseen deleted \([0-9]*\).*/\1/p' <<<"$SYNC_SUMMARY")" "null/1"

# two connectors: the first fails, the second still syncs and sweeps; exit 1
es_drop $IX-two
cat >two.yml <<EOF
elasticsearch: { host: $ES_URL, ssl: false }
connectors:
  - connector_id: broken
    service_type: sqlite
    index_name: $IX-broken
    configuration: { path: ./shop.db, tables: [no_such_table] }
  - connector_id: fine
    service_type: sqlite
    index_name: $IX-two
    configuration: { path: ./shop.db, tables: [countries] }
EOF
run_sync two1 -c two.yml
check_sync two1 1 "two connectors, the first failing"
check "the failing connector is named" grep -q "broken: table 'no_such_table'" two1.out
sqlite3 shop.db "INSERT INTO countries VALUES ('DE', 'Germany')" >>sqlite.log 2>&1
run_sync two2 -c two.yml
sqlite3 shop.db "DELETE FROM countries WHERE code = 'DE'" >>sqlite.log 2>&1
run_sync two3 -c two.yml
check_eq "the second connector swept its deleted row despite the first one's failure" \
    "$(es_count $IX-two)/$(sed -n 's/.*unseen deleted \([0-9]*\).*/\1/p' <<<"$SYNC_SUMMARY")" \
    "$(sqlite3 shop.db 'SELECT count(*) FROM countries')/1"

# two connectors writing into one index: neither sweep may delete the other's documents
es_drop $IX-cshared
cat >cshared.yml <<EOF
elasticsearch: { host: $ES_URL, ssl: false }
connectors:
  - connector_id: lite-countries
    service_type: sqlite
    index_name: $IX-cshared
    configuration: { path: ./shop.db, tables: [countries] }
    mappings: { countries: { id: "country-{{ code }}" } }
  - connector_id: lite-orders
    service_type: sqlite
    configuration: { path: ./shop.db, tables: [orders] }
    mappings: { orders: { index: $IX-cshared, id: "order-{{ id }}" } }
EOF
run_sync cshared1 -c cshared.yml --full
check_sync cshared1 0 "two connectors into one index"
both=$(( $(sqlite3 shop.db 'SELECT count(*) FROM countries') + $(sqlite3 shop.db 'SELECT count(*) FROM orders') ))
check_eq "shared by two connectors: both connectors' documents are there after a full sync" \
    "$(es_count $IX-cshared)" "$both"
check "a warning names the other connector" grep -q "may also hold documents of connector 'lite-orders'" cshared1.out
run_sync cshared2 -c cshared.yml --full --connector lite-countries
check_sync cshared2 0 "--connector lite-countries --full"
check_eq "... keeps the other connector's documents" "$(es_count $IX-cshared)" "$both"

# --limit on an incremental table: the watermark must not move past unread rows
es_drop $IX-limit
config limit.yml $IX-limit
run_sync limit1 -c limit.yml --state-file ./limit.state --limit 5
check_sync limit1 0 "incremental run with --limit 5"
check "--limit: no watermark saved" test ! -s limit.state
run_sync limit2 -c limit.yml --state-file ./limit.state
check_index "--limit: the next incremental run reads the rest" $IX-limit "$CUSTOMERS" 'c-{id}'

# a regex rule that hits PCRE2's match limit decides nothing: the row is an
# error (itemised, exit 1), neither indexed nor dropped, and a full sync does
# not delete its document (it could not be judged)
es_drop $IX-re
sqlite3 shop.db >>sqlite.log 2>&1 <<'EOF'
CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO notes VALUES (1, 'plain'), (2, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!'), (3, 'aaaa');
EOF
regex_config() { # FILE [RULES]
    cat >"$1" <<EOF
elasticsearch: { host: $ES_URL, ssl: false }
connectors:
  - connector_id: lite-re
    service_type: sqlite
    index_name: $IX-re
    configuration: { path: ./shop.db, tables: [notes] }
    sync_rules: { basic: [ $2 ] }
    mappings: { notes: { id: "n-{{ id }}" } }
EOF
}
regex_config re0.yml ""
run_sync re0 -c re0.yml --full
check_sync re0 0 "notes indexed without rules"
regex_config re1.yml '{ field: body, rule: regex, value: "(a|aa)+$", policy: exclude, order: 1 }'
run_sync re1 -c re1.yml --full
check_sync re1 1 "exclude regex hitting the match limit: the run fails"
check "... the error names table, row and rule" \
    grep -q "table 'notes' > row 'n-2': rule .*could not be evaluated: match limit exceeded" re1.out
check_eq "... judged rows as before (3 excluded), the unjudged row's document kept by the sweep" \
    "$(es_doc $IX-re n-1 | jq -r .body)/$(es_doc $IX-re n-3)/$(es_doc $IX-re n-2 | jq -r .id)/$(summary_num errors)" \
    "plain/null/2/1"
regex_config re2.yml '{ field: body, rule: regex, value: "(a|aa)+$", policy: include, order: 1 }, { field: body, rule: regex, value: ".", policy: exclude, order: 2 }'
run_sync re2 -c re2.yml --full
check_sync re2 1 "include regex hitting the match limit: the run fails"
check_eq "... the unjudged row is not dropped (its document stays), others judged" \
    "$(es_doc $IX-re n-1)/$(es_doc $IX-re n-3 | jq -r .body)/$(es_doc $IX-re n-2 | jq -r .id)" "null/aaaa/2"

# SQLite's own date forms in DATE/DATETIME/TIMESTAMP columns: normalised to
# ISO-8601, values that are no date nulled with a warning; the node accepts
# every document, with a derived `date` mapping and with no mappings at all
es_drop $IX-dates $IX-dates-compat
sqlite3 shop.db >>sqlite.log 2>&1 <<'EOF'
CREATE TABLE events (id INTEGER PRIMARY KEY, at DATETIME, day DATE, ts TIMESTAMP, flag BOOLEAN, qty INTEGER);
INSERT INTO events VALUES
 (1, '2021-01-01 00:00:00', '2021-01-01', '2021-01-01 10:20:30.123456', 1, 5),
 (2, datetime('now'), date('now'), strftime('%Y-%m-%d %H:%M:%f', 'now'), 0, '6'),
 (3, '2021-06-30T10:00:00+05:30', '2021-06-30', '2021-06-30 10:00', 1, 7),
 (4, 1609459200, 2459215.5, julianday('2021-03-04 05:06:07.891'), 0, 8),
 (5, 'not a date', '2021-02-30', 'yesterday', 2, 'many'),
 (6, NULL, NULL, NULL, NULL, NULL);
EOF
cat >dates.yml <<EOF
elasticsearch: { host: $ES_URL, ssl: false }
connectors:
  - connector_id: lite-dates
    service_type: sqlite
    index_name: $IX-dates
    configuration: { path: ./shop.db, tables: [events] }
    mappings: { events: { id: "e-{{ id }}" } }
  - connector_id: lite-dates-compat
    service_type: sqlite
    index_name: $IX-dates-compat
    configuration: { path: ./shop.db, tables: [events] }
EOF
run_sync dates1 -c dates.yml
check_sync dates1 0 "SQLite date forms: every document accepted by the node"
check_eq "... 6 + 6 documents, none dead-lettered" \
    "$(es_count $IX-dates)/$(es_count $IX-dates-compat)/$(sed -n 's/.*dead-lettered \([0-9]*\).*/\1/p' <<<"$SYNC_SUMMARY")" "6/6/0"
check_eq "... mapped as date (derived from the declared types)" \
    "$(es GET "/$IX-dates/_mapping" | jq -r "[.[\"$IX-dates\"].mappings.properties | .at.type, .day.type, .ts.type] | join(\" \")")" \
    "date date date"
check_eq "... values as ISO-8601 (space form, offset, epoch INTEGER, Julian day REAL)" \
    "$(es_doc $IX-dates e-1 | jq -r .at)/$(es_doc $IX-dates e-3 | jq -r .at)/$(es_doc $IX-dates e-4 | jq -r '.at + " " + .day + " " + .ts')" \
    "2021-01-01T00:00:00Z/2021-06-30T10:00:00+05:30/2021-01-01T00:00:00Z 2021-01-01T00:00:00Z 2021-03-04T05:06:07.891Z"
check_eq "... values that are no date (and a BOOLEAN 2, an INTEGER 'many') are null" \
    "$(es_doc $IX-dates e-5 | jq -c '[.at, .day, .ts, .flag, .qty]')" "[null,null,null,null,null]"
check "... with a warning naming the column and the value" grep -q "column 'at' (DATETIME, mapped as date): 'not a date' is not a date SQLite knows" dates1.out
check_eq "... the range query on the date field finds them" \
    "$(es POST "/$IX-dates/_count" '{"query":{"range":{"at":{"gte":"2021-01-01","lt":"2021-07-01"}}}}' | jq -r .count)" 3

# the default dead-letter file (schemas/language.yaml) is beside the config
# file, not in the working directory, and private (0600)
es_drop $IX-dl
mkdir -p sub
cat >sub/dl.yml <<EOF
elasticsearch: { host: $ES_URL, ssl: false }
connectors:
  - connector_id: lite-dl
    service_type: sqlite
    index_name: $IX-dl
    configuration: { path: ../shop.db, tables: [countries] }
    mappings: { countries: { id: "k-{{ code }}", fields: { n: { from: name, type: long } } } }
EOF
rm -f sql2es-dead-letter.ndjson sub/sql2es-dead-letter.ndjson
run_sync dl1 -c sub/dl.yml
check_sync dl1 1 "documents the node refuses -> failure"
NCOUNTRIES=$(sqlite3 shop.db "SELECT count(*) FROM countries")
check_eq "... every refused document in sub/sql2es-dead-letter.ndjson (0600), none in the working directory" \
    "$(wc -l <sub/sql2es-dead-letter.ndjson 2>/dev/null)/$(stat -c %a sub/sql2es-dead-letter.ndjson 2>/dev/null)/$(test -e sql2es-dead-letter.ndjson && echo here)" \
    "$NCOUNTRIES/600/"

# the same syncs under AddressSanitizer/UBSan
SAN=$SQL2ES_SAN_BIN
if [ -x "$SAN" ]; then
    config san.yml $IX-san
    for mode in --full --incremental --incremental; do
        SQL2ES_BIN=$SAN run_sync "san$mode" -c san.yml --state-file ./san.state $mode
        check_sync "san$mode" 0 "sanitizer build: sync $mode (no leak, no UB)"
        sqlite3 shop.db "UPDATE customers SET updated_at = datetime('2024-07-01', '+' || id || ' seconds') WHERE id % 50 = 0"
    done
    check_index "sanitizer build: index equals the rows" $IX-san "$CUSTOMERS" 'c-{id}'
else
    not_ok "sanitizer build present ($SAN; make SANITIZE=address,undefined)"
fi
