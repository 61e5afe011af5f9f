#!/bin/sh
# Installs the Debian packages that sql2es needs to build, test and run its demo.
# Idempotent: installs only what is missing. Needs root (or sudo) on Debian/Ubuntu.
set -eu
PKGS="build-essential pkg-config libyaml-dev libcurl4-openssl-dev libcjson-dev libpq-dev
libpcre2-dev libsqlite3-dev sqlite3 libmariadb-dev postgresql postgresql-client
mariadb-server mariadb-client clang libclang-rt-14-dev llvm openjdk-17-jdk-headless maven
python3 python3-venv curl ca-certificates openssl jq time lcov libmicrohttpd-dev chromium"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
# The server packages start system services on install; the tests start their own.
for svc in mariadb mysql postgresql; do
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
