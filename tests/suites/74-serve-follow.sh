#!/usr/bin/env bash
# 74-serve-follow.sh - `serve_follow: true`: a PostgreSQL connector served by
# two `sql2es serve` instances, with the test client in Kibana's role
# (tests/e2e-serve/kibana.py). After its first completed full job one
# instance follows the connector's changes (its state in the connector
# document's sync_cursor.follow: owner, status, slot, position, lag); a
# writer makes inserts, updates, deletes and child-row changes, and the
# index converges to a dry run of the final database; the owner SIGKILLed,
# the other instance takes the follow over once its last_seen is stale and
# goes on from the recorded position (the index converges again, with
# changes made while nobody followed); a full job pauses the follow, which
# then starts over with a new slot and its initial read; /metrics and the status page show
# the follow; SIGTERM stops it cleanly (status stopped, the claim released,
# the slot inactive).
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 17
need opensearch
need postgresql
export PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE
T=$SQL2ES_TEST_TMP/e2e-serve-follow
rm -rf "$T"; mkdir -p "$T/a" "$T/b"
cd "$T" || exit 1
if [ ! -x "$SQL2ES_BIN" ]; then not_ok "sql2es is built ($SQL2ES_BIN)"; exit 0; fi
B=$SQL2ES_BIN
PIDS=()
cleanup() { local p; for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
. "$SQL2ES_ROOT/tests/e2e-serve/lib.sh"
IX=f74-follow
CID=sf74
COMPARE="$SQL2ES_ROOT/tests/harness/compare_dryrun.py"
es DELETE "/$IX" >/dev/null
es POST "/.elastic-connectors/_delete_by_query?refresh=true&expand_wildcards=all&ignore_unavailable=true" \
    "{\"query\":{\"ids\":{\"values\":[\"$CID\"]}}}" >/dev/null

psql -q -v ON_ERROR_STOP=1 >psql.log 2>&1 <<'EOF' || { not_ok "PostgreSQL fixture"; sed 's/^/#   /' psql.log; exit 0; }
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'sql2es_sf74';
DROP PUBLICATION IF EXISTS sql2es_sf74;
DROP TABLE IF EXISTS sf74_orders, sf74_customers;
CREATE TABLE sf74_customers (id int PRIMARY KEY, name text, active boolean NOT NULL DEFAULT true);
CREATE TABLE sf74_orders (id int PRIMARY KEY, customer_id int, total numeric(12,2));
ALTER TABLE sf74_orders REPLICA IDENTITY FULL;
INSERT INTO sf74_customers SELECT g, 'c' || g, true FROM generate_series(1, 300) g;
INSERT INTO sf74_orders SELECT g, 1 + g % 300, g * 1.25 FROM generate_series(1, 900) g;
EOF

for d in a b; do
cat >$d/serve.yml <<EOF
elasticsearch: { host: $ES_URL, max_wait_duration: 60, max_retries: 30, retry_interval: 1 }
service: { heartbeat: 1, idling: 2, job_takeover_after: 6 }
connectors:
  - connector_id: $CID
    service_type: postgresql
    index_name: $IX
    serve_follow: true
    configuration: { host: $PGHOST, port: $PGPORT, username: $PGUSER, password: "\${PGPASSWORD}", database: $PGDATABASE, tables: [sf74_customers] }
    mappings:
      sf74_customers:
        id: "c{{ id }}"
        where: "active"
        relations:
          orders: { table: sf74_orders, on: { customer_id: id }, order_by: id }
EOF
done

# serve NAME DIR: a service in the background (with --listen), its pid in SERVE_PID
serve() {
    (cd "$2" && exec "$B" serve -c serve.yml --poll 0.2 --listen 127.0.0.1:0) >"$T/$1.log" 2>&1 &
    SERVE_PID=$!
    PIDS+=($SERVE_PID)
    wait_for 60 grep -qs ' ready; ' "$T/$1.log"
}
listen_of() { grep -o 'status page on http://[^/]*' "$1" | head -1 | sed 's|.*http://||'; }
fstate() { conn $CID | jq -c '.sync_cursor.follow // {}'; }
following_by() { fstate | jq -e --arg p "$1" '.status == "following" and (.worker | split("/")[1]) == $p' >/dev/null; }
owner_pid() { fstate | jq -r '.worker // "" | split("/")[1] // ""'; }
wait_caught_up() {
    local target i
    target=$(psql -XAtc "SELECT pg_current_wal_lsn()")
    for i in $(seq 1 450); do
        [ "$(psql -XAtc "SELECT coalesce(confirmed_flush_lsn >= '$target', false) FROM pg_replication_slots WHERE slot_name = 'sql2es_sf74'")" = t ] && return 0
        sleep 0.2
    done
    return 1
}
compare() { # compare NAME: the index against a dry run of the final database
    "$B" sync -c a/serve.yml --dry-run -q -o "$1.ndjson" >"$1.dry.out" 2>&1
    python3 "$COMPARE" "$ES_URL" "$1.ndjson" "$1" --index "$IX"
}
# writer SEED N: N mixed changes (as SQL, one transaction per line)
writer() {
    python3 - "$1" "$2" <<'PY'
import random, sys
r = random.Random(int(sys.argv[1]))
for i in range(int(sys.argv[2])):
    c, o = r.randint(1, 340), r.randint(1, 1000)
    k = r.random()
    if k < 0.25: print(f"UPDATE sf74_customers SET name = 'n{i}' WHERE id = {c};")
    elif k < 0.35: print(f"INSERT INTO sf74_customers VALUES ({c}, 'new{i}', true) ON CONFLICT (id) DO UPDATE SET name = 'up{i}';")
    elif k < 0.42: print(f"DELETE FROM sf74_customers WHERE id = {c};")
    elif k < 0.50: print(f"UPDATE sf74_customers SET active = NOT active WHERE id = {c};")
    elif k < 0.70: print(f"UPDATE sf74_orders SET total = total + 1 WHERE id = {o};")
    elif k < 0.80: print(f"UPDATE sf74_orders SET customer_id = {c} WHERE id = {o};")
    elif k < 0.90: print(f"INSERT INTO sf74_orders VALUES ({o}, {c}, {i}) ON CONFLICT (id) DO NOTHING;")
    else: print(f"DELETE FROM sf74_orders WHERE id = {o};")
PY
}

serve s1 a || { not_ok "serve s1 starts"; sed 's/^/#   /' s1.log; exit 0; }
S1=$SERVE_PID
serve s2 b || { not_ok "serve s2 starts"; sed 's/^/#   /' s2.log; exit 0; }
S2=$SERVE_PID
wait_for 30 bash -c "$KIB get connector $CID | jq -e '.configuration.tables' >/dev/null"
$KIB configure $CID tables=sf74_customers
wait_for 30 bash -c "$KIB get connector $CID | jq -e '.status == \"connected\"' >/dev/null"
check "no follow before the connector's first completed sync" \
    test "$(fstate | jq -r '.status // "none"')" = none
J=$($KIB sync $CID full)
$KIB wait "$J" completed --timeout 120 >/dev/null
# ---- after the completed job: one instance follows ------------------------------
is_following() { test "$(fstate | jq -r .status)" = following; }
wait_for 90 is_following
OWNER=$(owner_pid)
case $OWNER in "$S1") OTHER=$S2 ;; "$S2") OTHER=$S1 ;; *) OTHER= ;; esac
check "after the completed job one of the instances follows (pid $OWNER)" test -n "$OTHER"
check "the slot sql2es_sf74 exists and is active" \
    test "$(psql -XAtc "SELECT active FROM pg_replication_slots WHERE slot_name = 'sql2es_sf74'")" = t
writer 1 600 | psql -X -q -v ON_ERROR_STOP=0 >writer1.out 2>&1
check "the follow confirms every change (caught up)" wait_caught_up
sleep 1
compare "followed changes: the index equals a dry run of the final database"
check "the connector document holds the slot, the position and the lag" \
    jqe '.slot == "sql2es_sf74" and (.position | test("^[0-9A-F]+/[0-9A-F]+$")) and (.lag_seconds >= 0) and .worker_hostname != null' "$(fstate)"
if [ "$OWNER" = "$S1" ]; then OLOG=s1.log; else OLOG=s2.log; fi
ADDR=$(listen_of "$T/$OLOG")
check "/metrics: the owner runs the follow" \
    bash -c "curl -s 'http://$ADDR/metrics' | grep -q '^sql2es_follow_running{connector_id=\"$CID\",status=\"following\"} 1'"
check "the status page shows the follow" bash -c "curl -s 'http://$ADDR/' | grep -q 'follow: following'"

# ---- SIGKILL of the owner: the other instance takes the follow over -------------
kill -9 "$OWNER"; wait "$OWNER" 2>/dev/null
writer 2 400 | psql -X -q -v ON_ERROR_STOP=0 >writer2.out 2>&1
check "the other instance took the follow over (job_takeover_after 6 s)" wait_for 90 following_by "$OTHER"
grep -q "follow taken over" "$T"/s?.log || echo "# no takeover line in the logs"
writer 3 400 | psql -X -q -v ON_ERROR_STOP=0 >writer3.out 2>&1
check "after the takeover the follow confirms every change" wait_caught_up
sleep 1
compare "after the takeover: the index equals a dry run of the final database"

# ---- a job of the connector pauses the follow; it starts over after it ---------
J2=$($KIB sync $CID full)
$KIB wait "$J2" completed --timeout 120 >/dev/null
check "a full job paused the follow (logged)" wait_for 30 grep -Eqs "follow paused: a sync job of the connector (runs|ran)" "$T"/s?.log
writer 4 300 | psql -X -q -v ON_ERROR_STOP=0 >writer4.out 2>&1
check "after the job the follow starts again, from a new slot and an initial read" \
    wait_for 90 bash -c '[ "$(cat "$1"/s?.log | grep -c "follow started (a new slot")" -ge 2 ]' _ "$T"
wait_for 90 is_following
wait_caught_up
sleep 1
compare "after the job and the new start: the index equals a dry run of the final database"

# ---- SIGTERM stops it cleanly -------------------------------------------------
kill -TERM "$OTHER"; wait "$OTHER"; rc=$?
check_eq "SIGTERM: serve exits 0" "$rc" 0
check "SIGTERM: the follow is stopped and released" jqe '.status == "stopped" and .worker == null' "$(fstate)"
check_eq "SIGTERM: the slot is left inactive (kept for the next start)" \
    "$(psql -XAtc "SELECT active FROM pg_replication_slots WHERE slot_name = 'sql2es_sf74'")" f
psql -XAqc "SELECT pg_drop_replication_slot('sql2es_sf74')" >/dev/null 2>&1
