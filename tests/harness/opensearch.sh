#!/usr/bin/env bash
# opensearch.sh - the real search engine for tests and the demo: one OpenSearch
# 2.19 node embedded in a JVM (tests/opensearch, built with Maven), on loopback.
# Test infrastructure only; the engine talks to it over HTTP like to any cluster.
#   opensearch.sh start DIR   build if needed, start a node with its data under
#                             DIR, wait until ready, write DIR/opensearch.env
#                             (ES_URL, OPENSEARCH_PID, OPENSEARCH_LOG).
#                             Used by tests/harness/services.sh.
#   opensearch.sh stop DIR    SIGTERM, up to 30 s, then SIGKILL; remove data.
#   opensearch.sh up          `make opensearch-up`: print $ES_HOST if set, else
#                             start a node in a fresh temp dir (state in
#                             build/opensearch/) and print its URL as last line.
#   opensearch.sh down        `make opensearch-down`: stop that node, remove data.
#   opensearch.sh build       only build the Java program.
# Environment: ES_JAVA_HEAP (default 512m; e.g. 1g for benchmarks),
# OPENSEARCH_JAVA_OPTS (JVM options; default: serial GC and the C1 compiler
# only, which halves the start-up CPU on a small machine, unless ES_JAVA_HEAP
# is set, which selects G1 and the full JIT for benchmarks),
# OPENSEARCH_MAX_SECONDS (the node of `start` exits by itself after that long,
# default 14400; 0 = never), OPENSEARCH_START_TIMEOUT (default 240 s),
# OPENSEARCH_HTTP_PORT (default 0: a free port) and OPENSEARCH_KEEP_DATA=1
# (`start` keeps the data of a node stopped before in DIR: a restart).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
proj=$root/tests/opensearch
state_dir=$root/build/opensearch
state_file=$state_dir/state

die() { echo "opensearch: $*" >&2; exit 1; }

# build: compile TestNode and copy its jars, unless already done and up to date.
# Offline first (fast, no network once ~/.m2 is filled), online otherwise.
build() {
    command -v java >/dev/null || die "java not found (run tools/install-deps.sh)"
    mkdir -p "$proj/target"
    exec 8>"$proj/target/.build.lock"
    flock 8
    local stamp=$proj/target/.built
    if [ -d "$proj/target/classes" ] && [ -d "$proj/target/dependency" ] && [ -f "$stamp" ] &&
       [ -z "$(find "$proj/pom.xml" "$proj/src" -newer "$stamp" -print -quit)" ]; then
        exec 8>&-
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found (run tools/install-deps.sh)"
    local log=$proj/target/build.log
    echo "opensearch: building the test node (Maven; the first build downloads ~60 MB)" >&2
    if ! (cd "$proj" && mvn -q -B -o package -DskipTests) >"$log" 2>&1; then
        if ! (cd "$proj" && mvn -q -B package -DskipTests) >"$log" 2>&1; then
            tail -40 "$log" >&2
            die "Maven build failed (log: $log)"
        fi
    fi
    touch "$stamp"
    exec 8>&-
}

# is_ours PID DIR: PID is alive and is the TestNode whose home is under DIR.
is_ours() {
    local pid=$1 dir=$2 cmd
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    case $cmd in *org.sql2es.testnode.TestNode*"--home $dir/node"*) return 0 ;; esac
    return 1
}

# start DIR [MAX_SECONDS]
start() {
    local dir max pid log out started deadline url
    dir=$(mkdir -p "$1" && cd "$1" && pwd)
    max=${2:-${OPENSEARCH_MAX_SECONDS:-14400}}
    build
    if [ -f "$dir/opensearch.pid" ] && is_ours "$(cat "$dir/opensearch.pid")" "$dir"; then
        die "a node is already running in $dir (pid $(cat "$dir/opensearch.pid"))"
    fi
    rm -f "$dir/opensearch.env"
    [ "${OPENSEARCH_KEEP_DATA:-0}" = 1 ] || rm -rf "$dir/node"
    mkdir -p "$dir/node"
    log=$dir/opensearch.log
    out=$dir/opensearch.out
    : >"$out"
    local heap=${ES_JAVA_HEAP:-512m} jopts
    if [ -n "${OPENSEARCH_JAVA_OPTS:-}" ]; then
        jopts=$OPENSEARCH_JAVA_OPTS
    elif [ -n "${ES_JAVA_HEAP:-}" ]; then
        jopts="-XX:+UseG1GC"
    else
        jopts="-XX:+UseSerialGC -XX:TieredStopAtLevel=1"
    fi
    # setsid: its own session, so a terminal's Ctrl-C or hangup does not reach it.
    # Close inherited descriptors 3-9 (callers' flock files) so the node holds no lock.
    # shellcheck disable=SC2086 # jopts is a list of options
    (cd "$dir" && exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- && exec setsid java "-Xms$heap" "-Xmx$heap" $jopts -XX:+ExitOnOutOfMemoryError -XX:-UsePerfData \
        -Djava.awt.headless=true -Dfile.encoding=UTF-8 \
        -cp "$proj/target/classes:$proj/target/dependency/*" org.sql2es.testnode.TestNode \
        --home "$dir/node" --http-port "${OPENSEARCH_HTTP_PORT:-0}" --max-seconds "$max" \
        </dev/null >"$out" 2>"$log") &
    pid=$!
    echo "$pid" >"$dir/opensearch.pid"
    started=$SECONDS
    deadline=$((started + ${OPENSEARCH_START_TIMEOUT:-240}))
    url=
    while [ $SECONDS -lt $deadline ]; do
        url=$(sed -n 's/^READY \(http:[^ ]*\)$/\1/p' "$out" | head -1)
        [ -n "$url" ] && break
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "opensearch: the node exited before it was ready; last log lines:" >&2
            tail -30 "$log" >&2
            exit 1
        fi
        sleep 0.3
    done
    if [ -z "$url" ]; then
        echo "opensearch: not ready after ${OPENSEARCH_START_TIMEOUT:-240} s; last log lines:" >&2
        tail -30 "$log" >&2
        stop "$dir" || true
        exit 1
    fi
    is_ours "$pid" "$dir" || die "pid $pid is not the test node (unexpected)"
    {
        echo "ES_URL=$url"
        echo "OPENSEARCH_PID=$pid"
        echo "OPENSEARCH_LOG=$log"
    } >"$dir/opensearch.env.tmp"
    mv "$dir/opensearch.env.tmp" "$dir/opensearch.env"
    echo "opensearch: node ready at $url (pid $pid, heap $heap, $((SECONDS - started)) s, log $log)" >&2
}

stop() {
    local dir=$1 pid i
    [ -d "$dir" ] || return 0
    dir=$(cd "$dir" && pwd)
    pid=$(cat "$dir/opensearch.pid" 2>/dev/null || true)
    if is_ours "$pid" "$dir"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 300; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "opensearch: pid $pid still running after 30 s, killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -rf "$dir/node" "$dir/opensearch.env" "$dir/opensearch.pid"
}

up() {
    if [ -n "${ES_HOST:-}" ]; then
        echo "$ES_HOST"
        return 0
    fi
    mkdir -p "$state_dir"
    exec 7>"$state_dir/lock"
    flock 7
    local dir
    if [ -f "$state_file" ]; then
        dir=$(cat "$state_file")
        if [ -f "$dir/opensearch.env" ] && is_ours "$(cat "$dir/opensearch.pid" 2>/dev/null)" "$dir"; then
            echo "opensearch: already running (stop with make opensearch-down)" >&2
            sed -n 's/^ES_URL=//p' "$dir/opensearch.env"
            return 0
        fi
        stop "$dir" || true
        rm -rf "$dir" "$state_file"
    fi
    dir=$(mktemp -d "${TMPDIR:-/tmp}/sql2es-opensearch.XXXXXX")
    echo "$dir" >"$state_file"
    if ! OPENSEARCH_MAX_SECONDS=0 bash "$here/opensearch.sh" start "$dir"; then
        rm -rf "$dir" "$state_file"
        exit 1
    fi
    echo "opensearch: stop it with make opensearch-down" >&2
    sed -n 's/^ES_URL=//p' "$dir/opensearch.env"
}

down() {
    if [ ! -f "$state_file" ]; then
        echo "opensearch: no node started by opensearch-up" >&2
        return 0
    fi
    local dir
    dir=$(cat "$state_file")
    stop "$dir"
    rm -rf "$dir" "$state_file"
    echo "opensearch: stopped" >&2
}

case ${1:-} in
start) start "${2:?usage: opensearch.sh start DIR}" ;;
stop) stop "${2:?usage: opensearch.sh stop DIR}" ;;
up) up ;;
down) down ;;
build) build ;;
*) echo "usage: opensearch.sh start DIR | stop DIR | up | down | build" >&2; exit 2 ;;
esac
