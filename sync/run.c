/* run.c - one sync run (see sync.h): for each selected connector, the
 * sink (sinks/sink.h: the cluster, the dry-run file or a test's), the state
 * file, the connector's locks (guard.c), its tables (table.c) one after
 * the other or max_concurrent_tables at a time (workers of a pool, pool.c),
 * then the sweep of unseen documents (sweep.c). A stop request
 * (SIGINT/SIGTERM in the caller) ends the table loop: no sweep, the sink
 * settles what was sent.
 *
 * Stage: plan -> sync -> sinks. The control flow of a run lives here; what
 * happens to one table does not. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sync/internal.h"

/* One worker of a pool: its own run (diag, stats, progress, item buffer,
 * lane) and connections; the tables it reads come from the pool. */
typedef struct worker {
    sync_run r;
    eng_sync_stats st;
    sync_conn cc;
    sync_pool *pool;
    const sync_job *jobs;
    int failed, cancel;
    pthread_t th;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    const plan_connector *pc = w->cc.pc;
    for (int j;;) {
        if (sync_stopped(&w->r)) { /* as the sequential loop: no table started after a stop */
            w->cancel = 1;
            sync_pool_stop(w->pool);
            break;
        }
        if ((j = sync_pool_take(w->pool, w->r.sink)) < 0) break;
        const sync_job *job = &w->jobs[j];
        w->r.d = diag_new();
        if (!w->cc.c) sync_open_source(pc, &w->cc.c, w->r.d);
        int trc;
        if (w->cc.c) {
            trc = sync_table(&w->cc, job);
        } else {
            diag_error(w->r.d, job->pt->loc, "%s > %s: not read: no connection to the database",
                       pc->id, job->name);
            w->st.errors++;
            trc = DIAG_ETRANSIENT;
        }
        if (trc == DIAG_ECANCEL) {
            w->cancel = 1;
            sync_pool_stop(w->pool);
        } else if (trc) {
            w->failed = 1; /* the connection may be gone with the table: the next one opens it */
        }
        sync_pool_done(w->pool, j, w->r.d);
        w->r.d = NULL;
    }
    return NULL;
}

/* Read jobs with n workers. The first one reads over cc's connection, the
 * others over their own; 0 or DIAG_ECANCEL (stopped); r->failed set when a
 * table failed. */
static int run_pool(sync_run *r, sync_conn *cc, const sync_job *jobs, int njobs, int n)
{
    /* the seen-id entries are pointed at by the workers: sized once */
    if (r->capindices < r->nindices + njobs) {
        r->capindices = r->nindices + njobs;
        r->indices = realloc(r->indices, (size_t)r->capindices * sizeof *r->indices);
        if (!r->indices) abort();
    }
    sync_pool *pool = sync_pool_new(r, cc->pc, jobs, njobs, r->o->dry_run);
    worker *ws = calloc((size_t)n, sizeof *ws);
    if (!ws) abort();
    int started = 0;
    for (int i = 0; i < n; i++) {
        worker *w = &ws[i];
        w->r = *r;
        w->r.st = &w->st;
        w->r.d = NULL;
        w->r.pool = pool;
        w->r.top = r;
        w->r.indices = NULL;
        w->r.nindices = w->r.capindices = 0;
        w->r.prog = eng_progress_new(stderr, 0, (uint64_t)r->p->es.display_every, r->o->quiet);
        buf_init(&w->r.item, 0);
        w->r.sink = sync_pool_lane(pool);
        w->cc = (sync_conn){&w->r, cc->pc, i == 0 ? cc->c : NULL, NULL};
        w->pool = pool;
        w->jobs = jobs;
    }
    /* every copy of r is made before a worker writes into r */
    for (int i = 0; i < n; i++) {
        if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) != 0) break;
        started++;
    }
    if (!started) worker_main(&ws[0]); /* no thread: read them here */
    for (int i = 0; i < started; i++) pthread_join(ws[i].th, NULL);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        worker *w = &ws[i];
        eng_sync_stats *t = r->st;
        t->tables += w->st.tables;
        t->rows += w->st.rows;
        t->docs += w->st.docs;
        t->deletes += w->st.deletes;
        t->filtered += w->st.filtered;
        t->warnings += w->st.warnings;
        t->errors += w->st.errors;
        t->skipped_tables += w->st.skipped_tables;
        if (w->failed) r->failed = 1;
        if (w->cancel) rc = DIAG_ECANCEL;
        if (i == 0) {
            cc->c = w->cc.c; /* reopened, maybe: the sweep lists over it */
        } else {
            cc->pc->driver->close(w->cc.c);
        }
        cc->pc->driver->close(w->cc.c2);
        sink_free(w->r.sink);
        buf_free(&w->r.item);
        eng_progress_free(w->r.prog);
    }
    free(ws);
    if (sync_pool_free(pool) != 0) r->failed = 1;
    if (!cc->c) sync_open_source(cc->pc, &cc->c, r->d);
    return rc;
}

/* How many tables of pc are read at the same time: one for a served run
 * (its position names one current table). */
static int pool_size(const sync_run *r, const plan_connector *pc, int njobs)
{
    int n = pc->max_concurrent_tables;
    if (r->pos || n < 1) n = 1;
    return n < njobs ? n : njobs;
}

static int run_connector(sync_run *r, const plan_connector *pc)
{
    sync_conn cc = {r, pc, NULL, NULL};
    arena *a = arena_new();
    /* another connector's failure does not stop this one's sweep */
    int failed_before = r->failed;
    r->failed = 0;
    int rc = sync_open_source(pc, &cc.c, r->d);
    sync_job *jobs = NULL;
    int njobs = 0;
    sync_guard *guard = NULL;
    if (rc == 0) rc = sync_resolve_tables(&cc, a, &jobs, &njobs);
    /* the locks, then the watermarks as the runs before this one left them */
    if (rc == 0) rc = sync_guard_take(r, pc, jobs, njobs, &guard);
    if (rc == 0) rc = eng_state_reload(r->state, r->d);
    int nw = rc == 0 ? pool_size(r, pc, njobs) : 1;
    if (nw > 1) rc = sync_stopped(r) ? DIAG_ECANCEL : run_pool(r, &cc, jobs, njobs, nw);
    for (int i = 0; rc == 0 && nw <= 1 && i < njobs; i++) {
        if (sync_stopped(r)) {
            rc = DIAG_ECANCEL;
            break;
        }
        int trc = sync_table(&cc, &jobs[i]);
        if (trc == DIAG_ECANCEL) {
            rc = trc;
            break;
        }
        if (trc) {
            r->failed = 1;
            /* the connection may be gone with the table: go on with the others */
            if (!cc.c) sync_open_source(pc, &cc.c, r->d);
        }
    }
    if (rc == DIAG_ECANCEL) r->st->interrupted = 1;
    if (rc) r->failed = 1;
    if (rc == 0 && sink_can_list(r->sink)) {
        int frc = sync_sweep(&cc, a);
        if (frc) {
            r->failed = 1;
            rc = frc;
        }
    }
    /* what was sent is settled before another run may start on these tables */
    if (r->sink && sink_flush(r->sink) != 0) r->failed = 1;
    sync_pos_emit(r, 1); /* a served run's last position */
    sync_guard_release(guard);
    for (int i = 0; i < r->nindices; i++) {
        eng_idset_free(r->indices[i].seen);
        free(r->indices[i].index);
    }
    free(r->indices);
    r->indices = NULL;
    r->nindices = r->capindices = 0;
    r->failed |= failed_before;
    pc->driver->close(cc.c);
    pc->driver->close(cc.c2);
    arena_free(a);
    return rc;
}

/* Where connector pc's items go: the options' sink, the dry-run file, or
 * the cluster (a client with the connector's api_key, which wins over
 * elasticsearch.api_key, and its pipeline). NULL with a message in d. */
static sink *sink_open(sync_run *r, const plan_connector *pc)
{
    sink *s;
    if (r->o->sink_new) {
        s = r->o->sink_new(r->o->sink_ctx, pc, r->d);
    } else if (r->o->dry_run) {
        s = sink_file_new(r->o->out, r->d);
    } else {
        plan_es cfg = r->p->es;
        if (pc->api_key && *pc->api_key) cfg.api_key = pc->api_key;
        s = sink_es_new(&cfg, pc->pipeline, r->d);
    }
    return s;
}

/* Settle everything sent, add the sink's counts to the run, free it. */
static void sink_close(sync_run *r)
{
    if (r->sink) {
        sink_stats ss;
        if (sink_finish(r->sink, &ss) != 0) r->failed = 1;
        r->st->indexed += ss.indexed;
        r->st->failed += ss.failed;
        r->st->retried += ss.retried;
        if (ss.failed) r->failed = 1;
    }
    sink_free(r->sink);
    r->sink = NULL;
}

int eng_sync_run(const plan *p, const eng_sync_opts *o, eng_sync_stats *stats, diag *d)
{
    sync_run r = {0};
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
    if (sync_pos_new(o, &r.pos, d) != 0) return 2;
    r.prog = eng_progress_new(stderr, o->tty, (uint64_t)p->es.display_every, o->quiet);
    buf_init(&r.item, 0);
    for (int i = 0; i < p->nconnectors && !sync_stopped(&r); i++) {
        const plan_connector *pc = &p->connectors[i];
        if (o->connector && strcmp(o->connector, pc->id)) continue;
        /* one sink per connector: its api_key and pipeline */
        r.sink = sink_open(&r, pc);
        if (!r.sink) {
            code = 1;
            break;
        }
        if (r.pos) sink_set_ack(r.sink, sync_pos_ack, &r);
        free(state_path);
        state_path = strdup(o->state_file ? o->state_file : pc->state_file);
        r.state_path = state_path; /* the locks stay beside it */
        eng_state_free(r.state);
        if (r.pos) {
            /* a served run: the watermarks live in the cluster */
            r.state = eng_state_new_mem();
            sync_pos_load_state(r.pos, r.state, pc->id);
        } else {
            r.state = eng_state_load(state_path, d);
        }
        if (!r.state) {
            sink_close(&r);
            code = 1;
            continue;
        }
        if (run_connector(&r, pc) != 0) r.failed = 1;
        sink_close(&r);
    }
    if (sync_stopped(&r)) {
        r.st->interrupted = 1;
        r.failed = 1;
    }
    if (r.failed || r.st->errors) code = 1; /* row errors fail the run too */
    r.st->seconds = eng_now() - t0;
    r.st->bytes = sync_pos_acked_bytes(r.pos);
    sync_pos_free(r.pos);
    eng_state_free(r.state);
    free(state_path);
    buf_free(&r.item);
    eng_progress_free(r.prog);
    return code;
}

