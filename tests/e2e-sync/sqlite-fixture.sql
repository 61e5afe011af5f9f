-- sqlite-fixture.sql - the database of the SQLite end-to-end sync suite
-- (tests/suites/62-sync-sqlite.sh): customers with one-to-many orders and a
-- many-to-one country. Created fresh at each run.
CREATE TABLE countries (code TEXT PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO countries VALUES ('FR', 'France'), ('JP', '日本'), ('US', 'United "States"');

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT,
    score REAL,
    big INTEGER,
    country_code TEXT,
    created TEXT,
    updated_at TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 300)
INSERT INTO customers
SELECT n,
       CASE n % 4 WHEN 0 THEN 'quote " and \ back' WHEN 1 THEN 'line1' || char(10) || 'line2' || char(9) || 'tab'
                  WHEN 2 THEN 'unicode é€ 😀' ELSE 'customer ' || n END,
       '  User' || n || '@Example.COM ',
       n * 0.25,
       9007199254740993 + n,
       CASE n % 4 WHEN 0 THEN 'FR' WHEN 1 THEN 'JP' WHEN 2 THEN 'US' ELSE NULL END,
       date('2000-01-01', '+' || n || ' days'),
       datetime('2024-01-01 00:00:00', '+' || n || ' minutes'),
       0
FROM g;

CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, total REAL, status TEXT);
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 700)
INSERT INTO orders SELECT n, (n * 7) % 250 + 1, n * 1.5, CASE n % 3 WHEN 0 THEN 'paid' ELSE 'open' END FROM g;
