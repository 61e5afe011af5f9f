/* table.c - one table of a sync run: describe -> bind -> the target index
 * -> the incremental window -> the scan (scan.c) -> the rows that left the
 * window -> the watermark, then the table's counts into the run's.
 *
 * Stage: sync. The order of the steps and what a failure of each undoes
 * live here; the steps themselves live in conn.c, window.c and scan.c. */
#include <stdlib.h>
#include <string.h>

#include "sync/internal.h"

#define TABLE_SKIPPED 1 /* bind found no primary key: skip with a warning */

/* The seen-id entry of index (the top run's), or NULL. Under the lock. */
static sync_seen *seen_for(sync_run *r, const char *index)
{
    sync_run *t = sync_top(r);
    sync_seen *si = NULL;
    for (int i = 0; i < t->nindices && !si; i++)
        if (!strcmp(t->indices[i].index, index)) si = &t->indices[i];
    return si;
}

/* Describe and bind job into tr (allocated in ta). TABLE_SKIPPED when the
 * connectors would skip the table, else 0 or a negative code. */
static int table_bind(sync_table_run *tr, const sync_job *job, arena *ta)
{
    sync_run *r = tr->cc->r;
    const plan_connector *pc = tr->cc->pc;
    const plan_table *pt = job->pt;
    src_table *st = arena_alloc(ta, sizeof *st);
    int rc = sync_describe(tr->cc, pt, job->name, ta, st, r->d);
    if (rc == DIAG_ENOTFOUND && !pt->custom_query)
        diag_error(r->d, pt->loc, "%s: table '%s' does not exist (dropped?)", pc->id, job->name);
    if (rc == 0) {
        char ts[40];
        sync_iso_now(ts, sizeof ts);
        eng_bound_table *bt = NULL;
        /* bind into a scratch diag: a table that is skipped is a warning only */
        diag *bd = diag_new();
        rc = sync_bind(tr->cc, pt, st, arena_strdup(ta, ts), ta, &bt, bd);
        if (rc == DIAG_ENOTFOUND) {
            /* the connectors skip tables without a primary key, with a warning */
            diag_warning(r->d, pt->loc, "%s > %s: skipped: %s", pc->id, job->name, diag_last(bd));
            r->st->skipped_tables++;
            rc = TABLE_SKIPPED;
        } else {
            sync_forward_diag(r->d, bd);
        }
        diag_free(bd);
        if (rc == 0) tr->bt = bt;
    }
    return rc;
}

/* The interpreter and, for relations, the chunk buffers. */
static void table_start(sync_table_run *tr)
{
    const eng_bound_table *bt = tr->bt;
    tr->it = eng_interp_new(bt, tr->cc->r->d);
    if (tr->it) eng_interp_set_detail(tr->it, tr->cc->r->o->verbose ? -1 : SYNC_DETAILED_WARNINGS);
    if (bt->doc.doc->nrelations > 0) {
        tr->chunk = arena_new();
        tr->rows_buf = calloc(SYNC_CHUNK_ROWS, sizeof *tr->rows_buf);
        tr->sets = calloc((size_t)bt->nrel_slots, sizeof *tr->sets);
        if (!tr->rows_buf || !tr->sets) abort();
        for (int i = 0; i < bt->nrel_slots; i++) tr->sets[i] = eng_child_set_new(bt->rel_by_slot[i]);
    }
}

static void table_run_free(sync_table_run *tr)
{
    if (tr->sets)
        for (int i = 0; i < tr->bt->nrel_slots; i++) eng_child_set_free(tr->sets[i]);
    free(tr->sets);
    free(tr->rows_buf);
    arena_free(tr->chunk);
    eng_interp_free(tr->it);
    buf_free(&tr->key.bytes);
}

/* The target index: created with the plan's mapping (conflicts reported),
 * and its seen-id set. Every table into an index checks its own mapping
 * against it: the first creates the index, the others add their fields (a
 * table sharing the index would otherwise get its fields mapped by the
 * cluster's guesses, a float for a double). Under the lock, on the
 * connector's own sink. */
static int table_index(sync_table_run *tr)
{
    sync_run *r = tr->cc->r, *t = sync_top(r);
    const eng_bound_table *bt = tr->bt;
    int rc = 0;
    sync_lock(r);
    tr->si = seen_for(r, bt->index);
    if (sink_has_indices(t->sink)) {
        buf mapping = BUF_INIT;
        rc = eng_mapping_json(bt, &mapping, r->d);
        if (rc == 0)
            rc = t->sink->ops->ensure_index(t->sink, bt->index, mapping.data,
                                            bt->pt->index_settings_json);
        buf_free(&mapping);
    }
    if (rc == 0 && !tr->si) {
        /* a pool's workers hold pointers into the array: it was sized for
         * every job before they started and does not move */
        if (t->nindices == t->capindices) {
            t->capindices = t->capindices ? 2 * t->capindices : 4;
            t->indices = realloc(t->indices, (size_t)t->capindices * sizeof *t->indices);
            if (!t->indices) abort();
        }
        tr->si = &t->indices[t->nindices++];
        tr->si->index = strdup(bt->index);
        tr->si->seen = NULL;
        tr->si->clean = 1;
    }
    if (rc == 0 && !tr->incremental && sink_can_list(r->sink) && !r->o->limit && !tr->si->seen)
        tr->si->seen = eng_idset_new(256u << 20 >> 4); /* ~16 MiB of ids in memory per run */
    if (rc == 0 && tr->incremental) tr->si->clean = 0; /* an incremental read does not see every document */
    sync_unlock(r);
    return rc;
}

/* Read the window's rows (and its leavers), then move the watermark. */
static int table_read(sync_table_run *tr, const sync_job *job, const sync_window *w)
{
    sync_run *r = tr->cc->r;
    const plan_table *pt = job->pt;
    char label[160];
    snprintf(label, sizeof label, "%s/%s", tr->cc->pc->id, job->name);
    eng_progress_begin(r->prog, label, pt->custom_query ? -1 : tr->bt->st->row_estimate);
    uint64_t rows = 0;
    sink_stats before;
    sink_get_stats(r->sink, &before);
    int rc = sync_scan_rows(tr, w, &rows);
    tr->rows = rows;
    eng_progress_end(r->prog, rows, tr->docs);
    if (rc == 0 && tr->incremental && w->kind != ENG_WINDOW_NONE)
        rc = sync_scan_leavers(tr, w);
    if (rc == 0) rc = sync_window_save(tr, job->name, w, before.failed);
    return rc;
}

/* Add the table's counts to the run's. */
static void table_account(sync_table_run *tr, int rc)
{
    sync_run *r = tr->cc->r;
    if (rc) {
        sync_lock(r);
        if (tr->si) tr->si->clean = 0;
        sync_unlock(r);
        if (rc != DIAG_ECANCEL) r->st->errors++; /* stopped on request: not an error */
    } else {
        const eng_interp_stats *is = tr->it ? eng_interp_stats_get(tr->it) : NULL;
        r->st->tables++;
        if (is) {
            r->st->warnings += is->warnings;
            r->st->errors += is->errors;
        }
    }
    /* on failure too: what was read and sent before it is in the index */
    r->st->rows += tr->rows;
    r->st->docs += tr->docs;
    r->st->deletes += tr->deletes;
    r->st->filtered += tr->filtered;
}

/* A served run resumed: what an earlier run of the job did with this
 * table. TABLE_SKIPPED when there is nothing left to do. */
static int table_resume(sync_table_run *tr, const sync_job *job)
{
    sync_run *r = tr->cc->r;
    const char *const *key, *const *upper;
    int nkey, nupper;
    int at = r->pos ? sync_pos_table(r->pos, job->name, &key, &nkey, &upper, &nupper) : SYNC_POS_NEW;
    int sweeps = tr->si && tr->si->seen; /* a full read whose index gets swept */
    if (at == SYNC_POS_DONE) {
        if (!sweeps) return TABLE_SKIPPED; /* sent and acknowledged: nothing to read */
        tr->replay = tr->replay_all = 1;   /* its ids, for the sweep */
    } else if (at == SYNC_POS_CURRENT) {
        if (key && nkey == tr->bt->doc.nkeys && nkey <= 16) {
            tr->resume_key = key;
            tr->replay = sweeps;
        }
        if (tr->incremental && upper && nupper == tr->bt->ncursor) tr->fixed_upper = upper;
    }
    return 0;
}

int sync_table(sync_conn *cc, const sync_job *job)
{
    sync_run *r = cc->r;
    arena *ta = arena_new();
    sync_table_run tr = {0};
    tr.cc = cc;
    int rc = table_bind(&tr, job, ta);
    if (rc == 0) {
        table_start(&tr);
        tr.incremental = tr.bt->ncursor > 0 && r->o->mode != ENG_MODE_FULL;
        if (r->o->mode == ENG_MODE_INCREMENTAL && tr.bt->ncursor == 0)
            diag_warning(r->d, job->pt->loc, "%s > %s: no incremental cursor configured: full read",
                         cc->pc->id, job->name);
        rc = table_index(&tr);
        if (rc == 0) rc = table_resume(&tr, job);
        sync_window w;
        if (rc == 0) rc = sync_window_open(&tr, job->name, ta, &w);
        if (rc == 0 && r->pos) sync_pos_begin(r->pos, job->name, w.upper, tr.bt->ncursor);
        if (rc == 0 && !w.empty) rc = table_read(&tr, job, &w);
        if (rc == DIAG_ECANCEL && r->pos && !tr.replay) sync_pos_mark_last(r->pos, r->seq, &tr.key);
        /* acknowledged entirely: a resumed run does not read it again */
        if ((rc == 0 || rc == TABLE_SKIPPED) && r->pos && !sync_stopped(r))
            sync_pos_done(r, cc->pc->id, job->name, tr.incremental);
        if (rc == TABLE_SKIPPED) rc = 0;
        table_account(&tr, rc);
        table_run_free(&tr);
    } else if (rc < 0) {
        table_account(&tr, rc);
    }
    arena_free(ta);
    return rc == TABLE_SKIPPED ? 0 : rc;
}
