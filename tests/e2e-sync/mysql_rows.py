#!/usr/bin/env python3
"""mysql_rows.py - print the rows of a MariaDB/MySQL table as JSON lines, read
through the `mariadb` command-line client (JSON_OBJECT on the server), for
tests/e2e-sync/check_index.py. Connection from MYSQL_HOST, MYSQL_PORT,
MYSQL_USER, MYSQL_PASSWORD (passed in MYSQL_PWD, never on the command line)
and MYSQL_DATABASE. The session runs in UTC. JSON columns (--json COL) are
embedded as JSON; BLOB/BINARY columns become base64 (as the sync sends them).

  mysql_rows.py TABLE [--where SQL] [--json COL]...
Standard library only.
"""
import argparse
import os
import subprocess
import sys


def client(sql):
    env = dict(os.environ, MYSQL_PWD=os.environ.get("MYSQL_PASSWORD", ""))
    cmd = ["mariadb", "--batch", "-N", "--raw", "--default-character-set=utf8mb4", "-h", os.environ["MYSQL_HOST"],
           "-P", os.environ["MYSQL_PORT"], "-u", os.environ["MYSQL_USER"],
           os.environ["MYSQL_DATABASE"], "-e", sql]
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("table")
    ap.add_argument("--where")
    ap.add_argument("--json", action="append", default=[])
    a = ap.parse_args()
    cols = client("SELECT column_name, data_type FROM information_schema.columns "
                  f"WHERE table_schema = database() AND table_name = '{a.table}' "
                  "ORDER BY ordinal_position")
    parts = []
    for line in cols.splitlines():
        name, dt = line.split("\t")
        q = f"`{name}`"
        if name in a.json:
            expr = f"JSON_QUERY({q}, '$')"
        elif dt in ("blob", "tinyblob", "mediumblob", "longblob", "binary", "varbinary"):
            expr = f"REPLACE(TO_BASE64({q}), '\\n', '')"
        else:
            expr = q
        parts.append(f"'{name}', {expr}")
    sql = (f"SET time_zone = '+00:00'; SELECT JSON_OBJECT({', '.join(parts)}) "
           f"FROM `{a.table}`" + (f" WHERE {a.where}" if a.where else ""))
    sys.stdout.write(client(sql))


if __name__ == "__main__":
    main()
