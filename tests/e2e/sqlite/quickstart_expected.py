#!/usr/bin/env python3
"""quickstart_expected.py SEED_SQL OUT - the documents that examples/quickstart/config.yml
must produce, computed independently of sql2es: the seed is loaded into Python's own SQLite
and the mapping of the example is applied by hand (standard library only).

Value rules (SQLite storage classes): INTEGER -> integer, REAL -> shortest round-trip text,
TEXT -> string, NULL -> null. NUMERIC(10,2) stores 35.00 as the INTEGER 35 (affinity)."""
import json
import re
import sqlite3
import sys


def val(v):
    return v  # json.dumps writes int as int, float via repr (shortest round trip)


def main(seed, out):
    db = sqlite3.connect(":memory:")
    db.executescript(open(seed, encoding="utf-8").read())
    db.row_factory = sqlite3.Row
    countries = {r["code"]: {"code": r["code"], "name": r["name"]} for r in db.execute("SELECT * FROM countries")}
    orders_by = {}
    for o in db.execute("SELECT * FROM orders ORDER BY ordered_at"):
        orders_by.setdefault(o["customer_id"], []).append(
            {"id": o["order_id"], "total": val(o["total"]), "at": o["ordered_at"], "status": o["status"]})
    lines = []
    for c in db.execute("SELECT * FROM customers ORDER BY customer_id"):
        doc = {}
        for k in c.keys():
            # password_hash excluded; columns that are also field targets are not copied
            if k in ("password_hash", "email", "phone"):
                continue
            doc[k] = val(c[k])
        doc["name"] = "%s %s" % (c["first_name"], c["last_name"])
        doc["email"] = c["email"].strip().lower() if c["email"] is not None else None
        doc["address"] = {"city": c["city"]}
        doc["phone"] = re.sub(r"[^0-9+]", "", c["phone"]) if c["phone"] is not None else None
        # split: an empty string has no parts ([] rather than [""])
        tags = c["tags_csv"]
        doc["tags"] = None if tags is None else [t.strip() for t in tags.split(",")] if tags != "" else []
        doc["orders"] = orders_by.get(c["customer_id"], [])
        doc["country"] = countries.get(c["country_code"])
        lines.append({"index": {"_index": "quickstart-customers", "_id": "customer-%d" % c["customer_id"]}})
        lines.append(doc)
    for o in db.execute("SELECT * FROM orders ORDER BY order_id"):
        doc = {k: val(o[k]) for k in o.keys() if o[k] is not None}  # omit_nulls
        doc["status"] = o["status"].upper()
        lines.append({"index": {"_index": "quickstart-orders", "_id": "order-%d" % o["order_id"]}})
        lines.append(doc)
    with open(out, "w", encoding="utf-8") as f:
        for l in lines:
            f.write(json.dumps(l, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
