/* itest_mysql.c - the MySQL/MariaDB driver against the real test server.
 *
 * Run by tests/suites/31-mariadb.sh with the variables of
 * tests/harness/mariadb.sh (MYSQL_HOST, MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD,
 * MYSQL_DATABASE, MYSQL_ROOT_SOCKET). Fixtures are created as root through the
 * `mariadb` command-line client on the socket (only sources/mysql.c includes the
 * client library). Covers the value matrix with exact bytes, describe, errors,
 * bounded-memory streaming, a KILLed connection and a dropped table; the binlog
 * stream of sync --follow: every type decoded from server-written row events
 * equals a scan of the row, the snapshot handoff, updates, deletes, rollbacks,
 * ALTER, TRUNCATE, a saved position, compressed events, the STATEMENT format refused.
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
#include "tests/unit/t.h"

extern const src_driver src_mysql_driver;
static const src_driver *drv = &src_mysql_driver;
static char tmpdir[256];
static const char *sock;

/* Run SQL as root over the socket; output (stdout+stderr) into out. 0 = success. */
static int root_sql(const char *sql, char *out, size_t outcap)
{
    char in[300], res[300], cmd[1200];
    snprintf(in, sizeof in, "%s/in.sql", tmpdir);
    snprintf(res, sizeof res, "%s/out.txt", tmpdir);
    FILE *f = fopen(in, "w");
    if (!f) return -1;
    fputs(sql, f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "mariadb --no-defaults --default-character-set=utf8mb4 --host=localhost -uroot --socket='%s' -N -B sql2es_test <'%s' >'%s' 2>&1", sock,
             in, res);
    int st = system(cmd);
    if (out && outcap) {
        out[0] = 0;
        f = fopen(res, "r");
        if (f) {
            size_t n = fread(out, 1, outcap - 1, f);
            out[n] = 0;
            fclose(f);
        }
    }
    return st;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "K:bytes" rendering of a value: N null, B bool, # number, S string, J json,
 * X binary (hex). */
static void render(buf *b, const src_value *v)
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
}

static src_config base_cfg(void)
{
    src_config c = {0};
    c.host = getenv("MYSQL_HOST");
    c.port = (int)strtol(getenv("MYSQL_PORT"), NULL, 10);
    c.username = getenv("MYSQL_USER");
    c.password = getenv("MYSQL_PASSWORD");
    c.database = getenv("MYSQL_DATABASE");
    return c;
}

static const char *setup_sql =
    "SET time_zone = '+00:00';\n"
    "SET sql_mode = '';\n"
    "DROP TABLE IF EXISTS t_types, t_pk, t_drop, t_dec;\n"
    "DROP VIEW IF EXISTS v_pk;\n"
    "CREATE TABLE t_types (id INT PRIMARY KEY,\n"
    " ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT, i INT, iu INT UNSIGNED,\n"
    " bi BIGINT, bu BIGINT UNSIGNED, b1 TINYINT(1), dec65 DECIMAL(65,30), f FLOAT, d DOUBLE,\n"
    " bit1 BIT(1), bit64 BIT(64), dt6 DATETIME(6), dt0 DATETIME, ts TIMESTAMP(3) NULL,\n"
    " da DATE, tm TIME(6), yr YEAR, j JSON, bl LONGBLOB, vb VARBINARY(16), tx LONGTEXT,\n"
    " vc VARCHAR(50), ch CHAR(4), en ENUM('a','b'), st SET('x','y','z'), g GEOMETRY)\n"
    " CHARACTER SET utf8mb4;\n"
    "INSERT INTO t_types VALUES (1, -128, 255, -32768, -8388608, -2147483648, 4294967295,\n"
    " -9223372036854775808, 18446744073709551615, 1,\n"
    " -99999999999999999999999999999999999.999999999999999999999999999999, 0.1, 0.1e0 + 0.2e0,\n"
    " b'1', b'1111111111111111111111111111111111111111111111111111111111111111',\n"
    " '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05', '2024-01-02 03:04:05.120',\n"
    " '2024-01-02', '-838:59:59.000000', 2024, '{\"a\": [1, 2.5, \"\xC3\xA9\"]}',\n"
    " X'00FF0041', X'00', 'emoji \xF0\x9F\x98\x80', 'h\xC3\xA9llo', 'ab', 'b', 'x,z',\n"
    " ST_GeomFromText('POINT(1 2)'));\n"
    "INSERT INTO t_types (id) VALUES (2);\n"
    "INSERT INTO t_types (id, dt0, da, d, f, dec65, tm, st, tx, bl, ti, bu, yr) VALUES\n"
    " (3, '0000-00-00 00:00:00', '0000-00-00', 3, -1.5, 0, '12:00:00.5', '',\n"
    "  REPEAT('x', 100000), REPEAT(X'00', 70000), 127, 0, 1901);\n"
    "CREATE TABLE t_pk (a INT NOT NULL, b VARCHAR(10) NOT NULL, c TEXT, j JSON,\n"
    " u BIGINT UNSIGNED, PRIMARY KEY (b, a));\n"
    "INSERT INTO t_pk VALUES (1, 'x', 'c', '[]', 1), (2, 'y', NULL, NULL, 2);\n"
    "CREATE VIEW v_pk AS SELECT a, b FROM t_pk;\n"
    "CREATE TABLE t_dec (id INT PRIMARY KEY, d18 DECIMAL(18,0), d19 DECIMAL(19,0),\n"
    " d38 DECIMAL(38,0), u18 DECIMAL(18,0) UNSIGNED, u19 DECIMAL(19,0) UNSIGNED);\n"
    "INSERT INTO t_dec VALUES (1, -999999999999999999, 9999999999999999999,\n"
    " 99999999999999999999999999999999999999, 999999999999999999, 9999999999999999999);\n"
    "CREATE TABLE t_drop (id INT PRIMARY KEY);\n"
    "INSERT INTO t_drop VALUES (1), (2);\n"
    "CREATE TABLE IF NOT EXISTS t_big (id INT PRIMARY KEY, payload VARCHAR(400)) ENGINE=InnoDB;\n";

/* 200k rows of 300 bytes, filled once per server (the sanitizer run reuses them) */
static const char *big_sql =
    "TRUNCATE TABLE t_big;\n"
    "INSERT INTO t_big SELECT seq, REPEAT(CHAR(97 + seq % 26), 300) FROM seq_1_to_200000;\n";

/* expected rendering of SELECT * FROM t_types ORDER BY id, per row */
static const char *const want_row1[] = {
    "#:1", "#:-128", "#:255", "#:-32768", "#:-8388608", "#:-2147483648", "#:4294967295",
    "#:-9223372036854775808", "#:18446744073709551615", "#:1",
    "#:-99999999999999999999999999999999999.999999999999999999999999999999", "#:0.1",
    "#:0.30000000000000004", "#:1", "#:18446744073709551615", "S:2024-01-02T03:04:05.123456",
    "S:2024-01-02T03:04:05", "S:2024-01-02T03:04:05.120Z", "S:2024-01-02", "S:-838:59:59.000000",
    "#:2024", "J:{\"a\": [1, 2.5, \"\xC3\xA9\"]}", "X:00ff0041", "X:00", "S:emoji \xF0\x9F\x98\x80",
    "S:h\xC3\xA9llo", "S:ab", "S:b", "J:[\"x\",\"z\"]",
    "X:0101000000000000000000f03f0000000000000040",
};

static int scan_all(src_conn *c, const char *sql, const char *const *params, int np,
                    src_scan **out, diag *d)
{
    src_query q = {sql, params, np, 0};
    return drv->begin_scan(c, &q, out, d);
}

static void test_types(src_conn *c)
{
    diag *d = diag_new();
    src_scan *s = NULL;
    int rc = scan_all(c, "SELECT * FROM t_types ORDER BY id", NULL, 0, &s, d);
    T_CHECK(rc == 0, "types: begin_scan");
    if (rc) {
        printf("# %s\n", diag_last(d));
        diag_free(d);
        return;
    }
    const src_column *cols;
    int ncols = 0;
    drv->scan_columns(s, &cols, &ncols);
    int nwant = (int)(sizeof want_row1 / sizeof want_row1[0]);
    T_CHECK(ncols == nwant, "types: column count");
    const src_value *row;
    buf b = BUF_INIT;
    char name[128];
    /* row 1: every type */
    T_CHECK(drv->next(s, &row, d) == 1, "types: row 1");
    for (int i = 0; i < ncols && i < nwant; i++) {
        render(&b, &row[i]);
        snprintf(name, sizeof name, "types: %s (%s -> %s)", cols[i].name, cols[i].sql_type,
                 cols[i].es_type);
        T_STREQ(b.data, want_row1[i], name);
    }
    /* row 2: all NULL */
    T_CHECK(drv->next(s, &row, d) == 1, "types: row 2");
    int nulls = 0;
    for (int i = 1; i < ncols; i++) nulls += row[i].kind == SRC_NULL;
    T_CHECK(nulls == ncols - 1, "types: NULL in every type");
    /* row 3: zero dates, integral double, long values */
    uint64_t warn0 = drv->stats(s)->warnings;
    T_CHECK(drv->next(s, &row, d) == 1, "types: row 3");
    render(&b, &row[16]);
    T_STREQ(b.data, "N:", "zero datetime -> NULL");
    render(&b, &row[18]);
    T_STREQ(b.data, "N:", "zero date -> NULL");
    T_CHECK(drv->stats(s)->warnings == warn0 + 2, "zero dates counted as warnings");
    render(&b, &row[12]);
    T_STREQ(b.data, "#:3.0", "integral double keeps .0");
    render(&b, &row[11]);
    T_STREQ(b.data, "#:-1.5", "float -1.5");
    render(&b, &row[10]);
    T_STREQ(b.data, "#:0.000000000000000000000000000000", "decimal zero keeps its scale");
    render(&b, &row[19]);
    T_STREQ(b.data, "S:12:00:00.500000", "TIME(6) fraction");
    render(&b, &row[28]);
    T_STREQ(b.data, "J:[]", "empty SET -> []");
    T_CHECK(row[24].kind == SRC_STRING && row[24].n == 100000 && row[24].p[0] == 'x' &&
                row[24].p[99999] == 'x',
            "100 KB text fetched whole");
    T_CHECK(row[22].kind == SRC_BINARY && row[22].n == 70000 && row[22].p[0] == 0 &&
                row[22].p[69999] == 0,
            "70 KB blob of NUL bytes fetched whole");
    render(&b, &row[1]);
    T_STREQ(b.data, "#:127", "tinyint 127");
    render(&b, &row[8]);
    T_STREQ(b.data, "#:0", "bigint unsigned 0");
    render(&b, &row[20]);
    T_STREQ(b.data, "#:1901", "year 1901");
    T_CHECK(drv->next(s, &row, d) == 0, "types: end after 3 rows");
    T_CHECK(drv->stats(s)->rows == 3, "types: stats rows");
    drv->end_scan(s);

    /* es types derived from result metadata */
    static const struct { int col; const char *es; } es[] = {
        {1, "byte"}, {2, "short"}, {8, "unsigned_long"}, {9, "byte"}, {11, "float"},
        {12, "double"}, {15, "date"}, {19, "keyword"}, {21, "object"}, {22, "binary"},
        {24, "text"}, {27, "keyword"}, {28, "keyword"}};
    rc = scan_all(c, "SELECT * FROM t_types WHERE id = 0", NULL, 0, &s, d);
    if (rc == 0) {
        drv->scan_columns(s, &cols, &ncols);
        for (size_t i = 0; i < sizeof es / sizeof es[0]; i++) {
            snprintf(name, sizeof name, "scan es_type of %s", cols[es[i].col].name);
            T_STREQ(cols[es[i].col].es_type, es[i].es, name);
        }
        drv->end_scan(s);
    }

    /* parameters are bound, never pasted */
    const char *p1[] = {"18446744073709551615"};
    rc = scan_all(c, "SELECT id FROM t_types WHERE bu = ?", p1, 1, &s, d);
    int n = 0;
    while (rc == 0 && drv->next(s, &row, d) == 1) n++;
    drv->end_scan(s);
    T_CHECK(rc == 0 && n == 1, "param: bigint unsigned max matched");
    const char *p2[] = {"x' OR '1'='1"};
    rc = scan_all(c, "SELECT id FROM t_types WHERE vc = ?", p2, 1, &s, d);
    n = 0;
    while (rc == 0 && drv->next(s, &row, d) == 1) n++;
    drv->end_scan(s);
    T_CHECK(rc == 0 && n == 0, "param: quote is data, not SQL");
    const char *p3[] = {NULL, "h\xC3\xA9llo"};
    rc = scan_all(c, "SELECT id FROM t_types WHERE ? IS NULL AND vc = ?", p3, 2, &s, d);
    n = 0;
    while (rc == 0 && drv->next(s, &row, d) == 1) n++;
    drv->end_scan(s);
    T_CHECK(rc == 0 && n == 1, "param: NULL and utf8mb4 text");
    rc = scan_all(c, "SELECT id FROM t_types WHERE id = ?", NULL, 0, &s, d);
    T_CHECK(rc == DIAG_EINVAL && s == NULL, "param: count mismatch refused");
    buf_free(&b);
    diag_free(d);
}

/* DECIMAL(p,0) is long up to 18 digits only (19 digits overflow a long),
 * from the result metadata (scan) and from information_schema (describe). */
static void test_decimal(src_conn *c)
{
    static const char *const want[][2] = {
        {"d18", "long"}, {"d19", "double"}, {"d38", "double"}, {"u18", "long"}, {"u19", "double"}};
    diag *d = diag_new();
    src_scan *s = NULL;
    char name[128];
    int rc = scan_all(c, "SELECT * FROM t_dec", NULL, 0, &s, d);
    T_CHECK(rc == 0, "decimal: begin_scan");
    if (rc == 0) {
        const src_column *cols;
        int ncols = 0;
        const src_value *row = NULL;
        drv->scan_columns(s, &cols, &ncols);
        int got = drv->next(s, &row, d);
        T_CHECK(ncols == 6 && got == 1 && row[3].kind == SRC_NUMBER &&
                    row[3].n == 38 && memcmp(row[3].p, "99999999999999999999999999999999999999", 38) == 0,
                "decimal: DECIMAL(38,0) value keeps its 38 digits");
        for (int i = 0; i < 5 && i + 1 < ncols; i++) {
            snprintf(name, sizeof name, "decimal: scan es_type of %s", want[i][0]);
            T_STREQ(cols[i + 1].es_type, want[i][1], name);
        }
        drv->end_scan(s);
    } else {
        printf("# %s\n", diag_last(d));
    }
    arena *a = arena_new();
    src_table t;
    rc = drv->describe(c, NULL, "t_dec", a, &t, d);
    T_CHECK(rc == 0 && t.ncols == 6, "decimal: describe t_dec");
    for (int i = 0; rc == 0 && i < 5 && i + 1 < t.ncols; i++) {
        snprintf(name, sizeof name, "decimal: describe es_type of %s", want[i][0]);
        T_STREQ(t.cols[i + 1].es_type, want[i][1], name);
    }
    arena_free(a);
    diag_free(d);
}

/* The column types t_types leaves out: their scan sql_type and es_type (from
 * the result metadata), describe's es_type (from information_schema), their
 * values, and a date with a zero month (null and a warning). */
static void test_more_types(src_conn *c)
{
    char out[2048];
    int st = root_sql("SET sql_mode = '';\n"
                      "DROP TABLE IF EXISTS t_more;\n"
                      "CREATE TABLE t_more (id INT PRIMARY KEY, su SMALLINT UNSIGNED, mu MEDIUMINT UNSIGNED,\n"
                      " bn BINARY(3), yr YEAR, n52 NUMERIC(5,2), u52 DECIMAL(5,2) UNSIGNED, bit8 BIT(8),\n"
                      " tt TINYTEXT, mb MEDIUMBLOB, rl REAL, dt3 DATETIME(3), da DATE, n9 DECIMAL(9,0))\n"
                      " CHARACTER SET utf8mb4;\n"
                      "INSERT INTO t_more VALUES (1, 65535, 16777215, 'ab', 2155, -123.45, 1.5, b'10000001',\n"
                      " 'tiny', X'0102', 2.5, '2024-01-02 03:04:05.678', '2024-00-10', -123456789);\n",
                      out, sizeof out);
    T_CHECK(st == 0, "more types: fixture created as root");
    if (st) printf("# %s\n", out);
    diag *d = diag_new();
    src_scan *s = NULL;
    buf b = BUF_INIT, got = BUF_INIT, es = BUF_INIT, vals = BUF_INIT;
    const src_column *cols;
    const src_value *row;
    int ncols = 0;
    int rc = scan_all(c, "SELECT * FROM t_more", NULL, 0, &s, d);
    if (rc == 0) {
        drv->scan_columns(s, &cols, &ncols);
        for (int i = 0; i < ncols; i++) {
            buf_printf(&got, "%s%s", i ? "," : "", cols[i].sql_type);
            buf_printf(&es, "%s%s", i ? "," : "", cols[i].es_type);
        }
        if (drv->next(s, &row, d) == 1)
            for (int i = 0; i < ncols; i++) {
                render(&b, &row[i]);
                buf_printf(&vals, "%s%s", i ? " " : "", b.data);
            }
    }
    T_STREQ(rc == 0 ? got.data : diag_last(d),
            "int,smallint unsigned,mediumint unsigned,binary,year,decimal,decimal,bit,text,blob,double,"
            "datetime,date,decimal",
            "more types: scan sql_type of each column");
    T_STREQ(es.data,
            "integer,integer,integer,binary,short,double,double,long,text,binary,double,date,date,long",
            "more types: scan es_type of each column");
    T_STREQ(vals.data,
            "#:1 #:65535 #:16777215 X:616200 #:2155 #:-123.45 #:1.50 #:129 S:tiny X:0102 #:2.5 "
            "S:2024-01-02T03:04:05.678 N: #:-123456789",
            "more types: the values (BINARY padded, a zero month null)");
    T_CHECK(s && drv->stats(s)->warnings == 1, "more types: the zero-month date is one warning");
    drv->end_scan(s);
    arena *a = arena_new();
    src_table t;
    buf_reset(&es);
    rc = drv->describe(c, NULL, "t_more", a, &t, d);
    for (int i = 0; rc == 0 && i < t.ncols; i++) buf_printf(&es, "%s%s", i ? "," : "", t.cols[i].es_type);
    T_STREQ(rc == 0 ? es.data : diag_last(d),
            "integer,integer,integer,binary,short,double,double,long,text,binary,double,date,date,long",
            "more types: describe es_type of each column");
    arena_free(a);
    buf_free(&b);
    buf_free(&got);
    buf_free(&es);
    buf_free(&vals);
    diag_free(d);
}

static void test_describe(src_conn *c)
{
    diag *d = diag_new();
    arena *a = arena_new();
    src_table t;
    int rc = drv->describe(c, NULL, "t_pk", a, &t, d);
    T_CHECK(rc == 0, "describe t_pk");
    if (rc == 0) {
        T_CHECK(t.ncols == 5 && t.npk == 2, "describe: 5 columns, 2 pk columns");
        T_CHECK(t.npk == 2 && t.pk[0] == 1 && t.pk[1] == 0, "describe: pk order (b, a)");
        T_CHECK(t.cols[1].pk_pos == 1 && t.cols[0].pk_pos == 2 && t.cols[2].pk_pos == 0,
                "describe: pk_pos");
        T_STREQ(t.cols[1].sql_type, "varchar(10)", "describe: sql_type varchar(10)");
        T_STREQ(t.cols[1].es_type, "text", "describe: varchar -> text");
        T_STREQ(t.cols[3].es_type, "object", "describe: MariaDB JSON -> object");
        T_STREQ(t.cols[4].es_type, "unsigned_long", "describe: bigint unsigned");
        T_CHECK(!t.cols[0].nullable && t.cols[2].nullable, "describe: nullable");
        T_CHECK(t.row_estimate >= 0 && !t.is_view, "describe: row estimate, base table");
    } else {
        printf("# %s\n", diag_last(d));
    }
    rc = drv->describe(c, NULL, "t_types", a, &t, d);
    T_CHECK(rc == 0 && t.ncols == 30 && t.npk == 1 && t.pk[0] == 0, "describe t_types");
    if (rc == 0) {
        T_STREQ(t.cols[9].es_type, "byte", "describe: tinyint(1) stays byte");
        T_STREQ(t.cols[10].es_type, "double", "describe: decimal(65,30) -> double");
        T_STREQ(t.cols[13].es_type, "boolean", "describe: bit(1) -> boolean");
        T_STREQ(t.cols[14].es_type, "unsigned_long", "describe: bit(64) -> unsigned_long");
        T_STREQ(t.cols[19].es_type, "keyword", "describe: time -> keyword");
        T_STREQ(t.cols[21].sql_type, "json", "describe: json sql_type");
    }
    rc = drv->describe(c, NULL, "v_pk", a, &t, d);
    T_CHECK(rc == 0 && t.is_view && t.npk == 0 && t.ncols == 2, "describe: view");
    rc = drv->describe(c, NULL, "no_such_table", a, &t, d);
    T_CHECK(rc == DIAG_ENOTFOUND, "describe: missing table -> ENOTFOUND");
    T_CHECK(strstr(diag_last(d), "no_such_table") != NULL, "describe: message names the table");

    const char **names = NULL;
    int n = 0;
    rc = drv->list_tables(c, NULL, a, &names, &n, d);
    /* other suites share the database: ours must appear in order, and the
     * whole list must be sorted */
    static const char *const want[] = {"t_big", "t_drop", "t_pk", "t_types", "v_pk"};
    int order_ok = rc == 0 && n >= 5, w = 0;
    for (int i = 0; order_ok && i < n; i++) {
        if (i && strcmp(names[i - 1], names[i]) >= 0) order_ok = 0;
        if (w < 5 && strcmp(names[i], want[w]) == 0) w++;
    }
    order_ok = order_ok && w == 5;
    T_CHECK(order_ok, "list_tables: tables and views, sorted");
    arena_free(a);
    diag_free(d);
}

static void test_connect_errors(void)
{
    diag *d = diag_new();
    src_config cfg = base_cfg();
    const char *secret = "wrong-Secret-7731";
    cfg.password = secret;
    src_conn *c = NULL;
    int rc = drv->open(&cfg, &c, d);
    char want[200];
    snprintf(want, sizeof want, "mysql: cannot connect to %s:%d as %s: ", cfg.host, cfg.port,
             cfg.username);
    T_CHECK(rc == DIAG_EIO && c == NULL, "wrong password -> EIO");
    T_CHECK(strstr(diag_last(d), want) && strstr(diag_last(d), "Access denied"),
            "wrong password: clear message");
    T_CHECK(strstr(diag_last(d), secret) == NULL, "wrong password: message hides it");
    printf("# %s\n", diag_last(d));

    cfg = base_cfg();
    cfg.port = 1;
    cfg.connect_timeout = 3;
    double t0 = now_s();
    rc = drv->open(&cfg, &c, d);
    T_CHECK(rc == DIAG_EIO && strstr(diag_last(d), "cannot connect to") && now_s() - t0 < 5,
            "unreachable port -> EIO quickly");
    printf("# %s\n", diag_last(d));
    drv->close(NULL);
    diag_free(d);
}

static void test_streaming(src_conn *c)
{
    diag *d = diag_new();
    src_scan *s = NULL;
    long rss0 = rss_kb();
    double t0 = now_s();
    int rc = scan_all(c, "SELECT id, payload FROM t_big", NULL, 0, &s, d);
    T_CHECK(rc == 0, "stream: begin");
    if (rc) {
        diag_free(d);
        return;
    }
    const src_value *row;
    uint64_t n = 0, bytes = 0;
    long peak = rss0;
    while (rc == 0 && (rc = drv->next(s, &row, d)) == 1) {
        n++;
        bytes += row[1].n;
        if ((n & 16383) == 0) {
            long r = rss_kb();
            if (r > peak) peak = r;
        }
        rc = 0;
    }
    double dt = now_s() - t0;
    drv->end_scan(s);
    T_CHECK(rc == 0 && n == 200000 && bytes == 200000ull * 300, "stream: 200k rows read");
    printf("# streamed %llu rows (%.1f MB) in %.2f s: %.0f rows/s; RSS %ld KB -> peak %ld KB\n",
           (unsigned long long)n, (double)bytes / 1e6, dt, (double)n / dt, rss0, peak);
    T_CHECK(peak - rss0 < 16 * 1024, "stream: bounded memory (RSS grew < 16 MB for 60 MB)");

    /* an unfinished scan ends quickly and the connection stays usable */
    rc = scan_all(c, "SELECT id, payload FROM t_big", NULL, 0, &s, d);
    for (int i = 0; rc == 0 && i < 10; i++) drv->next(s, &row, d);
    /* a second scan while this one streams (pool) */
    arena *a = arena_new();
    src_table t;
    T_CHECK(drv->describe(c, NULL, "t_pk", a, &t, d) == 0, "describe while a scan streams");
    arena_free(a);
    t0 = now_s();
    drv->end_scan(s);
    dt = now_s() - t0;
    T_CHECK(dt < 1.0, "end_scan of an unfinished 200k-row scan is quick");
    printf("# end_scan after 10 rows: %.3f s\n", dt);
    T_CHECK(drv->ping(c, d) == 0, "ping after an abandoned scan");
    diag_free(d);
}

static void test_kill(src_conn *c)
{
    diag *d = diag_new();
    src_scan *s = NULL;
    const src_value *row;
    char id[32] = "";
    int rc = scan_all(c, "SELECT CONNECTION_ID()", NULL, 0, &s, d);
    if (rc == 0 && drv->next(s, &row, d) == 1 && row[0].n < sizeof id) memcpy(id, row[0].p, row[0].n);
    drv->end_scan(s);
    rc = scan_all(c, "SELECT id, payload, CONNECTION_ID() FROM t_big", NULL, 0, &s, d);
    T_CHECK(rc == 0, "kill: begin");
    if (rc) {
        diag_free(d);
        return;
    }
    int n = 0;
    while (rc == 0 && n < 1000 && drv->next(s, &row, d) == 1) n++;
    T_CHECK(n == 1000 && row[2].n == strlen(id) && memcmp(row[2].p, id, row[2].n) == 0,
            "kill: streaming on the known connection");
    char sql[100], out[512];
    snprintf(sql, sizeof sql, "KILL CONNECTION %s;\n", id);
    T_CHECK(root_sql(sql, out, sizeof out) == 0, "kill: KILL CONNECTION as root");
    if (out[0]) printf("# %s\n", out);
    int r;
    long more = 0;
    while ((r = drv->next(s, &row, d)) == 1) more++;
    T_CHECK(r == DIAG_ETRANSIENT, "kill: next -> DIAG_ETRANSIENT");
    printf("# after KILL: %ld more rows then rc %d: %s\n", more, r, diag_last(d));
    drv->end_scan(s);
    rc = scan_all(c, "SELECT 1", NULL, 0, &s, d);
    T_CHECK(rc == 0 && drv->next(s, &row, d) == 1, "kill: the next scan reconnects");
    drv->end_scan(s);

    /* an idle pooled connection killed by the server: one transient error, then fine */
    rc = scan_all(c, "SELECT CONNECTION_ID()", NULL, 0, &s, d);
    id[0] = 0;
    if (rc == 0 && drv->next(s, &row, d) == 1 && row[0].n < sizeof id) {
        memcpy(id, row[0].p, row[0].n);
        id[row[0].n] = 0;
    }
    drv->end_scan(s);
    snprintf(sql, sizeof sql, "KILL CONNECTION %s;\n", id);
    root_sql(sql, out, sizeof out);
    rc = scan_all(c, "SELECT 1", NULL, 0, &s, d);
    if (rc == 0) drv->end_scan(s);
    T_CHECK(rc == DIAG_ETRANSIENT, "idle connection killed: DIAG_ETRANSIENT");
    rc = scan_all(c, "SELECT 1", NULL, 0, &s, d);
    T_CHECK(rc == 0 && drv->next(s, &row, d) == 1, "idle connection killed: the retry works");
    drv->end_scan(s);

    /* drop table between scans */
    rc = scan_all(c, "SELECT id FROM t_drop", NULL, 0, &s, d);
    n = 0;
    while (rc == 0 && drv->next(s, &row, d) == 1) n++;
    drv->end_scan(s);
    T_CHECK(n == 2, "drop: first scan");
    root_sql("DROP TABLE t_drop;\n", out, sizeof out);
    rc = scan_all(c, "SELECT id FROM t_drop", NULL, 0, &s, d);
    T_CHECK(rc == DIAG_EIO && strstr(diag_last(d), "t_drop"), "drop: missing table -> EIO naming it");
    printf("# %s\n", diag_last(d));
    diag_free(d);
}

/* ---- the binlog stream (sync --follow) ------------------------------- */

typedef struct seen {
    int kind;
    char table[32];
    int ncols;
    char **names;
    char **row, **old; /* rendered values (render()), NULL when absent */
    char pos[300];
} seen;

static void seen_free(seen *v, int n)
{
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < v[i].ncols; k++) {
            if (v[i].names) free(v[i].names[k]);
            if (v[i].row) free(v[i].row[k]);
            if (v[i].old) free(v[i].old[k]);
        }
        free(v[i].names);
        free(v[i].row);
        free(v[i].old);
    }
    free(v);
}

/* Changes of the stream until `until` COMMITs were seen (or 20 s). */
static int read_changes(src_stream *s, int until, seen **out, diag *d)
{
    seen *v = NULL;
    int n = 0, commits = 0;
    double end = now_s() + 20;
    buf b = BUF_INIT;
    while (commits < until && now_s() < end) {
        src_change c;
        int r = drv->stream_next(s, 200, &c, d);
        if (r < 0) {
            printf("# stream_next: %s\n", diag_last(d));
            break;
        }
        if (r == 0 || c.kind == SRC_CHANGE_IDLE) continue;
        v = realloc(v, (size_t)(n + 1) * sizeof *v);
        seen *e = &v[n++];
        memset(e, 0, sizeof *e);
        e->kind = c.kind;
        snprintf(e->table, sizeof e->table, "%s", c.table ? c.table : "");
        snprintf(e->pos, sizeof e->pos, "%s", c.pos ? c.pos : "");
        e->ncols = c.ncols;
        e->names = calloc((size_t)c.ncols + 1, sizeof *e->names);
        e->row = calloc((size_t)c.ncols + 1, sizeof *e->row);
        e->old = calloc((size_t)c.ncols + 1, sizeof *e->old);
        for (int k = 0; k < c.ncols; k++) {
            e->names[k] = strdup(c.names[k]);
            if (c.row && !(c.unchanged && c.unchanged[k])) {
                render(&b, &c.row[k]);
                e->row[k] = strdup(b.data);
            }
            if (c.old) {
                render(&b, &c.old[k]);
                e->old[k] = strdup(b.data);
            }
        }
        if (c.kind == SRC_CHANGE_COMMIT) commits++;
    }
    buf_free(&b);
    *out = v;
    return n;
}

/* Every column of each INSERT of table equals a scan of the row by id. */
static int inserts_match_scan(src_conn *c, seen *v, int n, const char *table, int *count)
{
    char sql[200];
    int bad = 0;
    buf b = BUF_INIT;
    diag *d = diag_new();
    *count = 0;
    for (int i = 0; i < n; i++) {
        if (v[i].kind != SRC_CHANGE_INSERT || strcmp(v[i].table, table)) continue;
        (*count)++;
        snprintf(sql, sizeof sql, "SELECT * FROM %s WHERE id = ?", table);
        const char *id = v[i].row[0] + 2; /* "#:" */
        const char *p[] = {id};
        src_scan *sc = NULL;
        const src_value *row;
        if (scan_all(c, sql, p, 1, &sc, d) || drv->next(sc, &row, d) != 1) {
            printf("# %s id %s: not found by a scan\n", table, id);
            bad++;
            drv->end_scan(sc);
            continue;
        }
        const src_column *cols;
        int nc = 0;
        drv->scan_columns(sc, &cols, &nc);
        for (int k = 0; k < nc && k < v[i].ncols; k++) {
            render(&b, &row[k]);
            const char *got = v[i].row[k] ? v[i].row[k] : "(absent)";
            if (strcmp(b.data, got)) {
                printf("# %s id %s column %s: scan %.80s, binlog %.80s\n", table, id,
                       cols[k].name, b.data, got);
                bad++;
            }
        }
        if (nc != v[i].ncols) bad++;
        drv->end_scan(sc);
    }
    buf_free(&b);
    diag_free(d);
    return bad;
}

static int count_kind(seen *v, int n, int kind, const char *table)
{
    int k = 0;
    for (int i = 0; i < n; i++) k += v[i].kind == kind && (!table || !strcmp(v[i].table, table));
    return k;
}

static const char *binlog_rows_sql =
    "SET time_zone = '+00:00';\n"
    "SET sql_mode = '';\n"
    "INSERT INTO t_bl SELECT * FROM t_types;\n"
    "INSERT INTO t_bl (id, tm, dec65, ts, dt6, d, f, bi, mi, si, ti, en, st, yr, bit1, ch) VALUES\n"
    " (10, '-00:00:01.500000', -0.5, '2024-06-01 00:00:00.001', '1000-01-01 00:00:00.000001',\n"
    "  -0.0, 1e38, 9223372036854775807, 8388607, 32767, 127, 'a', 'x,y,z', 2155, b'0', 'abcd'),\n"
    " (11, '00:00:00', 0.000000000000000000000000000001, '1970-01-01 00:00:01.000',\n"
    "  '9999-12-31 23:59:59.999999', 1.7976931348623157e308, -3.4e38, -1, -1, -1, -1, '', '', 0,\n"
    "  b'1', ''),\n"
    " (12, '838:59:59.999999', 12345678901234567890123456789012345.1, NULL, NULL, 2.5e-308,\n"
    "  1.17549435e-38, 0, 0, 0, 0, 'b', 'y', 1999, NULL, 'a b');\n"
    "BEGIN; INSERT INTO t_bdec SELECT * FROM t_dec;\n"
    " INSERT INTO t_bdec VALUES (2, -1, -9999999999999999999, -1, 0, 0), (3, 0, 0, 0, 0, 0); COMMIT;\n";

static const char *binlog_more_sql =
    "UPDATE t_bl SET vc = 'upd' WHERE id = 1;\n"
    "DELETE FROM t_bl WHERE id = 2;\n"
    "BEGIN; UPDATE t_bl SET vc = 'rolled back' WHERE id = 1; ROLLBACK;\n"
    "ALTER TABLE t_bl ADD COLUMN extra INT;\n"
    "INSERT INTO t_bl (id, extra) VALUES (13, 5);\n"
    "TRUNCATE TABLE t_bl;\n";

static void test_binlog(void)
{
    char out[4096];
    int st = root_sql("DROP TABLE IF EXISTS t_bl, t_bdec;\n"
                      "CREATE TABLE t_bl LIKE t_types;\n"
                      "CREATE TABLE t_bdec LIKE t_dec;\n", out, sizeof out);
    T_CHECK(st == 0, "binlog: tables created");
    diag *d = diag_new();
    src_config cfg = base_cfg();
    const char *tables[] = {"t_bl", "t_bdec"};
    src_stream_opts o = {"sql2es_itest", NULL, 0, tables, 2, tables, 1, 1, 0};
    src_stream *s = NULL;
    char snap[300];
    int rc = drv->stream_open(&cfg, &o, &s, snap, sizeof snap, d);
    T_CHECK(rc == 0 && strchr(snap, ':'), "binlog: stream_open with a fresh start names a position");
    if (rc) {
        printf("# %s\n", diag_last(d));
        diag_free(d);
        return;
    }
    printf("# snapshot position %s\n", snap);
    /* the snapshot's connection goes to the first open() naming it */
    src_config sc = cfg;
    sc.snapshot = snap;
    src_conn *c = NULL;
    rc = drv->open(&sc, &c, d);
    root_sql("INSERT INTO t_bdec VALUES (100, 1, 1, 1, 1, 1);\n", out, sizeof out);
    int n100 = -1;
    src_scan *scan = NULL;
    const src_value *row;
    if (rc == 0 && scan_all(c, "SELECT COUNT(*) FROM t_bdec", NULL, 0, &scan, d) == 0 &&
        drv->next(scan, &row, d) == 1)
        n100 = (int)strtol(row[0].p, NULL, 10);
    drv->end_scan(scan);
    T_CHECK(n100 == 0, "binlog: the initial read's connection reads the snapshot (a later insert unseen)");
    drv->close(c);
    rc = drv->stream_start(s, NULL, d);
    T_CHECK(rc == 0, "binlog: stream_start from the snapshot's position");
    if (rc) printf("# %s\n", diag_last(d));
    st = root_sql(binlog_rows_sql, out, sizeof out);
    if (st) printf("# %s\n", out);
    seen *v = NULL;
    /* the insert after the snapshot, the t_types copy, the edge rows, the decimals */
    int n = read_changes(s, 4, &v, d);
    T_CHECK(count_kind(v, n, SRC_CHANGE_RELATION, NULL) == 2,
            "binlog: the stream starts with each table's columns");
    T_CHECK(count_kind(v, n, SRC_CHANGE_INSERT, "t_bdec") == 4 &&
                count_kind(v, n, SRC_CHANGE_COMMIT, NULL) == 4,
            "binlog: the change after the snapshot comes first, then 3 transactions (no gap)");
    src_conn *q = NULL;
    drv->open(&cfg, &q, d);
    int cnt = 0, bad = inserts_match_scan(q, v, n, "t_bl", &cnt);
    T_CHECK(cnt == 6 && bad == 0, "binlog: every type of 6 rows decodes as a scan yields it");
    bad = inserts_match_scan(q, v, n, "t_bdec", &cnt);
    T_CHECK(cnt == 4 && bad == 0, "binlog: DECIMAL(18..38, signed, unsigned) decodes as a scan yields it");
    int pos_ok = 1;
    for (int i = 0; i < n; i++)
        if (v[i].kind == SRC_CHANGE_COMMIT) pos_ok &= strchr(v[i].pos, ':') != NULL;
    T_CHECK(pos_ok, "binlog: each COMMIT carries a file:offset position");
    char resume[300] = "";
    for (int i = 0; i < n; i++)
        if (v[i].kind == SRC_CHANGE_COMMIT) snprintf(resume, sizeof resume, "%s", v[i].pos);
    seen_free(v, n);

    st = root_sql(binlog_more_sql, out, sizeof out);
    if (st) printf("# %s\n", out);
    /* update, delete, (rollback: nothing), alter, insert, truncate */
    n = read_changes(s, 5, &v, d);
    int upd = -1, del = -1, rel = -1, trunc = -1, ins = -1;
    for (int i = 0; i < n; i++) {
        if (v[i].kind == SRC_CHANGE_UPDATE && upd < 0) upd = i;
        if (v[i].kind == SRC_CHANGE_DELETE && del < 0) del = i;
        if (v[i].kind == SRC_CHANGE_RELATION && rel < 0) rel = i;
        if (v[i].kind == SRC_CHANGE_TRUNCATE && trunc < 0) trunc = i;
        if (v[i].kind == SRC_CHANGE_INSERT && ins < 0) ins = i;
    }
    T_CHECK(upd >= 0 && v[upd].old && v[upd].old[25] && v[upd].row[25] &&
                !strcmp(v[upd].row[25], "S:upd") && !strcmp(v[upd].old[25], "S:h\xC3\xA9llo") &&
                !strcmp(v[upd].old[0], "#:1"),
            "binlog: an UPDATE carries the old and the new row");
    T_CHECK(del >= 0 && !strcmp(v[del].old[0], "#:2") && !v[del].row[0],
            "binlog: a DELETE carries the old row");
    T_CHECK(count_kind(v, n, SRC_CHANGE_UPDATE, NULL) == 1, "binlog: a rolled back UPDATE is not sent");
    T_CHECK(rel >= 0 && v[rel].ncols == 31 && !strcmp(v[rel].names[30], "extra") && ins > rel &&
                v[ins].ncols == 31 && v[ins].row[30] && !strcmp(v[ins].row[30], "#:5"),
            "binlog: ALTER TABLE ADD COLUMN: the new columns, then rows with them");
    T_CHECK(trunc > ins && !strcmp(v[trunc].table, "t_bl"), "binlog: TRUNCATE TABLE is a TRUNCATE");
    seen_free(v, n);

    /* a new binlog file: the positions name it */
    root_sql("FLUSH BINARY LOGS;\nINSERT INTO t_bdec VALUES (200, 0, 0, 0, 0, 0);\n", out, sizeof out);
    char master[300] = "";
    root_sql("SHOW MASTER STATUS;\n", master, sizeof master);
    master[strcspn(master, "\t")] = 0;
    n = read_changes(s, 1, &v, d);
    char want[320];
    snprintf(want, sizeof want, "%s:", master);
    T_CHECK(n > 0 && v[n - 1].kind == SRC_CHANGE_COMMIT && master[0] &&
                !strncmp(v[n - 1].pos, want, strlen(want)) &&
                count_kind(v, n, SRC_CHANGE_INSERT, "t_bdec") == 1,
            "binlog: after a ROTATE to a new file the positions name that file");
    if (n) printf("# after FLUSH BINARY LOGS: %s (server: %s)\n", v[n - 1].pos, master);
    if (n) seen_free(v, n);
    drv->stream_close(s);

    /* a saved position: the stream resumes after it (the table is read in
     * full: its rows are from before the ALTER) */
    o.fresh = 0;
    rc = drv->stream_open(&cfg, &o, &s, snap, sizeof snap, d);
    if (rc == 0) rc = drv->stream_start(s, resume, d);
    T_CHECK(rc == 0 && snap[0] == 0, "binlog: a stream starts again from a saved position");
    /* the UPDATE's and the DELETE's transactions: one full read covers both */
    n = rc == 0 ? read_changes(s, 2, &v, d) : 0;
    T_CHECK(n > 0 && count_kind(v, n, SRC_CHANGE_TRUNCATE, "t_bl") == 1 &&
                count_kind(v, n, SRC_CHANGE_UPDATE, NULL) == 0 &&
                count_kind(v, n, SRC_CHANGE_DELETE, NULL) == 0,
            "binlog: rows logged before an ALTER: the table is read in full once instead");
    if (n) seen_free(v, n);
    if (rc == 0) drv->stream_close(s);

    /* MariaDB's compressed row events */
    root_sql("SET GLOBAL log_bin_compress = ON; SET GLOBAL log_bin_compress_min_len = 10;\n", out,
             sizeof out);
    rc = drv->stream_open(&cfg, &o, &s, snap, sizeof snap, d);
    if (rc == 0) rc = drv->stream_start(s, NULL, d); /* from the binlog's end */
    st = root_sql("INSERT INTO t_bl SELECT t.*, 7 FROM t_types t;\n", out, sizeof out);
    if (st) printf("# %s\n", out);
    root_sql("SET GLOBAL log_bin_compress = OFF;\n", out, sizeof out);
    if (rc == 0) {
        n = read_changes(s, 2, &v, d);
        bad = inserts_match_scan(q, v, n, "t_bl", &cnt);
        T_CHECK(cnt == 3 && bad == 0, "binlog: compressed row events decode as a scan yields them");
        seen_free(v, n);
        drv->stream_close(s);
    } else {
        printf("# %s\n", diag_last(d));
        T_CHECK(0, "binlog: compressed row events decode as a scan yields them");
    }

    /* the temporal formats before MySQL 5.6 / MariaDB 10.1 (DATETIME,
     * TIMESTAMP and TIME without fractions, in their old binlog encoding): a
     * table made while mysql56_temporal_format is OFF keeps them */
    st = root_sql("DROP TABLE IF EXISTS t_old;\n"
                  "SET GLOBAL mysql56_temporal_format = OFF;\n"
                  "CREATE TABLE t_old (id INT PRIMARY KEY, dt DATETIME, ts TIMESTAMP NULL, tm TIME, d DATE);\n"
                  "SET GLOBAL mysql56_temporal_format = ON;\n", out, sizeof out);
    if (st) printf("# %s\n", out);
    {
        const char *old_tables[] = {"t_old"};
        src_stream_opts oo = {"sql2es_itest_old", NULL, 0, old_tables, 1, old_tables, 1, 1, 0};
        rc = drv->stream_open(&cfg, &oo, &s, snap, sizeof snap, d);
        if (rc == 0) rc = drv->stream_start(s, NULL, d);
        st = root_sql("SET time_zone = '+00:00';\n"
                      "INSERT INTO t_old VALUES (1, '2024-02-29 13:14:15', '2024-02-29 13:14:15', '-838:59:59', '2024-02-29'),\n"
                      " (2, '1000-01-01 00:00:00', NULL, '00:00:00', NULL),\n"
                      " (3, '9999-12-31 23:59:59', '2038-01-19 03:14:07', '12:34:56', '9999-12-31'),\n"
                      " (4, '2001-10-09 08:07:06', '1970-01-01 00:00:01', '-00:00:01', '2001-10-09');\n",
                      out, sizeof out);
        if (st) printf("# %s\n", out);
        if (rc == 0) {
            n = read_changes(s, 1, &v, d);
            bad = inserts_match_scan(q, v, n, "t_old", &cnt);
            T_CHECK(st == 0 && cnt == 4 && bad == 0,
                    "binlog: the old DATETIME, TIMESTAMP and TIME encodings decode as a scan yields them");
            seen_free(v, n);
            drv->stream_close(s);
        } else {
            printf("# %s\n", diag_last(d));
            T_CHECK(0, "binlog: the old DATETIME, TIMESTAMP and TIME encodings decode as a scan yields them");
        }
    }

    /* an initial read that took the snapshot's connection (and closed it),
     * then the stream closed before it started (the read failed) */
    o.fresh = 1;
    src_stream *s2 = NULL;
    char snap2[300] = "";
    rc = drv->stream_open(&cfg, &o, &s2, snap2, sizeof snap2, d);
    src_config sc2 = cfg;
    sc2.snapshot = snap2;
    src_conn *c2 = NULL;
    int rc2 = rc == 0 ? drv->open(&sc2, &c2, d) : rc;
    drv->close(c2);
    drv->stream_close(s2);
    T_CHECK(rc == 0 && rc2 == 0,
            "binlog: a stream closed after the initial read took and closed its connection");
    o.fresh = 0;

    /* binlog_format=STATEMENT: refused with what to set and why */
    root_sql("SET GLOBAL binlog_format = 'STATEMENT';\n", out, sizeof out);
    diag_clear(d);
    rc = drv->stream_open(&cfg, &o, &s, snap, sizeof snap, d);
    root_sql("SET GLOBAL binlog_format = 'ROW';\n", out, sizeof out);
    T_CHECK(rc == DIAG_EINVAL && strstr(diag_last(d), "binlog_format is STATEMENT") &&
                strstr(diag_last(d), "needs ROW"),
            "binlog: binlog_format=STATEMENT is refused, saying to set ROW");
    printf("# %s\n", diag_last(d));
    if (rc == 0) drv->stream_close(s);
    drv->close(q);
    diag_free(d);
}

int main(void)
{
    T_PLAN(153);
    const char *vars[] = {"MYSQL_HOST", "MYSQL_PORT", "MYSQL_USER", "MYSQL_PASSWORD",
                          "MYSQL_DATABASE", "MYSQL_ROOT_SOCKET"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        if (!getenv(vars[i])) {
            printf("not ok - environment: %s not set (run through tests/suites/31-mariadb.sh)\n",
                   vars[i]);
            return 1;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    sock = getenv("MYSQL_ROOT_SOCKET");
    snprintf(tmpdir, sizeof tmpdir, "%s/itest_mysql.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        printf("not ok - mkdtemp\n");
        return 1;
    }
    char out[4096];
    int st = root_sql(setup_sql, out, sizeof out);
    T_CHECK(st == 0, "fixtures created as root");
    if (st != 0) printf("# %s\n", out);
    /* filled once per server (the sanitizer run finds it filled): one check
     * either way, so both runs have the same plan */
    root_sql("SELECT COUNT(*) FROM t_big;\n", out, sizeof out);
    if (strcmp(out, "200000\n") != 0) {
        st = root_sql(big_sql, out, sizeof out);
        if (st != 0) printf("# %s\n", out);
        root_sql("SELECT COUNT(*) FROM t_big;\n", out, sizeof out);
    }
    T_CHECK(strcmp(out, "200000\n") == 0, "200k-row table filled as root");

    buf q = BUF_INIT;
    drv->quote_ident(&q, "a`b");
    drv->placeholder(&q, 7);
    T_STREQ(q.data, "`a``b`?", "quote_ident doubles backticks; placeholder ?");
    buf_free(&q);

    diag *d = diag_new();
    src_config cfg = base_cfg();
    src_conn *c = NULL;
    int rc = drv->open(&cfg, &c, d);
    T_CHECK(rc == 0, "open");
    if (rc == 0) {
        T_CHECK(drv->ping(c, d) == 0, "ping");
        test_types(c);
        test_describe(c);
        test_decimal(c);
        test_more_types(c);
        test_streaming(c);
        test_kill(c);
        drv->close(c);
        test_binlog();
    } else {
        printf("# %s\n", diag_last(d));
    }
    test_connect_errors();
    diag_free(d);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("# could not remove %s\n", tmpdir);
    return T_DONE();
}
