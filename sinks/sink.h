/* sink.h - where a sync run's items go: one interface, a struct of function
 * pointers (as curl's TLS backends and SQLite's VFS), and its three
 * implementations:
 *
 *   sink_es_new    the Elasticsearch/OpenSearch bulk sink (es_sink.c, over
 *                  es_bulk and es_index): acknowledges, creates indices,
 *                  lists the ids of an index for the full-sync sweep;
 *   sink_file_new  `--dry-run` (file_sink.c): writes the exact _bulk body to
 *                  a stream; acknowledges nothing, manages no index;
 *   sink_mem_new   tests (mem_sink.c): an in-memory cluster that keeps the
 *                  acknowledged documents and can be told to fail or reject.
 *
 * An item is complete NDJSON as the interpreter writes it: an action line
 * and a source line, or a lone delete line. Stage: documents -> sink. Nothing
 * here builds documents or reads SQL.
 */
#ifndef SQL2ES_SINK_H
#define SQL2ES_SINK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/diag.h"
#include "plan/plan.h"

#define SINK_VERSION 1

typedef struct sink sink;

/* What the caller attaches to each item: seq increases with every add. For
 * messages only: context, or when it is NULL "connector > table > id" from
 * the parts (a sink formats them only if it keeps them: not per item on the
 * hot path of a dry run). */
typedef struct sink_meta {
    uint64_t seq;
    const char *context;
    const char *connector, *table, *id;
    size_t idlen;
} sink_meta;

typedef struct sink_stats {
    uint64_t indexed;   /* created or updated (acknowledged) */
    uint64_t deleted;   /* deletes acknowledged (deleted or not found) */
    uint64_t failed;    /* items rejected: dead-lettered, not acknowledged */
    uint64_t retried;   /* requests and items sent again */
} sink_stats;

/* Every item with seq <= upto is settled (acknowledged or failed). */
typedef void (*sink_ack_fn)(void *ctx, uint64_t upto);
/* One id of an index; a non-zero return stops the listing with that code. */
typedef int (*sink_id_fn)(void *ctx, const char *id, size_t len);

typedef struct sink_ops {
    int version;          /* SINK_VERSION */
    const char *name;
    int acknowledges;     /* 1: after flush every item is settled (watermarks may move) */
    /* Queue one item (bytes copied). 0, or <0 once the sink failed. */
    int (*add)(sink *s, const char *item, size_t len, const sink_meta *meta);
    /* Send what is queued and wait until it is settled. */
    int (*flush)(sink *s);
    /* Flush; stats (may be NULL) gets the totals. 0 when every item settled. */
    int (*finish)(sink *s, sink_stats *stats);
    void (*stats)(const sink *s, sink_stats *stats);
    void (*set_ack)(sink *s, sink_ack_fn fn, void *ctx);
    void (*free)(sink *s);
    /* Optional (NULL: the sink has no indices, e.g. --dry-run). */
    int (*ensure_index)(sink *s, const char *index, const char *mapping_json,
                        const char *settings_json);
    /* Every id in index as a search sees it now (the sweep). */
    int (*list_ids)(sink *s, const char *index, sink_id_fn fn, void *ctx);
    /* Optional (NULL: items go out at flush). Send what is queued without
     * waiting for it; called again, drives the requests in flight (the
     * acknowledgement callback reports what settled). 0, or <0 once the
     * sink failed. */
    int (*push)(sink *s);
} sink_ops;

/* The common head of every sink; messages go to d (given at creation). */
struct sink {
    const sink_ops *ops;
    diag *d;
};

static inline int sink_add(sink *s, const char *item, size_t len, const sink_meta *m)
{
    return s->ops->add(s, item, len, m);
}
static inline int sink_flush(sink *s) { return s->ops->flush(s); }
static inline int sink_finish(sink *s, sink_stats *st) { return s->ops->finish(s, st); }
/* Send without waiting where the sink can; else flush (wait). */
static inline int sink_push(sink *s) { return s->ops->push ? s->ops->push(s) : s->ops->flush(s); }
static inline void sink_get_stats(const sink *s, sink_stats *st) { s->ops->stats(s, st); }
static inline void sink_set_ack(sink *s, sink_ack_fn fn, void *ctx) { s->ops->set_ack(s, fn, ctx); }
static inline void sink_free(sink *s)
{
    if (s) s->ops->free(s);
}
/* Whether the sink settles items (watermarks), manages indices, can sweep. */
static inline int sink_acknowledges(const sink *s) { return s->ops->acknowledges; }
static inline int sink_can_push(const sink *s) { return s->ops->push != NULL; }
static inline int sink_has_indices(const sink *s) { return s->ops->ensure_index != NULL; }
static inline int sink_can_list(const sink *s) { return s->ops->list_ids != NULL; }

/* ---- es_sink.c --------------------------------------------------------- */

/* A client for cfg (waits for the cluster, checks its version) and a bulk
 * sink on it sending to the ingest pipeline (NULL: none). NULL with a
 * message in d when the cluster cannot be used. */
sink *sink_es_new(const plan_es *cfg, const char *pipeline, diag *d);

/* ---- file_sink.c -------------------------------------------------------- */

/* Writes each item's bytes to out (borrowed); flush and finish fflush it. */
sink *sink_file_new(FILE *out, diag *d);

/* ---- mem_sink.c --------------------------------------------------------- */

/* The in-memory cluster a memory sink writes into; outlives its sinks, so
 * one store can serve several runs (a full run, then an incremental one). */
typedef struct sink_mem_store sink_mem_store;

sink_mem_store *sink_mem_store_new(void);
void sink_mem_store_free(sink_mem_store *st); /* NULL ok */
/* A sink on st: items wait until flush, then apply to st (index, create,
 * update, delete). */
sink *sink_mem_new(sink_mem_store *st, diag *d);

/* Test controls. fail_add: the n-th add from now (1-based) fails as a sink
 * that lost its cluster, and every add after it (0: never). reject: items
 * with this _id are rejected at flush (failed, not acknowledged); NULL
 * clears. */
void sink_mem_fail_add(sink_mem_store *st, uint64_t n);
void sink_mem_reject(sink_mem_store *st, const char *id);
/* Queries: documents in index, the source of one (NULL: absent), whether
 * the index was created. */
size_t sink_mem_count(const sink_mem_store *st, const char *index);
const char *sink_mem_get(const sink_mem_store *st, const char *index, const char *id);
int sink_mem_has_index(const sink_mem_store *st, const char *index);
/* Acknowledged items so far (all indices, all sinks). */
uint64_t sink_mem_acked(const sink_mem_store *st);

#endif
