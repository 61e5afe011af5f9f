#!/usr/bin/env bash
# 30-postgresql.sh - the PostgreSQL source driver against a real server:
# runs tests/integration/itest_postgresql (plain build and the sanitizer
# build; one that was not built fails) with the variables of the test server.
#   SQL2ES_BUILD, SQL2ES_SAN_BUILD   the plain and the sanitizer build
#                  directories (default: build, build/san).
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
need postgresql

ran=0
for bin in "$SQL2ES_BUILD/tests/itest_postgresql" "$SQL2ES_SAN_BUILD/tests/itest_postgresql"; do
    if [ ! -x "$bin" ]; then
        not_ok "${bin#"$SQL2ES_ROOT"/} is not built (make all unit; make SANITIZE=address,undefined all unit)"
        continue
    fi
    ran=$((ran + 1))
    echo "# $bin"
    "$bin"
    rc=$?
    [ $rc -eq 0 ] || echo "not ok - ${bin#"$SQL2ES_ROOT"/} exited with $rc"
done
[ $ran -gt 0 ] || not_ok "itest_postgresql is not built (make unit)"
