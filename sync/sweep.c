/* sweep.c - the full-sync sweep: after a connector's tables, delete the
 * documents of each index that this run did not see, but only where that is
 * safe: every table writing into the index finished without error, the run
 * read all of the connector's tables (or none of the others writes there),
 * and no other connector may write into the same index.
 *
 * Stage: sync -> sink. The seen ids come from scan.c (sync_seen); the
 * present ids from the sink (sink_ops.list_ids). */
#include <fnmatch.h>
#include <string.h>

#include "sync/internal.h"

static int add_present(void *ctx, const char *id, size_t len)
{
    return eng_idset_add(ctx, id, len);
}

/* Queue a delete of every id in present that is not in seen (both sorted). */
static int delete_unseen(sync_run *r, sync_seen *si, eng_idset *present)
{
    eng_idset_iter *a = eng_idset_iter_new(present, r->d);
    eng_idset_iter *b = eng_idset_iter_new(si->seen, r->d);
    int rc = (a && b) ? 0 : DIAG_EIO;
    const char *x = NULL, *y = NULL;
    size_t xl = 0, yl = 0;
    int hx = a ? eng_idset_iter_next(a, &x, &xl) : 0;
    int hy = b ? eng_idset_iter_next(b, &y, &yl) : 0;
    buf line = BUF_INIT;
    /* a stop request ends the sweep early: what it deleted was unseen */
    while (rc == 0 && hx == 1 && !sync_stopped(r)) {
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
            sink_meta meta = {++r->seq, si->index, NULL, NULL, NULL, 0};
            rc = line.failed ? DIAG_ENOMEM : sink_add(r->sink, line.data, line.len, &meta);
            r->st->swept++;
            hx = eng_idset_iter_next(a, &x, &xl);
        }
    }
    if (rc == 0 && (hx < 0 || hy < 0)) rc = DIAG_EIO;
    buf_free(&line);
    eng_idset_iter_free(a);
    eng_idset_iter_free(b);
    return rc;
}

/* Delete the documents of index that this full sync did not see. */
static int sweep(sync_run *r, sync_seen *si)
{
    eng_idset *present = eng_idset_new(256u << 20 >> 4);
    int rc = r->sink->ops->list_ids(r->sink, si->index, add_present, present);
    if (rc == 0) rc = delete_unseen(r, si, present);
    eng_idset_free(present);
    return rc;
}

/* With --table, an index may also hold the documents of tables this run did
 * not read; sweeping it would delete them. Marks such indices unclean (no
 * sweep) with a warning. */
static void keep_shared_indices(sync_conn *cc, arena *a)
{
    sync_run *r = cc->r;
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
        int rc = cc->c ? sync_drv_list_tables(pc->driver, cc->c, pc->source.schema, a, &names, &nn, scratch) : -1;
        diag_free(scratch);
        if (rc) {
            nn = -1; /* unknown: keep everything */
        } else {
            pts = arena_alloc(a, (size_t)(nn + 1) * sizeof *pts);
            for (int j = 0; j < nn; j++) pts[j] = sync_selected(pc, names[j]) ? sync_entry_for(pc, names[j]) : NULL;
        }
    }
    for (int i = 0; i < r->nindices; i++) {
        sync_seen *si = &r->indices[i];
        if (!si->seen || !si->clean) continue;
        const char *other = nn < 0 ? "?" : NULL;
        for (int j = 0; j < nn && !other; j++) {
            if (!pts[j] || !strcmp(names[j], r->o->table)) continue;
            const char *ix = sync_table_index(pc, pts[j], names[j], a);
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
static const char *other_writer(const sync_run *r, const plan_connector *self, const char *ix, arena *a)
{
    for (int i = 0; i < r->p->nconnectors; i++) {
        const plan_connector *pc = &r->p->connectors[i];
        if (pc == self) continue;
        const char *def = sync_table_index(pc, &(plan_table){0}, "*", a);
        if (def && strcmp(def, ix) == 0) return pc->id;
        for (int t = 0; t < pc->ntables; t++) {
            const char *pat = sync_table_index(pc, &pc->tables[t], "*", a);
            if (!pat || fnmatch(pat, ix, 0) == 0) return pc->id;
        }
    }
    return NULL;
}

int sync_sweep(sync_conn *cc, arena *a)
{
    sync_run *r = cc->r;
    const plan_connector *pc = cc->pc;
    if (r->o->table) keep_shared_indices(cc, a);
    /* deletes of unseen documents: only for indices every table finished */
    int rc = sink_flush(r->sink);
    for (int i = 0; rc == 0 && i < r->nindices; i++) {
        sync_seen *si = &r->indices[i];
        if (!si->seen || !si->clean || r->failed) continue;
        const char *other = other_writer(r, pc, si->index, a);
        if (other)
            diag_warning(r->d, pc->loc,
                         "%s: index '%s' may also hold documents of connector '%s': unseen "
                         "documents not deleted (give each connector its own index)",
                         pc->id, si->index, other);
        else
            rc = sweep(r, si);
    }
    if (rc == 0) rc = sink_flush(r->sink);
    return rc;
}
