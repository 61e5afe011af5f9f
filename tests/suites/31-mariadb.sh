#!/usr/bin/env bash
# 31-mariadb.sh - the MySQL/MariaDB source driver against a real MariaDB server
# (tests/harness/mariadb.sh): tests/integration/itest_mysql.c, plain and, when
# built, under the sanitizers. A missing binary or server is a failure.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
cd "$SQL2ES_ROOT"
need mariadb
BUILD_DIR=${SQL2ES_BUILD:-build}
run_itest() { # binary
    local bin=$1 rc
    if [ ! -x "$bin" ]; then not_ok "$bin is built (make unit)"; return; fi
    "$bin"
    rc=$?
    if [ $rc -ne 0 ]; then echo "# $bin exited with $rc"; not_ok "$bin exit status"; fi
}
run_itest "$BUILD_DIR/tests/itest_mysql"
if [ -x "$BUILD_DIR/san/tests/itest_mysql" ]; then
    run_itest "$BUILD_DIR/san/tests/itest_mysql"
fi
