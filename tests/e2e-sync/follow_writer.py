#!/usr/bin/env python3
"""follow_writer.py - SQL for the follow suite's writer (tests/suites/67-follow.sh).

Prints TXNS transactions of mixed changes to the follow fixture's tables
(fl_customers, fl_orders, fl_lines: customers nest orders, orders nest
lines; fl_tags reached through fl_customer_tags), to be piped into psql while `sql2es sync --follow` runs: inserts,
updates, deletes, multi-row updates, a transaction larger than one apply
batch, rollbacks, soft deletes (deleted_at), rows leaving and entering the
mapping's `where` (active) and rule (names starting with "zz"), key updates
of root rows, updates that leave a TOAST value unchanged, child rows moved
to another parent, and pg_sleep pauses so the stream has quiet moments.
Usage: follow_writer.py SEED TXNS [--mysql]. --mysql writes MySQL/MariaDB
SQL for tests/suites/68-follow-mariadb.sh (INSERT IGNORE, DO SLEEP), to be
piped into `mariadb --force`. Standard library only.
"""
import random
import sys


def main():
    seed, txns = int(sys.argv[1]), int(sys.argv[2])
    mysql = "--mysql" in sys.argv[3:]
    rnd = random.Random(seed)
    out = sys.stdout
    # new ids of each seed in their own range
    next_c, next_o, next_l = seed * 100000, seed * 100000, seed * 100000
    for t in range(txns):
        stmts = []
        for _ in range(rnd.randint(1, 6)):
            k = rnd.random()
            c = rnd.randint(1, 400)
            o = rnd.randint(1, 1200)
            ln = rnd.randint(1, 3000)
            if k < 0.10:
                next_c += 1
                stmts.append(f"INSERT INTO fl_customers (id, name, active) VALUES ({next_c}, 'n{next_c}', true)")
            elif k < 0.14:
                stmts.append(f"UPDATE fl_customers SET name = 'u{t}' WHERE id = {c}")
            elif k < 0.16:
                # many-to-many: the far table, then the link table
                stmts.append(f"UPDATE fl_tags SET label = 'tag{t}' WHERE id = {rnd.randint(1, 30)}")
            elif k < 0.18:
                if mysql:
                    stmts.append(f"INSERT IGNORE INTO fl_customer_tags VALUES ({c}, {rnd.randint(1, 30)})")
                else:
                    stmts.append(f"INSERT INTO fl_customer_tags VALUES ({c}, {rnd.randint(1, 30)}) ON CONFLICT DO NOTHING")
            elif k < 0.20:
                stmts.append(f"DELETE FROM fl_customer_tags WHERE customer_id = {c}")
            elif k < 0.24:
                stmts.append(f"DELETE FROM fl_customers WHERE id = {c}")
            elif k < 0.28:
                stmts.append(f"UPDATE fl_customers SET active = NOT active WHERE id = {c}")
            elif k < 0.31:
                stmts.append(f"UPDATE fl_customers SET deleted_at = CASE WHEN deleted_at IS NULL THEN now() END WHERE id = {c}")
            elif k < 0.34:
                stmts.append(f"UPDATE fl_customers SET name = CASE WHEN name LIKE 'zz%' THEN 'back{t}' ELSE 'zz{t}' END WHERE id = {c}")
            elif k < 0.36:
                stmts.append(f"UPDATE fl_customers SET id = id + {seed * 100000 + 50000} WHERE id = {c}")
            elif k < 0.40:
                # the TOAST value (bio) is not sent by the stream: it must stay
                stmts.append(f"UPDATE fl_customers SET score = score + 1 WHERE id = {c}")
            elif k < 0.48:
                next_o += 1
                stmts.append(f"INSERT INTO fl_orders VALUES ({next_o}, {c}, {rnd.randint(1, 99999) / 100})")
            elif k < 0.56:
                stmts.append(f"UPDATE fl_orders SET total = total + 1 WHERE id = {o}")
            elif k < 0.60:
                stmts.append(f"UPDATE fl_orders SET customer_id = {c} WHERE id = {o}")
            elif k < 0.64:
                stmts.append(f"DELETE FROM fl_orders WHERE id = {o}")
            elif k < 0.74:
                next_l += 1
                stmts.append(f"INSERT INTO fl_lines VALUES ({next_l}, {o}, 'sku{next_l}', {rnd.randint(1, 9)})")
            elif k < 0.84:
                stmts.append(f"UPDATE fl_lines SET qty = qty + 1 WHERE id = {ln}")
            elif k < 0.88:
                stmts.append(f"UPDATE fl_lines SET order_id = {o} WHERE id = {ln}")
            elif k < 0.92:
                stmts.append(f"DELETE FROM fl_lines WHERE id = {ln}")
            elif k < 0.96:
                stmts.append(f"UPDATE fl_lines SET qty = qty + 1 WHERE id BETWEEN {ln} AND {ln + 40}")
            else:
                stmts.append(f"UPDATE fl_orders SET total = total + 0.5 WHERE id BETWEEN {o} AND {o + 30}")
        if t % 400 == 199:
            # larger than one apply batch (500 tuples)
            stmts.append("UPDATE fl_lines SET qty = qty + 1 WHERE id % 4 = 0")
        end = "ROLLBACK" if rnd.random() < 0.08 else "COMMIT"
        out.write("BEGIN;\n" + ";\n".join(stmts) + f";\n{end};\n")
        if t % 50 == 0:
            pause = rnd.randint(0, 20) / 100
            out.write(f"DO SLEEP({pause});\n" if mysql else f"SELECT pg_sleep({pause});\n")


if __name__ == "__main__":
    main()
