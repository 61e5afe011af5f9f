#!/usr/bin/env bash
# 31-mariadb.sh - the MySQL/MariaDB source driver against a real MariaDB server
# (tests/harness/mariadb.sh): tests/integration/itest_mysql.c, plain and under
# the sanitizers. A missing binary or server is a failure.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
cd "$SQL2ES_ROOT"
need mariadb
run_itest() { # binary
    local bin=$1 rc
    if [ ! -x "$bin" ]; then not_ok "$bin is not built (make all unit; make SANITIZE=address,undefined all unit)"; return; fi
    "$bin"
    rc=$?
    if [ $rc -ne 0 ]; then echo "# $bin exited with $rc"; not_ok "$bin exit status"; fi
}
run_itest "$SQL2ES_BUILD/tests/itest_mysql"
run_itest "$SQL2ES_SAN_BUILD/tests/itest_mysql"
