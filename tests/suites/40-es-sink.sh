#!/usr/bin/env bash
# 40-es-sink.sh - the Elasticsearch side (sinks/es_*.c) against the real
# OpenSearch node: runs tests/integration/itest_es.c (plain build, and the
# sanitizer build when it exists) with fault-injecting proxies
# (tests/harness/faultproxy.py) in front of the node: 429 or 503 on 40% of
# _bulk requests, item-level 429 rejections, connection resets (before and
# after forwarding), a required ApiKey header; and a listener that never
# answers (timeouts). Then checks the proxies' counters and that no key
# reached their logs. A missing binary or proxy is a failure, not a skip.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
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
    for i in $(seq 1 100); do
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
start_proxy PROXY_ITEMS --item-reject 0.2 --seed 7
start_proxy PROXY_RESET --reset 0.15 --reset-after 0.15 --seed 11
start_proxy PROXY_AUTH --require-header "Authorization: ApiKey $key"
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
for i in $(seq 1 50); do
    port=$(sed -n 's/^PORT //p' "$tmp/blackhole.out")
    [ -n "$port" ] && break
    sleep 0.1
done
export BLACKHOLE_URL=http://127.0.0.1:${port:-1}

run_bin() { # LABEL BINARY
    local label=$1 bin=$2
    if [ ! -x "$bin" ]; then
        not_ok "$label: $bin is built (make unit)"
        return
    fi
    "$bin" 2>&1 | sed -E "s/^(not )?ok - /&$label: /"
    local rc=${PIPESTATUS[0]}
    [ "$rc" -eq 0 ] || not_ok "$label: itest_es exited with $rc"
}

run_bin plain "${ITEST_ES_BIN:-$root/build/tests/itest_es}"
san=$root/build/san/tests/itest_es
if [ -x "$san" ]; then
    run_bin sanitizers "$san"
fi

# The proxies saw the faults they were asked for, and never a key in their logs.
stats() { curl -s --max-time 10 "$1/_faultproxy/stats"; }
jget() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2" 2>/dev/null; }
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
