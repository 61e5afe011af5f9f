/* es_bulk.c - the bulk sink; see es.h.
 *
 * Stage: documents -> _bulk requests. Items (NDJSON made by the interpreter)
 * wait in a bounded queue; full chunks (chunk_size lines or
 * chunk_max_mem_size MiB) go out as _bulk requests, up to max_concurrency at
 * once (es_client.c's transfers in flight), driven from es_bulk_add
 * (back-pressure when the queue is full) and es_bulk_flush. Whole requests
 * are retried on connection errors, timeouts and 429/500/502/503/504 (up to
 * max_retries, after retry_interval x n s); a request refused as a whole
 * with 400 or 413 is split in halves until the item at fault stands alone
 * and is dead-lettered, so one bad item never sinks its neighbours. Every
 * reply item is matched with the item sent (operation and _id; the count of
 * items): a mismatch is an error for that item, never an acknowledgement.
 * Items rejected inside a 200 reply with a retryable status (429,
 * es_rejected_execution_exception, 5xx unavailable) are sent again on their
 * own, up to bulk_max_retries (after bulk_retry_interval x 2^(n-1) s); other
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

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOLOC ((src_loc){NULL, 0, 0})

typedef struct item {
    struct item *next;
    uint64_t seq;
    uint64_t pos;        /* absolute position in the ack ring */
    char *data;          /* ends with '\n'; the item, data, id and context are one
                          * allocation */
    size_t len;
    int nlines;
    int attempts;        /* item-level retries so far */
    int maybe_sent;      /* a request with it got no reply: it may be indexed */
    int split;           /* >0: at most this many items in its request (after a 400) */
    es_op op;            /* of its action line */
    int has_id;          /* 1: id holds the _id sent; 0: none; -1: too long */
    char *id;
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
    es_xfer *x;
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
    es_multi *multi;
    slot *slots;
    int nslots;
    ilist queue, retry;
    int flushing;
    uint64_t push_below; /* queued items with seq < this go out without a full chunk */
    int failed;          /* sticky negative code */
    char *path;          /* "/_bulk?..." */
    char *cfg_dead;      /* dead_letter_file of the configuration (wins) */
    char *dead_path;     /* es_bulk_set_dead_letter */
    int dead;            /* fd of the dead-letter file, -1 until the first failed item */
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
    double last_pump;    /* es_now() when the transfers were last driven */
};

/* What the sink reads of a reply: each item's operation (the key that
 * filter_path keeps), _id and status (an item's place in "items" is its place
 * in the request, so every item must stay in the list: `items.*.error` alone
 * would leave out the items that succeeded), and for failed items the
 * error's type and reason. `result` is not asked for: the status tells
 * created (201) from updated or noop (200). */
static const char *const BULK_FILTER =
    "filter_path=errors,items.*._id,items.*.status,items.*.error.type,items.*.error.reason";

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

static void item_free(item *it) { free(it); }

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

/* Cut a torn last record (an earlier write that failed half-way, e.g. on a
 * full disk) back to the last newline, so that the next record starts on a
 * line of its own. */
static void dead_repair(es_bulk *s, int fd, const char *path)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) return;
    char c;
    if (pread(fd, &c, 1, st.st_size - 1) != 1 || c == '\n') return;
    off_t pos = st.st_size - 1, keep = 0;
    char chunk[4096];
    while (pos > 0 && !keep) {
        size_t n = pos > (off_t)sizeof chunk ? sizeof chunk : (size_t)pos;
        if (pread(fd, chunk, n, pos - (off_t)n) != (ssize_t)n) return;
        for (size_t i = n; i-- > 0;)
            if (chunk[i] == '\n') {
                keep = pos - (off_t)n + (off_t)i + 1;
                break;
            }
        pos -= (off_t)n;
    }
    if (ftruncate(fd, keep) != 0) {
        fail(s, DIAG_EIO, "bulk: cannot repair the dead-letter file %s: %s", path,
             strerror(errno));
        return;
    }
    diag_warning(s->d, NOLOC, "bulk: the dead-letter file %s ended with a partial record (%lld "
                 "bytes left by an earlier failed write): removed", path,
                 (long long)(st.st_size - keep));
}

/* Append one record with one write; a short write is undone (the file is cut
 * back to where it was) and is an error. */
static int dead_write(int fd, const char *p, size_t n)
{
    off_t before = lseek(fd, 0, SEEK_END);
    ssize_t w;
    do {
        w = write(fd, p, n);
    } while (w < 0 && errno == EINTR);
    if (w == (ssize_t)n) return 0;
    int err = errno;
    if (w >= 0) { /* short: the next write says why (ENOSPC, EFBIG) */
        ssize_t w2 = write(fd, p + w, n - (size_t)w);
        err = w2 < 0 ? errno : ENOSPC;
    }
    if (before >= 0 && ftruncate(fd, before) != 0) err = errno;
    errno = err;
    return -1;
}

static void dead_letter(es_bulk *s, const item *it, const es_item_result *r)
{
    s->st.failed++;
    const char *p = s->cfg_dead ? s->cfg_dead : s->dead_path;
    if (s->dead < 0) {
        if (!p) {
            fail(s, DIAG_EINVAL, "bulk: a document failed (%d %s: %.200s) and no dead-letter "
                 "file is set", r->status, r->err_type, r->err_reason);
            return;
        }
        /* 0600: the records hold whole documents */
        s->dead = open(p, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (s->dead < 0) {
            fail(s, DIAG_EIO, "bulk: cannot open the dead-letter file %s: %s", p, strerror(errno));
            return;
        }
        dead_repair(s, s->dead, p);
    }
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
    if (b.failed)
        fail(s, DIAG_ENOMEM, "bulk: out of memory writing the dead-letter file");
    else if (dead_write(s->dead, b.data, b.len) != 0)
        fail(s, DIAG_EIO, "bulk: cannot write the dead-letter file %s: %s (the record of %s "
             "is not written)", p, strerror(errno), it->context ? it->context : "an item");
    buf_free(&b);
}

/* ---- sink -------------------------------------------------------------- */

es_bulk *es_bulk_new(es_client *c, const plan_es *cfg, diag *d)
{
    const plan_es *bulk = cfg ? cfg : es_client_cfg(c);
    if (es_check_bulk_settings(bulk, d) != 0) return NULL;
    es_bulk *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->client = c;
    s->dead = -1;
    s->settings = *es_client_cfg(c);
    plan_es *k = &s->settings;
    k->queue_max_size = bulk->queue_max_size;
    k->queue_max_mem_size = bulk->queue_max_mem_size;
    k->chunk_size = bulk->chunk_size;
    k->chunk_max_mem_size = bulk->chunk_max_mem_size;
    k->max_concurrency = bulk->max_concurrency;
    k->bulk_max_retries = bulk->bulk_max_retries;
    k->bulk_retry_interval = bulk->bulk_retry_interval;
    k->display_every = bulk->display_every;
    if (bulk->dead_letter_file) s->cfg_dead = xstrdup(bulk->dead_letter_file);
    k->dead_letter_file = s->cfg_dead;
    s->cfg = &s->settings;
    s->d = d;
    s->multi = es_multi_new(c, k->max_concurrency, d);
    if (!s->multi) {
        free(s->cfg_dead);
        free(s);
        return NULL;
    }
    s->nslots = k->max_concurrency;
    s->slots = calloc((size_t)s->nslots, sizeof *s->slots);
    if (!s->slots) abort();
    for (int i = 0; i < s->nslots; i++) {
        buf_init(&s->slots[i].body, 0);
        if ((s->slots[i].x = es_xfer_new(s->multi, d)) == NULL) {
            es_bulk_free(s);
            return NULL;
        }
    }
    es_bulk_set_pipeline(s, NULL);
    es_bulk_set_error_limits(s, 10, 1000, 0.15, 100);
    return s;
}

const plan_es *es_bulk_cfg(const es_bulk *s) { return s->cfg; }

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
        buf_puts(&b, "&pipeline=");
        es_url_escape(&b, name);
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
    for (int i = 0; s->slots && i < s->nslots; i++) {
        slot *sl = &s->slots[i];
        es_xfer_free(sl->x);
        buf_free(&sl->body);
        slot_drop_items(sl);
        free(sl->items);
    }
    free(s->slots);
    es_multi_free(s->multi);
    list_clear(&s->queue);
    list_clear(&s->retry);
    if (s->dead >= 0) close(s->dead);
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
    int rc = es_multi_start(sl->x, "POST", s->path, sl->body.data, sl->body.len,
                            "application/x-ndjson", tmp);
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

/* Fill sl with ready retry items, then queued items, up to one chunk; items
 * of a request split after a 400 go in groups of at most their `split`. */
static void slot_fill(es_bulk *s, slot *sl, double now)
{
    size_t max_lines = (size_t)s->cfg->chunk_size;
    size_t max_bytes = (size_t)(s->cfg->chunk_max_mem_size * 1024 * 1024);
    size_t lines = 0, limit = (size_t)-1;
    buf_reset(&sl->body);
    sl->nitems = 0;
    sl->attempt = 0;
    /* ready retries first, keeping the order of the others */
    ilist keep = {0};
    item *it;
    while ((it = list_pop(&s->retry)) != NULL) {
        size_t lim = it->split > 0 && (size_t)it->split < limit ? (size_t)it->split : limit;
        if (it->not_before <= now &&
            (sl->nitems == 0 || (sl->nitems < lim && lines + (size_t)it->nlines <= max_lines &&
                                 sl->body.len + it->len <= max_bytes))) {
            lines += (size_t)it->nlines;
            limit = lim;
            slot_add_item(sl, it);
        } else {
            list_push(&keep, it);
        }
    }
    s->retry = keep;
    while (s->queue.head && sl->nitems < limit) {
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
        fail(s, DIAG_EIO, "bulk: a _bulk request of %zu documents failed %d time%s: %s",
             sl->nitems, sl->attempt + 1, sl->attempt ? "s" : "", why);
        sl->state = SLOT_FREE;
        slot_drop_items(sl);
        return;
    }
    sl->attempt++;
    s->st.request_retries++;
    sl->not_before = es_now() + es_retry_wait(s->cfg, sl->attempt);
    sl->state = SLOT_WAITING;
}

/* Settle one item: acknowledged (ok) or dead-lettered with r. */
static void item_done(es_bulk *s, item *it, const es_item_result *r, int ok)
{
    if (ok) {
        /* without `result` (filtered out) the status tells: 201 created */
        if (r->op == ES_OP_DELETE) s->st.deleted++;
        else if (r->result[0] ? strcmp(r->result, "updated") == 0 || strcmp(r->result, "noop") == 0
                              : r->status == 200)
            s->st.updated++;
        else s->st.indexed++;
        monitor(s, 0, r, it);
    } else {
        dead_letter(s, it, r);
        monitor(s, 1, r, it);
    }
    settle(s, it);
    item_free(it);
}

/* The node refused the whole request (400 or 413): one of its items may be at
 * fault. Send the items again in halves; an item refused on its own is
 * dead-lettered with the node's reason. */
static void split_request(es_bulk *s, slot *sl, long status, const char *body, size_t blen)
{
    if (sl->nitems == 1) {
        es_item_result r;
        memset(&r, 0, sizeof r);
        r.op = sl->items[0]->op;
        r.status = (int)status;
        snprintf(r.err_type, sizeof r.err_type, "request_refused");
        es_error_reason(body, blen, r.err_reason, sizeof r.err_reason);
        item_done(s, sl->items[0], &r, 0);
        sl->items[0] = NULL;
    } else {
        int half = (int)((sl->nitems + 1) / 2);
        /* back to the front of the retry list, in order, ready now */
        ilist front = {0};
        for (size_t i = 0; i < sl->nitems; i++) {
            item *it = sl->items[i];
            it->split = half;
            it->not_before = 0;
            list_push(&front, it);
            sl->items[i] = NULL;
        }
        item *it;
        while ((it = list_pop(&s->retry)) != NULL) list_push(&front, it);
        s->retry = front;
        s->st.request_splits++;
    }
    sl->nitems = 0;
    sl->state = SLOT_FREE;
    report_acks(s);
}

/* Does reply item r answer item it? Fills why when it does not. */
static int matches(const item *it, const es_item_result *r, char *why, size_t cap)
{
    if (r->op != it->op) {
        snprintf(why, cap, "sent %s, the reply item is a %s (status %d)", es_op_name(it->op),
                 es_op_name(r->op), r->status);
        return 0;
    }
    if (it->has_id == 1 && r->has_id != 0 && (r->has_id != 1 || strcmp(r->id, it->id) != 0)) {
        snprintf(why, cap, "sent _id '%.100s', the reply item is for _id '%.100s'", it->id,
                 r->has_id == 1 ? r->id : "(too long)");
        return 0;
    }
    return 1;
}

static void slot_done(es_bulk *s, slot *sl, const es_done *dn)
{
    char why[400];
    if (dn->rc != 0) {
        snprintf(why, sizeof why, "%s", dn->error ? dn->error : "transfer failed");
        for (size_t i = 0; i < sl->nitems; i++) sl->items[i]->maybe_sent = 1;
        if (dn->rc != DIAG_ETRANSIENT) {
            fail(s, DIAG_EIO, "bulk: %s", why);
            sl->state = SLOT_FREE;
            slot_drop_items(sl);
            return;
        }
        whole_retry(s, sl, why);
        return;
    }
    long status = dn->status;
    const char *body = dn->body;
    size_t blen = dn->len;
    if (status == 429 || status == 500 || status == 502 || status == 503 || status == 504) {
        char r[300];
        es_error_reason(body, blen, r, sizeof r);
        snprintf(why, sizeof why, "HTTP %ld %s", status, r);
        whole_retry(s, sl, why);
        return;
    }
    if (status == 400 || status == 413) {
        split_request(s, sl, status, body, blen);
        return;
    }
    if (status != 200) {
        char r[300];
        es_error_reason(body, blen, r, sizeof r);
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
        es_item_result *r = &s->results[i];
        if (!matches(it, r, why, sizeof why)) {
            /* another item's answer: nothing is known about this one */
            r->op = it->op;
            snprintf(r->err_type, sizeof r->err_type, "reply_mismatch");
            snprintf(r->err_reason, sizeof r->err_reason, "%s", why);
            s->st.mismatched++;
            item_done(s, it, r, 0);
            sl->items[i] = NULL;
            continue;
        }
        int ok = r->status >= 200 && r->status < 300 && !r->err_type[0];
        if (r->op == ES_OP_DELETE && r->status == 404 && !r->err_type[0]) ok = 1;
        /* a create sent again after a lost reply finds the document it made */
        if (r->op == ES_OP_CREATE && r->status == 409 && it->maybe_sent) ok = 1;
        if (!ok && retryable_item(r) && it->attempts < s->cfg->bulk_max_retries) {
            it->attempts++;
            it->not_before = now + es_item_wait(s->cfg, it->attempts);
            s->st.item_retries++;
            list_push(&s->retry, it);
        } else {
            item_done(s, it, r, ok);
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
    s->last_pump = now;
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
                   (s->queue.n && (s->flushing || chunk_ready(s) || queue_full(s) ||
                                   s->queue.head->seq < s->push_below));
        if (!want) break;
        slot_fill(s, sl, now);
        if (sl->nitems == 0) break;
        slot_start(s, sl);
    }
    for (const item *it = s->retry.head; it; it = it->next)
        if (it->not_before > now && it->not_before < next_wake) next_wake = it->not_before;

    es_multi_step(s->multi, 0);
    int got = 0;
    es_done dn;
    es_xfer *x;
    while ((x = es_multi_done(s->multi, &dn)) != NULL) {
        for (int i = 0; i < s->nslots; i++) {
            if (s->slots[i].state == SLOT_RUNNING && s->slots[i].x == x) {
                slot_done(s, &s->slots[i], &dn);
                got = 1;
                break;
            }
        }
    }
    if (block && !got && !s->failed) {
        int ms = (int)((next_wake - es_now()) * 1000);
        if (ms < 1) ms = 1;
        if (ms > 1000) ms = 1000;
        es_multi_step(s->multi, ms);
    }
}

static int idle(const es_bulk *s)
{
    if (s->queue.n || s->retry.n) return 0;
    for (int i = 0; i < s->nslots; i++)
        if (s->slots[i].state != SLOT_FREE) return 0;
    return 1;
}

/* A free request slot and a full chunk: time to send. */
static int can_start(const es_bulk *s)
{
    if (!chunk_ready(s)) return 0;
    for (int i = 0; i < s->nslots; i++)
        if (s->slots[i].state == SLOT_FREE) return 1;
    return 0;
}

int es_bulk_add(es_bulk *s, const char *data, size_t len, const es_item_meta *meta)
{
    if (s->failed) return s->failed;
    if (len == 0) return 0;
    /* what the reply item must say: its operation and _id */
    es_op op;
    int has_id;
    char id[ES_ID_MAX + 1];
    if (es_action_parse(data, len, &op, id, sizeof id, &has_id) != 0) {
        diag_error(s->d, NOLOC, "bulk: not an action line: %.80s", data);
        return DIAG_EINVAL;
    }
    /* one allocation: the item, its bytes (a newline added when missing),
     * its _id and its context */
    int nl = data[len - 1] != '\n';
    size_t idlen = has_id == 1 ? strlen(id) + 1 : 0;
    const char *ctx = meta ? meta->context : NULL;
    size_t ctxlen = ctx ? strlen(ctx) + 1 : 0;
    item *it = malloc(sizeof *it + len + (size_t)nl + 1 + idlen + ctxlen);
    if (!it) return DIAG_ENOMEM;
    memset(it, 0, sizeof *it);
    it->data = (char *)(it + 1);
    memcpy(it->data, data, len);
    if (nl) it->data[len] = '\n';
    it->len = len + (size_t)nl;
    it->data[it->len] = '\0';
    for (const char *p = it->data, *end = p + it->len; (p = memchr(p, '\n', (size_t)(end - p)));
         p++)
        it->nlines++;
    it->op = op;
    it->has_id = has_id;
    char *tail = it->data + it->len + 1;
    if (idlen) {
        it->id = tail;
        memcpy(it->id, id, idlen);
        tail += idlen;
    }
    if (ctxlen) {
        it->context = tail;
        memcpy(it->context, ctx, ctxlen);
    }
    it->seq = meta ? meta->seq : s->next_seq;
    s->next_seq = it->seq + 1;
    ring_add(s, it);
    list_push(&s->queue, it);
    /* Drive the transfers when a chunk can go out, else when 100 us went by
     * since the last step (bodies still being sent, replies, retries that
     * came due): one curl step per item cost a poll of every connection, a
     * third of the client's CPU in a sync. */
    if (can_start(s) || es_now() - s->last_pump >= 100e-6) pump(s, 0);
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

int es_bulk_push(es_bulk *s)
{
    if (s->failed) return s->failed;
    s->push_below = s->next_seq;
    pump(s, 0);
    return s->failed;
}

int es_bulk_finish(es_bulk *s, es_bulk_stats *stats)
{
    int rc = es_bulk_flush(s);
    if (stats) *stats = s->st;
    return rc;
}
