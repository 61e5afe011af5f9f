#!/usr/bin/env bash
# 11-faultproxy.sh - checks the fault-injecting proxy (tests/harness/faultproxy.py)
# in front of the real OpenSearch test node: pass-through, seeded 429 fraction,
# 503 and connection resets, per-item rejection rewriting of _bulk replies,
# the required authentication header, gzip + chunked bodies, the masked JSON
# log and the self-imposed time limit. Test infrastructure for the bulk sink.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 27
need opensearch

work=$(mktemp -d "$SQL2ES_TEST_TMP/faultproxy.XXXXXX")
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT

# start_proxy NAME ARGS...: starts a proxy in front of the node; sets PROXY_URL, PROXY_PID.
start_proxy() {
    local name=$1 i; shift
    python3 "$SQL2ES_ROOT/tests/harness/faultproxy.py" --upstream "$ES_URL" --max-seconds 120 "$@" \
        >"$work/$name.out" 2>"$work/$name.err" &
    PROXY_PID=$!
    pids+=("$PROXY_PID")
    PROXY_URL=
    for ((i = 0; i < 100; i++)); do
        PROXY_URL=$(sed -n 's/^PROXY \(http:.*\)$/\1/p' "$work/$name.out")
        [ -n "$PROXY_URL" ] && return 0
        kill -0 "$PROXY_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "# proxy $name did not start:"; sed 's/^/#   /' "$work/$name.err"
    return 1
}
# bulk_n N FILE: writes an NDJSON body of N index actions into index $idx.
bulk_n() {
    local i
    for ((i = 1; i <= $1; i++)); do
        printf '{"index":{"_index":"%s","_id":"%d"}}\n{"n":%d}\n' "$idx" "$i" "$i"
    done >"$2"
}
# post_many N URL FILE: N _bulk POSTs on one keep-alive connection; prints one status a line.
post_many() {
    local n=$1 url=$2 f=$3 urls=() i
    for ((i = 0; i < n; i++)); do urls+=("$url/_bulk" -o /dev/null); done
    curl -s --max-time 120 -w '%{http_code}\n' \
        -H 'Content-Type: application/x-ndjson' --data-binary "@$f" "${urls[@]}"
}
jget() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

idx=suite11-$$-$RANDOM
curl -s -o /dev/null -X PUT "$ES_URL/$idx" -H 'Content-Type: application/json' \
    -d '{"settings":{"number_of_shards":1,"number_of_replicas":0}}'
bulk_n 5 "$work/bulk5.ndjson"
bulk_n 20 "$work/bulk20.ndjson"

# 1. pass-through and the 429 fraction.
check "proxy starts and prints its URL" start_proxy p429 --rate-429 0.5 --seed 7
v=$(jget "$(curl -s "$PROXY_URL/")" 'd["version"]["number"]')
check "non-_bulk requests pass through (version $v)" test "${v%.*}" = 2.19
codes=$(post_many 40 "$PROXY_URL" "$work/bulk5.ndjson")
n429=$(grep -c '^429$' <<<"$codes")
n200=$(grep -c '^200$' <<<"$codes")
check "--rate-429 0.5 answers 429 to roughly half of 40 _bulk requests (got $n429)" \
    test "$n429" -ge 10 -a "$n429" -le 30
check_eq "the other _bulk requests are forwarded (200)" "$((n429 + n200))" 40
body=$(for ((i = 0; i < 10; i++)); do
    curl -s -H 'Content-Type: application/x-ndjson' --data-binary "@$work/bulk5.ndjson" "$PROXY_URL/_bulk"
    echo; done | grep -m1 es_rejected_execution_exception)
check_eq "a 429 carries a JSON es_rejected_execution_exception" \
    "$(jget "$body" '(d["status"], d["error"]["type"])')" "(429, 'es_rejected_execution_exception')"
check "the proxy counts its faults" test "$(jget "$(curl -s "$PROXY_URL/_faultproxy/stats")" 'd["429"]')" -ge "$n429"

# 2. the same seed gives the same sequence.
start_proxy seedA --rate-429 0.5 --seed 11 && a=$(post_many 12 "$PROXY_URL" "$work/bulk5.ndjson" | tr '\n' ' ')
start_proxy seedB --rate-429 0.5 --seed 11 && b=$(post_many 12 "$PROXY_URL" "$work/bulk5.ndjson" | tr '\n' ' ')
check_eq "the fault sequence is deterministic for a seed" "$a" "$b"

# 3. per-item rejections: the reply is rewritten, the documents are indexed upstream.
check "proxy with --item-reject starts" start_proxy items --item-reject 0.5 --seed 3
r=$(curl -s -H 'Content-Type: application/x-ndjson' --data-binary "@$work/bulk20.ndjson" "$PROXY_URL/_bulk")
check_eq "rewritten reply has errors:true" "$(jget "$r" 'd["errors"]')" True
rej=$(jget "$r" 'sum(1 for i in d["items"] if i["index"]["status"] == 429 and i["index"]["error"]["type"] == "es_rejected_execution_exception")')
okc=$(jget "$r" 'sum(1 for i in d["items"] if i["index"]["status"] in (200, 201))')
check "some items (not all) are rejected with 429 (got $rej of 20)" test "$rej" -ge 3 -a "$rej" -le 17
check_eq "every item is either rejected or successful" "$((rej + okc))" 20
check_eq "rejected items keep their _id" \
    "$(jget "$r" 'all(i["index"].get("_id") for i in d["items"])')" True
curl -s -o /dev/null -X POST "$ES_URL/$idx/_refresh"
check_eq "all 20 documents were indexed upstream" \
    "$(jget "$(curl -s "$ES_URL/$idx/_count")" 'd["count"]')" 20
# --item-reject-limit: one item rejected every time is let through after 2 in a row
start_proxy itemlimit --item-reject 1 --item-reject-limit 2
seq3=
for k in 1 2 3 4; do
    r=$(curl -s -H 'Content-Type: application/x-ndjson' --data-binary "@$work/bulk5.ndjson" "$PROXY_URL/_bulk")
    seq3="$seq3$(jget "$r" '",".join(str(i["index"]["status"]) for i in d["items"])') "
done
check_eq "--item-reject 1 --item-reject-limit 2: rejected twice, then passed, then rejected again" \
    "$seq3" "429,429,429,429,429 429,429,429,429,429 200,200,200,200,200 429,429,429,429,429 "

# 4. 503 and resets.
check "proxy with --fail-503 1 starts" start_proxy f503 --fail-503 1
check_eq "--fail-503 1 answers 503" "$(post_many 1 "$PROXY_URL" "$work/bulk5.ndjson")" 503
check_eq "faults apply only to _bulk (GET / is 200)" \
    "$(curl -s -o /dev/null -w '%{http_code}' "$PROXY_URL/")" 200
start_proxy reset --reset 1
curl -s -o /dev/null -H 'Content-Type: application/x-ndjson' --data-binary "@$work/bulk5.ndjson" "$PROXY_URL/_bulk"
rc=$?
check "--reset 1 drops the connection without an answer (curl exit $rc)" test "$rc" -eq 56 -o "$rc" -eq 52

# 5. required header, masked log, gzip + chunked body.
check "proxy with --require-header starts" \
    start_proxy auth --require-header 'Authorization: ApiKey c2VjcmV0LWtleQ==' --log "$work/auth.log"
check_eq "missing header answers 401" "$(curl -s -o /dev/null -w '%{http_code}' "$PROXY_URL/")" 401
check_eq "wrong header answers 401" "$(curl -s -o /dev/null -w '%{http_code}' \
    -H 'Authorization: ApiKey d3Jvbmc=' "$PROXY_URL/")" 401
check_eq "right header answers 200" "$(curl -s -o /dev/null -w '%{http_code}' \
    -H 'Authorization: ApiKey c2VjcmV0LWtleQ==' "$PROXY_URL/")" 200
gzip -c "$work/bulk5.ndjson" >"$work/bulk5.ndjson.gz"
r=$(curl -s -H 'Authorization: ApiKey c2VjcmV0LWtleQ==' -H 'Content-Type: application/x-ndjson' \
    -H 'Content-Encoding: gzip' -H 'Transfer-Encoding: chunked' \
    --data-binary "@$work/bulk5.ndjson.gz" "$PROXY_URL/_bulk")
check_eq "a gzip, chunked _bulk body passes through" \
    "$(jget "$r" '(d["errors"], len(d["items"]))')" "(False, 5)"
check_eq "the log has one JSON line per request" "$(wc -l <"$work/auth.log")" 4
check "the log masks the credentials" \
    bash -c "! grep -q c2VjcmV0 '$work/auth.log' && grep -q '\"ApiKey \*\*\*\*\"' '$work/auth.log'"
check_eq "the log records statuses" \
    "$(python3 -c 'import json,sys; print([json.loads(l)["status"] for l in open(sys.argv[1])])' "$work/auth.log")" \
    "[401, 401, 200, 200]"

# 6. the proxy stops by itself.
start_proxy short --max-seconds 1
sleep 2.5
check "--max-seconds 1 makes the proxy exit" bash -c "! kill -0 $PROXY_PID 2>/dev/null"

curl -s -o /dev/null -X DELETE "$ES_URL/$idx"
