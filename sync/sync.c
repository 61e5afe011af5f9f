/* sync.c - the sync driver; see sync.h.
 *
 * Stage: plan + sources -> interpreter -> bulk sink (or dry-run file). This
 * file owns the control flow: connections and reconnections, table
 * selection, binding, the row loop with keyset resume, relation chunks,
 * incremental windows and watermarks, and the full-sync sweep of unseen
 * documents. It builds no JSON itself (the interpreter does) and speaks no
 * HTTP (es_*.c do).
 */
#include "sync/sync.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/bind.h"
#include "base/buf.h"
#include "sinks/es.h"
#include "sync/idset.h"
#include "engine/interp.h"
#include "sync/progress.h"
#include "sources/source.h"
#include "sync/state.h"

#define CHUNK_ROWS 500      /* parents per relation chunk */
#define MAX_STALLED_RETRIES 3

typedef struct run {
    const plan *p;
    const eng_sync_opts *o;
    eng_sync_stats *st;
    diag *d;
    eng_progress *prog;
    es_client *es;
    es_bulk *bulk;
    eng_state *state;
    const char *state_path;
    uint64_t seq;
    int failed;               /* a table failed: exit 1, no sweep of its index */
    buf item;
    /* indices written by the current connector, with their seen-id sets */
    struct seen_index {
        char *index;
        eng_idset *seen;
        int clean;            /* every table into it finished without error */
    } *indices;
    int nindices;
} run;

typedef struct conn_ctx {
    run *r;
    const plan_connector *pc;
    src_conn *c;    /* rows */
    src_conn *c2;   /* relation child queries (a scan holds c busy) */
} conn_ctx;

typedef struct table_job {
    const plan_table *pt;
    const char *name;
} table_job;

/* ---- small helpers ------------------------------------------------------ */

static void iso_now(char *out, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tmp[32];
    strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", tmp, (int)(ts.tv_nsec / 1000000));
}

static int open_source(const plan_connector *pc, src_conn **out, diag *d)
{
    int tries = pc->source.retry_count > 0 ? pc->source.retry_count : 0;
    for (int i = 0;; i++) {
        *out = NULL;
        int rc = pc->driver->open(&pc->source, out, d);
        if (rc == 0) return 0;
        pc->driver->close(*out);
        *out = NULL;
        if (rc != DIAG_ETRANSIENT || i >= tries) return rc;
        sleep(2u << i); /* 2 s, 4 s, 8 s, as the connectors */
    }
}

static void reconnect(conn_ctx *cc, src_conn **c)
{
    cc->pc->driver->close(*c);
    *c = NULL;
    open_source(cc->pc, c, cc->r->d);
}

/* Copy a row (values are borrowed from the driver) into a. */
static src_value *copy_row(arena *a, const src_value *row, int n)
{
    src_value *v = arena_alloc(a, (size_t)n * sizeof *v);
    for (int i = 0; i < n; i++) {
        v[i].kind = row[i].kind;
        v[i].n = row[i].n;
        v[i].p = row[i].p ? arena_strndup(a, row[i].p, row[i].n) : NULL;
    }
    return v;
}

/* The last key written, kept across the borrowed-row boundary. */
typedef struct keykeep {
    buf bytes;
    size_t off[16];
    int n, have;
} keykeep;

static void key_capture(keykeep *k, const eng_bound_table *bt, const src_value *row)
{
    int n = bt->doc.nkeys < 16 ? bt->doc.nkeys : 16;
    buf_reset(&k->bytes);
    for (int i = 0; i < n; i++) {
        const src_value *v = &row[bt->doc.keys[i]];
        k->off[i] = k->bytes.len;
        if (v->kind == SRC_BOOL)
            buf_puts(&k->bytes, v->p && v->p[0] == 't' ? "true" : "false");
        else if (v->p)
            buf_append(&k->bytes, v->p, v->n);
        buf_putc(&k->bytes, '\0');
    }
    k->n = n;
    k->have = 1;
}

static const char **key_values(const keykeep *k, arena *a)
{
    const char **v = arena_alloc(a, (size_t)(k->n + 1) * sizeof *v);
    for (int i = 0; i < k->n; i++) v[i] = arena_strdup(a, k->bytes.data + k->off[i]);
    return v;
}

/* Copy the messages of `from` into `to` (levels, locations and hints kept). */
static void forward_diag(diag *to, const diag *from)
{
    for (size_t i = 0; i < diag_count(from); i++) {
        const diag_msg *m = diag_get(from, i);
        if (m->level == DIAG_ERROR) diag_error(to, m->loc, "%s", m->text);
        else if (m->level == DIAG_WARNING) diag_warning(to, m->loc, "%s", m->text);
        else continue;
        if (m->hint) diag_hint(to, "%s", m->hint);
    }
}

/* ---- output ------------------------------------------------------------- */

static struct seen_index *seen_for(run *r, const char *index)
{
    for (int i = 0; i < r->nindices; i++)
        if (!strcmp(r->indices[i].index, index)) return &r->indices[i];
    return NULL;
}

static int emit(run *r, const eng_bound_table *bt, const buf *item, const eng_doc_result *res,
                struct seen_index *si)
{
    if (item->len == 0) return 0;
    /* a delete action settles the id too: the sweep must not delete it again */
    if (si && si->seen && res->id) eng_idset_add(si->seen, res->id, res->idlen);
    if (r->o->dry_run) {
        if (fwrite(item->data, 1, item->len, r->o->out) != item->len) {
            diag_error(r->d, (src_loc){0}, "cannot write the dry-run output");
            return DIAG_EIO;
        }
        return 0;
    }
    char ctx[256];
    snprintf(ctx, sizeof ctx, "%s > %s > %.*s", bt->conn->id, bt->st->name,
             (int)(res->idlen > 100 ? 100 : res->idlen), res->id ? res->id : "");
    es_item_meta meta = {++r->seq, ctx};
    return es_bulk_add(r->bulk, item->data, item->len, &meta);
}

/* ---- one table ------------------------------------------------------------ */

typedef struct table_run {
    conn_ctx *cc;
    const eng_bound_table *bt;
    eng_interp *it;
    int incremental;
    struct seen_index *si;
    uint64_t rows, docs, deletes, filtered;
    keykeep key;
    /* relation chunk */
    arena *chunk;
    src_value **rows_buf;
    int nchunk, width;
    eng_child_set **sets;
    diag *ad;   /* driver messages of the current scan attempt: a failure that is
                 * retried becomes a warning, not an error */
} table_run;

static void drop_chunk(table_run *tr)
{
    tr->nchunk = 0;
    if (tr->chunk) arena_reset(tr->chunk);
}

static int write_row(table_run *tr, const src_value *row)
{
    run *r = tr->cc->r;
    eng_doc_result res;
    buf_reset(&r->item);
    int rc = eng_write_doc(tr->it, row, &r->item, &res);
    if (rc < 0) return rc;
    /* resume point: the last row whose items were handed on */
    key_capture(&tr->key, tr->bt, row);
    if (res.filtered) {
        tr->filtered++;
        /* a row that stopped passing the rules may have been indexed before */
        if (!tr->incremental) return 0;
        buf_reset(&r->item);
        rc = eng_write_delete(tr->it, row, &r->item, &res);
        if (rc < 0) return rc;
        res.deleted = 1;
    }
    if (res.deleted) tr->deletes++; else tr->docs++;
    return emit(r, tr->bt, &r->item, &res, tr->si);
}

/* Run the child query of cs (its parents registered) on the second
 * connection; each child row also registers as a parent of the nested
 * relations, whose queries run next (one query per relation and chunk). */
static int fetch_children(table_run *tr, const eng_bound_relation *br, eng_child_set *cs)
{
    conn_ctx *cc = tr->cc;
    run *r = cc->r;
    const eng_bound_doc *cd = &br->doc;
    int nn = cd->doc->nrelations, rc = 0;
    for (int k = 0; k < nn; k++) eng_child_set_reset(tr->sets[cd->rels[k].slot]);
    if (eng_child_set_nparents(cs) > 0) {
        src_query q;
        rc = eng_child_set_query(cs, &q, r->d);
        if (rc) return rc;
        if (!cc->c2) open_source(cc->pc, &cc->c2, r->d);
        if (!cc->c2) return DIAG_ETRANSIENT;
        src_scan *s = NULL;
        diag *dd = tr->ad ? tr->ad : r->d;
        rc = cc->pc->driver->begin_scan(cc->c2, &q, &s, dd);
        const src_value *row;
        while (rc == 0 && (rc = cc->pc->driver->next(s, &row, dd)) == 1) {
            const src_value *kept;
            rc = eng_child_set_add_child(cs, row, &kept);
            for (int k = 0; rc == 0 && kept && k < nn; k++)
                rc = eng_child_set_add_parent(tr->sets[cd->rels[k].slot], kept);
        }
        cc->pc->driver->end_scan(s);
        if (rc < 0) return rc;
    }
    eng_interp_set_children(tr->it, br, cs);
    for (int k = 0; k < nn; k++) {
        rc = fetch_children(tr, &cd->rels[k], tr->sets[cd->rels[k].slot]);
        if (rc < 0) return rc;
    }
    return 0;
}

/* Fetch the children of the buffered parents, then write the parents. A
 * transient error leaves the chunk unwritten: the scan resumes after the
 * last written row and reads these rows again. */
static int flush_chunk(table_run *tr)
{
    if (tr->nchunk == 0) return 0;
    const eng_bound_table *bt = tr->bt;
    for (int i = 0; i < bt->doc.doc->nrelations; i++) {
        const eng_bound_relation *br = &bt->doc.rels[i];
        eng_child_set *cs = tr->sets[br->slot];
        eng_child_set_reset(cs);
        for (int j = 0; j < tr->nchunk; j++) {
            int rc = eng_child_set_add_parent(cs, tr->rows_buf[j]);
            if (rc < 0) return rc;
        }
        int rc = fetch_children(tr, br, cs);
        if (rc < 0) return rc;
    }
    for (int j = 0; j < tr->nchunk; j++) {
        int rc = write_row(tr, tr->rows_buf[j]);
        if (rc < 0) return rc;
    }
    drop_chunk(tr);
    return 0;
}

static int take_row(table_run *tr, const src_value *row)
{
    if (!tr->chunk) return write_row(tr, row);
    tr->rows_buf[tr->nchunk++] = copy_row(tr->chunk, row, tr->width);
    return tr->nchunk >= CHUNK_ROWS ? flush_chunk(tr) : 0;
}

/* Describe the result columns of a custom query (advanced rules). */
static int describe_query(conn_ctx *cc, const plan_table *pt, arena *a, src_table *st)
{
    const src_driver *drv = cc->pc->driver;
    src_query q = {0};
    q.sql = arena_printf(a, "SELECT * FROM %s WHERE 1=0", pt->sql_from);
    src_scan *s = NULL;
    int rc = drv->begin_scan(cc->c, &q, &s, cc->r->d);
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
    return rc;
}

typedef struct describe_ctx {
    conn_ctx *cc;
    arena *a;
} describe_ctx;

static int describe_child(void *ctx, const plan_relation *rel, const src_table **out, diag *d)
{
    describe_ctx *dc = ctx;
    const plan_connector *pc = dc->cc->pc;
    src_table *st = arena_alloc(dc->a, sizeof *st);
    int rc = pc->driver->describe(dc->cc->c, rel->schema ? rel->schema : pc->source.schema,
                                  rel->table, dc->a, st, d);
    if (rc == DIAG_ENOTFOUND)
        diag_error(d, rel->loc, "relation '%s': table '%s' does not exist", rel->key, rel->table);
    *out = st;
    return rc;
}

/* Watermark bound: the greatest cursor tuple now in the table (NULL = empty). */
static int cursor_upper(conn_ctx *cc, const eng_bound_table *bt, arena *a, const char ***out)
{
    const src_driver *drv = cc->pc->driver;
    buf sql = BUF_INIT;
    buf_puts(&sql, "SELECT ");
    for (int i = 0; i < bt->ncursor; i++) {
        if (i) buf_puts(&sql, ", ");
        drv->quote_ident(&sql, bt->st->cols[bt->cursor[i]].name);
    }
    buf_puts(&sql, " FROM ");
    eng_from_sql(bt, &sql);
    /* no `where`: rows that stopped passing it are in the window too
     * (leavers); no NULL cursor: PostgreSQL sorts NULL first in DESC order,
     * and a NULL watermark would match no row ever after */
    for (int i = 0; i < bt->ncursor; i++) {
        buf_puts(&sql, i ? " AND " : " WHERE ");
        drv->quote_ident(&sql, bt->st->cols[bt->cursor[i]].name);
        buf_puts(&sql, " IS NOT NULL");
    }
    buf_puts(&sql, " ORDER BY ");
    for (int i = 0; i < bt->ncursor; i++) {
        if (i) buf_puts(&sql, ", ");
        drv->quote_ident(&sql, bt->st->cols[bt->cursor[i]].name);
        buf_puts(&sql, " DESC");
    }
    buf_puts(&sql, " LIMIT 1");
    src_query q = {sql.data, NULL, 0, 1};
    src_scan *s = NULL;
    *out = NULL;
    int rc = drv->begin_scan(cc->c, &q, &s, cc->r->d);
    const src_value *row;
    if (rc == 0 && (rc = drv->next(s, &row, cc->r->d)) == 1) {
        const char **v = arena_alloc(a, (size_t)(bt->ncursor + 1) * sizeof *v);
        for (int i = 0; i < bt->ncursor; i++) {
            if (row[i].kind == SRC_NULL) v[i] = NULL;
            else if (row[i].kind == SRC_BOOL) v[i] = row[i].p[0] == 't' ? "true" : "false";
            else v[i] = arena_strndup(a, row[i].p, row[i].n);
        }
        *out = v;
        rc = 0;
    }
    drv->end_scan(s);
    buf_free(&sql);
    return rc;
}

/* Parse "YYYY-MM-DD[T ]HH:MM:SS[.ffffff][Z|+hh:mm]" and subtract lag_ms;
 * writes the same shape back (UTC kept as given). 0 when not a timestamp. */
static int timestamp_minus(const char *v, int64_t lag_ms, char *out, size_t n)
{
    struct tm tm = {0};
    int Y, M, D, h = 0, m = 0, sec = 0, used = 0;
    if (sscanf(v, "%4d-%2d-%2d%n", &Y, &M, &D, &used) != 3 || used != 10) return 0;
    const char *rest = v + 10;
    char sep = *rest;
    if (sep == 'T' || sep == ' ') {
        if (sscanf(rest + 1, "%2d:%2d:%2d", &h, &m, &sec) != 3) return 0;
        rest += 9;
    } else if (sep != '\0') {
        return 0;
    }
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    int64_t ms = (int64_t)t * 1000;
    /* keep the fraction conservatively: drop it (re-reads a little more) */
    while (*rest == '.' || (*rest >= '0' && *rest <= '9')) rest++;
    ms -= lag_ms;
    time_t t2 = (time_t)(ms / 1000 - (ms % 1000 < 0 ? 1 : 0));
    struct tm o;
    gmtime_r(&t2, &o);
    char date[64];
    if (sep == '\0') {
        strftime(date, sizeof date, "%Y-%m-%d", &o);
        snprintf(out, n, "%s", date);
    } else {
        strftime(date, sizeof date, sep == 'T' ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &o);
        snprintf(out, n, "%s%s", date, rest);
    }
    return 1;
}

static void table_run_free(table_run *tr)
{
    if (tr->sets)
        for (int i = 0; i < tr->bt->nrel_slots; i++) eng_child_set_free(tr->sets[i]);
    free(tr->sets);
    free(tr->rows_buf);
    arena_free(tr->chunk);
    eng_interp_free(tr->it);
    buf_free(&tr->key.bytes);
}

/* Stream the scan (resuming after transient errors). */
static int scan_rows(table_run *tr, const char *extra, const char *const *xparams, int nx,
                     uint64_t *rows_out)
{
    conn_ctx *cc = tr->cc;
    run *r = cc->r;
    const src_driver *drv = cc->pc->driver;
    const eng_bound_table *bt = tr->bt;
    arena *qa = arena_new();
    const char **after = NULL;
    int stalled = 0, rc = 0;
    int max_stalled = cc->pc->source.retry_count > 0 ? cc->pc->source.retry_count : MAX_STALLED_RETRIES;
    uint64_t rows = 0; /* rows read and kept (re-read rows are not counted twice) */
    for (;;) {
        src_query q;
        rc = eng_scan_sql(bt, qa, extra, xparams, nx, after, &q, r->d);
        if (rc) break;
        q.fetch_size = cc->pc->source.fetch_size;
        src_scan *s = NULL;
        uint64_t written_before = tr->docs + tr->deletes + tr->filtered;
        if (!cc->c) open_source(cc->pc, &cc->c, r->d);
        tr->ad = diag_new();
        rc = cc->c ? drv->begin_scan(cc->c, &q, &s, tr->ad) : DIAG_ETRANSIENT;
        if (rc == 0) {
            const src_column *cols;
            int ncols;
            drv->scan_columns(s, &cols, &ncols);
            tr->width = ncols;
            const src_value *row;
            while ((rc = drv->next(s, &row, tr->ad)) == 1) {
                rows++;
                rc = take_row(tr, row);
                if (rc < 0) break;
                eng_progress_update(r->prog, rows, tr->docs);
                if (r->o->limit && rows >= r->o->limit) {
                    rc = 0;
                    break;
                }
            }
            const src_scan_stats *ss = drv->stats(s);
            if (ss) r->st->warnings += ss->warnings;
            drv->end_scan(s);
            /* rows already read are complete: write them even after a
             * transient error of the scan itself */
            if (rc >= 0 || rc == DIAG_ETRANSIENT) {
                int frc = flush_chunk(tr);
                if (frc < 0) rc = frc;
            }
        }
        /* transient: forget unwritten rows, reconnect, resume after the
         * last written key (no duplicate, no lost row) */
        if (rc == DIAG_ETRANSIENT) {
            rows -= (uint64_t)tr->nchunk;
            drop_chunk(tr);
            stalled = tr->docs + tr->deletes + tr->filtered > written_before ? 1 : stalled + 1;
        }
        if (rc >= 0 || rc != DIAG_ETRANSIENT || stalled > max_stalled) {
            forward_diag(r->d, tr->ad);
            diag_free(tr->ad);
            tr->ad = NULL;
            break;
        }
        diag_warning(r->d, bt->pt->loc, "%s > %s: %s; reconnecting and resuming after %llu rows",
                     cc->pc->id, bt->st->name, diag_last(tr->ad), (unsigned long long)rows);
        diag_free(tr->ad);
        tr->ad = NULL;
        sleep(stalled > 1 ? 2u << (stalled - 2) : 0);
        reconnect(cc, &cc->c);
        cc->pc->driver->close(cc->c2);
        cc->c2 = NULL;
        if (tr->key.have) after = key_values(&tr->key, qa);
    }
    arena_free(qa);
    *rows_out = rows;
    return rc < 0 ? rc : 0;
}

/* An incremental read sees only the rows passing `where` (and the rules
 * pushed into SQL): the rows of the same window that stopped passing them
 * become deletes (a delete of a document never indexed is harmless). */
static int scan_leavers(table_run *tr, const char *extra, const char *const *xparams, int nx)
{
    conn_ctx *cc = tr->cc;
    run *r = cc->r;
    const src_driver *drv = cc->pc->driver;
    arena *qa = arena_new();
    plan_table pt2 = *tr->bt->pt;
    pt2.where_sql = arena_printf(qa, "(%s) IS NOT TRUE", tr->bt->pt->where_sql);
    eng_bound_table bt2 = *tr->bt;
    bt2.pt = &pt2;
    src_query q;
    src_scan *s = NULL;
    int rc = eng_scan_sql(&bt2, qa, extra, xparams, nx, NULL, &q, r->d);
    if (rc == 0) {
        q.fetch_size = cc->pc->source.fetch_size;
        rc = cc->c ? drv->begin_scan(cc->c, &q, &s, r->d) : DIAG_EIO;
    }
    const src_value *row;
    while (rc == 0 && (rc = drv->next(s, &row, r->d)) == 1) {
        eng_doc_result res;
        buf_reset(&r->item);
        rc = eng_write_delete(tr->it, row, &r->item, &res);
        if (rc < 0) break;
        res.deleted = 1;
        tr->rows++;
        tr->deletes++;
        rc = emit(r, tr->bt, &r->item, &res, tr->si);
    }
    if (s) drv->end_scan(s);
    arena_free(qa);
    return rc < 0 ? rc : 0;
}

static int sync_table(conn_ctx *cc, const table_job *job)
{
    run *r = cc->r;
    const plan_connector *pc = cc->pc;
    const plan_table *pt = job->pt;
    arena *ta = arena_new();
    table_run tr = {0};
    tr.cc = cc;
    int rc;
    src_table *st = arena_alloc(ta, sizeof *st);
    if (pt->custom_query) {
        rc = describe_query(cc, pt, ta, st);
    } else {
        rc = pc->driver->describe(cc->c, pt->schema ? pt->schema : pc->source.schema, job->name, ta,
                                  st, r->d);
        if (rc == DIAG_ENOTFOUND)
            diag_error(r->d, pt->loc, "%s: table '%s' does not exist (dropped?)", pc->id, job->name);
    }
    if (rc) goto fail;
    char ts[40];
    iso_now(ts, sizeof ts);
    describe_ctx dc = {cc, ta};
    eng_bind_opts bo = {0};
    bo.driver = pc->driver;
    bo.timestamp = ts;
    bo.describe = describe_child;
    bo.describe_ctx = &dc;
    eng_bound_table *bt = NULL;
    /* bind into a scratch diag: a table that is skipped is a warning only */
    diag *bd = diag_new();
    rc = eng_bind_table(ta, pc, pt, st, &bo, &bt, bd);
    if (rc == DIAG_ENOTFOUND) {
        /* the connectors skip tables without a primary key, with a warning */
        diag_warning(r->d, pt->loc, "%s > %s: skipped: %s", pc->id, job->name, diag_last(bd));
        diag_free(bd);
        r->st->skipped_tables++;
        arena_free(ta);
        return 0;
    }
    forward_diag(r->d, bd);
    diag_free(bd);
    if (rc) goto fail;
    tr.bt = bt;
    tr.it = eng_interp_new(bt, r->d);
    if (bt->doc.doc->nrelations > 0) {
        tr.chunk = arena_new();
        tr.rows_buf = calloc(CHUNK_ROWS, sizeof *tr.rows_buf);
        tr.sets = calloc((size_t)bt->nrel_slots, sizeof *tr.sets);
        if (!tr.rows_buf || !tr.sets) abort();
        for (int i = 0; i < bt->nrel_slots; i++) tr.sets[i] = eng_child_set_new(bt->rel_by_slot[i]);
    }

    tr.incremental = bt->ncursor > 0 && r->o->mode != ENG_MODE_FULL;
    if (r->o->mode == ENG_MODE_INCREMENTAL && bt->ncursor == 0)
        diag_warning(r->d, pt->loc, "%s > %s: no incremental cursor configured: full read", pc->id,
                     job->name);

    /* the target index: created with the plan's mapping, conflicts reported */
    tr.si = seen_for(r, bt->index);
    if (!r->o->dry_run && !tr.si) {
        buf mapping = BUF_INIT;
        rc = eng_mapping_json(bt, &mapping, r->d);
        es_index_report rep = {0};
        if (rc == 0)
            rc = es_index_ensure(r->es, bt->index, mapping.data, pt->index_settings_json, &rep, r->d);
        buf_free(&mapping);
        if (rc) goto fail;
    }
    if (!tr.si) {
        r->indices = realloc(r->indices, (size_t)(r->nindices + 1) * sizeof *r->indices);
        if (!r->indices) abort();
        tr.si = &r->indices[r->nindices++];
        tr.si->index = strdup(bt->index);
        tr.si->seen = NULL;
        tr.si->clean = 1;
    }
    if (!tr.incremental && !r->o->dry_run && !r->o->limit && !tr.si->seen)
        tr.si->seen = eng_idset_new(256u << 20 >> 4); /* ~16 MiB of ids in memory per run */
    if (tr.incremental) tr.si->clean = 0; /* an incremental read does not see every document */

    /* incremental window */
    const char *extra = NULL;
    const char *const *xparams = NULL;
    int nx = 0;
    const char **upper = NULL;
    if (tr.incremental) {
        const char *const *w;
        int nw;
        eng_state_get(r->state, pc->id, job->name, &w, &nw);
        rc = cursor_upper(cc, bt, ta, &upper);
        if (rc < 0) goto fail;
        /* the first run reads every row (NULL cursors included), later runs
         * the window after the watermark */
        if (nw != bt->ncursor) goto window_done;
        if (!upper) goto done; /* no row with a cursor */
        const char **params = arena_alloc(ta, (size_t)(2 * bt->ncursor + 1) * sizeof *params);
        buf pred = BUF_INIT;
        if (nw == bt->ncursor) {
            char lagged[64];
            if (pt->lag_ms > 0 && w[0] && timestamp_minus(w[0], pt->lag_ms, lagged, sizeof lagged)) {
                pc->driver->quote_ident(&pred, st->cols[bt->cursor[0]].name);
                buf_puts(&pred, " >= ? AND ");
                params[nx++] = arena_strdup(ta, lagged);
            } else {
                buf_puts(&pred, eng_cursor_pred(bt, ta, ">"));
                buf_puts(&pred, " AND ");
                for (int i = 0; i < nw; i++) params[nx++] = w[i];
            }
        }
        buf_puts(&pred, eng_cursor_pred(bt, ta, "<="));
        for (int i = 0; i < bt->ncursor; i++) params[nx++] = upper[i];
        extra = arena_strdup(ta, pred.data);
        buf_free(&pred);
        xparams = params;
    }
window_done:

    {
        char label[160];
        snprintf(label, sizeof label, "%s/%s", pc->id, job->name);
        eng_progress_begin(r->prog, label, pt->custom_query ? -1 : st->row_estimate);
    }
    uint64_t rows = 0, dead_before = 0;
    if (r->bulk) {
        es_bulk_stats b0;
        es_bulk_get_stats(r->bulk, &b0);
        dead_before = b0.failed;
    }
    rc = scan_rows(&tr, extra, xparams, nx, &rows);
    tr.rows = rows;
    eng_progress_end(r->prog, rows, tr.docs);
    if (rc < 0) goto fail;
    if (tr.incremental && extra && pt->where_sql && *pt->where_sql) {
        rc = scan_leavers(&tr, extra, xparams, nx);
        if (rc < 0) goto fail;
    }

    if (tr.incremental && upper && r->o->limit && tr.rows >= r->o->limit) {
        /* rows are read in key order, not cursor order: the unread rest may
         * hold any cursor value, so the watermark cannot move */
        diag_warning(r->d, pt->loc, "%s > %s: --limit stopped the read: watermark not saved",
                     pc->id, job->name);
    } else if (tr.incremental && upper) {
        /* the watermark is saved only once Elasticsearch acknowledged */
        if (!r->o->dry_run) {
            rc = es_bulk_flush(r->bulk);
            if (rc < 0) goto fail;
            es_bulk_stats b1;
            es_bulk_get_stats(r->bulk, &b1);
            if (b1.failed > dead_before) {
                /* dead-lettered is not acknowledged: the next run re-reads
                 * those rows (after the mapping or the data is fixed) */
                diag_warning(r->d, pt->loc,
                             "%s > %s: %llu documents dead-lettered: watermark not saved",
                             pc->id, job->name, (unsigned long long)(b1.failed - dead_before));
            } else {
                eng_state_set(r->state, pc->id, job->name, upper, bt->ncursor);
                rc = eng_state_save(r->state, r->d);
                if (rc < 0) goto fail;
            }
        }
    }
done:
    {
        const eng_interp_stats *is = tr.it ? eng_interp_stats_get(tr.it) : NULL;
        r->st->tables++;
        r->st->rows += tr.rows;
        r->st->docs += tr.docs;
        r->st->deletes += tr.deletes;
        r->st->filtered += tr.filtered;
        if (is) {
            r->st->warnings += is->warnings;
            r->st->errors += is->errors;
        }
    }
    table_run_free(&tr);
    arena_free(ta);
    return 0;
fail:
    if (tr.si) tr.si->clean = 0;
    r->st->errors++;
    /* what was read and sent before the failure is in the index: count it */
    r->st->rows += tr.rows;
    r->st->docs += tr.docs;
    r->st->deletes += tr.deletes;
    r->st->filtered += tr.filtered;
    if (tr.bt) table_run_free(&tr);
    arena_free(ta);
    return rc ? rc : DIAG_EIO;
}

/* ---- table selection -------------------------------------------------------- */

static int selected(const plan_connector *pc, const char *name)
{
    if (pc->all_tables) return 1;
    for (int i = 0; i < pc->nselection; i++)
        if (fnmatch(pc->selection[i], name, 0) == 0) return 1;
    return 0;
}

static const plan_table *entry_for(const plan_connector *pc, const char *name)
{
    for (int i = 0; i < pc->ntables; i++)
        if (!pc->tables[i].is_glob && !pc->tables[i].is_default && !strcmp(pc->tables[i].name, name))
            return &pc->tables[i];
    for (int i = 0; i < pc->ntables; i++)
        if (pc->tables[i].is_glob && fnmatch(pc->tables[i].name, name, 0) == 0) return &pc->tables[i];
    for (int i = 0; i < pc->ntables; i++)
        if (pc->tables[i].is_default) return &pc->tables[i];
    return NULL;
}

static int has_glob(const char *s) { return strpbrk(s, "*?[") != NULL; }

static int resolve_tables(conn_ctx *cc, arena *a, table_job **out, int *nout)
{
    const plan_connector *pc = cc->pc;
    run *r = cc->r;
    table_job *jobs = NULL;
    int n = 0;
    if (pc->advanced) {
        jobs = arena_alloc(a, (size_t)(pc->ntables + 1) * sizeof *jobs);
        for (int i = 0; i < pc->ntables; i++) {
            if (!pc->tables[i].custom_query) continue;
            if (r->o->table && strcmp(r->o->table, pc->tables[i].name)) continue;
            jobs[n].pt = &pc->tables[i];
            jobs[n].name = pc->tables[i].name;
            n++;
        }
        *out = jobs;
        *nout = n;
        return 0;
    }
    const char **names = NULL;
    int nn = 0;
    int rc = pc->driver->list_tables(cc->c, pc->source.schema, a, &names, &nn, r->d);
    if (rc) return rc;
    for (int i = 0; i < pc->nselection; i++) {
        if (has_glob(pc->selection[i])) continue;
        int found = 0;
        for (int j = 0; j < nn && !found; j++) found = !strcmp(names[j], pc->selection[i]);
        if (!found) {
            diag_error(r->d, pc->loc, "%s: table '%s' listed in configuration.tables does not exist",
                       pc->id, pc->selection[i]);
            return DIAG_ENOTFOUND;
        }
    }
    jobs = arena_alloc(a, (size_t)(nn + 1) * sizeof *jobs);
    for (int j = 0; j < nn; j++) {
        if (!selected(pc, names[j])) continue;
        if (r->o->table && strcmp(r->o->table, names[j])) continue;
        const plan_table *pt = entry_for(pc, names[j]);
        if (!pt) continue;
        jobs[n].pt = pt;
        jobs[n].name = names[j];
        n++;
    }
    *out = jobs;
    *nout = n;
    return 0;
}

/* Delete the documents of index that this full sync did not see. */
static int sweep(run *r, struct seen_index *si)
{
    es_ids *it = NULL;
    /* list what a search sees now: the previous run's last writes included */
    int rc = es_refresh(r->es, si->index, r->d);
    if (rc == 0) rc = es_ids_open(r->es, si->index, NULL, 5000, &it, r->d);
    if (rc) return rc;
    eng_idset *present = eng_idset_new(256u << 20 >> 4);
    const char *id;
    size_t idlen;
    while ((rc = es_ids_next(it, &id, &idlen, r->d)) == 1) eng_idset_add(present, id, idlen);
    es_ids_close(it);
    if (rc < 0) {
        eng_idset_free(present);
        return rc;
    }
    eng_idset_iter *a = eng_idset_iter_new(present, r->d);
    eng_idset_iter *b = eng_idset_iter_new(si->seen, r->d);
    rc = (a && b) ? 0 : DIAG_EIO;
    const char *x = NULL, *y = NULL;
    size_t xl = 0, yl = 0;
    int hx = a ? eng_idset_iter_next(a, &x, &xl) : 0;
    int hy = b ? eng_idset_iter_next(b, &y, &yl) : 0;
    buf line = BUF_INIT;
    while (rc == 0 && hx == 1) {
        int cmp = hy == 1 ? eng_idset_cmp(x, xl, y, yl) : -1;
        if (cmp == 0) {
            hx = eng_idset_iter_next(a, &x, &xl);
            hy = eng_idset_iter_next(b, &y, &yl);
        } else if (cmp > 0) {
            hy = eng_idset_iter_next(b, &y, &yl);
        } else {
            buf_reset(&line);
            buf_puts(&line, "{\"delete\":{\"_index\":");
            buf_json_str(&line, si->index, strlen(si->index), NULL);
            buf_puts(&line, ",\"_id\":");
            buf_json_str(&line, x, xl, NULL);
            buf_puts(&line, "}}\n");
            es_item_meta meta = {++r->seq, si->index};
            rc = es_bulk_add(r->bulk, line.data, line.len, &meta);
            r->st->swept++;
            hx = eng_idset_iter_next(a, &x, &xl);
        }
    }
    if (hx < 0 || hy < 0) rc = DIAG_EIO;
    buf_free(&line);
    eng_idset_iter_free(a);
    eng_idset_iter_free(b);
    eng_idset_free(present);
    return rc;
}

/* The index a table of pc writes into, as bind renders it, or NULL when it
 * cannot be known without the database (a plan variable without a value). */
static char *table_index(const plan_connector *pc, const plan_table *pt, const char *name, arena *a)
{
    if (!pt->index) {
        if (!pc->index_name) return NULL;
        char *ix = arena_strdup(a, pc->index_name);
        for (char *q = ix; *q; q++) if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
        return ix;
    }
    buf b = BUF_INIT;
    int known = 1;
    for (int i = 0; i < pt->index->nparts && known; i++) {
        const plan_tpl_part *part = &pt->index->parts[i];
        const char *v = NULL;
        if (part->kind == PLAN_TPL_LIT) v = part->text;
        else if (part->kind == PLAN_TPL_VAR && !strcmp(part->text, "table")) v = name;
        else if (part->kind == PLAN_TPL_VAR && !strcmp(part->text, "connector")) v = pc->id;
        else if (part->kind == PLAN_TPL_VAR && !strcmp(part->text, "database")) v = pc->source.database;
        else if (part->kind == PLAN_TPL_VAR && !strcmp(part->text, "schema"))
            v = pt->schema ? pt->schema : pc->source.schema;
        if (v) buf_puts(&b, v);
        else known = 0;
    }
    char *ix = known ? arena_strndup(a, b.data ? b.data : "", b.len) : NULL;
    buf_free(&b);
    for (char *q = ix; q && *q; q++) if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
    return ix;
}

/* With --table, an index may also hold the documents of tables this run did
 * not read; sweeping it would delete them. Marks such indices unclean (no
 * sweep) with a warning. */
static void keep_shared_indices(conn_ctx *cc, arena *a)
{
    run *r = cc->r;
    const plan_connector *pc = cc->pc;
    const char **names = NULL;
    const plan_table **pts = NULL;
    int nn = 0;
    if (pc->advanced) {
        names = arena_alloc(a, (size_t)(pc->ntables + 1) * sizeof *names);
        pts = arena_alloc(a, (size_t)(pc->ntables + 1) * sizeof *pts);
        for (int i = 0; i < pc->ntables; i++)
            if (pc->tables[i].custom_query) {
                names[nn] = pc->tables[i].name;
                pts[nn++] = &pc->tables[i];
            }
    } else {
        diag *scratch = diag_new();
        int rc = cc->c ? pc->driver->list_tables(cc->c, pc->source.schema, a, &names, &nn, scratch) : -1;
        diag_free(scratch);
        if (rc) {
            nn = -1; /* unknown: keep everything */
        } else {
            pts = arena_alloc(a, (size_t)(nn + 1) * sizeof *pts);
            for (int j = 0; j < nn; j++) pts[j] = selected(pc, names[j]) ? entry_for(pc, names[j]) : NULL;
        }
    }
    for (int i = 0; i < r->nindices; i++) {
        struct seen_index *si = &r->indices[i];
        if (!si->seen || !si->clean) continue;
        const char *other = nn < 0 ? "?" : NULL;
        for (int j = 0; j < nn && !other; j++) {
            if (!pts[j] || !strcmp(names[j], r->o->table)) continue;
            const char *ix = table_index(pc, pts[j], names[j], a);
            if (!ix || !strcmp(ix, si->index)) other = names[j];
        }
        if (other) {
            si->clean = 0;
            diag_warning(r->d, pc->loc,
                         "%s: index '%s' may also hold documents of table '%s': unseen documents "
                         "not deleted (a full sync without --table deletes them)",
                         pc->id, si->index, other);
        }
    }
}

/* Another connector of the configuration that may write into index ix, or
 * NULL. Its tables are not listed here, so a $table in its index template
 * matches any name. Sweeping ix would delete that connector's documents. */
static const char *other_writer(const run *r, const plan_connector *self, const char *ix, arena *a)
{
    for (int i = 0; i < r->p->nconnectors; i++) {
        const plan_connector *pc = &r->p->connectors[i];
        if (pc == self) continue;
        const char *def = table_index(pc, &(plan_table){0}, "*", a);
        if (def && strcmp(def, ix) == 0) return pc->id;
        for (int t = 0; t < pc->ntables; t++) {
            const char *pat = table_index(pc, &pc->tables[t], "*", a);
            if (!pat || fnmatch(pat, ix, 0) == 0) return pc->id;
        }
    }
    return NULL;
}

static int sync_connector(run *r, const plan_connector *pc)
{
    conn_ctx cc = {r, pc, NULL, NULL};
    arena *a = arena_new();
    /* another connector's failure does not stop this one's sweep */
    int failed_before = r->failed;
    r->failed = 0;
    int rc = open_source(pc, &cc.c, r->d);
    table_job *jobs = NULL;
    int njobs = 0;
    if (rc == 0) rc = resolve_tables(&cc, a, &jobs, &njobs);
    for (int i = 0; rc == 0 && i < njobs; i++) {
        int trc = sync_table(&cc, &jobs[i]);
        if (trc) {
            r->failed = 1;
            /* the connection may be gone with the table: go on with the others */
            if (!cc.c) open_source(pc, &cc.c, r->d);
        }
    }
    if (rc) r->failed = 1;
    if (rc == 0 && !r->o->dry_run && r->o->table) keep_shared_indices(&cc, a);
    /* deletes of unseen documents: only for indices every table finished */
    if (rc == 0 && !r->o->dry_run) {
        int frc = es_bulk_flush(r->bulk);
        for (int i = 0; frc == 0 && i < r->nindices; i++) {
            struct seen_index *si = &r->indices[i];
            if (!si->seen || !si->clean || r->failed) continue;
            const char *other = other_writer(r, pc, si->index, a);
            if (other) {
                diag_warning(r->d, pc->loc,
                             "%s: index '%s' may also hold documents of connector '%s': unseen "
                             "documents not deleted (give each connector its own index)",
                             pc->id, si->index, other);
                continue;
            }
            frc = sweep(r, si);
        }
        if (frc == 0) frc = es_bulk_flush(r->bulk);
        if (frc) {
            r->failed = 1;
            rc = frc;
        }
    }
    for (int i = 0; i < r->nindices; i++) {
        eng_idset_free(r->indices[i].seen);
        free(r->indices[i].index);
    }
    free(r->indices);
    r->indices = NULL;
    r->nindices = 0;
    r->failed |= failed_before;
    pc->driver->close(cc.c);
    pc->driver->close(cc.c2);
    arena_free(a);
    return rc;
}

static char *default_state_path(const plan *p)
{
    const char *f = p->file ? p->file : "config.yml";
    const char *slash = strrchr(f, '/');
    size_t dl = slash ? (size_t)(slash - f + 1) : 0;
    size_t n = dl + 32;
    char *s = malloc(n);
    if (!s) abort();
    snprintf(s, n, "%.*s.sql2es-state", (int)dl, f);
    return s;
}

/* The cluster side for connector pc: a client with the connector's api_key
 * (it wins over elasticsearch.api_key), the start-up wait, and a bulk sink
 * with the connector's pipeline. */
static int sink_open(run *r, const plan_connector *pc)
{
    plan_es cfg = r->p->es;
    if (pc->api_key && *pc->api_key) cfg.api_key = pc->api_key;
    r->es = es_client_new(&cfg, r->d);
    if (!r->es || es_wait_ready(r->es, NULL, r->d) != 0) return DIAG_EIO;
    r->bulk = es_bulk_new(r->es, &cfg, r->d);
    if (!r->bulk) return DIAG_EIO;
    if (!cfg.dead_letter_file) es_bulk_set_dead_letter(r->bulk, "sql2es-dead-letter.ndjson");
    if (pc->pipeline && *pc->pipeline) es_bulk_set_pipeline(r->bulk, pc->pipeline);
    return 0;
}

/* Settle everything sent, add the sink's counts to the run, free it. */
static void sink_close(run *r)
{
    if (r->bulk) {
        es_bulk_stats bs;
        if (es_bulk_finish(r->bulk, &bs) != 0) r->failed = 1;
        r->st->indexed += bs.indexed + bs.updated;
        r->st->failed += bs.failed;
        r->st->retried += bs.request_retries + bs.item_retries;
        if (bs.failed) r->failed = 1;
    }
    es_bulk_free(r->bulk);
    es_client_free(r->es);
    r->bulk = NULL;
    r->es = NULL;
}

int eng_sync_run(const plan *p, const eng_sync_opts *o, eng_sync_stats *stats, diag *d)
{
    run r = {0};
    eng_sync_stats local = {0};
    r.p = p;
    r.o = o;
    r.st = stats ? stats : &local;
    memset(r.st, 0, sizeof *r.st);
    r.d = d;
    double t0 = eng_now();
    int code = 0, matched = 0;
    char *state_path = NULL;

    for (int i = 0; i < p->nconnectors; i++)
        if (!o->connector || !strcmp(o->connector, p->connectors[i].id)) matched++;
    if (!matched) {
        diag_error(d, (src_loc){p->file, 0, 0}, "no connector '%s' in the configuration", o->connector);
        return 2;
    }
    r.prog = eng_progress_new(stderr, o->tty, (uint64_t)(p->es.display_every > 0 ? p->es.display_every : 100), o->quiet);
    buf_init(&r.item, 0);
    for (int i = 0; i < p->nconnectors; i++) {
        const plan_connector *pc = &p->connectors[i];
        if (o->connector && strcmp(o->connector, pc->id)) continue;
        /* one client and sink per connector: its api_key and pipeline */
        if (!o->dry_run && sink_open(&r, pc) != 0) {
            sink_close(&r);
            code = 1;
            break;
        }
        free(state_path);
        state_path = o->state_file ? strdup(o->state_file)
                     : pc->state_file ? strdup(pc->state_file) : default_state_path(p);
        eng_state_free(r.state);
        r.state = eng_state_load(state_path, d);
        if (!r.state) {
            sink_close(&r);
            code = 1;
            continue;
        }
        if (sync_connector(&r, pc) != 0) r.failed = 1;
        sink_close(&r);
    }
    if (o->dry_run && o->out && fflush(o->out) != 0) {
        diag_error(d, (src_loc){0}, "cannot write the dry-run output");
        r.failed = 1;
    }
    if (r.failed) code = 1;
    r.st->seconds = eng_now() - t0;
    eng_state_free(r.state);
    free(state_path);
    buf_free(&r.item);
    eng_progress_free(r.prog);
    return code;
}

/* ---- validate --check-source ------------------------------------------------ */

#include "sync/check_source.h"

int eng_check_source(const plan *p, diag *d, FILE *report)
{
    eng_sync_opts o = {0};
    eng_sync_stats st;
    run r = {0};
    r.p = p;
    r.o = &o;
    r.st = &st;
    r.d = d;
    int code = 0;
    for (int i = 0; i < p->nconnectors; i++) {
        const plan_connector *pc = &p->connectors[i];
        conn_ctx cc = {&r, pc, NULL, NULL};
        arena *a = arena_new();
        table_job *jobs = NULL;
        int njobs = 0;
        if (open_source(pc, &cc.c, d) != 0) {
            code = 1;
            goto next;
        }
        int rc = resolve_tables(&cc, a, &jobs, &njobs);
        if (rc) {
            code = rc == DIAG_ENOTFOUND ? 2 : 1;
            goto next;
        }
        for (int t = 0; t < pc->ntables; t++) {
            const plan_table *pt = &pc->tables[t];
            if (pt->is_default || pt->custom_query) continue;
            int used = 0;
            for (int j = 0; j < njobs && !used; j++) used = jobs[j].pt == pt;
            if (!used)
                diag_warning(d, pt->loc, "%s: mapping '%s' matches no selected table", pc->id, pt->name);
        }
        for (int j = 0; j < njobs; j++) {
            const plan_table *pt = jobs[j].pt;
            src_table *tbl = arena_alloc(a, sizeof *tbl);
            rc = pt->custom_query ? describe_query(&cc, pt, a, tbl)
                                  : pc->driver->describe(cc.c, pt->schema ? pt->schema : pc->source.schema,
                                                         jobs[j].name, a, tbl, d);
            if (rc) {
                if (rc == DIAG_ENOTFOUND)
                    diag_error(d, pt->loc, "%s: table '%s' does not exist", pc->id, jobs[j].name);
                code = code ? code : 2;
                continue;
            }
            describe_ctx dc = {&cc, a};
            eng_bind_opts bo = {0};
            bo.driver = pc->driver;
            bo.timestamp = "";
            bo.describe = describe_child;
            bo.describe_ctx = &dc;
            eng_bound_table *bt = NULL;
            rc = eng_bind_table(a, pc, pt, tbl, &bo, &bt, d);
            if (rc == DIAG_ENOTFOUND) {
                diag_warning(d, pt->loc, "%s > %s: would be skipped: %s", pc->id, jobs[j].name, diag_last(d));
                continue;
            }
            if (rc) {
                code = 2;
                continue;
            }
            if (report) {
                fprintf(report, "%s/%s -> %s: %d columns, key (", pc->id, jobs[j].name, bt->index,
                        tbl->ncols);
                for (int k = 0; k < bt->doc.nkeys; k++)
                    fprintf(report, "%s%s", k ? ", " : "", tbl->cols[bt->doc.keys[k]].name);
                fprintf(report, ")");
                if (tbl->row_estimate >= 0) fprintf(report, ", ~%lld rows", (long long)tbl->row_estimate);
                if (bt->ncursor) fprintf(report, ", incremental");
                fputc('\n', report);
            }
        }
    next:
        pc->driver->close(cc.c);
        arena_free(a);
    }
    return code;
}
