#!/usr/bin/env bash
# demo.sh - `make demo`: build the quickstart SQLite database, start a local
# OpenSearch node (or use $ES_HOST), sync, show counts and a sample search,
# stop the node. Run from the repository root (make demo does).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/build/sql2es
work=$(mktemp -d "${TMPDIR:-/tmp}/sql2es-demo.XXXXXX")
started=""
cleanup() {
    if [ -n "$started" ]; then
        echo "== stopping the local node"
        bash "$root/tests/harness/opensearch.sh" down >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== creating the quickstart database (SQLite)"
cp "$root/examples/quickstart/config.yml" "$work/config.yml"
sqlite3 "$work/quickstart.db" < "$root/examples/quickstart/seed.sql"
sqlite3 "$work/quickstart.db" "SELECT 'tables: ' || group_concat(name, ', ') FROM sqlite_master WHERE type='table';"

if [ -z "${ES_HOST:-}" ]; then
    echo "== starting a local OpenSearch node (first run builds it with Maven: a few minutes)"
    ES_HOST=$(bash "$root/tests/harness/opensearch.sh" up | tail -n 1)
    started=1
fi
export ES_HOST
echo "== search node: $ES_HOST"

echo "== validate"
(cd "$work" && "$bin" validate -c config.yml)
echo "== sync"
(cd "$work" && "$bin" sync -c config.yml)

echo "== what is in the index"
curl -fsS "$ES_HOST/_cat/indices/search-*?v&h=index,docs.count"
idx=$(curl -fsS "$ES_HOST/_cat/indices/search-*?h=index" | head -n 1 | tr -d ' ')
curl -fsS -XPOST "$ES_HOST/$idx/_refresh" >/dev/null
echo "== a sample search: GET $idx/_search?size=2"
curl -fsS "$ES_HOST/$idx/_search?size=2&pretty"
echo "== demo done"
