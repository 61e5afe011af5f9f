/* es_client.c - HTTP client for Elasticsearch/OpenSearch on libcurl; see es.h.
 *
 * Stage: the sink side (documents -> cluster). Owns the configuration copy,
 * a small pool of curl easy handles (connection reuse, thread-safe use),
 * authentication (ApiKey header, else basic auth), TLS options, gzip request
 * bodies, retries of single requests, the start-up wait and version check.
 * It does not know about _bulk items (es_bulk.c) or mappings (es_index.c).
 * Secrets never reach a message: request headers are never logged and the
 * host is shown without any user:password@ part.
 */
#include "sinks/es.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <zlib.h>

#ifndef SQL2ES_VERSION
#define SQL2ES_VERSION "0.0.0"
#endif

#define POOL_SIZE 4
#define REPLY_MAX ((size_t)512 << 20)

struct es_client {
    arena *mem;          /* configuration strings */
    plan_es cfg;         /* defaults filled in */
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
    if (seconds <= 0) return;
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

double es_backoff(const plan_es *cfg, int attempt)
{
    double d = cfg->initial_backoff_duration;
    for (int i = 1; i < attempt && d < 60; i++) d *= cfg->backoff_multiplier;
    return d > 60 ? 60 : d;
}

const plan_es *es_client_cfg(const es_client *c) { return &c->cfg; }
const char *es_client_host(const es_client *c) { return c->shown; }

static const char *dupstr(arena *a, const char *s) { return s ? arena_strdup(a, s) : NULL; }

/* "scheme://user:pw@rest" -> "scheme://rest"; the userinfo ends at the last
 * '@' (diag_url_userinfo), so a password holding '/', '?' or '#' goes whole. */
static char *strip_userinfo(arena *a, const char *url)
{
    size_t len, off = diag_url_userinfo(url, &len);
    if (!len) return arena_strdup(a, url);
    return arena_printf(a, "%.*s%s", (int)off, url, url + off + len);
}

es_client *es_client_new(const plan_es *cfg, diag *d)
{
    static const src_loc noloc = {NULL, 0, 0};
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        diag_error(d, noloc, "elasticsearch: curl initialisation failed: %s",
                   curl_easy_strerror(global_rc));
        return NULL;
    }
    es_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->mem = arena_new();
    c->cfg = *cfg;
    plan_es *k = &c->cfg;
    k->host = dupstr(c->mem, cfg->host && *cfg->host ? cfg->host : "http://localhost:9200");
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
    if (k->request_timeout <= 0) k->request_timeout = 240;
    if (k->max_wait_duration <= 0) k->max_wait_duration = 120;
    if (k->initial_backoff_duration <= 0) k->initial_backoff_duration = 1;
    if (k->backoff_multiplier < 1) k->backoff_multiplier = 2;
    if (k->max_retries == 0) k->max_retries = 5; /* negative: no retries */
    if (k->max_retries < 0) k->max_retries = 0;
    if (k->queue_max_size <= 0) k->queue_max_size = 1024;
    if (k->queue_max_mem_size <= 0) k->queue_max_mem_size = 25;
    if (k->chunk_size <= 0) k->chunk_size = 500;
    if (k->chunk_max_mem_size <= 0) k->chunk_max_mem_size = 5;
    if (k->max_concurrency <= 0) k->max_concurrency = 5;
    if (k->bulk_max_retries <= 0) k->bulk_max_retries = 3;

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
        if (es_xfer_init(c, &c->pool[i], d) != 0) {
            for (int j = 0; j < i; j++) es_xfer_cleanup(&c->pool[j]);
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
    for (int i = 0; i < POOL_SIZE; i++) es_xfer_cleanup(&c->pool[i]);
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

int es_xfer_init(es_client *c, es_xfer *x, diag *d)
{
    (void)c;
    memset(x, 0, sizeof *x);
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

void es_xfer_cleanup(es_xfer *x)
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

int es_xfer_prepare(es_client *c, es_xfer *x, const char *method, const char *path,
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
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "sql2es/" SQL2ES_VERSION);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &x->reply);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(k->request_timeout * 1000));
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

/* ---- requests ----------------------------------------------------------- */

static es_xfer *acquire(es_client *c, int *slot)
{
    pthread_mutex_lock(&c->lock);
    for (;;) {
        for (int i = 0; i < POOL_SIZE; i++) {
            if (!c->used[i]) {
                c->used[i] = 1;
                *slot = i;
                pthread_mutex_unlock(&c->lock);
                return &c->pool[i];
            }
        }
        pthread_cond_wait(&c->freed, &c->lock);
    }
}

static void release(es_client *c, int slot)
{
    pthread_mutex_lock(&c->lock);
    c->used[slot] = 0;
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

int es_request_once(es_client *c, const char *method, const char *path, const char *body,
                    size_t len, const char *content_type, es_response *out, diag *d)
{
    static const src_loc noloc = {NULL, 0, 0};
    int slot;
    memset(out, 0, sizeof *out);
    es_xfer *x = acquire(c, &slot);
    int rc = es_xfer_prepare(c, x, method, path, body, len, content_type, d);
    if (rc) goto done;
    CURLcode cc = curl_easy_perform(x->easy);
    if (cc != CURLE_OK) {
        /* waiting does not fix a certificate or a URL: fail now, say what to check */
        int tls = tls_trust_error(cc);
        int permanent = tls || cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL;
        diag_error(d, noloc, "elasticsearch %s: %s %s: %s%s", c->shown, method, path,
                   x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc),
                   tls ? " (check elasticsearch.ca_certs: the CA that signed the cluster's "
                         "certificate, and that the certificate names the host; verify_certs: "
                         "false skips the check)"
                       : "");
        rc = (cc == CURLE_WRITE_ERROR || cc == CURLE_OUT_OF_MEMORY) ? DIAG_EIO : DIAG_ETRANSIENT;
        if (cc == CURLE_OPERATION_TIMEDOUT && !c->cfg.retry_on_timeout) rc = DIAG_EIO;
        if (permanent) rc = DIAG_EIO;
        goto done;
    }
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &out->status);
    out->body = buf_detach(&x->reply, &out->len);
    buf_init(&x->reply, REPLY_MAX);
done:
    release(c, slot);
    return rc;
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
        es_sleep(es_backoff(&c->cfg, attempt + 1));
    }
}

/* ---- start-up ----------------------------------------------------------- */

int es_version_parse(const char *json, size_t len, es_version *out, diag *d)
{
    static const src_loc noloc = {NULL, 0, 0};
    es_version v;
    memset(&v, 0, sizeof v);
    int rc = DIAG_EINVAL;
    cJSON *root = cJSON_ParseWithLength(json, len);
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(ver, "number");
    const cJSON *dist = cJSON_GetObjectItemCaseSensitive(ver, "distribution");
    if (!cJSON_IsString(num)) {
        diag_error(d, noloc, "elasticsearch: the cluster's reply to GET / has no version.number");
        goto done;
    }
    snprintf(v.number, sizeof v.number, "%s", num->valuestring);
    v.opensearch = cJSON_IsString(dist) && strcmp(dist->valuestring, "opensearch") == 0;
    const char *p = num->valuestring;
    char *end;
    long part[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (*p < '0' || *p > '9') break;
        part[i] = strtol(p, &end, 10);
        p = end;
        if (*p != '.') break;
        p++;
    }
    v.major = (int)(part[0] > 1000 ? 1000 : part[0]);
    v.minor = (int)(part[1] > 100000 ? 100000 : part[1]);
    v.patch = (int)(part[2] > 100000 ? 100000 : part[2]);
    const char *name = v.opensearch ? "OpenSearch" : "Elasticsearch";
    int okv = v.opensearch ? (v.major >= 1 && v.major <= 3) : (v.major >= 7 && v.major <= 9);
    if (!okv) {
        diag_error(d, noloc, "elasticsearch: unsupported %s version %s (supported: %s)", name,
                   v.number, v.opensearch ? "OpenSearch 1.x to 3.x" : "Elasticsearch 7.x to 9.x");
        goto done;
    }
    rc = 0;
done:
    if (out) *out = v;
    cJSON_Delete(root);
    return rc;
}

int es_wait_ready(es_client *c, es_version *out, diag *d)
{
    static const src_loc noloc = {NULL, 0, 0};
    double deadline = es_now() + c->cfg.max_wait_duration;
    int rc;
    for (int attempt = 1;; attempt++) {
        es_response r;
        diag *tmp = diag_new();
        rc = es_request_once(c, "GET", "/", NULL, 0, NULL, &r, tmp);
        if (rc == 0 && r.status == 200) {
            diag_free(tmp);
            rc = es_version_parse(r.body ? r.body : "", r.len, out, d);
            es_response_free(&r);
            return rc;
        }
        if (rc == DIAG_EIO) { /* not a cluster still starting: no point waiting */
            diag_error(d, noloc, "%s", diag_last(tmp));
            diag_free(tmp);
            return DIAG_EIO;
        }
        if (rc == 0 && (r.status == 401 || r.status == 403)) {
            diag_error(d, noloc, "elasticsearch %s: GET / answered %ld: check api_key or "
                       "username/password", c->shown, r.status);
            es_response_free(&r);
            diag_free(tmp);
            return DIAG_EIO;
        }
        double wait = es_backoff(&c->cfg, attempt);
        if (es_now() + wait > deadline) {
            if (rc)
                diag_error(d, noloc, "elasticsearch %s not ready after %.0f s: %s", c->shown,
                           c->cfg.max_wait_duration, diag_last(tmp));
            else
                diag_error(d, noloc, "elasticsearch %s not ready after %.0f s: GET / answered %ld",
                           c->shown, c->cfg.max_wait_duration, r.status);
            es_response_free(&r);
            diag_free(tmp);
            return DIAG_ETRANSIENT;
        }
        es_response_free(&r);
        diag_free(tmp);
        es_sleep(wait);
    }
}
