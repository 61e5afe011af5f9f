/* scan.c - the row loop of one table: stream the scan through the
 * interpreter into the sink, buffer parents in chunks for their relation
 * queries, keep the last written key, and after a transient error reconnect
 * and resume after that key (no duplicate, no lost row). Also the read of
 * the rows that left an incremental window (deletes).
 *
 * Stage: sources -> interpreter -> sink. Builds no JSON itself (the
 * interpreter does) and chooses no table or window (table.c, window.c). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sync/internal.h"

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

static void key_capture(sync_key *k, const eng_bound_table *bt, const src_value *row)
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

static const char **key_values(const sync_key *k, arena *a)
{
    const char **v = arena_alloc(a, (size_t)(k->n + 1) * sizeof *v);
    for (int i = 0; i < k->n; i++) v[i] = arena_strdup(a, k->bytes.data + k->off[i]);
    return v;
}

static int emit(sync_run *r, const eng_bound_table *bt, const buf *item, const eng_doc_result *res,
                sync_seen *si)
{
    if (item->len == 0) return 0;
    /* a delete action settles the id too: the sweep must not delete it again */
    if (si && si->seen && res->id) {
        sync_lock(r);
        eng_idset_add(si->seen, res->id, res->idlen);
        sync_unlock(r);
    }
    sink_meta meta = {++r->seq, NULL, bt->conn->id, bt->st->name, res->id, res->idlen};
    return sink_add(r->sink, item->data, item->len, &meta);
}

static void drop_chunk(sync_table_run *tr)
{
    tr->nchunk = 0;
    if (tr->chunk) arena_reset(tr->chunk);
}

static int write_row(sync_table_run *tr, const src_value *row)
{
    sync_run *r = tr->cc->r;
    eng_doc_result res;
    buf_reset(&r->item);
    int rc;
    if (tr->where_flag) {
        /* a re-read of sync --follow: a row that stopped passing `where` */
        const src_value *f = &row[tr->where_flag - 1];
        if (!(f->kind == SRC_NUMBER || f->kind == SRC_STRING || f->kind == SRC_BOOL) || !f->p ||
            !(f->p[0] == '1' || f->p[0] == 't')) {
            rc = eng_write_delete(tr->it, row, &r->item, &res);
            if (rc < 0) return rc;
            res.deleted = 1;
            tr->deletes++;
            return emit(r, tr->bt, &r->item, &res, tr->si);
        }
    }
    rc = eng_write_doc(tr->it, row, &r->item, &res);
    if (rc < 0) return rc;
    /* resume point: the last row whose items were handed on */
    key_capture(&tr->key, tr->bt, row);
    if (tr->replay) {
        /* an earlier run of the job sent this row: its id is seen as that
         * run saw it (a row that does not pass the rules is not), nothing
         * is sent */
        tr->replayed++;
        if ((res.unjudged || !res.filtered) && tr->si && tr->si->seen && res.id) {
            sync_lock(r);
            eng_idset_add(tr->si->seen, res.id, res.idlen);
            sync_unlock(r);
        }
        return 0;
    }
    if (res.unjudged) {
        /* an error of the row (in the diag, counted by the interpreter):
         * what could not be judged is not deleted by the sweep either */
        tr->unjudged++;
        if (tr->si && tr->si->seen && res.id) {
            sync_lock(r);
            eng_idset_add(tr->si->seen, res.id, res.idlen);
            sync_unlock(r);
        }
        return 0;
    }
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
    if (r->pos && !res.deleted) sync_pos_bytes(r->pos, r->item.len);
    rc = emit(r, tr->bt, &r->item, &res, tr->si);
    if (rc == 0 && r->pos) sync_pos_mark(r->pos, r->seq, &tr->key);
    return rc;
}

/* Hand one child row to cs; the copy cs keeps also registers as a parent
 * of the nested relations. */
static int add_child(sync_table_run *tr, const eng_bound_relation *br, eng_child_set *cs,
                     const src_value *row)
{
    const eng_bound_doc *cd = &br->doc;
    const src_value *kept;
    int rc = eng_child_set_add_child(cs, row, &kept);
    for (int k = 0; rc == 0 && kept && k < cd->doc->nrelations; k++)
        rc = eng_child_set_add_parent(tr->sets[cd->rels[k].slot], kept);
    return rc;
}

/* The child query of cs (its parents registered) on the second connection:
 * one `IN (...)` batch. */
static int read_batch(sync_table_run *tr, const eng_bound_relation *br, eng_child_set *cs)
{
    sync_conn *cc = tr->cc;
    sync_run *r = cc->r;
    src_query q;
    int rc = eng_child_set_query(cs, &q, r->d);
    if (rc) return rc;
    if (!cc->c2) sync_open_source(cc->pc, &cc->c2, r->d);
    if (!cc->c2) return DIAG_ETRANSIENT;
    src_scan *s = NULL;
    diag *dd = tr->ad ? tr->ad : r->d;
    rc = sync_drv_begin_scan(cc->pc->driver, cc->c2, &q, &s, dd);
    const src_value *row;
    while (rc == 0 && (rc = sync_drv_next(cc->pc->driver, s, &row, dd)) == 1)
        rc = add_child(tr, br, cs, row);
    cc->pc->driver->end_scan(s);
    return rc < 0 ? rc : 0;
}

/* ---- relations read by merge (eng_bound_relation.merge)
 *
 * The parent scan comes in key order, and the relation's parent columns
 * are the leading key columns: the children are one scan of the child
 * table ordered by its `on` columns, from the first parent's key on, kept
 * open across chunks on a connection of its own (c2 serves the batches of
 * nested relations), and read chunk by chunk up to the chunk's greatest
 * key. The database keeps reading ahead (the driver's pipelined fetches)
 * while a chunk is written. */
typedef struct sync_merge {
    src_conn *c;
    src_scan *s;          /* NULL: not open yet, or at its end (eof) */
    int eof;
    int width;            /* columns of a row of the query */
    arena *pa;
    src_value *pending;   /* read, and beyond the chunk it was read for */
    arena *ca;
    src_value **carry;    /* the rows of the previous chunk's greatest key: children
                           * of the next chunk too when it starts with that key
                           * (the parent columns are a part of a longer key) */
    int ncarry, capcarry;
    buf sql;
} sync_merge;

/* At the start of a read of the table: a merge state per relation read by
 * merge (none when rows are not buffered in chunks). */
static void merge_begin(sync_table_run *tr)
{
    const eng_bound_doc *d = &tr->bt->doc;
    int any = 0;
    for (int i = 0; i < d->doc->nrelations; i++) any |= d->rels[i].merge;
    if (!any || !tr->chunk) return;
    tr->merges = calloc((size_t)d->doc->nrelations, sizeof *tr->merges);
    if (!tr->merges) abort();
    for (int i = 0; i < d->doc->nrelations; i++) {
        sync_merge *m = &tr->merges[i];
        m->width = d->rels[i].nsel + d->rels[i].nextra;
        m->pa = arena_new();
        m->ca = arena_new();
    }
}

/* Close the child scans and their connections (the end of a read, or an
 * error: the next read opens them again from its first parent's key). */
static void merge_end(sync_table_run *tr)
{
    if (!tr->merges) return;
    const src_driver *drv = tr->cc->pc->driver;
    for (int i = 0; i < tr->bt->doc.doc->nrelations; i++) {
        sync_merge *m = &tr->merges[i];
        if (m->s) drv->end_scan(m->s);
        if (m->c) drv->close(m->c);
        arena_free(m->pa);
        arena_free(m->ca);
        free(m->carry);
        buf_free(&m->sql);
    }
    free(tr->merges);
    tr->merges = NULL;
}

static int carry_push(sync_merge *m, const src_value *row)
{
    if (m->ncarry == m->capcarry) {
        int cap = m->capcarry ? m->capcarry * 2 : 16;
        src_value **nc = realloc(m->carry, sizeof *nc * (size_t)cap);
        if (!nc) return DIAG_ENOMEM;
        m->carry = nc;
        m->capcarry = cap;
    }
    m->carry[m->ncarry++] = copy_row(m->ca, row, m->width);
    return 0;
}

/* After an error: close the scan and its connection and forget what was
 * read ahead; the next chunk (or the same one again) opens it from its
 * first parent's key. */
static void merge_drop(sync_table_run *tr, sync_merge *m)
{
    const src_driver *drv = tr->cc->pc->driver;
    if (m->s) drv->end_scan(m->s);
    if (m->c) drv->close(m->c);
    m->s = NULL;
    m->c = NULL;
    m->eof = 0;
    m->pending = NULL;
    arena_reset(m->pa);
    m->ncarry = 0;
    arena_reset(m->ca);
}

/* The children of the chunk's parents (registered in cs) from the ordered
 * scan: the carried rows when the chunk starts with their key, the pending
 * row, then rows up to the chunk's greatest key; the first row beyond it
 * waits for the next chunk. Rows of keys no parent of the chunk has are
 * dropped by cs. */
static int read_merge_rows(sync_table_run *tr, const eng_bound_relation *br, eng_child_set *cs,
                           sync_merge *m)
{
    sync_conn *cc = tr->cc;
    sync_run *r = cc->r;
    const src_driver *drv = cc->pc->driver;
    diag *dd = tr->ad ? tr->ad : r->d;
    int rc = 0;
    if (eng_child_set_nparents(cs) == 0) return 0; /* no parent key without a NULL */
    if (!m->s && !m->eof) {
        if (eng_sql_child_merge(br, &m->sql)) return DIAG_ENOMEM;
        src_query q;
        memset(&q, 0, sizeof q);
        q.sql = m->sql.data;
        q.params = eng_child_set_parent_key(cs, 0);
        q.nparams = br->rel->non;
        q.fetch_size = cc->pc->source.fetch_size;
        if (!m->c) sync_open_source(cc->pc, &m->c, r->d);
        if (!m->c) return DIAG_ETRANSIENT;
        rc = sync_drv_begin_scan(drv, m->c, &q, &m->s, dd);
        if (rc < 0) {
            m->s = NULL;
            return rc;
        }
    } else if (m->ncarry && eng_child_set_cmp(cs, m->carry[0], 0) == 0) {
        for (int i = 0; i < m->ncarry && rc == 0; i++) rc = add_child(tr, br, cs, m->carry[i]);
        if (rc < 0) return rc;
    }
    m->ncarry = 0;
    arena_reset(m->ca);
    if (m->pending) {
        int c = eng_child_set_cmp(cs, m->pending, -1);
        if (c > 0) return 0; /* beyond this chunk too */
        if (c == 0) rc = carry_push(m, m->pending);
        if (rc == 0) rc = add_child(tr, br, cs, m->pending);
        m->pending = NULL;
        arena_reset(m->pa);
        if (rc < 0) return rc;
    }
    while (m->s) {
        const src_value *row;
        rc = sync_drv_next(drv, m->s, &row, dd);
        if (rc < 0) return rc;
        if (rc == 0) {
            drv->end_scan(m->s);
            m->s = NULL;
            m->eof = 1;
            break;
        }
        int c = eng_child_set_cmp(cs, row, -1);
        if (c > 0) {
            m->pending = copy_row(m->pa, row, m->width);
            break;
        }
        if (c == 0 && (rc = carry_push(m, row)) < 0) return rc;
        rc = add_child(tr, br, cs, row);
        if (rc < 0) return rc;
    }
    return 0;
}

static int read_merge(sync_table_run *tr, const eng_bound_relation *br, eng_child_set *cs,
                      sync_merge *m)
{
    int rc = read_merge_rows(tr, br, cs, m);
    if (rc < 0) merge_drop(tr, m);
    return rc;
}

/* The children of cs's registered parents (by merge with m, else in a
 * batch), then those of the nested relations (one batch per relation and
 * chunk: their parents are child rows, in no key order). */
static int fetch_children(sync_table_run *tr, const eng_bound_relation *br, eng_child_set *cs,
                          sync_merge *m)
{
    const eng_bound_doc *cd = &br->doc;
    int nn = cd->doc->nrelations, rc = 0;
    for (int k = 0; k < nn; k++) eng_child_set_reset(tr->sets[cd->rels[k].slot]);
    if (m) rc = read_merge(tr, br, cs, m);
    else if (eng_child_set_nparents(cs) > 0) rc = read_batch(tr, br, cs);
    if (rc < 0) return rc;
    eng_interp_set_children(tr->it, br, cs);
    for (int k = 0; k < nn; k++) {
        rc = fetch_children(tr, &cd->rels[k], tr->sets[cd->rels[k].slot], NULL);
        if (rc < 0) return rc;
    }
    return 0;
}

/* Fetch the children of the buffered parents, then write the parents. A
 * transient error leaves the chunk unwritten: the scan resumes after the
 * last written row and reads these rows again. */
static int flush_chunk(sync_table_run *tr)
{
    if (tr->nchunk == 0) return 0;
    const eng_bound_table *bt = tr->bt;
    for (int i = 0; i < bt->doc.doc->nrelations; i++) {
        const eng_bound_relation *br = &bt->doc.rels[i];
        eng_child_set *cs = tr->sets[br->slot];
        sync_merge *m = tr->merges && br->merge ? &tr->merges[i] : NULL;
        eng_child_set_reset(cs);
        eng_child_set_only_parents(cs, m != NULL);
        for (int j = 0; j < tr->nchunk; j++) {
            int rc = eng_child_set_add_parent(cs, tr->rows_buf[j]);
            if (rc < 0) return rc;
        }
        int rc = fetch_children(tr, br, cs, m);
        if (rc < 0) return rc;
    }
    for (int j = 0; j < tr->nchunk; j++) {
        int rc = write_row(tr, tr->rows_buf[j]);
        if (rc < 0) return rc;
    }
    drop_chunk(tr);
    return 0;
}

static int take_row(sync_table_run *tr, const src_value *row)
{
    if (!tr->chunk) return write_row(tr, row);
    tr->rows_buf[tr->nchunk++] = copy_row(tr->chunk, row, tr->width);
    return tr->nchunk >= SYNC_CHUNK_ROWS ? flush_chunk(tr) : 0;
}


/* Itemise a value the driver changed in row (column col, -1 unknown): the
 * first SYNC_DETAILED_WARNINGS of the table, all with -v. */
static void source_warning(sync_table_run *tr, const src_value *row, const src_column *cols,
                           int ncols, int col)
{
    sync_run *r = tr->cc->r;
    const eng_bound_table *bt = tr->bt;
    int max = r->o->verbose ? -1 : SYNC_DETAILED_WARNINGS;
    if (max >= 0 && tr->detailed >= max) return;
    tr->detailed++;
    buf key = BUF_INIT;
    for (int i = 0; i < bt->doc.nkeys; i++) {
        const src_value *v = &row[bt->doc.keys[i]];
        if (i) buf_putc(&key, ',');
        if (v->p) buf_append(&key, v->p, v->n > 100 ? 100 : v->n);
    }
    int known = col >= 0 && col < ncols;
    diag_warning(r->d, (src_loc){0},
                 "connector '%s' > table '%s' > row with key '%s'%s%s%s: value written as null "
                 "(NaN, Infinity, a zero date, or a value its mapping cannot hold)",
                 tr->cc->pc->id, bt->st->name, key.data ? key.data : "", known ? " > column '" : "",
                 known ? cols[col].name : "", known ? "'" : "");
    buf_free(&key);
    if (tr->detailed == max)
        diag_warning(r->d, (src_loc){0},
                     "connector '%s' > table '%s': further values the database sent without a "
                     "JSON form are only counted (sync -v itemises them all)",
                     tr->cc->pc->id, bt->st->name);
}

/* One pass over the table: from the start, or after the key `from`; with
 * tr->replay the rows up to `upto` (all with NULL), sending nothing. */
static int scan_pass(sync_table_run *tr, const sync_window *w, const char *const *from,
                     const char *const *upto, uint64_t *rows_out)
{
    sync_conn *cc = tr->cc;
    sync_run *r = cc->r;
    const src_driver *drv = cc->pc->driver;
    const eng_bound_table *bt = tr->bt;
    arena *qa = arena_new();
    const char **after = (const char **)from;
    int stalled = 0, rc = 0;
    int max_stalled = cc->pc->source.retry_count; /* the plan's value; 0 = no retry */
    uint64_t rows = 0; /* rows read and kept (re-read rows are not counted twice) */
    /* one statement: a resumed read binds the last written key */
    eng_scan_stmt stmt;
    int built = eng_sql_scan(bt, w->kind, 0, qa, &stmt, r->d);
    for (; built == 0;) {
        src_query q;
        if (upto) /* a replay starts again from the start after an error */
            eng_sql_scan_upto_query(&stmt, w->lo, (const char *const *)w->upper, upto, qa, &q);
        else
            eng_sql_scan_query(&stmt, w->lo, (const char *const *)w->upper, after, qa, &q);
        src_scan *s = NULL;
        uint64_t written_before = tr->docs + tr->deletes + tr->filtered + tr->replayed;
        if (!cc->c) sync_open_source(cc->pc, &cc->c, r->d);
        tr->ad = diag_new();
        merge_begin(tr); /* the scan comes in key order */
        rc = cc->c ? sync_drv_begin_scan(drv, cc->c, &q, &s, tr->ad) : DIAG_ETRANSIENT;
        if (rc == 0) {
            const src_column *cols;
            int ncols;
            drv->scan_columns(s, &cols, &ncols);
            tr->width = ncols;
            const src_value *row;
            const src_scan_stats *ss = drv->stats(s);
            uint64_t warned = ss ? ss->warnings : 0;
            while ((rc = sync_drv_next(drv, s, &row, tr->ad)) == 1) {
                rows++;
                if (ss && ss->warnings != warned) {
                    source_warning(tr, row, cols, ncols, ss->warn_column - 1);
                    warned = ss->warnings;
                }
                rc = take_row(tr, row);
                if (rc < 0) break;
                if (sync_stopped(r)) { /* stop reading: what was handed on is settled */
                    rc = DIAG_ECANCEL;
                    break;
                }
                if (!tr->replay) eng_progress_update(r->prog, rows, tr->docs);
                if (r->o->limit && rows >= r->o->limit) {
                    rc = 0;
                    break;
                }
            }
            if (ss) r->st->warnings += ss->warnings;
            drv->end_scan(s);
            /* rows already read are complete: write them even after a
             * transient error of the scan itself */
            if (rc >= 0 || rc == DIAG_ETRANSIENT) {
                int frc = flush_chunk(tr);
                if (frc < 0) rc = frc;
            }
        }
        merge_end(tr);
        /* transient: forget unwritten rows, reconnect, resume after the
         * last written key (no duplicate, no lost row) */
        if (rc == DIAG_ETRANSIENT) {
            rows -= (uint64_t)tr->nchunk;
            drop_chunk(tr);
            stalled = tr->docs + tr->deletes + tr->filtered + tr->replayed > written_before ? 1 : stalled + 1;
        }
        if (rc >= 0 || rc != DIAG_ETRANSIENT || stalled > max_stalled) {
            sync_forward_table_diag(r->d, tr->ad, cc->pc->id, bt->st->name);
            diag_free(tr->ad);
            tr->ad = NULL;
            break;
        }
        diag_warning(r->d, bt->pt->loc, "%s > %s: %s; reconnecting and resuming after %llu rows",
                     cc->pc->id, bt->st->name, diag_last(tr->ad), (unsigned long long)rows);
        diag_free(tr->ad);
        tr->ad = NULL;
        sleep(stalled > 1 ? 2u << (stalled - 2) : 0);
        sync_reconnect(cc, &cc->c);
        cc->pc->driver->close(cc->c2);
        cc->c2 = NULL;
        if (tr->key.have) after = key_values(&tr->key, qa);
    }
    if (built) rc = built;
    arena_free(qa);
    *rows_out = rows;
    return rc < 0 ? rc : 0;
}

/* With -v: how each relation of the table is read. */
static void read_notes(sync_table_run *tr)
{
    sync_run *r = tr->cc->r;
    const eng_bound_doc *d = &tr->bt->doc;
    if (!r->o->verbose || !tr->chunk) return;
    for (int i = 0; i < d->doc->nrelations; i++) {
        const eng_bound_relation *br = &d->rels[i];
        diag_note(r->d, br->rel->loc, "%s > %s: relation '%s' is read %s%s%s", tr->cc->pc->id,
                  tr->bt->st->name, br->rel->key,
                  br->merge ? "by merge with the table's scan" : "in IN batches of parents",
                  br->merge_why ? ": " : "", br->merge_why ? br->merge_why : "");
    }
}

int sync_scan_rows(sync_table_run *tr, const sync_window *w, uint64_t *rows_out)
{
    int rc = 0;
    read_notes(tr);
    uint64_t replayed = 0;
    *rows_out = 0;
    if (tr->replay) {
        /* what an earlier run of the job sent: its ids for the sweep */
        rc = scan_pass(tr, w, NULL, tr->replay_all ? NULL : tr->resume_key, &replayed);
        tr->replay = 0;
        tr->key.have = 0;
        if (rc || tr->replay_all) return rc;
    }
    return scan_pass(tr, w, tr->resume_key, NULL, rows_out);
}

/* An incremental read sees only the rows passing `where` (and the rules
 * pushed into SQL): the rows of the same window that stopped passing them
 * become deletes (a delete of a document never indexed is harmless). */
int sync_scan_leavers(sync_table_run *tr, const sync_window *w)
{
    sync_conn *cc = tr->cc;
    sync_run *r = cc->r;
    const src_driver *drv = cc->pc->driver;
    arena *qa = arena_new();
    eng_scan_stmt stmt;
    src_query q;
    src_scan *s = NULL;
    int rc = eng_sql_scan(tr->bt, w->kind, 1, qa, &stmt, r->d);
    if (rc == 0 && !stmt.sql) {
        arena_free(qa); /* no `where` and nothing pushed down: no row can leave */
        return 0;
    }
    if (rc == 0) {
        eng_sql_scan_query(&stmt, w->lo, (const char *const *)w->upper, NULL, qa, &q);
        rc = cc->c ? sync_drv_begin_scan(drv, cc->c, &q, &s, r->d) : DIAG_EIO;
    }
    const src_value *row;
    while (rc == 0 && (rc = sync_drv_next(drv, s, &row, r->d)) == 1) {
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


int sync_scan_query(sync_table_run *tr, const src_query *q)
{
    sync_conn *cc = tr->cc;
    sync_run *r = cc->r;
    const src_driver *drv = cc->pc->driver;
    src_scan *s = NULL;
    if (!cc->c) sync_open_source(cc->pc, &cc->c, r->d);
    int rc = cc->c ? sync_drv_begin_scan(drv, cc->c, q, &s, r->d) : DIAG_ETRANSIENT;
    if (rc == 0) {
        const src_column *cols;
        int ncols;
        drv->scan_columns(s, &cols, &ncols);
        tr->width = ncols;
        const src_value *row;
        while ((rc = sync_drv_next(drv, s, &row, r->d)) == 1) {
            tr->rows++;
            rc = take_row(tr, row);
            if (rc < 0) break;
        }
        const src_scan_stats *ss = drv->stats(s);
        if (ss) r->st->warnings += ss->warnings;
        drv->end_scan(s);
    }
    if (rc >= 0) rc = flush_chunk(tr);
    if (rc < 0) drop_chunk(tr);
    return rc < 0 ? rc : 0;
}
