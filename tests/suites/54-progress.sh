#!/usr/bin/env bash
# Progress on stderr: plain lines when stderr is not a terminal (periodic and
# final), a live bar with rows/s and ETA (from the row estimate) on a terminal.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 9
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sqlite3 "$tmp/p.db" >/dev/null <<'SQL'
PRAGMA journal_mode=OFF;
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, n INTEGER);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1500000)
INSERT INTO items SELECT i, 'name ' || i, i % 97 FROM s;
ANALYZE;
SQL
cat > "$tmp/p.yml" <<YML
elasticsearch.bulk.display_every: 1000
connectors:
  - connector_id: prog
    service_type: sqlite
    index_name: prog
    configuration: { path: $tmp/p.db }
YML
"$SQL2ES_BIN" sync -c "$tmp/p.yml" --dry-run -o /dev/null 2>"$tmp/plain.err"
check_eq "dry run exits 0" "$?" 0
check "plain mode: a final line with rows, documents and rows/s" \
    grep -qE '^prog/items: 1500000 rows, 1500000 documents, [0-9]+ rows/s \(done\)$' "$tmp/plain.err"
check "plain mode: no terminal control characters" sh -c "! grep -q \$(printf '\\r') '$tmp/plain.err'"
check "summary line counts rows, documents, warnings, errors" \
    grep -qE '^sql2es: dry run done: 1 tables, 1500000 rows read, 1500000 documents, 0 deletes, 0 filtered, 0 warnings, 0 errors' "$tmp/plain.err"
"$SQL2ES_BIN" sync -q -c "$tmp/p.yml" --dry-run -o /dev/null 2>"$tmp/quiet.err"
check_eq "-q prints the summary, no progress" \
    "$(wc -l <"$tmp/quiet.err")/$(grep -c '^sql2es: dry run done: ' "$tmp/quiet.err")" "1/1"

# a terminal: script(1) gives the program a pseudo-terminal on stderr
script -qfec "$SQL2ES_BIN sync -c $tmp/p.yml --dry-run -o /dev/null" "$tmp/tty.out" >/dev/null 2>&1
check_eq "tty run exits 0" "$?" 0
check "tty mode: live redraws with carriage returns" grep -q $'\r' "$tmp/tty.out"
check "tty mode: rows/s and an ETA from the row estimate" grep -qE 'rows/s ETA [0-9]{2}:[0-9]{2}' "$tmp/tty.out"
check "tty mode: bar filled from the estimate at the end" grep -qE '\[#{30}\] +1500000 rows' "$tmp/tty.out"
