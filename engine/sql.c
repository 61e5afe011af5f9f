/* sql.c - every piece of SQL text sql2es writes (see sql.h).
 *
 * Engine stage: renders the dialect-neutral plan (the user's `where`, the
 * rules, key and cursor columns) in the driver's dialect at bind time, for
 * the scans, the relations' child queries, the watermark query, and for
 * `sql2es plan`. Values are never pasted into SQL: they are parameters.
 * Not here: binding names to columns (bind.c), running statements (sync/).
 */
#include "engine/sql.h"

#include <string.h>

static const char *keep(arena *a, buf *b)
{
    return arena_strndup(a, b->data ? b->data : "", b->len);
}

static void quoted_list(buf *b, const src_driver *drv, const src_table *st, const int *cols,
                        int n, const char *suffix)
{
    for (int i = 0; i < n; i++) {
        if (i) buf_puts(b, ", ");
        drv->quote_ident(b, st->cols[cols[i]].name);
        if (suffix) buf_puts(b, suffix);
    }
}

/* "(a, b) op (p1, p2)", or "a op p1" for one column; placeholders from *next. */
static void tuple_cmp(buf *b, const src_driver *drv, const src_table *st, const int *cols, int n,
                      const char *op, int *next)
{
    if (n > 1) buf_putc(b, '(');
    quoted_list(b, drv, st, cols, n, NULL);
    buf_puts(b, n > 1 ? ") " : " ");
    buf_puts(b, op);
    buf_puts(b, n > 1 ? " (" : " ");
    for (int i = 0; i < n; i++) {
        if (i) buf_puts(b, ", ");
        drv->placeholder(b, (*next)++);
    }
    if (n > 1) buf_putc(b, ')');
}

static int text_op(plan_rule_kind k, src_text_op *op)
{
    switch (k) {
    case PLAN_RULE_EQUALS: *op = SRC_TEXT_EQUALS; return 1;
    case PLAN_RULE_STARTS_WITH: *op = SRC_TEXT_STARTS_WITH; return 1;
    case PLAN_RULE_CONTAINS: *op = SRC_TEXT_CONTAINS; return 1;
    case PLAN_RULE_ENDS_WITH: *op = SRC_TEXT_ENDS_WITH; return 1;
    default: return 0;
    }
}

/* The pushed-down rules: "NOT (<text_match>) AND ...", placeholders from
 * *next; their values appended to vals (when not NULL). */
static void pushdown(buf *b, const src_driver *drv, const plan_table *t, int *next,
                     const char **vals, int *nvals)
{
    buf col = BUF_INIT, ph = BUF_INIT;
    int n = 0;
    for (int i = 0; i < t->nrules; i++) {
        const plan_rule *r = &t->rules[i];
        src_text_op op;
        /* the compiler asked the same dialect; a rule it declines stays with
         * the post-filter alone */
        if (!r->pushed_down || !r->column || !drv->text_match || !text_op(r->rule, &op) ||
            drv->text_match(NULL, op, "", "") != 1)
            continue;
        buf_reset(&col);
        buf_reset(&ph);
        drv->quote_ident(&col, r->column);
        drv->placeholder(&ph, *next);
        buf_puts(b, n ? " AND NOT (" : "NOT (");
        drv->text_match(b, op, col.data, ph.data);
        buf_putc(b, ')');
        (*next)++;
        n++;
        if (vals) vals[(*nvals)++] = r->value;
    }
    buf_free(&col);
    buf_free(&ph);
}

/* The table's predicate: "(where) AND <pushdown>", "(where)", "<pushdown>"
 * or nothing; placeholders from 1. The push-down part alone in *pd. */
static void predicate(buf *b, const src_driver *drv, const plan_table *t, const char **vals,
                      int *nvals, buf *pd)
{
    int next = 1;
    buf own = BUF_INIT;
    if (!pd) pd = &own;
    pushdown(pd, drv, t, &next, vals, nvals);
    if (t->where && pd->len)
        buf_printf(b, "(%s) AND %s", t->where, pd->data);
    else if (t->where)
        buf_printf(b, "(%s)", t->where);
    else if (pd->len)
        buf_puts(b, pd->data);
    buf_free(&own);
}

static const char **rule_values(arena *a, const plan_table *t)
{
    return arena_alloc(a, sizeof(char *) * ((size_t)t->nrules + 1));
}

const char *eng_sql_qualified(arena *a, const src_driver *drv, const char *schema,
                              const char *name)
{
    buf b = BUF_INIT;
    if (schema && *schema && (drv->caps & SRC_CAP_SCHEMA)) {
        drv->quote_ident(&b, schema);
        buf_putc(&b, '.');
    }
    drv->quote_ident(&b, name);
    const char *r = keep(a, &b);
    buf_free(&b);
    return r;
}

static const char *from_custom(arena *a, const char *query)
{
    return arena_printf(a, "(%s) AS q", query);
}

int eng_sql_text(const plan_connector *c, const plan_table *t, arena *a, plan_sql_text *out)
{
    memset(out, 0, sizeof *out);
    const src_driver *drv = c ? c->driver : NULL;
    if (!drv) return DIAG_EINVAL;
    if (t->custom_query)
        out->from = from_custom(a, t->custom_query);
    else if (!t->is_glob && !t->is_default)
        out->from = eng_sql_qualified(a, drv, t->schema ? t->schema : c->source.schema, t->name);
    buf w = BUF_INIT, pd = BUF_INIT;
    const char **vals = rule_values(a, t);
    int nvals = 0;
    predicate(&w, drv, t, vals, &nvals, &pd);
    if (w.len) out->where = keep(a, &w);
    if (pd.len) out->pushdown = keep(a, &pd);
    buf st = BUF_INIT;
    buf_printf(&st, "SELECT * FROM %s", out->from ? out->from : "<each matching table>");
    if (out->where) buf_printf(&st, " WHERE %s", out->where);
    buf_puts(&st, " ORDER BY ");
    for (int i = 0; i < t->nkeys; i++) buf_printf(&st, "%s%s", i ? ", " : "", t->key_columns[i]);
    if (!t->nkeys) buf_puts(&st, "<primary key>");
    out->statement = keep(a, &st);
    buf_free(&st);
    out->params = nvals ? vals : NULL;
    out->nparams = nvals;
    buf_free(&w);
    buf_free(&pd);
    return 0;
}

const char *eng_sql_columns(arena *a, const src_driver *drv, const src_table *st,
                            const char *used, int *sel, int *nsel)
{
    buf b = BUF_INIT;
    int n = 0;
    for (int i = 0; i < st->ncols; i++) {
        if (used && !used[i]) continue;
        if (n) buf_puts(&b, ", ");
        drv->quote_ident(&b, st->cols[i].name);
        if (sel) sel[n] = i;
        n++;
    }
    if (nsel) *nsel = n;
    const char *r = keep(a, &b);
    buf_free(&b);
    return r;
}

const char *eng_sql_select_list(arena *a, const src_driver *drv, const src_table *st,
                                const char *deleted_when)
{
    const char *cols = eng_sql_columns(a, drv, st, NULL, NULL, NULL);
    if (!deleted_when || !*deleted_when) return cols;
    return arena_printf(a, "%s, CASE WHEN (%s) THEN 1 ELSE 0 END", cols, deleted_when);
}

void eng_sql_relation(arena *a, const src_driver *drv, const plan_relation *rel, const char *cols,
                      const char *from, const char *const *order_cols,
                      const char *const *order_dirs, int norder, const char **head,
                      const char **tail)
{
    *head = arena_printf(a, "SELECT %s FROM %s WHERE ", cols, from);
    buf b = BUF_INIT;
    if (rel->where_sql && *rel->where_sql) buf_printf(&b, " AND (%s)", rel->where_sql);
    buf_puts(&b, " ORDER BY ");
    for (int i = 0; i < rel->non; i++) {
        if (i) buf_puts(&b, ", ");
        drv->quote_ident(&b, rel->child_cols[i]);
    }
    for (int i = 0; i < norder; i++) {
        buf_puts(&b, ", ");
        drv->quote_ident(&b, order_cols[i]);
        if (order_dirs && order_dirs[i]) buf_puts(&b, order_dirs[i]);
    }
    *tail = keep(a, &b);
    buf_free(&b);
}

/* <table>.<column> */
static void qualified_col(buf *b, const src_driver *drv, const char *table, const char *col)
{
    drv->quote_ident(b, table);
    buf_putc(b, '.');
    drv->quote_ident(b, col);
}

void eng_sql_relation_through(arena *a, const src_driver *drv, const plan_relation *rel,
                              const src_table *child, const int *sel, int nsel, const char *from,
                              const src_table *link, const char *link_from,
                              const char *const *order_cols, const char *const *order_dirs,
                              const char *order_link, int norder, const char **head,
                              const char **tail)
{
    buf b = BUF_INIT;
    buf_puts(&b, "SELECT ");
    for (int i = 0; i < nsel; i++) {
        if (i) buf_puts(&b, ", ");
        qualified_col(&b, drv, child->name, child->cols[sel[i]].name);
    }
    for (int i = 0; i < rel->non; i++) {
        if (nsel || i) buf_puts(&b, ", ");
        qualified_col(&b, drv, link->name, rel->child_cols[i]);
    }
    buf_printf(&b, " FROM %s JOIN %s ON ", from, link_from);
    for (int j = 0; j < rel->njoin; j++) {
        if (j) buf_puts(&b, " AND ");
        qualified_col(&b, drv, child->name, rel->join_child_cols[j]);
        buf_puts(&b, " = ");
        qualified_col(&b, drv, link->name, rel->join_link_cols[j]);
    }
    buf_puts(&b, " WHERE ");
    *head = keep(a, &b);
    buf_reset(&b);
    if (rel->where_sql && *rel->where_sql) buf_printf(&b, " AND (%s)", rel->where_sql);
    buf_puts(&b, " ORDER BY ");
    for (int i = 0; i < rel->non; i++) {
        if (i) buf_puts(&b, ", ");
        qualified_col(&b, drv, link->name, rel->child_cols[i]);
    }
    for (int i = 0; i < norder; i++) {
        buf_puts(&b, ", ");
        qualified_col(&b, drv, order_link[i] ? link->name : child->name, order_cols[i]);
        if (order_dirs && order_dirs[i]) buf_puts(&b, order_dirs[i]);
    }
    *tail = keep(a, &b);
    buf_free(&b);
}

int eng_sql_child_batch(const eng_bound_relation *br, int nparents, buf *b)
{
    const plan_relation *rel = br->rel;
    const src_driver *drv = br->driver;
    buf_reset(b);
    buf_puts(b, br->select_head);
    int multi = rel->non > 1, next = 1;
    if (multi) buf_putc(b, '(');
    if (br->link) /* many-to-many: the link table's key */
        for (int i = 0; i < rel->non; i++) {
            if (i) buf_puts(b, ", ");
            qualified_col(b, drv, br->link->name, rel->child_cols[i]);
        }
    else
        quoted_list(b, drv, br->child, br->child_on, rel->non, NULL);
    buf_puts(b, multi ? ") IN (" : " IN (");
    for (int p = 0; p < nparents; p++) {
        if (p) buf_puts(b, ", ");
        if (multi) buf_putc(b, '(');
        for (int i = 0; i < rel->non; i++) {
            if (i) buf_puts(b, ", ");
            drv->placeholder(b, next++);
        }
        if (multi) buf_putc(b, ')');
    }
    buf_putc(b, ')');
    buf_puts(b, br->select_tail);
    return b->failed ? DIAG_ENOMEM : 0;
}

int eng_sql_child_merge(const eng_bound_relation *br, buf *b)
{
    const plan_relation *rel = br->rel;
    const src_driver *drv = br->driver;
    buf_reset(b);
    buf_puts(b, br->select_head);
    /* a NULL never equals a parent key; with several columns the tuple
     * comparison alone would let (2, NULL) >= (1, 1) through */
    for (int i = 0; rel->non > 1 && i < rel->non; i++) {
        drv->quote_ident(b, br->child->cols[br->child_on[i]].name);
        buf_puts(b, " IS NOT NULL AND ");
    }
    int next = 1;
    tuple_cmp(b, drv, br->child, br->child_on, rel->non, ">=", &next);
    buf_puts(b, br->select_tail);
    return b->failed ? DIAG_ENOMEM : 0;
}

/* FROM target of a bound table: the custom query, or the described table in
 * the schema the binding resolved. */
static const char *bound_from(const eng_bound_table *bt, arena *a)
{
    if (bt->pt->custom_query) return from_custom(a, bt->pt->custom_query);
    return eng_sql_qualified(a, bt->driver, bt->doc.vars[ENG_VAR_SCHEMA], bt->st->name);
}

int eng_sql_scan(const eng_bound_table *bt, eng_window w, int leavers, arena *a,
                 eng_scan_stmt *out, diag *d)
{
    const plan_table *pt = bt->pt;
    const src_driver *drv = bt->driver;
    const src_table *st = bt->st;
    memset(out, 0, sizeof *out);
    out->fetch_size = bt->conn ? bt->conn->source.fetch_size : 0;
    int nk = bt->doc.nkeys, nc = bt->ncursor;
    if (w != ENG_WINDOW_NONE && nc <= 0) {
        diag_error(d, pt->loc, "table '%s' has no incremental cursor", st->name);
        return DIAG_EINVAL;
    }
    buf b = BUF_INIT, pred = BUF_INIT;
    const char **vals = rule_values(a, pt);
    int next, nconds = 0;
    predicate(&pred, drv, pt, vals, &out->nfixed, NULL);
    next = out->nfixed + 1;
    if (leavers && !pred.len) {
        buf_free(&b);
        buf_free(&pred);
        return 0;
    }
    buf_puts(&b, "SELECT ");
    buf_puts(&b, bt->select_list);
    buf_puts(&b, " FROM ");
    buf_puts(&b, bound_from(bt, a));
    if (pred.len) {
        buf_puts(&b, " WHERE (");
        if (leavers) buf_putc(&b, '(');
        buf_append(&b, pred.data, pred.len);
        buf_puts(&b, leavers ? ") IS NOT TRUE)" : ")");
        nconds++;
    }
    if (w != ENG_WINDOW_NONE) {
        buf_puts(&b, nconds++ ? " AND (" : " WHERE (");
        if (w == ENG_WINDOW_AFTER) {
            tuple_cmp(&b, drv, st, bt->cursor, nc, ">", &next);
            buf_puts(&b, " AND ");
            out->nlo = nc;
        } else if (w == ENG_WINDOW_LAGGED) {
            tuple_cmp(&b, drv, st, bt->cursor, 1, ">=", &next);
            buf_puts(&b, " AND ");
            out->nlo = 1;
        }
        tuple_cmp(&b, drv, st, bt->cursor, nc, "<=", &next);
        out->nhi = nc;
        buf_putc(&b, ')');
    }
    buf order = BUF_INIT;
    buf_puts(&order, " ORDER BY ");
    quoted_list(&order, drv, st, bt->doc.keys, nk, NULL);
    size_t body = b.len;
    buf_append(&b, order.data, order.len);
    out->sql = keep(a, &b);
    /* the resume statement: the same body and slots, then the key slots */
    b.len = body;
    int key_slot = next;
    buf_puts(&b, nconds ? " AND " : " WHERE ");
    tuple_cmp(&b, drv, st, bt->doc.keys, nk, ">", &next);
    buf_append(&b, order.data, order.len);
    out->resume_sql = keep(a, &b);
    /* the prefix statement: the same slots, the keys up to a position */
    b.len = body;
    next = key_slot;
    buf_puts(&b, nconds ? " AND " : " WHERE ");
    tuple_cmp(&b, drv, st, bt->doc.keys, nk, "<=", &next);
    buf_append(&b, order.data, order.len);
    out->upto_sql = keep(a, &b);
    out->nkeys = nk;
    out->fixed = vals;
    int failed = b.failed || pred.failed || order.failed;
    buf_free(&b);
    buf_free(&pred);
    buf_free(&order);
    if (failed) {
        diag_error(d, pt->loc, "out of memory building the scan query");
        return DIAG_ENOMEM;
    }
    return 0;
}

void eng_sql_scan_query(const eng_scan_stmt *s, const char *const *lo, const char *const *hi,
                        const char *const *after, arena *a, src_query *q)
{
    int np = s->nfixed + s->nlo + s->nhi + (after ? s->nkeys : 0);
    const char **params = arena_alloc(a, sizeof(char *) * ((size_t)np + 1));
    int k = 0;
    for (int i = 0; i < s->nfixed; i++) params[k++] = s->fixed[i];
    for (int i = 0; i < s->nlo; i++) params[k++] = lo[i];
    for (int i = 0; i < s->nhi; i++) params[k++] = hi[i];
    for (int i = 0; after && i < s->nkeys; i++) params[k++] = after[i];
    memset(q, 0, sizeof *q);
    q->sql = after ? s->resume_sql : s->sql;
    q->params = params;
    q->nparams = np;
    q->fetch_size = s->fetch_size;
}

void eng_sql_scan_upto_query(const eng_scan_stmt *s, const char *const *lo, const char *const *hi,
                             const char *const *upto, arena *a, src_query *q)
{
    eng_sql_scan_query(s, lo, hi, upto, a, q);
    q->sql = s->upto_sql;
}

const char *eng_sql_cursor_max(const eng_bound_table *bt, arena *a)
{
    int nc = bt->ncursor;
    if (nc <= 0) return NULL;
    const src_driver *drv = bt->driver;
    buf b = BUF_INIT;
    buf_puts(&b, "SELECT ");
    quoted_list(&b, drv, bt->st, bt->cursor, nc, NULL);
    buf_puts(&b, " FROM ");
    buf_puts(&b, bound_from(bt, a));
    /* no NULL cursor: PostgreSQL sorts NULL first in DESC order, and a NULL
     * watermark would match no row ever after */
    for (int i = 0; i < nc; i++) {
        buf_puts(&b, i ? " AND " : " WHERE ");
        drv->quote_ident(&b, bt->st->cols[bt->cursor[i]].name);
        buf_puts(&b, " IS NOT NULL");
    }
    buf_puts(&b, " ORDER BY ");
    quoted_list(&b, drv, bt->st, bt->cursor, nc, " DESC");
    buf_puts(&b, " LIMIT 1");
    const char *r = keep(a, &b);
    buf_free(&b);
    return r;
}

const char *eng_sql_probe(arena *a, const char *custom_query)
{
    return arena_printf(a, "SELECT * FROM %s WHERE 1=0", from_custom(a, custom_query));
}

const char *eng_sql_lookup_select(const eng_bound_table *bt, arena *a, int *flag)
{
    const char *where = bt->pt->where;
    *flag = where != NULL;
    if (!where) return bt->select_list;
    return arena_printf(a, "%s, CASE WHEN (%s) THEN 1 ELSE 0 END", bt->select_list, where);
}

const char *eng_sql_bound_from(const eng_bound_table *bt, arena *a)
{
    return bound_from(bt, a);
}

const char *eng_sql_in(arena *a, const src_driver *drv, const char *select, const char *from,
                       const src_table *st, const int *cols, int ncols, int ntuples)
{
    buf b = BUF_INIT;
    int next = 1;
    buf_printf(&b, "SELECT %s FROM %s WHERE ", select, from);
    if (ncols > 1) buf_putc(&b, '(');
    quoted_list(&b, drv, st, cols, ncols, NULL);
    buf_puts(&b, ncols > 1 ? ") IN (" : " IN (");
    for (int t = 0; t < ntuples; t++) {
        if (t) buf_puts(&b, ", ");
        if (ncols > 1) buf_putc(&b, '(');
        for (int i = 0; i < ncols; i++) {
            if (i) buf_puts(&b, ", ");
            drv->placeholder(&b, next++);
        }
        if (ncols > 1) buf_putc(&b, ')');
    }
    buf_putc(&b, ')');
    const char *r = b.failed ? NULL : keep(a, &b);
    buf_free(&b);
    return r;
}
