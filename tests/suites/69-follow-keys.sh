#!/usr/bin/env bash
# 69-follow-keys.sh - `sql2es sync --follow` on PostgreSQL with root keys that
# are not text: boolean, timestamp, timestamptz, date, numeric, float8,
# bytea, uuid, money and a composite key. A deleted root row (and a row whose
# key changed) must lose exactly the document a scan wrote for it: the
# stream sends the key in PostgreSQL's text form ('t', '2024-01-02
# 03:04:05+00', '\x0001'), the scan gives 'true', ISO 8601, base64. At the end
# the index equals a dry run of the final database. Then an advanced rule's
# custom query: --follow refuses it at start (its changes cannot be mapped to
# the query's rows), with exit 2 and a message naming the rule's table.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 6
need opensearch
need postgresql
E2E_TMP=$SQL2ES_TEST_TMP/follow-keys
rm -rf "$E2E_TMP"; mkdir -p "$E2E_TMP"
. "$SQL2ES_ROOT/tests/e2e-sync/lib.sh"
cd "$E2E_TMP" || exit 1
if [ ! -x "$SQL2ES_BIN" ]; then not_ok "sql2es is built ($SQL2ES_BIN)"; exit 0; fi
IX=e2e69
es_drop "$IX-keys" "$IX-query"
COMPARE="$SQL2ES_ROOT/tests/harness/compare_dryrun.py"
TABLES="fk_bool fk_ts fk_tstz fk_date fk_num fk_float fk_bytea fk_uuid fk_money fk_comp"

psql -q -v ON_ERROR_STOP=1 >fixture.log 2>&1 <<'EOF' || { not_ok "fixture loaded"; sed 's/^/#   /' fixture.log; }
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'sql2es_fk';
DROP PUBLICATION IF EXISTS sql2es_fk;
DROP TABLE IF EXISTS fk_bool, fk_ts, fk_tstz, fk_date, fk_num, fk_float, fk_bytea, fk_uuid,
  fk_money, fk_comp;
CREATE TABLE fk_bool (k_bool boolean PRIMARY KEY, v text);
CREATE TABLE fk_ts (k_ts timestamp PRIMARY KEY, v text);
CREATE TABLE fk_tstz (k_tstz timestamptz PRIMARY KEY, v text);
CREATE TABLE fk_date (k_date date PRIMARY KEY, v text);
CREATE TABLE fk_num (k_num numeric(10,2) PRIMARY KEY, v text);
CREATE TABLE fk_float (k_float float8 PRIMARY KEY, v text);
CREATE TABLE fk_bytea (k_bytea bytea PRIMARY KEY, v text);
CREATE TABLE fk_uuid (k_uuid uuid PRIMARY KEY, v text);
CREATE TABLE fk_money (k_money money PRIMARY KEY, v text);
CREATE TABLE fk_comp (a int, b timestamptz, v text, PRIMARY KEY (a, b));
INSERT INTO fk_bool VALUES (true, 'yes'), (false, 'no');
INSERT INTO fk_ts SELECT timestamp '2024-01-02 03:04:05.25' + g * interval '1 day', 'r' || g FROM generate_series(1, 5) g;
INSERT INTO fk_tstz SELECT timestamptz '2024-01-02 03:04:05+02' + g * interval '1 hour', 'r' || g FROM generate_series(1, 5) g;
INSERT INTO fk_date SELECT date '2024-02-27' + g, 'r' || g FROM generate_series(1, 5) g;
INSERT INTO fk_num SELECT g * 1.5, 'r' || g FROM generate_series(1, 5) g;
INSERT INTO fk_float SELECT g / 3.0, 'r' || g FROM generate_series(1, 5) g;
INSERT INTO fk_bytea SELECT decode(lpad(to_hex(g * 4099), 6, '0'), 'hex'), 'r' || g FROM generate_series(1, 5) g;
INSERT INTO fk_uuid SELECT md5(g::text)::uuid, 'r' || g FROM generate_series(1, 5) g;
INSERT INTO fk_money SELECT (g * 1.25)::numeric::money, 'r' || g FROM generate_series(1, 5) g;
INSERT INTO fk_comp SELECT g % 2, timestamptz '2024-03-01 00:00:00+00' + g * interval '1 minute', 'r' || g FROM generate_series(1, 6) g;
EOF

cat >pg.yml <<EOF
elasticsearch: { host: $ES_URL, max_wait_duration: 10 }
connectors:
  - connector_id: fk
    service_type: postgresql
    index_name: $IX-keys
    configuration:
      host: $PGHOST
      port: $PGPORT
      username: $PGUSER
      password: \${PGPASSWORD}
      database: $PGDATABASE
      tables: [$(echo $TABLES | sed 's/ /, /g')]
    mappings:
      fk_bool: {}
      fk_ts: { id: "ts-{{ k_ts }}" }
      fk_tstz: { id: "tstz-{{ k_tstz }}" }
      fk_date: { id: "d-{{ k_date }}" }
      fk_num: { id: "n-{{ k_num }}" }
      fk_float: { id: "f-{{ k_float }}" }
      fk_bytea: { id: "b-{{ k_bytea }}" }
      fk_uuid: {}
      fk_money: { id: "m-{{ k_money }}" }
      fk_comp: { id: "c-{{ \$pk }}" }
EOF

slot_lsn() { psql -XAtc "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'sql2es_fk'"; }
wait_caught_up() {
    local target i
    target=$(psql -XAtc "SELECT pg_current_wal_lsn()")
    for i in $(seq 1 450); do
        [ "$(psql -XAtc "SELECT coalesce(confirmed_flush_lsn >= '$target', false) FROM pg_replication_slots WHERE slot_name = 'sql2es_fk'")" = t ] && return 0
        sleep 0.2
    done
    return 1
}
"$SQL2ES_BIN" sync -c pg.yml --follow -q >f.out 2>&1 &
FPID=$!; E2E_PIDS+=($FPID)
for i in $(seq 1 150); do [ -n "$(slot_lsn)" ] && break; sleep 0.2; done
check "the follow created its slot" test -n "$(slot_lsn)"
# the slot exists before its initial read ends: wait for the documents
n=
for i in $(seq 1 300); do n=$(es_count "$IX-keys"); [ "$n" = 48 ] && break; sleep 0.2; done
check_eq "the initial read indexed every row" "$n" 48
wait_caught_up

# deletes of every key type, and key updates (the old key's document goes)
psql -X -q -v ON_ERROR_STOP=1 >changes.log 2>&1 <<'EOF'
DELETE FROM fk_bool WHERE k_bool;
UPDATE fk_bool SET k_bool = true WHERE NOT k_bool;
DELETE FROM fk_ts WHERE v IN ('r1', 'r2');
UPDATE fk_ts SET k_ts = k_ts + interval '1 second' WHERE v = 'r3';
DELETE FROM fk_tstz WHERE v IN ('r1', 'r2');
UPDATE fk_tstz SET k_tstz = k_tstz + interval '1 second' WHERE v = 'r3';
DELETE FROM fk_date WHERE v IN ('r1', 'r2');
DELETE FROM fk_num WHERE v IN ('r1', 'r2');
UPDATE fk_num SET k_num = k_num + 0.25 WHERE v = 'r3';
DELETE FROM fk_float WHERE v IN ('r1', 'r2');
DELETE FROM fk_bytea WHERE v IN ('r1', 'r2');
UPDATE fk_bytea SET k_bytea = k_bytea || '\x00'::bytea WHERE v = 'r3';
DELETE FROM fk_uuid WHERE v IN ('r1', 'r2');
DELETE FROM fk_money WHERE v IN ('r1', 'r2');
DELETE FROM fk_comp WHERE v IN ('r1', 'r2');
UPDATE fk_comp SET b = b + interval '1 hour' WHERE v = 'r3';
EOF
check "the changes were committed" test ! -s changes.log
wait_caught_up
"$SQL2ES_BIN" sync -c pg.yml --dry-run -q -o final.ndjson >final.dry.out 2>&1
python3 "$COMPARE" "$ES_URL" final.ndjson "deleted rows of every key type lost exactly their documents" --index "$IX-keys"
kill -TERM "$FPID"; wait "$FPID" 2>/dev/null
"$SQL2ES_BIN" sync -c pg.yml --follow --drop-slot >drop.out 2>&1

# an advanced rule's custom query is refused by --follow, at start
cat >q.yml <<EOF
elasticsearch: { host: $ES_URL, max_wait_duration: 10 }
connectors:
  - connector_id: fk
    service_type: postgresql
    index_name: $IX-query
    configuration:
      host: $PGHOST
      port: $PGPORT
      username: $PGUSER
      password: \${PGPASSWORD}
      database: $PGDATABASE
      tables: [fk_bool]
    sync_rules:
      advanced:
        - { tables: [fk_uuid], query: "SELECT k_uuid, v FROM fk_uuid WHERE v <> 'x'", id_columns: [k_uuid] }
EOF
timeout 60 "$SQL2ES_BIN" sync -c q.yml --follow -q >q.out 2>&1; rc=$?
if [ "$rc" = 2 ] && grep -q "custom query.*cannot be followed" q.out; then
    ok "--follow refuses an advanced rule's query (exit 2)"
else
    not_ok "--follow refuses an advanced rule's query (exit $rc)"; sed 's/^/#   /' q.out | head -5
fi
check_eq "the refusal came before any slot was made" \
    "$(psql -XAtc "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sql2es_fk'")" 0
