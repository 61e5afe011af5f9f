#!/usr/bin/env bash
# bench/serve.sh WORKDIR - `sql2es serve` (issue 10, item 8): a benchmark, not
# a test; called by `bench/run.sh serve` (which exports SQL2ES_TEST_TMP) or
# directly. Against the harness's OpenSearch node, with the Kibana stand-in
# of the tests (tests/e2e-serve/kibana.py) writing jobs and schedules:
#   1. pickup latency: JOBS on-demand full jobs of a 10-row SQLite table, one
#      after the other (a random pause of 0-0.5 s between them), with the
#      default --poll; per job started_at - created_at (the claim) and
#      completed_at - created_at; p50 / p95 / max;
#   2. schedule precision: a full schedule every SCHED_EVERY s (Quartz
#      `0/N * * * * ?`) for SCHED_SECONDS s; per scheduled job created_at -
#      its slot; slots missed and slots that made two jobs;
#   3. idle cost: `serve` handling IDLE_CONNECTORS connectors (default
#      service settings: heartbeat 300 s, idling 30 s), nothing to do, over
#      IDLE_SECONDS s after a settling pause: CPU time (utime + stime from
#      /proc/PID/stat), RSS (VmRSS / VmHWM from /proc/PID/status) and the
#      requests it sent (counted by tests/harness/faultproxy.py placed between
#      serve and the node, injecting nothing); then the same with --listen.
# Prints Markdown tables. It does not edit bench/RESULTS.md.
#   JOBS=30 SCHED_EVERY=5 SCHED_SECONDS=120 IDLE_CONNECTORS=50 IDLE_SECONDS=60
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(realpath "${SQL2ES_BIN:-$root/build/sql2es}")
JOBS=${JOBS:-30}
SCHED_EVERY=${SCHED_EVERY:-5}
SCHED_SECONDS=${SCHED_SECONDS:-120}
IDLE_CONNECTORS=${IDLE_CONNECTORS:-50}
IDLE_SECONDS=${IDLE_SECONDS:-60}
base=${1:?usage: bench/serve.sh WORKDIR}
mkdir -p "$base"
work=$(cd "$base" && pwd)/serve
rm -rf "$work"
mkdir -p "$work"
cd "$work"
own_services=0
if [ -z "${SQL2ES_TEST_TMP:-}" ]; then
    export SQL2ES_TEST_TMP=$work/tmp
    mkdir -p "$SQL2ES_TEST_TMP"
    own_services=1
fi
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "$own_services" = 1 ] && bash "$root/tests/harness/services.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 143' TERM INT
env_file=$(bash "$root/tests/harness/services.sh" start opensearch)
set -a; . "$env_file"; set +a
KIB="python3 $root/tests/e2e-serve/kibana.py --es $ES_URL"
es() { curl -s --max-time 30 -X "$1" "$ES_URL$2" ${3:+-H 'Content-Type: application/json' -d "$3"}; }
wait_log() { # FILE TEXT SECONDS
    local end=$((SECONDS + $3))
    while [ $SECONDS -lt $end ]; do grep -qs -- "$2" "$1" && return 0; sleep 0.2; done
    echo "bench/serve.sh: '$2' did not appear in $1" >&2; tail -5 "$1" >&2; return 1
}
reset_indices() {
    local i
    for i in .elastic-connectors-v1 .elastic-connectors-sync-jobs-v1 .elastic-connectors .elastic-connectors-sync-jobs "$@"; do
        es DELETE "/$i" >/dev/null
    done
}
# stats: one line "p50 p95 max n" of the numbers on stdin (nearest rank)
stats() {
    python3 -c '
import math, sys
v = sorted(float(x) for x in sys.stdin.read().split())
if not v: print("- - - 0"); sys.exit()
r = lambda p: v[max(0, math.ceil(p * len(v)) - 1)]
print(f"{r(0.5):.3f} {r(0.95):.3f} {v[-1]:.3f} {len(v)}")'
}

sqlite3 small.db <<'EOF'
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)
INSERT INTO items SELECT i, 'item ' || i FROM n;
EOF
machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME"), load average $(cut -d' ' -f1 /proc/loadavg) at start"
echo "# sql2es serve benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $machine"

# ---- 1 and 2: pickup latency, then schedule precision --------------------------------------
reset_indices bench-pick bench-sched
cat >svc.yml <<EOF
elasticsearch: { host: $ES_URL, ssl: false }
connectors:
  - connector_id: pick
    service_type: sqlite
    index_name: bench-pick
    configuration: { path: $work/small.db, tables: [items] }
  - connector_id: sched
    service_type: sqlite
    index_name: bench-sched
    configuration: { path: $work/small.db, tables: [items] }
EOF
"$bin" serve -c svc.yml >svc.log 2>&1 &
SVC=$!; PIDS+=($SVC)
wait_log svc.log ' ready; ' 120
sleep 2
: >pickup.txt; : >done.txt
for i in $(seq "$JOBS"); do
    sleep "0.$((RANDOM % 5))$((RANDOM % 10))"
    J=$($KIB sync pick full)
    OUT=$($KIB wait "$J" completed,error --timeout 120)
    [ "$(jq -r .status <<<"$OUT")" = completed ] || { echo "job $J: $OUT" >&2; exit 1; }
    python3 -c '
import datetime, json, sys
j = json.loads(sys.argv[1])
t = lambda k: datetime.datetime.fromisoformat(j[k].replace("Z", "+00:00")).timestamp()
c, s, d = t("created_at"), t("started_at"), t("completed_at")
print(f"{s - c:.3f}", file=open("pickup.txt", "a"))
print(f"{d - c:.3f}", file=open("done.txt", "a"))' "$OUT"
done
read -r p50 p95 pmax n < <(stats <pickup.txt)
read -r d50 d95 dmax _ < <(stats <done.txt)
echo
echo "### Pickup latency: $n on-demand full jobs (10 rows), default --poll 0.5"
echo
echo "| what | p50 | p95 | max |"
echo "|---|---|---|---|"
echo "| created_at -> started_at (claimed) | $p50 s | $p95 s | $pmax s |"
echo "| created_at -> completed_at | $d50 s | $d95 s | $dmax s |"

# schedule: enabled now, read at the next idling pass (30 s): measure from the first job on
$KIB schedule sched full "0/$SCHED_EVERY * * * * ?"
first=""
end=$((SECONDS + 90))
while [ $SECONDS -lt $end ]; do
    first=$(es POST '/.elastic-connectors-sync-jobs/_search' '{"size":1,"query":{"bool":{"filter":[{"term":{"connector.id":"sched"}},{"term":{"trigger_method":"scheduled"}}]}},"sort":[{"created_at":"asc"}]}' | jq -r '.hits.hits[0]._source.created_at // empty')
    [ -n "$first" ] && break
    sleep 1
done
[ -n "$first" ] || { echo "bench/serve.sh: no scheduled job within 90 s" >&2; tail -5 svc.log >&2; exit 1; }
sleep "$SCHED_SECONDS"
$KIB schedule sched full off
sleep 2
es POST '/.elastic-connectors-sync-jobs/_refresh' >/dev/null
es POST '/.elastic-connectors-sync-jobs/_search' '{"size":1000,"_source":["created_at"],"query":{"bool":{"filter":[{"term":{"connector.id":"sched"}},{"term":{"trigger_method":"scheduled"}}]}},"sort":[{"created_at":"asc"}]}' \
    | jq -r '.hits.hits[]._source.created_at' >sched.txt
python3 - "$SCHED_EVERY" sched.txt >sched.out <<'PY'
import datetime, math, sys
every = int(sys.argv[1])
ts = [datetime.datetime.fromisoformat(l.strip().replace("Z", "+00:00")).timestamp()
      for l in open(sys.argv[2]) if l.strip()]
slots = {}
for t in ts:
    slots.setdefault(math.floor(t / every) * every, []).append(t - math.floor(t / every) * every)
first, last = min(slots), max(slots)
expected = int((last - first) / every) + 1
late = sorted(min(v) for v in slots.values())
r = lambda p: late[max(0, math.ceil(p * len(late)) - 1)]
print(f"{len(ts)} {expected} {expected - len(slots)} {sum(len(v) > 1 for v in slots.values())} "
      f"{r(0.5):.3f} {r(0.95):.3f} {late[-1]:.3f} {last - first:.0f}")
PY
read -r njobs nslots missed doubled l50 l95 lmax span <sched.out
echo
echo "### Schedule precision: \`0/$SCHED_EVERY * * * * ?\` over $span s"
echo
echo "| jobs | slots in the span | slots missed | slots with two jobs | created_at - slot p50 | p95 | max |"
echo "|---|---|---|---|---|---|---|"
echo "| $njobs | $nslots | $missed | $doubled | $l50 s | $l95 s | $lmax s |"
kill "$SVC"; wait "$SVC" 2>/dev/null || true

# ---- 3: idle cost with many connectors -------------------------------------------------------
idle_run() { # LABEL EXTRA_ARGS...
    local label=$1; shift
    reset_indices
    local proxy_out=$work/proxy.out
    python3 "$root/tests/harness/faultproxy.py" --upstream "$ES_URL" --fault-paths '^$' \
        --max-seconds 900 >"$proxy_out" 2>"$work/proxy.log" &
    local proxy=$!; PIDS+=($proxy)
    wait_log "$proxy_out" '^PROXY ' 20
    local purl; purl=$(sed -n 's/^PROXY //p' "$proxy_out")
    {
        echo "elasticsearch: { host: $purl, ssl: false }"
        echo "connectors:"
        for i in $(seq -w "$IDLE_CONNECTORS"); do
            echo "  - { connector_id: idle$i, service_type: sqlite, index_name: bench-idle$i,"
            echo "      configuration: { path: $work/small.db, tables: [items] } }"
        done
    } >idle.yml
    "$bin" serve -c idle.yml "$@" >idle.log 2>&1 &
    local pid=$!; PIDS+=($pid)
    wait_log idle.log ' ready; ' 120
    sleep 15 # documents created, first checks done
    local tck; tck=$(getconf CLK_TCK)
    local c0 r0 c1 r1 rss hwm
    c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    r0=$(curl -s "$purl/_faultproxy/stats" | jq .requests)
    sleep "$IDLE_SECONDS"
    c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    r1=$(curl -s "$purl/_faultproxy/stats" | jq .requests)
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    kill "$pid" "$proxy"; wait "$pid" "$proxy" 2>/dev/null || true
    awk -v l="$label" -v c=$((c1 - c0)) -v t="$tck" -v s="$IDLE_SECONDS" -v r=$((r1 - r0)) \
        -v rss="$rss" -v hwm="$hwm" 'BEGIN {
        printf "| %s | %.2f s | %.2f %% | %.1f MB | %.1f MB | %d (%.1f/s) |\n",
            l, c / t, 100 * c / t / s, rss / 1024, hwm / 1024, r, r / s }'
}
echo
echo "### Idle: $IDLE_CONNECTORS connectors, nothing to do, over $IDLE_SECONDS s (default heartbeat 300 s, idling 30 s, --poll 0.5)"
echo
echo "| what | CPU time | of one core | RSS | peak RSS | requests to the cluster |"
echo "|---|---|---|---|---|---|"
idle_run "sql2es serve"
idle_run "sql2es serve --listen 127.0.0.1:0" --listen 127.0.0.1:0
