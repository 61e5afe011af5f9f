/* follower.c - `serve_follow: true`: the served connectors kept current.
 *
 * Stage: the service layer, beside serve.c (which calls it on every turn of
 * its loop). For each connector of config.yml with serve_follow, one
 * instance of the fleet runs a child process doing what `sync --follow`
 * does (eng_follow_run, with the connector document laid over config.yml),
 * once the connector has a completed sync. Its state lives in the connector
 * document, `sync_cursor.follow`, so that any instance can go on with it:
 *   worker, worker_hostname, last_seen   the owner: a token per claim, and
 *                     its heartbeat (every report interval; null: released)
 *   status, error     starting | following | paused | error | stopped
 *   slot, position    the acknowledged position: a new owner goes on from it
 *   lag_seconds       commit to acknowledgement of the last transaction
 *   synced            the connector's last_synced when the follow started
 * Claims and heartbeats are conditional on the document as just read: two
 * instances never both own a follow. An owner whose last_seen is older than
 * service.job_takeover_after is taken over (its process died: SIGKILL, a
 * lost machine); an owner that finds another token stops its child at once.
 * While a job of the connector runs (last_sync_status in_progress, here or
 * elsewhere) the follow is stopped (paused) and released; a job that ran
 * since the follow started (last_synced moved) may have written documents
 * older than changes the follow had applied, so the next start is a new
 * slot with its initial read. A deleted connector document (or `deleted`)
 * stops it; SIGTERM of serve stops it cleanly (settled, acknowledged,
 * released). Not here: the follow itself (sync/follow.c).
 */
#include "service/ops.h"
#include "service/svc.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sync/sync.h"

#define CHECK_EVERY 1.0   /* seconds between reads of the connector document */
#define RETRY_AFTER 10.0  /* seconds before a follow that failed starts again */
#define STOP_GRACE 20.0   /* SIGTERM, then SIGKILL after this long */
#define POS_TAG "sql2es-follow-position "

typedef struct fol {
    const plan_connector *pc; /* config.yml's */
    pid_t pid;
    int fd;
    char line[8192];
    size_t linelen;
    char token[320];
    int own;                  /* this instance holds the claim */
    char *position;           /* the child's last report (JSON object), or NULL */
    int position_new;
    char status[16];
    char error[1024];
    const char *stop_status;  /* the status written when the stopped child ends */
    char stop_error[256];
    double next_check, last_write, kill_at, retry_at;
    double lag;
} fol;

struct svc_follower {
    svc_ctx *s;
    svc_ops *ops;
    double takeover_after, report_every;
    unsigned claims;
    int n;
    fol *f;
};

static void on_position(void *ctx, const char *json_text)
{
    (void)ctx;
    if (strlen(json_text) < 4000) {
        fprintf(stderr, POS_TAG "%s\n", json_text);
        fflush(stderr);
    }
}

/* The child (svc_spawn): eng_follow_run until SIGTERM; its messages on the pipe. */
static void child_main(const plan *p, const char *connector, const char *resume)
{
    eng_sync_opts o;
    memset(&o, 0, sizeof o);
    o.connector = connector;
    o.quiet = 1;
    o.lock_wait = 60;
    o.stop = &svc_child_stop;
    o.resume_json = resume;
    o.on_position = on_position;
    eng_sync_stats st;
    diag *d = diag_new();
    int rc = eng_follow_run(p, &o, &st, d);
    diag_print(d, stderr, 0);
    fflush(stderr);
    _exit(rc);
}

static void set_status(svc_follower *fl, fol *c, const char *status, const char *error)
{
    snprintf(c->status, sizeof c->status, "%s", status);
    snprintf(c->error, sizeof c->error, "%s", error ? error : "");
    svc_ops_follow(fl->ops, c->pc->id, status, c->pid > 0, c->position ? c->lag : -1);
}

/* `"sync_cursor":{"follow":{...}}` with the owner fields (release: null),
 * status, error and the last reported position. */
static void put_state(svc_follower *fl, fol *c, buf *b, int release, const char *synced)
{
    char now[64];
    svc_iso_now(now, sizeof now);
    buf_puts(b, "{\"sync_cursor\":{\"follow\":{");
    svc_put_kv_str(b, "worker", release ? NULL : c->token);
    buf_putc(b, ',');
    svc_put_kv_str(b, "worker_hostname", release ? NULL : fl->s->hostname);
    buf_putc(b, ',');
    svc_put_kv_str(b, "last_seen", now);
    buf_putc(b, ',');
    svc_put_kv_str(b, "status", c->status);
    buf_putc(b, ',');
    svc_put_kv_str(b, "error", c->error[0] ? c->error : NULL);
    if (synced) {
        buf_putc(b, ',');
        svc_put_kv_str(b, "synced", synced);
    }
    if (c->position && c->position[0] == '{' && c->position[1] != '}') {
        /* the child's members: slot, position, lag_seconds */
        buf_putc(b, ',');
        buf_append(b, c->position + 1, strlen(c->position) - 2);
    }
    buf_puts(b, "}}}");
}

/* Write the state, conditional on the document as read (seq >= 0), or
 * unconditional. 0 written, 1 conflict, <0 error. */
static int write_state(svc_follower *fl, fol *c, int release, const char *synced, int64_t seq,
                       int64_t term)
{
    buf b = BUF_INIT;
    put_state(fl, c, &b, release, synced);
    diag *d = diag_new();
    int rc = b.failed ? DIAG_ENOMEM
                      : es_doc_update(fl->s->es, SVC_CONNECTORS, c->pc->id, b.data, seq, term,
                                      ES_REFRESH_NONE, d);
    if (rc < 0) svc_log(fl->s, "WARN", c->pc->id, NULL, "follow state: %s", diag_last(d));
    if (rc == 0) {
        c->last_write = es_now();
        c->position_new = 0;
    }
    diag_free(d);
    buf_free(&b);
    return rc;
}

static void child_line(svc_follower *fl, fol *c, const char *l)
{
    if (!strncmp(l, POS_TAG, strlen(POS_TAG))) {
        const char *j = l + strlen(POS_TAG);
        if (json_parse(NULL, j, strlen(j), NULL) && j[0] == '{') {
            char *copy = strdup(j);
            if (copy) {
                free(c->position);
                c->position = copy;
                c->position_new = 1;
                const char *lag = strstr(j, "\"lag_seconds\":");
                c->lag = lag ? strtod(lag + 14, NULL) : 0;
                if (strcmp(c->status, "following") != 0 && c->kill_at == 0)
                    set_status(fl, c, "following", NULL);
                else
                    svc_ops_follow(fl->ops, c->pc->id, c->status, 1, c->lag);
            }
        }
        return;
    }
    const char *e = strstr(l, "error: ");
    if (e) snprintf(c->error, sizeof c->error, "%.1000s", e == l ? l + strlen("error: ") : l);
    svc_log(fl->s, e ? "ERROR" : "INFO", c->pc->id, NULL, "follow: %s", l);
}

struct line_to { svc_follower *fl; fol *c; };
static void line_to_child(void *arg, const char *l)
{
    struct line_to *t = arg;
    child_line(t->fl, t->c, l);
}

static void drain(svc_follower *fl, fol *c)
{
    struct line_to t = {fl, c};
    svc_drain_lines(&c->fd, c->line, sizeof c->line, &c->linelen, line_to_child, &t);
}

/* The child of a claimed follow: the merged plan, fork. */
static void launch(svc_follower *fl, fol *c, const svc_doc *conn, const char *resume)
{
    diag *cd = diag_new();
    plan *p = svc_merged_plan(fl->s, c->pc->id, conn->src, NULL, cd);
    const char *why = NULL;
    if (!p) why = diag_last(cd);
    else if (p->nconnectors < 1 || !p->connectors[0].driver->stream_open)
        why = "serve_follow needs a change stream (PostgreSQL, MySQL/MariaDB): schedule "
              "incremental syncs for this connector instead";
    pid_t pid = -1;
    int fd = -1;
    char err[160];
    if (!why) {
        pid = svc_spawn(&fd);
        if (pid == 0) child_main(p, c->pc->id, resume);
        if (pid < 0) {
            snprintf(err, sizeof err, "cannot start the follow process: %s", strerror(errno));
            why = err;
        }
    }
    if (why) {
        set_status(fl, c, "error", why);
        svc_log(fl->s, "ERROR", c->pc->id, NULL, "follow: %s", why);
        write_state(fl, c, 1, NULL, -1, -1);
        c->own = 0;
        c->retry_at = es_now() + RETRY_AFTER;
    } else {
        c->pid = pid;
        c->fd = fd;
        c->kill_at = 0;
        c->stop_status = NULL;
        svc_log(fl->s, "INFO", c->pc->id, NULL, "follow started (%s)",
                resume ? resume : "a new slot and an initial read");
        svc_ops_follow(fl->ops, c->pc->id, c->status, 1, -1);
    }
    plan_free(p);
    diag_free(cd);
}

/* Ask the child to stop; status is written when it ends. */
static void stop_child(fol *c, const char *status, const char *why)
{
    if (c->pid <= 0 || c->kill_at > 0) return;
    kill(c->pid, SIGTERM);
    c->kill_at = es_now() + STOP_GRACE;
    c->stop_status = status;
    snprintf(c->stop_error, sizeof c->stop_error, "%s", why ? why : "");
}

/* The child ended: the last position and the status, and the claim given
 * back (another instance, or this one later, starts it again). */
static void reap(svc_follower *fl, fol *c)
{
    int st;
    if (c->pid <= 0 || waitpid(c->pid, &st, WNOHANG) != c->pid) return;
    drain(fl, c);
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->pid = 0;
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (!c->own) { /* taken over: the new owner writes */
        svc_ops_follow(fl->ops, c->pc->id, "taken over", 0, -1);
        return;
    }
    if (c->stop_status) {
        set_status(fl, c, c->stop_status, c->stop_error[0] ? c->stop_error : NULL);
    } else {
        char msg[1100];
        if (c->error[0]) snprintf(msg, sizeof msg, "%s", c->error);
        else if (code < 0) snprintf(msg, sizeof msg, "the follow process was killed (signal %d)",
                                    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        else snprintf(msg, sizeof msg, "the follow ended (exit %d)", code);
        set_status(fl, c, "error", msg);
        c->retry_at = es_now() + RETRY_AFTER;
    }
    svc_log(fl->s, c->stop_status ? "INFO" : "ERROR", c->pc->id, NULL, "follow %s%s%s", c->status,
            c->error[0] ? ": " : "", c->error);
    /* released unconditionally: the claim is ours (checked on every turn) */
    write_state(fl, c, 1, NULL, -1, -1);
    c->own = 0;
}

static int is(const char *s, const char *v) { return s && !strcmp(s, v); }

/* One look at the connector document: keep, stop or take the follow. */
static void check(svc_follower *fl, fol *c, double now)
{
    svc_ctx *s = fl->s;
    diag *d = diag_new();
    svc_doc doc;
    int rc = svc_doc_get(s, SVC_CONNECTORS, c->pc->id, &doc, d);
    if (rc < 0) {
        diag_free(d);
        return; /* the cluster does not answer: nothing is decided */
    }
    const json *fs = rc ? svc_path(doc.src, "sync_cursor.follow") : NULL;
    const char *tok = fs ? svc_str(fs, "worker") : NULL;
    const char *lss = rc ? svc_str(doc.src, "last_sync_status") : NULL;
    const char *synced = rc ? svc_str(doc.src, "last_synced") : NULL;
    int deleted = rc && svc_path(doc.src, "deleted") && svc_path(doc.src, "deleted")->kind == JSON_BOOL &&
                  !strncmp(svc_path(doc.src, "deleted")->raw, "true", 4);
    int busy = is(lss, "in_progress");
    /* a job ran since this follow started, even one too short to be seen
     * running: the follow starts over (see the header) */
    const char *began = fs ? svc_str(fs, "synced") : NULL;
    int ran = synced && began && strcmp(began, synced) != 0;
    if (c->own) {
        if (rc == 0) {
            stop_child(c, "stopped", "the connector document is gone");
        } else if (!is(tok, c->token)) {
            /* it looked dead to another instance, which goes on with it */
            svc_log(s, "WARN", c->pc->id, NULL, "the follow was taken over by another instance: stopping it here");
            c->own = 0;
            if (c->pid > 0) kill(c->pid, SIGKILL);
            c->kill_at = now + 3600;
        } else if (c->pid > 0 && c->kill_at == 0 && (deleted || busy || ran)) {
            stop_child(c, deleted ? "stopped" : "paused",
                       deleted ? "the connector was deleted"
                       : busy  ? "a sync job of the connector runs"
                               : "a sync job of the connector ran");
        } else if (now - c->last_write >= fl->report_every || c->position_new) {
            write_state(fl, c, 0, NULL, doc.seq_no, doc.primary_term);
        }
    } else if (c->pid <= 0 && now >= c->retry_at && rc == 1 && !deleted && !busy &&
               (is(lss, "completed") || (fs && svc_str(fs, "position")))) {
        const char *seen = fs ? svc_str(fs, "last_seen") : NULL;
        int64_t seen_t = seen ? svc_parse_iso(seen) : -1;
        int held = tok && *tok && seen_t >= 0 && svc_wall() - (double)seen_t < fl->takeover_after;
        if (!held) {
            snprintf(c->token, sizeof c->token, "%s/%ld/f%u/%.0f", s->hostname, (long)getpid(),
                     ++fl->claims, svc_wall() * 1000);
            /* goes on from the position only when no job ran since it started */
            const char *slot = fs ? svc_str(fs, "slot") : NULL;
            const char *pos = fs ? svc_str(fs, "position") : NULL;
            const char *was = fs ? svc_str(fs, "synced") : NULL;
            int resume = slot && pos && (!synced || is(was, synced));
            free(c->position);
            c->position = NULL;
            if (resume) {
                buf p = BUF_INIT;
                buf_puts(&p, "{\"slot\":");
                buf_json_str(&p, slot, strlen(slot), NULL);
                buf_puts(&p, ",\"position\":");
                buf_json_str(&p, pos, strlen(pos), NULL);
                buf_puts(&p, "}");
                c->position = p.failed ? NULL : strdup(p.data);
                buf_free(&p);
            }
            set_status(fl, c, "starting", NULL);
            if (write_state(fl, c, 0, synced ? synced : "", doc.seq_no, doc.primary_term) == 0) {
                c->own = 1;
                if (tok && *tok)
                    svc_log(s, "WARN", c->pc->id, NULL, "follow taken over: %s since %s", tok,
                            seen ? seen : "?");
                launch(fl, c, &doc, c->position);
            }
        }
    }
    if (rc == 1) svc_doc_free(&doc);
    diag_free(d);
}

svc_follower *svc_follow_new(svc_ctx *s, svc_ops *ops, double takeover_after, double report_every)
{
    int n = 0;
    for (int i = 0; i < s->base->nconnectors; i++) n += s->base->connectors[i].serve_follow;
    if (!n) return NULL;
    svc_follower *fl = calloc(1, sizeof *fl);
    fol *f = calloc((size_t)n, sizeof *f);
    if (!fl || !f) {
        free(fl);
        free(f);
        return NULL;
    }
    fl->s = s;
    fl->ops = ops;
    fl->takeover_after = takeover_after;
    fl->report_every = report_every;
    fl->f = f;
    for (int i = 0; i < s->base->nconnectors; i++)
        if (s->base->connectors[i].serve_follow) {
            fol *c = &f[fl->n++];
            c->pc = &s->base->connectors[i];
            c->fd = -1;
            snprintf(c->status, sizeof c->status, "idle");
            svc_ops_follow(ops, c->pc->id, "idle", 0, -1);
        }
    return fl;
}

void svc_follow_tend(svc_follower *fl, double now)
{
    for (int i = 0; fl && i < fl->n; i++) {
        fol *c = &fl->f[i];
        if (c->fd >= 0) drain(fl, c);
        if (c->pid > 0 && c->kill_at > 0 && now >= c->kill_at) {
            kill(c->pid, SIGKILL);
            c->kill_at = now + 3600;
        }
        reap(fl, c);
        if (now >= c->next_check) {
            c->next_check = now + CHECK_EVERY;
            check(fl, c, now);
        }
    }
}

void svc_follow_stop(svc_follower *fl)
{
    if (!fl) return;
    for (int i = 0; i < fl->n; i++) stop_child(&fl->f[i], "stopped", "sql2es serve stopped");
    for (;;) {
        int left = 0;
        double now = es_now();
        for (int i = 0; i < fl->n; i++) {
            fol *c = &fl->f[i];
            if (c->fd >= 0) drain(fl, c);
            if (c->pid > 0 && c->kill_at > 0 && now >= c->kill_at) {
                kill(c->pid, SIGKILL);
                c->kill_at = now + 3600;
            }
            reap(fl, c);
            left += c->pid > 0;
        }
        if (!left) break;
        es_sleep(0.05);
    }
}

void svc_follow_free(svc_follower *fl)
{
    if (!fl) return;
    for (int i = 0; i < fl->n; i++) {
        if (fl->f[i].fd >= 0) close(fl->f[i].fd);
        free(fl->f[i].position);
    }
    free(fl->f);
    free(fl);
}
