/* test_sqlite_driver.c - the SQLite source driver on real database files.
 *
 * Fixtures are written by the sqlite3 command-line tool (only sources/sqlite.c
 * includes sqlite3.h) into a temporary directory: every value kind, invalid
 * UTF-8 text and blobs with NUL bytes passed through, declared BOOLEAN/JSON,
 * describe and primary keys, list_tables, a missing file, a file that is not a
 * database, a missing table, read-only access, and a throughput figure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/diag.h"
#include "sources/source.h"
#include "t.h"

extern const src_driver src_sqlite_driver;
static const src_driver *drv = &src_sqlite_driver;
static char dir[256];

static int run_sqlite(const char *db, const char *sql)
{
    char in[400], cmd[1200];
    snprintf(in, sizeof in, "%s/in.sql", dir);
    FILE *f = fopen(in, "w");
    if (!f) return -1;
    fputs(sql, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "sqlite3 -batch '%s' <'%s'", db, in);
    return system(cmd);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "K:bytes": N null, B bool, # number, S string, J json, X binary (hex) */
static const char *render(buf *b, const src_value *v)
{
    static const char kinds[] = "NB#SJX";
    buf_reset(b);
    buf_putc(b, kinds[v->kind]);
    buf_putc(b, ':');
    if (v->kind == SRC_BINARY) {
        for (size_t i = 0; i < v->n; i++) buf_printf(b, "%02x", (unsigned char)v->p[i]);
    } else if (v->n) {
        buf_append(b, v->p, v->n);
    }
    return b->data;
}

static const char *fixture =
    "CREATE TABLE t_vals (id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB,\n"
    "  flag BOOLEAN, j JSON, dt DATETIME, n NUMERIC, u);\n"
    "INSERT INTO t_vals VALUES (1, -9223372036854775808, 0.1, 'h\xC3\xA9llo', X'0001FF00', 1,\n"
    "  '{\"a\": [1, 2.5, null, \"x\\\"y\"]}', '2024-01-02 03:04:05', 12.5, 'any');\n"
    "INSERT INTO t_vals VALUES (2, 42, 3.0, CAST(X'FF41' AS TEXT), X'', 0, 'not json',\n"
    "  '2024-01-02T03:04:05Z', 7, X'01');\n"
    "INSERT INTO t_vals VALUES (3, 9223372036854775807, 1e999, '', NULL, 2, '[1,]', NULL,\n"
    "  'abc', NULL);\n"
    "INSERT INTO t_vals (id, r) VALUES (4, -1e999);\n"
    "CREATE TABLE t_pk (a TEXT NOT NULL, b INTEGER, c, PRIMARY KEY (b, a)) WITHOUT ROWID;\n"
    "CREATE TABLE t_rowid (x TEXT);\n"
    "INSERT INTO t_rowid VALUES ('one'), ('two');\n"
    "CREATE VIEW v_one AS SELECT id, t FROM t_vals;\n"
    "CREATE TABLE \"Odd \"\"name\"\"\" (k INTEGER PRIMARY KEY);\n"
    "CREATE TABLE t_dates_DATETIME (k INTEGER PRIMARY KEY, d DATETIME);\n"
    "CREATE TABLE t_dates_DATE (k INTEGER PRIMARY KEY, d DATE);\n"
    "CREATE TABLE t_dates_TIMESTAMP (k INTEGER PRIMARY KEY, d TIMESTAMP);\n"
    "ANALYZE;\n";

static const char *const want_vals[4][10] = {
    {"#:1", "#:-9223372036854775808", "#:0.1", "S:h\xC3\xA9llo", "X:0001ff00", "B:true",
     "J:{\"a\": [1, 2.5, null, \"x\\\"y\"]}", "S:2024-01-02T03:04:05Z", "#:12.5", "S:any"},
    {"#:2", "#:42", "#:3.0", "S:\xFF\x41", "X:", "B:false", "S:not json",
     "S:2024-01-02T03:04:05Z", "#:7", "X:01"},
    {"#:3", "#:9223372036854775807", "N:", "S:", "N:", "N:", "S:[1,]", "N:", "N:", "N:"},
    {"#:4", "N:", "N:", "N:", "N:", "N:", "N:", "N:", "N:", "N:"},
};

static void test_values(src_conn *c)
{
    diag *d = diag_new();
    buf b = BUF_INIT;
    src_scan *s = NULL;
    src_query q = {"SELECT * FROM t_vals ORDER BY id", NULL, 0, 0};
    int rc = drv->begin_scan(c, &q, &s, d);
    T_CHECK(rc == 0, "values: begin_scan");
    if (rc) {
        printf("# %s\n", diag_last(d));
        diag_free(d);
        return;
    }
    const src_column *cols;
    int ncols;
    drv->scan_columns(s, &cols, &ncols);
    T_CHECK(ncols == 10, "values: 10 columns");
    static const char *const es[10] = {"long", "long", "double", "text", "binary",
                                       "boolean", "object", "date", "double", "keyword"};
    for (int i = 0; i < ncols && i < 10; i++) {
        char name[96];
        snprintf(name, sizeof name, "scan es_type of %s (%s)", cols[i].name, cols[i].sql_type);
        T_STREQ(cols[i].es_type, es[i], name);
    }
    const src_value *row;
    for (int r = 0; r < 4; r++) {
        T_CHECK(drv->next(s, &row, d) == 1, "values: row");
        for (int i = 0; i < 10; i++) {
            char name[96];
            snprintf(name, sizeof name, "values: row %d %s", r + 1, cols[i].name);
            T_STREQ(render(&b, &row[i]), want_vals[r][i], name);
        }
    }
    T_CHECK(drv->next(s, &row, d) == 0 && drv->next(s, &row, d) == 0, "values: end (sticky)");
    T_CHECK(drv->stats(s)->rows == 4 && drv->stats(s)->warnings == 4,
            "values: 4 rows, 2 infinities, a BOOLEAN 2 and a NUMERIC 'abc' nulled with a warning");
    {
        int found = 0;
        for (size_t k = 0; k < diag_count(d); k++)
            found |= strstr(diag_get(d, k)->text, "column 'n' (NUMERIC, mapped as double): 'abc' "
                                                 "is not a number; written as null") != NULL;
        T_CHECK(found, "values: a value its mapping cannot hold is named in a warning");
    }
    drv->end_scan(s);

    /* reals: shortest round-trip text, always a valid JSON number */
    static const struct { const char *expr, *want; } reals[] = {
        {"0.1 + 0.2", "0.30000000000000004"}, {"1e300", "1e+300"}, {"100.25", "100.25"},
        {"1.5e-7", "1.5e-07"}, {"-2.0", "-2.0"}, {"1e15", "1e+15"}, {"123456.789", "123456.789"},
        {"0.05", "0.05"}, {"-0.001", "-0.001"}, {"2.5e-300", "2.5e-300"},
        {"9007199254740993.0", "9007199254740992.0"}, {"1.7976931348623157e308", "1.7976931348623157e+308"},
    };
    for (size_t k = 0; k < sizeof reals / sizeof reals[0]; k++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT %s", reals[k].expr);
        src_query rq = {sql, NULL, 0, 0};
        rc = drv->begin_scan(c, &rq, &s, d);
        if (rc == 0 && drv->next(s, &row, d) == 1) {
            char name[96];
            snprintf(name, sizeof name, "real %s", reals[k].expr);
            char want[64];
            snprintf(want, sizeof want, "#:%s", reals[k].want);
            T_STREQ(render(&b, &row[0]), want, name);
            T_CHECK(json_is_number(row[0].p, row[0].n), "real is a JSON number");
        } else {
            T_CHECK(0, "real query");
        }
        drv->end_scan(s);
    }
    /* -0.0 */
    src_query zq = {"SELECT -0.0, CAST('-0.0' AS REAL)", NULL, 0, 0};
    rc = drv->begin_scan(c, &zq, &s, d);
    T_CHECK(rc == 0 && drv->next(s, &row, d) == 1 && json_is_number(row[1].p, row[1].n) &&
                json_is_number(row[0].p, row[0].n),
            "negative zero is a JSON number");
    drv->end_scan(s);

    /* parameters */
    const char *p[] = {"2", "h\xC3\xA9llo"};
    src_query pq = {"SELECT id FROM t_vals WHERE id > ?1 OR t = ?2 ORDER BY id", p, 2, 0};
    rc = drv->begin_scan(c, &pq, &s, d);
    buf ids = BUF_INIT;
    while (rc == 0 && drv->next(s, &row, d) == 1) buf_append(&ids, row[0].p, row[0].n);
    drv->end_scan(s);
    T_STREQ(ids.data, "134", "params: text bound, numeric affinity applies");
    buf_free(&ids);
    src_query bad = {"SELECT id FROM t_vals WHERE id > ?1", NULL, 0, 0};
    T_CHECK(drv->begin_scan(c, &bad, &s, d) == DIAG_EINVAL && s == NULL,
            "params: count mismatch refused");

    /* errors */
    src_query miss = {"SELECT * FROM no_such_table", NULL, 0, 0};
    rc = drv->begin_scan(c, &miss, &s, d);
    T_CHECK(rc == DIAG_EIO && strstr(diag_last(d), "no such table: no_such_table"),
            "missing table -> EIO naming it");
    src_query wr = {"INSERT INTO t_rowid VALUES ('x') RETURNING rowid", NULL, 0, 0};
    rc = drv->begin_scan(c, &wr, &s, d);
    int r = rc == 0 ? drv->next(s, &row, d) : rc;
    drv->end_scan(s);
    T_CHECK(r < 0 && strstr(diag_last(d), "readonly"), "the database is opened read-only");
    buf_free(&b);
    diag_free(d);
}

static const struct { const char *sql, *want; } date_cases[] = {
    {"'2021-01-01 00:00:00'", "S:2021-01-01T00:00:00Z"},
    {"'2021-01-01T00:00:00'", "S:2021-01-01T00:00:00Z"},
    {"'2021-01-01'", "S:2021-01-01"},
    {"'2021-01-01 10:20'", "S:2021-01-01T10:20:00Z"},
    {"'2021-06-30 23:59:59.123456'", "S:2021-06-30T23:59:59.123456Z"},
    {"'2021-06-30 23:59:59.1234567891'", "S:2021-06-30T23:59:59.123456789Z"},
    {"'2021-06-30 10:00:00+05:30'", "S:2021-06-30T10:00:00+05:30"},
    {"'2021-06-30T10:00:00-0800'", "S:2021-06-30T10:00:00-08:00"},
    {"'2021-06-30 10:00:00 Z'", "S:2021-06-30T10:00:00Z"},
    {"'2021-06-30T10:00:00z'", "S:2021-06-30T10:00:00Z"},
    {"' 2024-02-29 01:02:03 '", "S:2024-02-29T01:02:03Z"},
    {"'12:34:56'", "S:2000-01-01T12:34:56Z"},
    {"1609459200", "S:2021-01-01T00:00:00Z"},              /* unix epoch INTEGER */
    {"0", "S:1970-01-01T00:00:00Z"},
    {"-1", "S:1969-12-31T23:59:59Z"},
    {"2459215.5", "S:2021-01-01T00:00:00Z"},               /* Julian day REAL */
    {"julianday('2021-03-04 05:06:07.891')", "S:2021-03-04T05:06:07.891Z"},
    {"datetime('2021-01-01', '+1 day')", "S:2021-01-02T00:00:00Z"},
    {"NULL", "N:"},
    {"'2021-02-29 00:00:00'", "N:"},                       /* not a calendar date */
    {"'2021-13-01'", "N:"},
    {"'2021-01-01 24:00:00'", "N:"},
    {"'yesterday'", "N:"},
    {"''", "N:"},
    {"'2021-01-01 00:00:00+5'", "N:"},
    {"X'00'", "N:"},
    {"99999999999999", "N:"},                              /* beyond year 9999 */
    {"'2021-06-30 10:00:00+05'", "S:2021-06-30T10:00:00+05:00"}, /* hours-only offset */
    {"'2021-06-30 10:00:00 -05:30'", "S:2021-06-30T10:00:00-05:30"}, /* blank before it */
    {"'2021-06-30 10:00:00+19:00'", "N:"},                 /* no offset beyond 18 hours */
    {"'2021-06-30 10:00:00+0a:00'", "N:"},
    {"'2021-06-30 10:00:60'", "N:"},
    {"'2021-06-30 10:00:00.'", "N:"},                      /* a dot without digits */
    {"'2021-06-30X10:00:00'", "N:"},
    {"'2000-02-29'", "S:2000-02-29"},                      /* leap: divisible by 400 */
    {"'1900-02-29'", "N:"},                                /* not leap: divisible by 100 */
    {"'2021-01-01' || char(10)", "N:"},                    /* a trailing newline is no blank */
    /* each part of the forms checked on its own */
    {"'2x21-01-01'", "N:"},                                /* year not digits */
    {"'2021-0a-01'", "N:"},                                /* month not digits */
    {"'2021-01-0b'", "N:"},                                /* day not digits */
    {"'2021-00-10'", "N:"},                                /* month 0 */
    {"'2021-01-00'", "N:"},                                /* day 0 */
    {"'2021-04-31'", "N:"},                                /* day 31 of a 30-day month */
    {"'2021-01-01t10:20'", "S:2021-01-01T10:20:00Z"},      /* lower-case t */
    {"'2021-01-01 10:2'", "N:"},                           /* minutes cut short */
    {"'10-20:00'", "N:"},                                  /* no colon after the hour */
    {"'1a:20'", "N:"},                                     /* hour not digits */
    {"'10:2b'", "N:"},                                     /* minutes not digits */
    {"'10:20:'", "N:"},                                    /* seconds missing */
    {"'10:20:5x'", "N:"},                                  /* seconds not digits */
    {"'10:60'", "N:"},                                     /* minute 60 */
    {"'24:00'", "N:"},                                     /* hour 24 */
    {"'10:20:30Zx'", "N:"},                                /* something after Z */
    {"'10:20:30 UTC'", "N:"},                              /* a zone name */
    {"'10:20:30+05:3x'", "N:"},                            /* offset minutes not digits */
    {"'10:20:30+0x:30'", "N:"},                            /* offset hours not digits */
    {"'10:20:30-08x0'", "N:"},                             /* four-digit offset not digits */
    {"'10:20:30-0x'", "N:"},                               /* two-digit offset not digits */
    {"'10:20:30+05:60'", "N:"},                            /* offset minute 60 */
    {"'10:20:30+0530'", "S:2000-01-01T10:20:30+05:30"},    /* four digits, time only */
    {"-99999999999999", "N:"},                             /* epoch before year 0 */
    {"253402300799", "S:9999-12-31T23:59:59Z"},            /* the last second of 9999 */
    {"253402300800", "N:"},                                /* the first one after it */
    {"1.5", "N:"},                                         /* Julian day before year 0 */
    {"5373484.5", "N:"},                                   /* Julian day after 9999 */
    {"9e999", "N:"},                                       /* infinite */
};

/* SQLite's date and time forms in DATE/DATETIME/TIMESTAMP columns become
 * ISO-8601 (what a `date` field accepts); anything else null + a warning. */
static void test_dates(src_conn *c)
{
    diag *d = diag_new();
    buf b = BUF_INIT;
    for (const char *type = "DATETIME"; type; type = strcmp(type, "DATETIME") == 0 ? "DATE"
                                              : strcmp(type, "DATE") == 0   ? "TIMESTAMP"
                                                                            : NULL) {
        for (size_t k = 0; k < sizeof date_cases / sizeof date_cases[0]; k++) {
            char sql[256];
            snprintf(sql, sizeof sql, "SELECT d FROM t_dates_%s WHERE k = %zu", type, k);
            src_scan *s = NULL;
            src_query q = {sql, NULL, 0, 0};
            const src_value *row;
            char name[160];
            snprintf(name, sizeof name, "date %s %s", type, date_cases[k].sql);
            if (drv->begin_scan(c, &q, &s, d) == 0 && drv->next(s, &row, d) == 1)
                T_STREQ(render(&b, &row[0]), date_cases[k].want, name);
            else
                T_CHECK(0, name);
            drv->end_scan(s);
        }
    }
    int warned = 0;
    for (size_t k = 0; k < diag_count(d); k++)
        warned |= strstr(diag_get(d, k)->text, "column 'd' (DATETIME, mapped as date): 'yesterday' is not a "
                                               "date SQLite knows; written as null") != NULL;
    T_CHECK(warned, "dates: a value that is no date is named in a warning");
    T_CHECK(diag_errors(d) == 0, "dates: no error");
    buf_free(&b);
    diag_free(d);
}

static void test_describe(src_conn *c)
{
    diag *d = diag_new();
    arena *a = arena_new();
    src_table t;
    int rc = drv->describe(c, NULL, "t_pk", a, &t, d);
    T_CHECK(rc == 0 && t.ncols == 3 && t.npk == 2 && t.pk[0] == 1 && t.pk[1] == 0,
            "describe: composite pk in key order (b, a)");
    if (rc == 0) {
        T_CHECK(t.cols[1].pk_pos == 1 && t.cols[0].pk_pos == 2 && t.cols[2].pk_pos == 0, "describe: pk_pos");
        T_CHECK(!t.cols[0].nullable && t.cols[2].nullable, "describe: nullable");
        T_STREQ(t.cols[2].sql_type, "", "describe: untyped column");
        T_STREQ(t.cols[0].es_type, "text", "describe: TEXT -> text");
    }
    rc = drv->describe(c, NULL, "t_vals", a, &t, d);
    T_CHECK(rc == 0 && t.ncols == 10 && t.npk == 1 && t.pk[0] == 0, "describe: INTEGER PRIMARY KEY");
    T_CHECK(rc == 0 && t.row_estimate == 4, "describe: row estimate from sqlite_stat1");
    if (rc == 0) {
        T_STREQ(t.cols[5].es_type, "boolean", "describe: BOOLEAN -> boolean");
        T_STREQ(t.cols[7].es_type, "date", "describe: DATETIME -> date");
        T_STREQ(t.cols[8].es_type, "double", "describe: NUMERIC -> double");
    }
    rc = drv->describe(c, NULL, "T_ROWID", a, &t, d);
    T_CHECK(rc == 0 && t.npk == 0 && t.ncols == 1 && strcmp(t.name, "t_rowid") == 0,
            "describe: rowid table has no pk; name resolved case-insensitively");
    rc = drv->describe(c, NULL, "v_one", a, &t, d);
    T_CHECK(rc == 0 && t.is_view && t.ncols == 2 && t.npk == 0 && t.row_estimate == -1,
            "describe: view");
    rc = drv->describe(c, NULL, "Odd \"name\"", a, &t, d);
    T_CHECK(rc == 0 && t.npk == 1, "describe: quoted name");
    rc = drv->describe(c, NULL, "nope", a, &t, d);
    T_CHECK(rc == DIAG_ENOTFOUND && strstr(diag_last(d), "nope"), "describe: missing -> ENOTFOUND");

    const char **names;
    int n = 0;
    rc = drv->list_tables(c, NULL, a, &names, &n, d);
    static const char *const want[] = {"Odd \"name\"", "t_dates_DATE", "t_dates_DATETIME",
                                       "t_dates_TIMESTAMP", "t_pk", "t_rowid", "t_vals", "v_one"};
    int ok = rc == 0 && n == 8;
    for (int i = 0; ok && i < 8; i++) ok = strcmp(names[i], want[i]) == 0;
    T_CHECK(ok, "list_tables: tables and views sorted, sqlite_ tables excluded");

    /* rowid is selectable for rowid tables */
    src_scan *s = NULL;
    src_query q = {"SELECT rowid, * FROM t_rowid ORDER BY rowid", NULL, 0, 0};
    const src_value *row;
    rc = drv->begin_scan(c, &q, &s, d);
    T_CHECK(rc == 0 && drv->next(s, &row, d) == 1 && row[0].kind == SRC_NUMBER && row[0].n == 1 &&
                row[0].p[0] == '1',
            "rowid usable as a column");
    drv->end_scan(s);
    arena_free(a);
    diag_free(d);
}

static void test_open_errors(void)
{
    diag *d = diag_new();
    src_conn *c = NULL;
    char path[400];
    snprintf(path, sizeof path, "%s/missing.db", dir);
    src_config cfg = {0};
    cfg.path = path;
    int rc = drv->open(&cfg, &c, d);
    T_CHECK(rc == DIAG_EIO && c == NULL, "missing file -> EIO");
    T_CHECK(strstr(diag_last(d), path) && strstr(diag_last(d), "No such file"),
            "missing file: message names it");
    T_CHECK(access(path, F_OK) != 0, "missing file is not created");
    snprintf(path, sizeof path, "%s/text.db", dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("this is not a database, just some text long enough to be checked\n", f);
        fclose(f);
    }
    rc = drv->open(&cfg, &c, d);
    T_CHECK(rc == DIAG_EIO && c == NULL && strstr(diag_last(d), "not a database"),
            "not a database -> EIO");
    cfg.path = NULL;
    T_CHECK(drv->open(&cfg, &c, d) == DIAG_EINVAL, "no path -> EINVAL");
    drv->close(NULL);
    diag_free(d);
}

static void test_speed(void)
{
    char path[400];
    snprintf(path, sizeof path, "%s/speed.db", dir);
    int nrows = 100000;
    char sql[1024];
    snprintf(sql, sizeof sql,
             "CREATE TABLE s (id INTEGER PRIMARY KEY, a INTEGER, b REAL, c TEXT, d TEXT,\n"
             " e INTEGER, f REAL, g TEXT, h BOOLEAN, i BLOB);\n"
             "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < %d)\n"
             "INSERT INTO s SELECT x, x * 7, x / 8.0, 'name ' || x, printf('%%08d', x), -x,\n"
             " x * 1.25, '2024-01-02T03:04:05Z', x %% 2, randomblob(8) FROM n;\n",
             nrows);
    T_CHECK(run_sqlite(path, sql) == 0, "speed: fixture");
    diag *d = diag_new();
    src_config cfg = {0};
    cfg.path = path;
    src_conn *c = NULL;
    if (drv->open(&cfg, &c, d) != 0) {
        T_CHECK(0, "speed: open");
        diag_free(d);
        return;
    }
    src_scan *s = NULL;
    src_query q = {"SELECT * FROM s", NULL, 0, 0};
    double t0 = now_s();
    int rc = drv->begin_scan(c, &q, &s, d);
    const src_value *row;
    long n = 0;
    size_t bytes = 0;
    while (rc == 0 && drv->next(s, &row, d) == 1) {
        n++;
        bytes += row[2].n + row[3].n;
    }
    double dt = now_s() - t0;
    drv->end_scan(s);
    drv->close(c);
    T_CHECK(n == nrows, "speed: every row read");
    printf("# sqlite scan: %ld rows x 10 columns in %.3f s = %.0f rows/s\n", n, dt, (double)n / dt);
    diag_free(d);
}

/* Values a column's declared type cannot hold as they are, statements that
 * give no rows, a statement run twice (the cached statement), another
 * schema, and a directory given as the database file. */
static void test_more(void)
{
    char path[400];
    snprintf(path, sizeof path, "%s/more.db", dir);
    int st = run_sqlite(path, "CREATE TABLE t_low (k integer primary key, f bool, j jsonb, t text);\n"
                              "CREATE TABLE t_fit (k INTEGER PRIMARY KEY, flag BOOLEAN, b BLOB);\n"
                              "INSERT INTO t_fit VALUES (1, 'true', 'abc'), (2, 'false', 5),\n"
                              "  (3, 'yes', X'00ff');\n");
    T_CHECK(st == 0, "more: fixture written");
    diag *d = diag_new();
    src_config cfg = {0};
    cfg.path = path;
    src_conn *c = NULL;
    if (drv->open(&cfg, &c, d) != 0) {
        T_CHECK(0, "more: open");
        printf("# %s\n", diag_last(d));
        diag_free(d);
        return;
    }
    buf b = BUF_INIT, got = BUF_INIT;
    const src_value *row;
    src_scan *s = NULL;
    src_query q = {"SELECT flag, b FROM t_fit ORDER BY k", NULL, 0, 0};
    for (int pass = 0; pass < 2; pass++) { /* the second run reuses the cached statement */
        buf_reset(&got);
        if (drv->begin_scan(c, &q, &s, d) == 0)
            while (drv->next(s, &row, d) == 1) {
                buf_printf(&got, "%s ", render(&b, &row[0]));
                buf_printf(&got, "%s|", render(&b, &row[1]));
            }
        T_STREQ(got.data, "S:true X:616263|S:false N:|N: X:00ff|",
                pass ? "fit: the same statement again gives the same rows"
                     : "fit: 'true'/'false' in a BOOLEAN kept, text in a BLOB is its bytes, "
                       "an integer in a BLOB and 'yes' in a BOOLEAN are null");
        T_CHECK(s && drv->stats(s)->warnings == 2, pass ? "fit: two warnings again" : "fit: two warnings");
        drv->end_scan(s);
        s = NULL;
    }
    int w1 = 0, w2 = 0;
    for (size_t k = 0; k < diag_count(d); k++) {
        w1 |= strstr(diag_get(d, k)->text, "column 'b' (BLOB, mapped as binary): '5' is not a BLOB or text; "
                                           "written as null") != NULL;
        w2 |= strstr(diag_get(d, k)->text, "column 'flag' (BOOLEAN, mapped as boolean): 'yes' is not a "
                                           "boolean (0, 1, 'true', 'false'); written as null") != NULL;
    }
    T_CHECK(w1 && w2, "fit: each warning names the column, its type and the value");

    src_query e = {"  -- nothing but a comment", NULL, 0, 0};
    T_CHECK(drv->begin_scan(c, &e, &s, d) == DIAG_EINVAL && s == NULL &&
                strcmp(diag_last(d), "sqlite: the query is empty") == 0,
            "a query without a statement is refused");
    src_query del = {"DELETE FROM t_fit WHERE k = ?1", (const char *const[]){"1"}, 1, 0};
    T_CHECK(drv->begin_scan(c, &del, &s, d) == DIAG_EINVAL && s == NULL &&
                strcmp(diag_last(d), "sqlite: the statement returns no rows") == 0,
            "a statement without result columns is refused (and never run)");
    src_query cnt = {"SELECT count(*) FROM t_fit", NULL, 0, 0};
    T_CHECK(drv->begin_scan(c, &cnt, &s, d) == 0 && drv->next(s, &row, d) == 1 && row[0].n == 1 &&
                row[0].p[0] == '3',
            "... the row is still there");
    drv->end_scan(s);

    arena *a = arena_new();
    src_table lt;
    T_CHECK(drv->describe(c, NULL, "t_low", a, &lt, d) == 0 && lt.ncols == 4 &&
                !strcmp(lt.cols[1].es_type, "boolean") && !strcmp(lt.cols[2].es_type, "object") &&
                !strcmp(lt.cols[3].es_type, "text"),
            "types declared in lower case: bool, jsonb, text");
    const char **names;
    int n = -1;
    T_CHECK(drv->list_tables(c, "main", a, &names, &n, d) == 0 && n == 2 && strcmp(names[0], "t_fit") == 0 &&
                strcmp(names[1], "t_low") == 0,
            "list_tables of schema main");
    n = -1;
    T_CHECK(drv->list_tables(c, "temp", a, &names, &n, d) == 0 && n == 0, "list_tables of schema temp: none");
    src_table t;
    T_CHECK(drv->describe(c, "main", "t_fit", a, &t, d) == 0 && t.ncols == 3 && strcmp(t.schema, "main") == 0 &&
                strcmp(t.cols[2].es_type, "binary") == 0,
            "describe in schema main");
    arena_free(a);
    drv->close(c);

    cfg.path = dir;
    c = NULL;
    T_CHECK(drv->open(&cfg, &c, d) == DIAG_EIO && c == NULL && strstr(diag_last(d), "not a regular file") &&
                strstr(diag_last(d), dir),
            "a directory is not a database file");
    buf_free(&b);
    buf_free(&got);
    diag_free(d);
}

/* Declared types: the mapping each derives (SQLite's affinity words), and the
 * values a typed column keeps (number text, 'true'/'false', text in a BLOB
 * column) or writes as null with a warning naming column and value; at most
 * ten warnings a scan, every one counted. */
static void test_types(void)
{
    char path[400];
    snprintf(path, sizeof path, "%s/types.db", dir);
    int st = run_sqlite(path,
                        "CREATE TABLE t (k INTEGER PRIMARY KEY, v VARCHAR(10), c CLOB, bo BOOL, jb JSONB,\n"
                        "  bl BLOB, f FLOAT, big BIGINT, num DECIMAL(10,2));\n"
                        "INSERT INTO t VALUES (1, 'abc', 'clob', 'true', '{\"a\":1}', 'text', '2.5', '12', '3.25');\n"
                        "INSERT INTO t VALUES (2, 'x', 'y', 'yes', '[1,', 1, 'x', 'abc', X'01');\n"
                        "INSERT INTO t VALUES (3, 'x', 'y', 'false', 'null', 2.5, 1e999, 7, '1e3');\n"
                        "CREATE TABLE w (n INTEGER);\n"
                        "INSERT INTO w VALUES ('a'),('b'),('c'),('d'),('e'),('f'),('g'),('h'),('i'),('j'),('k'),('l');\n");
    T_CHECK(st == 0, "types: fixture written");
    diag *d = diag_new();
    src_config cfg = {0};
    cfg.path = path;
    src_conn *c = NULL;
    if (drv->open(&cfg, &c, d) != 0) {
        T_CHECK(0, "types: open");
        printf("# %s\n", diag_last(d));
        diag_free(d);
        return;
    }
    arena *a = arena_new();
    src_table t;
    buf b = BUF_INIT, got = BUF_INIT;
    int rc = drv->describe(c, NULL, "t", a, &t, d);
    for (int i = 0; rc == 0 && i < t.ncols; i++) buf_printf(&got, "%s=%s ", t.cols[i].sql_type, t.cols[i].es_type);
    T_STREQ(rc == 0 ? got.data : diag_last(d),
            "INTEGER=long VARCHAR(10)=text CLOB=text BOOL=boolean JSONB=object BLOB=binary FLOAT=double "
            "BIGINT=long DECIMAL(10,2)=double ",
            "types: the mapping of each declared type");
    src_scan *s = NULL;
    src_query q = {"SELECT * FROM t ORDER BY k", NULL, 0, 0};
    const src_value *row;
    buf_reset(&got);
    rc = drv->begin_scan(c, &q, &s, d);
    int nc = 0;
    const src_column *cols = NULL;
    if (rc == 0) drv->scan_columns(s, &cols, &nc);
    while (rc == 0 && drv->next(s, &row, d) == 1) {
        for (int i = 1; i < nc; i++) buf_printf(&got, "%s%s", render(&b, &row[i]), i + 1 < nc ? " " : "|");
    }
    T_STREQ(got.data,
            "S:abc S:clob S:true J:{\"a\":1} X:74657874 #:2.5 #:12 #:3.25|"
            "S:x S:y N: S:[1, N: N: N: N:|"
            "S:x S:y S:false J:null N: N: #:7 #:1000|",
            "types: values kept, converted or nulled by their column's mapping");
    T_CHECK(s && drv->stats(s)->warnings == 7, "types: each null written for an unfit value is counted");
    drv->end_scan(s);
    const char *const want[] = {
        "sqlite: column 'bo' (BOOL, mapped as boolean): 'yes' is not a boolean (0, 1, 'true', 'false'); written as null",
        "sqlite: column 'bl' (BLOB, mapped as binary): '1' is not a BLOB or text; written as null",
        "sqlite: column 'f' (FLOAT, mapped as double): 'x' is not a number; written as null",
        "sqlite: column 'big' (BIGINT, mapped as long): 'abc' is not a number; written as null",
        "sqlite: column 'num' (DECIMAL(10,2), mapped as double): '(a BLOB)' is not a number; written as null",
        "sqlite: column 'bl' (BLOB, mapped as binary): '2.5' is not a BLOB or text; written as null",
    };
    int found = 0;
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
        for (size_t m = 0; m < diag_count(d); m++)
            if (!strcmp(diag_get(d, m)->text, want[k])) {
                found++;
                break;
            }
    T_CHECK(found == 6 && diag_warnings(d) == 6 && diag_errors(d) == 0,
            "types: one warning per unfit value with column, type, mapping and value (infinity counted only)");

    diag_clear(d);
    q.sql = "SELECT n FROM w";
    s = NULL;
    int rows = 0;
    if (drv->begin_scan(c, &q, &s, d) == 0)
        while (drv->next(s, &row, d) == 1) rows += row[0].kind == SRC_NULL;
    T_CHECK(rows == 12 && s && drv->stats(s)->warnings == 12 && diag_warnings(d) == 10,
            "types: twelve unfit values: all counted, ten warnings");
    drv->end_scan(s);
    buf_free(&b);
    buf_free(&got);
    arena_free(a);
    drv->close(c);
    diag_free(d);
}

int main(void)
{
    T_PLAN(335);
    setvbuf(stdout, NULL, _IOLBF, 0);
    snprintf(dir, sizeof dir, "%s/test_sqlite.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        printf("not ok - mkdtemp\n");
        return 1;
    }
    buf q = BUF_INIT;
    drv->quote_ident(&q, "a\"b");
    drv->placeholder(&q, 3);
    T_STREQ(q.data, "\"a\"\"b\"?3", "quote_ident doubles quotes; numbered placeholder");
    buf_free(&q);

    char path[400];
    snprintf(path, sizeof path, "%s/fixture.db", dir);
    int st = run_sqlite(path, fixture);
    {
        buf ins = BUF_INIT;
        const char *types[] = {"DATETIME", "DATE", "TIMESTAMP"};
        for (int t = 0; t < 3; t++)
            for (size_t k = 0; k < sizeof date_cases / sizeof date_cases[0]; k++)
                buf_printf(&ins, "INSERT INTO t_dates_%s VALUES (%zu, %s);\n", types[t], k, date_cases[k].sql);
        st |= run_sqlite(path, ins.data);
        buf_free(&ins);
    }
    T_CHECK(st == 0, "fixture written by the sqlite3 tool");
    diag *d = diag_new();
    src_config cfg = {0};
    cfg.path = path;
    src_conn *c = NULL;
    int rc = drv->open(&cfg, &c, d);
    T_CHECK(rc == 0, "open");
    if (rc == 0) {
        T_CHECK(drv->ping(c, d) == 0, "ping");
        test_values(c);
        test_dates(c);
        test_describe(c);
        drv->close(c);
    } else {
        printf("# %s\n", diag_last(d));
    }
    diag_free(d);
    test_open_errors();
    test_more();
    test_types();
    test_speed();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
    return T_DONE();
}
