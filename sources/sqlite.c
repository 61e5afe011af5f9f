/* sqlite.c - the SQLite source driver.
 *
 * Pipeline stage: sources (rows in). Opens a database file read-only (no URI
 * names, no creation), lists tables and views from sqlite_master, describes them
 * with pragma_table_xinfo and streams rows by stepping a prepared statement:
 * parameters are bound as text, nothing is allocated per row, values point into
 * SQLite's row buffer or into per-column scratch space until the next step.
 *
 * Values follow each value's storage class (SQLite is dynamically typed):
 * INTEGER -> NUMBER; REAL -> NUMBER in the shortest text that reads back to the
 * same double, integral values with ".0" ("3.0") so that a dynamic mapping sees
 * a float, +/-Infinity -> NULL plus a warning; TEXT -> STRING, raw bytes (invalid
 * UTF-8 is the writer's business); BLOB -> BINARY; NULL. The declared type of a
 * result column refines this: BOOLEAN/BOOL with 0 or 1 -> BOOL; JSON with text
 * that is strict JSON -> JSON (otherwise STRING); DATE/DATETIME/TIMESTAMP values
 * become ISO-8601 strings, or null with a warning (see "dates" below).
 *
 * Primary keys: the declared PRIMARY KEY columns, in key order. A rowid table
 * without a declared key reports npk = 0; its rowid is still selectable as the
 * column `rowid` (SELECT rowid, * ...), which a configuration can name as its id
 * column. Row estimates come from sqlite_stat1 when ANALYZE was run, else -1.
 *
 * It does not write, attach or create databases, and does not page with
 * LIMIT/OFFSET.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "base/json.h" /* json_parse: strict JSON validation */
#include "sources/source.h"

extern const src_driver src_sqlite_driver;

struct src_conn {
    sqlite3 *db;
    char *path;
    /* the last finished statement, kept prepared: relation chunks run the
     * same child query again and again, and preparing a query with hundreds
     * of parameters costs more than running it */
    sqlite3_stmt *cached;
    char *cached_sql;
};

/* What the derived mapping of a column accepts (see "fit" below). */
enum { FIT_ANY, FIT_NUMBER, FIT_BOOL, FIT_BINARY, FIT_DATE };

typedef struct col_state {
    int is_bool, is_json, fit;
    char text[48];        /* formatted number or date */
} col_state;

struct src_scan {
    src_conn *c;
    sqlite3_stmt *st;
    const char *sql;
    int ncols;
    col_state *cs;
    src_value *row;
    src_column *cols;
    arena *a;
    src_scan_stats stats;
    int done;
};

/* ---------------------------------------------------------------- helpers */

static int map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return DIAG_ETRANSIENT;
    case SQLITE_NOMEM: return DIAG_ENOMEM;
    default: return DIAG_EIO;
    }
}

static int fail_db(sqlite3 *db, int rc, const char *what, diag *d)
{
    diag_error(d, (src_loc){0}, "sqlite: %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    return map_rc(rc);
}

static int ascii_ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = b[i];
        if (x >= 'a' && x <= 'z') x = (char)(x - 32);
        if (y >= 'a' && y <= 'z') y = (char)(y - 32);
        if (x != y) return 0;
    }
    return 1;
}

/* 1 when the upper-cased word w occurs in s (case-insensitive). */
static int has_word(const char *s, const char *w)
{
    size_t n = strlen(w);
    for (; *s; s++)
        if (ascii_ieq(s, w, n)) return 1;
    return 0;
}

/* Base name of a declared type: "DATETIME(6)" -> DATETIME; compares the whole
 * base with w. */
static int type_is(const char *decl, const char *w)
{
    size_t n = strcspn(decl, " (");
    while (*decl == ' ') decl++, n = strcspn(decl, " (");
    return n == strlen(w) && ascii_ieq(decl, w, n);
}

/* Elasticsearch type for a declared type: special names first (BOOLEAN, JSON,
 * DATE/DATETIME/TIMESTAMP), then SQLite's affinity rules (INT -> long;
 * CHAR/CLOB/TEXT -> text; BLOB -> binary; REAL/FLOA/DOUB -> double; any other,
 * NUMERIC -> double). An empty declared type (no affinity) is keyword. */
static const char *es_type_of(const char *decl)
{
    if (!decl || !*decl) return "keyword";
    if (type_is(decl, "BOOLEAN") || type_is(decl, "BOOL")) return "boolean";
    if (type_is(decl, "JSON") || type_is(decl, "JSONB")) return "object";
    if (type_is(decl, "DATE") || type_is(decl, "DATETIME") || type_is(decl, "TIMESTAMP"))
        return "date";
    if (has_word(decl, "INT")) return "long";
    if (has_word(decl, "CHAR") || has_word(decl, "CLOB") || has_word(decl, "TEXT")) return "text";
    if (has_word(decl, "BLOB")) return "binary";
    return "double";
}

/* ---------------------------------------------------------------- dates
 *
 * A column declared DATE, DATETIME or TIMESTAMP gets the mapping `date`, and
 * its values hold SQLite's time values in any of SQLite's three forms
 * (https://sqlite.org/lang_datefunc.html). They are written as ISO-8601:
 *   TEXT     YYYY-MM-DD -> as is; YYYY-MM-DD HH:MM[:SS[.F...]] with a space or
 *            'T', optionally followed by Z or an offset [+-]HH:MM / [+-]HHMM /
 *            [+-]HH -> YYYY-MM-DDTHH:MM:SS[.F] then Z or the offset (no offset =
 *            UTC, as SQLite's own date functions assume; at most 9 fractional
 *            digits are kept); HH:MM[:SS[.F]] alone is on 2000-01-01 (SQLite's
 *            rule); surrounding spaces are ignored;
 *   INTEGER  unix epoch seconds (SQLite's 'unixepoch' modifier, strftime('%s'));
 *   REAL     a Julian day number (julianday()), to the millisecond.
 * Years 0000-9999 only, calendar dates checked (no February 30th). A value
 * that is none of these (other text, a BLOB, a date out of range) is written as
 * null with a warning: one odd value must never make the node reject the whole
 * document, which it does for a `date` field it cannot parse.
 */

static int digits(const char *p, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 1;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Civil date of days since 1970-01-01 (H. Hinnant's algorithm). */
static void civil_from_days(long long z, int *y, int *m, int *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long yy = (long long)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

static size_t put2(char *o, int v)
{
    o[0] = (char)('0' + v / 10 % 10);
    o[1] = (char)('0' + v % 10);
    return 2;
}

static size_t put_date(char *o, int y, int m, int d)
{
    size_t k = put2(o, y / 100);
    k += put2(o + k, y % 100);
    o[k++] = '-';
    k += put2(o + k, m);
    o[k++] = '-';
    k += put2(o + k, d);
    return k;
}

/* Milliseconds since the epoch -> out (>= 32 bytes); 0 when out of range. */
static size_t iso_from_ms(long long ms, char *out)
{
    /* 0000-01-01 .. 9999-12-31T23:59:59.999 */
    if (ms < -62167219200000LL || ms > 253402300799999LL) return 0;
    long long days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    long long rest = ms - days * 86400000;
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    size_t k = put_date(out, y, m, d);
    out[k++] = 'T';
    k += put2(out + k, (int)(rest / 3600000));
    out[k++] = ':';
    k += put2(out + k, (int)(rest / 60000 % 60));
    out[k++] = ':';
    k += put2(out + k, (int)(rest / 1000 % 60));
    if (rest % 1000) {
        int f = (int)(rest % 1000);
        out[k++] = '.';
        out[k++] = (char)('0' + f / 100);
        k += put2(out + k, f % 100);
    }
    out[k++] = 'Z';
    out[k] = '\0';
    return k;
}

/* SQLite's time-string forms -> ISO-8601 in out (>= 48 bytes); 0 when p is
 * not one of them. */
static size_t iso_date(const char *p, size_t n, char *out)
{
    while (n && (*p == ' ' || *p == '\t')) p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
    int y = 2000, mo = 1, d = 1, h = 0, mi = 0, s = 0;
    size_t i = 0, k = 0;
    int has_date = 0;
    if (n >= 10 && p[4] == '-' && p[7] == '-') {
        if (!digits(p, 4, &y) || !digits(p + 5, 2, &mo) || !digits(p + 8, 2, &d)) return 0;
        if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return 0;
        has_date = 1;
        i = 10;
        if (i == n) {
            k = put_date(out, y, mo, d);
            out[k] = '\0';
            return k;
        }
        if (p[i] != ' ' && p[i] != 'T' && p[i] != 't') return 0;
        i++;
    }
    /* HH:MM[:SS[.F]] */
    if (n - i < 5 || p[i + 2] != ':' || !digits(p + i, 2, &h) || !digits(p + i + 3, 2, &mi))
        return 0;
    i += 5;
    const char *frac = NULL;
    size_t nfrac = 0;
    if (i < n && p[i] == ':') {
        if (n - i < 3 || !digits(p + i + 1, 2, &s)) return 0;
        i += 3;
        if (i < n && p[i] == '.') {
            frac = p + ++i;
            while (i < n && p[i] >= '0' && p[i] <= '9') i++, nfrac++;
            if (!nfrac) return 0;
        }
    }
    if (h > 23 || mi > 59 || s > 59) return 0;
    (void)has_date;
    k = put_date(out, y, mo, d);
    out[k++] = 'T';
    k += put2(out + k, h);
    out[k++] = ':';
    k += put2(out + k, mi);
    out[k++] = ':';
    k += put2(out + k, s);
    if (nfrac) {
        out[k++] = '.';
        for (size_t f = 0; f < nfrac && f < 9; f++) out[k++] = frac[f];
    }
    while (i < n && p[i] == ' ') i++;
    if (i == n || ((p[i] == 'Z' || p[i] == 'z') && i + 1 == n)) {
        out[k++] = 'Z';
    } else if (p[i] == '+' || p[i] == '-') {
        int oh = 0, om = 0;
        size_t r = n - i - 1;
        const char *q = p + i + 1;
        if (r == 5 && q[2] == ':') {
            if (!digits(q, 2, &oh) || !digits(q + 3, 2, &om)) return 0;
        } else if (r == 4) {
            if (!digits(q, 2, &oh) || !digits(q + 2, 2, &om)) return 0;
        } else if (r == 2) {
            if (!digits(q, 2, &oh)) return 0;
        } else {
            return 0;
        }
        if (oh > 18 || om > 59) return 0;
        out[k++] = p[i];
        k += put2(out + k, oh);
        out[k++] = ':';
        k += put2(out + k, om);
    } else {
        return 0;
    }
    out[k] = '\0';
    return k;
}

/* A date column's value as ISO-8601 into cs->text: 1 done, 0 not a date. */
static int date_value(sqlite3_value *val, col_state *cs, src_value *v)
{
    size_t k = 0;
    switch (sqlite3_value_type(val)) {
    case SQLITE_TEXT:
        k = iso_date((const char *)sqlite3_value_text(val),
                                (size_t)sqlite3_value_bytes(val), cs->text);
        break;
    case SQLITE_INTEGER: {
        sqlite3_int64 x = sqlite3_value_int64(val);
        if (x > -62167219200LL && x < 253402300800LL) k = iso_from_ms((long long)x * 1000, cs->text);
        break;
    }
    case SQLITE_FLOAT: {
        double jd = sqlite3_value_double(val);
        if (isfinite(jd) && jd >= 1721059.5 && jd < 5373484.5)
            k = iso_from_ms(llround((jd - 2440587.5) * 86400000.0), cs->text);
        break;
    }
    default: break;
    }
    if (!k) return 0;
    v->kind = SRC_STRING;
    v->p = cs->text;
    v->n = k;
    return 1;
}

/* ---------------------------------------------------------------- formatting */

/* ---------------------------------------------------------------- dialect */

static int quote_ident(buf *out, const char *ident)
{
    int rc = buf_putc(out, '"');
    for (const char *p = ident; *p && rc == 0; p++) {
        if (*p == '"') rc = buf_putc(out, '"');
        if (rc == 0) rc = buf_putc(out, *p);
    }
    if (rc == 0) rc = buf_putc(out, '"');
    return rc;
}

static int placeholder(buf *out, int n)
{
    char t[24];
    t[0] = '?';
    size_t k = json_fmt_i64(t + 1, n); /* relation queries write hundreds per chunk */
    return buf_append(out, t, k + 1);
}

/* Values whose storage class is text, compared with BINARY (bytes). */
static int text_match(buf *out, src_text_op op, const char *col, const char *param)
{
    if (op != SRC_TEXT_EQUALS && op != SRC_TEXT_STARTS_WITH && op != SRC_TEXT_CONTAINS) return 0;
    if (!out) return 1;
    buf_printf(out, "typeof(%s) = 'text' AND ", col);
    switch (op) {
    case SRC_TEXT_EQUALS: buf_printf(out, "%s = %s COLLATE BINARY", col, param); break;
    case SRC_TEXT_STARTS_WITH: buf_printf(out, "instr(%s, %s) = 1", col, param); break;
    default: buf_printf(out, "instr(%s, %s) > 0", col, param); break;
    }
    return 1;
}

/* No Elastic connector exists for SQLite: PostgreSQL's scheme without
 * database and schema. */
static const char *const compat_fields[] = {"$table", "table", NULL};
static const src_compat_docs compat = {
    .id = "{{ $table }}_{{ $pk }}",
    .prefix = "{{ $table }}_",
    .lower = 1,
    .fields = compat_fields,
};

/* ---------------------------------------------------------------- scans */

static void end_scan(src_scan *s)
{
    if (!s) return;
    if (s->st) {
        src_conn *c = s->c;
        if (!c->cached && s->sql && sqlite3_reset(s->st) == SQLITE_OK) {
            sqlite3_clear_bindings(s->st);
            c->cached = s->st;
            c->cached_sql = strdup(s->sql);
            if (!c->cached_sql) {
                sqlite3_finalize(c->cached);
                c->cached = NULL;
            }
        } else {
            sqlite3_finalize(s->st);
        }
    }
    arena_free(s->a);
}

static int begin_scan(src_conn *c, const src_query *q, src_scan **out, diag *d)
{
    *out = NULL;
    arena *a = arena_new();
    if (!a) return DIAG_ENOMEM;
    src_scan *s = arena_alloc(a, sizeof *s);
    s->a = a;
    s->c = c;
    int rc = 0;
    const char *tail = NULL;
    int r = SQLITE_OK;
    if (c->cached && strcmp(c->cached_sql, q->sql) == 0) {
        s->st = c->cached;
        c->cached = NULL;
    } else {
        r = sqlite3_prepare_v2(c->db, q->sql, -1, &s->st, &tail);
    }
    free(c->cached_sql);
    c->cached_sql = NULL;
    if (c->cached) {
        sqlite3_finalize(c->cached);
        c->cached = NULL;
    }
    s->sql = arena_strdup(a, q->sql);
    if (r != SQLITE_OK) {
        rc = fail_db(c->db, r, "prepare", d);
        goto fail;
    }
    if (!s->st) {
        diag_error(d, (src_loc){0}, "sqlite: the query is empty");
        rc = DIAG_EINVAL;
        goto fail;
    }
    int np = sqlite3_bind_parameter_count(s->st);
    if (np != (q->nparams > 0 ? q->nparams : 0)) {
        diag_error(d, (src_loc){0}, "sqlite: the query has %d parameters, %d values given", np,
                   q->nparams);
        rc = DIAG_EINVAL;
        goto fail;
    }
    for (int i = 0; i < np; i++) {
        const char *v = q->params[i];
        r = v ? sqlite3_bind_text(s->st, i + 1, v, -1, SQLITE_TRANSIENT)
              : sqlite3_bind_null(s->st, i + 1);
        if (r != SQLITE_OK) {
            rc = fail_db(c->db, r, "bind", d);
            goto fail;
        }
    }
    s->ncols = sqlite3_column_count(s->st);
    if (s->ncols == 0) {
        diag_error(d, (src_loc){0}, "sqlite: the statement returns no rows");
        rc = DIAG_EINVAL;
        goto fail;
    }
    s->cs = arena_alloc(a, (size_t)s->ncols * sizeof *s->cs);
    s->row = arena_alloc(a, (size_t)s->ncols * sizeof *s->row);
    s->cols = arena_alloc(a, (size_t)s->ncols * sizeof *s->cols);
    for (int i = 0; i < s->ncols; i++) {
        const char *decl = sqlite3_column_decltype(s->st, i);
        const char *name = sqlite3_column_name(s->st, i);
        s->cols[i].name = arena_strdup(a, name ? name : "");
        s->cols[i].sql_type = arena_strdup(a, decl ? decl : "");
        s->cols[i].es_type = es_type_of(decl);
        s->cols[i].nullable = 1;
        s->cs[i].is_bool = decl && (type_is(decl, "BOOLEAN") || type_is(decl, "BOOL"));
        s->cs[i].is_json = decl && (type_is(decl, "JSON") || type_is(decl, "JSONB"));
        const char *et = s->cols[i].es_type;
        s->cs[i].fit = !strcmp(et, "date")                                ? FIT_DATE
                       : !strcmp(et, "long") || !strcmp(et, "double") ? FIT_NUMBER
                       : !strcmp(et, "boolean")                         ? FIT_BOOL
                       : !strcmp(et, "binary")                          ? FIT_BINARY
                                                                        : FIT_ANY;
    }
    *out = s;
    return 0;
fail:
    end_scan(s);
    return rc;
}

static int scan_columns(src_scan *s, const src_column **cols, int *n)
{
    *cols = s->cols;
    *n = s->ncols;
    return 0;
}

/* A value its column's derived mapping cannot hold: null plus a warning (the
 * first few with column and value). */
static void unfit(src_scan *s, int i, sqlite3_value *val, src_value *v, const char *what, diag *d)
{
    *v = (src_value){SRC_NULL, NULL, 0};
    s->stats.warn_column = i + 1;
    if (s->stats.warnings++ < 10 && d) {
        int blob = sqlite3_value_type(val) == SQLITE_BLOB;
        const char *t = blob ? "(a BLOB)" : (const char *)sqlite3_value_text(val);
        int n = blob ? 8 : sqlite3_value_bytes(val);
        diag_warning(d, (src_loc){0},
                     "sqlite: column '%s' (%s, mapped as %s): '%.*s' is not %s; written as null",
                     s->cols[i].name, s->cols[i].sql_type, s->cols[i].es_type, n > 60 ? 60 : n,
                     t ? t : "", what);
    }
}

/* SQLite stores any value in any column, but the node rejects a whole
 * document for one value its field's mapping cannot parse. A column whose
 * declared type derived a typed mapping keeps the values that mapping
 * accepts: numbers (and number text) for long/double, booleans (and
 * "true"/"false") for boolean; text in a binary column is written as its
 * bytes (base64). Anything else is null plus a warning. */
static void fit(src_scan *s, int i, sqlite3_value *val, src_value *v, diag *d)
{
    switch (s->cs[i].fit) {
    case FIT_NUMBER:
        if (v->kind == SRC_NUMBER) return;
        if (v->kind == SRC_STRING && json_is_number(v->p, v->n)) return;
        unfit(s, i, val, v, "a number", d);
        return;
    case FIT_BOOL:
        if (v->kind == SRC_BOOL) return;
        if (v->kind == SRC_STRING && ((v->n == 4 && !memcmp(v->p, "true", 4)) ||
                                      (v->n == 5 && !memcmp(v->p, "false", 5))))
            return;
        unfit(s, i, val, v, "a boolean (0, 1, 'true', 'false')", d);
        return;
    case FIT_BINARY:
        if (v->kind == SRC_BINARY) return;
        if (v->kind == SRC_STRING) {
            v->kind = SRC_BINARY;
            return;
        }
        unfit(s, i, val, v, "a BLOB or text", d);
        return;
    default: return;
    }
}

static int next_row(src_scan *s, const src_value **row, diag *d)
{
    if (s->done) return 0;
    int r = sqlite3_step(s->st);
    if (r == SQLITE_DONE) {
        s->done = 1;
        return 0;
    }
    if (r != SQLITE_ROW) return fail_db(s->c->db, r, "reading rows", d);
    sqlite3_stmt *st = s->st;
    for (int i = 0; i < s->ncols; i++) {
        src_value *v = &s->row[i];
        col_state *cs = &s->cs[i];
        /* one column lookup, then the value accessors (cheaper than a
         * sqlite3_column_* call per accessor) */
        sqlite3_value *val = sqlite3_column_value(st, i);
        if (cs->fit == FIT_DATE && sqlite3_value_type(val) != SQLITE_NULL) {
            if (!date_value(val, cs, v)) unfit(s, i, val, v, "a date SQLite knows", d);
            s->stats.bytes += v->n;
            continue;
        }
        switch (sqlite3_value_type(val)) {
        case SQLITE_INTEGER: {
            sqlite3_int64 x = sqlite3_value_int64(val);
            if (cs->is_bool && (x == 0 || x == 1)) {
                v->kind = SRC_BOOL;
                v->p = x ? "true" : "false";
                v->n = x ? 4 : 5;
            } else {
                v->kind = SRC_NUMBER;
                v->p = cs->text;
                v->n = json_fmt_i64(cs->text, x);
            }
            break;
        }
        case SQLITE_FLOAT: {
            double x = sqlite3_value_double(val);
            if (!isfinite(x)) {
                v->kind = SRC_NULL;
                v->p = NULL;
                v->n = 0;
                s->stats.warnings++;
                s->stats.warn_column = i + 1;
            } else {
                v->kind = SRC_NUMBER;
                v->p = cs->text;
                v->n = json_fmt_double(cs->text, x, 0);
            }
            break;
        }
        case SQLITE_TEXT: {
            const char *p = (const char *)sqlite3_value_text(val);
            size_t n = (size_t)sqlite3_value_bytes(val);
            v->kind = cs->is_json && json_parse(NULL, p, n, NULL) ? SRC_JSON : SRC_STRING;
            v->p = p ? p : "";
            v->n = n;
            break;
        }
        case SQLITE_BLOB: {
            const void *p = sqlite3_value_blob(val);
            v->kind = SRC_BINARY;
            v->n = (size_t)sqlite3_value_bytes(val);
            v->p = p ? p : "";
            break;
        }
        default:
            v->kind = SRC_NULL;
            v->p = NULL;
            v->n = 0;
            break;
        }
        if (cs->fit != FIT_ANY && v->kind != SRC_NULL) fit(s, i, val, v, d);
        s->stats.bytes += v->n;
    }
    s->stats.rows++;
    *row = s->row;
    return 1;
}

static const src_scan_stats *scan_stats(src_scan *s) { return &s->stats; }

/* ---------------------------------------------------------------- connection */

static void close_conn(src_conn *c)
{
    if (!c) return;
    if (c->cached) sqlite3_finalize(c->cached);
    free(c->cached_sql);
    if (c->db) sqlite3_close_v2(c->db);
    free(c->path);
    free(c);
}

static int open_conn(const src_config *cfg, src_conn **out, diag *d)
{
    *out = NULL;
    if (!cfg->path || !*cfg->path) {
        diag_error(d, (src_loc){0}, "sqlite: no database file given (path)");
        return DIAG_EINVAL;
    }
    struct stat sb;
    if (stat(cfg->path, &sb) != 0) {
        diag_error(d, (src_loc){0}, "sqlite: cannot open '%s': %s", cfg->path, strerror(errno));
        return DIAG_EIO;
    }
    if (!S_ISREG(sb.st_mode)) {
        diag_error(d, (src_loc){0}, "sqlite: cannot open '%s': not a regular file", cfg->path);
        return DIAG_EIO;
    }
    src_conn *c = calloc(1, sizeof *c);
    if (!c) return DIAG_ENOMEM;
    /* "file:..." is a plain file name here, even when SQLite was built with URIs on */
    size_t n = strlen(cfg->path);
    int dot = strncmp(cfg->path, "file:", 5) == 0;
    c->path = malloc(n + 3);
    if (!c->path) {
        free(c);
        return DIAG_ENOMEM;
    }
    memcpy(c->path, "./", dot ? 2 : 0);
    memcpy(c->path + (dot ? 2 : 0), cfg->path, n + 1);
    int r = sqlite3_open_v2(c->path, &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (r != SQLITE_OK) {
        diag_error(d, (src_loc){0}, "sqlite: cannot open '%s': %s", cfg->path,
                   c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(r));
        close_conn(c);
        return DIAG_EIO;
    }
    sqlite3_busy_timeout(c->db, 5000);
    /* reading the schema tells a database from any other file */
    r = sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    if (r != SQLITE_OK) {
        diag_error(d, (src_loc){0}, "sqlite: cannot read '%s': %s", cfg->path,
                   sqlite3_errmsg(c->db));
        close_conn(c);
        return DIAG_EIO;
    }
    *out = c;
    return 0;
}

static int ping_conn(src_conn *c, diag *d)
{
    int r = sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    if (r != SQLITE_OK) return fail_db(c->db, r, "ping", d);
    return 0;
}


/* "FROM <schema>.sqlite_master" text for an optional schema (attached name). */
static const char *master_of(arena *a, const char *schema)
{
    if (!schema || strcmp(schema, "main") == 0) return "sqlite_master";
    buf b = BUF_INIT;
    quote_ident(&b, schema);
    buf_puts(&b, ".sqlite_master");
    char *r = b.failed ? NULL : arena_strdup(a, b.data);
    buf_free(&b);
    return r ? r : "sqlite_master";
}

static int list_tables(src_conn *c, const char *schema, arena *a, const char ***names, int *n,
                       diag *d)
{
    src_name_list l = {a, NULL, 0, 0};
    char *sql = arena_printf(a,
                             "SELECT name FROM %s WHERE type IN ('table', 'view')"
                             " AND substr(name, 1, 7) <> 'sqlite_'",
                             master_of(a, schema));
    int rc = src_query_each(&src_sqlite_driver, c, sql, NULL, 0, src_name_list_add, &l, d);
    if (rc) return rc;
    src_name_list_sort(&l);
    *names = l.names;
    *n = l.n;
    return 0;
}

typedef struct desc_ctx {
    arena *a;
    src_table *t;
    int found, cap, maxpk;
} desc_ctx;

static int on_master(void *ctx, const src_value *row)
{
    desc_ctx *x = ctx;
    if (x->found) return 0;
    x->found = 1;
    x->t->name = src_value_dup(x->a, &row[0]);
    x->t->is_view = row[1].n == 4 && memcmp(row[1].p, "view", 4) == 0;
    return 0;
}

static long num_of(const src_value *v)
{
    if (v->kind != SRC_NUMBER) return 0;
    char tmp[32];
    size_t k = v->n < sizeof tmp - 1 ? v->n : sizeof tmp - 1;
    memcpy(tmp, v->p, k);
    tmp[k] = 0;
    return strtol(tmp, NULL, 10);
}

/* row: name, type, notnull, pk, hidden */
static int on_column(void *ctx, const src_value *row)
{
    desc_ctx *x = ctx;
    src_table *t = x->t;
    if (num_of(&row[4]) == 1) return 0; /* hidden column of a virtual table */
    if (t->ncols == x->cap) {
        int ncap = x->cap ? x->cap * 2 : 16;
        t->cols = arena_realloc(x->a, t->cols, (size_t)x->cap * sizeof *t->cols,
                                (size_t)ncap * sizeof *t->cols);
        x->cap = ncap;
    }
    src_column *col = &t->cols[t->ncols++];
    col->name = src_value_dup(x->a, &row[0]);
    if (!col->name) col->name = "";
    col->sql_type = row[1].kind == SRC_NULL ? "" : src_value_dup(x->a, &row[1]);
    col->es_type = es_type_of(col->sql_type);
    col->nullable = num_of(&row[2]) == 0;
    col->pk_pos = (int)num_of(&row[3]);
    if (col->pk_pos > x->maxpk) x->maxpk = col->pk_pos;
    return 0;
}

static int on_stat(void *ctx, const src_value *row)
{
    desc_ctx *x = ctx;
    if (row[0].kind != SRC_STRING || x->t->row_estimate >= 0) return 0;
    char tmp[32];
    size_t k = row[0].n < sizeof tmp - 1 ? row[0].n : sizeof tmp - 1;
    memcpy(tmp, row[0].p, k);
    tmp[k] = 0;
    char *end;
    long long v = strtoll(tmp, &end, 10);
    if (end != tmp && v >= 0) x->t->row_estimate = v;
    return 0;
}

static int on_exists(void *ctx, const src_value *row)
{
    (void)row;
    *(int *)ctx = 1;
    return 0;
}

static int describe(src_conn *c, const char *schema, const char *table, arena *a, src_table *out,
                    diag *d)
{
    memset(out, 0, sizeof *out);
    out->row_estimate = -1;
    out->schema = schema ? arena_strdup(a, schema) : NULL;
    desc_ctx x = {a, out, 0, 0, 0};
    const char *master = master_of(a, schema);
    const char *p1[] = {table};
    /* exact name first; SQLite names are case-insensitive */
    char *sql = arena_printf(a,
                             "SELECT name, type FROM %s WHERE type IN ('table', 'view')"
                             " AND name = ?1 COLLATE NOCASE ORDER BY name = ?1 DESC",
                             master);
    int rc = src_query_each(&src_sqlite_driver, c, sql, p1, 1, on_master, &x, d);
    if (rc) return rc;
    if (!x.found) {
        diag_error(d, (src_loc){0}, "sqlite: table '%s' not found", table);
        return DIAG_ENOTFOUND;
    }
    const char *p2[] = {out->name, schema ? schema : "main"};
    rc = src_query_each(&src_sqlite_driver, c,
                    "SELECT name, type, \"notnull\", pk, hidden FROM pragma_table_xinfo(?1, ?2)"
                    " ORDER BY cid",
                    p2, 2, on_column, &x, d);
    if (rc) return rc;
    out->pk = arena_alloc(a, (size_t)(out->ncols ? out->ncols : 1) * sizeof *out->pk);
    for (int k = 1; k <= x.maxpk; k++)
        for (int i = 0; i < out->ncols; i++)
            if (out->cols[i].pk_pos == k) out->pk[out->npk++] = i;
    /* row estimate from ANALYZE, when there is one */
    int have_stat = 0;
    sql = arena_printf(a, "SELECT 1 FROM %s WHERE type = 'table' AND name = 'sqlite_stat1'",
                       master);
    rc = src_query_each(&src_sqlite_driver, c, sql, NULL, 0, on_exists, &have_stat, d);
    if (rc) return rc;
    if (have_stat && !out->is_view) {
        const char *stat = master == NULL || strcmp(master, "sqlite_master") == 0
                               ? "sqlite_stat1"
                               : arena_printf(a, "%.*s.sqlite_stat1",
                                              (int)(strlen(master) - strlen(".sqlite_master")),
                                              master);
        sql = arena_printf(a, "SELECT stat FROM %s WHERE tbl = ?1 ORDER BY idx IS NOT NULL", stat);
        rc = src_query_each(&src_sqlite_driver, c, sql, p2, 1, on_stat, &x, d);
        if (rc) return rc;
    }
    return 0;
}

const src_driver src_sqlite_driver = {
    .version = SRC_DRIVER_VERSION,
    .name = "sqlite",
    .caps = 0,
    .compat = &compat,
    .quote_ident = quote_ident,
    .placeholder = placeholder,
    .text_match = text_match,
    .open = open_conn,
    .close = close_conn,
    .ping = ping_conn,
    .list_tables = list_tables,
    .describe = describe,
    .begin_scan = begin_scan,
    .scan_columns = scan_columns,
    .next = next_row,
    .stats = scan_stats,
    .end_scan = end_scan,
};
