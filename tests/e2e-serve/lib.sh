# lib.sh - helpers shared by the serve suites (70-73), sourced once ES_URL
# names the node the suite uses: the test client in Kibana's role, the
# node's REST API, and polling.

KIB="python3 $SQL2ES_ROOT/tests/e2e-serve/kibana.py --es $ES_URL"

# es METHOD PATH [BODY]: one request to the node, its answer on stdout
es() {
    if [ $# -ge 3 ]; then curl -s --max-time 30 -X "$1" -H 'Content-Type: application/json' "$ES_URL$2" -d "$3"
    else curl -s --max-time 30 -X "$1" "$ES_URL$2"; fi
}
# count INDEX [QUERY]: documents after a refresh (-1 when the node did not answer)
count() { es POST "/$1/_refresh" >/dev/null; es GET "/$1/_count${2:+?q=$2}" | jq -r '.count // -1'; }
# conn ID, job ID: the connector or sync job document as Kibana reads it
conn() { $KIB get connector "$1"; }
job() { $KIB get job "$1"; }
# wait_for SECONDS CMD...: until CMD succeeds (1 when it never did)
wait_for() {
    local end=$((SECONDS + $1)); shift
    while [ $SECONDS -lt $end ]; do "$@" && return 0; sleep 0.2; done
    return 1
}
# jqe FILTER JSON: jq -e quietly
jqe() { jq -e "$1" >/dev/null <<<"$2"; }
# secs ISO: the seconds (fractional) of an ISO date
secs() { python3 -c "import datetime,sys; print(datetime.datetime.fromisoformat(sys.argv[1].replace('Z','+00:00')).timestamp())" "$1"; }
