# lib.sh - shared by the end-to-end sync suites (tests/suites/6x-sync-*.sh):
# run `sql2es sync` against the real OpenSearch node (or a fault proxy in
# front of it) and look at the result. Sourced after tests/harness/lib.sh and
# `need opensearch`. Needs SQL2ES_BIN, ES_URL and a work directory in E2E_TMP.
E2E_DIR=$SQL2ES_ROOT/tests/e2e-sync
E2E_PIDS=()
e2e_cleanup() { local p; for p in "${E2E_PIDS[@]}"; do kill "$p" 2>/dev/null; done; }
trap e2e_cleanup EXIT

# es METHOD PATH [BODY]: one request to the node; prints the body.
es() {
    if [ $# -ge 3 ]; then
        curl -s --max-time 30 -X "$1" -H 'Content-Type: application/json' "$ES_URL$2" -d "$3"
    else
        curl -s --max-time 30 -X "$1" "$ES_URL$2"
    fi
}
es_drop() { local i; for i in "$@"; do es DELETE "/$i" >/dev/null; done; }
es_count() { es POST "/$1/_refresh" >/dev/null; es GET "/$1/_count" | jq -r '.count // -1'; }
# es_doc INDEX ID: the _source of one document ("null" when absent)
es_doc() { es GET "/$1/_doc/$2" | jq -c '._source // null'; }

# run_sync NAME ARGS...: run sql2es sync; stdout+stderr in $E2E_TMP/NAME.out, the
# exit code in SYNC_RC, the summary line in SYNC_SUMMARY.
run_sync() {
    local name=$1; shift
    "$SQL2ES_BIN" sync "$@" >"$E2E_TMP/$name.out" 2>&1
    SYNC_RC=$?
    SYNC_SUMMARY=$(grep '^sql2es: ' "$E2E_TMP/$name.out" | tail -1)
}
# summary_num WORDS: the number before WORDS in the last summary line
# (e.g. `summary_num "rows read"`); empty when absent.
summary_num() { sed -n "s/.* \([0-9][0-9]*\) $1.*/\1/p" <<<"$SYNC_SUMMARY" | head -1; }
# show NAME: the output of a sync as TAP comments
show() { sed 's/^/#   /' "$E2E_TMP/$1.out" | head -${2:-15}; }

# check_sync NAME WANT_RC LABEL: ok when the last sync exited with WANT_RC
check_sync() {
    if [ "$SYNC_RC" = "$2" ]; then ok "$3 (exit $SYNC_RC)"
    else not_ok "$3 (exit $SYNC_RC, want $2)"; show "$1" 20; fi
}

# check_index LABEL INDEX ROWS_CMD ID_FORMAT [checker options...]
check_index() {
    local label=$1 index=$2 cmd=$3 id=$4; shift 4
    python3 "$E2E_DIR/check_index.py" --es "$ES_URL" --index "$index" --rows-cmd "$cmd" \
        --id "$id" --name "$label" "$@"
}

# start_proxy VAR ARGS...: a fault proxy in front of the node; its URL in VAR.
start_proxy() {
    local var=$1 out=$E2E_TMP/proxy-$1.out i url=
    shift
    python3 "$SQL2ES_ROOT/tests/harness/faultproxy.py" --upstream "$ES_URL" \
        --log "$E2E_TMP/proxy-$var.log" --max-seconds 600 "$@" >"$out" 2>"$out.err" &
    E2E_PIDS+=($!)
    for i in $(seq 1 100); do
        url=$(sed -n 's/^PROXY //p' "$out" 2>/dev/null)
        [ -n "$url" ] && break
        sleep 0.1
    done
    if [ -z "$url" ]; then not_ok "fault proxy $var started"; sed 's/^/#   /' "$out.err"; return 1; fi
    printf -v "$var" '%s' "$url"
}
# proxy_stat URL KEY: one counter of a proxy
proxy_stat() { curl -s --max-time 10 "$1/_faultproxy/stats" | jq -r ".[\"$2\"] // 0"; }
