/* common.c - what every service file needs: config.yml loaded (tree kept for
 * merging, plan compiled by the same compiler as `sync`), the cluster client
 * (always sending X-elastic-product-origin: connectors), JSON lookups into
 * documents, UTC time stamps and log lines. Stage: service foundation; it
 * knows no protocol step.
 */
#include "service/svc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "dsl/dsl.h"

#define NOLOC ((src_loc){NULL, 0, 0})

/* The configuration's messages: the compiler's text form (source line and
 * caret), or one log object per message when the service logs JSON. */
static void report(const svc_ctx *s)
{
    if (!s->log_json) {
        diag_print(s->d, stderr, 0);
        return;
    }
    static const char *const levels[] = {[DIAG_ERROR] = "ERROR", [DIAG_WARNING] = "WARN",
                                         [DIAG_NOTE] = "INFO"};
    for (size_t i = 0; i < diag_count(s->d); i++) {
        const diag_msg *m = diag_get(s->d, i);
        svc_log(s, levels[m->level], NULL, NULL, "%s:%d:%d: %s%s%s%s",
                m->loc.file ? m->loc.file : s->file, m->loc.line, m->loc.col, m->text,
                m->hint ? " (hint: " : "", m->hint ? m->hint : "", m->hint ? ")" : "");
    }
}

/* The client reports its start-up waits ("sql2es: waiting for HOST: ...")
 * on a stream: each line becomes a log line, so that with --log-format json
 * every line of the service is one JSON object. */
typedef struct client_log {
    const svc_ctx *s;
    char line[1024];
    size_t len;
} client_log;

static ssize_t client_log_write(void *cookie, const char *data, size_t n)
{
    client_log *cl = cookie;
    for (size_t i = 0; i < n; i++) {
        if (data[i] != '\n' && cl->len < sizeof cl->line - 1) {
            cl->line[cl->len++] = data[i];
            continue;
        }
        if (data[i] != '\n') continue; /* too long: the rest of the line is dropped */
        cl->line[cl->len] = '\0';
        const char *msg = cl->line;
        if (!strncmp(msg, "sql2es: ", 8)) msg += 8;
        if (*msg) svc_log(cl->s, "WARN", NULL, NULL, "%s", msg);
        cl->len = 0;
    }
    return (ssize_t)n;
}

static int client_log_close(void *cookie)
{
    free(cookie);
    return 0;
}

int svc_open(svc_ctx *s, const char *config, int log_json)
{
    memset(s, 0, sizeof *s);
    s->file = config;
    s->log_json = log_json;
    s->d = diag_new();
    s->tree_mem = arena_new();
    if (!s->d || !s->tree_mem) return 1;
    if (gethostname(s->hostname, sizeof s->hostname - 1) != 0) snprintf(s->hostname, sizeof s->hostname, "localhost");
    dsl_node *root = dsl_load_file(s->tree_mem, s->d, config, NULL);
    if (!root || diag_errors(s->d)) goto invalid;
    /* every request of the service and of its sync runs carries the header */
    src_loc here = {config, 0, 0};
    dsl_node *ov = dsl_new_map(s->tree_mem, here), *es = dsl_new_map(s->tree_mem, here),
             *h = dsl_new_map(s->tree_mem, here);
    dsl_map_put(s->tree_mem, h, dsl_new_scalar(s->tree_mem, SVC_PRODUCT_ORIGIN, 0, here),
                dsl_new_scalar(s->tree_mem, "connectors", 1, here));
    dsl_map_put(s->tree_mem, es, dsl_new_scalar(s->tree_mem, "headers", 0, here), h);
    dsl_map_put(s->tree_mem, ov, dsl_new_scalar(s->tree_mem, "elasticsearch", 0, here), es);
    s->root = dsl_merge(s->tree_mem, root, ov);
    arena *scratch = arena_new();
    s->base = scratch ? dsl_compile_tree(scratch, s->d, s->root, config, src_drivers) : NULL;
    if (!s->base) goto invalid;
    if (diag_count(s->d)) report(s);
    diag_clear(s->d);
    s->es = es_client_new(&s->base->es, s->d);
    if (!s->es) {
        report(s);
        return 1;
    }
    client_log *cl = calloc(1, sizeof *cl);
    if (cl) {
        cl->s = s;
        s->client_log = fopencookie(cl, "w", (cookie_io_functions_t){NULL, client_log_write, NULL,
                                                                     client_log_close});
        if (s->client_log) {
            setvbuf(s->client_log, NULL, _IOLBF, 0);
            es_client_set_log(s->es, s->client_log);
        } else {
            free(cl);
        }
    }
    return 0;
invalid:
    report(s);
    return 2;
}

void svc_close(svc_ctx *s)
{
    es_client_free(s->es);
    if (s->client_log) fclose(s->client_log);
    plan_free(s->base);
    arena_free(s->tree_mem);
    diag_free(s->d);
    memset(s, 0, sizeof *s);
}

/* ---- reading ------------------------------------------------------------- */

const json *svc_get(const json *obj, const char *key)
{
    if (!obj || obj->kind != JSON_OBJECT) return NULL;
    const json *found = NULL;
    for (const json *m = obj->child; m; m = m->next)
        if (m->key && !strcmp(m->key, key)) found = m; /* last wins, as ES */
    return found;
}

const json *svc_path(const json *obj, const char *dotted)
{
    char part[128];
    const char *p = dotted;
    const json *cur = obj;
    while (cur && *p) {
        size_t n = strcspn(p, ".");
        if (n >= sizeof part) return NULL;
        memcpy(part, p, n);
        part[n] = '\0';
        cur = svc_get(cur, part);
        p += n;
        if (*p == '.') p++;
    }
    return cur;
}

const char *svc_str(const json *obj, const char *dotted)
{
    const json *v = svc_path(obj, dotted);
    return v && v->kind == JSON_STRING ? v->str : NULL;
}

int64_t svc_int(const json *obj, const char *dotted, int64_t dflt)
{
    const json *v = svc_path(obj, dotted);
    if (!v || v->kind != JSON_NUMBER) return dflt;
    char tmp[40];
    size_t n = v->rawlen < sizeof tmp - 1 ? v->rawlen : sizeof tmp - 1;
    memcpy(tmp, v->raw, n);
    tmp[n] = '\0';
    return (int64_t)strtod(tmp, NULL);
}

int svc_is_null(const json *v) { return !v || v->kind == JSON_NULL; }

void svc_doc_from_hit(svc_doc *doc, const json *hit)
{
    doc->src = svc_get(hit, "_source");
    doc->id = svc_str(hit, "_id");
    doc->seq_no = svc_int(hit, "_seq_no", -1);
    doc->primary_term = svc_int(hit, "_primary_term", -1);
}

int svc_doc_parse(svc_doc *doc, const char *body, size_t len, diag *d)
{
    memset(doc, 0, sizeof *doc);
    doc->mem = arena_new();
    if (!doc->mem) return DIAG_ENOMEM;
    /* the tree's raw texts point into the body: keep a copy with it */
    char *text = arena_strndup(doc->mem, body ? body : "", body ? len : 0);
    if (!json_parse(doc->mem, text, body ? len : 0, &doc->root)) {
        diag_error(d, NOLOC, "elasticsearch: a reply is not valid JSON");
        return DIAG_EIO;
    }
    svc_doc_from_hit(doc, doc->root);
    return 0;
}

void svc_doc_free(svc_doc *doc)
{
    if (!doc) return;
    arena_free(doc->mem);
    memset(doc, 0, sizeof *doc);
}

int svc_doc_get(svc_ctx *s, const char *index, const char *id, svc_doc *doc, diag *d)
{
    es_response r;
    memset(doc, 0, sizeof *doc);
    int rc = es_doc_get(s->es, index, id, &r, d);
    if (rc <= 0) return rc;
    rc = svc_doc_parse(doc, r.body, r.len, d);
    es_response_free(&r);
    if (rc) {
        svc_doc_free(doc);
        return rc;
    }
    return 1;
}

/* ---- writing ---------------------------------------------------------------- */

double svc_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void svc_iso_time(double t, char *out, size_t cap)
{
    time_t sec = (time_t)t;
    long usec = (long)((t - (double)sec) * 1e6);
    if (usec < 0) usec = 0;
    if (usec > 999999) usec = 999999;
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld+00:00", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
}

void svc_iso_now(char *out, size_t cap) { svc_iso_time(svc_wall(), out, cap); }

void svc_put_kv_str(buf *b, const char *key, const char *s)
{
    buf_json_str(b, key, strlen(key), NULL);
    buf_putc(b, ':');
    if (s)
        buf_json_str(b, s, strlen(s), NULL);
    else
        buf_puts(b, "null");
}

void svc_put_raw(buf *b, const json *v)
{
    if (!v)
        buf_puts(b, "null");
    else
        buf_append(b, v->raw, v->rawlen);
}

/* ---- logs ------------------------------------------------------------------ */

void svc_log(const svc_ctx *s, const char *level, const char *connector, const char *job,
             const char *fmt, ...)
{
    char msg[2048], when[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    svc_iso_now(when, sizeof when);
    if (s && s->log_json) {
        buf b = BUF_INIT;
        buf_putc(&b, '{');
        svc_put_kv_str(&b, "time", when);
        buf_putc(&b, ',');
        svc_put_kv_str(&b, "level", level);
        if (connector) {
            buf_putc(&b, ',');
            svc_put_kv_str(&b, "connector", connector);
        }
        if (job) {
            buf_putc(&b, ',');
            svc_put_kv_str(&b, "job", job);
        }
        buf_putc(&b, ',');
        svc_put_kv_str(&b, "message", msg);
        buf_puts(&b, "}\n");
        if (b.data) fputs(b.data, stderr);
        buf_free(&b);
    } else {
        fprintf(stderr, "%s %-5s", when, level);
        if (connector) fprintf(stderr, " [connector=%s%s%s]", connector, job ? " job=" : "", job ? job : "");
        fprintf(stderr, " %s\n", msg);
    }
    fflush(stderr);
}

volatile sig_atomic_t svc_child_stop;

static void on_child_term(int sig)
{
    (void)sig;
    svc_child_stop = 1;
}

pid_t svc_spawn(int *fd)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
#ifdef __linux__
        /* the service killed (SIGKILL): the child stops too, and the
         * instance that takes its work over goes on from the recorded
         * position */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
        if (getppid() != parent) _exit(1); /* the parent died before prctl */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_child_term;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGINT, SIG_IGN);
        signal(SIGPIPE, SIG_DFL);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            close(devnull);
        }
        return 0;
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    *fd = fds[0];
    return pid;
}

void svc_drain_lines(int *fd, char *line, size_t cap, size_t *len,
                     void (*fn)(void *arg, const char *line), void *arg)
{
    char chunk[4096];
    while (*fd >= 0) {
        ssize_t n = read(*fd, chunk, sizeof chunk);
        if (n <= 0) {
            if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                close(*fd);
                *fd = -1;
            }
            return;
        }
        for (ssize_t i = 0; i < n; i++) {
            char ch = chunk[i];
            if (ch == '\n' || *len == cap - 1) {
                line[*len] = '\0';
                if (*len) fn(arg, line);
                *len = 0;
                if (ch == '\n') continue;
            }
            if (ch == '\r') continue;
            line[(*len)++] = ch;
        }
    }
}
