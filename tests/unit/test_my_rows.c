/* test_my_rows.c - the MariaDB driver's row events without a server: every
 * binlog column type decoded to the value a scan of the row yields (integers
 * by signedness, floats, DECIMAL, the temporal types with their fractions,
 * YEAR, BIT, ENUM/SET, strings, blobs, geometry, JSON), TABLE_MAP events of
 * followed and other tables and malformed ones, WRITE/UPDATE/DELETE rows
 * events (v1, v2, MariaDB's compressed v1) walked into changes with their
 * before and after images, partial column bitmaps and NULLs, rows cut short;
 * the binlog positions and ENUM labels the stream parses, its error
 * messages, the scan's column types and the binary protocol's conversions,
 * and the connection paths that fail before a server answers (a closed
 * loopback port, an unreadable CA file, a pool with every slot busy). The
 * driver file is compiled into this test (these functions are static). */
#include "sources/mysql.c"

#include <math.h>
#include <unistd.h>

#include "t.h"
#include "tests/unit/loopback.h"
#include "tests/unit/my_query.h"

/* "cannot connect to 127.0.0.1:PORT" and what follows (one of 4 buffers) */
static const char *refused_at(int port, const char *tail)
{
    static char out[4][96];
    static int k;
    k = (k + 1) % 4;
    snprintf(out[k], sizeof out[k], "cannot connect to 127.0.0.1:%d%s", port, tail);
    return out[k];
}

/* ------------------------------------------------------------ value_of */

static src_stream S;
static rpl_table T;
static const char *labels[] = {"a", "b", "c"};

/* The value of one column of type ty (metadata m0 m1, column semantics sem)
 * at p: its text as "KIND:text", "NULL" or "ABSENT". */
static const char *val(unsigned ty, unsigned m0, unsigned m1, unsigned sem, const void *p, long sz)
{
    static char ring[8][200]; /* several results in one expression */
    static int next;
    char *out = ring[next++ % 8];
    unsigned char types[1] = {(unsigned char)ty}, meta[1][2] = {{(unsigned char)m0, (unsigned char)m1}},
                  sems[1] = {(unsigned char)sem};
    const char **lab[1] = {labels};
    int nlab[1] = {3};
    T.sem = sems;
    T.labels = lab;
    T.nlabels = nlab;
    rpl_map m = {0};
    m.t = &T;
    m.ncols = 1;
    m.types = types;
    m.meta = meta;
    src_value v = {0};
    v.kind = SRC_NUMBER;
    int rc = value_of(&S, &m, 0, p, sz, &v);
    if (rc == 1) return "ABSENT";
    if (v.kind == SRC_NULL) return "NULL";
    const char *k = v.kind == SRC_NUMBER ? "N" : v.kind == SRC_STRING ? "S" : v.kind == SRC_BINARY ? "B"
                    : v.kind == SRC_JSON ? "J" : "?";
    snprintf(out, sizeof ring[0], "%s:%.*s", k, (int)v.n, v.p ? v.p : "");
    return out;
}

static void be_put(unsigned char *p, uint64_t x, int n)
{
    for (int i = n - 1; i >= 0; i--, x >>= 8) p[i] = (unsigned char)x;
}

static void le_put(unsigned char *p, uint64_t x, int n)
{
    for (int i = 0; i < n; i++, x >>= 8) p[i] = (unsigned char)x;
}

/* DATETIME2 of fsp digits: 5 bytes of date and time, then the fraction. */
static const char *dt2(unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s,
                       unsigned fsp, uint64_t frac)
{
    unsigned char b[8];
    uint64_t ym = (uint64_t)y * 13 + mo, ymd = ym << 5 | d, hms = (uint64_t)h << 12 | mi << 6 | s;
    be_put(b, (ymd << 17 | hms) + 0x8000000000ULL, 5);
    be_put(b + 5, frac, (int)(fsp + 1) / 2);
    return val(MYSQL_TYPE_DATETIME2, fsp, 0, S_TEXT, b, 5 + (fsp + 1) / 2);
}

/* TIME2 of fsp digits from the packed value MySQL stores for it. */
static const char *time2(int neg, unsigned h, unsigned mi, unsigned s, unsigned long us, unsigned fsp)
{
    unsigned char b[8];
    int64_t packed = ((int64_t)((uint64_t)h << 12 | mi << 6 | s) << 24) + (int64_t)us;
    if (neg) packed = -packed;
    switch ((fsp + 1) / 2) {
    case 0: be_put(b, (uint64_t)((packed >> 24) + 0x800000), 3); break;
    case 1:
        be_put(b, (uint64_t)((packed >> 24) + 0x800000), 3);
        b[3] = (unsigned char)(int8_t)((packed % (1LL << 24)) / 10000);
        break;
    case 2:
        be_put(b, (uint64_t)((packed >> 24) + 0x800000), 3);
        be_put(b + 3, (uint64_t)(int16_t)((packed % (1LL << 24)) / 100), 2);
        break;
    default: be_put(b, (uint64_t)(packed + 0x800000000000LL), 6); break;
    }
    return val(MYSQL_TYPE_TIME2, fsp, 0, S_TEXT, b, 3 + (fsp + 1) / 2);
}

static void test_values(void)
{
    const unsigned char ff[9] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    const unsigned char s8000[2] = {0x00, 0x80};
    char a[300];
    snprintf(a, sizeof a, "%s|%s|%s|%s|%s|%s|%s|%s", val(MYSQL_TYPE_TINY, 0, 0, S_TEXT, ff, 1),
             val(MYSQL_TYPE_TINY, 0, 0, S_UNSIGNED, ff, 1), val(MYSQL_TYPE_SHORT, 0, 0, S_TEXT, s8000, 2),
             val(MYSQL_TYPE_INT24, 0, 0, S_TEXT, ff, 3), val(MYSQL_TYPE_INT24, 0, 0, S_UNSIGNED, ff, 3),
             val(MYSQL_TYPE_LONG, 0, 0, S_TEXT, ff, 4), val(MYSQL_TYPE_LONGLONG, 0, 0, S_TEXT, ff, 8),
             val(MYSQL_TYPE_LONGLONG, 0, 0, S_UNSIGNED, ff, 8));
    T_STREQ(a, "N:-1|N:255|N:-32768|N:-1|N:16777215|N:-1|N:-1|N:18446744073709551615",
            "integers: sign-extended by width, UNSIGNED (by the table's description) as is");

    const unsigned char y124[1] = {124}, y0[1] = {0};
    snprintf(a, sizeof a, "%s|%s", val(MYSQL_TYPE_YEAR, 0, 0, S_TEXT, y124, 1),
             val(MYSQL_TYPE_YEAR, 0, 0, S_TEXT, y0, 1));
    T_STREQ(a, "N:2024|N:0", "YEAR: 1900 + the byte, the zero year 0");

    unsigned char f[4], d[8];
    float fv = 1.5f, f3 = 3.0f, fn = NAN;
    double dv = 0.1, di = INFINITY;
    uint32_t bits;
    uint64_t bits8;
    char b1[40], b2[40], b3[40], b4[40];
    memcpy(&bits, &fv, 4), le_put(f, bits, 4), snprintf(b1, sizeof b1, "%s", val(MYSQL_TYPE_FLOAT, 4, 0, S_TEXT, f, 4));
    memcpy(&bits, &f3, 4), le_put(f, bits, 4), snprintf(b2, sizeof b2, "%s", val(MYSQL_TYPE_FLOAT, 4, 0, S_TEXT, f, 4));
    memcpy(&bits, &fn, 4), le_put(f, bits, 4), snprintf(b3, sizeof b3, "%s", val(MYSQL_TYPE_FLOAT, 4, 0, S_TEXT, f, 4));
    memcpy(&bits8, &dv, 8), le_put(d, bits8, 8), snprintf(b4, sizeof b4, "%s", val(MYSQL_TYPE_DOUBLE, 8, 0, S_TEXT, d, 8));
    memcpy(&bits8, &di, 8), le_put(d, bits8, 8);
    snprintf(a, sizeof a, "%s|%s|%s|%s|%s", b1, b2, b3, b4, val(MYSQL_TYPE_DOUBLE, 8, 0, S_TEXT, d, 8));
    T_STREQ(a, "N:1.5|N:3.0|NULL|N:0.1|NULL",
            "FLOAT and DOUBLE: shortest text, integral ones with .0, NaN and infinity NULL");

    const unsigned char dneg[] = {0x7f, 0xff, 0xfb, 0x2d, 0xc7};
    const unsigned char bits2[9] = {0x01, 0x02, 0, 0, 0, 0, 0, 0, 0x09};
    snprintf(a, sizeof a, "%s|%s|%s", val(MYSQL_TYPE_NEWDECIMAL, 10, 2, S_TEXT, dneg, 5),
             val(MYSQL_TYPE_BIT, 3, 1, S_TEXT, bits2, 2), val(MYSQL_TYPE_BIT, 0, 9, S_TEXT, bits2, 9));
    T_STREQ(a, "N:-1234.56|N:258|N:72620543991349248",
            "DECIMAL as the server prints it; BIT big-endian, its first 8 bytes when longer");

    unsigned char dt[8];
    le_put(dt, 2024u << 9 | 1 << 5 | 2, 3);
    snprintf(b1, sizeof b1, "%s", val(MYSQL_TYPE_DATE, 0, 0, S_TEXT, dt, 3));
    le_put(dt, 2024u << 9 | 0 << 5 | 2, 3);
    snprintf(b2, sizeof b2, "%s", val(MYSQL_TYPE_NEWDATE, 0, 0, S_TEXT, dt, 3));
    le_put(dt, 20240102030405ULL, 8);
    snprintf(b3, sizeof b3, "%s", val(MYSQL_TYPE_DATETIME, 0, 0, S_TEXT, dt, 8));
    le_put(dt, 20240100030405ULL, 8);
    snprintf(a, sizeof a, "%s|%s|%s|%s", b1, b2, b3, val(MYSQL_TYPE_DATETIME, 0, 0, S_TEXT, dt, 8));
    T_STREQ(a, "S:2024-01-02|NULL|S:2024-01-02T03:04:05|NULL",
            "DATE and the old DATETIME; a zero month or day is NULL");

    snprintf(b1, sizeof b1, "%s", dt2(2024, 12, 31, 23, 59, 58, 0, 0));
    snprintf(b2, sizeof b2, "%s", dt2(2024, 1, 2, 3, 4, 5, 1, 50));
    snprintf(b3, sizeof b3, "%s", dt2(2024, 1, 2, 3, 4, 5, 3, 1230));
    snprintf(b4, sizeof b4, "%s", dt2(2024, 1, 2, 3, 4, 5, 6, 123456));
    snprintf(a, sizeof a, "%s|%s|%s|%s|%s", b1, b2, b3, b4, dt2(0, 0, 0, 0, 0, 0, 0, 0));
    T_STREQ(a, "S:2024-12-31T23:59:58|S:2024-01-02T03:04:05.5|S:2024-01-02T03:04:05.123|"
               "S:2024-01-02T03:04:05.123456|NULL",
            "DATETIME2 with 0, 1, 3 and 6 fraction digits; the zero datetime NULL");

    unsigned char ts[8];
    le_put(ts, 1704164645u, 4);
    snprintf(b1, sizeof b1, "%s", val(MYSQL_TYPE_TIMESTAMP, 0, 0, S_TEXT, ts, 4));
    le_put(ts, 0, 4);
    snprintf(b2, sizeof b2, "%s", val(MYSQL_TYPE_TIMESTAMP, 0, 0, S_TEXT, ts, 4));
    be_put(ts, 1704164645u, 4), be_put(ts + 4, 654321, 3);
    snprintf(b3, sizeof b3, "%s", val(MYSQL_TYPE_TIMESTAMP2, 6, 0, S_TEXT, ts, 7));
    be_put(ts, 0, 4);
    snprintf(a, sizeof a, "%s|%s|%s|%s", b1, b2, b3, val(MYSQL_TYPE_TIMESTAMP2, 0, 0, S_TEXT, ts, 4));
    T_STREQ(a, "S:2024-01-02T03:04:05Z|NULL|S:2024-01-02T03:04:05.654321Z|NULL",
            "TIMESTAMP and TIMESTAMP2 (6 digits) in UTC with Z; the zero timestamp NULL");

    unsigned char tm[3];
    le_put(tm, 123456, 3);
    snprintf(b1, sizeof b1, "%s", val(MYSQL_TYPE_TIME, 0, 0, S_TEXT, tm, 3));
    le_put(tm, (uint32_t)-8385959 & 0xffffff, 3);
    snprintf(a, sizeof a, "%s|%s", b1, val(MYSQL_TYPE_TIME, 0, 0, S_TEXT, tm, 3));
    T_STREQ(a, "S:12:34:56|S:-838:59:59", "the old TIME, negative and beyond 99 hours");

    char t0[40], t1[40], t2[40], t3[40], t4[40], t5[40];
    snprintf(t0, sizeof t0, "%s", time2(0, 12, 34, 56, 0, 0));
    snprintf(t1, sizeof t1, "%s", time2(1, 1, 0, 0, 0, 0));
    snprintf(t2, sizeof t2, "%s", time2(0, 0, 0, 1, 500000, 2));
    snprintf(t3, sizeof t3, "%s", time2(1, 0, 0, 1, 500000, 2));
    snprintf(t4, sizeof t4, "%s", time2(1, 0, 0, 1, 123400, 4));
    snprintf(t5, sizeof t5, "%s", time2(0, 838, 59, 59, 0, 0));
    snprintf(a, sizeof a, "%s|%s|%s|%s|%s|%s|%s", t0, t1, t2, t3, t4, t5, time2(1, 12, 34, 56, 123456, 6));
    T_STREQ(a, "S:12:34:56|S:-01:00:00|S:00:00:01.50|S:-00:00:01.50|S:-00:00:01.1234|S:838:59:59|"
               "S:-12:34:56.123456",
            "TIME2 with 0, 2, 4 and 6 fraction digits, negative ones with a fraction borrowed");

    const unsigned char e2[1] = {2}, e0[1] = {0}, e9[2] = {9, 0}, set5[1] = {5}, set0[1] = {0};
    snprintf(a, sizeof a, "%s|%s|%s|%s|%s", val(MYSQL_TYPE_STRING, MYSQL_TYPE_ENUM, 1, S_ENUM, e2, 1),
             val(MYSQL_TYPE_STRING, MYSQL_TYPE_ENUM, 1, S_ENUM, e0, 1),
             val(MYSQL_TYPE_STRING, MYSQL_TYPE_ENUM, 2, S_ENUM, e9, 2),
             val(MYSQL_TYPE_STRING, MYSQL_TYPE_SET, 1, S_SET, set5, 1),
             val(MYSQL_TYPE_STRING, MYSQL_TYPE_SET, 1, S_SET, set0, 1));
    T_STREQ(a, "S:b|S:|S:|J:[\"a\",\"c\"]|J:[]",
            "ENUM by its index (0 and unknown indexes empty), SET as a JSON array of its members");

    /* a table map whose ENUM claims more bytes than a number holds (malformed):
     * the first eight count, the index matches no member */
    const unsigned char e12[12] = {2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    const unsigned char e1x[9] = {2, 0, 0, 0, 0, 0, 0, 0, 1};
    snprintf(a, sizeof a, "%s|%s", val(MYSQL_TYPE_STRING, MYSQL_TYPE_ENUM, 12, S_ENUM, e12, 12),
             val(MYSQL_TYPE_ENUM, 0, 9, S_ENUM, e1x, 9));
    T_STREQ(a, "S:b|S:b", "ENUM of more than 8 bytes (a malformed table map): read as its first 8, no overflow");

    const unsigned char blob[] = {3, 0, 'a', 'b', 'c'}, js[] = {2, 0, '{', '}'};
    const unsigned char geo[] = {9, 0, 0, 0, 0xE6, 0x10, 0, 0, 1, 2, 3, 4, 5}, geo2[] = {2, 0, 0, 0, 1, 2};
    snprintf(a, sizeof a, "%s|%s|%s|%s|%s|%s", val(MYSQL_TYPE_BLOB, 2, 0, S_TEXT, blob, 5),
             val(MYSQL_TYPE_BLOB, 2, 0, S_BINARY, blob, 5), val(MYSQL_TYPE_BLOB, 2, 0, S_JSON, js, 4),
             val(MYSQL_TYPE_GEOMETRY, 4, 0, S_GEOMETRY, geo, 13),
             val(MYSQL_TYPE_GEOMETRY, 4, 0, S_GEOMETRY, geo2, 6), val(MYSQL_TYPE_JSON, 4, 0, S_JSON, blob, 5));
    T_STREQ(a, "S:abc|B:abc|J:{}|B:\x01\x02\x03\x04\x05|B:\x01\x02|ABSENT",
            "TEXT, BLOB and MariaDB's JSON by their length prefix; GEOMETRY without its SRID; "
            "MySQL's binary JSON has no text here");

    const unsigned char c1[] = {3, 'x', 'y', 'z'}, c2[] = {3, 0, 'x', 'y', 'z'};
    snprintf(a, sizeof a, "%s|%s|%s|%s|%s", val(MYSQL_TYPE_STRING, MYSQL_TYPE_STRING, 10, S_TEXT, c1, 4),
             val(MYSQL_TYPE_STRING, 0xce, 0x2c, S_TEXT, c2, 5), val(MYSQL_TYPE_VARCHAR, 10, 0, S_TEXT, c1, 4),
             val(MYSQL_TYPE_VARCHAR, 0x2c, 0x01, S_BINARY, c2, 5), val(MYSQL_TYPE_VARCHAR, 10, 0, S_SKIP, c1, 4));
    T_STREQ(a, "S:xyz|S:xyz|S:xyz|B:xyz|ABSENT",
            "CHAR(10), CHAR(300) (two length bytes), VARCHAR(10) and VARBINARY(300); a UUID/INET "
            "column has no text here");
}

/* ------------------------------------------------------------ events */

static MARIADB_RPL rpl;
static unsigned char raw[512];

/* A TABLE_MAP event for db.name with the given column types and metadata. */
static int table_map(uint64_t id, const char *db, const char *name, const char *types, int ncols,
                     const char *meta, size_t metan, diag *d)
{
    MARIADB_RPL_EVENT e;
    memset(&e, 0, sizeof e);
    e.event_type = TABLE_MAP_EVENT;
    e.event.table_map.table_id = id;
    e.event.table_map.database.str = (char *)db;
    e.event.table_map.database.length = strlen(db);
    e.event.table_map.table.str = (char *)name;
    e.event.table_map.table.length = strlen(name);
    e.event.table_map.column_count = (uint32_t)ncols;
    e.event.table_map.column_types.str = (char *)types;
    e.event.table_map.column_types.length = (size_t)ncols;
    e.event.table_map.metadata.str = (char *)meta;
    e.event.table_map.metadata.length = metan;
    return on_table_map(&S, &e, d);
}

/* A rows event of type ty: the 19-byte header, then body (n bytes), then
 * (with S.crc) a checksum's 4 bytes. */
static int rows(unsigned ty, const unsigned char *body, size_t n, diag *d)
{
    MARIADB_RPL_EVENT e;
    memset(&e, 0, sizeof e);
    memset(raw, 0, sizeof raw);
    memcpy(raw + 19, body, n);
    e.event_type = (enum mariadb_rpl_event)ty;
    e.raw_data = raw;
    e.raw_data_size = 19 + n + (S.crc ? 4 : 0);
    return on_rows(&S, &e, d);
}

/* The changes of the rows event being walked, as text:
 * "I(v,v) U(v,v>v,v) D(v,v)" with NULL as -, an unchanged column as ~. */
static const char *walk(diag *d, int *rc)
{
    static char out[400];
    size_t k = 0;
    src_change c;
    out[0] = 0;
    while ((*rc = next_change(&S, &c, d)) == 1) {
        const char *kind = c.kind == SRC_CHANGE_INSERT ? "I" : c.kind == SRC_CHANGE_UPDATE ? "U" : "D";
        k += (size_t)snprintf(out + k, sizeof out - k, "%s%s(", k ? " " : "", kind);
        for (int img = 0; img < 2; img++) {
            const src_value *row = img == 0 ? c.old : c.row;
            if (!row) continue;
            if (img == 1 && c.old) k += (size_t)snprintf(out + k, sizeof out - k, ">");
            for (int i = 0; i < c.ncols; i++) {
                const char *sep = i ? "," : "";
                if (img == 1 && c.unchanged && c.unchanged[i])
                    k += (size_t)snprintf(out + k, sizeof out - k, "%s~", sep);
                else if (row[i].kind == SRC_NULL)
                    k += (size_t)snprintf(out + k, sizeof out - k, "%s-", sep);
                else
                    k += (size_t)snprintf(out + k, sizeof out - k, "%s%.*s", sep, (int)row[i].n, row[i].p);
            }
        }
        k += (size_t)snprintf(out + k, sizeof out - k, ")");
        if (strcmp(c.table, "orders") || c.names != T.names) return "wrong table";
    }
    return out;
}

static void test_events(void)
{
    diag *d = diag_new();
    char a[400];
    int rc;
    /* orders(id INT, name VARCHAR(20), qty SMALLINT UNSIGNED) in database shop */
    static const char *names[] = {"id", "name", "qty"};
    static unsigned char sems[] = {S_TEXT, S_TEXT, S_UNSIGNED};
    static const char **lab[3];
    static int nlab[3];
    static char oname[] = "orders";
    T.name = oname;
    T.t.ncols = 3;
    T.names = names;
    T.sem = sems;
    T.labels = lab;
    T.nlabels = nlab;
    S.tables = &T;
    S.ntables = 1;
    S.cfg.database = "shop";
    S.rpl = &rpl;
    snprintf(S.file, sizeof S.file, "mysql-bin.000007");
    S.pos = 1234;
    const char types[] = {MYSQL_TYPE_LONG, MYSQL_TYPE_VARCHAR, MYSQL_TYPE_SHORT};
    const char meta[] = {20, 0};

    rc = table_map(7, "shop", "orders", types, 3, meta, 2, d);
    T_CHECK(rc == 0 && S.nmaps == 1 && S.maps[0].t == &T && !S.maps[0].bad && S.maps[0].ncols == 3 &&
                S.maps[0].meta[1][0] == 20 && S.maps[0].types[2] == MYSQL_TYPE_SHORT && S.nq == 0,
            "TABLE_MAP of a followed table: its types and metadata kept, nothing queued");
    rc = table_map(8, "shop", "audit", types, 3, meta, 2, d) |
         table_map(9, "other", "orders", types, 3, meta, 2, d);
    T_CHECK(rc == 0 && S.nmaps == 3 && !S.maps[1].t && !S.maps[1].types && !S.maps[2].t && S.nq == 0,
            "TABLE_MAP of a table not followed, and of orders in another database: ignored");

    /* WRITE_ROWS v2: id 7, flags, extra-data length 2, 3 columns, all present;
     * (1,'ab',65535) and (-2,NULL,7) */
    const unsigned char w2[] = {7, 0, 0, 0, 0, 0, 1, 0, 2, 0, 3, 0x07,
                                0x00, 1, 0, 0, 0, 2, 'a', 'b', 0xff, 0xff,
                                0x02, 0xfe, 0xff, 0xff, 0xff, 7, 0};
    rc = rows(WRITE_ROWS_EVENT, w2, sizeof w2, d);
    snprintf(a, sizeof a, "%d %s", rc, walk(d, &rc));
    T_STREQ(a, "0 I(1,ab,65535) I(-2,-,7)", "WRITE_ROWS v2: two inserts, a NULL, an UNSIGNED column");
    T_CHECK(rc == 0 && !S.walking, "the walk ends with the event");

    /* UPDATE_ROWS v1 with a checksum: before image all columns, after image
     * only id and qty (MINIMAL): name is unchanged */
    S.crc = 1;
    const unsigned char u1[] = {7, 0, 0, 0, 0, 0, 1, 0, 3, 0x07, 0x05,
                                0x00, 1, 0, 0, 0, 2, 'a', 'b', 0xff, 0xff,
                                0x00, 1, 0, 0, 0, 8, 0};
    rc = rows(UPDATE_ROWS_EVENT_V1, u1, sizeof u1, d);
    snprintf(a, sizeof a, "%d %s", rc, walk(d, &rc));
    T_STREQ(a, "0 U(1,ab,65535>1,~,8)", "UPDATE_ROWS v1 (checksummed): old image, new image with a column left out");

    /* DELETE_ROWS v1 without the name column in the image */
    S.crc = 0;
    const unsigned char d1[] = {7, 0, 0, 0, 0, 0, 1, 0, 3, 0x05, 0x00, 1, 0, 0, 0, 9, 0};
    rc = rows(DELETE_ROWS_EVENT_V1, d1, sizeof d1, d);
    snprintf(a, sizeof a, "%d %s", rc, walk(d, &rc));
    T_STREQ(a, "0 D(1,-,9)", "DELETE_ROWS v1: the old image, a NULL and a column not in the image");

    /* a row cut short: the string's length runs past the event */
    const unsigned char cut[] = {7, 0, 0, 0, 0, 0, 1, 0, 3, 0x07, 0x00, 1, 0, 0, 0, 9, 'a'};
    diag_clear(d);
    rc = rows(WRITE_ROWS_EVENT_V1, cut, sizeof cut, d);
    src_change c;
    int r2 = next_change(&S, &c, d);
    T_CHECK(rc == 0 && r2 == DIAG_EIO && !S.walking && diag_count(d) == 1 &&
                strstr(diag_last(d), "binlog mysql-bin.000007:1234: a row of orders could not be decoded"),
            "a row cut short: an error naming the position and the table");
    /* an event with no rows after its bitmap: no change */
    const unsigned char none[] = {7, 0, 0, 0, 0, 0, 1, 0, 3, 0x07};
    diag_clear(d);
    rc = rows(WRITE_ROWS_EVENT_V1, none, sizeof none, d);
    r2 = next_change(&S, &c, d);
    T_CHECK(rc == 0 && r2 == 0 && !S.walking && diag_count(d) == 0, "a rows event without rows: no change");

    /* malformed events: each names the position */
    const unsigned char short_[] = {7, 0, 0};
    const unsigned char extra1[] = {7, 0, 0, 0, 0, 0, 1, 0, 1, 0};
    const unsigned char extra9[] = {7, 0, 0, 0, 0, 0, 1, 0, 9, 0, 3};
    const unsigned char badn[] = {7, 0, 0, 0, 0, 0, 1, 0, 0xff};
    const unsigned char nobm[] = {7, 0, 0, 0, 0, 0, 1, 0, 20};
    const unsigned char nobm2[] = {7, 0, 0, 0, 0, 0, 1, 0, 3, 0x07};
    const unsigned char twocols[] = {7, 0, 0, 0, 0, 0, 1, 0, 2, 0x03, 0x00, 1, 0, 0, 0, 2, 'a', 'b'};
    const unsigned char nov2len[] = {7, 0, 0, 0, 0, 0, 1, 0, 3};
    int bad = 0;
    struct { unsigned ty; const unsigned char *b; size_t n; } mal[] = {
        {WRITE_ROWS_EVENT_V1, short_, sizeof short_}, {WRITE_ROWS_EVENT, extra1, sizeof extra1},
        {WRITE_ROWS_EVENT, extra9, sizeof extra9},    {WRITE_ROWS_EVENT_V1, badn, sizeof badn},
        {WRITE_ROWS_EVENT_V1, nobm, sizeof nobm},     {UPDATE_ROWS_EVENT_V1, nobm2, sizeof nobm2},
        {WRITE_ROWS_EVENT_V1, twocols, sizeof twocols}, {WRITE_ROWS_EVENT, nov2len, sizeof nov2len},
    };
    for (size_t i = 0; i < sizeof mal / sizeof mal[0]; i++) {
        diag_clear(d);
        S.walking = 0;
        rc = rows(mal[i].ty, mal[i].b, mal[i].n, d);
        bad += rc == DIAG_EIO && !S.walking && diag_count(d) == 1 &&
               strstr(diag_last(d), "mysql: binlog mysql-bin.000007:1234: a malformed rows event") != NULL;
    }
    T_CHECK(bad == 8, "malformed rows events (cut header, bad extra data, column count, bitmaps, a column "
                      "count other than the table map's): refused by name");

    /* rows of a table not followed, or of an unknown table id: skipped */
    const unsigned char other[] = {8, 0, 0, 0, 0, 0, 1, 0, 3, 0x07, 0x00, 1, 0, 0, 0, 0, 1, 0};
    const unsigned char unknown[] = {42, 0, 0, 0, 0, 0, 1, 0, 3, 0x07, 0x00, 1, 0, 0, 0, 0, 1, 0};
    diag_clear(d);
    rc = rows(WRITE_ROWS_EVENT_V1, other, sizeof other, d) | rows(WRITE_ROWS_EVENT_V1, unknown, sizeof unknown, d);
    T_CHECK(rc == 0 && !S.walking && diag_count(d) == 0, "rows of a table not followed or an unknown id: skipped");

    /* MariaDB's compressed v1 rows: the library's uncompressed row data */
    unsigned char cbm[1] = {0x07}, cdata[] = {0x00, 5, 0, 0, 0, 1, 'z', 3, 0};
    MARIADB_RPL_EVENT e;
    memset(&e, 0, sizeof e);
    e.event_type = WRITE_ROWS_COMPRESSED_EVENT_V1;
    e.event.rows.table_id = 7;
    e.event.rows.column_count = 3;
    e.event.rows.column_bitmap = cbm;
    e.event.rows.row_data = cdata;
    e.event.rows.row_data_size = sizeof cdata;
    rc = on_rows(&S, &e, d);
    snprintf(a, sizeof a, "%d %s", rc, walk(d, &rc));
    T_STREQ(a, "0 I(5,z,3)", "a compressed v1 WRITE_ROWS: decoded from the library's row data");
    e.event_type = UPDATE_ROWS_COMPRESSED_EVENT_V1; /* no second bitmap */
    diag_clear(d);
    rc = on_rows(&S, &e, d);
    int rc2;
    e.event_type = WRITE_ROWS_COMPRESSED_EVENT_V1;
    e.event.rows.row_data = NULL;
    diag_clear(d);
    rc2 = on_rows(&S, &e, d);
    T_CHECK(rc == DIAG_EIO && rc2 == DIAG_EIO && diag_count(d) == 1 &&
                strstr(diag_last(d), "compressed rows event 166 is not supported by this client library"),
            "compressed rows: an UPDATE without its second bitmap malformed, no row data not supported");
    e.event_type = WRITE_ROWS_COMPRESSED_EVENT;
    diag_clear(d);
    rc = on_rows(&S, &e, d);
    T_CHECK(rc == DIAG_EIO && strstr(diag_last(d), "compressed rows event 169 is not"),
            "compressed v2 rows: not supported, named by number");

    /* a TABLE_MAP with its metadata cut short: the table is read in full,
     * once for rows of that shape, and its rows are skipped */
    S.nq = S.qhead = 0;
    diag_clear(d);
    rc = table_map(7, "shop", "orders", types, 3, meta, 1, d);
    int q1 = S.nq;
    rc |= table_map(7, "shop", "orders", types, 3, meta, 1, d);
    rc |= rows(WRITE_ROWS_EVENT, w2, sizeof w2, d);
    T_CHECK(rc == 0 && q1 == 1 && S.nq == 1 && S.q[0].kind == SRC_CHANGE_TRUNCATE && S.q[0].t == &T &&
                T.stale == 3 && S.maps[0].bad && !S.walking && S.nmaps == 3,
            "TABLE_MAP with short metadata: one full read of the table, its rows skipped");
    rc = table_map(7, "shop", "orders", types, 3, meta, 2, d);
    T_CHECK(rc == 0 && !S.maps[0].bad && T.stale == 0 && S.nq == 1, "a good TABLE_MAP again: decodable, no full read");
    /* a types string shorter than its column count (a damaged event): never
     * read past it (a heap copy of 2 bytes for 3 columns), the table read in full */
    {
        char *short_types = malloc(2);
        memcpy(short_types, types, 2);
        MARIADB_RPL_EVENT e2;
        memset(&e2, 0, sizeof e2);
        e2.event_type = TABLE_MAP_EVENT;
        e2.event.table_map.table_id = 7;
        e2.event.table_map.database.str = (char *)"shop";
        e2.event.table_map.database.length = 4;
        e2.event.table_map.table.str = (char *)"orders";
        e2.event.table_map.table.length = 6;
        e2.event.table_map.column_count = 3;
        e2.event.table_map.column_types.str = short_types;
        e2.event.table_map.column_types.length = 2;
        e2.event.table_map.metadata.str = (char *)meta;
        e2.event.table_map.metadata.length = 2;
        S.nq = S.qhead = 0;
        rc = on_table_map(&S, &e2, d);
        free(short_types);
        T_CHECK(rc == 0 && S.maps[0].bad && T.stale == 3 && S.nq == 1 &&
                    S.q[0].kind == SRC_CHANGE_TRUNCATE && S.q[0].t == &T,
                "TABLE_MAP with fewer types than columns: the table read in full, nothing read past the types");
        rc = table_map(7, "shop", "orders", types, 3, meta, 2, d);
        T_CHECK(rc == 0 && !S.maps[0].bad && T.stale == 0, "... and a good TABLE_MAP after it decodable again");
    }

    /* every metadata width: FLOAT/BLOB 1 byte, BIT/DECIMAL/STRING/ENUM 2, others none */
    const char types2[] = {(char)MYSQL_TYPE_FLOAT, (char)MYSQL_TYPE_NEWDECIMAL, (char)MYSQL_TYPE_DATE};
    const char meta2[] = {4, 10, 2};
    T.t.ncols = 3;
    rc = table_map(10, "shop", "orders", types2, 3, meta2, 3, d);
    T_CHECK(rc == 0 && !S.maps[3].bad && S.maps[3].meta[0][0] == 4 && S.maps[3].meta[1][0] == 10 &&
                S.maps[3].meta[1][1] == 2 && S.maps[3].meta[2][0] == 0,
            "TABLE_MAP metadata: one byte for FLOAT, two for DECIMAL, none for DATE");

    diag_free(d);
    for (int i = 0; i < S.nmaps; i++) {
        free(S.maps[i].types);
        free(S.maps[i].meta);
    }
    free(S.maps);
    free(S.q);
    free(S.row);
    free(S.old);
    free(S.absent);
    S.maps = NULL;
    S.nmaps = 0;
    S.q = NULL;
    S.nq = S.qhead = S.qcap = 0;
    S.rowcap = 0;
    S.row = S.old = NULL;
    S.absent = NULL;
}

/* ------------------------------------------------------------ positions, labels, errors */

static void test_text(void)
{
    char file[17];
    unsigned long long pos = 0;
    T_CHECK(parse_position("mysql-bin.000003:4567", file, sizeof file, &pos) == 0 &&
                !strcmp(file, "mysql-bin.000003") && pos == 4567 &&
                parse_position("a:b:120", file, sizeof file, &pos) == 0 && !strcmp(file, "a:b") && pos == 120,
            "parse_position: file and offset, split at the last colon");
    T_CHECK(parse_position(NULL, file, sizeof file, &pos) < 0 && parse_position("bin.1", file, sizeof file, &pos) < 0 &&
                parse_position(":120", file, sizeof file, &pos) < 0 &&
                parse_position("bin.1:", file, sizeof file, &pos) < 0 &&
                parse_position("bin.1:12x", file, sizeof file, &pos) < 0 &&
                parse_position("bin.1:3", file, sizeof file, &pos) < 0 &&
                parse_position("a-very-long-binlog-name.000001:120", file, sizeof file, &pos) < 0,
            "parse_position refuses: none, no colon, no file, no offset, trailing text, an offset "
            "before the first event, a file name too long");

    arena *a = arena_new();
    const char **l = NULL;
    int n = parse_labels(a, "enum('a','it''s','back\\\\slash','')", &l);
    T_CHECK(n == 4 && !strcmp(l[0], "a") && !strcmp(l[1], "it's") && !strcmp(l[2], "back\\slash") && !strcmp(l[3], ""),
            "parse_labels: quoted members, a doubled quote, a backslash escape, an empty one");
    l = NULL;
    int n0 = parse_labels(a, "enum", &l);
    const char **l9 = NULL;
    int n9 = parse_labels(a, "set('1','2','3','4','5','6','7','8','9','10')", &l9);
    int n1 = parse_labels(a, "enum('cut", &l);
    T_CHECK(n0 == 0 && n9 == 10 && !strcmp(l9[8], "9") && !strcmp(l9[9], "10") && n1 == 1 && !strcmp(l[0], "cut"),
            "parse_labels: no list, more than 8 members, an unterminated one");
    arena_free(a);

    T_CHECK(is_conn_error(CR_SERVER_GONE_ERROR) && is_conn_error(CR_SERVER_LOST) &&
                is_conn_error(CR_SERVER_LOST_EXTENDED) && is_conn_error(ER_CONNECTION_KILLED_) &&
                is_conn_error(ER_SERVER_SHUTDOWN_) && is_conn_error(CR_CONNECTION_ERROR) &&
                is_conn_error(CR_CONN_HOST_ERROR) && !is_conn_error(1064) && !is_conn_error(0),
            "is_conn_error: the lost-connection codes only");
    T_CHECK(map_errno(CR_SERVER_LOST) == DIAG_ETRANSIENT && map_errno(ER_LOCK_DEADLOCK_) == DIAG_ETRANSIENT &&
                map_errno(ER_LOCK_WAIT_TIMEOUT_) == DIAG_ETRANSIENT &&
                map_errno(ER_QUERY_INTERRUPTED_) == DIAG_ETRANSIENT && map_errno(1146) == DIAG_EIO,
            "map_errno: lost connections, deadlocks, lock waits and interrupts are transient");

    /* rpl_fail: the error of the connection, else of the replication handle */
    src_stream s;
    memset(&s, 0, sizeof s);
    snprintf(s.file, sizeof s.file, "bin.000002");
    s.pos = 99;
    s.my = mysql_init(NULL);
    MARIADB_RPL r;
    memset(&r, 0, sizeof r);
    diag *d = diag_new();
    int rc0 = rpl_fail(&s, "reading", d);
    int ok0 = rc0 == DIAG_ETRANSIENT && !strcmp(diag_last(d), "mysql: reading: connection lost (error 0)");
    s.rpl = &r;
    r.error_no = ER_MASTER_FATAL_READING_BINLOG_;
    snprintf(r.error_msg, sizeof r.error_msg, "Could not find first log file name");
    diag_clear(d);
    int rc1 = rpl_fail(&s, "reading the binlog", d);
    int ok1 = rc1 == DIAG_EIO &&
              strstr(diag_last(d), "mysql: reading the binlog at bin.000002:99: Could not find first log "
                                        "file name (error 1236). If the binlog file was purged") != NULL;
    s.my->net.last_errno = ER_SPECIFIC_ACCESS_DENIED_;
    snprintf(s.my->net.last_error, sizeof s.my->net.last_error, "Access denied");
    diag_clear(d);
    int rc2 = rpl_fail(&s, "open", d);
    int ok2 = rc2 == DIAG_EINVAL && strstr(diag_last(d), "mysql: open: Access denied (error 1227): reading "
                                                              "the binlog needs the REPLICATION SLAVE privilege");
    s.my->net.last_errno = CR_SERVER_LOST;
    snprintf(s.my->net.last_error, sizeof s.my->net.last_error, "Lost connection");
    diag_clear(d);
    int rc3 = rpl_fail(&s, "read", d);
    int ok3 = rc3 == DIAG_ETRANSIENT && !strcmp(diag_last(d), "mysql: read: Lost connection (error 2013)");
    T_CHECK(ok0 && ok1 && ok2 && ok3,
            "rpl_fail: no error (lost), a purged binlog (from the replication handle), a missing "
            "privilege, a lost connection");
    mysql_close(s.my);
    diag_free(d);
}

/* ------------------------------------------------------------ scans */

static const char *ftype(enum enum_field_types t, unsigned flags, unsigned cs, unsigned long len)
{
    MYSQL_FIELD f;
    memset(&f, 0, sizeof f);
    f.type = t;
    f.flags = flags;
    f.charsetnr = cs;
    f.length = len;
    return field_sql_type(&f, 0);
}

/* Columns 0..n-1 of scan s converted, as "kind:text|kind:text..." */
static const char *converted(src_scan *s, int n)
{
    static char out[512];
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        src_value v;
        convert(s, i, &v);
        k += (size_t)snprintf(out + k, sizeof out - k, "%s%d:%.*s", i ? "|" : "", (int)v.kind, (int)v.n,
                              v.p ? v.p : "");
    }
    return out;
}

static void test_scan_types(void)
{
    char a[600];
    snprintf(a, sizeof a, "%s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s",
             ftype(MYSQL_TYPE_TINY, 0, 63, 1), ftype(MYSQL_TYPE_TINY, UNSIGNED_FLAG, 63, 3),
             ftype(MYSQL_TYPE_TINY, 0, 63, 4), ftype(MYSQL_TYPE_SHORT, UNSIGNED_FLAG, 63, 5),
             ftype(MYSQL_TYPE_INT24, 0, 63, 8), ftype(MYSQL_TYPE_INT24, UNSIGNED_FLAG, 63, 8),
             ftype(MYSQL_TYPE_LONG, UNSIGNED_FLAG, 63, 10), ftype(MYSQL_TYPE_LONGLONG, 0, 63, 20),
             ftype(MYSQL_TYPE_LONGLONG, UNSIGNED_FLAG, 63, 20), ftype(MYSQL_TYPE_DECIMAL, 0, 63, 5),
             ftype(MYSQL_TYPE_NEWDATE, 0, 63, 10), ftype(MYSQL_TYPE_DATETIME, 0, 63, 19),
             ftype(MYSQL_TYPE_TIMESTAMP, 0, 63, 19), ftype(MYSQL_TYPE_TIME, 0, 63, 10),
             ftype(MYSQL_TYPE_YEAR, 0, 63, 4), ftype(MYSQL_TYPE_BIT, 0, 63, 3), ftype(MYSQL_TYPE_JSON, 0, 45, 0),
             ftype(MYSQL_TYPE_GEOMETRY, 0, 63, 0), ftype(MYSQL_TYPE_NULL, 0, 63, 0),
             ftype(MYSQL_TYPE_ENUM, 0, 45, 1), ftype(MYSQL_TYPE_SET, 0, 45, 1),
             ftype(MYSQL_TYPE_VAR_STRING, ENUM_FLAG, 45, 4), ftype(MYSQL_TYPE_VARCHAR, SET_FLAG, 45, 4),
             ftype(MYSQL_TYPE_VAR_STRING, 0, 63, 4), ftype(MYSQL_TYPE_STRING, ENUM_FLAG, 45, 4),
             ftype(MYSQL_TYPE_STRING, SET_FLAG, 45, 4), ftype(MYSQL_TYPE_STRING, 0, 63, 4),
             ftype(MYSQL_TYPE_MEDIUM_BLOB, 0, 45, 4), ftype(MYSQL_TYPE_TINY_BLOB, 0, 63, 4));
    T_STREQ(a, "tinyint(1) tinyint unsigned tinyint smallint unsigned mediumint mediumint unsigned int unsigned "
               "bigint bigint unsigned decimal date datetime timestamp time year bit json geometry null enum set "
               "enum set varbinary enum set binary text blob",
            "field_sql_type: every type a scan column reports, UNSIGNED, ENUM/SET flags, binary charset");
    MYSQL_FIELD f;
    memset(&f, 0, sizeof f);
    f.type = MYSQL_TYPE_BLOB;
    T_CHECK(!strcmp(field_sql_type(&f, 1), "json") && !strcmp(ftype((enum enum_field_types)200, 0, 45, 0), "unknown"),
            "field_sql_type: MariaDB's JSON (a format attribute), an unknown type");

    /* the binary protocol's values as a scan yields them */
    src_scan s;
    col_state cs[14];
    unsigned long len[14];
    memset(&s, 0, sizeof s);
    memset(cs, 0, sizeof cs);
    memset(len, 0, sizeof len);
    s.cs = cs;
    s.len = len;
    cs[0].kind = K_INT, cs[0].width = 1, cs[0].u.i = 0;
    int8_t i8 = -5;
    uint16_t u16 = 65535;
    int32_t i32 = -70000;
    memcpy(&cs[0].u.i, &i8, 1);
    cs[1].kind = K_INT, cs[1].width = 2, cs[1].is_unsigned = 1, cs[1].u.i = 0;
    memcpy(&cs[1].u.i, &u16, 2);
    cs[2].kind = K_INT, cs[2].width = 4, cs[2].u.i = 0;
    memcpy(&cs[2].u.i, &i32, 4);
    cs[3].kind = K_INT, cs[3].width = 8, cs[3].is_unsigned = 1, cs[3].u.i = -1;
    cs[4].kind = K_FLOAT, cs[4].u.f4 = NAN;
    cs[5].kind = K_DOUBLE, cs[5].u.f = 2.0;
    cs[6].kind = K_BIT, memcpy(cs[6].u.small, "\x01\x00", 2), len[6] = 2;
    cs[7].kind = K_DATETIME, cs[7].decimals = 3, cs[7].u.t.year = 2024, cs[7].u.t.month = 2, cs[7].u.t.day = 29,
    cs[7].u.t.hour = 23, cs[7].u.t.second_part = 5000;
    cs[8].kind = K_TIMESTAMP, cs[8].decimals = 0, cs[8].u.t.year = 2024, cs[8].u.t.month = 0, cs[8].u.t.day = 1;
    cs[9].kind = K_TIME, cs[9].decimals = 31, cs[9].u.t.neg = 1, cs[9].u.t.day = 2, cs[9].u.t.hour = 3,
    cs[9].u.t.second_part = 250000;
    cs[10].kind = K_GEOMETRY, cs[10].var = (char *)"\0\0\0\0WKB", len[10] = 7;
    cs[11].kind = K_SET, cs[11].var = (char *)"x,,y", len[11] = 4;
    buf_init(&cs[11].set, 0);
    cs[12].kind = K_DECIMAL, memcpy(cs[12].u.small, "-12.50", 6), len[12] = 6;
    cs[13].kind = K_JSON, cs[13].var = (char *)"{\"a\":1}", len[13] = 7;
    const char *out = converted(&s, 14);
    char want[200];
    snprintf(want, sizeof want, "%d:-5|%d:65535|%d:-70000|%d:18446744073709551615|%d:|%d:2.0|%d:256|"
                                "%d:2024-02-29T23:00:00.005|%d:|%d:-51:00:00.250000|%d:WKB|%d:[\"x\",\"\",\"y\"]|%d:-12.50|%d:{\"a\":1}",
             SRC_NUMBER, SRC_NUMBER, SRC_NUMBER, SRC_NUMBER, SRC_NULL, SRC_NUMBER, SRC_NUMBER, SRC_STRING,
             SRC_NULL, SRC_STRING, SRC_BINARY, SRC_JSON, SRC_NUMBER, SRC_JSON);
    T_STREQ(out, want, "convert: integers by width and sign, NaN and a zero month NULL, BIT, fractions by the "
                       "declared digits (unknown: six), TIME beyond a day, GEOMETRY without SRID, SET as an array");
    T_CHECK(s.stats.warnings == 2, "convert: a warning for the NaN and for the zero date");
    buf_free(&cs[11].set);
}


/* ------------------------------------------------------------ more edges */

/* A stream s whose rows event reads table name through map m (ncols columns
 * of these binlog types, metadata and semantics). */
static void map_stream(rpl_table *t, rpl_map *m, src_stream *s, char *name, unsigned char *types,
                       unsigned char (*meta)[2], unsigned char *sems, int ncols)
{
    memset(t, 0, sizeof *t);
    memset(m, 0, sizeof *m);
    memset(s, 0, sizeof *s);
    t->name = name;
    t->sem = sems;
    m->t = t;
    m->types = types;
    m->meta = meta;
    m->ncols = ncols;
    s->rmap = m;
}


static void test_edges(void)
{
    diag *d = diag_new();
    /* value sizes the table map cannot give */
    {
        unsigned char types[] = {MYSQL_TYPE_NEWDECIMAL, MYSQL_TYPE_ENUM, MYSQL_TYPE_SET, MYSQL_TYPE_STRING,
                                 MYSQL_TYPE_BLOB, MYSQL_TYPE_JSON, MYSQL_TYPE_VAR_STRING};
        unsigned char meta[][2] = {{66, 2}, {0, 2}, {0, 8}, {MYSQL_TYPE_STRING, 10}, {5, 0}, {4, 0}, {10, 0}};
        rpl_map m = {0};
        m.types = types;
        m.meta = meta;
        m.ncols = (int)sizeof types;
        const unsigned char b[] = {3, 0, 0, 0, 'a', 'b', 'c'};
        T_CHECK(value_size(&m, 0, b, b + 7) == -1 && value_size(&m, 1, b, b + 7) == 2 &&
                    value_size(&m, 2, b, b + 7) == 8 && value_size(&m, 3, b, b) == -1 &&
                    value_size(&m, 4, b, b + 7) == -1 && value_size(&m, 5, b, b + 7) == 7 &&
                    value_size(&m, 5, b, b + 3) == -1 && value_size(&m, 6, b, b + 7) == 4,
                "value sizes: DECIMAL beyond 65 digits, ENUM and SET by their byte count, a CHAR "
                "with no length byte left, a 5-byte blob length, JSON with a 4-byte length cut short");
    }

    /* a row image: the null bitmap missing, columns without a text here */
    {
        unsigned char types[] = {MYSQL_TYPE_LONG, MYSQL_TYPE_JSON};
        unsigned char meta[][2] = {{0, 0}, {4, 0}};
        unsigned char sems[] = {S_TEXT, S_JSON};
        static char tname[] = "docs";
        rpl_table t;
        rpl_map m;
        src_stream s;
        map_stream(&t, &m, &s, tname, types, meta, sems, 2);
        s.ca = S.ca;
        snprintf(s.file, sizeof s.file, "b.1");
        s.pos = 4;
        const unsigned char present[] = {0x03};
        const unsigned char img[] = {0x00, 7, 0, 0, 0, 2, 0, 0, 0, '{', '}'};
        src_value out[2];
        unsigned char absent[2] = {9, 9};
        s.rp = img;
        s.rend = img + sizeof img;
        int rc1 = decode_image(&s, present, out, absent, d);
        int ok1 = rc1 == 0 && s.rp == img + sizeof img && out[0].kind == SRC_NUMBER && out[0].n == 1 &&
                  out[0].p[0] == '7' && out[1].kind == SRC_NULL && absent[0] == 0 && absent[1] == 1;
        s.rp = img;
        int rc2 = decode_image(&s, present, out, NULL, d);
        int ok2 = rc2 == 0 && out[1].kind == SRC_NULL;
        s.rp = s.rend = img; /* not even the null bitmap */
        diag_clear(d);
        int rc3 = decode_image(&s, present, out, absent, d);
        T_CHECK(ok1 && ok2 && rc3 == DIAG_EIO &&
                    !strcmp(diag_last(d), "mysql: binlog b.1:4: a row of docs could not be decoded"),
                "a row image: MySQL's binary JSON marked absent (unchanged), a row without its null "
                "bitmap refused");
        /* an UPDATE whose before image is cut short */
        const unsigned char bm[] = {0x03};
        const unsigned char cut[] = {0x00, 7, 0};
        s.rp = cut;
        s.rend = cut + sizeof cut;
        s.bm1 = s.bm2 = bm;
        s.rows_type = UPDATE_ROWS;
        s.walking = 1;
        src_change c;
        diag_clear(d);
        int rc4 = next_change(&s, &c, d);
        T_CHECK(rc4 == DIAG_EIO && !s.walking && c.kind == SRC_CHANGE_UPDATE && diag_count(d) == 1,
                "an UPDATE whose before image is cut short: an error, the walk ends");
        free(s.row);
        free(s.old);
        free(s.absent);
    }

    /* ROTATE events: the next file and position from the bytes */
    {
        src_stream s;
        memset(&s, 0, sizeof s);
        MARIADB_RPL r;
        memset(&r, 0, sizeof r);
        r.fd_header_len = 19;
        s.rpl = &r;
        snprintf(s.file, sizeof s.file, "bin.000001");
        s.pos = 500;
        unsigned char ev[19 + 8 + 300];
        memset(ev, 0, sizeof ev);
        le_put(ev + 19, 4, 8);
        memcpy(ev + 27, "bin.000002", 10);
        MARIADB_RPL_EVENT e;
        memset(&e, 0, sizeof e);
        e.raw_data = ev;
        e.raw_data_size = 19 + 8 + 10;
        int rc1 = on_rotate(&s, &e, d);
        int ok1 = rc1 == 0 && !strcmp(s.file, "bin.000002") && s.pos == 4;
        e.raw_data_size = 19 + 8; /* no name */
        diag_clear(d);
        int rc2 = on_rotate(&s, &e, d);
        int ok2 = rc2 == DIAG_EIO && !strcmp(diag_last(d), "mysql: binlog bin.000002:4: a malformed ROTATE event");
        e.raw_data_size = 19 + 8 + 256; /* a name longer than any file name */
        diag_clear(d);
        int rc3 = on_rotate(&s, &e, d);
        s.crc = 1;
        e.raw_data_size = 19 + 8 + 10 + 4;
        r.fd_header_len = 0; /* before a format description: 19 */
        int rc4 = on_rotate(&s, &e, d);
        T_CHECK(ok1 && ok2 && rc3 == DIAG_EIO && !strcmp(s.file, "bin.000002") && rc4 == 0 && s.pos == 4,
                "ROTATE: the next file and position; no name or one too long refused; with a checksum");
    }

    /* words and names in statements */
    T_CHECK(!mentions("x9orders", 8, "orders") && !mentions("Zorders", 7, "orders") &&
                !mentions("_orders", 7, "orders") && !mentions("$orders", 7, "orders") &&
                !mentions("orders9", 7, "orders") && !mentions("ordersz", 7, "orders") &&
                !mentions("ordersZ", 7, "orders") && !mentions("orders_", 7, "orders") &&
                mentions("(orders)", 8, "orders") && mentions("`x`.`orders`", 12, "orders"),
            "mentions: digits, letters of either case, _ and $ on either side make a longer name");
    T_CHECK(word_is("\n\tBEGIN", 7, "BEGIN") && word_is("BEGIN_", 6, "BEGIN") && !word_is("BEGINz", 6, "begin"),
            "word_is: newlines and tabs skipped, a non-letter ends the word");

    /* statements: DML of every kind, no database, inside a transaction */
    {
        src_stream s;
        memset(&s, 0, sizeof s);
        rpl_table tb;
        memset(&tb, 0, sizeof tb);
        static char oname[] = "orders";
        tb.name = oname;
        s.tables = &tb;
        s.ntables = 1;
        int commit = 0, n = 0;
        static const char *const dml[] = {"INSERT INTO orders VALUES (1)", "UPDATE orders SET a=1",
                                          "REPLACE INTO orders VALUES (1)", "LOAD DATA INFILE 'f' INTO TABLE orders"};
        s.in_trx = 1;
        for (int i = 0; i < 4; i++) n += query(&s, "", dml[i], &commit) == 0 && !commit;
        T_CHECK(n == 4 && s.nq == 4 && s.q[3].kind == SRC_CHANGE_TRUNCATE,
                "INSERT, UPDATE, REPLACE and LOAD statements of a followed table (no database chosen): "
                "read in full, inside the open transaction");
        MARIADB_RPL_EVENT e;
        memset(&e, 0, sizeof e);
        T_CHECK(on_query(&s, &e, &commit, d) == 0 && !commit && s.nq == 4, "a QUERY event without a statement: nothing");
        /* an ALTER while the server cannot be reached: the error, not a guess */
        s.conn = calloc(1, sizeof *s.conn);
        s.conn->host = strdup("127.0.0.1");
        s.conn->port = closed_port();
        diag_clear(d);
        int rc = query(&s, "", "ALTER TABLE orders ADD x INT", &commit);
        T_CHECK(rc == DIAG_ETRANSIENT && s.nq == 4, "an ALTER of a followed table while the server is unreachable: "
                                                    "the connection error, nothing queued");
        /* a TABLE_MAP with another column count: described anew, which fails the same way */
        s.cfg.database = "";
        s.tables[0].t.ncols = 2;
        MARIADB_RPL_EVENT tm;
        memset(&tm, 0, sizeof tm);
        tm.event.table_map.table_id = 1;
        tm.event.table_map.database.str = (char *)"";
        tm.event.table_map.table.str = oname;
        tm.event.table_map.table.length = 6;
        tm.event.table_map.column_count = 1;
        tm.event.table_map.column_types.str = (char *)"\x03";
        tm.event.table_map.column_types.length = 1;
        rc = on_table_map(&s, &tm, d);
        T_CHECK(rc == DIAG_ETRANSIENT && s.nq == 4 && s.nmaps == 1,
                "a TABLE_MAP of another shape while the server is unreachable: the connection error");
        /* the queued changes come out of stream_next first, then it needs a stream */
        src_change c;
        s.ca = arena_new();
        int k = 0, r;
        while ((r = my_stream_next(&s, 0, &c, d)) == 1) k += c.kind == SRC_CHANGE_TRUNCATE && !strcmp(c.table, "orders");
        T_CHECK(k == 4 && r == DIAG_EINVAL && !strcmp(diag_last(d), "mysql: the binlog stream is not started"),
                "stream_next: the queued changes, then an error when the stream was never started");
        s.tables = NULL;
        s.ntables = 0;
        src_stream *heap = malloc(sizeof *heap); /* stream_free frees the stream itself */
        *heap = s;
        stream_free(heap);
    }

    /* SHOW rows: the binlog position of SHOW MASTER STATUS and of the snapshot's status */
    {
        posbuf p;
        memset(&p, 0, sizeof p);
        char *r1[] = {(char *)"mysql-bin.000009", (char *)"1234"};
        char *r2[] = {NULL, (char *)"1"};
        on_master_status(&p, r2, 2);
        on_master_status(&p, r1, 1);
        int none = !p.have_file;
        on_master_status(&p, r1, 2);
        int ok = none && p.have_file && p.have_pos && !strcmp(p.file, "mysql-bin.000009") && p.pos == 1234;
        posbuf q;
        memset(&q, 0, sizeof q);
        char *s1[] = {(char *)"Binlog_snapshot_file", (char *)"mysql-bin.000010"};
        char *s2[] = {(char *)"binlog_snapshot_position", (char *)"77"};
        char *s3[] = {(char *)"binlog_snapshot_file", (char *)""};
        char *s4[] = {(char *)"binlog_snapshot_gtid", (char *)"0-1-2"};
        on_snapshot_status(&q, s3, 2);
        on_snapshot_status(&q, s4, 2);
        on_snapshot_status(&q, r2, 2);
        on_snapshot_status(&q, s1, 1);
        int none2 = !q.have_file && !q.have_pos;
        on_snapshot_status(&q, s1, 2);
        on_snapshot_status(&q, s2, 2);
        T_CHECK(ok && none2 && q.have_file && q.have_pos && !strcmp(q.file, "mysql-bin.000010") && q.pos == 77,
                "SHOW rows: file and position; short, NULL, empty and other rows ignored");
        /* a server connection that is gone */
        MYSQL *my = mysql_init(NULL);
        diag_clear(d);
        int rc = master_position(my, &p, d);
        int okm = rc == DIAG_ETRANSIENT && !p.have_file &&
                  !strcmp(diag_last(d), "mysql: cannot read the binlog position (SHOW MASTER STATUS: Server has "
                                        "gone away): the user needs the BINLOG MONITOR privilege (REPLICATION "
                                        "CLIENT before MariaDB 10.5 and on MySQL)");
        diag_clear(d);
        rc = plain(my, "SET @a = 1", d);
        T_CHECK(okm && rc == DIAG_ETRANSIENT && !strcmp(diag_last(d), "mysql: SET @a = 1: Server has gone away (error 2006)"),
                "master_position and plain on a lost connection: named, transient");
        mysql_close(my);
    }

    /* settings row */
    {
        settings x;
        memset(&x, 0, sizeof x);
        src_value row[5] = {{SRC_NUMBER, "1", 1}, {SRC_STRING, "ROW", 3}, {SRC_STRING, "FULL", 4},
                            {SRC_NUMBER, "42", 2}, {SRC_STRING, "CRC32", 5}};
        on_settings(&x, row);
        int ok = x.log_bin && !strcmp(x.format, "ROW") && !strcmp(x.image, "FULL") && x.server_id == 42 &&
                 !strcmp(x.checksum, "CRC32");
        src_value nul[5] = {{SRC_NUMBER, "0", 1}, {SRC_NULL, NULL, 0}, {SRC_NULL, NULL, 0}, {SRC_NULL, NULL, 0},
                            {SRC_NULL, NULL, 0}};
        on_settings(&x, nul);
        T_CHECK(ok && !x.log_bin && !x.format[0] && !x.image[0] && x.server_id == 0 && !x.checksum[0],
                "server settings: log_bin, format, row image, server id, checksum; NULLs empty");
    }

    /* a stream start without a saved position reads the binlog's end */
    {
        src_stream *s = calloc(1, sizeof *s);
        s->conn = calloc(1, sizeof *s->conn);
        s->conn->pool[0] = mysql_init(NULL);
        diag_clear(d);
        int rc = my_stream_start(s, "", d);
        T_CHECK(rc == DIAG_ETRANSIENT && s->nq == 0 && strstr(diag_last(d), "cannot read the binlog position"),
                "stream start with no position: the binlog's end asked for, the error passed on");
        stream_free(s);
    }

    /* the snapshot's connection handed to the first open naming it */
    {
        src_conn *h = calloc(1, sizeof *h), *got = NULL;
        snprintf(handoff.token, sizeof handoff.token, "bin.000003:120");
        handoff.c = h;
        src_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.snapshot = "bin.000003:99";
        cfg.host = "127.0.0.1";
        cfg.port = closed_port();
        diag_clear(d);
        int rc1 = open_conn(&cfg, &got, d);
        cfg.snapshot = "bin.000003:120";
        int rc2 = open_conn(&cfg, &got, d);
        T_CHECK(rc1 == DIAG_EIO && rc2 == 0 && got == h && handoff.c == NULL,
                "open: the snapshot's connection for its own position only, once");
        close_conn(got);
    }

    /* a pool with every connection busy, and one that cannot connect */
    {
        src_conn *c = calloc(1, sizeof *c);
        c->host = strdup("127.0.0.1");
        c->port = closed_port();
        char refused[64];
        snprintf(refused, sizeof refused, "mysql: %s", refused_at((int)c->port, ""));
        for (int i = 0; i < POOL_MAX; i++) c->busy[i] = 1;
        diag_clear(d);
        int rc1 = ping_conn(c, d);
        int ok1 = rc1 == DIAG_ELIMIT && !strcmp(diag_last(d), "mysql: more than 8 scans open at once on one connection");
        c->busy[3] = 0;
        diag_clear(d);
        int rc2 = ping_conn(c, d);
        arena *a = arena_new();
        const char **names = NULL;
        int n = -1;
        int rc3 = list_tables(c, NULL, a, &names, &n, d);
        src_table st;
        int rc4 = describe(c, NULL, "orders", a, &st, d);
        T_CHECK(ok1 && rc2 == DIAG_ETRANSIENT && rc3 && rc4 && c->busy[3] == 0 &&
                    strstr(diag_last(d), refused),
                "ping, list and describe on a server that cannot be reached: the connection error");
        arena_free(a);
        close_conn(c);
    }

    /* Elasticsearch types and fractions */
    T_CHECK(!strcmp(es_type_for("numeric", 0, 10, 0), "long") && !strcmp(es_type_for("decimal", 0, 19, 0), "double") &&
                !strcmp(es_type_for("decimal", 0, 0, 0), "double") && !strcmp(es_type_for("decimal", 0, 10, 2), "double") &&
                !strcmp(es_type_for("bit", 0, 1, 0), "boolean") && !strcmp(es_type_for("bit", 0, 64, 0), "unsigned_long") &&
                !strcmp(es_type_for("bit", 0, 8, 0), "long") && !strcmp(es_type_for("int", 1, 0, 0), "long") &&
                !strcmp(es_type_for("hyperint", 0, 0, 0), "keyword"),
            "es_type_for: DECIMAL(p,0) long up to 18 digits, BIT(1) boolean, BIT(64) unsigned, INT UNSIGNED long, "
            "an unknown type keyword");
    {
        char fr[16];
        size_t n0 = fmt_frac(fr, 0, 31), n6 = fmt_frac(fr, 42, 31);
        fr[n6] = 0;
        T_CHECK(n0 == 0 && n6 == 7 && !strcmp(fr, ".000042"), "fractions of unknown digits: none when zero, else six");
    }
    {
        MYSQL_FIELD f;
        memset(&f, 0, sizeof f);
        f.type = MYSQL_TYPE_JSON;
        int j = is_json_field(&f);
        f.type = MYSQL_TYPE_BLOB;
        T_CHECK(j == 1 && is_json_field(&f) == 0, "is_json_field: MySQL's JSON type; a BLOB without attributes is not");
    }
    diag_free(d);
}


/* ------------------------------------------------------------ batch: scan columns, more values */

static void test_more(void)
{
    char a[300];
    /* TIME2 negative whole seconds (no fraction to borrow) */
    char t1[40], t2[40];
    snprintf(t1, sizeof t1, "%s", time2(1, 0, 0, 1, 0, 1));
    snprintf(t2, sizeof t2, "%s", time2(1, 0, 0, 1, 0, 4));
    snprintf(a, sizeof a, "%s|%s|%s", t1, t2, time2(1, 0, 0, 1, 0, 5));
    T_STREQ(a, "S:-00:00:01.0|S:-00:00:01.0000|S:-00:00:01.00000", "TIME2 negative whole seconds with 1, 4 and 5 digits");

    const unsigned char set9[9] = {0x06, 0, 0, 0, 0, 0, 0, 0, 0x01};
    const unsigned char tb[] = {2, 'h', 'i'}, mb[] = {2, 0, 0, 'h', 'i'}, lb[] = {2, 0, 0, 0, 'h', 'i'};
    snprintf(a, sizeof a, "%s|%s|%s|%s", val(MYSQL_TYPE_STRING, MYSQL_TYPE_SET, 9, S_SET, set9, 9),
             val(MYSQL_TYPE_TINY_BLOB, 1, 0, S_TEXT, tb, 3), val(MYSQL_TYPE_MEDIUM_BLOB, 3, 0, S_BINARY, mb, 5),
             val(MYSQL_TYPE_LONG_BLOB, 4, 0, S_TEXT, lb, 6));
    T_STREQ(a, "J:[\"b\",\"c\"]|S:hi|B:hi|S:hi", "SET of 9 bytes by its first 8; TINY, MEDIUM and LONG blobs by 1, 3 and 4 length bytes");

    /* the scan's values of the remaining kinds */
    src_scan s;
    col_state cs[8];
    unsigned long len[8];
    memset(&s, 0, sizeof s);
    memset(cs, 0, sizeof cs);
    memset(len, 0, sizeof len);
    s.cs = cs;
    s.len = len;
    cs[0].kind = K_NULL;
    cs[1].kind = K_DOUBLE, cs[1].u.f = -INFINITY;
    cs[2].kind = K_BIT, memcpy(cs[2].u.small, "\0\0\0\0\0\0\0\x05\x09", 9), len[2] = 9;
    cs[3].kind = K_DATE, cs[3].u.t.year = 2024, cs[3].u.t.month = 1, cs[3].u.t.day = 0;
    cs[4].kind = K_DATE, cs[4].u.t.year = 999, cs[4].u.t.month = 1, cs[4].u.t.day = 2, cs[4].u.t.hour = 5;
    cs[5].kind = K_GEOMETRY, cs[5].var = (char *)"ab", len[5] = 2;
    cs[6].kind = K_BINARY, cs[6].var = (char *)"\x01\x02", len[6] = 2;
    cs[7].kind = K_TIME, cs[7].u.t.hour = 100, cs[7].u.t.minute = 2, cs[7].u.t.second = 3;
    const char *out = converted(&s, 8);
    char want[200];
    snprintf(want, sizeof want, "%d:|%d:|%d:5|%d:|%d:0999-01-02|%d:ab|%d:\x01\x02|%d:100:02:03", SRC_NULL, SRC_NULL,
             SRC_NUMBER, SRC_NULL, SRC_STRING, SRC_BINARY, SRC_BINARY, SRC_STRING);
    T_STREQ(out, want, "convert: NULL, -infinity, BIT's first 8 bytes, a zero day, a DATE of year 999, "
                       "GEOMETRY shorter than an SRID, BINARY, TIME of 100 hours");
    T_CHECK(s.stats.warnings == 2, "convert: a warning for the infinity and for the zero day");

    /* scan column set-up from the result's field descriptions */
    {
        src_scan sc;
        memset(&sc, 0, sizeof sc);
        MYSQL_BIND bind[4];
        unsigned long ln[4];
        my_bool isnull[4], err[4];
        col_state c4[4];
        src_column cols[4];
        memset(bind, 0, sizeof bind);
        memset(c4, 0, sizeof c4);
        memset(cols, 0, sizeof cols);
        sc.bind = bind;
        sc.len = ln;
        sc.isnull = isnull;
        sc.err = err;
        sc.cs = c4;
        sc.cols = cols;
        sc.a = arena_new();
        MYSQL_FIELD f[4];
        memset(f, 0, sizeof f);
        f[0].type = MYSQL_TYPE_NEWDATE, f[0].name = (char *)"d", f[0].name_length = 1;
        f[1].type = MYSQL_TYPE_NEWDECIMAL, f[1].length = 7, f[1].decimals = 2, f[1].name = (char *)"price",
        f[1].name_length = 5;
        f[2].type = MYSQL_TYPE_STRING, f[2].flags = SET_FLAG | NOT_NULL_FLAG, f[2].length = 9000, f[2].charsetnr = 45,
        f[2].name = (char *)"tags", f[2].name_length = 4;
        f[3].type = MYSQL_TYPE_TINY, f[3].length = 1, f[3].name = (char *)"flag", f[3].name_length = 4;
        for (int i = 0; i < 4; i++) setup_column(&sc, i, &f[i]);
        T_CHECK(c4[0].kind == K_DATE && bind[0].buffer_type == MYSQL_TYPE_DATE && !strcmp(cols[0].es_type, "date") &&
                    c4[1].kind == K_DECIMAL && bind[1].buffer == c4[1].u.small && !strcmp(cols[1].es_type, "double") &&
                    c4[2].kind == K_SET && c4[2].varcap == 4096 && !strcmp(cols[2].sql_type, "set") &&
                    !cols[2].nullable && cols[0].nullable && !strcmp(cols[2].name, "tags") &&
                    c4[3].kind == K_INT && c4[3].width == 1 && !strcmp(cols[3].es_type, "byte"),
                "scan columns: NEWDATE read as DATE, DECIMAL(5,2) a double in its small buffer, SET's buffer "
                "capped at 4096, NOT NULL, TINYINT(1) a byte");
        for (int i = 0; i < 4; i++) free(c4[i].var);
        buf_free(&c4[2].set);
        arena_free(sc.a);
    }

    /* parse_labels: a backslash as the last byte */
    arena *ar = arena_new();
    const char **l = NULL;
    int n = parse_labels(ar, "enum('a\\", &l);
    T_CHECK(n == 1 && !strcmp(l[0], "a\\"), "parse_labels: a trailing backslash kept");
    arena_free(ar);

    /* rpl_fail: a replication handle without an error, a refused password */
    src_stream st;
    memset(&st, 0, sizeof st);
    st.my = mysql_init(NULL);
    MARIADB_RPL r;
    memset(&r, 0, sizeof r);
    st.rpl = &r;
    diag *d = diag_new();
    int rc1 = rpl_fail(&st, "x", d);
    int ok1 = rc1 == DIAG_ETRANSIENT && !strcmp(diag_last(d), "mysql: x: connection lost (error 0)");
    st.my->net.last_errno = ER_ACCESS_DENIED_;
    snprintf(st.my->net.last_error, sizeof st.my->net.last_error, "Access denied for user");
    int rc2 = rpl_fail(&st, "y", d);
    T_CHECK(ok1 && rc2 == DIAG_EINVAL && strstr(diag_last(d), "y: Access denied for user (error 1045): reading the binlog"),
            "rpl_fail: no error anywhere is a lost connection; error 1045 names the privilege");
    mysql_close(st.my);
    diag_free(d);
}


/* ------------------------------------------------------------ batch: small edges */

static void test_small(void)
{
    diag *d = diag_new();
    char a[200];
    snprintf(a, sizeof a, "%s", time2(0, 0, 0, 1, 123400, 4));
    T_STREQ(a, "S:00:00:01.1234", "TIME2 positive with 4 fraction digits");

    /* DECIMAL without integer digits, and a negative zero */
    {
        const unsigned char p5[] = {0x85}, nz[] = {0x7f, 0xff, 0xff, 0xff, 0xff};
        buf b1 = BUF_INIT, b2 = BUF_INIT;
        decimal_text(&b1, p5, 2, 2);
        decimal_text(&b2, nz, 10, 2);
        snprintf(a, sizeof a, "%.*s|%.*s", (int)b1.len, b1.data, (int)b2.len, b2.data);
        buf_free(&b1);
        buf_free(&b2);
        T_STREQ(a, "0.05|0.00", "DECIMAL(2,2) 0.05 (no integer digits), a negative zero printed without its sign");
    }

    /* more than 16 queued changes */
    {
        src_stream s;
        memset(&s, 0, sizeof s);
        for (int i = 0; i < 40; i++) queue(&s, SRC_CHANGE_COMMIT, NULL, i == 39 ? "f:39" : NULL);
        T_CHECK(s.nq == 40 && s.qcap == 64 && !strcmp(s.q[39].pos, "f:39") && !s.q[0].pos[0],
                "the change queue grows past 16 and keeps each position");
        free(s.q);
    }

    /* TABLE_MAP of a database with the same length, and with no database configured */
    {
        src_stream s;
        memset(&s, 0, sizeof s);
        rpl_table tb;
        memset(&tb, 0, sizeof tb);
        static char oname[] = "orders";
        tb.name = oname;
        s.tables = &tb;
        s.ntables = 1;
        T_CHECK(find_table(&s, "", 0, "orders", 6) == &tb && find_table(&s, "shop", 4, "orders", 6) == NULL,
                "find_table: no database configured matches the empty one only");
        s.cfg.database = "shop";
        T_CHECK(find_table(&s, "shoq", 4, "orders", 6) == NULL && find_table(&s, "shop", 4, "order", 5) == NULL &&
                    find_table(&s, "shop", 4, "orders", 6) == &tb,
                "find_table: another database of the same length, a shorter name: not ours");
        int commit = 0;
        T_CHECK(query(&s, "shoq", "TRUNCATE orders", &commit) == 0 && s.nq == 0 && commit,
                "TRUNCATE in another database of the same name length: not ours");
        free(s.q);
    }

    /* names next to bytes of UTF-8 and upper-case letters */
    T_CHECK(!mentions("\xc3\xa9orders", 8, "orders") && !mentions("Aorders", 7, "orders") &&
                !mentions("ordersA", 7, "orders") && !mentions("orders\x80", 7, "orders") &&
                mentions("orders.x", 8, "orders") && mentions("ORDERS", 6, "orders"),
            "mentions: a UTF-8 byte or a letter on either side is part of a longer name");

    /* a rows event of more than 4096 columns; a walk that was not started */
    {
        const unsigned char many[] = {7, 0, 0, 0, 0, 0, 1, 0, 252, 0x88, 0x13};
        diag_clear(d);
        int rc = rows(WRITE_ROWS_EVENT_V1, many, sizeof many, d);
        src_change c;
        S.walking = 0;
        int r2 = next_change(&S, &c, d);
        T_CHECK(rc == DIAG_EIO && strstr(diag_last(d), "a malformed rows event") && r2 == 0,
                "a rows event of 5000 columns: malformed; next_change without a walk: nothing");
    }

    /* a column whose size cannot be known from its metadata */
    {
        unsigned char types[] = {MYSQL_TYPE_BLOB};
        unsigned char meta[][2] = {{7, 0}};
        unsigned char sems[] = {S_TEXT};
        static char tname[] = "t";
        rpl_table t;
        rpl_map m;
        src_stream s;
        map_stream(&t, &m, &s, tname, types, meta, sems, 1);
        const unsigned char img[] = {0x00, 1, 2, 3};
        const unsigned char present[] = {0x01};
        s.rp = img;
        s.rend = img + sizeof img;
        src_value out[1];
        diag_clear(d);
        T_CHECK(decode_image(&s, present, out, NULL, d) == DIAG_EIO && strstr(diag_last(d), "a row of t could not be decoded"),
                "a BLOB with a 7-byte length (bad metadata): the row is refused");
    }

    /* SHOW rows with a NULL value; settings with log_bin ON */
    {
        posbuf p;
        memset(&p, 0, sizeof p);
        char *r1[] = {(char *)"bin.1", NULL};
        on_master_status(&p, r1, 2);
        on_snapshot_status(&p, r1, 2);
        settings x;
        memset(&x, 0, sizeof x);
        src_value row[5] = {{SRC_STRING, "ON", 2}, {SRC_STRING, "ROW", 3}, {SRC_STRING, "FULL", 4},
                            {SRC_NUMBER, "1", 1}, {SRC_STRING, "NONE", 4}};
        on_settings(&x, row);
        T_CHECK(!p.have_file && !p.have_pos && !x.log_bin && !strcmp(x.checksum, "NONE"),
                "a NULL position ignored; log_bin read as 1 only");
    }

    /* TLS: a readable CA file, or TLS without one; the server still cannot be reached */
    {
        char path[] = "/tmp/sql2es-test-ca.XXXXXX";
        int fd = mkstemp(path);
        if (fd >= 0) close(fd);
        src_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.host = "127.0.0.1";
        cfg.port = closed_port();
        cfg.ssl_enabled = 1;
        cfg.ssl_ca = path;
        src_conn *c = NULL;
        diag_clear(d);
        int rc1 = open_conn(&cfg, &c, d);
        int ok1 = rc1 == DIAG_EIO && strstr(diag_last(d), refused_at(cfg.port, "")) != NULL;
        cfg.ssl_ca = NULL;
        diag_clear(d);
        int rc2 = open_conn(&cfg, &c, d);
        unlink(path);
        T_CHECK(fd >= 0 && ok1 && rc2 == DIAG_EIO && c == NULL && strstr(diag_last(d), refused_at(cfg.port, "")),
                "TLS with a CA file and without: the connection error, not the CA's");
    }

    /* a stream whose snapshot connection no initial read took */
    {
        src_stream *s = calloc(1, sizeof *s);
        s->snap = calloc(1, sizeof *s->snap);
        handoff.c = s->snap;
        stream_free(s);
        T_CHECK(handoff.c == NULL, "stream close: the snapshot's connection not taken is closed");
    }
    diag_free(d);
}


/* ------------------------------------------------------------ batch: a scan's failures */

static void test_scan_fail(void)
{
    diag *d = diag_new();
    MYSQL *my = mysql_init(NULL);
    src_scan s;
    memset(&s, 0, sizeof s);
    s.my = my;
    s.slot = -1;
    s.st = mysql_stmt_init(my);
    /* no error recorded on the statement nor the connection: the stream broke */
    int rc1 = stmt_fail(&s, "reading rows", d);
    T_CHECK(s.st && rc1 == DIAG_ETRANSIENT && s.dead &&
                !strcmp(diag_last(d), "mysql: reading rows: lost connection to server during query (error 2013)"),
            "stmt_fail without any error: a lost connection, the scan's connection dropped");
    /* a value longer than its buffer fetched again: the buffer grows, the fetch fails here */
    MYSQL_BIND bind[1];
    unsigned long len[1] = {100};
    col_state cs[1];
    memset(bind, 0, sizeof bind);
    memset(cs, 0, sizeof cs);
    s.bind = bind;
    s.len = len;
    s.cs = cs;
    s.dead = 0;
    diag_clear(d);
    int rc2 = refetch(&s, 0, d);
    T_CHECK(rc2 == DIAG_EIO && cs[0].varcap == 128 && cs[0].var && bind[0].buffer == cs[0].var &&
                bind[0].buffer_length == 128 && !s.dead && strstr(diag_last(d), "mysql: fetch a long value: ") &&
                strstr(diag_last(d), "(error 2051)"),
            "refetch: a 100-byte value grows the buffer from 16 to 128, a fetch without a row is an error");
    free(cs[0].var);
    /* next_row after the end, and on a lost connection */
    const src_value *row = NULL;
    s.done = 1;
    int r1 = next_row(&s, &row, d);
    s.done = 0;
    s.dead = 1;
    diag_clear(d);
    int r2 = next_row(&s, &row, d);
    T_CHECK(r1 == 0 && r2 == DIAG_ETRANSIENT && !row && !strcmp(diag_last(d), "mysql: the connection of this scan was lost"),
            "next_row: nothing after the end; a lost connection named, transient");
    mysql_stmt_close(s.st);
    end_scan_impl(NULL);
    /* stream_next with a connection but no replication handle */
    src_stream st;
    memset(&st, 0, sizeof st);
    st.my = my;
    st.ca = arena_new();
    src_change c;
    diag_clear(d);
    int r3 = my_stream_next(&st, 0, &c, d);
    T_CHECK(r3 == DIAG_EINVAL && !strcmp(diag_last(d), "mysql: the binlog stream is not started"),
            "stream_next with a connection but no binlog reader: not started");
    arena_free(st.ca);
    src_conn cn;
    memset(&cn, 0, sizeof cn);
    cn.busy[0] = 1;
    release(&cn, -1, 1);
    T_CHECK(cn.busy[0] == 1, "release of no slot: nothing");
    mysql_close(my);
    diag_free(d);
}

/* ------------------------------------------------------------ connections */

static void test_connect(void)
{
    diag *d = diag_new();
    src_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.host = "127.0.0.1";
    cfg.port = closed_port(); /* nothing listens there */
    cfg.username = "u";
    cfg.password = "p";
    cfg.database = "shop";
    cfg.connect_timeout = 5;
    src_conn *c = (src_conn *)1;
    int rc = open_conn(&cfg, &c, d);
    T_CHECK(rc == DIAG_EIO && c == NULL && diag_count(d) == 1 &&
                strstr(diag_last(d), refused_at(cfg.port, " as u: ")),
            "open_conn: a refused connection named with host, port and user");
    diag_clear(d);
    cfg.ssl_enabled = 1;
    cfg.ssl_ca = "/nonexistent/ca.pem";
    rc = open_conn(&cfg, &c, d);
    T_CHECK(rc == DIAG_EIO && c == NULL && strstr(diag_last(d), "mysql: ssl_ca: cannot read '/nonexistent/ca.pem'"),
            "open_conn: an unreadable ssl_ca refused before connecting");

    diag_clear(d);
    src_stream_opts o;
    memset(&o, 0, sizeof o);
    src_stream *st = (src_stream *)1;
    char snap[64] = "x";
    cfg.ssl_enabled = 0;
    cfg.ssl_ca = NULL;
    rc = my_stream_open(&cfg, &o, &st, snap, sizeof snap, d);
    T_CHECK(rc == DIAG_EIO && st == NULL && snap[0] == 0 && strstr(diag_last(d), refused_at(cfg.port, "")),
            "stream open: a server that cannot be reached, nothing opened");

    /* stream start from a position that is not one */
    src_stream *s = calloc(1, sizeof *s);
    static char oname[] = "orders";
    s->tables = calloc(1, sizeof *s->tables);
    s->tables[0].name = strdup(oname);
    s->ntables = 1;
    diag_clear(d);
    rc = my_stream_start(s, "no-offset", d);
    T_CHECK(rc == DIAG_EINVAL && !strcmp(diag_last(d), "mysql: 'no-offset' is not a binlog position (file:offset)"),
            "stream start: a saved position without an offset refused by name");
    diag_clear(d);
    s->conn = calloc(1, sizeof *s->conn);
    s->conn->host = strdup("127.0.0.1");
    s->conn->port = closed_port();
    rc = my_stream_start(s, "bin.000001:4", d);
    T_CHECK(rc == DIAG_ETRANSIENT && s->nq == 1 && s->q[0].kind == SRC_CHANGE_RELATION && !s->my &&
                strstr(diag_last(d), refused_at(s->conn->port, " as (current user)")),
            "stream start: each table's columns queued, then the replication connection refused");
    stream_free(s);
    diag_free(d);
}

int main(void)
{
    T_PLAN(91);
    S.ca = arena_new();
    test_values();
    test_events();
    test_text();
    test_scan_types();
    test_connect();
    test_edges();
    test_more();
    test_small();
    test_scan_fail();
    arena_free(S.ca);
    return T_DONE();
}
