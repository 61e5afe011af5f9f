#!/bin/sh
# embed.sh NAME FILE - print a C file defining `const char NAME[]` (NUL-terminated)
# and `const unsigned long NAME_len` with FILE's bytes.
set -eu
name=$1 file=$2
echo "/* generated from $file by tools/embed.sh - do not edit */"
echo "const char $name[] = {"
od -An -v -tx1 "$file" | sed -e 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g' -e 's/^/ /'
echo " 0x00 };"
echo "const unsigned long ${name}_len = sizeof $name - 1;"
