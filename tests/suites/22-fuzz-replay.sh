#!/usr/bin/env bash
# 22-fuzz-replay.sh - replays the compiler fuzz corpus (tests/fuzz/corpus/,
# the golden inputs and the examples) through the libFuzzer target built
# with ASan and UBSan; any crash, leak or undefined behaviour fails.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
bash "$SQL2ES_ROOT/tests/fuzz/run.sh" replay
