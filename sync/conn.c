/* conn.c - the source side of a sync run: opening connections (with the
 * connectors' retries), reconnecting, describing a table or a custom query,
 * and binding a plan table to what was described.
 *
 * Stage: sources -> sync. Reads catalogs only; no rows, no documents. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/fault.h"
#include "sync/internal.h"

/* ---- the driver calls that can fail, with the fault hook (base/fault.h) */

static int injected(diag *d)
{
    diag_error(d, (src_loc){0}, "injected fault: driver call %llu failed (SQL2ES_FAULT)",
               (unsigned long long)fault_count(FAULT_DRIVER));
    return DIAG_ETRANSIENT;
}

int sync_drv_begin_scan(const src_driver *drv, src_conn *c, const src_query *q, src_scan **s,
                        diag *d)
{
    *s = NULL;
    return fault_hit(FAULT_DRIVER) ? injected(d) : drv->begin_scan(c, q, s, d);
}

int sync_drv_next(const src_driver *drv, src_scan *s, const src_value **row, diag *d)
{
    return fault_hit(FAULT_DRIVER) ? injected(d) : drv->next(s, row, d);
}

int sync_drv_describe(const src_driver *drv, src_conn *c, const char *schema, const char *table,
                      arena *a, src_table *out, diag *d)
{
    return fault_hit(FAULT_DRIVER) ? injected(d) : drv->describe(c, schema, table, a, out, d);
}

int sync_drv_list_tables(const src_driver *drv, src_conn *c, const char *schema, arena *a,
                         const char ***names, int *n, diag *d)
{
    *n = 0;
    return fault_hit(FAULT_DRIVER) ? injected(d) : drv->list_tables(c, schema, a, names, n, d);
}

/* ---- connections ---------------------------------------------------------- */

void sync_iso_now(char *out, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tmp[32];
    strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", tmp, (int)(ts.tv_nsec / 1000000));
}

int sync_open_source(const plan_connector *pc, src_conn **out, diag *d)
{
    int tries = pc->source.retry_count > 0 ? pc->source.retry_count : 0;
    for (int i = 0;; i++) {
        *out = NULL;
        int rc = fault_hit(FAULT_DRIVER) ? injected(d) : pc->driver->open(&pc->source, out, d);
        if (rc == 0) return 0;
        pc->driver->close(*out);
        *out = NULL;
        if (rc != DIAG_ETRANSIENT || i >= tries) return rc;
        sleep(2u << i); /* 2 s, 4 s, 8 s, as the connectors */
    }
}

void sync_reconnect(sync_conn *cc, src_conn **c)
{
    cc->pc->driver->close(*c);
    *c = NULL;
    sync_open_source(cc->pc, c, cc->r->d);
}

void sync_forward_diag(diag *to, const diag *from)
{
    for (size_t i = 0; i < diag_count(from); i++) {
        const diag_msg *m = diag_get(from, i);
        if (m->level == DIAG_ERROR) diag_error(to, m->loc, "%s", m->text);
        else if (m->level == DIAG_WARNING) diag_warning(to, m->loc, "%s", m->text);
        else diag_note(to, m->loc, "%s", m->text);
        if (m->hint) diag_hint(to, "%s", m->hint);
    }
}

void sync_forward_table_diag(diag *to, const diag *from, const char *connector, const char *table)
{
    for (size_t i = 0; i < diag_count(from); i++) {
        const diag_msg *m = diag_get(from, i);
        if (m->level == DIAG_ERROR) diag_error(to, m->loc, "%s > %s: %s", connector, table, m->text);
        else if (m->level == DIAG_WARNING) diag_warning(to, m->loc, "%s", m->text);
        else continue;
        if (m->hint) diag_hint(to, "%s", m->hint);
    }
}

static int cmp_name(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static void list_names(buf *b, const char *const *v, int n)
{
    for (int i = 0; i < n; i++) {
        if (i) buf_puts(b, ", ");
        buf_puts(b, v[i]);
    }
}

/* An advanced rule without id_columns is keyed, as the Elastic connectors
 * key it, by the primary keys of the tables it lists: PostgreSQL joins each
 * table's key in the order of `tables`, MySQL sorts all of them by name
 * (the driver's compat.query_keys_sorted). They must be result columns of
 * the query; st->pk then names them, in that order. */
static int query_keys(sync_conn *cc, const plan_table *pt, arena *a, src_table *st, diag *d)
{
    const plan_connector *pc = cc->pc;
    const src_driver *drv = pc->driver;
    const char *schema = pt->schema ? pt->schema : pc->source.schema;
    const char **keys = NULL;
    int nk = 0, cap = 0;
    for (int t = 0; t < pt->nsource_tables; t++) {
        src_table tb = {0};
        int rc = sync_drv_describe(drv, cc->c, schema, pt->source_tables[t], a, &tb, d);
        if (rc == DIAG_ENOTFOUND)
            diag_error(d, pt->loc, "%s: advanced rule on '%s': table '%s' does not exist (its "
                       "primary key keys the query when id_columns is not given)", pc->id,
                       pt->name, pt->source_tables[t]);
        if (rc) return rc;
        for (int k = 0; k < tb.npk; k++) {
            if (nk == cap) {
                cap = cap ? 2 * cap : 8;
                const char **nv = arena_alloc(a, sizeof *nv * (size_t)cap);
                if (nk) memcpy(nv, keys, sizeof *nv * (size_t)nk);
                keys = nv;
            }
            keys[nk++] = tb.cols[tb.pk[k]].name;
        }
    }
    buf b = BUF_INIT;
    list_names(&b, pt->source_tables, pt->nsource_tables);
    if (nk == 0) {
        diag_error(d, pt->loc, "%s: advanced rule on '%s': no id_columns, and none of its tables "
                   "(%s) has a primary key", pc->id, pt->name, b.data ? b.data : "");
        diag_hint(d, "give the rule id_columns: the result columns that identify a row");
        buf_free(&b);
        return DIAG_EINVAL;
    }
    if (drv->compat && drv->compat->query_keys_sorted) qsort(keys, (size_t)nk, sizeof *keys, cmp_name);
    int *pk = arena_alloc(a, sizeof *pk * (size_t)nk);
    const char **missing = arena_alloc(a, sizeof *missing * (size_t)nk);
    int nmiss = 0;
    for (int k = 0; k < nk; k++) {
        pk[k] = -1;
        for (int i = 0; i < st->ncols && pk[k] < 0; i++)
            if (!strcmp(st->cols[i].name, keys[k])) pk[k] = i;
        if (pk[k] < 0) missing[nmiss++] = keys[k];
        else if (!st->cols[pk[k]].pk_pos) st->cols[pk[k]].pk_pos = k + 1;
    }
    if (nmiss) {
        buf m = BUF_INIT;
        list_names(&m, missing, nmiss);
        diag_error(d, pt->loc, "%s: advanced rule on '%s': no id_columns, and the primary key "
                   "columns of its tables (%s) are not among the query's columns: %s", pc->id,
                   pt->name, b.data ? b.data : "", m.data ? m.data : "");
        diag_hint(d, "select these columns in the query, or give the rule id_columns");
        buf_free(&m);
        buf_free(&b);
        return DIAG_EINVAL;
    }
    buf_free(&b);
    st->pk = pk;
    st->npk = nk;
    return 0;
}

/* Describe the result columns of a custom query (advanced rules). */
static int describe_query(sync_conn *cc, const plan_table *pt, arena *a, src_table *st, diag *d)
{
    const src_driver *drv = cc->pc->driver;
    src_query q = {0};
    q.sql = eng_sql_probe(a, pt->custom_query);
    src_scan *s = NULL;
    int rc = sync_drv_begin_scan(drv, cc->c, &q, &s, d);
    if (rc == 0) {
        const src_column *cols;
        int n;
        drv->scan_columns(s, &cols, &n);
        st->cols = arena_alloc(a, (size_t)(n ? n : 1) * sizeof *st->cols);
        memcpy(st->cols, cols, (size_t)n * sizeof *cols);
        for (int i = 0; i < n; i++) {
            st->cols[i].name = arena_strdup(a, cols[i].name);
            st->cols[i].sql_type = cols[i].sql_type ? arena_strdup(a, cols[i].sql_type) : NULL;
            st->cols[i].es_type = cols[i].es_type ? arena_strdup(a, cols[i].es_type) : NULL;
            st->cols[i].pk_pos = 0;
        }
        st->ncols = n;
    }
    drv->end_scan(s);
    st->name = pt->name;
    st->row_estimate = -1;
    if (rc == 0 && pt->nkeys == 0 && pt->nsource_tables > 0) rc = query_keys(cc, pt, a, st, d);
    return rc;
}

int sync_describe(sync_conn *cc, const plan_table *pt, const char *name, arena *a,
                  src_table *st, diag *d)
{
    const plan_connector *pc = cc->pc;
    if (pt->custom_query) return describe_query(cc, pt, a, st, d);
    return sync_drv_describe(pc->driver, cc->c, pt->schema ? pt->schema : pc->source.schema, name, a, st, d);
}

typedef struct describe_ctx {
    sync_conn *cc;
    arena *a;
} describe_ctx;

void sync_hint_table(diag *d, const char *name, const char *const *names, int n, arena *a)
{
    const char *near = NULL;
    for (int j = 0; j < n && !near; j++) /* case first: `Track` for `track` */
        if (!strcasecmp(names[j], name)) near = names[j];
    if (!near) {
        const char **cands = arena_alloc(a, sizeof *cands * ((size_t)n + 1));
        for (int j = 0; j < n; j++) cands[j] = names[j];
        cands[n] = NULL;
        near = diag_suggest(name, cands);
    }
    if (near) diag_hint(d, "did you mean '%s'? (table names are compared with their case)", near);
}

static int describe_child(void *ctx, const plan_relation *rel, const src_table **out, diag *d)
{
    describe_ctx *dc = ctx;
    const plan_connector *pc = dc->cc->pc;
    const char *schema = rel->schema ? rel->schema : pc->source.schema;
    src_table *st = arena_alloc(dc->a, sizeof *st);
    int rc = sync_drv_describe(pc->driver, dc->cc->c, schema, rel->table, dc->a, st, d);
    if (rc == DIAG_ENOTFOUND) {
        diag_error(d, rel->loc, "relation '%s': table '%s' does not exist", rel->key, rel->table);
        const char **names = NULL;
        int n = 0;
        diag *ld = diag_new(); /* the hint is a courtesy: a failed listing says nothing */
        if (sync_drv_list_tables(pc->driver, dc->cc->c, schema, dc->a, &names, &n, ld) == 0)
            sync_hint_table(d, rel->table, names, n, dc->a);
        diag_free(ld);
    }
    *out = st;
    return rc;
}

int sync_bind(sync_conn *cc, const plan_table *pt, src_table *st, const char *timestamp,
              arena *a, eng_bound_table **out, diag *d)
{
    describe_ctx dc = {cc, a};
    eng_bind_opts bo = {0};
    bo.driver = cc->pc->driver;
    bo.timestamp = timestamp;
    bo.describe = describe_child;
    bo.describe_ctx = &dc;
    *out = NULL;
    return eng_bind_table(a, cc->pc, pt, st, &bo, out, d);
}
