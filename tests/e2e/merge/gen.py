#!/usr/bin/env python3
"""gen.py DIALECT OUTDIR - the data and configurations of suite 55-relation-merge.

DIALECT: postgresql | mariadb | sqlite. Writes OUTDIR/data.sql (the same rows
for every database) and OUTDIR/{merge,batch}{,-where}.yml: the same mappings
with relations read by merge (the default `read`) and with `read: batch` on
every relation, whose dry runs must be byte-identical.

Tables: p (1,300 parents, single integer key) with children scattered over
`cs` (ids spread by a multiplier, NULL keys, orphans below, between and
beyond the parents, parents without children), clustered in `cc` (children
stored in parent order), a nested relation under `cs` (grandchildren, read in
batches), a text-keyed relation (`tx`: read in batches whatever `read` says);
q (1,380 parents, key (a, b)) with children `qc` joined on both key columns
(NULLs in either) and on `a` alone (the leading key column: a group of
parents spans chunk boundaries of 500). Everything spans several chunks.
"""
import os
import sys

dialect, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
big = {"postgresql": "bigint", "mariadb": "BIGINT", "sqlite": "INTEGER"}[dialect]
txt = {"postgresql": "text", "mariadb": "VARCHAR(40)", "sqlite": "TEXT"}[dialect]

sql = []
def table(name, cols, rows, pk, index=None):
    sql.append(f"DROP TABLE IF EXISTS {name};")
    sql.append(f"CREATE TABLE {name} ({', '.join(cols)}, PRIMARY KEY ({pk}));")
    if index:
        sql.append(f"CREATE INDEX {name}_{index.replace(', ', '_')} ON {name} ({index});")
    for i in range(0, len(rows), 500):
        vals = ", ".join("(" + ", ".join("NULL" if v is None else repr(v) if isinstance(v, str) else str(v) for v in r) + ")"
                         for r in rows[i:i + 500])
        sql.append(f"INSERT INTO {name} VALUES {vals};")

table("p", [f"id {big} NOT NULL", f"code {txt}", "keep INT"],
      [(i, f"c{i % 50}", 1 if i % 3 else 0) for i in range(1, 1301)], "id")
cs = []
for i in range(0, 4200):
    pid = (i * 7919) % 1420 - 9          # -9 .. 1410: orphans below and beyond
    if i % 13 == 0:
        pid = None
    if pid is not None and pid % 10 == 3:
        continue                         # parents ..3 have no child
    cs.append((i * 3 + 1, pid, f"s{i}"))
table("cs", [f"id {big} NOT NULL", f"pid {big}", f"sku {txt}"], cs, "id", "pid")
cc = [(i + 1, i // 3 + 1, f"k{i}") for i in range(0, 4000) if (i // 3 + 1) % 10 != 4]
table("cc", [f"id {big} NOT NULL", f"pid {big}", f"sku {txt}"], cc, "id", "pid")
tg = [(i, (i * 37) % 12600, f"t{i}") for i in range(1, 3000)]
table("tg", [f"id {big} NOT NULL", f"line_id {big}", f"tag {txt}"], tg, "id", "line_id")
tx = [(i, f"c{i % 60}", f"w{i}") for i in range(1, 400)]
table("tx", [f"id {big} NOT NULL", f"code {txt}", f"w {txt}"], tx, "id", "code")
table("q", ["a INT NOT NULL", "b INT NOT NULL", f"name {txt}"],
      [(a, b, f"q{a}.{b}") for a in range(1, 61) for b in range(1, 24)], "a, b")
qc = []
for i in range(0, 5000):
    qa, qb = (i * 31) % 63 - 1, (i * 17) % 26
    if i % 11 == 0:
        qb = None
    if i % 17 == 0:
        qa = None
    qc.append((i + 1, qa, qb, f"v{i}"))
table("qc", [f"id {big} NOT NULL", "qa INT", "qb INT", f"v {txt}"], qc, "id", "qa, qb")
open(os.path.join(out, "data.sql"), "w").write("\n".join(sql) + "\n")

conn = {
    "postgresql": '{ host: "${PGHOST}", port: "${PGPORT}", username: "${PGUSER}", password: "${PGPASSWORD}", '
                  'database: "${PGDATABASE}", tables: [p, q] }',
    "mariadb": '{ host: "${MYSQL_HOST}", port: "${MYSQL_PORT}", user: "${MYSQL_USER}", password: "${MYSQL_PASSWORD}", '
               'database: "${MYSQL_DATABASE}", tables: [p, q] }',
    "sqlite": "{ path: ./merge.db, tables: [p, q] }",
}[dialect]
service = {"postgresql": "postgresql", "mariadb": "mysql", "sqlite": "sqlite"}[dialect]

def config(read, where):
    r = ", read: batch" if read == "batch" else ""
    w = '\n        where: "keep = 1"' if where else ""
    return f"""connectors:
  - connector_id: m
    service_type: {service}
    index_name: m
    configuration: {conn}
    mappings:
      p:
        index: m-p{w}
        relations:
          scattered:
            table: cs
            on: {{ pid: id }}
            fields: {{ sku: sku }}
            order_by: id{r.replace(", ", chr(10) + "            ").replace("read: ", "read: ")}
            relations:
              tags: {{ table: tg, on: {{ line_id: id }}, fields: {{ tag: tag }}, order_by: id{r} }}
          clustered: {{ table: cc, on: {{ pid: id }}, fields: {{ sku: sku }}, order_by: id DESC{r} }}
          first: {{ table: cc, on: {{ pid: id }}, one: true, fields: {{ sku: sku }}, order_by: id{r} }}
          bycode: {{ table: tx, on: {{ code: code }}, fields: {{ w: w }}, order_by: id{r} }}
      q:
        index: m-q
        relations:
          both: {{ table: qc, on: {{ qa: a, qb: b }}, fields: {{ v: v }}, order_by: id{r} }}
          bya: {{ table: qc, on: {{ qa: a }}, fields: {{ v: v }}, order_by: id DESC{r} }}
"""

for read in ("merge", "batch"):
    for where in (0, 1):
        name = read + ("-where" if where else "") + ".yml"
        open(os.path.join(out, name), "w").write(config(read, where))
