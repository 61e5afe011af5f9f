/* itest_postgresql.c - the PostgreSQL driver against a real server.
 *
 * Run by tests/suites/30-postgresql.sh with the PG* variables of the test
 * server (tests/harness/postgresql.sh), in a database of its own that it
 * recreates on every run. Setup SQL (tables, DROP,
 * pg_terminate_backend) goes through psql as the superuser over the unix
 * socket in PG_SUPERUSER_SOCKET; everything under test goes through the
 * driver. Covers the value conversions of every type, catalogs, connection
 * errors, bounded-memory streaming, early end of a scan, a killed backend
 * and a dropped table. With SQL2ES_PG_BENCH_ROWS=N it also times a raw scan
 * of N narrow rows.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/diag.h"
#include "dsl/dsl.h"
#include "plan/plan.h"
#include "sources/source.h"
#include "tests/unit/t.h"

static const src_driver *drv;
#define DBNAME "sql2es_itest_pg" /* a database of its own: other suites share the server */
static char name[512];

#define NAME(...) (snprintf(name, sizeof name, __VA_ARGS__), name)

static const char *env(const char *k, const char *def)
{
    const char *v = getenv(k);
    return v && *v ? v : def;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Runs SQL as the superuser through psql in database db; 0 on success. */
static int psql_db(const char *db, const char *sql)
{
    char cmd[1024];
    const char *bindir = getenv("PG_BINDIR");
    snprintf(cmd, sizeof cmd,
             "%s%spsql -X -q -v ON_ERROR_STOP=1 -h '%s' -p '%s' -U '%s' -d '%s' >/dev/null",
             bindir ? bindir : "", bindir ? "/" : "", env("PG_SUPERUSER_SOCKET", "/tmp"),
             env("PGPORT", "5432"), env("PG_SUPERUSER", "postgres"), db);
    FILE *f = popen(cmd, "w");
    if (!f) return -1;
    fputs("SET client_min_messages = warning;\n", f);
    fputs(sql, f);
    return pclose(f);
}

static int psql(const char *sql) { return psql_db(DBNAME, sql); }

static src_config config(void)
{
    src_config c = {0};
    c.host = env("PGHOST", "127.0.0.1");
    c.port = (int)strtol(env("PGPORT", "5432"), NULL, 10);
    c.username = env("PGUSER", "sql2es");
    c.password = getenv("PGPASSWORD");
    c.database = DBNAME;
    c.connect_timeout = 5;
    c.fetch_size = 50; /* required: the plan always holds one */
    return c;
}

static src_conn *connect_or_die(diag *d)
{
    src_config cfg = config();
    src_conn *c = NULL;
    int rc = drv->open(&cfg, &c, d);
    if (rc) {
        printf("not ok - connect (%d): %s\n", rc, diag_last(d));
        exit(1);
    }
    return c;
}

/* Prints bytes for a failure message, escaping non-printables. */
static void show(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 32 && ch < 127) putchar(ch);
        else printf("\\x%02x", ch);
    }
}

static const char *kind_name(src_vkind k)
{
    static const char *const names[] = {"NULL", "BOOL", "NUMBER", "STRING", "JSON", "BINARY"};
    return names[k];
}

static void check_value(const char *col, const src_value *v, src_vkind kind, const char *want,
                        size_t wn)
{
    int good = v->kind == kind &&
               (kind == SRC_NULL ? v->p == NULL : v->n == wn && v->p && memcmp(v->p, want, wn) == 0);
    t_count++;
    if (good) {
        printf("ok - value %s is %s\n", col, kind_name(kind));
        return;
    }
    t_failed++;
    printf("not ok - value %s\n#   got:  %s ", col, kind_name(v->kind));
    if (v->p) show(v->p, v->n);
    printf("\n#   want: %s ", kind_name(kind));
    if (want) show(want, wn);
    printf("\n");
}

/* --- the type matrix: column, SQL type, literal, expected kind and bytes */
typedef struct tcase {
    const char *col, *type, *lit;
    src_vkind kind;
    const char *want;
    size_t wn; /* 0 = strlen(want) */
    const char *es_type;
} tcase;

static const tcase cases[] = {
    {"i2", "int2", "-32768", SRC_NUMBER, "-32768", 0, "short"},
    {"i4", "int4", "2147483647", SRC_NUMBER, "2147483647", 0, "integer"},
    {"i8", "int8", "-9223372036854775808", SRC_NUMBER, "-9223372036854775808", 0, "long"},
    {"o", "oid", "4294967295", SRC_NUMBER, "4294967295", 0, "long"},
    {"n1", "numeric(40,20)", "12345678901234567890.12345678901234567890", SRC_NUMBER,
     "12345678901234567890.12345678901234567890", 0, "double"},
    {"n2", "numeric(40,20)", "-0.00000000000000000001", SRC_NUMBER, "-0.00000000000000000001",
     0, "double"},
    {"n3", "numeric", "'NaN'", SRC_NULL, NULL, 0, "double"},
    {"n4", "numeric", "'Infinity'", SRC_NULL, NULL, 0, "double"},
    {"n5", "numeric(12,2)", "-1234567890.5", SRC_NUMBER, "-1234567890.50", 0, "scaled_float"},
    {"n6", "numeric(10,0)", "42", SRC_NUMBER, "42", 0, "long"},
    {"f1", "float8", "1.5", SRC_NUMBER, "1.5", 0, "double"},
    {"f2", "float8", "'Infinity'", SRC_NULL, NULL, 0, "double"},
    {"f3", "float8", "'-Infinity'", SRC_NULL, NULL, 0, "double"},
    {"f4", "float8", "'NaN'", SRC_NULL, NULL, 0, "double"},
    {"f5", "float4", "0.1", SRC_NUMBER, "0.1", 0, "float"},
    {"f6", "float8", "1e300", SRC_NUMBER, "1e+300", 0, "double"},
    {"f7", "float8", "0.1", SRC_NUMBER, "0.1", 0, "double"},
    {"b1", "bool", "true", SRC_BOOL, "true", 0, "boolean"},
    {"b2", "bool", "false", SRC_BOOL, "false", 0, "boolean"},
    {"j", "json", "'{\"a\": [1, 2]}'", SRC_JSON, "{\"a\": [1, 2]}", 0, "object"},
    {"jb", "jsonb", "'{\"b\": {\"c\": [1, \"x\\u00e9\", null]}, \"a\": 1}'", SRC_JSON,
     "{\"a\": 1, \"b\": {\"c\": [1, \"x\xc3\xa9\", null]}}", 0, "object"},
    {"ai", "int4[]", "'{1,NULL,3}'", SRC_JSON, "[1,null,3]", 0, "integer"},
    {"at", "text[]", "ARRAY['a\"b', 'c,d', NULL, 'NULL', '', 'back\\slash', ' sp ', '{x}']",
     SRC_JSON, "[\"a\\\"b\",\"c,d\",null,\"NULL\",\"\",\"back\\\\slash\",\" sp \",\"{x}\"]", 0,
     "text"},
    {"an", "numeric[]", "'{1.5,NaN,-2}'", SRC_JSON, "[1.5,null,-2]", 0, "double"},
    {"ab", "bool[]", "'{t,f,NULL}'", SRC_JSON, "[true,false,null]", 0, "boolean"},
    {"aj", "json[]", "ARRAY['{\"k\": \"v\"}'::json, '[1,2]']", SRC_JSON, "[{\"k\": \"v\"},[1,2]]",
     0, "object"},
    {"am", "int4[]", "'{{1,2},{3,NULL}}'", SRC_JSON, "[[1,2],[3,null]]", 0, "integer"},
    {"alb", "int4[]", "'[0:1]={7,8}'", SRC_JSON, "[7,8]", 0, "integer"},
    {"ae", "int4[]", "'{}'", SRC_JSON, "[]", 0, "integer"},
    {"ats", "timestamptz[]", "ARRAY['2024-01-02 03:04:05+00'::timestamptz, 'infinity']", SRC_JSON,
     "[\"2024-01-02T03:04:05Z\",null]", 0, "date"},
    {"aby", "bytea[]", "ARRAY['\\x00ff'::bytea]", SRC_JSON, "[\"AP8=\"]", 0, "binary"},
    {"apt", "point[]", "ARRAY[point(1,2), point(-1.5,3)]", SRC_JSON,
     "[{\"x\":1,\"y\":2},{\"x\":-1.5,\"y\":3}]", 0, "object"},
    {"abx", "box[]", "ARRAY[box '((1,1),(0,0))', box '((3,3),(2,2))']", SRC_JSON,
     "[\"(1,1),(0,0)\",\"(3,3),(2,2)\"]", 0, "keyword"},
    {"amo", "money[]", "'{-1.50,2}'", SRC_JSON, "[-1.50,2.00]", 0, "double"},
    {"by", "bytea", "'\\x00ff41'", SRC_BINARY, "\x00\xff" "A", 3, "binary"},
    {"by0", "bytea", "''", SRC_BINARY, "", 0, "binary"},
    {"tz", "timestamptz", "'2024-01-02 03:04:05.123456+00'", SRC_STRING,
     "2024-01-02T03:04:05.123456Z", 0, "date"},
    {"tz2", "timestamptz", "'2024-01-02 05:04:05+02'", SRC_STRING, "2024-01-02T03:04:05Z", 0,
     "date"},
    {"ts", "timestamp", "'2024-01-02 03:04:05.123456'", SRC_STRING, "2024-01-02T03:04:05.123456",
     0, "date"},
    {"d", "date", "'2024-01-02'", SRC_STRING, "2024-01-02", 0, "date"},
    {"dinf", "date", "'infinity'", SRC_NULL, NULL, 0, "date"},
    {"tzinf", "timestamptz", "'-infinity'", SRC_NULL, NULL, 0, "date"},
    {"dbc", "date", "'0044-03-15 BC'", SRC_STRING, "-0043-03-15", 0, "date"},
    {"tsbc", "timestamp", "'0001-01-01 00:00:00 BC'", SRC_STRING, "0000-01-01T00:00:00", 0,
     "date"},
    {"tm", "time", "'13:14:15.5'", SRC_STRING, "13:14:15.5", 0, "keyword"},
    {"ttz", "timetz", "'13:14:15+02'", SRC_STRING, "13:14:15+02", 0, "keyword"},
    {"iv", "interval", "'1 year 2 mons 3 days 04:05:06'", SRC_STRING, "P1Y2M3DT4H5M6S", 0,
     "keyword"},
    {"u", "uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", SRC_STRING,
     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 0, "keyword"},
    {"ip", "inet", "'192.168.1.5/24'", SRC_STRING, "192.168.1.5/24", 0, "ip"},
    {"ip2", "inet", "'::1'", SRC_STRING, "::1", 0, "ip"},
    {"net", "cidr", "'10.0.0.0/8'", SRC_STRING, "10.0.0.0/8", 0, "ip_range"},
    {"mac", "macaddr", "'08:00:2b:01:02:03'", SRC_STRING, "08:00:2b:01:02:03", 0, "keyword"},
    {"bt", "bit(4)", "B'1010'", SRC_STRING, "1010", 0, "keyword"},
    {"vb", "varbit", "B'101'", SRC_STRING, "101", 0, "keyword"},
    {"en", "mood", "'happy'", SRC_STRING, "happy", 0, "keyword"},
    {"aen", "mood[]", "'{happy,sad}'", SRC_JSON, "[\"happy\",\"sad\"]", 0, "keyword"},
    {"x", "xml", "'<a>1</a>'", SRC_STRING, "<a>1</a>", 0, "text"},
    {"tsv", "tsvector", "'a fat cat'", SRC_STRING, "'a' 'cat' 'fat'", 0, "text"},
    {"tx", "text", "E'h\\u00e9llo \\U0001F600 \\x01\\t\"q\"'", SRC_STRING,
     "h\xc3\xa9llo \xf0\x9f\x98\x80 \x01\t\"q\"", 0, "text"},
    {"vc", "varchar(10)", "'abc'", SRC_STRING, "abc", 0, "text"},
    {"ch", "char(5)", "'ab'", SRC_STRING, "ab   ", 0, "keyword"},
    {"c1", "\"char\"", "'x'", SRC_STRING, "x", 0, "keyword"},
    {"mo", "money", "'-1234.56'", SRC_NUMBER, "-1234.56", 0, "double"},
    {"mo2", "money", "'1234567.89'", SRC_NUMBER, "1234567.89", 0, "double"},
    {"pt", "point", "'(1,2)'", SRC_JSON, "{\"x\":1,\"y\":2}", 0, "object"},
    {"pt2", "point", "'(1.5,-2e+20)'", SRC_JSON, "{\"x\":1.5,\"y\":-2e+20}", 0, "object"},
    {"ln", "line", "'{1,2,3}'", SRC_STRING, "{1,2,3}", 0, "keyword"},
    {"ls", "lseg", "'[(0,0),(1,1)]'", SRC_STRING, "[(0,0),(1,1)]", 0, "keyword"},
    {"bx", "box", "'((1,1),(0,0))'", SRC_STRING, "(1,1),(0,0)", 0, "keyword"},
    {"pa", "path", "'((0,0),(1,1))'", SRC_STRING, "((0,0),(1,1))", 0, "keyword"},
    {"pg", "polygon", "'((0,0),(1,1),(1,0))'", SRC_STRING, "((0,0),(1,1),(1,0))", 0, "keyword"},
    {"ci", "circle", "'<(0,0),1>'", SRC_STRING, "<(0,0),1>", 0, "keyword"},
    {"dm", "posint", "7", SRC_NUMBER, "7", 0, "integer"},
    {"dmn", "price", "12.5", SRC_NUMBER, "12.50", 0, "scaled_float"},
    {"adm", "posint[]", "'{1,2}'", SRC_JSON, "[1,2]", 0, "integer"},
    {"r", "int4range", "'[1,5)'", SRC_STRING, "[1,5)", 0, "keyword"},
    {"nul", "text", "NULL", SRC_NULL, NULL, 0, "text"},
    /* numeric(p,0) is long up to 18 digits only: 19 digits overflow a long */
    {"n18", "numeric(18,0)", "-999999999999999999", SRC_NUMBER, "-999999999999999999", 0, "long"},
    {"n19", "numeric(19,0)", "9999999999999999999", SRC_NUMBER, "9999999999999999999", 0,
     "double"},
    {"n38", "numeric(38,0)", "99999999999999999999999999999999999999", SRC_NUMBER,
     "99999999999999999999999999999999999999", 0, "double"},
    /* years of five digits, BC with a time zone */
    {"d5", "date", "'12345-01-01'", SRC_STRING, "12345-01-01", 0, "date"},
    {"ts5", "timestamp", "'10000-01-02 03:04:05'", SRC_STRING, "10000-01-02T03:04:05", 0, "date"},
    {"tzbc", "timestamptz", "'0044-03-15 10:00:00+00 BC'", SRC_STRING, "-0043-03-15T10:00:00Z", 0,
     "date"},
    /* a point with a NaN coordinate: that coordinate null (a warning) */
    {"ptn", "point", "point('NaN'::float8, 1)", SRC_JSON, "{\"x\":null,\"y\":1}", 0, "object"},
    /* arrays of dates, timestamps, floats with infinities (each a warning), uuids */
    {"ada", "date[]", "ARRAY['2024-01-02'::date, '0044-03-15 BC', 'infinity']", SRC_JSON,
     "[\"2024-01-02\",\"-0043-03-15\",null]", 0, "date"},
    {"ats2", "timestamp[]", "ARRAY['2024-01-02 03:04:05.5'::timestamp]", SRC_JSON,
     "[\"2024-01-02T03:04:05.5\"]", 0, "date"},
    {"afl", "float8[]", "'{1.5,Infinity,-Infinity}'", SRC_JSON, "[1.5,null,null]", 0, "double"},
    {"auu", "uuid[]", "'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'", SRC_JSON,
     "[\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"]", 0, "keyword"},
    /* a domain over a domain; an array of a domain over an array stays text */
    {"dd", "posint2", "3", SRC_NUMBER, "3", 0, "integer"},
    {"aad", "intarr[]", "ARRAY['{1,2}'::intarr]", SRC_STRING, "{\"{1,2}\"}", 0, "keyword"},
    {"mo0", "money", "'0'", SRC_NUMBER, "0.00", 0, "double"},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))
/* n3 n4 f2 f3 f4, NaN in an, dinf, tzinf, infinity in ats, NaN in ptn,
 * infinity in ada, two in afl */
#define NWARN 13

static void test_types(src_conn *c, diag *d)
{
    buf sql = BUF_INIT;
    buf_puts(&sql, "SET ROLE sql2es;\n"
                   "CREATE TYPE mood AS ENUM ('happy', 'sad');\n"
                   "CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);\n"
                   "CREATE DOMAIN price AS numeric(8,2);\n"
                   "CREATE DOMAIN posint2 AS posint;\n"
                   "CREATE DOMAIN intarr AS int4[];\n"
                   "CREATE TABLE tm (id int PRIMARY KEY");
    for (int i = 0; i < NCASES; i++) buf_printf(&sql, ", %s %s", cases[i].col, cases[i].type);
    buf_puts(&sql, ");\nINSERT INTO tm VALUES (1");
    for (int i = 0; i < NCASES; i++) buf_printf(&sql, ", %s", cases[i].lit);
    buf_puts(&sql, ");\n");
    T_CHECK(psql(sql.data) == 0, "create and fill the type matrix table");
    buf_free(&sql);

    src_query q = {.sql = "SELECT * FROM tm;  "};
    src_scan *s = NULL;
    int rc = drv->begin_scan(c, &q, &s, d);
    T_CHECK(rc == 0, "type matrix: begin_scan (trailing semicolon accepted)");
    if (rc) {
        printf("#   %s\n", diag_last(d));
        return;
    }
    const src_column *cols;
    int ncols;
    drv->scan_columns(s, &cols, &ncols);
    T_CHECK(ncols == NCASES + 1, "type matrix: column count");
    const src_value *row;
    rc = drv->next(s, &row, d);
    T_CHECK(rc == 1, "type matrix: one row");
    if (rc == 1 && ncols == NCASES + 1) {
        for (int i = 0; i < NCASES; i++) {
            const tcase *tc = &cases[i];
            size_t wn = tc->wn ? tc->wn : tc->want ? strlen(tc->want) : 0;
            check_value(tc->col, &row[i + 1], tc->kind, tc->want, wn);
            T_STREQ(cols[i + 1].es_type, tc->es_type, NAME("scan es_type of %s", tc->col));
        }
        T_STREQ(cols[6].sql_type, "numeric(40,20)", "scan sql_type numeric(40,20)");
        T_STREQ(cols[1].name, "i2", "scan column name");
    }
    T_CHECK(drv->next(s, &row, d) == 0, "type matrix: end");
    const src_scan_stats *st = drv->stats(s);
    printf("# stats: rows=%llu warnings=%llu bytes=%llu\n", (unsigned long long)st->rows,
           (unsigned long long)st->warnings, (unsigned long long)st->bytes);
    T_CHECK(st->rows == 1 && st->warnings == NWARN && st->bytes > 500,
            "stats: rows, warnings (one per NaN/Infinity/infinity), bytes");
    drv->end_scan(s);

    /* describe gives the same types from the catalog */
    arena *a = arena_new();
    src_table t;
    rc = drv->describe(c, NULL, "tm", a, &t, d);
    T_CHECK(rc == 0 && t.ncols == NCASES + 1, "describe tm");
    if (rc == 0 && t.ncols == NCASES + 1) {
        for (int i = 0; i < NCASES; i++)
            T_STREQ(t.cols[i + 1].es_type, cases[i].es_type,
                    NAME("describe es_type of %s", cases[i].col));
        T_STREQ(t.cols[5].sql_type, "numeric(40,20)", "describe sql_type numeric(40,20)");
        T_CHECK(t.npk == 1 && t.pk[0] == 0 && t.cols[0].pk_pos == 1 && !t.cols[0].nullable,
                "describe tm: primary key id");
        T_CHECK(!t.is_view, "describe tm: not a view");
    }
    arena_free(a);
}

static void test_catalog(src_conn *c, diag *d)
{
    int rc = psql("SET ROLE sql2es;\n"
                  "CREATE TABLE comp (a int, b text, c int, PRIMARY KEY (b, a));\n"
                  "INSERT INTO comp SELECT g, 'k' || g, g FROM generate_series(1, 1000) g;\n"
                  "ANALYZE comp;\n"
                  "CREATE VIEW v_comp AS SELECT a, c FROM comp;\n"
                  "CREATE TABLE drop_me (x int);\n"
                  "CREATE SCHEMA other; CREATE TABLE other.\"Odd \"\"Name\" (z int);\n");
    T_CHECK(rc == 0, "create catalog tables");
    arena *a = arena_new();
    const char **names;
    int n;
    rc = drv->list_tables(c, NULL, a, &names, &n, d);
    buf got = BUF_INIT;
    for (int i = 0; rc == 0 && i < n; i++) buf_printf(&got, "%s%s", i ? "," : "", names[i]);
    T_STREQ(got.data, "big,comp,drop_me,tm,v_comp", "list_tables: public, sorted, with view");
    buf_reset(&got);
    rc = drv->list_tables(c, "other", a, &names, &n, d);
    T_CHECK(rc == 0 && n == 1 && strcmp(names[0], "Odd \"Name") == 0, "list_tables: other schema");
    buf_free(&got);

    src_table t;
    rc = drv->describe(c, NULL, "comp", a, &t, d);
    T_CHECK(rc == 0, "describe comp");
    if (rc == 0) {
        T_CHECK(t.ncols == 3 && t.cols[0].pk_pos == 2 && t.cols[1].pk_pos == 1 &&
                    t.cols[2].pk_pos == 0,
                "describe comp: pk_pos follows the key order (b, a)");
        T_CHECK(t.npk == 2 && t.pk[0] == 1 && t.pk[1] == 0, "describe comp: pk indexes b, a");
        printf("# comp row_estimate %lld\n", (long long)t.row_estimate);
        T_CHECK(t.row_estimate == 1000, "describe comp: row estimate after ANALYZE");
        T_STREQ(t.cols[1].sql_type, "text", "describe comp: sql_type");
        T_STREQ(t.schema, "public", "describe comp: default schema public");
    }
    rc = drv->describe(c, "public", "v_comp", a, &t, d);
    T_CHECK(rc == 0 && t.is_view && t.npk == 0 && t.row_estimate == -1 && t.ncols == 2,
            "describe view: flagged, no key, unknown estimate");
    rc = drv->describe(c, NULL, "drop_me", a, &t, d);
    T_CHECK(rc == 0 && t.row_estimate == -1, "describe never analyzed table: estimate -1");
    rc = drv->describe(c, NULL, "nope", a, &t, d);
    T_CHECK(rc == DIAG_ENOTFOUND, "describe missing table: DIAG_ENOTFOUND");
    T_CHECK(strstr(diag_last(d), "nope") != NULL, "describe missing table: message names it");
    rc = drv->describe(c, "other", "Odd \"Name", a, &t, d);
    T_CHECK(rc == 0 && t.ncols == 1, "describe in another schema, odd name");
    arena_free(a);

    /* quoting and parameters through a real query */
    buf sql = BUF_INIT;
    buf_puts(&sql, "SELECT count(*) AS n FROM other.");
    drv->quote_ident(&sql, "Odd \"Name");
    buf_puts(&sql, " WHERE ");
    drv->placeholder(&sql, 1);
    buf_puts(&sql, "::int IS NULL");
    T_STREQ(sql.data, "SELECT count(*) AS n FROM other.\"Odd \"\"Name\" WHERE $1::int IS NULL",
            "quote_ident and placeholder");
    const char *params[1] = {NULL};
    src_query q = {.sql = sql.data, .params = params, .nparams = 1};
    src_scan *s;
    const src_value *row;
    rc = drv->begin_scan(c, &q, &s, d);
    T_CHECK(rc == 0 && drv->next(s, &row, d) == 1 && row[0].kind == SRC_NUMBER &&
                row[0].n == 1 && row[0].p[0] == '0',
            "query with quoted name and a NULL parameter");
    if (rc == 0) drv->end_scan(s);
    buf_free(&sql);
    T_CHECK(drv->ping(c, d) == 0, "ping");
}

static void test_connect_errors(void)
{
    diag *d = diag_new();
    src_config cfg = config();
    cfg.password = "wrong-Secret-4711";
    src_conn *c = NULL;
    int rc = drv->open(&cfg, &c, d);
    printf("# wrong password: %s\n", diag_last(d));
    T_CHECK(rc == DIAG_EIO && c == NULL, "wrong password: DIAG_EIO");
    T_CHECK(strstr(diag_last(d), "password authentication failed") != NULL,
            "wrong password: clear message");
    T_CHECK(strstr(diag_last(d), "cannot connect to") && strstr(diag_last(d), cfg.username),
            "wrong password: message names host and user");
    T_CHECK(strstr(diag_last(d), "4711") == NULL, "wrong password: no password in the message");

    /* nothing listens: refused at once */
    cfg = config();
    cfg.port = 1;
    double t0 = now();
    rc = drv->open(&cfg, &c, d);
    printf("# refused: %s\n", diag_last(d));
    T_CHECK(rc == DIAG_EIO && now() - t0 < 5, "closed port: DIAG_EIO quickly");

    /* a listener that never answers: connect_timeout applies */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, 4) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0) {
        cfg = config();
        cfg.port = ntohs(sa.sin_port);
        cfg.connect_timeout = 2;
        t0 = now();
        rc = drv->open(&cfg, &c, d);
        double el = now() - t0;
        printf("# silent server: %.2f s: %s\n", el, diag_last(d));
        T_CHECK(rc == DIAG_EIO && el >= 1.5 && el < 6.5, "silent server: error after connect_timeout");
    } else {
        T_CHECK(0, "silent server: could not listen");
    }
    if (fd >= 0) close(fd);

    /* ssl_enabled reaches libpq: the test server has no TLS, so it is refused */
    cfg = config();
    cfg.ssl_enabled = 1;
    rc = drv->open(&cfg, &c, d);
    printf("# ssl required: %s\n", diag_last(d));
    T_CHECK(rc == DIAG_EIO && strstr(diag_last(d), "SSL"), "ssl_enabled: SSL required");
    cfg.ssl_ca = "/nonexistent/ca.pem";
    rc = drv->open(&cfg, &c, d);
    T_CHECK(rc == DIAG_EINVAL && strstr(diag_last(d), "ssl_ca: cannot read '/nonexistent/ca.pem'"),
            "ssl_enabled with an unreadable ssl_ca file: the file is named");
    if (rc == 0) drv->close(c);

    /* the configured schema is the default of list_tables/describe */
    cfg = config();
    cfg.schema = "other";
    c = NULL;
    rc = drv->open(&cfg, &c, d);
    arena *a = arena_new();
    const char **names = NULL;
    int n = 0;
    if (rc == 0) rc = drv->list_tables(c, NULL, a, &names, &n, d);
    T_CHECK(rc == 0 && n == 1 && strcmp(names[0], "Odd \"Name") == 0,
            "schema from the config is the default");
    arena_free(a);
    drv->close(c);
    drv->close(NULL);
    diag_free(d);
}

static void test_streaming(src_conn *c, diag *d)
{
    T_CHECK(psql("SET ROLE sql2es;\n"
                 "CREATE TABLE big (id int PRIMARY KEY, v int, t text);\n"
                 "INSERT INTO big SELECT g, g % 1000, repeat('x', 100) || g "
                 "FROM generate_series(1, 200000) g;\n"
                 "VACUUM ANALYZE big;\n") == 0,
            "create 200k-row table");
    long rss0 = maxrss_kb();
    src_query q = {.sql = "SELECT id, v, t FROM big"};
    src_scan *s;
    const src_value *row;
    double t0 = now();
    int rc = drv->begin_scan(c, &q, &s, d);
    T_CHECK(rc == 0, "stream: begin_scan");
    if (rc) return;
    long n = 0, sum_ok = 1, rc2;
    while ((rc2 = drv->next(s, &row, d)) == 1) {
        n++;
        if (row[2].n < 101) sum_ok = 0;
    }
    double el = now() - t0;
    long rss1 = maxrss_kb();
    drv->end_scan(s);
    printf("# stream: %ld rows in %.3f s (%.0f rows/s), max RSS growth %ld KB\n", n, el,
           (double)n / el, rss1 - rss0);
    T_CHECK(rc2 == 0 && n == 200000 && sum_ok, "stream: every row");
#if defined(__SANITIZE_ADDRESS__)
    long limit_kb = 300 * 1024; /* ASan keeps freed memory in quarantine */
#else
    long limit_kb = 20 * 1024;
#endif
    T_CHECK(rss1 - rss0 < limit_kb, "stream: bounded memory (RSS growth small)");

    /* two scans open on one connection at once (child rows read inside a parent scan) */
    src_query qa = {.sql = "SELECT id FROM big WHERE id <= $1 ORDER BY id", .fetch_size = 7};
    const char *pa[1] = {"50"};
    qa.params = pa;
    qa.nparams = 1;
    src_scan *sa = NULL, *sb = NULL;
    long na = 0, nb = 0;
    rc = drv->begin_scan(c, &qa, &sa, d);
    for (int i = 0; rc == 0 && i < 10 && drv->next(sa, &row, d) == 1; i++) na++;
    src_query qb = {.sql = "SELECT g FROM generate_series(1, 1000) g", .fetch_size = 100};
    if (rc == 0) rc = drv->begin_scan(c, &qb, &sb, d);
    while (rc == 0 && drv->next(sb, &row, d) == 1) nb++;
    drv->end_scan(sb);
    while (rc == 0 && drv->next(sa, &row, d) == 1) na++;
    int last_ok = rc == 0 && na == 50 && row[0].n == 2 && memcmp(row[0].p, "50", 2) == 0;
    drv->end_scan(sa);
    T_CHECK(rc == 0 && na == 50 && nb == 1000 && last_ok, "two interleaved scans on one connection");
    if (rc) printf("#   %s\n", diag_last(d));

    /* several FETCHes in flight: an error in the middle of them (row 120 of
     * 200 divides by zero, batches of 10) ends the scan after the 110 rows of
     * the batches before it, names the error, is not transient, and leaves
     * the connection usable */
    src_query qz = {.sql = "SELECT g, 1 / (g - 120) AS z FROM generate_series(1, 200) g",
                    .fetch_size = 10};
    long nz = 0;
    int rz = drv->begin_scan(c, &qz, &s, d);
    if (rz == 0) {
        while ((rz = drv->next(s, &row, d)) == 1) nz++;
        drv->end_scan(s);
    }
    s = NULL;
    T_CHECK(rz == DIAG_EIO && nz == 110 && strstr(diag_last(d), "22012") != NULL,
            "error in the middle of pipelined FETCHes: 110 rows, then 22012, not transient");
    if (nz != 110) printf("#   %ld rows, rc %d: %s\n", nz, rz, diag_last(d));
    src_query qy = {.sql = "SELECT 4"};
    rz = drv->begin_scan(c, &qy, &s, d);
    T_CHECK(rz == 0 && drv->next(s, &row, d) == 1 && row[0].p[0] == '4',
            "connection usable after an error among pipelined FETCHes");
    if (rz == 0) drv->end_scan(s);

    /* the same query again sends as many FETCHes at once as it took last
     * time: a larger, a smaller and an empty result still come complete and
     * in order */
    static const char *const reps[] = {"95", "1000", "5", "0", "1000", "10"};
    int reps_ok = 1;
    for (int k = 0; k < 6; k++) {
        src_query qh = {.sql = "SELECT g FROM generate_series(1, $1::int) g ORDER BY g",
                        .params = &reps[k], .nparams = 1, .fetch_size = 10};
        long want = strtol(reps[k], NULL, 10), got = 0, in_order = 1;
        rz = drv->begin_scan(c, &qh, &s, d);
        while (rz == 0 && drv->next(s, &row, d) == 1) {
            got++;
            if (strtol(row[0].p, NULL, 10) != got) in_order = 0;
        }
        if (rz == 0) drv->end_scan(s);
        if (rz || got != want || !in_order) {
            reps_ok = 0;
            printf("#   %s rows: got %ld (rc %d, in order %ld)\n", reps[k], got, rz, in_order);
        }
    }
    T_CHECK(reps_ok, "one query repeated with 95, 1000, 5, 0, 1000, 10 rows: each complete, in order");

    /* stopping early: end_scan of a 10M-row scan does not read the rest */
    src_query qe = {.sql = "SELECT b.id, g FROM big b, generate_series(1, 50) g"};
    t0 = now();
    rc = drv->begin_scan(c, &qe, &s, d);
    for (int i = 0; rc == 0 && i < 10; i++) drv->next(s, &row, d);
    if (rc == 0) drv->end_scan(s);
    el = now() - t0;
    printf("# early end of a 10M-row scan: %.3f s\n", el);
    T_CHECK(rc == 0 && el < 2.0, "early end_scan returns quickly");
    T_CHECK(drv->ping(c, d) == 0, "connection usable after early end_scan");

    /* stopping while the prefetched batch is slow to compute: it is cancelled */
    src_query qs = {.sql = "SELECT g, CASE WHEN g > 5 THEN pg_sleep(0.5) END AS z "
                           "FROM generate_series(1, 100) g",
                    .fetch_size = 5};
    t0 = now();
    rc = drv->begin_scan(c, &qs, &s, d);
    for (int i = 0; rc == 0 && i < 5; i++) drv->next(s, &row, d);
    if (rc == 0) drv->end_scan(s);
    el = now() - t0;
    printf("# end_scan during a slow FETCH: %.3f s\n", el);
    T_CHECK(rc == 0 && el < 1.5, "end_scan cancels a slow prefetched FETCH");
    src_query q2 = {.sql = "SELECT 3"};
    rc = drv->begin_scan(c, &q2, &s, d);
    T_CHECK(rc == 0 && drv->next(s, &row, d) == 1 && row[0].p[0] == '3',
            "connection usable after a cancelled FETCH");
    if (rc == 0) drv->end_scan(s);

    /* a CTE as the query, and a 3M-element array (the row buffer shrinks after it) */
    src_query qc = {.sql = "WITH x AS (SELECT 1 AS k, array_agg(g) AS a "
                           "FROM generate_series(1, 3000000) g UNION ALL SELECT 2, ARRAY[5]) "
                           "SELECT a FROM x ORDER BY k"};
    rc = drv->begin_scan(c, &qc, &s, d);
    int big_ok = 0, small_ok = 0;
    if (rc == 0 && drv->next(s, &row, d) == 1)
        big_ok = row[0].kind == SRC_JSON && row[0].n > 20000000 && memcmp(row[0].p, "[1,2,", 5) == 0 &&
                 memcmp(row[0].p + row[0].n - 9, ",3000000]", 9) == 0;
    if (rc == 0 && drv->next(s, &row, d) == 1)
        small_ok = row[0].kind == SRC_JSON && row[0].n == 3 && memcmp(row[0].p, "[5]", 3) == 0;
    if (rc == 0) drv->end_scan(s);
    T_CHECK(rc == 0 && big_ok && small_ok, "CTE query; 3M-element array then a small one");

    const char *bench = getenv("SQL2ES_PG_BENCH_ROWS");
    if (bench) {
        long br = strtol(bench, NULL, 10);
        char setup[512];
        snprintf(setup, sizeof setup,
                 "SET ROLE sql2es; CREATE SCHEMA IF NOT EXISTS bench;\n"
                 "DROP TABLE IF EXISTS bench.narrow;\n"
                 "CREATE TABLE bench.narrow (id int8 PRIMARY KEY, v int4, name text, ts timestamptz);\n"
                 "INSERT INTO bench.narrow SELECT g, g %% 977, 'name ' || g, "
                 "'2024-01-01'::timestamptz + g * interval '1 second' "
                 "FROM generate_series(1, %ld) g;\nVACUUM ANALYZE bench.narrow;\n",
                 br);
        psql(setup);
        int sizes[] = {500, 2000, 10000};
        for (int k = 0; k < 3; k++) {
            src_query qq = {.sql = "SELECT * FROM bench.narrow", .fetch_size = sizes[k]};
            t0 = now();
            double c0 = cpu_s();
            n = 0;
            if (drv->begin_scan(c, &qq, &s, d) == 0) {
                while (drv->next(s, &row, d) == 1) n++;
                drv->end_scan(s);
            }
            el = now() - t0;
            printf("# bench: fetch_size %d: %ld rows (id int8, v int4, name text, ts "
                   "timestamptz) in %.3f s = %.0f rows/s, client CPU %.3f s\n",
                   sizes[k], n, el, (double)n / el, cpu_s() - c0);
        }
        /* many small scans (child lookups): the per-scan round trips */
        t0 = now();
        n = 0;
        for (int k = 0; k < 2000; k++) {
            char id[24];
            snprintf(id, sizeof id, "%d", k * 7 + 1);
            const char *pp[1] = {id};
            src_query qq = {.sql = "SELECT * FROM bench.narrow WHERE id = $1", .params = pp,
                            .nparams = 1};
            if (drv->begin_scan(c, &qq, &s, d) == 0) {
                while (drv->next(s, &row, d) == 1) n++;
                drv->end_scan(s);
            }
        }
        el = now() - t0;
        printf("# bench: 2000 point-lookup scans (%ld rows): %.1f us per scan\n", n, el * 1e6 / 2000);
    }
}

static void test_failures(diag *d)
{
    /* the backend is terminated while a scan is open */
    src_conn *c = connect_or_die(d);
    src_query q = {.sql = "SELECT id, t FROM big", .fetch_size = 1000};
    src_scan *s;
    const src_value *row;
    int rc = drv->begin_scan(c, &q, &s, d);
    long n = 0;
    while (rc == 0 && n < 1500 && drv->next(s, &row, d) == 1) n++;
    T_CHECK(psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE application_name = 'sql2es-itest' AND datname = current_database() "
                 "AND pid <> pg_backend_pid();") == 0,
            "pg_terminate_backend from another connection");
    int r2 = 1;
    double t0 = now();
    while (rc == 0 && (r2 = drv->next(s, &row, d)) == 1 && now() - t0 < 30) n++;
    printf("# killed backend after %ld rows: %s\n", n, diag_last(d));
    T_CHECK(r2 == DIAG_ETRANSIENT, "killed backend mid-scan: DIAG_ETRANSIENT");
    T_CHECK(strstr(diag_last(d), "SELECT id, t FROM big") != NULL,
            "killed backend: message gives the query");
    if (rc == 0) drv->end_scan(s);
    T_CHECK(drv->ping(c, d) == DIAG_ETRANSIENT, "ping on a dead connection: DIAG_ETRANSIENT");
    {
        arena *fa = arena_new();
        const char **names = NULL;
        int nn = 0;
        src_table ft;
        T_CHECK(drv->list_tables(c, NULL, fa, &names, &nn, d) == DIAG_ETRANSIENT &&
                    strstr(diag_last(d), "postgresql: cannot list tables on ") &&
                    strstr(diag_last(d), ": connection lost: "),
                "list_tables on a dead connection: DIAG_ETRANSIENT, connection lost");
        T_CHECK(drv->describe(c, NULL, "comp", fa, &ft, d) == DIAG_ETRANSIENT &&
                    strstr(diag_last(d), "postgresql: cannot describe table on ") &&
                    strstr(diag_last(d), ": connection lost: "),
                "describe on a dead connection: DIAG_ETRANSIENT, connection lost");
        arena_free(fa);
    }
    drv->close(c); /* half-dead connection accepted */

    /* a table dropped between describe and scan */
    c = connect_or_die(d);
    arena *a = arena_new();
    src_table t;
    T_CHECK(drv->describe(c, NULL, "drop_me", a, &t, d) == 0, "describe drop_me");
    T_CHECK(psql("DROP TABLE drop_me;") == 0, "DROP TABLE from another connection");
    q = (src_query){.sql = "SELECT * FROM \"public\".\"drop_me\""};
    s = NULL;
    rc = drv->begin_scan(c, &q, &s, d);
    if (rc == 0) {
        rc = drv->next(s, &row, d);
        drv->end_scan(s);
    }
    printf("# dropped: %s\n", diag_last(d));
    T_CHECK(rc == DIAG_EIO, "scan of a dropped table: DIAG_EIO");
    T_CHECK(strstr(diag_last(d), "does not exist") && strstr(diag_last(d), "42P01"),
            "scan of a dropped table: SQLSTATE and message");
    T_CHECK(drv->ping(c, d) == 0, "connection usable after a failed query");
    q = (src_query){.sql = "SELECT 1/0"};
    rc = drv->begin_scan(c, &q, &s, d);
    if (rc == 0) {
        rc = drv->next(s, &row, d);
        drv->end_scan(s);
    }
    T_CHECK(rc == DIAG_EIO && strstr(diag_last(d), "division by zero"), "SQL error: DIAG_EIO");
    q = (src_query){.sql = "SELECT 2 AS two"};
    rc = drv->begin_scan(c, &q, &s, d);
    T_CHECK(rc == 0 && drv->next(s, &row, d) == 1 && row[0].p[0] == '2',
            "next query after an error works");
    if (rc == 0) drv->end_scan(s);
    arena_free(a);
    drv->close(c);
}

/* One value of the first row of sql on c, copied into out ("" when none). */
static void one_value(src_conn *c, const char *sql, const char *param, char *out, size_t n,
                      diag *d)
{
    const char *params[1] = {param};
    src_query q = {.sql = sql, .params = params, .nparams = param ? 1 : 0};
    src_scan *s = NULL;
    const src_value *row;
    out[0] = 0;
    if (drv->begin_scan(c, &q, &s, d) == 0 && drv->next(s, &row, d) == 1 &&
        row[0].kind != SRC_NULL)
        snprintf(out, n, "%.*s", (int)row[0].n, row[0].p);
    drv->end_scan(s);
}

/* The defaults `sql2es plan` prints (schemas/language.yaml) are what the
 * driver does: a config that sets neither fetch_size nor schema compiles
 * (with the registry) to a plan whose printed fetch_size is the FETCH count
 * the server runs, and whose printed schema is where tables are found. */
static void test_plan_defaults(diag *d)
{
    char cfg[1024];
    const char *pw = getenv("PGPASSWORD");
    snprintf(cfg, sizeof cfg,
             "connectors:\n  - connector_id: t\n    service_type: postgresql\n    index_name: i\n"
             "    configuration:\n      host: \"%s\"\n      port: %s\n      username: \"%s\"\n"
             "      database: %s\n%s%s%s",
             env("PGHOST", "127.0.0.1"), env("PGPORT", "5432"), env("PGUSER", "sql2es"), DBNAME,
             pw ? "      password: \"" : "", pw ? pw : "", pw ? "\"\n" : "");
    plan *p = dsl_compile_string("defaults.yml", cfg, strlen(cfg), src_drivers, d);
    T_CHECK(p && p->nconnectors == 1 && p->connectors[0].driver == drv, "config compiles");
    if (!p) {
        diag_print(d, stdout, 0);
        return;
    }
    char *text = NULL;
    size_t tn = 0;
    FILE *f = open_memstream(&text, &tn);
    plan_print(p, f, PLAN_FMT_TEXT, NULL, NULL);
    fclose(f);
    const char *fs = strstr(text, " fetch_size=");
    long printed = fs ? strtol(fs + 12, NULL, 10) : -1;
    const char *sc = strstr(text, " schema=");
    char schema[64] = "";
    if (sc) sscanf(sc + 8, "%63s", schema);
    T_CHECK(printed > 0 && printed == p->connectors[0].source.fetch_size, "plan prints fetch_size");
    const src_config *src = &p->connectors[0].source;
    src_conn *c = NULL, *watch = connect_or_die(d);
    T_CHECK(drv->open(src, &c, d) == 0, "open with the plan's source settings");
    if (c) {
        char pid[32], seen[256], want[64];
        one_value(c, "SELECT pg_backend_pid()::text", NULL, pid, sizeof pid, d);
        /* a scan without its own fetch_size, and one with the plan's (as sync) */
        for (int k = 0; k < 2; k++) {
            src_query q = {.sql = "SELECT g FROM generate_series(1, 1000) g",
                           .fetch_size = k ? src->fetch_size : 0};
            src_scan *s = NULL;
            const src_value *row;
            int rc = drv->begin_scan(c, &q, &s, d);
            rc = rc ? rc : drv->next(s, &row, d);
            snprintf(want, sizeof want, "FETCH FORWARD %ld FROM ", printed);
            /* the FETCHes sent ahead run as soon as the server reads them */
            for (int w = 0; w < 50; w++) {
                one_value(watch, "SELECT query FROM pg_stat_activity WHERE pid = $1::int", pid,
                          seen, sizeof seen, d);
                if (strncmp(seen, want, strlen(want)) == 0) break;
                usleep(20000);
            }
            drv->end_scan(s);
            T_CHECK(rc == 1 && strncmp(seen, want, strlen(want)) == 0,
                    NAME("the server runs the printed fetch_size (%s): %s",
                         k ? "plan's query" : "connection default", seen));
        }
        one_value(c, "SELECT current_schema()", NULL, seen, sizeof seen, d);
        T_CHECK(schema[0] && strcmp(seen, schema) == 0, NAME("printed schema %s is the session's", schema));
        drv->close(c);
    }
    drv->close(watch);
    free(text);
    plan_free(p);
}

/* The change stream's checks before it streams: names, a publication that
 * is missing or lacks a table, positions; a slot made, made again (fresh),
 * and dropped with the publication sql2es owns. */
static void test_streams(diag *d)
{
    src_config cfg = config();
    src_stream *st = NULL;
    char snap[128] = "";
    static const char *const tabs[] = {"comp"};
    src_stream_opts o = {.slot = "Bad-Name", .publication = "p", .tables = tabs, .ntables = 1};
    T_CHECK(drv->stream_open(&cfg, &o, &st, snap, sizeof snap, d) == DIAG_EINVAL && !st &&
                strstr(diag_last(d), "slot and publication names take lower-case letters, digits "
                                     "and '_' (at most 63): 'Bad-Name', 'p'"),
            "stream: a slot name with capitals and '-' is refused");
    T_CHECK(drv->stream_drop(&cfg, &o, d) == DIAG_EINVAL &&
                !strcmp(diag_last(d), "postgresql: invalid slot or publication name"),
            "stream drop: the same name is refused");
    o = (src_stream_opts){.slot = "itest_slot", .publication = "itest_nopub", .tables = tabs, .ntables = 1};
    T_CHECK(drv->stream_open(&cfg, &o, &st, snap, sizeof snap, d) == DIAG_EINVAL && !st &&
                strstr(diag_last(d), "publication 'itest_nopub' does not exist"),
            "stream: a missing publication sql2es does not own is an error");
    T_CHECK(psql("SET ROLE sql2es;\nCREATE TABLE pub_other (x int PRIMARY KEY);\n"
                 "CREATE PUBLICATION itest_pub FOR TABLE pub_other;\n") == 0,
            "stream: a publication without comp");
    o = (src_stream_opts){.slot = "itest_slot", .publication = "itest_pub", .tables = tabs, .ntables = 1,
                          .fresh = 1};
    int w0 = diag_warnings(d);
    int rc = drv->stream_open(&cfg, &o, &st, snap, sizeof snap, d);
    int warned = 0;
    for (size_t i = 0; i < diag_count(d); i++)
        warned |= diag_get(d, i)->level == DIAG_WARNING &&
                  strstr(diag_get(d, i)->text, "publication 'itest_pub' does not publish table 'comp'") != NULL;
    T_CHECK(rc == 0 && st && snap[0] && diag_warnings(d) == w0 + 1 && warned,
            "stream: a publication lacking a table: a warning, a slot and its snapshot");
    if (rc) printf("# %s\n", diag_last(d));
    T_CHECK(st && drv->stream_ack(st, "nonsense", d) == DIAG_EINVAL &&
                strstr(diag_last(d), "'nonsense' is not a WAL position"),
            "stream: ack of a position that is none");
    T_CHECK(st && drv->stream_ack(st, "0/0", d) == 0, "stream: ack of a position already passed");
    drv->stream_close(st);
    st = NULL;
    o.own_publication = 1; /* fresh again: the old slot is dropped, comp added */
    rc = drv->stream_open(&cfg, &o, &st, snap, sizeof snap, d);
    T_CHECK(rc == 0 && st, "stream: a fresh start over an existing slot");
    if (rc) printf("# %s\n", diag_last(d));
    drv->stream_close(st);
    src_conn *c = connect_or_die(d);
    char got[64];
    one_value(c, "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'itest_pub' AND "
                 "tablename = 'comp'", NULL, got, sizeof got, d);
    T_STREQ(got, "1", "stream: the publication sql2es owns gains the table");
    T_CHECK(drv->stream_drop(&cfg, &o, d) == 0, "stream drop: slot and publication");
    one_value(c, "SELECT count(*) FROM pg_publication WHERE pubname = 'itest_pub'", NULL, got, sizeof got, d);
    T_STREQ(got, "0", "stream drop: the publication is gone");
    o.own_publication = 0;
    T_CHECK(drv->stream_drop(&cfg, &o, d) == DIAG_ENOTFOUND, "stream drop: no such slot is DIAG_ENOTFOUND");
    o.own_publication = 1;
    T_CHECK(drv->stream_drop(&cfg, &o, d) == DIAG_ENOTFOUND,
            "stream drop: no such slot, publication already gone: DIAG_ENOTFOUND");
    drv->close(c);
}

int main(void)
{
    T_PLAN(359);
    /* our sessions carry their own name (fallback_application_name yields to
     * PGAPPNAME): the kill below leaves other suites' sessions alone */
    setenv("PGAPPNAME", "sql2es-itest", 1);
    drv = src_driver_find("postgresql");
    T_CHECK(drv && drv->version == SRC_DRIVER_VERSION && drv->begin_scan,
            "driver registered as postgresql");
    if (!drv || !drv->begin_scan) return T_DONE();
    T_CHECK((drv->caps & SRC_CAP_SCHEMA) && drv->text_match, "driver capabilities");
    /* a fresh database state for every run */
    /* a slot an earlier run left would keep the database from being dropped */
    int rc = psql_db("postgres", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                                 "WHERE database = '" DBNAME "' AND NOT active;\n"
                                 "DROP DATABASE IF EXISTS " DBNAME " WITH (FORCE);\n"
                                 "CREATE DATABASE " DBNAME " OWNER sql2es;\n");
    rc = rc ? rc : psql("ALTER SCHEMA public OWNER TO sql2es;\n");
    T_CHECK(rc == 0, "create the test database " DBNAME);
    diag *d = diag_new();
    src_conn *c = connect_or_die(d);
    printf("# connected as %s to database %s\n", env("PGUSER", "?"), DBNAME);
    test_types(c, d);
    test_streaming(c, d);
    test_catalog(c, d);
    drv->close(c);
    test_plan_defaults(d);
    test_connect_errors();
    test_failures(d);
    test_streams(d);
    diag_free(d);
    return T_DONE();
}
