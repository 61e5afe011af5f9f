/* http.c - the HTTP server of `serve --listen`: the only file on
 * libmicrohttpd. Stage: service, beside the loop.
 *
 * The socket is made here (so that a bad address or a port in use gets a
 * clear message and its own exit code) and handed to the library, which
 * answers from one thread of its own (internal polling thread). Only GET and
 * HEAD are served; the answer comes from the handler given at start. The
 * thread blocks the service's signals, so SIGTERM/SIGINT/SIGCHLD reach the
 * loop's thread.
 */
#include "service/ops.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#define NOLOC ((src_loc){NULL, 0, 0})
#define MAX_CONNECTIONS 32
#define CONNECTION_TIMEOUT 10 /* seconds of silence before a client is dropped */
#define BODY_MAX (4u << 20)

struct svc_http {
    struct MHD_Daemon *daemon;
    int fd;
    svc_http_fn fn;
    void *ctx;
    char address[160];
};

/* A job's process (fork, no exec) must not keep the port: it closes its copy. */
static int listen_fd = -1;
static void close_in_child(void)
{
    if (listen_fd >= 0) close(listen_fd);
    listen_fd = -1;
}
static void register_atfork(void) { pthread_atfork(NULL, NULL, close_in_child); }

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)version;
    (void)upload;
    svc_http *h = cls;
    if (!*state) { /* first call: headers only; answer on the second */
        *state = h;
        return MHD_YES;
    }
    if (*upload_size) { /* a body: not read */
        *upload_size = 0;
        return MHD_YES;
    }
    svc_http_reply r = {200, "text/plain; charset=utf-8", BUF_INIT};
    buf_init(&r.body, BODY_MAX);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        r.status = 405;
        buf_puts(&r.body, "only GET and HEAD\n");
    } else {
        h->fn(h->ctx, url, &r);
    }
    if (r.body.failed) {
        buf_reset(&r.body);
        r.status = 500;
        r.type = "text/plain; charset=utf-8";
        buf_puts(&r.body, "out of memory\n");
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r.body.len, r.body.data ? r.body.data : (void *)"",
                                        MHD_RESPMEM_MUST_COPY);
    buf_free(&r.body);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", r.type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (r.status == 405) MHD_add_response_header(resp, "Allow", "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* "HOST:PORT" or "[V6]:PORT" -> host and port texts. 0 or -1. */
static int split(const char *spec, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *colon;
    size_t hl;
    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        if (!end || end[1] != ':') return -1;
        hl = (size_t)(end - spec - 1);
        spec++;
        colon = end + 1;
    } else {
        colon = strrchr(spec, ':');
        if (!colon || memchr(spec, ':', (size_t)(colon - spec))) return -1; /* v6 needs [] */
        hl = (size_t)(colon - spec);
    }
    const char *p = colon + 1;
    size_t pl = strlen(p);
    if (hl == 0 || hl >= hcap || pl == 0 || pl > 5 || pl >= pcap || strspn(p, "0123456789") != pl)
        return -1;
    if (strtol(p, NULL, 10) > 65535) return -1;
    memcpy(host, spec, hl);
    host[hl] = '\0';
    memcpy(port, p, pl + 1);
    return 0;
}

svc_http *svc_http_start(const char *spec, svc_http_fn fn, void *ctx, int *rc, diag *d)
{
    char host[256], port[8];
    *rc = 2;
    if (!spec || split(spec, host, sizeof host, port, sizeof port) != 0) {
        diag_error(d, NOLOC, "--listen '%s': expected HOST:PORT, for instance 127.0.0.1:9187 "
                             "(an IPv6 address in brackets: [::1]:9187)", spec ? spec : "");
        return NULL;
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0 || !ai) {
        diag_error(d, NOLOC, "--listen '%s': cannot resolve %s (%s)", spec, host,
                   gai_strerror(gai));
        return NULL;
    }
    *rc = 1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0) {
        diag_error(d, NOLOC, "--listen '%s': cannot make a socket: %s", spec, strerror(errno));
        freeaddrinfo(ai);
        return NULL;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        int e = errno;
        diag_error(d, NOLOC, "cannot listen on %s: %s%s", spec, strerror(e),
                   e == EADDRINUSE ? " (another process has this port: pick another with --listen)"
                                   : "");
        close(fd);
        freeaddrinfo(ai);
        return NULL;
    }
    int family = ai->ai_family;
    freeaddrinfo(ai);
    svc_http *h = calloc(1, sizeof *h);
    if (!h) {
        close(fd);
        diag_error(d, NOLOC, "out of memory");
        return NULL;
    }
    h->fd = fd;
    h->fn = fn;
    h->ctx = ctx;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char nh[128] = "?", np[16] = "?";
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        getnameinfo((struct sockaddr *)&ss, sl, nh, sizeof nh, np, sizeof np,
                    NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(h->address, sizeof h->address, family == AF_INET6 ? "[%s]:%s" : "%s:%s", nh, np);
    /* the library's thread inherits this mask: signals stay with the loop */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGCHLD);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                                     (family == AF_INET6 ? MHD_USE_IPv6 : 0),
                                 0, NULL, NULL, answer, h, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT,
                                 MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!h->daemon) {
        diag_error(d, NOLOC, "cannot serve on %s: the HTTP server did not start", h->address);
        close(fd);
        free(h);
        return NULL;
    }
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_atfork);
    listen_fd = fd;
    *rc = 0;
    return h;
}

const char *svc_http_address(const svc_http *h) { return h ? h->address : ""; }

void svc_http_stop(svc_http *h)
{
    if (!h) return;
    MHD_stop_daemon(h->daemon);
    close(h->fd);
    listen_fd = -1;
    free(h);
}
