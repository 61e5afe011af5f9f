-- Type matrix for the PostgreSQL dry-run suite (tests/suites/50-dryrun-postgresql.sh).
-- Expected documents: types.expected.ndjson (written from PostgreSQL's semantics).
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS e2e CASCADE;
CREATE SCHEMA e2e;
SET search_path = e2e;
SET TIME ZONE 'UTC';
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');

CREATE TABLE "Types" (
    id        integer PRIMARY KEY,
    num       numeric(40,20),
    money_v   money,
    tstz      timestamptz,
    ts        timestamp,
    d         date,
    t         time,
    iv        interval,
    j         json,
    jb        jsonb,
    arr_i     integer[],
    arr_t     text[],
    by        bytea,
    u         uuid,
    ip        inet,
    net       cidr,
    b         bit(4),
    vb        varbit,
    pt        point,
    bx        box,
    m         mood,
    f8        double precision,
    f4        real,
    big       bigint,
    sm        smallint,
    ok        boolean,
    txt       text,
    ch        char(3)
);
INSERT INTO "Types" VALUES
 (1, 12345678901234567890.12345678901234567890, 1234.56, '2024-03-01 12:34:56.789+02',
  '2024-03-01 12:34:56.123456', '2024-02-29', '23:59:59.5', '1 year 2 mons 3 days 04:05:06',
  '{"a": [1, 2.50, "x"], "b": null}', '{"b": 1, "a": {"c": true}}', '{1,2,3}', '{"x","y z",NULL}',
  '\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1/24', '10.0.0.0/8',
  B'1010', B'101', '(1.5,-2)', '((0,0),(1,1))', 'happy', 1.25, 0.5, 9223372036854775807,
  -32768, true, 'héllo "q" \ end', 'ab'),
 (2, -0.00000000000000000001, -5.00, '1999-12-31 23:59:59+00', '0001-01-01 00:00:00', '1970-01-01',
  '00:00:00', '-00:00:01', '[]', '[]', '{}', '{}', '\x', '00000000-0000-0000-0000-000000000000',
  '::1', '2001:db8::/32', B'0000', B'', '(0,0)', '((2,3),(-1,-1))', 'sad', 'NaN', 'Infinity',
  -9223372036854775808, 0, false, E'line\nbreak\ttab', 'xyz'),
 (3, 'NaN', NULL, NULL, NULL, NULL, NULL, NULL, 'null', 'null', NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, '-Infinity', NULL, NULL, NULL, NULL, NULL, NULL);

-- composite primary key, names needing lower-casing
CREATE TABLE "Pairs" ("A" integer, "B" text, val text, PRIMARY KEY ("A", "B"));
INSERT INTO "Pairs" VALUES (2, 'x', 'two-x'), (1, 'z', 'one-z'), (1, 'a', 'one-a');

-- no primary key: skipped with a warning (as the connectors)
CREATE TABLE nopk (x integer);
INSERT INTO nopk VALUES (1);

-- document ids longer than 512 bytes become their MD5 hex (as the connectors)
CREATE TABLE longkey (k text PRIMARY KEY);
INSERT INTO longkey VALUES (repeat('x', 600)), (repeat('y', 488));
