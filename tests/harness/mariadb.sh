#!/usr/bin/env bash
# mariadb.sh - a throwaway MariaDB server for the tests (Debian mariadb-server).
#   mariadb.sh start DIR   install a fresh data directory in DIR, start mariadbd on
#                          127.0.0.1 (free port) and DIR/mysqld.sock, create the user
#                          sql2es (random password) owning database sql2es_test (and
#                          allowed to read the binlog: log_bin on, binlog_format=ROW), write
#                          DIR/mariadb.env. Prints the log tail and exits 1 on failure.
#   mariadb.sh stop DIR    shut the server down (socket), kill it if needed, remove data.
# Contract: tests/harness/services.sh. The server runs as root (tests run as root) or as
# the invoking user; it never listens beyond loopback and reads no system option file.
set -euo pipefail

find_bin() { # first of the names found in PATH or sbin
    local n
    for n in "$@"; do
        if command -v "$n" >/dev/null 2>&1; then command -v "$n"; return 0; fi
        for d in /usr/sbin /usr/local/sbin /usr/bin; do
            [ -x "$d/$n" ] && { echo "$d/$n"; return 0; }
        done
    done
    return 1
}

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
        return
    fi
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 30000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
    echo 0
}

fail() { # message
    echo "mariadb: $1" >&2
    [ -f "$DIR/mysqld.log" ] && tail -n 30 "$DIR/mysqld.log" >&2
    [ -f "$DIR/install.log" ] && tail -n 15 "$DIR/install.log" >&2
    exit 1
}

cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: mariadb.sh start|stop DIR" >&2; exit 2; }
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
SOCK=$DIR/mysqld.sock
# unix sockets have a path limit of ~107 bytes
[ ${#SOCK} -lt 100 ] || { echo "mariadb: socket path too long: $SOCK" >&2; exit 1; }

case $cmd in
start)
    MYSQLD=$(find_bin mariadbd mysqld) || fail "mariadbd not found (run tools/install-deps.sh)"
    INSTALL_DB=$(find_bin mariadb-install-db mysql_install_db) || fail "mariadb-install-db not found"
    CLIENT=$(find_bin mariadb mysql) || fail "mariadb client not found"
    ADMIN=$(find_bin mariadb-admin mysqladmin) || fail "mariadb-admin not found"
    user=$(id -un)
    rm -rf "$DIR/data"
    mkdir -p "$DIR/data" "$DIR/tmp"
    "$INSTALL_DB" --no-defaults --user="$user" --datadir="$DIR/data" \
        --auth-root-authentication-method=socket --skip-test-db \
        >"$DIR/install.log" 2>&1 || fail "mariadb-install-db failed"
    port=$(free_port)
    [ "$port" != 0 ] || fail "no free port"
    # TLS offered (clients choose; the TLS suite requires it of its own user)
    bash "$(dirname "$0")/tls.sh" "$DIR/tls" || fail "making the test certificates failed"
    "$MYSQLD" --no-defaults --user="$user" --datadir="$DIR/data" --tmpdir="$DIR/tmp" \
        --socket="$SOCK" --pid-file="$DIR/mysqld.pid" --log-error="$DIR/mysqld.log" \
        --port="$port" --bind-address=127.0.0.1 --skip-name-resolve \
        --innodb-buffer-pool-size=32M --innodb-log-file-size=16M \
        --log-bin="$DIR/data/binlog" --binlog-format=ROW --server-id=1 --expire-logs-days=1 \
        --performance-schema=OFF --max-connections=100 \
        --innodb-flush-log-at-trx-commit=2 --innodb-doublewrite=0 \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        --ssl-ca="$DIR/tls/ca.pem" --ssl-cert="$DIR/tls/server.pem" --ssl-key="$DIR/tls/server.key" \
        >/dev/null 2>&1 9>&- &
    up=0
    for _ in $(seq 1 300); do
        if "$ADMIN" --no-defaults --user=root --socket="$SOCK" ping >/dev/null 2>&1; then up=1; break; fi
        [ -f "$DIR/mysqld.pid" ] || kill -0 $! 2>/dev/null || break
        sleep 0.1
    done
    [ $up = 1 ] || fail "server did not start"
    pass=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
    "$CLIENT" --no-defaults --user=root --socket="$SOCK" >>"$DIR/install.log" 2>&1 <<SQL || fail "creating the test user failed"
CREATE DATABASE sql2es_test CHARACTER SET utf8mb4;
CREATE USER 'sql2es'@'127.0.0.1' IDENTIFIED BY '$pass';
GRANT ALL PRIVILEGES ON sql2es_test.* TO 'sql2es'@'127.0.0.1';
-- sync --follow reads the binlog (REPLICATION SLAVE), checks its settings and
-- position (BINLOG MONITOR, formerly REPLICATION CLIENT)
GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'sql2es'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL
    cat >"$DIR/mariadb.env.tmp" <<ENV
MYSQL_HOST=127.0.0.1
MYSQL_PORT=$port
MYSQL_USER=sql2es
MYSQL_PASSWORD=$pass
MYSQL_DATABASE=sql2es_test
MYSQL_ROOT_SOCKET=$SOCK
MYSQL_TLS_DIR=$DIR/tls
ENV
    mv "$DIR/mariadb.env.tmp" "$DIR/mariadb.env"
    echo "mariadb: listening on 127.0.0.1:$port" >&2
    ;;
stop)
    ADMIN=$(find_bin mariadb-admin mysqladmin || true)
    pid=""
    [ -f "$DIR/mysqld.pid" ] && pid=$(cat "$DIR/mysqld.pid" 2>/dev/null || true)
    if [ -S "$SOCK" ] && [ -n "$ADMIN" ]; then
        "$ADMIN" --no-defaults --user=root --socket="$SOCK" --shutdown-timeout=10 shutdown \
            >/dev/null 2>&1 || true
    fi
    if [ -n "$pid" ]; then
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null || true
            sleep 0.2
        fi
    fi
    rm -rf "$DIR/data" "$DIR/tmp" "$SOCK" "$DIR/mysqld.pid" "$DIR/mariadb.env"
    ;;
*) echo "usage: mariadb.sh start|stop DIR" >&2; exit 2 ;;
esac
