/* ops.h - `sql2es serve --listen`: what an operator sees of a running
 * service. Shared by the service/ files only.
 *
 * http.c  the HTTP server (the only file on libmicrohttpd): it listens on a
 *         loopback (or given) address and answers GET requests from its own
 *         thread by calling a handler.
 * ops.c   the state the service loop publishes (a snapshot behind a mutex)
 *         and the three answers made from it: /metrics (Prometheus text
 *         exposition format), /healthz (JSON, 200 or 503) and / (a small
 *         self-contained HTML status page).
 *
 * The service loop stays single-threaded: it calls svc_ops_tick on every
 * turn and svc_ops_job_end when a job ends; the HTTP thread only reads the
 * snapshot under the lock. Every svc_ops_* function accepts NULL (no
 * --listen) and then does nothing.
 */
#ifndef SQL2ES_OPS_H
#define SQL2ES_OPS_H

#include <stdint.h>

#include "base/buf.h"
#include "base/diag.h"
#include "service/svc.h"

/* ---- http.c ----------------------------------------------------------------- */

typedef struct svc_http svc_http;

/* One answer: status, content type and body (the handler fills body; the
 * server frees it). */
typedef struct svc_http_reply {
    int status;
    const char *type;
    buf body;
} svc_http_reply;

/* Called from the server's thread for each GET or HEAD request (path
 * without the query string). */
typedef void (*svc_http_fn)(void *ctx, const char *path, svc_http_reply *out);

/* Listen on spec ("HOST:PORT", "[V6]:PORT"; PORT 0 picks a free port) and
 * serve from a thread of the library. NULL with a message in d, and *rc 2
 * when spec is not such an address, 1 when it cannot be bound (in use, not
 * an address of this machine). */
svc_http *svc_http_start(const char *spec, svc_http_fn fn, void *ctx, int *rc, diag *d);
/* The address really bound ("127.0.0.1:43121"). */
const char *svc_http_address(const svc_http *h);
/* Stop the thread and close the socket. NULL is a no-op. */
void svc_http_stop(svc_http *h);

/* ---- ops.c ------------------------------------------------------------------ */

typedef struct svc_ops svc_ops;

/* A running job as the loop sees it. */
typedef struct svc_ops_run {
    const char *job, *connector, *type;
    uint64_t rows, docs, deleted;
    double started;     /* es_now() when it was claimed */
    int stopping;       /* cancel or suspend asked */
} svc_ops_run;

/* Start the server for s (its connectors) on listen. NULL with *rc (2 bad
 * address, 1 cannot listen) and the reason in d. */
svc_ops *svc_ops_start(svc_ctx *s, const char *listen, int *rc, diag *d);
void svc_ops_stop(svc_ops *o);
/* One turn of the loop: the running jobs (copied), and every OPS_REFRESH
 * seconds one search of the handled connector documents and one count of
 * their jobs by status (single attempts: a cluster that does not answer
 * only makes the snapshot older). */
void svc_ops_tick(svc_ops *o, const svc_ops_run *runs, int nruns);
/* The follow of a serve_follow connector: its state, whether this process
 * runs it, and its lag (seconds, -1 unknown). */
void svc_ops_follow(svc_ops *o, const char *connector, const char *status, int here, double lag);
/* A job of this process ended (completed, error, canceled, suspended). */
void svc_ops_job_end(svc_ops *o, const char *connector, const char *status, uint64_t rows,
                     uint64_t indexed, uint64_t deleted, uint64_t retried, double seconds);

#endif
