-- pg-fixture.sql - tables of the PostgreSQL end-to-end sync suite
-- (tests/suites/60-sync-postgresql.sh). Recreated at each run.
DROP TABLE IF EXISTS e2e_items, e2e_plain, e2e_events, e2e_prices, e2e_dead, e2e_conflict;

-- every common column type; strings with quotes, backslashes, newlines, unicode
CREATE TABLE e2e_items (
    id int PRIMARY KEY,
    name text NOT NULL,
    qty bigint,
    big numeric(40,10),
    amount numeric,
    ok boolean,
    born date,
    seen_at timestamp,
    updated_at timestamptz NOT NULL,
    tags text[],
    meta jsonb,
    ratio double precision,
    code varchar(12),
    uid uuid,
    note text,
    deleted_at timestamptz
);
INSERT INTO e2e_items
SELECT g,
       CASE g % 5 WHEN 0 THEN 'quote " and \ back' WHEN 1 THEN E'line1\nline2\ttab' WHEN 2 THEN 'unicode é€ 日本 😀'
                  ELSE 'item ' || g END,
       g::bigint * 123456789012,
       (g::numeric * 1234567890.0123456789) + 0.0000000001,
       (g::numeric / 7)::numeric(50,30),
       g % 3 = 0,
       date '1999-12-31' + g,
       timestamp '2001-02-03 04:05:06.789' + g * interval '1 hour',
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute',
       CASE WHEN g % 4 = 0 THEN NULL ELSE ARRAY['t' || g, 'x,y', ''] END,
       jsonb_build_object('k', g, 'nested', jsonb_build_object('s', 'v' || g, 'f', 1.5), 'arr', jsonb_build_array('one', 'two', NULL, 'x' || g)),
       g / 3.0::float8,
       CASE WHEN g % 10 = 0 THEN 'X' || g ELSE 'C' || g END,
       md5(g::text)::uuid,
       CASE WHEN g % 2 = 0 THEN NULL ELSE 'n' || g END,
       NULL
FROM generate_series(1, 200) g;

-- no mapping: documents as the Elastic PostgreSQL connector makes them
CREATE TABLE e2e_plain (id int PRIMARY KEY, label text, n int, at timestamptz);
INSERT INTO e2e_plain SELECT g, 'p' || g, g * 2, timestamptz '2020-06-01 12:00:00+02' + g * interval '1 day'
FROM generate_series(1, 30) g;

-- incremental: cursor (updated_at, id)
CREATE TABLE e2e_events (id int PRIMARY KEY, title text, updated_at timestamptz NOT NULL, deleted_at timestamptz);
INSERT INTO e2e_events SELECT g, 'event ' || g, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', NULL
FROM generate_series(1, 100) g;

CREATE TABLE e2e_prices (id int PRIMARY KEY, price numeric(12,2));
INSERT INTO e2e_prices SELECT g, g * 1.25 FROM generate_series(1, 10) g;

-- a text column mapped as long: rows that are not numbers are refused by the node
CREATE TABLE e2e_dead (id int PRIMARY KEY, note text);
INSERT INTO e2e_dead SELECT g, CASE WHEN g IN (7, 13) THEN 'not a number ' || g ELSE g::text END
FROM generate_series(1, 40) g;

CREATE TABLE e2e_conflict (id int PRIMARY KEY, code varchar(12));
INSERT INTO e2e_conflict SELECT g, 'c' || g FROM generate_series(1, 5) g;

-- two tables into one index: a failed extraction must not sweep
DROP TABLE IF EXISTS e2e_sweep_a, e2e_sweep_b;
CREATE TABLE e2e_sweep_a (id int PRIMARY KEY, v text);
INSERT INTO e2e_sweep_a SELECT g, 'a' || g FROM generate_series(1, 300) g;
CREATE TABLE e2e_sweep_b (id int PRIMARY KEY, v text);
INSERT INTO e2e_sweep_b SELECT g, 'b' || g FROM generate_series(1, 300) g;

-- incremental cursor column with a NULL (PostgreSQL sorts NULL first in DESC order)
DROP TABLE IF EXISTS e2e_nullcur;
CREATE TABLE e2e_nullcur (id int PRIMARY KEY, v text, updated_at timestamptz);
INSERT INTO e2e_nullcur SELECT g, 'v' || g, CASE WHEN g = 5 THEN NULL ELSE timestamptz '2024-01-01' + g * interval '1 min' END
FROM generate_series(1, 10) g;

-- incremental + a document refused by the node
DROP TABLE IF EXISTS e2e_deadinc;
CREATE TABLE e2e_deadinc (id int PRIMARY KEY, note text, updated_at timestamptz NOT NULL);
INSERT INTO e2e_deadinc SELECT g, CASE WHEN g = 4 THEN 'four' ELSE g::text END, timestamptz '2024-01-01' + g * interval '1 min'
FROM generate_series(1, 8) g;
