#!/usr/bin/env bash
# `validate --check-source` against real databases: tables, referenced
# columns, cursor columns and keys must exist; globs expand against the real
# table list; an unreachable database exits 1; a mismatch exits 2.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 24
bin=$SQL2ES_SAN_BIN
san_bin "$bin" || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- SQLite
sqlite3 "$tmp/s.db" "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, updated_at TEXT);
  CREATE TABLE invoice_2023 (id INTEGER PRIMARY KEY, amount NUMERIC);
  CREATE TABLE invoice_2024 (id INTEGER PRIMARY KEY, amount NUMERIC);
  CREATE TABLE nokey (a TEXT);"
cat > "$tmp/ok.yml" <<YML
connectors:
  - connector_id: s
    service_type: sqlite
    index_name: s
    configuration: { path: $tmp/s.db, tables: "customers,invoice_*" }
    mappings:
      customers:
        fields: { mail: { from: email, transform: [lower] } }
        incremental: { cursor: [updated_at, id] }
      "invoice_*":
        index: "inv-{{ \$table }}"
YML
out=$("$bin" validate -c "$tmp/ok.yml" --check-source 2>&1); rc=$?
check_eq "sqlite: valid config passes --check-source" "$rc" 0
check "sqlite: glob expanded to invoice_2023" grep -q "s/invoice_2023 -> inv-invoice_2023" <<<"$out"
check "sqlite: glob expanded to invoice_2024" grep -q "s/invoice_2024 -> inv-invoice_2024" <<<"$out"
check "sqlite: incremental table reported" grep -q "s/customers -> s: .*key (id).*incremental" <<<"$out"

# a table named with another case: did you mean, naming the real one
sed 's/tables: "customers,invoice_\*"/tables: "Customers,invoice_*"/; s/^      customers:/      Customers:/' "$tmp/ok.yml" > "$tmp/case.yml"
out=$("$bin" validate -c "$tmp/case.yml" --check-source 2>&1); rc=$?
check "sqlite: a table differing only in case: did you mean the real name" \
    sh -c 'test "$2" -ne 0 && printf "%s" "$1" | grep -q "Customers.* does not exist" && printf "%s" "$1" | grep -q "did you mean .customers.?"' _ "$out" "$rc"
[ $rc -ne 0 ] && printf "%s" "$out" | grep -q "did you mean 'customers'" || echo "$out" | sed 's/^/# /'
# the sides of a relation's `on` swapped (parent column: child column)
cat > "$tmp/swap.yml" <<YML
connectors:
  - connector_id: s
    service_type: sqlite
    index_name: s
    configuration: { path: $tmp/s.db, tables: [invoice_2024] }
    mappings:
      invoice_2024:
        relations:
          buyer: { table: customers, "on": { amount: id }, one: true }
YML
out=$("$bin" validate -c "$tmp/swap.yml" --check-source 2>&1); rc=$?
check "sqlite: swapped 'on' sides named as such" \
    sh -c 'test "$2" -eq 2 && printf "%s" "$1" | grep -q "sides of .on. are swapped" && printf "%s" "$1" | grep -q "write on: { id: amount }"' _ "$out" "$rc"
[ $rc -eq 2 ] || echo "$out" | sed 's/^/# /'

sed 's/from: email/from: emial/' "$tmp/ok.yml" > "$tmp/badcol.yml"
out=$("$bin" validate -c "$tmp/badcol.yml" --check-source 2>&1); rc=$?
check_eq "sqlite: unknown column exits 2" "$rc" 2
check "sqlite: unknown column named with its location" grep -qE "badcol.yml:[0-9]+:[0-9]+: error: .*emial" <<<"$out"
[ $rc -eq 2 ] || echo "$out" | sed 's/^/# /'

sed 's/cursor: \[updated_at, id\]/cursor: [changed_at, id]/' "$tmp/ok.yml" > "$tmp/badcur.yml"
out=$("$bin" validate -c "$tmp/badcur.yml" --check-source 2>&1); rc=$?
check_eq "sqlite: unknown cursor column exits 2" "$rc" 2
check "sqlite: cursor column named" grep -q "changed_at" <<<"$out"

sed 's/tables: "customers,invoice_\*"/tables: "customers,orders"/' "$tmp/ok.yml" > "$tmp/notable.yml"
out=$("$bin" validate -c "$tmp/notable.yml" --check-source 2>&1); rc=$?
check_eq "sqlite: missing table exits 2" "$rc" 2
check "sqlite: missing table named" grep -q "'orders'.*does not exist" <<<"$out"

sed 's|path: .*/s.db|path: '"$tmp"'/missing.db|' "$tmp/ok.yml" > "$tmp/nofile.yml"
out=$("$bin" validate -c "$tmp/nofile.yml" --check-source 2>&1); rc=$?
check_eq "sqlite: missing database file exits 1" "$rc" 1

sed 's/tables: "customers,invoice_\*"/tables: "nokey"/' "$tmp/ok.yml" > "$tmp/nokey.yml"
out=$("$bin" validate -c "$tmp/nokey.yml" --check-source 2>&1); rc=$?
check_eq "sqlite: table without key is a warning (exit 0)" "$rc" 0
check "sqlite: table without key warned" grep -q "warning: .*nokey.*primary key" <<<"$out"

# --- PostgreSQL
need postgresql
psql -q -v ON_ERROR_STOP=1 -c "SET client_min_messages=warning; DROP TABLE IF EXISTS cs_items; CREATE TABLE cs_items (id int PRIMARY KEY, name text, updated_at timestamptz);" >/dev/null
cat > "$tmp/pg.yml" <<YML
connectors:
  - connector_id: p
    service_type: postgresql
    index_name: p
    configuration: { host: $PGHOST, port: $PGPORT, username: $PGUSER, password: "\${PGPASSWORD}", database: $PGDATABASE, tables: [cs_items] }
    mappings:
      cs_items:
        fields: { title: name }
        incremental: { cursor: [updated_at, id] }
YML
out=$("$bin" validate -c "$tmp/pg.yml" --check-source 2>&1); rc=$?
check_eq "postgresql: valid config passes --check-source" "$rc" 0
check "postgresql: key and estimate reported" grep -q "p/cs_items -> p: 3 columns, key (id)" <<<"$out"
out=$(PGPASSWORD=wrong-secret-xyz "$bin" validate -c "$tmp/pg.yml" --check-source 2>&1); rc=$?
check_eq "postgresql: wrong password exits 1" "$rc" 1
check "postgresql: error does not print the password" bash -c '! grep -q wrong-secret-xyz <<<"$1"' _ "$out"
sed "s/port: $PGPORT/port: 1/" "$tmp/pg.yml" > "$tmp/pgdown.yml"
out=$(timeout 60 "$bin" validate -c "$tmp/pgdown.yml" --check-source 2>&1); rc=$?
check_eq "postgresql: unreachable server exits 1" "$rc" 1

# a relation's table named with another case (PostgreSQL compares quoted
# names with their case): did you mean, naming the real one
psql -q -v ON_ERROR_STOP=1 -c "SET client_min_messages=warning; DROP TABLE IF EXISTS cs_notes; CREATE TABLE cs_notes (id int PRIMARY KEY, item_id int, body text);" >/dev/null
cat > "$tmp/pgrel.yml" <<YML
connectors:
  - connector_id: p
    service_type: postgresql
    index_name: p
    configuration: { host: $PGHOST, port: $PGPORT, username: $PGUSER, password: "\${PGPASSWORD}", database: $PGDATABASE, tables: [cs_items] }
    mappings:
      cs_items:
        relations:
          notes: { table: CS_Notes, on: { item_id: id } }
YML
out=$("$bin" validate -c "$tmp/pgrel.yml" --check-source 2>&1); rc=$?
check "postgresql: a relation's table differing only in case: did you mean the real name" \
    sh -c 'test "$2" -ne 0 && printf "%s" "$1" | grep -q "relation .notes.: table .CS_Notes. does not exist" && printf "%s" "$1" | grep -q "did you mean .cs_notes.?"' _ "$out" "$rc"
[ $rc -ne 0 ] && printf "%s" "$out" | grep -q "did you mean 'cs_notes'" || echo "$out" | sed 's/^/# /'

# --- MariaDB
need mariadb
mariadb -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" -p"$MYSQL_PASSWORD" "$MYSQL_DATABASE" \
    -e "DROP TABLE IF EXISTS cs_items; CREATE TABLE cs_items (id INT PRIMARY KEY, name VARCHAR(20));"
cat > "$tmp/my.yml" <<YML
connectors:
  - connector_id: m
    service_type: mysql
    index_name: m
    configuration: { host: $MYSQL_HOST, port: $MYSQL_PORT, username: $MYSQL_USER, password: "\${MYSQL_PASSWORD}", database: $MYSQL_DATABASE, tables: "cs_*" }
    mappings:
      cs_items: { fields: { title: nme } }
YML
out=$("$bin" validate -c "$tmp/my.yml" --check-source 2>&1); rc=$?
check_eq "mariadb: unknown column exits 2" "$rc" 2
check "mariadb: did-you-mean for the column" grep -q "nme" <<<"$out"
sed 's/title: nme/title: name/' "$tmp/my.yml" > "$tmp/my2.yml"
out=$("$bin" validate -c "$tmp/my2.yml" --check-source 2>&1); rc=$?
check_eq "mariadb: valid config passes --check-source" "$rc" 0
