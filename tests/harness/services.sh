#!/usr/bin/env bash
# services.sh - start/stop the servers the tests need, once per test run.
#   services.sh start NAME   NAME: postgresql | mariadb | opensearch; idempotent.
#                            Prints the path of NAME.env (shell assignments).
#   services.sh stop         stop everything this run started, remove data.
# Each service has tests/harness/NAME.sh with `start DIR` (start in DIR, write
# DIR/NAME.env, exit non-zero with a clear message on failure) and `stop DIR`.
# State lives in $SQL2ES_TEST_TMP/services (a fresh temp dir per run).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
base=${SQL2ES_TEST_TMP:?SQL2ES_TEST_TMP not set}/services
mkdir -p "$base"
case ${1:-} in
start)
    name=${2:?service name}
    dir=$base/$name
    if [ -f "$dir/$name.env" ]; then echo "$dir/$name.env"; exit 0; fi
    mkdir -p "$dir"
    exec 9>"$base/$name.lock"
    flock 9
    if [ ! -f "$dir/$name.env" ]; then
        # fd 9 closed for the server: a daemon holding the lock would keep
        # every later start of the same service waiting for ever.
        bash "$here/$name.sh" start "$dir" 9>&- >&2 || { echo "services: could not start $name" >&2; exit 1; }
    fi
    echo "$dir/$name.env"
    ;;
stop)
    for d in "$base"/*/; do
        [ -d "$d" ] || continue
        n=$(basename "$d")
        bash "$here/$n.sh" stop "$d" >/dev/null 2>&1 || true
    done
    rm -rf "$base"
    ;;
*) echo "usage: services.sh start NAME | stop" >&2; exit 2 ;;
esac
