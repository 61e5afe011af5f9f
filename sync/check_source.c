/* check_source.c - `validate --check-source` (see check_source.h): for every
 * connector, open the database, select its tables as a sync would, and
 * describe and bind each one, reporting what a sync would read.
 *
 * Stage: plan -> sources, no rows read and nothing sent. Shares table
 * selection (select.c) and describe/bind (conn.c) with the sync run. */
#include "sync/check_source.h"

#include "sync/internal.h"

/* Warn about the mapping entries that match no selected table. */
static void unused_entries(const plan_connector *pc, const sync_job *jobs, int njobs, diag *d)
{
    for (int t = 0; t < pc->ntables; t++) {
        const plan_table *pt = &pc->tables[t];
        if (pt->is_default || pt->custom_query) continue;
        int used = 0;
        for (int j = 0; j < njobs && !used; j++) used = jobs[j].pt == pt;
        if (!used)
            diag_warning(d, pt->loc, "%s: mapping '%s' matches no selected table", pc->id, pt->name);
    }
}

static void report_table(FILE *report, const plan_connector *pc, const sync_job *job,
                         const src_table *tbl, const eng_bound_table *bt)
{
    fprintf(report, "%s/%s -> %s: %d columns, key (", pc->id, job->name, bt->index, tbl->ncols);
    for (int k = 0; k < bt->doc.nkeys; k++)
        fprintf(report, "%s%s", k ? ", " : "", tbl->cols[bt->doc.keys[k]].name);
    fprintf(report, ")");
    if (tbl->row_estimate >= 0) fprintf(report, ", ~%lld rows", (long long)tbl->row_estimate);
    if (bt->ncursor) fprintf(report, ", incremental");
    fputc('\n', report);
}

/* Describe and bind one table; *code: the exit code so far, raised to 2
 * when the table does not fit. */
static void check_table(sync_conn *cc, const sync_job *job, arena *a, FILE *report, int *code,
                        diag *d)
{
    const plan_connector *pc = cc->pc;
    const plan_table *pt = job->pt;
    src_table *tbl = arena_alloc(a, sizeof *tbl);
    eng_bound_table *bt = NULL;
    int rc = sync_describe(cc, pt, job->name, a, tbl, d);
    if (rc) {
        if (rc == DIAG_ENOTFOUND)
            diag_error(d, pt->loc, "%s: table '%s' does not exist", pc->id, job->name);
        *code = *code ? *code : 2;
    } else if ((rc = sync_bind(cc, pt, tbl, "", a, &bt, d)) == DIAG_ENOTFOUND) {
        diag_warning(d, pt->loc, "%s > %s: would be skipped: %s", pc->id, job->name, diag_last(d));
    } else if (rc) {
        *code = 2;
    } else if (report) {
        report_table(report, pc, job, tbl, bt);
    }
}

/* One connector; *code: the exit code so far (0, 1 or 2). */
static void check_connector(sync_run *r, const plan_connector *pc, FILE *report, int *code)
{
    sync_conn cc = {r, pc, NULL, NULL};
    arena *a = arena_new();
    sync_job *jobs = NULL;
    int njobs = 0;
    int rc = sync_open_source(pc, &cc.c, r->d);
    if (rc) {
        *code = 1;
    } else if ((rc = sync_resolve_tables(&cc, a, &jobs, &njobs)) != 0) {
        *code = rc == DIAG_ENOTFOUND ? 2 : 1;
    } else {
        unused_entries(pc, jobs, njobs, r->d);
        for (int j = 0; j < njobs; j++) check_table(&cc, &jobs[j], a, report, code, r->d);
    }
    pc->driver->close(cc.c);
    arena_free(a);
}

int eng_check_source(const plan *p, diag *d, FILE *report)
{
    eng_sync_opts o = {0};
    eng_sync_stats st;
    sync_run r = {0};
    r.p = p;
    r.o = &o;
    r.st = &st;
    r.d = d;
    int code = 0;
    for (int i = 0; i < p->nconnectors; i++) check_connector(&r, &p->connectors[i], report, &code);
    return code;
}
