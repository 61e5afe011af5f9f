/* resume.c - the position of a served run (sync.h: cursor_json,
 * resume_json, on_position): what the cluster acknowledged, so that a
 * suspended job, or a job another instance takes over, goes on from there.
 *
 * While the run reads, scan.c marks a checkpoint every SYNC_POS_EVERY rows
 * handed to the sink (the sequence number of the row's last item and its
 * key); the sink's acknowledgement callback pops the checkpoints it covers,
 * and the newest popped one is the position. A table the cluster
 * acknowledged entirely is "done". The position is JSON, kept small:
 *
 *   {"v":1,"done":["a","b"],"table":"c","key":["41"],"upper":["2024-.."]|null,
 *    "bytes":123456,"watermarks":{"a":["2024-..",..]}}
 *
 * `upper` is the incremental window bound of the current table (a resumed
 * read keeps the same window); `watermarks` are the run's watermarks (the
 * connector's sync_cursor when the job completes); `bytes` counts the index
 * actions acknowledged by every run of the job.
 *
 * A position stops moving once the sink dead-lettered an item: what follows
 * is read again by a resumed run.
 *
 * Stage: sync. Called by run.c, table.c and scan.c; calls only the sink's
 * stats and the state (watermarks in memory). */
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "sync/internal.h"

#define SYNC_POS_EVERY 64     /* rows between checkpoints */
#define SYNC_POS_PERIOD 0.5   /* seconds between reports (unless forced) */

typedef struct sync_cp {
    uint64_t seq, bytes;
    char *table, *key, *upper; /* key, upper: JSON arrays (upper may be NULL) */
} sync_cp;

typedef struct wm {
    char *table, *json;
} wm;

struct sync_pos {
    /* what an earlier run reported */
    char **done;
    int ndone;
    char *in_table;
    const char **in_key, **in_upper;
    int nin_key, nin_upper, has_upper;
    uint64_t bytes0;
    arena *a;
    /* this run */
    wm *wms;
    int nwms;
    sync_cp *cps;
    int ncps, cpcap;
    uint64_t rows_since, bytes_added;
    char *cur_table, *cur_upper; /* the table being read and its bound (JSON or NULL) */
    sync_cp acked;               /* the newest acknowledged checkpoint */
    int moved, frozen;
    double last_emit;
    buf out;
};

static char *xstrdup(const char *s)
{
    char *p = s ? strdup(s) : NULL;
    if (s && !p) abort();
    return p;
}

static void cp_clear(sync_cp *c)
{
    free(c->table);
    free(c->key);
    free(c->upper);
    memset(c, 0, sizeof *c);
}

static void wm_set(sync_pos *p, const char *table, const char *text)
{
    for (int i = 0; i < p->nwms; i++)
        if (!strcmp(p->wms[i].table, table)) {
            free(p->wms[i].json);
            p->wms[i].json = xstrdup(text);
            return;
        }
    p->wms = realloc(p->wms, (size_t)(p->nwms + 1) * sizeof *p->wms);
    if (!p->wms) abort();
    p->wms[p->nwms].table = xstrdup(table);
    p->wms[p->nwms++].json = xstrdup(text);
}

/* A JSON array of strings (and nulls) into a NULL-terminated vector in a. */
static int str_array(const json *j, arena *a, const char ***out, int *n)
{
    if (!j || j->kind != JSON_ARRAY) return 0;
    int k = 0;
    for (const json *e = j->child; e; e = e->next) {
        if (e->kind != JSON_STRING && e->kind != JSON_NULL) return 0;
        k++;
    }
    const char **v = arena_alloc(a, (size_t)(k + 1) * sizeof *v);
    k = 0;
    for (const json *e = j->child; e; e = e->next) v[k++] = e->kind == JSON_STRING ? e->str : NULL;
    v[k] = NULL;
    *out = v;
    *n = k;
    return 1;
}

static const json *member(const json *o, const char *key)
{
    for (const json *e = o && o->kind == JSON_OBJECT ? o->child : NULL; e; e = e->next)
        if (e->key && !strcmp(e->key, key)) return e;
    return NULL;
}

/* The watermarks object {"TABLE":[...]} of j into p. */
static int load_watermarks(sync_pos *p, const json *w)
{
    if (!w || w->kind == JSON_NULL) return 1;
    if (w->kind != JSON_OBJECT) return 0;
    for (const json *e = w->child; e; e = e->next) {
        const char **v;
        int n;
        if (!str_array(e, p->a, &v, &n)) return 0;
        char *raw = arena_strndup(p->a, e->raw, e->rawlen);
        wm_set(p, e->key, raw);
    }
    return 1;
}

static void put_values(buf *b, const char *const *v, int n)
{
    buf_putc(b, '[');
    for (int i = 0; i < n; i++) {
        if (i) buf_putc(b, ',');
        if (v[i])
            buf_json_str(b, v[i], strlen(v[i]), NULL);
        else
            buf_puts(b, "null");
    }
    buf_putc(b, ']');
}

static int parse_cursor(sync_pos *p, const char *text, diag *d)
{
    json *root = NULL;
    if (!text || !*text) return 0;
    if (!json_parse(p->a, text, strlen(text), &root) ||
        (root->kind != JSON_OBJECT && root->kind != JSON_NULL) ||
        !load_watermarks(p, member(root, "watermarks"))) {
        diag_error(d, (src_loc){0}, "the connector's sync_cursor is not a watermark object");
        return DIAG_EINVAL;
    }
    return 0;
}

static int parse_resume(sync_pos *p, const char *text, diag *d)
{
    json *root = NULL;
    if (!text || !*text) return 0;
    int ok = json_parse(p->a, text, strlen(text), &root) && root->kind == JSON_OBJECT;
    const json *done = ok ? member(root, "done") : NULL;
    const json *table = ok ? member(root, "table") : NULL;
    const json *bytes = ok ? member(root, "bytes") : NULL;
    if (ok && done) {
        const char **v;
        ok = str_array(done, p->a, &v, &p->ndone);
        if (ok) p->done = (char **)v;
    }
    if (ok && table && table->kind == JSON_STRING) {
        p->in_table = table->str;
        ok = str_array(member(root, "key"), p->a, &p->in_key, &p->nin_key);
        const json *up = member(root, "upper");
        if (ok && up && up->kind == JSON_ARRAY) {
            ok = str_array(up, p->a, &p->in_upper, &p->nin_upper);
            p->has_upper = ok;
        }
    }
    if (ok && bytes && bytes->kind == JSON_NUMBER) p->bytes0 = strtoull(bytes->raw, NULL, 10);
    if (ok && p->in_table) {
        /* until this run acknowledges more, the earlier run's position stands */
        buf b = BUF_INIT;
        put_values(&b, p->in_key, p->nin_key);
        p->acked.table = xstrdup(p->in_table);
        p->acked.key = xstrdup(b.data ? b.data : "[]");
        buf_reset(&b);
        if (p->has_upper) put_values(&b, p->in_upper, p->nin_upper);
        p->acked.upper = p->has_upper ? xstrdup(b.data) : NULL;
        buf_free(&b);
    }
    /* the position's watermarks win over the connector's: they are the ones
     * this job started from and moved */
    if (ok) ok = load_watermarks(p, member(root, "watermarks"));
    if (!ok) {
        diag_error(d, (src_loc){0}, "the job's recorded position is not valid; resume_json: %.200s", text);
        return DIAG_EINVAL;
    }
    return 0;
}

int sync_pos_new(const eng_sync_opts *o, sync_pos **out, diag *d)
{
    *out = NULL;
    if (!o->cursor_json && !o->resume_json && !o->on_position) return 0;
    sync_pos *p = calloc(1, sizeof *p);
    if (!p) abort();
    p->a = arena_new();
    buf_init(&p->out, 0);
    int rc = parse_cursor(p, o->cursor_json, d);
    if (rc == 0) rc = parse_resume(p, o->resume_json, d);
    if (rc) {
        sync_pos_free(p);
        return rc;
    }
    p->last_emit = -1e9;
    *out = p;
    return 0;
}

void sync_pos_free(sync_pos *p)
{
    if (!p) return;
    for (int i = 0; i < p->ncps; i++) cp_clear(&p->cps[i]);
    free(p->cps);
    for (int i = 0; i < p->nwms; i++) {
        free(p->wms[i].table);
        free(p->wms[i].json);
    }
    free(p->wms);
    cp_clear(&p->acked);
    free(p->cur_table);
    free(p->cur_upper);
    buf_free(&p->out);
    arena_free(p->a);
    free(p);
}

void sync_pos_load_state(sync_pos *p, eng_state *st, const char *connector)
{
    for (int i = 0; i < p->nwms; i++) {
        json *j = NULL;
        const char **v;
        int n;
        if (json_parse(p->a, p->wms[i].json, strlen(p->wms[i].json), &j) && str_array(j, p->a, &v, &n))
            eng_state_set(st, connector, p->wms[i].table, v, n);
    }
}

int sync_pos_table(const sync_pos *p, const char *name, const char *const **key, int *nkey,
                   const char *const **upper, int *nupper)
{
    *key = *upper = NULL;
    *nkey = *nupper = 0;
    for (int i = 0; i < p->ndone; i++)
        if (!strcmp(p->done[i], name)) return SYNC_POS_DONE;
    if (p->in_table && !strcmp(p->in_table, name)) {
        *key = p->in_key;
        *nkey = p->nin_key;
        if (p->has_upper) {
            *upper = p->in_upper;
            *nupper = p->nin_upper;
        }
        return SYNC_POS_CURRENT;
    }
    return SYNC_POS_NEW;
}

void sync_pos_begin(sync_pos *p, const char *name, const char *const *upper, int n)
{
    free(p->cur_table);
    free(p->cur_upper);
    p->cur_table = xstrdup(name);
    p->cur_upper = NULL;
    p->rows_since = 0;
    if (upper) {
        buf b = BUF_INIT;
        put_values(&b, upper, n);
        p->cur_upper = b.failed ? NULL : xstrdup(b.data);
        buf_free(&b);
    }
}

void sync_pos_bytes(sync_pos *p, size_t n) { p->bytes_added += n; }

void sync_pos_mark(sync_pos *p, uint64_t seq, const sync_key *k)
{
    if (++p->rows_since < SYNC_POS_EVERY || !k->have || !p->cur_table) return;
    p->rows_since = 0;
    buf b = BUF_INIT;
    buf_putc(&b, '[');
    for (int i = 0; i < k->n; i++) {
        if (i) buf_putc(&b, ',');
        const char *v = k->bytes.data + k->off[i];
        buf_json_str(&b, v, strlen(v), NULL);
    }
    buf_putc(&b, ']');
    if (!b.failed) {
        if (p->ncps == p->cpcap) {
            p->cpcap = p->cpcap ? p->cpcap * 2 : 16;
            p->cps = realloc(p->cps, (size_t)p->cpcap * sizeof *p->cps);
            if (!p->cps) abort();
        }
        sync_cp *c = &p->cps[p->ncps++];
        c->seq = seq;
        c->bytes = p->bytes_added;
        c->table = xstrdup(p->cur_table);
        c->key = xstrdup(b.data);
        c->upper = xstrdup(p->cur_upper);
    }
    buf_free(&b);
}

void sync_pos_mark_last(sync_pos *p, uint64_t seq, const sync_key *k)
{
    p->rows_since = SYNC_POS_EVERY;
    sync_pos_mark(p, seq, k);
}

/* Whether the sink dead-lettered anything: the position stops there. */
static int frozen(sync_run *r)
{
    sync_pos *p = r->pos;
    if (!p->frozen && r->sink) {
        sink_stats ss;
        sink_get_stats(r->sink, &ss);
        p->frozen = ss.failed > 0;
    }
    return p->frozen;
}

void sync_pos_ack(void *ctx, uint64_t upto)
{
    sync_run *r = ctx;
    sync_pos *p = r->pos;
    if (!p || frozen(r)) return;
    int k = 0;
    while (k < p->ncps && p->cps[k].seq <= upto) k++;
    if (!k) return;
    cp_clear(&p->acked);
    p->acked = p->cps[k - 1];
    for (int i = 0; i < k - 1; i++) cp_clear(&p->cps[i]);
    memmove(p->cps, p->cps + k, (size_t)(p->ncps - k) * sizeof *p->cps);
    p->ncps -= k;
    p->moved = 1;
    sync_pos_emit(r, 0);
}

void sync_pos_done(sync_run *r, const char *connector, const char *name, int incremental)
{
    sync_pos *p = r->pos;
    if (!p || !r->sink || sink_flush(r->sink) != 0 || frozen(r)) return;
    /* every item handed on is acknowledged: the table is done */
    for (int i = 0; i < p->ncps; i++) cp_clear(&p->cps[i]);
    p->ncps = 0;
    cp_clear(&p->acked);
    p->acked.bytes = p->bytes_added;
    if (incremental) {
        const char *const *v;
        int n;
        eng_state_get(r->state, connector, name, &v, &n);
        if (n > 0) {
            buf b = BUF_INIT;
            put_values(&b, v, n);
            if (!b.failed) wm_set(p, name, b.data);
            buf_free(&b);
        }
    }
    int seen = 0;
    for (int i = 0; i < p->ndone && !seen; i++) seen = !strcmp(p->done[i], name);
    if (!seen) {
        char **nd = arena_alloc(p->a, (size_t)(p->ndone + 1) * sizeof *nd);
        if (p->ndone) memcpy(nd, p->done, (size_t)p->ndone * sizeof *nd);
        nd[p->ndone++] = arena_strdup(p->a, name);
        p->done = nd;
    }
    free(p->cur_table);
    p->cur_table = NULL;
    p->moved = 1;
    sync_pos_emit(r, 1);
}

uint64_t sync_pos_acked_bytes(const sync_pos *p) { return p ? p->bytes0 + p->acked.bytes : 0; }

void sync_pos_emit(sync_run *r, int force)
{
    sync_pos *p = r->pos;
    if (!p || !r->o->on_position || (!p->moved && !force)) return;
    double now = eng_now();
    if (!force && now - p->last_emit < SYNC_POS_PERIOD) return;
    p->last_emit = now;
    p->moved = 0;
    buf *b = &p->out;
    buf_reset(b);
    buf_puts(b, "{\"v\":1,\"done\":[");
    for (int i = 0; i < p->ndone; i++) {
        if (i) buf_putc(b, ',');
        buf_json_str(b, p->done[i], strlen(p->done[i]), NULL);
    }
    buf_puts(b, "],\"table\":");
    if (p->acked.table) {
        buf_json_str(b, p->acked.table, strlen(p->acked.table), NULL);
        buf_printf(b, ",\"key\":%s,\"upper\":%s", p->acked.key, p->acked.upper ? p->acked.upper : "null");
    } else {
        buf_puts(b, "null,\"key\":null,\"upper\":null");
    }
    buf_printf(b, ",\"bytes\":%llu,\"watermarks\":{", (unsigned long long)sync_pos_acked_bytes(p));
    for (int i = 0; i < p->nwms; i++) {
        if (i) buf_putc(b, ',');
        buf_json_str(b, p->wms[i].table, strlen(p->wms[i].table), NULL);
        buf_putc(b, ':');
        buf_puts(b, p->wms[i].json);
    }
    buf_puts(b, "}}");
    if (!b->failed) r->o->on_position(r->o->position_ctx, b->data);
}
