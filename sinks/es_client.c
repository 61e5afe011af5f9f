/* es_client.c - HTTP client for Elasticsearch/OpenSearch; see es.h.
 *
 * Stage: the sink side (documents -> cluster). The only file on libcurl.
 * Owns the configuration copy (used exactly as the plan gives it: no
 * defaults here), a small pool of curl easy handles (connection reuse,
 * thread-safe use), authentication (ApiKey header, else basic auth), TLS
 * options, gzip request bodies, retries of single requests, the start-up
 * wait and product/version check, and the transfers in flight (curl multi)
 * that the bulk sink drives. It does not read replies (es_reply.c), and
 * knows nothing of _bulk items (es_bulk.c) or mappings (es_index.c).
 * Secrets never reach a message: request headers are never logged and the
 * host is shown without any user:password@ part.
 */
#include "sinks/es.h"

#include "base/fault.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <zlib.h>

#ifndef SQL2ES_VERSION
#define SQL2ES_VERSION "0.0.0"
#endif

#define POOL_SIZE 4
#define REPLY_MAX ((size_t)512 << 20)

struct es_xfer {
    CURL *easy;
    struct curl_slist *headers;
    buf zbody;            /* gzip'ed body when gzip is on */
    buf reply;
    char product[48];     /* X-elastic-product of the reply */
    char errbuf[CURL_ERROR_SIZE];
    es_client *client;
    es_multi *multi;      /* NULL for the pool's handles */
    int running;          /* added to multi */
};

struct es_client {
    arena *mem;          /* configuration strings */
    plan_es cfg;         /* as given */
    FILE *log;           /* start-up waits */
    char *base;          /* scheme://host[:port][/prefix] without trailing '/' */
    char *shown;         /* base without credentials, for messages */
    char *auth_header;   /* "Authorization: ApiKey ..." or NULL (secret) */
    pthread_mutex_t lock;
    pthread_cond_t freed;
    es_xfer pool[POOL_SIZE];
    int used[POOL_SIZE];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;
static void global_init(void) { global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

double es_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void es_sleep(double seconds)
{
    if (!(seconds > 0)) return;
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

double es_retry_wait(const plan_es *cfg, int attempt) { return cfg->retry_interval * attempt; }

double es_item_wait(const plan_es *cfg, int attempt)
{
    double w = cfg->bulk_retry_interval;
    for (int i = 1; i < attempt; i++) w *= 2;
    return w;
}

double es_backoff(const plan_es *cfg, int attempt)
{
    double w = cfg->initial_backoff_duration;
    for (int i = 1; i < attempt && w < 1e9; i++) w *= cfg->backoff_multiplier;
    return w;
}

const plan_es *es_client_cfg(const es_client *c) { return &c->cfg; }
const char *es_client_host(const es_client *c) { return c->shown; }
void es_client_set_log(es_client *c, FILE *log) { c->log = log; }

int es_url_escape(buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int rc = isalnum(*p) || strchr("-._~", *p) ? buf_putc(b, (char)*p)
                                                   : buf_printf(b, "%%%c%c", hex[*p >> 4],
                                                                hex[*p & 15]);
        if (rc) return rc;
    }
    return 0;
}

static const char *dupstr(arena *a, const char *s) { return s ? arena_strdup(a, s) : NULL; }

/* "scheme://user:pw@rest" -> "scheme://rest"; the userinfo ends at the last
 * '@' (diag_url_userinfo), so a password holding '/', '?' or '#' goes whole. */
static char *strip_userinfo(arena *a, const char *url)
{
    size_t len, off = diag_url_userinfo(url, &len);
    if (!len) return arena_strdup(a, url);
    return arena_printf(a, "%.*s%s", (int)off, url, url + off + len);
}

/* ---- settings ------------------------------------------------------------ */

static int bad_setting(diag *d, const char *key, double v, const char *want)
{
    diag_error(d, (src_loc){NULL, 0, 0}, "elasticsearch.%s: %g cannot be used (%s)", key, v, want);
    return DIAG_EINVAL;
}

/* The ranges of schemas/language.yaml, checked again for plans not made by
 * the compiler (tests, embedders): refused, never replaced. */
static int check_request_settings(const plan_es *k, diag *d)
{
    if (!k->host || !*k->host) {
        diag_error(d, (src_loc){NULL, 0, 0}, "elasticsearch.host: empty");
        return DIAG_EINVAL;
    }
    if (!(k->request_timeout > 0) || k->request_timeout > 1e6)
        return bad_setting(d, "request_timeout", k->request_timeout, "seconds > 0");
    if (!(k->max_wait_duration >= 0) || k->max_wait_duration > 1e7)
        return bad_setting(d, "max_wait_duration", k->max_wait_duration, "seconds >= 0");
    if (!(k->initial_backoff_duration > 0) || k->initial_backoff_duration > 1e6)
        return bad_setting(d, "initial_backoff_duration", k->initial_backoff_duration,
                           "seconds > 0");
    if (!(k->backoff_multiplier >= 1) || k->backoff_multiplier > 1e3)
        return bad_setting(d, "backoff_multiplier", k->backoff_multiplier, ">= 1");
    if (k->max_retries < 0) return bad_setting(d, "max_retries", k->max_retries, ">= 0");
    if (!(k->retry_interval >= 0) || k->retry_interval > 1e6)
        return bad_setting(d, "retry_interval", k->retry_interval, "seconds >= 0");
    return 0;
}

int es_check_bulk_settings(const plan_es *k, diag *d)
{
    if (k->queue_max_size <= 0)
        return bad_setting(d, "bulk.queue_max_size", k->queue_max_size, "> 0");
    if (!(k->queue_max_mem_size > 0) || k->queue_max_mem_size > 1e6)
        return bad_setting(d, "bulk.queue_max_mem_size", k->queue_max_mem_size, "MiB > 0");
    if (k->chunk_size <= 0) return bad_setting(d, "bulk.chunk_size", k->chunk_size, "> 0");
    if (!(k->chunk_max_mem_size > 0) || k->chunk_max_mem_size > 1e6)
        return bad_setting(d, "bulk.chunk_max_mem_size", k->chunk_max_mem_size, "MiB > 0");
    if (k->max_concurrency <= 0 || k->max_concurrency > ES_MAX_CONCURRENCY)
        return bad_setting(d, "bulk.max_concurrency", k->max_concurrency, "1 to 256");
    if (k->bulk_max_retries < 0 || k->bulk_max_retries > ES_MAX_ITEM_RETRIES)
        return bad_setting(d, "bulk.max_retries", k->bulk_max_retries, "0 to 30");
    if (!(k->bulk_retry_interval >= 0) || k->bulk_retry_interval > 1e6)
        return bad_setting(d, "bulk.retry_interval", k->bulk_retry_interval, "seconds >= 0");
    return 0;
}

static int xfer_init(es_client *c, es_xfer *x, diag *d);
static void xfer_cleanup(es_xfer *x);

es_client *es_client_new(const plan_es *cfg, diag *d)
{
    static const src_loc noloc = {NULL, 0, 0};
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        diag_error(d, noloc, "elasticsearch: curl initialisation failed: %s",
                   curl_easy_strerror(global_rc));
        return NULL;
    }
    if (check_request_settings(cfg, d) != 0 || es_check_bulk_settings(cfg, d) != 0) return NULL;
    es_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->mem = arena_new();
    c->cfg = *cfg;
    c->log = stderr;
    plan_es *k = &c->cfg;
    k->host = dupstr(c->mem, cfg->host);
    k->api_key = dupstr(c->mem, cfg->api_key);
    k->username = dupstr(c->mem, cfg->username);
    k->password = dupstr(c->mem, cfg->password);
    k->ca_certs = dupstr(c->mem, cfg->ca_certs);
    k->dead_letter_file = dupstr(c->mem, cfg->dead_letter_file);
    if (cfg->nheaders > 0) {
        const char **h = arena_alloc(c->mem, sizeof *h * (size_t)cfg->nheaders);
        for (int i = 0; i < cfg->nheaders; i++) h[i] = dupstr(c->mem, cfg->headers[i]);
        k->headers = h;
    }

    const char *h = k->host;
    size_t hl = strlen(h);
    while (hl > 0 && h[hl - 1] == '/') hl--;
    if (strstr(h, "://"))
        c->base = arena_strndup(c->mem, h, hl);
    else
        c->base = arena_printf(c->mem, "%s://%.*s", k->ssl ? "https" : "http", (int)hl, h);
    if (strncmp(c->base, "http://", 7) != 0 && strncmp(c->base, "https://", 8) != 0) {
        diag_error(d, noloc, "elasticsearch.host: unsupported scheme in '%s' (use http or https)",
                   strip_userinfo(c->mem, c->base));
        goto fail;
    }
    c->shown = strip_userinfo(c->mem, c->base);
    if (k->api_key && *k->api_key) {
        if (strpbrk(k->api_key, "\r\n")) {
            diag_error(d, noloc, "elasticsearch.api_key: contains a line break");
            goto fail;
        }
        c->auth_header = arena_printf(c->mem, "Authorization: ApiKey %s", k->api_key);
    }
    for (int i = 0; i < k->nheaders; i++) {
        if (!k->headers[i] || !strchr(k->headers[i], ':') || strpbrk(k->headers[i], "\r\n")) {
            diag_error(d, noloc, "elasticsearch.headers: entry %d is not 'Name: value'", i + 1);
            goto fail;
        }
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->freed, NULL);
    for (int i = 0; i < POOL_SIZE; i++) {
        if (xfer_init(c, &c->pool[i], d) != 0) {
            for (int j = 0; j < i; j++) xfer_cleanup(&c->pool[j]);
            pthread_mutex_destroy(&c->lock);
            pthread_cond_destroy(&c->freed);
            goto fail;
        }
    }
    return c;
fail:
    arena_free(c->mem);
    free(c);
    return NULL;
}

void es_client_free(es_client *c)
{
    if (!c) return;
    for (int i = 0; i < POOL_SIZE; i++) xfer_cleanup(&c->pool[i]);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->freed);
    arena_free(c->mem);
    free(c);
}

/* ---- one transfer ------------------------------------------------------- */

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    buf *b = ud;
    size_t len = size * n;
    if (buf_append(b, p, len) != 0) return 0; /* aborts the transfer */
    return len;
}

/* Keeps the X-elastic-product header (the product check of GET /). */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    es_xfer *x = ud;
    size_t len = size * n;
    static const char name[] = "x-elastic-product:";
    if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        const char *v = p + sizeof name - 1, *end = p + len;
        while (v < end && (*v == ' ' || *v == '\t')) v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
        snprintf(x->product, sizeof x->product, "%.*s", (int)(end - v), v);
    }
    return len;
}

static int xfer_init(es_client *c, es_xfer *x, diag *d)
{
    memset(x, 0, sizeof *x);
    x->client = c;
    buf_init(&x->zbody, 0);
    buf_init(&x->reply, REPLY_MAX);
    x->easy = curl_easy_init();
    if (!x->easy) {
        static const src_loc noloc = {NULL, 0, 0};
        diag_error(d, noloc, "elasticsearch: cannot create a curl handle");
        return DIAG_ENOMEM;
    }
    return 0;
}

static void xfer_cleanup(es_xfer *x)
{
    if (x->easy) curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    buf_free(&x->zbody);
    buf_free(&x->reply);
    memset(x, 0, sizeof *x);
}

static int gzip_into(buf *out, const char *p, size_t n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return DIAG_ENOMEM;
    buf_reset(out);
    uLong bound = deflateBound(&z, (uLong)n) + 32;
    int rc = buf_reserve(out, bound);
    if (rc) goto done;
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out->data;
    z.avail_out = (uInt)bound;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
        rc = DIAG_EIO;
        goto done;
    }
    out->len = z.total_out;
    out->data[out->len] = '\0';
done:
    deflateEnd(&z);
    return rc;
}

static int xfer_prepare(es_client *c, es_xfer *x, const char *method, const char *path,
                        const char *body, size_t len, const char *content_type, diag *d)
{
    static const src_loc noloc = {NULL, 0, 0};
    CURL *e = x->easy;
    const plan_es *k = &c->cfg;
    char url[4096];
    int rc = 0;

    curl_easy_reset(e);
    curl_slist_free_all(x->headers);
    x->headers = NULL;
    buf_reset(&x->reply);
    x->errbuf[0] = '\0';
    x->product[0] = '\0';
    int n = snprintf(url, sizeof url, "%s%s", c->base, path);
    if (n < 0 || (size_t)n >= sizeof url) {
        diag_error(d, noloc, "elasticsearch: request path too long");
        return DIAG_ELIMIT;
    }

    struct curl_slist *h = NULL;
    char ct[128];
    if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        snprintf(ct, sizeof ct, "Content-Type: %s", content_type ? content_type : "application/json");
        h = curl_slist_append(h, ct);
    }
    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, "Expect:");
    if (c->auth_header) h = curl_slist_append(h, c->auth_header);
    for (int i = 0; i < k->nheaders; i++) h = curl_slist_append(h, k->headers[i]);

    const char *send = body;
    size_t sendlen = body ? len : 0;
    if (body && k->gzip && len > 0) {
        if ((rc = gzip_into(&x->zbody, body, len)) != 0) {
            curl_slist_free_all(h);
            diag_error(d, noloc, "elasticsearch: gzip of the request body failed");
            return rc;
        }
        send = x->zbody.data;
        sendlen = x->zbody.len;
        h = curl_slist_append(h, "Content-Encoding: gzip");
    }
    x->headers = h;

    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)x);
    /* SQL2ES_FAULT=http:N: the N-th request cannot connect (base/fault.h) */
    if (fault_hit(FAULT_HTTP)) curl_easy_setopt(e, CURLOPT_URL, "http://127.0.0.1:1/");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "sql2es/" SQL2ES_VERSION);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &x->reply);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(k->request_timeout * 1000));
    /* the connection phase is part of request_timeout, never longer than 30 s */
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)((k->request_timeout < 30 ? k->request_timeout : 30) * 1000));
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (k->gzip) curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    if (!c->auth_header && k->username && *k->username) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, k->username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, k->password ? k->password : "");
    }
    if (strncmp(c->base, "https://", 8) == 0) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, k->verify_certs ? 1L : 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, k->verify_certs ? 2L : 0L);
        if (k->ca_certs && *k->ca_certs) curl_easy_setopt(e, CURLOPT_CAINFO, k->ca_certs);
    }
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (send) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)sendlen);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, send);
        if (strcmp(method, "POST") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        }
    }
    return 0;
}

/* The cluster's certificate is not trusted, or our TLS files are unusable:
 * waiting does not change that. */
static int tls_trust_error(CURLcode cc)
{
    switch (cc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
        return 1;
    default:
        return 0;
    }
}

/* The return code for a failed transfer: retryable or not. */
static int failure_rc(const es_client *c, CURLcode cc)
{
    if (tls_trust_error(cc) || cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL)
        return DIAG_EIO; /* waiting does not fix a certificate or a URL */
    if (cc == CURLE_WRITE_ERROR || cc == CURLE_OUT_OF_MEMORY) return DIAG_EIO;
    if (cc == CURLE_OPERATION_TIMEDOUT && !c->cfg.retry_on_timeout) return DIAG_EIO;
    return DIAG_ETRANSIENT;
}

/* A short phrase for the waits ("connection refused"). */
static const char *failure_phrase(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT: return "connection refused";
    case CURLE_OPERATION_TIMEDOUT: return "timed out";
    case CURLE_COULDNT_RESOLVE_HOST: return "host not found";
    case CURLE_GOT_NOTHING: return "connection closed without a reply";
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR: return "connection reset";
    default: return curl_easy_strerror(cc);
    }
}

/* ---- requests ----------------------------------------------------------- */

static es_xfer *acquire(es_client *c)
{
    pthread_mutex_lock(&c->lock);
    for (;;) {
        for (int i = 0; i < POOL_SIZE; i++) {
            if (!c->used[i]) {
                c->used[i] = 1;
                pthread_mutex_unlock(&c->lock);
                return &c->pool[i];
            }
        }
        pthread_cond_wait(&c->freed, &c->lock);
    }
}

static void release(es_client *c, es_xfer *x)
{
    pthread_mutex_lock(&c->lock);
    c->used[x - c->pool] = 0;
    pthread_cond_signal(&c->freed);
    pthread_mutex_unlock(&c->lock);
}

void es_response_free(es_response *r)
{
    if (!r) return;
    free(r->body);
    r->body = NULL;
    r->len = 0;
    r->status = 0;
}

/* One attempt; *cc gets curl's code (CURLE_OK when a reply arrived). */
static int request_once(es_client *c, const char *method, const char *path, const char *body,
                        size_t len, const char *content_type, es_response *out, CURLcode *cc,
                        diag *d)
{
    static const src_loc noloc = {NULL, 0, 0};
    memset(out, 0, sizeof *out);
    *cc = CURLE_OK;
    es_xfer *x = acquire(c);
    int rc = xfer_prepare(c, x, method, path, body, len, content_type, d);
    if (rc) goto done;
    *cc = curl_easy_perform(x->easy);
    if (*cc != CURLE_OK) {
        int tls = tls_trust_error(*cc);
        diag_error(d, noloc, "elasticsearch %s: %s %s: %s%s", c->shown, method, path,
                   x->errbuf[0] ? x->errbuf : curl_easy_strerror(*cc),
                   tls ? " (check elasticsearch.ca_certs: the CA that signed the cluster's "
                         "certificate, and that the certificate names the host; verify_certs: "
                         "false skips the check)"
                       : "");
        rc = failure_rc(c, *cc);
        goto done;
    }
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &out->status);
    snprintf(out->product, sizeof out->product, "%s", x->product);
    out->body = buf_detach(&x->reply, &out->len);
    buf_init(&x->reply, REPLY_MAX);
done:
    release(c, x);
    return rc;
}

int es_request_once(es_client *c, const char *method, const char *path, const char *body,
                    size_t len, const char *content_type, es_response *out, diag *d)
{
    CURLcode cc;
    return request_once(c, method, path, body, len, content_type, out, &cc, d);
}

static int retryable_status(long st) { return st == 429 || st == 502 || st == 503 || st == 504; }

int es_request(es_client *c, const char *method, const char *path, const char *body, size_t len,
               const char *content_type, es_response *out, diag *d)
{
    int rc = 0;
    for (int attempt = 0;; attempt++) {
        diag *tmp = diag_new();
        rc = es_request_once(c, method, path, body, len, content_type, out, tmp);
        int again = attempt < c->cfg.max_retries &&
                    ((rc == DIAG_ETRANSIENT) || (rc == 0 && retryable_status(out->status)));
        if (!again) {
            if (rc) diag_error(d, (src_loc){NULL, 0, 0}, "%s", diag_last(tmp));
            diag_free(tmp);
            return rc;
        }
        diag_free(tmp);
        es_response_free(out);
        es_sleep(es_retry_wait(&c->cfg, attempt + 1));
    }
}

/* ---- start-up ----------------------------------------------------------- */

int es_wait_ready(es_client *c, es_version *out, diag *d)
{
    static const src_loc noloc = {NULL, 0, 0};
    const plan_es *k = &c->cfg;
    double t0 = es_now(), deadline = t0 + k->max_wait_duration;
    char why[200];
    int rc;
    for (int attempt = 1;; attempt++) {
        es_response r;
        CURLcode cc;
        diag *tmp = diag_new();
        rc = request_once(c, "GET", "/", NULL, 0, NULL, &r, &cc, tmp);
        if (rc == 0 && r.status == 200) {
            diag_free(tmp);
            rc = es_version_parse(r.body ? r.body : "", r.len, r.product, out, d);
            es_response_free(&r);
            return rc;
        }
        if (rc == DIAG_EIO) { /* not a cluster still starting: no point waiting */
            diag_error(d, noloc, "%s", diag_last(tmp));
            diag_free(tmp);
            return DIAG_EIO;
        }
        diag_free(tmp);
        if (rc == 0 && (r.status == 401 || r.status == 403)) {
            diag_error(d, noloc, "elasticsearch %s: GET / answered %ld: check api_key or "
                       "username/password", c->shown, r.status);
            es_response_free(&r);
            return DIAG_EIO;
        }
        if (rc == 0)
            snprintf(why, sizeof why, "GET / answered %ld", r.status);
        else
            snprintf(why, sizeof why, "%s", failure_phrase(cc));
        es_response_free(&r);
        double now = es_now(), left = deadline - now;
        if (left <= 0) {
            diag_error(d, noloc, "elasticsearch %s not ready after %.0f s (%d attempt%s, "
                       "max_wait_duration %g s): %s", c->shown, now - t0, attempt,
                       attempt == 1 ? "" : "s", k->max_wait_duration, why);
            return DIAG_ETRANSIENT;
        }
        double wait = es_backoff(k, attempt);
        if (wait > left) wait = left;
        if (c->log) {
            fprintf(c->log, "sql2es: waiting for %s: %s, retry %d in %.3g s\n", c->shown, why,
                    attempt, wait);
            fflush(c->log);
        }
        es_sleep(wait);
    }
}

/* ---- transfers in flight ------------------------------------------------- */

struct es_multi {
    es_client *client;
    CURLM *multi;
    int added;            /* transfers added and not yet handed back */
};

es_multi *es_multi_new(es_client *c, int max_in_flight, diag *d)
{
    es_multi *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->client = c;
    m->multi = curl_multi_init();
    if (!m->multi) {
        diag_error(d, (src_loc){NULL, 0, 0}, "bulk: cannot create a curl multi handle");
        free(m);
        return NULL;
    }
    curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)max_in_flight);
    return m;
}

void es_multi_free(es_multi *m)
{
    if (!m) return;
    curl_multi_cleanup(m->multi);
    free(m);
}

es_xfer *es_xfer_new(es_multi *m, diag *d)
{
    es_xfer *x = malloc(sizeof *x);
    if (!x) return NULL;
    if (xfer_init(m->client, x, d) != 0) {
        xfer_cleanup(x);
        free(x);
        return NULL;
    }
    x->multi = m;
    return x;
}

void es_xfer_free(es_xfer *x)
{
    if (!x) return;
    if (x->running) {
        curl_multi_remove_handle(x->multi->multi, x->easy);
        x->multi->added--;
    }
    xfer_cleanup(x);
    free(x);
}

int es_multi_start(es_xfer *x, const char *method, const char *path, const char *body,
                   size_t len, const char *content_type, diag *d)
{
    if (x->running) {
        curl_multi_remove_handle(x->multi->multi, x->easy);
        x->running = 0;
        x->multi->added--;
    }
    int rc = xfer_prepare(x->client, x, method, path, body, len, content_type, d);
    if (rc) return rc;
    if (curl_multi_add_handle(x->multi->multi, x->easy) != CURLM_OK) {
        diag_error(d, (src_loc){NULL, 0, 0}, "bulk: cannot start a request");
        return DIAG_EIO;
    }
    x->running = 1;
    x->multi->added++;
    return 0;
}

void es_multi_step(es_multi *m, int wait_ms)
{
    int running = 0;
    curl_multi_perform(m->multi, &running);
    if (wait_ms <= 0 || running < m->added) return; /* a transfer completed */
    if (running) {
        int n = 0;
        curl_multi_poll(m->multi, NULL, 0, wait_ms, &n);
        curl_multi_perform(m->multi, &running);
    } else {
        es_sleep(wait_ms / 1000.0); /* nothing in flight: only waits */
    }
}

es_xfer *es_multi_done(es_multi *m, es_done *out)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) continue;
        es_xfer *x = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode cc = msg->data.result;
        if (!x) continue;
        curl_multi_remove_handle(m->multi, x->easy);
        x->running = 0;
        m->added--;
        memset(out, 0, sizeof *out);
        out->body = x->reply.data ? x->reply.data : "";
        out->len = x->reply.len;
        if (cc != CURLE_OK) {
            out->rc = failure_rc(m->client, cc);
            out->timed_out = cc == CURLE_OPERATION_TIMEDOUT;
            out->error = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);
        } else {
            curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &out->status);
        }
        return x;
    }
    return NULL;
}
