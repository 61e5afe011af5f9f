#!/usr/bin/env bash
# 53-dryrun-faults.sh - `sql2es sync --dry-run` when things go wrong, against the
# real PostgreSQL and MariaDB test servers and SQLite files:
#   wrong password           exit 1, a clear message, the password never shown
#   closed port              exit 1, quickly
#   a listed table missing   exit 1, the table named
#   a table dropped mid-run  the tables read before are complete, the dropped one
#                            is named, exit 1
#   connection killed        pg_terminate_backend / MariaDB KILL while 300k rows (and
#     mid-stream             50k parents with children) stream: reconnect, resume after the last key; every
#                            id exactly once, counts match, exit 0
# The run is held mid-stream by reading its output pipe slowly
# (tests/e2e/kill_reader.py), which then kills or drops. Plain binary and, for
# the kill tests, the sanitizer binary when built.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 35
need postgresql
need mariadb
export PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE
# the sessions of this suite carry their own name: the kills below leave
# the other suites' sessions (run beside this one) alone
export PGAPPNAME=sql2es-e2e53
export MYSQL_HOST MYSQL_PORT MYSQL_USER MYSQL_PASSWORD MYSQL_DATABASE
. "$SQL2ES_ROOT/tests/e2e/dryrun-lib.sh"
FIX=$E2E/faults
CLIENT=$(command -v mariadb || command -v mysql)
N=300000  # rows of the big tables
NP=50000  # parents (two children each) of the relation tables
NCK=300000  # rows of the tables with a three-column key (integer, text, microsecond timestamp)
pg_super() { env -u PGHOST -u PGPORT -u PGUSER -u PGPASSWORD -u PGDATABASE \
    "$PG_BINDIR/psql" -X -q -h "$PG_SUPERUSER_SOCKET" -p "$PGPORT" -U "$PG_SUPERUSER" -d "$PGDATABASE" "$@"; }
my_root() { env -u MYSQL_HOST -u MYSQL_PORT -u MYSQL_PWD "$CLIENT" --no-defaults -uroot --socket="$MYSQL_ROOT_SOCKET" "$@"; }
pg_fixture() {
    pg_super -v ON_ERROR_STOP=1 <<SQL
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS faults CASCADE;
CREATE SCHEMA faults AUTHORIZATION $PGUSER;
CREATE TABLE faults.big (id integer PRIMARY KEY, v text, n numeric(12,2));
INSERT INTO faults.big SELECT g, md5(g::text), g / 7.0 FROM generate_series(1, $N) g;
CREATE TABLE faults.second (id integer PRIMARY KEY, v text);
INSERT INTO faults.second VALUES (1, 'a');
ALTER TABLE faults.big OWNER TO $PGUSER;
ALTER TABLE faults.second OWNER TO $PGUSER;
ANALYZE faults.big;
CREATE TABLE faults.parents (id integer PRIMARY KEY, name text);
INSERT INTO faults.parents SELECT g, 'p' || g FROM generate_series(1, $NP) g;
CREATE TABLE faults.children (id integer PRIMARY KEY, parent_id integer);
INSERT INTO faults.children SELECT g, (g + 1) / 2 FROM generate_series(1, 2 * $NP) g;
CREATE INDEX ON faults.children (parent_id);
ALTER TABLE faults.parents OWNER TO $PGUSER;
ALTER TABLE faults.children OWNER TO $PGUSER;
ANALYZE faults.parents;
ANALYZE faults.children;
CREATE TABLE faults.ck (a integer, b text, t timestamptz, n integer NOT NULL, v text, PRIMARY KEY (a, b, t));
INSERT INTO faults.ck SELECT g / 4, 'k' || (g % 4 / 2), timestamptz '2024-01-01 00:00:00+00'
    + (g / 4) * interval '1 second' + (g % 2) * interval '1 microsecond', g, md5(g::text)
    FROM generate_series(1, $NCK) g;
ALTER TABLE faults.ck OWNER TO $PGUSER;
SQL
}
my_fixture() {
    my_root "$MYSQL_DATABASE" <<SQL
DROP TABLE IF EXISTS big, second;
CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(40), n DECIMAL(12,2));
INSERT INTO big SELECT seq, md5(seq), seq / 7 FROM seq_1_to_$N;
CREATE TABLE second (id INT PRIMARY KEY, v VARCHAR(5));
INSERT INTO second VALUES (1, 'a');
DROP TABLE IF EXISTS parents, children;
CREATE TABLE parents (id INT PRIMARY KEY, name VARCHAR(20));
INSERT INTO parents SELECT seq, CONCAT('p', seq) FROM seq_1_to_$NP;
CREATE TABLE children (id INT PRIMARY KEY, parent_id INT, KEY (parent_id));
INSERT INTO children SELECT seq, (seq + 1) DIV 2 FROM seq_1_to_$((2 * NP));
DROP TABLE IF EXISTS ck;
CREATE TABLE ck (a INT, b VARCHAR(10), t DATETIME(6), n INT NOT NULL, v VARCHAR(40), PRIMARY KEY (a, b, t));
INSERT INTO ck SELECT seq DIV 4, CONCAT('k', seq % 4 DIV 2), TIMESTAMP'2024-01-01 00:00:00'
    + INTERVAL (seq DIV 4) SECOND + INTERVAL (seq % 2) MICROSECOND, seq, md5(seq) FROM seq_1_to_$NCK;
SQL
}
if pg_fixture >"$W/setup.log" 2>&1 && my_fixture >>"$W/setup.log" 2>&1; then
    ok "fault fixtures ($N rows, $NP parents with two children each, in each database)"
else
    not_ok "fault fixtures"; sed 's/^/# /' "$W/setup.log"; exit 1
fi
closed_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bin=$SQL2ES_BIN

# timed TAG CONFIG [ARGS...]: like run, and SECS = wall seconds
timed() {
    local t0=$SECONDS
    run "$@"
    SECS=$((SECONDS - t0))
}
# failed NAME TAG MAX_SECS PATTERN [SECRET]: exit 1 within MAX_SECS, stderr matches PATTERN, no secret
failed() {
    local name=$1 tag=$2 max=$3 pat=$4 secret=${5:-}
    local why=""
    [ "$RC" -eq 1 ] || why="exit $RC, want 1; "
    [ "$SECS" -le "$max" ] || why="${why}took $SECS s (max $max); "
    grep -qiE "$pat" "$W/$tag.err" || why="${why}no message matching /$pat/; "
    if [ -n "$secret" ] && grep -qF "$secret" "$W/$tag.err"; then why="${why}the password is shown; "; fi
    if [ -z "$why" ]; then ok "$name"; else not_ok "$name"; echo "# $why"; sed 's/^/#   | /' "$W/$tag.err" | tail -8; fi
}

# ---- wrong password, closed port --------------------------------------------
for db in pg my; do
    bad=wrong-Secret-$RANDOM$RANDOM
    case $db in
    pg) (PGPASSWORD=$bad; export PGPASSWORD; timed pg-pass "$bin" "$FIX/pg-big.yml"; echo "$RC $SECS" >"$W/pg-pass.rc") ;;
    my) (MYSQL_PASSWORD=$bad; export MYSQL_PASSWORD; timed my-pass "$bin" "$FIX/my-big.yml"; echo "$RC $SECS" >"$W/my-pass.rc") ;;
    esac
    read -r RC SECS <"$W/$db-pass.rc"
    failed "$db: wrong password: exit 1, clear message, password not shown" $db-pass 10 \
        "password|auth|access denied" "$bad"
    case $db in
    pg) (PGPORT=$closed_port; export PGPORT; timed pg-port "$bin" "$FIX/pg-big.yml"; echo "$RC $SECS" >"$W/pg-port.rc") ;;
    my) (MYSQL_PORT=$closed_port; export MYSQL_PORT; timed my-port "$bin" "$FIX/my-big.yml"; echo "$RC $SECS" >"$W/my-port.rc") ;;
    esac
    read -r RC SECS <"$W/$db-port.rc"
    failed "$db: closed port: exit 1 quickly, the address named" $db-port 20 "$closed_port|refused|connect"
done

# ---- a listed table that does not exist --------------------------------------
(TABLES="big,nosuch"; export TABLES; timed pg-missing "$bin" "$FIX/pg-big.yml"; echo "$RC $SECS" >"$W/rc")
read -r RC SECS <"$W/rc"
failed "pg: a listed table that does not exist: exit 1, named" pg-missing 10 "nosuch"
(TABLES="nosuch"; export TABLES; timed my-missing "$bin" "$FIX/my-big.yml"; echo "$RC $SECS" >"$W/rc")
read -r RC SECS <"$W/rc"
failed "mysql: a listed table that does not exist: exit 1, named" my-missing 10 "nosuch"
cat >"$W/sqlite-missing.yml" <<'YML'
connectors:
  - connector_id: lite
    service_type: sqlite
    index_name: lite
    configuration:
      path: ./no-such-file.db
YML
timed lite-missing "$bin" "$W/sqlite-missing.yml"
failed "sqlite: a database file that does not exist: exit 1, named" lite-missing 10 "no-such-file"
[ -e "$W/no-such-file.db" ] && not_ok "sqlite: the missing file is not created" || ok "sqlite: the missing file is not created"

# ---- held mid-stream: kill the connection, or drop the next table --------------
# stream TAG BIN CONFIG CMD...: dry run to a pipe read by kill_reader.py, which runs CMD
# after 4 MB (about 40k of the 300k rows)
stream() {
    local tag=$1 b=$2 cfg=$3; shift 3
    "$b" sync --dry-run -c "$cfg" -o /dev/stdout 2>"$W/$tag.err" |
        python3 "$E2E/kill_reader.py" "$W/$tag.ndjson" 4000000 "$@" 2>"$W/$tag.kill"
    local st=("${PIPESTATUS[@]}")
    RC=${st[0]}
    KRC=${st[1]}
}
echo "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '$PGUSER' AND application_name = 'sql2es-e2e53' AND pid <> pg_backend_pid()" >"$W/pgkill.sql"
echo "SELECT CONCAT('KILL ', id, ';') FROM information_schema.processlist WHERE user = '$MYSQL_USER'" >"$W/mykill.sql"
cat >"$W/mykill.sh" <<SH
#!/bin/sh
env -u MYSQL_HOST -u MYSQL_PORT "$CLIENT" --no-defaults -uroot --socket="$MYSQL_ROOT_SOCKET" -N <"$W/mykill.sql" |
    env -u MYSQL_HOST -u MYSQL_PORT "$CLIENT" --no-defaults -uroot --socket="$MYSQL_ROOT_SOCKET"
SH
cat >"$W/pgkill.sh" <<SH
#!/bin/sh
env -u PGHOST -u PGUSER -u PGPASSWORD "$PG_BINDIR/psql" -X -q -tA -h "$PG_SUPERUSER_SOCKET" -p "$PGPORT" -U "$PG_SUPERUSER" -d postgres -f "$W/pgkill.sql" >/dev/null
SH
chmod +x "$W/mykill.sh" "$W/pgkill.sh"

# resumed NAME TAG: exit 0, every id once, counts match, the loss reported as a warning
resumed() {
    local name=$1 tag=$2 out
    if [ "$KRC" -ne 0 ]; then not_ok "$name: the stream was held and the connection killed"; sed 's/^/# /' "$W/$tag.kill"; return; fi
    if [ "$RC" -ne 0 ]; then not_ok "$name: exit 0 after reconnecting (got $RC)"; sed 's/^/#   | /' "$W/$tag.err" | tail -8; return; fi
    if out=$(python3 "$E2E/check_ids.py" "$W/$tag.ndjson" "$N"); then
        ok "$name: every id exactly once after the reconnect"
    else
        not_ok "$name: every id exactly once after the reconnect"; echo "$out"
    fi
    if out=$(python3 "$E2E/check_ndjson.py" "$W/$tag.ndjson" - --stderr "$W/$tag.err" \
        --summary rows_read=$N --summary documents=$N --summary errors=0); then
        ok "$name: summary counts $N rows read, $N documents"
    else
        not_ok "$name: summary counts $N rows read, $N documents"; echo "$out"
    fi
    if grep -qi "resum" "$W/$tag.err"; then ok "$name: the reconnect is reported"; else not_ok "$name: the reconnect is reported"; sed 's/^/#   | /' "$W/$tag.err" | tail -5; fi
    if grep -qE "^(error:|[0-9]+ errors?$)" "$W/$tag.err"; then
        not_ok "$name: a retried failure is not reported as an error"; grep -E "^(error:|[0-9]+ errors?$)" "$W/$tag.err" | sed 's/^/#   | /'
    else
        ok "$name: a retried failure is not reported as an error"
    fi
}
for b in "${bins[@]}"; do
    t=$(bin_tag "$b")
    stream "$t-pgkill" "$b" "$FIX/pg-big.yml" "$W/pgkill.sh"
    resumed "$t: pg_terminate_backend mid-stream" "$t-pgkill"
    stream "$t-mykill" "$b" "$FIX/my-big.yml" "$W/mykill.sh"
    resumed "$t: MariaDB KILL mid-stream" "$t-mykill"
done

# (each killed stream carries well over the loopback socket buffers after the
# kill, so the server cannot have sent everything before it)
# the connections killed while parents stream and their children are fetched in chunks
for db in pg my; do
    stream "$db-relkill" "$bin" "$FIX/$db-rel.yml" "$W/${db}kill.sh"
    why=""
    [ "$KRC" -eq 0 ] || why="the kill did not run; "
    [ "$RC" -eq 0 ] || why="${why}exit $RC, want 0; "
    out=$(python3 "$E2E/check_ids.py" "$W/$db-relkill.ndjson" "$NP" --kids) || why="${why}$out; "
    grep -qi "resum\|retry" "$W/$db-relkill.err" || why="${why}the reconnect is not reported; "
    if [ -z "$why" ]; then ok "$db: connection killed during relation chunks: every parent once, children exact"
    else not_ok "$db: connection killed during relation chunks: every parent once, children exact"; echo "# $why"; sed 's/^/#   | /' "$W/$db-relkill.err" | tail -8; fi
done

# a three-column key with microsecond timestamps: the resume predicate is a tuple
for db in pg my; do
    stream "$db-ckkill" "$bin" "$FIX/$db-ck.yml" "$W/${db}kill.sh"
    why=""
    [ "$KRC" -eq 0 ] || why="the kill did not run; "
    [ "$RC" -eq 0 ] || why="${why}exit $RC, want 0; "
    out=$(python3 "$E2E/check_ids.py" "$W/$db-ckkill.ndjson" "$NCK") || why="${why}$out; "
    grep -qi "resum" "$W/$db-ckkill.err" || why="${why}the reconnect is not reported; "
    if [ -z "$why" ]; then ok "$db: connection killed, composite key (int, text, timestamp(6)): every row once"
    else not_ok "$db: connection killed, composite key (int, text, timestamp(6)): every row once"; echo "# $why"; sed 's/^/#   | /' "$W/$db-ckkill.err" | tail -8; fi
done

# a table dropped while the one before it streams
# dropped NAME TAG: exit 1, the first table complete, the dropped one named
dropped() {
    local name=$1 tag=$2 out why=""
    [ "$KRC" -eq 0 ] || why="the drop did not run; "
    [ "$RC" -eq 1 ] || why="${why}exit $RC, want 1; "
    grep -q "second" "$W/$tag.err" || why="${why}the dropped table is not named; "
    out=$(python3 "$E2E/check_ids.py" "$W/$tag.ndjson" "$N") || why="${why}first table incomplete: $out; "
    if [ -z "$why" ]; then ok "$name"; else not_ok "$name"; echo "# $why"; sed 's/^/#   | /' "$W/$tag.err" | tail -8; fi
}
(TABLES="big,second"; export TABLES
 stream pg-drop "$bin" "$FIX/pg-big.yml" sh -c "$(printf '%q ' env -u PGHOST -u PGUSER -u PGPASSWORD "$PG_BINDIR/psql" -X -q -h "$PG_SUPERUSER_SOCKET" -p "$PGPORT" -U "$PG_SUPERUSER" -d "$PGDATABASE" -c "DROP TABLE faults.second")"
 echo "$RC $KRC" >"$W/rc")
read -r RC KRC <"$W/rc"
dropped "pg: a table dropped mid-run: exit 1, named, the table before it complete" pg-drop
(TABLES="big,second"; export TABLES
 stream my-drop "$bin" "$FIX/my-big.yml" sh -c "$(printf '%q ' env -u MYSQL_HOST -u MYSQL_PORT "$CLIENT" --no-defaults -uroot --socket="$MYSQL_ROOT_SOCKET" "$MYSQL_DATABASE" -e "DROP TABLE second")"
 echo "$RC $KRC" >"$W/rc")
read -r RC KRC <"$W/rc"
dropped "mysql: a table dropped mid-run: exit 1, named, the table before it complete" my-drop

# ---- through bench/latency_proxy.py ------------------------------------------
# proxy PORT_VAR UPSTREAM_PORT ARGS...: starts the proxy, sets PX_PORT and PX_PID
proxy() {
    local up=$1; shift
    python3 "$SQL2ES_ROOT/bench/latency_proxy.py" --upstream "127.0.0.1:$up" --max-seconds 300 \
        --stats "$W/px.json" "$@" >"$W/px.out" 2>&1 &
    PX_PID=$!
    PX_PORT=""
    for _ in $(seq 50); do
        PX_PORT=$(sed -n 's/^PROXY 127.0.0.1:\([0-9]*\)$/\1/p' "$W/px.out")
        [ -n "$PX_PORT" ] && break
        sleep 0.1
    done
}
# the connection reset (TCP RST) by the network in the middle of a result,
# parents and their chunks of children: reconnect, resume, every parent once
# with exactly its children
for db in pg my; do
    case $db in pg) up=$PGPORT ;; my) up=$MYSQL_PORT ;; esac
    proxy "$up" --rtt-ms 0 --reset-after-bytes 200000
    case $db in
    pg) (PGPORT=$PX_PORT; export PGPORT; run $db-reset "$bin" "$FIX/pg-rel.yml"; echo "$RC" >"$W/rc") ;;
    my) (MYSQL_PORT=$PX_PORT; export MYSQL_PORT; run $db-reset "$bin" "$FIX/my-rel.yml"; echo "$RC" >"$W/rc") ;;
    esac
    read -r RC <"$W/rc"
    kill "$PX_PID" 2>/dev/null; wait "$PX_PID" 2>/dev/null
    why=""
    [ "$RC" -eq 0 ] || why="exit $RC; "
    out=$(python3 "$E2E/check_ids.py" "$W/$db-reset.ndjson" "$NP" --kids) || why="${why}$out; "
    grep -qi "resum" "$W/$db-reset.err" || why="${why}the reconnect is not reported; "
    name="$db: connection reset by the network mid-result (parents and children): every parent once, children exact"
    if [ -z "$why" ]; then ok "$name"; else not_ok "$name"; echo "# $why"; sed 's/^/#   | /' "$W/$db-reset.err" | tail -8; fi
done
# 50 ms round trip: FETCHes are pipelined (one at a time, 20,000 rows in
# FETCHes of 50 would take 400 round trips = 20 s; 4,000 parents with their
# children 8 chunks of about 22 round trips = 8.8 s, plus the connections and
# catalog queries); the documents are those of the direct run
proxy "$PGPORT" --rtt-ms 50
run pg-direct "$bin" "$FIX/pg-big.yml" --limit 20000
(PGPORT=$PX_PORT; export PGPORT; timed pg-far "$bin" "$FIX/pg-big.yml" --limit 20000; echo "$RC $SECS" >"$W/rc")
read -r RC SECS <"$W/rc"
why=""
[ "$RC" -eq 0 ] || why="exit $RC; "
[ "$SECS" -le 6 ] || why="${why}took $SECS s; "
cmp -s "$W/pg-direct.ndjson" "$W/pg-far.ndjson" || why="${why}documents differ from the direct run; "
if [ -z "$why" ]; then ok "pg: 50 ms round trip: 20,000 rows in $SECS s (FETCHes pipelined), documents identical"
else not_ok "pg: 50 ms round trip: 20,000 rows, FETCHes pipelined"; echo "# $why"; fi
run pg-rdirect "$bin" "$FIX/pg-rel.yml" --limit 4000
(PGPORT=$PX_PORT; export PGPORT; timed pg-rfar "$bin" "$FIX/pg-rel.yml" --limit 4000; echo "$RC $SECS" >"$W/rc")
read -r RC SECS <"$W/rc"
kill "$PX_PID" 2>/dev/null; wait "$PX_PID" 2>/dev/null
why=""
[ "$RC" -eq 0 ] || why="exit $RC; "
[ "$SECS" -le 6 ] || why="${why}took $SECS s; "
cmp -s "$W/pg-rdirect.ndjson" "$W/pg-rfar.ndjson" || why="${why}documents differ from the direct run; "
if [ -z "$why" ]; then ok "pg: 50 ms round trip: 4,000 parents with children in $SECS s, documents identical"
else not_ok "pg: 50 ms round trip: 4,000 parents with children"; echo "# $why"; fi
