/* window.c - the incremental window of one table: the upper bound (the
 * greatest cursor tuple now in the table), the lower bound (the saved
 * watermark, minus `lag` for a timestamp cursor), and saving the upper
 * bound as the new watermark once the cluster acknowledged the table's
 * documents.
 *
 * Stage: sync. Reads one row per table (the bound); the rows themselves are
 * read by scan.c. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sync/internal.h"

/* Watermark bound: the greatest cursor tuple now in the table (NULL = empty). */
static int cursor_upper(sync_conn *cc, const eng_bound_table *bt, arena *a, const char ***out)
{
    const src_driver *drv = cc->pc->driver;
    /* no `where`: rows that stopped passing it are in the window too (leavers) */
    src_query q = {eng_sql_cursor_max(bt, a), NULL, 0, 1};
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

/* The window "after the watermark (minus lag) and up to the bound": its
 * shape and lower values (engine/sql.c writes the SQL). */
static void window_after(const eng_bound_table *bt, const char *const *saved, arena *a,
                         sync_window *w)
{
    char lagged[64];
    if (bt->pt->lag_ms > 0 && saved[0] &&
        timestamp_minus(saved[0], bt->pt->lag_ms, lagged, sizeof lagged)) {
        const char **lo = arena_alloc(a, 2 * sizeof *lo);
        lo[0] = arena_strdup(a, lagged);
        w->lo = lo;
        w->kind = ENG_WINDOW_LAGGED;
    } else {
        w->lo = saved;
        w->kind = ENG_WINDOW_AFTER;
    }
}

int sync_window_open(sync_table_run *tr, const char *name, arena *a, sync_window *w)
{
    int rc = 0;
    memset(w, 0, sizeof *w);
    if (tr->incremental) {
        const char *const *saved;
        int nsaved;
        eng_state_get(tr->cc->r->state, tr->cc->pc->id, name, &saved, &nsaved);
        rc = cursor_upper(tr->cc, tr->bt, a, &w->upper);
        /* the first run reads every row (NULL cursors included), later runs
         * the window after the watermark; no row with a cursor: no read */
        if (rc == 0 && nsaved == tr->bt->ncursor && w->upper)
            window_after(tr->bt, saved, a, w);
        w->empty = rc == 0 && nsaved == tr->bt->ncursor && !w->upper;
    }
    return rc;
}

/* Save the watermark once the sink acknowledged every item so far. */
static int save_acked(sync_table_run *tr, const char *name, const sync_window *w,
                      uint64_t dead_before)
{
    sync_run *r = tr->cc->r;
    const plan_table *pt = tr->bt->pt;
    int rc = sink_flush(r->sink);
    if (rc == 0) {
        sink_stats b1;
        sink_get_stats(r->sink, &b1);
        if (tr->unjudged) {
            /* the next run must read them again */
            diag_warning(r->d, pt->loc, "%s > %s: %llu rows could not be judged: watermark not saved",
                         tr->cc->pc->id, name, (unsigned long long)tr->unjudged);
        } else if (b1.failed > dead_before) {
            /* dead-lettered is not acknowledged: the next run re-reads
             * those rows (after the mapping or the data is fixed) */
            diag_warning(r->d, pt->loc, "%s > %s: %llu documents dead-lettered: watermark not saved",
                         tr->cc->pc->id, name, (unsigned long long)(b1.failed - dead_before));
        } else {
            eng_state_set(r->state, tr->cc->pc->id, name, w->upper, tr->bt->ncursor);
            rc = eng_state_save(r->state, r->d);
        }
    }
    return rc;
}

int sync_window_save(sync_table_run *tr, const char *name, const sync_window *w,
                     uint64_t dead_before)
{
    sync_run *r = tr->cc->r;
    int rc = 0;
    if (!tr->incremental || !w->upper) {
        /* nothing to save */
    } else if (r->o->limit && tr->rows >= r->o->limit) {
        /* rows are read in key order, not cursor order: the unread rest may
         * hold any cursor value, so the watermark cannot move */
        diag_warning(r->d, tr->bt->pt->loc, "%s > %s: --limit stopped the read: watermark not saved",
                     tr->cc->pc->id, name);
    } else if (sink_acknowledges(r->sink)) {
        /* the watermark is saved only once the cluster acknowledged (never
         * in a dry run) */
        rc = save_acked(tr, name, w, dead_before);
    }
    return rc;
}
