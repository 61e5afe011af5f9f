#!/usr/bin/env bash
# 73-serve-fleet.sh - `sql2es serve` as a fleet, against the real OpenSearch
# node, with the Kibana stand-in tests/e2e-serve/kibana.py:
#   draft sync rules edited "in Kibana": validated by the compiler's checks,
#   reported in the protocol's validation form, activated when valid; jobs
#   run the active rules (an invalid draft changes nothing); the precedence
#   of the document's rules over config.yml's; `plan --connector` shows the
#   merged rules;
#   a schedule every 4 s for a minute with two instances: each slot makes
#   exactly one job, promptly, none skipped; a slot missed while no instance
#   ran fires once at start;
#   three instances and dozens of jobs over SQLite, PostgreSQL and MariaDB
#   connectors: each job runs exactly once, never two jobs of a connector at
#   the same time, all completed with the right counts;
#   examples/connectors-compat/config.yml, edited only where the connectors'
#   own file asks, served as Elastic's service would serve it.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 44
need opensearch
need postgresql
need mariadb
T=$SQL2ES_TEST_TMP/e2e-serve-fleet
rm -rf "$T"; mkdir -p "$T"
cd "$T" || exit 1
if [ ! -x "$SQL2ES_BIN" ]; then not_ok "sql2es is built ($SQL2ES_BIN)"; exit 0; fi
B=$SQL2ES_BIN
. "$SQL2ES_ROOT/tests/e2e-serve/lib.sh"
IX=svc73
PIDS=()
cleanup() { local p; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

# serve NAME [CONFIG]: start a service in the background; its pid in SERVE_PID
serve() {
    "$B" serve -c "${2:-fleet.yml}" --poll 0.2 >"$T/$1.log" 2>&1 &
    SERVE_PID=$!
    PIDS+=($SERVE_PID)
}
started() { wait_for 60 grep -qs ' ready; ' "$T/$1.log"; }
# stop PID...: SIGTERM and wait
stop() { kill -TERM "$@" 2>/dev/null; wait "$@" 2>/dev/null; }
# jobs_of CONNECTOR [TRIGGER]: the job documents (id + source), oldest first
jobs_of() {
    es POST /.elastic-connectors-sync-jobs/_refresh >/dev/null
    es POST /.elastic-connectors-sync-jobs/_search "{\"size\":1000,\"query\":{\"term\":{\"connector.id\":\"$1\"}}}" |
        jq -c --arg t "${2:-}" '[.hits.hits[] | ._source + {id: ._id} | select($t == "" or .trigger_method == $t)] | sort_by(.created_at)'
}

# ---- fixtures ------------------------------------------------------------------
for n in 1 2 3; do
    sqlite3 l$n.db "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $((n * 100)))
        INSERT INTO items SELECT i, 'item ' || i FROM n;"
done
sqlite3 sched.db "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);
    INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c');"
psql -q -v ON_ERROR_STOP=1 >psql.log 2>&1 <<'EOF' || { not_ok "PostgreSQL fixture"; sed 's/^/#   /' psql.log; exit 0; }
DROP TABLE IF EXISTS f73_items, f73_slow, f73_rules, f73_compat;
CREATE TABLE f73_items (id int PRIMARY KEY, title text NOT NULL);
INSERT INTO f73_items SELECT i, 'title ' || i FROM generate_series(1, 800) i;
CREATE OR REPLACE FUNCTION f73_slowly(v text) RETURNS text LANGUAGE sql VOLATILE AS
  $$ SELECT pg_sleep(0.02); SELECT v $$;
CREATE TABLE f73_slow (id int PRIMARY KEY, v text);
INSERT INTO f73_slow SELECT i, 'v' || i FROM generate_series(1, 40) i;
CREATE TABLE f73_rules (id int PRIMARY KEY, title text, kind text, n int);
INSERT INTO f73_rules SELECT i, 'title ' || i, CASE i % 3 WHEN 0 THEN 'c' WHEN 1 THEN 'a' ELSE 'b' END, i
  FROM generate_series(1, 90) i;
CREATE TABLE f73_compat (id int PRIMARY KEY, title text);
INSERT INTO f73_compat SELECT i, 'compat ' || i FROM generate_series(1, 25) i;
EOF
mysql_sql() { MYSQL_PWD=$MYSQL_PASSWORD mariadb -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" "$MYSQL_DATABASE" "$@"; }
mysql_sql >mysql.log 2>&1 <<'EOF' || { not_ok "MariaDB fixture"; sed 's/^/#   /' mysql.log; exit 0; }
DROP TABLE IF EXISTS f73_my;
CREATE TABLE f73_my (id INT PRIMARY KEY, title VARCHAR(64));
INSERT INTO f73_my SELECT seq, CONCAT('my ', seq) FROM seq_1_to_150;
EOF
for i in .elastic-connectors-v1 .elastic-connectors-sync-jobs-v1 .elastic-connectors .elastic-connectors-sync-jobs \
         $IX-l1 $IX-l2 $IX-l3 $IX-sched $IX-pg1 $IX-pg2 $IX-my $IX-rules $IX-compat; do
    es DELETE "/$i" >/dev/null
done

PGCONF="{ host: $PGHOST, port: $PGPORT, username: $PGUSER, password: \"$PGPASSWORD\", database: $PGDATABASE"
cat >fleet.yml <<EOF
elasticsearch: { host: $ES_URL, ssl: false, max_wait_duration: 30 }
service: { heartbeat: 5, idling: 2, max_concurrent_content_syncs: 2 }
connectors:
  - { connector_id: f-l1, service_type: sqlite, index_name: $IX-l1, configuration: { path: ./l1.db } }
  - { connector_id: f-l2, service_type: sqlite, index_name: $IX-l2, configuration: { path: ./l2.db } }
  - { connector_id: f-l3, service_type: sqlite, index_name: $IX-l3, configuration: { path: ./l3.db } }
  - { connector_id: f-sched, service_type: sqlite, index_name: $IX-sched, configuration: { path: ./sched.db } }
  - { connector_id: f-pg1, service_type: postgresql, index_name: $IX-pg1, configuration: $PGCONF, tables: [f73_items] } }
  - connector_id: f-pg2
    service_type: postgresql
    index_name: $IX-pg2
    configuration: $PGCONF }
    sync_rules:
      advanced:
        - { tables: [f73_slow], query: "SELECT s.id, f73_slowly(s.v) AS v FROM f73_slow s ORDER BY s.id", id_columns: [id] }
  - connector_id: f-my
    service_type: mysql
    index_name: $IX-my
    configuration: { host: $MYSQL_HOST, port: $MYSQL_PORT, user: $MYSQL_USER, password: "$MYSQL_PASSWORD", database: $MYSQL_DATABASE, tables: [f73_my] }
  - connector_id: f-rules
    service_type: postgresql
    index_name: $IX-rules
    configuration: $PGCONF, tables: [f73_rules] }
    mappings:
      f73_rules: { id: "{{ id }}", fields: { title: title, kind: kind, n: n } }
    sync_rules:
      basic:
        - { id: file-no-c, field: kind, rule: equals, value: c, policy: exclude, order: 0 }
EOF

serve s1
S1=$SERVE_PID
if ! started s1; then not_ok "serve starts"; sed 's/^/#   /' "$T/s1.log"; exit 0; fi
wait_for 20 bash -c "$KIB get connector f-rules | jq -e '.filtering != null' >/dev/null"

# ---- sync rules: config.yml's, then drafts edited in Kibana ---------------------------
# run_job CONNECTOR: a full on-demand job, waited for; prints its document
run_job() { local j; j=$($KIB sync "$1" full) && $KIB wait "$j" completed,error,canceled --timeout 90; }
# draft_state CONNECTOR: the draft's validation state once it is not `edited`
draft_state() {
    local end=$((SECONDS + 20)) st
    while [ $SECONDS -lt $end ]; do
        st=$(conn "$1" | jq -c '.filtering[0].draft.validation')
        [ "$(jq -r .state <<<"$st")" != edited ] && { echo "$st"; return 0; }
        sleep 0.2
    done
    echo "$st"; return 1
}
OUT=$(run_job f-rules)
check_eq "Kibana's default rule says nothing: config.yml's sync rules apply (kind c excluded)" \
    "$(jq -r '[.status, .indexed_document_count] | join(" ")' <<<"$OUT") $(count $IX-rules kind:c)" "completed 60 0"

$KIB draft f-rules '[{"id":"no-b","field":"kind","rule":"equals","value":"b","policy":"exclude"}]'
V=$(draft_state f-rules)
check_eq "a valid draft is validated: state valid, no errors" "$V" '{"state":"valid","errors":[]}'
check "a valid draft is activated: active = draft (the rules and the validation)" \
    bash -c "$KIB get connector f-rules | jq -e '.filtering[0] | .active == .draft and .active.rules[0].id == \"no-b\"' >/dev/null"
PLAN=$("$B" plan -c fleet.yml --connector f-rules 2>&1)
check "plan --connector shows the active rule that replaced the file's" \
    bash -c 'grep -q "exclude kind equals \"b\" id=no-b" <<<"$1" && ! grep -q "kind equals \"c\"" <<<"$1"' _ "$PLAN"
OUT=$(run_job f-rules)
check_eq "a job runs the activated rules: kind b excluded, kind c back" \
    "$(jq -r '[.status, .indexed_document_count, .total_document_count] | join(" ")' <<<"$OUT") $(count $IX-rules kind:b) $(count $IX-rules kind:c)" \
    "completed 60 60 0 30"

$KIB draft f-rules '[{"id":"bad-re","field":"title","rule":"regex","value":"title (1","policy":"include"},
                     {"id":"ok","field":"kind","rule":"equals","value":"a","policy":"exclude"}]'
V=$(draft_state f-rules)
echo "# validation: $V"
check_eq "an invalid draft: state invalid, the error under the faulty rule's id" \
    "$(jq -c '[.state, [.errors[].ids]]' <<<"$V")" '["invalid",[["bad-re"]]]'
check "the message is the compiler's (regex), without a location prefix" \
    jqe '.errors[0].messages == ["invalid regex: missing closing parenthesis"]' "$V"
# the checks of the whole rule set: a match-all regex, a duplicate (Kibana's hash of field, rule, value)
$KIB draft f-rules '[{"id":"all-re","field":"title","rule":"regex","value":".*","policy":"exclude"},
                     {"id":"dup-1","field":"kind","rule":"equals","value":"a","policy":"exclude"},
                     {"id":"dup-2","field":"kind","rule":"equals","value":"a","policy":"include"}]'
V=$(draft_state f-rules)
echo "# validation: $V"
check_eq "a match-all regex and a duplicate rule: one error each, by rule id" \
    "$(jq -c '[.state, [.errors[].ids]]' <<<"$V")" '["invalid",[["all-re"],["dup-2"]]]'
check_eq "the duplicate is named by the other rule's id (a document has no lines)" \
    "$(jq -r '.errors[1].messages[0]' <<<"$V")" "duplicate rule: same field, rule and value as rule 'dup-1'"
check "an invalid draft is not activated" \
    bash -c "$KIB get connector f-rules | jq -e '.filtering[0].active.rules[0].id == \"no-b\" and .filtering[0].active.validation.state == \"valid\"' >/dev/null"
OUT=$(run_job f-rules)
check_eq "a job still runs the active rules, not the draft" \
    "$(jq -r '[.status, .indexed_document_count] | join(" ")' <<<"$OUT") $(count $IX-rules kind:b)" "completed 60 0"

# advanced rules from Kibana (the Python PostgreSQL connector's form), basic rules from the file
$KIB draft f-rules '[]' '[{"tables":["f73_rules"],"query":"SELECT id, title, kind, n FROM f73_rules WHERE n <= 45","id_columns":["id"]}]'
V=$(draft_state f-rules)
check_eq "a valid advanced snippet is validated" "$(jq -r .state <<<"$V")" valid
PLAN=$("$B" plan -c fleet.yml --connector f-rules 2>&1)
check "plan --connector shows the advanced rule's query and config.yml's basic rule" \
    bash -c 'grep -q "advanced rules" <<<"$1" && grep -q "n <= 45" <<<"$1" && grep -q "exclude kind equals \"c\" id=file-no-c" <<<"$1"' _ "$PLAN"
OUT=$(run_job f-rules)
check_eq "the job runs the document's query with the file's basic rule (45 rows, kind c out)" \
    "$(jq -r '[.status, .indexed_document_count, .total_document_count] | join(" ")' <<<"$OUT")" "completed 30 30"
$KIB draft f-rules '[]' '[{"tables":[],"query":"SELECT 1"}]'
V=$(draft_state f-rules)
echo "# validation: $V"
check_eq "an invalid advanced snippet: its errors carry the id advanced_snippet" \
    "$(jq -c '[.state, [.errors[].ids]]' <<<"$V")" '["invalid",[["advanced_snippet"]]]'
check "no service logged a loop error (rules)" bash -c "! grep -E ' ERROR ' '$T/s1.log'"

# ---- a schedule every 4 s for a minute, two instances ---------------------------------
serve s2
S2=$SERVE_PID
started s2 || { not_ok "the second service starts"; sed 's/^/#   /' "$T/s2.log"; }
# slots is a python helper: the scheduled jobs of f-sched created in [FROM, TO)
# -> "count distinct-slots consecutive median-late max-late"
cat >slots.py <<'PY'
import json, sys, datetime, statistics
jobs = json.load(sys.stdin)
lo, hi, period = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
t = sorted(datetime.datetime.fromisoformat(j["created_at"]).timestamp() for j in jobs)
t = [x for x in t if lo <= x < hi]
slots = [int(x // period) * period for x in t]
late = [x - s for x, s in zip(t, slots)]
print(f"# {len(t)} jobs, seconds after their slot: {[round(x, 3) for x in late]}", file=sys.stderr)
consecutive = all(b - a == period for a, b in zip(slots, slots[1:]))
print(len(t), len(set(slots)), int(consecutive),
      round(statistics.median(late), 3) if late else -1, round(max(late), 3) if late else -1)
PY
T_ON=$(date +%s.%N)
$KIB schedule f-sched full "*/4 * * * * ?"
sleep 62
$KIB schedule f-sched full off
T_OFF=$(date +%s.%N)
sleep 3
read -r N NSLOTS CONSEC MED MAX < <(jobs_of f-sched scheduled | python3 slots.py "$T_ON" "$T_OFF" 4)
echo "# schedule: $N jobs, $NSLOTS slots, median $MED s and at most $MAX s after the slot"
check "a minute of 4-s slots made 14-16 jobs ($N)" test "$N" -ge 14 -a "$N" -le 16
check_eq "each slot made exactly one job across the two instances" "$NSLOTS" "$N"
check_eq "no slot was skipped" "$CONSEC" 1
# Timing on a loaded 2-core machine: the median says how the scheduler fires
# (within 1 s of its slot); one late job on a busy machine is allowed up to 3 s,
# as a second 4-s slot would be taken by then.
check "scheduled jobs are created promptly: median < 1 s after the slot ($MED s), each < 3 s ($MAX s)" \
    python3 -c "import sys; sys.exit(0 if 0 <= float(sys.argv[1]) < 1.0 and float(sys.argv[2]) < 3.0 else 1)" "$MED" "$MAX"
check "every scheduled job completed" bash -c "
    for j in \$(curl -s '$ES_URL/.elastic-connectors-sync-jobs/_search?size=1000&q=trigger_method:scheduled' | jq -r '.hits.hits[]._id'); do
        $KIB wait \$j completed,error,canceled --timeout 60 | jq -e '.status == \"completed\"' >/dev/null || exit 1
    done"

# a slot missed while no instance ran fires once at start: both stop, two or
# three slots pass, one instance starts between two slots
$KIB schedule f-sched full "*/4 * * * * ?"
sleep 5   # the services read the schedule (idling: 2) and take a slot
stop $S1 $S2
sleep 9
python3 -c "import time; time.sleep((0.5 - time.time() % 4) % 4)"   # 0.5 s into a slot
T_START=$(date +%s.%N)
serve s3
S3=$SERVE_PID
started s3 || not_ok "the service restarts"
NEXT_SLOT=$(python3 -c "import sys, math; print(math.floor(float(sys.argv[1]) / 4) * 4 + 4)" "$T_START")
python3 -c "import time, sys; time.sleep(max(0, float(sys.argv[1]) + 5 - time.time()))" "$NEXT_SLOT"
$KIB schedule f-sched full off
read -r N NSLOTS CONSEC MED MAX < <(jobs_of f-sched scheduled | python3 slots.py "$T_START" "$NEXT_SLOT" 4)
check_eq "the slots missed while no service ran fire once at start" "$N" 1
read -r N NSLOTS CONSEC MED MAX < <(jobs_of f-sched scheduled | python3 slots.py "$NEXT_SLOT" "$(python3 -c "import sys; print(float(sys.argv[1]) + 4)" "$NEXT_SLOT")" 4)
check_eq "then the next slot fires as usual" "$N" 1

# ---- three instances, dozens of jobs over six connectors --------------------------------
serve s4
S4=$SERVE_PID
serve s5
S5=$SERVE_PID
started s4 && started s5 || not_ok "the other two services start"
ps -eo pid,ppid,lstart,args | grep "[s]ql2es serve -c fleet.yml" | sed "s/^/# /"
check_eq "three serve processes run (and no other of this configuration)" \
    "$(ps -eo ppid,args | grep -c "^ *$$ .*[s]ql2es serve -c fleet.yml")/$(ps -eo args | grep -c "^[^ ]*sql2es serve -c fleet.yml")" "3/3"
declare -A WANT=([f-l1]=100 [f-l2]=200 [f-l3]=300 [f-pg1]=800 [f-pg2]=40 [f-my]=150)
JOBS=()
for i in 1 2 3 4 5 6; do
    for c in f-l1 f-l2 f-l3 f-pg1 f-pg2 f-my; do
        case $c in f-my) [ $i -le 2 ] || continue ;; esac
        JOBS+=("$($KIB sync $c full)")
    done
done
echo "# ${#JOBS[@]} jobs created"
for j in "${JOBS[@]}"; do $KIB wait "$j" completed,error,canceled --timeout 300 >/dev/null; done
python3 - "$ES_URL" "${JOBS[@]}" >fleet.json <<'PY'
import json, sys, urllib.request
es, ids = sys.argv[1], sys.argv[2:]
out = []
for i in ids:
    d = json.load(urllib.request.urlopen(f"{es}/.elastic-connectors-sync-jobs/_doc/{i}"))["_source"]
    d["id"] = i
    out.append(d)
json.dump(out, sys.stdout)
PY
check "${#JOBS[@]} jobs (at least two dozen) all completed" \
    jqe "length == ${#JOBS[@]} and length >= 24 and all(.[]; .status == \"completed\")" "$(cat fleet.json)"
BAD=$(jq -r --argjson want "$(for c in "${!WANT[@]}"; do echo "\"$c\": ${WANT[$c]}"; done | paste -sd, | sed 's/^/{/;s/$/}/')" \
    '.[] | select(.indexed_document_count != $want[.connector.id] or .total_document_count != $want[.connector.id]) | "\(.connector.id) \(.indexed_document_count) \(.total_document_count)"' fleet.json)
check "each job indexed its connector's rows, and the index holds them (counts)" test -z "$BAD"
[ -z "$BAD" ] || echo "# wrong counts: $BAD"
check_eq "the MariaDB connector's jobs completed with its 150 rows" \
    "$(jq -r '[.[] | select(.connector.id == "f-my") | "\(.status) \(.indexed_document_count)"] | unique | join(",")' fleet.json)" "completed 150"
CLAIMS=$(cat "$T"/s3.log "$T"/s4.log "$T"/s5.log | sed -n 's/.*job=\([^] ]*\)\] .* job claimed.*/\1/p' | sort)
check_eq "each job was claimed exactly once across the three services" \
    "$(for j in "${JOBS[@]}"; do grep -cx -- "$j" <<<"$CLAIMS"; done | sort -u | paste -sd,)" 1
echo "# claims: s3 $(grep -c 'job claimed' s3.log), s4 $(grep -c 'job claimed' s4.log), s5 $(grep -c 'job claimed' s5.log)"
check "all three services ran jobs" bash -c "grep -q 'job claimed' s3.log && grep -q 'job claimed' s4.log && grep -q 'job claimed' s5.log"
check "no two jobs of one connector ran at the same time (started_at/completed_at intervals)" python3 - fleet.json <<'PY'
import json, sys, datetime
t = lambda s: datetime.datetime.fromisoformat(s).timestamp()
by = {}
for d in json.load(open(sys.argv[1])):
    by.setdefault(d["connector"]["id"], []).append((t(d["started_at"]), t(d["completed_at"]), d["id"]))
for c, iv in by.items():
    iv.sort()
    for a, b in zip(iv, iv[1:]):
        if b[0] < a[1]:
            print(f"# {c}: {a[2]} and {b[2]} overlap"); sys.exit(1)
PY
check "the connectors' locks are released (last_sync_status completed)" bash -c "
    for c in f-l1 f-l2 f-l3 f-pg1 f-pg2 f-my; do $KIB get connector \$c | jq -e '.last_sync_status == \"completed\"' >/dev/null || exit 1; done"
check "no service logged a loop error (fleet)" bash -c "! grep -E ' ERROR ' '$T'/s[2-5].log"
stop $S3 $S4 $S5

# ---- examples/connectors-compat: the connectors' own config.yml, served ------------------
# A user of Elastic's service edits three lines of that file (the cluster, its
# API key, the connector id Kibana gave) and starts the service; Kibana made
# the document (service_type left for the service to fill) and takes the
# database settings.
mkdir -p compat
sed -e "s|https://localhost:9200|$ES_URL|" -e "s|<YOUR-API-KEY>|c3FsMmVzOnRlc3Q=|" -e "s|<YOUR-CONNECTOR-ID>|compat-pg|" \
    "$SQL2ES_ROOT/examples/connectors-compat/config.yml" >compat/config.yml
check_eq "only the three lines the file asks to edit differ" \
    "$(diff "$SQL2ES_ROOT/examples/connectors-compat/config.yml" compat/config.yml | grep -c '^>')" 3
check_eq "validate accepts it unchanged but for those lines" "$(cd compat && "$B" validate -c config.yml >/dev/null 2>&1; echo $?)" 0
$KIB put-connector compat-pg $IX-compat
(cd compat && exec "$B" serve -c config.yml) >"$T/compat.log" 2>&1 &
CP=$!
PIDS+=($CP)
started compat || { not_ok "serve starts on the connectors' config.yml"; sed 's/^/#   /' "$T/compat.log"; }
check "serve fills service_type postgresql and the configuration form; status needs_configuration" \
    wait_for 30 bash -c "$KIB get connector compat-pg | jq -e '.service_type == \"postgresql\" and .status == \"needs_configuration\" and (.configuration | length) == 11' >/dev/null"
$KIB configure compat-pg host=$PGHOST port=$PGPORT username=$PGUSER password=$PGPASSWORD database=$PGDATABASE tables=f73_compat
OUT=$(run_job compat-pg)
check_eq "a job of the connectors' config.yml completes with the table's 25 rows" \
    "$(jq -r '[.status, .indexed_document_count, .total_document_count] | join(" ")' <<<"$OUT")" "completed 25 25"
check_eq "the connector is connected, its sync recorded" \
    "$(conn compat-pg | jq -r '[.status, .last_sync_status, .last_indexed_document_count] | join(" ")')" "connected completed 25"
check "its documents have the PostgreSQL connector's shape (_id, prefixed columns, table)" \
    bash -c "curl -s '$ES_URL/$IX-compat/_doc/${PGDATABASE}_public_f73_compat_7' | jq -e '._source.public_f73_compat_title == \"compat 7\" and ._source.table == \"f73_compat\" and ._source._timestamp != null' >/dev/null"
stop $CP
check "no loop error on the connectors' config.yml" bash -c "! grep -E ' ERROR ' '$T/compat.log'"
# a document made from such a file (no database settings in it) waits for the
# form: needs_configuration, its values empty (they were the form's defaults,
# `tables: "*"` over the file's list, before)
sed -i "s|compat-pg|compat-new|" compat/config.yml
(cd compat && "$B" connector create -c config.yml >/dev/null 2>&1)
check_eq "a document made from a file without database settings: needs_configuration, empty values" \
    "$(conn compat-new | jq -c '[.status, .service_type, ([.configuration[].value] | unique)]')" '["needs_configuration","postgresql",[null]]'

# ---- the sanitizer build: drafts validated (valid, invalid), a job with the rules -------
if san_bin "$SQL2ES_SAN_BIN"; then
    "$SQL2ES_SAN_BIN" serve -c fleet.yml --poll 0.2 >san.log 2>&1 &
    SP=$!
    PIDS+=($SP)
    wait_for 60 grep -qs ' ready; ' san.log
    $KIB draft f-rules '[{"id":"s1","field":"kind","rule":"regex","value":"[ab","policy":"exclude"}]' '[{"tables":[]}]'
    V=$(draft_state f-rules)
    check_eq "sanitizer build: an invalid draft (basic and advanced errors)" "$(jq -c '[.state, [.errors[].ids]]' <<<"$V")" \
        '["invalid",[["s1"],["advanced_snippet"]]]'
    $KIB draft f-rules '[{"id":"s2","field":"title","rule":"starts_with","value":"title 1","policy":"exclude"}]'
    V=$(draft_state f-rules)
    OUT=$(run_job f-rules)
    check_eq "sanitizer build: a valid draft activated, a job runs it" \
        "$(jq -r .state <<<"$V") $(jq -r '[.status, .indexed_document_count] | join(" ")' <<<"$OUT")" "valid completed 79"
    stop $SP; RC=$?
    check_eq "sanitizer build: serve exits 0 on SIGTERM" "$RC" 0
    check "sanitizer build: no report in the log" bash -c "! grep -E 'Sanitizer|runtime error' san.log"
fi
