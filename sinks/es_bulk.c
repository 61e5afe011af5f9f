/* es_bulk.c - the bulk sink; see es.h.
 *
 * Stage: documents -> _bulk requests. Items (NDJSON made by the interpreter)
 * wait in a bounded queue; full chunks (chunk_size lines or
 * chunk_max_mem_size MiB) go out as _bulk requests, up to max_concurrency at
 * once on a curl multi handle, driven from es_bulk_add (back-pressure when the
 * queue is full) and es_bulk_flush. Whole requests are retried on connection
 * errors, timeouts and 429/500/502/503/504; items rejected inside a 200 reply
 * with a retryable status (429, es_rejected_execution_exception, 5xx
 * unavailable) are sent again on their own, up to bulk_max_retries; other
 * item errors go to the dead-letter file (a `create` answered 409 after we
 * re-sent a request whose reply was lost counts as done; libcurl's own silent
 * re-send on a dead reused connection cannot be seen, so `create` actions
 * can still dead-letter as 409 there). An error monitor stops the sink after
 * too many item errors, and an acknowledgement callback tells the caller the
 * sequence number below which every item is settled.
 * It does not build documents and keeps no order per _id: concurrent requests
 * and retried items may land in any order (as with the connectors).
 */
#include "sinks/es.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#define NOLOC ((src_loc){NULL, 0, 0})

typedef struct item {
    struct item *next;
    uint64_t seq;
    uint64_t pos;        /* absolute position in the ack ring */
    char *data;          /* ends with '\n' */
    size_t len;
    int nlines;
    int attempts;        /* item-level retries so far */
    int maybe_sent;      /* a request with it got no reply: it may be indexed */
    double not_before;   /* retry list only */
    char *context;
} item;

typedef struct ilist {
    item *head, *tail;
    size_t n, bytes, lines;
} ilist;

enum { SLOT_FREE, SLOT_RUNNING, SLOT_WAITING };

typedef struct slot {
    int state;
    es_xfer x;
    buf body;
    item **items;
    size_t nitems, cap;
    int attempt;         /* whole-request retries so far */
    double not_before;   /* SLOT_WAITING */
} slot;

typedef struct ack_entry {
    uint64_t seq;
    int settled;
} ack_entry;

struct es_bulk {
    es_client *client;
    plan_es settings;    /* the client's, bulk fields from es_bulk_new's cfg */
    const plan_es *cfg;  /* &settings */
    diag *d;
    CURLM *multi;
    slot *slots;
    int nslots;
    ilist queue, retry;
    int flushing;
    int failed;          /* sticky negative code */
    char *path;          /* "/_bulk?..." */
    char *cfg_dead;      /* dead_letter_file of the configuration (wins) */
    char *dead_path;     /* es_bulk_set_dead_letter */
    FILE *dead;
    es_item_result *results;
    size_t nresults;
    /* acknowledgements */
    ack_entry *ring;
    uint64_t ring_cap, head, tail;
    uint64_t next_seq;
    uint64_t ack_upto;   /* settled prefix not yet reported */
    int ack_pending;
    es_ack_fn ack_fn;
    void *ack_ctx;
    /* error monitor */
    int max_consecutive, max_total, window;
    double max_ratio;
    int consecutive;
    uint64_t total_errors;
    unsigned char *win;
    int win_pos, win_fill, win_errors;
    es_bulk_stats st;
};

static const char *const BULK_FILTER =
    "filter_path=errors,items.*.status,items.*.result,items.*.error.type,items.*.error.reason";

/* ---- small helpers ----------------------------------------------------- */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) abort();
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}

static void list_push(ilist *l, item *it)
{
    it->next = NULL;
    if (l->tail)
        l->tail->next = it;
    else
        l->head = it;
    l->tail = it;
    l->n++;
    l->bytes += it->len;
    l->lines += (size_t)it->nlines;
}

static item *list_pop(ilist *l)
{
    item *it = l->head;
    if (!it) return NULL;
    l->head = it->next;
    if (!l->head) l->tail = NULL;
    l->n--;
    l->bytes -= it->len;
    l->lines -= (size_t)it->nlines;
    it->next = NULL;
    return it;
}

static void item_free(item *it)
{
    if (!it) return;
    free(it->data);
    free(it->context);
    free(it);
}

static void list_clear(ilist *l)
{
    item *it;
    while ((it = list_pop(l)) != NULL) item_free(it);
}

static void fail(es_bulk *s, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(es_bulk *s, int rc, const char *fmt, ...)
{
    if (s->failed) return;
    s->failed = rc;
    va_list ap;
    va_start(ap, fmt);
    diag_verror(s->d, DIAG_ERROR, NOLOC, fmt, ap);
    va_end(ap);
}

/* ---- acknowledgements -------------------------------------------------- */

static void ring_add(es_bulk *s, item *it)
{
    if (s->tail - s->head == s->ring_cap) {
        uint64_t ncap = s->ring_cap ? s->ring_cap * 2 : 1024;
        ack_entry *n = xmalloc(sizeof *n * ncap);
        for (uint64_t p = s->head; p < s->tail; p++) n[p % ncap] = s->ring[p % s->ring_cap];
        free(s->ring);
        s->ring = n;
        s->ring_cap = ncap;
    }
    it->pos = s->tail++;
    s->ring[it->pos % s->ring_cap].seq = it->seq;
    s->ring[it->pos % s->ring_cap].settled = 0;
}

static void settle(es_bulk *s, item *it)
{
    s->ring[it->pos % s->ring_cap].settled = 1;
    if (it->pos != s->head) return;
    while (s->head < s->tail && s->ring[s->head % s->ring_cap].settled) {
        s->ack_upto = s->ring[s->head % s->ring_cap].seq;
        s->head++;
    }
    s->ack_pending = 1;
}

/* Report the settled prefix once per processed reply. */
static void report_acks(es_bulk *s)
{
    if (!s->ack_pending) return;
    s->ack_pending = 0;
    if (s->ack_fn) s->ack_fn(s->ack_ctx, s->ack_upto);
}

/* ---- error monitor ----------------------------------------------------- */

static void monitor(es_bulk *s, int error, const es_item_result *r, const item *it)
{
    if (s->window > 0) {
        if (s->win_fill == s->window) s->win_errors -= s->win[s->win_pos];
        else s->win_fill++;
        s->win[s->win_pos] = (unsigned char)(error != 0);
        s->win_errors += error != 0;
        s->win_pos = (s->win_pos + 1) % s->window;
    }
    if (!error) {
        s->consecutive = 0;
        return;
    }
    s->consecutive++;
    s->total_errors++;
    const char *why = NULL;
    char tmp[96];
    if (s->max_consecutive > 0 && s->consecutive > s->max_consecutive) {
        snprintf(tmp, sizeof tmp, "%d consecutive document errors", s->consecutive);
        why = tmp;
    } else if (s->max_total > 0 && s->total_errors > (uint64_t)s->max_total) {
        snprintf(tmp, sizeof tmp, "%llu document errors in total",
                 (unsigned long long)s->total_errors);
        why = tmp;
    } else if (s->window > 0 && s->max_ratio > 0 && s->win_fill == s->window &&
               (double)s->win_errors > s->max_ratio * s->window) {
        snprintf(tmp, sizeof tmp, "%d errors in the last %d operations", s->win_errors,
                 s->window);
        why = tmp;
    }
    if (why)
        fail(s, DIAG_EIO, "bulk: stopping: %s (last%s%s: %d %s: %.200s)", why,
             it->context ? " " : "", it->context ? it->context : "", r->status, r->err_type,
             r->err_reason);
}

/* ---- dead letters ------------------------------------------------------ */

static void dead_letter(es_bulk *s, const item *it, const es_item_result *r)
{
    s->st.failed++;
    if (!s->dead) {
        const char *p = s->cfg_dead ? s->cfg_dead : s->dead_path;
        if (!p) {
            fail(s, DIAG_EINVAL, "bulk: a document failed (%d %s: %.200s) and no dead-letter "
                 "file is set", r->status, r->err_type, r->err_reason);
            return;
        }
        s->dead = fopen(p, "a");
        if (!s->dead) {
            fail(s, DIAG_EIO, "bulk: cannot open the dead-letter file %s", p);
            return;
        }
    }
    if (!s->dead) return;
    const char *nl = memchr(it->data, '\n', it->len);
    size_t alen = nl ? (size_t)(nl - it->data) : it->len;
    const char *doc = nl ? nl + 1 : NULL;
    size_t dlen = doc ? it->len - alen - 1 : 0;
    while (dlen > 0 && (doc[dlen - 1] == '\n' || doc[dlen - 1] == '\r')) dlen--;
    buf b = BUF_INIT;
    buf_puts(&b, "{\"action\":");
    buf_append(&b, it->data, alen);
    buf_puts(&b, ",\"document\":");
    if (dlen)
        buf_append(&b, doc, dlen);
    else
        buf_puts(&b, "null");
    buf_printf(&b, ",\"status\":%d,\"error\":{\"type\":", r->status);
    buf_json_str(&b, r->err_type, strlen(r->err_type), NULL);
    buf_puts(&b, ",\"reason\":");
    buf_json_str(&b, r->err_reason, strlen(r->err_reason), NULL);
    buf_puts(&b, "}}\n");
    if (b.failed || fwrite(b.data, 1, b.len, s->dead) != b.len || fflush(s->dead) != 0)
        fail(s, DIAG_EIO, "bulk: cannot write the dead-letter file");
    buf_free(&b);
}

/* ---- reply parsing ----------------------------------------------------- */

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

int es_bulk_parse_reply(const char *body, size_t len, es_item_result *out, size_t cap,
                        int *errors, diag *d)
{
    int n = 0;
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "items");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "errors");
    if (!cJSON_IsObject(root) || !cJSON_IsArray(items)) {
        if (d)
            diag_error(d, NOLOC, "bulk: the reply is not a _bulk reply: %.*s",
                       (int)(len < 120 ? len : 120), len ? body : "");
        cJSON_Delete(root);
        return DIAG_EIO;
    }
    if (errors) *errors = cJSON_IsTrue(err);
    const cJSON *el;
    cJSON_ArrayForEach(el, items)
    {
        if ((size_t)n < cap) {
            es_item_result *r = &out[n];
            memset(r, 0, sizeof *r);
            r->op = ES_OP_UNKNOWN;
            const cJSON *op = cJSON_IsObject(el) ? el->child : NULL;
            if (op && op->string) {
                if (strcmp(op->string, "index") == 0) r->op = ES_OP_INDEX;
                else if (strcmp(op->string, "create") == 0) r->op = ES_OP_CREATE;
                else if (strcmp(op->string, "update") == 0) r->op = ES_OP_UPDATE;
                else if (strcmp(op->string, "delete") == 0) r->op = ES_OP_DELETE;
            }
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(op, "status");
            if (cJSON_IsNumber(st) && st->valuedouble >= 0 && st->valuedouble < 1000)
                r->status = (int)st->valuedouble;
            const cJSON *res = cJSON_GetObjectItemCaseSensitive(op, "result");
            if (cJSON_IsString(res)) copy_str(r->result, sizeof r->result, res->valuestring);
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(op, "error");
            if (cJSON_IsObject(e)) {
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
                const cJSON *why = cJSON_GetObjectItemCaseSensitive(e, "reason");
                copy_str(r->err_type, sizeof r->err_type,
                         cJSON_IsString(t) ? t->valuestring : "error");
                copy_str(r->err_reason, sizeof r->err_reason,
                         cJSON_IsString(why) ? why->valuestring : "");
            } else if (cJSON_IsString(e)) {
                copy_str(r->err_type, sizeof r->err_type, "error");
                copy_str(r->err_reason, sizeof r->err_reason, e->valuestring);
            } else if (e && !cJSON_IsNull(e)) {
                copy_str(r->err_type, sizeof r->err_type, "error");
            }
        }
        if (n < 0x7fffffff) n++;
    }
    cJSON_Delete(root);
    return n;
}

/* ---- sink -------------------------------------------------------------- */

es_bulk *es_bulk_new(es_client *c, const plan_es *cfg, diag *d)
{
    es_bulk *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->client = c;
    s->settings = *es_client_cfg(c);
    if (cfg) {
        plan_es *k = &s->settings;
        if (cfg->queue_max_size > 0) k->queue_max_size = cfg->queue_max_size;
        if (cfg->queue_max_mem_size > 0) k->queue_max_mem_size = cfg->queue_max_mem_size;
        if (cfg->chunk_size > 0) k->chunk_size = cfg->chunk_size;
        if (cfg->chunk_max_mem_size > 0) k->chunk_max_mem_size = cfg->chunk_max_mem_size;
        if (cfg->max_concurrency > 0) k->max_concurrency = cfg->max_concurrency;
        if (cfg->bulk_max_retries > 0) k->bulk_max_retries = cfg->bulk_max_retries;
    }
    const char *dl = cfg && cfg->dead_letter_file ? cfg->dead_letter_file
                                                  : s->settings.dead_letter_file;
    if (dl) s->cfg_dead = xstrdup(dl);
    s->settings.dead_letter_file = NULL;
    s->cfg = &s->settings;
    s->d = d;
    s->multi = curl_multi_init();
    if (!s->multi) {
        diag_error(d, NOLOC, "bulk: cannot create a curl multi handle");
        free(s);
        return NULL;
    }
    s->nslots = s->cfg->max_concurrency;
    s->slots = calloc((size_t)s->nslots, sizeof *s->slots);
    for (int i = 0; i < s->nslots; i++) {
        if (es_xfer_init(c, &s->slots[i].x, d) != 0) {
            s->nslots = i;
            es_bulk_free(s);
            return NULL;
        }
        buf_init(&s->slots[i].body, 0);
    }
    curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)s->nslots);
    es_bulk_set_pipeline(s, NULL);
    es_bulk_set_error_limits(s, 10, 1000, 0.15, 100);
    return s;
}

void es_bulk_set_ack_cb(es_bulk *s, es_ack_fn fn, void *ctx)
{
    s->ack_fn = fn;
    s->ack_ctx = ctx;
}

void es_bulk_set_dead_letter(es_bulk *s, const char *path)
{
    free(s->dead_path);
    s->dead_path = path ? xstrdup(path) : NULL;
}

void es_bulk_set_pipeline(es_bulk *s, const char *name)
{
    free(s->path);
    buf b = BUF_INIT;
    buf_printf(&b, "/_bulk?%s", BULK_FILTER);
    if (name && *name) {
        char *esc = curl_easy_escape(NULL, name, 0);
        buf_printf(&b, "&pipeline=%s", esc ? esc : "");
        curl_free(esc);
    }
    s->path = buf_detach(&b, NULL);
}

void es_bulk_set_error_limits(es_bulk *s, int max_consecutive, int max_total, double max_ratio,
                              int window)
{
    s->max_consecutive = max_consecutive;
    s->max_total = max_total;
    s->max_ratio = max_ratio;
    free(s->win);
    s->win = NULL;
    s->window = window > 0 ? window : 0;
    if (s->window) s->win = calloc((size_t)s->window, 1);
    s->win_pos = s->win_fill = s->win_errors = 0;
}

static void slot_drop_items(slot *sl)
{
    for (size_t i = 0; i < sl->nitems; i++) item_free(sl->items[i]);
    sl->nitems = 0;
}

void es_bulk_free(es_bulk *s)
{
    if (!s) return;
    for (int i = 0; i < s->nslots; i++) {
        slot *sl = &s->slots[i];
        if (sl->state == SLOT_RUNNING) curl_multi_remove_handle(s->multi, sl->x.easy);
        es_xfer_cleanup(&sl->x);
        buf_free(&sl->body);
        slot_drop_items(sl);
        free(sl->items);
    }
    free(s->slots);
    curl_multi_cleanup(s->multi);
    list_clear(&s->queue);
    list_clear(&s->retry);
    if (s->dead) fclose(s->dead);
    free(s->dead_path);
    free(s->cfg_dead);
    free(s->path);
    free(s->results);
    free(s->ring);
    free(s->win);
    free(s);
}

void es_bulk_get_stats(const es_bulk *s, es_bulk_stats *stats) { *stats = s->st; }

/* Start the request held by sl (body and items already set). */
static int slot_start(es_bulk *s, slot *sl)
{
    diag *tmp = diag_new();
    int rc = es_xfer_prepare(s->client, &sl->x, "POST", s->path, sl->body.data, sl->body.len,
                             "application/x-ndjson", tmp);
    if (rc == 0) {
        if (curl_multi_add_handle(s->multi, sl->x.easy) != CURLM_OK) rc = DIAG_EIO;
    }
    if (rc) {
        fail(s, rc, "bulk: cannot start a request: %s", diag_last(tmp));
    } else {
        sl->state = SLOT_RUNNING;
        s->st.bytes += sl->body.len;
    }
    diag_free(tmp);
    return rc;
}

static void slot_add_item(slot *sl, item *it)
{
    if (sl->nitems == sl->cap) {
        size_t ncap = sl->cap ? sl->cap * 2 : 64;
        item **n = realloc(sl->items, ncap * sizeof *n);
        if (!n) abort();
        sl->items = n;
        sl->cap = ncap;
    }
    sl->items[sl->nitems++] = it;
    buf_append(&sl->body, it->data, it->len);
}

/* Fill sl with ready retry items, then queued items, up to one chunk. */
static void slot_fill(es_bulk *s, slot *sl, double now)
{
    size_t max_lines = (size_t)s->cfg->chunk_size;
    size_t max_bytes = (size_t)(s->cfg->chunk_max_mem_size * 1024 * 1024);
    size_t lines = 0;
    buf_reset(&sl->body);
    sl->nitems = 0;
    sl->attempt = 0;
    /* ready retries first, keeping the order of the others */
    ilist keep = {0};
    item *it;
    while ((it = list_pop(&s->retry)) != NULL) {
        if (it->not_before <= now && (sl->nitems == 0 || (lines + (size_t)it->nlines <= max_lines &&
                                                        sl->body.len + it->len <= max_bytes))) {
            lines += (size_t)it->nlines;
            slot_add_item(sl, it);
        } else {
            list_push(&keep, it);
        }
    }
    s->retry = keep;
    while (s->queue.head) {
        it = s->queue.head;
        if (sl->nitems > 0 &&
            (lines + (size_t)it->nlines > max_lines || sl->body.len + it->len > max_bytes))
            break;
        list_pop(&s->queue);
        lines += (size_t)it->nlines;
        slot_add_item(sl, it);
    }
}

static int retry_ready(const es_bulk *s, double now)
{
    for (const item *it = s->retry.head; it; it = it->next)
        if (it->not_before <= now) return 1;
    return 0;
}

static int queue_full(const es_bulk *s)
{
    return s->queue.n + s->retry.n >= (size_t)s->cfg->queue_max_size ||
           (double)(s->queue.bytes + s->retry.bytes) >= s->cfg->queue_max_mem_size * 1024 * 1024;
}

static int chunk_ready(const es_bulk *s)
{
    return s->queue.lines >= (size_t)s->cfg->chunk_size ||
           (double)s->queue.bytes >= s->cfg->chunk_max_mem_size * 1024 * 1024;
}

static int retryable_item(const es_item_result *r)
{
    return r->status == 429 || r->status == 502 || r->status == 503 || r->status == 504 ||
           strcmp(r->err_type, "es_rejected_execution_exception") == 0 ||
           strcmp(r->err_type, "rejected_execution_exception") == 0 ||
           strcmp(r->err_type, "unavailable_shards_exception") == 0;
}

static void whole_retry(es_bulk *s, slot *sl, const char *why)
{
    if (sl->attempt >= s->cfg->max_retries) {
        fail(s, DIAG_EIO, "bulk: a _bulk request of %zu documents failed %d times: %s",
             sl->nitems, sl->attempt + 1, why);
        sl->state = SLOT_FREE;
        slot_drop_items(sl);
        return;
    }
    sl->attempt++;
    s->st.request_retries++;
    sl->not_before = es_now() + es_backoff(s->cfg, sl->attempt);
    sl->state = SLOT_WAITING;
}

static void reason_of(const char *body, size_t len, char *out, size_t cap)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "reason");
    if (cJSON_IsString(t))
        snprintf(out, cap, "%s: %s", t->valuestring, cJSON_IsString(r) ? r->valuestring : "");
    else if (cJSON_IsString(e))
        snprintf(out, cap, "%s", e->valuestring);
    else
        snprintf(out, cap, "%.*s", (int)(len < 200 ? len : 200), body ? body : "");
    cJSON_Delete(root);
}

static void slot_done(es_bulk *s, slot *sl, CURLcode cc)
{
    curl_multi_remove_handle(s->multi, sl->x.easy);
    long status = 0;
    char why[400];
    if (cc != CURLE_OK) {
        snprintf(why, sizeof why, "%s", sl->x.errbuf[0] ? sl->x.errbuf : curl_easy_strerror(cc));
        for (size_t i = 0; i < sl->nitems; i++) sl->items[i]->maybe_sent = 1;
        if (cc == CURLE_OPERATION_TIMEDOUT && !s->cfg->retry_on_timeout) {
            fail(s, DIAG_EIO, "bulk: %s", why);
            sl->state = SLOT_FREE;
            slot_drop_items(sl);
            return;
        }
        whole_retry(s, sl, why);
        return;
    }
    curl_easy_getinfo(sl->x.easy, CURLINFO_RESPONSE_CODE, &status);
    const char *body = sl->x.reply.data ? sl->x.reply.data : "";
    size_t blen = sl->x.reply.len;
    if (status == 429 || status == 500 || status == 502 || status == 503 || status == 504) {
        char r[300];
        reason_of(body, blen, r, sizeof r);
        snprintf(why, sizeof why, "HTTP %ld %s", status, r);
        whole_retry(s, sl, why);
        return;
    }
    if (status != 200) {
        char r[300];
        reason_of(body, blen, r, sizeof r);
        fail(s, DIAG_EIO, "bulk: elasticsearch %s answered %ld to _bulk: %s",
             es_client_host(s->client), status, r);
        sl->state = SLOT_FREE;
        slot_drop_items(sl);
        return;
    }
    if (s->nresults < sl->nitems) {
        free(s->results);
        s->nresults = sl->nitems;
        s->results = xmalloc(sizeof *s->results * s->nresults);
    }
    int errors = 0;
    diag *tmp = diag_new();
    int n = es_bulk_parse_reply(body, blen, s->results, s->nresults, &errors, tmp);
    if (n < 0 || (size_t)n != sl->nitems) {
        if (n >= 0) snprintf(why, sizeof why, "the reply has %d items for %zu sent", n, sl->nitems);
        else snprintf(why, sizeof why, "%s", diag_last(tmp));
        diag_free(tmp);
        whole_retry(s, sl, why);
        return;
    }
    diag_free(tmp);
    s->st.requests++;
    double now = es_now();
    for (size_t i = 0; i < sl->nitems; i++) {
        item *it = sl->items[i];
        const es_item_result *r = &s->results[i];
        int ok = r->status >= 200 && r->status < 300 && !r->err_type[0];
        if (r->op == ES_OP_DELETE && r->status == 404 && !r->err_type[0]) ok = 1;
        /* a create sent again after a lost reply finds the document it made */
        if (r->op == ES_OP_CREATE && r->status == 409 && it->maybe_sent) ok = 1;
        if (ok) {
            if (r->op == ES_OP_DELETE) s->st.deleted++;
            else if (strcmp(r->result, "updated") == 0 || strcmp(r->result, "noop") == 0)
                s->st.updated++;
            else s->st.indexed++;
            monitor(s, 0, r, it);
            settle(s, it);
            item_free(it);
        } else if (retryable_item(r) && it->attempts < s->cfg->bulk_max_retries) {
            it->attempts++;
            it->not_before = now + es_backoff(s->cfg, it->attempts);
            s->st.item_retries++;
            list_push(&s->retry, it);
        } else {
            dead_letter(s, it, r);
            monitor(s, 1, r, it);
            settle(s, it);
            item_free(it);
        }
        sl->items[i] = NULL;
    }
    sl->nitems = 0;
    sl->state = SLOT_FREE;
    report_acks(s);
}

/* Drive the requests: start what can be started, collect finished ones.
 * block: wait (up to a second) for progress when nothing finished. */
static void pump(es_bulk *s, int block)
{
    double now = es_now();
    double next_wake = now + 1.0;
    for (int i = 0; i < s->nslots && !s->failed; i++) {
        slot *sl = &s->slots[i];
        if (sl->state == SLOT_WAITING) {
            if (sl->not_before <= now) slot_start(s, sl);
            else if (sl->not_before < next_wake) next_wake = sl->not_before;
        }
    }
    for (int i = 0; i < s->nslots && !s->failed; i++) {
        slot *sl = &s->slots[i];
        if (sl->state != SLOT_FREE) continue;
        int want = retry_ready(s, now) ||
                   (s->queue.n && (s->flushing || chunk_ready(s) || queue_full(s)));
        if (!want) break;
        slot_fill(s, sl, now);
        if (sl->nitems == 0) break;
        slot_start(s, sl);
    }
    for (const item *it = s->retry.head; it; it = it->next)
        if (it->not_before > now && it->not_before < next_wake) next_wake = it->not_before;

    int running = 0;
    curl_multi_perform(s->multi, &running);
    int got = 0;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE) continue;
        for (int i = 0; i < s->nslots; i++) {
            if (s->slots[i].state == SLOT_RUNNING && s->slots[i].x.easy == m->easy_handle) {
                slot_done(s, &s->slots[i], m->data.result);
                got = 1;
                break;
            }
        }
    }
    if (block && !got && !s->failed) {
        int ms = (int)((next_wake - es_now()) * 1000);
        if (ms < 0) ms = 0;
        if (ms > 1000) ms = 1000;
        curl_multi_poll(s->multi, NULL, 0, ms, NULL);
    }
}

static int idle(const es_bulk *s)
{
    if (s->queue.n || s->retry.n) return 0;
    for (int i = 0; i < s->nslots; i++)
        if (s->slots[i].state != SLOT_FREE) return 0;
    return 1;
}

int es_bulk_add(es_bulk *s, const char *data, size_t len, const es_item_meta *meta)
{
    if (s->failed) return s->failed;
    if (len == 0) return 0;
    item *it = calloc(1, sizeof *it);
    if (!it) return DIAG_ENOMEM;
    int nl = data[len - 1] != '\n';
    it->data = xmalloc(len + (size_t)nl + 1);
    memcpy(it->data, data, len);
    if (nl) it->data[len] = '\n';
    it->len = len + (size_t)nl;
    it->data[it->len] = '\0';
    for (size_t i = 0; i < it->len; i++) it->nlines += it->data[i] == '\n';
    it->seq = meta ? meta->seq : s->next_seq;
    s->next_seq = it->seq + 1;
    if (meta && meta->context) it->context = xstrdup(meta->context);
    ring_add(s, it);
    list_push(&s->queue, it);
    pump(s, 0);
    while (!s->failed && queue_full(s)) pump(s, 1);
    return s->failed;
}

int es_bulk_flush(es_bulk *s)
{
    s->flushing = 1;
    while (!s->failed && !idle(s)) pump(s, 1);
    s->flushing = 0;
    return s->failed;
}

int es_bulk_finish(es_bulk *s, es_bulk_stats *stats)
{
    int rc = es_bulk_flush(s);
    if (s->dead) fflush(s->dead);
    if (stats) *stats = s->st;
    return rc;
}
