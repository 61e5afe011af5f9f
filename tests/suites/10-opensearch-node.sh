#!/usr/bin/env bash
# 10-opensearch-node.sh - checks that the embedded OpenSearch test node behaves
# like the real cluster the engine relies on: health, version, index creation
# with a mapping, _bulk (NDJSON, item errors), _refresh, _count,
# _delete_by_query and optimistic concurrency (if_seq_no/if_primary_term).
# It tests the test infrastructure, not sql2es itself.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 23
need opensearch

idx=suite10-$$-$RANDOM
J='Content-Type: application/json'
# req METHOD PATH [curl args...]: prints the body, then the HTTP status on its own line.
req() {
    local m=$1 p=$2; shift 2
    curl -sS --max-time 60 -X "$m" "$ES_URL$p" -w '\n%{http_code}' "$@"
}
status() { tail -n1 <<<"$1"; }
body() { sed '$d' <<<"$1"; }
# jget JSON EXPR: evaluate a python expression on the parsed JSON `d`.
jget() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

r=$(req GET '/_cluster/health?wait_for_status=yellow&timeout=30s')
check_eq "cluster health answers 200" "$(status "$r")" 200
h=$(jget "$(body "$r")" 'd["status"]')
check "cluster health is yellow or green (got $h)" test "$h" = yellow -o "$h" = green

r=$(req GET /)
v=$(jget "$(body "$r")" 'd["version"]["number"]')
check "version number is 2.19.x (got $v)" test "${v%.*}" = 2.19

r=$(req PUT "/$idx" -H "$J" -d '{
  "settings": {"number_of_shards": 1, "number_of_replicas": 0},
  "mappings": {"properties": {"title": {"type": "text"}, "n": {"type": "integer"},
                              "tag": {"type": "keyword"}}}}')
check_eq "create index with mapping answers 200" "$(status "$r")" 200
check_eq "create index acknowledged" "$(jget "$(body "$r")" 'd["acknowledged"]')" True
r=$(req GET "/$idx/_mapping")
check_eq "mapping has integer field n" \
    "$(jget "$(body "$r")" "d['$idx']['mappings']['properties']['n']['type']")" integer

bulk=$(printf '%s\n' \
    "{\"index\":{\"_index\":\"$idx\",\"_id\":\"1\"}}" '{"title":"one","n":1,"tag":"a"}' \
    "{\"index\":{\"_index\":\"$idx\",\"_id\":\"2\"}}" '{"title":"two","n":2,"tag":"b"}' \
    "{\"index\":{\"_index\":\"$idx\",\"_id\":\"3\"}}" '{"title":"bad","n":"not a number","tag":"a"}')
r=$(req POST /_bulk -H 'Content-Type: application/x-ndjson' --data-binary "$bulk"$'\n')
check_eq "_bulk with application/x-ndjson answers 200" "$(status "$r")" 200
b=$(body "$r")
check_eq "_bulk reports errors:true" "$(jget "$b" 'd["errors"]')" True
check_eq "_bulk item statuses" "$(jget "$b" '[i["index"]["status"] for i in d["items"]]')" "[201, 201, 400]"
check_eq "_bulk bad item is a mapper_parsing_exception" \
    "$(jget "$b" 'd["items"][2]["index"]["error"]["type"]')" mapper_parsing_exception

# What an HTTP client must get right (libcurl's default form Content-Type and a
# body without its final newline are refused).
r=$(req POST /_bulk -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "$bulk"$'\n')
check_eq "_bulk with a form Content-Type is refused (406)" "$(status "$r")" 406
r=$(req POST /_bulk -H 'Content-Type: application/x-ndjson' --data-binary "$bulk")
check_eq "_bulk without the final newline is refused (400)" "$(status "$r")" 400

r=$(req POST "/$idx/_refresh")
check_eq "_refresh answers 200" "$(status "$r")" 200
r=$(req GET "/$idx/_count")
check_eq "_count is 2 after the bulk" "$(jget "$(body "$r")" 'd["count"]')" 2

r=$(req POST "/$idx/_delete_by_query?refresh=true" -H "$J" -d '{"query":{"term":{"tag":"a"}}}')
check_eq "_delete_by_query answers 200" "$(status "$r")" 200
check_eq "_delete_by_query deleted 1" "$(jget "$(body "$r")" 'd["deleted"]')" 1
r=$(req GET "/$idx/_count")
check_eq "_count is 1 after _delete_by_query" "$(jget "$(body "$r")" 'd["count"]')" 1

r=$(req GET "/$idx/_doc/2")
b=$(body "$r")
seq=$(jget "$b" 'd["_seq_no"]')
term=$(jget "$b" 'd["_primary_term"]')
r=$(req PUT "/$idx/_doc/2?if_seq_no=$seq&if_primary_term=$term" -H "$J" -d '{"title":"two v2","n":2}')
check_eq "write with the current seq_no/primary_term succeeds" "$(status "$r")" 200
r=$(req PUT "/$idx/_doc/2?if_seq_no=$seq&if_primary_term=$term" -H "$J" -d '{"title":"two v3","n":2}')
check_eq "write with a stale seq_no answers 409" "$(status "$r")" 409
check_eq "the 409 is a version_conflict_engine_exception" \
    "$(jget "$(body "$r")" 'd["error"]["type"]')" version_conflict_engine_exception

r=$(req POST "/$idx/_update/2?refresh=true" -H "$J" -d '{"doc":{"tag":"c"}}')
check_eq "_update answers 200" "$(status "$r")" 200
r=$(req POST "/$idx/_search" -H "$J" -d '{"query":{"term":{"tag":"c"}}}')
check_eq "_search finds the updated document" "$(jget "$(body "$r")" 'd["hits"]["total"]["value"]')" 1

r=$(req DELETE "/$idx")
check_eq "delete index answers 200" "$(status "$r")" 200
