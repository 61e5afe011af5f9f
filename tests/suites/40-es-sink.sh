#!/usr/bin/env bash
# 40-es-sink.sh - the Elasticsearch side (sinks/es_*.c) against the real
# OpenSearch node: runs tests/integration/itest_es.c (plain build and the
# sanitizer build) with fault-injecting proxies
# (tests/harness/faultproxy.py) in front of the node: 429 or 503 on 40% of
# _bulk requests, item-level 429 rejections, connection resets (before and
# after forwarding), a required ApiKey header, 503 to everything (retries
# counted), every item rejected, items answered with another operation or
# _id, an endless scroll, the banner of another product; and a listener that
# never answers (timeouts). Then checks the proxies' counters and that no key
# reached their logs. A missing binary, proxy or listener is a failure, not a
# skip.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 19
need opensearch

root=$SQL2ES_ROOT
tmp=$SQL2ES_TEST_TMP/es-sink
mkdir -p "$tmp"
key="sk-$RANDOM$RANDOM-test"
pids=()
cleanup() { local p; for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

# start_proxy NAME ARGS...: start a proxy, export its URL as the variable NAME.
start_proxy() {
    local name=$1 out=$tmp/$1.out i url=
    rm -f "$out"
    shift
    python3 "$root/tests/harness/faultproxy.py" --upstream "$ES_URL" --log "$tmp/$name.log" \
        --max-seconds 900 "$@" >"$out" 2>"$tmp/$name.err" &
    pids+=($!)
    for i in $(seq 1 300); do
        url=$(sed -n 's/^PROXY //p' "$out" 2>/dev/null)
        [ -n "$url" ] && break
        sleep 0.1
    done
    if [ -z "$url" ]; then
        not_ok "fault proxy $name started"
        sed 's/^/#   /' "$tmp/$name.err"
        return 1
    fi
    export "$name=$url"
}

start_proxy PROXY_429 --rate-429 0.3 --fail-503 0.1 --seed 429
start_proxy PROXY_ITEMS --item-reject 0.2 --item-reject-limit 4 --seed 7
start_proxy PROXY_RESET --reset 0.15 --reset-after 0.15 --seed 11
start_proxy PROXY_AUTH --require-header "Authorization: ApiKey $key"
start_proxy PROXY_503ALL --fail-503 1.0 --fault-paths '.'
start_proxy PROXY_REJECTALL --item-reject 1.0
start_proxy PROXY_SWAPOP --swap-op 0.04 --seed 41
start_proxy PROXY_SWAPID --swap-id 0.04 --seed 42
start_proxy PROXY_SCROLL --endless-scroll
start_proxy PROXY_IMPOSTOR --banner '{"name":"n","cluster_name":"c","version":{"number":"8.13.0","build_flavor":"default"},"tagline":"You Know, for Search"}'
start_proxy PROXY_COUNT
start_proxy PROXY_503BULK --fail-503 1.0
export PROXY_AUTH_KEY=$key ITEST_TMP=$tmp

# A listener that accepts connections and never answers (request timeouts).
rm -f "$tmp/blackhole.out"
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
print("PORT %d" % s.getsockname()[1], flush=True)
conns = []
deadline = time.time() + 900
while time.time() < deadline:
    s.settimeout(1.0)
    try:
        conns.append(s.accept()[0])
    except socket.timeout:
        pass
' >"$tmp/blackhole.out" &
pids+=($!)
port=
for i in $(seq 1 300); do
    port=$(sed -n 's/^PORT //p' "$tmp/blackhole.out")
    [ -n "$port" ] && break
    sleep 0.1
done
# no port: BLACKHOLE_URL stays unset and itest_es reports it (never a
# refused port standing in for a listener that does not answer)
[ -n "$port" ] && export BLACKHOLE_URL=http://127.0.0.1:$port

run_bin() { # LABEL BINARY
    local label=$1 bin=$2
    if [ ! -x "$bin" ]; then
        not_ok "$label: $bin is not built (make all unit; make SANITIZE=address,undefined all unit)"
        return
    fi
    "$bin" 2>&1 | sed -E "s/^(not )?ok - /&$label: /"
    local rc=${PIPESTATUS[0]}
    [ "$rc" -eq 0 ] || not_ok "$label: itest_es exited with $rc"
}

stats() { curl -s --max-time 10 "$1/_faultproxy/stats"; }
jget() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2" 2>/dev/null; }

# ---- the sql2es binary: the plan runs as printed (issue 8.2), each wait printed (9.14)
bin=${SQL2ES_BIN:-$root/build/sql2es}
python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("DROP TABLE IF EXISTS t")
db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
db.executemany("INSERT INTO t VALUES (?, ?)", [(i, "v%d" % i) for i in range(1, 21)])
db.commit()' "$tmp/src.db"
# cli_config FILE HOST ES_EXTRA: a SQLite connector writing to HOST
cli_config() {
    cat >"$1" <<EOF
elasticsearch:
  host: $2
  ssl: false
$3
connectors:
  - connector_id: es40
    service_type: sqlite
    index_name: es40-cli
    configuration: { path: $tmp/src.db, tables: t }
EOF
}
cli_config "$tmp/r0.yml" "$PROXY_503BULK" "  max_retries: 0
  bulk: { dead_letter_file: $tmp/r0-dead.ndjson }"
"$bin" plan -c "$tmp/r0.yml" >"$tmp/r0.plan" 2>&1
check "plan prints max_retries=0" grep -q ' max_retries=0 ' "$tmp/r0.plan"
b0=$(jget "$(stats "$PROXY_503BULK")" bulk_requests)
timeout 120 "$bin" sync -c "$tmp/r0.yml" >"$tmp/r0.out" 2>&1
rc=$?
b1=$(jget "$(stats "$PROXY_503BULK")" bulk_requests)
check_eq "sync with max_retries: 0 against _bulk answering 503: exit 1, exactly one _bulk request" \
    "$rc/$(( ${b1:-0} - ${b0:-0} ))" "1/1"
check "... the message names the 503" grep -q '503' "$tmp/r0.out"

# a port nobody listens on (bound, then closed)
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
cli_config "$tmp/w.yml" "http://es-user:pw-0451@127.0.0.1:$closed" "  max_wait_duration: 2
  initial_backoff_duration: 0.25
  backoff_multiplier: 2"
timeout 60 "$bin" sync -c "$tmp/w.yml" >"$tmp/w.out" 2>&1
rc=$?
check_eq "cluster down: exit 1" "$rc" 1
check_eq "cluster down: each wait printed (0.25, 0.5, 1 s, then the rest)" \
    "$(grep -c "^sql2es: waiting for http://127.0.0.1:$closed: connection refused, retry [1-4] in " "$tmp/w.out")" 4
check "cluster down: the first wait as configured" grep -q 'retry 1 in 0.25 s$' "$tmp/w.out"
check "cluster down: 'not ready after 2 s (5 attempts' agrees with max_wait_duration" \
    grep -q 'not ready after 2 s (5 attempts' "$tmp/w.out"
check "cluster down: no credentials printed" bash -c "! grep -q -e pw-0451 -e es-user '$tmp/w.out'"
sed 's/^/#   /' "$tmp/w.out"

run_bin plain "${ITEST_ES_BIN:-$SQL2ES_BUILD/tests/itest_es}"
run_bin sanitizers "$SQL2ES_SAN_BUILD/tests/itest_es"

# The proxies saw the faults they were asked for, and never a key in their logs.
n429=$(jget "$(stats "$PROXY_429")" 429)
check "proxy answered 429 to some _bulk requests (got ${n429:-none})" test "${n429:-0}" -gt 0
nrej=$(jget "$(stats "$PROXY_ITEMS")" rejected_items)
check "proxy rejected items (got ${nrej:-none})" test "${nrej:-0}" -gt 0
nrst=$(jget "$(stats "$PROXY_RESET")" reset)
check "proxy reset connections (got ${nrst:-none})" test "${nrst:-0}" -gt 0
nrsa=$(jget "$(stats "$PROXY_RESET")" reset_after)
check "proxy reset connections after forwarding (got ${nrsa:-none})" test "${nrsa:-0}" -gt 0
n401=$(jget "$(stats "$PROXY_AUTH")" 401)
check "auth proxy refused the wrong key (got ${n401:-none})" test "${n401:-0}" -gt 0
check "the api key never appears in a proxy log" \
    bash -c "! grep -rqF -e '$key' -e 'wrong-key-0451' '$tmp'/*.log"
check "the auth proxy logged the ApiKey scheme with the key masked" \
    grep -qF 'ApiKey ****' "$tmp/PROXY_AUTH.log"
nsw=$(jget "$(stats "$PROXY_SWAPOP")" swapped_ops)
check "proxy answered items with another operation (got ${nsw:-none})" test "${nsw:-0}" -gt 0
nsi=$(jget "$(stats "$PROXY_SWAPID")" swapped_ids)
check "proxy answered items with another _id (got ${nsi:-none})" test "${nsi:-0}" -gt 0
nsp=$(jget "$(stats "$PROXY_SCROLL")" scroll_pages)
check "proxy served endless scroll pages (got ${nsp:-none})" test "${nsp:-0}" -gt 0
nbn=$(jget "$(stats "$PROXY_IMPOSTOR")" banners)
check "proxy answered GET / as another product (got ${nbn:-none})" test "${nbn:-0}" -gt 0
