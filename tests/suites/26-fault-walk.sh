#!/usr/bin/env bash
# 26-fault-walk.sh - the fault hook (SQL2ES_FAULT, base/fault.h) walked over
# a whole small sync under the sanitizer build: a SQLite file with a
# relation and an incremental table, written with --dry-run. For every N,
# the N-th driver call and the N-th allocation fail in turn; each run must
# end in success with the exact output of the fault-free run, or in exit 1
# with a message - never a crash, a sanitizer report (leaks included) or a
# hang. No server needed.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 7
BIN=${SQL2ES_SAN_BIN:-}
if [ ! -x "$BIN" ]; then not_ok "sanitizer build present ($BIN; make SANITIZE=address,undefined)"; exit 0; fi
T=$SQL2ES_TEST_TMP/fault-walk
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1

sqlite3 walk.db <<'SQL'
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, updated TEXT);
INSERT INTO customers VALUES (1, 'ann', '2024-01-01 00:00:00'), (2, 'bob', '2024-01-02 00:00:00'),
  (3, 'cy', '2024-01-03 00:00:00'), (4, 'dee', NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, total REAL);
INSERT INTO orders VALUES (10, 1, 9.5), (11, 1, 3.25), (12, 3, 100);
CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT, at TEXT);
INSERT INTO events VALUES (1, 'a', '2024-01-06T01:02:03Z'), (2, 'b', '2024-01-06T01:02:04Z');
SQL
cat >walk.yml <<'EOF2'
connectors:
  - connector_id: walk
    service_type: sqlite
    configuration: { path: ./walk.db, tables: [customers, events], retry_count: 0 }
    mappings:
      customers:
        index: walk-customers
        id: "c-{{ id }}"
        fields: { name: { from: name, transform: [upper] } }
        relations:
          orders: { table: orders, on: { customer_id: id }, fields: { id: id, total: total }, order_by: id }
      events:
        index: walk-events
        incremental: { cursor: at, lag: 5s }
EOF2
printf 'walk\tevents\t1\t2024-01-06T01:02:04Z\n' >state.base

CFG=walk.yml
run() { # FAULT OUT -> exit code; stderr in $OUT.err
    cp state.base state
    SQL2ES_FAULT=$1 timeout 60 "$BIN" sync -q --dry-run -c $CFG --state-file ./state -o "$2" 2>"$2.err"
}

run count base.ndjson
rc=$?
check_eq "the fault-free run succeeds" "$rc" 0
check "the fault-free run writes documents" grep -q '"c-1"' base.ndjson
counts=$(sed -n 's/^sql2es: fault counts: //p' base.ndjson.err)
drv=$(echo "$counts" | sed -n 's/.*driver=\([0-9]*\).*/\1/p')
alloc=$(echo "$counts" | sed -n 's/.*alloc=\([0-9]*\).*/\1/p')
check "the run counts its driver calls and allocations ($counts)" test "${drv:-0}" -gt 5 -a "${alloc:-0}" -gt 5

walk() { # KIND COUNT [ROUNDS-OF-PALLOC]: with a third word, N goes over 1..palloc+1 again and again
    local kind=$1 n=$2 bad=0 errs=0 oks=0 f
    for ((i = 1; i <= n + 1; i++)); do
        f=$i
        [ -n "${3:-}" ] && f=$(( (i - 1) % (palloc + 1) + 1 ))
        run "$kind:$f" out.ndjson
        rc=$?
        if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error|UndefinedBehavior' out.ndjson.err; then
            echo "#   $kind:$f: sanitizer report"; sed 's/^/#     /' out.ndjson.err | head -15; bad=$((bad + 1))
        elif [ "$rc" -eq 0 ]; then
            if cmp -s out.ndjson base.ndjson; then oks=$((oks + 1))
            else echo "#   $kind:$f: exit 0 but the output differs"; bad=$((bad + 1)); fi
        elif { [ "$rc" -eq 1 ] && [ -s out.ndjson.err ]; } || { [ "$rc" -eq 2 ] && grep -q "out of memory" out.ndjson.err; }; then
            errs=$((errs + 1))
        else
            echo "#   $kind:$f: exit $rc"; sed 's/^/#     /' out.ndjson.err | head -8; bad=$((bad + 1))
        fi
    done
    echo "#   $kind: $((n + 1)) runs: $oks succeeded with the same output, $errs failed cleanly"
    check_eq "every $kind fault (1..$((n + 1))) ends in success or a clean error" "$bad" 0
}
walk driver "$drv"
walk alloc "$alloc"

# Two tables read at once (an ordered pool: the second table's documents
# wait in memory until the first is written), every allocation failing in
# turn, three times over (the workers' timing moves which allocation is the
# queue's growth): a length queued without its document made the writer
# read past the queue.
sqlite3 pool.db <<'SQL'
CREATE TABLE pa (id INTEGER PRIMARY KEY, t TEXT);
CREATE TABLE pb (id INTEGER PRIMARY KEY, t TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
INSERT INTO pa SELECT i, printf('%0*d', 40 + i % 90, i) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120)
INSERT INTO pb SELECT i, printf('%0*d', 200 + i, i) FROM n;
SQL
cat >pool.yml <<'EOF2'
connectors:
  - connector_id: pool
    service_type: sqlite
    max_concurrent_tables: 2
    configuration: { path: ./pool.db, tables: [pa, pb], retry_count: 0 }
    mappings:
      pa: { index: walk-pool }
      pb: { index: walk-pool }
EOF2
CFG=pool.yml
run count base.ndjson
palloc=$(sed -n 's/^sql2es: fault counts: .*alloc=\([0-9]*\).*/\1/p' base.ndjson.err)
check "two tables at once: the fault-free run writes both (${palloc:-?} allocations)" \
    eval '[ "$(grep -c "walk-pool" base.ndjson)" = 420 ] && [ "${palloc:-0}" -gt 5 ]'
walk alloc "$((3 * ${palloc:-0} + 2))" pool
