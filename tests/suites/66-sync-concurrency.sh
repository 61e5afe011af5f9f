#!/usr/bin/env bash
# 66-sync-concurrency.sh - overlapping runs of one connector, interrupted
# runs and what the summary says, from PostgreSQL into the test OpenSearch
# node. The moments are made deterministic with a fault proxy that holds the
# _bulk requests while a file exists (tests/harness/faultproxy.py
# --hold-file): a full sync paused mid-scan while an incremental run starts;
# two --table runs sharing a state file, both paused before either saves; a
# sync stopped by SIGINT/SIGTERM while its requests are in flight.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 41
need opensearch
need postgresql
E2E_TMP=$SQL2ES_TEST_TMP/e2e-sync-concurrency
rm -rf "$E2E_TMP"; mkdir -p "$E2E_TMP"
. "$SQL2ES_ROOT/tests/e2e-sync/lib.sh"
cd "$E2E_TMP" || exit 1

if [ ! -x "$SQL2ES_BIN" ]; then not_ok "sql2es is built ($SQL2ES_BIN)"; exit 0; fi
if ! psql -q -v ON_ERROR_STOP=1 >psql.log 2>&1 <<'EOF'
DROP TABLE IF EXISTS e2e_conc, e2e_conc2;
CREATE TABLE e2e_conc (id int PRIMARY KEY, name text, updated_at timestamptz NOT NULL);
INSERT INTO e2e_conc SELECT g, 'row ' || g, timestamptz '2024-01-01' + g * interval '1 s' FROM generate_series(1, 300) g;
CREATE TABLE e2e_conc2 (id int PRIMARY KEY, name text, updated_at timestamptz NOT NULL);
INSERT INTO e2e_conc2 SELECT g, 'other ' || g, timestamptz '2024-01-01' + g * interval '1 s' FROM generate_series(1, 200) g;
EOF
then not_ok "fixture loaded"; sed 's/^/#   /' psql.log; exit 0; fi
IX=e2e66
es_drop "$IX-conc" "$IX-two" "$IX-sig" "$IX-warn"

# config FILE HOST INDEX TABLES [CONCURRENCY]: the connector `conc`,
# incremental on updated_at for both tables
config() {
    cat >"$1" <<EOF
elasticsearch:
  host: $2
  ssl: false
  max_wait_duration: 10
  initial_backoff_duration: 0.1
  max_retries: 2
  bulk: { chunk_size: 50, max_concurrency: ${5:-2}, dead_letter_file: ./dead.ndjson }
connectors:
  - connector_id: conc
    service_type: postgresql
    index_name: $3
    configuration: { host: $PGHOST, port: $PGPORT, username: $PGUSER, password: "\${PGPASSWORD}", database: $PGDATABASE, tables: [$4], fetch_size: 40 }
    mappings:
      e2e_conc: { id: "c-{{ id }}", incremental: { cursor: updated_at } }
      e2e_conc2: { id: "d-{{ id }}", incremental: { cursor: updated_at } }
EOF
}
# wait_for SECONDS CMD...: poll CMD every 0.1 s; 0 once it succeeds
wait_for() {
    local n=$(( $1 * 10 )); shift
    while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
    return 1
}
held_at_least() { [ "$(proxy_stat "$1" held)" -ge "$2" ]; }
# bg_sync NAME ARGS...: sql2es sync in the background; its pid in BG_PID
bg_sync() { local name=$1; shift; "$SQL2ES_BIN" sync "$@" >"$name.out" 2>&1 & BG_PID=$!; }
# finish NAME PID: wait for it; exit code in SYNC_RC, summary in SYNC_SUMMARY
finish() { wait "$2"; SYNC_RC=$?; SYNC_SUMMARY=$(grep '^sql2es: ' "$1.out" | tail -1); }

# ---- 1. a full sync paused mid-scan; an incremental run starts meanwhile ----
touch hold
start_proxy PX --hold-file "$E2E_TMP/hold" || exit 0
config direct.yml "$ES_URL" "$IX-conc" e2e_conc
config paused.yml "$PX" "$IX-conc" e2e_conc
run_sync init -c direct.yml --state-file ./conc.state
check_sync init 0 "first (incremental) run sets the watermark"
check_eq "first run: 300 documents" "$(es_count $IX-conc)" 300

bg_sync full -c paused.yml --state-file ./conc.state --full
full_pid=$BG_PID
if ! wait_for 30 held_at_least "$PX" 1; then not_ok "the full sync reached the paused node"; show full; fi
# a row below the full scan's position, newer than the watermark
psql -qc "INSERT INTO e2e_conc VALUES (0, 'inserted during the full sync', '2025-01-01')" >>psql.log 2>&1
bg_sync inc -c direct.yml --state-file ./conc.state --lock-wait 120
inc_pid=$BG_PID
wait_for 20 bash -c "! kill -0 $inc_pid 2>/dev/null || grep -q waiting inc.out"
check "the incremental run waits for the full sync (names its pid $full_pid)" \
    grep -q "waiting up to 120 s for .*pid $full_pid, sync --full" inc.out
rm -f hold
finish full "$full_pid"
check_sync full 0 "the full sync, once the node answers"
finish inc "$inc_pid"
check_sync inc 0 "the incremental run, after the full sync"
check_eq "the row inserted during the full sync is indexed (not swept)" \
    "$(es_doc $IX-conc c-0 | jq -r .name)" "inserted during the full sync"
check_eq "301 documents" "$(es_count $IX-conc)" 301
run_sync inc2 -c direct.yml --state-file ./conc.state
check_sync inc2 0 "a later incremental run"
check_eq "... keeps the document" "$(es_doc $IX-conc c-0 | jq -r .name)" "inserted during the full sync"

# a run that cannot get its lock in time fails with the holder's pid
held=$(proxy_stat "$PX" held)
touch hold
bg_sync full2 -c paused.yml --state-file ./conc.state --full
full_pid=$BG_PID
wait_for 30 held_at_least "$PX" $((held + 1)) || not_ok "the second full sync reached the paused node"
run_sync busy -c direct.yml --state-file ./conc.state --lock-wait 1
check_sync busy 1 "an incremental run that cannot get its lock within --lock-wait"
check "... says which run holds it" grep -q "locked by another sync (pid $full_pid, sync --full" busy.out
rm -f hold
finish full2 "$full_pid"
check_sync full2 0 "the full sync it waited for"

# ---- 2. two --table runs sharing one state file ------------------------------
es_drop "$IX-two"
touch hold
start_proxy PT --hold-file "$E2E_TMP/hold" || exit 0
# one request in flight per run: two held requests are one of each run
config two.yml "$PT" "$IX-two" "e2e_conc, e2e_conc2" 1
bg_sync two-a -c two.yml --state-file ./two.state --table e2e_conc
a_pid=$BG_PID
bg_sync two-b -c two.yml --state-file ./two.state --table e2e_conc2
b_pid=$BG_PID
wait_for 30 held_at_least "$PT" 2 || not_ok "both --table runs reached the paused node"
rm -f hold
finish two-a "$a_pid"
check_sync two-a 0 "--table e2e_conc beside --table e2e_conc2"
finish two-b "$b_pid"
check_sync two-b 0 "--table e2e_conc2 beside --table e2e_conc"
check_eq "the shared state file holds both watermarks" \
    "$(grep -v '^#' two.state | cut -f1,2 | sort | tr '\t\n' '/ ')" "conc/e2e_conc conc/e2e_conc2 "
check "no temp file left beside the state file" bash -c '! ls two.state.tmp* 2>/dev/null | grep -q .'

# ---- 3. SIGINT / SIGTERM: settle what was sent, print the summary --------------
psql -q -v ON_ERROR_STOP=1 >>psql.log 2>&1 <<'EOF'
DROP TABLE IF EXISTS e2e_sig;
CREATE TABLE e2e_sig (id int PRIMARY KEY, name text, updated_at timestamptz NOT NULL);
INSERT INTO e2e_sig SELECT g, 'sig ' || g, timestamptz '2024-01-01' + g * interval '1 s' FROM generate_series(1, 5000) g;
EOF
start_proxy PS --hold-file "$E2E_TMP/hold" || exit 0
config sig.yml "$PS" "$IX-sig" e2e_sig 1
sed -i 's/e2e_conc2: {/e2e_sig: { id: "s-{{ id }}", incremental: { cursor: updated_at } }\n      e2e_conc2: {/' sig.yml
# a background job of a script ignores SIGINT; this exec restores the
# default first (the pid stays the one of sql2es)
WITH_SIGINT='import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])'
for sig in INT TERM; do
    want=$([ $sig = INT ] && echo 130 || echo 143)
    word=$([ $sig = INT ] && echo INTERRUPTED || echo TERMINATED)
    es_drop "$IX-sig"; rm -f sig.state
    held=$(proxy_stat "$PS" held)
    touch hold
    python3 -c "$WITH_SIGINT" "$SQL2ES_BIN" sync -c sig.yml --state-file ./sig.state >sig-$sig.out 2>&1 &
    pid=$!
    # one request held, the queue full: the scan waits in the middle of the table
    wait_for 30 held_at_least "$PS" $((held + 1)) || not_ok "SIG$sig: the sync reached the paused node"
    sleep 1
    kill -$sig $pid
    sleep 0.5
    rm -f hold
    finish sig-$sig $pid
    check_eq "SIG$sig: exit $want after the requests in flight are settled" "$SYNC_RC" "$want"
    check "SIG$sig: the summary is printed ($word)" grep -q "^sql2es: sync $word: " sig-$sig.out
    acked=$(sed -n 's/.*acknowledged \([0-9]*\).*/\1/p' <<<"$SYNC_SUMMARY")
    read_rows=$(summary_num 'rows read')
    check "SIG$sig: it stopped reading (${read_rows:-?} of 5000 rows read)" test "${read_rows:-5000}" -lt 5000
    check_eq "SIG$sig: every document sent was acknowledged and is in the index" "$(es_count $IX-sig)" "${acked:-none}"
    check "SIG$sig: the cut-short table keeps no watermark (the next run reads it again)" \
        bash -c '! grep -q "e2e_sig" sig.state 2>/dev/null'
    check_eq "SIG$sig: not an error" "$(summary_num errors)" 0
done
config sig-direct.yml "$ES_URL" "$IX-sig" e2e_sig
sed -i 's/e2e_conc2: {/e2e_sig: { id: "s-{{ id }}", incremental: { cursor: updated_at } }\n      e2e_conc2: {/' sig-direct.yml
run_sync sig-again -c sig-direct.yml --state-file ./sig.state -q
check_sync sig-again 0 "the next run after SIGTERM"
check_eq "... completes the index" "$(es_count $IX-sig)" 5000

# ---- 4. the summary ---------------------------------------------------------------
check "-q hides the progress, not the summary" grep -q '^sql2es: sync done: ' sig-again.out
check "-q: no progress line" bash -c '! grep -q "rows/s (done)" sig-again.out'
# the node unreachable: the run fails before any table; the summary counts it
config down.yml "http://127.0.0.1:1" "$IX-sig" e2e_sig
sed -i 's/max_wait_duration: 10/max_wait_duration: 1/' down.yml
run_sync down -c down.yml --state-file ./down.state
check_sync down 1 "the search node unreachable"
check "a failed sync's summary counts its errors (${SYNC_SUMMARY:-no summary})" \
    test "$(summary_num errors)" -ge 1

# value warnings: itemised with table, key and column (the first 10 per table; all with -v)
psql -q -v ON_ERROR_STOP=1 >>psql.log 2>&1 <<'EOF'
DROP TABLE IF EXISTS e2e_warn;
CREATE TABLE e2e_warn (id int PRIMARY KEY, x double precision, code text);
INSERT INTO e2e_warn SELECT g, CASE WHEN g <= 12 THEN 'NaN'::float8 ELSE g END,
       CASE WHEN g = 3 THEN 'abc' ELSE g::text END FROM generate_series(1, 15) g;
EOF
cat >warn.yml <<EOF
elasticsearch: { host: $ES_URL, ssl: false }
connectors:
  - connector_id: warn
    service_type: postgresql
    index_name: $IX-warn
    configuration: { host: $PGHOST, port: $PGPORT, username: $PGUSER, password: "\${PGPASSWORD}", database: $PGDATABASE, tables: [e2e_warn] }
    mappings:
      e2e_warn:
        id: "w-{{ id }}"
        fields: { x: x, code: { from: code, transform: [to_number] } }
EOF
es_drop "$IX-warn"
run_sync warn -c warn.yml --state-file ./warn.state
check_sync warn 0 "a table with values that are changed on the way"
check_eq "13 warnings counted (12 NaN, 1 to_number)" "$(summary_num warnings)" 13
check "the NaN of row 1 is itemised with table, key and column" \
    grep -q "connector 'warn' > table 'e2e_warn' > row with key '1' > column 'x': value written as null" warn.out
check "the to_number failure is itemised with its column" \
    grep -q "table 'e2e_warn' > row 'w-3' > column 'code': to_number: not a number" warn.out
check_eq "the first 10 per table are itemised" "$(grep -c "> column 'x': value written as null" warn.out)" 10
check "then a note says the rest are only counted" grep -q "only counted (sync -v itemises them all)" warn.out
run_sync warn-v -c warn.yml --state-file ./warn.state --full -v
check_eq "-v itemises all 12" "$(grep -c "> column 'x': value written as null" warn-v.out)" 12
