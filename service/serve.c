/* serve.c - `sql2es serve`: the connector service loop (protocol.md 2.1-2.4).
 *
 * Stage: top of the service layer. On start: wait for the cluster, make sure
 * the two indices exist, prepare each connector of config.yml (document
 * created when missing, schema, features, last_seen). Then, in one thread:
 *   - every `poll` seconds (0.5 by default) a cheap search for pending or
 *     suspended content jobs of the handled connectors, oldest first, paged
 *     with search_after;
 *   - a job is claimed only after a fresh read shows it pending/suspended:
 *     first the connector's `last_sync_status` lock (conditional update,
 *     compatible with the Python service), then the job itself, conditional
 *     on the sequence number of that read;
 *   - the job's plan (connector document over config.yml, compiled) runs in a
 *     child process through eng_sync_run, at most
 *     `max_concurrent_content_syncs` at once; its stderr comes back through a
 *     pipe (progress lines give the running counts, the last line the final
 *     statistics);
 *   - the job is re-read every second: `canceling` stops the child (SIGTERM:
 *     the run stops reading and settles what it sent; SIGKILL after 2 s) ->
 *     canceled; a job another instance took over is left to it (nothing
 *     more is written);
 *   - counts, indexed_document_volume and last_seen every 5 s, and the
 *     run's acknowledged position (metadata.sql2es.position: finished
 *     tables, the current table's last acknowledged key, watermarks) when
 *     it moved, at most every second; conditional on the job as last read;
 *   - at the end: completed/error/canceled with the counts, total_document_count
 *     after a refresh, and the connector's last_* fields and, after a
 *     completed job, its sync_cursor (the watermarks);
 *   - SIGTERM/SIGINT: running jobs are stopped and marked suspended; a
 *     suspended job goes on from its recorded position;
 *   - failover: an in_progress (or canceling) job of a handled connector
 *     whose last_seen is older than `service.job_takeover_after` (the
 *     cluster's clock) is taken over after a fresh read, with a conditional
 *     update: it goes on from its recorded position (a canceling one
 *     becomes canceled).
 * Heartbeat (last_seen, schema) every `service.heartbeat` seconds; every
 * `service.idling` seconds a configured connector's configuration is
 * compiled and its database reached: status connected or error.
 * Scheduled jobs: service/schedule.c, checked every turn of the loop.
 * Draft sync rules are validated (service/filtering.c) at start and every
 * `service.idling` seconds. The follow of serve_follow connectors:
 * service/follower.c, tended every turn. Not here: idle-job cleanup.
 */
#include "service/ops.h"
#include "service/service.h"
#include "service/svc.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sync/check_source.h"
#include "sync/sync.h"

#define NOLOC ((src_loc){NULL, 0, 0})
#define MAX_RUNS 64
#define MAX_TABLES 256
#define STATS_EVERY 5.0
#define CHECK_EVERY 1.0
#define KILL_GRACE 2.0
#define SUSPEND_GRACE 20.0
#define STATS_TAG "sql2es-job-stats "
#define POS_TAG "sql2es-job-position "
#define POS_EVERY 1.0      /* seconds between writes of a moving position */
#define TAKEOVER_EVERY 2.0 /* seconds between searches for stale jobs */
#define MIB (1024.0 * 1024.0)

typedef struct table_count {
    char label[160];
    uint64_t docs, rows;
} table_count;

typedef struct run {
    int used;
    char job[128], connector[256], index[256], job_type[16];
    pid_t pid;
    int fd;
    char line[8192];
    size_t linelen;
    char error[1024];
    table_count *tables;
    int ntables;
    int final_seen;
    uint64_t rows, docs, indexed, deletes, swept, failed, retried, bytes;
    uint64_t base_docs, base_deleted; /* counts of the job's earlier runs (resumed) */
    int cancel, suspend, lost;
    int taken;                    /* another instance took the job over: write nothing */
    char token[320];              /* this claim's metadata.sql2es.worker */
    int64_t seq_no, primary_term; /* the job as last read */
    int have_seq;
    char *position;               /* the child's last acknowledged position (JSON) */
    int position_new;             /* not yet written to the job */
    double kill_at, last_stats, last_check, last_pos, started;
} run;

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

typedef struct server {
    svc_ctx s;
    svc_sched *sched; /* per connector of the plan */
    run runs[MAX_RUNS];
    int max_runs;
    double poll;
    svc_ops *ops; /* --listen: metrics, health, status page (service/ops.c) */
    double takeover_after; /* seconds: a job's last_seen older than this is stale */
    double report_every;   /* seconds between a running job's last_seen writes */
    unsigned claims;       /* tokens made */
    svc_follower *follow;  /* serve_follow connectors (follower.c), NULL none */
} server;

static int running(const server *sv)
{
    int n = 0;
    for (int i = 0; i < MAX_RUNS; i++) n += sv->runs[i].used;
    return n;
}

static const run *run_of_connector(const server *sv, const char *id)
{
    for (int i = 0; i < MAX_RUNS; i++)
        if (sv->runs[i].used && !strcmp(sv->runs[i].connector, id)) return &sv->runs[i];
    return NULL;
}

static const plan_connector *handled(const server *sv, const char *id)
{
    for (int i = 0; id && i < sv->s.base->nconnectors; i++)
        if (!strcmp(sv->s.base->connectors[i].id, id)) return &sv->s.base->connectors[i];
    return NULL;
}

/* All messages of d joined ("; "), errors first, for a job's `error`. */
static void diag_text(const diag *d, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < diag_count(d) && o + 4 < cap; i++) {
        const diag_msg *m = diag_get(d, i);
        if (m->level != DIAG_ERROR) continue;
        int n;
        if (m->loc.file && m->loc.line > 0)
            n = snprintf(out + o, cap - o, "%s%s:%d:%d: %s", o ? "; " : "", m->loc.file, m->loc.line,
                         m->loc.col, m->text);
        else if (m->loc.file)
            n = snprintf(out + o, cap - o, "%s%s: %s", o ? "; " : "", m->loc.file, m->text);
        else
            n = snprintf(out + o, cap - o, "%s%s", o ? "; " : "", m->text);
        if (n < 0) break;
        o += (size_t)n;
        if (o >= cap) o = cap - 1;
    }
    if (!out[0]) snprintf(out, cap, "%s", diag_last(d) ? diag_last(d) : "unknown error");
}

/* ---- writes at the end of a job (protocol.md 2.4 steps 7-8) --------------- */

/* indexed_document_volume: MiB, rounded as the Python sink rounds. */
static uint64_t volume_mib(uint64_t bytes) { return (uint64_t)((double)bytes / MIB + 0.5); }

/* `"metadata":{"sql2es":{"position":...}}` when the run reported one. */
static void put_position(buf *b, const run *r)
{
    if (!r->position) return;
    buf_puts(b, ",\"metadata\":{\"sql2es\":{\"position\":");
    buf_puts(b, r->position);
    buf_puts(b, "}}");
}

/* Update the job with doc, conditional on the job as read just before; a
 * job another instance took over (its worker token is not ours) is left
 * alone (r->taken). 0 written, 1 taken, <0 error. */
static int job_update(server *sv, run *r, const char *doc, const char *refresh, diag *d)
{
    svc_ctx *s = &sv->s;
    int rc = DIAG_EIO;
    for (int attempt = 0; attempt < 5; attempt++) {
        svc_doc cur;
        int g = svc_doc_get(s, SVC_JOBS, r->job, &cur, d);
        if (g == 0) return DIAG_ENOTFOUND;
        if (g < 0) /* the cluster answers no read: write anyway */
            return es_doc_update(s->es, SVC_JOBS, r->job, doc, -1, -1, refresh, d);
        const char *tok = svc_str(cur.src, "metadata.sql2es.worker");
        int taken = r->token[0] && tok && strcmp(tok, r->token) != 0;
        int64_t seq = cur.seq_no, term = cur.primary_term;
        svc_doc_free(&cur);
        if (taken) {
            r->taken = 1;
            return 1;
        }
        rc = es_doc_update(s->es, SVC_JOBS, r->job, doc, seq, term, refresh, d);
        if (rc != 1) return rc;
    }
    return rc;
}

/* The watermarks of the run's position, as the connector's sync_cursor. */
static void put_cursor(buf *b, const run *r)
{
    if (!r->position) return;
    arena *a = arena_new();
    json *root = NULL;
    if (json_parse(a, r->position, strlen(r->position), &root)) {
        const json *w = svc_get(root, "watermarks");
        if (w && w->kind == JSON_OBJECT) {
            buf_puts(b, ",\"sync_cursor\":{\"watermarks\":");
            svc_put_raw(b, w);
            buf_putc(b, '}');
        }
    }
    arena_free(a);
}

static void run_free(run *r)
{
    free(r->tables);
    free(r->position);
    if (r->fd >= 0) close(r->fd);
    memset(r, 0, sizeof *r);
    r->fd = -1;
}

static void finish(server *sv, run *r, const char *status, const char *error)
{
    svc_ctx *s = &sv->s;
    diag *d = diag_new();
    char now[64];
    svc_iso_now(now, sizeof now);
    int64_t total = -1;
    if (r->taken) {
        svc_log(s, "WARN", r->connector, r->job, "the job was taken over by another instance: left to it");
        diag_free(d);
        run_free(r);
        return;
    }
    if (r->index[0] && strcmp(status, "suspended") != 0) {
        if (es_refresh(s->es, r->index, d) == 0) es_count(s->es, r->index, NULL, &total, d);
        diag_clear(d);
    }
    uint64_t indexed = r->base_docs + (r->final_seen ? r->indexed : r->docs);
    uint64_t deleted = r->base_deleted + r->deletes + r->swept;
    buf b = BUF_INIT;
    buf_putc(&b, '{');
    svc_put_kv_str(&b, "last_seen", now);
    buf_putc(&b, ',');
    svc_put_kv_str(&b, "status", status);
    buf_putc(&b, ',');
    svc_put_kv_str(&b, "error", error);
    if (!strcmp(status, "completed") || !strcmp(status, "error") || !strcmp(status, "canceled")) {
        buf_putc(&b, ',');
        svc_put_kv_str(&b, "completed_at", now);
    }
    if (!strcmp(status, "canceled")) {
        buf_putc(&b, ',');
        svc_put_kv_str(&b, "canceled_at", now);
    }
    buf_printf(&b, ",\"indexed_document_count\":%" PRIu64 ",\"indexed_document_volume\":%" PRIu64
                   ",\"deleted_document_count\":%" PRIu64,
               indexed, volume_mib(r->bytes), deleted);
    if (total >= 0) buf_printf(&b, ",\"total_document_count\":%" PRId64, total);
    put_position(&b, r);
    buf_putc(&b, '}');
    int rc = b.failed ? DIAG_ENOMEM : job_update(sv, r, b.data, ES_REFRESH_NOW, d);
    if (rc == 1) {
        buf_free(&b);
        diag_free(d);
        finish(sv, r, status, error); /* taken: nothing more is written */
        return;
    }
    if (rc != 0)
        svc_log(s, "ERROR", r->connector, r->job, "cannot record the job's end: %s", diag_last(d));
    diag_clear(d);
    buf_reset(&b);
    /* the connector (sync_done) */
    buf_putc(&b, '{');
    svc_put_kv_str(&b, "last_synced", now);
    buf_putc(&b, ',');
    svc_put_kv_str(&b, "status", !strcmp(status, "error") ? "error" : "connected");
    buf_putc(&b, ',');
    svc_put_kv_str(&b, "error", !strcmp(status, "error") ? error : NULL);
    buf_putc(&b, ',');
    svc_put_kv_str(&b, "last_sync_status", status);
    buf_putc(&b, ',');
    svc_put_kv_str(&b, "last_sync_error", error);
    buf_printf(&b, ",\"last_indexed_document_count\":%" PRIu64 ",\"last_deleted_document_count\":%" PRIu64,
               indexed, deleted);
    if (!strcmp(status, "completed")) put_cursor(&b, r);
    buf_putc(&b, '}');
    if (!b.failed && es_doc_update(s->es, SVC_CONNECTORS, r->connector, b.data, -1, -1, ES_REFRESH_NOW, d) != 0)
        svc_log(s, "ERROR", r->connector, r->job, "cannot record the sync on the connector: %s", diag_last(d));
    buf_free(&b);
    diag_free(d);
    svc_ops_job_end(sv->ops, r->connector, status, r->rows, indexed, deleted, r->retried,
                    es_now() - r->started);
    if (error)
        svc_log(s, "INFO", r->connector, r->job, "job %s: %s", status, error);
    else
        svc_log(s, "INFO", r->connector, r->job,
                "job %s: %" PRIu64 " indexed, %" PRIu64 " deleted, %" PRId64 " documents in %s", status,
                indexed, deleted, total, r->index);
    run_free(r);
}

/* ---- the child's output ------------------------------------------------------- */

static void table_docs(run *r, const char *label, size_t llen, uint64_t docs, uint64_t rows)
{
    for (int i = 0; i < r->ntables; i++)
        if (strlen(r->tables[i].label) == llen && !memcmp(r->tables[i].label, label, llen)) {
            r->docs += docs - r->tables[i].docs;
            r->tables[i].docs = docs;
            r->rows += rows - r->tables[i].rows;
            r->tables[i].rows = rows;
            return;
        }
    if (r->ntables >= MAX_TABLES) return;
    if (!r->tables && !(r->tables = calloc(MAX_TABLES, sizeof *r->tables))) return;
    table_count *t = &r->tables[r->ntables++];
    snprintf(t->label, sizeof t->label, "%.*s", (int)llen, label);
    t->docs = docs;
    t->rows = rows;
    r->docs += docs;
    r->rows += rows;
}

static void child_line(server *sv, run *r, const char *l)
{
    if (!strncmp(l, STATS_TAG, strlen(STATS_TAG))) {
        unsigned long long v[6];
        if (sscanf(l + strlen(STATS_TAG),
                   "rows=%llu docs=%llu indexed=%llu deletes=%llu swept=%llu failed=%llu",
                   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) == 6) {
            r->rows = v[0];
            r->docs = v[1];
            r->indexed = v[2];
            r->deletes = v[3];
            r->swept = v[4];
            r->failed = v[5];
            r->final_seen = 1;
        }
        unsigned long long retried, bytes;
        const char *rt = strstr(l, " retried=");
        if (rt && sscanf(rt, " retried=%llu", &retried) == 1) r->retried = retried;
        const char *bt = strstr(l, " bytes=");
        if (bt && sscanf(bt, " bytes=%llu", &bytes) == 1) r->bytes = bytes;
        return;
    }
    if (!strncmp(l, POS_TAG, strlen(POS_TAG))) {
        /* the acknowledged position: written to the job at the next report */
        const char *j = l + strlen(POS_TAG);
        if (json_parse(NULL, j, strlen(j), NULL)) {
            char *copy = strdup(j);
            if (copy) {
                free(r->position);
                r->position = copy;
                r->position_new = 1;
                const char *bytes = strstr(j, "\"bytes\":");
                if (bytes) r->bytes = strtoull(bytes + 8, NULL, 10);
            }
        }
        return;
    }
    /* progress: "LABEL: N rows, M documents, R rows/s" */
    for (const char *p = strstr(l, ": "); p; p = strstr(p + 1, ": ")) {
        unsigned long long rows, docs;
        if (sscanf(p + 2, "%llu rows, %llu documents", &rows, &docs) == 2) {
            table_docs(r, l, (size_t)(p - l), docs, rows);
            return;
        }
    }
    const char *e = strstr(l, "error: ");
    if (e && !r->error[0]) /* "error: msg" or "where: error: msg" */
        snprintf(r->error, sizeof r->error, "%.1000s", e == l ? l + strlen("error: ") : l);
    svc_log(&sv->s, e ? "ERROR" : "INFO", r->connector, r->job, "%s", l);
}

struct line_to { server *sv; run *r; };
static void line_to_run(void *arg, const char *l)
{
    struct line_to *t = arg;
    child_line(t->sv, t->r, l);
}

static void drain(server *sv, run *r)
{
    struct line_to t = {sv, r};
    svc_drain_lines(&r->fd, r->line, sizeof r->line, &r->linelen, line_to_run, &t);
}

/* ---- claim and start --------------------------------------------------------- */

static int is_status(const char *st, const char *a, const char *b)
{
    return st && (!strcmp(st, a) || (b && !strcmp(st, b)));
}

/* The child: one sync run, its messages on the pipe, the totals last.
 * SIGTERM asks the run to stop reading and settle what it sent (the
 * watermark of what was acknowledged is kept); the parent's SIGKILL ends
 * it when that takes too long. */
static void on_position(void *ctx, const char *json_text)
{
    (void)ctx;
    /* a position longer than the parent's line is not recorded (the job
     * would go on from an earlier one) */
    if (strlen(json_text) < 7000) {
        fprintf(stderr, POS_TAG "%s\n", json_text);
        fflush(stderr);
    }
}

static void child_main(const plan *p, const char *connector, int full, const char *resume,
                       const char *cursor)
{
    eng_sync_opts o;
    memset(&o, 0, sizeof o);
    o.connector = connector;
    o.mode = full ? ENG_MODE_FULL : ENG_MODE_INCREMENTAL;
    o.lock_wait = 60; /* a `sync` of the same connector running beside the service */
    o.stop = &svc_child_stop;
    /* the watermarks and the position live in the cluster's documents */
    o.cursor_json = cursor ? cursor : "{}";
    o.resume_json = resume;
    o.on_position = on_position;
    eng_sync_stats st;
    memset(&st, 0, sizeof st);
    diag *d = diag_new();
    int rc = eng_sync_run(p, &o, &st, d);
    diag_print(d, stderr, 0);
    fprintf(stderr, STATS_TAG "rows=%" PRIu64 " docs=%" PRIu64 " indexed=%" PRIu64 " deletes=%" PRIu64
                              " swept=%" PRIu64 " failed=%" PRIu64 " retried=%" PRIu64
                              " bytes=%" PRIu64 "\n",
            st.rows, st.docs, st.indexed, st.deletes, st.swept, st.failed, st.retried, st.bytes);
    fflush(stderr);
    _exit(rc);
}

static void start_child(server *sv, run *r, plan *p, const char *resume, const char *cursor)
{
    int fd = -1;
    pid_t pid = svc_spawn(&fd);
    if (pid < 0) {
        char why[160];
        snprintf(why, sizeof why, "cannot start the sync process: %s", strerror(errno));
        finish(sv, r, "error", why);
        return;
    }
    if (pid == 0) child_main(p, r->connector, !strcmp(r->job_type, "full"), resume, cursor);
    r->pid = pid;
    r->fd = fd;
    r->last_stats = r->last_check = es_now();
}

/* A token naming this claim (host, process, count): written to the job as
 * metadata.sql2es.worker, so that the instance sees when another one took
 * the job over. */
static void make_token(server *sv, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%ld/%u/%.0f", sv->s.hostname, (long)getpid(), ++sv->claims, svc_wall() * 1000);
}

/* `"metadata":{"sql2es":{"worker":TOKEN}}` (merged into the job's metadata:
 * a recorded position stays). */
/* The fields that make a job this instance's: last_seen now, the host, and a
 * fresh worker token (written to tok) in metadata.sql2es.worker. */
static void put_owner(server *sv, buf *b, const char *now, char *tok, size_t toksz)
{
    make_token(sv, tok, toksz);
    svc_put_kv_str(b, "last_seen", now);
    buf_putc(b, ',');
    svc_put_kv_str(b, "worker_hostname", sv->s.hostname);
    buf_puts(b, ",\"metadata\":{\"sql2es\":{");
    svc_put_kv_str(b, "worker", tok);
    buf_puts(b, "}}");
}

/* The raw JSON of a value, or NULL when absent, null or not an object. */
static char *object_text(const json *v)
{
    if (!v || v->kind != JSON_OBJECT) return NULL;
    char *t = malloc(v->rawlen + 1);
    if (!t) return NULL;
    memcpy(t, v->raw, v->rawlen);
    t[v->rawlen] = '\0';
    return t;
}

/* After a claim (or a takeover): the run's slot, the merged plan, the child.
 * job/conn: the documents as read before the claim. */
static void launch(server *sv, const char *job_id, const char *cid, const char *type,
                   const char *token, const svc_doc *job, const svc_doc *conn)
{
    svc_ctx *s = &sv->s;
    run *r = NULL;
    for (int i = 0; i < MAX_RUNS && !r; i++)
        if (!sv->runs[i].used) r = &sv->runs[i];
    if (!r) return; /* callers checked running() < max_runs */
    memset(r, 0, sizeof *r);
    r->used = 1;
    r->fd = -1;
    snprintf(r->job, sizeof r->job, "%s", job_id);
    snprintf(r->connector, sizeof r->connector, "%s", cid);
    snprintf(r->job_type, sizeof r->job_type, "%s", type);
    snprintf(r->token, sizeof r->token, "%s", token);
    r->started = es_now();
    /* an earlier run's position: the job goes on from there, counting on */
    char *resume = object_text(svc_path(job->src, "metadata.sql2es.position"));
    char *cursor = object_text(svc_get(conn->src, "sync_cursor"));
    if (resume) {
        r->position = strdup(resume);
        r->base_docs = (uint64_t)svc_int(job->src, "indexed_document_count", 0);
        r->base_deleted = (uint64_t)svc_int(job->src, "deleted_document_count", 0);
        const char *bytes = strstr(resume, "\"bytes\":");
        if (bytes) r->bytes = strtoull(bytes + 8, NULL, 10);
        svc_log(s, "INFO", cid, job_id, "going on from the recorded position %s", resume);
    }
    diag *cd = diag_new();
    plan *p = svc_merged_plan(s, cid, conn->src, svc_get(job->src, "connector"), cd);
    if (!p) {
        char msg[1024];
        diag_text(cd, msg, sizeof msg);
        finish(sv, r, "error", msg);
    } else {
        if (p->nconnectors > 0 && p->connectors[0].index_name)
            snprintf(r->index, sizeof r->index, "%s", p->connectors[0].index_name);
        start_child(sv, r, p, resume, cursor);
        plan_free(p);
    }
    diag_free(cd);
    free(resume);
    free(cursor);
}

/* Returns 1 when the job was claimed (and started or failed), 0 skipped. */
static int try_claim(server *sv, const char *job_id)
{
    svc_ctx *s = &sv->s;
    diag *d = diag_new();
    svc_doc job = {0}, conn = {0};
    int claimed = 0;
    const char *st = NULL, *cid = NULL, *type = NULL, *lss = NULL;
    int rc = svc_doc_get(s, SVC_JOBS, job_id, &job, d);
    if (rc <= 0) goto out;
    st = svc_str(job.src, "status");
    cid = svc_str(job.src, "connector.id");
    type = svc_str(job.src, "job_type");
    if (!is_status(st, "pending", "suspended") || !handled(sv, cid) || run_of_connector(sv, cid))
        goto out;
    if (!is_status(type, "full", "incremental")) goto out;
    rc = svc_doc_get(s, SVC_CONNECTORS, cid, &conn, d);
    if (rc <= 0) goto out;
    lss = svc_str(conn.src, "last_sync_status");
    if (lss && !strcmp(lss, "in_progress")) goto out; /* another instance runs one */
    /* the lock (sync_starts), then the claim, both conditional */
    rc = es_doc_update(s->es, SVC_CONNECTORS, cid,
                       "{\"status\":\"connected\",\"error\":null,\"last_sync_status\":\"in_progress\","
                       "\"last_sync_error\":null}",
                       conn.seq_no, conn.primary_term, ES_REFRESH_NONE, d);
    if (rc != 0) goto out;
    char now[64], token[320];
    svc_iso_now(now, sizeof now);
    buf b = BUF_INIT;
    buf_puts(&b, "{\"status\":\"in_progress\",\"error\":null,");
    svc_put_kv_str(&b, "started_at", now);
    buf_putc(&b, ',');
    put_owner(sv, &b, now, token, sizeof token);
    buf_putc(&b, '}');
    rc = b.failed ? DIAG_ENOMEM
                  : es_doc_update(s->es, SVC_JOBS, job_id, b.data, job.seq_no, job.primary_term,
                                  ES_REFRESH_NONE, d);
    buf_free(&b);
    if (rc != 0) {
        /* lost the job to someone else: give the lock back */
        buf u = BUF_INIT;
        buf_putc(&u, '{');
        svc_put_kv_str(&u, "last_sync_status", lss);
        buf_putc(&u, '}');
        es_doc_update(s->es, SVC_CONNECTORS, cid, u.data, -1, -1, ES_REFRESH_NOW, d);
        buf_free(&u);
        goto out;
    }
    claimed = 1;
    svc_log(s, "INFO", cid, job_id, "%s job claimed (%s)", type, st);
    launch(sv, job_id, cid, type, token, &job, &conn);
out:
    if (diag_count(d) && !claimed) svc_log(s, "WARN", cid, job_id, "%s", diag_last(d));
    svc_doc_free(&job);
    svc_doc_free(&conn);
    diag_free(d);
    return claimed;
}

/* Take over job_id, found stale with last_seen `seen`: a fresh read must
 * show it in_progress or canceling with that same last_seen, then a
 * conditional update makes it this instance's (two instances never both
 * take it). The connector's last_sync_status stays (or becomes) in_progress:
 * the lock goes with the job. A canceling job is then canceled; an
 * in_progress one goes on from its recorded position. */
static void take_over(server *sv, const char *job_id, const char *seen)
{
    svc_ctx *s = &sv->s;
    diag *d = diag_new();
    svc_doc job = {0}, conn = {0};
    const char *st = NULL, *cid = NULL, *type = NULL;
    int rc = svc_doc_get(s, SVC_JOBS, job_id, &job, d);
    if (rc <= 0) goto out;
    st = svc_str(job.src, "status");
    cid = svc_str(job.src, "connector.id");
    type = svc_str(job.src, "job_type");
    const char *ls = svc_str(job.src, "last_seen");
    if (!is_status(st, "in_progress", "canceling") || !is_status(type, "full", "incremental") ||
        !handled(sv, cid) || run_of_connector(sv, cid) || !ls || !seen || strcmp(ls, seen) != 0)
        goto out; /* finished, refreshed meanwhile, or not ours to take */
    char now[64], token[320];
    svc_iso_now(now, sizeof now);
    buf b = BUF_INIT;
    buf_putc(&b, '{');
    put_owner(sv, &b, now, token, sizeof token);
    buf_putc(&b, '}');
    rc = b.failed ? DIAG_ENOMEM
                  : es_doc_update(s->es, SVC_JOBS, job_id, b.data, job.seq_no, job.primary_term,
                                  ES_REFRESH_NOW, d);
    buf_free(&b);
    if (rc != 0) goto out; /* another instance was first, or the owner woke up */
    svc_log(s, "WARN", cid, job_id, "%s job taken over: %s since %s", type, st, seen);
    /* the lock: already in_progress for the job; set again if someone moved it */
    for (int i = 0; i < 3; i++) {
        svc_doc_free(&conn);
        if (svc_doc_get(s, SVC_CONNECTORS, cid, &conn, d) != 1) break;
        const char *lss = svc_str(conn.src, "last_sync_status");
        if (lss && !strcmp(lss, "in_progress")) break;
        if (es_doc_update(s->es, SVC_CONNECTORS, cid,
                          "{\"last_sync_status\":\"in_progress\",\"last_sync_error\":null}",
                          conn.seq_no, conn.primary_term, ES_REFRESH_NONE, d) != 1)
            break;
    }
    if (!conn.src) goto out;
    if (!strcmp(st, "canceling")) {
        /* a stale cancel: canceled, with what the run reported */
        run tmp;
        memset(&tmp, 0, sizeof tmp);
        tmp.fd = -1;
        snprintf(tmp.job, sizeof tmp.job, "%s", job_id);
        snprintf(tmp.connector, sizeof tmp.connector, "%s", cid);
        snprintf(tmp.token, sizeof tmp.token, "%s", token);
        tmp.base_docs = (uint64_t)svc_int(job.src, "indexed_document_count", 0);
        tmp.base_deleted = (uint64_t)svc_int(job.src, "deleted_document_count", 0);
        finish(sv, &tmp, "canceled", NULL);
    } else {
        launch(sv, job_id, cid, type, token, &job, &conn);
    }
out:
    if (diag_count(d)) svc_log(s, "WARN", cid, job_id, "taking over: %s", diag_last(d));
    svc_doc_free(&job);
    svc_doc_free(&conn);
    diag_free(d);
}

/* The handled connectors with no job running here, as a JSON list's items
 * (for a terms query); returns how many. */
static int put_idle_connectors(server *sv, buf *q)
{
    int n = 0;
    for (int i = 0; i < sv->s.base->nconnectors; i++) {
        const char *id = sv->s.base->connectors[i].id;
        if (run_of_connector(sv, id)) continue;
        if (n++) buf_putc(q, ',');
        buf_json_str(q, id, strlen(id), NULL);
    }
    return n;
}

/* In_progress and canceling content jobs of the handled connectors that no
 * instance refreshed for service.job_takeover_after seconds (the cluster's
 * clock), oldest first. */
static void find_stale(server *sv)
{
    svc_ctx *s = &sv->s;
    diag *d = diag_new();
    buf q = BUF_INIT;
    buf_puts(&q, "{\"size\":20,\"_source\":[\"last_seen\"],"
                 "\"sort\":[{\"created_at\":{\"order\":\"asc\"}}],"
                 "\"query\":{\"bool\":{\"filter\":[{\"terms\":{\"status\":[\"in_progress\",\"canceling\"]}},"
                 "{\"terms\":{\"job_type\":[\"full\",\"incremental\"]}},");
    buf_printf(&q, "{\"range\":{\"last_seen\":{\"lt\":\"now-%.0fs\"}}},{\"terms\":{\"connector.id\":[",
               sv->takeover_after < 1 ? 1 : sv->takeover_after + 0.499);
    int n = put_idle_connectors(sv, &q);
    buf_puts(&q, "]}}]}}}");
    es_response r;
    if (n && !q.failed && es_search(s->es, SVC_JOBS, q.data, &r, d) == 0) {
        svc_doc res;
        if (svc_doc_parse(&res, r.body, r.len, d) == 0) {
            const json *hh = svc_path(res.root, "hits.hits");
            for (const json *h = hh ? hh->child : NULL; h && running(sv) < sv->max_runs; h = h->next) {
                const char *id = svc_str(h, "_id");
                if (id) take_over(sv, id, svc_str(h, "_source.last_seen"));
            }
        }
        svc_doc_free(&res);
        es_response_free(&r);
    }
    buf_free(&q);
    diag_free(d);
}

/* Pending and suspended content jobs of the handled connectors, oldest first. */
static void poll_jobs(server *sv)
{
    svc_ctx *s = &sv->s;
    diag *d = diag_new();
    buf q = BUF_INIT;
    char after[256] = "";
    for (int page = 0; page < 20 && running(sv) < sv->max_runs; page++) {
        buf_reset(&q);
        buf_puts(&q, "{\"size\":50,\"_source\":[\"connector.id\"],"
                     "\"sort\":[{\"created_at\":{\"order\":\"asc\"}},{\"_seq_no\":{\"order\":\"asc\"}}],");
        if (after[0]) buf_printf(&q, "\"search_after\":%s,", after);
        buf_puts(&q, "\"query\":{\"bool\":{\"filter\":[{\"terms\":{\"status\":[\"pending\",\"suspended\"]}},"
                     "{\"terms\":{\"job_type\":[\"full\",\"incremental\"]}},{\"terms\":{\"connector.id\":[");
        int n = put_idle_connectors(sv, &q);
        buf_puts(&q, "]}}]}}}");
        if (!n) break;
        es_response r;
        if (es_search(s->es, SVC_JOBS, q.data, &r, d) != 0) {
            svc_log(s, "WARN", NULL, NULL, "looking for pending jobs: %s", diag_last(d));
            break;
        }
        svc_doc res;
        int hits = 0;
        if (svc_doc_parse(&res, r.body, r.len, d) == 0) {
            const json *hh = svc_path(res.root, "hits.hits");
            for (const json *h = hh ? hh->child : NULL; h; h = h->next) {
                hits++;
                const char *id = svc_str(h, "_id");
                const char *cid = svc_str(h, "_source.connector.id");
                const json *sort = svc_get(h, "sort");
                if (sort && sort->rawlen < sizeof after) {
                    memcpy(after, sort->raw, sort->rawlen);
                    after[sort->rawlen] = '\0';
                }
                if (!id || !cid || run_of_connector(sv, cid)) continue;
                if (running(sv) >= sv->max_runs) break;
                try_claim(sv, id);
            }
        }
        svc_doc_free(&res);
        es_response_free(&r);
        if (hits < 50) break;
    }
    buf_free(&q);
    diag_free(d);
}

/* ---- running jobs ---------------------------------------------------------------- */

/* Counts, volume, last_seen and the position, conditional on the job as
 * check() last read it (a job canceled or taken over meanwhile is read
 * again first). */
static void report(server *sv, run *r, double now)
{
    if (!r->have_seq || r->taken) return;
    char iso[64];
    svc_iso_now(iso, sizeof iso);
    buf b = BUF_INIT;
    buf_putc(&b, '{');
    svc_put_kv_str(&b, "last_seen", iso);
    buf_printf(&b, ",\"indexed_document_count\":%" PRIu64 ",\"indexed_document_volume\":%" PRIu64
                   ",\"deleted_document_count\":%" PRIu64,
               r->base_docs + r->docs, volume_mib(r->bytes), r->base_deleted + r->deletes + r->swept);
    if (r->position_new) put_position(&b, r);
    buf_putc(&b, '}');
    diag *d = diag_new();
    int rc = b.failed ? DIAG_ENOMEM
                      : es_doc_update(sv->s.es, SVC_JOBS, r->job, b.data, r->seq_no, r->primary_term,
                                      ES_REFRESH_NONE, d);
    r->have_seq = 0; /* the job moved on: read it again before the next write */
    if (rc == 0) {
        r->last_stats = r->last_pos = now;
        r->position_new = 0;
    } else if (rc < 0) {
        svc_log(&sv->s, "WARN", r->connector, r->job, "stats: %s", diag_last(d));
    }
    diag_free(d);
    buf_free(&b);
}

/* SIGTERM (the run settles what it sent), SIGKILL after the grace: short
 * for a cancel (stopped within 5 s), longer for a suspend (what was sent
 * gets acknowledged). */
static void stop_child(run *r, double now)
{
    if (r->kill_at > 0 || r->pid <= 0) return;
    kill(r->pid, SIGTERM);
    r->kill_at = now + (r->suspend ? SUSPEND_GRACE : KILL_GRACE);
}

/* The job as the cluster sees it: canceling stops the child. */
static void check(server *sv, run *r, double now)
{
    diag *d = diag_new();
    svc_doc job;
    int rc = svc_doc_get(&sv->s, SVC_JOBS, r->job, &job, d);
    if (rc == 1) {
        const char *st = svc_str(job.src, "status");
        const char *tok = svc_str(job.src, "metadata.sql2es.worker");
        r->seq_no = job.seq_no;
        r->primary_term = job.primary_term;
        r->have_seq = 1;
        if (tok && strcmp(tok, r->token) != 0 && !r->taken) {
            /* it looked dead to another instance, which goes on with it */
            svc_log(&sv->s, "WARN", r->connector, r->job, "the job was taken over by another instance: stopping the sync");
            r->taken = r->lost = 1;
            r->have_seq = 0;
            /* nothing to settle: the new owner sends again what follows its position */
            if (r->pid > 0) kill(r->pid, SIGKILL);
            r->kill_at = now + 3600;
        } else if (st && !strcmp(st, "canceling") && !r->cancel) {
            svc_log(&sv->s, "INFO", r->connector, r->job, "cancel requested: stopping the sync");
            r->cancel = 1;
            stop_child(r, now);
        } else if (!is_status(st, "in_progress", "canceling") && !r->lost) {
            svc_log(&sv->s, "WARN", r->connector, r->job, "the job is now '%s': stopping the sync",
                    st ? st : "?");
            r->lost = 1;
            stop_child(r, now);
        }
        svc_doc_free(&job);
    } else if (rc == 0 && !r->lost) {
        svc_log(&sv->s, "WARN", r->connector, r->job, "the job document is gone: stopping the sync");
        r->lost = 1;
        stop_child(r, now);
    }
    diag_free(d);
}

static void reap(server *sv, run *r)
{
    int status;
    pid_t w = waitpid(r->pid, &status, WNOHANG);
    if (w != r->pid) return;
    if (r->fd >= 0) drain(sv, r);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (r->suspend) {
        finish(sv, r, "suspended", NULL);
    } else if (r->cancel) {
        finish(sv, r, "canceled", NULL);
    } else if (r->lost) {
        finish(sv, r, "error", "the job was changed by someone else while running");
    } else if (code == 0) {
        finish(sv, r, "completed", NULL);
    } else {
        char msg[1200];
        if (r->error[0])
            snprintf(msg, sizeof msg, "%s", r->error);
        else if (code < 0)
            snprintf(msg, sizeof msg, "the sync process was killed (signal %d)",
                     WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        else
            snprintf(msg, sizeof msg, "the sync failed (exit %d)", code);
        finish(sv, r, "error", msg);
    }
}

static void tend(server *sv, double now)
{
    for (int i = 0; i < MAX_RUNS; i++) {
        run *r = &sv->runs[i];
        if (!r->used || r->pid <= 0) continue;
        if (r->fd >= 0) drain(sv, r);
        if (r->kill_at > 0 && now >= r->kill_at) {
            kill(r->pid, SIGKILL);
            r->kill_at = now + 3600;
        }
        reap(sv, r);
        if (!r->used) continue;
        if (now - r->last_check >= CHECK_EVERY) {
            r->last_check = now;
            check(sv, r, now);
            /* right after the read: the write is conditional on it */
            if (now - r->last_stats >= sv->report_every || (r->position_new && now - r->last_pos >= POS_EVERY))
                report(sv, r, now);
        }
    }
}

static void wait_io(server *sv, double seconds)
{
    struct pollfd fds[MAX_RUNS];
    int n = 0;
    for (int i = 0; i < MAX_RUNS; i++)
        if (sv->runs[i].used && sv->runs[i].fd >= 0) {
            fds[n].fd = sv->runs[i].fd;
            fds[n].events = POLLIN;
            n++;
        }
    int ms = (int)(seconds * 1000);
    if (ms < 1) ms = 1;
    if (n)
        poll(fds, (nfds_t)n, ms);
    else
        es_sleep(seconds);
}

/* What --listen shows: the running jobs, on every turn. */
static void publish(server *sv)
{
    if (!sv->ops) return;
    svc_ops_run rs[MAX_RUNS];
    int n = 0;
    for (int i = 0; i < MAX_RUNS; i++) {
        const run *r = &sv->runs[i];
        if (!r->used) continue;
        rs[n++] = (svc_ops_run){r->job, r->connector, r->job_type, r->rows, r->docs,
                                r->deletes + r->swept, r->started, r->cancel || r->suspend || r->lost};
    }
    svc_ops_tick(sv->ops, rs, n);
}

static void heartbeat(server *sv, int beat)
{
    for (int i = 0; i < sv->s.base->nconnectors; i++) {
        const plan_connector *pc = &sv->s.base->connectors[i];
        diag *d = diag_new();
        if (svc_connector_prepare(&sv->s, pc, beat, d) < 0)
            svc_log(&sv->s, "WARN", pc->id, NULL, "%s", diag_last(d));
        diag_free(d);
    }
}

/* The scheduler's pass (protocol.md 2.3 step 4): a configured connector's
 * merged configuration is compiled and its database reached; the status
 * becomes connected, or error with the message. Written only on a change;
 * skipped while this process runs a job of the connector (the job's end
 * writes the status) and before Kibana configured it. */
static void check_connectors(server *sv)
{
    svc_ctx *s = &sv->s;
    for (int i = 0; i < s->base->nconnectors; i++) {
        const plan_connector *pc = &s->base->connectors[i];
        if (run_of_connector(sv, pc->id)) continue;
        diag *d = diag_new();
        svc_doc doc;
        if (svc_doc_get(s, SVC_CONNECTORS, pc->id, &doc, d) != 1) {
            diag_free(d);
            continue;
        }
        const char *st = svc_str(doc.src, "status"), *err = svc_str(doc.src, "error");
        const char *lss = svc_str(doc.src, "last_sync_status");
        if (!st || !strcmp(st, "created") || !strcmp(st, "needs_configuration") ||
            (lss && !strcmp(lss, "in_progress"))) {
            svc_doc_free(&doc);
            diag_free(d);
            continue;
        }
        char msg[1024] = "";
        diag *cd = diag_new();
        plan *p = svc_merged_plan(s, pc->id, doc.src, NULL, cd);
        if (!p || eng_check_source(p, cd, NULL) != 0) diag_text(cd, msg, sizeof msg);
        plan_free(p);
        diag_free(cd);
        int bad = msg[0] != 0;
        if (bad ? (strcmp(st, "error") != 0 || !err || strcmp(err, msg) != 0)
                : (strcmp(st, "connected") != 0 || err)) {
            buf b = BUF_INIT;
            buf_putc(&b, '{');
            svc_put_kv_str(&b, "status", bad ? "error" : "connected");
            buf_putc(&b, ',');
            svc_put_kv_str(&b, "error", bad ? msg : NULL);
            buf_putc(&b, '}');
            if (es_doc_update(s->es, SVC_CONNECTORS, pc->id, b.data, doc.seq_no, doc.primary_term,
                              ES_REFRESH_NONE, d) == 0)
                svc_log(s, bad ? "WARN" : "INFO", pc->id, NULL, "status %s%s%s",
                        bad ? "error" : "connected", bad ? ": " : "", bad ? msg : "");
            buf_free(&b);
        }
        svc_doc_free(&doc);
        diag_free(d);
    }
}

int svc_serve(const svc_serve_opts *o)
{
    server *sv = calloc(1, sizeof *sv);
    if (!sv) return 1;
    for (int i = 0; i < MAX_RUNS; i++) sv->runs[i].fd = -1;
    int rc = svc_open(&sv->s, o->config, o->log_json);
    if (rc) {
        free(sv);
        return rc;
    }
    svc_ctx *s = &sv->s;
    if (o->listen) {
        diag *ld = diag_new();
        sv->ops = ld ? svc_ops_start(s, o->listen, &rc, ld) : NULL;
        if (!sv->ops) {
            svc_log(s, "ERROR", NULL, NULL, "%s", ld ? diag_last(ld) : "out of memory");
            diag_free(ld);
            svc_close(s);
            free(sv);
            return ld ? rc : 1;
        }
        diag_free(ld);
    }
    sv->poll = o->poll > 0 ? o->poll : 0.5;
    sv->max_runs = s->base->service.max_concurrent_content_syncs;
    if (sv->max_runs < 1) sv->max_runs = 1;
    if (sv->max_runs > MAX_RUNS) sv->max_runs = MAX_RUNS;
    double beat = s->base->service.heartbeat > 0 ? s->base->service.heartbeat : 300;
    sv->takeover_after = s->base->service.job_takeover_after > 0 ? s->base->service.job_takeover_after : 60;
    /* last_seen every 5 s, and at least three times within the takeover time */
    sv->report_every = sv->takeover_after / 3 < STATS_EVERY ? sv->takeover_after / 3 : STATS_EVERY;
    if (sv->report_every < CHECK_EVERY) sv->report_every = CHECK_EVERY;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    diag *d = diag_new();
    es_version v;
    svc_log(s, "INFO", NULL, NULL, "sql2es %s serve: %d connector%s, waiting for %s", SQL2ES_VERSION,
            s->base->nconnectors, s->base->nconnectors == 1 ? "" : "s", es_client_host(s->es));
    rc = es_wait_ready(s->es, &v, d);
    if (rc == 0) rc = svc_ensure_indices(s, d);
    if (rc) {
        svc_log(s, "ERROR", NULL, NULL, "%s", diag_last(d));
        diag_free(d);
        svc_ops_stop(sv->ops);
        svc_close(s);
        free(sv);
        return 1;
    }
    diag_free(d);
    svc_log(s, "INFO", NULL, NULL, "%s %s ready; handling:%s", v.opensearch ? "OpenSearch" : "Elasticsearch",
            v.number, s->base->nconnectors ? "" : " nothing");
    for (int i = 0; i < s->base->nconnectors; i++)
        svc_log(s, "INFO", s->base->connectors[i].id, NULL, "service_type %s",
                s->base->connectors[i].service_type);
    heartbeat(sv, 1);
    svc_filtering_pass(s);
    check_connectors(sv);
    sv->sched = calloc((size_t)(s->base->nconnectors + 1), sizeof *sv->sched);
    if (!sv->sched) {
        svc_ops_stop(sv->ops);
        svc_close(s);
        free(sv);
        return 1;
    }
    for (int i = 0; i < s->base->nconnectors; i++)
        svc_schedule_load(s, s->base->connectors[i].id, &sv->sched[i], (int64_t)svc_wall());
    double idling = s->base->service.idling > 0 ? s->base->service.idling : 30;
    double next_beat = es_now() + beat, next_poll = 0, next_check = es_now() + idling;
    double next_takeover = 0;
    sv->follow = svc_follow_new(s, sv->ops, sv->takeover_after, sv->report_every);
    while (!stop_flag) {
        double now = es_now();
        if (now >= next_beat) {
            heartbeat(sv, 1);
            next_beat = now + beat;
        }
        if (now >= next_check) {
            svc_filtering_pass(s);
            check_connectors(sv);
            for (int i = 0; i < s->base->nconnectors; i++)
                svc_schedule_load(s, s->base->connectors[i].id, &sv->sched[i], (int64_t)svc_wall());
            next_check = es_now() + idling;
        }
        for (int i = 0; i < s->base->nconnectors; i++)
            svc_schedule_fire(s, s->base->connectors[i].id, &sv->sched[i], (int64_t)svc_wall());
        if (now >= next_poll && running(sv) < sv->max_runs) {
            poll_jobs(sv);
            next_poll = es_now() + sv->poll;
        }
        if (now >= next_takeover) {
            find_stale(sv);
            next_takeover = es_now() + TAKEOVER_EVERY;
        }
        tend(sv, es_now());
        svc_follow_tend(sv->follow, es_now());
        publish(sv);
        double wait = next_poll - es_now();
        if (wait > 0.2 || running(sv) >= sv->max_runs) wait = 0.2;
        if (wait > 0 && !stop_flag) wait_io(sv, wait);
    }
    /* SIGTERM/SIGINT: suspend what runs (protocol.md 2.4 step 5) */
    svc_log(s, "INFO", NULL, NULL, "stopping: %d running job%s suspended", running(sv),
            running(sv) == 1 ? "" : "s");
    for (int i = 0; i < MAX_RUNS; i++)
        if (sv->runs[i].used) {
            sv->runs[i].suspend = 1;
            stop_child(&sv->runs[i], es_now());
        }
    svc_follow_stop(sv->follow);
    svc_follow_free(sv->follow);
    while (running(sv)) {
        tend(sv, es_now());
        publish(sv);
        if (running(sv)) wait_io(sv, 0.1);
    }
    svc_ops_stop(sv->ops);
    free(sv->sched);
    svc_close(s);
    free(sv);
    return 0;
}
