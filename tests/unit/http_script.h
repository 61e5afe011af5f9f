/* http_script.h - a scripted HTTP/1.1 server on loopback for the unit tests
 * of the Elasticsearch client (tests/unit/test_es_http.c): each request gets
 * the next canned reply of the script (status, body, extra header lines, or
 * a connection closed without a reply), and is logged (method, target,
 * header block, body) so a test can check what the client sent. A request
 * past the end of the script is answered 599 and counted, so a client that
 * sends more than the test expects fails the test. One connection at a time,
 * "Connection: close" on every reply; standard sockets and one thread. */
#ifndef SQL2ES_HTTP_SCRIPT_H
#define SQL2ES_HTTP_SCRIPT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HS_MAX 64

typedef struct hs_reply {
    int status;           /* 0: close the connection without a reply */
    const char *body;     /* NULL: empty */
    const char *headers;  /* extra header lines, each ending in \r\n (or NULL) */
} hs_reply;

typedef struct hs_request {
    char method[16];
    char target[1024];
    char headers[2048];   /* the header lines after the request line */
    char *body;           /* malloc'd, NUL-terminated */
    size_t len;
} hs_request;

static struct {
    pthread_mutex_t lock;
    int fd, port;
    hs_reply script[HS_MAX];
    int nscript, next;
    hs_request log[HS_MAX];
    int nlog, extra;
} hs = {PTHREAD_MUTEX_INITIALIZER, -1, 0, {{0, NULL, NULL}}, 0, 0, {{"", "", "", NULL, 0}}, 0, 0};

/* Forget the log, and answer the next requests with replies[0..n). */
static void hs_script(const hs_reply *replies, int n)
{
    pthread_mutex_lock(&hs.lock);
    for (int i = 0; i < hs.nlog; i++) free(hs.log[i].body);
    memset(hs.log, 0, sizeof hs.log);
    hs.nlog = 0;
    hs.extra = 0;
    hs.nscript = n < HS_MAX ? n : HS_MAX;
    for (int i = 0; i < hs.nscript; i++) hs.script[i] = replies[i];
    hs.next = 0;
    pthread_mutex_unlock(&hs.lock);
}

/* Requests received since hs_script; -1 when one came past the script. */
static int hs_count(void)
{
    pthread_mutex_lock(&hs.lock);
    int n = hs.extra ? -1 : hs.nlog;
    pthread_mutex_unlock(&hs.lock);
    return n;
}

/* The i-th request since hs_script (valid until the next hs_script). */
static const hs_request *hs_req(int i)
{
    static const hs_request none = {"", "", "", NULL, 0};
    pthread_mutex_lock(&hs.lock);
    const hs_request *r = i >= 0 && i < hs.nlog ? &hs.log[i] : &none;
    pthread_mutex_unlock(&hs.lock);
    return r;
}

/* "METHOD TARGET" of the i-th request, in a static buffer. */
static const char *hs_line(int i)
{
    static char line[1100];
    const hs_request *r = hs_req(i);
    snprintf(line, sizeof line, "%s %s", r->method, r->target);
    return line;
}

static int hs_has_header(int i, const char *line)
{
    const hs_request *r = hs_req(i);
    return strcasestr(r->headers, line) != NULL;
}

static void hs_serve_one(int c)
{
    char head[4096];
    size_t n = 0;
    char *end = NULL;
    while (n < sizeof head - 1) {
        ssize_t k = read(c, head + n, sizeof head - 1 - n);
        if (k <= 0) return;
        n += (size_t)k;
        head[n] = '\0';
        if ((end = strstr(head, "\r\n\r\n")) != NULL) break;
    }
    if (!end) return;
    hs_request rq;
    memset(&rq, 0, sizeof rq);
    size_t hlen = (size_t)(end - head) + 4;
    char *eol = strstr(head, "\r\n");
    sscanf(head, "%15s %1023s", rq.method, rq.target);
    snprintf(rq.headers, sizeof rq.headers, "%.*s", (int)(end + 2 - (eol + 2)), eol + 2);
    size_t clen = 0;
    const char *cl = strcasestr(rq.headers, "\r\nContent-Length:");
    if (cl) clen = strtoul(cl + 17, NULL, 10);
    else if (strncasecmp(rq.headers, "Content-Length:", 15) == 0) clen = strtoul(rq.headers + 15, NULL, 10);
    rq.body = malloc(clen + 1);
    size_t have = n - hlen < clen ? n - hlen : clen;
    memcpy(rq.body, head + hlen, have);
    while (have < clen) {
        ssize_t k = read(c, rq.body + have, clen - have);
        if (k <= 0) break;
        have += (size_t)k;
    }
    rq.body[have] = '\0';
    rq.len = have;

    hs_reply rep = {599, "{\"error\":\"past the script\"}", NULL};
    pthread_mutex_lock(&hs.lock);
    if (hs.next < hs.nscript) rep = hs.script[hs.next++];
    else hs.extra = 1;
    if (hs.nlog < HS_MAX) hs.log[hs.nlog++] = rq;
    else free(rq.body);
    pthread_mutex_unlock(&hs.lock);
    if (rep.status == 0) return; /* closed without a reply */
    const char *body = rep.body ? rep.body : "";
    char out[8192];
    int m = snprintf(out, sizeof out,
                     "HTTP/1.1 %d Scripted\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
                     rep.status, strlen(body), rep.headers ? rep.headers : "",
                     strcmp(rq.method, "HEAD") == 0 ? "" : body);
    if (m > 0 && (size_t)m < sizeof out && write(c, out, (size_t)m) < 0) return;
}

static void *hs_loop(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(hs.fd, NULL, NULL);
        if (c < 0) continue;
        hs_serve_one(c);
        close(c);
    }
    return NULL;
}

/* Start the server; returns its port (0 when it could not start). */
static int hs_start(void)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    hs.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (hs.fd < 0 || bind(hs.fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(hs.fd, 16) != 0 ||
        getsockname(hs.fd, (struct sockaddr *)&a, &al) != 0)
        return 0;
    hs.port = ntohs(a.sin_port);
    pthread_t t;
    if (pthread_create(&t, NULL, hs_loop, NULL) != 0) return 0;
    pthread_detach(t);
    return hs.port;
}

#endif
