#!/usr/bin/env bash
# 57-wire-faults.sh - the connection to PostgreSQL and to MariaDB lost at
# every step of a dry run: `sql2es sync --dry-run` of a small nested mapping
# (a relation read by merge, one read in batches, an incremental table,
# several column types) through tests/harness/wireproxy.py, which cuts the
# connection when the N-th server message arrives (also after forwarding
# half of it) or the N-th client message is sent: connect, catalog, type
# lookup, session set-up, the pipeline, the cursor's fetches. Each run must
# end in exit 1 with a message naming the connection loss or the server
# error, or in exit 0 with exactly the fault-free output - never a crash, a
# sanitizer report or a hang. The cut points come from the fault-free run's
# trace of message kinds: the first 12 messages, then every message that
# starts a new step of the conversation (its kind with the kinds before and
# after it not seen before), sampled evenly to at most 24 server and 12
# client points (6 half-forwarded; 10 and 6 with the sanitizer binary) to
# keep the suite under a minute. For PostgreSQL also a statement that
# fails on a live connection (--error-server: an ErrorResponse in place of
# the N-th server message): exit 1 naming the error. One proxy per database serves every run
# (reconfigured by SIGHUP).
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 16
need postgresql
need mariadb
export PGUSER PGPASSWORD PGDATABASE MYSQL_USER MYSQL_PASSWORD MYSQL_DATABASE
T=$SQL2ES_TEST_TMP/wire-faults
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
abs() { case $1 in /*) echo "$1" ;; *) echo "$SQL2ES_ROOT/$1" ;; esac; }
BIN=$(abs "$SQL2ES_BIN")
SAN=$(abs "$SQL2ES_SAN_BIN")
[ -x "$BIN" ] || { not_ok "sql2es binary $BIN is built"; exit 1; }
[ -x "$SAN" ] || SAN=
CLIENT=$(command -v mariadb || command -v mysql)
my_root() { env -u MYSQL_HOST -u MYSQL_PORT -u MYSQL_PWD "$CLIENT" --no-defaults -uroot --socket="$MYSQL_ROOT_SOCKET" "$@"; }

"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 >setup.log 2>&1 <<'SQL'
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS wf CASCADE;
CREATE SCHEMA wf;
CREATE TABLE wf.customers (id int PRIMARY KEY, name text, born date, score numeric(8,2),
  active boolean, tags text[], meta jsonb, seen timestamptz, pic bytea, ratio double precision);
INSERT INTO wf.customers VALUES
  (1, 'ann', '1990-01-02', 12.50, true, '{a,b}', '{"k": 1}', '2024-01-01 10:00:00+00', '\x0102', 0.5),
  (2, 'bob', NULL, -3, false, '{}', 'null', NULL, NULL, 1e300),
  (3, 'cy é', '2000-02-29', 0, NULL, NULL, '[1, "x"]', '2024-02-03 04:05:06.789+00', '\xff', -0.25);
INSERT INTO wf.customers SELECT g, 'c' || g, NULL, g, g % 2 = 0, NULL, NULL, NULL, NULL, g
  FROM generate_series(4, 40) g;
CREATE TABLE wf.orders (id int PRIMARY KEY, customer_id int, total numeric(12,2), placed timestamp);
INSERT INTO wf.orders SELECT g, 1 + g % 15, g * 1.25, '2024-01-01 00:00:00'::timestamp + g * interval '1 hour'
  FROM generate_series(1, 30) g;
CREATE TABLE wf.notes (id int PRIMARY KEY, customer_id int, body text);
INSERT INTO wf.notes SELECT g, 1 + g % 7, 'note ' || g FROM generate_series(1, 20) g;
CREATE TABLE wf.events (id int PRIMARY KEY, kind text, at timestamptz);
INSERT INTO wf.events SELECT g, 'k' || g % 3, '2024-01-06 00:00:00+00'::timestamptz + g * interval '1 minute'
  FROM generate_series(1, 20) g;
SQL
pg_rc=$?
my_root "$MYSQL_DATABASE" >>setup.log 2>&1 <<'SQL'
DROP TABLE IF EXISTS wf_customers, wf_orders, wf_notes, wf_events;
CREATE TABLE wf_customers (id int PRIMARY KEY, name varchar(40), born date, score decimal(8,2),
  active tinyint(1), meta json, seen datetime(3), pic varbinary(8), ratio double, b bit(3), e enum('x','y'));
INSERT INTO wf_customers VALUES
  (1, 'ann', '1990-01-02', 12.50, 1, '{"k": 1}', '2024-01-01 10:00:00', x'0102', 0.5, b'101', 'x'),
  (2, 'bob', NULL, -3, 0, 'null', NULL, NULL, 1e300, NULL, NULL),
  (3, 'cy é', '2000-02-29', 0, NULL, '[1, "x"]', '2024-02-03 04:05:06.789', x'ff', -0.25, b'0', 'y');
INSERT INTO wf_customers (id, name, score, active, ratio)
  SELECT seq, concat('c', seq), seq, seq % 2, seq FROM seq_4_to_40;
CREATE TABLE wf_orders (id int PRIMARY KEY, customer_id int, total decimal(12,2), placed datetime);
INSERT INTO wf_orders SELECT seq, 1 + seq % 15, seq * 1.25, '2024-01-01 00:00:00' + INTERVAL seq HOUR FROM seq_1_to_30;
CREATE TABLE wf_notes (id int PRIMARY KEY, customer_id int, body text);
INSERT INTO wf_notes SELECT seq, 1 + seq % 7, concat('note ', seq) FROM seq_1_to_20;
CREATE TABLE wf_events (id int PRIMARY KEY, kind varchar(8), at datetime);
INSERT INTO wf_events SELECT seq, concat('k', seq % 3), '2024-01-06 00:00:00' + INTERVAL seq MINUTE FROM seq_1_to_20;
SQL
my_rc=$?
if [ "$pg_rc" = 0 ] && [ "$my_rc" = 0 ]; then ok "fixtures load"; else
    not_ok "fixtures load"; sed 's/^/#   /' setup.log | tail -10; fi

config() { # SERVICE SCHEMA-KEY PREFIX -> the config on stdout
    cat <<EOF
connectors:
  - connector_id: wf
    service_type: $1
    configuration:
      host: 127.0.0.1
      port: \${WF_PORT}
      username: \${WF_USER}
      password: \${WF_PASSWORD}
      database: \${WF_DB}
$2
      tables: [${3}customers, ${3}events]
      retry_count: 0
      fetch_size: 10
    mappings:
      ${3}customers:
        index: wf-customers
        id: "c-{{ id }}"
        fields: { name: { from: name, transform: [upper] } }
        relations:
          orders: { table: ${3}orders, on: { customer_id: id }, fields: { id: id, total: total, placed: placed }, order_by: id }
          notes: { table: ${3}notes, on: { customer_id: id }, fields: { body: body }, order_by: id, read: batch }
      ${3}events:
        index: wf-events
        incremental: { cursor: at, lag: 5s }
EOF
}
config postgresql "      schema: wf" "" >pg.yml
config mysql "" wf_ >my.yml

# one proxy per database for the whole suite; each run writes its faults to
# the control file and sends SIGHUP (tests/harness/wireproxy.py --control)
ALLP=()
trap 'proxy_stop' EXIT
WIRE_PIDS=ALLP
. "$SQL2ES_ROOT/tests/harness/wire.sh"

run() { # DB BIN OUT PROXY-ARGS... -> exit code; stderr in OUT.err
    local db=$1 bin=$2 out=$3 rc; shift 3
    proxy_faults "$@"
    printf 'wf\t%s\t1\t2024-01-06T00:10:00Z\n' "$( [ "$db" = pg ] && echo events || echo wf_events)" >state
    timeout 60 "$bin" sync -q --dry-run -c "$db.yml" --state-file ./state -o "$out" 2>"$out.err"
    rc=$?
    sleep 0.1 # the proxy writes its counts when the last connection ends
    return $rc
}

# points SIDE CAP: the cut points of the fault-free run's trace: the first 12
# messages, then each message whose kind, with the kinds before and after
# it, was not seen before (a new step of the conversation, not the 80th
# row), at most CAP of them spread evenly
points() {
    python3 - "$1" "$2" "$db.trace" <<'PY'
import sys
side, cap, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
kinds = [l.split()[2] for l in open(path) if l.split()[0] == side]
seen, pts = set(), []
for i, k in enumerate(kinds):
    ctx = (kinds[i - 1] if i else "", k, kinds[i + 1] if i + 1 < len(kinds) else "")
    if i < 12 or ctx not in seen:
        pts.append(i + 1)
    seen.add(ctx)
if len(pts) > cap:
    pts = [pts[round(j * (len(pts) - 1) / (cap - 1))] for j in range(cap)]
print(" ".join(map(str, sorted(set(pts)))))
PY
}
# walk DB BIN SIDE "N..." [--partial]: one run cut at each N
walk() {
    local db=$1 bin=$2 side=$3 pts=$4 extra=${5:-} bad=0 errs=0 oks=0 runs=0 n rc tag
    tag="$db $(basename "$(dirname "$bin")") $side${extra:+ $extra}"
    for n in $pts; do
        if [ "$side" = error ]; then run "$db" "$bin" out.ndjson --error-server "$n"
        else run "$db" "$bin" out.ndjson --cut-"$side" "$n" $extra; fi
        rc=$?
        runs=$((runs + 1))
        if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error|UndefinedBehavior' out.ndjson.err; then
            echo "#   $tag $n: sanitizer report"; sed 's/^/#     /' out.ndjson.err | head -20; bad=$((bad + 1))
        elif [ "$rc" -eq 0 ]; then
            if cmp -s out.ndjson "$db.base.ndjson"; then oks=$((oks + 1))
            else echo "#   $tag $n: exit 0 but the output differs"; bad=$((bad + 1)); fi
        elif [ "$rc" -eq 1 ] && grep -qiE "${WANT:-$LOSS}" out.ndjson.err; then
            errs=$((errs + 1))
        else
            echo "#   $tag $n: exit $rc"; sed 's/^/#     /' out.ndjson.err | head -8; bad=$((bad + 1))
        fi
    done
    echo "#   $tag: $runs cuts: $oks succeeded with the same output, $errs failed with a message"
    check "$tag: every fault ($runs) ends in the fault-free output or exit 1 naming it" test "$bad" = 0 -a "$runs" -gt 5
}
# what a lost connection's message says (libpq, Connector/C, and the driver's own words)
LOSS='server closed the connection|connection|lost|gone away|terminat|unexpected|EOF|Broken pipe|reset'

for db in pg my; do
    if [ "$db" = pg ]; then
        proxy_start pg "$PGPORT" --trace trace; export WF_USER=$PGUSER WF_PASSWORD=$PGPASSWORD WF_DB=$PGDATABASE
    else
        proxy_start mysql "$MYSQL_PORT" --trace trace; export WF_USER=$MYSQL_USER WF_PASSWORD=$MYSQL_PASSWORD WF_DB=$MYSQL_DATABASE
    fi
    run "$db" "$BIN" "$db.base.ndjson"
    rc=$?
    cp trace "$db.trace"
    srv=$(stat_of server_messages); cli=$(stat_of client_messages)
    check "$db: the fault-free run through the proxy succeeds with documents ($srv server, $cli client messages)" \
        eval '[ "$rc" = 0 ] && grep -q "\"c-3\"" "$db.base.ndjson" && grep -q "wf-events" "$db.base.ndjson" && [ "${srv:-0}" -gt 20 ]'
    [ "$rc" = 0 ] || sed 's/^/#   /' "$db.base.ndjson.err" | tail -5
    srv=${srv:-0}; cli=${cli:-0}
    sp=$(points server 24); cp=$(points client 12)
    echo "#   $db: server cut points: $sp"
    echo "#   $db: client cut points: $cp"
    walk "$db" "$BIN" server "$sp"
    walk "$db" "$BIN" server "$(points server 6)" --partial
    walk "$db" "$BIN" client "$cp"
    if [ "$db" = pg ]; then
        # a statement failing on a live connection: ErrorResponse for the
        # N-th server message, the rest of that Sync dropped
        WANT='injected error' walk "$db" "$BIN" error "$(points server 24)"
        if [ -n "$SAN" ]; then WANT='injected error' walk "$db" "$SAN" error "$(points server 12)"
        else not_ok "$db: sanitizer error walk: not built"; fi
    fi
    if [ -n "$SAN" ]; then
        walk "$db" "$SAN" server "$(points server 10)"
        walk "$db" "$SAN" client "$(points client 6)"
    else
        not_ok "$db: sanitizer server walk: ${SAN:-$SQL2ES_SAN_BIN} is not built (make SANITIZE=address,undefined)"
        not_ok "$db: sanitizer client walk: not built"
    fi
    proxy_stop
done
left=0
for p in "${ALLP[@]}"; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
check "the ${#ALLP[@]} proxies ended" test "$left" = 0 -a "${#ALLP[@]}" = 2
