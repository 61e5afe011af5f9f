/* ops.c - what `sql2es serve --listen` shows: /metrics, /healthz and the
 * status page /, made from a snapshot the service loop publishes.
 *
 * Stage: service, beside the loop. The loop (one thread) calls
 * svc_ops_tick on every turn and svc_ops_job_end when a job ends; every
 * OPS_REFRESH seconds the tick also reads the handled connector documents
 * (status, error, last sync, last_seen) and counts their jobs in
 * `.elastic-connectors-sync-jobs` by status, with single attempts (no
 * retry: a cluster that does not answer only makes the snapshot older).
 * The HTTP server's thread (http.c) renders the answers from the snapshot
 * under the same mutex; it never talks to the cluster.
 *
 * /healthz is 200 when the cluster answered within HEALTH_CLUSTER_STALE
 * seconds and the loop turned within HEALTH_LOOP_STALE seconds, else 503;
 * the body is a short JSON object saying which. Nothing secret is in the
 * snapshot: no configuration value, only ids, names, statuses, counts and
 * the error texts the service itself wrote into the documents (which carry
 * no secret).
 */
#include "service/ops.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define NOLOC ((src_loc){NULL, 0, 0})
#define OPS_REFRESH 2.0
#define HEALTH_CLUSTER_STALE 30.0
#define HEALTH_LOOP_STALE 60.0
#define OPS_RUNS 64

/* statuses of a job document (protocol.md 1.3) */
static const char *const job_status[] = {"pending",   "in_progress", "canceling", "canceled",
                                         "suspended", "completed",   "error"};
#define NSTATUS ((int)(sizeof job_status / sizeof job_status[0]))
/* how a job of this process can end */
static const char *const end_status[] = {"completed", "error", "canceled", "suspended"};
#define NEND ((int)(sizeof end_status / sizeof end_status[0]))

typedef struct conn_state {
    char id[256];
    /* from the connector document (last refresh) */
    int found;
    char name[256], service_type[64], status[32], index[256], error[512];
    char last_sync_status[32], last_synced[64], last_seen[64];
    int64_t last_synced_t, last_seen_t; /* epoch seconds, -1 unknown */
    int64_t last_indexed;               /* last_indexed_document_count */
    /* jobs in the jobs index by status (-1 before the first count) */
    int64_t jobs[NSTATUS];
    /* jobs this process ran */
    uint64_t ended[NEND];
    uint64_t indexed, deleted, retried, rows;
    double last_rate;          /* rows/s of the last job that ended, -1 none */
    double last_completed;     /* wall time of this process's last completed job, 0 none */
    char follow[24];           /* serve_follow: its state here ("" not followed) */
    int follow_here;           /* this process runs its follow */
    double follow_lag;         /* seconds, -1 unknown */
} conn_state;

typedef struct run_state {
    char job[128], connector[256], type[16];
    uint64_t rows, docs, deleted;
    double started;
    int stopping;
} run_state;

struct svc_ops {
    svc_ctx *s;
    svc_http *http;
    pthread_mutex_t lock;
    double started;                 /* es_now() at start */
    double loop_at, cluster_at;     /* es_now() of the last loop turn / cluster answer, 0 never */
    double next_refresh;
    char cluster_error[512];
    int nconn;
    conn_state *conn;
    int nruns;
    run_state runs[OPS_RUNS];
};

static conn_state *find_conn(svc_ops *o, const char *id)
{
    for (int i = 0; id && i < o->nconn; i++)
        if (!strcmp(o->conn[i].id, id)) return &o->conn[i];
    return NULL;
}

static int status_index(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (!strcmp(names[i], s)) return i;
    return -1;
}

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* ---- what the loop publishes ------------------------------------------------ */

void svc_ops_job_end(svc_ops *o, const char *connector, const char *status, uint64_t rows,
                     uint64_t indexed, uint64_t deleted, uint64_t retried, double seconds)
{
    if (!o) return;
    pthread_mutex_lock(&o->lock);
    conn_state *c = find_conn(o, connector);
    int k = status_index(end_status, NEND, status);
    if (c) {
        if (k >= 0) c->ended[k]++;
        c->indexed += indexed;
        c->deleted += deleted;
        c->retried += retried;
        c->rows += rows;
        if (seconds > 0) c->last_rate = (double)rows / seconds;
        if (k == 0) c->last_completed = svc_wall();
    }
    pthread_mutex_unlock(&o->lock);
}

void svc_ops_follow(svc_ops *o, const char *connector, const char *status, int here, double lag)
{
    if (!o) return;
    pthread_mutex_lock(&o->lock);
    conn_state *c = find_conn(o, connector);
    if (c) {
        copy(c->follow, sizeof c->follow, status);
        c->follow_here = here;
        c->follow_lag = lag;
    }
    pthread_mutex_unlock(&o->lock);
}

/* The connector documents' fields the page and the metrics show. */
static void read_connectors(svc_ops *o, svc_doc *res, const char *body, size_t len, double now)
{
    diag *d = diag_new();
    if (!d || svc_doc_parse(res, body, len, d) != 0) {
        diag_free(d);
        return;
    }
    diag_free(d);
    const json *hh = svc_path(res->root, "hits.hits");
    pthread_mutex_lock(&o->lock);
    for (int i = 0; i < o->nconn; i++) o->conn[i].found = 0;
    for (const json *h = hh ? hh->child : NULL; h; h = h->next) {
        conn_state *c = find_conn(o, svc_str(h, "_id"));
        const json *src = svc_get(h, "_source");
        if (!c || !src) continue;
        c->found = 1;
        copy(c->name, sizeof c->name, svc_str(src, "name"));
        copy(c->service_type, sizeof c->service_type, svc_str(src, "service_type"));
        copy(c->status, sizeof c->status, svc_str(src, "status"));
        copy(c->index, sizeof c->index, svc_str(src, "index_name"));
        copy(c->error, sizeof c->error, svc_str(src, "error"));
        copy(c->last_sync_status, sizeof c->last_sync_status, svc_str(src, "last_sync_status"));
        copy(c->last_synced, sizeof c->last_synced, svc_str(src, "last_synced"));
        copy(c->last_seen, sizeof c->last_seen, svc_str(src, "last_seen"));
        c->last_synced_t = c->last_synced[0] ? svc_parse_iso(c->last_synced) : -1;
        c->last_seen_t = c->last_seen[0] ? svc_parse_iso(c->last_seen) : -1;
        c->last_indexed = svc_int(src, "last_indexed_document_count", 0);
    }
    o->cluster_at = now;
    o->cluster_error[0] = '\0';
    pthread_mutex_unlock(&o->lock);
}

/* aggregations.c.buckets[] {key, s.buckets[] {key, doc_count}} */
static void read_job_counts(svc_ops *o, svc_doc *res, const char *body, size_t len)
{
    diag *d = diag_new();
    if (!d || svc_doc_parse(res, body, len, d) != 0) {
        diag_free(d);
        return;
    }
    diag_free(d);
    const json *bb = svc_path(res->root, "aggregations.c.buckets");
    pthread_mutex_lock(&o->lock);
    for (int i = 0; i < o->nconn; i++)
        for (int k = 0; k < NSTATUS; k++) o->conn[i].jobs[k] = 0;
    for (const json *b = bb ? bb->child : NULL; b; b = b->next) {
        conn_state *c = find_conn(o, svc_str(b, "key"));
        const json *sb = svc_path(b, "s.buckets");
        for (const json *x = sb && c ? sb->child : NULL; x; x = x->next) {
            int k = status_index(job_status, NSTATUS, svc_str(x, "key"));
            if (k >= 0) c->jobs[k] = svc_int(x, "doc_count", 0);
        }
    }
    pthread_mutex_unlock(&o->lock);
}

static void refresh(svc_ops *o, double now)
{
    svc_ctx *s = o->s;
    buf ids = BUF_INIT, q = BUF_INIT;
    buf_putc(&ids, '[');
    for (int i = 0; i < o->nconn; i++) {
        if (i) buf_putc(&ids, ',');
        buf_json_str(&ids, o->conn[i].id, strlen(o->conn[i].id), NULL);
    }
    buf_putc(&ids, ']');
    buf_printf(&q, "{\"size\":%d,\"query\":{\"ids\":{\"values\":%s}},\"_source\":[\"name\","
                   "\"service_type\",\"status\",\"error\",\"index_name\",\"last_sync_status\","
                   "\"last_synced\",\"last_seen\",\"last_indexed_document_count\"]}",
               o->nconn + 1, ids.data ? ids.data : "[]");
    diag *d = diag_new();
    es_response r;
    memset(&r, 0, sizeof r);
    int rc = q.failed || !d ? -1
                            : es_request_once(s->es, "POST",
                                              "/" SVC_CONNECTORS "/_search?expand_wildcards=all"
                                              "&ignore_unavailable=true",
                                              q.data, q.len, NULL, &r, d);
    if (rc == 0 && r.status == 200) {
        svc_doc res;
        read_connectors(o, &res, r.body, r.len, now);
        svc_doc_free(&res);
        es_response_free(&r);
        buf_reset(&q);
        buf_printf(&q, "{\"size\":0,\"query\":{\"terms\":{\"connector.id\":%s}},\"aggs\":{\"c\":{"
                       "\"terms\":{\"field\":\"connector.id\",\"size\":%d},\"aggs\":{\"s\":{"
                       "\"terms\":{\"field\":\"status\",\"size\":%d}}}}}}",
                   ids.data ? ids.data : "[]", o->nconn + 1, NSTATUS + 4);
        if (!q.failed &&
            es_request_once(s->es, "POST",
                            "/" SVC_JOBS "/_search?expand_wildcards=all&ignore_unavailable=true",
                            q.data, q.len, NULL, &r, d) == 0 &&
            r.status == 200) {
            read_job_counts(o, &res, r.body, r.len);
            svc_doc_free(&res);
        }
    } else {
        pthread_mutex_lock(&o->lock);
        if (rc != 0)
            copy(o->cluster_error, sizeof o->cluster_error, diag_last(d));
        else
            snprintf(o->cluster_error, sizeof o->cluster_error, "the connectors search answered %ld",
                     r.status);
        pthread_mutex_unlock(&o->lock);
    }
    es_response_free(&r);
    diag_free(d);
    buf_free(&q);
    buf_free(&ids);
}

void svc_ops_tick(svc_ops *o, const svc_ops_run *runs, int nruns)
{
    if (!o) return;
    double now = es_now();
    if (now >= o->next_refresh) {
        refresh(o, now);
        o->next_refresh = es_now() + OPS_REFRESH;
    }
    pthread_mutex_lock(&o->lock);
    o->loop_at = es_now();
    o->nruns = 0;
    for (int i = 0; i < nruns && o->nruns < OPS_RUNS; i++) {
        run_state *r = &o->runs[o->nruns++];
        copy(r->job, sizeof r->job, runs[i].job);
        copy(r->connector, sizeof r->connector, runs[i].connector);
        copy(r->type, sizeof r->type, runs[i].type);
        r->rows = runs[i].rows;
        r->docs = runs[i].docs;
        r->deleted = runs[i].deleted;
        r->started = runs[i].started;
        r->stopping = runs[i].stopping;
    }
    pthread_mutex_unlock(&o->lock);
}

/* ---- /metrics (Prometheus text exposition format 0.0.4) --------------------- */

/* a label value: backslash, double quote and newline escaped */
static void label(buf *b, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\') buf_puts(b, "\\\\");
        else if (*p == '"') buf_puts(b, "\\\"");
        else if (*p == '\n') buf_puts(b, "\\n");
        else buf_putc(b, *p);
    }
}

static void help(buf *b, const char *name, const char *type, const char *text)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void sample_c(buf *b, const char *name, const char *id, const char *k2, const char *v2)
{
    buf_printf(b, "%s{connector_id=\"", name);
    label(b, id);
    if (k2) {
        buf_printf(b, "\",%s=\"", k2);
        label(b, v2);
    }
    buf_puts(b, "\"} ");
}

static void num(buf *b, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        buf_printf(b, "%.0f\n", v);
    else
        buf_printf(b, "%.3f\n", v);
}

static void metrics(svc_ops *o, buf *b)
{
    double now = es_now(), wall = svc_wall();
    help(b, "sql2es_info", "gauge", "Version of the running sql2es serve (always 1).");
    buf_puts(b, "sql2es_info{version=\"");
    label(b, SQL2ES_VERSION);
    buf_puts(b, "\"} 1\n");
    help(b, "sql2es_uptime_seconds", "gauge", "Seconds since this serve process started.");
    buf_puts(b, "sql2es_uptime_seconds ");
    num(b, now - o->started);
    help(b, "sql2es_cluster_contact_age_seconds", "gauge",
         "Seconds since the cluster last answered the service (-1: never).");
    buf_puts(b, "sql2es_cluster_contact_age_seconds ");
    num(b, o->cluster_at > 0 ? now - o->cluster_at : -1);
    help(b, "sql2es_loop_age_seconds", "gauge", "Seconds since the service loop last turned.");
    buf_puts(b, "sql2es_loop_age_seconds ");
    num(b, o->loop_at > 0 ? now - o->loop_at : -1);

    help(b, "sql2es_connector_status", "gauge",
         "1 for the connector document's current status (connected, error, configured, ...).");
    for (int i = 0; i < o->nconn; i++) {
        conn_state *c = &o->conn[i];
        sample_c(b, "sql2es_connector_status", c->id, "status", c->found ? c->status : "missing");
        buf_puts(b, "1\n");
    }
    help(b, "sql2es_heartbeat_age_seconds", "gauge",
         "Seconds since the connector document's last_seen (its heartbeat).");
    for (int i = 0; i < o->nconn; i++)
        if (o->conn[i].found && o->conn[i].last_seen_t >= 0) {
            sample_c(b, "sql2es_heartbeat_age_seconds", o->conn[i].id, NULL, NULL);
            num(b, floor(wall) - (double)o->conn[i].last_seen_t);
        }
    help(b, "sql2es_last_success_age_seconds", "gauge",
         "Seconds since the connector's last completed sync (by any instance).");
    for (int i = 0; i < o->nconn; i++) {
        conn_state *c = &o->conn[i];
        double t = c->last_completed;
        if (t <= 0 && c->found && !strcmp(c->last_sync_status, "completed") && c->last_synced_t >= 0)
            t = (double)c->last_synced_t;
        if (t <= 0) continue;
        sample_c(b, "sql2es_last_success_age_seconds", c->id, NULL, NULL);
        num(b, floor(wall - t));
    }
    help(b, "sql2es_sync_jobs", "gauge",
         "Jobs of the connector in .elastic-connectors-sync-jobs, by status.");
    for (int i = 0; i < o->nconn; i++)
        for (int k = 0; k < NSTATUS; k++)
            if (o->conn[i].jobs[k] >= 0) {
                sample_c(b, "sql2es_sync_jobs", o->conn[i].id, "status", job_status[k]);
                buf_printf(b, "%" PRId64 "\n", o->conn[i].jobs[k]);
            }
    help(b, "sql2es_jobs_total", "counter", "Jobs this process ran, by how they ended.");
    for (int i = 0; i < o->nconn; i++)
        for (int k = 0; k < NEND; k++) {
            sample_c(b, "sql2es_jobs_total", o->conn[i].id, "status", end_status[k]);
            buf_printf(b, "%" PRIu64 "\n", o->conn[i].ended[k]);
        }
    help(b, "sql2es_jobs_running", "gauge", "Jobs this process is running.");
    for (int i = 0; i < o->nconn; i++) {
        int n = 0;
        for (int j = 0; j < o->nruns; j++) n += !strcmp(o->runs[j].connector, o->conn[i].id);
        sample_c(b, "sql2es_jobs_running", o->conn[i].id, NULL, NULL);
        buf_printf(b, "%d\n", n);
    }
    static const struct {
        const char *name, *text;
        size_t off;
    } counters[] = {
        {"sql2es_documents_indexed_total", "Documents indexed by the jobs this process ended.",
         offsetof(conn_state, indexed)},
        {"sql2es_documents_deleted_total", "Documents deleted by the jobs this process ended.",
         offsetof(conn_state, deleted)},
        {"sql2es_retries_total",
         "Requests and items sent again (429, 5xx, resets) by the jobs this process ended.",
         offsetof(conn_state, retried)},
        {"sql2es_rows_read_total", "Rows read by the jobs this process ended.",
         offsetof(conn_state, rows)},
    };
    for (size_t m = 0; m < sizeof counters / sizeof counters[0]; m++) {
        help(b, counters[m].name, "counter", counters[m].text);
        for (int i = 0; i < o->nconn; i++) {
            uint64_t v;
            memcpy(&v, (const char *)&o->conn[i] + counters[m].off, sizeof v);
            sample_c(b, counters[m].name, o->conn[i].id, NULL, NULL);
            buf_printf(b, "%" PRIu64 "\n", v);
        }
    }
    help(b, "sql2es_rows_per_second", "gauge",
         "Rows per second of the connector's running job, else of its last job in this process.");
    for (int i = 0; i < o->nconn; i++) {
        conn_state *c = &o->conn[i];
        double rate = c->last_rate;
        for (int j = 0; j < o->nruns; j++)
            if (!strcmp(o->runs[j].connector, c->id) && now > o->runs[j].started)
                rate = (double)o->runs[j].rows / (now - o->runs[j].started);
        if (rate < 0) continue;
        sample_c(b, "sql2es_rows_per_second", c->id, NULL, NULL);
        num(b, rate);
    }
    help(b, "sql2es_follow_running", "gauge",
         "1 when this process follows the connector's changes (serve_follow), else 0.");
    for (int i = 0; i < o->nconn; i++) {
        if (!o->conn[i].follow[0]) continue;
        sample_c(b, "sql2es_follow_running", o->conn[i].id, "status", o->conn[i].follow);
        buf_printf(b, "%d\n", o->conn[i].follow_here);
    }
    help(b, "sql2es_follow_lag_seconds", "gauge",
         "Commit to acknowledgement of the last transaction the follow applied (0: caught up).");
    for (int i = 0; i < o->nconn; i++) {
        if (!o->conn[i].follow[0] || !o->conn[i].follow_here || o->conn[i].follow_lag < 0) continue;
        sample_c(b, "sql2es_follow_lag_seconds", o->conn[i].id, NULL, NULL);
        num(b, o->conn[i].follow_lag);
    }
    help(b, "sql2es_job_documents_indexed", "gauge",
         "Documents indexed so far by a running job (label job_id).");
    for (int j = 0; j < o->nruns; j++) {
        sample_c(b, "sql2es_job_documents_indexed", o->runs[j].connector, "job_id", o->runs[j].job);
        buf_printf(b, "%" PRIu64 "\n", o->runs[j].docs);
    }
}

/* ---- /healthz ----------------------------------------------------------------- */

static int healthy(svc_ops *o, double now, char *why, size_t cap)
{
    why[0] = '\0';
    if (o->cluster_at <= 0)
        snprintf(why, cap, "the cluster has not answered yet%s%s", o->cluster_error[0] ? ": " : "",
                 o->cluster_error);
    else if (now - o->cluster_at > HEALTH_CLUSTER_STALE)
        snprintf(why, cap, "the cluster has not answered for %.0f s%s%s", now - o->cluster_at,
                 o->cluster_error[0] ? ": " : "", o->cluster_error);
    else if (o->loop_at <= 0 || now - o->loop_at > HEALTH_LOOP_STALE)
        snprintf(why, cap, "the service loop has not turned for %.0f s",
                 o->loop_at > 0 ? now - o->loop_at : now - o->started);
    return why[0] == '\0';
}

static void healthz(svc_ops *o, svc_http_reply *out)
{
    double now = es_now();
    char why[700];
    int ok = healthy(o, now, why, sizeof why);
    out->status = ok ? 200 : 503;
    out->type = "application/json";
    buf *b = &out->body;
    buf_printf(b, "{\"status\":\"%s\"", ok ? "ok" : "unavailable");
    if (!ok) {
        buf_putc(b, ',');
        svc_put_kv_str(b, "reason", why);
    }
    buf_printf(b, ",\"cluster_contact_age_seconds\":%.1f,\"loop_age_seconds\":%.1f,"
                  "\"running_jobs\":%d}\n",
               o->cluster_at > 0 ? now - o->cluster_at : -1.0, o->loop_at > 0 ? now - o->loop_at : -1.0,
               o->nruns);
}

/* ---- / (the status page) ------------------------------------------------------ */

static void esc(buf *b, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) {
        switch (*p) {
        case '&': buf_puts(b, "&amp;"); break;
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '"': buf_puts(b, "&quot;"); break;
        case '\'': buf_puts(b, "&#39;"); break;
        default: buf_putc(b, *p);
        }
    }
}

static void age(buf *b, double seconds)
{
    if (seconds < 0) seconds = 0;
    if (seconds < 120)
        buf_printf(b, "%.0f s ago", seconds);
    else if (seconds < 7200)
        buf_printf(b, "%.0f min ago", seconds / 60);
    else if (seconds < 172800)
        buf_printf(b, "%.1f h ago", seconds / 3600);
    else
        buf_printf(b, "%.0f days ago", seconds / 86400);
}

/* the document's ISO time, and how long ago */
static void when(buf *b, const char *iso, int64_t t, double wall)
{
    if (!iso || !iso[0]) {
        buf_puts(b, "<span class=\"dim\">never</span>");
        return;
    }
    buf_puts(b, "<span title=\"");
    esc(b, iso);
    buf_puts(b, "\">");
    if (t >= 0)
        age(b, wall - (double)t);
    else
        esc(b, iso);
    buf_puts(b, "</span>");
}

static const char page_style[] =
    "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#1d2330;"
    "background:#f6f7f9}"
    "h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}"
    ".meta{color:#5a6270;margin-bottom:16px}"
    "table{border-collapse:collapse;background:#fff;width:100%;box-shadow:0 1px 2px #0001}"
    "th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e3e6ea;vertical-align:top}"
    "th{background:#eef0f3;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;"
    "background:#e3e6ea}"
    ".ok{background:#d4f0dc;color:#17602c}.bad{background:#fbd9d7;color:#8f1d14}"
    ".run{background:#dbe8fb;color:#1b4f9c}.dim{color:#8a919c}"
    ".err{color:#8f1d14;font-size:12px;max-width:40em;word-break:break-word}"
    ".bar{background:#e3e6ea;border-radius:3px;height:8px;width:120px;display:inline-block;"
    "vertical-align:middle;overflow:hidden}.bar i{display:block;height:8px;background:#3b7ddd}";

static const char *badge_class(const char *st)
{
    if (!st || !st[0]) return "";
    if (!strcmp(st, "connected") || !strcmp(st, "completed") || !strcmp(st, "ok")) return " ok";
    if (!strcmp(st, "error") || !strcmp(st, "missing") || !strcmp(st, "unavailable")) return " bad";
    if (!strcmp(st, "in_progress") || !strcmp(st, "canceling")) return " run";
    return "";
}

static void badge(buf *b, const char *st)
{
    buf_printf(b, "<span class=\"badge%s\">", badge_class(st));
    esc(b, st && st[0] ? st : "-");
    buf_puts(b, "</span>");
}

static void page(svc_ops *o, buf *b)
{
    double now = es_now(), wall = svc_wall();
    char why[700];
    int ok = healthy(o, now, why, sizeof why);
    buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta http-equiv=\"refresh\" content=\"5\">"
                "<meta name=\"viewport\" content=\"width=device-width\">"
                "<title>sql2es serve</title><style>");
    buf_puts(b, page_style);
    buf_puts(b, "</style></head><body>\n<h1>sql2es serve</h1>\n<div class=\"meta\">");
    buf_puts(b, "version ");
    esc(b, SQL2ES_VERSION);
    buf_puts(b, " &middot; host ");
    esc(b, o->s->hostname);
    buf_puts(b, " &middot; cluster ");
    esc(b, es_client_host(o->s->es));
    buf_puts(b, " &middot; health ");
    badge(b, ok ? "ok" : "unavailable");
    if (!ok) {
        buf_puts(b, " <span class=\"err\">");
        esc(b, why);
        buf_puts(b, "</span>");
    }
    buf_printf(b, " &middot; up %.0f s</div>\n", now - o->started);

    buf_printf(b, "<h2>Connectors (%d)</h2>\n<table id=\"connectors\"><tr><th>Connector</th>"
                  "<th>Type</th><th>Index</th><th>Status</th><th>Last sync</th><th>Last seen</th>"
                  "<th>Jobs here</th><th>Indexed</th><th>Deleted</th></tr>\n",
               o->nconn);
    for (int i = 0; i < o->nconn; i++) {
        conn_state *c = &o->conn[i];
        buf_puts(b, "<tr class=\"connector\" data-id=\"");
        esc(b, c->id);
        buf_puts(b, "\"><td><b>");
        esc(b, c->id);
        buf_puts(b, "</b>");
        if (c->name[0] && strcmp(c->name, c->id) != 0) {
            buf_puts(b, "<br><span class=\"dim\">");
            esc(b, c->name);
            buf_puts(b, "</span>");
        }
        buf_puts(b, "</td><td>");
        esc(b, c->service_type);
        buf_puts(b, "</td><td>");
        esc(b, c->index);
        buf_puts(b, "</td><td>");
        badge(b, c->found ? c->status : (o->cluster_at > 0 ? "missing" : "-"));
        if (c->error[0]) {
            buf_puts(b, "<div class=\"err\">");
            esc(b, c->error);
            buf_puts(b, "</div>");
        }
        if (c->follow[0]) {
            buf_puts(b, "<div class=\"follow\">follow: ");
            esc(b, c->follow);
            if (c->follow_here && c->follow_lag >= 0) buf_printf(b, ", lag %.1f s", c->follow_lag);
            buf_puts(b, c->follow_here ? " (here)" : "");
            buf_puts(b, "</div>");
        }
        buf_puts(b, "</td><td>");
        if (c->last_sync_status[0]) {
            badge(b, c->last_sync_status);
            buf_putc(b, ' ');
        }
        when(b, c->last_synced, c->last_synced_t, wall);
        buf_puts(b, "</td><td>");
        when(b, c->last_seen, c->last_seen_t, wall);
        uint64_t ended = 0;
        for (int k = 0; k < NEND; k++) ended += c->ended[k];
        buf_printf(b, "</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
                      "</td><td class=\"n\">%" PRIu64 "</td></tr>\n",
                   ended, c->indexed, c->deleted);
    }
    buf_puts(b, "</table>\n");

    buf_printf(b, "<h2>Running jobs (%d)</h2>\n", o->nruns);
    if (!o->nruns) {
        buf_puts(b, "<p class=\"dim\" id=\"jobs\">No job is running in this process.</p>\n");
    } else {
        buf_puts(b, "<table id=\"jobs\"><tr><th>Job</th><th>Connector</th><th>Type</th>"
                    "<th>Running for</th><th>Documents</th><th>Deleted</th><th>Rows/s</th>"
                    "<th>Progress</th></tr>\n");
        for (int j = 0; j < o->nruns; j++) {
            run_state *r = &o->runs[j];
            double secs = now - r->started;
            /* progress: against the connector's last indexed count, when there was one */
            conn_state *c = find_conn(o, r->connector);
            int64_t prev = c && c->found ? c->last_indexed : 0;
            buf_puts(b, "<tr class=\"job\" data-id=\"");
            esc(b, r->job);
            buf_puts(b, "\"><td><code>");
            esc(b, r->job);
            buf_puts(b, "</code></td><td>");
            esc(b, r->connector);
            buf_puts(b, "</td><td>");
            esc(b, r->type);
            buf_printf(b, "</td><td class=\"n\">%.0f s</td><td class=\"n\">%" PRIu64
                          "</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%.0f</td><td>",
                       secs, r->docs, r->deleted, secs > 0 ? (double)r->rows / secs : 0.0);
            badge(b, r->stopping ? "stopping" : "in_progress");
            if (prev > 0 && !strcmp(r->type, "full")) {
                double f = (double)r->docs / (double)prev;
                if (f > 0.99) f = 0.99;
                buf_printf(b, " <span class=\"bar\" title=\"documents against the last sync's "
                              "%" PRId64 "\"><i style=\"width:%.0f%%\"></i></span> ~%.0f %%",
                           prev, f * 100, f * 100);
            }
            buf_puts(b, "</td></tr>\n");
        }
        buf_puts(b, "</table>\n");
    }
    buf_puts(b, "<p class=\"dim\">Refreshes every 5 s &middot; <a href=\"/metrics\">/metrics</a>"
                " &middot; <a href=\"/healthz\">/healthz</a></p>\n</body></html>\n");
}

/* ---- the server's handler ------------------------------------------------------- */

static void handle(void *ctx, const char *path, svc_http_reply *out)
{
    svc_ops *o = ctx;
    pthread_mutex_lock(&o->lock);
    if (!strcmp(path, "/metrics")) {
        out->type = "text/plain; version=0.0.4; charset=utf-8";
        metrics(o, &out->body);
    } else if (!strcmp(path, "/healthz")) {
        healthz(o, out);
    } else if (!strcmp(path, "/") || !strcmp(path, "/index.html")) {
        out->type = "text/html; charset=utf-8";
        page(o, &out->body);
    } else {
        out->status = 404;
        buf_puts(&out->body, "not found: try /, /metrics or /healthz\n");
    }
    pthread_mutex_unlock(&o->lock);
}

svc_ops *svc_ops_start(svc_ctx *s, const char *listen, int *rc, diag *d)
{
    svc_ops *o = calloc(1, sizeof *o);
    int n = s->base->nconnectors;
    if (!o || !(o->conn = calloc((size_t)n + 1, sizeof *o->conn))) {
        free(o);
        *rc = 1;
        diag_error(d, NOLOC, "out of memory");
        return NULL;
    }
    o->s = s;
    o->nconn = n;
    o->started = es_now();
    for (int i = 0; i < n; i++) {
        conn_state *c = &o->conn[i];
        copy(c->id, sizeof c->id, s->base->connectors[i].id);
        copy(c->service_type, sizeof c->service_type, s->base->connectors[i].service_type);
        c->last_synced_t = c->last_seen_t = -1;
        c->last_rate = -1;
        for (int k = 0; k < NSTATUS; k++) c->jobs[k] = -1;
    }
    pthread_mutex_init(&o->lock, NULL);
    o->http = svc_http_start(listen, handle, o, rc, d);
    if (!o->http) {
        pthread_mutex_destroy(&o->lock);
        free(o->conn);
        free(o);
        return NULL;
    }
    svc_log(s, "INFO", NULL, NULL, "status page on http://%s/ (metrics on /metrics, health on /healthz)",
            svc_http_address(o->http));
    return o;
}

void svc_ops_stop(svc_ops *o)
{
    if (!o) return;
    svc_http_stop(o->http);
    pthread_mutex_destroy(&o->lock);
    free(o->conn);
    free(o);
}
