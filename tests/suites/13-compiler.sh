#!/usr/bin/env bash
# 13-compiler.sh - the compiler links alone: `make compiler` builds the
# compiler-only archive (base, plan, dsl, the language, the driver interface's
# helpers - no driver) and a validate-only binary against it with libyaml and
# PCRE2 only; the binary needs no database, HTTP or JSON library and answers
# exactly as `sql2es validate` on every golden case and example. The fuzz
# targets of the compiler build from the same sources (tests/fuzz/run.sh).
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 7
cd "$SQL2ES_ROOT" || exit 1
BIN=${SQL2ES_BIN:-$SQL2ES_ROOT/build/sql2es}
VO=build/tests/compiler/validate_only

if make -s compiler > "$SQL2ES_TEST_TMP/compiler-build.log" 2>&1; then
    ok "compiler-only archive and validate_only link with yaml-0.1 and libpcre2-8 only"
else
    not_ok "compiler-only link failed"
    tail -20 "$SQL2ES_TEST_TMP/compiler-build.log" | sed 's/^/# /'
    exit 1
fi
needed=$(readelf -d "$VO" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | tr '\n' ' ')
case $needed in
*libpq* | *mariadb* | *curl* | *cjson* | *sqlite*) not_ok "validate_only needs only libyaml, PCRE2, libc: $needed" ;;
*yaml*) ok "validate_only needs only: $needed" ;;
*) not_ok "validate_only: unexpected libraries: $needed" ;;
esac
undef=$(nm -u build/libsql2es_compiler.a 2>/dev/null | grep -E ' U (PQ|mysql_|curl_|cJSON_|sqlite3_|src_drivers|src_driver_find)' | sort -u | head -5)
check_eq "the compiler archive names no driver, registry or client library" "$undef" ""

# the same verdict and messages as sql2es validate
export SQL2ES_GOLDEN_HOST=db.example.test SQL2ES_GOLDEN_PORT=6543 SQL2ES_GOLDEN_SECRET=not-printed \
    SQL2ES_GOLDEN_EMPTY= NO_COLOR=1
unset SQL2ES_GOLDEN_UNSET
n=0 bad=0
for f in tests/golden/[0-9][0-9][0-9]-*.yaml examples/*/config.yml; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    want=$(cd "$(dirname "$f")" && "$BIN" validate -c "$(basename "$f")" 2>&1; echo "exit $?")
    got=$(cd "$(dirname "$f")" && "$SQL2ES_ROOT/$VO" "$(basename "$f")" 2>&1; echo "exit $?")
    if [ "$got" != "$want" ]; then
        bad=$((bad + 1))
        echo "# $f differs:"
        diff <(echo "$want") <(echo "$got") | head -6 | sed 's/^/#   /'
    fi
done
check_eq "validate_only answers as sql2es validate on $n configs" "$bad" "0"

if command -v "${FUZZ_CC:-clang}" >/dev/null; then
    for t in fuzz_compile fuzz_yaml fuzz_template; do
        FUZZ_TARGET=$t bash tests/fuzz/run.sh build
    done
else
    not_ok "fuzz targets: ${FUZZ_CC:-clang} is not installed"
fi
