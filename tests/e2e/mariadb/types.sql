-- Type matrix for tests/suites/51-dryrun-mariadb.sh (database sql2es_test).
SET time_zone = '+00:00';
DROP TABLE IF EXISTS types, pairs, nopk, withid;
CREATE TABLE types (
    k INT PRIMARY KEY,
    dec65 DECIMAL(65,30),
    dt6 DATETIME(6),
    ts TIMESTAMP NULL,
    tm TIME(3),
    yr YEAR,
    js JSON,
    bl BLOB,
    bt BIT(10),
    en ENUM('small','medium','large'),
    st SET('a','b','c'),
    ubig BIGINT UNSIGNED,
    sbig BIGINT,
    tiny TINYINT,
    fl FLOAT,
    db DOUBLE,
    vc VARCHAR(50),
    d DATE
) CHARACTER SET utf8mb4;
INSERT INTO types VALUES
 (1, 12345678901234567890123456789012345.123456789012345678901234567890, '2024-03-01 12:34:56.123456',
  '2024-03-01 10:00:00', '-838:59:59.000', 2024, '{"a": [1, 2.5, "x"], "b": null}', X'00FF10', b'1000000001',
  'medium', 'a,c', 18446744073709551615, -9223372036854775808, -128, 0.5, 1.25, 'héllo "q" \\ end', '2024-02-29'),
 (2, -0.000000000000000000000000000001, '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01', '12:00:00.5',
  1901, '[]', X'', b'0', 'small', '', 0, 9223372036854775807, 127, -2.5, 1e300, '', '1000-01-01'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE pairs (a INT, b VARCHAR(10), val VARCHAR(10), PRIMARY KEY (a, b));
INSERT INTO pairs VALUES (2, 'x', 'two-x'), (1, 'z', 'one-z'), (1, 'a', 'one-a');
CREATE TABLE nopk (x INT);
INSERT INTO nopk VALUES (1);
-- a column named `id`: the connectors' extra field `id` (= _id) replaces it (one key, no duplicate)
CREATE TABLE withid (id INT PRIMARY KEY, v VARCHAR(5));
INSERT INTO withid VALUES (7, 'seven');
