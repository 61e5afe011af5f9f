/* mem_sink.c - the in-memory sink for tests (sink.h): a tiny cluster kept
 * in a store that outlives its sinks. Items wait in the sink until flush,
 * then apply to the store in order (index/create put the source, update
 * replaces it, delete removes it), except items the test told the store to
 * reject (failed, as dead-lettered). It lists the ids of an index, so a
 * full sync sweeps in-process.
 *
 * Stage: documents -> memory. Linear lookups: for small test data only. */
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"
#include "sinks/sink.h"

typedef struct mem_doc {
    char *index, *id, *source;
} mem_doc;

struct sink_mem_store {
    mem_doc *docs;
    size_t ndocs, cap;
    char **indices;
    size_t nindices;
    uint64_t adds, fail_at, acked;
    char *reject;
};

typedef struct mem_item {
    char *data;
    size_t len;
    uint64_t seq;
} mem_item;

typedef struct mem_sink {
    sink base;
    sink_mem_store *st;
    mem_item *q;
    size_t nq, qcap;
    sink_stats stats;
    int failed;
    sink_ack_fn ack;
    void *ack_ctx;
} mem_sink;

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) abort();
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static mem_doc *find(const sink_mem_store *st, const char *index, const char *id)
{
    mem_doc *d = NULL;
    for (size_t i = 0; i < st->ndocs && !d; i++)
        if (!strcmp(st->docs[i].index, index) && !strcmp(st->docs[i].id, id)) d = &st->docs[i];
    return d;
}

static void put(sink_mem_store *st, const char *index, const char *id, const char *src, size_t n)
{
    mem_doc *d = find(st, index, id);
    if (!d) {
        if (st->ndocs == st->cap) {
            st->cap = st->cap ? 2 * st->cap : 64;
            st->docs = realloc(st->docs, st->cap * sizeof *st->docs);
            if (!st->docs) abort();
        }
        d = &st->docs[st->ndocs++];
        d->index = dup_n(index, strlen(index));
        d->id = dup_n(id, strlen(id));
        d->source = NULL;
    }
    free(d->source);
    d->source = dup_n(src, n);
}

static void del(sink_mem_store *st, const char *index, const char *id)
{
    mem_doc *d = find(st, index, id);
    if (d) {
        free(d->index);
        free(d->id);
        free(d->source);
        *d = st->docs[--st->ndocs];
    }
}

/* Apply one item: "{"op":{"_index":..,"_id":..}}\n[source\n]". */
static int apply(mem_sink *m, const mem_item *it)
{
    sink_mem_store *st = m->st;
    const char *nl = memchr(it->data, '\n', it->len);
    size_t alen = nl ? (size_t)(nl - it->data) : it->len;
    arena *a = arena_new();
    json *act = NULL;
    int rc = 0;
    if (!a || !json_parse(a, it->data, alen, &act) || act->kind != JSON_OBJECT || !act->child ||
        act->child->kind != JSON_OBJECT) {
        diag_error(m->base.d, (src_loc){0}, "memory sink: not a bulk action: %.*s", (int)alen, it->data);
        rc = DIAG_EINVAL;
    } else {
        const char *op = act->child->key, *index = NULL, *id = NULL;
        for (json *f = act->child->child; f; f = f->next) {
            if (!strcmp(f->key, "_index") && f->kind == JSON_STRING) index = f->str;
            if (!strcmp(f->key, "_id") && f->kind == JSON_STRING) id = f->str;
        }
        const char *src = nl ? nl + 1 : "";
        size_t slen = nl ? it->len - alen - 1 : 0;
        if (slen && src[slen - 1] == '\n') slen--;
        if (!index || !id) {
            diag_error(m->base.d, (src_loc){0}, "memory sink: action without _index or _id");
            rc = DIAG_EINVAL;
        } else if (st->reject && !strcmp(st->reject, id)) {
            m->stats.failed++;
        } else if (!strcmp(op, "delete")) {
            del(st, index, id);
            m->stats.deleted++;
            st->acked++;
        } else {
            put(st, index, id, src, slen);
            m->stats.indexed++;
            st->acked++;
        }
    }
    arena_free(a);
    return rc;
}

static int mem_add(sink *s, const char *item, size_t len, const sink_meta *meta)
{
    mem_sink *m = (mem_sink *)s;
    m->st->adds++;
    if (!m->failed && m->st->fail_at && m->st->adds >= m->st->fail_at) {
        diag_error(s->d, (src_loc){0}, "memory sink: cluster unreachable (item %llu)",
                   (unsigned long long)m->st->adds);
        m->failed = DIAG_EIO;
    }
    if (m->failed) return m->failed;
    if (m->nq == m->qcap) {
        m->qcap = m->qcap ? 2 * m->qcap : 64;
        m->q = realloc(m->q, m->qcap * sizeof *m->q);
        if (!m->q) abort();
    }
    m->q[m->nq].data = dup_n(item, len);
    m->q[m->nq].len = len;
    m->q[m->nq].seq = meta->seq;
    m->nq++;
    return 0;
}

static int mem_flush(sink *s)
{
    mem_sink *m = (mem_sink *)s;
    int rc = m->failed;
    uint64_t upto = 0;
    for (size_t i = 0; i < m->nq; i++) {
        if (rc == 0) rc = apply(m, &m->q[i]);
        upto = m->q[i].seq;
        free(m->q[i].data);
    }
    m->nq = 0;
    if (rc == 0 && upto && m->ack) m->ack(m->ack_ctx, upto);
    if (rc) m->failed = rc;
    return rc;
}

static void mem_stats(const sink *s, sink_stats *st) { *st = ((const mem_sink *)s)->stats; }

static int mem_finish(sink *s, sink_stats *st)
{
    int rc = mem_flush(s);
    if (st) mem_stats(s, st);
    return rc;
}

static void mem_set_ack(sink *s, sink_ack_fn fn, void *ctx)
{
    ((mem_sink *)s)->ack = fn;
    ((mem_sink *)s)->ack_ctx = ctx;
}

static void mem_free(sink *s)
{
    mem_sink *m = (mem_sink *)s;
    for (size_t i = 0; i < m->nq; i++) free(m->q[i].data);
    free(m->q);
    free(m);
}

static int mem_ensure(sink *s, const char *index, const char *mapping, const char *settings)
{
    sink_mem_store *st = ((mem_sink *)s)->st;
    (void)mapping;
    (void)settings;
    if (!sink_mem_has_index(st, index)) {
        st->indices = realloc(st->indices, (st->nindices + 1) * sizeof *st->indices);
        if (!st->indices) abort();
        st->indices[st->nindices++] = dup_n(index, strlen(index));
    }
    return ((mem_sink *)s)->failed;
}

static int mem_list(sink *s, const char *index, sink_id_fn fn, void *ctx)
{
    const sink_mem_store *st = ((mem_sink *)s)->st;
    int rc = ((mem_sink *)s)->failed;
    for (size_t i = 0; rc == 0 && i < st->ndocs; i++)
        if (!strcmp(st->docs[i].index, index)) rc = fn(ctx, st->docs[i].id, strlen(st->docs[i].id));
    return rc;
}

static const sink_ops mem_ops = {
    SINK_VERSION, "memory", 1, mem_add, mem_flush, mem_finish, mem_stats, mem_set_ack,
    mem_free, mem_ensure, mem_list, NULL,
};

sink *sink_mem_new(sink_mem_store *st, diag *d)
{
    mem_sink *m = calloc(1, sizeof *m);
    if (!m) abort();
    m->base.ops = &mem_ops;
    m->base.d = d;
    m->st = st;
    return &m->base;
}

sink_mem_store *sink_mem_store_new(void)
{
    sink_mem_store *st = calloc(1, sizeof *st);
    if (!st) abort();
    return st;
}

void sink_mem_store_free(sink_mem_store *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->ndocs; i++) {
        free(st->docs[i].index);
        free(st->docs[i].id);
        free(st->docs[i].source);
    }
    for (size_t i = 0; i < st->nindices; i++) free(st->indices[i]);
    free(st->docs);
    free(st->indices);
    free(st->reject);
    free(st);
}

void sink_mem_fail_add(sink_mem_store *st, uint64_t n) { st->fail_at = n ? st->adds + n : 0; }

void sink_mem_reject(sink_mem_store *st, const char *id)
{
    free(st->reject);
    st->reject = id ? dup_n(id, strlen(id)) : NULL;
}

size_t sink_mem_count(const sink_mem_store *st, const char *index)
{
    size_t n = 0;
    for (size_t i = 0; i < st->ndocs; i++) n += !strcmp(st->docs[i].index, index);
    return n;
}

const char *sink_mem_get(const sink_mem_store *st, const char *index, const char *id)
{
    const mem_doc *d = find(st, index, id);
    return d ? d->source : NULL;
}

int sink_mem_has_index(const sink_mem_store *st, const char *index)
{
    int has = 0;
    for (size_t i = 0; i < st->nindices && !has; i++) has = !strcmp(st->indices[i], index);
    return has;
}

uint64_t sink_mem_acked(const sink_mem_store *st) { return st->acked; }
