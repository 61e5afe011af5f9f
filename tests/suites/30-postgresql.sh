#!/usr/bin/env bash
# 30-postgresql.sh - the PostgreSQL source driver against a real server:
# runs tests/integration/itest_postgresql (plain build and, when built, the
# sanitizer build) with the variables of the test server.
#   SQL2ES_BUILD   build directory (default: build); its san/ subdirectory
#                  holds the sanitizer build.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
need postgresql

build=${SQL2ES_BUILD:-$SQL2ES_ROOT/build}
case $build in /*) ;; *) build=$SQL2ES_ROOT/$build ;; esac
ran=0
for bin in "$build/tests/itest_postgresql" "$build/san/tests/itest_postgresql"; do
    [ -x "$bin" ] || continue
    ran=$((ran + 1))
    echo "# $bin"
    "$bin"
    rc=$?
    [ $rc -eq 0 ] || echo "not ok - ${bin#"$SQL2ES_ROOT"/} exited with $rc"
done
[ $ran -gt 0 ] || not_ok "itest_postgresql is not built (make unit)"
