/* internal.h - the structures one sync run shares between the files of
 * sync/ (private: nothing outside sync/ includes it).
 *
 *   run.c           eng_sync_run: the connector loop, the sink per connector
 *   check_source.c  eng_check_source (validate --check-source)
 *   table.c         one table: describe -> bind -> window -> scan -> watermark
 *   window.c        the incremental window: cursor upper bound, lag, watermark
 *   scan.c          the row loop with keyset resume and relation chunks
 *   sweep.c         the full-sync sweep of unseen documents
 *   guard.c         the locks that keep overlapping runs of a connector apart
 *   select.c        which tables a connector reads, and their index names
 *   conn.c          connections, reconnections, describing tables
 *   follow.c        sync --follow: change streams applied as re-reads (or polls)
 *   resume.c        a served run's acknowledged position (resume, failover)
 *   pool.c          tables read at the same time: jobs, the lock, the lanes
 * Calls point one way: run -> table, sweep, guard, resume; check_source ->
 * conn, select; follow -> run, scan, conn, select; table -> window, scan,
 * conn, resume; sweep -> select; scan -> conn, resume; run, table, window,
 * scan -> pool.
 */
#ifndef SQL2ES_SYNC_INTERNAL_H
#define SQL2ES_SYNC_INTERNAL_H

#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/diag.h"
#include "engine/bind.h"
#include "engine/interp.h"
#include "engine/sql.h"
#include "plan/plan.h"
#include "sinks/sink.h"
#include "sources/source.h"
#include "sync/idset.h"
#include "sync/progress.h"
#include "sync/state.h"
#include "sync/sync.h"

#define SYNC_CHUNK_ROWS 500      /* parents per relation chunk */
#define SYNC_DETAILED_WARNINGS 10  /* value warnings itemised per table (all with -v) */

/* An index written by the current connector, with the ids it saw. */
typedef struct sync_seen {
    char *index;
    eng_idset *seen;
    int clean;            /* every table into it finished without error */
} sync_seen;

/* One sync run (or one --check-source pass). */
typedef struct sync_run {
    const plan *p;
    const eng_sync_opts *o;
    eng_sync_stats *st;
    diag *d;
    eng_progress *prog;
    sink *sink;               /* the current connector's */
    eng_state *state;
    const char *state_path;   /* the current connector's state file (locks beside it) */
    uint64_t seq;
    int failed;               /* a table failed: exit 1, no sweep of its index */
    buf item;
    sync_seen *indices;       /* indices written by the current connector */
    int nindices;
    struct sync_pos *pos;     /* a served run's position (resume.c), else NULL */
    int capindices;
    /* a worker of a pool (pool.c): its own diag (one per table), stats,
     * progress, item buffer and sink (a lane); the indices, the state and
     * the sequence numbers are the top run's, under the pool's lock */
    struct sync_pool *pool;   /* NULL: the tables are read one at a time */
    struct sync_run *top;     /* the run that owns the indices (NULL: this one) */
} sync_run;

#define sync_top(r) ((r)->top ? (r)->top : (r))

/* One connector's connections. */
typedef struct sync_conn {
    sync_run *r;
    const plan_connector *pc;
    src_conn *c;    /* rows */
    src_conn *c2;   /* relation child queries (a scan holds c busy) */
} sync_conn;

/* A table to read: its plan entry and its real name. */
typedef struct sync_job {
    const plan_table *pt;
    const char *name;
} sync_job;

/* The last key written, kept across the borrowed-row boundary. */
typedef struct sync_key {
    buf bytes;
    size_t off[16];
    int n, have;
} sync_key;

/* One table being read. */
typedef struct sync_table_run {
    sync_conn *cc;
    const eng_bound_table *bt;
    eng_interp *it;
    int incremental;
    sync_seen *si;
    uint64_t rows, docs, deletes, filtered;
    uint64_t unjudged; /* rows in error: neither indexed nor filtered */
    int detailed;         /* driver value warnings itemised so far */
    sync_key key;
    /* relation chunk */
    arena *chunk;
    src_value **rows_buf;
    int nchunk, width;
    eng_child_set **sets;
    struct sync_merge *merges; /* scan.c, during one read of the table: per relation
                                * of the table, the ordered child scans of those read
                                * by merge; NULL: every relation in batches */
    diag *ad;   /* driver messages of the current scan attempt: a failure that is
                 * retried becomes a warning, not an error */
    int where_flag; /* sync --follow re-reads: 1 + the result column saying the row
                     * passes `where` (0 = none); a row that does not is a delete */
    /* a resumed table (resume.c): an earlier run of the job sent the rows up
     * to resume_key (all of them with replay_all); they are read again only
     * for the sweep's seen ids (replay: nothing sent) */
    const char *const *resume_key;
    const char *const *fixed_upper; /* the earlier run's window bound */
    int replay_all, replay;
    uint64_t replayed;
} sync_table_run;

/* The incremental window of one read: its shape (engine/sql.c; NONE on a
 * first run), the bound values - lo after the saved watermark, upper up to
 * the greatest cursor now - and the cursor tuple that becomes the watermark. */
typedef struct sync_window {
    eng_window kind;
    const char *const *lo;
    const char **upper;   /* NULL: no row has a cursor */
    int empty;            /* a later run and no row has a cursor: nothing to read */
} sync_window;

/* ---- pool.c ---- */
typedef struct sync_pool sync_pool;
/* The lock of r's pool around what workers share (nothing without a pool). */
void sync_lock(sync_run *r);
void sync_unlock(sync_run *r);
/* A pool for the njobs jobs of pc, whose items go to top->sink; ordered:
 * items and messages in job order, as a sequential run writes them. */
sync_pool *sync_pool_new(sync_run *top, const plan_connector *pc, const sync_job *jobs, int njobs,
                         int ordered);
/* A worker's sink (free it with sink_free). */
sink *sync_pool_lane(sync_pool *p);
/* The next job for the worker of lane, or -1 when none is left (or the pool stopped). */
int sync_pool_take(sync_pool *p, sink *lane);
/* No more jobs are handed out. */
void sync_pool_stop(sync_pool *p);
/* Job finished: its messages (d, taken over) go to the top run's diag. */
void sync_pool_done(sync_pool *p, int job, diag *d);
/* After the workers: what is still queued, in order; free. <0 when the
 * connector's sink failed. */
int sync_pool_free(sync_pool *p);

/* ---- conn.c ---- */
/* The driver's slots that can fail, called through the fault hook
 * (SQL2ES_FAULT=driver:N fails the N-th one as a transient error). */
int sync_drv_begin_scan(const src_driver *drv, src_conn *c, const src_query *q, src_scan **s,
                        diag *d);
int sync_drv_next(const src_driver *drv, src_scan *s, const src_value **row, diag *d);
int sync_drv_describe(const src_driver *drv, src_conn *c, const char *schema, const char *table,
                      arena *a, src_table *out, diag *d);
int sync_drv_list_tables(const src_driver *drv, src_conn *c, const char *schema, arena *a,
                         const char ***names, int *n, diag *d);
/* A "did you mean" hint for a table `name` that is not among names[0..n):
 * first a name differing only in case (`Track` for `track`), else the
 * nearest one. Nothing when none is near. */
void sync_hint_table(diag *d, const char *name, const char *const *names, int n, arena *a);
/* "2024-01-06T01:02:03.456Z", now, UTC. */
void sync_iso_now(char *out, size_t n);
/* Open pc's source, retrying transient errors (2 s, 4 s, 8 s... retry_count
 * times). *out is NULL on failure. */
int sync_open_source(const plan_connector *pc, src_conn **out, diag *d);
/* Close *c and open it again (*c NULL when that fails). */
void sync_reconnect(sync_conn *cc, src_conn **c);
/* Copy the messages of `from` into `to` (levels, locations and hints kept). */
void sync_forward_diag(diag *to, const diag *from);
/* The same, the errors prefixed with "connector > table: " (a driver's
 * message does not say which table's read failed; with tables read at the
 * same time nothing else does). */
void sync_forward_table_diag(diag *to, const diag *from, const char *connector, const char *table);
/* Describe table `name` of entry pt (or the result columns of its custom
 * query) into st, allocated in a. DIAG_ENOTFOUND: no such table (no message). */
int sync_describe(sync_conn *cc, const plan_table *pt, const char *name, arena *a,
                  src_table *st, diag *d);
/* Bind pt to the described st, describing relation tables on cc->c.
 * timestamp: the run's start time for the interpreter. */
int sync_bind(sync_conn *cc, const plan_table *pt, src_table *st, const char *timestamp,
              arena *a, eng_bound_table **out, diag *d);

/* ---- select.c ---- */
/* The tables of cc->pc this run reads (--table applied), in a. DIAG_ENOTFOUND
 * when a table named in configuration.tables does not exist. */
int sync_resolve_tables(sync_conn *cc, arena *a, sync_job **out, int *nout);
/* Whether table `name` is selected, and the entry that maps it (or NULL). */
int sync_selected(const plan_connector *pc, const char *name);
const plan_table *sync_entry_for(const plan_connector *pc, const char *name);
/* The index a table of pc writes into, as bind renders it, or NULL when it
 * cannot be known without the database (a plan variable without a value). */
char *sync_table_index(const plan_connector *pc, const plan_table *pt, const char *name, arena *a);

/* ---- scan.c ---- */
/* Stream the table's rows to the sink, resuming after transient errors. */
int sync_scan_rows(sync_table_run *tr, const sync_window *w, uint64_t *rows_out);
/* The rows of the window that stopped passing `where`: deletes. */
int sync_scan_leavers(sync_table_run *tr, const sync_window *w);

/* Run q (rows laid out as the table's scan, plus the where flag) through
 * the same row loop: relation chunks, rules, deletes. No resume: an error
 * is returned (sync --follow starts again from its last acknowledged
 * position). */
int sync_scan_query(sync_table_run *tr, const src_query *q);

/* ---- window.c ---- */
/* The window of tr's incremental read, allocated in a. */
int sync_window_open(sync_table_run *tr, const char *name, arena *a, sync_window *w);
/* After the read: save the watermark once the cluster acknowledged every
 * document of the table (dead_before: the sink's dead-letter count before). */
int sync_window_save(sync_table_run *tr, const char *name, const sync_window *w,
                     uint64_t dead_before);

/* ---- table.c ---- */
/* Read one table. 0 also when it is skipped (no primary key). */
int sync_table(sync_conn *cc, const sync_job *job);

/* ---- guard.c ---- */
typedef struct sync_guard sync_guard;
/* Take the locks of connector pc for reading jobs (nothing for a dry run:
 * *out NULL), waiting at most --lock-wait in all. 0, DIAG_ETRANSIENT (the
 * wait ran out; the message names the holder), DIAG_ECANCEL (stopped) or
 * DIAG_EIO. */
int sync_guard_take(sync_run *r, const plan_connector *pc, const sync_job *jobs, int njobs,
                    sync_guard **out);
/* Release every lock; NULL is a no-op. */
void sync_guard_release(sync_guard *g);
/* Whether the caller asked the run to stop (SIGINT/SIGTERM). */
#define sync_stopped(r) ((r)->o->stop && *(r)->o->stop)

/* ---- resume.c ---- */
typedef struct sync_pos sync_pos;
enum { SYNC_POS_NEW, SYNC_POS_DONE, SYNC_POS_CURRENT };
/* The position of a served run (o->cursor_json, resume_json or on_position
 * set) into *out, else *out = NULL. DIAG_EINVAL when they do not parse. */
int sync_pos_new(const eng_sync_opts *o, sync_pos **out, diag *d);
void sync_pos_free(sync_pos *p);
/* The watermarks the position starts from, into st (for connector). */
void sync_pos_load_state(sync_pos *p, eng_state *st, const char *connector);
/* What an earlier run did with table name: SYNC_POS_NEW, SYNC_POS_DONE, or
 * SYNC_POS_CURRENT with its last acknowledged key (nkey values; NULL when
 * none) and its window bound (NULL when none). */
int sync_pos_table(const sync_pos *p, const char *name, const char *const **key, int *nkey,
                   const char *const **upper, int *nupper);
/* A table's read starts, with its window bound (NULL: none). */
void sync_pos_begin(sync_pos *p, const char *name, const char *const *upper, int n);
/* Bytes of an index action handed to the sink. */
void sync_pos_bytes(sync_pos *p, size_t n);
/* The items of a row up to seq were handed on; k: the row's key. */
void sync_pos_mark(sync_pos *p, uint64_t seq, const sync_key *k);
/* The same for the last row read before a stop: a checkpoint at once, so
 * that a suspended job goes on exactly after it. */
void sync_pos_mark_last(sync_pos *p, uint64_t seq, const sync_key *k);
/* The sink's acknowledgement callback (ctx: the sync_run). */
void sync_pos_ack(void *ctx, uint64_t upto);
/* Table name of connector finished: flush, then it is done (with its
 * watermark when incremental). */
void sync_pos_done(sync_run *r, const char *connector, const char *name, int incremental);
/* Report the position (force: even when unchanged or reported just now). */
void sync_pos_emit(sync_run *r, int force);
/* Bytes of index actions acknowledged, the job's earlier runs included. */
uint64_t sync_pos_acked_bytes(const sync_pos *p);

/* ---- sweep.c ---- */
/* After the connector's tables: with --table, keep indices that may hold
 * other tables' documents; flush; delete the unseen documents of every index
 * that all its tables finished. */
int sync_sweep(sync_conn *cc, arena *a);

#endif
