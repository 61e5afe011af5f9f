/* pool.c - the tables of one connector read by several workers at once
 * (max_concurrent_tables): the jobs handed out in order, the lock that
 * guards what the workers share (the sink, the seen ids, the state), and a
 * "lane" per worker: a sink that forwards each item to the connector's sink
 * under the lock, with a sequence number of the whole run.
 *
 * Ordered pools (a dry run) keep the output of a sequential run: the lowest
 * job not finished (the head) writes straight through; the others queue
 * their items (in memory, then in a temporary file) until they become the
 * head. The messages of each table are forwarded when the table finishes,
 * in job order when ordered.
 *
 * Stage: sync. Called by run.c (workers) and by table.c, window.c, scan.c
 * (the lock); calls only the sink and the diag. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/internal.h"

#define POOL_MEM_MAX (4u << 20) /* bytes of items a waiting table keeps in memory */

typedef struct slot {
    buf mem;     /* queued items: a size_t length, then the bytes */
    FILE *spill; /* the same beyond POOL_MEM_MAX */
    diag *d;     /* the table's messages, once it finished */
    int done;
} slot;

struct sync_pool {
    pthread_mutex_t mu;
    sync_run *top;
    const plan_connector *pc;
    const sync_job *jobs;
    int njobs, next, head, ordered, stop;
    int rc; /* the connector's sink failed */
    slot *slots;
};

typedef struct lane {
    sink base;
    sink_ops ops;
    sync_pool *p;
    int job;
} lane;

void sync_lock(sync_run *r)
{
    if (r->pool) pthread_mutex_lock(&r->pool->mu);
}

void sync_unlock(sync_run *r)
{
    if (r->pool) pthread_mutex_unlock(&r->pool->mu);
}

/* ---- items ---------------------------------------------------------------- */

static int put(sync_pool *p, const char *item, size_t len, const sink_meta *meta)
{
    if (p->rc) return p->rc;
    sink_meta m = *meta;
    m.seq = ++p->top->seq;
    int rc = sink_add(p->top->sink, item, len, &m);
    if (rc < 0) p->rc = rc;
    return rc;
}

static int queue(slot *s, const char *item, size_t len)
{
    if (!s->spill && s->mem.len + len > POOL_MEM_MAX) {
        s->spill = tmpfile();
        if (!s->spill || fwrite(s->mem.data, 1, s->mem.len, s->spill) != s->mem.len) return DIAG_EIO;
        buf_reset(&s->mem);
    }
    if (s->spill)
        return fwrite(&len, sizeof len, 1, s->spill) == 1 && fwrite(item, 1, len, s->spill) == len
                   ? 0 : DIAG_EIO;
    /* the length and its bytes, or neither: a length without its item
     * would make drain read past the end */
    size_t start = s->mem.len;
    if (buf_append(&s->mem, (const char *)&len, sizeof len) || buf_append(&s->mem, item, len)) {
        s->mem.len = start;
        if (s->mem.data) s->mem.data[start] = '\0';
        return DIAG_ENOMEM;
    }
    return 0;
}

/* Hand the queued items of job j to the sink. */
static void drain(sync_pool *p, int j)
{
    slot *s = &p->slots[j];
    sink_meta m = {0, NULL, p->pc->id, p->jobs[j].name, NULL, 0};
    if (s->spill) {
        buf item = BUF_INIT;
        size_t len;
        rewind(s->spill);
        while (fread(&len, sizeof len, 1, s->spill) == 1) {
            buf_reset(&item);
            if (buf_reserve(&item, len + 1) != 0 || fread(item.data, 1, len, s->spill) != len) {
                p->rc = DIAG_EIO;
                break;
            }
            item.len = len;
            put(p, item.data, len, &m);
        }
        buf_free(&item);
        fclose(s->spill);
        s->spill = NULL;
    }
    for (size_t off = 0; off + sizeof(size_t) <= s->mem.len;) {
        size_t len;
        memcpy(&len, s->mem.data + off, sizeof len);
        off += sizeof len;
        put(p, s->mem.data + off, len, &m);
        off += len;
    }
    buf_free(&s->mem);
}

static void forward(sync_pool *p, int j)
{
    slot *s = &p->slots[j];
    if (!s->d) return;
    sync_forward_diag(p->top->d, s->d);
    diag_free(s->d);
    s->d = NULL;
}

/* Move the head past the finished jobs, their items and messages out. */
static void advance(sync_pool *p)
{
    while (p->head < p->njobs) {
        drain(p, p->head);
        if (!p->slots[p->head].done) break;
        forward(p, p->head);
        p->head++;
    }
}

/* ---- the lane: a worker's sink -------------------------------------------- */

static int lane_add(sink *s, const char *item, size_t len, const sink_meta *meta)
{
    lane *l = (lane *)s;
    sync_pool *p = l->p;
    pthread_mutex_lock(&p->mu);
    int rc = p->rc;
    if (rc == 0) rc = p->ordered && l->job != p->head ? queue(&p->slots[l->job], item, len)
                                                      : put(p, item, len, meta);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int lane_flush(sink *s)
{
    sync_pool *p = ((lane *)s)->p;
    pthread_mutex_lock(&p->mu);
    int rc = p->rc ? p->rc : sink_flush(p->top->sink);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void lane_stats(const sink *s, sink_stats *st)
{
    sync_pool *p = ((const lane *)s)->p;
    pthread_mutex_lock(&p->mu);
    sink_get_stats(p->top->sink, st);
    pthread_mutex_unlock(&p->mu);
}

static int lane_finish(sink *s, sink_stats *st)
{
    int rc = lane_flush(s);
    if (st) lane_stats(s, st);
    return rc;
}

static void lane_set_ack(sink *s, sink_ack_fn fn, void *ctx)
{
    (void)s, (void)fn, (void)ctx; /* a pooled run has no position to move */
}

static void lane_free(sink *s) { free(s); }

static int lane_ensure_index(sink *s, const char *index, const char *mapping_json,
                             const char *settings_json)
{
    sync_pool *p = ((lane *)s)->p;
    pthread_mutex_lock(&p->mu);
    int rc = p->top->sink->ops->ensure_index(p->top->sink, index, mapping_json, settings_json);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int lane_list_ids(sink *s, const char *index, sink_id_fn fn, void *ctx)
{
    sync_pool *p = ((lane *)s)->p;
    pthread_mutex_lock(&p->mu);
    int rc = p->top->sink->ops->list_ids(p->top->sink, index, fn, ctx);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

sink *sync_pool_lane(sync_pool *p)
{
    lane *l = calloc(1, sizeof *l);
    if (!l) abort();
    const sink_ops *real = p->top->sink->ops;
    l->ops = (sink_ops){SINK_VERSION, "lane", real->acknowledges, lane_add, lane_flush, lane_finish,
                        lane_stats, lane_set_ack, lane_free,
                        real->ensure_index ? lane_ensure_index : NULL,
                        real->list_ids ? lane_list_ids : NULL, NULL};
    l->base.ops = &l->ops;
    l->base.d = p->top->d;
    l->p = p;
    l->job = -1;
    return &l->base;
}

/* ---- jobs ----------------------------------------------------------------- */

sync_pool *sync_pool_new(sync_run *top, const plan_connector *pc, const sync_job *jobs, int njobs,
                         int ordered)
{
    sync_pool *p = calloc(1, sizeof *p);
    if (!p) abort();
    pthread_mutex_init(&p->mu, NULL);
    p->top = top;
    p->pc = pc;
    p->jobs = jobs;
    p->njobs = njobs;
    p->ordered = ordered;
    p->slots = calloc((size_t)njobs + 1, sizeof *p->slots);
    if (!p->slots) abort();
    return p;
}

int sync_pool_take(sync_pool *p, sink *lane_sink)
{
    lane *l = (lane *)lane_sink;
    pthread_mutex_lock(&p->mu);
    int j = p->stop || p->next >= p->njobs ? -1 : p->next++;
    l->job = j;
    pthread_mutex_unlock(&p->mu);
    return j;
}

void sync_pool_stop(sync_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_mutex_unlock(&p->mu);
}

void sync_pool_done(sync_pool *p, int job, diag *d)
{
    pthread_mutex_lock(&p->mu);
    p->slots[job].d = d;
    p->slots[job].done = 1;
    if (p->ordered) advance(p);
    else forward(p, job);
    pthread_mutex_unlock(&p->mu);
}

int sync_pool_free(sync_pool *p)
{
    if (!p) return 0;
    /* jobs never taken (a stop) have nothing queued: the rest in order */
    for (int j = p->head; j < p->njobs; j++) {
        drain(p, j);
        forward(p, j);
    }
    int rc = p->rc;
    pthread_mutex_destroy(&p->mu);
    free(p->slots);
    free(p);
    return rc;
}
