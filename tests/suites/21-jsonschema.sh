#!/usr/bin/env bash
# 21-jsonschema.sh - schemas/config.schema.json (generated from
# schemas/language.yaml by `sql2es schema`) against the examples, with an
# independent validator (check-jsonschema in a venv under build/).
#   - every examples/**/*.yml validates;
#   - every tests/suites/jsonschema-invalid/*.yml is rejected (the schema is not vacuous);
#   - the committed schema equals the output of `$SQL2ES_BIN schema`.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
cd "$SQL2ES_ROOT"

examples=$(find examples -name '*.yml' | sort)
invalid=(tests/suites/jsonschema-invalid/*.yml)
# installed, metaschema, each example, each invalid file, the committed schema
plan $(( 3 + $(printf '%s\n' "$examples" | grep -c .) + ${#invalid[@]} ))
schema=schemas/config.schema.json
venv=build/venv-jsonschema
cj=$venv/bin/check-jsonschema

if [ ! -x "$cj" ]; then
    { python3 -m venv "$venv" && "$venv/bin/pip" install -q check-jsonschema; } \
        >"$SQL2ES_TEST_TMP/venv-jsonschema.log" 2>&1
fi
if [ ! -x "$cj" ]; then
    not_ok "check-jsonschema installed in $venv"
    sed 's/^/# /' "$SQL2ES_TEST_TMP/venv-jsonschema.log" | tail -20
    exit 1
fi
ok "check-jsonschema installed in $venv"

check "schema is itself a valid JSON Schema" "$cj" -q --check-metaschema "$schema"

[ -n "$examples" ] || not_ok "examples/**/*.yml exist"
for f in $examples; do
    if out=$("$cj" --schemafile "$schema" "$f" 2>&1); then
        ok "valid: $f"
    else
        not_ok "valid: $f"
        printf '%s\n' "$out" | head -20 | sed 's/^/#   /'
    fi
done

for f in "${invalid[@]}"; do
    if "$cj" --schemafile "$schema" "$f" >/dev/null 2>&1; then
        not_ok "rejected: $f"
    else
        ok "rejected: $f"
    fi
done

# The committed file is what the binary prints.
gen="$SQL2ES_TEST_TMP/config.schema.json"
if "$SQL2ES_BIN" schema >"$gen" 2>"$gen.err" && cmp -s "$gen" "$schema"; then
    ok "schemas/config.schema.json equals \`sql2es schema\`"
else
    not_ok "schemas/config.schema.json equals \`sql2es schema\` (regenerate: make schema-json)"
    { head -5 "$gen.err"; diff "$schema" "$gen" | head -20; } | sed 's/^/#   /'
fi
