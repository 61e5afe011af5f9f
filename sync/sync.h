/* sync.h - the sync driver: for each connector and table of a plan, open the
 * source, bind the table, stream its rows through the interpreter, and send
 * the items to a sink (sinks/sink.h: the bulk sink, or with dry_run the
 * exact _bulk body to a file). Full syncs delete the documents that were not
 * seen (only when extraction finished without error); incremental syncs read
 * from the saved watermark (minus lag) and save the new one after the sink
 * acknowledged. Transient source errors are retried (retry_count) and the
 * scan resumes after the last key written: no duplicate, no lost row. */
#ifndef SQL2ES_SYNC_H
#define SQL2ES_SYNC_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "base/diag.h"
#include "plan/plan.h"
#include "sinks/sink.h"

typedef enum { ENG_MODE_AUTO, ENG_MODE_FULL, ENG_MODE_INCREMENTAL } eng_mode;

typedef struct eng_sync_opts {
    const char *connector;   /* only this connector_id (NULL = all) */
    const char *table;       /* only this table (NULL = all) */
    eng_mode mode;           /* AUTO: incremental where a cursor is configured */
    int dry_run;             /* write the _bulk body to out, touch no cluster */
    FILE *out;               /* dry-run output */
    uint64_t limit;          /* rows per table, 0 = all */
    const char *state_file;  /* overrides the connector's state_file */
    int quiet;               /* no progress output (the summary is the caller's) */
    int tty;                 /* progress as a live bar */
    int verbose;             /* itemise every value warning, not only the first few */
    double lock_wait;        /* seconds to wait for another run's locks (0: fail at once) */
    int follow_poll;         /* sync --follow --poll: incremental syncs, not the change stream */
    const volatile sig_atomic_t *stop; /* non-zero: stop reading, settle what was sent,
                                        * save what was acknowledged (NULL: never) */
    /* Where items go (NULL: the Elasticsearch bulk sink, or with dry_run the
     * file sink on out). Called once per connector; the run finishes and
     * frees the sink it returns; NULL (message in d) fails the run. */
    sink *(*sink_new)(void *ctx, const plan_connector *pc, diag *d);
    void *sink_ctx;
    /* A served job (the connector service keeps these in its documents, so
     * that another machine can go on with the job). Any of them set: the
     * run's watermarks come from cursor_json / resume_json, not from the
     * state file, and the run reports its acknowledged position.
     *   cursor_json  {"watermarks":{"TABLE":["v1",...]}} (NULL or "{}": none)
     *   resume_json  a position an earlier run of the same job reported
     *                (NULL: from the start): tables it finished are not read
     *                again (a full read re-reads their keys for the sweep,
     *                without sending), the table it was in goes on after
     *                the last acknowledged key
     *   on_position  called with the position (small JSON: finished tables,
     *                the current table and its last acknowledged key, the
     *                window bound, acknowledged bytes, watermarks) when the
     *                cluster acknowledged more, at most every half second,
     *                and at the end of the run */
    const char *cursor_json;
    const char *resume_json;
    void (*on_position)(void *ctx, const char *json);
    void *position_ctx;
} eng_sync_opts;

typedef struct eng_sync_stats {
    uint64_t tables, rows, docs, deletes, filtered, warnings, errors, skipped_tables;
    uint64_t indexed, failed, swept; /* cluster side: acknowledged, dead-lettered, unseen deleted */
    uint64_t retried;                /* requests and items sent again (429, 5xx, resets) */
    uint64_t bytes;                  /* served runs: bytes of the index actions acknowledged
                                      * (the job's earlier runs included) */
    int interrupted;                 /* *stop was seen: the run ended early */
    double seconds;
} eng_sync_stats;

/* Run. Returns the exit code (0 ok, 1 run-time failure, 2 usage such as an
 * unknown --connector/--table). Messages in d; stats always filled. */
int eng_sync_run(const plan *p, const eng_sync_opts *o, eng_sync_stats *stats, diag *d);

/* sync --follow (sync/follow.c): one connector (o->connector, or the only
 * one), kept current until *o->stop: through the driver's change stream
 * (an initial full sync from the new slot's snapshot, then changes applied
 * as re-reads of the root documents they touch, acknowledged after the
 * sink settled them), or without one by incremental syncs every
 * follow_interval. Returns the exit code (0 also when stopped). */
int eng_follow_run(const plan *p, const eng_sync_opts *o, eng_sync_stats *stats, diag *d);
/* Drop the connector's replication slot (and its own publication) and its
 * follow state: the next --follow starts over. Exit code. */
int eng_follow_drop(const plan *p, const eng_sync_opts *o, diag *d);

#endif
