/* test_interp.c - binding and the row-to-document interpreter: hand-built
 * plans (in an arena), described tables and rows of src_value; asserts the
 * exact _bulk NDJSON bytes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "engine/bind.h"
#include "base/buf.h"
#include "base/diag.h"
#include "base/fault.h"
#include "engine/interp.h"
#include "engine/sql.h"
#include "base/md5.h"
#include "plan/plan.h"
#include "base/regex.h"
#include "t.h"

/* ---------------------------------------------------------------- dialect */

static int q_ident(buf *o, const char *s)
{
    buf_putc(o, '"');
    for (; *s; s++) {
        if (*s == '"') buf_putc(o, '"');
        buf_putc(o, *s);
    }
    return buf_putc(o, '"');
}

static int q_ph(buf *o, int n) { return buf_printf(o, "$%d", n); }

static int q_match(buf *o, src_text_op op, const char *col, const char *param)
{
    if (op != SRC_TEXT_EQUALS) return 0;
    if (o) buf_printf(o, "%s = %s", col, param);
    return 1;
}

static const src_driver tdrv = {
    .version = SRC_DRIVER_VERSION, .name = "testsql", .caps = SRC_CAP_SCHEMA,
    .quote_ident = q_ident, .placeholder = q_ph, .text_match = q_match};

/* ---------------------------------------------------------------- builders */

static arena *A;

#define S(x) ((src_value){SRC_STRING, x, sizeof(x) - 1})
#define N(x) ((src_value){SRC_NUMBER, x, sizeof(x) - 1})
#define J(x) ((src_value){SRC_JSON, x, sizeof(x) - 1})
#define BT ((src_value){SRC_BOOL, "true", 4})
#define BF ((src_value){SRC_BOOL, "false", 5})
#define NUL ((src_value){SRC_NULL, NULL, 0})

/* "name:es_type[:pkpos],..." */
static src_table *table(const char *name, const char *schema, const char *spec)
{
    src_table *t = arena_alloc(A, sizeof *t);
    t->name = name;
    t->schema = schema;
    t->cols = arena_alloc(A, sizeof(src_column) * 32);
    t->pk = arena_alloc(A, sizeof(int) * 8);
    char *s = arena_strdup(A, spec), *save = NULL;
    for (char *c = strtok_r(s, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        src_column *col = &t->cols[t->ncols];
        char *p1 = strchr(c, ':');
        *p1 = 0;
        col->name = c;
        col->es_type = p1 + 1;
        char *p2 = strchr(p1 + 1, ':');
        if (p2) {
            *p2 = 0;
            col->pk_pos = (int)strtol(p2 + 1, NULL, 10);
            t->pk[col->pk_pos - 1] = t->ncols;
            if (col->pk_pos > t->npk) t->npk = col->pk_pos;
        }
        t->ncols++;
    }
    t->row_estimate = -1;
    return t;
}

/* "lit {{ col }} {{ $var }} {{ @pk }}" */
static plan_tpl *tpl(const char *src)
{
    plan_tpl *t = arena_alloc(A, sizeof *t);
    t->source = src;
    t->parts = arena_alloc(A, sizeof(plan_tpl_part) * 16);
    const char *s = src;
    while (*s) {
        plan_tpl_part *p = &t->parts[t->nparts++];
        const char *o = strstr(s, "{{");
        if (o != s) {
            p->kind = PLAN_TPL_LIT;
            p->text = arena_strndup(A, s, o ? (size_t)(o - s) : strlen(s));
            s = o ? o : s + strlen(s);
            continue;
        }
        const char *e = strstr(s, "}}");
        char *in = arena_strndup(A, s + 3, (size_t)(e - s - 4));
        if (in[0] == '$') p->kind = PLAN_TPL_VAR, p->text = in + 1;
        else if (in[0] == '@') p->kind = PLAN_TPL_PK, p->text = in;
        else p->kind = PLAN_TPL_COL, p->text = in;
        s = e + 2;
    }
    return t;
}

static eng_regex *rx(const char *pat, unsigned fl)
{
    char err[128];
    size_t off;
    return eng_regex_compile(A, pat, fl, &off, err, sizeof err);
}

static plan_connector conn_base(void)
{
    plan_connector c = {0};
    c.id = "shop";
    c.service_type = "testsql";
    c.driver = &tdrv;
    c.source.database = "shopdb";
    c.source.schema = "public";
    c.index_name = "search-shop";
    return c;
}

static plan_table ptable(const plan_op *ops, int nops)
{
    plan_table t = {0};
    t.name = "t";
    t.doc.ops = ops;
    t.doc.nops = nops;
    t.loc = (src_loc){"config.yml", 10, 5};
    return t;
}

/* Bind and write rows; returns the NDJSON (arena copy) or "ERR:<msg>". */
static eng_interp_stats last_stats;
static eng_doc_result last_res;
static const src_table *child_tables[6];

static int describe_child(void *ctx, const plan_relation *rel, const src_table **out, diag *d)
{
    (void)ctx;
    for (int i = 0; i < 6 && child_tables[i]; i++)
        if (strcmp(child_tables[i]->name, rel->table) == 0) {
            *out = child_tables[i];
            return 0;
        }
    diag_error(d, rel->loc, "no table %s", rel->table);
    return DIAG_ENOTFOUND;
}

static const char *run_rows(const plan_connector *c, const plan_table *pt, const src_table *st,
                            const src_value *rows, int nrows)
{
    diag *d = diag_new();
    eng_bound_table *bt = NULL;
    eng_bind_opts o = {.timestamp = "2024-01-02T03:04:05Z", .describe = describe_child};
    int rc = eng_bind_table(A, c, pt, st, &o, &bt, d);
    if (rc) {
        const char *m = arena_printf(A, "ERR:%d:%s", rc, diag_last(d));
        diag_free(d);
        return m;
    }
    eng_interp *it = eng_interp_new(bt, d);
    buf out = BUF_INIT;
    for (int r = 0; r < nrows; r++) {
        rc = eng_write_doc(it, rows + (size_t)r * (size_t)(st->ncols + (bt->deleted_col >= 0)),
                           &out, &last_res);
        if (rc) break;
    }
    last_stats = *eng_interp_stats_get(it);
    const char *res = rc ? arena_printf(A, "ERR:%d:%s", rc, diag_last(d))
                         : arena_strndup(A, out.data ? out.data : "", out.len);
    buf_free(&out);
    eng_interp_free(it);
    diag_free(d);
    return res;
}

/* One field v = transforms(column c). Returns the document line without \n. */
static const char *xform1(src_value v, const plan_op *xfs, int nx)
{
    plan_op *ops = arena_alloc(A, sizeof(plan_op) * (size_t)(nx + 2));
    ops[0] = (plan_op){.op = PLAN_OP_LOAD_COL, .s = "c"};
    for (int i = 0; i < nx; i++) ops[i + 1] = xfs[i];
    ops[nx + 1] = (plan_op){.op = PLAN_OP_EMIT, .s = "v"};
    plan_connector c = conn_base();
    plan_table pt = ptable(ops, nx + 2);
    const src_table *st = table("t", NULL, "id:long:1,c:text");
    src_value row[2] = {N("1"), v};
    const char *out = run_rows(&c, &pt, st, row, 1);
    const char *nl = strchr(out, '\n');
    if (!nl || strncmp(out, "ERR:", 4) == 0) return out;
    const char *doc = nl + 1;
    size_t n = strlen(doc);
    return arena_strndup(A, doc, n ? n - 1 : 0);
}

#define X1(v, want, name, ...)                                                          \
    do {                                                                                \
        const plan_op xs_[] = {__VA_ARGS__};                                            \
        T_STREQ(xform1(v, xs_, (int)(sizeof xs_ / sizeof xs_[0])), want, name);         \
    } while (0)

#define OP(o, ...) ((plan_op){.op = PLAN_OP_##o, __VA_ARGS__})
#define O(o) ((plan_op){.op = PLAN_OP_##o})

/* ---------------------------------------------------------------- tests */

/* Child rows below are written in the child table's layout; the child query
 * selects only br->sel of its columns: hand the set that projection. */
static void add_full_row(eng_child_set *cs, const eng_bound_relation *br, const src_value *full)
{
    src_value q[16];
    for (int j = 0; j < br->nsel && j < 16; j++) q[j] = full[br->sel[j]];
    eng_child_set_add_child(cs, q, NULL);
}

static void test_plain_copy(void)
{
    plan_op ops[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_EXCLUDE)};
    plan_connector c = conn_base();
    plan_table pt = ptable(ops, 1);
    const src_table *st = table("customers", "public",
                                "id:long:1,name:text,score:scaled_float,active:boolean,meta:object,"
                                "pic:binary,note:text");
    src_value rows[] = {N("1"), S("Ann \"A\""), N("12.50"), BT, J("{\"a\":[1,2]}"),
                        {SRC_BINARY, "\x00\x01", 2}, NUL,
                        N("2"), S("Bob"), N("-0.1e5"), BF, J("[]"), {SRC_BINARY, "", 0}, S("x")};
    T_STREQ(run_rows(&c, &pt, st, rows, 2),
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"1\"}}\n"
            "{\"id\":1,\"name\":\"Ann \\\"A\\\"\",\"score\":12.50,\"active\":true,"
            "\"meta\":{\"a\":[1,2]},\"pic\":\"AAE=\",\"note\":null}\n"
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"2\"}}\n"
            "{\"id\":2,\"name\":\"Bob\",\"score\":-0.1e5,\"active\":false,\"meta\":[],"
            "\"pic\":\"\",\"note\":\"x\"}\n",
            "plain copy of every kind");
    T_CHECK(last_stats.docs == 2 && last_stats.warnings == 0, "plain copy stats");

    /* include list, in table order, and exclude of a missing column is fine */
    static const char *const inc[] = {"note", "id"};
    plan_op ops2[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_INCLUDE, .names = inc, .nnames = 2)};
    pt = ptable(ops2, 1);
    T_STREQ(run_rows(&c, &pt, st, rows, 1),
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"1\"}}\n{\"id\":1,\"note\":null}\n",
            "copy include list in table order");
    static const char *const gl[] = {"*a*", "id"};
    plan_op opsg[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_INCLUDE, .names = gl, .nnames = 2,
                         .tpl = tpl("{{ $table }}_"))};
    pt = ptable(opsg, 1);
    T_STREQ(run_rows(&c, &pt, st, rows, 1),
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"1\"}}\n"
            "{\"customers_id\":1,\"customers_name\":\"Ann \\\"A\\\"\",\"customers_active\":true,"
            "\"customers_meta\":{\"a\":[1,2]}}\n",
            "copy include with a glob, prefix template");
    static const char *const gl2[] = {"no*"};
    plan_op opsg2[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_INCLUDE, .names = gl2, .nnames = 1)};
    pt = ptable(opsg2, 1);
    T_STREQ(run_rows(&c, &pt, st, rows, 1),
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"1\"}}\n{\"note\":null}\n",
            "glob matching one column");
    static const char *const exc[] = {"pic", "meta", "score", "active", "no_such_column"};
    plan_op ops3[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_EXCLUDE, .names = exc, .nnames = 5)};
    pt = ptable(ops3, 1);
    T_STREQ(run_rows(&c, &pt, st, rows, 1),
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"1\"}}\n"
            "{\"id\":1,\"name\":\"Ann \\\"A\\\"\",\"note\":null}\n",
            "copy exclude list (missing name ignored)");
}

static void test_connectors_compat(void)
{
    /* PostgreSQL connector: _id = db_schema_table_pk1_pk2, fields
     * schema_table_column in lower case, plus database, table, schema, id,
     * _timestamp */
    plan_op ops[] = {
        OP(COPY_COLUMNS, .n = PLAN_COPY_EXCLUDE | PLAN_COPY_LOWER, .s = "{{ $schema }}_{{ $table }}_"),
        OP(LOAD_VAR, .s = "database"), OP(EMIT, .s = "database"),
        OP(LOAD_VAR, .s = "table"), OP(EMIT, .s = "table"),
        OP(LOAD_VAR, .s = "schema"), OP(EMIT, .s = "schema"),
        OP(LOAD_VAR, .s = "id"), OP(EMIT, .s = "id"),
        OP(LOAD_VAR, .s = "timestamp"), OP(EMIT, .s = "_timestamp"),
    };
    plan_connector c = conn_base();
    c.index_name = "Search-Orders";
    plan_table pt = ptable(ops, (int)(sizeof ops / sizeof ops[0]));
    pt.is_default = 1;
    pt.connectors_compat = 1;
    pt.id = tpl("{{ $database }}_{{ $schema }}_{{ $table }}_{{ @pk }}");
    const src_table *st = table("Orders", "public", "Line:long:2,OrderId:long:1,Qty:double");
    src_value rows[] = {N("3"), N("77"), N("1.5")};
    T_STREQ(run_rows(&c, &pt, st, rows, 1),
            "{\"index\":{\"_index\":\"search-orders\",\"_id\":\"shopdb_public_Orders_77_3\"}}\n"
            "{\"public_orders_line\":3,\"public_orders_orderid\":77,\"public_orders_qty\":1.5,"
            "\"database\":\"shopdb\",\"table\":\"Orders\",\"schema\":\"public\","
            "\"id\":\"shopdb_public_Orders_77_3\",\"_timestamp\":\"2024-01-02T03:04:05Z\"}\n",
            "connectors-compat default document (PostgreSQL style, composite pk)");

    /* MySQL style: _id = table_pk, raw names plus Table */
    plan_op ops2[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_EXCLUDE), OP(LOAD_VAR, .s = "table"),
                      OP(EMIT, .s = "Table"), OP(LOAD_VAR, .s = "$id"), OP(EMIT, .s = "id")};
    pt = ptable(ops2, 5);
    pt.id = tpl("{{ $table }}_{{ @pk }}");
    c.index_name = "search-shop";
    T_STREQ(run_rows(&c, &pt, st, rows, 1),
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"Orders_77_3\"}}\n"
            "{\"Line\":3,\"OrderId\":77,\"Qty\":1.5,\"Table\":\"Orders\",\"id\":\"Orders_77_3\"}\n",
            "connectors-compat MySQL style");
}

static void test_transforms(void)
{
    X1(S("  a b \t"), "{\"v\":\"a b\"}", "trim", O(TRIM));
    X1(S("   "), "{\"v\":\"\"}", "trim to empty", O(TRIM));
    X1(N("5"), "{\"v\":5}", "trim leaves numbers", O(TRIM));
    X1(S("\xc3\x80\xc3\x89\xc3\x8e ABC Stra\xc3\x9f" "e \xce\xa3\xce\x91 \xd0\x94\xd0\x9e\xd0\x9c \xc5\x81"),
       "{\"v\":\"\xc3\xa0\xc3\xa9\xc3\xae abc stra\xc3\x9f" "e \xcf\x83\xce\xb1 \xd0\xb4\xd0\xbe\xd0\xbc \xc5\x82\"}",
       "lower: ASCII, Latin-1, Greek, Cyrillic, Latin Ext-A", O(LOWER));
    X1(S("\xc3\xa0\xc3\xa9 abc \xc3\xbf \xc3\x9f \xe6\x97\xa5"),
       "{\"v\":\"\xc3\x80\xc3\x89 ABC \xc5\xb8 \xc3\x9f \xe6\x97\xa5\"}", "upper (y-diaeresis, sharp s, CJK kept)",
       O(UPPER));
    X1(S("a,b,,c"), "{\"v\":[\"a\",\"b\",\"\",\"c\"]}", "split", OP(SPLIT, .s = ","));
    X1(S("a::b"), "{\"v\":[\"a\",\"b\"]}", "split multi-byte separator", OP(SPLIT, .s = "::"));
    X1(S(""), "{\"v\":[]}", "split empty string", OP(SPLIT, .s = ","));
    X1(NUL, "{\"v\":null}", "split null", OP(SPLIT, .s = ","));
    X1(S(" a , B "), "{\"v\":[\"a\",\"b\"]}", "split then trim+lower element-wise",
       OP(SPLIT, .s = ","), O(TRIM), O(LOWER));
    X1(S("a,b,,c"), "{\"v\":\"a|b||c\"}", "split then join", OP(SPLIT, .s = ","), OP(JOIN, .s = "|"));
    X1(J("[\"x\", 1, null, \"y\\\"z\"]"), "{\"v\":\"x-1-y\\\"z\"}", "join a SQL array (JSON), nulls skipped",
       OP(JOIN, .s = "-"));
    X1(J("[\"A\",\"B\u00c9\"]"), "{\"v\":[\"a\",\"b\u00e9\"]}", "lower a SQL array element-wise", O(LOWER));
    X1(J("{\"A\":1}"), "{\"v\":{\"A\":1}}", "lower leaves JSON objects", O(LOWER));
    X1(S("x"), "{\"v\":\"x\"}", "join of a scalar", OP(JOIN, .s = ","));
    X1(S("abc123def45"), "{\"v\":\"123\"}", "regex_extract group 1",
       OP(REGEX_EXTRACT, .re = rx("([0-9]+)", 0), .n = 1));
    X1(S("abc123def45"), "{\"v\":\"c123\"}", "regex_extract group 0",
       OP(REGEX_EXTRACT, .re = rx("c[0-9]+", 0), .n = 0));
    X1(S("abcdef"), "{\"v\":null}", "regex_extract no match -> null",
       OP(REGEX_EXTRACT, .re = rx("([0-9]+)", 0), .n = 1));
    X1(S("+33 (0)1-23"), "{\"v\":\"+330123\"}", "regex_replace",
       OP(REGEX_REPLACE, .re = rx("[^0-9+]", 0), .s = ""));
    X1(S("john smith"), "{\"v\":\"smith, john\"}", "regex_replace with groups",
       OP(REGEX_REPLACE, .re = rx("(\\w+) (\\w+)", 0), .s = "$2, $1"));
    X1(NUL, "{\"v\":\"n/a\"}", "default on null", OP(DEFAULT, .s = "\"n/a\""));
    X1(S("x"), "{\"v\":\"x\"}", "default keeps a value", OP(DEFAULT, .s = "\"n/a\""));
    X1(NUL, "{\"v\":0}", "default number", OP(DEFAULT, .s = "0"));
    X1(NUL, "{\"v\":[1,\"a\"]}", "default JSON", OP(DEFAULT, .s = "[1,\"a\"]"));
    X1(S(" 42 "), "{\"v\":42}", "to_number trims", O(TO_NUMBER));
    X1(S("-4.5e3"), "{\"v\":-4.5e3}", "to_number exponent", O(TO_NUMBER));
    X1(S("12345678901234567890.123456789"), "{\"v\":12345678901234567890.123456789}",
       "to_number keeps every digit", O(TO_NUMBER));
    X1(S("abc"), "{\"v\":null}", "to_number invalid -> null", O(TO_NUMBER));
    T_CHECK(last_stats.coercions == 1 && last_stats.warnings == 1, "to_number failure counted");
    X1(S("0x10"), "{\"v\":null}", "to_number rejects hex", O(TO_NUMBER));
    X1(S("01"), "{\"v\":null}", "to_number rejects leading zero", O(TO_NUMBER));
    X1(S(""), "{\"v\":null}", "to_number empty -> null", O(TO_NUMBER));
    T_CHECK(last_stats.coercions == 0, "to_number empty is not a warning");
    X1(BT, "{\"v\":1}", "to_number bool", O(TO_NUMBER));
    X1(N("42"), "{\"v\":\"42\"}", "to_string number", O(TO_STRING));
    X1(BF, "{\"v\":\"false\"}", "to_string bool", O(TO_STRING));
    X1(J("{\"a\":\"b\"}"), "{\"v\":\"{\\\"a\\\":\\\"b\\\"}\"}", "to_string JSON", O(TO_STRING));
    X1(S("a,b"), "{\"v\":\"[\\\"a\\\",\\\"b\\\"]\"}", "to_string array", OP(SPLIT, .s = ","),
       O(TO_STRING));
    X1(S("Yes"), "{\"v\":true}", "to_bool yes", O(TO_BOOL));
    X1(S(" t "), "{\"v\":true}", "to_bool t", O(TO_BOOL));
    X1(S("0"), "{\"v\":false}", "to_bool 0", O(TO_BOOL));
    X1(S("OFF"), "{\"v\":false}", "to_bool off", O(TO_BOOL));
    X1(N("0.0"), "{\"v\":false}", "to_bool number zero", O(TO_BOOL));
    X1(N("2"), "{\"v\":true}", "to_bool number", O(TO_BOOL));
    X1(S("maybe"), "{\"v\":null}", "to_bool invalid -> null", O(TO_BOOL));
    T_CHECK(last_stats.coercions == 1, "to_bool failure counted");
    X1(S(" {\"a\": [1, 2.5, \"\\u00e9\"]} "), "{\"v\":{\"a\": [1, 2.5, \"\\u00e9\"]}}", "parse_json",
       O(PARSE_JSON));
    X1(S("{bad"), "{\"v\":null}", "parse_json invalid -> null", O(PARSE_JSON));
    T_CHECK(last_stats.coercions == 1, "parse_json failure counted");
    X1(S("[1,]"), "{\"v\":null}", "parse_json trailing comma", O(PARSE_JSON));
    X1(S("\"\xff\""), "{\"v\":null}", "parse_json invalid UTF-8 inside", O(PARSE_JSON));
    X1(S("\"\\ud800\""), "{\"v\":null}", "parse_json lone surrogate", O(PARSE_JSON));
    X1(S("\"\\ud83d\\ude00\""), "{\"v\":\"\\ud83d\\ude00\"}", "parse_json surrogate pair",
       O(PARSE_JSON));
    X1(S("h\xc3\xa9llo"), "{\"v\":\"h\xc3\xa9l\"}", "truncate counts characters", OP(TRUNCATE, .n = 3));
    X1(S("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"), "{\"v\":\"\xe6\x97\xa5\xe6\x9c\xac\"}",
       "truncate never cuts a sequence", OP(TRUNCATE, .n = 2));
    X1(S("abc"), "{\"v\":\"abc\"}", "truncate shorter", OP(TRUNCATE, .n = 5));
    X1(S("a\xff" "bc"), "{\"v\":\"a\xef\xbf\xbd\"}", "truncate: invalid byte counts as one",
       OP(TRUNCATE, .n = 2));
    X1(S("abc"), "{\"v\":\"\"}", "truncate 0", OP(TRUNCATE, .n = 0));
    /* U+10FFFF (F4 8F BF BF) is the last code point; F5 never leads a sequence */
    X1(S("\xf4\x8f\xbf\xbf" "ab"), "{\"v\":\"\xf4\x8f\xbf\xbf" "a\"}",
       "truncate: U+10FFFF is one character", OP(TRUNCATE, .n = 2));
    X1(S("\xf5\x80\x80\x80" "ab"), "{\"v\":\"\xef\xbf\xbd\xef\xbf\xbd\"}",
       "truncate: lead byte F5 is invalid (one replaced byte)", OP(TRUNCATE, .n = 2));
    {
        /* a byte that does not continue a sequence (classes 00, 40 and C0)
         * at each continuation position: the lead byte is one invalid
         * character, so truncating to 1 keeps one replacement character */
        static const unsigned char seqs[][4] = {{0xe6, 0x97, 0xa5, 0}, {0xf0, 0x90, 0x80, 0x80}};
        static const unsigned char bad[] = {0x31, 0x41, 0xc1};
        const plan_op tr[] = {OP(TRUNCATE, .n = 1)};
        int ok = 1;
        for (int q = 0; q < 2; q++) {
            int len = q ? 4 : 3;
            for (int pos = 1; pos < len; pos++)
                for (int k = 0; k < 3; k++) {
                    char text[8];
                    memcpy(text, seqs[q], (size_t)len);
                    text[pos] = (char)bad[k];
                    const char *got = xform1((src_value){SRC_STRING, text, (size_t)len}, tr, 1);
                    if (strcmp(got, "{\"v\":\"\xef\xbf\xbd\"}") != 0) {
                        fprintf(stderr, "# %d-byte sequence, byte %d = %02x: %s\n", len, pos, bad[k], got);
                        ok = 0;
                    }
                }
        }
        T_CHECK(ok, "truncate: a 3- or 4-byte sequence with a non-continuation byte at any position is invalid");
    }
    X1(S("  Hello World  "), "{\"v\":\"HELLO\"}", "chain trim upper truncate", O(TRIM), O(UPPER),
       OP(TRUNCATE, .n = 5));
    X1(S("AbC"), "{\"v\":\"abc-abc\"}", "lower then replace (ping-pong buffers)", O(LOWER),
       OP(REGEX_REPLACE, .re = rx("^(.*)$", 0), .s = "$1-$1"));
    X1(NUL, "{\"v\":null}", "transforms pass null", O(TRIM), O(LOWER), O(TO_NUMBER),
       OP(TRUNCATE, .n = 1));
    /* case maps, range by range: Latin Extended-A pairs (even upper / odd
     * lower, and the odd-upper run 0139..0148, 0179..017E), U+0178, Greek
     * final sigma, Cyrillic 0400..040F <-> 0450..045F; x and / signs kept */
    X1(S("\xc4\x80\xc4\x82\xc4\xb2\xc5\x8a\xc5\xb6\xc4\x81 \xc4\xb9\xc4\xba\xc5\xb9 \xc5\xb8 \xce\xa9 \xd0\x80\xd0\x8f\xd0\xaf \xc3\x97"),
       "{\"v\":\"\xc4\x81\xc4\x83\xc4\xb3\xc5\x8b\xc5\xb7\xc4\x81 \xc4\xba\xc4\xba\xc5\xba \xc3\xbf \xcf\x89 \xd1\x90\xd1\x9f\xd1\x8f \xc3\x97\"}",
       "lower: Latin Extended-A, Y-diaeresis, Omega, Cyrillic 0400/040F/042F, multiplication sign kept",
       O(LOWER));
    X1(S("\xc4\x81\xc4\xb3\xc5\xb7\xc4\x80 \xc4\xba\xc4\xb9\xc5\xba\xc5\xbe \xcf\x82\xce\xb1\xcf\x89 \xd1\x8f\xd0\xb0\xd1\x90\xd1\x9f \xc3\xb7\xc2\xb5"),
       "{\"v\":\"\xc4\x80\xc4\xb2\xc5\xb6\xc4\x80 \xc4\xb9\xc4\xb9\xc5\xb9\xc5\xbd \xce\xa3\xce\x91\xce\xa9 \xd0\xaf\xd0\x90\xd0\x80\xd0\x8f \xc3\xb7\xc2\xb5\"}",
       "upper: Latin Extended-A, final sigma, Greek, Cyrillic 0430/044F/0450/045F, division and micro kept",
       O(UPPER));
    X1(S("A\xc3" "B\x80\xe2\x82\xac\xc3"), "{\"v\":\"a\xef\xbf\xbd" "b\xef\xbf\xbd\xe2\x82\xac\xef\xbf\xbd\"}",
       "lower: a lead byte without its continuation, a stray continuation, a 3-byte sequence kept",
       O(LOWER));
    X1(BT, "{\"v\":true}", "lower leaves booleans", O(LOWER));
    X1(J("{\"A\":1}"), "{\"v\":{\"A\":1}}", "regex_replace leaves JSON",
       OP(REGEX_REPLACE, .re = rx("A", 0), .s = "b"));
    X1(((src_value){SRC_BINARY, "\x00\x01\xff", 3}), "{\"v\":\"AAH/\"}", "to_string: binary as base64",
       O(TO_STRING));
    X1(BF, "{\"v\":0}", "to_number false", O(TO_NUMBER));
    X1(N("0e5"), "{\"v\":false}", "to_bool: 0e5 is zero (the exponent's digits do not count)", O(TO_BOOL));
    X1(N("-0.001"), "{\"v\":true}", "to_bool: -0.001 is not zero", O(TO_BOOL));
    X1(S("  "), "{\"v\":null}", "to_bool: blank text is null", O(TO_BOOL));
    X1(S("Y"), "{\"v\":true}", "to_bool y", O(TO_BOOL));
    X1(S("on"), "{\"v\":true}", "to_bool on", O(TO_BOOL));
    X1(S("1"), "{\"v\":true}", "to_bool 1", O(TO_BOOL));
    X1(S("TRUE"), "{\"v\":true}", "to_bool true", O(TO_BOOL));
    X1(S("f"), "{\"v\":false}", "to_bool f", O(TO_BOOL));
    X1(S("No"), "{\"v\":false}", "to_bool no", O(TO_BOOL));
    X1(S("n"), "{\"v\":false}", "to_bool n", O(TO_BOOL));
    X1(S("false"), "{\"v\":false}", "to_bool false", O(TO_BOOL));
    X1(S("ye"), "{\"v\":null}", "to_bool: a prefix of yes is not a boolean", O(TO_BOOL));
    X1(BT, "{\"v\":true}", "to_bool keeps a boolean", O(TO_BOOL));
    X1(S(" \t "), "{\"v\":null}", "parse_json: blank text is null", O(PARSE_JSON));
    X1(((src_value){SRC_BINARY, "[1]", 3}), "{\"v\":[1]}", "parse_json: binary holding JSON", O(PARSE_JSON));
    X1(N("12"), "{\"v\":12}", "parse_json leaves numbers", O(PARSE_JSON));
    X1(N("12345"), "{\"v\":12345}", "truncate leaves numbers", OP(TRUNCATE, .n = 2));
    X1(S("abcdefgh\x01ijklmno\x1fpqrstuvw"), "{\"v\":\"abcdefgh\\u0001ijklmno\\u001fpqrstuvw\"}",
       "escape: control bytes inside 8-byte words (the fast path finds them)", O(TRIM));
    /* arrays: JSON arrays from the database explode into elements */
    X1(N("42"), "{\"v\":\"42\"}", "join of a number: its text", OP(JOIN, .s = ","));
    X1(BT, "{\"v\":\"true\"}", "join of a boolean: its text", OP(JOIN, .s = ","));
    X1(NUL, "{\"v\":null}", "join of null: null", OP(JOIN, .s = ","));
    X1(J("[1, \"a\", null, true]"), "{\"v\":\"1-a-true\"}", "join of a JSON array skips nulls",
       OP(JOIN, .s = "-"));
    X1(J("[]"), "{\"v\":\"\"}", "join of an empty JSON array: empty text", OP(JOIN, .s = "-"));
    X1(J(" [ \"x\" , 2 ] "), "{\"v\":[\"x\",2]}", "split of a JSON array: its elements", OP(SPLIT, .s = ","));
    X1(J("[{\"a\":1},[2],\"b\"]"), "{\"v\":[{\"a\":1},[2],\"B\"]}",
       "element-wise upper leaves objects and arrays", O(UPPER));
    X1(J("[\"a\",null]"), "{\"v\":[\"A\",null]}", "element-wise upper keeps nulls", O(UPPER));
    X1(J("[1,\"x\"]"), "{\"v\":\"[1,\\\"x\\\"]\"}", "an exploded array to_string: its JSON text",
       OP(SPLIT, .s = ","), O(TO_STRING));
    X1(N("1.5"), "{\"v\":[\"1\",\"5\"]}", "split of a number's text", OP(SPLIT, .s = "."));
    X1(S("abc"), "{\"v\":[\"abc\"]}", "split with an empty separator: one element", OP(SPLIT, .s = ""));
    X1(S("a,b"), "{\"v\":[\"a\",\"b\"]}", "split of an array splits no further", OP(SPLIT, .s = ","),
       OP(SPLIT, .s = "b"));
}

static void test_templates_objects(void)
{
    plan_op ops[] = {
        OP(LOAD_TPL, .tpl = tpl("{{ first }} {{ last }}")), OP(EMIT, .s = "name"),
        OP(OBJ_BEGIN, .s = "address"),
        OP(LOAD_COL, .s = "city"), OP(EMIT, .s = "city"),
        OP(OBJ_BEGIN, .s = "geo"), OP(LOAD_CONST, .s = "1.5"), OP(EMIT, .s = "lat"), O(OBJ_END),
        OP(LOAD_COL, .s = "zip"), OP(EMIT, .s = "zip"),
        O(OBJ_END),
        OP(OBJ_BEGIN, .s = "empty"), O(OBJ_END),
        OP(LOAD_CONST, .s = "\"k\\u00e9y\\n\""), OP(EMIT, .s = "c\"q"),
        OP(LOAD_TPL, .tpl = tpl("{{ $connector }}/{{ $table }}/{{ $id }}/{{ blob }}/{{ n }}")),
        OP(EMIT, .s = "t"),
    };
    plan_connector c = conn_base();
    plan_table pt = ptable(ops, (int)(sizeof ops / sizeof ops[0]));
    pt.index = tpl("idx-{{ $table }}");
    pt.id = tpl("{{ $table }}-{{ id }}");
    const src_table *st = table("people", NULL, "id:long:1,first:text,last:text,city:keyword,zip:keyword,blob:binary,n:double");
    src_value rows[] = {N("7"), S("Ann"), NUL, S("Paris"), S("75001"), {SRC_BINARY, "hi", 2}, N("2.50")};
    T_STREQ(run_rows(&c, &pt, st, rows, 1),
            "{\"index\":{\"_index\":\"idx-people\",\"_id\":\"people-7\"}}\n"
            "{\"name\":\"Ann \",\"address\":{\"city\":\"Paris\",\"geo\":{\"lat\":1.5},\"zip\":\"75001\"},"
            "\"empty\":{},\"c\\\"q\":\"k\xc3\xa9y\\n\",\"t\":\"shop/people/people-7/aGk=/2.50\"}\n",
            "templates (NULL -> empty), nested objects, constants, variables");
}

static void test_omit_nulls(void)
{
    plan_op ops[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_EXCLUDE), OP(LOAD_COL, .s = "b"), OP(EMIT, .s = "x"),
                     OP(OBJ_BEGIN, .s = "o"), OP(LOAD_COL, .s = "b"), OP(EMIT, .s = "y"), O(OBJ_END),
                     OP(LOAD_COL, .s = "a"), OP(EMIT, .s = "z")};
    plan_connector c = conn_base();
    plan_table pt = ptable(ops, (int)(sizeof ops / sizeof ops[0]));
    pt.omit_nulls = 1;
    const src_table *st = table("t", NULL, "id:long:1,a:text,b:text");
    src_value rows[] = {N("1"), S("A"), NUL};
    T_STREQ(run_rows(&c, &pt, st, rows, 1),
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"1\"}}\n"
            "{\"id\":1,\"a\":\"A\",\"o\":{},\"z\":\"A\"}\n",
            "omit_nulls in copies, emits and objects");
}

static void test_utf8_nul_id(void)
{
    plan_op ops[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_EXCLUDE)};
    plan_connector c = conn_base();
    c.pipeline = "search-default-ingestion";
    plan_table pt = ptable(ops, 1);
    const src_table *st = table("t", NULL, "id:keyword:1,s:text");
    src_value rows[] = {S("k\xff"), {SRC_STRING, "a\0b\xc3\x28\xe2\x82", 7}};
    T_STREQ(run_rows(&c, &pt, st, rows, 1),
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"k\xef\xbf\xbd\",\"pipeline\":\"search-default-ingestion\"}}\n"
            "{\"id\":\"k\xef\xbf\xbd\",\"s\":\"a\\u0000b\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\"}\n",
            "invalid UTF-8 replaced, NUL escaped, pipeline in the action line");
    T_CHECK(last_stats.utf8_replaced == 5 && last_stats.warnings == 5, "replacements counted (id twice)");

    /* long id -> md5 hex of the id text */
    char big[700];
    memset(big, 'x', sizeof big);
    src_value rows2[] = {{SRC_STRING, big, sizeof big}, S("v")};
    c.pipeline = NULL;
    plan_op ops2[] = {OP(LOAD_VAR, .s = "id"), OP(EMIT, .s = "id")};
    pt = ptable(ops2, 2);
    pt.id = tpl("p-{{ id }}");
    char *idtext = arena_alloc(A, 720);
    memcpy(idtext, "p-", 2);
    memcpy(idtext + 2, big, sizeof big);
    char hex[33];
    eng_md5_hex(idtext, 2 + sizeof big, hex);
    T_STREQ(run_rows(&c, &pt, st, rows2, 1),
            arena_printf(A, "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"%s\"}}\n{\"id\":\"%s\"}\n", hex, hex),
            "id longer than 512 bytes becomes its MD5 hex");
    big[0] = 'y';
    src_value rows3[] = {{SRC_STRING, big, 510}, S("v")};
    const char *o = run_rows(&c, &pt, st, rows3, 1);
    T_CHECK(strlen(o) > 1000 && last_res.idlen == 512, "id of exactly 512 bytes kept");
    /* issue 9.7: "p-" and 507 bytes with two invalid ones: 509 bytes, 513
     * once each invalid byte becomes U+FFFD (3 bytes): too long for the node,
     * so the MD5; with 506 bytes it is 512 as sent, kept */
    char bad[508];
    memset(bad, 'z', sizeof bad);
    bad[10] = (char)0xff;
    bad[20] = (char)0xfe;
    src_value rows4[] = {{SRC_STRING, bad, 507}, S("v")};
    o = run_rows(&c, &pt, st, rows4, 1);
    T_CHECK(last_res.idlen == 32, "id over 512 bytes after U+FFFD replacement becomes its MD5 hex");
    src_value rows5[] = {{SRC_STRING, bad, 506}, S("v")};
    o = run_rows(&c, &pt, st, rows5, 1);
    T_CHECK(last_res.idlen == 508 && strlen(o) > 1000,
            "id of 512 bytes after U+FFFD replacement kept");
}

static void test_delete(void)
{
    plan_op ops[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_EXCLUDE)};
    plan_connector c = conn_base();
    c.pipeline = "p1";
    plan_table pt = ptable(ops, 1);
    pt.deleted_when = "deleted_at IS NOT NULL";
    const src_table *st = table("t", NULL, "id:long:1,deleted_at:date");
    /* third value: the scan's deleted flag column */
    src_value rows[] = {N("1"), NUL, N("0"), N("2"), S("2024-01-01"), N("1"), N("3"), NUL, BF};
    T_STREQ(run_rows(&c, &pt, st, rows, 3),
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"1\",\"pipeline\":\"p1\"}}\n"
            "{\"id\":1,\"deleted_at\":null}\n"
            "{\"delete\":{\"_index\":\"search-shop\",\"_id\":\"2\"}}\n"
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"3\",\"pipeline\":\"p1\"}}\n"
            "{\"id\":3,\"deleted_at\":null}\n",
            "deleted flag column turns rows into delete actions");
    T_CHECK(last_stats.deletes == 1 && last_stats.docs == 2, "delete counted");

    diag *d = diag_new();
    eng_bound_table *bt = NULL;
    pt.deleted_when = NULL;
    T_CHECK(eng_bind_table(A, &c, &pt, st, NULL, &bt, d) == 0, "bind");
    eng_interp *it = eng_interp_new(bt, d);
    buf out = BUF_INIT;
    eng_doc_result res;
    eng_write_delete(it, rows, &out, &res);
    T_STREQ(out.data, "{\"delete\":{\"_index\":\"search-shop\",\"_id\":\"1\"}}\n", "eng_write_delete");
    T_CHECK(res.deleted == 1 && res.idlen == 1, "delete result");
    buf_free(&out);
    eng_interp_free(it);
    diag_free(d);
}

static plan_rule rule(const char *field, plan_rule_kind k, const char *value, int include)
{
    plan_rule r = {0};
    r.field = field;
    r.rule = k;
    r.value = value;
    r.include = include;
    if (k == PLAN_RULE_REGEX) r.re = rx(value, ENG_RE_ANCHORED);
    return r;
}

/* ids of kept rows for a rule list over rows (id, country, total, name) */
static const char *kept(const plan_rule *rules, int n)
{
    const src_value rows[] = {
        N("1"), S("FR"), N("100"), S("alice"),
        N("2"), S("DE"), N("20.5"), S("bob"),
        N("3"), NUL, N("9"), S("carol"),
        N("4"), S("FRA"), N("1e3"), S("xalice"),
    };
    plan_op ops[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_EXCLUDE), OP(OBJ_BEGIN, .s = "o"),
                     OP(LOAD_COL, .s = "name"), O(UPPER), OP(EMIT, .s = "up"), O(OBJ_END)};
    plan_connector c = conn_base();
    plan_table pt = ptable(ops, 6);
    pt.rules = rules;
    pt.nrules = n;
    const src_table *st = table("t", NULL, "id:long:1,country:keyword,total:double,name:text");
    const char *out = run_rows(&c, &pt, st, rows, 4);
    if (!strncmp(out, "ERR:", 4)) return out;
    buf b = BUF_INIT;
    for (const char *p = out; (p = strstr(p, "\"_id\":\"")); p += 7) {
        if (b.len) buf_putc(&b, ',');
        buf_putc(&b, p[7]);
    }
    const char *r = arena_strndup(A, b.data ? b.data : "", b.len);
    buf_free(&b);
    return r;
}

static void test_rules(void)
{
    plan_rule r[4];
    r[0] = rule("country", PLAN_RULE_EQUALS, "FR", 0);
    T_STREQ(kept(r, 1), "2,3,4", "equals exclude");
    T_CHECK(last_stats.filtered == 1, "filtered counted");
    r[0] = rule("country", PLAN_RULE_EQUALS, "FR", 1);
    T_STREQ(kept(r, 1), "1,2,3,4", "include with no exclusion keeps all (no match -> keep)");
    r[0] = rule("country", PLAN_RULE_CONTAINS, "R", 0);
    T_STREQ(kept(r, 1), "2,3", "contains");
    r[0] = rule("name", PLAN_RULE_STARTS_WITH, "al", 0);
    T_STREQ(kept(r, 1), "2,3,4", "starts_with");
    r[0] = rule("name", PLAN_RULE_ENDS_WITH, "ice", 0);
    T_STREQ(kept(r, 1), "2,3", "ends_with");
    r[0] = rule("name", PLAN_RULE_REGEX, "al.*", 0);
    T_STREQ(kept(r, 1), "2,3,4", "regex anchored at the start");
    r[0] = rule("total", PLAN_RULE_GT, "50", 0);
    T_STREQ(kept(r, 1), "2,3", "> numeric (1e3 > 50, 9 < 50)");
    r[0] = rule("total", PLAN_RULE_LT, "20.5", 0);
    T_STREQ(kept(r, 1), "1,2,4", "< numeric");
    r[0] = rule("total", PLAN_RULE_EQUALS, "100.0", 0);
    T_STREQ(kept(r, 1), "2,3,4", "equals numeric");
    r[0] = rule("name", PLAN_RULE_GT, "bz", 0);
    T_STREQ(kept(r, 1), "1,2", "> string comparison when not numbers");
    /* a value equal to the threshold is neither greater nor less */
    r[0] = rule("total", PLAN_RULE_GT, "100", 0);
    T_STREQ(kept(r, 1), "1,2,3", "> numeric: 100 is not greater than 100");
    r[0] = rule("total", PLAN_RULE_GT, "1e2", 0);
    T_STREQ(kept(r, 1), "1,2,3", "> numeric: 100 is not greater than 1e2");
    r[0] = rule("name", PLAN_RULE_GT, "bob", 0);
    T_STREQ(kept(r, 1), "1,2", "> string: bob is not greater than bob");
    r[0] = rule("name", PLAN_RULE_LT, "bob", 0);
    T_STREQ(kept(r, 1), "2,3,4", "< string: bob is not less than bob");
    r[0] = rule("country", PLAN_RULE_REGEX, ".*", 0);
    T_STREQ(kept(r, 1), "3", "null field never matches");
    r[0] = rule("missing", PLAN_RULE_REGEX, ".*", 0);
    T_STREQ(kept(r, 1), "1,2,3,4", "absent field never matches");
    r[0] = rule("o.up", PLAN_RULE_EQUALS, "BOB", 0);
    T_STREQ(kept(r, 1), "1,3,4", "nested field, value after transforms");
    /* first match decides: include FRA before exclude contains FR */
    r[0] = rule("country", PLAN_RULE_EQUALS, "FRA", 1);
    r[1] = rule("country", PLAN_RULE_STARTS_WITH, "FR", 0);
    T_STREQ(kept(r, 2), "2,3,4", "include before exclude: first match decides");
    r[0] = rule("country", PLAN_RULE_STARTS_WITH, "FR", 0);
    r[1] = rule("country", PLAN_RULE_EQUALS, "FRA", 1);
    T_STREQ(kept(r, 2), "2,3", "exclude before include");
    r[0] = rule("total", PLAN_RULE_GT, "10", 1);
    r[1] = rule("name", PLAN_RULE_REGEX, ".", 0);
    T_STREQ(kept(r, 2), "1,2,4", "include wins, then a catch-all exclude");
    src_value v = S("2024");
    plan_rule one = rule("x", PLAN_RULE_REGEX, "02", 0);
    T_CHECK(!eng_rule_match(&one, &v), "regex does not match in the middle");
    v = BT;
    one = rule("x", PLAN_RULE_EQUALS, "True", 0);
    T_CHECK(eng_rule_match(&one, &v), "equals bool case-insensitive");
    v = BF;
    T_CHECK(!eng_rule_match(&one, &v), "equals bool: false is not True");
    /* numbers compare by value, also past 64 characters and with blanks around */
    char big[80];
    memset(big, '0', sizeof big);
    big[0] = '1';
    big[71] = 0; /* 1e70 written out */
    v = (src_value){SRC_NUMBER, big, 71};
    one = rule("x", PLAN_RULE_EQUALS, "1e70", 0);
    T_CHECK(eng_rule_match(&one, &v), "equals: a 71-digit number equals 1e70");
    one = rule("x", PLAN_RULE_GT, "1e69", 0);
    T_CHECK(eng_rule_match(&one, &v), "> : a 71-digit number is greater than 1e69");
    v = S(" 5\t");
    one = rule("x", PLAN_RULE_EQUALS, "\t5.0 ", 0);
    T_CHECK(eng_rule_match(&one, &v), "equals: blanks around numbers are ignored");
    one = rule("x", PLAN_RULE_EQUALS, " 5", 0);
    v = S("5 x");
    T_CHECK(!eng_rule_match(&one, &v), "equals: '5 x' is no number and not ' 5'");
    v = S("abc");
    one = rule("x", PLAN_RULE_CONTAINS, "", 0);
    T_CHECK(eng_rule_match(&one, &v), "contains: the empty string is in every value");
    one = rule("x", PLAN_RULE_CONTAINS, "abcd", 0);
    T_CHECK(!eng_rule_match(&one, &v), "contains: a longer value is not contained");
    one = rule("x", PLAN_RULE_CONTAINS, "bd", 0);
    T_CHECK(!eng_rule_match(&one, &v), "contains: the first byte alone is not enough");
    one = rule("x", PLAN_RULE_ENDS_WITH, "xabc", 0);
    T_CHECK(!eng_rule_match(&one, &v), "ends_with: a longer value does not end it");
    one = rule("x", PLAN_RULE_STARTS_WITH, "abcd", 0);
    T_CHECK(!eng_rule_match(&one, &v), "starts_with: a longer value does not start it");
    v = S("");
    one = rule("x", PLAN_RULE_LT, "a", 0);
    T_CHECK(eng_rule_match(&one, &v), "< : the empty string is less than 'a'");
    one = rule("x", PLAN_RULE_GT, "", 0);
    v = S("a");
    T_CHECK(eng_rule_match(&one, &v), "> : 'a' is greater than the empty string");
    v = S("ab");
    one = rule("x", PLAN_RULE_LT, "abc", 0);
    T_CHECK(eng_rule_match(&one, &v), "< : a prefix is less");
    one.value = NULL;
    one.rule = PLAN_RULE_EQUALS;
    v = S("");
    T_CHECK(eng_rule_match(&one, &v), "a rule without a value compares with the empty string");
    one.rule = PLAN_RULE_REGEX;
    one.re = NULL;
    T_CHECK(!eng_rule_match(&one, &v), "a regex rule without its regex never matches");
    one.rule = (plan_rule_kind)99;
    T_CHECK(!eng_rule_match(&one, &v), "an unknown rule kind never matches");
    v = NUL;
    one = rule("x", PLAN_RULE_LT, "zzz", 0);
    T_CHECK(!eng_rule_match(&one, &v) && !eng_rule_match(&one, NULL), "null and absent values never match");
    /* eng_rules_decide without asking for the deciding rule */
    plan_rule two[2] = {rule("a", PLAN_RULE_EQUALS, "1", 0), rule("b", PLAN_RULE_EQUALS, "2", 1)};
    src_value va = N("1"), vb = N("2");
    const src_value *vals[2] = {&vb, &vb};
    T_CHECK(eng_rules_decide(two, 2, vals, NULL) == 1, "decide: the include rule decides (no decider asked)");
    vals[0] = &va;
    T_CHECK(eng_rules_decide(two, 2, vals, NULL) == 0, "decide: the exclude rule decides first");
    vals[0] = vals[1] = NULL;
    const plan_rule *dec = &two[0];
    T_CHECK(eng_rules_decide(two, 2, vals, &dec) == 1 && dec == NULL, "decide: no field, no decider, kept");
}

/* A regex that hits PCRE2's match limit is an error of the row, never "no
 * match": the row is neither kept nor dropped, whichever the policy. */
static void test_regex_limits(void)
{
    /* nested quantifiers on a value that almost matches: exponential */
    static char evil[64];
    memset(evil, 'a', 40);
    memcpy(evil + 40, "!", 2);
    const src_value rows[] = {N("1"), S("ok"), N("2"), {SRC_STRING, evil, 41}, N("3"), S("aaaa")};
    plan_op ops[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_EXCLUDE)};
    plan_connector c = conn_base();
    const src_table *st = table("t", NULL, "id:long:1,name:text");
    for (int include = 0; include < 2; include++) {
        plan_rule r[1] = {rule("name", PLAN_RULE_REGEX, "(a|aa)+$", include)};
        r[0].id = "r1";
        plan_table pt = ptable(ops, 1);
        pt.rules = r;
        pt.nrules = 1;
        diag *d = diag_new();
        eng_bound_table *bt = NULL;
        eng_bind_opts o = {0};
        T_CHECK(eng_bind_table(A, &c, &pt, st, &o, &bt, d) == 0, "bind regex rule table");
        eng_interp *it = eng_interp_new(bt, d);
        buf out = BUF_INIT;
        eng_doc_result res[3];
        int rc = 0, id2 = 0;
        for (int i = 0; i < 3; i++) {
            rc |= eng_write_doc(it, rows + i * 2, &out, &res[i]);
            if (i == 1) id2 = res[1].id && !strcmp(res[1].id, "2");
        }
        const eng_interp_stats *s2 = eng_interp_stats_get(it);
        T_CHECK(rc == 0, "a row that cannot be judged does not stop the table");
        T_CHECK(res[1].unjudged && !res[1].filtered && id2,
                include ? "include rule: match limit -> unjudged, not dropped"
                        : "exclude rule: match limit -> unjudged, not kept");
        T_CHECK(!res[0].unjudged && !res[2].unjudged, "other rows judged");
        T_CHECK(s2->errors == 1 && s2->unjudged == 1, "counted as a row error");
        T_CHECK(strstr(out.data ? out.data : "", "\"_id\":\"2\"") == NULL, "nothing written for it");
        T_CHECK(strstr(out.data ? out.data : "", include ? "\"_id\":\"3\"" : "\"_id\":\"1\"") != NULL,
                "rows that match or not are judged as before");
        const char *msg = diag_last(d);
        T_CHECK(msg && strstr(msg, "table 't' > row '2'") && strstr(msg, "rule 'r1'") &&
                    strstr(msg, "match limit"),
                "itemised: table, key, rule, reason");
        buf_free(&out);
        eng_interp_free(it);
        diag_free(d);
    }
    /* transforms: an error of the row, not a pass-through */
    plan_op xs[] = {OP(REGEX_EXTRACT, .re = rx("(a|aa)+$", 0), .pattern = "(a|aa)+$", .n = 0)};
    T_CHECK(strncmp(xform1((src_value){SRC_STRING, evil, 41}, xs, 1), "ERR:", 4) != 0 &&
                last_res.unjudged && last_stats.errors == 1,
            "regex_extract hitting the match limit: row unjudged");
    plan_op xr[] = {OP(REGEX_REPLACE, .re = rx("(a|aa)+$", 0), .pattern = "(a|aa)+$", .s = "x")};
    const char *got = xform1((src_value){SRC_STRING, evil, 41}, xr, 1);
    T_CHECK(last_res.unjudged && last_stats.errors == 1 && strstr(got, "aaa!") == NULL,
            "regex_replace hitting the match limit: row unjudged, value not passed through");
    X1(S("aaab"), "{\"v\":\"aaab\"}", "regex_replace still works (no match)", OP(REGEX_REPLACE, .re = rx("(a|aa)+$", 0), .s = "x"));
}

/* One pattern of the plan matched by the tables of a connector read at the
 * same time (max_concurrent_tables): each thread extracts its own values. */
typedef struct rx_job {
    eng_regex *re;
    int k, wrong;
} rx_job;

static void *rx_worker(void *arg)
{
    rx_job *j = arg;
    buf out = BUF_INIT;
    char in[64], want[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(in, sizeof in, "t%d-%06u", j->k, ((unsigned)i * 7919u + (unsigned)j->k * 104729u) % 1000000u);
        snprintf(want, sizeof want, "%06u", ((unsigned)i * 7919u + (unsigned)j->k * 104729u) % 1000000u);
        buf_reset(&out);
        if (eng_regex_extract(j->re, in, strlen(in), 2, &out) != 1 || strcmp(out.data, want) != 0)
            j->wrong++;
        buf_reset(&out);
        if (eng_regex_replace(j->re, in, strlen(in), "$2:$1", &out) != 0 ||
            strncmp(out.data, want, strlen(want)) != 0)
            j->wrong++;
    }
    buf_free(&out);
    return NULL;
}

static void test_regex_threads(void)
{
    eng_regex *re = rx("([a-z]+\\d)-(\\d+)", 0);
    rx_job jobs[4];
    pthread_t th[4];
    int wrong = 0;
    for (int k = 0; k < 4; k++) {
        jobs[k] = (rx_job){re, k, 0};
        pthread_create(&th[k], NULL, rx_worker, &jobs[k]);
    }
    for (int k = 0; k < 4; k++) {
        pthread_join(th[k], NULL);
        wrong += jobs[k].wrong;
    }
    T_CHECK(re && wrong == 0, "regex: one pattern matched by 4 threads at once, each gets its own groups");
}

/* A relation "orders" on one column pair, its program child_ops[0..nops). */
static plan_relation orders_rel(const char *const *child_col, const char *const *parent_col,
                                const plan_op *child_ops, int nops)
{
    plan_relation rel = {0};
    rel.key = "orders";
    rel.table = "orders";
    rel.child_cols = child_col;
    rel.parent_cols = parent_col;
    rel.non = 1;
    rel.doc = (plan_doc){child_ops, nops, NULL, 0};
    return rel;
}

static int describe_invalid(void *ctx, const plan_relation *rel, const src_table **out, diag *d)
{
    (void)ctx;
    (void)out;
    diag_error(d, rel->loc, "the schema of %s is not valid here", rel->table);
    return DIAG_EINVAL;
}

/* A relation read by merge: a child row of the merge query compares with a
 * registered parent by the `on` key (less, equal, greater). */
static void test_merge_cmp(void)
{
    plan_op child_ops[] = {OP(LOAD_COL, .s = "order_id"), OP(EMIT, .s = "id")};
    static const char *const on_c[] = {"customer_id"}, *const on_p[] = {"id"};
    plan_relation rel = orders_rel(on_c, on_p, child_ops, 2);
    rel.merge = 1;
    plan_op ops[] = {OP(LOAD_COL, .s = "name"), OP(EMIT, .s = "name"), OP(RELATION, .n = 0, .s = "orders")};
    plan_connector c = conn_base();
    plan_table pt = ptable(ops, 3);
    pt.doc.relations = &rel;
    pt.doc.nrelations = 1;
    const src_table *st = table("customers", "public", "id:long:1,name:text");
    child_tables[0] = table("orders", "public", "order_id:long:1,customer_id:long");
    child_tables[1] = NULL;
    diag *d = diag_new();
    eng_bound_table *bt = NULL;
    eng_bind_opts o = {.describe = describe_child};
    int rc = eng_bind_table(A, &c, &pt, st, &o, &bt, d);
    const eng_bound_relation *br = rc ? NULL : &bt->doc.rels[0];
    int ok = br && br->merge_pos && br->nsel >= 1;
    if (ok) {
        eng_child_set *cs = eng_child_set_new(br);
        src_value p1[] = {N("10"), S("a")}, p2[] = {N("20"), S("b")};
        eng_child_set_add_parent(cs, p1);
        eng_child_set_add_parent(cs, p2);
        src_value row[8];
        for (int i = 0; i < 8; i++) row[i] = NUL;
        int at = br->merge_pos[0];
        row[at] = N("10");
        int eq = eng_child_set_cmp(cs, row, 0), last = eng_child_set_cmp(cs, row, -1);
        row[at] = N("9");
        int lt = eng_child_set_cmp(cs, row, 0);
        row[at] = N("11");
        int gt = eng_child_set_cmp(cs, row, 0);
        ok = eq == 0 && last < 0 && lt < 0 && gt > 0;
        if (!ok) printf("# cmp: eq %d last %d lt %d gt %d\n", eq, last, lt, gt);
        eng_child_set_free(cs);
    } else {
        printf("# %s\n", rc ? diag_last(d) : "no merge");
    }
    T_CHECK(ok, "merge: a child key 10 equals parent 10, is below parent 20; 9 below, 11 above parent 10");
    /* a child table that cannot be described: binding fails with the
     * describer's own code (an invalid setting stays a usage error) */
    eng_bind_opts oi = {.describe = describe_invalid};
    T_CHECK(eng_bind_table(A, &c, &pt, st, &oi, &bt, d) == DIAG_EINVAL &&
                strstr(diag_last(d), "the schema of orders is not valid here"),
            "a relation whose table the describer refuses as invalid: DIAG_EINVAL, its message");
    child_tables[0] = NULL;
    diag_free(d);
}

static void test_relations(void)
{
    plan_op child_ops[] = {OP(LOAD_COL, .s = "order_id"), OP(EMIT, .s = "id"),
                           OP(LOAD_COL, .s = "total"), OP(EMIT, .s = "total")};
    plan_op country_ops[] = {OP(LOAD_COL, .s = "name"), OP(EMIT, .s = "name")};
    static const char *const on_c[] = {"customer_id"}, *const on_p[] = {"id"};
    static const char *const on_cc[] = {"code"}, *const on_pc[] = {"country"};
    static const char *const ob[] = {"at DESC"};
    plan_relation rels[2] = {0};
    rels[0].key = "orders";
    rels[0].table = "orders";
    rels[0].child_cols = on_c;
    rels[0].parent_cols = on_p;
    rels[0].non = 1;
    rels[0].order_by = ob;
    rels[0].norder_by = 1;
    rels[0].where_sql = "total > 0";
    rels[0].doc = (plan_doc){child_ops, 4, NULL, 0};
    rels[1].key = "country";
    rels[1].table = "countries";
    rels[1].child_cols = on_cc;
    rels[1].parent_cols = on_pc;
    rels[1].non = 1;
    rels[1].one = 1;
    rels[1].doc = (plan_doc){country_ops, 1 + 1, NULL, 0};
    plan_op ops[] = {OP(LOAD_COL, .s = "name"), OP(EMIT, .s = "name"), OP(RELATION, .n = 0, .s = "orders"),
                     OP(RELATION, .n = 1, .s = "country")};
    plan_connector c = conn_base();
    plan_table pt = ptable(ops, 4);
    pt.doc.relations = rels;
    pt.doc.nrelations = 2;
    const src_table *st = table("customers", "public", "id:long:1,name:text,country:keyword");
    child_tables[0] = table("orders", "public", "order_id:long:1,customer_id:long,total:double,at:date");
    child_tables[1] = table("countries", "public", "code:keyword:1,name:text");

    diag *d = diag_new();
    eng_bound_table *bt = NULL;
    eng_bind_opts o = {.describe = describe_child};
    int rc = eng_bind_table(A, &c, &pt, st, &o, &bt, d);
    T_CHECK(rc == 0 && bt->nrel_slots == 2, "bind with relations");
    if (rc) {
        printf("# %s\n", diag_last(d));
        diag_free(d);
        return;
    }
    src_value parents[] = {N("1"), S("Ann"), S("FR"), N("2"), S("Bob"), S("XX"), N("1"), S("Ann2"), NUL};
    eng_child_set *orders = eng_child_set_new(&bt->doc.rels[0]);
    eng_child_set *countries = eng_child_set_new(&bt->doc.rels[1]);
    for (int i = 0; i < 3; i++) {
        eng_child_set_add_parent(orders, parents + i * 3);
        eng_child_set_add_parent(countries, parents + i * 3);
    }
    T_CHECK(eng_child_set_nparents(orders) == 2 && eng_child_set_nparents(countries) == 2,
            "distinct parent keys, NULL skipped");
    {
        const char *const *k0 = eng_child_set_parent_key(orders, 0);
        const char *const *k1 = eng_child_set_parent_key(orders, 1);
        T_CHECK(k0 && k1 && !strcmp(k0[0], "1") && !strcmp(k1[0], "2") &&
                    !eng_child_set_parent_key(orders, -1) && !eng_child_set_parent_key(orders, 2) &&
                    !eng_child_set_parent_key(orders, 3) && !eng_child_set_parent_key(orders, 1000),
                "parent keys: 1 and 2 in order; none before the first, at or past the count");
    }
    src_query q;
    eng_child_set_query(orders, &q, d);
    T_STREQ(q.sql,
            "SELECT \"order_id\", \"customer_id\", \"total\" FROM \"public\".\"orders\" "
            "WHERE \"customer_id\" IN ($1, $2) AND (total > 0) ORDER BY \"customer_id\", \"at\" DESC",
            "child query: only the columns the program and the grouping read (not \"at\")");
    T_CHECK(q.nparams == 2 && !strcmp(q.params[0], "1") && !strcmp(q.params[1], "2"), "child params");
    src_value crow[] = {N("10"), N("1"), N("5.5"), S("2024-02"), N("11"), N("1"), N("7"), S("2024-01")};
    for (int i = 0; i < 2; i++) {
        src_value tmp[4];
        memcpy(tmp, crow + i * 4, sizeof tmp);
        add_full_row(orders, &bt->doc.rels[0], tmp);
        memset(tmp, 0, sizeof tmp); /* the set copied the values */
    }
    src_value cc[] = {S("FR"), S("France")};
    add_full_row(countries, &bt->doc.rels[1], cc);
    eng_interp *it = eng_interp_new(bt, d);
    eng_interp_set_children(it, &bt->doc.rels[0], orders);
    eng_interp_set_children(it, &bt->doc.rels[1], countries);
    buf out = BUF_INIT;
    eng_doc_result res;
    for (int i = 0; i < 3; i++) eng_write_doc(it, parents + i * 3, &out, &res);
    T_STREQ(out.data,
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"1\"}}\n"
            "{\"name\":\"Ann\",\"orders\":[{\"id\":10,\"total\":5.5},{\"id\":11,\"total\":7}],"
            "\"country\":{\"name\":\"France\"}}\n"
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"2\"}}\n"
            "{\"name\":\"Bob\",\"orders\":[],\"country\":null}\n"
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"1\"}}\n"
            "{\"name\":\"Ann2\",\"orders\":[{\"id\":10,\"total\":5.5},{\"id\":11,\"total\":7}],"
            "\"country\":null}\n",
            "one-to-many (several, empty, order kept) and many-to-one (object, null)");
    /* next chunk: reset */
    eng_child_set_reset(orders);
    eng_child_set_add_parent(orders, parents + 3);
    buf_reset(&out);
    eng_write_doc(it, parents, &out, &res);
    T_CHECK(strstr(out.data, "\"orders\":[]") != NULL, "reset chunk forgets children");

    buf m = BUF_INIT;
    eng_mapping_json(bt, &m, d);
    T_STREQ(m.data,
            "{\"properties\":{\"name\":{\"type\":\"text\",\"fields\":{\"keyword\":{\"type\":\"keyword\","
            "\"ignore_above\":256}}},\"orders\":{\"properties\":{\"id\":{\"type\":\"long\"},\"total\":"
            "{\"type\":\"double\"}}},\"country\":{\"properties\":{\"name\":{\"type\":\"text\",\"fields\":"
            "{\"keyword\":{\"type\":\"keyword\",\"ignore_above\":256}}}}}}}",
            "mapping with relations");
    buf_free(&m);
    buf_free(&out);
    eng_interp_free(it);
    eng_child_set_free(orders);
    eng_child_set_free(countries);
    diag_free(d);
    child_tables[0] = child_tables[1] = NULL;
}

/* Many-to-many through a link table: one query per chunk joins the link
 * table, rows are grouped by the link's parent-side key; and a field
 * template reads a column of a many-to-one object ({{ album.title }}). */
static void test_through(void)
{
    plan_op pl_ops[] = {OP(LOAD_COL, .s = "name"), OP(EMIT, .s = "name")};
    plan_op al_ops[] = {OP(LOAD_COL, .s = "title"), OP(EMIT, .s = "title")};
    static const char *const lk[] = {"track_id"}, *const pk[] = {"id"};
    static const char *const jc[] = {"id"}, *const jl[] = {"playlist_id"};
    static const char *const ac[] = {"id"}, *const ap[] = {"album_id"};
    static const char *const ob[] = {"position", "name DESC"};
    plan_relation rels[2] = {0};
    rels[0].key = "playlists";
    rels[0].table = "playlist";
    rels[0].through = "playlist_track";
    rels[0].child_cols = lk;
    rels[0].parent_cols = pk;
    rels[0].non = 1;
    rels[0].join_child_cols = jc;
    rels[0].join_link_cols = jl;
    rels[0].njoin = 1;
    rels[0].order_by = ob;
    rels[0].norder_by = 2;
    rels[0].doc = (plan_doc){pl_ops, 2, NULL, 0};
    rels[1].key = "album";
    rels[1].table = "album";
    rels[1].child_cols = ac;
    rels[1].parent_cols = ap;
    rels[1].non = 1;
    rels[1].one = 1;
    rels[1].doc = (plan_doc){al_ops, 2, NULL, 0};
    plan_tpl *label = tpl("{{ name }} / {{ album.title }}");
    label->parts[2].kind = PLAN_TPL_REL; /* as the lowering resolves it */
    label->parts[2].text = "title";
    label->parts[2].rel = 1;
    plan_op ops[] = {OP(LOAD_TPL, .tpl = label), OP(EMIT, .s = "label"),
                     OP(RELATION, .n = 0, .s = "playlists"), OP(RELATION, .n = 1, .s = "album")};
    plan_connector c = conn_base();
    plan_table pt = ptable(ops, 4);
    pt.doc.relations = rels;
    pt.doc.nrelations = 2;
    const src_table *st = table("track", "public", "id:long:1,name:text,album_id:long");
    child_tables[0] = table("playlist", "public", "id:long:1,name:text,owner:text");
    child_tables[1] = table("playlist_track", "public", "playlist_id:long:1,track_id:long:2,position:long");
    child_tables[2] = table("album", "public", "id:long:1,title:text,year:long");
    diag *d = diag_new();
    eng_bound_table *bt = NULL;
    eng_bind_opts o = {.describe = describe_child};
    int rc = eng_bind_table(A, &c, &pt, st, &o, &bt, d);
    T_CHECK(rc == 0, "bind a through relation and a template into a relation");
    if (rc) {
        printf("# %s\n", diag_last(d));
        diag_free(d);
        return;
    }
    src_value parents[] = {N("1"), S("One"), N("10"), N("2"), S("Two"), NUL, N("3"), S("Three"), N("10")};
    eng_child_set *pl = eng_child_set_new(&bt->doc.rels[0]);
    eng_child_set *al = eng_child_set_new(&bt->doc.rels[1]);
    for (int i = 0; i < 3; i++) {
        eng_child_set_add_parent(pl, parents + i * 3);
        eng_child_set_add_parent(al, parents + i * 3);
    }
    src_query q;
    eng_child_set_query(pl, &q, d);
    T_STREQ(q.sql,
            "SELECT \"playlist\".\"name\", \"playlist_track\".\"track_id\" "
            "FROM \"public\".\"playlist\" JOIN \"public\".\"playlist_track\" "
            "ON \"playlist\".\"id\" = \"playlist_track\".\"playlist_id\" "
            "WHERE \"playlist_track\".\"track_id\" IN ($1, $2, $3) "
            "ORDER BY \"playlist_track\".\"track_id\", \"playlist_track\".\"position\", \"playlist\".\"name\" DESC",
            "through: one query joining the link table, grouped by its key, link columns in order_by "
            "(only the columns the program reads)");
    eng_child_set_query(al, &q, d);
    T_STREQ(q.sql,
            "SELECT \"id\", \"title\" FROM \"public\".\"album\" WHERE \"id\" IN ($1) ORDER BY \"id\"",
            "many-to-one: the column a parent template reads is selected");
    /* result rows: the playlist's name, then the link's track_id */
    src_value r1[] = {S("Rock"), N("1")}, r2[] = {S("Jazz"), N("1")}, r3[] = {S("Rock"), N("3")};
    eng_child_set_add_child(pl, r1, NULL);
    eng_child_set_add_child(pl, r2, NULL);
    eng_child_set_add_child(pl, r3, NULL);
    src_value a1[] = {N("10"), S("Album X")};
    eng_child_set_add_child(al, a1, NULL);
    eng_interp *it = eng_interp_new(bt, d);
    eng_interp_set_children(it, &bt->doc.rels[0], pl);
    eng_interp_set_children(it, &bt->doc.rels[1], al);
    buf out = BUF_INIT;
    eng_doc_result res;
    for (int i = 0; i < 3; i++) eng_write_doc(it, parents + i * 3, &out, &res);
    T_STREQ(out.data,
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"1\"}}\n"
            "{\"label\":\"One / Album X\",\"playlists\":[{\"name\":\"Rock\"},{\"name\":\"Jazz\"}],"
            "\"album\":{\"title\":\"Album X\"}}\n"
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"2\"}}\n"
            "{\"label\":\"Two / \",\"playlists\":[],\"album\":null}\n"
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"3\"}}\n"
            "{\"label\":\"Three / Album X\",\"playlists\":[{\"name\":\"Rock\"}],"
            "\"album\":{\"title\":\"Album X\"}}\n",
            "far rows per parent (the same far row under two parents); {{ album.title }}, empty without one");
    buf_free(&out);
    eng_interp_free(it);
    eng_child_set_free(pl);
    eng_child_set_free(al);

    /* a link column that does not exist: an error naming the link table */
    static const char *const bad[] = {"song_id"};
    rels[0].child_cols = bad;
    bt = NULL;
    rc = eng_bind_table(A, &c, &pt, st, &o, &bt, d);
    T_CHECK(rc != 0 && strstr(diag_last(d), "table 'playlist_track' has no column 'song_id'"),
            "through: a missing link column names the link table");
    diag_free(d);
    child_tables[0] = child_tables[1] = child_tables[2] = NULL;
}

/* on: { parent column: child column } is the usual slip: named as such. */
static void test_relation_on_swapped(void)
{
    plan_op child_ops[] = {OP(LOAD_COL, .s = "total"), OP(EMIT, .s = "total")};
    static const char *const on_c[] = {"id"}, *const on_p[] = {"customer_id"};
    plan_relation rel = orders_rel(on_c, on_p, child_ops, 2);
    rel.loc = (src_loc){"config.yml", 12, 9};
    plan_op ops[] = {OP(RELATION, .n = 0, .s = "orders")};
    plan_connector c = conn_base();
    plan_table pt = ptable(ops, 1);
    pt.doc.relations = &rel;
    pt.doc.nrelations = 1;
    const src_table *st = table("customers", "public", "id:long:1,name:text");
    child_tables[0] = table("orders", "public", "order_id:long:1,customer_id:long,total:double");
    diag *d = diag_new();
    eng_bound_table *bt = NULL;
    eng_bind_opts o = {.describe = describe_child};
    int rc = eng_bind_table(A, &c, &pt, st, &o, &bt, d);
    const diag_msg *m = diag_count(d) ? diag_get(d, 0) : NULL;
    T_CHECK(rc != 0 && diag_errors(d) == 1 && m && strstr(m->text, "the sides of 'on' are swapped") &&
                m->hint && !strcmp(m->hint, "write on: { customer_id: id } (child column: parent column)"),
            "relation: swapped 'on' sides named, with the corrected form");
    diag_free(d);
    child_tables[0] = NULL;
}

static void test_bind_errors_sql(void)
{
    plan_op ops[] = {OP(LOAD_COL, .s = "emial", .loc = {"config.yml", 31, 14}), OP(EMIT, .s = "e")};
    plan_connector c = conn_base();
    plan_table pt = ptable(ops, 2);
    const src_table *st = table("customers", "public", "id:long:1,email:keyword");
    T_STREQ(run_rows(&c, &pt, st, NULL, 0),
            "ERR:-1:connector 'shop': table 'customers' has no column 'emial'", "missing column");
    diag *d = diag_new();
    eng_bound_table *bt = NULL;
    eng_bind_table(A, &c, &pt, st, NULL, &bt, d);
    const diag_msg *msg = diag_get(d, 0);
    T_CHECK(msg && msg->loc.line == 31 && msg->loc.col == 14 && msg->hint &&
                strstr(msg->hint, "'email'"),
            "missing column: location and hint");
    diag_free(d);

    plan_op ok[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_EXCLUDE)};
    pt = ptable(ok, 1);
    const src_table *nopk = table("logs", NULL, "msg:text");
    const char *e = run_rows(&c, &pt, nopk, NULL, 0);
    T_CHECK(strstr(e, "ERR:-5:") == e && strstr(e, "has no primary key and no id columns"),
            "no key -> ENOTFOUND");
    static const char *const keys[] = {"msg"};
    pt.key_columns = keys;
    pt.nkeys = 1;
    T_STREQ(run_rows(&c, &pt, nopk, (src_value[]){S("m")}, 1),
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"m\"}}\n{\"msg\":\"m\"}\n",
            "id columns instead of a primary key");

    pt = ptable(ok, 1);
    pt.index = tpl("x-{{ id }}");
    e = run_rows(&c, &pt, st, NULL, 0);
    T_CHECK(strstr(e, "only use plan variables") != NULL, "column in index template rejected");

    /* scan SQL (engine/sql.c): built once, window and resume key as slots */
    static const char *const cur[] = {"updated_at", "id"};
    const src_table *st2 = table("customers", "public", "a:long:2,id:long:1,updated_at:date,country:keyword");
    plan_rule rules[] = {{.field = "land", .rule = PLAN_RULE_EQUALS, .value = "FR", .pushed_down = 1,
                          .column = "country"},
                         {.field = "a", .rule = PLAN_RULE_GT, .value = "1"}};
    pt = ptable(ok, 1);
    pt.where = "a > 0";
    pt.rules = rules;
    pt.nrules = 2;
    pt.cursor = cur;
    pt.ncursor = 2;
    pt.deleted_when = "country IS NULL";
    d = diag_new();
    T_CHECK(eng_bind_table(A, &c, &pt, st2, NULL, &bt, d) == 0, "bind for SQL");
    src_query q;
    eng_scan_stmt stmt;
    T_CHECK(eng_sql_scan(bt, ENG_WINDOW_NONE, 0, A, &stmt, d) == 0, "full scan built");
    eng_sql_scan_query(&stmt, NULL, NULL, NULL, A, &q);
    const char *head = "SELECT \"a\", \"id\", \"updated_at\", \"country\", CASE WHEN (country IS NULL) "
                       "THEN 1 ELSE 0 END FROM \"public\".\"customers\" ";
    char want[1024];
    snprintf(want, sizeof want, "%sWHERE ((a > 0) AND NOT (\"country\" = $1)) ORDER BY \"id\", \"a\"", head);
    T_STREQ(q.sql, want, "full scan SQL: where, then the pushed-down rule");
    T_CHECK(q.nparams == 1 && !strcmp(q.params[0], "FR") && bt->deleted_col == 4,
            "full scan params: the rule value");
    static const char *const lo[] = {"2024-01-01", "0"}, *const hi[] = {"2025-01-01", "8"};
    static const char *const after[] = {"5", "9"};
    T_CHECK(eng_sql_scan(bt, ENG_WINDOW_AFTER, 0, A, &stmt, d) == 0, "incremental scan built");
    eng_sql_scan_query(&stmt, lo, hi, NULL, A, &q);
    snprintf(want, sizeof want,
             "%sWHERE ((a > 0) AND NOT (\"country\" = $1)) AND ((\"updated_at\", \"id\") > ($2, $3) AND "
             "(\"updated_at\", \"id\") <= ($4, $5)) ORDER BY \"id\", \"a\"", head);
    T_STREQ(q.sql, want, "incremental window SQL");
    const char *first = q.sql;
    eng_sql_scan_query(&stmt, lo, hi, after, A, &q);
    snprintf(want, sizeof want,
             "%sWHERE ((a > 0) AND NOT (\"country\" = $1)) AND ((\"updated_at\", \"id\") > ($2, $3) AND "
             "(\"updated_at\", \"id\") <= ($4, $5)) AND (\"id\", \"a\") > ($6, $7) ORDER BY \"id\", \"a\"",
             head);
    T_STREQ(q.sql, want, "incremental + resume SQL");
    T_CHECK(q.nparams == 7 && !strcmp(q.params[1], "2024-01-01") && !strcmp(q.params[4], "8") &&
                !strcmp(q.params[6], "9"),
            "incremental params in order: rule, window, key");
    eng_sql_scan_query(&stmt, hi, lo, NULL, A, &q);
    T_CHECK(q.sql == first && !strcmp(q.params[1], "2025-01-01"),
            "another window: the same statement, other values");
    static const char *const lagged[] = {"2023-12-31"};
    T_CHECK(eng_sql_scan(bt, ENG_WINDOW_LAGGED, 1, A, &stmt, d) == 0, "leavers built");
    eng_sql_scan_query(&stmt, lagged, hi, NULL, A, &q);
    snprintf(want, sizeof want,
             "%sWHERE (((a > 0) AND NOT (\"country\" = $1)) IS NOT TRUE) AND (\"updated_at\" >= $2 AND "
             "(\"updated_at\", \"id\") <= ($3, $4)) ORDER BY \"id\", \"a\"", head);
    T_STREQ(q.sql, want, "leavers of a lagged window");
    T_CHECK(q.nparams == 4 && !strcmp(q.params[1], "2023-12-31"), "leavers params");
    T_STREQ(eng_sql_cursor_max(bt, A),
            "SELECT \"updated_at\", \"id\" FROM \"public\".\"customers\" WHERE \"updated_at\" IS NOT NULL "
            "AND \"id\" IS NOT NULL ORDER BY \"updated_at\" DESC, \"id\" DESC LIMIT 1",
            "watermark query");
    plan_sql_text tx;
    c.driver = &tdrv;
    pt.name = "customers";
    T_CHECK(eng_sql_text(&c, &pt, A, &tx) == 0 && !strcmp(tx.from, "\"public\".\"customers\"") &&
                !strcmp(tx.where, "(a > 0) AND NOT (\"country\" = $1)") &&
                !strcmp(tx.pushdown, "NOT (\"country\" = $1)") && tx.nparams == 1,
            "plan text: the same SQL as the scan");
    T_STREQ(tx.statement,
            "SELECT * FROM \"public\".\"customers\" WHERE (a > 0) AND NOT (\"country\" = $1) "
            "ORDER BY <primary key>",
            "plan statement line");
    src_value row[] = {N("3"), S("k\"1"), NUL, NUL};
    const char **kv;
    eng_key_values(bt, row, A, &kv);
    T_CHECK(!strcmp(kv[0], "k\"1") && !strcmp(kv[1], "3"), "key values in key order");
    diag_free(d);

    /* glob/default tables: FROM is built from the described table */
    pt = ptable(ok, 1);
    pt.is_glob = 1;
    d = diag_new();
    eng_bind_table(A, &c, &pt, st, NULL, &bt, d);
    eng_sql_scan(bt, ENG_WINDOW_NONE, 0, A, &stmt, d);
    eng_sql_scan_query(&stmt, NULL, NULL, (const char *const[]){"7"}, A, &q);
    T_STREQ(q.sql, "SELECT \"id\", \"email\" FROM \"public\".\"customers\" WHERE \"id\" > $1 ORDER BY \"id\"",
            "glob table scan with resume");
    diag_free(d);

    /* an advanced rule's query: the scan reads FROM the query, not a table */
    static const char *const qk[] = {"id"};
    pt = ptable(ok, 1);
    pt.custom_query = "SELECT id, email FROM customers WHERE email LIKE '%@x'";
    pt.key_columns = qk;
    pt.nkeys = 1;
    d = diag_new();
    T_CHECK(eng_bind_table(A, &c, &pt, st, NULL, &bt, d) == 0 &&
                eng_sql_scan(bt, ENG_WINDOW_NONE, 0, A, &stmt, d) == 0,
            "custom query: bound and scan built");
    eng_sql_scan_query(&stmt, NULL, NULL, NULL, A, &q);
    T_STREQ(q.sql,
            "SELECT \"id\", \"email\" FROM (SELECT id, email FROM customers WHERE email LIKE '%@x') AS q "
            "ORDER BY \"id\"",
            "custom query: the scan reads from the query");
    diag_free(d);
}

/* Binding refuses plans the compiler never makes (hand-made plans, a plan
 * from another version): each with its message; and the bind-time checks a
 * database can trigger (columns that collide once lower-cased). */
static const char *bind_err(plan_connector *c, plan_table *pt, const src_table *st)
{
    diag *d = diag_new();
    eng_bound_table *bt = NULL;
    eng_bind_opts o = {.timestamp = "t", .describe = describe_child};
    int rc = eng_bind_table(A, c, pt, st, &o, &bt, d);
    buf all = BUF_INIT;
    buf_printf(&all, "%d", rc);
    for (size_t i = 0; i < diag_count(d); i++) {
        const diag_msg *m = diag_get(d, i);
        buf_printf(&all, "|%s", m->text);
    }
    const char *r = arena_strndup(A, all.data, all.len);
    buf_free(&all);
    diag_free(d);
    return r;
}

static void test_bind_errors_plan(void)
{
    plan_connector c = conn_base();
    const src_table *st = table("customers", "public", "id:long:1,name:text,Name:text");
    plan_op copy[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_EXCLUDE)};
    plan_table pt = ptable(copy, 1);

    pt.index = tpl("ix-{{ $id }}");
    T_STREQ(bind_err(&c, &pt, st), "-1|unknown template variable 'id'", "index: $id is not a plan variable");
    pt.index = tpl("ix-{{ $nope }}");
    T_STREQ(bind_err(&c, &pt, st), "-1|unknown template variable 'nope'", "index: unknown variable");
    pt.index = tpl("ix-{{ @pk }}");
    T_STREQ(bind_err(&c, &pt, st), "-1|the index name cannot use the primary key", "index: no primary key");
    plan_tpl_part relp[] = {{PLAN_TPL_LIT, "ix-", -1}, {PLAN_TPL_REL, "name", 0}};
    plan_tpl reltpl = {relp, 2, "ix-{{ r.name }}"};
    pt.index = &reltpl;
    T_STREQ(bind_err(&c, &pt, st), "-1|the index name can only use plan variables, not 'name'",
            "index: no relation column");
    pt.index = tpl("{{ $connector }}-{{ $schema }}");
    c.index_name = NULL;
    const char *ok = bind_err(&c, &pt, st);
    T_CHECK(ok[0] == '0', "index: plan variables render");
    pt.index = NULL;
    T_STREQ(bind_err(&c, &pt, st), "-1|connector 'shop': table 'customers' has no target index",
            "no index template and no index_name");
    c.index_name = "";
    T_STREQ(bind_err(&c, &pt, st), "-1|connector 'shop': table 'customers' has no target index",
            "an empty index_name is no index");
    c = conn_base();

    pt.id = tpl("{{ $id }}");
    T_STREQ(bind_err(&c, &pt, st), "-1|the document id cannot use $id", "_id: $id refused");
    pt.id = NULL;

    plan_rule rr[] = {{.field = "name", .rule = PLAN_RULE_REGEX, .value = "a.*"}};
    pt.rules = rr;
    pt.nrules = 1;
    T_STREQ(bind_err(&c, &pt, st), "-1|rule regex was not compiled", "a regex rule without its regex");
    pt.rules = NULL;
    pt.nrules = 0;

    /* columns named apart only by case become one field once lower-cased */
    plan_op lower[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_EXCLUDE | PLAN_COPY_LOWER)};
    pt = ptable(lower, 1);
    T_STREQ(bind_err(&c, &pt, st),
            "-1|connector 'shop': table 'customers': columns 'name' and 'Name' both become field 'name' "
            "(field names are lower-cased, as the connectors do)",
            "copy lower-cased: a collision is refused");
    plan_op pfx[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_EXCLUDE, .s = "{{ $nope }}_{{ $table")};
    pt = ptable(pfx, 1);
    T_STREQ(bind_err(&c, &pt, st), "-1|unknown variable '$nope' in column prefix", "prefix: unknown variable");
    plan_op pfx2[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_EXCLUDE, .s = "{{$table}}.{{ $x")};
    pt = ptable(pfx2, 1);
    static const char *const only[] = {"name", "id"};
    pfx2[0].n = PLAN_COPY_INCLUDE;
    pfx2[0].names = only;
    pfx2[0].nnames = 2;
    T_STREQ(run_rows(&c, &pt, st, (src_value[]){N("1"), S("a"), S("b")}, 1),
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"1\"}}\n"
            "{\"customers.{{ $xid\":1,\"customers.{{ $xname\":\"a\"}\n",
            "prefix: an unclosed {{ is literal text");

    plan_op var[] = {OP(LOAD_VAR, .s = "nope"), OP(EMIT, .s = "v")};
    pt = ptable(var, 2);
    T_STREQ(bind_err(&c, &pt, st), "-1|unknown variable 'nope'", "load_var: unknown variable");
    plan_op rxo[] = {OP(LOAD_COL, .s = "name"), OP(REGEX_EXTRACT, .pattern = "(a"), OP(EMIT, .s = "v")};
    pt = ptable(rxo, 3);
    T_STREQ(bind_err(&c, &pt, st), "-1|regex '(a' was not compiled", "regex op without its regex");
    plan_op rel[] = {OP(RELATION, .n = 3, .s = "orders")};
    pt = ptable(rel, 1);
    T_STREQ(bind_err(&c, &pt, st), "-1|relation index 3 out of range", "relation op: index out of range");
    plan_tpl_part fp[] = {{PLAN_TPL_REL, "title", 0}};
    plan_tpl ft = {fp, 1, "{{ album.title }}"};
    plan_op tp[] = {OP(LOAD_TPL, .tpl = &ft), OP(EMIT, .s = "v")};
    pt = ptable(tp, 2);
    T_STREQ(bind_err(&c, &pt, st), "-1|template '{{ album.title }}': no many-to-one relation for 'title'",
            "template: a relation column without the relation");

    c.driver = NULL;
    pt = ptable(copy, 1);
    T_STREQ(bind_err(&c, &pt, st), "-1|connector 'shop': no SQL dialect to bind table 'customers'",
            "no driver: no dialect");
    c = conn_base();

    /* relations: no describe callback, a child that cannot be described,
     * order_by naming a missing column, a rule on a relation's field */
    static const char *const on_c[] = {"customer_id"}, *const on_p[] = {"id"};
    static const char *const ob[] = {"nope DESC"};
    plan_op child_ops[] = {OP(LOAD_COL, .s = "total"), OP(EMIT, .s = "total")};
    plan_relation rels[1] = {0};
    rels[0].key = "orders";
    rels[0].table = "orders";
    rels[0].child_cols = on_c;
    rels[0].parent_cols = on_p;
    rels[0].non = 1;
    rels[0].doc = (plan_doc){child_ops, 2, NULL, 0};
    plan_op ops[] = {OP(RELATION, .n = 0, .s = "orders")};
    pt = ptable(ops, 1);
    pt.doc.relations = rels;
    pt.doc.nrelations = 1;
    diag *d = diag_new();
    eng_bound_table *bt = NULL;
    T_CHECK(eng_bind_table(A, &c, &pt, st, NULL, &bt, d) == DIAG_EINVAL &&
                strcmp(diag_last(d), "connector 'shop': relation 'orders' needs the child table 'orders' "
                                     "described") == 0,
            "relation without a describe callback");
    diag_free(d);
    T_STREQ(bind_err(&c, &pt, st), "-1|no table orders", "relation: the child table is missing");
    child_tables[0] = table("orders", "public", "id:long:1,customer_id:long,total:double");
    rels[0].order_by = ob;
    rels[0].norder_by = 1;
    T_STREQ(bind_err(&c, &pt, st),
            "-1|connector 'shop': relation 'orders': table 'orders' has no column 'nope' (order_by)",
            "relation: order_by names a missing column");
    rels[0].order_by = NULL;
    rels[0].norder_by = 0;
    plan_rule onrel[] = {{.field = "orders.total", .rule = PLAN_RULE_EQUALS, .value = "1"},
                         {.field = "orders", .rule = PLAN_RULE_EQUALS, .value = "1"},
                         {.field = "ordersx", .rule = PLAN_RULE_EQUALS, .value = "1"}};
    pt.rules = onrel;
    pt.nrules = 3;
    T_STREQ(bind_err(&c, &pt, st),
            "0|connector 'shop': table 'customers': the rule on field 'orders.total' never matches: "
            "'orders' is a relation, and rules see only the table's own fields"
            "|connector 'shop': table 'customers': the rule on field 'orders' never matches: "
            "'orders' is a relation, and rules see only the table's own fields",
            "a rule on a relation's field warns (and on a field that only starts alike does not)");
    child_tables[0] = NULL;
}

static void test_mapping(void)
{
    plan_op ops[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_INCLUDE, .names = (const char *const[]){"id", "price"},
                        .nnames = 2),
                     OP(LOAD_COL, .s = "email"), O(TRIM), O(LOWER), OP(EMIT, .s = "email"),
                     OP(LOAD_COL, .s = "flag"), O(TO_BOOL), OP(EMIT, .s = "flag"),
                     OP(LOAD_COL, .s = "doc"), O(PARSE_JSON), OP(EMIT, .s = "doc"),
                     OP(OBJ_BEGIN, .s = "addr"), OP(LOAD_COL, .s = "city"), OP(EMIT, .s = "city"), O(OBJ_END),
                     OP(LOAD_VAR, .s = "timestamp"), OP(EMIT, .s = "_timestamp")};
    plan_mapping_field f[] = {{.path = "price", .es_type = "scaled_float", .scaling_factor = "1000"},
                              {.path = "addr.zip", .es_type = "keyword"}};
    plan_connector c = conn_base();
    plan_table pt = ptable(ops, (int)(sizeof ops / sizeof ops[0]));
    pt.fields = f;
    pt.nfields = 2;
    pt.index_mappings_json = "{\"dynamic\":false,\"properties\":{\"email\":{\"type\":\"keyword\"},"
                             "\"addr\":{\"properties\":{\"city\":{\"fields\":{\"raw\":{\"type\":\"keyword\"}}}}}}}";
    const src_table *st = table("t", NULL, "id:long:1,price:double,email:keyword,flag:text,doc:text,city:text");
    diag *d = diag_new();
    eng_bound_table *bt = NULL;
    T_CHECK(eng_bind_table(A, &c, &pt, st, NULL, &bt, d) == 0, "bind for mapping");
    buf m = BUF_INIT;
    T_CHECK(eng_mapping_json(bt, &m, d) == 0, "mapping ok");
    T_STREQ(m.data,
            "{\"properties\":{\"id\":{\"type\":\"long\"},\"price\":{\"type\":\"scaled_float\",\"scaling_factor\":1000},"
            "\"email\":{\"type\":\"keyword\"},\"flag\":{\"type\":\"boolean\"},"
            "\"addr\":{\"properties\":{\"city\":{\"type\":\"text\",\"fields\":{\"keyword\":{\"type\":\"keyword\","
            "\"ignore_above\":256},\"raw\":{\"type\":\"keyword\"}}},\"zip\":{\"type\":\"keyword\"}}},"
            "\"_timestamp\":{\"type\":\"date\"}},\"dynamic\":false}",
            "derived mapping, explicit types, user override merged");
    T_CHECK(json_parse(NULL, m.data, m.len, NULL), "mapping is valid JSON");
    pt.index_mappings_json = "{bad";
    buf_reset(&m);
    T_CHECK(eng_mapping_json(bt, &m, d) == DIAG_EINVAL, "invalid user mapping rejected");

    /* objects nested 64 deep (dotted names make them without YAML nesting):
     * a field after the innermost closes is in the 63rd, the field after all
     * close is back at the top */
    {
        plan_op deep[64 * 2 + 6];
        int k = 0;
        for (int i = 0; i < 64; i++) deep[k++] = (plan_op){.op = PLAN_OP_OBJ_BEGIN, .s = "o"};
        deep[k++] = (plan_op){.op = PLAN_OP_LOAD_COL, .s = "id"};
        deep[k++] = (plan_op){.op = PLAN_OP_EMIT, .s = "d"};
        deep[k++] = (plan_op){.op = PLAN_OP_OBJ_END};
        deep[k++] = (plan_op){.op = PLAN_OP_LOAD_COL, .s = "email"};
        deep[k++] = (plan_op){.op = PLAN_OP_EMIT, .s = "e"};
        for (int i = 1; i < 64; i++) deep[k++] = (plan_op){.op = PLAN_OP_OBJ_END};
        deep[k++] = (plan_op){.op = PLAN_OP_LOAD_COL, .s = "email"};
        deep[k++] = (plan_op){.op = PLAN_OP_EMIT, .s = "top"};
        plan_table ptd = ptable(deep, k);
        T_CHECK(eng_bind_table(A, &c, &ptd, st, NULL, &bt, d) == 0, "bind 64 nested objects");
        buf want = BUF_INIT;
        buf_puts(&want, "{\"properties\":{");
        for (int i = 0; i < 64; i++) buf_puts(&want, "\"o\":{\"properties\":{");
        buf_puts(&want, "\"d\":{\"type\":\"long\"}}},\"e\":{\"type\":\"keyword\"}");
        for (int i = 1; i < 64; i++) buf_puts(&want, "}}");
        buf_puts(&want, ",\"top\":{\"type\":\"keyword\"}}}");
        buf_reset(&m);
        eng_mapping_json(bt, &m, d);
        T_STREQ(m.data, want.data, "mapping of objects nested 64 deep: e in the 63rd level, top at the top");
        buf_free(&want);
    }

    /* a scaled_float column keeps every digit of its SQL scale */
    src_table *st2 = table("t2", NULL, "id:long:1,amount:scaled_float,rate:scaled_float");
    st2->cols[1].sql_type = "numeric(10,4)";
    st2->cols[2].sql_type = "numeric";
    plan_op ops2[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_EXCLUDE)};
    plan_table pt2 = ptable(ops2, 1);
    T_CHECK(eng_bind_table(A, &c, &pt2, st2, NULL, &bt, d) == 0, "bind scaled columns");
    buf_reset(&m);
    eng_mapping_json(bt, &m, d);
    T_STREQ(m.data,
            "{\"properties\":{\"id\":{\"type\":\"long\"},\"amount\":{\"type\":\"scaled_float\","
            "\"scaling_factor\":10000},\"rate\":{\"type\":\"scaled_float\",\"scaling_factor\":100}}}",
            "scaling factor from the SQL scale");
    /* a scale that is no number, negative, or over 18 digits: the default 100 */
    src_table *st3 = table("t3", NULL, "id:long:1,big:scaled_float,neg:scaled_float,odd:scaled_float");
    st3->cols[1].sql_type = "numeric(40,20)";
    st3->cols[2].sql_type = "numeric(5,-2)";
    st3->cols[3].sql_type = "numeric(10,x)";
    T_CHECK(eng_bind_table(A, &c, &pt2, st3, NULL, &bt, d) == 0, "bind scaled columns without a usable scale");
    buf_reset(&m);
    eng_mapping_json(bt, &m, d);
    T_STREQ(m.data,
            "{\"properties\":{\"id\":{\"type\":\"long\"},\"big\":{\"type\":\"scaled_float\","
            "\"scaling_factor\":100},\"neg\":{\"type\":\"scaled_float\",\"scaling_factor\":100},"
            "\"odd\":{\"type\":\"scaled_float\",\"scaling_factor\":100}}}",
            "scaling factor 100 when the SQL scale is over 18, negative or not a number");
    buf_free(&m);
    diag_free(d);
}

static void test_limits_nested(void)
{
    /* a capped output buffer: the row that does not fit is rolled back */
    plan_op ops[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_EXCLUDE)};
    plan_connector c = conn_base();
    plan_table pt = ptable(ops, 1);
    const src_table *st = table("t", NULL, "id:long:1,s:text");
    diag *d = diag_new();
    eng_bound_table *bt = NULL;
    eng_bind_table(A, &c, &pt, st, NULL, &bt, d);
    eng_interp *it = eng_interp_new(bt, d);
    buf out;
    buf_init(&out, 120);
    eng_doc_result res;
    src_value r1[] = {N("1"), S("short")}, r2[] = {N("2"), S("a much longer value that will not fit in the rest")};
    int rc1 = eng_write_doc(it, r1, &out, &res);
    size_t len1 = out.len;
    int rc2 = eng_write_doc(it, r2, &out, &res);
    T_CHECK(rc1 == 0 && rc2 == DIAG_ELIMIT && out.len == len1 && !out.failed, "cap: row rolled back");
    T_STREQ(diag_last(d), "connector 'shop' > table 't' > row '2': document does not fit in the output buffer",
            "error context: connector > table > row key");
    T_CHECK(diag_errors(d) == 1, "one error per failed row");
    buf_free(&out);
    eng_interp_free(it);
    diag_free(d);

    /* nested relation: customers -> orders -> lines, one child set per level */
    plan_op line_ops[] = {OP(LOAD_COL, .s = "sku"), OP(EMIT, .s = "sku")};
    static const char *const on_l[] = {"order_id"}, *const on_o[] = {"id"};
    plan_relation lines = {0};
    lines.key = "lines";
    lines.table = "lines";
    lines.child_cols = on_l;
    lines.parent_cols = on_o;
    lines.non = 1;
    lines.doc = (plan_doc){line_ops, 2, NULL, 0};
    /* the orders program does not read "id": the query selects it for the nested relation */
    plan_op order_ops[] = {OP(LOAD_COL, .s = "region"), OP(EMIT, .s = "r"), OP(RELATION, .n = 0, .s = "lines")};
    static const char *const on_c[] = {"cust", "region"}, *const on_p[] = {"id", "region"};
    plan_relation orders = {0};
    orders.key = "orders";
    orders.table = "orders";
    orders.child_cols = on_c;
    orders.parent_cols = on_p;
    orders.non = 2;
    orders.doc = (plan_doc){order_ops, 3, &lines, 1};
    plan_op top[] = {OP(LOAD_COL, .s = "id"), OP(EMIT, .s = "id"), OP(RELATION, .n = 0, .s = "orders")};
    pt = ptable(top, 3);
    pt.doc.relations = &orders;
    pt.doc.nrelations = 1;
    const src_table *cust = table("customers", NULL, "id:long:1,region:keyword:2");
    child_tables[0] = table("orders", NULL, "id:long:1,cust:long,region:keyword");
    child_tables[1] = table("lines", NULL, "order_id:long:1,sku:keyword:2");
    d = diag_new();
    eng_bind_opts o = {.describe = describe_child};
    T_CHECK(eng_bind_table(A, &c, &pt, cust, &o, &bt, d) == 0 && bt->nrel_slots == 2, "bind nested");
    src_value parents[] = {N("1"), S("eu"), N("2"), S("us")};
    eng_child_set *os = eng_child_set_new(&bt->doc.rels[0]);
    eng_child_set *ls = eng_child_set_new(&bt->doc.rels[0].doc.rels[0]);
    for (int i = 0; i < 2; i++) eng_child_set_add_parent(os, parents + 2 * i);
    src_query q;
    eng_child_set_query(os, &q, d);
    T_STREQ(q.sql, "SELECT \"id\", \"cust\", \"region\" FROM \"public\".\"orders\" WHERE (\"cust\", \"region\") IN "
                   "(($1, $2), ($3, $4)) ORDER BY \"cust\", \"region\"",
            "composite key IN list");
    T_CHECK(q.nparams == 4 && !strcmp(q.params[3], "us"), "composite params");
    src_value orows[] = {N("10"), N("1"), S("eu"), N("11"), N("1"), S("us"), N("12"), N("2"), S("us")};
    for (int i = 0; i < 3; i++) {
        add_full_row(os, &bt->doc.rels[0], orows + 3 * i);
        eng_child_set_add_parent(ls, orows + 3 * i);
    }
    src_value lrows[] = {N("10"), S("A"), N("10"), S("B"), N("12"), S("C")};
    for (int i = 0; i < 3; i++) add_full_row(ls, &bt->doc.rels[0].doc.rels[0], lrows + 2 * i);
    it = eng_interp_new(bt, d);
    eng_interp_set_children(it, &bt->doc.rels[0], os);
    eng_interp_set_children(it, &bt->doc.rels[0].doc.rels[0], ls);
    buf_init(&out, 0);
    for (int i = 0; i < 2; i++) eng_write_doc(it, parents + 2 * i, &out, &res);
    T_STREQ(out.data,
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"1_eu\"}}\n"
            "{\"id\":1,\"orders\":[{\"r\":\"eu\",\"lines\":[{\"sku\":\"A\"},{\"sku\":\"B\"}]}]}\n"
            "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"2_us\"}}\n"
            "{\"id\":2,\"orders\":[{\"r\":\"us\",\"lines\":[{\"sku\":\"C\"}]}]}\n",
            "nested relations with a composite key");
    buf_free(&out);
    eng_interp_free(it);
    eng_child_set_free(os);
    eng_child_set_free(ls);
    diag_free(d);
    child_tables[0] = child_tables[1] = NULL;
}

/* Strings without a byte to escape are copied in one go (8 bytes at a time,
 * then byte by byte); a backslash must leave that path in both loops. */
/* Element-wise transforms (a chain of them: each writes the scratch buffer
 * the one before did not) reuse their scratch buffers: once the first rows
 * have sized the buffers, writing more rows allocates nothing (a scratch
 * buffer that kept every row's elements would grow with the rows). The
 * allocations are counted by the fault hook (base/fault.h). */
static void test_steady_memory(void)
{
    const plan_op ops[] = {{.op = PLAN_OP_LOAD_COL, .s = "c"}, OP(SPLIT, .s = ","), O(LOWER), O(TRIM),
                           O(UPPER), {.op = PLAN_OP_EMIT, .s = "v"}};
    plan_connector c = conn_base();
    plan_table pt = ptable(ops, 6);
    const src_table *st = table("t", NULL, "id:long:1,c:text");
    diag *d = diag_new();
    eng_bound_table *bt = NULL;
    eng_bind_opts o = {.timestamp = "2024-01-02T03:04:05Z"};
    int rc = eng_bind_table(A, &c, &pt, st, &o, &bt, d);
    eng_interp *it = rc ? NULL : eng_interp_new(bt, d);
    char text[512];
    memset(text, 'a', sizeof text - 1);
    for (int i = 50; i < (int)sizeof text - 1; i += 50) text[i] = ',';
    text[sizeof text - 1] = '\0';
    src_value row[2] = {N("7"), {SRC_STRING, text, sizeof text - 1}};
    buf out = BUF_INIT;
    uint64_t at100 = 0;
    fault_set(FAULT_ALLOC, 0, 0); /* count, never fail */
    for (int r = 0; it && !rc && r < 2000; r++) {
        if (r == 100) at100 = fault_count(FAULT_ALLOC);
        buf_reset(&out);
        rc = eng_write_doc(it, row, &out, &last_res);
    }
    uint64_t grown = fault_count(FAULT_ALLOC) - at100;
    T_CHECK(it && !rc && out.len > 500 && strstr(out.data, "\"AAAA") && grown == 0,
            "element-wise transform: rows 100 to 2000 allocate nothing (scratch buffer reused)");
    if (grown) fprintf(stderr, "# %llu allocations after row 100\n", (unsigned long long)grown);
    buf_free(&out);
    eng_interp_free(it);

    /* the N-th allocation of writing one document fails, for every N: the
     * document is written whole, or the row fails as out of memory (never
     * "does not fit", which is a bound of the output buffer) */
    buf want = BUF_INIT;
    it = eng_interp_new(bt, d);
    rc = it ? eng_write_doc(it, row, &want, &last_res) : -1;
    eng_interp_free(it);
    int ooms = 0, bad = 0, n;
    for (n = 1; !rc && n < 500; n++) {
        buf got = BUF_INIT;
        diag *fd = diag_new();
        it = eng_interp_new(bt, fd);
        fault_set(FAULT_ALLOC, (uint64_t)n, 0);
        int wrc = eng_write_doc(it, row, &got, &last_res);
        int reached = fault_count(FAULT_ALLOC) >= (uint64_t)n;
        fault_set(FAULT_ALLOC, 0, 0);
        if (wrc == DIAG_ENOMEM && strstr(diag_last(fd), "out of memory")) ooms++;
        else if (wrc || got.len != want.len || memcmp(got.data, want.data, want.len)) {
            fprintf(stderr, "# allocation %d: rc %d: %s\n", n, wrc, diag_last(fd));
            bad++;
        }
        eng_interp_free(it);
        buf_free(&got);
        diag_free(fd);
        if (!reached) break;
    }
    T_CHECK(!rc && ooms >= 3 && !bad,
            "each allocation of a document's writing failing in turn: out of memory or the whole document");
    buf_free(&want);
    diag_free(d);
}

static void test_escape_fast_path(void)
{
    static const char *const cases[][2] = {
        {"C:\\temp", "\"C:\\\\temp\""},                               /* 7 bytes: tail loop */
        {"C:\\temp\\dir\\file", "\"C:\\\\temp\\\\dir\\\\file\""},     /* 16: word loop */
        {"abcdefgh\\", "\"abcdefgh\\\\\""},                           /* tail after a word */
        {"path/to/a\"b", "\"path/to/a\\\"b\""},                         /* quote, 11 bytes */
        {"plain ascii, no escape", "\"plain ascii, no escape\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        plan_op ops[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_EXCLUDE)};
        plan_connector c = conn_base();
        plan_table pt = ptable(ops, 1);
        const src_table *st = table("t", NULL, "id:long:1,p:text");
        src_value row[2] = {N("1"), {SRC_STRING, cases[i][0], strlen(cases[i][0])}};
        const char *want = arena_printf(A, "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"1\"}}\n"
                                           "{\"id\":1,\"p\":%s}\n", cases[i][1]);
        T_STREQ(run_rows(&c, &pt, st, row, 1), want,
                arena_printf(A, "escape: %s", cases[i][0]));
    }
}

/* The fast path's word test against the slow path (buf_json_str) for every
 * byte it must not copy as is - each control byte, '"', '\\', and bytes
 * >= 0x80 - at each position of a 15-byte string (the 8-byte word, then the
 * tail loop), in a filler of each other printable ASCII byte: the bit tricks
 * of the word test miss some bytes for some neighbours when one of their
 * operators is wrong. */
static void test_escape_every_byte(void)
{
    static const unsigned char bad[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
                                        0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
                                        0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, '"',
                                        '\\', 0x80, 0xc3, 0xff};
    enum { LEN = 15, NBAD = sizeof bad };
    int nrows = 0;
    src_value *rows = arena_alloc(A, sizeof(src_value) * 2 * 95 * LEN * NBAD);
    buf want = BUF_INIT;
    for (int f = 0x20; f < 0x7f; f++) {
        if (f == '"' || f == '\\') continue;
        for (int pos = 0; pos < LEN; pos++)
            for (int k = 0; k < NBAD; k++) {
                char *s = arena_alloc(A, LEN);
                memset(s, f, LEN);
                s[pos] = (char)bad[k];
                rows[2 * nrows] = N("1");
                rows[2 * nrows + 1] = (src_value){SRC_STRING, s, LEN};
                nrows++;
                size_t rep = 0;
                buf_puts(&want, "{\"index\":{\"_index\":\"search-shop\",\"_id\":\"1\"}}\n{\"id\":1,\"p\":");
                buf_json_str(&want, s, LEN, &rep);
                buf_puts(&want, "}\n");
            }
    }
    plan_op ops[] = {OP(COPY_COLUMNS, .n = PLAN_COPY_EXCLUDE)};
    plan_connector c = conn_base();
    plan_table pt = ptable(ops, 1);
    const src_table *st = table("t", NULL, "id:long:1,p:text");
    const char *got = run_rows(&c, &pt, st, rows, nrows);
    const char *w = want.data ? want.data : "";
    size_t at = 0;
    while (got[at] && got[at] == w[at]) at++;
    if (got[at] != w[at]) {
        size_t line = at;
        while (line > 0 && w[line - 1] != '\n') line--;
        printf("# first difference in the line: %.120s\n", w + line);
    }
    T_CHECK(nrows == 93 * LEN * NBAD && got[at] == w[at] && want.len > 0,
            "escape: each byte to escape, at each position of a word and of the tail, between each "
            "printable byte, as the slow path writes it");
    buf_free(&want);
}

static void test_json(void)
{
    static const char *const good[] = {"0", "-1.5e+3", "\"a\\u00e9\\n\"", "[]", "{}", " [1, {\"a\": null}] ",
                                       "true", "{\"a\":{\"b\":[false]}}", NULL};
    static const char *const bad[] = {"", "01", "[1,]", "{\"a\"}", "{a:1}", "\"\\x\"", "[", "nul",
                                      "1 2", "\"\t\"", "{\"a\":1,}", NULL};
    int ok = 1;
    for (int i = 0; good[i]; i++) ok &= json_parse(NULL, good[i], strlen(good[i]), NULL);
    T_CHECK(ok, "json: valid texts accepted");
    ok = 1;
    for (int i = 0; bad[i]; i++) ok &= !json_parse(NULL, bad[i], strlen(bad[i]), NULL);
    T_CHECK(ok, "json: invalid texts rejected");
    char deep[600];
    memset(deep, '[', 300);
    memset(deep + 300, ']', 300);
    T_CHECK(!json_parse(NULL, deep, 600, NULL), "json: depth limit");
}

int main(void)
{
    T_PLAN(275);
    A = arena_new();
    test_plain_copy();
    test_connectors_compat();
    test_transforms();
    test_templates_objects();
    test_omit_nulls();
    test_utf8_nul_id();
    test_delete();
    test_rules();
    test_regex_limits();
    test_regex_threads();
    test_relations();
    test_merge_cmp();
    test_relation_on_swapped();
    test_through();
    test_bind_errors_sql();
    test_bind_errors_plan();
    test_mapping();
    test_limits_nested();
    test_json();
    test_steady_memory();
    test_escape_fast_path();
    test_escape_every_byte();
    arena_free(A);
    return T_DONE();
}
