/* test_pg_conv.c - the PostgreSQL driver's text conversions, fed the forms
 * a server sends only under settings the driver's own session excludes
 * (DateStyle offsets other than UTC, bytea_output = escape, money in
 * parentheses) and malformed ones no server sends (cut arrays, bad hex): each
 * value converts as the scan would convert it, or falls back to its text.
 * Also the pgoutput decoder, fed hand-made messages: each kind decoded, and
 * each malformed one (cut short, a bad marker, a relation never described)
 * refused with a message naming it. The driver file is compiled into this
 * test (these functions are static); nothing here talks to a server. */
#include "sources/postgresql.c"

#include "t.h"
#include "tests/unit/pg_helpers.h"



static const char *money(const char *s)
{
    int n = conv_money(s, strlen(s), out, sizeof out);
    if (n < 0) return "(not understood)";
    out[n] = '\0';
    return out;
}

static src_scan S;
static buf B;

static const char *bytea(const char *s)
{
    buf_reset(&B);
    int rc = conv_bytea(s, strlen(s), &B);
    return rc ? "(refused)" : B.data ? B.data : "";
}

static const char *point(const char *s)
{
    buf_reset(&B);
    return conv_point(&S, s, strlen(s), &B) ? "(failed)" : B.data;
}

static const char *array(conv_kind elem, char delim, const char *s)
{
    tinfo t = {0};
    t.cv = CV_ARRAY;
    t.elem_cv = elem;
    t.delim = delim;
    buf_reset(&B);
    int rc = conv_array(&S, &t, s, strlen(s), &B);
    return rc == DIAG_EINVAL ? "(malformed)" : rc ? "(failed)" : B.data ? B.data : "";
}

/* ---- pgoutput messages */
static void relation_msg(uint32_t oid, int ncols)
{
    mn = 0;
    m8('R'); m32(oid); mstr("public"); mstr("t"); m8('f'); m16(ncols);
    static const char *const names[] = {"id", "name", "at", "ok"};
    static const uint32_t types[] = {23, 25, 1184, 16};
    for (int i = 0; i < ncols; i++) { m8(i == 0); mstr(names[i]); m32(types[i]); m32(0xffffffff); }
}
static void tuple(const char *a, const char *b, const char *c)
{
    m16(3); mval(a); mval(b); mval(c);
}
static const char *val(const src_value *v)
{
    static char t[3][64];
    static int k;
    k = (k + 1) % 3;
    if (v->kind == SRC_NULL) return "null";
    snprintf(t[k], sizeof t[k], "%d:%.*s", (int)v->kind, (int)v->n, v->p);
    return t[k];
}

static void test_decode(void)
{
    src_stream *s = calloc(1, sizeof *s);
    s->tc_failed = 1; /* built-in types only: no catalog connection */
    diag *d = diag_new();
    src_change c;
    mn = 0; m8('B'); m64(100); m64(0); m32(7);
    T_CHECK(decode(s, M, mn, &c, d) == 0 && s->in_txn, "decode: Begin opens a transaction, hands out nothing");
    relation_msg(16384, 3);
    T_CHECK(decode(s, M, mn, &c, d) == 1 && c.kind == SRC_CHANGE_RELATION && c.ncols == 3 &&
                !strcmp(c.table, "t") && !strcmp(c.schema, "public") && !strcmp(c.names[2], "at"),
            "decode: Relation: its schema, name and columns");
    mn = 0; m8('I'); m32(16384); m8('N'); tuple("42", NULL, "2024-01-02 03:04:05+00");
    int r = decode(s, M, mn, &c, d);
    T_CHECK(r == 1 && c.kind == SRC_CHANGE_INSERT && c.row && !strcmp(val(&c.row[0]), "3:42") &&
                c.row[1].kind == SRC_NULL && !c.old,
            "decode: Insert: the new row's text, a NULL");
    mn = 0; m8('U'); m32(16384); m8('O'); tuple("42", "ann", "2024-01-02 03:04:05+05:30");
    m8('N'); tuple("42", "bob", "(u)");
    r = decode(s, M, mn, &c, d);
    T_CHECK(r == 1 && c.kind == SRC_CHANGE_UPDATE && c.old && c.old_scan && c.unchanged &&
                c.unchanged[2] && !c.unchanged[1] && !strcmp(val(&c.row[1]), "3:bob") &&
                c.old_scan[0].kind == SRC_NUMBER && !strcmp(val(&c.old_scan[2]), "3:2024-01-02T03:04:05+05:30"),
            "decode: Update: the old row as a scan gives it (a number, an ISO time), an unchanged column marked");
    mn = 0; m8('D'); m32(16384); m8('K'); tuple("7", NULL, NULL);
    r = decode(s, M, mn, &c, d);
    T_CHECK(r == 1 && c.kind == SRC_CHANGE_DELETE && c.old && !c.row && !strcmp(val(&c.old_scan[0]), "2:7"),
            "decode: Delete: the old key as a scan gives it");
    /* an unchanged-TOAST marker in an old row (the server sends it only in
     * new rows): read as a missing value, not marked in the new row's array */
    mn = 0; m8('U'); m32(16384); m8('O'); tuple("43", "(u)", NULL);
    m8('N'); tuple("43", "cy", NULL);
    r = decode(s, M, mn, &c, d);
    T_CHECK(r == 1 && c.kind == SRC_CHANGE_UPDATE && c.old && c.old[1].kind == SRC_NULL &&
                !strcmp(val(&c.row[1]), "3:cy") && (!c.unchanged || !c.unchanged[1]),
            "decode: an unchanged-TOAST marker in an old row: a missing old value, the new row whole");
    mn = 0; m8('C'); m8(0); m64(0x1000); m64(0x2000028); m64(86400000000ULL);
    r = decode(s, M, mn, &c, d);
    T_CHECK(r == 1 && c.kind == SRC_CHANGE_COMMIT && !strcmp(c.pos, "0/2000028") &&
                c.time == 946684800.0 + 86400 && !s->in_txn,
            "decode: Commit: the end position and the commit time");
    mn = 0; m8('T'); m32(2); m8(0); m32(16384); m32(16385);
    T_CHECK(decode(s, M, mn, &c, d) == 0 && s->ntrunc == 2 && s->trunc[1] == 16385,
            "decode: Truncate: its relations kept to hand out");
    mn = 0; m8('Y'); m32(99); mstr("public"); mstr("mood");
    int y = decode(s, M, mn, &c, d);
    mn = 0; m8('O'); m64(5); mstr("origin");
    T_CHECK(y == 0 && decode(s, M, mn, &c, d) == 0 && decode(s, M, 0, &c, d) == 0,
            "decode: Type, Origin and an empty message: nothing to apply");
    relation_msg(16384, 4); /* the table got a column: described again */
    T_CHECK(decode(s, M, mn, &c, d) == 1 && c.ncols == 4 && s->nrels == 1 && !strcmp(c.names[3], "ok"),
            "decode: a Relation message again replaces the relation");
    /* malformed */
    int bad = 0;
    struct { const char *name; int cut; } cases[] = {{"C", 10}, {"R", 12}, {"I", 3}, {"T", 2}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char want[80];
        if (cases[k].name[0] == 'C') { mn = 0; m8('C'); m8(0); m64(1); m64(2); }
        if (cases[k].name[0] == 'R') relation_msg(16386, 2);
        if (cases[k].name[0] == 'I') { mn = 0; m8('I'); m32(16384); m8('N'); tuple("1", "x", NULL); }
        if (cases[k].name[0] == 'T') { mn = 0; m8('T'); m32(3); m8(0); m32(16384); }
        size_t n = cases[k].name[0] == 'T' ? mn : mn - (size_t)cases[k].cut;
        snprintf(want, sizeof want, "postgresql: a malformed replication message ('%c', %zu bytes)",
                 cases[k].name[0], n);
        if (decode(s, M, n, &c, d) != DIAG_EIO || strcmp(diag_last(d), want)) {
            printf("# %s: %s\n", cases[k].name, diag_last(d));
            bad++;
        }
    }
    T_CHECK(bad == 0, "decode: Commit, Relation, Insert cut short and a Truncate naming more relations than it holds: refused, named");
    mn = 0; m8('I'); m32(16384); m8('X'); tuple("1", "x", NULL);
    int r1 = decode(s, M, mn, &c, d);
    mn = 0; m8('I'); m32(16384); m8('N'); m16(1); m8('z');
    int r2 = decode(s, M, mn, &c, d);
    mn = 0; m8('I'); m32(16384); m8('N'); m16(1); m8('t'); m32(1000); m8('a');
    int r3 = decode(s, M, mn, &c, d);
    T_CHECK(r1 == DIAG_EIO && r2 == DIAG_EIO && r3 == DIAG_EIO,
            "decode: a tuple with another marker, an unknown value kind, a length past the end: refused");
    mn = 0; m8('U'); m32(99999); m8('N'); tuple("1", NULL, NULL);
    T_CHECK(decode(s, M, mn, &c, d) == DIAG_EIO &&
                !strcmp(diag_last(d), "postgresql: a change of a relation the stream did not describe"),
            "decode: a change of a relation never described: refused, named");
    diag_free(d);
    stream_free(s);
}

int main(void)
{
    T_PLAN(53);
    /* dates and times (DateStyle ISO) */
    T_STREQ(dt(CV_DATE, "2024-02-29", sizeof out), "2024-02-29", "date");
    T_STREQ(dt(CV_DATE, "infinity", sizeof out), "(infinity)", "date infinity");
    T_STREQ(dt(CV_DATE, "-infinity", sizeof out), "(infinity)", "date -infinity");
    T_STREQ(dt(CV_DATE, "0001-01-01 BC", sizeof out), "0000-01-01", "1 BC is year 0000");
    T_STREQ(dt(CV_DATE, "0044-03-15 BC", sizeof out), "-0043-03-15", "44 BC is year -0043");
    T_STREQ(dt(CV_DATE, "12345-01-01", sizeof out), "12345-01-01", "a five-digit year");
    T_STREQ(dt(CV_DATE, "24-01-01", sizeof out), "(not understood)", "a two-digit year");
    T_STREQ(dt(CV_DATE, "2024", sizeof out), "(not understood)", "a year alone");
    T_STREQ(dt(CV_DATE, "2024-02-29", 8), "(not understood)", "no room for the date");
    T_STREQ(dt(CV_TIMESTAMP, "2024-02-29 13:14:15.123456", sizeof out), "2024-02-29T13:14:15.123456",
            "timestamp with microseconds");
    T_STREQ(dt(CV_TIMESTAMP, "2024-02-29 13:14", sizeof out), "(not understood)", "timestamp cut short");
    T_STREQ(dt(CV_TIMESTAMP, "2024-02-29T13:14:15", sizeof out), "(not understood)",
            "timestamp without the space");
    T_STREQ(dt(CV_TIMESTAMPTZ, "2024-02-29 13:14:15+00", sizeof out), "2024-02-29T13:14:15Z",
            "timestamptz +00 is Z");
    T_STREQ(dt(CV_TIMESTAMPTZ, "2024-02-29 13:14:15+05", sizeof out), "2024-02-29T13:14:15+05:00",
            "timestamptz +05 gets its minutes");
    T_STREQ(dt(CV_TIMESTAMPTZ, "2024-02-29 13:14:15.5-03:30", sizeof out), "2024-02-29T13:14:15.5-03:30",
            "timestamptz -03:30 kept");
    T_STREQ(dt(CV_TIMESTAMPTZ, "1890-01-01 00:00:00+00:09:21", sizeof out), "1890-01-01T00:00:00+00:09",
            "timestamptz with offset seconds: the seconds dropped (no ISO form)");
    T_STREQ(dt(CV_TIMESTAMPTZ, "2024-02-29 13:14:15", sizeof out), "(not understood)",
            "timestamptz without an offset");
    T_STREQ(dt(CV_TIMESTAMPTZ, "0001-01-01 00:00:00+00 BC", sizeof out), "0000-01-01T00:00:00Z",
            "timestamptz BC");
    T_STREQ(dt(CV_TIMESTAMP, "2024-02-29 13:14:15", 20), "(not understood)", "no room for the timestamp");

    /* money (lc_monetary C; other locales' forms) */
    T_STREQ(money("$1,234.56"), "1234.56", "money $1,234.56");
    T_STREQ(money("-$5.00"), "-5.00", "money -$5.00");
    T_STREQ(money("($5.00)"), "-5.00", "money in parentheses is negative");
    T_STREQ(money("$"), "(not understood)", "money without digits");
    T_STREQ(money("1.2.3"), "(not understood)", "money that is no number");

    /* bytea: hex, and the escape output */
    T_STREQ(bytea("\\x414243"), "ABC", "bytea hex");
    T_STREQ(bytea("\\x4G"), "(refused)", "bytea hex with a bad digit");
    T_STREQ(bytea("\\xab"), "\xab", "bytea hex, lower case");
    T_STREQ(bytea("\\xAB"), "\xab", "bytea hex, upper case");
    T_STREQ(bytea("a\\\\b\\101\\"), "a\\bA\\", "bytea escape format: \\\\, octal, a lone backslash");

    /* point */
    T_STREQ(point("(1.5,-2)"), "{\"x\":1.5,\"y\":-2}", "point");
    unsigned long long w = S.st.warnings;
    T_STREQ(point("(NaN,Infinity)"), "{\"x\":null,\"y\":null}", "point with NaN and Infinity: nulls");
    T_CHECK(S.st.warnings == w + 2, "point: each null coordinate is a warning");
    T_STREQ(point("(1 2)"), "\"(1 2)\"", "point without a comma: its text");
    T_STREQ(point("1,2"), "\"1,2\"", "point without parentheses: its text");

    /* arrays */
    T_STREQ(array(CV_INT, ',', "[0:1]={{1,2},{NULL,3}}"), "[[1,2],[null,3]]",
            "int array with bounds, two dimensions, NULL");
    T_STREQ(array(CV_INT, ',', "[0:1]"), "\"[0:1]\"", "bounds without '=': the text");
    T_STREQ(array(CV_INT, ',', "{1,2"), "(malformed)", "an array not closed");
    T_STREQ(array(CV_STRING, ';', "{\"a;b\" ; \"c\\\"d\";null ; e }"), "[\"a;b\",\"c\\\"d\",null,\"e\"]",
            "box-style delimiter, quoted elements with escapes, spaces around elements");
    T_STREQ(array(CV_NUMERIC, ',', "{1.5,NaN,-Infinity,x}"), "[1.5,null,null,null]",
            "numeric array: NaN, infinity and a non-number are null");
    T_STREQ(array(CV_BOOL, ',', "{t,f}"), "[true,false]", "bool array");
    test_decode();
    buf_free(&B);
    buf_free(&S.tmp);
    buf_free(&S.tmp2);
    return T_DONE();
}
