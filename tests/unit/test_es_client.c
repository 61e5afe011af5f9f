/* test_es_client.c - the Elasticsearch client's own checks of its settings
 * (sinks/es_client.c), without a node: a plan not made by the compiler (an
 * embedder, a merged connector document) with a value out of range is
 * refused with the key, the value and the range - never replaced; header and
 * API key lines that would split a request; the host's scheme. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/diag.h"
#include "sinks/es.h"
#include "t.h"

static plan_es good(void)
{
    plan_es k = {0};
    k.host = "127.0.0.1:9/";
    k.request_timeout = 10;
    k.max_wait_duration = 0;
    k.initial_backoff_duration = 1;
    k.backoff_multiplier = 2;
    k.max_retries = 0;
    k.retry_interval = 0;
    k.queue_max_size = 10;
    k.queue_max_mem_size = 1;
    k.chunk_size = 10;
    k.chunk_max_mem_size = 1;
    k.max_concurrency = 1;
    k.bulk_max_retries = 0;
    k.bulk_retry_interval = 0;
    return k;
}

static diag *D;

/* NULL (and the message) when refused, "ok" when a client was made */
static const char *make(const plan_es *k)
{
    es_client *c = es_client_new(k, D);
    if (!c) return diag_last(D);
    es_client_free(c);
    return "ok";
}

#define BAD(field, value, want)                                        \
    do {                                                               \
        plan_es k_ = good();                                           \
        k_.field = value;                                              \
        T_STREQ(make(&k_), want, #field " = " #value " refused");      \
    } while (0)

int main(void)
{
    T_PLAN(30);
    D = diag_new();
    plan_es k = good();
    T_STREQ(make(&k), "ok", "good settings make a client");
    es_client *c = es_client_new(&k, D);
    T_STREQ(c ? es_client_host(c) : NULL, "http://127.0.0.1:9", "no scheme: http, trailing / dropped");
    es_client_free(c);
    k.ssl = 1;
    k.host = "es.example:9200";
    c = es_client_new(&k, D);
    T_STREQ(c ? es_client_host(c) : NULL, "https://es.example:9200", "no scheme with ssl: https");
    es_client_free(c);
    es_client_free(NULL);

    BAD(host, "", "elasticsearch.host: empty");
    BAD(host, NULL, "elasticsearch.host: empty");
    BAD(host, "ftp://u:secret@h", "elasticsearch.host: unsupported scheme in 'ftp://h' (use http or https)");
    BAD(request_timeout, 0, "elasticsearch.request_timeout: 0 cannot be used (seconds > 0)");
    BAD(request_timeout, NAN, "elasticsearch.request_timeout: nan cannot be used (seconds > 0)");
    BAD(request_timeout, 2e6, "elasticsearch.request_timeout: 2e+06 cannot be used (seconds > 0)");
    BAD(max_wait_duration, -1, "elasticsearch.max_wait_duration: -1 cannot be used (seconds >= 0)");
    BAD(max_wait_duration, 2e7, "elasticsearch.max_wait_duration: 2e+07 cannot be used (seconds >= 0)");
    BAD(initial_backoff_duration, 0,
        "elasticsearch.initial_backoff_duration: 0 cannot be used (seconds > 0)");
    BAD(initial_backoff_duration, 2e6,
        "elasticsearch.initial_backoff_duration: 2e+06 cannot be used (seconds > 0)");
    BAD(backoff_multiplier, 0.5, "elasticsearch.backoff_multiplier: 0.5 cannot be used (>= 1)");
    BAD(backoff_multiplier, 1001, "elasticsearch.backoff_multiplier: 1001 cannot be used (>= 1)");
    BAD(max_retries, -1, "elasticsearch.max_retries: -1 cannot be used (>= 0)");
    BAD(retry_interval, -0.5, "elasticsearch.retry_interval: -0.5 cannot be used (seconds >= 0)");
    BAD(retry_interval, 2e6, "elasticsearch.retry_interval: 2e+06 cannot be used (seconds >= 0)");
    BAD(queue_max_size, 0, "elasticsearch.bulk.queue_max_size: 0 cannot be used (> 0)");
    BAD(queue_max_mem_size, 0, "elasticsearch.bulk.queue_max_mem_size: 0 cannot be used (MiB > 0)");
    BAD(chunk_size, -3, "elasticsearch.bulk.chunk_size: -3 cannot be used (> 0)");
    BAD(chunk_max_mem_size, 2e6, "elasticsearch.bulk.chunk_max_mem_size: 2e+06 cannot be used (MiB > 0)");
    BAD(max_concurrency, 0, "elasticsearch.bulk.max_concurrency: 0 cannot be used (1 to 256)");
    BAD(max_concurrency, 257, "elasticsearch.bulk.max_concurrency: 257 cannot be used (1 to 256)");
    BAD(bulk_max_retries, 31, "elasticsearch.bulk.max_retries: 31 cannot be used (0 to 30)");
    BAD(bulk_retry_interval, -1, "elasticsearch.bulk.retry_interval: -1 cannot be used (seconds >= 0)");
    BAD(api_key, "abc\r\nX-Evil: 1", "elasticsearch.api_key: contains a line break");

    static const char *const h1[] = {"X-Ok: 1", "no colon"};
    k = good();
    k.headers = h1;
    k.nheaders = 2;
    T_STREQ(make(&k), "elasticsearch.headers: entry 2 is not 'Name: value'", "a header without a colon");
    static const char *const h2[] = {"X-A: 1\nX-B: 2"};
    k.headers = h2;
    k.nheaders = 1;
    T_STREQ(make(&k), "elasticsearch.headers: entry 1 is not 'Name: value'", "a header with a line break");
    static const char *const h3[] = {NULL};
    k.headers = h3;
    T_STREQ(make(&k), "elasticsearch.headers: entry 1 is not 'Name: value'", "a missing header");
    diag_free(D);
    return T_DONE();
}
