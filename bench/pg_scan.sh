#!/usr/bin/env bash
# pg_scan.sh - times a raw PostgreSQL driver scan of N narrow rows
# (id int8, v int4, name text, ts timestamptz) at several fetch sizes, against
# a throwaway server from tests/harness/postgresql.sh. Prints "# bench:" lines.
#   bench/pg_scan.sh [ROWS]      default 1000000; needs build/tests/itest_postgresql
#   SQL2ES_BUILD=dir             build directory (default build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rows=${1:-1000000}
build=${SQL2ES_BUILD:-$root/build}
case $build in /*) ;; *) build=$root/$build ;; esac
bin=$build/tests/itest_postgresql
[ -x "$bin" ] || { echo "pg_scan.sh: $bin not built (make unit)" >&2; exit 1; }
export SQL2ES_TEST_TMP
SQL2ES_TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sql2es-bench.XXXXXX")
trap 'bash "$root/tests/harness/services.sh" stop >/dev/null 2>&1; rm -rf "$SQL2ES_TEST_TMP"' EXIT
envf=$(bash "$root/tests/harness/services.sh" start postgresql)
set -a; . "$envf"; set +a
SQL2ES_PG_BENCH_ROWS=$rows "$bin" | grep -E '^# (bench|stream)'
