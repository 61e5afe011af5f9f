#!/usr/bin/env bash
# bench/e2e.sh WORKDIR - end to end benchmark: ROWS PostgreSQL rows into the
# OpenSearch node (issue 4, item 9). A benchmark, not a test; called by
# `bench/run.sh e2e` (which exports SQL2ES_TEST_TMP) or directly.
#
# In one run, into the same node (ES_JAVA_HEAP=1g) and from the same table:
#   1. sql2es sync (chunk_size CHUNK lines, max_concurrency 5) into bench-sql2es;
#   2. alternated with it, the ingest limit: the same documents pre-generated with
#      `sql2es sync --dry-run`, split into files of CHUNK lines (the same
#      requests sql2es sends; an item never split), posted by
#      curl 5 at a time (xargs -P 5) into bench-limit;
#   3. PGSync (pip package, venv in build/venv-pgsync) bootstrap + one-shot
#      initial sync into bench-pgsync. PGSync needs wal_level=logical and a
#      superuser: a dedicated PostgreSQL server is started for it (the
#      harness's settings plus logical decoding, the same table) and removed
#      after, with a Redis server on loopback (no persistence).
# Each target index is created with the mapping and settings sql2es derived,
# and each count is checked: a run that lost documents is reported FAILED.
# Prints a Markdown table. It does not edit bench/RESULTS.md.
#   ROWS=1000000 (default)   rows in the table
#   ROUNDS=3                 runs of sql2es and of the ingest limit (alternated; best
#                            wall time, maximum peak RSS); PGSync runs once
#   PGSYNC_ROWS=ROWS         rows in PGSync's copy of the table
#   SKIP_PGSYNC=1            leave PGSync out
#   CHUNK=500                elasticsearch.bulk.chunk_size (NDJSON lines per request;
#                            the connectors' default 500 = 250 documents)
#   BASE_BIN=path            another sql2es build (the commit before a change): run
#                            in every round beside sql2es into bench-base, the same way
#   RTT_MS=20                after the rounds, sql2es (and BASE_BIN) once more with
#                            bench/latency_proxy.py in front of the database AND the
#                            node, each holding every byte RTT_MS/2 each way (0: skip)
# "client CPU" is user + system time of the client process only (sql2es; for the
# limit xargs and its curl processes), also given per million documents.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(realpath "${SQL2ES_BIN:-$root/build/sql2es}")
ROWS=${ROWS:-1000000}
PGSYNC_ROWS=${PGSYNC_ROWS:-$ROWS}
ROUNDS=${ROUNDS:-3}
CHUNK=${CHUNK:-500}   # elasticsearch.bulk.chunk_size: NDJSON lines per _bulk request
base=${1:?usage: bench/e2e.sh WORKDIR}
mkdir -p "$base"
work=$(cd "$base" && pwd)/e2e
rm -rf "$work"
mkdir -p "$work"
own_services=0
if [ -z "${SQL2ES_TEST_TMP:-}" ]; then
    SQL2ES_TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sql2es-bench.XXXXXX")
    export SQL2ES_TEST_TMP
    own_services=1
fi
export ES_JAVA_HEAP=${ES_JAVA_HEAP:-1g}
venv=$root/build/venv-pgsync
pg2_root="" pg2_bin="" redis_pid=""

cleanup() {
    if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; fi
    if [ -n "$pg2_root" ]; then
        as_pg "$pg2_bin/pg_ctl" -D "$pg2_root/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
        case $pg2_root in */sql2es-pg.*) rm -rf "$pg2_root" ;; esac
    fi
    rm -rf "$work/chunks" "$work/limit.ndjson"
    if [ "$own_services" = 1 ]; then
        bash "$root/tests/harness/services.sh" stop >/dev/null 2>&1 || true
        rm -rf "$SQL2ES_TEST_TMP"
    fi
}
trap cleanup EXIT

need() { local env; env=$(bash "$root/tests/harness/services.sh" start "$1"); set -a; . "$env"; set +a; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
say() { echo "e2e: $*" >&2; }
free_port() {
    local p used
    used=$(ss -ltnH 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 40000))
        grep -qx "$p" <<<"$used" || { echo "$p"; return 0; }
    done
    return 1
}

# fill_items: create and fill the table (the DDL of bench/run.sh's bench_postgresql);
# psql connection from the environment.
fill_items() {
    psql -X -q -v ON_ERROR_STOP=1 <<SQL
DROP TABLE IF EXISTS items;
CREATE TABLE items (id bigint PRIMARY KEY, name text, email text, price numeric(12,2), qty int,
  created_at timestamptz, active boolean, score double precision, tags text[], meta jsonb);
INSERT INTO items SELECT i, 'name ' || i, 'user' || i || '@example.com', (i % 10000) / 100.0, i % 97,
  timestamptz '2024-01-01' + i * interval '1 second', i % 2 = 0, i * 0.5, ARRAY['a','b'],
  jsonb_build_object('k', i) FROM generate_series(1, $1) i;
ANALYZE items;
SQL
}

count() { # INDEX -> document count after a refresh
    curl -sf -o /dev/null -X POST "$ES_URL/$1/_refresh" || true
    curl -sf "$ES_URL/$1/_count" | jq -r '.count // "none"' 2>/dev/null || echo none
}

# create_like INDEX: (re)create INDEX with the mapping, shards and replicas
# sql2es gave bench-sql2es (saved in index.json after its first run).
create_like() {
    curl -sf -o /dev/null -X DELETE "$ES_URL/$1" 2>/dev/null || true
    curl -sf -o /dev/null -X PUT -H 'Content-Type: application/json' --data-binary @"$work/index.json" "$ES_URL/$1"
}

# Results: label, wall s, docs, peak RSS KiB, note ("" or FAILED: ...)
declare -a r_label r_wall r_docs r_rss r_note
# result LABEL WALL DOCS RSS_KB NOTE [CPU_S]: one row of the table
result() { r_label+=("$1"); r_wall+=("$2"); r_docs+=("$3"); r_rss+=("$4"); r_note+=("$5"); r_cpu+=("${6:--}"); }
cpu_of() { awk -v u="$1" -v s="$2" 'BEGIN { printf "%.2f", u + s }'; } # user + system seconds

# ---- servers and data ------------------------------------------------------
[ -x "$bin" ] || { say "no sql2es binary at $bin (make, or set SQL2ES_BIN)"; exit 1; }
need postgresql
need opensearch
say "node $ES_URL; filling $ROWS rows"
fill_items "$ROWS"
say "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"

# ---- 1 and 2. sql2es and the ingest limit, alternated ----------------------
cfg() { # FILE INDEX [PG_PORT ES_URL]: the database and the node, or proxies in front of them
    cat >"$1" <<YML
elasticsearch:
  host: ${4:-$ES_URL}
  bulk: { chunk_size: $CHUNK, max_concurrency: 5 }
connectors:
  - connector_id: bench
    service_type: postgresql
    index_name: bench
    configuration: { host: $PGHOST, port: ${3:-$PGPORT}, username: $PGUSER, password: "\${PGPASSWORD}",
                     database: $PGDATABASE, tables: [items] }
    mappings:
      items: { index: $2 }
YML
}
cfg "$work/sql2es.yml" bench-sql2es
cfg "$work/limit.yml" bench-limit
base_bin=""
if [ -n "${BASE_BIN:-}" ]; then base_bin=$(realpath "$BASE_BIN"); cfg "$work/base.yml" bench-base; fi

say "ingest limit: generating the bulk files (sql2es sync --dry-run)"
gen_note=""
if (cd "$work" && /usr/bin/time -f '%e %M' -o "$work/time.gen" \
        "$bin" sync -q -c "$work/limit.yml" --dry-run -o "$work/limit.ndjson" 2>"$work/gen.err"); then
    mkdir -p "$work/chunks"
    # The same chunking as sql2es: at most CHUNK lines per file, an item never
    # split (an action line plus a source line; a delete is one line).
    awk -v dir="$work/chunks" -v chunk="$CHUNK" '
        src { print > f; src = 0; next }
        { need = ($0 ~ /^\{"delete"/) ? 1 : 2
          if (!f || lines + need > chunk) { if (f) close(f); f = sprintf("%s/c%07d.ndjson", dir, n++); lines = 0 }
          print > f; lines += need; if (need == 2) src = 1 }' "$work/limit.ndjson"
    rm -f "$work/limit.ndjson"
    (cd "$work/chunks" && find . -name '*.ndjson' | sort >"$work/chunks.list")
    read -r gt gm < <(tail -1 "$work/time.gen")
    say "ingest limit: $(wc -l <"$work/chunks.list") files in $gt s ($((gm / 1024)) MB)"
else
    gen_note="FAILED: dry run: $(grep -v '^Command exited' "$work/gen.err" | tail -1)"
fi

# Best wall time of ROUNDS runs each, sql2es and curl alternated so that both
# see the same node (JIT warm-up, merges) and the same machine load; each run
# into a fresh index, each count checked; peak RSS is the maximum over runs.
s_best="" s_rss=0 s_note="" s_cpu="" l_best="" l_rss=0 l_note="" l_cpu=""
better() { [ -z "$2" ] || awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
declare -A best_wall best_cpu peak_rss run_note
# sync_round NAME BIN CONFIG INDEX: one sql2es run into a fresh INDEX; keeps the
# best wall time (and the CPU of that run) and the peak RSS under NAME.
sync_round() {
    local name=$1 b=$2 conf=$3 index=$4 note="" t m u sy n
    say "round $round/$ROUNDS: $name sync (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    curl -sf -o /dev/null -X DELETE "$ES_URL/$index" 2>/dev/null || true
    if ! (cd "$work" && /usr/bin/time -f '%e %M %U %S' -o "$work/time.$name" \
            "$b" sync -q -c "$conf" >"$work/$name.out" 2>"$work/$name.err"); then
        note="FAILED (exit): $(grep -v '^Command exited' "$work/$name.err" | tail -1)"
    fi
    read -r t m u sy < <(tail -1 "$work/time.$name")
    n=$(count "$index")
    [ -z "$note" ] && [ "$n" != "$ROWS" ] && note="FAILED: _count $n, want $ROWS"
    say "round $round: $name $t s, $((m / 1024)) MB, CPU $(cpu_of "$u" "$sy") s, _count $n${note:+; $note}"
    if [ -n "$note" ]; then run_note[$name]=$note
    elif better "$t" "${best_wall[$name]:-}"; then best_wall[$name]=$t best_cpu[$name]=$(cpu_of "$u" "$sy"); fi
    [ "$m" -gt "${peak_rss[$name]:-0}" ] && peak_rss[$name]=$m
    return 0
}
for round in $(seq 1 "$ROUNDS"); do
    sync_round sql2es "$bin" "$work/sql2es.yml" bench-sql2es
    [ -n "$base_bin" ] && sync_round base "$base_bin" "$work/base.yml" bench-base
    if [ "$round" = 1 ]; then # the mapping and settings every other index gets
        n=$(count bench-sql2es)
        if [ "$n" = none ]; then
            echo '{"settings":{"index":{"number_of_replicas":0}}}' >"$work/index.json"
        else
            curl -sf "$ES_URL/bench-sql2es" | jq '.["bench-sql2es"] | {mappings: .mappings,
                settings: {index: {number_of_shards: .settings.index.number_of_shards,
                                   number_of_replicas: .settings.index.number_of_replicas}}}' >"$work/index.json"
        fi
    fi
    [ -n "$gen_note" ] && continue
    say "round $round/$ROUNDS: ingest limit (curl, 5 in parallel)"
    create_like bench-limit
    note=""
    (cd "$work/chunks" && /usr/bin/time -f '%e %M %U %S' -o "$work/time.limit" \
        xargs -P 5 -I{} curl -s -o /dev/null -H 'Content-Type: application/x-ndjson' \
        --data-binary @{} "$ES_URL/_bulk" <"$work/chunks.list") || note="FAILED: curl/xargs exit $?"
    read -r t m u sy < <(tail -1 "$work/time.limit")
    n=$(count bench-limit)
    [ -z "$note" ] && [ "$n" != "$ROWS" ] && note="FAILED: _count $n, want $ROWS"
    say "round $round: limit $t s, $((m / 1024)) MB, CPU $(cpu_of "$u" "$sy") s, _count $n${note:+; $note}"
    if [ -n "$note" ]; then l_note=$note; elif better "$t" "$l_best"; then l_best=$t l_cpu=$(cpu_of "$u" "$sy"); fi
    [ "$m" -gt "$l_rss" ] && l_rss=$m
done
rm -rf "$work/chunks"
result "sql2es sync (chunk_size $CHUNK lines, max_concurrency 5)" "${best_wall[sql2es]:--}" "$ROWS" "${peak_rss[sql2es]:-0}" "${run_note[sql2es]:-}" "${best_cpu[sql2es]:--}"
[ -n "$base_bin" ] && result "BASE_BIN sync (the build before, same settings)" "${best_wall[base]:--}" "$ROWS" "${peak_rss[base]:-0}" "${run_note[base]:-}" "${best_cpu[base]:--}"
s_best=${best_wall[sql2es]:-}
sql2es_wall=${s_best:-0}
if [ -n "$gen_note" ]; then
    result "ingest limit" "-" "$ROWS" 0 "$gen_note"
else
    result "ingest limit: curl, pre-generated files of $CHUNK lines, xargs -P 5" "${l_best:--}" "$ROWS" "$l_rss" "$l_note" "${l_cpu:--}"
fi

# ---- 1b. through the latency proxies ----------------------------------------
# sql2es (and BASE_BIN) once more with bench/latency_proxy.py in front of the
# database and of the node (RTT_MS round trip each); the proxies count the
# connections opened to the node (one per _bulk request in flight).
RTT_MS=${RTT_MS:-20}
px_pids=()
px_start() { # UPSTREAM(host:port) NAME: prints the proxy's port
    python3 "$root/bench/latency_proxy.py" --upstream "$1" --rtt-ms "$RTT_MS" \
        --stats "$work/px-$2.json" >"$work/px-$2.out" 2>&1 &
    px_pids+=($!)
    local port=""
    for _ in $(seq 100); do
        port=$(sed -n 's/^PROXY 127.0.0.1:\([0-9]*\)$/\1/p' "$work/px-$2.out")
        [ -n "$port" ] && break
        sleep 0.1
    done
    echo "$port"
}
px_conns() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["connections"])' "$1" 2>/dev/null || echo 0; }
if [ "$RTT_MS" != 0 ] && [ -z "${s_note:-}" ]; then
    es_hostport=${ES_URL#http://}
    pg_px=$(px_start "127.0.0.1:$PGPORT" pg)
    es_px=$(px_start "$es_hostport" es)
    cfg "$work/lat.yml" bench-lat "$pg_px" "http://127.0.0.1:$es_px"
    round=1 ROUNDS_=$ROUNDS
    ROUNDS=1
    c0=$(px_conns "$work/px-es.json")
    sync_round "sql2es-lat" "$bin" "$work/lat.yml" bench-lat
    sleep 0.5
    lat_conns=$(( $(px_conns "$work/px-es.json") - c0 ))
    result "sql2es sync, ${RTT_MS} ms round trip to the database and the node ($lat_conns connections to the node)" \
        "${best_wall[sql2es-lat]:--}" "$ROWS" "${peak_rss[sql2es-lat]:-0}" "${run_note[sql2es-lat]:-}" "${best_cpu[sql2es-lat]:--}"
    if [ -n "$base_bin" ]; then
        cfg "$work/lat-base.yml" bench-lat "$pg_px" "http://127.0.0.1:$es_px"
        sync_round "base-lat" "$base_bin" "$work/lat-base.yml" bench-lat
        result "BASE_BIN sync, ${RTT_MS} ms round trip" "${best_wall[base-lat]:--}" "$ROWS" \
            "${peak_rss[base-lat]:-0}" "${run_note[base-lat]:-}" "${best_cpu[base-lat]:--}"
    fi
    ROUNDS=$ROUNDS_
    for p in "${px_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
fi

# ---- 3. PGSync -------------------------------------------------------------
# pgsync_server: a dedicated PostgreSQL for PGSync, with wal_level=logical and a
# superuser role (its bootstrap creates triggers, functions and a replication
# slot, which the harness's role may not); sets PG_* for PGSync.
pgsync_server() {
    local pass port
    say "PGSync: the harness server has wal_level=$(psql -X -At -c 'SHOW wal_level');" \
        "starting a dedicated server with wal_level=logical"
    pg2_bin=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
    if [ "$(id -u)" -eq 0 ]; then # PostgreSQL refuses root: its own directory, owned by postgres
        pg2_root=$(mktemp -d /tmp/sql2es-pg.XXXXXX) && chown postgres: "$pg2_root" || return 1
    else
        pg2_root=$(mktemp -d "${TMPDIR:-/tmp}/sql2es-pg.XXXXXX") || return 1
    fi
    chmod 700 "$pg2_root"
    as_pg "$pg2_bin/initdb" -D "$pg2_root/data" -U postgres -E UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 >"$work/pg2-initdb.log" 2>&1 || return 1
    # Same settings as tests/harness/postgresql.sh, plus logical decoding.
    as_pg tee -a "$pg2_root/data/postgresql.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pg2_root'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 50
shared_buffers = 64MB
logging_collector = off
wal_level = logical
max_replication_slots = 4
max_wal_senders = 4
EOF
    port=$(free_port)
    as_pg "$pg2_bin/pg_ctl" -D "$pg2_root/data" -l "$pg2_root/server.log" -w -t 60 -o "-p $port" start \
        >/dev/null || { tail -5 "$pg2_root/server.log" >&2; return 1; }
    pass=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
    # The password goes through stdin, never on a command line.
    "$pg2_bin/psql" -X -q -h "$pg2_root" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 >/dev/null <<EOF || return 1
CREATE ROLE pgsync LOGIN SUPERUSER PASSWORD '$pass';
CREATE DATABASE bench OWNER pgsync;
EOF
    export PG_HOST=127.0.0.1 PG_PORT=$port PG_USER=pgsync PG_PASSWORD=$pass PG_DATABASE=bench
    say "PGSync: filling $PGSYNC_ROWS rows"
    PGHOST=$PG_HOST PGPORT=$port PGUSER=pgsync PGPASSWORD=$pass PGDATABASE=bench fill_items "$PGSYNC_ROWS" || return 1
}

# pgsync_run: bootstrap, then the one-shot initial sync (no --daemon).
pgsync_run() {
    local note="" t m bt bm n
    if [ ! -x "$venv/bin/pgsync" ]; then
        say "PGSync: installing into $venv"
        { python3 -m venv "$venv" && "$venv/bin/pip" install -q pgsync; } >"$work/pip.log" 2>&1 || {
            result "PGSync" "-" "$PGSYNC_ROWS" 0 "FAILED: pip install pgsync: $(tail -1 "$work/pip.log")"; return 0; }
    fi
    command -v redis-server >/dev/null || {
        result "PGSync" "-" "$PGSYNC_ROWS" 0 "FAILED: redis-server not installed (apt-get install redis-server)"; return 0; }
    pgsync_server || { result "PGSync" "-" "$PGSYNC_ROWS" 0 "FAILED: could not start a wal_level=logical server"; return 0; }
    local rport
    rport=$(free_port)
    mkdir -p "$work/redis" "$work/pgsync-checkpoint"
    (cd "$work/redis" && exec redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no \
        --dir "$work/redis" >"$work/redis.log" 2>&1) &
    redis_pid=$!
    jq --arg db "$PG_DATABASE" '.[0].database = $db' "$root/bench/pgsync/schema.json" >"$work/schema.json"
    create_like bench-pgsync
    # PGSync's defaults (5000 documents per _bulk, 4 threads), except its 10 s
    # request timeout, which a loaded 2-core node exceeds: 120 s, as sql2es and
    # the Elastic connectors use.
    export OPENSEARCH=true ELASTICSEARCH=false ELASTICSEARCH_URL=$ES_URL \
        REDIS_HOST=127.0.0.1 REDIS_PORT=$rport CHECKPOINT_PATH=$work/pgsync-checkpoint \
        ELASTICSEARCH_TIMEOUT=120 CONSOLE_LOGGING_HANDLER_MIN_LEVEL=WARNING
    say "PGSync: bootstrap"
    if ! (cd "$work" && /usr/bin/time -f '%e %M' -o "$work/time.pgsync-bootstrap" \
            "$venv/bin/bootstrap" --config "$work/schema.json" >"$work/pgsync-bootstrap.log" 2>&1); then
        note="FAILED: bootstrap: $(grep -v '^Command exited' "$work/pgsync-bootstrap.log" | tail -1)"
        result "PGSync" "-" "$PGSYNC_ROWS" 0 "${note//${PG_PASSWORD:-@@}/***}"
        return 0
    fi
    say "PGSync: initial sync"
    (cd "$work" && /usr/bin/time -f '%e %M %U %S' -o "$work/time.pgsync" \
        "$venv/bin/pgsync" --config "$work/schema.json" >"$work/pgsync.log" 2>&1) ||
        note="FAILED: $(grep -v '^Command exited' "$work/pgsync.log" | tail -1)"
    read -r t m u sy < <(tail -1 "$work/time.pgsync")
    read -r bt bm < <(tail -1 "$work/time.pgsync-bootstrap")
    say "PGSync: bootstrap took $bt s, $((bm / 1024)) MB"
    n=$(count bench-pgsync)
    [ -z "$note" ] && [ "$n" != "$PGSYNC_ROWS" ] && note="FAILED: _count $n, want $PGSYNC_ROWS"
    result "PGSync $("$venv/bin/pip" show pgsync 2>/dev/null | sed -n 's/^Version: //p') (bootstrap: $bt s, not counted)" \
        "$t" "$PGSYNC_ROWS" "$m" "${note//${PG_PASSWORD:-@@}/***}" "$(cpu_of "$u" "$sy")"
}
if [ "${SKIP_PGSYNC:-0}" = 1 ]; then
    result "PGSync" "-" "$PGSYNC_ROWS" 0 "skipped (SKIP_PGSYNC=1)"
else
    pgsync_run
fi

# ---- table -----------------------------------------------------------------
sql2es_rate=$(awk -v w="$sql2es_wall" -v n="$ROWS" 'BEGIN { if (w > 0) print n / w; else print 0 }')
printf '\n### End to end: PostgreSQL -> OpenSearch (%s rows, node heap %s)\n\n' "$ROWS" "$ES_JAVA_HEAP"
printf '| what | wall s | docs/s | peak RSS | client CPU s | sql2es docs/s ÷ this |\n|---|---|---|---|---|---|\n'
for i in "${!r_label[@]}"; do
    if [ "${r_wall[$i]}" = - ]; then
        printf '| %s | - | - | - | - | %s |\n' "${r_label[$i]}" "${r_note[$i]}"
        continue
    fi
    rate=$(awk -v w="${r_wall[$i]}" -v n="${r_docs[$i]}" 'BEGIN { if (w > 0) printf "%.0f", n / w; else print 0 }')
    ratio=$(awk -v a="$sql2es_rate" -v b="$rate" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", a / b; else print "-" }')
    printf '| %s | %s | %s | %d MB | %s | %s%s |\n' "${r_label[$i]}" "${r_wall[$i]}" "$rate" $((r_rss[$i] / 1024)) "${r_cpu[$i]}" \
        "$ratio" "${r_note[$i]:+ ${r_note[$i]}}"
done
per_m() { awk -v c="$1" -v n="$ROWS" 'BEGIN { if (c != "" && c != "-") printf "%.1f", c * 1000000 / n; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "-" }'; }
printf '\n| measure | value |\n|---|---|\n'
printf '| sql2es CPU per million documents | %s s |\n' "$(per_m "${best_cpu[sql2es]:-}")"
[ -n "$base_bin" ] && printf '| BASE_BIN CPU per million documents | %s s (sql2es uses %s of it) |\n' \
    "$(per_m "${best_cpu[base]:-}")" "$(ratio "${best_cpu[sql2es]:-}" "${best_cpu[base]:-}")"
printf '| sql2es throughput / ingest limit | %s |\n' "$(ratio "${l_best:-}" "${best_wall[sql2es]:-}")"
[ -n "$base_bin" ] && printf '| BASE_BIN throughput / ingest limit | %s |\n' "$(ratio "${l_best:-}" "${best_wall[base]:-}")"
if [ -n "${best_wall[sql2es-lat]:-}" ]; then
    printf '| sql2es at %s ms / direct | %s |\n' "$RTT_MS" "$(ratio "${best_wall[sql2es]:-}" "${best_wall[sql2es-lat]:-}")"
    printf '| sql2es at %s ms / ingest limit (direct) | %s |\n' "$RTT_MS" "$(ratio "${l_best:-}" "${best_wall[sql2es-lat]:-}")"
fi
if [ -n "${best_wall[base-lat]:-}" ]; then
    printf '| BASE_BIN at %s ms / direct | %s |\n' "$RTT_MS" "$(ratio "${best_wall[base]:-}" "${best_wall[base-lat]:-}")"
fi
