-- mysql-fixture.sql - tables of the MariaDB end-to-end sync suite
-- (tests/suites/61-sync-mariadb.sh). Recreated at each run.
SET NAMES utf8mb4;
SET time_zone = '+00:00';
DROP TABLE IF EXISTS e2e_products, e2e_plain, e2e_orders, e2e_dead;

CREATE TABLE e2e_products (
    id int PRIMARY KEY,
    name varchar(200) NOT NULL,
    qty bigint unsigned,
    price decimal(30,10),
    ratio double,
    active tinyint(1),
    born date,
    made datetime(6),
    stamp timestamp(3) NULL,
    kind enum('small','large'),
    attrs json,
    blob_data blob,
    code char(8),
    note text,
    deleted_at datetime NULL
) DEFAULT CHARSET = utf8mb4;
INSERT INTO e2e_products
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 150)
SELECT n,
       CASE n % 4 WHEN 0 THEN 'quote " and \\ back' WHEN 1 THEN 'line1\nline2\ttab' WHEN 2 THEN 'unicode é€ 日本 😀' ELSE CONCAT('product ', n) END,
       18446744073709551615 - n,
       n * 1234567890.0123456789 + 0.0000000001,
       n / 3,
       n % 2,
       DATE '1999-12-31' + INTERVAL n DAY,
       TIMESTAMP '2001-02-03 04:05:06.789012' + INTERVAL n HOUR,
       TIMESTAMP '2024-01-01 00:00:00.125' + INTERVAL n MINUTE,
       IF(n % 3 = 0, 'large', 'small'),
       JSON_OBJECT('k', n, 'tags', JSON_ARRAY('a', CONCAT('t', n)), 'sub', JSON_OBJECT('f', 1.5)),
       IF(n % 5 = 0, NULL, CONCAT('bin', CHAR(0), n)),
       IF(n % 10 = 0, CONCAT('X', n), CONCAT('C', n)),
       IF(n % 2 = 0, NULL, REPEAT('long text ', n)),
       NULL
FROM g;

-- no mapping: documents as the Elastic MySQL connector makes them
CREATE TABLE e2e_plain (id int PRIMARY KEY, label varchar(20), n int);
INSERT INTO e2e_plain WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 25)
SELECT n, CONCAT('p', n), n * 2 FROM g;

-- incremental: cursor (updated_at, id)
CREATE TABLE e2e_orders (id int PRIMARY KEY, total decimal(12,2), status varchar(20), updated_at datetime(6) NOT NULL, deleted tinyint(1) NOT NULL DEFAULT 0);
INSERT INTO e2e_orders WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 80)
SELECT n, n * 10.5, 'new', TIMESTAMP '2024-01-01 00:00:00' + INTERVAL n MINUTE, 0 FROM g;

-- a text column mapped as long: rows that are not numbers are refused by the node
CREATE TABLE e2e_dead (id int PRIMARY KEY, note varchar(40));
INSERT INTO e2e_dead WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 30)
SELECT n, IF(n = 9, 'nine', CAST(n AS char)) FROM g;
