/* es.h - the Elasticsearch/OpenSearch side: HTTP client, bulk sink, index
 * management. Last stage of the pipeline (documents -> _bulk).
 *
 * es_client.c  one HTTP client on libcurl (auth, TLS, gzip, retries of single
 *              requests, start-up wait and version check).
 * es_bulk.c    the bulk sink: chunking, concurrent requests (curl multi),
 *              back-pressure, whole-request and item-level retries, the
 *              dead-letter file, the error monitor and acknowledgements.
 * es_index.c   index creation and mapping checks, refresh/count/delete by
 *              query, and an iterator over the _ids of an index.
 * These files are the only ones that include curl and cJSON headers; nothing
 * here builds documents (the interpreter does) or reads SQL.
 */
#ifndef SQL2ES_ES_H
#define SQL2ES_ES_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/diag.h"
#include "plan/plan.h"

/* ---- client ------------------------------------------------------------ */

typedef struct es_client es_client;

typedef struct es_response {
    long status;   /* HTTP status; 0 when no response arrived */
    char *body;    /* NUL-terminated reply body (owned; may be NULL when empty) */
    size_t len;
} es_response;

typedef struct es_version {
    int major, minor, patch;
    int opensearch;     /* 1 for OpenSearch, 0 for Elasticsearch */
    char number[32];    /* as reported, e.g. "2.19.6" */
} es_version;

/* New client for cfg (strings are copied; cfg may go away). Zero fields take
 * the connectors' defaults (host http://localhost:9200, request_timeout 240 s,
 * max_retries 5 (negative: none), backoff 1 s x 2, max_wait_duration 120 s).
 * Returns NULL with an error in d when the configuration is unusable. */
es_client *es_client_new(const plan_es *cfg, diag *d);
/* Release the client and its connections. NULL is a no-op. The caller must
 * have freed every sink made from it first. */
void es_client_free(es_client *c);

/* One HTTP request. path starts with '/' (query string included). body may
 * be NULL; content_type NULL means "application/json" when there is a body.
 * Connection errors, timeouts and 429/502/503/504 are retried up to
 * max_retries with exponential backoff; any other status is returned as is.
 * Returns 0 when a response arrived (any status; out->status tells), else
 * DIAG_ETRANSIENT / DIAG_EIO with a message in d. out is always initialised;
 * free it with es_response_free. Thread-safe (a small pool of handles). */
int es_request(es_client *c, const char *method, const char *path, const char *body,
               size_t len, const char *content_type, es_response *out, diag *d);
/* Like es_request but a single attempt, no retries. */
int es_request_once(es_client *c, const char *method, const char *path, const char *body,
                    size_t len, const char *content_type, es_response *out, diag *d);
void es_response_free(es_response *r);

/* Wait until GET / answers 200 (backoff initial_backoff_duration x
 * backoff_multiplier, for at most max_wait_duration seconds), then check the
 * version: Elasticsearch 7-9 and OpenSearch 1-3 are accepted. out may be
 * NULL. Returns 0, DIAG_ETRANSIENT (cluster never answered), DIAG_EIO (an
 * unexpected status such as 401) or DIAG_EINVAL (unsupported version). */
int es_wait_ready(es_client *c, es_version *out, diag *d);

/* Parse the reply of GET / and check the version (a pure function, unit
 * tested). Returns 0 when supported, DIAG_EINVAL with a message naming the
 * version otherwise (or when the reply is not understood). */
int es_version_parse(const char *json, size_t len, es_version *out, diag *d);

/* The host with any user:password@ part removed (for messages). */
const char *es_client_host(const es_client *c);

/* ---- bulk sink ------------------------------------------------------------- */

typedef struct es_bulk es_bulk;

/* What the caller attaches to each item. seq is assigned by the caller and
 * must increase with every es_bulk_add; context ("table > key") is copied and
 * only used in messages. */
typedef struct es_item_meta {
    uint64_t seq;
    const char *context;
} es_item_meta;

typedef struct es_bulk_stats {
    uint64_t indexed;       /* created (index/create/upsert that created) */
    uint64_t updated;       /* result updated or noop */
    uint64_t deleted;       /* delete: deleted or not_found */
    uint64_t failed;        /* dead-lettered items */
    uint64_t item_retries;  /* items sent again after a retryable item error */
    uint64_t requests;      /* _bulk requests that got a reply */
    uint64_t request_retries; /* whole requests sent again */
    uint64_t bytes;         /* request bytes sent (before gzip) */
} es_bulk_stats;

/* Called with upto: every item with seq <= upto is settled (acknowledged by
 * the cluster or written to the dead-letter file). Called from inside
 * es_bulk_add/flush/finish, at most once per _bulk reply, with increasing
 * values. */
typedef void (*es_ack_fn)(void *ctx, uint64_t upto);

/* New sink on client c with the client's settings; the bulk fields and
 * dead_letter_file of cfg (may be NULL) override them when set (zero fields
 * take the connectors' defaults: chunk_size 500 lines, chunk_max_mem_size 5 MiB,
 * max_concurrency 5, queue 1024 items / 25 MiB, bulk_max_retries 3).
 * The dead-letter file (cfg->dead_letter_file, or es_bulk_set_dead_letter)
 * is opened on the first failed item. Returns NULL with a message on error. */
es_bulk *es_bulk_new(es_client *c, const plan_es *cfg, diag *d);
/* Release the sink; items still queued are dropped (call finish first). */
void es_bulk_free(es_bulk *s);

void es_bulk_set_ack_cb(es_bulk *s, es_ack_fn fn, void *ctx);
/* Send every request to the ingest pipeline name (NULL: none). */
void es_bulk_set_pipeline(es_bulk *s, const char *name);
/* Path of the dead-letter file when cfg->dead_letter_file is NULL (copied). */
void es_bulk_set_dead_letter(es_bulk *s, const char *path);
/* The error monitor (defaults of the connectors: 10 consecutive, 1000 total,
 * ratio 0.15 over a window of 100 operations). Zero disables a check. */
void es_bulk_set_error_limits(es_bulk *s, int max_consecutive, int max_total,
                              double max_ratio, int window);

/* Queue one complete NDJSON item: an action line and a source line, or a lone
 * delete line (the trailing newline may be missing). The bytes are copied.
 * Returns quickly unless the queue is full, in which case it drives the
 * requests in flight until there is room (back-pressure).
 * Returns 0, or a negative code once the sink has failed (error monitor
 * tripped, cluster unreachable after retries, request refused); the message
 * is in the diag given to es_bulk_new. */
int es_bulk_add(es_bulk *s, const char *item, size_t len, const es_item_meta *meta);
/* Send everything queued and wait until every item is settled. */
int es_bulk_flush(es_bulk *s);
/* Flush, then copy the statistics to stats (may be NULL). Returns the sink's
 * state: 0 when every item was acknowledged or dead-lettered. */
int es_bulk_finish(es_bulk *s, es_bulk_stats *stats);
/* Statistics so far (cheap). */
void es_bulk_get_stats(const es_bulk *s, es_bulk_stats *stats);

/* The bulk reply parser (exposed for the fuzzer and tests). */
typedef enum { ES_OP_INDEX, ES_OP_CREATE, ES_OP_UPDATE, ES_OP_DELETE, ES_OP_UNKNOWN } es_op;

typedef struct es_item_result {
    es_op op;
    int status;           /* HTTP status of the item; 0 when missing */
    char result[16];      /* "created", "updated", "deleted", "noop", "not_found" */
    char err_type[96];    /* "" when no error */
    char err_reason[512];
} es_item_result;

/* Parse a _bulk reply. Fills out[0..n) for the first n <= cap items and sets
 * *errors to the reply's `errors` flag. Returns the number of items in the
 * reply (may exceed cap) or DIAG_EIO when the reply is not a bulk reply. */
int es_bulk_parse_reply(const char *body, size_t len, es_item_result *out, size_t cap,
                        int *errors, diag *d);

/* ---- indices --------------------------------------------------------------- */

typedef struct es_index_report {
    int created;         /* the index did not exist and was created */
    int fields_added;    /* fields only in the plan added with PUT _mapping */
} es_index_report;

/* Make sure index exists with mapping_json ({"properties":{...}}, may be NULL)
 * and settings_json (index settings object, may be NULL = cluster defaults).
 * An existing index: a field in both mappings with a different type is a
 * conflict (DIAG_EINVAL, one message per field: "field 'price': index has
 * 'keyword', plan wants 'double'"); fields only in the plan are added
 * (reported in rep and as a note in d). rep may be NULL. */
int es_index_ensure(es_client *c, const char *index, const char *mapping_json,
                    const char *settings_json, es_index_report *rep, diag *d);
/* Compare two mappings without a cluster (the ensure logic). existing_json and
 * wanted_json are {"properties":...} objects. On success *additions (may be
 * NULL) receives a malloc'ed {"properties":...} of the fields only in wanted,
 * or NULL when nothing is missing. Returns 0 or DIAG_EINVAL on conflicts. */
int es_mapping_diff(const char *existing_json, const char *wanted_json, char **additions,
                    int *nadded, diag *d);

int es_index_exists(es_client *c, const char *index, diag *d); /* 1, 0 or <0 */
int es_index_delete(es_client *c, const char *index, diag *d); /* missing is ok */
int es_refresh(es_client *c, const char *index, diag *d);
/* query_json: a query clause ({"match_all":{}}) or NULL for all documents. */
int es_count(es_client *c, const char *index, const char *query_json, int64_t *count, diag *d);
int es_delete_by_query(es_client *c, const char *index, const char *query_json,
                       int64_t *deleted, diag *d);

/* Iterate the _ids of the documents matching query_json (NULL = all) in
 * bounded memory, batch ids per round trip (scroll, sorted by _doc: works on
 * Elasticsearch 7-9 and OpenSearch 1-3 without fielddata on _id). */
typedef struct es_ids es_ids;
int es_ids_open(es_client *c, const char *index, const char *query_json, int batch,
                es_ids **out, diag *d);
/* 1 with *id (valid until the next call), 0 at the end, <0 on error. */
int es_ids_next(es_ids *it, const char **id, size_t *idlen, diag *d);
void es_ids_close(es_ids *it); /* clears the scroll; NULL is a no-op */

/* ---- shared by the es_*.c files only --------------------------------------- */

typedef struct es_xfer {
    void *easy;           /* CURL * */
    void *headers;        /* struct curl_slist * */
    buf zbody;            /* gzip'ed body when gzip is on */
    buf reply;
    char errbuf[256];     /* CURL_ERROR_SIZE */
} es_xfer;

int es_xfer_init(es_client *c, es_xfer *x, diag *d);
/* Set up x->easy for one request (body borrowed unless gzip copies it). */
int es_xfer_prepare(es_client *c, es_xfer *x, const char *method, const char *path,
                    const char *body, size_t len, const char *content_type, diag *d);
void es_xfer_cleanup(es_xfer *x);
/* The configuration the client was made with (defaults filled in). */
const plan_es *es_client_cfg(const es_client *c);
/* Backoff before attempt n (1-based) in seconds, capped at 60 s. */
double es_backoff(const plan_es *cfg, int attempt);
double es_now(void);          /* monotonic seconds */
void es_sleep(double seconds);

#endif
