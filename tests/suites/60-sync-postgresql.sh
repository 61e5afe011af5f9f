#!/usr/bin/env bash
# 60-sync-postgresql.sh - real syncs (`sql2es sync`, not dry runs) from the
# test PostgreSQL server into the test OpenSearch node: every field of every
# document compared with the source rows (tests/e2e-sync/check_index.py),
# idempotent re-runs, updates, hard deletes (the full-sync sweep), soft deletes
# (deleted_when), filter changes, incremental runs with the watermark saved
# only after acknowledgement, index creation with the plan's mapping, mapping
# conflicts and the dead-letter file. Fixture: tests/e2e-sync/pg-fixture.sql.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 76
need opensearch
need postgresql
E2E_TMP=$SQL2ES_TEST_TMP/e2e-sync-pg
rm -rf "$E2E_TMP"; mkdir -p "$E2E_TMP"
. "$SQL2ES_ROOT/tests/e2e-sync/lib.sh"
cd "$E2E_TMP" || exit 1

if [ ! -x "$SQL2ES_BIN" ]; then not_ok "sql2es is built ($SQL2ES_BIN)"; exit 0; fi
if ! psql -q -v ON_ERROR_STOP=1 -f "$E2E_DIR/pg-fixture.sql" >psql.log 2>&1; then
    not_ok "fixture loaded"; sed 's/^/#   /' psql.log; exit 0
fi
IX=e2e60
es_drop "$IX-items" "$IX-deadinc" "$IX-sweep" "$IX-nullcur" "$IX-adv" "$IX-plain" "$IX-events" "$IX-prices" "$IX-dead" "$IX-conflict"
rows() { echo "psql -XAtc \"SELECT row_to_json(t) FROM ($1) t\""; }

# config FILE TABLES MAPPINGS [RULES] [ES_EXTRA]: one PostgreSQL connector
config() {
    cat >"$1" <<EOF
elasticsearch:
  host: ${5:-$ES_URL}
  ssl: false
  max_wait_duration: 5
  initial_backoff_duration: 0.2
  max_retries: 2
  retry_interval: 0.2
  bulk:
    dead_letter_file: ./dead.ndjson
connectors:
  - connector_id: pg
    service_type: postgresql
    index_name: $IX-default
    configuration:
      host: $PGHOST
      port: $PGPORT
      username: $PGUSER
      password: \${PGPASSWORD}
      database: $PGDATABASE
      tables: [$2]
      fetch_size: 37
    sync_rules:
      basic: [${4:-}]
    mappings:
$3
EOF
}
ITEMS_MAP='      e2e_items:
        index: '$IX'-items
        id: "item-{{ id }}"
        fields:
          code: { from: code, type: keyword }
        deleted_when: "deleted_at IS NOT NULL"'
ITEMS_ID='item-{id}'

# ---- 1. full sync, every field of every document --------------------------
config items.yml e2e_items "$ITEMS_MAP"
run_sync full1 -c items.yml
check_sync full1 0 "full sync of e2e_items"
check_eq "summary counts 200 rows and 200 acknowledged documents" \
    "$(summary_num 'rows read')/$(summary_num 'documents')/$(sed -n 's/.*acknowledged \([0-9]*\).*/\1/p' <<<"$SYNC_SUMMARY")" \
    "200/200/200"
check_index "full sync: every document equals its row" $IX-items "$(rows 'SELECT * FROM e2e_items')" "$ITEMS_ID"

# index created with the plan's mapping
mapping=$(es GET "/$IX-items/_mapping")
check_eq "mapping: explicit type keyword for code" "$(jq -r ".[\"$IX-items\"].mappings.properties.code.type" <<<"$mapping")" keyword
check_eq "mapping: bigint qty is long" "$(jq -r ".[\"$IX-items\"].mappings.properties.qty.type" <<<"$mapping")" long
check_eq "mapping: timestamptz updated_at is date" "$(jq -r ".[\"$IX-items\"].mappings.properties.updated_at.type" <<<"$mapping")" date

# ---- 2. re-run: idempotent -------------------------------------------------
v1=$(es GET "/$IX-items/_doc/item-1" | jq -r '._version')
run_sync full2 -c items.yml
check_sync full2 0 "re-run of the full sync"
check_index "re-run: same documents, no duplicate" $IX-items "$(rows 'SELECT * FROM e2e_items')" "$ITEMS_ID"
check_eq "re-run: nothing swept" "$(sed -n 's/.*unseen deleted \([0-9]*\).*/\1/p' <<<"$SYNC_SUMMARY")" 0
v2=$(es GET "/$IX-items/_doc/item-1" | jq -r '._version')
check "re-run: documents re-indexed (_version $v1 -> $v2)" test "$v2" -gt "$v1"

# ---- updates, hard deletes, soft deletes -----------------------------------
psql -q -v ON_ERROR_STOP=1 >>psql.log 2>&1 <<'EOF'
UPDATE e2e_items SET name = 'renamed ' || id, qty = -qty, meta = '{"changed": true}' WHERE id IN (3, 50, 99, 150, 199);
DELETE FROM e2e_items WHERE id IN (5, 6, 7);
UPDATE e2e_items SET deleted_at = now() WHERE id IN (11, 12);
INSERT INTO e2e_items (id, name, updated_at) VALUES (1000, 'new one', now());
EOF
run_sync full3 -c items.yml
check_sync full3 0 "full sync after updates and deletes"
check_index "updates, hard deletes and soft deletes reflected" $IX-items \
    "$(rows 'SELECT * FROM e2e_items WHERE deleted_at IS NULL')" "$ITEMS_ID"
check_eq "summary: 2 soft deletes" "$(summary_num deletes)" 2
check_eq "summary: the 3 hard-deleted rows swept (and not the 2 soft-deleted again)" \
    "$(sed -n 's/.*unseen deleted \([0-9]*\).*/\1/p' <<<"$SYNC_SUMMARY")" 3

# ---- filter change: a basic rule added -> excluded documents deleted -------
config items-rule.yml e2e_items "$ITEMS_MAP" \
    '{ field: code, rule: starts_with, value: "X", policy: exclude, order: 1 }'
run_sync rule1 -c items-rule.yml
check_sync rule1 0 "full sync with a new exclude rule"
check_index "filter change: excluded documents deleted" $IX-items \
    "$(rows "SELECT * FROM e2e_items WHERE deleted_at IS NULL AND (code IS NULL OR code NOT LIKE 'X%')")" "$ITEMS_ID"
# and back: the rule removed -> they come back
run_sync rule2 -c items.yml
check_index "rule removed: the documents come back" $IX-items \
    "$(rows 'SELECT * FROM e2e_items WHERE deleted_at IS NULL')" "$ITEMS_ID"

# ---- default documents (no mapping): the Elastic connector's shape ---------
cat >plain.yml <<EOF
elasticsearch: { host: $ES_URL, ssl: false }
connectors:
  - connector_id: pg-plain
    service_type: postgresql
    index_name: $IX-plain
    configuration: { host: $PGHOST, port: $PGPORT, username: $PGUSER, password: "\${PGPASSWORD}", database: $PGDATABASE, tables: e2e_plain }
EOF
run_sync plain -c plain.yml
check_sync plain 0 "full sync of a table without mapping"
check_index "default documents: connector ids, prefixed fields, database/table/schema/id" $IX-plain \
    "$(rows 'SELECT * FROM e2e_plain')" "${PGDATABASE}_public_e2e_plain_{id}" \
    --rename id=public_e2e_plain_id --rename label=public_e2e_plain_label \
    --rename n=public_e2e_plain_n --rename at=public_e2e_plain_at \
    --const "database=\"$PGDATABASE\"" --const 'table="e2e_plain"' --const 'schema="public"' \
    --const "id=${PGDATABASE}_public_e2e_plain_{id}" --ignore _timestamp

# ---- a failed extraction deletes nothing --------------------------------------------
SW_MAP='      e2e_sweep_a: { index: '$IX'-sweep, id: "a-{{ id }}" }
      e2e_sweep_b: { index: '$IX'-sweep, id: "b-{{ id }}" }'
config sweep.yml "e2e_sweep_a, e2e_sweep_b" "$SW_MAP"
run_sync sweep1 -c sweep.yml
check_sync sweep1 0 "two tables into one index"
check_eq "two tables into one index: 600 documents" "$(es_count $IX-sweep)" 600
psql -q -v ON_ERROR_STOP=1 >>psql.log 2>&1 <<'EOF'
DELETE FROM e2e_sweep_a WHERE id IN (1, 2);
DELETE FROM e2e_sweep_b WHERE id IN (1, 2);
EOF
# table b fails in the middle of its scan (division by zero at id 200)
SW_FAIL='      e2e_sweep_a: { index: '$IX'-sweep, id: "a-{{ id }}" }
      e2e_sweep_b: { index: '$IX'-sweep, id: "b-{{ id }}", where: "100 / (id - 200) IS NOT NULL OR id <> 200" }'
config sweep-fail.yml "e2e_sweep_a, e2e_sweep_b" "$SW_FAIL"
run_sync sweep2 -c sweep-fail.yml
check_sync sweep2 1 "a table failing mid-scan -> failure"
check "the failure names the table and the database error" grep -q 'e2e_sweep_b.*division by zero\|division by zero.*e2e_sweep_b' sweep2.out
check_eq "failed extraction: nothing swept (the deleted rows' documents stay until a clean run)" \
    "$(es_count $IX-sweep)/$(sed -n 's/.*unseen deleted \([0-9]*\).*/\1/p' <<<"$SYNC_SUMMARY")" "600/0"
run_sync sweep3 -c sweep.yml
check_sync sweep3 0 "the next clean run"
check_eq "the next clean run sweeps the 4 deleted rows" \
    "$(es_count $IX-sweep)/$(sed -n 's/.*unseen deleted \([0-9]*\).*/\1/p' <<<"$SYNC_SUMMARY")" "596/4"
# table b fails before it is read (its mapping names a column it does not
# have: binding fails, no query runs): table a is read whole, but the index
# is not swept, or b's 298 documents would go
SW_BIND='      e2e_sweep_a: { index: '$IX'-sweep, id: "a-{{ id }}" }
      e2e_sweep_b: { index: '$IX'-sweep, id: "b-{{ id }}", fields: { x: { from: no_such_column } } }'
config sweep-bind.yml "e2e_sweep_a, e2e_sweep_b" "$SW_BIND"
run_sync sweep4 -c sweep-bind.yml
check_sync sweep4 1 "a table failing before it is read -> failure"
check "the failure names the table and the missing column" grep -q 'e2e_sweep_b.*no_such_column' sweep4.out
check_eq "a table failing before it is read: nothing swept" \
    "$(es_count $IX-sweep)/$(sed -n 's/.*unseen deleted \([0-9]*\).*/\1/p' <<<"$SYNC_SUMMARY")" "596/0"

# ---- advanced rules: a custom query replaces the table ---------------------------------
cat >adv.yml <<EOF
elasticsearch: { host: $ES_URL, ssl: false }
connectors:
  - connector_id: pg-adv
    service_type: postgresql
    index_name: $IX-adv
    configuration: { host: $PGHOST, port: $PGPORT, username: $PGUSER, password: "\${PGPASSWORD}", database: $PGDATABASE, tables: "*" }
    sync_rules:
      advanced:
        - { tables: [e2e_plain], query: "SELECT id, label, n FROM e2e_plain WHERE n % 3 = 0", id_columns: [id] }
EOF
ADVROWS=$(rows 'SELECT id, label, n FROM e2e_plain WHERE n % 3 = 0')
ADVOPTS=(--rename id=public_e2e_plain_id --rename label=public_e2e_plain_label --rename n=public_e2e_plain_n
    --const "database=\"$PGDATABASE\"" --const 'table="e2e_plain"' --const 'schema="public"'
    --const "id=${PGDATABASE}_public_e2e_plain_{id}" --ignore _timestamp)
run_sync adv1 -c adv.yml
check_sync adv1 0 "advanced rule: custom query synced"
check_index "advanced rule: the query's rows only" $IX-adv "$ADVROWS" "${PGDATABASE}_public_e2e_plain_{id}" "${ADVOPTS[@]}"
psql -qc "UPDATE e2e_plain SET n = 1 WHERE id = 3" >>psql.log 2>&1
run_sync adv2 -c adv.yml
check_index "advanced rule: a row leaving the query is swept" $IX-adv "$ADVROWS" "${PGDATABASE}_public_e2e_plain_{id}" "${ADVOPTS[@]}"

# ---- 3. incremental ----------------------------------------------------------
EV_MAP='      e2e_events:
        index: '$IX'-events
        id: "ev-{{ id }}"
        incremental: { cursor: [updated_at, id], lag: 10s }
        where: "title <> '"'archived'"'"
        deleted_when: "deleted_at IS NOT NULL"'
config events.yml e2e_events "$EV_MAP" '{ field: title, rule: starts_with, value: "hidden", policy: exclude, order: 1 }'
EVROWS=$(rows "SELECT * FROM e2e_events WHERE deleted_at IS NULL AND title NOT LIKE 'hidden%' AND title <> 'archived'")
run_sync inc1 -c events.yml --state-file ./events.state
check_sync inc1 0 "incremental: first run"
check_eq "incremental: first run reads every row" "$(summary_num 'rows read')" 100
check "incremental: state file written" test -s events.state
check_index "incremental: first run indexed everything" $IX-events "$EVROWS" 'ev-{id}'
psql -q -v ON_ERROR_STOP=1 >>psql.log 2>&1 <<'EOF'
UPDATE e2e_events SET title = 'changed ' || id, updated_at = timestamptz '2024-02-01 00:00:00+00' + id * interval '1 second' WHERE id IN (10, 20, 30);
INSERT INTO e2e_events VALUES (101, 'new 101', timestamptz '2024-02-01 00:01:00+00', NULL), (102, 'new 102', timestamptz '2024-02-01 00:01:00+00', NULL);
EOF
run_sync inc2 -c events.yml --state-file ./events.state
check_sync inc2 0 "incremental: second run"
# 3 updated + 2 inserted + the old watermark row (within the 10 s lag)
check_eq "incremental: second run reads only the changed rows (+1 in the lag window)" "$(summary_num 'rows read')" 6
check_index "incremental: updates and inserts reflected" $IX-events "$EVROWS" 'ev-{id}'
psql -q -v ON_ERROR_STOP=1 >>psql.log 2>&1 <<'EOF'
UPDATE e2e_events SET deleted_at = now(), updated_at = timestamptz '2024-03-01 00:00:00+00' WHERE id = 40;
UPDATE e2e_events SET title = 'hidden now', updated_at = timestamptz '2024-03-01 00:00:00+00' WHERE id = 41;
UPDATE e2e_events SET title = 'archived', updated_at = timestamptz '2024-03-01 00:00:01+00' WHERE id = 42;
EOF
run_sync inc3 -c events.yml --state-file ./events.state
check_sync inc3 0 "incremental: third run"
check_eq "incremental: soft-deleted row 40 -> document deleted" "$(es_doc $IX-events ev-40)" null
check_eq "incremental: row 41 no longer passing the rules -> document deleted" "$(es_doc $IX-events ev-41)" null
check_eq "incremental: row 42 no longer matching \`where\` -> document deleted" "$(es_doc $IX-events ev-42)" null
check_index "incremental: index equals the live rows" $IX-events "$EVROWS" 'ev-{id}'

# the watermark is saved only after acknowledgement: _bulk always failing
start_proxy P503 --fail-503 1.0 --seed 3
cp events.state events.state.before
psql -qc "UPDATE e2e_events SET title = 'late', updated_at = timestamptz '2024-04-01 00:00:00+00' WHERE id = 60" >>psql.log 2>&1
config events-503.yml e2e_events "$EV_MAP" '{ field: title, rule: starts_with, value: "hidden", policy: exclude, order: 1 }' "$P503"
run_sync inc503 -c events-503.yml --state-file ./events.state
check_sync inc503 1 "incremental: every _bulk answered 503 -> failure"
check "incremental: state file unchanged after the failed run" cmp -s events.state events.state.before
config events-down.yml e2e_events "$EV_MAP" '' "http://127.0.0.1:9"
run_sync incdown -c events-down.yml --state-file ./events.state
check_sync incdown 1 "incremental: cluster unreachable -> failure"
check "incremental: state file unchanged with the cluster unreachable" cmp -s events.state events.state.before
run_sync inc4 -c events.yml --state-file ./events.state
check_sync inc4 0 "incremental: next run after the failures"
check_eq "incremental: the change of the failed run is indexed by the next" \
    "$(es_doc $IX-events ev-60 | jq -r .title)" late
check "incremental: state file advanced" bash -c '! cmp -s events.state events.state.before'

# a NULL in the cursor column: the first run still reads every row, the next the changes
config nullcur.yml e2e_nullcur "      e2e_nullcur: { index: $IX-nullcur, id: \"n-{{ id }}\", incremental: { cursor: [updated_at, id] } }"
run_sync nc1 -c nullcur.yml --state-file ./nullcur.state
check_sync nc1 0 "incremental with a NULL cursor value: first run"
check_index "incremental with a NULL cursor value: every row indexed" $IX-nullcur "$(rows 'SELECT * FROM e2e_nullcur')" 'n-{id}'
check "incremental with a NULL cursor value: the watermark is not NULL" bash -c '! grep -qF "\\N" nullcur.state'
psql -qc "UPDATE e2e_nullcur SET v = 'changed', updated_at = '2025-01-01' WHERE id IN (2, 5)" >>psql.log 2>&1
run_sync nc2 -c nullcur.yml --state-file ./nullcur.state
check_eq "incremental with a NULL cursor value: the next run reads the 2 changed rows" "$(summary_num 'rows read')" 2
check_index "incremental with a NULL cursor value: changes indexed" $IX-nullcur "$(rows 'SELECT * FROM e2e_nullcur')" 'n-{id}'

# --full on a table with a cursor: reads everything and sweeps
psql -qc "DELETE FROM e2e_events WHERE id = 1" >>psql.log 2>&1
run_sync incfull -c events.yml --state-file ./events.state --full
check_sync incfull 0 "--full on an incremental table"
check_index "--full: everything read, the deleted row swept" $IX-events "$EVROWS" 'ev-{id}'

# ---- 4. mapping: scaled_float, conflicts -------------------------------------
config prices.yml e2e_prices "      e2e_prices: { index: $IX-prices, id: \"p-{{ id }}\" }"
run_sync prices -c prices.yml
check_sync prices 0 "numeric(12,2) table synced"
check_eq "mapping: numeric(12,2) -> scaled_float with scaling_factor 100" \
    "$(es GET "/$IX-prices/_mapping" | jq -c ".[\"$IX-prices\"].mappings.properties.price | {type, scaling_factor}")" \
    '{"type":"scaled_float","scaling_factor":100}'
check_index "numeric(12,2) values exact" $IX-prices "$(rows 'SELECT * FROM e2e_prices')" 'p-{id}'

es PUT "/$IX-conflict" '{"settings":{"number_of_replicas":0},"mappings":{"properties":{"code":{"type":"long"}}}}' >/dev/null
before=$(es GET "/$IX-conflict/_mapping")
config conflict.yml e2e_conflict "      e2e_conflict: { index: $IX-conflict, fields: { code: { from: code, type: keyword } } }"
run_sync conflict -c conflict.yml
check_sync conflict 1 "mapping conflict -> failure"
check "mapping conflict: the message names the field and both types" \
    grep -q "code.*long.*keyword" conflict.out
check_eq "mapping conflict: the index mapping is unchanged" "$(es GET "/$IX-conflict/_mapping")" "$before"
check_eq "mapping conflict: nothing indexed" "$(es_count $IX-conflict)" 0

# ---- 6. non-retryable item errors -> dead-letter file --------------------------
rm -f dead.ndjson
config dead.yml e2e_dead "      e2e_dead: { index: $IX-dead, id: \"d-{{ id }}\", fields: { note: { from: note, type: long } } }"
run_sync dead -c dead.yml
check_sync dead 1 "documents refused by the node -> failure"
check "dead letter: the summary counts 2 dead-lettered" grep -q 'dead-lettered 2\b' <<<"$SYNC_SUMMARY"
check_eq "dead letter: file has 2 items" "$(wc -l <dead.ndjson 2>/dev/null | tr -d ' ')" 2
check "dead letter: d-7 and d-13 with the mapper's reason" \
    bash -c "grep -q 'd-7' dead.ndjson && grep -q 'd-13' dead.ndjson && grep -qi 'pars' dead.ndjson"
check "dead letter: each line is JSON with the action, the document and the reason" \
    python3 -c '
import json, sys
for line in open("dead.ndjson"):
    o = json.loads(line)
    s = json.dumps(o)
    assert "not a number" in s and ("reason" in s or "error" in s), s
'
check_index "dead letter: the other 38 documents are indexed" $IX-dead \
    "$(rows "SELECT * FROM e2e_dead WHERE note NOT LIKE 'not%'")" 'd-{id}'

# incremental: a dead-lettered document is not acknowledged -> the watermark stays
config deadinc.yml e2e_deadinc "      e2e_deadinc: { index: $IX-deadinc, id: \"di-{{ id }}\", fields: { note: { from: note, type: long } }, incremental: { cursor: [updated_at, id] } }"
run_sync deadinc1 -c deadinc.yml --state-file ./deadinc.state
check_sync deadinc1 1 "incremental with a refused document -> failure"
check "incremental with a refused document: no watermark saved" test ! -s deadinc.state
psql -qc "UPDATE e2e_deadinc SET note = '4' WHERE id = 4" >>psql.log 2>&1
run_sync deadinc2 -c deadinc.yml --state-file ./deadinc.state
check_sync deadinc2 0 "incremental after the data was fixed (cursor unchanged)"
check_index "incremental: the fixed row is indexed by the next run" $IX-deadinc "$(rows 'SELECT * FROM e2e_deadinc')" 'di-{id}'
check "incremental: the watermark is saved once all is acknowledged" test -s deadinc.state
