#!/usr/bin/env bash
# 57-wire-follow.sh - `sql2es sync --follow` reading a replication stream
# that is corrupted on the wire (tests/harness/wireproxy.py --corrupt): a
# pgoutput message inside XLogData (PostgreSQL logical replication: a
# Relation, Insert, Update, Delete, Commit message cut short by a few bytes,
# a Relation message turned into another kind, an Insert's tuple marker
# changed; the table has an enum column, looked up on a second connection),
# or the connection cut while a follow starts and streams (MariaDB). For each fault a follow is started through the proxy, a
# change is made, and the follow must name the bad message (or the lost
# connection) and either stop with exit 1 or start a new session - never
# crash or hang; then a follow without faults catches up and the index
# holds every change (the database's own rows, checked by a dry run;
# tests/harness/compare_dryrun.py): nothing acknowledged past the bad
# message was lost.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 16
need opensearch
need postgresql
need mariadb
E2E_TMP=$SQL2ES_TEST_TMP/wire-follow
rm -rf "$E2E_TMP"; mkdir -p "$E2E_TMP"
. "$SQL2ES_ROOT/tests/e2e-sync/lib.sh"
cd "$E2E_TMP" || exit 1
abs() { case $1 in /*) echo "$1" ;; *) echo "$SQL2ES_ROOT/$1" ;; esac; }
BIN=$(abs "$SQL2ES_BIN")
[ -x "$BIN" ] || { not_ok "sql2es is built ($BIN)"; exit 1; }
COMPARE="$SQL2ES_ROOT/tests/harness/compare_dryrun.py"
IX=e2e57
es_drop "$IX-pg" "$IX-my"
psql() { "$PG_BINDIR/psql" -X -q "$@"; }
my() { MYSQL_PWD=$MYSQL_PASSWORD mariadb --no-defaults -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" "$MYSQL_DATABASE" "$@"; }

psql -v ON_ERROR_STOP=1 >fixture.log 2>&1 <<'EOF'
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'sql2es_wfp';
DROP PUBLICATION IF EXISTS sql2es_wfp;
DROP TABLE IF EXISTS wfl_items;
DROP TYPE IF EXISTS wfl_kind;
CREATE TYPE wfl_kind AS ENUM ('a', 'b');
CREATE TABLE wfl_items (id int PRIMARY KEY, name text, n numeric(8,2), at timestamptz,
  kind wfl_kind NOT NULL DEFAULT 'b');
INSERT INTO wfl_items SELECT g, 'i' || g, g * 1.5, '2024-01-01 00:00:00+00' FROM generate_series(1, 5) g;
EOF
pg_rc=$?
my >>fixture.log 2>&1 <<'EOF'
DROP TABLE IF EXISTS wfl_items;
CREATE TABLE wfl_items (id int PRIMARY KEY, name varchar(40), n decimal(8,2), at datetime);
INSERT INTO wfl_items SELECT seq, CONCAT('i', seq), seq * 1.5, '2024-01-01 00:00:00' FROM seq_1_to_5;
EOF
my_rc=$?
check "fixtures load" test "$pg_rc" = 0 -a "$my_rc" = 0 || sed 's/^/#   /' fixture.log | tail -5

config() { # SERVICE INDEX CONNECTOR-ID -> stdout
    cat <<EOF
elasticsearch:
  host: $ES_URL
  max_wait_duration: 10
  initial_backoff_duration: 0.2
  retry_interval: 0.2
connectors:
  - connector_id: $3
    service_type: $1
    index_name: $IX-$2
    configuration:
      host: 127.0.0.1
      port: \${WF_PORT}
      username: \${WF_USER}
      password: \${WF_PASSWORD}
      database: \${WF_DB}
      tables: [wfl_items]
      retry_count: 0
    mappings:
      wfl_items: { id: "i-{{ id }}" }
EOF
}
config postgresql pg wfp >pg.yml
config mysql my wfm >my.yml

. "$SQL2ES_ROOT/tests/harness/wire.sh"
FPID=
follow_start() { # NAME CONFIG
    "$BIN" sync -c "$2" --follow >"$1.out" 2>&1 &
    FPID=$!; E2E_PIDS+=("$FPID")
}
# follow_stop: SIGTERM; the exit code in FRC (the one it ended with when it
# had stopped by itself)
follow_stop() {
    kill -TERM "$FPID" 2>/dev/null
    local i
    for i in $(seq 1 100); do kill -0 "$FPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$FPID" 2>/dev/null
    wait "$FPID"; FRC=$?
}
wait_for() { # SECONDS CMD...: until CMD succeeds
    local i
    for i in $(seq 1 $(($1 * 5))); do "${@:2}" 2>/dev/null && return 0; sleep 0.2; done
    "${@:2}"
}
following() { grep -q "following\|error" "$1.out"; }
# caught_up CONFIG: the index equals a dry run of the database
caught_up() {
    "$BIN" sync -c "$1" --dry-run -q -o cu.ndjson >cu.out 2>&1 &&
        python3 "$COMPARE" "$ES_URL" cu.ndjson cu --index "$(sed -n 's/^    index_name: //p' "$1")" >/dev/null
}
compare() { # DB CONFIG NAME: the index against a dry run of the database
    "$BIN" sync -c "$2" --dry-run -q -o "$3.ndjson" >"$3.dry.out" 2>&1
    python3 "$COMPARE" "$ES_URL" "$3.ndjson" "$3" --index "$IX-$1" >"$3.cmp" 2>&1 ||
        { sed 's/^/#   /' "$3.cmp" | tail -8; return 1; }
}
# a fault case: CONFIG NAME WANT-REGEX CHANGE-SQL PROXY-FAULTS...
# the follow through the proxy with the fault armed, one change, then: the
# message named, no crash (a sanitizer report, a signal), stopped by itself
# with exit 1 or still running (a new session)
fault_case() {
    local cfg=$1 name=$2 want=$3 change=$4; shift 4
    proxy_faults "$@"
    follow_start "$name" "$cfg"
    wait_for 30 following "$name" >/dev/null
    $CHANGE "$change" >>change.log 2>&1
    wait_for 20 grep -qE "$want" "$name.out" >/dev/null
    sleep 0.5
    follow_stop
    local bad=
    grep -qE "$want" "$name.out" || bad="no message matching /$want/"
    grep -qE 'AddressSanitizer|runtime error|Segmentation|Aborted' "$name.out" && bad="a crash"
    [ "$FRC" -gt 1 ] && [ "$FRC" != 143 ] && bad="exit $FRC"
    if [ -z "$bad" ]; then ok "$name: the bad message named (exit $FRC)"
    else not_ok "$name: $bad (exit $FRC)"; sed 's/^/#   /' "$name.out" | tail -12; fi
    # the change read again without faults before the next case
    proxy_faults
    follow_start "$name-after" "$cfg"
    wait_for 30 grep -q "following" "$name-after.out"
    wait_for 20 caught_up "$cfg"
    follow_stop
}

# initial_read DB: a follow through the proxy indexes the 5 fixture rows
initial_read() {
    follow_start "$1-initial" "$1.yml"
    wait_for 60 following "$1-initial" >/dev/null
    wait_for 30 test "$(es_count "$IX-$1")" = 5
    check "$1: the initial read through the proxy indexes the 5 rows" test "$(es_count "$IX-$1")" = 5
    follow_stop
}
# final_read DB ROWS: without faults, a follow then holds every change
final_read() {
    proxy_faults
    follow_start "$1-final" "$1.yml"
    wait_for 60 test "$(es_count "$IX-$1")" = "$2" >/dev/null
    sleep 1
    check "$1: a follow without faults then holds every change ($2 rows, as a dry run writes them)" \
        compare "$1" "$1.yml" "$1-final"
    follow_stop
    proxy_stop
}

# ---- PostgreSQL: pgoutput messages in XLogData ---------------------------
export WF_USER=$PGUSER WF_PASSWORD=$PGPASSWORD WF_DB=$PGDATABASE
proxy_start pg "$PGPORT"
CHANGE=psql_c; psql_c() { psql -v ON_ERROR_STOP=1 -c "$1"; }
initial_read pg
# a transaction of a new session: Begin, Type (the enum), Relation, the
# change, Commit (1 to 5)
fault_case pg.yml pg-relation "malformed replication message \('R'" \
    "INSERT INTO wfl_items VALUES (6, 'i6', 9, now())" --corrupt 3:trunc:3
fault_case pg.yml pg-insert "malformed replication message \('I'" \
    "INSERT INTO wfl_items VALUES (7, 'i7', 10.5, now())" --corrupt 4:trunc:2
fault_case pg.yml pg-update "malformed replication message \('U'" \
    "UPDATE wfl_items SET name = 'u1', n = NULL WHERE id = 1" --corrupt 4:trunc:4
fault_case pg.yml pg-delete "malformed replication message \('D'" \
    "DELETE FROM wfl_items WHERE id = 2" --corrupt 4:trunc:1
fault_case pg.yml pg-commit "malformed replication message \('C'" \
    "INSERT INTO wfl_items VALUES (8, 'i8', 1, now())" --corrupt 5:trunc:12
# the Relation message's type byte changed to Origin (skipped): the Insert
# names a relation the stream never described
fault_case pg.yml pg-norel "a change of a relation the stream did not describe" \
    "INSERT INTO wfl_items VALUES (9, 'i9', 2, now(), 'a')" --corrupt 3:byte:0:0x4f
# the Insert's new-tuple marker ('N') changed
fault_case pg.yml pg-marker "malformed replication message \('I'" \
    "INSERT INTO wfl_items VALUES (10, 'i10', 3, now())" --corrupt 4:byte:5:0x58
final_read pg 9

# ---- MariaDB: binlog events ----------------------------------------------
export WF_USER=$MYSQL_USER WF_PASSWORD=$MYSQL_PASSWORD WF_DB=$MYSQL_DATABASE
# no position left from an earlier run (the MariaDB "slot" is the position sql2es keeps)
WF_PORT=$MYSQL_PORT "$BIN" sync -c my.yml --follow --drop-slot >drop.out 2>&1
proxy_start mysql "$MYSQL_PORT"
CHANGE=my_c; my_c() { my -e "$1"; }
initial_read my
# the connection cut while the follow starts (catalog, position) and while
# it streams (the server's 40th message: the binlog dump)
fault_case my.yml my-rows "Lost connection|gone away" \
    "INSERT INTO wfl_items VALUES (7, 'i7', 10.5, NOW())" --cut-server 40
fault_case my.yml my-cut "Lost connection|gone away" \
    "UPDATE wfl_items SET name = 'u1', n = NULL WHERE id = 1" --cut-server 12
# the first binlog event of the stream (the server's ROTATE naming the file)
# with a byte of the file name changed: its checksum no longer matches, the
# event is named and not applied (the saved position keeps the right file)
fault_case my.yml my-crc "fails its checksum" \
    "UPDATE wfl_items SET name = 'u2' WHERE id = 1" --corrupt 1:byte:27:0x21
final_read my 6
check "no follow left running" eval '! kill -0 "$FPID" 2>/dev/null'
