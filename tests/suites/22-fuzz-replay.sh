#!/usr/bin/env bash
# 22-fuzz-replay.sh - replays the corpus of every fuzz target (the config
# compiler, the YAML loader, template expressions, Elasticsearch replies)
# through libFuzzer builds with ASan and UBSan; any crash, leak or undefined
# behaviour fails.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 4
rc=0
for t in fuzz_compile fuzz_yaml fuzz_template fuzz_es_reply; do
    FUZZ_TARGET=$t bash "$SQL2ES_ROOT/tests/fuzz/run.sh" replay || rc=1
done
exit $rc
