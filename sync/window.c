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
    int rc = sync_drv_begin_scan(drv, cc->c, &q, &s, cc->r->d);
    const src_value *row;
    if (rc == 0 && (rc = sync_drv_next(drv, s, &row, cc->r->d)) == 1) {
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

/* n decimal digits at s into *out; 0 when any is not a digit. */
static int digits(const char *s, int n, int *out)
{
    int v = 0, ok = 1;
    for (int i = 0; i < n && ok; i++) {
        ok = s[i] >= '0' && s[i] <= '9';
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return ok;
}

/* A time zone suffix: "", "Z", "+hh", "+hhmm" or "+hh:mm" (or '-'). */
static int zone_ok(const char *z)
{
    int hh, mm;
    if (*z == '\0' || (z[0] == 'Z' && z[1] == '\0')) return 1;
    if ((*z != '+' && *z != '-') || !digits(z + 1, 2, &hh) || hh > 23) return 0;
    z += 3;
    if (*z == ':') z++;
    return *z == '\0' || (digits(z, 2, &mm) && mm <= 59 && z[2] == '\0');
}

/* Parse v strictly as "YYYY-MM-DD" or "YYYY-MM-DD[T ]HH:MM:SS[.f+][zone]"
 * and subtract lag_ms; writes the same shape back (the zone kept as given,
 * the fraction dropped: a little more is re-read). 0 when v is not such a
 * value (then nothing is written). */
static int timestamp_minus(const char *v, int64_t lag_ms, char *out, size_t n)
{
    struct tm tm = {0};
    int Y, M, D, h = 0, m = 0, sec = 0;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int ok = digits(v, 4, &Y) && v[4] == '-' && digits(v + 5, 2, &M) && v[7] == '-' &&
             digits(v + 8, 2, &D) && M >= 1 && M <= 12 && D >= 1 && D <= mdays[M - 1];
    char sep = ok ? v[10] : '\0';
    const char *rest = ok ? v + 10 : "";
    if (ok && (sep == 'T' || sep == ' ')) {
        ok = digits(v + 11, 2, &h) && v[13] == ':' && digits(v + 14, 2, &m) && v[16] == ':' &&
             digits(v + 17, 2, &sec) && h <= 23 && m <= 59 && sec <= 60;
        rest = ok ? v + 19 : "";
        if (ok && *rest == '.') {
            const char *f = ++rest;
            while (*rest >= '0' && *rest <= '9') rest++;
            ok = rest > f;
        }
        ok = ok && zone_ok(rest);
    } else if (ok) {
        ok = sep == '\0';
    }
    if (ok) {
        tm.tm_year = Y - 1900;
        tm.tm_mon = M - 1;
        tm.tm_mday = D;
        tm.tm_hour = h;
        tm.tm_min = m;
        tm.tm_sec = sec;
        int64_t ms = (int64_t)timegm(&tm) * 1000 - lag_ms;
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
    }
    return ok;
}

/* The first cursor value minus `lag` into *out (in a); an error naming the
 * table and the value when it is not a date or timestamp. */
static int lag_value(sync_table_run *tr, const char *name, const char *v, arena *a,
                     const char **out)
{
    const eng_bound_table *bt = tr->bt;
    char lagged[96];
    int rc = 0;
    if (timestamp_minus(v, bt->pt->lag_ms, lagged, sizeof lagged)) {
        *out = arena_strdup(a, lagged);
    } else {
        diag_error(tr->cc->r->d, bt->pt->loc,
                   "%s > %s: cursor column '%s' holds '%s', not a date or timestamp "
                   "(YYYY-MM-DD[ HH:MM:SS[.fff][zone]]): `lag` cannot be applied",
                   tr->cc->pc->id, name, bt->st->cols[bt->cursor[0]].name, v);
        rc = DIAG_EINVAL;
    }
    return rc;
}

/* The bounds "after the watermark (or from its first value minus lag) and
 * up to the upper bound". */
static int window_after(sync_table_run *tr, const char *name, const char *const *saved,
                        arena *a, sync_window *w)
{
    int rc = 0;
    w->kind = ENG_WINDOW_AFTER;
    w->lo = saved;
    if (tr->bt->pt->lag_ms > 0 && saved[0]) {
        const char **one = arena_alloc(a, 2 * sizeof *one);
        rc = lag_value(tr, name, saved[0], a, &one[0]);
        w->lo = one;
        w->kind = ENG_WINDOW_LAGGED;
    }
    return rc;
}

int sync_window_open(sync_table_run *tr, const char *name, arena *a, sync_window *w)
{
    int rc = 0;
    memset(w, 0, sizeof *w);
    if (tr->incremental) {
        const char *const *saved;
        int nsaved;
        const char *scratch;
        /* copied: workers of a pool save other tables' watermarks meanwhile */
        sync_lock(tr->cc->r);
        eng_state_get(tr->cc->r->state, tr->cc->pc->id, name, &saved, &nsaved);
        const char **copy = arena_alloc(a, (size_t)(nsaved + 1) * sizeof *copy);
        for (int i = 0; i < nsaved; i++) copy[i] = saved[i] ? arena_strdup(a, saved[i]) : NULL;
        copy[nsaved] = NULL;
        saved = copy;
        sync_unlock(tr->cc->r);
        if (tr->fixed_upper) /* resumed: the window of the run that began the read */
            w->upper = (const char **)tr->fixed_upper;
        else
            rc = cursor_upper(tr->cc, tr->bt, a, &w->upper);
        /* a bound that `lag` cannot apply to next time is an error now,
         * before it becomes the watermark */
        if (rc == 0 && w->upper && w->upper[0] && tr->bt->pt->lag_ms > 0)
            rc = lag_value(tr, name, w->upper[0], a, &scratch);
        /* the first run reads every row (NULL cursors included), later runs
         * the window after the watermark; no row with a cursor: no read */
        if (rc == 0 && nsaved == tr->bt->ncursor && w->upper) rc = window_after(tr, name, saved, a, w);
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
            sync_lock(r);
            eng_state_set(r->state, tr->cc->pc->id, name, w->upper, tr->bt->ncursor);
            rc = eng_state_save(r->state, r->d);
            sync_unlock(r);
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
