/* interp.c - the row-to-document interpreter; see interp.h.
 *
 * Engine stage rows -> documents -> _bulk lines. One register: a load sets
 * it, transforms rewrite it, EMIT writes it. Values produced by transforms
 * live in two scratch buffers used alternately (the input of a transform is
 * never in the buffer it writes), so nothing is allocated per row once the
 * buffers have grown. Arrays (split, SQL arrays given as JSON) are vectors of
 * values whose bytes live in the scratch buffer of the array.
 * Not here: rule comparison (rules.c), binding (bind.c), reading rows.
 */
#include "engine/interp.h"
#include "engine/sql.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/md5.h"
#include "base/regex.h"

#define MAX_DETAILED_WARNINGS 10
#define ID_MAX 512
#define NOOFF ((size_t)-1)

/* Appends without a call when the capacity is there (the hot path). */
static inline int put(buf *b, const char *p, size_t n)
{
    if (b->len + n < b->cap && !b->failed) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    return buf_append(b, p, n);
}

static inline int put1(buf *b, char c)
{
    if (b->len + 1 < b->cap && !b->failed) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return 0;
    }
    return buf_append(b, &c, 1);
}

/* A JSON string: plain printable ASCII is copied in one go, anything else
 * goes through buf_json_str (escapes, UTF-8 check, replacement). */
static int put_str(buf *b, const char *p, size_t n, uint64_t *replaced)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;
    /* 8 bytes at a time: any byte < 0x20, >= 0x80, '"' or '\\'? */
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    for (; i + 8 <= n; i += 8) {
        uint64_t w, q, bs;
        memcpy(&w, s + i, 8);
        q = w ^ (ones * '"');
        bs = w ^ (ones * '\\');
        uint64_t bad = (w | ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & high;
        if (bad) break;
    }
    for (; i < n; i++)
        if (s[i] < 0x20 || s[i] >= 0x80 || s[i] == '"' || s[i] == '\\') break;
    if (i == n) {
        if (b->len + n + 2 >= b->cap || b->failed) {
            int rc = buf_reserve(b, n + 2);
            if (rc) return rc;
        }
        char *o = b->data + b->len;
        *o++ = '"';
        memcpy(o, p, n);
        o[n] = '"';
        b->len += n + 2;
        b->data[b->len] = '\0';
        return 0;
    }
    size_t rep = 0;
    int rc = buf_json_str(b, p, n, &rep);
    *replaced += rep;
    return rc;
}

typedef struct vec {
    src_value *v;
    int n, cap;
} vec;

typedef struct reg {
    src_value v;  /* scalar (when !arr) */
    int arr;      /* 1: the value is the array it->vec[slot] */
    int where;    /* where the bytes live: 0 stable (row, plan), 1 scratch 0, 2 scratch 1 */
} reg;

typedef struct rval {
    src_value v;
    size_t off;
    int set;
} rval;

struct eng_interp {
    const eng_bound_table *bt;
    diag *d;
    eng_interp_stats st;
    buf s[2];     /* scratch values */
    vec vec[2];   /* scratch arrays, paired with s[] */
    buf idb;      /* the row's _id */
    buf tmp;      /* key text, misc */
    buf rb;       /* rule values */
    rval *rv;     /* per rule slot */
    const src_value **rptr;
    const eng_child_set **children; /* per relation slot */
    const src_value *row;
    uint64_t row_warnings;
    const char *wcol; /* the source column of the value being written, or NULL */
    int detailed;
    int max_detailed; /* warnings itemised per table; -1: all */
    int reported; /* an error of this row is already in the diag */
    int unjudged; /* this row cannot be judged (see eng_doc_result) */
    int detailed_errors;
};

/* ----------------------------------------------------------- utilities */

static size_t seqlen(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;
    if (c < 0xE0) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0)) return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90)) return 0;
        return 4;
    }
    return 0;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static void trim_range(const char **p, size_t *n)
{
    const char *s = *p;
    size_t k = *n;
    while (k && is_ws(*s)) s++, k--;
    while (k && is_ws(s[k - 1])) k--;
    *p = s;
    *n = k;
}

static int b64(buf *o, const char *p, size_t n)
{
    size_t at = o->len;
    int rc = buf_json_base64(o, p, n);
    if (rc) return rc;
    /* drop the quotes */
    memmove(o->data + at, o->data + at + 1, o->len - at - 2);
    o->len -= 2;
    o->data[o->len] = '\0';
    return 0;
}

int eng_value_text(const src_value *v, buf *out)
{
    switch (v->kind) {
    case SRC_NULL: return 0;
    case SRC_BINARY: return b64(out, v->p, v->n);
    default: return put(out, v->p, v->n);
    }
}

static int is_json_array(const src_value *v)
{
    if (v->kind != SRC_JSON) return 0;
    const char *p = v->p;
    size_t n = v->n;
    trim_range(&p, &n);
    return n && p[0] == '[';
}

static int vec_push(vec *a, src_value v)
{
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 16;
        src_value *nv = realloc(a->v, sizeof *nv * (size_t)cap);
        if (!nv) return DIAG_ENOMEM;
        a->v = nv;
        a->cap = cap;
    }
    a->v[a->n++] = v;
    return 0;
}

/* The register's bytes are in scratch `where-1`; write into the other one. */
static int target_of(const reg *r) { return r->where == 1 ? 1 : 0; }

static void row_key(eng_interp *it, buf *o)
{
    if (it->idb.len) buf_append(o, it->idb.data, it->idb.len);
    else buf_puts(o, "?");
}

/* Itemise one value warning (the first max_detailed of the table, then a
 * note that the rest are only counted). col may be NULL, p too. */
static void detail(eng_interp *it, const char *col, const char *what, const char *p, size_t n)
{
    if (!it->d || (it->max_detailed >= 0 && it->detailed >= it->max_detailed)) return;
    it->detailed++;
    const eng_bound_table *bt = it->bt;
    const char *conn = bt->conn && bt->conn->id ? bt->conn->id : "?";
    diag_warning(it->d, (src_loc){0}, "connector '%s' > table '%s' > row '%.*s'%s%s%s: %s", conn,
                 bt->st->name, (int)(it->idb.len > 200 ? 200 : it->idb.len),
                 it->idb.data ? it->idb.data : "?", col ? " > column '" : "", col ? col : "",
                 col ? "'" : "", what);
    if (p) diag_hint(it->d, "value '%.*s'", n > 60 ? 60 : (int)n, p);
    if (it->detailed == it->max_detailed)
        diag_warning(it->d, (src_loc){0},
                     "connector '%s' > table '%s': further value warnings are only counted "
                     "(sync -v itemises them all)", conn, bt->st->name);
}

static void warn(eng_interp *it, const char *what, const char *p, size_t n)
{
    it->st.warnings++;
    it->row_warnings++;
    detail(it, it->wcol, what, p, n);
}

/* rep invalid UTF-8 sequences replaced in a value of column col (or the _id). */
static void replaced(eng_interp *it, uint64_t rep, const char *col)
{
    it->st.utf8_replaced += rep;
    it->st.warnings += rep;
    it->row_warnings += rep;
    detail(it, col, "invalid UTF-8 replaced by U+FFFD", NULL, 0);
}

static int fail(eng_interp *it, int rc, const char *what)
{
    if (it->reported) return rc ? rc : DIAG_EINVAL;
    it->reported = 1;
    it->st.errors++;
    if (it->d) {
        const eng_bound_table *bt = it->bt;
        buf k = BUF_INIT;
        row_key(it, &k);
        diag_error(it->d, (src_loc){0}, "connector '%s' > table '%s' > row '%s': %s",
                   bt->conn && bt->conn->id ? bt->conn->id : "?", bt->st->name,
                   k.data ? k.data : "?", what);
        buf_free(&k);
    }
    return rc ? rc : DIAG_EINVAL;
}

/* The row cannot be judged (a regex hit its match limit): an error of this
 * row, itemised (the first MAX_DETAILED_WARNINGS, then counted), never "no
 * match". eng_write_doc turns it into res->unjudged. */
static int unjudged(eng_interp *it, const char *what, const char *pattern, src_loc loc,
                    const char *why)
{
    if (it->reported) return DIAG_ELIMIT;
    it->reported = 1;
    it->unjudged = 1;
    it->st.errors++;
    it->st.unjudged++;
    if (!it->d || it->detailed_errors > MAX_DETAILED_WARNINGS) return DIAG_ELIMIT;
    const eng_bound_table *bt = it->bt;
    const char *cid = bt->conn && bt->conn->id ? bt->conn->id : "?";
    if (it->detailed_errors++ == MAX_DETAILED_WARNINGS) {
        diag_error(it->d, (src_loc){0},
                   "connector '%s' > table '%s': further rows that could not be judged are only counted",
                   cid, bt->st->name);
        return DIAG_ELIMIT;
    }
    diag_error(it->d, loc, "connector '%s' > table '%s' > row '%.*s': %s /%s/ could not be evaluated: %s",
               cid, bt->st->name, (int)(it->idb.len > 200 ? 200 : it->idb.len),
               it->idb.data ? it->idb.data : "?", what, pattern ? pattern : "", why);
    diag_hint(it->d, "the row is neither indexed nor filtered out (and a full sync keeps its "
                     "document); simplify the pattern (nested quantifiers backtrack exponentially)");
    return DIAG_ELIMIT;
}

/* ------------------------------------------------------------ case maps */

static unsigned cp_lower(unsigned c)
{
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 0x20;
    if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
        return c | 1;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c + 1 : c;
    if (c == 0x178) return 0xFF;
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 0x20;
    if (c >= 0x410 && c <= 0x42F) return c + 0x20;
    if (c >= 0x400 && c <= 0x40F) return c + 0x50;
    return c;
}

static unsigned cp_upper(unsigned c)
{
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 0x20;
    if (c == 0xFF) return 0x178;
    if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
        return c & ~1u;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c : c - 1;
    if (c == 0x3C2) return 0x3A3;
    if (c >= 0x3B1 && c <= 0x3C9) return c - 0x20;
    if (c >= 0x430 && c <= 0x44F) return c - 0x20;
    if (c >= 0x450 && c <= 0x45F) return c - 0x50;
    return c;
}

/* lower/upper: ASCII, Latin-1, Latin Extended-A, basic Greek and Cyrillic
 * (all two-byte sequences, so lengths never change); other bytes copied. */
static int case_map(buf *o, const char *p, size_t n, int upper)
{
    int rc = buf_reserve(o, n);
    if (rc) return rc;
    unsigned char *d = (unsigned char *)o->data + o->len;
    const unsigned char *s = (const unsigned char *)p;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (upper && c >= 'a' && c <= 'z') c = (unsigned char)(c - 32);
            else if (!upper && c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
            d[i++] = c;
        } else if (c >= 0xC2 && c < 0xE0 && i + 1 < n && (s[i + 1] & 0xC0) == 0x80) {
            unsigned cp = (unsigned)(c & 0x1F) << 6 | (s[i + 1] & 0x3F);
            unsigned m = upper ? cp_upper(cp) : cp_lower(cp);
            if (m < 0x80 || m >= 0x800) m = cp; /* never change the length */
            d[i] = (unsigned char)(0xC0 | m >> 6);
            d[i + 1] = (unsigned char)(0x80 | (m & 0x3F));
            i += 2;
        } else {
            d[i] = c;
            i++;
        }
    }
    o->len += n;
    o->data[o->len] = '\0';
    return 0;
}

/* ------------------------------------------------------------ transforms */

static int word_eq(const char *p, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(p, w, n) == 0;
}

/* One scalar transform. On return either *off == NOOFF and out is valid
 * (input passed through, a sub-range of it, or a constant), or the value's
 * bytes start at o->data + *off (out->p is set by the caller). */
static int xf(eng_interp *it, const plan_op *op, const eng_bop *b, const src_value *in, buf *o,
              src_value *out, size_t *off)
{
    *out = *in;
    *off = NOOFF;
    if (in->kind == SRC_NULL && op->op != PLAN_OP_DEFAULT) return 0;
    int rc = 0;
    switch (op->op) {
    case PLAN_OP_TRIM:
        if (in->kind == SRC_STRING) trim_range(&out->p, &out->n);
        break;
    case PLAN_OP_LOWER:
    case PLAN_OP_UPPER:
        if (in->kind != SRC_STRING) break;
        *off = o->len;
        rc = case_map(o, in->p, in->n, op->op == PLAN_OP_UPPER);
        break;
    case PLAN_OP_REGEX_EXTRACT: {
        *off = o->len;
        rc = eng_regex_extract(op->re, in->p, in->n, op->n, o);
        if (rc == DIAG_ENOMEM) return fail(it, rc, "out of memory in regex_extract");
        if (rc < 0)
            return unjudged(it, "transform regex_extract", op->pattern, op->loc, eng_regex_error(op->re));
        out->kind = rc == 1 ? SRC_STRING : SRC_NULL;
        out->n = o->len - *off;
        if (rc == 0) *off = NOOFF, out->p = NULL;
        return 0;
    }
    case PLAN_OP_REGEX_REPLACE:
        if (in->kind == SRC_BINARY || in->kind == SRC_JSON) break;
        *off = o->len;
        rc = eng_regex_replace(op->re, in->p, in->n, op->s ? op->s : "", o);
        if (rc == DIAG_ENOMEM) return fail(it, rc, "out of memory in regex_replace");
        if (rc < 0)
            return unjudged(it, "transform regex_replace", op->pattern, op->loc, eng_regex_error(op->re));
        out->kind = SRC_STRING;
        break;
    case PLAN_OP_DEFAULT:
        if (in->kind == SRC_NULL) *out = b->lit;
        break;
    case PLAN_OP_TO_NUMBER:
        if (in->kind == SRC_NUMBER) break;
        if (in->kind == SRC_BOOL) {
            out->kind = SRC_NUMBER;
            out->p = in->p[0] == 't' ? "1" : "0";
            out->n = 1;
            break;
        }
        trim_range(&out->p, &out->n);
        if (in->kind == SRC_STRING && out->n == 0) {
            out->kind = SRC_NULL;
        } else if (json_is_number(out->p, out->n)) {
            out->kind = SRC_NUMBER;
        } else {
            it->st.coercions++;
            warn(it, "to_number: not a number, written as null", in->p, in->n);
            *out = (src_value){SRC_NULL, NULL, 0};
        }
        break;
    case PLAN_OP_TO_STRING:
        if (in->kind == SRC_BINARY) {
            *off = o->len;
            rc = b64(o, in->p, in->n);
        }
        out->kind = SRC_STRING;
        break;
    case PLAN_OP_TO_BOOL: {
        if (in->kind == SRC_BOOL) break;
        const char *p = in->p;
        size_t n = in->n;
        trim_range(&p, &n);
        int v = -1;
        if (in->kind == SRC_NUMBER && json_is_number(p, n)) {
            v = 0;
            for (size_t i = 0; i < n && p[i] != 'e' && p[i] != 'E'; i++)
                if (p[i] >= '1' && p[i] <= '9') v = 1;
        } else if (in->kind == SRC_STRING && n == 0) {
            *out = (src_value){SRC_NULL, NULL, 0};
            break;
        } else if (word_eq(p, n, "true") || word_eq(p, n, "t") || word_eq(p, n, "yes") ||
                   word_eq(p, n, "y") || word_eq(p, n, "1") || word_eq(p, n, "on")) {
            v = 1;
        } else if (word_eq(p, n, "false") || word_eq(p, n, "f") || word_eq(p, n, "no") ||
                   word_eq(p, n, "n") || word_eq(p, n, "0") || word_eq(p, n, "off")) {
            v = 0;
        }
        if (v < 0) {
            it->st.coercions++;
            warn(it, "to_bool: not a boolean, written as null", in->p, in->n);
            *out = (src_value){SRC_NULL, NULL, 0};
        } else {
            *out = (src_value){SRC_BOOL, v ? "true" : "false", v ? 4u : 5u};
        }
        break;
    }
    case PLAN_OP_PARSE_JSON:
        if (in->kind != SRC_STRING && in->kind != SRC_BINARY) break;
        trim_range(&out->p, &out->n);
        if (out->n == 0) {
            *out = (src_value){SRC_NULL, NULL, 0};
        } else if (json_parse(NULL, out->p, out->n, NULL)) {
            out->kind = SRC_JSON;
        } else {
            it->st.coercions++;
            warn(it, "parse_json: invalid JSON, written as null", in->p, in->n);
            *out = (src_value){SRC_NULL, NULL, 0};
        }
        break;
    case PLAN_OP_TRUNCATE: {
        if (in->kind != SRC_STRING || op->n < 0) break;
        const unsigned char *s = (const unsigned char *)in->p;
        size_t i = 0, chars = 0, lim = (size_t)op->n;
        if (in->n <= lim) break; /* bytes >= characters */
        while (i < in->n && chars < lim) {
            size_t k = seqlen(s + i, in->n - i);
            i += k ? k : 1;
            chars++;
        }
        out->n = i;
        break;
    }
    default: break;
    }
    if (rc < 0) return fail(it, rc, "out of memory in a transform");
    if (*off != NOOFF) out->n = o->len - *off;
    return 0;
}

/* The register as a JSON array value (SQL arrays) -> vector in target t. */
static int explode(eng_interp *it, reg *r)
{
    int t = target_of(r);
    buf *o = &it->s[t];
    vec *vv = &it->vec[t];
    buf_reset(o);
    vv->n = 0;
    const char *p = r->v.p, *end = r->v.p + r->v.n;
    while (p < end && is_ws(*p)) p++;
    p++; /* [ */
    int rc = 0;
    for (;;) {
        while (p < end && is_ws(*p)) p++;
        if (p >= end || *p == ']') break;
        size_t k = json_skip(p, (size_t)(end - p));
        if (!k) break;
        src_value v = {SRC_JSON, NULL, 0};
        size_t at = o->len;
        if (*p == '"') {
            v.kind = SRC_STRING;
            rc = json_unescape(p, k, o);
        } else {
            v.kind = *p == 'n' ? SRC_NULL : (*p == 't' || *p == 'f') ? SRC_BOOL
                     : (*p == '{' || *p == '[')                     ? SRC_JSON
                                                                    : SRC_NUMBER;
            rc = buf_append(o, p, k);
        }
        if (rc) break;
        v.n = o->len - at;
        v.p = (const char *)(uintptr_t)at; /* resolved below */
        if ((rc = vec_push(vv, v))) break;
        p += k;
        while (p < end && is_ws(*p)) p++;
        if (p < end && *p == ',') p++;
    }
    if (rc) return fail(it, rc, "out of memory expanding an array");
    for (int i = 0; i < vv->n; i++) {
        if (vv->v[i].kind == SRC_NULL) vv->v[i].p = NULL;
        else vv->v[i].p = o->data + (uintptr_t)vv->v[i].p;
    }
    r->arr = 1;
    r->where = t + 1;
    return 0;
}

static int write_value(buf *o, const src_value *v, uint64_t *replaced)
{
    switch (v->kind) {
    case SRC_NULL: return put(o, "null", 4);
    case SRC_STRING: return put_str(o, v->p, v->n, replaced);
    case SRC_BINARY: return buf_json_base64(o, v->p, v->n);
    default: return put(o, v->p, v->n);
    }
}

static int write_reg(eng_interp *it, buf *o, const reg *r)
{
    uint64_t rep = 0;
    int rc;
    if (!r->arr) {
        rc = write_value(o, &r->v, &rep);
    } else {
        const vec *vv = &it->vec[r->where - 1];
        rc = buf_putc(o, '[');
        for (int i = 0; i < vv->n && !rc; i++) {
            if (i) buf_putc(o, ',');
            rc = write_value(o, &vv->v[i], &rep);
        }
        if (!rc) rc = buf_putc(o, ']');
    }
    if (rep) replaced(it, rep, it->wcol);
    return rc;
}

static int apply(eng_interp *it, const plan_op *op, const eng_bop *b, reg *r)
{
    int t = target_of(r), rc = 0;
    buf *o = &it->s[t];
    vec *vv = &it->vec[t];
    switch (op->op) {
    case PLAN_OP_SPLIT: {
        if (r->arr || r->v.kind == SRC_NULL) return 0;
        if (r->v.kind == SRC_JSON && is_json_array(&r->v)) return explode(it, r);
        buf_reset(o);
        vv->n = 0;
        if ((rc = eng_value_text(&r->v, o))) break;
        const char *sep = op->s ? op->s : "";
        size_t sl = strlen(sep), n = o->len, start = 0;
        if (n == 0) {
            r->arr = 1;
            r->where = t + 1;
            return 0;
        }
        for (size_t i = 0; i <= n;) {
            if (i == n || (sl && i + sl <= n && memcmp(o->data + i, sep, sl) == 0)) {
                if ((rc = vec_push(vv, (src_value){SRC_STRING, NULL, i - start}))) break;
                vv->v[vv->n - 1].p = (const char *)(uintptr_t)start;
                if (i == n) break;
                i += sl;
                start = i;
            } else {
                i++;
            }
        }
        if (rc) break;
        for (int i = 0; i < vv->n; i++) vv->v[i].p = o->data + (uintptr_t)vv->v[i].p;
        r->arr = 1;
        r->where = t + 1;
        return 0;
    }
    case PLAN_OP_JOIN: {
        if (!r->arr && is_json_array(&r->v)) {
            if ((rc = explode(it, r))) return rc;
            t = target_of(r);
            o = &it->s[t];
        }
        if (!r->arr) {
            if (r->v.kind != SRC_NULL && r->v.kind != SRC_STRING) {
                buf_reset(o);
                if ((rc = eng_value_text(&r->v, o))) break;
                r->v = (src_value){SRC_STRING, o->data, o->len};
                r->where = t + 1;
            }
            return 0;
        }
        const vec *in = &it->vec[r->where - 1];
        buf_reset(o);
        int first = 1;
        for (int i = 0; i < in->n && !rc; i++) {
            if (in->v[i].kind == SRC_NULL) continue;
            if (!first) rc = buf_puts(o, op->s ? op->s : "");
            first = 0;
            if (!rc) rc = eng_value_text(&in->v[i], o);
        }
        if (rc) break;
        r->arr = 0;
        r->v = (src_value){SRC_STRING, o->data ? o->data : "", o->len};
        r->where = t + 1;
        return 0;
    }
    default: break;
    }
    if (rc) return fail(it, rc, "out of memory in a transform");

    if (!r->arr && is_json_array(&r->v) && op->op != PLAN_OP_DEFAULT &&
        op->op != PLAN_OP_TO_STRING && op->op != PLAN_OP_PARSE_JSON) {
        if ((rc = explode(it, r))) return rc;
        t = target_of(r);
        o = &it->s[t];
        vv = &it->vec[t];
    }
    if (!r->arr) {
        src_value out;
        size_t off;
        buf_reset(o);
        if ((rc = xf(it, op, b, &r->v, o, &out, &off))) return rc;
        if (off != NOOFF) {
            out.p = o->data + off;
            r->where = t + 1;
        }
        r->v = out;
        return 0;
    }
    if (op->op == PLAN_OP_TO_STRING) { /* an array as its JSON text */
        buf_reset(o);
        if ((rc = write_reg(it, o, r))) return fail(it, rc, "out of memory");
        r->arr = 0;
        r->v = (src_value){SRC_STRING, o->data, o->len};
        r->where = t + 1;
        return 0;
    }
    /* element-wise: every element is copied into the target */
    const vec *in = &it->vec[r->where - 1];
    buf_reset(o);
    vv->n = 0;
    for (int i = 0; i < in->n; i++) {
        src_value out;
        size_t off;
        if ((rc = xf(it, op, b, &in->v[i], o, &out, &off))) return rc;
        if (off == NOOFF && out.kind != SRC_NULL) {
            off = o->len;
            if ((rc = buf_append(o, out.p, out.n))) return fail(it, rc, "out of memory");
        }
        out.p = (const char *)(uintptr_t)off;
        if ((rc = vec_push(vv, out))) return fail(it, rc, "out of memory");
    }
    for (int i = 0; i < vv->n; i++)
        vv->v[i].p = vv->v[i].kind == SRC_NULL ? NULL : o->data + (uintptr_t)vv->v[i].p;
    r->where = t + 1;
    return 0;
}

/* ------------------------------------------------------------ templates */

static int key_text(const eng_bound_doc *bd, const src_value *row, buf *o)
{
    for (int i = 0; i < bd->nkeys; i++) {
        if (i) put1(o, '_');
        int rc = eng_value_text(&row[bd->keys[i]], o);
        if (rc) return rc;
    }
    return o->failed ? DIAG_ENOMEM : 0;
}

static const src_value *child_rows_of(eng_interp *it, const eng_bound_relation *br,
                                      const src_value *row, int *n, const src_value *const **rows);

static int render(eng_interp *it, const eng_bound_doc *bd, const eng_btpl *t, const src_value *row,
                  buf *o)
{
    int rc = 0;
    for (int i = 0; i < t->tpl->nparts && !rc; i++) {
        const plan_tpl_part *p = &t->tpl->parts[i];
        switch (p->kind) {
        case PLAN_TPL_LIT: rc = buf_puts(o, p->text); break;
        case PLAN_TPL_COL: rc = eng_value_text(&row[t->col[i]], o); break;
        case PLAN_TPL_PK: rc = key_text(bd, row, o); break;
        case PLAN_TPL_REL: { /* {{ album.title }}: the many-to-one object's column */
            int n = 0;
            const src_value *const *rows = NULL;
            if (t->col[i] >= 0) child_rows_of(it, &bd->rels[p->rel], row, &n, &rows);
            if (n) rc = eng_value_text(&rows[0][t->col[i]], o);
            break;
        }
        case PLAN_TPL_VAR:
            if (t->var[i] == ENG_VAR_ID) rc = buf_append(o, it->idb.data, it->idb.len);
            else if (t->var[i] >= 0 && bd->vars[t->var[i]]) rc = buf_puts(o, bd->vars[t->var[i]]);
            break;
        }
    }
    return rc;
}

static int compute_id(eng_interp *it, const src_value *row)
{
    const eng_bound_table *bt = it->bt;
    buf_reset(&it->idb);
    int rc = bt->id.tpl ? render(it, &bt->doc, &bt->id, row, &it->idb)
                        : key_text(&bt->doc, row, &it->idb);
    if (rc) return fail(it, rc, "out of memory rendering the _id");
    /* the node counts the bytes of the _id it receives: invalid UTF-8 bytes
     * arrive as U+FFFD (3 bytes each), so measure the id as it will be sent */
    size_t replaced = 0;
    buf probe = BUF_INIT;
    if (it->idb.len <= ID_MAX && !utf8_valid(it->idb.data ? it->idb.data : "", it->idb.len)) {
        if (buf_json_str(&probe, it->idb.data, it->idb.len, &replaced) != 0) {
            buf_free(&probe);
            return fail(it, DIAG_ENOMEM, "out of memory rendering the _id");
        }
    }
    buf_free(&probe);
    if (it->idb.len + 2 * replaced > ID_MAX) {
        char hex[33];
        eng_md5_hex(it->idb.data, it->idb.len, hex);
        buf_reset(&it->idb);
        buf_append(&it->idb, hex, 32);
    }
    if (!it->idb.data) buf_append(&it->idb, "", 0);
    return 0;
}

/* --------------------------------------------------------------- program */

static const src_value *child_rows_of(eng_interp *it, const eng_bound_relation *br,
                                      const src_value *row, int *n, const src_value *const **rows);

static void record_rule(eng_interp *it, int slot, const reg *r)
{
    rval *x = &it->rv[slot];
    x->set = 1;
    x->off = it->rb.len;
    if (r->arr) {
        write_reg(it, &it->rb, r);
        x->v.kind = SRC_JSON;
    } else {
        x->v.kind = r->v.kind;
        if (r->v.kind == SRC_BINARY) b64(&it->rb, r->v.p, r->v.n);
        else if (r->v.n) buf_append(&it->rb, r->v.p, r->v.n);
    }
    x->v.n = it->rb.len - x->off;
}

static void record_value(eng_interp *it, int slot, const src_value *v)
{
    reg r = {*v, 0, 0};
    record_rule(it, slot, &r);
}

static int run_doc(eng_interp *it, const eng_bound_doc *bd, const src_value *row, buf *out,
                   int top);

static int write_relation(eng_interp *it, const eng_bound_relation *br, const src_value *row,
                          buf *out)
{
    int n = 0, rc = 0;
    const src_value *const *rows = NULL;
    child_rows_of(it, br, row, &n, &rows);
    if (it->tmp.failed) return DIAG_ENOMEM; /* the parent's key could not be built */
    if (br->rel->one) {
        if (n == 0) return buf_append(out, "null", 4);
        return run_doc(it, &br->doc, rows[0], out, 0);
    }
    rc = buf_putc(out, '[');
    for (int i = 0; i < n && !rc; i++) {
        if (i) buf_putc(out, ',');
        rc = run_doc(it, &br->doc, rows[i], out, 0);
    }
    if (!rc) rc = buf_putc(out, ']');
    return rc;
}

static int run_doc(eng_interp *it, const eng_bound_doc *bd, const src_value *row, buf *out,
                   int top)
{
    const plan_doc *doc = bd->doc;
    const int omit = it->bt->pt->omit_nulls;
    int first = 1, rc = 0;
    reg r = {{SRC_NULL, NULL, 0}, 0, 0};
    rc = put1(out, '{');
    for (int i = 0; i < doc->nops && !rc; i++) {
        const plan_op *op = &doc->ops[i];
        const eng_bop *b = &bd->ops[i];
        switch (op->op) {
        case PLAN_OP_LOAD_COL:
            r.v = row[b->col];
            r.arr = r.where = 0;
            it->wcol = bd->st ? bd->st->cols[b->col].name : NULL;
            break;
        case PLAN_OP_LOAD_CONST:
            r.v = b->lit;
            r.arr = r.where = 0;
            it->wcol = NULL;
            break;
        case PLAN_OP_LOAD_VAR:
            it->wcol = NULL;
            r.arr = r.where = 0;
            if (b->var == ENG_VAR_ID)
                r.v = (src_value){SRC_STRING, it->idb.data, it->idb.len};
            else
                r.v = (src_value){SRC_STRING, bd->vars[b->var], strlen(bd->vars[b->var])};
            break;
        case PLAN_OP_LOAD_TPL:
            it->wcol = NULL;
            buf_reset(&it->s[0]);
            if ((rc = render(it, bd, &b->tpl, row, &it->s[0]))) break;
            r.v = (src_value){SRC_STRING, it->s[0].data ? it->s[0].data : "", it->s[0].len};
            r.arr = 0;
            r.where = 1;
            break;
        case PLAN_OP_EMIT:
            if (omit && !r.arr && r.v.kind == SRC_NULL) break;
            if (!first) put1(out, ',');
            first = 0;
            put(out, b->key, b->keylen);
            rc = write_reg(it, out, &r);
            if (top && b->rslot >= 0) record_rule(it, b->rslot, &r);
            break;
        case PLAN_OP_OBJ_BEGIN:
            if (!first) put1(out, ',');
            put(out, b->key, b->keylen);
            rc = put1(out, '{');
            first = 1;
            break;
        case PLAN_OP_OBJ_END:
            rc = put1(out, '}');
            first = 0;
            break;
        case PLAN_OP_COPY_COLUMNS: {
            uint64_t rep = 0;
            for (int k = 0; k < b->nccols && !rc; k++) {
                const src_value *v = &row[b->ccols[k]];
                if (omit && v->kind == SRC_NULL) continue;
                if (!first) put1(out, ',');
                first = 0;
                put(out, b->ckeys[k], b->ckeylens[k]);
                rc = write_value(out, v, &rep);
                if (top && b->crslot && b->crslot[k] >= 0) record_value(it, b->crslot[k], v);
                if (rep) {
                    replaced(it, rep, bd->st ? bd->st->cols[b->ccols[k]].name : NULL);
                    rep = 0;
                }
            }
            break;
        }
        case PLAN_OP_RELATION:
            if (!first) put1(out, ',');
            first = 0;
            put(out, b->key, b->keylen);
            rc = write_relation(it, &bd->rels[op->n], row, out);
            break;
        default:
            rc = apply(it, op, b, &r);
            break;
        }
    }
    if (!rc) rc = put1(out, '}');
    if (!rc) rc = buf_error(out);
    return rc;
}

/* ------------------------------------------------------------ public API */

eng_interp *eng_interp_new(const eng_bound_table *bt, diag *d)
{
    eng_interp *it = calloc(1, sizeof *it);
    if (!it) return NULL;
    it->bt = bt;
    it->d = d;
    it->max_detailed = MAX_DETAILED_WARNINGS;
    it->rv = calloc((size_t)bt->nslots + 1, sizeof *it->rv);
    it->rptr = calloc((size_t)bt->nrules + 1, sizeof *it->rptr);
    it->children = calloc((size_t)bt->nrel_slots + 1, sizeof *it->children);
    if (!it->rv || !it->rptr || !it->children) {
        eng_interp_free(it);
        return NULL;
    }
    return it;
}

void eng_interp_free(eng_interp *it)
{
    if (!it) return;
    for (int i = 0; i < 2; i++) {
        buf_free(&it->s[i]);
        free(it->vec[i].v);
    }
    buf_free(&it->idb);
    buf_free(&it->tmp);
    buf_free(&it->rb);
    free(it->rv);
    free(it->rptr);
    free(it->children);
    free(it);
}

void eng_interp_set_detail(eng_interp *it, int max) { it->max_detailed = max; }

const eng_interp_stats *eng_interp_stats_get(const eng_interp *it) { return &it->st; }

void eng_interp_set_children(eng_interp *it, const eng_bound_relation *br,
                             const eng_child_set *cs)
{
    if (br && br->slot >= 0 && br->slot < it->bt->nrel_slots) it->children[br->slot] = cs;
}

static int is_true_flag(const src_value *v)
{
    switch (v->kind) {
    case SRC_BOOL: return v->p[0] == 't';
    case SRC_NUMBER:
        for (size_t i = 0; i < v->n; i++)
            if (v->p[i] >= '1' && v->p[i] <= '9') return 1;
        return 0;
    case SRC_STRING: return word_eq(v->p, v->n, "1") || word_eq(v->p, v->n, "t") ||
                            word_eq(v->p, v->n, "true");
    default: return 0;
    }
}

static int write_action(eng_interp *it, buf *out, const char *head)
{
    const eng_bound_table *bt = it->bt;
    int del = head == bt->delete_head;
    put(out, head, del ? bt->delete_head_len : bt->action_head_len);
    uint64_t rep = 0;
    put_str(out, it->idb.data, it->idb.len, &rep);
    if (rep) replaced(it, rep, "_id");
    return del ? put(out, "}}\n", 3) : put(out, bt->action_tail, bt->action_tail_len);
}

/* A document (or delete) that could not be written: out of memory, or
 * beyond the output buffer's bound. */
static int fail_write(eng_interp *it, int rc, int buf_rc)
{
    if (!rc) rc = buf_rc;
    return fail(it, rc, rc == DIAG_ENOMEM ? "out of memory while writing the document"
                                          : "document does not fit in the output buffer");
}

int eng_write_delete(eng_interp *it, const src_value *row, buf *out, eng_doc_result *res)
{
    size_t start = out->len;
    memset(res, 0, sizeof *res);
    it->row = row;
    it->row_warnings = 0;
    it->reported = 0;
    int rc = compute_id(it, row);
    if (rc) return rc;
    rc = write_action(it, out, it->bt->delete_head);
    if (rc || out->failed) {
        int buf_rc = buf_error(out);
        out->len = start;
        if (out->data) out->data[start] = '\0';
        out->failed = 0;
        return fail_write(it, rc, buf_rc);
    }
    it->st.deletes++;
    res->deleted = 1;
    res->id = it->idb.data;
    res->idlen = it->idb.len;
    res->warnings = it->row_warnings;
    return 0;
}

/* Roll the row back and report it as unjudged (see eng_doc_result). */
static int not_judged(eng_interp *it, buf *out, size_t start, eng_doc_result *res)
{
    out->len = start;
    if (out->data) out->data[start] = '\0';
    out->failed = 0;
    res->unjudged = 1;
    res->id = it->idb.data;
    res->idlen = it->idb.len;
    res->warnings = it->row_warnings;
    return 0;
}

int eng_write_doc(eng_interp *it, const src_value *row, buf *out, eng_doc_result *res)
{
    const eng_bound_table *bt = it->bt;
    if (bt->deleted_col >= 0 && is_true_flag(&row[bt->deleted_col]))
        return eng_write_delete(it, row, out, res);
    size_t start = out->len;
    memset(res, 0, sizeof *res);
    it->row = row;
    it->row_warnings = 0;
    it->reported = 0;
    it->unjudged = 0;
    int rc = compute_id(it, row);
    if (rc) return rc;
    if (bt->nslots) {
        buf_reset(&it->rb);
        memset(it->rv, 0, sizeof *it->rv * (size_t)bt->nslots);
    }
    write_action(it, out, bt->action_head);
    rc = run_doc(it, &bt->doc, row, out, 1);
    if (!rc) rc = buf_putc(out, '\n');
    if (rc && it->unjudged) return not_judged(it, out, start, res);
    if (rc || out->failed) {
        int buf_rc = buf_error(out);
        out->len = start;
        if (out->data) out->data[start] = '\0';
        out->failed = 0;
        return fail_write(it, rc, buf_rc);
    }
    if (bt->nrules) {
        for (int r = 0; r < bt->nrules; r++) {
            int s = bt->rule_slot[r];
            if (s >= 0 && it->rv[s].set) {
                it->rv[s].v.p = it->rb.data + it->rv[s].off;
                it->rptr[r] = &it->rv[s].v;
            } else {
                it->rptr[r] = NULL;
            }
        }
        const plan_rule *dec = NULL;
        int keep = eng_rules_decide(bt->pt->rules, bt->nrules, it->rptr, &dec);
        res->rule = dec;
        if (keep < 0) {
            char what[256];
            snprintf(what, sizeof what, "rule '%s' (regex on field '%s')",
                     dec && dec->id ? dec->id : "?", dec ? dec->field : "?");
            unjudged(it, what, dec ? dec->value : "", dec ? dec->loc : (src_loc){0},
                     dec && dec->re ? eng_regex_error(dec->re) : "match error");
            return not_judged(it, out, start, res);
        }
        if (!keep) {
            out->len = start;
            if (out->data) out->data[start] = '\0';
            res->filtered = 1;
            it->st.filtered++;
            res->id = it->idb.data;
            res->idlen = it->idb.len;
            res->warnings = it->row_warnings;
            return 0;
        }
    }
    it->st.docs++;
    res->id = it->idb.data;
    res->idlen = it->idb.len;
    res->warnings = it->row_warnings;
    return 0;
}

/* ------------------------------------------------------------ child sets */

typedef struct crow {
    src_value *vals;
    struct crow *next;
} crow;

typedef struct group {
    char *key;
    size_t klen;
    uint64_t h;
    crow *first, *last;
    int n;
    const src_value **rows; /* built lazily for the interpreter */
    struct group *chain;
} group;

struct eng_child_set {
    const eng_bound_relation *br;
    arena *a;
    group **buckets;
    size_t nb, ngroups;
    group **parents; /* distinct parent keys, in registration order */
    int np, capp;
    const char ***pvals; /* their key values (text) */
    buf kb;
    buf sql;
    group *last; /* the group of the previous child row (rows come grouped by key) */
    int only_parents; /* add_child drops rows whose key is no registered parent's */
};

static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Key text: "len:text" per column. Returns 0 ok, 1 when a value is NULL. */
static int make_key(buf *kb, const src_value *row, const int *cols, int n)
{
    buf_reset(kb);
    for (int i = 0; i < n; i++) {
        const src_value *v = &row[cols[i]];
        if (v->kind == SRC_NULL) return 1;
        size_t len = v->kind == SRC_BINARY ? (v->n + 2) / 3 * 4 : v->n;
        char num[24];
        size_t nl = json_fmt_u64(num, (uint64_t)len); /* no printf: once per child row */
        num[nl++] = ':';
        buf_append(kb, num, nl);
        eng_value_text(v, kb);
    }
    if (!kb->data) buf_append(kb, "", 0);
    return kb->failed ? -1 : 0;
}

static group *lookup(eng_child_set *cs, const char *k, size_t n, int create)
{
    uint64_t h = fnv(k, n);
    if (cs->nb) {
        for (group *g = cs->buckets[h & (cs->nb - 1)]; g; g = g->chain)
            if (g->h == h && g->klen == n && memcmp(g->key, k, n) == 0) return g;
    }
    if (!create) return NULL;
    if (cs->ngroups + 1 > cs->nb) { /* grow: load factor 1 */
        size_t nb = cs->nb ? cs->nb * 2 : 64;
        group **bk = arena_alloc(cs->a, sizeof *bk * nb);
        for (size_t i = 0; i < cs->nb; i++)
            for (group *g = cs->buckets[i], *nx; g; g = nx) {
                nx = g->chain;
                g->chain = bk[g->h & (nb - 1)];
                bk[g->h & (nb - 1)] = g;
            }
        cs->buckets = bk;
        cs->nb = nb;
    }
    group *g = arena_alloc(cs->a, sizeof *g);
    g->key = arena_strndup(cs->a, k, n);
    g->klen = n;
    g->h = h;
    g->chain = cs->buckets[h & (cs->nb - 1)];
    cs->buckets[h & (cs->nb - 1)] = g;
    cs->ngroups++;
    return g;
}

eng_child_set *eng_child_set_new(const eng_bound_relation *br)
{
    eng_child_set *cs = calloc(1, sizeof *cs);
    if (!cs) return NULL;
    cs->br = br;
    cs->a = arena_new();
    if (!cs->a) {
        free(cs);
        return NULL;
    }
    return cs;
}

void eng_child_set_free(eng_child_set *cs)
{
    if (!cs) return;
    arena_free(cs->a);
    buf_free(&cs->kb);
    buf_free(&cs->sql);
    free(cs->parents);
    free(cs->pvals);
    free(cs);
}

void eng_child_set_reset(eng_child_set *cs)
{
    arena_reset(cs->a);
    cs->buckets = NULL;
    cs->nb = cs->ngroups = 0;
    cs->np = 0;
    cs->last = NULL;
}

int eng_child_set_nparents(const eng_child_set *cs) { return cs->np; }

int eng_child_set_add_parent(eng_child_set *cs, const src_value *parent_row)
{
    const plan_relation *rel = cs->br->rel;
    int k = make_key(&cs->kb, parent_row, cs->br->parent_on, rel->non);
    if (k < 0) return DIAG_ENOMEM;
    if (k == 1) return 0;
    if (lookup(cs, cs->kb.data, cs->kb.len, 0)) return 0;
    group *g = lookup(cs, cs->kb.data, cs->kb.len, 1);
    if (cs->np == cs->capp) {
        int cap = cs->capp ? cs->capp * 2 : 64;
        group **np = realloc(cs->parents, sizeof *np * (size_t)cap);
        if (!np) return DIAG_ENOMEM;
        cs->parents = np;
        const char ***pv = realloc(cs->pvals, sizeof *pv * (size_t)cap);
        if (!pv) return DIAG_ENOMEM;
        cs->pvals = pv;
        cs->capp = cap;
    }
    const char **vals = arena_alloc(cs->a, sizeof(char *) * (size_t)rel->non);
    buf t = BUF_INIT;
    for (int i = 0; i < rel->non; i++) {
        buf_reset(&t);
        eng_value_text(&parent_row[cs->br->parent_on[i]], &t);
        vals[i] = arena_strndup(cs->a, t.data ? t.data : "", t.len);
    }
    int failed = t.failed;
    buf_free(&t);
    if (failed) return DIAG_ENOMEM; /* a parameter would be cut short */
    cs->parents[cs->np] = g;
    cs->pvals[cs->np] = vals;
    cs->np++;
    return 0;
}

int eng_child_set_query(eng_child_set *cs, src_query *q, diag *d)
{
    const eng_bound_relation *br = cs->br;
    const plan_relation *rel = br->rel;
    (void)d;
    if (eng_sql_child_batch(br, cs->np, &cs->sql)) return DIAG_ENOMEM;
    buf *b = &cs->sql;
    const char **params = arena_alloc(cs->a, sizeof(char *) * ((size_t)(cs->np * rel->non) + 1));
    for (int p = 0, k = 0; p < cs->np; p++)
        for (int i = 0; i < rel->non; i++) params[k++] = cs->pvals[p][i];
    memset(q, 0, sizeof *q);
    q->sql = b->data;
    q->params = params;
    q->nparams = cs->np * rel->non;
    return 0;
}

int eng_child_set_add_child(eng_child_set *cs, const src_value *result_row,
                            const src_value **stored)
{
    const eng_bound_relation *br = cs->br;
    int nc = br->child->ncols, nr = br->nsel + br->nextra;
    if (stored) *stored = NULL;
    /* one allocation: the list cell, the row in the child table's layout
     * (zeroed: unselected columns are SRC_NULL) plus the link's key columns
     * of a many-to-many relation, then the value bytes */
    size_t need = sizeof(crow) + sizeof(src_value) * (size_t)(nc + br->nextra);
    for (int j = 0; j < nr; j++)
        if (result_row[j].kind != SRC_NULL) need += result_row[j].n + 1;
    char *mem = arena_alloc(cs->a, need);
    crow *r = (crow *)(void *)mem;
    src_value *vals = (src_value *)(void *)(mem + sizeof(crow));
    char *bytes = (char *)(vals + nc + br->nextra);
    for (int j = 0; j < nr; j++) {
        const src_value *v = &result_row[j];
        src_value *o = &vals[j < br->nsel ? br->sel[j] : nc + (j - br->nsel)];
        *o = *v;
        if (v->kind != SRC_NULL) {
            if (v->n) memcpy(bytes, v->p, v->n);
            o->p = bytes;
            bytes += v->n + 1;
        }
    }
    int k = make_key(&cs->kb, vals, br->child_on, br->rel->non);
    if (k < 0) return DIAG_ENOMEM;
    if (k == 1) return 0;
    group *g = cs->last;
    if (!g || g->klen != cs->kb.len || memcmp(g->key, cs->kb.data, cs->kb.len) != 0) {
        g = lookup(cs, cs->kb.data, cs->kb.len, !cs->only_parents);
        if (!g) return 0; /* the key of no parent of this chunk */
        cs->last = g;
    }
    r->vals = vals;
    if (stored) *stored = vals;
    if (g->last) g->last->next = r;
    else g->first = r;
    g->last = r;
    g->n++;
    g->rows = NULL;
    return 0;
}

void eng_child_set_only_parents(eng_child_set *cs, int on) { cs->only_parents = on; }

const char *const *eng_child_set_parent_key(const eng_child_set *cs, int i)
{
    return i >= 0 && i < cs->np ? cs->pvals[i] : NULL;
}

/* Whether p[0..n) is an integer as databases print one. */
static int plain_int(const char *p, size_t n)
{
    size_t i = n && p[0] == '-';
    if (i == n) return 0;
    for (; i < n; i++)
        if (p[i] < '0' || p[i] > '9') return 0;
    return 1;
}

static int num_text(const char *p, size_t n, double *out)
{
    char tmp[64], *end;
    if (n == 0 || n >= sizeof tmp) return 0;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    *out = strtod(tmp, &end);
    return *end == '\0';
}

/* Compare a child key value (kind k, bytes a) with a parent key value (text
 * b) in the order of an integer column: integers exactly; other numbers as
 * doubles; numbers before anything else (SQLite's order for a text stored
 * in an INTEGER column), compared bytewise. */
static int key_cmp(src_vkind k, const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b);
    if (k == SRC_NUMBER && plain_int(a, an) && plain_int(b, bn)) {
        int na = a[0] == '-', nb = b[0] == '-';
        if (na != nb) return na ? -1 : 1;
        int sign = na ? -1 : 1;
        if (an != bn) return an < bn ? -sign : sign;
        int c = memcmp(a, b, an);
        return c < 0 ? -sign : c > 0 ? sign : 0;
    }
    double x, y;
    int xa = k == SRC_NUMBER && num_text(a, an, &x), yb = num_text(b, bn, &y);
    if (xa && yb) return x < y ? -1 : x > y ? 1 : 0;
    if (xa != yb) return xa ? -1 : 1;
    size_t m = an < bn ? an : bn;
    int c = m ? memcmp(a, b, m) : 0;
    return c ? c : an < bn ? -1 : an > bn ? 1 : 0;
}

int eng_child_set_cmp(const eng_child_set *cs, const src_value *result_row, int parent)
{
    const eng_bound_relation *br = cs->br;
    if (parent < 0) parent = cs->np - 1;
    if (parent < 0 || !br->merge_pos) return 1;
    for (int i = 0; i < br->rel->non; i++) {
        const src_value *v = &result_row[br->merge_pos[i]];
        const char *p = cs->pvals[parent][i];
        if (v->kind == SRC_NULL) return 1; /* not returned by the merge query */
        int c = key_cmp(v->kind, v->p, v->n, p ? p : "");
        if (c) return c;
    }
    return 0;
}

static const src_value *child_rows_of(eng_interp *it, const eng_bound_relation *br,
                                      const src_value *row, int *n, const src_value *const **rows)
{
    *n = 0;
    *rows = NULL;
    eng_child_set *cs = (eng_child_set *)it->children[br->slot];
    if (!cs) return NULL;
    int k = make_key(&it->tmp, row, br->parent_on, br->rel->non);
    if (k) return NULL;
    group *g = lookup(cs, it->tmp.data, it->tmp.len, 0);
    if (!g || !g->n) return NULL;
    if (!g->rows) {
        g->rows = arena_alloc(cs->a, sizeof(src_value *) * (size_t)g->n);
        int i = 0;
        for (crow *r = g->first; r; r = r->next) g->rows[i++] = r->vals;
    }
    *n = g->n;
    *rows = g->rows;
    return NULL;
}
