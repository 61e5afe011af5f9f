#!/usr/bin/env bash
# 52-dryrun-sqlite.sh - `sql2es sync --dry-run` end to end on SQLite files: the
# dynamic-type matrix (invalid UTF-8 in TEXT replaced and counted, +/-Infinity
# as null and counted) in connectors-compatible default documents, and the
# examples/quickstart configuration run from a copy in a temporary directory
# against a database made from its seed.sql (expected documents computed by
# tests/e2e/sqlite/quickstart_expected.py from the seed, independently of
# sql2es). Plain binary and, when built, the sanitizer binary.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 11
. "$SQL2ES_ROOT/tests/e2e/dryrun-lib.sh"
FIX=$E2E/sqlite
mkdb() { # DB SQLFILE (python3's own sqlite3: no CLI needed)
    rm -f "$1"
    python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(open(sys.argv[2], encoding="utf-8").read()); c.commit()' "$1" "$2"
}
if mkdb "$W/types.db" "$FIX/types.sql" 2>"$W/setup.log" && mkdir -p "$W/qs" &&
   cp "$SQL2ES_ROOT/examples/quickstart/config.yml" "$W/qs/config.yml" &&
   mkdb "$W/qs/quickstart.db" "$SQL2ES_ROOT/examples/quickstart/seed.sql" 2>>"$W/setup.log" &&
   python3 "$FIX/quickstart_expected.py" "$SQL2ES_ROOT/examples/quickstart/seed.sql" "$W/qs-want.ndjson" 2>>"$W/setup.log"; then
    ok "sqlite fixtures"
else
    not_ok "sqlite fixtures"; sed 's/^/# /' "$W/setup.log"; exit 1
fi
cp "$FIX/compat.yml" "$W/compat.yml"

for bin in "${bins[@]}"; do
    b=$(bin_tag "$bin")
    (cd "$W" && run "$b-compat" "$bin" compat.yml && exit "$RC"); RC=$?
    # warnings: 2 infinities + at least one per invalid TEXT value (3), at most one per bad byte (5),
    # + a DATE that is no date and a BOOLEAN 2 (nulled: their mapping cannot hold them)
    expect "$b: dynamic-type matrix, invalid UTF-8, connectors-compatible documents" "$b-compat" \
        "$FIX/compat.expected.ndjson" --summary tables=2 --summary rows_read=7 --summary documents=7 \
        --summary warnings=7..9 --summary errors=0 --summary tables_skipped=1

    (cd "$W/qs" && run "$b-qs" "$bin" config.yml && exit "$RC"); RC=$?
    expect "$b: examples/quickstart (mappings, relations, transforms, omit_nulls)" "$b-qs" \
        "$W/qs-want.ndjson" --summary tables=2 --summary rows_read=32 --summary documents=32 \
        --summary warnings=0 --summary errors=0
done

bin=$SQL2ES_BIN
(cd "$W/qs" && run qs-orders "$bin" config.yml --table orders --limit 3 && exit "$RC"); RC=$?
pick "$W/qs-want.ndjson" "$W/want-orders.ndjson" order-101 order-102 order-103
expect "quickstart --table orders --limit 3" qs-orders "$W/want-orders.ndjson" --summary tables=1 --summary rows_read=3

# the output is byte-identical from one run to the next, apart from _timestamp
(cd "$W/qs" && run qs-again "$bin" config.yml && exit "$RC"); RC=$?
check_eq "quickstart: a second run writes the same body" \
    "$(sed 's/"_timestamp":"[^"]*"//' "$W/qs-again.ndjson" | md5sum)" \
    "$(sed 's/"_timestamp":"[^"]*"//' "$W/$(bin_tag "${bins[0]}")-qs.ndjson" | md5sum)"

# the database is opened read-only: a dry run does not modify it
sum1=$(md5sum <"$W/qs/quickstart.db")
(cd "$W/qs" && "$bin" sync --dry-run -q -c config.yml -o /dev/null)
check_eq "quickstart: the database file is not modified" "$(md5sum <"$W/qs/quickstart.db")" "$sum1"

# a basic rule on a relation's field cannot match (rules see the table's own
# fields): the document is kept and a warning points at the rule
mkdir -p "$W/relrule"
sqlite3 "$W/relrule/r.db" "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INT, status TEXT);
INSERT INTO customers VALUES (1, 'a'); INSERT INTO orders VALUES (1, 1, 'x');"
cat >"$W/relrule/config.yml" <<'YML'
connectors:
  - connector_id: c1
    service_type: sqlite
    configuration: { path: ./r.db, tables: [customers] }
    sync_rules:
      basic:
        - { field: orders.status, rule: equals, value: "x", policy: exclude, order: 1 }
        - { field: _, rule: regex, value: ".*", policy: include, order: 2 }
    mappings:
      customers:
        relations:
          orders: { table: orders, on: { customer_id: id }, fields: { status: status } }
YML
out=$(cd "$W/relrule" && "$bin" sync --dry-run -q -c config.yml 2>&1 >/dev/null)
check "a rule on a relation field: the warning names the rule's line and the relation" \
    grep -q "config.yml:7:11: warning: .*rule on field 'orders.status' never matches: 'orders' is a relation" <<<"$out"
check_eq "... and the document is kept" \
    "$(cd "$W/relrule" && "$bin" sync --dry-run -q -c config.yml 2>/dev/null | grep -c '"_id":"customers_1"')" 1

# many-to-many through a link table and {{ album.title }} from a many-to-one
# object (tests/e2e/through.sql; the same documents from every database)
if mkdb "$W/music.db" "$E2E/through.sql" 2>>"$W/setup.log"; then
    cp "$FIX/through.yml" "$W/through.yml" # its path: is relative to the config file
    (cd "$W" && run through "$SQL2ES_BIN" through.yml && exit "$RC"); RC=$?
    expect "through: playlists of a track, tracks of a playlist (link order), template into album" \
        through "$E2E/through.expected.ndjson" --summary tables=2 --summary rows_read=9 \
        --summary documents=9 --summary errors=0
else
    not_ok "through fixture"; sed 's/^/# /' "$W/setup.log"
fi
