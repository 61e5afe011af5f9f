#!/usr/bin/env bash
# 32-tls-sources.sh - TLS to the databases (ssl_enabled, ssl_ca). The servers
# require TLS of the user the configs connect as (PostgreSQL: a `hostnossl
# ... reject` line in pg_hba.conf; MariaDB: REQUIRE SSL), so a success proves
# the connection used TLS. ssl_ca is given as PEM text (the connectors' form)
# and as a file; an unrelated CA must be refused with a clear error that
# does not print the certificate, and no temporary CA file may be left.
set -uo pipefail
. "$(dirname "$0")/../harness/lib.sh"
plan 26
need postgresql
need mariadb
BIN=$SQL2ES_SAN_BIN
san_bin "$BIN" || exit 1
T=$SQL2ES_TEST_TMP/tls-sources
rm -rf "$T"
mkdir -p "$T/tmp"
cd "$T" || exit 1
export TMPDIR=$T/tmp   # where sql2es writes the CA text for the client library
bash "$SQL2ES_ROOT/tests/harness/tls.sh" "$T/certs" || { not_ok "test certificates"; exit 1; }

pem_block() { sed 's/^/        /' "$1"; } # a YAML block scalar body (8 spaces)
# tls_keys SSL_ENABLED CA: the TLS keys of a configuration block; CA is a file
# name, pem:FILE (the certificate text inline) or none
tls_keys() {
    printf '      ssl_enabled: %s\n' "$1"
    case $2 in
    none) ;;
    pem:*) printf '      ssl_ca: |\n'; pem_block "${2#pem:}" ;;
    *) printf '      ssl_ca: %s\n' "$2" ;;
    esac
}

# run NAME WANT_EXIT CONFIG [ARGS...]: sql2es sync --dry-run, stderr to NAME.err
run() {
    local name=$1 want=$2 cfg=$3; shift 3
    "$BIN" sync -q -c "$cfg" --dry-run -o "$name.ndjson" "$@" >"$name.out" 2>"$name.err"
    local rc=$?
    check_eq "$name: exit code" "$rc" "$want"
    [ "$rc" = "$want" ] || sed 's/^/#   /' "$name.err" | head -10
}
docs() { grep -c '"_id"' "$1" 2>/dev/null; } # prints 0 for none, nothing for no file
no_pem_printed() { ! grep -q "BEGIN CERTIFICATE\|MII" "$@"; }
no_temp_left() { [ -z "$(ls -A "$T/tmp")" ]; }

# --- PostgreSQL ----------------------------------------------------------
PGROOT=$PG_SUPERUSER_SOCKET
su_psql() { "$PG_BINDIR/psql" -X -q -h "$PGROOT" -p "$PGPORT" -U "$PG_SUPERUSER" -d postgres -v ON_ERROR_STOP=1 "$@"; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_restore_conf() {
    as_pg sed -i '/^hostnossl all sql2es .* reject # sql2es-tls-test$/d' "$PGROOT/data/pg_hba.conf" 2>/dev/null
    su_psql -c "ALTER SYSTEM RESET ssl" -c "ALTER SYSTEM RESET ssl_cert_file" \
        -c "ALTER SYSTEM RESET ssl_key_file" -c "SELECT pg_reload_conf()" >/dev/null 2>&1
}
trap pg_restore_conf EXIT
mkdir -p "$PGROOT/tls-test"
cp "$T/certs/server.pem" "$T/certs/server.key" "$PGROOT/tls-test/"
chmod 600 "$PGROOT/tls-test/server.key"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$PGROOT/tls-test"
as_pg sed -i "1i hostnossl all sql2es 127.0.0.1/32 reject # sql2es-tls-test" "$PGROOT/data/pg_hba.conf"
su_psql -c "ALTER SYSTEM SET ssl_cert_file = '$PGROOT/tls-test/server.pem'" \
    -c "ALTER SYSTEM SET ssl_key_file = '$PGROOT/tls-test/server.key'" \
    -c "ALTER SYSTEM SET ssl = on" -c "SELECT pg_reload_conf()" >"$T/pg-setup.log" 2>&1
sleep 0.5
check_eq "postgresql: the server now has TLS on" "$(su_psql -At -c 'SHOW ssl' 2>&1)" on
check "postgresql: a plain (non-TLS) connection of the test user is refused" \
    bash -c "! PGSSLMODE=disable '$PG_BINDIR/psql' -X -q -c 'SELECT 1' >/dev/null 2>&1"
PGSSLMODE=require "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 >>"$T/pg-setup.log" 2>&1 <<'SQL'
DROP TABLE IF EXISTS tls_items;
CREATE TABLE tls_items (id int PRIMARY KEY, name text);
INSERT INTO tls_items VALUES (1, 'one'), (2, 'two'), (3, 'three');
SQL

pg_config() { # FILE SSL_ENABLED [CA_FILE|pem:CA_FILE|none]
    {
        cat <<YML
connectors:
  - connector_id: pgtls
    service_type: postgresql
    index_name: search-pgtls
    configuration:
      host: 127.0.0.1
      port: $PGPORT
      username: $PGUSER
      password: \${PGPASSWORD}
      database: $PGDATABASE
      tables: [tls_items]
      retry_count: 0
YML
        tls_keys "$2" "$3"
    } >"$1"
}
export PGPASSWORD
pg_config pg-pem.yml true "pem:$T/certs/ca.pem"
run pg-pem 0 pg-pem.yml
check_eq "postgresql: ssl_ca as PEM text: TLS verified, every row read" "$(docs pg-pem.ndjson)" 3
check "postgresql: validate --check-source over TLS" "$BIN" validate -c pg-pem.yml --check-source
pg_config pg-file.yml true "$T/certs/ca.pem"
run pg-file 0 pg-file.yml
check_eq "postgresql: ssl_ca as a file name" "$(docs pg-file.ndjson)" 3
pg_config pg-require.yml true none
run pg-require 0 pg-require.yml
check_eq "postgresql: ssl_enabled without ssl_ca: TLS required, not verified" "$(docs pg-require.ndjson)" 3
pg_config pg-other.yml true "pem:$T/certs/other-ca.pem"
run pg-other 1 pg-other.yml
check "postgresql: an unrelated CA: the error says the certificate failed verification" \
    grep -qi "certificate verify failed" pg-other.err
check "postgresql: the certificate text is never printed" no_pem_printed pg-other.err pg-pem.err
pg_config pg-missing.yml true "$T/certs/no-such-ca.pem"
run pg-missing 1 pg-missing.yml
check "postgresql: an unreadable ssl_ca file is named in the error" \
    grep -q "ssl_ca: cannot read '.*no-such-ca.pem'" pg-missing.err
check "postgresql: no temporary CA file is left behind" no_temp_left
pg_restore_conf
trap - EXIT

# --- MariaDB --------------------------------------------------------------
MY=$(command -v mariadb || command -v mysql)
# the server's certificates come from the harness (tests/harness/mariadb.sh)
MYCA=$MYSQL_TLS_DIR/ca.pem
# as root over the socket (--host=localhost: the MYSQL_HOST the harness exports means TCP)
my_root() { "$MY" --no-defaults --host=localhost --user=root --socket="$MYSQL_ROOT_SOCKET" "$@"; }
TLSPASS=$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
my_root "$MYSQL_DATABASE" >"$T/my-setup.log" 2>&1 <<SQL
DROP USER IF EXISTS 'tlsuser'@'127.0.0.1';
CREATE USER 'tlsuser'@'127.0.0.1' IDENTIFIED BY '$TLSPASS' REQUIRE SSL;
GRANT SELECT, SHOW VIEW ON $MYSQL_DATABASE.* TO 'tlsuser'@'127.0.0.1';
DROP TABLE IF EXISTS tls_items;
CREATE TABLE tls_items (id int PRIMARY KEY, name varchar(20));
INSERT INTO tls_items VALUES (1, 'one'), (2, 'two'), (3, 'three');
SQL
check_eq "mariadb: the server offers TLS" \
    "$(my_root -N -e "SELECT @@have_ssl" 2>&1)" YES
export TLSPASS
my_config() { # FILE SSL_ENABLED [CA_FILE|pem:CA_FILE|none]
    {
        cat <<YML
connectors:
  - connector_id: mytls
    service_type: mysql
    index_name: search-mytls
    configuration:
      host: 127.0.0.1
      port: $MYSQL_PORT
      user: tlsuser
      password: \${TLSPASS}
      database: $MYSQL_DATABASE
      tables: [tls_items]
      retry_count: 0
YML
        tls_keys "$2" "$3"
    } >"$1"
}
my_config my-plain.yml false none
run my-plain 1 my-plain.yml
check "mariadb: without ssl_enabled the REQUIRE SSL user is refused (the test is real)" \
    grep -q "mysql: cannot connect" my-plain.err
my_config my-pem.yml true "pem:$MYCA"
run my-pem 0 my-pem.yml
check_eq "mariadb: ssl_ca as PEM text: TLS verified, every row read" "$(docs my-pem.ndjson)" 3
my_config my-file.yml true "$MYCA"
run my-file 0 my-file.yml
check_eq "mariadb: ssl_ca as a file name" "$(docs my-file.ndjson)" 3
my_config my-other.yml true "pem:$T/certs/other-ca.pem"
run my-other 1 my-other.yml
check "mariadb: an unrelated CA is refused with a TLS error" \
    grep -qiE "certificate|SSL|TLS" my-other.err
check "mariadb: the certificate text is never printed" no_pem_printed my-other.err my-pem.err
check "mariadb: no temporary CA file is left behind" no_temp_left
