/* guard.c - the locks a run holds on a connector, so that overlapping runs
 * of it are safe (README, "How a sync runs"): the connector's lock, exclusive
 * when the run may sweep an index and shared otherwise, then the lock of each
 * table it reads, exclusive, in name order (every run takes them in the same
 * order: no deadlock). Held from before the first row until the sweep and
 * every acknowledgement are done, so a sweep never deletes what another run
 * indexed after this one started, and runs of one table take turns.
 *
 * Stage: sync. The lock mechanism is lock.c; this file only decides what to
 * lock. Dry runs lock nothing. */
#include <stdlib.h>
#include <string.h>

#include "sync/internal.h"
#include "sync/lock.h"

struct sync_guard {
    eng_lock **locks;
    int n;
};

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether this run may delete unseen documents: a full read of a table
 * without --table (with --table, shared indices are not swept). */
static int may_sweep(const sync_run *r, const sync_job *jobs, int njobs)
{
    if (r->o->dry_run || r->o->limit || r->o->table) return 0;
    for (int i = 0; i < njobs; i++)
        if (r->o->mode == ENG_MODE_FULL || jobs[i].pt->ncursor == 0) return 1;
    return 0;
}

int sync_guard_take(sync_run *r, const plan_connector *pc, const sync_job *jobs, int njobs,
                    sync_guard **out)
{
    *out = NULL;
    if (r->o->dry_run) return 0;
    sync_guard *g = calloc(1, sizeof *g);
    const char **names = calloc((size_t)njobs + 1, sizeof *names);
    if (!g || !names) abort();
    g->locks = calloc((size_t)njobs + 1, sizeof *g->locks);
    if (!g->locks) abort();
    for (int i = 0; i < njobs; i++) names[i] = jobs[i].name;
    qsort(names, (size_t)njobs, sizeof *names, by_name);

    char holder[300];
    snprintf(holder, sizeof holder, "sync%s%s%s",
             r->o->mode == ENG_MODE_FULL ? " --full" : r->o->mode == ENG_MODE_INCREMENTAL ? " --incremental" : "",
             r->o->table ? " --table " : "", r->o->table ? r->o->table : "");
    FILE *note = r->o->quiet ? NULL : stderr;
    double deadline = eng_now() + r->o->lock_wait; /* for all the locks together */
    int rc = 0;
    for (int i = -1; rc == 0 && i < njobs; i++) {
        if (i > 0 && !strcmp(names[i], names[i - 1])) continue;
        char *path = eng_lock_path(r->state_path, pc->id, i < 0 ? NULL : names[i]);
        char what[400];
        if (i < 0) snprintf(what, sizeof what, "connector '%s'", pc->id);
        else snprintf(what, sizeof what, "connector '%s' > table '%s'", pc->id, names[i]);
        double left = deadline - eng_now();
        int exclusive = i >= 0 || may_sweep(r, jobs, njobs);
        rc = eng_lock_take(path, exclusive, left > 0 ? left : 0, what, holder, note, r->o->stop,
                           &g->locks[g->n], r->d);
        if (rc == 0) g->n++;
        free(path);
    }
    free(names);
    if (rc) {
        sync_guard_release(g);
        return rc;
    }
    *out = g;
    return 0;
}

void sync_guard_release(sync_guard *g)
{
    if (!g) return;
    for (int i = g->n - 1; i >= 0; i--) eng_lock_release(g->locks[i]);
    free(g->locks);
    free(g);
}
