-- Type matrix for tests/suites/52-dryrun-sqlite.sh (SQLite's dynamic types).
CREATE TABLE things (
    id INTEGER PRIMARY KEY,
    i INTEGER,
    r REAL,
    t TEXT,
    b BLOB,
    flag BOOLEAN,
    doc JSON,
    d DATE,
    anything,
    n NUMERIC
);
INSERT INTO things VALUES
 (1, 9223372036854775807, 3.0, 'héllo "q" \ end', X'00FF10', 1, '{"a": [1, 2.5], "b": null}', '2024-02-29', 42, 12.5),
 (2, -9223372036854775808, 1.5, CAST(X'61FF62' AS TEXT), X'', 0, 'not json', '2024-13-45 garbage', 'text', '007'),
 (3, 0, 9e999, CAST(X'C0AF' AS TEXT), NULL, NULL, '[1,2]', NULL, X'CAFE', NULL),
 (4, NULL, -9e999, CAST(X'E282' AS TEXT), NULL, 2, NULL, NULL, 1.25, NULL),
 (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE "Mixed Case" (code TEXT PRIMARY KEY, qty INTEGER);
INSERT INTO "Mixed Case" VALUES ('b', 2), ('a', 1);
CREATE TABLE nopk (x INTEGER);
INSERT INTO nopk VALUES (1);
