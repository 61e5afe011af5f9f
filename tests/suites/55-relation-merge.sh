#!/usr/bin/env bash
# 55-relation-merge.sh - relations read by merge (one ordered scan of the
# child table merged with the table's scan) against the same relations read
# in `IN (...)` batches (`read: batch`), on real PostgreSQL, MariaDB and
# SQLite: the dry-run output must be byte-identical. The data
# (tests/e2e/merge/gen.py) has scattered and clustered children, parents
# without children, NULL keys, orphans, many children per key, a composite
# key, a relation on the leading key column alone (groups across chunk
# boundaries), a nested relation under a merged one and a text-keyed relation
# (batches whatever `read` says), over several chunks of 500 parents; also
# with a `where` on the parents and with --limit. Plain binary and, when
# built, the sanitizer binary.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 27
need postgresql
need mariadb
export PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE MYSQL_HOST MYSQL_PORT MYSQL_USER MYSQL_PASSWORD MYSQL_DATABASE
. "$SQL2ES_ROOT/tests/e2e/dryrun-lib.sh"
GEN=$E2E/merge/gen.py
CLIENT=$(command -v mariadb || command -v mysql)
root_sql() { env -u MYSQL_HOST -u MYSQL_PORT -u MYSQL_PWD "$CLIENT" --no-defaults -uroot --socket="$MYSQL_ROOT_SOCKET" "$@"; }

load() { # DB DIR
    case $1 in
    postgresql) "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -f "$2/data.sql" ;;
    mariadb) root_sql "$MYSQL_DATABASE" <"$2/data.sql" ;;
    sqlite) python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(open(sys.argv[2]).read()); c.commit()' "$2/merge.db" "$2/data.sql" ;;
    esac
}
# children COUNTS_OF NDJSON KEY: the number of nested objects under KEY in all documents
children() {
    python3 - "$1" "$2" <<'PY'
import json, sys
n = 0
for i, l in enumerate(open(sys.argv[1])):
    if i % 2:
        v = json.loads(l).get(sys.argv[2])
        n += len(v) if isinstance(v, list) else 0
print(n)
PY
}
sql_count() { # DB QUERY
    case $1 in
    postgresql) "$PG_BINDIR/psql" -X -At -c "$2" ;;
    mariadb) root_sql -N "$MYSQL_DATABASE" -e "$2" ;;
    sqlite) python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$W/sqlite/merge.db" "$2" ;;
    esac
}

for db in postgresql mariadb sqlite; do
    D=$W/$db
    if python3 "$GEN" "$db" "$D" && load "$db" "$D" >"$D/setup.log" 2>&1; then
        ok "$db: merge fixtures load"
    else
        not_ok "$db: merge fixtures load"; sed 's/^/# /' "$D/setup.log" | tail -5; continue
    fi
    for bin in "${bins[@]}"; do
        b=$(bin_tag "$bin")
        for v in "" -where; do
            (cd "$D" && run "$db-$b-merge$v" "$bin" "merge$v.yml" && exit "$RC"); em=$?
            (cd "$D" && run "$db-$b-batch$v" "$bin" "batch$v.yml" && exit "$RC"); eb=$?
            check "$db, $b${v:+, where on the parents}: merged relations write what IN batches write (exit $em/$eb)" \
                eval '[ "$em" = 0 ] && [ "$eb" = 0 ] && [ -s "$W/$db-$b-merge$v.ndjson" ] &&
                      cmp "$W/$db-$b-merge$v.ndjson" "$W/$db-$b-batch$v.ndjson"'
        done
        (cd "$D" && run "$db-$b-lm" "$bin" merge.yml --limit 777 && exit "$RC"); em=$?
        (cd "$D" && run "$db-$b-lb" "$bin" batch.yml --limit 777 && exit "$RC"); eb=$?
        check "$db, $b, --limit 777: the same" \
            eval '[ "$em" = 0 ] && [ "$eb" = 0 ] && cmp "$W/$db-$b-lm.ndjson" "$W/$db-$b-lb.ndjson"'
    done
    # the relations that can merge do (-v says how each is read)
    notes=$(cd "$D" && "$SQL2ES_BIN" sync --dry-run -v -c merge.yml -o /dev/null 2>&1 | grep -c "is read by merge")
    batched=$(cd "$D" && "$SQL2ES_BIN" sync --dry-run -v -c merge.yml -o /dev/null 2>&1 |
              grep -c "relation 'bycode' is read in IN batches of parents: its parent columns are not")
    check_eq "$db: five relations read by merge, the text-keyed one in batches" "$notes/$batched" "5/1"
    # independently of sql2es: every child of a parent is nested once
    first=$W/$db-$(bin_tag "${bins[0]}")-merge.ndjson
    got="$(children "$first" scattered)/$(children "$first" bya)"
    want="$(sql_count "$db" "SELECT count(*) FROM cs JOIN p ON cs.pid = p.id")/$(sql_count "$db" "SELECT count(*) FROM qc JOIN q ON qc.qa = q.a")"
    check_eq "$db: nested children counted by SQL (scattered / by leading key)" "$got" "$want"
done
