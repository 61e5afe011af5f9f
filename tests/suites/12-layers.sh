#!/usr/bin/env bash
# 12-layers.sh - the folders are layers (tools/layers.py): every include and
# every call points down, no include cycle, no two files calling each other,
# each third-party client header in one file. Prints the folder graph.
set -uo pipefail
cd "$SQL2ES_ROOT" || exit 1
echo "1..5"   # the checks of tools/layers.py
python3 tools/layers.py --graph --objects build
