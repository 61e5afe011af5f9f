/* es_sink.c - the sink interface (sink.h) over the Elasticsearch bulk sink
 * and index management (es.h): one client and one es_bulk per sink.
 *
 * Stage: documents -> _bulk. An adapter only: chunking, retries, the
 * dead-letter file and acknowledgements stay in es_bulk.c. */
#include <stdlib.h>
#include <string.h>

#include "sinks/es.h"
#include "sinks/sink.h"

typedef struct es_sink {
    sink base;
    es_client *es;
    es_bulk *bulk;
} es_sink;

static void to_stats(const es_bulk_stats *b, sink_stats *st)
{
    st->indexed = b->indexed + b->updated;
    st->deleted = b->deleted;
    st->failed = b->failed;
    st->retried = b->request_retries + b->item_retries;
}

static int es_add(sink *s, const char *item, size_t len, const sink_meta *m)
{
    char ctx[256];
    if (!m->context) { /* "connector > table > id", each part cut (70, 70, 100 bytes) */
        size_t n = 0;
        const char *part[3] = {m->connector, m->table, m->id};
        size_t plen[3] = {m->connector ? strlen(m->connector) : 0, m->table ? strlen(m->table) : 0,
                         m->id ? m->idlen : 0};
        static const size_t most[3] = {70, 70, 100}; /* 70 + 3 + 70 + 3 + 100 < sizeof ctx */
        for (int i = 0; i < 3; i++) {
            if (i) {
                memcpy(ctx + n, " > ", 3);
                n += 3;
            }
            size_t k = plen[i] < most[i] ? plen[i] : most[i];
            if (k) memcpy(ctx + n, part[i], k);
            n += k;
        }
        ctx[n] = '\0';
    }
    es_item_meta meta = {m->seq, m->context ? m->context : ctx};
    return es_bulk_add(((es_sink *)s)->bulk, item, len, &meta);
}

static int es_flush(sink *s) { return es_bulk_flush(((es_sink *)s)->bulk); }
static int es_push(sink *s) { return es_bulk_push(((es_sink *)s)->bulk); }

static int es_finish(sink *s, sink_stats *st)
{
    es_bulk_stats b;
    int rc = es_bulk_finish(((es_sink *)s)->bulk, &b);
    if (st) to_stats(&b, st);
    return rc;
}

static void es_stats(const sink *s, sink_stats *st)
{
    es_bulk_stats b;
    es_bulk_get_stats(((const es_sink *)s)->bulk, &b);
    to_stats(&b, st);
}

static void es_set_ack(sink *s, sink_ack_fn fn, void *ctx)
{
    es_bulk_set_ack_cb(((es_sink *)s)->bulk, fn, ctx);
}

static void es_free(sink *s)
{
    es_sink *e = (es_sink *)s;
    es_bulk_free(e->bulk);
    es_client_free(e->es);
    free(e);
}

static int es_ensure(sink *s, const char *index, const char *mapping, const char *settings)
{
    es_index_report rep = {0};
    return es_index_ensure(((es_sink *)s)->es, index, mapping, settings, &rep, s->d);
}

static int es_list(sink *s, const char *index, sink_id_fn fn, void *ctx)
{
    es_sink *e = (es_sink *)s;
    es_ids *it = NULL;
    /* list what a search sees now: the previous run's last writes included */
    int rc = es_refresh(e->es, index, s->d);
    if (rc == 0) rc = es_ids_open(e->es, index, NULL, 5000, &it, s->d);
    const char *id;
    size_t idlen;
    while (rc == 0 && (rc = es_ids_next(it, &id, &idlen, s->d)) == 1) rc = fn(ctx, id, idlen);
    es_ids_close(it);
    return rc < 0 ? rc : 0;
}

static const sink_ops es_ops = {
    SINK_VERSION, "elasticsearch", 1, es_add, es_flush, es_finish, es_stats, es_set_ack,
    es_free, es_ensure, es_list, es_push,
};

sink *sink_es_new(const plan_es *cfg, const char *pipeline, diag *d)
{
    es_sink *e = calloc(1, sizeof *e);
    if (!e) abort();
    e->base.ops = &es_ops;
    e->base.d = d;
    e->es = es_client_new(cfg, d);
    if (e->es && es_wait_ready(e->es, NULL, d) == 0) e->bulk = es_bulk_new(e->es, cfg, d);
    if (e->bulk) {
        if (pipeline && *pipeline) es_bulk_set_pipeline(e->bulk, pipeline);
    } else {
        es_free(&e->base);
        e = NULL;
    }
    return e ? &e->base : NULL;
}
