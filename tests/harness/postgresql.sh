#!/usr/bin/env bash
# postgresql.sh - a throwaway PostgreSQL server for the tests (called by services.sh).
#   postgresql.sh start DIR   initdb + start on 127.0.0.1:<free port>, write DIR/postgresql.env
#   postgresql.sh stop DIR    stop the server (pg_ctl -m fast) and remove its data
# The server runs as the `postgres` OS user when started by root (PostgreSQL
# refuses root), with its data and unix socket in a short private directory
# (sockets have a ~100 byte path limit and root's temp dirs are closed to
# other users); DIR/pgroot records where. TCP uses scram-sha-256 for role
# sql2es (random password, REPLICATION for sync --follow); the unix socket
# trusts the superuser `postgres`. wal_level = logical for every suite (sync
# --follow reads logical replication; it costs the others nothing).
# It does not install PostgreSQL: tools/install-deps.sh does.
set -euo pipefail
cmd=${1:?usage: postgresql.sh start|stop DIR}
dir=${2:?usage: postgresql.sh start|stop DIR}

bindir() {
    local b
    b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -n "$b" ] && [ -x "$b/initdb" ] || { echo "postgresql.sh: no server binaries under /usr/lib/postgresql (run tools/install-deps.sh)" >&2; return 1; }
    echo "$b"
}

as_pg() { # run a command as the server's OS user
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() { # a port nothing listens on (the kernel picks; ss or a random guess as fallbacks)
    local p used
    if p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null) && [ -n "$p" ]; then
        echo "$p"; return 0
    fi
    used=$(ss -ltnH 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u || true)
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 40000))
        grep -qx "$p" <<<"$used" || { echo "$p"; return 0; }
    done
    return 1
}

start() {
    local bin root data log port pass i
    bin=$(bindir)
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        root=$(mktemp -d /tmp/sql2es-pg.XXXXXX)
        chown postgres: "$root"
    else
        root=$(mktemp -d "${TMPDIR:-/tmp}/sql2es-pg.XXXXXX")
    fi
    chmod 700 "$root"
    echo "$root" >"$dir/pgroot"
    data=$root/data log=$root/server.log
    if ! as_pg "$bin/initdb" -D "$data" -U postgres -E UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 >"$root/initdb.log" 2>&1; then
        echo "postgresql.sh: initdb failed:" >&2; tail -20 "$root/initdb.log" >&2; return 1
    fi
    cat >>"$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$root'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 50
shared_buffers = 64MB
logging_collector = off
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
EOF
    for i in 1 2 3; do
        port=$(free_port) || port=$((20000 + RANDOM % 40000))
        if as_pg "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 -o "-p $port" start >/dev/null 2>&1; then
            break
        fi
        port=
        grep -q "could not bind\|already in use" "$log" 2>/dev/null || break
    done
    if [ -z "$port" ]; then
        echo "postgresql.sh: server did not start; log tail:" >&2
        tail -30 "$log" >&2 || true
        return 1
    fi
    echo "$port" >"$dir/port"
    pass=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
    # The password goes through stdin, never on a command line.
    if ! "$bin/psql" -X -q -h "$root" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        >"$root/setup.log" 2>&1 <<EOF
CREATE ROLE sql2es LOGIN REPLICATION PASSWORD '$pass';
CREATE DATABASE sql2es_test OWNER sql2es;
EOF
    then
        echo "postgresql.sh: role/database setup failed:" >&2
        cat "$root/setup.log" >&2; tail -20 "$log" >&2; return 1
    fi
    umask 077
    cat >"$dir/postgresql.env" <<EOF
PGHOST=127.0.0.1
PGPORT=$port
PGUSER=sql2es
PGPASSWORD=$pass
PGDATABASE=sql2es_test
PG_SUPERUSER=postgres
PG_SUPERUSER_SOCKET=$root
PG_BINDIR=$bin
EOF
}

stop() {
    local root bin
    [ -f "$dir/pgroot" ] || return 0
    root=$(cat "$dir/pgroot")
    bin=$(bindir) || true
    if [ -n "$bin" ] && [ -f "$root/data/postmaster.pid" ]; then
        as_pg "$bin/pg_ctl" -D "$root/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    case $root in */sql2es-pg.*) rm -rf "$root" ;; esac
    rm -f "$dir/pgroot" "$dir/port" "$dir/postgresql.env"
}

case $cmd in
start) start ;;
stop) stop ;;
*) echo "usage: postgresql.sh start|stop DIR" >&2; exit 2 ;;
esac
